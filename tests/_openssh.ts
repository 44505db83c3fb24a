/**
 * Test harness for interop tests against real OpenSSH on loopback: finds the
 * binaries, runs a private `sshd` (own config, host keys, port and temp dir)
 * and runs `ssh` with a hard timeout.
 *
 * Uses only `node:` builtins, so it works on Deno and Bun. Every `sshd` it
 * starts is stopped by {@link Sshd.stop}, by a process `exit` hook, and in
 * the worst case (the test process killed outright) by the `timeout` wrapper
 * it runs under, after `maxLifetimeSeconds`.
 *
 * @module
 */
import { spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import process from "node:process";

/**
 * Where the OpenSSH binaries are, and their version.
 *
 * @example
 * ```ts
 * import { findOpenSsh } from "./_openssh.ts";
 * const found = findOpenSsh();
 * if (found) console.log(found.sshd, found.version);
 * ```
 */
export interface OpenSshPaths {
  /** The client, e.g. `/usr/bin/ssh`. */
  ssh: string;
  /** The server, by absolute path (sshd re-executes itself and requires one). */
  sshd: string;
  /** `ssh-keygen`. */
  sshKeygen: string;
  /** `ssh -V` output, e.g. `OpenSSH_9.2p1 Debian-2+deb12u10, OpenSSL 3.0.19 ...`. */
  version: string;
  /** Major and minor version, e.g. `[9, 2]`. */
  versionNumber: [number, number];
}

const SEARCH_DIRS = ["/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin", "/bin", "/sbin"];

function findExecutable(name: string, dirs: string[]): string | undefined {
  for (const dir of dirs) {
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

let found: OpenSshPaths | null | undefined;

/**
 * Finds `ssh`, `sshd` and `ssh-keygen` (on `PATH` and in the usual system
 * directories). Returns `undefined` when any of them is missing.
 *
 * @example
 * ```ts
 * import { findOpenSsh } from "./_openssh.ts";
 * if (!findOpenSsh()) console.log("OpenSSH is not installed");
 * ```
 */
export function findOpenSsh(): OpenSshPaths | undefined {
  if (found !== undefined) return found ?? undefined;
  const pathDirs = (process.env.PATH ?? "").split(":").filter((d) => d.startsWith("/"));
  const dirs = [...pathDirs, ...SEARCH_DIRS];
  const ssh = findExecutable("ssh", dirs);
  // sshd: prefer the system location, as the brief for sshd is an absolute path.
  const sshd = findExecutable("sshd", ["/usr/sbin", "/usr/local/sbin", "/sbin", ...pathDirs]);
  const sshKeygen = findExecutable("ssh-keygen", dirs);
  if (!ssh || !sshd || !sshKeygen) {
    found = null;
    return undefined;
  }
  const v = spawnSync(ssh, ["-V"], { encoding: "utf8", timeout: 10_000 });
  const version = `${v.stderr ?? ""}${v.stdout ?? ""}`.trim();
  const m = /OpenSSH_(\d+)\.(\d+)/.exec(version);
  found = {
    ssh,
    sshd,
    sshKeygen,
    version,
    versionNumber: m ? [Number(m[1]), Number(m[2])] : [0, 0],
  };
  return found;
}

/**
 * The login name of the user running the tests, for `ssh -l` against a
 * harness sshd (which only lets that user, or root, log in). Asks `id -un`,
 * since Bun's `os.userInfo().username` may be `"unknown"`.
 *
 * @example
 * ```ts
 * import { currentUser } from "./_openssh.ts";
 * console.log(currentUser()); // e.g. "root"
 * ```
 */
export function currentUser(): string {
  const r = spawnSync("id", ["-un"], { encoding: "utf8", timeout: 5000 });
  const name = typeof r.stdout === "string" ? r.stdout.trim() : "";
  if (r.status === 0 && name) return name;
  return process.env.USER ?? process.env.LOGNAME ?? os.userInfo().username;
}

/** Host key types that {@link startSshd} can generate. */
const HOST_KEY_TYPES: Record<string, { args: string[]; algorithm: string }> = {
  ed25519: { args: ["-t", "ed25519"], algorithm: "ssh-ed25519" },
  ecdsa256: { args: ["-t", "ecdsa", "-b", "256"], algorithm: "ecdsa-sha2-nistp256" },
  ecdsa384: { args: ["-t", "ecdsa", "-b", "384"], algorithm: "ecdsa-sha2-nistp384" },
  ecdsa521: { args: ["-t", "ecdsa", "-b", "521"], algorithm: "ecdsa-sha2-nistp521" },
  rsa2048: { args: ["-t", "rsa", "-b", "2048"], algorithm: "ssh-rsa" },
  rsa3072: { args: ["-t", "rsa", "-b", "3072"], algorithm: "ssh-rsa" },
  rsa4096: { args: ["-t", "rsa", "-b", "4096"], algorithm: "ssh-rsa" },
};

const HOST_KEY_ALIASES: Record<string, string> = {
  "ssh-ed25519": "ed25519",
  ecdsa: "ecdsa256",
  "ecdsa-256": "ecdsa256",
  "ecdsa-384": "ecdsa384",
  "ecdsa-521": "ecdsa521",
  "ecdsa-sha2-nistp256": "ecdsa256",
  "ecdsa-sha2-nistp384": "ecdsa384",
  "ecdsa-sha2-nistp521": "ecdsa521",
  rsa: "rsa3072",
  "ssh-rsa": "rsa3072",
  "rsa-sha2-256": "rsa3072",
  "rsa-sha2-512": "rsa3072",
};

/**
 * A host key of a running {@link Sshd}.
 *
 * @example
 * ```ts
 * import type { SshdHostKey } from "./_openssh.ts";
 * const line = (k: SshdHostKey) => `[127.0.0.1]:2222 ${k.pubLine}`; // a known_hosts line
 * ```
 */
export interface SshdHostKey {
  /** The harness's name of the type: `ed25519`, `ecdsa256`, ..., `rsa3072`. */
  type: string;
  /** The public key algorithm name as in the `.pub` file, e.g. `ssh-ed25519`. */
  algorithm: string;
  /** The private key file (OpenSSH format). */
  path: string;
  /** The public key file. */
  pubPath: string;
  /** The public key line, `"<algorithm> <base64>"` (no comment). */
  pubLine: string;
}

/**
 * Options of {@link startSshd}.
 *
 * @example
 * ```ts
 * import type { StartSshdOptions } from "./_openssh.ts";
 * const options: StartSshdOptions = {
 *   hostKeyTypes: ["ed25519", "rsa3072"],
 *   config: { PubkeyAuthentication: "yes", AuthorizedKeysFile: "/tmp/keys" },
 * };
 * ```
 */
export interface StartSshdOptions {
  /**
   * Host keys to generate: `ed25519` (default), `ecdsa256`, `ecdsa384`,
   * `ecdsa521`, `rsa2048`, `rsa3072` (`rsa`), `rsa4096`; wire names such as
   * `ecdsa-sha2-nistp256` are accepted too.
   */
  hostKeyTypes?: string[];
  /**
   * Extra `sshd_config` keywords. An array gives one line per value. A
   * keyword given here replaces the harness's default for it (`Port` is
   * ignored: use `port`; `HostKey` adds to the generated keys). One `Match`
   * block may go last: its criteria, then its lines, e.g.
   * `{ Match: ["User nobody", "PasswordAuthentication yes"] }`.
   */
  config?: Record<string, string | string[]>;
  /** The port (default: a free one picked by the OS). */
  port?: number;
  /** How long to wait for sshd to accept connections (default 10 s). */
  startTimeoutMs?: number;
  /** sshd is killed after this long even if nothing stops it (default 1800 s). */
  maxLifetimeSeconds?: number;
}

/**
 * A running `sshd`, from {@link startSshd}.
 *
 * @example
 * ```ts
 * import { startSshd } from "./_openssh.ts";
 * const sshd = await startSshd({});
 * try {
 *   console.log(sshd.port, sshd.hostKeys[0].pubLine);
 * } finally {
 *   await sshd.stop();
 * }
 * ```
 */
export interface Sshd {
  /** The loopback port it listens on (127.0.0.1). */
  port: number;
  /** Its private temporary directory (config, keys, pid file); removed by `stop()`. */
  dir: string;
  /** Path of its `sshd_config`. */
  configPath: string;
  /** The host keys it offers. */
  hostKeys: SshdHostKey[];
  /** The pid of the `sshd` listener process. */
  pid: number;
  /** Everything sshd wrote so far (LogLevel DEBUG3, to stderr). */
  log(): string;
  /** Stops sshd and its connection processes, then removes `dir`. Idempotent. */
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------
// Process bookkeeping: nothing we start may outlive the test process.

const running = new Set<ChildProcess>();
/** Temp dirs of sshd instances not stopped yet. */
const liveDirs = new Set<string>();
let exitHookInstalled = false;
let keyCacheDir: string | undefined;

function cleanupAtExit(): void {
  for (const child of running) killTree(child, "SIGKILL");
  running.clear();
  for (const dir of [...liveDirs, ...(keyCacheDir ? [keyCacheDir] : [])]) {
    try {
      fs.rmSync(dir, { recursive: true, force: true });
    } catch {
      // best effort
    }
  }
  liveDirs.clear();
  keyCacheDir = undefined;
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Bun and Node emit process "exit"; `deno test` does not, but fires "unload".
  process.on("exit", cleanupAtExit);
  if (typeof globalThis.addEventListener === "function") {
    globalThis.addEventListener("unload", cleanupAtExit);
  }
}

/** Pids of the descendants of `pid` (Linux /proc; empty elsewhere). */
function descendants(pid: number): number[] {
  let entries: string[];
  try {
    entries = fs.readdirSync("/proc").filter((e) => /^\d+$/.test(e));
  } catch {
    return [];
  }
  const children = new Map<number, number[]>();
  for (const e of entries) {
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, "utf8");
      // pid (comm) state ppid ...; comm may contain spaces and parentheses.
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(e));
      children.set(ppid, list);
    } catch {
      // the process went away
    }
  }
  const out: number[] = [];
  const stack = [pid];
  while (stack.length) {
    for (const c of children.get(stack.pop()!) ?? []) {
      out.push(c);
      stack.push(c);
    }
  }
  return out;
}

/**
 * Signals `child`, its process group (the `timeout` wrapper leads one) and
 * every descendant (sshd's per-connection processes call setsid).
 */
function killTree(child: ChildProcess, signal: "SIGTERM" | "SIGKILL"): void {
  const pid = child.pid;
  if (pid === undefined) return;
  const pids = descendants(pid);
  try {
    process.kill(-pid, signal);
  } catch {
    // no such group (already gone, or no timeout wrapper)
  }
  for (const p of [pid, ...pids]) {
    try {
      process.kill(p, signal);
    } catch {
      // already gone
    }
  }
}

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

// ---------------------------------------------------------------------------

/**
 * Asks the OS for a free loopback TCP port (listen on port 0, close).
 *
 * @example
 * ```ts
 * import { freePort } from "./_openssh.ts";
 * console.log(await freePort());
 * ```
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port: 0 }, () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.createConnection({ host: "127.0.0.1", port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/**
 * Waits until something accepts connections on 127.0.0.1:`port` (a
 * forward's listener, a server); throws after `ms`.
 *
 * @example
 * ```ts
 * import { listening } from "./_openssh.ts";
 * await listening(8080, 10_000);
 * ```
 */
export async function listening(port: number, ms = 20_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await canConnect(port))) {
    if (Date.now() > until) throw new Error(`nothing listens on 127.0.0.1:${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A long-running helper process (another SSH server) started like the
 * harness's sshd: under `timeout` (killed after `lifetimeSeconds` even if the
 * test process dies), tracked so that the process exit hook kills it and its
 * descendants, its output collected; resolves once `port` on 127.0.0.1
 * accepts connections.
 *
 * @example
 * ```ts
 * import { startDaemon } from "./_openssh.ts";
 * const d = await startDaemon("/usr/sbin/dropbear", ["-F", "-E", "-p", "127.0.0.1:2222"], { port: 2222 });
 * await d.stop();
 * ```
 */
export async function startDaemon(
  file: string,
  args: string[],
  options: { port: number; lifetimeSeconds?: number; startTimeoutMs?: number },
): Promise<{ pid: number; log(): string; stop(): Promise<void> }> {
  installExitHook();
  const timeoutBin = findExecutable("timeout", ["/usr/bin", "/bin", "/usr/local/bin"]);
  const lifetime = String(options.lifetimeSeconds ?? 1800);
  const child = timeoutBin
    ? spawn(timeoutBin, ["-s", "TERM", "-k", "5", lifetime, file, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
    })
    : spawn(file, args, { stdio: ["ignore", "pipe", "pipe"] });
  running.add(child);
  let text = "";
  const append = (c: Uint8Array) => {
    if (text.length < MAX_LOG) text += new TextDecoder().decode(c);
  };
  child.stdout?.on("data", append);
  child.stderr?.on("data", append);
  let exited: string | undefined;
  child.once("exit", (code, signal) => {
    exited = `exited with ${signal ?? code}`;
    running.delete(child);
  });
  child.once("error", (e) => (exited = `could not be started: ${e}`));
  const stop = async () => {
    killTree(child, "SIGTERM");
    if (!(await waitExit(child, 5000))) killTree(child, "SIGKILL");
    running.delete(child);
  };
  const deadline = Date.now() + (options.startTimeoutMs ?? 10_000);
  while (!exited && !(await canConnect(options.port))) {
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${file} did not listen on port ${options.port}:\n${text}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  if (exited) throw new Error(`${file} ${exited}:\n${text}`);
  return { pid: child.pid!, log: () => text, stop };
}

function normalizeHostKeyType(type: string): string {
  const t = HOST_KEY_ALIASES[type] ?? type;
  if (!(t in HOST_KEY_TYPES)) {
    throw new Error(
      `startSshd: unknown host key type ${JSON.stringify(type)}; known: ${
        Object.keys(HOST_KEY_TYPES).join(", ")
      }`,
    );
  }
  return t;
}

/** Generates (once per process) a host key of `type` and copies it into `dir`. */
async function hostKey(sshKeygen: string, type: string, dir: string): Promise<SshdHostKey> {
  if (!keyCacheDir) keyCacheDir = fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-hostkeys-"));
  const cached = path.join(keyCacheDir, `ssh_host_${type}_key`);
  if (!fs.existsSync(cached + ".pub")) {
    fs.rmSync(cached, { force: true });
    const r = await runProcess(
      sshKeygen,
      ["-q", "-N", "", "-C", "", ...HOST_KEY_TYPES[type].args, "-f", cached],
      { timeoutMs: 60_000 },
    );
    if (r.code !== 0) throw new Error(`ssh-keygen ${type} failed (${r.code}): ${r.stderr}`);
  }
  const keyPath = path.join(dir, `ssh_host_${type}_key`);
  fs.copyFileSync(cached, keyPath);
  fs.chmodSync(keyPath, 0o600);
  fs.copyFileSync(cached + ".pub", keyPath + ".pub");
  const [algorithm, b64] = fs.readFileSync(keyPath + ".pub", "utf8").trim().split(/\s+/);
  return {
    type,
    algorithm,
    path: keyPath,
    pubPath: keyPath + ".pub",
    pubLine: `${algorithm} ${b64}`,
  };
}

/**
 * Starts a private `sshd` on 127.0.0.1: a temporary directory with its own
 * `sshd_config`, freshly generated host keys (cached per test process), a
 * free port, `PidFile`, `UsePAM no`, `StrictModes no`, `LogLevel DEBUG3`,
 * run as `sshd -D -e` with the log captured. Resolves once the port accepts
 * connections (or rejects after `startTimeoutMs`, with the log). When running
 * as root, `/run/sshd` (the privilege separation directory) is created.
 *
 * @example
 * ```ts
 * import { startSshd } from "./_openssh.ts";
 * const sshd = await startSshd({
 *   hostKeyTypes: ["ed25519", "ecdsa256"],
 *   config: { KexAlgorithms: "curve25519-sha256" },
 * });
 * console.log(`sshd on 127.0.0.1:${sshd.port}`);
 * await sshd.stop();
 * ```
 */
export async function startSshd(options: StartSshdOptions = {}): Promise<Sshd> {
  const openssh = findOpenSsh();
  if (!openssh) throw new Error("startSshd: OpenSSH (ssh, sshd, ssh-keygen) is not installed");
  installExitHook();
  if (process.getuid?.() === 0) fs.mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
  const types = [...new Set((options.hostKeyTypes ?? ["ed25519"]).map(normalizeHostKeyType))];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-sshd-"));
  liveDirs.add(dir);
  try {
    const hostKeys: SshdHostKey[] = [];
    for (const t of types) hostKeys.push(await hostKey(openssh.sshKeygen, t, dir));
    const configPath = path.join(dir, "sshd_config");
    const pidPath = path.join(dir, "sshd.pid");
    for (let attempt = 1;; attempt++) {
      const port = options.port ?? await freePort();
      const defaults: [string, string][] = [
        ["ListenAddress", "127.0.0.1"],
        ["PidFile", pidPath],
        ["UsePAM", "no"],
        ["StrictModes", "no"],
        ["LogLevel", "DEBUG3"],
        ["AuthorizedKeysFile", path.join(dir, "authorized_keys")],
      ];
      const [major, minor] = openssh.versionNumber;
      if (major > 9 || (major === 9 && minor >= 8)) {
        // Tests fail authentication on purpose; do not let sshd penalize 127.0.0.1.
        defaults.push(["PerSourcePenalties", "no"]);
      }
      const user = Object.entries(options.config ?? {});
      const overridden = new Set(user.map(([k]) => k.toLowerCase()));
      const lines = [`Port ${port}`, ...hostKeys.map((h) => `HostKey ${h.path}`)];
      for (const [k, v] of defaults) if (!overridden.has(k.toLowerCase())) lines.push(`${k} ${v}`);
      const match: string[] = [];
      for (const [k, v] of user) {
        const values = Array.isArray(v) ? v : [v];
        if (k.toLowerCase() === "port") continue;
        if (k.toLowerCase() === "match") {
          // The first value is the criteria; the rest are the block's lines.
          match.push(`Match ${values[0]}`, ...values.slice(1).map((l) => `  ${l.trim()}`));
        } else {
          for (const value of values) lines.push(`${k} ${value}`);
        }
      }
      fs.writeFileSync(configPath, [...lines, ...match].join("\n") + "\n");
      const result = await launch(openssh, configPath, port, options);
      if (result.ok) {
        const { child, log } = result;
        let stopped: Promise<void> | undefined;
        return {
          port,
          dir,
          configPath,
          hostKeys,
          pid: child.pid!,
          log,
          stop() {
            stopped ??= (async () => {
              killTree(child, "SIGTERM");
              if (!await waitExit(child, 5000)) {
                killTree(child, "SIGKILL");
                await waitExit(child, 5000);
              }
              running.delete(child);
              fs.rmSync(dir, { recursive: true, force: true });
              liveDirs.delete(dir);
            })();
            return stopped;
          },
        };
      }
      // Someone else took the port between freePort() and sshd's bind: retry.
      if (
        options.port === undefined && attempt < 5 && /Address already in use/.test(result.log())
      ) {
        continue;
      }
      throw new Error(
        `startSshd: sshd did not start: ${result.reason}\n--- sshd log ---\n${result.log()}`,
      );
    }
  } catch (e) {
    fs.rmSync(dir, { recursive: true, force: true });
    liveDirs.delete(dir);
    throw e;
  }
}

type Launch =
  | { ok: true; child: ChildProcess; log: () => string }
  | { ok: false; reason: string; log: () => string };

const MAX_LOG = 16 * 1024 * 1024;

async function launch(
  openssh: OpenSshPaths,
  configPath: string,
  port: number,
  options: StartSshdOptions,
): Promise<Launch> {
  const lifetime = options.maxLifetimeSeconds ?? 1800;
  const timeoutBin = findExecutable("timeout", ["/usr/bin", "/bin", "/usr/local/bin"]);
  const sshdArgs = ["-D", "-e", "-f", configPath];
  // `timeout` makes itself a process group leader, and kills sshd if the
  // test process dies without stopping it.
  const child = timeoutBin
    ? spawn(timeoutBin, ["-s", "TERM", "-k", "5", String(lifetime), openssh.sshd, ...sshdArgs], {
      stdio: ["ignore", "pipe", "pipe"],
    })
    : spawn(openssh.sshd, sshdArgs, { stdio: ["ignore", "pipe", "pipe"] });
  running.add(child);
  let text = "";
  const append = (chunk: Uint8Array | string) => {
    if (text.length < MAX_LOG) {
      text += typeof chunk === "string" ? chunk : new TextDecoder().decode(chunk);
      if (text.length >= MAX_LOG) text += "\n[log truncated]\n";
    }
  };
  child.stdout?.on("data", append);
  child.stderr?.on("data", append);
  const log = () => text;
  let exited: string | undefined;
  child.once("exit", (code, signal) => {
    exited = `exited with ${signal ?? code}`;
    running.delete(child);
  });
  child.once("error", (e) => {
    exited = `could not be started: ${e}`;
    running.delete(child);
  });
  const deadline = Date.now() + (options.startTimeoutMs ?? 10_000);
  const marker = `Server listening on 127.0.0.1 port ${port}`;
  let lastProbe = 0;
  while (Date.now() < deadline) {
    if (exited) return { ok: false, reason: `sshd ${exited}`, log };
    if (text.includes(marker)) return { ok: true, child, log };
    if (Date.now() - lastProbe > 500) {
      lastProbe = Date.now();
      if (await canConnect(port)) {
        if (exited) return { ok: false, reason: `sshd ${exited}`, log };
        return { ok: true, child, log };
      }
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  killTree(child, "SIGKILL");
  await waitExit(child, 5000);
  running.delete(child);
  return {
    ok: false,
    reason: `port ${port} did not accept connections within ${options.startTimeoutMs ?? 10_000} ms`,
    log,
  };
}

/**
 * The outcome of {@link runProcess} / {@link runSsh}.
 *
 * @example
 * ```ts
 * import type { RunResult } from "./_openssh.ts";
 * const ok = (r: RunResult) => r.code === 0 && !r.timedOut;
 * ```
 */
export interface RunResult {
  /** The exit code, or `null` when killed by a signal. */
  code: number | null;
  /** The signal that ended it, if any. */
  signal: string | null;
  /** Its standard output, as UTF-8. */
  stdout: string;
  /** Its standard error, as UTF-8. */
  stderr: string;
  /** True when it was killed for exceeding `timeoutMs`. */
  timedOut: boolean;
}

/**
 * Options of {@link runProcess} / {@link runSsh}.
 *
 * @example
 * ```ts
 * import type { RunOptions } from "./_openssh.ts";
 * const options: RunOptions = { timeoutMs: 10_000, input: "exit\n" };
 * ```
 */
export interface RunOptions {
  /** Hard limit: the process is killed (SIGKILL) after this many ms. */
  timeoutMs: number;
  /** Written to its standard input, which is then closed (closed at once if absent). */
  input?: string | Uint8Array;
  /** Environment (default: this process's). */
  env?: Record<string, string | undefined>;
  /** Working directory. */
  cwd?: string;
}

/**
 * Runs a program to completion with a hard timeout, collecting its output.
 *
 * @example
 * ```ts
 * import { runProcess } from "./_openssh.ts";
 * const r = await runProcess("/usr/bin/ssh-keygen", ["-l", "-f", "/etc/ssh/ssh_host_ed25519_key.pub"], {
 *   timeoutMs: 5000,
 * });
 * console.log(r.code, r.stdout);
 * ```
 */
export function runProcess(file: string, args: string[], options: RunOptions): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(file, args, {
      stdio: ["pipe", "pipe", "pipe"],
      env: options.env ?? process.env,
      cwd: options.cwd,
    });
    running.add(child);
    installExitHook();
    const out: Uint8Array[] = [];
    const err: Uint8Array[] = [];
    child.stdout?.on("data", (c: Uint8Array) => out.push(c));
    child.stderr?.on("data", (c: Uint8Array) => err.push(c));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, options.timeoutMs);
    const decode = (parts: Uint8Array[]) => {
      const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let off = 0;
      for (const p of parts) {
        all.set(p, off);
        off += p.length;
      }
      return new TextDecoder().decode(all);
    };
    let settled = false;
    const finish = (code: number | null, signal: string | null, extra = "") => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      running.delete(child);
      resolve({ code, signal, stdout: decode(out), stderr: decode(err) + extra, timedOut });
    };
    child.once("error", (e) => finish(null, null, String(e)));
    child.once("close", (code, signal) => finish(code, signal));
    child.stdin?.on("error", () => {}); // EPIPE when it exits without reading
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
  });
}

/**
 * Runs the OpenSSH client with `args` (see {@link runProcess}). Throws if
 * OpenSSH is not installed.
 *
 * @example
 * ```ts
 * import { runSsh } from "./_openssh.ts";
 * const r = await runSsh([
 *   "-F", "/dev/null", "-p", "2222", "-o", "BatchMode=yes",
 *   "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
 *   "127.0.0.1", "echo", "hi",
 * ], { timeoutMs: 20_000 });
 * console.log(r.code, r.stdout, r.stderr);
 * ```
 */
export function runSsh(args: string[], options: RunOptions): Promise<RunResult> {
  const openssh = findOpenSsh();
  if (!openssh) throw new Error("runSsh: OpenSSH (ssh, sshd, ssh-keygen) is not installed");
  return runProcess(openssh.ssh, args, options);
}

/**
 * `ssh` arguments for a throwaway login as `user` with `key` on a loopback
 * `port`: no config file, no known_hosts, no agent, no prompts; `extra`
 * (more options, then the host and command) follows.
 *
 * @example
 * ```ts
 * import { runSsh, testSshArgs } from "./_openssh.ts";
 * const r = await runSsh(testSshArgs(2222, "/tmp/id", "alice", ["127.0.0.1", "true"]), { timeoutMs: 20_000 });
 * ```
 */
export function testSshArgs(port: number, key: string, user: string, extra: string[]): string[] {
  return [...openSshTestOptions(port, key), "-l", user, ...extra];
}

/**
 * The options every OpenSSH client (ssh, sftp, scp) gets in a test: no
 * configuration file, `key` only (no agent), no known_hosts, the loopback
 * `port` (`-P` for sftp and scp), and by default BatchMode (no prompts).
 * `logLevel` adds `-o LogLevel=...`.
 *
 * @example
 * ```ts
 * import { openSshTestOptions } from "./_openssh.ts";
 * const sftpArgs = [...openSshTestOptions(2222, "/tmp/id", { portFlag: "-P" }), "-b", "-", "me@127.0.0.1"];
 * ```
 */
export function openSshTestOptions(
  port: number,
  key: string,
  o: { portFlag?: "-p" | "-P"; batch?: boolean; logLevel?: string } = {},
): string[] {
  return [
    "-F",
    "/dev/null",
    o.portFlag ?? "-p",
    String(port),
    "-i",
    key,
    ...(o.batch ?? true ? ["-o", "BatchMode=yes"] : []),
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
    "-o",
    "IdentityAgent=none",
    ...(o.logLevel ? ["-o", `LogLevel=${o.logLevel}`] : []),
  ];
}

/**
 * {@link testSshArgs} without its `IdentityAgent=none`: ssh then uses the
 * agent at `SSH_AUTH_SOCK` (and `-A` forwards it).
 *
 * @example
 * ```ts
 * import { testSshArgs, withAgent } from "./_openssh.ts";
 * const args = withAgent(testSshArgs(2222, "/tmp/id", "alice", ["-A", "127.0.0.1", "ssh-add -l"]));
 * ```
 */
export function withAgent(args: string[]): string[] {
  const i = args.indexOf("IdentityAgent=none");
  return i < 1 ? args : [...args.slice(0, i - 1), ...args.slice(i + 1)];
}

/**
 * A `hostKey` option for rxssh's `connect()` that trusts exactly this
 * sshd's first host key (compared as the base64 of the key blob).
 *
 * @example
 * ```ts
 * import { pinnedHostKey, startSshd } from "./_openssh.ts";
 * const sshd = await startSshd({});
 * const hostKey = pinnedHostKey(sshd); // pass as connect({ ..., hostKey })
 * await sshd.stop();
 * ```
 */
export function pinnedHostKey(sshd: Sshd): { verify: (key: { blob: Uint8Array }) => boolean } {
  const pinned = sshd.hostKeys[0].pubLine.split(" ")[1];
  return { verify: (key) => btoa(String.fromCharCode(...key.blob)) === pinned };
}
