// A listener that cannot accept (issue 10, item 2). Out of file
// descriptors, accept fails with EMFILE: the listener must back off, log
// once per burst and take clients again once descriptors are free, on
// `rxssh serve` and on `listen()`, each run in a child process whose
// descriptor limit is lowered with prlimit(1). A listener that fails for
// good must reach the application: an error on `listen()`'s connection$,
// exit status 1 from `rxssh serve`.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { connect } from "../lib/client.ts";
import { serveMain } from "../lib/cli/serve.ts";
import { generatePrivateKey } from "../lib/keys/private_key.ts";
import { writePrivateKeyFile } from "../lib/keys/private_key_file.ts";
import { wrapNodeServer } from "../lib/runtime/_node_tcp.ts";
import { ListenerError } from "../lib/runtime/accept.ts";
import type { ListenTcpOptions, TcpListener } from "../lib/runtime/types.ts";
import { listen } from "../lib/server.ts";
import { cliCommand, keygen, ROOT, serve } from "./_cli.ts";
import { currentUser, findOpenSsh, runSsh, testSshArgs } from "./_openssh.ts";

const runtime = "Deno" in globalThis ? "Deno" : "Bun";
const hasPrlimit = spawnSync("prlimit", ["--version"]).status === 0;
const openssh = findOpenSsh();
/** The descriptor limit of the children: a few dozen connections exhaust it. */
const LIMIT = 64;
/** Connections opened at once: more than the limit. */
const FLOOD = 160;

const EBADF = () => Object.assign(new Error("accept EBADF"), { code: "EBADF" });

/** A real node:net listener on 127.0.0.1 (its server exposed to emit a failure). */
async function nodeListener(options: ListenTcpOptions) {
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true });
  await new Promise<void>((r) => server.listen({ host: "127.0.0.1", port: 0 }, r));
  return { server, listener: wrapNodeServer(server, options) };
}

describe("a listener that fails for good", () => {
  it("listen(): connection$ errors with the ListenerError; rejected$ and listenerWarning$ complete", async () => {
    const { server, listener } = await nodeListener({});
    const ssh = await listen({
      listener,
      hostKeys: [await generatePrivateKey("ssh-ed25519")],
      auth: { handlers: {} },
    });
    const ended = (o: { subscribe: typeof ssh.rejected$.subscribe }) =>
      new Promise<unknown>((resolve) =>
        o.subscribe({ error: (e) => resolve(e), complete: () => resolve("complete") })
      );
    const outcome = Promise.all([
      ended(ssh.connection$),
      ended(ssh.rejected$),
      ended(ssh.listenerWarning$),
    ]);
    server.emit("error", EBADF());
    const [connections, rejected, warnings] = await outcome;
    assert.ok(connections instanceof ListenerError, String(connections));
    assert.equal(connections.code, "EBADF");
    assert.match(
      connections.message,
      /^listener on 127\.0\.0\.1:\d+ failed: accept EBADF \(EBADF\)$/,
    );
    assert.equal(rejected, "complete");
    assert.equal(warnings, "complete");
  });

  it("rxssh serve: logs it and exits 1", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-listener-failure-"));
    try {
      const keyFile = path.join(dir, "host_key");
      fs.writeFileSync(
        keyFile,
        await writePrivateKeyFile(await generatePrivateKey("ssh-ed25519")),
        {
          mode: 0o600,
        },
      );
      const lines: string[] = [];
      let fail!: () => void;
      const bound = new Promise<void>((r) => fail = r);
      const code = serveMain(["-p", "0", "-o", "ListenAddress=127.0.0.1", "-h", keyFile], {
        writeLog: (line) => {
          lines.push(line);
          if (line.startsWith("listening on")) fail();
        },
        listenTcp: async (o) => {
          const { server, listener } = await nodeListener(o);
          bound.then(() => server.emit("error", EBADF()));
          return listener as TcpListener;
        },
      });
      assert.equal(await code, 1);
      assert.ok(
        lines.some((l) =>
          /^fatal: listener on 127\.0\.0\.1:\d+ failed: accept EBADF \(EBADF\)$/.test(l)
        ),
        lines.join("\n"),
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Descriptors open in process `pid` (Linux). */
function openFds(pid: number): number {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return -1;
  }
}

/** CPU time (user + system) of process `pid`, in ms. */
function cpuMs(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) * 1000 / 100; // clock ticks at USER_HZ 100
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Opens FLOOD idle connections to `port` until process `pid` has used up its
 * descriptors (bounded: 20 s), measures its CPU for 2 s while it is so
 * (printed, not asserted), then closes them all.
 */
async function exhaust(pid: number, port: number, label: string): Promise<void> {
  const sockets: net.Socket[] = [];
  for (let i = 0; i < FLOOD; i++) {
    const s = net.createConnection({ host: "127.0.0.1", port });
    s.on("error", () => {});
    sockets.push(s);
  }
  const deadline = Date.now() + 20_000;
  while (openFds(pid) < LIMIT && Date.now() < deadline) await sleep(20);
  // (Deno keeps one descriptor numbered above the limit, opened before prlimit lowered it.)
  assert.ok(openFds(pid) >= LIMIT, `${label}: the descriptors were not exhausted`);
  const before = cpuMs(pid);
  await sleep(2000);
  const used = cpuMs(pid) - before;
  console.log(
    `${label} on ${runtime}: ${Math.round(used / 20)}% of a core while out of descriptors`,
  );
  for (const s of sockets) s.destroy();
}

/** The "failing" and "works again" lines of a serve log, and the failures they count. */
function bursts(log: string) {
  const failing = log.match(/^error: accept on 127\.0\.0\.1:\d+: .*\(EMFILE\); backing off/gm) ??
    [];
  const recovered = [
    ...log.matchAll(/^accept on 127\.0\.0\.1:\d+ works again after (\d+) failed accepts/gm),
  ];
  return {
    failing: failing.length,
    recovered: recovered.length,
    errors: recovered.reduce((n, m) => n + Number(m[1]), 0),
  };
}

const skipFd = !hasPrlimit
  ? "prlimit (util-linux) is not installed"
  : !openssh && "OpenSSH is not installed";

describe("out of file descriptors", { skip: skipFd }, () => {
  it(`rxssh serve (prlimit --nofile=${LIMIT}) takes clients again once descriptors are free`, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-emfile-"));
    const key = path.join(dir, "id");
    const authorizedKeys = path.join(dir, "authorized_keys");
    fs.writeFileSync(authorizedKeys, (await keygen(key)) + "\n");
    // Descriptors, not MaxStartups, are under test: the flood must not be dropped early.
    const args = ["-o", `AuthorizedKeysFile=${authorizedKeys}`, "-o", "MaxStartups=1000"];
    const server = await serve(args, { HOME: dir }, [
      "prlimit",
      `--nofile=${LIMIT}:${LIMIT}`,
    ]);
    try {
      await exhaust(server.pid, server.port, "rxssh serve");
      const r = await runSsh(
        testSshArgs(server.port, key, currentUser(), [
          "-o",
          "ConnectTimeout=20",
          "127.0.0.1",
          "echo hello",
        ]),
        { timeoutMs: 60_000 },
      );
      assert.equal(r.stdout, "hello\n", `${r.stderr}\n--- server log ---\n${server.log()}`);
      assert.equal(r.code, 0);
      const b = bursts(server.log());
      if (runtime === "Deno") {
        // One line when a burst starts, one when it ends: never one per failed accept.
        assert.ok(b.failing >= 1, server.log());
        assert.equal(b.recovered, b.failing, server.log());
        assert.ok(b.errors > b.failing, server.log());
      }
      // Bun's native accept loop reports nothing to JavaScript (see DESIGN.md).
      console.log(
        `rxssh serve on ${runtime}: ${b.failing} bursts logged, ${b.errors} failed accepts`,
      );
    } finally {
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it(`listen() (prlimit --nofile=${LIMIT}): listenerWarning$ reports the burst, clients get in afterwards`, async () => {
    const [cli, cliArgs] = cliCommand([]);
    const args = [
      ...cliArgs.filter((a) => a !== "cli.ts"),
      path.join(ROOT, "tests", "_listen_child.ts"),
    ];
    const child = spawn("prlimit", [`--nofile=${LIMIT}:${LIMIT}`, cli, ...args], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout!.on("data", (c: Uint8Array) => out += new TextDecoder().decode(c));
    child.stderr!.on("data", (c: Uint8Array) => out += new TextDecoder().decode(c));
    try {
      const deadline = Date.now() + 30_000;
      while (!/^PORT \d+ \S+$/m.test(out) && child.exitCode === null && Date.now() < deadline) {
        await sleep(20);
      }
      const [, port, fingerprint] = /^PORT (\d+) (\S+)$/m.exec(out) ?? assert.fail(out);
      await exhaust(child.pid!, Number(port), "listen()").catch((e) => assert.fail(`${e}\n${out}`));
      const client = await connect({
        host: "127.0.0.1",
        port: Number(port),
        username: "u",
        password: "demo",
        hostKey: { fingerprint },
      });
      const r = await client.exec("after");
      await client.close();
      assert.equal(new TextDecoder().decode(r.stdout), "hello after\n");
      const warnings = out.split("\n").filter((l) => l.startsWith("WARNING ")).map((l) =>
        JSON.parse(l.slice(8))
      );
      if (runtime === "Deno") {
        const failing = warnings.filter((w) => w.type === "accept-failing");
        assert.ok(failing.length >= 1, out);
        assert.equal(failing[0].code, "EMFILE");
        assert.equal(
          warnings.filter((w) => w.type === "accept-recovered").length,
          failing.length,
          out,
        );
      }
      assert.doesNotMatch(out, /^ERROR /m);
    } finally {
      child.kill("SIGKILL");
    }
  });
});
