/**
 * Benchmark worker for rxssh, run by `bench/run.ts` as a child process under
 * Deno (`deno run -A bench/worker.ts <mode> <json>`) and under Bun
 * (`bun bench/worker.ts <mode> <json>`). It uses only `node:` builtins and
 * the library, so the same file runs on both.
 *
 * Modes (the JSON argument carries the options; the result is one JSON line
 * on stdout):
 *
 * - `server`: listens on 127.0.0.1 (publickey auth from an authorized_keys
 *   file, commands run with `runLocalCommand`), prints
 *   `{"ready":true,"port":..,"pid":..}` and serves until its stdin closes.
 * - `bulk`: one connection, then one exec: upload (`cat > /dev/null`, bytes
 *   written to stdin) or download (`head -c N /dev/zero`, stdout counted).
 *   The time covers the exec only, not connecting.
 * - `setup`: `concurrency` loops of connect + publickey auth + `exec true` +
 *   close, for `seconds`; reports how many completed.
 * - `latency`: one connection, `count` sequential `exec true`; reports each
 *   round trip in ms.
 * - `hold`: opens `count` authenticated idle connections (`parallel` at a
 *   time), prints `{"ready":true,...}` and keeps them until stdin closes.
 * - `forward`: one connection with a local forward (`localForward`, as
 *   `ssh -N -L`) from 127.0.0.1 to `target`; prints
 *   `{"ready":true,"port":..}` (the local port) and forwards until its stdin
 *   closes. The runner drives the bytes through it.
 * - `ignores`: one connection, `count` SSH_MSG_IGNORE packets of `size`
 *   bytes of data, then `exec true` (the server has read them all when it
 *   answers): the server's CPU per tiny packet (issue 10, item 7).
 * - `sftp`: one connection and one SFTP session (`sftp(client)`), then one
 *   `get` (`op: "get"`: `remote` to `local`) or `put` (`local` to
 *   `remote`), `recursive` for a directory. The time covers the transfer
 *   only (not connecting nor opening the session). The server worker
 *   serves the `sftp` subsystem (`sftpSubsystem()`, not rooted).
 *
 * @module
 */
import * as fs from "node:fs";
import process from "node:process";
import {
  authorizedKeysHandler,
  connect,
  listen,
  localForward,
  parsePrivateKeyFile,
  portForwardingHandler,
  type PrivateKey,
  runLocalCommand,
  sftp,
  sftpSubsystem,
  type SshClient,
} from "../mod.ts";

interface Common {
  host?: string;
  port: number;
  user: string;
  key: string;
  cipher?: string;
  mac?: string;
  kex?: string;
}

const runtime = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined" ? "bun" : "deno";

function out(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + "\n");
}

/**
 * A full garbage collection where the runtime offers one (Deno with
 * `--v8-flags=--expose-gc`, as bench/run.ts starts it; Bun's `Bun.gc`).
 * The memory workloads measure what is live, not what waits to be collected:
 * an idle Deno process does not collect by itself.
 */
function collect(): void {
  const g = globalThis as { gc?: () => void; Bun?: { gc(force: boolean): void } };
  if (g.Bun) g.Bun.gc(true);
  else g.gc?.();
}

function rssKiB(): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync("/proc/self/status", "utf8"));
  return m ? Number(m[1]) : 0;
}

async function loadKey(file: string): Promise<PrivateKey> {
  return (await parsePrivateKeyFile(fs.readFileSync(file, "utf8"))).key;
}

function dial(o: Common, key: PrivateKey): Promise<SshClient> {
  return connect({
    host: o.host ?? "127.0.0.1",
    port: o.port,
    username: o.user,
    privateKeys: [key],
    // Loopback benchmark against a server this run started itself.
    hostKey: { verify: () => true },
    kexAlgorithms: o.kex ? [o.kex] : undefined,
    ciphers: o.cipher ? [o.cipher] : undefined,
    macs: o.mac ? [o.mac] : undefined,
    timeout: 60_000,
  });
}

/** Runs `command`, discards stdout/stderr, resolves with the exit code. */
async function execQuiet(client: SshClient, command: string): Promise<number | undefined> {
  const s = await client.spawn(command);
  await s.stdin.close().catch(() => {});
  await Promise.all([s.stdout.pipeTo(new WritableStream()), s.stderr.pipeTo(new WritableStream())]);
  const exit = await s.exit;
  return exit.code;
}

async function bulk(o: Common & { dir: "up" | "down"; bytes: number }): Promise<void> {
  const key = await loadKey(o.key);
  const client = await dial(o, key);
  const algorithms = client.transport.algorithms;
  const t0 = performance.now();
  let first = 0; // first byte written (up) or received (down)
  let last = 0; // exit (up) or last byte received (down)
  let moved = 0;
  if (o.dir === "up") {
    const s = await client.spawn("cat > /dev/null");
    const drain = Promise.all([
      s.stdout.pipeTo(new WritableStream()),
      s.stderr.pipeTo(new WritableStream()),
    ]);
    const w = s.stdin.getWriter();
    const chunk = new Uint8Array(64 * 1024);
    while (moved < o.bytes) {
      const n = Math.min(chunk.length, o.bytes - moved);
      await w.ready;
      if (!first) first = performance.now();
      // Not awaited: keeps the pipeline full; the writer's queue is bounded by `ready`.
      w.write(n === chunk.length ? chunk : chunk.subarray(0, n)).catch(() => {});
      moved += n;
    }
    await w.close();
    await drain;
    const exit = await s.exit;
    last = performance.now();
    if (exit.code !== 0) throw new Error(`cat exited with ${JSON.stringify(exit)}`);
  } else {
    const s = await client.spawn(`head -c ${o.bytes} /dev/zero`);
    await s.stdin.close().catch(() => {});
    const errs = s.stderr.pipeTo(new WritableStream());
    const r = s.stdout.getReader();
    for (;;) {
      const { value, done } = await r.read();
      if (done) break;
      if (!first) first = performance.now();
      moved += value.length;
    }
    last = performance.now();
    await errs;
    const exit = await s.exit;
    if (exit.code !== 0) throw new Error(`head exited with ${JSON.stringify(exit)}`);
    if (moved !== o.bytes) throw new Error(`received ${moved} bytes, expected ${o.bytes}`);
  }
  const seconds = (performance.now() - t0) / 1000;
  await client.close();
  out({ ok: true, runtime, seconds, dataSeconds: (last - first) / 1000, bytes: moved, algorithms });
}

async function setup(o: Common & { concurrency: number; seconds: number }): Promise<void> {
  const key = await loadKey(o.key);
  const deadline = performance.now() + o.seconds * 1000;
  let count = 0;
  let errors = 0;
  let lastError = "";
  const t0 = performance.now();
  const loop = async () => {
    while (performance.now() < deadline) {
      try {
        const c = await dial(o, key);
        const code = await execQuiet(c, "true");
        await c.close();
        if (code !== 0) throw new Error(`true exited with ${code}`);
        count++;
      } catch (e) {
        errors++;
        lastError = String(e);
      }
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, loop));
  const seconds = (performance.now() - t0) / 1000;
  out({ ok: true, runtime, count, seconds, rate: count / seconds, errors, lastError });
}

async function latency(o: Common & { count: number }): Promise<void> {
  const key = await loadKey(o.key);
  const client = await dial(o, key);
  const samples: number[] = [];
  let noExitStatus = 0;
  for (let i = 0; i < o.count + 5; i++) {
    const t0 = performance.now();
    const code = await execQuiet(client, "true");
    if (code === undefined) noExitStatus++; // counted, reported: the channel closed without one
    else if (code !== 0) throw new Error(`true exited with ${code}`);
    if (i >= 5) samples.push(performance.now() - t0); // 5 warm-up round trips
  }
  await client.close();
  out({ ok: true, runtime, samples, noExitStatus });
}

async function ignores(o: Common & { count: number; size: number }): Promise<void> {
  const key = await loadKey(o.key);
  const client = await dial(o, key);
  const data = new Uint8Array(o.size);
  const t0 = performance.now();
  let last: Promise<void> = Promise.resolve();
  for (let i = 0; i < o.count; i++) {
    last = client.transport.sendIgnore(data);
    if ((i & 1023) === 1023) await last; // bounded: at most 1024 packets queued here
  }
  await last;
  const code = await execQuiet(client, "true");
  const seconds = (performance.now() - t0) / 1000;
  const algorithms = client.transport.algorithms;
  await client.close();
  if (code !== 0) throw new Error(`true exited with ${code}`);
  out({ ok: true, runtime, count: o.count, seconds, algorithms });
}

async function forward(o: Common & { target: { host: string; port: number } }): Promise<void> {
  const key = await loadKey(o.key);
  const client = await dial(o, key);
  const fwd = await localForward(client, o.target);
  out({
    ready: true,
    runtime,
    port: fwd.port,
    pid: process.pid,
    algorithms: client.transport.algorithms,
  });
  await untilStdinEnds();
  fwd.unsubscribe();
  await client.close().catch(() => {});
  process.exit(0);
}

async function sftpTransfer(
  o: Common & { op: "get" | "put"; remote: string; local: string; recursive?: boolean },
): Promise<void> {
  const key = await loadKey(o.key);
  const client = await dial(o, key);
  const s = await sftp(client);
  const t0 = performance.now();
  const summary = o.op === "get"
    ? await s.get(o.remote, o.local, { recursive: o.recursive })
    : await s.put(o.local, o.remote, { recursive: o.recursive });
  const seconds = (performance.now() - t0) / 1000;
  const blocks = { read: s.readBlockSize, write: s.writeBlockSize };
  await s.close();
  await client.close();
  out({
    ok: true,
    runtime,
    seconds,
    bytes: summary.bytes,
    files: summary.files,
    blocks,
    algorithms: client.transport.algorithms,
  });
}

function untilStdinEnds(): Promise<void> {
  return new Promise((resolve) => {
    process.stdin.on("end", () => resolve());
    process.stdin.on("close", () => resolve());
    process.stdin.on("error", () => resolve());
    process.stdin.resume();
  });
}

async function hold(o: Common & { count: number; parallel: number }): Promise<void> {
  const key = await loadKey(o.key);
  collect();
  const rssBefore = rssKiB();
  const clients: SshClient[] = [];
  let next = 0;
  let errors = 0;
  let lastError = "";
  const opener = async () => {
    while (next < o.count) {
      next++;
      try {
        clients.push(await dial(o, key));
      } catch (e) {
        errors++;
        lastError = String(e);
      }
    }
  };
  await Promise.all(Array.from({ length: o.parallel }, opener));
  await new Promise((r) => setTimeout(r, 500));
  collect();
  out({
    ready: true,
    runtime,
    opened: clients.length,
    errors,
    lastError,
    rssBefore,
    rss: rssKiB(),
  });
  await untilStdinEnds();
  await Promise.all(clients.map((c) => c.close().catch(() => {})));
  process.exit(0);
}

async function server(
  o: {
    hostKey: string;
    authorizedKeys: string;
    workers?: number;
    proxyTrusted?: string[];
    /** The memory workloads: collect garbage this often (ms). */
    gcMs?: number;
  },
): Promise<void> {
  if (o.gcMs) setInterval(collect, o.gcMs);
  const hostKey = await loadKey(o.hostKey);
  const srv = await listen({
    hostname: "127.0.0.1",
    port: 0,
    workers: o.workers ?? 1, // above 1: this program again per worker, sharing the port
    // As the bench's sshd (MaxStartups 200): the setup drivers open 16 at once.
    maxStartups: "200",
    // The small-packets workload measures the encrypt-and-MAC MACs too (a server's default
    // offers only the -etm ones).
    macs: "+hmac-sha2-256,hmac-sha2-512",
    // Behind HAProxy (the proxy-memory workload): a PROXY header from these addresses first.
    proxyProtocol: o.proxyTrusted ? { trusted: o.proxyTrusted } : undefined,
    hostKeys: [hostKey],
    auth: { handlers: { publicKey: authorizedKeysHandler({ path: o.authorizedKeys }) } },
    exec: runLocalCommand,
    // direct-tcpip for the forward workload (as sshd's default AllowTcpForwarding yes).
    handlers: [portForwardingHandler()],
    // The sftp workload: OpenSSH's sftp against this server (as sshd's internal-sftp, not rooted).
    subsystems: { sftp: sftpSubsystem() },
  });
  let connections = 0;
  srv.connection$.subscribe(() => connections++);
  srv.rejected$.subscribe((e) => process.stderr.write(`rejected: ${e}\n`));
  out({ ready: true, runtime, port: srv.port, pid: process.pid, rss: rssKiB() });
  await untilStdinEnds();
  srv.close();
  process.exit(0);
}

const [mode, json] = process.argv.slice(2);
const options = JSON.parse(json ?? "{}");
const modes: Record<string, (o: never) => Promise<void>> = {
  bulk,
  setup,
  latency,
  hold,
  server,
  ignores,
  forward,
  sftp: sftpTransfer,
};
if (!modes[mode]) {
  process.stderr.write(`usage: worker.ts <${Object.keys(modes).join("|")}> '<json options>'\n`);
  process.exit(2);
}
modes[mode](options as never).then(
  () => process.exit(0),
  (e) => {
    out({ ok: false, runtime, error: String(e?.stack ?? e) });
    process.exit(1);
  },
);
