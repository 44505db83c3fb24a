// X11 forwarding (RFC 4254 §6.3), both sides.
//
// Without any X server: our client and our server over an in-memory pair,
// with a fake X display (a unix socket that speaks just the X11 connection
// setup): the fake cookie is swapped for the real one, a wrong cookie is
// refused, single-connection stops listening, no-X11-forwarding refuses.
//
// With Xvfb (packages xvfb, xauth, x11-utils): OpenSSH's `ssh -X`/`-Y` into
// our server running xdpyinfo, and our client into OpenSSH's sshd
// (X11Forwarding yes) running xdpyinfo. These skip, saying why, when Xvfb,
// xauth, xdpyinfo or OpenSSH are missing.
import { after, before, describe, it, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import process from "node:process";
import { connect, type SshClient } from "../lib/client.ts";
import { SessionRequestError } from "../lib/connection/session.ts";
import { generatePrivateKey } from "../lib/keys/private_key.ts";
import { listen, runLocalCommand, type ServerSession } from "../lib/server.ts";
import { enableX11Forwarding, type X11Connection, type X11Refusal } from "../lib/x11/client.ts";
import {
  type X11ForwardedDisplay,
  x11ForwardingHandler,
  type X11ServerChannel,
} from "../lib/x11/server.ts";
import { X11RequestCodec } from "../lib/x11/wire.ts";
import { currentUser, pinnedHostKey, runProcess, type Sshd, startSshd } from "./_openssh.ts";
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
const b64 = (b: Uint8Array) => btoa(String.fromCharCode(...b));

describe("X11 forwarding over a fake display (our client <-> our server)", () => {
  let dir: string;
  let fake: FakeDisplay;
  before(async () => {
    dir = tempDir("rxssh-x11-fake-");
    fake = await fakeDisplay(dir);
  });
  after(() => {
    fake?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("the fake cookie reaches the server; the display gets the real one; x11$ on both sides", async () => {
    const real = "00112233445566778899aabbccddeeff";
    const x11 = x11ForwardingHandler({ xauth: false, displayOffset: 20 });
    const displays: X11ForwardedDisplay[] = [];
    const serverChannels: X11ServerChannel[] = [];
    x11.display$.subscribe((d) => displays.push(d));
    x11.x11$.subscribe((c) => serverChannels.push(c));
    const client = await inMemory({
      handlers: [x11],
      exec: async (s: ServerSession) => {
        // Play the X client: with the cookie the session's xauth would hold (the fake one).
        const fakeCookie = displays.at(-1)!.request.authCookie;
        const reply = await xClient(s.env.DISPLAY!, "MIT-MAGIC-COOKIE-1", fakeCookie);
        const w = s.stdout.getWriter();
        await w.write(te.encode(`DISPLAY=${s.env.DISPLAY}\n${reply}`));
        w.releaseLock();
        await s.exit(0);
      },
    });
    const fwd = enableX11Forwarding(client, { display: fake.display, cookie: real });
    assert.equal(fwd.cookieSource, "option");
    assert.notEqual(fwd.fakeCookie, real);
    assert.equal(fwd.fakeCookie.length, real.length);
    const seen: X11Connection[] = [];
    fwd.x11$.subscribe((c) => seen.push(c));
    const r = await client.exec("xdpyinfo", { requests: [fwd.request] });
    const out = td.decode(r.stdout);
    assert.equal(r.code, 0, out);
    assert.match(out, /^DISPLAY=localhost:(\d+)\.0\n/);
    const n = Number(/localhost:(\d+)/.exec(out)![1]);
    assert.ok(n >= 20, `display ${n} is at or above the offset`);
    // The display saw the REAL cookie, never the fake one; bytes after the setup passed through.
    assert.equal(out.split("\n")[1], `OK:MIT-MAGIC-COOKIE-1:${real}:hello X`);
    assert.deepEqual(fake.seen.at(-1), {
      proto: "MIT-MAGIC-COOKIE-1",
      cookie: real,
      extra: "hello X\n",
    });
    assert.equal(displays.length, 1);
    assert.equal(displays[0].request.authCookie, fwd.fakeCookie);
    assert.equal(displays[0].displayName, `localhost:${n}.0`);
    assert.equal(seen.length, 1);
    assert.equal(seen[0].originatorAddress, "127.0.0.1");
    assert.equal(seen[0].channel.type, "x11");
    assert.equal(serverChannels.length, 1);
    assert.equal(serverChannels[0].originatorPort, seen[0].originatorPort);
    await seen[0].done;
    fwd.close();
    await client.close();
  });

  it("a wrong cookie or protocol is refused before reaching the display", async () => {
    const x11 = x11ForwardingHandler({ xauth: false, displayOffset: 20 });
    const before = fake.seen.length;
    const client = await inMemory({
      handlers: [x11],
      exec: async (s: ServerSession) => {
        const a = await xClient(s.env.DISPLAY!, "MIT-MAGIC-COOKIE-1", "ff".repeat(16));
        const b = await xClient(s.env.DISPLAY!, "XDM-AUTHORIZATION-1", "ff".repeat(16));
        const w = s.stdout.getWriter();
        await w.write(te.encode(JSON.stringify([a, b])));
        w.releaseLock();
        await s.exit(0);
      },
    });
    const fwd = enableX11Forwarding(client, { display: fake.display, cookie: "ab".repeat(16) });
    const refused: X11Refusal[] = [];
    const accepted: X11Connection[] = [];
    fwd.refused$.subscribe((x) => refused.push(x));
    fwd.x11$.subscribe((x) => accepted.push(x));
    const r = await client.exec("x", { requests: [fwd.request] });
    assert.deepEqual(JSON.parse(td.decode(r.stdout)), ["", ""]); // closed without a byte
    assert.equal(fake.seen.length, before, "the display never saw a connection");
    assert.equal(accepted.length, 0);
    assert.deepEqual(refused.map((x) => x.reason), [
      "X11 authentication data does not match the fake data",
      'X11 connection uses a different authentication protocol ("XDM-AUTHORIZATION-1")',
    ]);
    assert.equal(refused[0].originatorAddress, "127.0.0.1");
    fwd.close();
    await client.close();
  });

  it("single connection: the display stops listening after the first X client", async () => {
    const x11 = x11ForwardingHandler({ xauth: false, displayOffset: 20 });
    let fakeCookie = "";
    x11.display$.subscribe((d) => (fakeCookie = d.request.authCookie));
    const client = await inMemory({
      handlers: [x11],
      exec: async (s: ServerSession) => {
        const first = await xClient(s.env.DISPLAY!, "MIT-MAGIC-COOKIE-1", fakeCookie);
        const second = await xClient(s.env.DISPLAY!, "MIT-MAGIC-COOKIE-1", fakeCookie).then(
          () => "connected",
          (e) => `refused: ${e instanceof Error ? e.constructor.name : e}`,
        );
        const w = s.stdout.getWriter();
        await w.write(te.encode(JSON.stringify([first, second])));
        w.releaseLock();
        await s.exit(0);
      },
    });
    const fwd = enableX11Forwarding(client, {
      display: fake.display,
      cookie: "cd".repeat(16),
      singleConnection: true,
    });
    assert.equal(X11RequestCodec.decode(fwd.request.data).singleConnection, true);
    const r = await client.exec("x", { requests: [fwd.request] });
    const [first, second] = JSON.parse(td.decode(r.stdout));
    assert.match(first, /^OK:MIT-MAGIC-COOKIE-1:(cd){16}:hello X\n$/);
    assert.match(second, /^refused/);
    fwd.close();
    await client.close();
  });

  it("no-X11-forwarding (key restrictions) refuses x11-req; required makes that fatal", async () => {
    const x11 = x11ForwardingHandler({ xauth: false });
    const refusals: string[] = [];
    x11.refused$.subscribe((r) => refusals.push(r.reason));
    const client = await inMemory({
      handlers: [x11],
      exec: async (s: ServerSession) => {
        const w = s.stdout.getWriter();
        await w.write(te.encode(s.env.DISPLAY ?? "unset"));
        w.releaseLock();
        await s.exit(0);
      },
    }, { key: await generatePrivateKey("ssh-ed25519") });
    const fwd = enableX11Forwarding(client, { display: ":0", cookie: "00".repeat(16) });
    assert.equal(td.decode((await client.exec("x", { requests: [fwd.request] })).stdout), "unset");
    const strict = enableX11Forwarding(client, {
      display: ":0",
      cookie: "00".repeat(16),
      required: true,
    });
    await assert.rejects(client.exec("x", { requests: [strict.request] }), SessionRequestError);
    assert.deepEqual(refusals, ["no-X11-forwarding", "no-X11-forwarding"]);
    await client.close();
  });

  it("a second x11-req on the same session and malformed ones are refused; it handles x11-req only", async () => {
    const x11 = x11ForwardingHandler({ xauth: false, displayOffset: 30 });
    assert.deepEqual(Object.keys(x11.sessionRequest), ["x11-req"]);
    const answer = x11.sessionRequest["x11-req"];
    const request = (data: Uint8Array) => ({ type: "x11-req", wantReply: true, data });
    let closeSession!: () => void;
    const env: Record<string, string> = {};
    const session = {
      channel: { closed: new Promise<undefined>((r) => (closeSession = () => r(undefined))) },
      username: "u",
      connection: {},
      restrictions: {},
      setEnv: (k: string, v: string) => void (env[k] = v),
    } as unknown as Parameters<typeof answer>[1];
    const good = X11RequestCodec.encode({
      singleConnection: false,
      authProtocol: "MIT-MAGIC-COOKIE-1",
      authCookie: "aa".repeat(16),
      screen: 1,
    });
    const verdicts: (boolean | undefined)[] = [];
    verdicts.push((await answer(request(good), session))?.accepted);
    // Accepted once the display listens: DISPLAY is set before the command request is answered.
    assert.match(env.DISPLAY, /^localhost:\d+\.1$/);
    verdicts.push((await answer(request(good), session))?.accepted); // already active
    verdicts.push((await answer(request(good.subarray(1)), session))?.accepted); // malformed
    const badCookie = X11RequestCodec.encode({
      singleConnection: false,
      authProtocol: "MIT-MAGIC-COOKIE-1",
      authCookie: "not hex; rm -rf /",
      screen: 0,
    });
    const other = { ...session, channel: { closed: new Promise(() => {}) } } as typeof session;
    verdicts.push((await answer(request(badCookie), other))?.accepted);
    closeSession();
    assert.deepEqual(verdicts, [true, false, false, false]);
  });
});

test("x11ForwardingHandler skips a display whose port is taken", async () => {
  // Someone else holds 127.0.0.1:6000+offset: the session gets the next display.
  let offset = 40;
  let blocker: net.Server | undefined;
  for (; offset < 400 && !blocker; offset += 7) {
    const s = net.createServer();
    blocker = await new Promise<net.Server | undefined>((resolve) => {
      s.once("error", () => resolve(undefined));
      s.listen(6000 + offset, "127.0.0.1", () => resolve(s));
    });
    if (blocker) break;
  }
  assert.ok(blocker, "found a port to block");
  try {
    const x11 = x11ForwardingHandler({ xauth: false, displayOffset: offset });
    const displays: X11ForwardedDisplay[] = [];
    x11.display$.subscribe((d) => displays.push(d));
    const env: Record<string, string> = {};
    let closeSession!: () => void;
    const session = {
      channel: { closed: new Promise<undefined>((r) => (closeSession = () => r(undefined))) },
      username: "u",
      connection: {},
      restrictions: {},
      setEnv: (k: string, v: string) => void (env[k] = v),
    } as unknown as Parameters<typeof x11.sessionRequest["x11-req"]>[1];
    const data = X11RequestCodec.encode({
      singleConnection: false,
      authProtocol: "MIT-MAGIC-COOKIE-1",
      authCookie: "aa".repeat(16),
      screen: 0,
    });
    const verdict = await x11.sessionRequest["x11-req"](
      { type: "x11-req", wantReply: true, data },
      session,
    );
    assert.equal(verdict?.accepted, true);
    assert.ok(displays[0].display > offset, `display ${displays[0].display} skips ${offset}`);
    assert.equal(env.DISPLAY, `localhost:${displays[0].display}.0`);
    closeSession();
  } finally {
    blocker.close();
  }
});

describe("X11 forwarding against real X (Xvfb) and OpenSSH", { skip: skipReal }, () => {
  let dir: string;
  let xvfb: Xvfb;
  const user = currentUser();
  before(async () => {
    dir = tempDir("rxssh-x11-");
    xvfb = await startXvfb(dir);
  });
  after(async () => {
    await xvfb?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("Xvfb answers xdpyinfo locally with its cookie (sanity)", async () => {
    const r = await runProcess(XDPYINFO!, [], {
      timeoutMs: 20_000,
      env: { ...process.env, DISPLAY: xvfb.display, XAUTHORITY: xvfb.authFile },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /dimensions:\s+640x480 pixels/);
    const denied = await runProcess(XDPYINFO!, [], {
      timeoutMs: 20_000,
      env: { ...process.env, DISPLAY: xvfb.display, XAUTHORITY: "/dev/null" },
    });
    assert.notEqual(denied.code, 0, "without the cookie the display refuses");
  });

  for (const mode of ["-Y", "-X"] as const) {
    it(`OpenSSH ssh ${mode} -> our server (runLocalCommand + x11ForwardingHandler): xdpyinfo`, async () => {
      const keyFile = path.join(dir, `id_${mode.slice(1)}`);
      const kg = await runProcess(
        openssh!.sshKeygen,
        ["-q", "-t", "ed25519", "-N", "", "-C", "", "-f", keyFile],
        { timeoutMs: 30_000 },
      );
      assert.equal(kg.code, 0, kg.stderr);
      const pub = fs.readFileSync(keyFile + ".pub", "utf8").split(" ")[1];
      const serverAuth = path.join(dir, `server-${mode.slice(1)}.xauth`);
      const x11 = x11ForwardingHandler({ xauthority: serverAuth });
      const displays: X11ForwardedDisplay[] = [];
      const channels: X11ServerChannel[] = [];
      x11.display$.subscribe((d) => displays.push(d));
      x11.x11$.subscribe((c) => channels.push(c));
      const server = await listen({
        hostname: "127.0.0.1",
        port: 0,
        hostKeys: [await generatePrivateKey("ssh-ed25519")],
        auth: { handlers: { publicKey: (_u, key) => b64(key.blob) === pub } },
        exec: runLocalCommand,
        handlers: [x11],
      });
      try {
        const r = await runProcess(openssh!.ssh, [
          "-F",
          "/dev/null",
          "-p",
          String(server.port),
          "-o",
          "StrictHostKeyChecking=no",
          "-o",
          "UserKnownHostsFile=/dev/null",
          "-o",
          "LogLevel=ERROR",
          "-o",
          "IdentityAgent=none",
          "-o",
          "IdentitiesOnly=yes",
          "-o",
          `XAuthLocation=${XAUTH}`,
          "-i",
          keyFile,
          mode,
          "-l",
          user,
          "127.0.0.1",
          "echo DISPLAY=$DISPLAY; xdpyinfo | grep -E 'name of display|vendor string|dimensions'",
        ], {
          timeoutMs: 60_000,
          env: { ...process.env, DISPLAY: xvfb.display, XAUTHORITY: xvfb.authFile },
        });
        assert.equal(r.code, 0, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
        assert.equal(displays.length, 1);
        const name = displays[0].displayName;
        assert.match(name, /^localhost:\d+\.0$/);
        assert.match(r.stdout, new RegExp(`^DISPLAY=${name}$`, "m"));
        assert.match(r.stdout, new RegExp(`name of display:\\s+${name}`));
        assert.match(r.stdout, /vendor string:\s+The X\.Org Foundation/);
        assert.match(r.stdout, /dimensions:\s+640x480 pixels/);
        // ssh sent a fake cookie (-Y) or an untrusted one from `xauth generate` (-X), never Xvfb's.
        assert.notEqual(displays[0].request.authCookie, xvfb.cookie);
        assert.ok(channels.length >= 1);
        assert.equal(channels[0].originatorAddress, "127.0.0.1");
        // The session's authority file held the forwarded cookie, removed when the session ended.
        await new Promise((r) => setTimeout(r, 100));
        const list = spawnSync(XAUTH!, ["-f", serverAuth, "list"], { encoding: "utf8" });
        assert.doesNotMatch(String(list.stdout), /MIT-MAGIC-COOKIE-1/);
      } finally {
        server.close();
      }
    });
  }

  describe("our client -> OpenSSH sshd (X11Forwarding yes)", () => {
    let sshd: Sshd;
    let client: SshClient;
    before(async () => {
      const key = await generatePrivateKey("ssh-ed25519");
      sshd = await startSshd({
        config: {
          PermitRootLogin: "yes",
          X11Forwarding: "yes",
          X11UseLocalhost: "yes",
          XAuthLocation: XAUTH!,
          // sshd runs xauth in the session's environment: keep the cookie out of ~/.Xauthority.
          AcceptEnv: "XAUTHORITY",
          LogLevel: "INFO",
        },
      });
      fs.writeFileSync(
        path.join(sshd.dir, "authorized_keys"),
        `ssh-ed25519 ${b64(key.publicKey.blob)}\n`,
      );
      client = await connect({
        host: "127.0.0.1",
        port: sshd.port,
        username: user,
        privateKeys: [key],
        hostKey: pinnedHostKey(sshd),
      });
    });
    after(async () => {
      await client?.close();
      await sshd?.stop();
    });

    it("enableX11Forwarding: xdpyinfo on the server reaches Xvfb; x11$ emits one channel from 127.0.0.1", async () => {
      const fwd = enableX11Forwarding(client, {
        display: xvfb.display,
        xauthority: xvfb.authFile,
        xauth: XAUTH,
      });
      assert.equal(fwd.cookieSource, "xauth");
      assert.equal(fwd.authProtocol, "MIT-MAGIC-COOKIE-1");
      assert.notEqual(fwd.fakeCookie, xvfb.cookie);
      const seen: X11Connection[] = [];
      const refused: X11Refusal[] = [];
      fwd.x11$.subscribe((c) => seen.push(c));
      fwd.refused$.subscribe((c) => refused.push(c));
      const r = await client.exec(
        "echo DISPLAY=$DISPLAY; xdpyinfo | grep -E 'name of display|vendor string|dimensions'",
        {
          requests: [{ ...fwd.request, required: true }],
          env: { XAUTHORITY: path.join(sshd.dir, "session.xauth") },
        },
      );
      const out = td.decode(r.stdout);
      assert.equal(r.code, 0, `stdout: ${out}\nstderr: ${td.decode(r.stderr)}`);
      assert.match(out, /^DISPLAY=localhost:\d+\.0$/m);
      assert.match(out, /vendor string:\s+The X\.Org Foundation/);
      assert.match(out, /dimensions:\s+640x480 pixels/);
      assert.deepEqual(refused, []);
      assert.equal(seen.length, 1);
      assert.equal(seen[0].originatorAddress, "127.0.0.1");
      assert.ok(seen[0].originatorPort > 0);
      assert.equal(seen[0].display, xvfb.display);
      await seen[0].done;
      // sshd wrote the FAKE cookie for the session, never the real one.
      const list = spawnSync(XAUTH!, ["-f", path.join(sshd.dir, "session.xauth"), "list"], {
        encoding: "utf8",
      });
      assert.match(String(list.stdout), new RegExp(fwd.fakeCookie));
      assert.doesNotMatch(String(list.stdout), new RegExp(xvfb.cookie));
      fwd.close();
    });
  });
});

test("enableX11Forwarding without a display says so", () => {
  const saved = process.env.DISPLAY;
  delete process.env.DISPLAY;
  try {
    assert.throws(
      () =>
        enableX11Forwarding({
          connection: {} as SshClient["connection"],
          handlers: {} as SshClient["handlers"],
        }),
      /no display/,
    );
  } finally {
    if (saved !== undefined) process.env.DISPLAY = saved;
  }
});
