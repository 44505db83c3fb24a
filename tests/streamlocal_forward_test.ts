// Issue 12: Unix-socket forwarding (OpenSSH PROTOCOL §2.4, "streamlocal").
// Our server's portForwardingHandler against OpenSSH's ssh -L and -R with
// socket paths; our client's forwardOutUnix / forwardInUnix / localForward
// against sshd and against our server; the CLI's -L and -R with socket
// paths against rxssh serve and sshd; AllowStreamLocalForwarding and the
// shared caps. HTTP over the sockets (node:http `socketPath`), a 4 MiB body
// whose SHA-256 must match; socket files must be gone once a forward ends.
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
import { firstValueFrom, Subject } from "rxjs";
import { connect, type SshClient } from "../lib/client.ts";
import type { ChannelOpenError } from "../lib/connection/connection.ts";
import {
  forwardIn,
  ForwardingError,
  forwardInUnix,
  forwardOutUnix,
  localForward,
} from "../lib/forward/client.ts";
import { generatePrivateKey } from "../lib/keys/private_key.ts";
import type { SshServer } from "../lib/server.ts";
import { OpenFailure } from "../lib/wire/connection_messages.ts";
import { cliCommand, keygen, ROOT, rxsshTestArgs, serve, type Served } from "./_cli.ts";
import {
  currentUser,
  findOpenSsh,
  freePort,
  listening,
  pinnedHostKey,
  runProcess,
  type Sshd,
  startSshd,
  testSshArgs,
} from "./_openssh.ts";
import { background, connectTo, getOver, ourServer, sshN as startSshN } from "./_forward.ts";

const BIG = 4 * 1024 * 1024;
const openssh = findOpenSsh();
const big = randomBytes(BIG);
const bigSha = createHash("sha256").update(big).digest("hex");

/** An HTTP server on `where` (a socket path, or a TCP port on 127.0.0.1 when undefined). */
async function httpServer(where?: string): Promise<{ port: number; close(): void }> {
  const server = http.createServer((req, res) => {
    res.writeHead(200, { "content-length": String(req.url === "/big" ? BIG : 20) });
    res.end(req.url === "/big" ? big : "hello from http here");
  });
  await new Promise<void>((r) =>
    where ? server.listen(where, () => r()) : server.listen(0, "127.0.0.1", () => r())
  );
  const a = server.address();
  return { port: typeof a === "object" && a ? a.port : 0, close: () => server.close() };
}

/** GET `url` over the unix socket `socketPath`: the body's text (short ones) and SHA-256. */
function getUnix(socketPath: string, url = "/hello"): Promise<{ text: string; sha: string }> {
  return new Promise((resolve, reject) => {
    http.get({ socketPath, path: url, headers: { connection: "close" } }, (res) => {
      const chunks: Uint8Array[] = [];
      res.on("data", (c: Uint8Array) => chunks.push(c));
      res.on("end", () => {
        const body = Buffer.concat(chunks);
        resolve({
          text: body.length < 1000 ? body.toString() : "",
          sha: createHash("sha256").update(body).digest("hex"),
        });
      });
      res.on("error", reject);
    }).on("error", reject);
  });
}

/** GET http://127.0.0.1:`port``url`: text and SHA-256. */
async function getTcp(port: number, url = "/hello"): Promise<{ text: string; sha: string }> {
  const body = new Uint8Array(await (await fetch(`http://127.0.0.1:${port}${url}`)).arrayBuffer());
  return {
    text: body.length < 1000 ? new TextDecoder().decode(body) : "",
    sha: createHash("sha256").update(body).digest("hex"),
  };
}

/** Sends `text` to the unix socket at `p`, half-closes, and returns what came back. */
function echoVia(p: string, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ path: p }, () => s.end(text));
    let got = "";
    s.on("data", (d) => (got += d));
    s.on("end", () => resolve(got));
    s.on("error", reject);
  });
}

/** Waits until `p` exists (`exists` true) or is gone (false); throws after 20 s. */
async function waitFile(p: string, exists: boolean): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (fs.existsSync(p) === exists) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${p} ${exists ? "never appeared" : "was not removed"}`);
}

/** A private temporary directory for sockets (short, under the 108-byte sun_path limit). */
const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-sl-"));

describe("streamlocal: our client and our server", () => {
  let dir: string;
  let unixWeb: { close(): void };
  let tcpWeb: { port: number; close(): void };
  let webSock: string;
  before(async () => {
    dir = tempDir();
    webSock = path.join(dir, "web.sock");
    unixWeb = await httpServer(webSock);
    tcpWeb = await httpServer();
  });
  after(() => {
    unixWeb.close();
    tcpWeb.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("forwardOutUnix and localForward with socket paths: HTTP and 4 MiB intact; unsubscribe removes the socket", async () => {
    const server = await ourServer({});
    const client = await connectTo(server.port);
    try {
      const s = await forwardOutUnix(client, webSock);
      assert.match(await getOver(s, "/hello"), /hello from http here$/);
      // TCP port here, the server's unix socket there (ssh -L port:/path).
      const toUnix = await localForward(client, { path: webSock });
      assert.equal((await getTcp(toUnix.port)).text, "hello from http here");
      assert.equal((await getTcp(toUnix.port, "/big")).sha, bigSha);
      toUnix.unsubscribe();
      // A unix socket here, TCP there (ssh -L /path:host:port).
      const here = path.join(dir, "here.sock");
      const fromUnix = await localForward(client, { host: "127.0.0.1", port: tcpWeb.port }, {
        path: here,
      });
      assert.equal(fromUnix.path, here);
      assert.equal(fs.statSync(here).mode & 0o777, 0o600);
      assert.equal((await getUnix(here)).text, "hello from http here");
      assert.equal((await getUnix(here, "/big")).sha, bigSha);
      // Unix both sides (ssh -L /path:/path).
      const both = path.join(dir, "both.sock");
      const unixUnix = await localForward(client, { path: webSock }, { path: both });
      assert.equal((await getUnix(both)).text, "hello from http here");
      fromUnix.unsubscribe();
      unixUnix.unsubscribe();
      // Deno removes the file just after the listener closes, Bun at once.
      await waitFile(here, false);
      await waitFile(both, false);
      // An existing file is not replaced (StreamLocalBindUnlink no).
      await assert.rejects(localForward(client, { path: webSock }, { path: webSock }));
    } finally {
      await client.close();
      server.close();
    }
  });

  it("forwardInUnix: the server listens (mode 0600) while subscribed; the socket goes with the subscription or the connection", async () => {
    const server = await ourServer({});
    const client = await connectTo(server.port);
    const remote = path.join(dir, "remote.sock");
    try {
      const ready = new Subject<string>();
      const events = forwardInUnix(client, remote);
      const sub = events.subscribe((e) => {
        if (e.type === "listening") return ready.next(e.path);
        assert.equal(e.path, remote);
        e.readable.pipeTo(e.writable).catch(() => {});
      });
      assert.equal(await firstValueFrom(ready), remote);
      assert.equal(fs.statSync(remote).mode & 0o777, 0o600);
      assert.equal(await echoVia(remote, "ping over a unix socket"), "ping over a unix socket");
      assert.equal(await echoVia(remote, "again"), "again");
      sub.unsubscribe();
      await waitFile(remote, false);
      // Listening again, then the connection ends: the server removes the file.
      const sub2 = events.subscribe(() => {});
      await waitFile(remote, true);
      await client.close();
      await waitFile(remote, false);
      sub2.unsubscribe();
    } finally {
      await client.close();
      server.close();
    }
  });

  it("AllowStreamLocalForwarding no / local / remote, connect failures, existing files, and caps shared with TCP", async () => {
    const remote = path.join(dir, "refused.sock");
    const no = await ourServer({ allowStreamLocalForwarding: "no" });
    const local = await ourServer({ allowStreamLocalForwarding: "local", maxListeners: 1 });
    const remoteOnly = await ourServer({ allowStreamLocalForwarding: "remote" });
    const clients = await Promise.all([no, local, remoteOnly].map((s) => connectTo(s.port)));
    const [cNo, cLocal, cRemote] = clients;
    try {
      for (const c of [cNo, cRemote]) {
        await assert.rejects(
          forwardOutUnix(c, webSock),
          (e: ChannelOpenError) =>
            e.reason === OpenFailure.ADMINISTRATIVELY_PROHIBITED &&
            /AllowStreamLocalForwarding/.test(e.message),
        );
      }
      for (const c of [cNo, cLocal]) {
        await assert.rejects(firstValueFrom(forwardInUnix(c, remote)), ForwardingError);
        assert.equal(fs.existsSync(remote), false);
      }
      // TCP forwarding is not affected by AllowStreamLocalForwarding.
      assert.ok(await firstValueFrom(forwardIn(cNo, { address: "localhost", port: 0 })));
      // local: direct-streamlocal works; a missing socket is "connect failed".
      assert.match(await getOver(await forwardOutUnix(cLocal, webSock), "/"), /hello/);
      await assert.rejects(
        forwardOutUnix(cLocal, path.join(dir, "nothing.sock")),
        (e: ChannelOpenError) => e.reason === OpenFailure.CONNECT_FAILED,
      );
      // remote: an existing file is refused; the listener cap counts TCP and Unix together.
      await assert.rejects(firstValueFrom(forwardInUnix(cRemote, webSock)), ForwardingError);
      const capped = await ourServer({ maxListeners: 1 });
      const cCapped = await connectTo(capped.port);
      try {
        const tcp = forwardIn(cCapped, { address: "localhost", port: 0 });
        const ready = new Subject<void>();
        const sub = tcp.subscribe(() => ready.next());
        await firstValueFrom(ready);
        await assert.rejects(firstValueFrom(forwardInUnix(cCapped, remote)), ForwardingError);
        sub.unsubscribe();
        // Once the TCP listener is cancelled the slot is free.
        let listeningOn: string | undefined;
        for (let i = 0; i < 50 && !listeningOn; i++) {
          try {
            const e = await firstValueFrom(forwardInUnix(cCapped, remote));
            if (e.type === "listening") listeningOn = e.path;
          } catch {
            await new Promise((r) => setTimeout(r, 50));
          }
        }
        assert.equal(listeningOn, remote);
      } finally {
        await cCapped.close();
        capped.close();
      }
      await waitFile(remote, false);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
      for (const s of [no, local, remoteOnly]) s.close();
    }
  });
});

describe("streamlocal: OpenSSH's ssh against our server", { skip: !openssh }, () => {
  let dir: string;
  let keyFile: string;
  let server: SshServer;
  let unixWeb: { close(): void };
  let tcpWeb: { port: number; close(): void };
  let webSock: string;
  const children = new Set<ChildProcess>();
  before(async () => {
    dir = tempDir();
    webSock = path.join(dir, "web.sock");
    unixWeb = await httpServer(webSock);
    tcpWeb = await httpServer();
    keyFile = path.join(dir, "id");
    server = await ourServer({}, await keygen(keyFile));
  });
  after(() => {
    for (const c of children) c.kill("SIGKILL");
    server.close();
    unixWeb.close();
    tcpWeb.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const sshN = (extra: string[]) => startSshN(extra, { port: server.port, keyFile, children });

  it("ssh -L /path:host:port (ssh's socket) and -L port:/path (our direct-streamlocal)", async () => {
    const here = path.join(dir, "ssh-l.sock");
    const port = await freePort();
    const { child, stderr } = sshN([
      "-L",
      `${here}:127.0.0.1:${tcpWeb.port}`,
      "-L",
      `${port}:${webSock}`,
    ]);
    try {
      await listening(port);
      await waitFile(here, true);
      assert.equal((await getUnix(here)).text, "hello from http here", stderr());
      assert.equal((await getTcp(port)).text, "hello from http here");
      assert.equal((await getTcp(port, "/big")).sha, bigSha);
    } finally {
      child.kill();
    }
  });

  it("ssh -R /path:host:port: our server listens on the socket, forwarded-streamlocal back to ssh", async () => {
    const there = path.join(dir, "ssh-r.sock");
    const { child, stderr } = sshN(["-R", `${there}:127.0.0.1:${tcpWeb.port}`]);
    try {
      await waitFile(there, true);
      assert.equal((await getUnix(there)).text, "hello from http here", stderr());
      assert.equal((await getUnix(there, "/big")).sha, bigSha);
    } finally {
      child.kill();
    }
    // The connection ended: our server removed the socket file.
    await waitFile(there, false);
  });
});

describe("streamlocal: our client against OpenSSH's sshd", { skip: !openssh }, () => {
  let dir: string;
  let unixWeb: { close(): void };
  let webSock: string;
  let sshd: Sshd;
  let client: SshClient;
  before(async () => {
    dir = tempDir();
    webSock = path.join(dir, "web.sock");
    unixWeb = await httpServer(webSock);
    const key = await generatePrivateKey("ssh-ed25519");
    sshd = await startSshd({ config: { PermitRootLogin: "yes", LogLevel: "INFO" } });
    const b64 = btoa(String.fromCharCode(...key.publicKey.blob));
    fs.writeFileSync(path.join(sshd.dir, "authorized_keys"), `ssh-ed25519 ${b64}\n`);
    client = await connect({
      host: "127.0.0.1",
      port: sshd.port,
      username: currentUser(),
      privateKeys: [key],
      hostKey: pinnedHostKey(sshd),
    });
  });
  after(async () => {
    await client?.close();
    await sshd?.stop();
    unixWeb.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("forwardOutUnix through sshd to a unix HTTP server; 4 MiB intact", async () => {
    const s = await forwardOutUnix(client, webSock);
    assert.match(await getOver(s, "/hello"), /hello from http here$/);
    const fwd = await localForward(client, { path: webSock });
    try {
      assert.equal((await getTcp(fwd.port, "/big")).sha, bigSha);
    } finally {
      fwd.unsubscribe();
    }
  });

  it("forwardInUnix through sshd: sshd listens on the socket, connections come back to us", async () => {
    const remote = path.join(dir, "sshd-r.sock");
    const ready = new Subject<void>();
    const sub = forwardInUnix(client, remote).subscribe((e) => {
      if (e.type === "listening") return ready.next();
      e.readable.pipeTo(e.writable).catch(() => {});
    });
    try {
      await firstValueFrom(ready);
      await waitFile(remote, true);
      assert.equal(await echoVia(remote, "ping via sshd"), "ping via sshd");
    } finally {
      sub.unsubscribe();
      // sshd leaves its socket file behind (OpenSSH's channel_free does not unlink).
      fs.rmSync(remote, { force: true });
    }
  });
});

describe("streamlocal: rxssh -L/-R with socket paths, rxssh serve's AllowStreamLocalForwarding", {
  skip: !openssh,
}, () => {
  let dir: string;
  let keyFile: string;
  let sshd: Sshd;
  let rx: Served;
  let rxNo: Served;
  let sshdNo: Sshd;
  let unixWeb: { close(): void };
  let tcpWeb: { port: number; close(): void };
  let webSock: string;
  const children = new Set<ChildProcess>();

  before(async () => {
    dir = tempDir();
    webSock = path.join(dir, "web.sock");
    unixWeb = await httpServer(webSock);
    tcpWeb = await httpServer();
    keyFile = path.join(dir, "id");
    const authorizedKeys = path.join(dir, "authorized_keys");
    fs.writeFileSync(authorizedKeys, (await keygen(keyFile)) + "\n");
    // Two homes: each rxssh serve makes its host key on first start.
    fs.mkdirSync(path.join(dir, "home"));
    fs.mkdirSync(path.join(dir, "home-no"));
    const config = { AuthorizedKeysFile: authorizedKeys, PermitRootLogin: "yes", LogLevel: "INFO" };
    const home = { HOME: path.join(dir, "home") };
    [sshd, sshdNo, rx, rxNo] = await Promise.all([
      startSshd({ config }),
      startSshd({ config: { ...config, AllowStreamLocalForwarding: "no" } }),
      serve(["-o", `AuthorizedKeysFile=${authorizedKeys}`], home),
      serve([
        "-o",
        `AuthorizedKeysFile=${authorizedKeys}`,
        "-o",
        "AllowStreamLocalForwarding=no",
      ], { HOME: path.join(dir, "home-no") }),
    ]);
  });
  after(async () => {
    for (const c of children) c.kill("SIGKILL");
    await Promise.all([sshd?.stop(), sshdNo?.stop(), rx?.stop(), rxNo?.stop()]);
    unixWeb.close();
    tcpWeb.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const base = (port: number) => rxsshTestArgs(port, keyFile, currentUser());
  const start = (args: string[]) => {
    const [file, argv] = cliCommand(args);
    return background(file, argv, { children, cwd: ROOT, env: { ...process.env, HOME: dir } });
  };

  for (const target of ["sshd", "rxssh serve"]) {
    it(`rxssh -N -L /path:host:port, -L port:/path and -R /path:host:port through ${target}`, async () => {
      const p = target === "sshd" ? sshd.port : rx.port;
      const tag = target === "sshd" ? "d" : "x";
      const here = path.join(dir, `l-${tag}.sock`);
      const there = path.join(dir, `r-${tag}.sock`);
      const port = await freePort();
      const { child, stderr } = start([
        ...base(p),
        "-N",
        "-L",
        `${here}:127.0.0.1:${tcpWeb.port}`,
        "-L",
        `${port}:${webSock}`,
        "-R",
        `${there}:127.0.0.1:${tcpWeb.port}`,
        "127.0.0.1",
      ]);
      try {
        await listening(port);
        await waitFile(here, true);
        await waitFile(there, true);
        assert.equal((await getUnix(here)).text, "hello from http here", stderr());
        assert.equal((await getTcp(port, "/big")).sha, bigSha);
        assert.equal((await getUnix(there, "/big")).sha, bigSha, stderr());
      } finally {
        child.kill();
      }
      // rxssh serve removes its socket once the connection ends; sshd leaves
      // its own, and a killed client (ssh, rxssh) leaves the local one.
      if (target === "rxssh serve") await waitFile(there, false);
      for (const f of [here, there]) fs.rmSync(f, { force: true });
    });
  }

  it("AllowStreamLocalForwarding no: -R /path fails with ExitOnForwardFailure (255) on both; -L port:/path is refused", async () => {
    for (const p of [sshdNo.port, rxNo.port]) {
      const there = path.join(dir, `no-${p}.sock`);
      const r = start([
        ...base(p),
        "-N",
        "-o",
        "ExitOnForwardFailure=yes",
        "-R",
        `${there}:127.0.0.1:${tcpWeb.port}`,
        "127.0.0.1",
      ]);
      assert.equal(await r.exited, 255, r.stderr());
      assert.match(r.stderr(), /remote port forwarding failed for listen path/);
      assert.equal(fs.existsSync(there), false);
      const port = await freePort();
      const l = start([...base(p), "-N", "-L", `${port}:${webSock}`, "127.0.0.1"]);
      try {
        await listening(port);
        await assert.rejects(getTcp(port));
      } finally {
        l.child.kill();
      }
    }
  });
});

describe("streamlocal: a key's no-port-forwarding", { skip: !openssh }, () => {
  it("refuses -R /path and -L port:/path on rxssh serve as on sshd", async () => {
    const dir = tempDir();
    const webSock = path.join(dir, "web.sock");
    const web = await httpServer(webSock);
    const key = path.join(dir, "id");
    const authorizedKeys = path.join(dir, "authorized_keys");
    fs.writeFileSync(authorizedKeys, `no-port-forwarding ${await keygen(key)}\n`);
    fs.mkdirSync(path.join(dir, "home"));
    const [sshd, rx] = await Promise.all([
      startSshd({
        config: { AuthorizedKeysFile: authorizedKeys, PermitRootLogin: "yes", LogLevel: "INFO" },
      }),
      serve(["-o", `AuthorizedKeysFile=${authorizedKeys}`], { HOME: path.join(dir, "home") }),
    ]);
    try {
      for (const p of [sshd.port, rx.port]) {
        const there = path.join(dir, `npf-${p}.sock`);
        const r = await runProcess(
          openssh!.ssh,
          testSshArgs(p, key, currentUser(), [
            "-N",
            "-o",
            "ExitOnForwardFailure=yes",
            "-R",
            `${there}:127.0.0.1:1`,
            "127.0.0.1",
          ]),
          { timeoutMs: 30_000 },
        );
        assert.equal(r.code, 255, r.stderr);
        assert.match(r.stderr, /remote port forwarding failed for listen path/);
        assert.equal(fs.existsSync(there), false);
        // -L port:/path: the listener is ssh's; the channel is refused.
        const port = await freePort();
        const child = spawn(
          openssh!.ssh,
          testSshArgs(p, key, currentUser(), ["-N", "-L", `${port}:${webSock}`, "127.0.0.1"]),
          { stdio: "ignore" },
        );
        try {
          await listening(port);
          await assert.rejects(getTcp(port));
        } finally {
          child.kill();
        }
      }
    } finally {
      await Promise.all([sshd.stop(), rx.stop()]);
      web.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
