/**
 * The benchmark harness of issue 6 (`deno task bench`): runs every workload
 * side by side against OpenSSH and ssh2 in one run, prints one table of
 * medians and ratios, and writes `bench/results/latest.json` and
 * `bench/results/latest.svg`.
 *
 * Everything runs as child processes, each bounded by `timeout(1)`:
 * rxssh's client and server under Deno (`deno run -A bench/worker.ts`) and
 * under Bun (`bun bench/worker.ts`), ssh2 under Node
 * (`node bench/ssh2_worker.mjs`), OpenSSH's `ssh`, and a private `sshd`
 * (tests/_openssh.ts: own config, keys and port in a temp dir). See
 * bench/README.md for the workloads, flags and how the figures are computed.
 *
 * @module
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { currentUser, findOpenSsh, type Sshd, startSshd } from "../tests/_openssh.ts";
import { renderSvg } from "./_chart.ts";
import { treeMemory } from "./_proc.ts";
import { readProfile, summarizeProfiles } from "./profile.ts";

// ---------------------------------------------------------------------------
// Flags

const ALL_WORKLOADS = [
  "bulk",
  "setup",
  "latency",
  "memory",
  "micro",
  "forward",
  "sftp",
  "small-packets",
  "kex-flood",
  "proxy-memory",
] as const;
type Workload = typeof ALL_WORKLOADS[number];
/** Run only when --only names them: the attack workloads and proxy-memory (needs HAProxy). */
const OPT_IN: readonly Workload[] = ["small-packets", "kex-flood", "proxy-memory"];
/** Run when neither --only nor --skip names them. */
const DEFAULT_WORKLOADS: Workload[] = ALL_WORKLOADS.filter((w) => !OPT_IN.includes(w));
const ALL_CIPHERS = [
  "chacha20-poly1305@openssh.com",
  "aes128-gcm@openssh.com",
  "aes256-gcm@openssh.com",
  "aes256-ctr",
];
/** The MAC used with aes256-ctr by every implementation (OpenSSH would pick umac-64-etm, which rxssh lacks). */
const CTR_MAC = "hmac-sha2-256-etm@openssh.com";
const KEX = "curve25519-sha256";
/** The sftp workload's ciphers without --ciphers: OpenSSH's default only (a run stays short). */
const SFTP_CIPHERS = ["chacha20-poly1305@openssh.com"];

function usage(): never {
  console.log(`usage: deno task bench [flags]
  --quick               small sizes: bulk 64 MiB, 200 idle connections (default: the sizes below)
  --full                the issue's sizes: 1000 idle connections for memory
  --only a,b            workloads to run: ${ALL_WORKLOADS.join(",")}
                        (default: ${DEFAULT_WORKLOADS.join(",")})
  --skip a,b            workloads to leave out
  --bytes N             bulk, forward and sftp bytes per transfer (sftp: the large file), e.g. 256M,
                        1G (default 256M; --quick 64M)
  --reps N              bulk, forward and sftp repetitions, median reported (default 3)
  --ciphers a,b         bulk, forward and sftp ciphers (default: ${ALL_CIPHERS.join(",")};
                        sftp: ${SFTP_CIPHERS.join(",")})
  --tree-files N        sftp: files in the directory of small files (default 1000; --quick 200)
  --tree-file-size N    sftp: size of each of them (default 4K)
  --runtimes a,b        our runtimes: deno,bun (default both)
  --concurrency N       setup: concurrent connections per client process (default 8)
  --setup-procs P       setup, server side: ssh2 driver processes, each --concurrency (default 2)
  --workers N           our servers run listen({ workers: N }): N processes sharing the port
                        (default 1); CPU is summed over the process tree
  --duration S          setup: seconds per measurement (default 5)
  --latency-count N     latency: sequential exec round trips (default 200)
  --conns N             memory, proxy-memory: idle connections (default 1000 with --full,
                        else 200); proxy-memory holds them through HAProxy (send-proxy-v2) to
                        two of our backends per runtime
  --ignores N           small-packets: SSH_MSG_IGNOREs sent per cipher (default 100000)
  --flood-procs N       kex-flood: concurrent ssh loops forcing 8192-bit DH (default 4)
  --flood-logins N      kex-flood: legitimate logins timed per case (default 20)
  --out DIR             where latest.json / latest.svg go (default bench/results)
  --fresh               do not merge into an existing latest.json (default: sections run replace
                        the same sections of the file, the others are kept)
  --profile             run every rxssh worker under its runtime's CPU profiler; one summary per
                        worker in DIR/profiles/<workload>-<role>-<impl>[-<cipher>-<dir>].txt
  --keep-profiles       with --profile: keep the raw .cpuprofile files beside the summaries`);
  Deno.exit(0);
}

function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)([kmg]i?b?)?$/i.exec(s.trim());
  if (!m) throw new Error(`bad size ${s}`);
  const mult = { k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(m[2] ?? "").charAt(0).toLowerCase()] ?? 1;
  return Math.round(Number(m[1]) * mult);
}

const argv = [...Deno.args];
const flag = (name: string) => {
  const i = argv.indexOf(name);
  if (i < 0) return undefined;
  const v = argv[i + 1];
  argv.splice(i, 2);
  return v;
};
const bool = (name: string) => {
  const i = argv.indexOf(name);
  if (i < 0) return false;
  argv.splice(i, 1);
  return true;
};
if (bool("--help") || bool("-h")) usage();
const quick = bool("--quick");
const full = bool("--full");
const fresh = bool("--fresh");
const keepProfiles = bool("--keep-profiles");
const profiling = bool("--profile") || keepProfiles;
const ciphersFlag = flag("--ciphers");
const only = flag("--only")?.split(",") as Workload[] | undefined;
const skip = (flag("--skip")?.split(",") ?? []) as Workload[];
const config = {
  quick,
  full,
  bytes: parseSize(flag("--bytes") ?? (quick ? "64M" : "256M")),
  reps: Number(flag("--reps") ?? 3),
  ciphers: ciphersFlag?.split(",") ?? ALL_CIPHERS,
  sftpCiphers: ciphersFlag?.split(",") ?? SFTP_CIPHERS,
  treeFiles: Number(flag("--tree-files") ?? (quick ? 200 : 1000)),
  treeFileSize: parseSize(flag("--tree-file-size") ?? "4K"),
  runtimes: (flag("--runtimes")?.split(",") ?? ["deno", "bun"]) as ("deno" | "bun")[],
  concurrency: Number(flag("--concurrency") ?? 8),
  setupProcs: Number(flag("--setup-procs") ?? 2),
  workers: Number(flag("--workers") ?? 1),
  duration: Number(flag("--duration") ?? 5),
  latencyCount: Number(flag("--latency-count") ?? 200),
  conns: Number(flag("--conns") ?? (full ? 1000 : 200)),
  ignores: Number(flag("--ignores") ?? 100_000),
  floodProcs: Number(flag("--flood-procs") ?? 4),
  floodLogins: Number(flag("--flood-logins") ?? 20),
  kex: KEX,
  ctrMac: CTR_MAC,
};
const outDir = flag("--out") ?? path.join(import.meta.dirname!, "results");
if (argv.length) {
  console.error(`unknown arguments: ${argv.join(" ")}`);
  usage();
}
for (const w of [...(only ?? []), ...skip]) {
  if (!ALL_WORKLOADS.includes(w)) throw new Error(`unknown workload ${w}`);
}
const workloads = (only ?? DEFAULT_WORKLOADS).filter((w) => !skip.includes(w));

// ---------------------------------------------------------------------------
// Child processes: every one runs under timeout(1) and is tracked until it ends.

const ROOT = path.resolve(import.meta.dirname!, "..");
const DENO = path.join(ROOT, "node_modules/deno/deno");
const DENO_BIN = fs.existsSync(DENO) ? DENO : "deno";
const BUN = path.join(ROOT, "node_modules/.bin/bun");
const NODE = "node";
const TIMEOUT = "timeout";
const live = new Set<Deno.ChildProcess>();

function killAll(): void {
  for (const c of live) {
    try {
      c.kill("SIGTERM");
    } catch { /* gone */ }
  }
}
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  Deno.addSignalListener(sig, () => {
    console.error(`\n${sig}: stopping children`);
    killAll();
    cleanup().finally(() => Deno.exit(130));
  });
}
globalThis.addEventListener("unload", killAll);

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
  timedOut: boolean;
}

/** Runs `cmd args` to completion under `timeout -k 5 <s>`. */
async function run(
  cmd: string,
  args: string[],
  opts: { timeoutS: number; stdout?: "piped" | "null" },
): Promise<Ran> {
  const t0 = performance.now();
  const child = new Deno.Command(TIMEOUT, {
    args: ["-k", "5", String(Math.ceil(opts.timeoutS)), cmd, ...args],
    stdin: "null",
    stdout: opts.stdout ?? "piped",
    stderr: "piped",
    cwd: ROOT,
  }).spawn();
  live.add(child);
  try {
    const [status, out, err] = await Promise.all([
      child.status,
      opts.stdout === "null" ? Promise.resolve("") : new Response(child.stdout).text(),
      new Response(child.stderr).text(),
    ]);
    return {
      code: status.code,
      stdout: out,
      stderr: err.slice(-4000),
      ms: performance.now() - t0,
      timedOut: status.code === 124 || status.code === 137,
    };
  } finally {
    live.delete(child);
  }
}

/** Runs a worker mode to completion and returns its JSON line. */
async function runJson(
  cmd: string,
  args: string[],
  timeoutS: number,
): Promise<Record<string, unknown> & { ms: number }> {
  const r = await run(cmd, args, { timeoutS });
  const line = r.stdout.trim().split("\n").pop() ?? "";
  let parsed: Record<string, unknown> | undefined;
  try {
    parsed = JSON.parse(line);
  } catch { /* below */ }
  if (r.timedOut) throw new Error(`timed out after ${timeoutS} s: ${r.stderr.trim().slice(-300)}`);
  if (!parsed || parsed.ok === false || r.code !== 0) {
    const why = (parsed?.error as string | undefined) ?? r.stderr.trim() ?? `exit ${r.code}`;
    throw new Error(`exit ${r.code}: ${why.split("\n").slice(0, 3).join(" | ").slice(0, 400)}`);
  }
  return { ...parsed, ms: r.ms };
}

/** A long-running child that prints one JSON "ready" line, then runs until its stdin closes. */
interface Daemon {
  info: Record<string, unknown>;
  pid: number;
  stop(): Promise<void>;
  stderr(): string;
}

async function startDaemon(cmd: string, args: string[], timeoutS: number): Promise<Daemon> {
  const child = new Deno.Command(TIMEOUT, {
    args: ["-k", "5", String(Math.ceil(timeoutS)), cmd, ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    cwd: ROOT,
  }).spawn();
  live.add(child);
  let err = "";
  (async () => {
    for await (const c of child.stderr.pipeThrough(new TextDecoderStream())) {
      if (err.length < 100_000) err += c;
    }
  })().catch(() => {});
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  const deadline = setTimeout(() => child.kill("SIGTERM"), 60_000);
  let info: Record<string, unknown> | undefined;
  try {
    while (!buf.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
    }
    info = JSON.parse(buf.split("\n")[0]);
  } catch {
    /* below */
  } finally {
    clearTimeout(deadline);
  }
  // Keep draining stdout so the child never blocks on it.
  (async () => {
    for (;;) if ((await reader.read()).done) break;
  })().catch(() => {});
  let stopped: Promise<void> | undefined;
  const stop = () =>
    stopped ??= (async () => {
      await child.stdin.close().catch(() => {});
      const t = setTimeout(() => {
        try {
          child.kill("SIGTERM");
        } catch { /* gone */ }
      }, 5000);
      await child.status;
      clearTimeout(t);
      live.delete(child);
    })();
  if (!info || !info.ready) {
    await stop();
    throw new Error(`did not start: ${buf.slice(0, 300)} ${err.slice(-500)}`);
  }
  return { info, pid: Number(info.pid ?? child.pid), stop, stderr: () => err };
}

// ---------------------------------------------------------------------------
// Fixtures: keys, authorized_keys, the private sshd.

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-bench-"));
const USER = currentUser();
const USER_KEY = path.join(tmp, "id_ed25519");
const HOST_KEY = path.join(tmp, "host_ed25519");
const AUTHORIZED = path.join(tmp, "authorized_keys");
let sshd: Sshd | undefined;
const daemons = new Set<Daemon>();

async function cleanup(): Promise<void> {
  await Promise.all([...daemons].map((d) => d.stop().catch(() => {})));
  await sshd?.stop().catch(() => {});
  fs.rmSync(tmp, { recursive: true, force: true });
}

async function keygen(file: string): Promise<void> {
  const r = await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "", "-f", file], {
    timeoutS: 30,
  });
  if (r.code !== 0) throw new Error(`ssh-keygen: ${r.stderr}`);
}

// ---------------------------------------------------------------------------
// Implementations

type ClientImpl =
  | "rxssh-deno"
  | "rxssh-bun"
  | "ssh2-node"
  | "ssh2-deno"
  | "ssh2-bun"
  | "openssh";
type ServerImpl = "rxssh-deno" | "rxssh-bun" | "ssh2-node" | "sshd";

/**
 * The command line of a worker. With `--profile`, rxssh workers run under
 * their runtime's CPU profiler, writing into a fresh directory registered
 * under `label` (`<workload>-<role>-<impl>[-<cipher>-<dir>]`); see
 * {@link writeProfiles}.
 */
function workerCmd(
  impl: "rxssh-deno" | "rxssh-bun" | "ssh2-node" | "ssh2-deno" | "ssh2-bun",
  label: string,
): [string, string[]] {
  const prof = profiling && impl.startsWith("rxssh-") ? profileDir(label) : undefined;
  const profArgs = prof ? ["--cpu-prof", `--cpu-prof-dir=${prof}`] : [];
  // gc() for the memory workloads (worker.ts `collect`); nothing collects unless asked.
  const gc = "--v8-flags=--expose-gc";
  if (impl === "rxssh-deno") return [DENO_BIN, ["run", "-A", gc, ...profArgs, "bench/worker.ts"]];
  if (impl === "rxssh-bun") return [BUN, [...profArgs, "bench/worker.ts"]];
  // ssh2 on Deno and Bun (their node:crypto and node:net): the same-runtime comparison.
  if (impl === "ssh2-deno") return [DENO_BIN, ["run", "-A", "bench/ssh2_worker.mjs"]];
  if (impl === "ssh2-bun") return [BUN, ["bench/ssh2_worker.mjs"]];
  return [NODE, ["--expose-gc", "bench/ssh2_worker.mjs"]];
}

/** `<workload>-<role>-<impl>[-<cipher>-<dir>]`, the name of a profile summary. */
function profileLabel(
  workload: Workload,
  role: "client" | "server",
  impl: string,
  cipher?: string,
  dir?: string,
): string {
  const parts = [workload, role, impl];
  if (cipher) parts.push(cipher.replace("@openssh.com", ""));
  if (dir) parts.push(dir);
  return parts.join("-");
}

/** Raw profile directories of profiled workers, by label, until {@link writeProfiles}. */
const profileDirs = new Map<string, string[]>();
let profileSeq = 0;
let rxsshCommit = "unknown";

function profileDir(label: string): string {
  const dir = path.join(tmp, "profiles", String(++profileSeq));
  fs.mkdirSync(dir, { recursive: true });
  if (!profileDirs.has(label)) profileDirs.set(label, []);
  profileDirs.get(label)!.push(dir);
  return dir;
}

/**
 * Summarizes the profiles of the workers of `workload` (all of them have
 * exited: the caller stops the servers first) into
 * `<out>/profiles/<label>.txt`, replacing that workload's earlier files;
 * with `--keep-profiles` the raw `.cpuprofile` files go beside them.
 */
function writeProfiles(workload: Workload): void {
  const dest = path.join(outDir, "profiles");
  fs.mkdirSync(dest, { recursive: true });
  for (const f of fs.readdirSync(dest)) {
    if (f.startsWith(`${workload}-`)) fs.rmSync(path.join(dest, f), { force: true });
  }
  const written: string[] = [];
  for (const [label, dirs] of profileDirs) {
    const files = dirs.flatMap((d) =>
      fs.readdirSync(d).filter((f) => f.endsWith(".cpuprofile")).sort().map((f) => path.join(d, f))
    );
    if (!files.length) {
      fail(workload, `profile ${label}`, new Error("the worker wrote no .cpuprofile"));
      continue;
    }
    try {
      const text = summarizeProfiles(files.map(readProfile), {
        root: ROOT,
        top: 30,
        title: `${label}: ${files.length} worker process(es), rxssh ${rxsshCommit}`,
      });
      fs.writeFileSync(path.join(dest, `${label}.txt`), text);
      written.push(`${label}.txt`);
      if (keepProfiles) {
        files.forEach((f, i) =>
          fs.copyFileSync(
            f,
            path.join(dest, `${label}${files.length > 1 ? `.${i + 1}` : ""}.cpuprofile`),
          )
        );
      }
    } catch (e) {
      fail(workload, `profile ${label}`, e);
    }
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  }
  profileDirs.clear();
  if (written.length) console.log(`  profiles: ${dest}/{${written.join(",")}}`);
}

const ourImpls = config.runtimes.map((r) => `rxssh-${r}` as const);
const clientImpls: ClientImpl[] = [...ourImpls, "ssh2-node", "openssh"];
const serverImpls: ServerImpl[] = [...ourImpls, "ssh2-node", "sshd"];

const servers = new Map<
  ServerImpl,
  { port: number; pid: number; daemon?: Daemon; label?: string }
>();

/**
 * The running server `impl`, started when needed. `label` names its profile:
 * with `--profile`, a server started under another label is restarted, so
 * that each profile covers one workload (bulk: one cipher and direction).
 */
async function ensureServer(
  impl: ServerImpl,
  label: string,
  extra: Record<string, unknown> = {},
): Promise<{ port: number; pid: number }> {
  const have = servers.get(impl);
  if (have && (!profiling || !have.daemon || have.label === label)) return have;
  if (have) await stopServer(impl);
  if (impl === "sshd") throw new Error("sshd is not running");
  const [cmd, args] = workerCmd(impl, label);
  const d = await startDaemon(
    cmd,
    [
      ...args,
      "server",
      JSON.stringify({
        hostKey: HOST_KEY,
        authorizedKeys: AUTHORIZED,
        workers: config.workers,
        ...extra,
      }),
    ],
    6 * 3600,
  );
  daemons.add(d);
  const s = { port: Number(d.info.port), pid: d.pid, daemon: d, label };
  servers.set(impl, s);
  return s;
}

/** Stops a worker server (it exits when its stdin closes, so a profiler writes its file). */
async function stopServer(impl: ServerImpl): Promise<void> {
  const s = servers.get(impl);
  if (!s?.daemon) return;
  await s.daemon.stop();
  daemons.delete(s.daemon);
  servers.delete(impl);
}

/** Restarts a worker server (memory is measured on a fresh process). */
async function restartServer(
  impl: ServerImpl,
  label: string,
  extra: Record<string, unknown> = {},
): Promise<{ port: number; pid: number }> {
  await stopServer(impl);
  return ensureServer(impl, label, extra);
}

/** What the memory workloads give their servers: a full collection every 250 ms (see worker.ts). */
const MEMORY_SERVER = { gcMs: 250 };

function sshArgs(port: number, cipher?: string): string[] {
  const a = [
    "-F",
    "/dev/null",
    "-i",
    USER_KEY,
    "-p",
    String(port),
    "-l",
    USER,
    "-o",
    "BatchMode=yes",
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
    "-o",
    "LogLevel=ERROR",
    "-o",
    `KexAlgorithms=${KEX}`,
    "-o",
    "HostKeyAlgorithms=ssh-ed25519",
  ];
  if (cipher) a.push("-c", cipher, ...(cipher === "aes256-ctr" ? ["-m", CTR_MAC] : []));
  return a;
}

function workerOpts(port: number, cipher?: string): Record<string, unknown> {
  return {
    port,
    user: USER,
    key: USER_KEY,
    kex: KEX,
    cipher,
    mac: cipher === "aes256-ctr" ? CTR_MAC : undefined,
  };
}

async function sshTrue(port: number, cipher?: string): Promise<number> {
  const r = await run("ssh", [...sshArgs(port, cipher), "127.0.0.1", "true"], { timeoutS: 60 });
  if (r.code !== 0) throw new Error(`ssh true: exit ${r.code}: ${r.stderr.trim().slice(0, 300)}`);
  return r.ms;
}

// ---------------------------------------------------------------------------
// Statistics and bookkeeping

const median = (xs: number[]) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
};
const loadavg = () => fs.readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).map(Number);

interface Failure {
  workload: string;
  what: string;
  reason: string;
}
const failures: Failure[] = [];
function fail(workload: string, what: string, e: unknown): void {
  const reason = String((e as Error)?.message ?? e).slice(0, 500);
  failures.push({ workload, what, reason });
  console.log(`  ${what}: failed: ${reason}`);
}

// ---------------------------------------------------------------------------
// Workloads

interface BulkCell {
  role: "client" | "server";
  client: ClientImpl;
  server: ServerImpl;
  cipher: string;
  dir: "up" | "down";
  mbps: number[];
  median?: number;
}

async function bulkOnce(
  client: ClientImpl,
  port: number,
  cipher: string,
  dir: "up" | "down",
  overheadMs: number,
): Promise<number> {
  const timeoutS = 60 + config.bytes / (1024 * 1024); // generous: 1 MiB/s worst case
  if (client === "openssh") {
    const remote = dir === "up" ? "cat > /dev/null" : `head -c ${config.bytes} /dev/zero`;
    const script = dir === "up"
      ? `head -c ${config.bytes} /dev/zero | ssh "$@"`
      : `ssh "$@" > /dev/null`;
    const r = await run("sh", ["-c", script, "sh", ...sshArgs(port, cipher), "127.0.0.1", remote], {
      timeoutS,
      stdout: "null",
    });
    if (r.code !== 0) throw new Error(`ssh exit ${r.code}: ${r.stderr.trim().slice(0, 300)}`);
    return net(r.ms / 1000, overheadMs);
  }
  const [cmd, args] = workerCmd(client, profileLabel("bulk", "client", client, cipher, dir));
  const o = { ...workerOpts(port, cipher), dir, bytes: config.bytes };
  const r = await runJson(cmd, [...args, "bulk", JSON.stringify(o)], timeoutS);
  return net(Number(r.seconds), overheadMs);
}

/** MB/s from a timed exec minus the pair's exec overhead; refuses when the overhead dominates. */
function net(seconds: number, overheadMs: number): number {
  const s = seconds - overheadMs / 1000;
  if (s < seconds / 4) {
    throw new Error(
      `the exec overhead (${overheadMs.toFixed(0)} ms) is most of the ${
        (seconds * 1000).toFixed(0)
      } ms transfer: use a larger --bytes`,
    );
  }
  return config.bytes / 1e6 / s;
}

/** Median exec round trip of `exec true` for a client/server pair (what bulk subtracts). */
async function execOverhead(client: ClientImpl, port: number): Promise<number> {
  if (client === "openssh") {
    const xs = [];
    for (let i = 0; i < 5; i++) xs.push(await sshTrue(port));
    return median(xs);
  }
  const [cmd, args] = workerCmd(client, profileLabel("bulk", "client", client, "exec-overhead"));
  const r = await runJson(
    cmd,
    [...args, "latency", JSON.stringify({ ...workerOpts(port), count: 5 })],
    120,
  );
  return median(r.samples as number[]);
}

async function runBulk(): Promise<unknown> {
  const pairs: { role: "client" | "server"; client: ClientImpl; server: ServerImpl }[] = [];
  for (const c of clientImpls) pairs.push({ role: "client", client: c, server: "sshd" });
  // Client side only: ssh2 run by Deno and by Bun, beside rxssh on the same runtime.
  for (const r of config.runtimes) {
    pairs.push({ role: "client", client: `ssh2-${r}`, server: "sshd" });
  }
  for (const s of serverImpls) {
    if (s !== "sshd") pairs.push({ role: "server", client: "openssh", server: s });
  }
  // Overhead per pair: the time of the same exec with `true` (see README).
  const overhead = new Map<string, number>();
  for (const p of pairs) {
    const key = `${p.client}>${p.server}`;
    try {
      const label = profileLabel("bulk", "server", p.server, "exec-overhead");
      const { port } = await ensureServer(p.server, label);
      overhead.set(key, await execOverhead(p.client, port));
    } catch (e) {
      fail("bulk", `${key} exec overhead`, e);
    }
  }
  console.log(
    `  exec overhead subtracted (ms): ${
      [...overhead].map(([k, v]) => `${k} ${v.toFixed(1)}`).join(", ")
    }`,
  );
  const cells = new Map<string, BulkCell>();
  const broken = new Set<string>();
  for (let rep = 0; rep < config.reps; rep++) {
    for (const cipher of config.ciphers) {
      for (const dir of ["up", "down"] as const) {
        for (const p of pairs) {
          const key = `${p.client}>${p.server} ${cipher} ${dir}`;
          if (broken.has(key) || !overhead.has(`${p.client}>${p.server}`)) continue;
          let cell = cells.get(key);
          if (!cell) cells.set(key, cell = { ...p, cipher, dir, mbps: [] });
          try {
            const label = profileLabel("bulk", "server", p.server, cipher, dir);
            const { port } = await ensureServer(p.server, label);
            const v = await bulkOnce(
              p.client,
              port,
              cipher,
              dir,
              overhead.get(`${p.client}>${p.server}`)!,
            );
            cell.mbps.push(v);
            console.log(`  [${rep + 1}/${config.reps}] ${key}: ${v.toFixed(1)} MB/s`);
          } catch (e) {
            broken.add(key);
            fail("bulk", key, e);
          }
        }
      }
    }
  }
  for (const c of cells.values()) c.median = median(c.mbps);
  return {
    config: { bytes: config.bytes, reps: config.reps, ciphers: config.ciphers, kex: KEX },
    overheadMs: Object.fromEntries(overhead),
    cells: [...cells.values()],
  };
}

/** N concurrent loops of `ssh ... true` processes from this process for `seconds`. */
async function sshSetupRate(
  port: number,
): Promise<{ rate: number; count: number; errors: number }> {
  const deadline = performance.now() + config.duration * 1000;
  let count = 0;
  let errors = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: config.concurrency }, async () => {
    while (performance.now() < deadline) {
      const r = await run("ssh", [...sshArgs(port), "127.0.0.1", "true"], { timeoutS: 60 });
      if (r.code === 0) count++;
      else errors++;
    }
  }));
  const s = (performance.now() - t0) / 1000;
  return { rate: count / s, count, errors };
}

/** The pids whose parent is `pid`. */
function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, "utf8");
      if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === pid) out.push(Number(d));
    } catch { /* exited */ }
  }
  return out;
}

/** utime, stime, cutime, cstime of a process (fields 14-17 of /proc/<pid>/stat), clock ticks. */
function cpuTicks(pid: number): { utime: number; stime: number; cutime: number; cstime: number } {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name "(...)": the first is field 3 (state).
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ").map(Number);
  return { utime: f[11], stime: f[12], cutime: f[13], cstime: f[14] };
}
const ticksSum = (t: ReturnType<typeof cpuTicks>) => t.utime + t.stime + t.cutime + t.cstime;

/** {@link cpuTicks} of `pid` plus the utime and stime of its live descendants (workers). */
function treeCpuTicks(pid: number): ReturnType<typeof cpuTicks> {
  const t = cpuTicks(pid);
  const queue = childPids(pid);
  while (queue.length) {
    const c = queue.shift()!;
    try {
      const ct = cpuTicks(c);
      t.utime += ct.utime + ct.cutime;
      t.stime += ct.stime + ct.cstime;
      queue.push(...childPids(c));
    } catch { /* exited */ }
  }
  return t;
}

/**
 * The process whose CPU time is the server's: the worker itself, or for
 * sshd the listening master (a child of the timeout(1) wrapper), which reaps
 * its per-connection processes, so their time lands in its cutime/cstime.
 */
function serverCpuPid(impl: ServerImpl, pid: number): number {
  if (impl !== "sshd") return pid;
  const master = childPids(pid).find((c) => {
    try {
      return fs.readFileSync(`/proc/${c}/comm`, "utf8").trim() === "sshd";
    } catch {
      return false;
    }
  });
  if (!master) throw new Error(`no sshd master under pid ${pid}`);
  return master;
}

/** Waits (up to 5 s) until `pid` has reaped every child, so their CPU time is in cutime/cstime. */
async function childrenReaped(pid: number): Promise<number> {
  const until = performance.now() + 5000;
  let left = childPids(pid).length;
  while (left && performance.now() < until) {
    await new Promise((r) => setTimeout(r, 50));
    left = childPids(pid).length;
  }
  return left;
}

let clkTck = 0;

interface SetupRow {
  role: "client" | "server";
  client: ClientImpl;
  server: ServerImpl;
  rate: number;
  count: number;
  errors: number;
  seconds?: number;
  driver: string;
  cpuMsPerConn?: number;
  /** Our servers' processes sharing the port (`--workers`). */
  workers?: number;
  cpuTicks?: { before: ReturnType<typeof cpuTicks>; after: ReturnType<typeof cpuTicks> };
  lastError?: string;
}

/**
 * Server side: `--setup-procs` ssh2 processes of `--concurrency` loops each,
 * started together against the server; the server's CPU time over the run
 * divided by the connections completed.
 */
async function setupServerSide(impl: ServerImpl): Promise<SetupRow> {
  const { port, pid } = await ensureServer(impl, profileLabel("setup", "server", impl));
  const cpuPid = serverCpuPid(impl, pid);
  // Our servers with --workers: the workers are live children; their CPU is summed.
  const withWorkers = impl.startsWith("rxssh-") && config.workers > 1;
  const ticks = (p: number) => (withWorkers ? treeCpuTicks(p) : cpuTicks(p));
  if (!withWorkers && await childrenReaped(cpuPid)) {
    throw new Error(`${impl} has busy children before the run`);
  }
  const [cmd, args] = workerCmd("ssh2-node", "");
  const o = { ...workerOpts(port), concurrency: config.concurrency, seconds: config.duration };
  const before = ticks(cpuPid);
  const settled = await Promise.allSettled(
    Array.from(
      { length: config.setupProcs },
      () => runJson(cmd, [...args, "setup", JSON.stringify(o)], config.duration + 120),
    ),
  );
  const left = withWorkers ? 0 : await childrenReaped(cpuPid);
  const after = ticks(cpuPid);
  const failed = settled.find((r) => r.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
  const js = settled.map((r) => (r as PromiseFulfilledResult<Record<string, unknown>>).value);
  const count = js.reduce((a, j) => a + Number(j.count), 0);
  const errors = js.reduce((a, j) => a + Number(j.errors), 0);
  if (!count) throw new Error(`no connection completed: ${js.map((j) => j.lastError).join(" | ")}`);
  if (left) throw new Error(`${impl} still had ${left} child processes 5 s after the run`);
  const cpuMs = ((ticksSum(after) - ticksSum(before)) / clkTck) * 1000;
  return {
    role: "server",
    client: "ssh2-node",
    server: impl,
    // Each driver's count over its own elapsed time (the duration plus its last connections).
    rate: js.reduce((a, j) => a + Number(j.count) / Number(j.seconds), 0),
    count,
    errors,
    seconds: Math.max(...js.map((j) => Number(j.seconds))),
    driver: `ssh2-node, ${config.setupProcs} x ${config.concurrency}`,
    workers: impl.startsWith("rxssh-") ? config.workers : undefined,
    cpuMsPerConn: cpuMs / count,
    cpuTicks: { before, after },
    lastError: js.map((j) => j.lastError).filter(Boolean).join(" | ") || undefined,
  };
}

async function ensureClkTck(): Promise<void> {
  if (!clkTck) {
    const r = await run("getconf", ["CLK_TCK"], { timeoutS: 10 });
    clkTck = Number(r.stdout.trim()) || 100;
  }
}

async function runSetup(): Promise<unknown> {
  const rows: SetupRow[] = [];
  await ensureClkTck();
  // Server side: ssh2 drivers against each server.
  for (const s of serverImpls) {
    const what = `ssh2-node x${config.setupProcs}>${s}`;
    try {
      const row = await setupServerSide(s);
      rows.push(row);
      const t = row.cpuTicks!;
      console.log(
        `  ${what}: ${row.rate.toFixed(1)} conn/s (${row.count} ok, ${row.errors} errors), ` +
          `server CPU ${row.cpuMsPerConn!.toFixed(2)} ms/conn (ticks utime+stime ${
            t.after.utime + t.after.stime - t.before.utime - t.before.stime
          }, cutime+cstime ${t.after.cutime + t.after.cstime - t.before.cutime - t.before.cstime})`,
      );
    } catch (e) {
      fail("setup", what, e);
    }
  }
  // Client side: the client under test, one process, against sshd; OpenSSH's reference is
  // `--concurrency` loops of `ssh` processes (its client is a process per connection).
  for (const c of clientImpls) {
    const what = `${c}>sshd`;
    try {
      const { port } = await ensureServer("sshd", "");
      let r: { rate: number; count: number; errors: number; lastError?: string };
      if (c === "openssh") r = await sshSetupRate(port);
      else {
        const [cmd, args] = workerCmd(c, profileLabel("setup", "client", c));
        const o = {
          ...workerOpts(port),
          concurrency: config.concurrency,
          seconds: config.duration,
        };
        const j = await runJson(cmd, [...args, "setup", JSON.stringify(o)], config.duration + 120);
        r = {
          rate: Number(j.rate),
          count: Number(j.count),
          errors: Number(j.errors),
          lastError: String(j.lastError ?? "") || undefined,
        };
        if (r.errors && !r.count) throw new Error(String(j.lastError));
      }
      rows.push({
        role: "client",
        client: c,
        server: "sshd",
        driver: c === "openssh"
          ? `${config.concurrency} loops of ssh processes`
          : `one process, ${config.concurrency} concurrent`,
        ...r,
      });
      console.log(`  ${what}: ${r.rate.toFixed(1)} conn/s (${r.count} ok, ${r.errors} errors)`);
    } catch (e) {
      fail("setup", what, e);
    }
  }
  return {
    config: {
      concurrency: config.concurrency,
      setupProcs: config.setupProcs,
      workers: config.workers,
      seconds: config.duration,
      kex: KEX,
      serverDriver: `ssh2-node: ${config.setupProcs} processes x ${config.concurrency} concurrent`,
      clientDriver:
        `the client under test, one process, ${config.concurrency} concurrent (OpenSSH: ${config.concurrency} loops of ssh processes)`,
      clkTck,
    },
    note:
      "server rows: rate = sum over the driver processes of count / seconds; cpuMsPerConn = the server process's utime+stime+cutime+cstime over the run / connections (sshd: the listening master, whose cutime/cstime include its reaped per-connection processes)",
    rows,
  };
}

async function runLatency(): Promise<unknown> {
  const rows: {
    role: string;
    client: ClientImpl;
    server: ServerImpl;
    p50: number;
    p99: number;
    n: number;
  }[] = [];
  const pairs: { role: "client" | "server"; client: ClientImpl; server: ServerImpl }[] = [];
  // Server side: ssh2 as the neutral client; client side: against sshd.
  for (const s of serverImpls) pairs.push({ role: "server", client: "ssh2-node", server: s });
  for (const c of clientImpls) {
    if (c !== "ssh2-node") pairs.push({ role: "client", client: c, server: "sshd" });
  }
  for (const p of pairs) {
    const what = `${p.client}>${p.server}`;
    try {
      const { port } = await ensureServer(p.server, profileLabel("latency", "server", p.server));
      let samples: number[];
      let noExitStatus = 0;
      if (p.client === "openssh") samples = await sshMuxLatency(port);
      else {
        const [cmd, args] = workerCmd(p.client, profileLabel("latency", p.role, p.client));
        const o = { ...workerOpts(port), count: config.latencyCount };
        const j = await runJson(
          cmd,
          [...args, "latency", JSON.stringify(o)],
          60 + config.latencyCount,
        );
        samples = j.samples as number[];
        noExitStatus = Number(j.noExitStatus ?? 0);
      }
      const row = {
        ...p,
        p50: percentile(samples, 50),
        p99: percentile(samples, 99),
        n: samples.length,
        noExitStatus,
      };
      rows.push(row);
      console.log(
        `  ${what}: p50 ${row.p50.toFixed(2)} ms, p99 ${row.p99.toFixed(2)} ms${
          noExitStatus ? ` (${noExitStatus} execs closed without exit-status)` : ""
        }`,
      );
    } catch (e) {
      fail("latency", what, e);
    }
  }
  return {
    config: { count: config.latencyCount, command: "true" },
    note:
      "openssh client = one `ssh -S <ControlMaster socket>` process per exec (includes its process start)",
    rows,
  };
}

/** OpenSSH has no in-process client API: a ControlMaster connection, one mux client process per exec. */
async function sshMuxLatency(port: number): Promise<number[]> {
  const sock = path.join(tmp, `mux-${port}`);
  const master = await startDaemonRaw("ssh", [
    ...sshArgs(port),
    "-M",
    "-S",
    sock,
    "-N",
    "127.0.0.1",
  ]);
  try {
    for (let i = 0; i < 100 && !fs.existsSync(sock); i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    if (!fs.existsSync(sock)) throw new Error("ControlMaster socket did not appear");
    const samples: number[] = [];
    for (let i = 0; i < config.latencyCount + 5; i++) {
      const r = await run("ssh", [...sshArgs(port), "-S", sock, "127.0.0.1", "true"], {
        timeoutS: 30,
      });
      if (r.code !== 0) throw new Error(`ssh -S: exit ${r.code}: ${r.stderr.slice(0, 200)}`);
      if (i >= 5) samples.push(r.ms);
    }
    return samples;
  } finally {
    master.kill("SIGTERM");
    await master.status;
    live.delete(master);
  }
}

function startDaemonRaw(cmd: string, args: string[]): Deno.ChildProcess {
  const c = new Deno.Command(TIMEOUT, {
    args: ["-k", "5", "3600", cmd, ...args],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  live.add(c);
  return c;
}

async function runMemory(): Promise<unknown> {
  const rows: Record<string, unknown>[] = [];
  const K = config.conns;
  const parallel = 8;
  const holdTimeout = 600 + K;
  const hold = async (holder: "rxssh-deno" | "rxssh-bun" | "ssh2-node", port: number) => {
    const [cmd, args] = workerCmd(holder, profileLabel("memory", "client", holder));
    const d = await startDaemon(
      cmd,
      [...args, "hold", JSON.stringify({ ...workerOpts(port), count: K, parallel })],
      holdTimeout,
    );
    daemons.add(d);
    if (Number(d.info.opened) !== K) {
      await d.stop();
      daemons.delete(d);
      throw new Error(`${holder} opened ${d.info.opened}/${K}: ${d.info.lastError}`);
    }
    return d;
  };
  // Server side: ssh2 holds K connections to each server, a fresh process for ours and ssh2.
  for (const s of serverImpls) {
    const what = `server ${s}`;
    try {
      let pid: number;
      let port: number;
      if (s === "sshd") {
        port = sshd!.port;
        pid = sshd!.pid; // the timeout(1) wrapper: measure its descendants
      } else {
        ({ port, pid } = await restartServer(
          s,
          profileLabel("memory", "server", s),
          MEMORY_SERVER,
        ));
      }
      await new Promise((r) => setTimeout(r, 1000));
      const before = treeMemory(pid, s !== "sshd");
      const d = await hold("ssh2-node", port);
      await new Promise((r) => setTimeout(r, 1000));
      const after = treeMemory(pid, s !== "sshd");
      await d.stop();
      daemons.delete(d);
      const rssKiBPerConn = (after.rss - before.rss) / K;
      const pssKiBPerConn = (after.pss - before.pss) / K;
      const row = {
        role: "server",
        impl: s,
        conns: K,
        // One process: its RSS growth. sshd (a process per connection): PSS, since the RSS sum
        // counts every shared page once per process. (PSS of one process is no good here: it
        // drops when the holder maps the same binary, e.g. node and node.)
        kibPerConn: s === "sshd" ? pssKiBPerConn : rssKiBPerConn,
        rssKiBPerConn,
        pssKiBPerConn,
        before,
        after,
      };
      rows.push(row);
      console.log(
        `  ${what}: RSS +${row.rssKiBPerConn.toFixed(1)} KiB/conn, PSS +${
          row.pssKiBPerConn.toFixed(1)
        } KiB/conn (${after.procs} procs)`,
      );
      if (s === "sshd") {
        // The same run gives the ssh2 client's own cost per connection.
        const c = { rss: Number(d.info.rss), before: Number(d.info.rssBefore) };
        rows.push({
          role: "client",
          impl: "ssh2-node",
          conns: K,
          kibPerConn: (c.rss - c.before) / K,
          rssKiBPerConn: (c.rss - c.before) / K,
        });
      }
      // Back to a fresh server for what follows (with --profile, the next workload starts its own).
      if (s !== "sshd") await (profiling ? stopServer(s) : restartServer(s, ""));
    } catch (e) {
      fail("memory", what, e);
    }
  }
  // Client side: our clients hold K connections to sshd, measuring themselves.
  for (const c of ourImpls) {
    try {
      const d = await hold(c, sshd!.port);
      await d.stop();
      daemons.delete(d);
      const kib = (Number(d.info.rss) - Number(d.info.rssBefore)) / K;
      const row = { role: "client", impl: c, conns: K, kibPerConn: kib, rssKiBPerConn: kib };
      rows.push(row);
      console.log(`  client ${c}: RSS +${row.rssKiBPerConn.toFixed(1)} KiB/conn`);
    } catch (e) {
      fail("memory", `client ${c}`, e);
    }
  }
  return {
    config: { conns: K, parallel, holder: "ssh2-node (server side)" },
    note:
      "kibPerConn: server = growth / conns of the server process's RSS (sshd: of the PSS summed over its descendants); client = the holder's own RSS growth / conns. Our servers and ssh2's collect garbage every 250 ms and the holders once before each reading (an idle Deno does not collect by itself: without it, rxssh-deno's server reads about 115)",
    rows,
  };
}

/** The ciphers of the small-packets workload: the server's CPU per tiny packet with each. */
const SMALL_PACKET_CASES = [
  { cipher: "aes128-ctr", mac: "hmac-sha2-256" },
  { cipher: "aes128-ctr", mac: "hmac-sha2-256-etm@openssh.com" },
  { cipher: "aes128-gcm@openssh.com" },
  { cipher: "chacha20-poly1305@openssh.com" },
];

/**
 * proxy-memory: `--conns` idle connections held by ssh2 through HAProxy
 * (`mode tcp`, `send-proxy-v2`, round robin) to two of our backends per
 * runtime (`listen({ proxyProtocol })`, fresh processes); the growth of the
 * backends' RSS from K/2 connections to K, per connection, and HAProxy's.
 */
async function runProxyMemory(): Promise<unknown> {
  const haproxy = ["/usr/sbin/haproxy", "/usr/bin/haproxy"].find((f) => fs.existsSync(f));
  if (!haproxy) throw new Error("HAProxy is not installed (scripts/ensure_openssh.sh installs it)");
  const K = config.conns;
  const rows: Record<string, unknown>[] = [];
  for (const impl of ourImpls) {
    const what = `ssh2-node>haproxy>2x${impl}`;
    const started: Daemon[] = [];
    let proxy: Deno.ChildProcess | undefined;
    try {
      const [cmd, args] = workerCmd(impl, "");
      const opts = {
        hostKey: HOST_KEY,
        authorizedKeys: AUTHORIZED,
        proxyTrusted: ["127.0.0.1"],
        ...MEMORY_SERVER,
      };
      for (let i = 0; i < 2; i++) {
        const d = await startDaemon(cmd, [...args, "server", JSON.stringify(opts)], 6 * 3600);
        daemons.add(d);
        started.push(d);
      }
      const port = freePort();
      const cfg = path.join(tmp, `haproxy-${impl}.cfg`);
      fs.writeFileSync(
        cfg,
        `global\n  maxconn ${K * 2 + 100}\ndefaults\n  mode tcp\n  timeout connect 10s\n` +
          `  timeout client 1h\n  timeout server 1h\nfrontend ssh\n  bind 127.0.0.1:${port}\n` +
          `  maxconn ${K * 2 + 100}\n  default_backend rx\nbackend rx\n  balance roundrobin\n` +
          started.map((d, i) => `  server b${i} 127.0.0.1:${d.info.port} send-proxy-v2\n`).join(""),
      );
      proxy = startDaemonRaw(haproxy, ["-db", "-f", cfg]);
      await waitListening(port);
      await new Promise((r) => setTimeout(r, 1000));
      const backends = [...started]; // the holders join `started` below, not the sum
      const mem = () =>
        backends.map((d) => treeMemory(d.pid, true)).reduce((a, m) => ({
          rss: a.rss + m.rss,
          pss: a.pss + m.pss,
          procs: a.procs + m.procs,
        }));
      // The slope over the second half: the first half pays the backends' one-off growth
      // (V8's new space, JIT code, pools), which is not a cost per connection.
      const [hcmd, hargs] = workerCmd("ssh2-node", "");
      const holdHalf = async () => {
        const h = await startDaemon(
          hcmd,
          [...hargs, "hold", JSON.stringify({ ...workerOpts(port), count: K / 2, parallel: 8 })],
          600 + K,
        );
        daemons.add(h);
        started.push(h);
        if (Number(h.info.opened) !== K / 2) {
          throw new Error(`opened ${h.info.opened}/${K / 2}: ${h.info.lastError}`);
        }
        await new Promise((r) => setTimeout(r, 1000));
      };
      await holdHalf();
      const before = mem();
      const proxyBefore = treeMemory(proxy.pid, true);
      await holdHalf();
      const after = mem();
      const proxyAfter = treeMemory(proxy.pid, true);
      const row = {
        impl,
        conns: K,
        backends: 2,
        rssKiBPerConn: (after.rss - before.rss) / (K / 2),
        haproxyKiBPerConn: (proxyAfter.rss - proxyBefore.rss) / (K / 2),
        before,
        after,
      };
      rows.push(row);
      console.log(
        `  ${what}: backends RSS +${row.rssKiBPerConn.toFixed(1)} KiB/conn, HAProxy +${
          row.haproxyKiBPerConn.toFixed(1)
        } KiB/conn`,
      );
    } catch (e) {
      fail("proxy-memory", what, e);
    } finally {
      for (const d of started) {
        await d.stop().catch(() => {});
        daemons.delete(d);
      }
      if (proxy) {
        try {
          proxy.kill("SIGTERM");
        } catch { /* gone */ }
        await proxy.status;
        live.delete(proxy);
      }
    }
  }
  return {
    config: {
      conns: K,
      driver: "ssh2-node hold, 8 at a time",
      balance: "roundrobin, send-proxy-v2",
    },
    note:
      "rssKiBPerConn: growth of both backends' RSS from K/2 held connections to K, over K/2 (the first half pays one-off growth)",
    rows,
  };
}

/** Resolves once something accepts on 127.0.0.1:`port` (20 s at most). */
async function waitListening(port: number): Promise<void> {
  const until = performance.now() + 20_000;
  for (;;) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch (e) {
      if (performance.now() > until) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** The server's CPU ms over one `ignores` run of `count` packets by an rxssh client. */
async function ignoresCpuMs(
  cpuPid: number,
  port: number,
  c: { cipher: string; mac?: string },
  count: number,
): Promise<{ cpuMs: number; seconds: number }> {
  const client = config.runtimes.includes("bun") ? "rxssh-bun" : "rxssh-deno";
  const [cmd, args] = workerCmd(client, "");
  const o = { ...workerOpts(port), cipher: c.cipher, mac: c.mac, count, size: 16 };
  await childrenReaped(cpuPid);
  const before = cpuTicks(cpuPid);
  const j = await runJson(cmd, [...args, "ignores", JSON.stringify(o)], 600);
  if (await childrenReaped(cpuPid)) throw new Error("the server still has children after the run");
  const after = cpuTicks(cpuPid);
  return {
    cpuMs: ((ticksSum(after) - ticksSum(before)) / clkTck) * 1000,
    seconds: Number(j.seconds),
  };
}

/**
 * Issue 10, item 7: a client sends `--ignores` SSH_MSG_IGNORE packets (16
 * bytes of data each) then runs `true`; the server's CPU for that run minus
 * a run with none is the cost of the tiny packets.
 */
async function runSmallPackets(): Promise<unknown> {
  await ensureClkTck();
  const rows = [];
  for (const impl of [...ourImpls, "sshd" as const]) {
    if (impl === "sshd" && !servers.has("sshd")) continue;
    const { port, pid } = await ensureServer(impl, profileLabel("small-packets", "server", impl));
    const cpuPid = serverCpuPid(impl, pid);
    for (const c of SMALL_PACKET_CASES) {
      const what = `${impl} ${c.cipher}${c.mac ? ` + ${c.mac}` : ""}`;
      try {
        await ignoresCpuMs(cpuPid, port, c, Math.min(2000, config.ignores)); // warm-up
        const base = await ignoresCpuMs(cpuPid, port, c, 0);
        const run = await ignoresCpuMs(cpuPid, port, c, config.ignores);
        const cpuMs = run.cpuMs - base.cpuMs;
        const row = {
          server: impl,
          cipher: c.cipher,
          mac: c.mac,
          count: config.ignores,
          serverCpuMs: cpuMs,
          usPerPacket: (cpuMs * 1000) / config.ignores,
          clientSeconds: run.seconds,
        };
        rows.push(row);
        console.log(
          `  ${what}: server CPU ${(cpuMs / 1000).toFixed(2)} s for ${config.ignores} ` +
            `(${row.usPerPacket.toFixed(1)} µs each; client took ${run.seconds.toFixed(1)} s)`,
        );
      } catch (e) {
        fail("small-packets", what, e);
      }
    }
  }
  return { config: { ignores: config.ignores, size: 16 }, rows };
}

/** `sshArgs` with another KexAlgorithms (ssh keeps the first value given, so it is replaced). */
function sshArgsWithKex(port: number, kex: string, cipher?: string): string[] {
  return sshArgs(port, cipher).map((a) =>
    a === `KexAlgorithms=${KEX}` ? `KexAlgorithms=${kex}` : a
  );
}

/** `--flood-logins` sequential legitimate logins (`ssh ... true`, curve25519): their times, ms. */
async function legitLogins(port: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < config.floodLogins; i++) times.push(await sshTrue(port));
  return times;
}

/**
 * Issue 10, item 7: `--flood-procs` loops of `ssh` forcing an 8192-bit
 * finite-field exchange (group 18, or group exchange asking for 8192 bits
 * with aes256-ctr) log in over and over while legitimate logins are timed.
 */
async function floodOnce(port: number, kex: string) {
  let stop = false, exchanges = 0, errors = 0;
  const cipher = kex.includes("group-exchange") ? "aes256-ctr" : undefined;
  const t0 = performance.now();
  const loops = Array.from({ length: config.floodProcs }, async () => {
    while (!stop) {
      const r = await run("ssh", [...sshArgsWithKex(port, kex, cipher), "127.0.0.1", "true"], {
        timeoutS: 120,
      });
      if (r.code === 0) exchanges++;
      else errors++;
    }
  });
  await new Promise((r) => setTimeout(r, 2000)); // the flood is under way
  const times = await legitLogins(port);
  stop = true;
  await Promise.all(loops);
  const seconds = (performance.now() - t0) / 1000;
  return { kex, times, exchanges, errors, floodRate: exchanges / seconds };
}

async function runKexFlood(): Promise<unknown> {
  const rows = [];
  for (const impl of [...ourImpls, "sshd" as const]) {
    if (impl === "sshd" && !servers.has("sshd")) continue;
    try {
      const { port } = await ensureServer(impl, profileLabel("kex-flood", "server", impl));
      const quiet = await legitLogins(port);
      const row = { server: impl, quietP50: median(quiet), quiet, floods: [] as unknown[] };
      console.log(`  ${impl}: no flood: login p50 ${median(quiet).toFixed(0)} ms`);
      for (const kex of ["diffie-hellman-group18-sha512", "diffie-hellman-group-exchange-sha256"]) {
        const f = await floodOnce(port, kex);
        row.floods.push({ ...f, p50: median(f.times), p90: percentile(f.times, 90) });
        console.log(
          `  ${impl}: ${config.floodProcs} loops of ${kex} (${f.floodRate.toFixed(1)}/s, ` +
            `${f.errors} failed): login p50 ${median(f.times).toFixed(0)} ms, ` +
            `p90 ${percentile(f.times, 90).toFixed(0)} ms`,
        );
      }
      rows.push(row);
    } catch (e) {
      fail("kex-flood", impl, e);
    }
  }
  return { config: { floodProcs: config.floodProcs, logins: config.floodLogins }, rows };
}

// ---------------------------------------------------------------------------
// forward: throughput through a local forward (`ssh -N -L` against rxssh's localForward)

/**
 * The far end of the tunnels, in this process: a TCP server that reads a
 * header line, `up N` (it reads N bytes, then answers one byte) or `down N`
 * (it writes N bytes, then closes). Connections without a header (the
 * readiness probe of `ssh -L`) are closed.
 */
function startForwardTarget(): { port: number; close(): void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serve = async (conn: Deno.Conn) => {
    const buf = new Uint8Array(256 * 1024);
    let head = new Uint8Array(0);
    let nl = -1;
    while (nl < 0) {
      const n = await conn.read(buf);
      if (n === null) return;
      const h = new Uint8Array(head.length + n);
      h.set(head);
      h.set(buf.subarray(0, n), head.length);
      head = h;
      nl = head.indexOf(10);
      if (nl < 0 && head.length > 64) throw new Error("no header line");
    }
    const [dir, size] = new TextDecoder().decode(head.subarray(0, nl)).split(" ");
    const bytes = Number(size);
    if (dir === "up") {
      let got = head.length - nl - 1;
      while (got < bytes) {
        const n = await conn.read(buf);
        if (n === null) throw new Error(`EOF after ${got} of ${bytes} bytes`);
        got += n;
      }
      await writeAll(conn, new Uint8Array([107])); // "k"
    } else {
      const chunk = new Uint8Array(64 * 1024);
      for (let sent = 0; sent < bytes; sent += chunk.length) {
        await writeAll(
          conn,
          bytes - sent >= chunk.length ? chunk : chunk.subarray(0, bytes - sent),
        );
      }
    }
  };
  (async () => {
    for await (const conn of listener) {
      serve(conn).catch(() => {}).finally(() => {
        try {
          conn.close();
        } catch { /* closed */ }
      });
    }
  })().catch(() => {});
  return { port: (listener.addr as Deno.NetAddr).port, close: () => listener.close() };
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  for (let off = 0; off < data.length;) off += await conn.write(data.subarray(off));
}

/**
 * One transfer of `bytes` through the forward listening on `port`: the time
 * from connecting to the last byte arriving (down) or to the target's
 * answer that it has them all (up), in MB/s.
 */
async function forwardOnce(port: number, dir: "up" | "down", bytes: number): Promise<number> {
  const timeoutS = 60 + bytes / (1024 * 1024);
  const t0 = performance.now();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const timer = setTimeout(() => conn.close(), timeoutS * 1000);
  try {
    await writeAll(conn, new TextEncoder().encode(`${dir} ${bytes}\n`));
    const buf = new Uint8Array(256 * 1024);
    if (dir === "up") {
      const chunk = new Uint8Array(64 * 1024);
      for (let sent = 0; sent < bytes; sent += chunk.length) {
        await writeAll(
          conn,
          bytes - sent >= chunk.length ? chunk : chunk.subarray(0, bytes - sent),
        );
      }
      if (await conn.read(buf) !== 1) throw new Error("the target did not confirm the upload");
    } else {
      let got = 0;
      while (got < bytes) {
        const n = await conn.read(buf);
        if (n === null) throw new Error(`the tunnel closed after ${got} of ${bytes} bytes`);
        got += n;
      }
    }
    return bytes / 1e6 / ((performance.now() - t0) / 1000);
  } catch (e) {
    if (performance.now() - t0 >= timeoutS * 1000) throw new Error(`timed out after ${timeoutS} s`);
    throw e;
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed */ }
  }
}

/** A free local port (bound and released: `ssh -L` needs a number). */
function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** `ssh -N -L`: ready when its local port accepts (the probe sends no header). */
async function sshLocalForward(
  port: number,
  cipher: string,
  target: number,
): Promise<{ port: number; stop(): Promise<void> }> {
  const local = freePort();
  const child = new Deno.Command(TIMEOUT, {
    args: [
      ...["-k", "5", String(6 * 3600), "ssh", "-N", "-o", "ExitOnForwardFailure=yes"],
      ...["-L", `127.0.0.1:${local}:127.0.0.1:${target}`, ...sshArgs(port, cipher), "127.0.0.1"],
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    cwd: ROOT,
  }).spawn();
  live.add(child);
  let err = "";
  (async () => {
    for await (const c of child.stderr.pipeThrough(new TextDecoderStream())) {
      if (err.length < 100_000) err += c;
    }
  })().catch(() => {});
  let exited = false;
  child.status.then(() => exited = true);
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* gone */ }
    await child.status;
    live.delete(child);
  };
  const deadline = performance.now() + 60_000;
  for (;;) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port: local })).close();
      return { port: local, stop };
    } catch { /* not yet */ }
    if (exited || performance.now() > deadline) {
      await stop();
      throw new Error(`ssh -L did not start: ${err.trim().slice(-300) || "timed out"}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** rxssh's `localForward` in a worker (`forward` mode) or `ssh -L`, client -> server, to `target`. */
async function startForwarder(
  p: { client: ClientImpl; server: ServerImpl },
  cipher: string,
  target: number,
): Promise<{ port: number; stop(): Promise<void> }> {
  const { port } = await ensureServer(
    p.server,
    profileLabel("forward", "server", p.server, cipher),
  );
  if (p.client === "openssh") return sshLocalForward(port, cipher, target);
  if (!p.client.startsWith("rxssh-")) throw new Error(`no forward client ${p.client}`);
  const [cmd, args] = workerCmd(
    p.client as "rxssh-deno" | "rxssh-bun",
    profileLabel("forward", "client", p.client, cipher),
  );
  const o = { ...workerOpts(port, cipher), target: { host: "127.0.0.1", port: target } };
  const d = await startDaemon(cmd, [...args, "forward", JSON.stringify(o)], 6 * 3600);
  daemons.add(d);
  return {
    port: Number(d.info.port),
    stop: async () => {
      await d.stop();
      daemons.delete(d);
    },
  };
}

async function runForward(): Promise<unknown> {
  const pairs: { role: "client" | "server"; client: ClientImpl; server: ServerImpl }[] = [];
  for (const c of [...ourImpls, "openssh" as const]) {
    pairs.push({ role: "client", client: c, server: "sshd" });
  }
  for (const s of ourImpls) pairs.push({ role: "server", client: "openssh", server: s });
  const target = startForwardTarget();
  const cells: BulkCell[] = [];
  // The harness alone (driver -> target, no tunnel): what every cell's figure is bounded by.
  const direct: Record<string, number> = {};
  try {
    for (const dir of ["up", "down"] as const) {
      await forwardOnce(target.port, dir, Math.min(config.bytes, 8 * 1024 * 1024));
      direct[dir] = await forwardOnce(target.port, dir, config.bytes);
    }
    console.log(
      `  no tunnel (the harness alone): up ${direct.up.toFixed(0)} MB/s, ` +
        `down ${direct.down.toFixed(0)} MB/s`,
    );
    for (const cipher of config.ciphers) {
      // Every pair's forward is up for the whole cipher, so the repetitions interleave.
      const fwds = new Map<typeof pairs[number], { port: number; stop(): Promise<void> }>();
      const cellOf = new Map<typeof pairs[number], Record<"up" | "down", BulkCell>>();
      for (const p of pairs) {
        const key = `${p.client}>${p.server} ${cipher}`;
        try {
          const f = await startForwarder(p, cipher, target.port);
          fwds.set(p, f);
          // Warm-up (JIT, windows), not recorded.
          const warm = Math.min(config.bytes, 8 * 1024 * 1024);
          for (const dir of ["up", "down"] as const) await forwardOnce(f.port, dir, warm);
          const cell = (dir: "up" | "down"): BulkCell => ({ ...p, cipher, dir, mbps: [] });
          const c = { up: cell("up"), down: cell("down") };
          cellOf.set(p, c);
          cells.push(c.up, c.down);
        } catch (e) {
          fail("forward", key, e);
        }
      }
      const broken = new Set<string>();
      for (let rep = 0; rep < config.reps; rep++) {
        for (const dir of ["up", "down"] as const) {
          for (const [p, f] of fwds) {
            const key = `${p.client}>${p.server} ${cipher} ${dir}`;
            if (broken.has(key)) continue;
            try {
              const v = await forwardOnce(f.port, dir, config.bytes);
              cellOf.get(p)![dir].mbps.push(v);
              console.log(`  [${rep + 1}/${config.reps}] ${key}: ${v.toFixed(1)} MB/s`);
            } catch (e) {
              broken.add(key);
              fail("forward", key, e);
            }
          }
        }
      }
      for (const f of fwds.values()) await f.stop();
    }
  } finally {
    target.close();
  }
  for (const c of cells) c.median = median(c.mbps);
  return {
    config: { bytes: config.bytes, reps: config.reps, ciphers: config.ciphers, kex: KEX },
    directMBps: direct,
    cells,
  };
}

// ---------------------------------------------------------------------------
// sftp: get and put of one large file and of a directory of small files

type SftpOp = "get" | "put";
type SftpKind = "file" | "tree";

interface SftpCell {
  role: "client" | "server";
  client: ClientImpl;
  server: ServerImpl;
  cipher: string;
  op: SftpOp;
  kind: SftpKind;
  /** Net seconds per repetition (OpenSSH's sftp: minus its empty-batch time). */
  seconds: number[];
  mbps: number[];
  /** Median MB/s. */
  median?: number;
  /** Tree cells: median files per second. */
  filesPerSecond?: number;
  /** What the first repetition's destination was checked against: size always, SHA-256 once. */
  verified?: string;
  /** READ/WRITE lengths the rxssh client used (from limits@openssh.com). */
  blocks?: { read: number; write: number };
}

/** The sources every transfer copies, made once per run, with their SHA-256 sums. */
interface SftpFixtures {
  dir: string;
  file: string;
  fileSha: string;
  tree: string;
  /** name -> SHA-256 of each file of the tree. */
  treeSha: Map<string, string>;
}

const sha256File = async (file: string): Promise<string> => {
  const r = await run("sha256sum", [file], { timeoutS: 600 });
  if (r.code !== 0) throw new Error(`sha256sum ${file}: ${r.stderr.trim()}`);
  return r.stdout.split(" ")[0];
};

const sha256Bytes = async (b: Uint8Array): Promise<string> =>
  Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", b as BufferSource)))
    .map((x) => x.toString(16).padStart(2, "0")).join("");

/** Random contents (no compression anywhere, but no shortcut for a sparse file either). */
async function sftpFixtures(): Promise<SftpFixtures> {
  const dir = path.join(tmp, "sftp");
  const src = path.join(dir, "src");
  const tree = path.join(src, "tree");
  fs.mkdirSync(tree, { recursive: true });
  const file = path.join(src, "big.bin");
  const r = await run("sh", [
    "-c",
    `head -c ${config.bytes} /dev/urandom > "$1"`,
    "sh",
    file,
  ], { timeoutS: 600 });
  if (r.code !== 0 || fs.statSync(file).size !== config.bytes) {
    throw new Error(`could not make the ${config.bytes}-byte source file: ${r.stderr.trim()}`);
  }
  const treeSha = new Map<string, string>();
  const width = String(config.treeFiles - 1).length;
  for (let i = 0; i < config.treeFiles; i++) {
    const name = `f${String(i).padStart(width, "0")}`;
    const data = new Uint8Array(config.treeFileSize);
    for (let off = 0; off < data.length; off += 65536) {
      crypto.getRandomValues(data.subarray(off, Math.min(data.length, off + 65536)));
    }
    fs.writeFileSync(path.join(tree, name), data);
    treeSha.set(name, await sha256Bytes(data));
  }
  return { dir, file, fileSha: await sha256File(file), tree, treeSha };
}

/**
 * Checks what a transfer left at `dest` against the source: sizes always
 * (and the file count of a tree), contents (SHA-256) when `hash`. A
 * transfer that moved fewer bytes, or wrong ones, fails its cell.
 */
async function verifySftp(
  fx: SftpFixtures,
  kind: SftpKind,
  dest: string,
  hash: boolean,
): Promise<string> {
  if (kind === "file") {
    const size = fs.statSync(dest).size;
    if (size !== config.bytes) throw new Error(`${dest} holds ${size} bytes, not ${config.bytes}`);
    if (hash && await sha256File(dest) !== fx.fileSha) {
      throw new Error(`${dest}: SHA-256 differs from the source's`);
    }
    return hash ? "size, sha256" : "size";
  }
  const names = fs.readdirSync(dest);
  if (names.length !== fx.treeSha.size) {
    throw new Error(`${dest} holds ${names.length} entries, not ${fx.treeSha.size}`);
  }
  for (const name of names) {
    const want = fx.treeSha.get(name);
    if (!want) throw new Error(`${dest}/${name} is not in the source tree`);
    const data = fs.readFileSync(path.join(dest, name));
    if (data.length !== config.treeFileSize) {
      throw new Error(`${dest}/${name} holds ${data.length} bytes, not ${config.treeFileSize}`);
    }
    if (hash && await sha256Bytes(data) !== want) {
      throw new Error(`${dest}/${name}: SHA-256 differs from the source's`);
    }
  }
  return hash ? "count, sizes, sha256" : "count, sizes";
}

/** OpenSSH sftp's arguments (it spells the port -P); the target goes last. */
function sftpArgs(port: number, cipher: string): string[] {
  const a = sshArgs(port, cipher).filter((_, i, all) =>
    !["-p", "-l"].includes(all[i]) && !["-p", "-l"].includes(all[i - 1])
  );
  return ["-P", String(port), ...a];
}

/** `sftp -b batch`: its wall time in ms (the whole process: connect, auth, commands). */
async function sftpBatch(port: number, cipher: string, lines: string[]): Promise<number> {
  const batch = path.join(tmp, `batch-${++sftpSeq}`);
  fs.writeFileSync(batch, lines.map((l) => l + "\n").join(""));
  try {
    const r = await run(
      "sftp",
      ["-b", batch, ...sftpArgs(port, cipher), `${USER}@127.0.0.1`],
      { timeoutS: 60 + config.bytes / (1024 * 1024), stdout: "null" },
    );
    if (r.code !== 0) throw new Error(`sftp -b exit ${r.code}: ${r.stderr.trim().slice(0, 300)}`);
    return r.ms;
  } finally {
    fs.rmSync(batch, { force: true });
  }
}
let sftpSeq = 0;

/**
 * One transfer of a cell into a fresh destination directory: the net
 * seconds, and the rxssh client's block sizes. Get copies the source to
 * `<dest>/<name>`, put the same way round: both ends are this machine, so
 * a "remote" path is a local one too.
 */
async function sftpOnce(
  p: { client: ClientImpl; server: ServerImpl; role: "client" | "server" },
  port: number,
  c: { cipher: string; op: SftpOp; kind: SftpKind },
  io: { source: string; dest: string; overheadMs: number },
): Promise<{ seconds: number; blocks?: { read: number; write: number } }> {
  const recursive = c.kind === "tree";
  if (p.client === "openssh") {
    const cmd = `${c.op}${recursive ? " -r" : ""} ${io.source} ${io.dest}`;
    const ms = await sftpBatch(port, c.cipher, [cmd]);
    const s = (ms - io.overheadMs) / 1000;
    if (s < ms / 1000 / 4) {
      throw new Error(
        `sftp's connect+auth (${io.overheadMs.toFixed(0)} ms) is most of the ${
          ms.toFixed(0)
        } ms run: use a larger --bytes or --tree-files`,
      );
    }
    return { seconds: s };
  }
  const [cmd, args] = workerCmd(
    p.client as "rxssh-deno" | "rxssh-bun" | "ssh2-node",
    profileLabel("sftp", "client", p.client, c.cipher, `${c.op}-${c.kind}`),
  );
  const [remote, local] = c.op === "get" ? [io.source, io.dest] : [io.dest, io.source];
  const o = { ...workerOpts(port, c.cipher), op: c.op, remote, local, recursive };
  const j = await runJson(
    cmd,
    [...args, "sftp", JSON.stringify(o)],
    60 + config.bytes / (1024 * 1024),
  );
  return { seconds: Number(j.seconds), blocks: j.blocks as SftpCell["blocks"] };
}

const sftpServerLabel = (s: ServerImpl, cipher: string, what: string) =>
  profileLabel("sftp", "server", s, cipher, what);

/**
 * OpenSSH's sftp is a process: the median time of 5 empty batches
 * (connect, auth, the SFTP handshake), per pair and cipher, keyed
 * `client>server cipher`; what its transfers subtract.
 */
async function sftpOverheads(
  pairs: { client: ClientImpl; server: ServerImpl }[],
): Promise<Map<string, number>> {
  const overhead = new Map<string, number>();
  for (const p of pairs.filter((p) => p.client === "openssh")) {
    for (const cipher of config.sftpCiphers) {
      const key = `${p.client}>${p.server} ${cipher}`;
      try {
        const { port } = await ensureServer(
          p.server,
          sftpServerLabel(p.server, cipher, "overhead"),
        );
        const xs = [];
        for (let i = 0; i < 5; i++) xs.push(await sftpBatch(port, cipher, []));
        overhead.set(key, median(xs));
      } catch (e) {
        fail("sftp", `${key} empty batch`, e);
      }
    }
  }
  return overhead;
}

/**
 * The sftp workload (see README): repetitions outermost, then cipher,
 * kind, direction and pair, so that every cell's repetitions are spread
 * over the run as bulk's are. One loop kept in one piece (~90 lines) so
 * the order of the transfers reads top to bottom.
 */
async function runSftp(): Promise<unknown> {
  const pairs: { role: "client" | "server"; client: ClientImpl; server: ServerImpl }[] = [];
  for (const c of [...ourImpls, "ssh2-node" as const, "openssh" as const]) {
    pairs.push({ role: "client", client: c, server: "sshd" });
  }
  for (const s of ourImpls) pairs.push({ role: "server", client: "openssh", server: s });
  const fx = await sftpFixtures();
  const treeBytes = config.treeFiles * config.treeFileSize;
  console.log(
    `  sources: ${config.bytes} bytes in one file; ${config.treeFiles} files of ${config.treeFileSize} bytes`,
  );
  const overhead = await sftpOverheads(pairs);
  console.log(
    `  sftp -b empty batch subtracted (ms): ${
      [...overhead].map(([k, v]) => `${k.replace("@openssh.com", "")} ${v.toFixed(0)}`).join(", ")
    }`,
  );
  const cells = new Map<string, SftpCell>();
  const broken = new Set<string>();
  const kinds: SftpKind[] = ["file", "tree"];
  let seq = 0;
  for (let rep = 0; rep < config.reps; rep++) {
    for (const cipher of config.sftpCiphers) {
      for (const kind of kinds) {
        for (const op of ["get", "put"] as const) {
          for (const p of pairs) {
            const key = `${p.client}>${p.server} ${cipher} ${op} ${kind}`;
            const over = overhead.get(`${p.client}>${p.server} ${cipher}`) ?? 0;
            if (broken.has(key) || (p.client === "openssh" && !over)) continue;
            let cell = cells.get(key);
            if (!cell) cells.set(key, cell = { ...p, cipher, op, kind, seconds: [], mbps: [] });
            const parent = path.join(fx.dir, `dst-${++seq}`);
            fs.mkdirSync(parent);
            try {
              const { port } = await ensureServer(
                p.server,
                sftpServerLabel(p.server, cipher, `${op}-${kind}`),
              );
              const source = kind === "file" ? fx.file : fx.tree;
              const dest = path.join(parent, path.basename(source));
              const r = await sftpOnce(p, port, { cipher, op, kind }, {
                source,
                dest,
                overheadMs: over,
              });
              // Checked before it counts: sizes every time, contents on the first repetition.
              const verified = await verifySftp(fx, kind, dest, !cell.verified);
              cell.verified ??= verified;
              cell.blocks ??= r.blocks;
              cell.seconds.push(r.seconds);
              cell.mbps.push((kind === "file" ? config.bytes : treeBytes) / 1e6 / r.seconds);
              console.log(
                `  [${rep + 1}/${config.reps}] ${key.replace("@openssh.com", "")}: ${
                  kind === "file"
                    ? `${cell.mbps.at(-1)!.toFixed(1)} MB/s`
                    : `${(config.treeFiles / r.seconds).toFixed(0)} files/s`
                } (${r.seconds.toFixed(2)} s)`,
              );
            } catch (e) {
              broken.add(key);
              fail("sftp", key, e);
            } finally {
              fs.rmSync(parent, { recursive: true, force: true });
            }
          }
        }
      }
    }
  }
  for (const c of cells.values()) {
    c.median = median(c.mbps);
    if (c.kind === "tree") c.filesPerSecond = config.treeFiles / median(c.seconds);
  }
  fs.rmSync(fx.dir, { recursive: true, force: true });
  return {
    config: {
      bytes: config.bytes,
      treeFiles: config.treeFiles,
      treeFileSize: config.treeFileSize,
      reps: config.reps,
      ciphers: config.sftpCiphers,
      kex: KEX,
      sshd: "Subsystem sftp internal-sftp",
      timing:
        "rxssh and ssh2 workers: the get/put call only (connected, session open); OpenSSH sftp -b: the process minus the median of an empty batch (5 runs) for the same pair and cipher",
      tree:
        "rxssh: get/put with recursive (8 files at once, its default); ssh2: readdir + fastGet/fastPut, 8 files at once; OpenSSH sftp: get -r/put -r (one file after another)",
    },
    overheadMs: Object.fromEntries(overhead),
    cells: [...cells.values()],
  };
}

async function runMicro(): Promise<unknown> {
  const r = await run(DENO_BIN, ["bench", "-A", "--json", "bench/packet_bench.ts"], {
    timeoutS: 600,
  });
  if (r.code !== 0) throw new Error(`deno bench: exit ${r.code}: ${r.stderr.slice(-300)}`);
  const j = JSON.parse(r.stdout);
  const rows = [];
  for (const b of j.benches ?? []) {
    const ok = b.results?.[0]?.ok;
    if (!ok) continue;
    const avgNs = Number(ok.avg);
    rows.push({
      name: b.name,
      avgNs,
      p99Ns: Number(ok.p99),
      mbps: (32 * 1024) / (avgNs / 1e9) / 1e6,
    });
  }
  for (const row of rows) {
    console.log(`  ${row.name}: ${(row.avgNs / 1000).toFixed(1)} µs (${row.mbps.toFixed(0)} MB/s)`);
  }
  return { runtime: j.runtime, cpu: j.cpu, rows };
}

// ---------------------------------------------------------------------------
// Machine and versions

async function version(cmd: string, args: string[]): Promise<string> {
  try {
    const r = await run(cmd, args, { timeoutS: 30 });
    return (r.stdout + r.stderr).trim().split("\n")[0];
  } catch (e) {
    return `unknown (${e})`;
  }
}

async function machine(): Promise<Record<string, unknown>> {
  const cpuinfo = fs.readFileSync("/proc/cpuinfo", "utf8");
  const mem = /MemTotal:\s+(\d+)/.exec(fs.readFileSync("/proc/meminfo", "utf8"));
  const git = await run("git", ["rev-parse", "--short", "HEAD"], { timeoutS: 10 });
  return {
    nproc: navigator.hardwareConcurrency,
    cpu: /model name\s*:\s*(.+)/.exec(cpuinfo)?.[1]?.trim() ?? "unknown",
    kernel: `${os.type()} ${os.release()} ${os.arch()}`,
    memTotalMiB: mem ? Math.round(Number(mem[1]) / 1024) : undefined,
    // A snapshot outside git (see README) passes its commit in RXSSH_COMMIT.
    rxsshCommit: git.stdout.trim() || Deno.env.get("RXSSH_COMMIT") || "unknown",
  };
}

async function versions(): Promise<Record<string, string>> {
  const ssh2Pkg = JSON.parse(
    fs.readFileSync(path.join(ROOT, "node_modules/ssh2/package.json"), "utf8"),
  );
  let ssh2Native = false;
  try {
    const r = await run(NODE, [
      "-e",
      "process.stdout.write(String(require('ssh2/lib/protocol/crypto.js').bindingAvailable))",
    ], { timeoutS: 30 });
    ssh2Native = r.stdout.trim() === "true";
  } catch { /* unknown */ }
  return {
    deno: await version(DENO_BIN, ["--version"]),
    bun: await version(BUN, ["--version"]),
    node: await version(NODE, ["--version"]),
    openssh: findOpenSsh()?.version ?? "not installed",
    ssh2: `${ssh2Pkg.version}${
      ssh2Native ? " (native crypto binding)" : " (no native binding: pure JS + node:crypto)"
    }`,
  };
}

// ---------------------------------------------------------------------------
// Table

const fmt = (v: number | undefined, d = 1) =>
  v === undefined || !Number.isFinite(v) ? "-" : v.toFixed(d);
const ratio = (a?: number, b?: number) =>
  a && b && a > 0 && b > 0 && Number.isFinite(a) && Number.isFinite(b) ? (a / b).toFixed(2) : "-";

function table(rows: string[][]): string {
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows.map((r, j) => {
    const line = r.map((c, i) => i === 0 ? c.padEnd(w[i]) : c.padStart(w[i])).join("  ");
    return j === 0 ? `${line}\n${w.map((n) => "-".repeat(n)).join("  ")}` : line;
  }).join("\n");
}

// deno-lint-ignore no-explicit-any
function report(results: Record<string, any>): string {
  const parts: string[] = [];
  const ours = ["rxssh-deno", "rxssh-bun"];
  if (results.bulk?.cells) {
    const cells = results.bulk.cells as BulkCell[];
    const rows = [[
      "bulk MB/s (median)",
      ...ours,
      "ssh2",
      "openssh",
      ...ours.map((o) => `${o.slice(6)}/openssh`),
      ...ours.map((o) => `${o.slice(6)}/ssh2`),
      ...ours.map((o) => `ssh2-${o.slice(6)}`),
      ...ours.map((o) => `${o.slice(6)}/ssh2-${o.slice(6)}`),
    ]];
    for (const role of ["client", "server"] as const) {
      for (const cipher of results.bulk.config.ciphers as string[]) {
        for (const dir of ["up", "down"]) {
          const get = (impl: string) => {
            const c = cells.find((c) =>
              c.cipher === cipher && c.dir === dir &&
              (role === "client"
                ? c.client === impl && c.server === "sshd"
                : c.server === impl && c.client === "openssh")
            );
            return c?.median;
          };
          const ref = get(role === "client" ? "openssh" : "sshd");
          const s2 = get("ssh2-node");
          const v = ours.map(get);
          // ssh2 under the same runtime (client side only; "-" when it failed or was not run).
          const same = ours.map((o) => role === "client" ? get(`ssh2-${o.slice(6)}`) : undefined);
          rows.push([
            `${role} ${cipher.replace("@openssh.com", "")} ${dir}`,
            ...v.map((x) => fmt(x)),
            fmt(s2),
            fmt(ref),
            ...v.map((x) => ratio(x, ref)),
            ...v.map((x) => ratio(x, s2)),
            ...same.map((x) => fmt(x)),
            ...v.map((x, i) => ratio(x, same[i])),
          ]);
        }
      }
    }
    parts.push(table(rows));
  }
  const pairTable = (
    title: string,
    // deno-lint-ignore no-explicit-any
    list: any[],
    // deno-lint-ignore no-explicit-any
    value: (r: any) => number,
    digits: number,
  ) => {
    const rows = [[
      title,
      ...ours,
      "ssh2",
      "openssh",
      ...ours.map((o) => `${o.slice(6)}/openssh`),
      ...ours.map((o) => `${o.slice(6)}/ssh2`),
    ]];
    for (const role of ["server", "client"]) {
      const get = (impl: string) => {
        const r = list.find((r) =>
          r.role === role &&
          (r.impl ?? (role === "server" ? r.server : r.client)) ===
            (impl === "openssh" ? (role === "server" ? "sshd" : "openssh") : impl)
        );
        return r ? value(r) : undefined;
      };
      const v = ours.map(get);
      const ref = get("openssh");
      const s2 = get("ssh2-node");
      rows.push([
        role,
        ...v.map((x) => fmt(x, digits)),
        fmt(s2, digits),
        fmt(ref, digits),
        ...v.map((x) => ratio(x, ref)),
        ...v.map((x) => ratio(x, s2)),
      ]);
    }
    return table(rows);
  };
  if (results.setup?.rows) {
    const c = results.setup.config;
    parts.push(
      pairTable(
        c.setupProcs
          ? `setup conn/s (server: ssh2 ${c.setupProcs}x${c.concurrency}; client: ${c.concurrency})`
          : `setup conn/s (${c.concurrency} concurrent)`,
        results.setup.rows,
        (r) => r.rate,
        1,
      ),
    );
    const server = (impl: string) =>
      (results.setup.rows as SetupRow[]).find((r) => r.role === "server" && r.server === impl)
        ?.cpuMsPerConn;
    if (ours.some((o) => server(o) !== undefined)) {
      const v = ours.map(server);
      const s2 = server("ssh2-node");
      const ref = server("sshd");
      // Lower is better: ratios are theirs / ours, so above 1 means we use less CPU.
      parts.push(table([
        [
          "setup server CPU ms/conn (lower is better; ratios theirs/ours, >1 = we use less)",
          ...ours,
          "ssh2",
          "sshd",
          ...ours.map((o) => `sshd/${o.slice(6)}`),
          ...ours.map((o) => `ssh2/${o.slice(6)}`),
        ],
        [
          "server",
          ...v.map((x) => fmt(x, 2)),
          fmt(s2, 2),
          fmt(ref, 2),
          ...v.map((x) => ratio(ref, x)),
          ...v.map((x) => ratio(s2, x)),
        ],
      ]));
    }
  }
  if (results.latency?.rows) {
    parts.push(
      pairTable("latency p50 ms (lower is better)", results.latency.rows, (r) => r.p50, 2),
    );
    parts.push(
      pairTable("latency p99 ms (lower is better)", results.latency.rows, (r) => r.p99, 2),
    );
  }
  if (results.memory?.rows) {
    parts.push(
      pairTable(
        `memory KiB/conn, ${results.memory.config.conns} idle (sshd: PSS; lower is better)`,
        results.memory.rows,
        (r) => r.kibPerConn ?? r.rssKiBPerConn,
        1,
      ),
    );
  }
  if (results.micro?.rows) {
    parts.push(
      table([
        ["micro (deno bench, 32 KiB packet)", "µs", "MB/s"],
        ...results.micro.rows.map((
          r: { name: string; avgNs: number; mbps: number },
        ) => [
          r.name.replace("seal+open 32 KiB: ", "seal+open "),
          fmt(r.avgNs / 1000, 1),
          fmt(r.mbps, 0),
        ]),
      ]),
    );
  }
  if (results.forward?.cells) {
    const f = results.forward;
    const rows = [[
      `forward MB/s (median of ${f.config.reps}, ${Math.round(f.config.bytes / 2 ** 20)} MiB)`,
      ...ours,
      "openssh",
      ...ours.map((o) => `${o.slice(6)}/openssh`),
    ]];
    for (const role of ["client", "server"] as const) {
      for (const cipher of f.config.ciphers as string[]) {
        for (const dir of ["up", "down"]) {
          // Client side: the forwarder under test (-L) against sshd; server side: ssh -L against it.
          const get = (impl: string) =>
            (f.cells as BulkCell[]).find((c) =>
              c.cipher === cipher && c.dir === dir &&
              (role === "client"
                ? c.client === impl && c.server === "sshd"
                : c.server === (impl === "openssh" ? "sshd" : impl) && c.client === "openssh")
            )?.median;
          const ref = get("openssh");
          const v = ours.map(get);
          rows.push([
            `${role} ${cipher.replace("@openssh.com", "")} ${dir}`,
            ...v.map((x) => fmt(x)),
            fmt(ref),
            ...v.map((x) => ratio(x, ref)),
          ]);
        }
      }
    }
    parts.push(table(rows));
  }
  if (results.sftp?.cells) {
    const sf = results.sftp;
    const cfg = sf.config;
    for (const kind of ["file", "tree"] as const) {
      const rows = [[
        kind === "file"
          ? `sftp MB/s, one ${Math.round(cfg.bytes / 2 ** 20)} MiB file (median of ${cfg.reps})`
          : `sftp files/s, ${cfg.treeFiles} files of ${cfg.treeFileSize} B (median of ${cfg.reps})`,
        ...ours,
        "ssh2",
        "openssh",
        ...ours.map((o) => `${o.slice(6)}/openssh`),
        ...ours.map((o) => `${o.slice(6)}/ssh2`),
      ]];
      for (const role of ["client", "server"] as const) {
        for (const cipher of cfg.ciphers as string[]) {
          for (const op of ["get", "put"]) {
            // Client side: the client under test against sshd; server side: OpenSSH's sftp
            // against it. sftp <-> sshd is the reference of both.
            const get = (impl: string) => {
              const c = (sf.cells as SftpCell[]).find((c) =>
                c.cipher === cipher && c.op === op && c.kind === kind &&
                (role === "client" || impl === "openssh"
                  ? c.client === impl && c.server === "sshd"
                  : c.server === impl && c.client === "openssh")
              );
              return kind === "file" ? c?.median : c?.filesPerSecond;
            };
            const ref = get("openssh");
            const s2 = role === "client" ? get("ssh2-node") : undefined;
            const v = ours.map(get);
            rows.push([
              `${role} ${cipher.replace("@openssh.com", "")} ${op}`,
              ...v.map((x) => fmt(x, kind === "file" ? 1 : 0)),
              fmt(s2, kind === "file" ? 1 : 0),
              fmt(ref, kind === "file" ? 1 : 0),
              ...v.map((x) => ratio(x, ref)),
              ...v.map((x) => ratio(x, s2)),
            ]);
          }
        }
      }
      parts.push(table(rows));
    }
  }
  if (results["small-packets"]?.rows) {
    const sp = results["small-packets"];
    parts.push(table([
      [`small packets: server CPU µs per IGNORE (${sp.config.ignores}, lower is better)`, "µs"],
      ...sp.rows.map((r: { server: string; cipher: string; mac?: string; usPerPacket: number }) => [
        `${r.server} ${r.cipher.replace("@openssh.com", "")}${r.mac ? ` + ${r.mac}` : ""}`,
        fmt(r.usPerPacket, 1),
      ]),
    ]));
  }
  if (results["proxy-memory"]?.rows) {
    const pm = results["proxy-memory"];
    parts.push(table([
      [
        `through HAProxy: KiB/conn, ${pm.config.conns} idle (lower is better)`,
        "backends",
        "HAProxy",
      ],
      ...pm.rows.map((r: { impl: string; rssKiBPerConn: number; haproxyKiBPerConn: number }) => [
        `2x ${r.impl}`,
        fmt(r.rssKiBPerConn, 1),
        fmt(r.haproxyKiBPerConn, 1),
      ]),
    ]));
  }
  if (results["kex-flood"]?.rows) {
    const kf = results["kex-flood"];
    const rows = [[
      `kex flood: login p50 ms under ${kf.config.floodProcs} ssh loops (lower is better)`,
      "flood/s",
      "p50",
      "p90",
    ]];
    for (const r of kf.rows) {
      rows.push([`${r.server} no flood`, "-", fmt(r.quietP50, 0), "-"]);
      for (const f of r.floods) {
        rows.push([`${r.server} ${f.kex}`, fmt(f.floodRate, 1), fmt(f.p50, 0), fmt(f.p90, 0)]);
      }
    }
    parts.push(table(rows));
  }
  return parts.join("\n\n");
}

// ---------------------------------------------------------------------------
// Main

const started = new Date().toISOString();
const jsonPath = path.join(outDir, "latest.json");
// deno-lint-ignore no-explicit-any
let previous: Record<string, any> = {};
if (!fresh && fs.existsSync(jsonPath)) {
  try {
    previous = JSON.parse(fs.readFileSync(jsonPath, "utf8"));
  } catch { /* start afresh */ }
}
// deno-lint-ignore no-explicit-any
const results: Record<string, any> = { ...(previous.results ?? {}) };
const sections: Record<string, unknown> = { ...(previous.sections ?? {}) };
const prevFailures: Failure[] = (previous.failures ?? []).filter((f: Failure) =>
  !workloads.includes(f.workload as Workload)
);

let exitCode = 0;
try {
  console.log(
    `rxssh bench: ${workloads.join(", ")}${quick ? " (quick)" : ""}; load ${loadavg().join(" ")}`,
  );
  const meta = { machine: await machine(), versions: await versions() };
  rxsshCommit = String(meta.machine.rxsshCommit);
  console.log(`  ${meta.machine.cpu} x${meta.machine.nproc}, ${meta.machine.kernel}`);
  console.log(`  ${Object.entries(meta.versions).map(([k, v]) => `${k}: ${v}`).join("; ")}`);
  await keygen(USER_KEY);
  await keygen(HOST_KEY);
  fs.copyFileSync(USER_KEY + ".pub", AUTHORIZED);
  const needServers = workloads.some((w) => w !== "micro");
  if (needServers) {
    try {
      sshd = await startSshd({
        maxLifetimeSeconds: 6 * 3600,
        config: {
          LogLevel: "ERROR",
          AuthorizedKeysFile: AUTHORIZED,
          MaxStartups: "200",
          Ciphers: [...ALL_CIPHERS, "aes128-ctr"].join(","),
          PermitRootLogin: "prohibit-password",
          // sshd runs commands through the user's shell; bash started by sshd sources ~/.bashrc
          // (on the reference machine `pyenv init`: ~100 ms of CPU per command). With SHLVL set
          // bash counts as nested and skips it, so `true` costs what it costs the others.
          SetEnv: "SHLVL=1",
          // The sftp workload: sshd's own SFTP server, in process.
          Subsystem: "sftp internal-sftp",
        },
      });
      servers.set("sshd", { port: sshd.port, pid: sshd.pid });
    } catch (e) {
      fail("setup", "sshd", e);
    }
  }
  const runners: Record<Workload, () => Promise<unknown>> = {
    bulk: runBulk,
    setup: runSetup,
    latency: runLatency,
    memory: runMemory,
    micro: runMicro,
    forward: runForward,
    sftp: runSftp,
    "small-packets": runSmallPackets,
    "kex-flood": runKexFlood,
    "proxy-memory": runProxyMemory,
  };
  for (const w of workloads) {
    const load0 = loadavg();
    const t0 = performance.now();
    console.log(`\n== ${w} (load ${load0.join(" ")})`);
    try {
      results[w] = await runners[w]();
    } catch (e) {
      fail(w, w, e);
      results[w] = { failed: String((e as Error)?.message ?? e) };
    }
    if (profiling && w !== "micro") {
      // The servers exit (and write their profiles); the next workload starts its own.
      for (const s of [...servers.keys()]) await stopServer(s);
      writeProfiles(w);
    }
    sections[w] = {
      at: new Date().toISOString(),
      seconds: Math.round((performance.now() - t0) / 1000),
      loadBefore: load0,
      loadAfter: loadavg(),
      quick,
      // Figures of a --profile run include the profilers' cost.
      ...(profiling && w !== "micro" ? { profiled: true } : {}),
      ...meta,
    };
  }
  const doc = {
    about: "rxssh benchmarks (issue 6): bench/run.ts; see bench/README.md",
    started,
    finished: new Date().toISOString(),
    ...meta,
    sections,
    results,
    failures: [...prevFailures, ...failures],
  };
  console.log("\n" + report(results));
  if (doc.failures.length) {
    console.log(
      `\nfailed:\n${doc.failures.map((f) => `  ${f.workload} ${f.what}: ${f.reason}`).join("\n")}`,
    );
  }
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(jsonPath, JSON.stringify(doc, null, 2) + "\n");
  fs.writeFileSync(path.join(outDir, "latest.svg"), renderSvg(doc));
  console.log(`\nwrote ${jsonPath} and latest.svg`);
} catch (e) {
  console.error(e);
  exitCode = 1;
} finally {
  await cleanup();
  killAll();
}
Deno.exit(exitCode);
