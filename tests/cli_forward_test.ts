// Issue 12: the client CLI's forwarding flags, with OpenSSH's habits. Our
// `rxssh -L`, `-R`, `-D`, `-W`, `-J` and `-C` against OpenSSH's sshd and
// `rxssh serve`: an HTTP fetch through each tunnel from a local HTTP
// server, a 50 MiB body through -L whose SHA-256 must match, a two-hop
// -J chain through rxssh serve and sshd, and ExitOnForwardFailure.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import process from "node:process";
import { cliCommand, keygen, ROOT, rxsshTestArgs, serve, type Served } from "./_cli.ts";
import {
  currentUser,
  findOpenSsh,
  freePort,
  listening,
  runProcess,
  type Sshd,
  startSshd,
} from "./_openssh.ts";

const skip = findOpenSsh() ? false : "OpenSSH is not installed (.ci/run installs it)";
const BIG = 50 * 1024 * 1024;

describe("rxssh -L -R -D -W -J -C", { skip }, () => {
  let home: string;
  let keyFile: string;
  let sshd: Sshd;
  let rx: Served;
  let web: http.Server;
  let webPort: number;
  let bigSha: string;
  const children = new Set<ChildProcess>();

  before(async () => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-cli-forward-"));
    keyFile = path.join(home, "id");
    const pub = await keygen(keyFile);
    const authorizedKeys = path.join(home, "authorized_keys");
    fs.writeFileSync(authorizedKeys, pub + "\n");
    fs.mkdirSync(path.join(home, "serve-home"));
    [sshd, rx] = await Promise.all([
      startSshd({
        config: { AuthorizedKeysFile: authorizedKeys, PermitRootLogin: "yes", LogLevel: "INFO" },
      }),
      serve(["-o", `AuthorizedKeysFile=${authorizedKeys}`], {
        HOME: path.join(home, "serve-home"),
      }),
    ]);
    const big = randomBytes(BIG);
    bigSha = createHash("sha256").update(big).digest("hex");
    web = http.createServer((req, res) => res.end(req.url === "/big" ? big : "hello from http"));
    await new Promise<void>((r) => web.listen(0, "127.0.0.1", () => r()));
    webPort = (web.address() as net.AddressInfo).port;
  });
  after(async () => {
    for (const c of children) c.kill("SIGKILL");
    web?.close();
    await Promise.all([sshd?.stop(), rx?.stop()]);
    fs.rmSync(home, { recursive: true, force: true });
  });

  const base = (port: number) => rxsshTestArgs(port, keyFile, currentUser());

  /** Starts a long-running rxssh; returns it and its stderr so far. */
  const start = (args: string[]) => {
    const [file, argv] = cliCommand(args);
    const child = spawn(file, argv, {
      cwd: ROOT,
      env: { ...process.env, HOME: home },
      stdio: ["ignore", "ignore", "pipe"],
    });
    children.add(child);
    let err = "";
    child.stderr!.on("data", (d) => (err += d));
    return { child, stderr: () => err };
  };
  const run = (args: string[], input?: string) => {
    const [file, argv] = cliCommand(args);
    return runProcess(file, argv, {
      timeoutMs: 60_000,
      cwd: ROOT,
      input,
      env: { ...process.env, HOME: home },
    });
  };
  const get = async (port: number, p = "/hello") => {
    const body = new Uint8Array(await (await fetch(`http://127.0.0.1:${port}${p}`)).arrayBuffer());
    return {
      text: new TextDecoder().decode(body.subarray(0, 100)),
      sha: createHash("sha256").update(body).digest("hex"),
    };
  };

  for (const target of ["sshd", "rxssh serve"]) {
    it(`-N -L through ${target}: HTTP and 50 MiB`, async () => {
      const port = await freePort();
      const p = target === "sshd" ? sshd.port : rx.port;
      const { child } = start([
        ...base(p),
        "-N",
        "-L",
        `${port}:127.0.0.1:${webPort}`,
        "127.0.0.1",
      ]);
      try {
        await listening(port);
        assert.equal((await get(port)).text, "hello from http");
        assert.equal((await get(port, "/big")).sha, bigSha);
      } finally {
        child.kill();
      }
    });

    it(`-N -R 0 through ${target}: the allocated port is printed and reaches the HTTP server`, async () => {
      const p = target === "sshd" ? sshd.port : rx.port;
      const { child, stderr } = start([
        ...base(p),
        "-N",
        "-R",
        `0:127.0.0.1:${webPort}`,
        "127.0.0.1",
      ]);
      try {
        let port = 0;
        for (let i = 0; i < 400 && !port; i++) {
          port = Number(
            /Allocated port (\d+) for remote forward to 127\.0\.0\.1:\d+/.exec(stderr())?.[1] ?? 0,
          );
          if (!port) await new Promise((r) => setTimeout(r, 50));
        }
        assert.ok(port > 0, stderr());
        assert.equal((await get(port)).text, "hello from http");
      } finally {
        child.kill();
      }
    });

    it(`-N -D through ${target}: curl --socks5-hostname`, async () => {
      const port = await freePort();
      const p = target === "sshd" ? sshd.port : rx.port;
      const { child } = start([...base(p), "-N", "-D", String(port), "127.0.0.1"]);
      try {
        await listening(port);
        const r = await runProcess("curl", [
          "-sS",
          "--socks5-hostname",
          `127.0.0.1:${port}`,
          `http://localhost:${webPort}/hello`,
        ], { timeoutMs: 20_000 });
        assert.equal(r.stdout, "hello from http", r.stderr);
      } finally {
        child.kill();
      }
    });

    it(`-W and -C through ${target}`, async () => {
      const p = target === "sshd" ? sshd.port : rx.port;
      const r = await run(
        [...base(p), "-C", "-W", `127.0.0.1:${webPort}`, "127.0.0.1"],
        "GET /hello HTTP/1.0\r\n\r\n",
      );
      assert.match(r.stdout, /hello from http$/, r.stderr);
      assert.equal(r.code, 0, r.stderr);
    });
  }

  it("-J: a two-hop chain, rxssh serve then sshd, and sshd then rxssh serve", async () => {
    const hop = (port: number) => `${currentUser()}@127.0.0.1:${port}`;
    // The hops read the same configuration: -F none, so their options come from a config file.
    const cfg = path.join(home, "jump_config");
    fs.writeFileSync(
      cfg,
      `Host *\n  IdentityFile ${keyFile}\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  BatchMode yes\n`,
    );
    for (const [first, last] of [[rx.port, sshd.port], [sshd.port, rx.port]]) {
      const r = await run([
        "-F",
        cfg,
        "-J",
        hop(first),
        "-p",
        String(last),
        "-l",
        currentUser(),
        "-W",
        `127.0.0.1:${webPort}`,
        "127.0.0.1",
      ], "GET /hello HTTP/1.0\r\n\r\n");
      assert.match(r.stdout, /hello from http$/, r.stderr);
    }
  });

  it("ExitOnForwardFailure: a port already bound is an error (255); without it a warning", async () => {
    const taken = net.createServer().listen(0, "127.0.0.1");
    await new Promise((r) => taken.once("listening", r));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      const strict = await run([
        ...base(rx.port),
        "-o",
        "ExitOnForwardFailure=yes",
        "-L",
        `${port}:127.0.0.1:${webPort}`,
        "127.0.0.1",
        "true",
      ]);
      assert.equal(strict.code, 255, strict.stderr);
      assert.match(strict.stderr, /Error: Could not request local forwarding\./);
      const lenient = await run([
        ...base(rx.port),
        "-L",
        `${port}:127.0.0.1:${webPort}`,
        "127.0.0.1",
        "true",
      ]);
      assert.equal(lenient.code, 0, lenient.stderr);
      assert.match(lenient.stderr, /Warning: Could not request local forwarding\./);
    } finally {
      taken.close();
    }
  });
});
