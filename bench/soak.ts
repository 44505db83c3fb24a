/**
 * Load and soak runner (issue 16, part E): many concurrent authenticated
 * connections each running exec, and one long transfer with forced re-keys,
 * both ends in this process on loopback, with memory sampled before, at the
 * peak and after. The exec handlers are in-process (no process per exec), so
 * the figures are the SSH library's, not fork's.
 *
 * Run: `deno task soak` / `deno task soak:bun` (scripts/soak.sh raises the
 * descriptor limit first), with `SOAK_CONNS` (default 1000), `SOAK_GIB`
 * (default 10), `SOAK_REKEY_MIB` (default 64), `SOAK_PARALLEL` (handshakes in
 * flight while ramping, default 8: under sshd's MaxStartups start of 10).
 * Each phase prints one JSON line of figures; a failed check exits 1.
 * tests/load_test.ts runs the same functions at CI size.
 *
 * The memory check ("no growth beyond the live connections"): heapUsed is
 * sampled after a full collection (Bun.gc(true); on Deno V8's gc(), exposed
 * through node:v8 and node:vm). A warm-up round of the same size runs first,
 * so one-time costs (compiled WebAssembly, JIT code, self-tests, tables that
 * grew) are in the baseline (`fresh` is the sample before it). After the
 * measured round closed every connection, what is left over the baseline must
 * be at most {@link retainedBound}: 10% of what the live connections held at
 * the peak, plus 1 MiB of collector slack. A leak of a tenth of a connection's
 * state per connection fails it at any count (measured: keeping each closed
 * SshClient, about 13-17 KiB, fails at 200 connections on both runtimes; a
 * clean round leaves 0.2-0.6 MiB). RSS is reported, not asserted: allocators
 * keep freed pages.
 *
 * @module
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { userInfo } from "node:os";
import process from "node:process";
import { firstValueFrom } from "rxjs";
import * as v8 from "node:v8";
import * as vm from "node:vm";
import { connect, type ConnectOptions, type SshClient } from "../lib/client.ts";
import { type TreeMemory, treeMemory } from "./_proc.ts";
import {
  listen,
  type ServerConnection,
  type ServerSession,
  type SshServer,
} from "../lib/server.ts";
import { generatePrivateKey, type PrivateKey } from "../lib/keys/private_key.ts";
import type { Session } from "../lib/connection/session.ts";

const MIB = 1024 * 1024;

/**
 * One memory sample, in bytes (`process.memoryUsage()` after a full collection when the runtime allows one).
 *
 * @example
 * ```ts
 * import { sampleMemory } from "./soak.ts";
 * const m = await sampleMemory();
 * console.log(m.heapUsed, m.rss, m.collected);
 * ```
 */
export interface MemorySample {
  readonly rss: number;
  readonly heapUsed: number;
  /** Whether a full garbage collection ran first. */
  readonly collected: boolean;
  /** For an `after` sample: milliseconds waited until it was within its bound (see {@link settledSample}). */
  readonly settleMs?: number;
}

let gcFn: (() => void) | null | undefined;

/**
 * A full garbage collection: `Bun.gc(true)` on Bun; on Deno V8's `gc`, exposed at run time with
 * `--expose-gc` through `node:v8` and fetched through `node:vm`. Returns false when neither works.
 *
 * @example
 * ```ts
 * import { collectGarbage } from "./soak.ts";
 * console.log(collectGarbage() ? "collected" : "no gc here");
 * ```
 */
export function collectGarbage(): boolean {
  if (gcFn === undefined) {
    const bun = (globalThis as { Bun?: { gc(force: boolean): void } }).Bun;
    if (bun) gcFn = () => bun.gc(true);
    else {
      try {
        v8.setFlagsFromString("--expose-gc");
        gcFn = vm.runInNewContext("gc") as () => void;
      } catch {
        gcFn = null;
      }
    }
  }
  if (!gcFn) return false;
  gcFn();
  return true;
}

/**
 * Collects garbage (twice, with a turn of the event loop between, so finalizers and
 * freed streams settle), then reads `process.memoryUsage()`.
 *
 * @example
 * ```ts
 * import { sampleMemory } from "./soak.ts";
 * const before = await sampleMemory();
 * console.log(`${(before.heapUsed / 1048576).toFixed(1)} MiB of heap`);
 * ```
 */
export async function sampleMemory(): Promise<MemorySample> {
  const collected = collectGarbage();
  await new Promise((r) => setTimeout(r, 20));
  collectGarbage();
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, collected };
}

/**
 * The sample after a phase: {@link sampleMemory} every 250 ms from 200 ms on, until heapUsed is at
 * most `limit` or `maxMs` (default 3000) passed; the last sample, with the wait in `settleMs`.
 * Why wait: Bun's collector scans the stack conservatively, so a stale pointer may keep a just
 * closed connection alive for a turn or two (seen: 4 MiB held at 200 ms, gone at 700 ms, once in
 * six 64 MiB transfers). Memory that a leak holds never comes back, however long this waits.
 *
 * @example
 * ```ts
 * import { sampleMemory, settledSample } from "./soak.ts";
 * const before = await sampleMemory();
 * const after = await settledSample(before.heapUsed + 1048576);
 * console.log(after.settleMs);
 * ```
 */
export async function settledSample(limit: number, maxMs = 3000): Promise<MemorySample> {
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, 200));
  for (;;) {
    const m = await sampleMemory();
    const waited = Math.round(performance.now() - t0);
    if (m.heapUsed <= limit || waited >= maxMs) return { ...m, settleMs: waited };
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * The most heap that may stay in use after every connection closed, over the baseline: 10% of
 * what the live connections held at the peak plus 1 MiB of collector slack (see the module notes).
 *
 * @example
 * ```ts
 * import { retainedBound } from "./soak.ts";
 * console.log(retainedBound(0, 100 * 1048576)); // 11534336 (11 MiB)
 * ```
 */
export function retainedBound(before: number, peak: number): number {
  return Math.max(0, peak - before) * 0.1 + MIB;
}

/** What the connections phase talks to: a server, a client key it accepts, the command to run. */
interface Target {
  port: number;
  userKey: PrivateKey;
  hostKey: NonNullable<ConnectOptions["hostKey"]>;
  /** The exec command of connection `i`, which echoes stdin and exits with `exitCode(i)`. */
  command: (i: number) => string;
  exitCode: (i: number) => number;
  /** In-process server: every authenticated server-side connection, with its end. */
  serverConns?: ServerConnection[];
  /** sshd: the memory of its process tree (KiB). */
  memory?: () => TreeMemory;
  stop(): Promise<void>;
}

/** The in-process `listen()` server. */
interface Fixture extends Target {
  server: SshServer;
  serverConns: ServerConnection[];
}

async function startServer(
  exec: (s: ServerSession) => Promise<void>,
  tuning: { rekeyBytes?: number } = {},
): Promise<Fixture> {
  const hostKey = await generatePrivateKey("ssh-ed25519");
  const userKey = await generatePrivateKey("ssh-ed25519");
  const fp = userKey.publicKey.fingerprint();
  const server = await listen({
    hostname: "127.0.0.1",
    port: 0,
    hostKeys: [hostKey],
    auth: { handlers: { publicKey: (_u, k) => k.fingerprint() === fp } },
    exec,
    ...tuning,
  });
  const serverConns: ServerConnection[] = [];
  server.connection$.subscribe({ next: (c) => serverConns.push(c), error: () => {} });
  return {
    server,
    port: server.port,
    userKey,
    hostKey: { fingerprint: hostKey.publicKey.fingerprint() },
    command: (i) => `echo ${i}`,
    exitCode: (i) => i % 256,
    serverConns,
    stop: () => server.close({ graceMs: 0 }).catch(() => {}),
  };
}

/**
 * OpenSSH's sshd (tests/_openssh.ts, 127.0.0.1, a private temp dir) for comparison figures: `cat`
 * echoes (a real process per session, as sshd always forks). LogLevel ERROR: the harness keeps
 * sshd's log in this process, which would count in the client's heap.
 */
async function startSshdTarget(): Promise<Target> {
  const { startSshd } = await import("../tests/_openssh.ts");
  const { formatPublicKeyLine } = await import("../lib/keys/public_key_file.ts");
  const userKey = await generatePrivateKey("ssh-ed25519");
  const sshd = await startSshd({ config: { LogLevel: "ERROR" } });
  fs.writeFileSync(`${sshd.dir}/authorized_keys`, formatPublicKeyLine(userKey.publicKey) + "\n");
  const pinned = sshd.hostKeys[0].pubLine.split(" ")[1];
  return {
    port: sshd.port,
    userKey,
    hostKey: { verify: (key) => btoa(String.fromCharCode(...key.blob)) === pinned },
    command: () => "cat",
    exitCode: () => 0,
    memory: () => treeMemory(sshd.pid, false),
    stop: () => sshd.stop(),
  };
}

function dial(t: Target, extra: { rekeyBytes?: number; ciphers?: string[] } = {}) {
  return connect({
    host: "127.0.0.1",
    port: t.port,
    username: t.memory ? userInfo().username : "soak",
    privateKeys: [t.userKey],
    agent: false,
    hostKey: t.hostKey,
    ...extra,
  });
}

/** The connections phase's exec: echoes stdin to stdout, then exits with the command's number. */
async function echoExec(s: ServerSession): Promise<void> {
  await s.stdin.pipeTo(s.stdout, { preventClose: true }).catch(() => {});
  await s.exit(Number((s.command ?? "").replace(/^echo /, "")) % 256);
}

/** Reads `reader` until `want` bytes arrived (or the stream ends); returns them. */
async function readBytes(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  want: number,
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let n = 0;
  while (n < want) {
    const { value, done } = await reader.read();
    if (done) break;
    parts.push(value);
    n += value.length;
  }
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) out.set(p, o), o += p.length;
  return out;
}

interface Live {
  client: SshClient;
  session: Session;
  reader: ReadableStreamDefaultReader<Uint8Array>;
  writer: WritableStreamDefaultWriter<Uint8Array>;
}

/** Connects, authenticates, starts the echo command and checks one line; the session stays open. */
async function openOne(t: Target, i: number): Promise<Live> {
  const client = await dial(t);
  const session = await client.spawn(t.command(i));
  const writer = session.stdin.getWriter();
  const reader = session.stdout.getReader();
  const line = new TextEncoder().encode(`hello ${i}\n`);
  await writer.write(line);
  const got = new TextDecoder().decode(await readBytes(reader, line.length));
  if (got !== `hello ${i}\n`) throw new Error(`connection ${i}: echoed ${JSON.stringify(got)}`);
  return { client, session, reader, writer };
}

/** Ends connection `i`: EOF, the rest of stdout (none), the exit status, the disconnect. */
async function closeOne(t: Target, live: Live, i: number): Promise<void> {
  await live.writer.close();
  const rest = await readBytes(live.reader, Infinity);
  const exit = await live.session.exit;
  if (rest.length !== 0 || exit.code !== t.exitCode(i)) {
    throw new Error(`connection ${i}: exit ${JSON.stringify(exit)}, ${rest.length} extra bytes`);
  }
  await live.client.close();
  await live.client.transport.closed;
}

/** Runs `fn(i)` for i in [0, count), at most `parallel` at once; the first failure rejects. */
async function pool<T>(
  count: number,
  parallel: number,
  fn: (i: number) => Promise<T>,
): Promise<T[]> {
  const out: T[] = new Array(count);
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const i = next++;
      out[i] = await fn(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, count) }, lane));
  return out;
}

/**
 * Figures of {@link soakConnections} (bytes, seconds; `*PerConn` in KiB).
 *
 * @example
 * ```ts
 * import type { ConnectionsFigures } from "./soak.ts";
 * const show = (f: ConnectionsFigures) => `${f.connections} conns, ${f.heapPerConnKiB} KiB heap each`;
 * ```
 */
export interface ConnectionsFigures {
  readonly phase: "connections";
  readonly runtime: string;
  /** What served the connections (the client is always rxssh, in this process). */
  readonly server: string;
  readonly connections: number;
  readonly openSeconds: number;
  readonly closeSeconds: number;
  readonly connectionsPerSecond: number;
  /** Before anything (the listener is up), then after the warm-up round: the baseline. */
  readonly fresh: MemorySample;
  readonly before: MemorySample;
  readonly peak: MemorySample;
  readonly after: MemorySample;
  readonly heapPerConnKiB: number;
  readonly rssPerConnKiB: number;
  /** heapUsed after minus before, and the bound it must stay within. */
  readonly heapRetained: number;
  readonly heapRetainedBound: number;
  readonly rssRetained: number;
  /** With sshd: its process tree's memory (KiB, descendants of the listener's wrapper). */
  readonly sshd?: ReturnType<typeof sshdFigures>;
}

/** The runtime's name and version, for the figures. */
export function runtimeName(): string {
  const g = globalThis as { Bun?: { version: string }; Deno?: { version: { deno: string } } };
  return g.Bun ? `bun ${g.Bun.version}` : g.Deno ? `deno ${g.Deno.version.deno}` : "unknown";
}

const seconds = (t0: number) => Math.round((performance.now() - t0) / 10) / 100;
const kib = (bytes: number, n: number) => Math.round(bytes / n / 1024 * 10) / 10;

/**
 * `count` authenticated connections to an in-process `listen()` server, all open at once, each
 * with an exec session that echoed a line; then each sends EOF, checks its exit status and
 * disconnects. Ramped `parallel` handshakes at a time (default 8). Memory is sampled before (after
 * a warm-up round of `warmup` connections, default `count`), at the peak (all open) and after (all closed, the
 * server's ends too); `heapRetained` must stay within `heapRetainedBound` ({@link retainedBound}):
 * the caller checks it (see {@link checkFigures}). A wrong echo or exit status throws.
 *
 * @example
 * ```ts
 * import { soakConnections } from "./soak.ts";
 * const figures = await soakConnections(50);
 * console.log(JSON.stringify(figures));
 * ```
 */
export async function soakConnections(
  count: number,
  options: { parallel?: number; warmup?: number; server?: "rxssh" | "sshd" } = {},
): Promise<ConnectionsFigures> {
  const parallel = options.parallel ?? 8;
  const t = options.server === "sshd" ? await startSshdTarget() : await startServer(echoExec);
  const ended = async () => {
    await Promise.all((t.serverConns ?? []).map((c) => c.transport.closed));
    if (t.serverConns) t.serverConns.length = 0;
  };
  try {
    const fresh = await sampleMemory();
    const warm = await pool(options.warmup ?? count, parallel, (i) => openOne(t, i));
    await pool(warm.length, parallel, (i) => closeOne(t, warm[i], i));
    warm.length = 0; // the closed clients must not count in the baseline
    await ended();
    const before = await sampleMemory();
    const serverBefore = t.memory?.();
    let t0 = performance.now();
    const live = await pool(count, parallel, (i) => openOne(t, i));
    const openSeconds = seconds(t0);
    if (t.serverConns && t.serverConns.length !== count) {
      throw new Error(`the server saw ${t.serverConns.length} connections, not ${count}`);
    }
    const peak = await sampleMemory();
    const serverPeak = t.memory?.();
    t0 = performance.now();
    await pool(count, parallel * 4, (i) => closeOne(t, live[i], i));
    live.length = 0;
    await ended();
    const closeSeconds = seconds(t0);
    const bound = retainedBound(before.heapUsed, peak.heapUsed);
    const after = await settledSample(before.heapUsed + bound);
    return {
      phase: "connections",
      runtime: runtimeName(),
      server: options.server === "sshd" ? "sshd" : "in-process listen()",
      connections: count,
      openSeconds,
      closeSeconds,
      connectionsPerSecond: Math.round(count / openSeconds),
      fresh,
      before,
      peak,
      after,
      heapPerConnKiB: kib(peak.heapUsed - before.heapUsed, count),
      rssPerConnKiB: kib(peak.rss - before.rss, count),
      heapRetained: after.heapUsed - before.heapUsed,
      heapRetainedBound: Math.round(bound),
      rssRetained: after.rss - before.rss,
      ...(t.memory ? { sshd: sshdFigures(serverBefore!, serverPeak!, t.memory(), count) } : {}),
    };
  } finally {
    await t.stop();
  }
}

/** sshd's process tree before, at the peak and after (KiB), and per connection at the peak. */
function sshdFigures(before: TreeMemory, peak: TreeMemory, after: TreeMemory, count: number) {
  return {
    before,
    peak,
    after,
    pssPerConnKiB: Math.round((peak.pss - before.pss) / count * 10) / 10,
    rssPerConnKiB: Math.round((peak.rss - before.rss) / count * 10) / 10,
    processesPerConn: Math.round((peak.procs - before.procs) / count * 100) / 100,
  };
}

/** The transfer phase's exec: counts and hashes stdin, answers "<bytes> <sha256 hex>\n", exits 0. */
async function sinkExec(s: ServerSession): Promise<void> {
  const hash = createHash("sha256");
  let bytes = 0;
  for await (const chunk of s.stdin) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  const w = s.stdout.getWriter();
  await w.write(new TextEncoder().encode(`${bytes} ${hash.digest("hex")}\n`));
  w.releaseLock();
  await s.exit(0);
}

/**
 * Figures of {@link soakTransfer} (bytes, seconds, MB/s with MB = 10^6 bytes).
 *
 * @example
 * ```ts
 * import type { TransferFigures } from "./soak.ts";
 * const show = (f: TransferFigures) => `${f.bytes} bytes at ${f.mbPerSecond} MB/s, ${f.rekeys} re-keys`;
 * ```
 */
export interface TransferFigures {
  readonly phase: "transfer";
  readonly runtime: string;
  readonly cipher: string;
  readonly bytes: number;
  readonly rekeyBytes: number;
  readonly seconds: number;
  readonly mbPerSecond: number;
  /** Re-keys the client's transport reported (kex$, not the first exchange), and the server's. */
  readonly rekeys: number;
  readonly serverRekeys: number;
  readonly expectedRekeys: number;
  /** Whether the server's byte count and SHA-256 equal what the client sent. */
  readonly verified: boolean;
  readonly before: MemorySample;
  /** The largest sample taken during the transfer (every 128 MiB or quarter, after a collection). */
  readonly peak: MemorySample;
  readonly after: MemorySample;
  readonly heapRetained: number;
  readonly heapRetainedBound: number;
}

/** Pseudo-random bytes to send: views at shifting offsets of one random pool, never mutated. */
function makeSource(): (i: number, size: number) => Uint8Array {
  const pool = new Uint8Array(4 * MIB);
  for (let o = 0; o < pool.length; o += 65536) crypto.getRandomValues(pool.subarray(o, o + 65536));
  return (i, size) => {
    const off = (i * 7919 * 13) % (pool.length - size);
    return pool.subarray(off, off + size);
  };
}

/**
 * Sends `bytes` over one connection to an in-process server whose exec counts and hashes its
 * stdin, with `rekeyBytes` (default 64 MiB) on the client forcing a re-key each time; checks the
 * count and SHA-256 the server answers, counts re-keys on both transports (`kex$`) and samples
 * memory before, every 128 MiB or quarter of `bytes` (the largest is kept) and after the connection closed.
 *
 * @example
 * ```ts
 * import { soakTransfer } from "./soak.ts";
 * const figures = await soakTransfer(256 * 1048576, { rekeyBytes: 64 * 1048576 });
 * console.log(figures.rekeys, figures.verified);
 * ```
 */
export async function soakTransfer(
  bytes: number,
  options: { rekeyBytes?: number; cipher?: string; chunk?: number } = {},
): Promise<TransferFigures> {
  const rekeyBytes = options.rekeyBytes ?? 64 * MIB;
  const f = await startServer(sinkExec);
  try {
    // Warm-up: the data path and 64 re-keys (their code optimized: seen 0.8 MiB on Deno) in the baseline.
    const warm = await transferOnce(f, 8 * MIB, { ...options, rekeyBytes: 128 * 1024 });
    if (!warm.verified || warm.rekeys < 60) throw new Error(`warm-up: ${JSON.stringify(warm)}`);
    const before = await sampleMemory();
    let peak: MemorySample | undefined;
    const run = await transferOnce(f, bytes, {
      ...options,
      rekeyBytes,
      sampleEvery: Math.max(1, Math.min(128 * MIB, Math.floor(bytes / 4))),
      onSample: (m) => {
        if (!peak || m.heapUsed > peak.heapUsed) peak = m;
      },
    });
    const bound = retainedBound(before.heapUsed, (peak ?? before).heapUsed);
    const after = await settledSample(before.heapUsed + bound);
    return {
      phase: "transfer",
      runtime: runtimeName(),
      cipher: run.cipher,
      bytes,
      rekeyBytes,
      seconds: Math.round(run.seconds * 100) / 100,
      mbPerSecond: Math.round(bytes / run.seconds / 1e5) / 10,
      rekeys: run.rekeys,
      serverRekeys: run.serverRekeys,
      expectedRekeys: Math.floor(bytes / rekeyBytes),
      verified: run.verified,
      before,
      peak: peak ?? after,
      after,
      heapRetained: after.heapUsed - before.heapUsed,
      heapRetainedBound: Math.round(bound),
    };
  } finally {
    await f.server.close({ graceMs: 0 }).catch(() => {});
  }
}

/** One connection, `sink` fed `bytes` and its answer checked, re-keys counted; closed when it returns. */
async function transferOnce(f: Fixture, bytes: number, o: {
  rekeyBytes: number;
  cipher?: string;
  chunk?: number;
  sampleEvery?: number;
  onSample?: (m: MemorySample) => void;
}) {
  const source = makeSource();
  const chunk = o.chunk ?? 256 * 1024 + 17;
  const serverSide = firstValueFrom(f.server.connection$);
  const client = await dial(f, {
    rekeyBytes: o.rekeyBytes,
    ...(o.cipher ? { ciphers: [o.cipher] } : {}),
  });
  let rekeys = 0, serverRekeys = 0;
  client.transport.kex$.subscribe((e) => {
    if (!e.initial) rekeys++;
  });
  const server = await serverSide;
  server.transport.kex$.subscribe((e) => {
    if (!e.initial) serverRekeys++;
  });
  const cipher = (await client.transport.ready).algorithms.cipherClientToServer;
  const t0 = performance.now();
  const session = await client.spawn("sink");
  const answer = readBytes(session.stdout.getReader(), Infinity);
  const w = session.stdin.getWriter();
  const hash = createHash("sha256");
  let sent = 0, nextSample = o.sampleEvery ?? Infinity;
  for (let i = 0; sent < bytes; i++) {
    const data = source(i, Math.min(chunk, bytes - sent));
    hash.update(data);
    await w.write(data);
    sent += data.length;
    if (sent >= nextSample) {
      nextSample += o.sampleEvery!;
      o.onSample?.(await sampleMemory());
    }
  }
  await w.close();
  const got = new TextDecoder().decode(await answer);
  const exit = await session.exit;
  const seconds = (performance.now() - t0) / 1000;
  const verified = exit.code === 0 && got === `${bytes} ${hash.digest("hex")}\n`;
  await client.close();
  await server.transport.closed;
  return { cipher, seconds, rekeys, serverRekeys, verified };
}

/**
 * What is wrong with a phase's figures, or an empty list: the heap left over within its bound,
 * and for a transfer the verified count and hash and the re-keys (expected ±1).
 *
 * @example
 * ```ts
 * import { checkFigures, soakConnections } from "./soak.ts";
 * const problems = checkFigures(await soakConnections(20));
 * if (problems.length) throw new Error(problems.join("; "));
 * ```
 */
export function checkFigures(f: ConnectionsFigures | TransferFigures): string[] {
  const out: string[] = [];
  if (!f.before.collected) out.push("no garbage collection available: memory figures unsound");
  if (f.heapRetained > f.heapRetainedBound) {
    out.push(
      `${f.phase}: ${f.heapRetained} bytes of heap retained after close, over the bound ${f.heapRetainedBound}`,
    );
  }
  if (f.phase === "transfer") {
    if (!f.verified) out.push("transfer: the server's byte count or SHA-256 differs");
    if (Math.abs(f.rekeys - f.expectedRekeys) > 1) {
      out.push(`transfer: ${f.rekeys} re-keys, expected ${f.expectedRekeys} ±1`);
    }
  }
  return out;
}

async function main(): Promise<void> {
  const env = (name: string, dflt: number) => Number(process.env[name] ?? dflt);
  const conns = env("SOAK_CONNS", 1000);
  const gib = env("SOAK_GIB", 10);
  const problems: string[] = [];
  if (conns > 0) {
    const f = await soakConnections(conns, {
      parallel: env("SOAK_PARALLEL", 8),
      server: process.env.SOAK_SERVER === "sshd" ? "sshd" : "rxssh",
      warmup: process.env.SOAK_WARMUP === undefined ? undefined : env("SOAK_WARMUP", 0),
    });
    console.log(JSON.stringify(f));
    problems.push(...checkFigures(f));
  }
  if (gib > 0) {
    const f = await soakTransfer(Math.round(gib * 1024 * MIB), {
      rekeyBytes: env("SOAK_REKEY_MIB", 64) * MIB,
      cipher: process.env.SOAK_CIPHER,
    });
    console.log(JSON.stringify(f));
    problems.push(...checkFigures(f));
  }
  for (const p of problems) console.error(`soak: ${p}`);
  process.exit(problems.length ? 1 : 0);
}

if (import.meta.main) await main();
