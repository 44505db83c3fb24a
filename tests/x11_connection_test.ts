// Issue 12: X11 forwarding for a whole connection.
//
// Without X: `connect({ forwardX11 })` between our client and our server
// over an in-memory pair with a fake display: two sessions of one connection
// both get DISPLAY with the same fake cookie; a refused x11-req logs ssh's
// "X11 forwarding request failed on channel N" and the session goes on; no
// display, or an untrusted cookie that cannot be made, forwards nothing and
// fails nothing.
//
// With Xvfb, xauth, xdpyinfo and OpenSSH: `rxssh -X` / `-Y` into sshd
// (X11Forwarding yes) running xdpyinfo (-X untrusted: the SECURITY
// extension hides extensions from it); OpenSSH `ssh -X` into `rxssh serve -o
// X11Forwarding=yes`; `rxssh serve` without X11Forwarding, or with a key
// marked no-x11-forwarding, refuses (ssh and rxssh print "X11 forwarding
// request failed on channel 0"); `connect({ forwardX11 })` into sshd, two
// sessions both reach Xvfb; ForwardX11Timeout refuses later X clients.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import process from "node:process";
import { connect } from "../lib/client.ts";
import { parsePrivateKeyFile } from "../lib/keys/private_key_file.ts";
import type { ServerSession } from "../lib/server.ts";
import type { X11Forwarding } from "../lib/x11/client.ts";
import type { X11LogLevel } from "../lib/x11/connection.ts";
import { type X11ForwardedDisplay, x11ForwardingHandler } from "../lib/x11/server.ts";
import { cliCommand, keygen, ROOT, rxsshTestArgs, serve, type Served } from "./_cli.ts";
import {
  currentUser,
  pinnedHostKey,
  runProcess,
  runSsh,
  type Sshd,
  startSshd,
  testSshArgs,
} from "./_openssh.ts";
import {
  type FakeDisplay,
  fakeDisplay,
  inMemory,
  openssh,
  skipReal,
  startXvfb,
  tempDir,
  XAUTH,
  xClient,
  XDPYINFO,
  type Xvfb,
} from "./_x11.ts";

const te = new TextEncoder();
const td = new TextDecoder();

type Logged = [X11LogLevel, string][];

/** A server session that plays an X client on DISPLAY with the fake cookie x11-req carried. */
function xClientSession(displays: X11ForwardedDisplay[]) {
  return async (s: ServerSession) => {
    // The latest: a display number is reused once the session that had it has closed.
    const d = displays.findLast((d) => d.displayName === s.env.DISPLAY);
    const reply = d
      ? await xClient(s.env.DISPLAY!, d.request.authProtocol, d.request.authCookie)
      : "no display";
    const w = s.stdout.getWriter();
    await w.write(te.encode(`${s.env.DISPLAY ?? "unset"}\n${reply}`));
    w.releaseLock();
    await s.exit(0);
  };
}

describe("connect({ forwardX11 }) over a fake display (our client <-> our server)", () => {
  let dir: string;
  let fake: FakeDisplay;
  before(async () => {
    dir = tempDir("rxssh-x11conn-");
    fake = await fakeDisplay(dir);
  });
  after(() => {
    fake?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("two sessions on one connection both get DISPLAY, one fake cookie, the display the real one", async () => {
    const real = "0123456789abcdef".repeat(2);
    const x11 = x11ForwardingHandler({ xauth: false, displayOffset: 60 });
    const displays: X11ForwardedDisplay[] = [];
    x11.display$.subscribe((d) => displays.push(d));
    const logged: Logged = [];
    const forwardings: X11Forwarding[] = [];
    const client = await inMemory({ handlers: [x11], exec: xClientSession(displays) }, {
      connect: {
        forwardX11: {
          display: fake.display,
          cookie: real,
          onLog: (level, m) => logged.push([level, m]),
          onForwarding: (f) => forwardings.push(f),
        },
      },
    });
    try {
      const outs = [];
      for (let i = 0; i < 2; i++) {
        const r = await client.exec("xdpyinfo");
        assert.equal(r.code, 0);
        outs.push(td.decode(r.stdout).split("\n"));
      }
      assert.equal(displays.length, 2, "one x11-req per session");
      for (const [i, [display, reply]] of outs.entries()) {
        assert.equal(display, displays[i].displayName);
        assert.equal(reply, `OK:MIT-MAGIC-COOKIE-1:${real}:hello X`);
      }
      assert.equal(forwardings.length, 1);
      const fakeCookie = forwardings[0].fakeCookie;
      assert.notEqual(fakeCookie, real);
      assert.deepEqual(displays.map((d) => d.request.authCookie), [fakeCookie, fakeCookie]);
      assert.deepEqual(fake.seen.slice(-2).map((s) => s.cookie), [real, real]);
      assert.deepEqual(logged.filter(([l]) => l !== "debug"), []);
      assert.ok(
        logged.some(([, m]) => m === "Requesting X11 forwarding with authentication spoofing."),
      );
    } finally {
      await client.close();
    }
  });

  it("a server without X11 forwarding: ssh's message per session, the sessions still run", async () => {
    const logged: Logged = [];
    const client = await inMemory({ exec: xClientSession([]) }, {
      connect: {
        forwardX11: {
          display: fake.display,
          cookie: "00".repeat(16),
          onLog: (level, m) => logged.push([level, m]),
        },
      },
    });
    try {
      const a = await client.exec("x");
      const b = await client.exec("x");
      assert.deepEqual([a.code, b.code], [0, 0]);
      assert.equal(td.decode(a.stdout), "unset\nno display");
      const errors = logged.filter(([l]) => l === "error").map(([, m]) => m);
      assert.equal(errors.length, 2);
      assert.equal(errors[0], "X11 forwarding request failed on channel 0");
      assert.match(errors[1], /^X11 forwarding request failed on channel \d+$/);
    } finally {
      await client.close();
    }
  });

  it("no DISPLAY: a debug line and no x11-req; untrusted without xauth: ssh's warning, nothing sent", async () => {
    const x11 = x11ForwardingHandler({ xauth: false, displayOffset: 60 });
    const displays: X11ForwardedDisplay[] = [];
    x11.display$.subscribe((d) => displays.push(d));
    const saved = process.env.DISPLAY;
    delete process.env.DISPLAY;
    const logged: Logged = [];
    try {
      const noDisplay = await inMemory({ handlers: [x11], exec: xClientSession(displays) }, {
        connect: { forwardX11: { onLog: (level, m) => logged.push([level, m]) } },
      });
      assert.equal(td.decode((await noDisplay.exec("x")).stdout), "unset\nno display");
      await noDisplay.close();
    } finally {
      if (saved !== undefined) process.env.DISPLAY = saved;
    }
    assert.deepEqual(logged, [["debug", "X11 forwarding requested but DISPLAY not set"]]);
    logged.length = 0;
    const untrusted = await inMemory({ handlers: [x11], exec: xClientSession(displays) }, {
      connect: {
        forwardX11: {
          display: fake.display,
          xauth: false,
          onLog: (level, m) => logged.push([level, m]),
        },
      },
    });
    assert.equal(td.decode((await untrusted.exec("x")).stdout), "unset\nno display");
    await untrusted.close();
    assert.deepEqual(logged.filter(([l]) => l !== "debug"), [
      ["error", "Warning: untrusted X11 forwarding setup failed: xauth key data not generated"],
    ]);
    assert.equal(displays.length, 0, "no x11-req reached the server");
    // Trusted without xauth data: the fake cookie goes on to the display, with ssh's warning.
    logged.length = 0;
    const trusted = await inMemory({ handlers: [x11], exec: xClientSession(displays) }, {
      connect: {
        forwardX11: {
          display: fake.display,
          xauth: false,
          trusted: true,
          onLog: (level, m) => logged.push([level, m]),
        },
      },
    });
    const out = td.decode((await trusted.exec("x")).stdout).split("\n");
    await trusted.close();
    assert.equal(out[1], `OK:MIT-MAGIC-COOKIE-1:${displays[0].request.authCookie}:hello X`);
    assert.deepEqual(logged.filter(([l]) => l !== "debug"), [
      ["info", "Warning: No xauth data; using fake authentication data for X11 forwarding."],
    ]);
  });
});

it("rxssh serve: X11UseLocalhost no is refused at start, saying why", async () => {
  const home = tempDir("rxssh-x11-serve-");
  try {
    await assert.rejects(
      serve(["-o", "X11Forwarding=yes", "-o", "X11UseLocalhost=no"], { HOME: home }),
      /X11UseLocalhost no is not supported by rxssh serve/,
    );
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
});

it("-X, -Y, -x (the last wins, over -o): rxssh -G prints the X11 keywords as ssh -G does", {
  skip: !openssh,
}, async () => {
  const keys = /^(forwardx11|forwardx11trusted|forwardx11timeout|xauthlocation) /;
  // ForwardX11Trusted given: Debian's ssh defaults it to yes, upstream (and rxssh) to no.
  for (
    const flags of [["-X"], ["-Y"], ["-x"], ["-X", "-x"], ["-x", "-Y"], [
      "-X",
      "-o",
      "ForwardX11Timeout=90",
    ]]
  ) {
    const args = ["-G", "-F", "none", "-o", "ForwardX11Trusted=no", ...flags, "example.com"];
    const ours = await runProcess(...cliCommand(args), { timeoutMs: 60_000, cwd: ROOT });
    const theirs = await runProcess(openssh!.ssh, args, { timeoutMs: 30_000 });
    const pick = (out: string) => out.split("\n").filter((l) => keys.test(l));
    assert.equal(ours.code, 0, ours.stderr);
    assert.equal(pick(ours.stdout).length, 4);
    assert.deepEqual(pick(ours.stdout), pick(theirs.stdout), flags.join(" "));
  }
});

describe("X11 forwarding for a whole connection against Xvfb and OpenSSH", {
  skip: skipReal,
}, () => {
  let dir: string;
  let xvfb: Xvfb;
  let keyFile: string;
  let deniedKey: string;
  let sshd: Sshd;
  let withX11: Served;
  let withoutX11: Served;
  const user = currentUser();
  const sessionAuth = () => path.join(dir, "sshd-session.xauth");
  /** What the local side of every X11 test runs with: Xvfb's display and cookie. */
  const xEnv = () => ({ ...process.env, DISPLAY: xvfb.display, XAUTHORITY: xvfb.authFile });
  const XDPY =
    "echo DISPLAY=$DISPLAY; xdpyinfo | grep -E 'name of display|dimensions|number of extensions'";

  before(async () => {
    dir = tempDir("rxssh-x11conn-real-");
    xvfb = await startXvfb(dir);
    keyFile = path.join(dir, "id");
    deniedKey = path.join(dir, "id_denied");
    const [pub, denied] = await Promise.all([keygen(keyFile), keygen(deniedKey)]);
    const authorizedKeys = path.join(dir, "authorized_keys");
    fs.writeFileSync(authorizedKeys, `${pub}\nno-x11-forwarding ${denied}\n`);
    // Each serve its own HOME (its host key is made there on the first run) and authority file.
    const serveEnv = (name: string) => {
      fs.mkdirSync(path.join(dir, name));
      return { HOME: path.join(dir, name), XAUTHORITY: path.join(dir, name, "serve.xauth") };
    };
    [sshd, withX11, withoutX11] = await Promise.all([
      startSshd({
        config: {
          AuthorizedKeysFile: authorizedKeys,
          PermitRootLogin: "yes",
          X11Forwarding: "yes",
          X11UseLocalhost: "yes",
          XAuthLocation: XAUTH!,
          // sshd runs xauth in the session's environment: keep the cookie out of ~/.Xauthority.
          AcceptEnv: "XAUTHORITY",
          LogLevel: "INFO",
        },
      }),
      serve([
        "-o",
        `AuthorizedKeysFile=${authorizedKeys}`,
        "-o",
        "X11Forwarding=yes",
        "-o",
        "X11DisplayOffset=70",
        "-o",
        `XAuthLocation=${XAUTH}`,
      ], serveEnv("with")),
      serve(["-o", `AuthorizedKeysFile=${authorizedKeys}`], serveEnv("without")),
    ]);
  });
  after(async () => {
    await Promise.all([sshd?.stop(), withX11?.stop(), withoutX11?.stop(), xvfb?.stop()]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const rxssh = (port: number, flags: string[], command: string) => {
    const [file, argv] = cliCommand([
      ...rxsshTestArgs(port, keyFile, user),
      "-o",
      `SetEnv=XAUTHORITY=${sessionAuth()}`,
      ...flags,
      "127.0.0.1",
      command,
    ]);
    return runProcess(file, argv, { timeoutMs: 60_000, cwd: ROOT, env: xEnv() });
  };
  const localExtensions = async () => {
    const r = await runProcess(XDPYINFO!, [], { timeoutMs: 20_000, env: xEnv() });
    return Number(/number of extensions:\s+(\d+)/.exec(r.stdout)![1]);
  };

  it("rxssh -X (untrusted) and -Y (trusted) -> sshd: xdpyinfo reaches Xvfb", async () => {
    const all = await localExtensions();
    const seen: Record<string, number> = {};
    for (const flag of ["-X", "-Y"]) {
      const r = await rxssh(sshd.port, [flag], XDPY);
      assert.equal(r.code, 0, `${flag}: ${r.stdout}\n${r.stderr}`);
      assert.match(r.stdout, /^DISPLAY=localhost:\d+\.0$/m);
      assert.match(r.stdout, /dimensions:\s+640x480 pixels/);
      assert.doesNotMatch(r.stderr, /X11 forwarding|xauth data|xauth key/);
      seen[flag] = Number(/number of extensions:\s+(\d+)/.exec(r.stdout)![1]);
    }
    // Trusted sees what a local client sees; untrusted (xauth generate ... untrusted) less.
    assert.equal(seen["-Y"], all);
    assert.ok(seen["-X"] < all, `untrusted sees ${seen["-X"]} of ${all} extensions`);
    // Without -X: no DISPLAY.
    const plain = await rxssh(sshd.port, [], "echo DISPLAY=$DISPLAY");
    assert.match(plain.stdout, /^DISPLAY=$/m);
  });

  it("OpenSSH ssh -X -> rxssh serve -o X11Forwarding=yes (X11DisplayOffset=70): xdpyinfo", async () => {
    const r = await runSsh(
      testSshArgs(withX11.port, keyFile, user, [
        "-o",
        `XAuthLocation=${XAUTH}`,
        "-X",
        "127.0.0.1",
        XDPY,
      ]),
      { timeoutMs: 60_000, env: xEnv() },
    );
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}\n${withX11.log()}`);
    const n = Number(/^DISPLAY=localhost:(\d+)\.0$/m.exec(r.stdout)?.[1]);
    assert.ok(n >= 70, `display ${n} from the offset 70`);
    assert.match(r.stdout, /dimensions:\s+640x480 pixels/);
    assert.doesNotMatch(r.stderr, /X11 forwarding request failed/);
  });

  it("rxssh serve without X11Forwarding, or a no-x11-forwarding key: ssh and rxssh say the request failed", async () => {
    const cases = [
      { port: withoutX11.port, key: keyFile, what: "no X11Forwarding" },
      { port: withX11.port, key: deniedKey, what: "no-x11-forwarding key" },
    ];
    for (const { port, key, what } of cases) {
      const r = await runSsh(
        testSshArgs(port, key, user, [
          "-o",
          `XAuthLocation=${XAUTH}`,
          "-X",
          "127.0.0.1",
          "echo DISPLAY=$DISPLAY",
        ]),
        { timeoutMs: 60_000, env: xEnv() },
      );
      assert.equal(r.code, 0, `${what}: ${r.stderr}`);
      assert.match(r.stdout, /^DISPLAY=$/m, what);
      assert.match(r.stderr, /X11 forwarding request failed on channel 0/, what);
    }
    const ours = await rxssh(withoutX11.port, ["-X"], "echo DISPLAY=$DISPLAY");
    assert.equal(ours.code, 0, ours.stderr);
    assert.match(ours.stdout, /^DISPLAY=$/m);
    assert.match(ours.stderr, /^X11 forwarding request failed on channel 0$/m);
  });

  it("connect({ forwardX11 }) -> sshd: two sessions both reach Xvfb", async () => {
    const logged: Logged = [];
    const client = await connect({
      host: "127.0.0.1",
      port: sshd.port,
      username: user,
      agent: false,
      hostKey: pinnedHostKey(sshd),
      ...(await keyOption(keyFile)),
      forwardX11: {
        display: xvfb.display,
        xauthority: xvfb.authFile,
        xauth: XAUTH,
        onLog: (level, m) => logged.push([level, m]),
      },
    });
    try {
      const displays = [];
      for (let i = 0; i < 2; i++) {
        const r = await client.exec(XDPY, { env: { XAUTHORITY: sessionAuth() } });
        const out = td.decode(r.stdout);
        assert.equal(r.code, 0, `${out}\n${td.decode(r.stderr)}`);
        assert.match(out, /dimensions:\s+640x480 pixels/);
        displays.push(/^DISPLAY=(\S+)$/m.exec(out)![1]);
      }
      assert.equal(displays.length, 2);
      assert.deepEqual(logged.filter(([l]) => l !== "debug"), []);
    } finally {
      await client.close();
    }
  });

  it("ForwardX11Timeout: X clients after the timeout are refused, with ssh's message", async () => {
    const logged: Logged = [];
    const client = await connect({
      host: "127.0.0.1",
      port: sshd.port,
      username: user,
      agent: false,
      hostKey: pinnedHostKey(sshd),
      ...(await keyOption(keyFile)),
      forwardX11: {
        display: xvfb.display,
        xauthority: xvfb.authFile,
        xauth: XAUTH,
        timeout: 1,
        onLog: (level, m) => logged.push([level, m]),
      },
    });
    try {
      const r = await client.exec(`sleep 1.5; ${XDPY}`, {
        env: { XAUTHORITY: sessionAuth() },
      });
      assert.notEqual(r.code, 0, td.decode(r.stdout));
      assert.doesNotMatch(td.decode(r.stdout), /dimensions/);
      assert.deepEqual(
        logged.filter(([l]) => l === "verbose"),
        [["verbose", "Rejected X11 connection after ForwardX11Timeout expired"]],
      );
    } finally {
      await client.close();
    }
  });
});

/** `privateKeys` with the key in `file` (ssh-keygen's OpenSSH format). */
async function keyOption(file: string) {
  return { privateKeys: [(await parsePrivateKeyFile(fs.readFileSync(file, "utf8"))).key] };
}
