// Issue 12: port forwarding. Our server's portForwardingHandler against
// OpenSSH's ssh -L, -R and -W, and our client's forwardOut / forwardIn /
// localForward against OpenSSH's sshd and against our server: an HTTP
// fetch through each tunnel from a local HTTP server, and a 50 MiB body
// whose SHA-256 must match. Refusals carry OpenSSH's reasons.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { firstValueFrom, Subject } from "rxjs";
import { connect, type SshClient } from "../lib/client.ts";
import type { ChannelOpenError } from "../lib/connection/connection.ts";
import { forwardIn, ForwardingError, forwardOut, localForward } from "../lib/forward/client.ts";
import { dynamicForward } from "../lib/forward/socks.ts";
import type { SshServer } from "../lib/server.ts";
import { OpenFailure } from "../lib/wire/connection_messages.ts";
import {
  currentUser,
  findOpenSsh,
  freePort,
  listening,
  pinnedHostKey,
  runProcess,
  runSsh,
  type Sshd,
  startSshd,
  testSshArgs,
} from "./_openssh.ts";
import { connectTo, getOver, ourServer, sshN as startSshN } from "./_forward.ts";
import { keygen, serve, type Served } from "./_cli.ts";

const BIG = 50 * 1024 * 1024;
const openssh = findOpenSsh();

/** A local HTTP server: /hello answers "hello from http", /big a 50 MiB body. */
async function httpServer(): Promise<{ port: number; bigSha: string; close(): void }> {
  const big = randomBytes(BIG);
  const bigSha = createHash("sha256").update(big).digest("hex");
  const server = http.createServer((req, res) => {
    if (req.url === "/big") {
      res.writeHead(200, { "content-length": String(big.length) });
      res.end(big);
    } else {
      res.end("hello from http");
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    bigSha,
    close: () => server.close(),
  };
}

/** GET `url` and the SHA-256 of its body. */
async function get(url: string): Promise<{ text: string; sha: string; length: number }> {
  const res = await fetch(url);
  const body = new Uint8Array(await res.arrayBuffer());
  return {
    text: body.length < 1000 ? new TextDecoder().decode(body) : "",
    sha: createHash("sha256").update(body).digest("hex"),
    length: body.length,
  };
}

describe("our client and our server", () => {
  let web: Awaited<ReturnType<typeof httpServer>>;
  before(async () => void (web = await httpServer()));
  after(() => web.close());

  it("forwardOut and localForward reach the HTTP server; 50 MiB arrive intact", async () => {
    const server = await ourServer({});
    const client = await connectTo(server.port);
    try {
      const s = await forwardOut(client, { host: "127.0.0.1", port: web.port });
      assert.match(await getOver(s, "/hello"), /hello from http$/);
      const fwd = await localForward(client, { host: "127.0.0.1", port: web.port });
      assert.equal((await get(`http://127.0.0.1:${fwd.port}/hello`)).text, "hello from http");
      const big = await get(`http://127.0.0.1:${fwd.port}/big`);
      assert.equal(big.length, BIG);
      assert.equal(big.sha, web.bigSha);
      fwd.unsubscribe();
      await assert.rejects(get(`http://127.0.0.1:${fwd.port}/hello`));
    } finally {
      await client.close();
      server.close();
    }
  });

  it("forwardIn: the server listens while subscribed; each connection arrives as a pair", async () => {
    const server = await ourServer({});
    const client = await connectTo(server.port);
    try {
      const listeningOn = new Subject<number>();
      const sub = forwardIn(client, { address: "localhost", port: 0 }).subscribe((e) => {
        if (e.type === "listening") return listeningOn.next(e.port);
        assert.equal(e.originatorAddress, "127.0.0.1");
        e.readable.pipeTo(e.writable).catch(() => {}); // echo
      });
      const port = await firstValueFrom(listeningOn);
      const echoed = await new Promise<string>((resolve, reject) => {
        const s = net.connect(port, "127.0.0.1", () => s.end("ping through -R"));
        let got = "";
        s.on("data", (d) => (got += d));
        s.on("end", () => resolve(got));
        s.on("error", reject);
      });
      assert.equal(echoed, "ping through -R");
      sub.unsubscribe();
      // cancel-tcpip-forward closed the server's listener.
      await new Promise((r) => setTimeout(r, 200));
      await assert.rejects(
        new Promise((resolve, reject) => {
          const s = net.connect(port, "127.0.0.1", () => (s.destroy(), resolve(undefined)));
          s.on("error", reject);
        }),
      );
    } finally {
      await client.close();
      server.close();
    }
  });

  it("dynamicForward: curl through SOCKS5 (names resolved by the server), 4a and 4; bad requests close one socket", async () => {
    const server = await ourServer({
      permitOpen: [`localhost:${web.port}`, `127.0.0.1:${web.port}`],
    });
    const client = await connectTo(server.port);
    const socks = await dynamicForward(client);
    try {
      for (const proxy of ["--socks5-hostname", "--socks4a", "--socks4"]) {
        const host = proxy === "--socks4" ? "127.0.0.1" : "localhost";
        const r = await runProcess("curl", [
          "-sS",
          proxy,
          `127.0.0.1:${socks.port}`,
          `http://${host}:${web.port}/hello`,
        ], { timeoutMs: 20_000 });
        assert.equal(r.stdout, "hello from http", `${proxy}: ${r.stderr}`);
      }
      const big = await runProcess("sh", [
        "-c",
        `curl -sS --socks5-hostname 127.0.0.1:${socks.port} http://localhost:${web.port}/big | sha256sum`,
      ], { timeoutMs: 60_000 });
      assert.equal(big.stdout.split(" ")[0], web.bigSha);
      // Not permitted by the server: SOCKS5 "not allowed by ruleset" (curl says so).
      const refused = await runProcess("curl", [
        "-sS",
        "--socks5-hostname",
        `127.0.0.1:${socks.port}`,
        `http://localhost:1/`,
      ], { timeoutMs: 20_000 });
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /SOCKS5 connection to localhost\. \(2\)/); // 2: not allowed by ruleset
      // Garbage closes that socket; the proxy keeps serving.
      const closed = await new Promise<string>((resolve) => {
        const s = net.connect(socks.port, "127.0.0.1", () => s.write("GET / HTTP/1.0\r\n\r\n"));
        let got = "";
        s.on("data", (d) => (got += d));
        s.on("close", () => resolve(got));
        s.on("error", () => resolve(got));
      });
      assert.equal(closed, "");
      const again = await runProcess("curl", [
        "-sS",
        "--socks5-hostname",
        `127.0.0.1:${socks.port}`,
        `http://localhost:${web.port}/hello`,
      ], { timeoutMs: 20_000 });
      assert.equal(again.stdout, "hello from http");
    } finally {
      socks.unsubscribe();
      await client.close();
      server.close();
    }
  });

  it("refusals carry OpenSSH's reasons: prohibited, connect failed; a refused listen errors", async () => {
    const closedPort = await freePort();
    const server = await ourServer({
      allowTcpForwarding: "local",
      permitOpen: [`127.0.0.1:${web.port}`, `127.0.0.1:${closedPort}`],
    });
    const client = await connectTo(server.port);
    try {
      await assert.rejects(
        forwardOut(client, { host: "127.0.0.1", port: 22 }),
        (e: ChannelOpenError) =>
          e.reason === OpenFailure.ADMINISTRATIVELY_PROHIBITED && /PermitOpen/.test(e.message),
      );
      await assert.rejects(
        forwardOut(client, { host: "127.0.0.1", port: closedPort }),
        (e: ChannelOpenError) => e.reason === OpenFailure.CONNECT_FAILED,
      );
      await assert.rejects(
        firstValueFrom(forwardIn(client, { address: "localhost", port: 0 })),
        ForwardingError,
      );
      // The connection goes on.
      assert.equal((await client.exec("true")).code, 0);
    } finally {
      await client.close();
      server.close();
    }
  });
});

describe("OpenSSH's ssh against our server", { skip: !openssh }, () => {
  let web: Awaited<ReturnType<typeof httpServer>>;
  let work: string;
  let keyFile: string;
  let server: SshServer;
  const children = new Set<ChildProcess>();
  before(async () => {
    web = await httpServer();
    work = fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-forward-"));
    keyFile = path.join(work, "id");
    server = await ourServer({}, await keygen(keyFile));
  });
  after(() => {
    for (const c of children) c.kill("SIGKILL");
    server.close();
    web.close();
    fs.rmSync(work, { recursive: true, force: true });
  });

  const sshN = (extra: string[]) => startSshN(extra, { port: server.port, keyFile, children });

  it("ssh -L: HTTP and 50 MiB through the tunnel", async () => {
    const port = await freePort();
    const { child } = sshN(["-L", `${port}:127.0.0.1:${web.port}`]);
    try {
      await listening(port);
      assert.equal((await get(`http://127.0.0.1:${port}/hello`)).text, "hello from http");
      const big = await get(`http://127.0.0.1:${port}/big`);
      assert.equal(big.sha, web.bigSha);
    } finally {
      child.kill();
    }
  });

  it("ssh -R 0: our server allocates the port; HTTP and 50 MiB come back through it", async () => {
    const { child, stderr } = sshN(["-R", `0:127.0.0.1:${web.port}`]);
    try {
      let port = 0;
      for (let i = 0; i < 200 && !port; i++) {
        port = Number(/Allocated port (\d+) for remote forward/.exec(stderr())?.[1] ?? 0);
        if (!port) await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(port > 0, stderr());
      assert.equal((await get(`http://127.0.0.1:${port}/hello`)).text, "hello from http");
      const big = await get(`http://127.0.0.1:${port}/big`);
      assert.equal(big.sha, web.bigSha);
    } finally {
      child.kill();
    }
  });

  it("ssh -D: curl --socks5-hostname through our server", async () => {
    const port = await freePort();
    const { child } = sshN(["-D", String(port)]);
    try {
      await listening(port);
      const r = await runProcess("curl", [
        "-sS",
        "--socks5-hostname",
        `127.0.0.1:${port}`,
        `http://localhost:${web.port}/hello`,
      ], { timeoutMs: 20_000 });
      assert.equal(r.stdout, "hello from http", r.stderr);
    } finally {
      child.kill();
    }
  });

  it("ssh -J: OpenSSH jumps through our server (to our server again)", async () => {
    // The jump's own ssh reads only the configuration, so the test's options live in one.
    const cfg = path.join(work, "jump_config");
    fs.writeFileSync(
      cfg,
      `Host *\n  IdentityFile ${keyFile}\n  IdentitiesOnly yes\n  IdentityAgent none\n` +
        "  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  BatchMode yes\n" +
        "  LogLevel ERROR\n",
    );
    const r = await runSsh([
      "-F",
      cfg,
      "-J",
      `me@localhost:${server.port}`, // another name: ssh refuses a jump to the same host name
      "-p",
      String(server.port),
      "-l",
      "me",
      "127.0.0.1",
      "true",
    ], { timeoutMs: 30_000 });
    assert.equal(r.code, 0, r.stderr);
  });

  it("ssh -W: stdio through a direct-tcpip channel", async () => {
    const r = await runSsh(
      testSshArgs(server.port, keyFile, "me", ["-W", `127.0.0.1:${web.port}`, "127.0.0.1"]),
      { timeoutMs: 30_000, input: "GET /hello HTTP/1.0\r\n\r\n" },
    );
    assert.match(r.stdout, /hello from http$/, r.stderr);
  });
});

describe("our client against OpenSSH's sshd", { skip: !openssh }, () => {
  let web: Awaited<ReturnType<typeof httpServer>>;
  let sshd: Sshd;
  let client: SshClient;
  before(async () => {
    web = await httpServer();
    const { generatePrivateKey } = await import("../lib/keys/private_key.ts");
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
    web.close();
  });

  it("localForward through sshd: HTTP and 50 MiB", async () => {
    const fwd = await localForward(client, { host: "127.0.0.1", port: web.port });
    try {
      assert.equal((await get(`http://127.0.0.1:${fwd.port}/hello`)).text, "hello from http");
      assert.equal((await get(`http://127.0.0.1:${fwd.port}/big`)).sha, web.bigSha);
    } finally {
      fwd.unsubscribe();
    }
  });

  it("forwardIn through sshd: sshd listens, connections come back to us", async () => {
    const listeningOn = new Subject<number>();
    const sub = forwardIn(client, { address: "localhost", port: 0 }).subscribe((e) => {
      if (e.type === "listening") return listeningOn.next(e.port);
      e.readable.pipeTo(e.writable).catch(() => {});
    });
    try {
      const port = await firstValueFrom(listeningOn);
      const echoed = await new Promise<string>((resolve, reject) => {
        const s = net.connect(port, "127.0.0.1", () => s.end("ping via sshd"));
        let got = "";
        s.on("data", (d) => (got += d));
        s.on("end", () => resolve(got));
        s.on("error", reject);
      });
      assert.equal(echoed, "ping via sshd");
    } finally {
      sub.unsubscribe();
    }
  });
});

describe(
  "rxssh serve beside sshd: forwarding options and key restrictions",
  { skip: !openssh },
  () => {
    let web: Awaited<ReturnType<typeof httpServer>>;
    let work: string;
    const keys: Record<string, string> = {};
    let sshd: Sshd;
    let rx: Served;
    before(async () => {
      web = await httpServer();
      work = fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-forward-serve-"));
      const lines: string[] = [];
      for (
        const [name, options] of [
          ["plain", ""],
          ["open", `permitopen="127.0.0.1:${web.port}" `],
          ["none", "no-port-forwarding "],
        ]
      ) {
        keys[name] = path.join(work, name);
        lines.push(options + await keygen(keys[name]));
      }
      const authorizedKeys = path.join(work, "authorized_keys");
      fs.writeFileSync(authorizedKeys, lines.join("\n") + "\n");
      fs.mkdirSync(path.join(work, "home"));
      [sshd, rx] = await Promise.all([
        startSshd({
          config: { AuthorizedKeysFile: authorizedKeys, PermitRootLogin: "yes", LogLevel: "INFO" },
        }),
        serve(["-o", `AuthorizedKeysFile=${authorizedKeys}`], { HOME: path.join(work, "home") }),
      ]);
    });
    after(async () => {
      await Promise.all([sshd?.stop(), rx?.stop()]);
      web.close();
      fs.rmSync(work, { recursive: true, force: true });
    });

    /** `ssh -W 127.0.0.1:port` with `key` against both servers: [sshd, rxssh serve]. */
    const both = (key: string, port: number) =>
      Promise.all([sshd.port, rx.port].map((p) =>
        runSsh(
          testSshArgs(p, keys[key], currentUser(), [
            "-o",
            "LogLevel=ERROR",
            "-W",
            `127.0.0.1:${port}`,
            "127.0.0.1",
          ]),
          { timeoutMs: 30_000, input: "GET /hello HTTP/1.0\r\n\r\n" },
        )
      ));

    it("a plain key forwards through both", async () => {
      for (const r of await both("plain", web.port)) assert.match(r.stdout, /hello from http$/);
    });

    it("permitopen: the permitted destination works, another is refused by both alike", async () => {
      for (const r of await both("open", web.port)) assert.match(r.stdout, /hello from http$/);
      const [s, x] = await both("open", web.port + 1 === 65536 ? 1 : web.port + 1);
      assert.equal(x.code, s.code);
      assert.equal(x.stdout, "");
      assert.equal(x.stderr, s.stderr); // "stdio forwarding failed" from both
    });

    it("ssh -C: rxssh serve (Compression yes by default) negotiates zlib@openssh.com as sshd", async () => {
      for (const p of [sshd.port, rx.port]) {
        const r = await runSsh(
          testSshArgs(p, keys.plain, currentUser(), [
            "-C",
            "-v",
            "-W",
            `127.0.0.1:${web.port}`,
            "127.0.0.1",
          ]),
          { timeoutMs: 30_000, input: "GET /hello HTTP/1.0\r\n\r\n" },
        );
        assert.match(r.stdout, /hello from http$/);
        assert.match(
          r.stderr,
          /kex: server->client cipher: \S+ MAC: \S+ compression: zlib@openssh\.com/,
        );
      }
    });

    it("no-port-forwarding: refused by both alike", async () => {
      const [s, x] = await both("none", web.port);
      assert.equal(x.code, s.code);
      assert.equal(x.stdout, "");
      assert.equal(x.stderr, s.stderr);
    });
  },
);
