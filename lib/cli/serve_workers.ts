/**
 * `rxssh serve -W N`: N server processes sharing one listening port with
 * SO_REUSEPORT (the kernel spreads connections over their listeners), run
 * by a parent that accepts nothing itself.
 *
 * - The parent checks the configuration, reads the `-f` files and the host
 *   keys once (generating the default key on the first run), and starts
 *   each worker as the same program (`rxssh serve` with the same
 *   arguments) with `RXSSH_SERVE_WORKER` set. It hands the worker the files'
 *   text, the host keys (OpenSSH private key text) and the
 *   `RXSSH_PASSWORD` password over the worker's standard input, a pipe:
 *   nothing secret goes to disk, the command line or the environment.
 * - The first worker binds the listen addresses (port 0: the OS picks);
 *   the others bind the same addresses and ports. The parent then prints
 *   `listening on host:port`.
 * - SIGTERM or SIGINT to the parent: every worker stops accepting, lets its
 *   connections finish for up to ShutdownGraceTime, then disconnects the
 *   rest; a second signal cuts the wait short. The parent exits 0 once
 *   every worker has exited 0.
 * - SIGHUP to the parent: it reads the configuration files and host keys
 *   again and sends them to every worker, which serves new connections with
 *   them; open connections keep going unchanged. A bad new configuration is
 *   logged and the old one kept.
 * - A worker that dies is started again (at most 5 times a minute; then
 *   the parent stops the others and exits 1).
 *
 * Control messages are JSON lines: parent to worker on the worker's
 * standard input (`start`, `reload`, `stop`), worker to parent on its
 * standard output (`ready`, `reloaded`, `failed`). A worker's log lines go
 * to the shared standard error, prefixed with `[worker i]`.
 *
 * @module
 */
import process from "node:process";
import { parsePrivateKeyFile, writePrivateKeyFile } from "../keys/private_key_file.ts";
import { parentMessages, tellParent, WorkerProcess } from "../runtime/_workers.ts";
import { type Logger, OptionError } from "./options.ts";
import { loadServeSetup, type ServeHandle, type ServeSetup, startServe } from "./serve.ts";
import type { StartServeOptions } from "./serve.ts";

/** The environment variable that makes `rxssh serve` a worker (its value: the worker's number). */
export const SERVE_WORKER_ENV = "RXSSH_SERVE_WORKER";

/** A listen address as the workers exchange it. */
interface Address {
  hostname: string;
  port: number;
}

/** Parent to worker: what a worker serves with (at start and on reload). */
interface Shared {
  /** The `-f` files' text, by path. */
  files: Record<string, string>;
  /** OpenSSH private key files' text. */
  hostKeys: string[];
}

type ToWorker =
  | ({ type: "start"; password?: string; bind?: Address[] } & Shared)
  | ({ type: "reload" } & Shared)
  | { type: "stop"; graceMs?: number };

type ToParent =
  | { type: "ready"; addresses: Address[] }
  | { type: "reloaded" }
  | { type: "failed"; message: string; code?: number };

/** A worker process of `rxssh serve -W`. */
type Worker = WorkerProcess<ToWorker, ToParent>;

/** What stands for the answer of a worker that exited instead. */
const EXITED: ToParent = { type: "failed", message: "exited" };

/**
 * `-W N` (or `-WN`) taken out of `rxssh serve`'s arguments; without it,
 * `fallback` (default: one worker per core), or 1 on a Node older than
 * 22.12 (no SO_REUSEPORT there: `-W` above 1 is an {@link OptionError}).
 *
 * @example
 * ```ts
 * import { takeWorkersOption } from "./serve_workers.ts";
 * const { workers, args } = takeWorkersOption(["-W", "2", "-p", "2222"]);
 * console.log(workers, args); // 2 [ "-p", "2222" ]
 * ```
 */
export function takeWorkersOption(
  args: readonly string[],
  fallback: number = cores(),
): { workers: number; args: string[] } {
  const rest: string[] = [];
  let value: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "-W") {
      if (i + 1 >= args.length) throw new OptionError("option requires an argument -- W");
      value = args[++i];
    } else if (/^-W./.test(a)) value = a.slice(2);
    else rest.push(a);
  }
  if (value === undefined) return { workers: reusePortWorks() ? fallback : 1, args: rest };
  if (!/^[1-9]\d{0,3}$/.test(value)) {
    throw new OptionError(`-W: expected a number of worker processes (1..9999), got "${value}"`);
  }
  if (value !== "1" && !reusePortWorks()) {
    throw new OptionError(
      `-W ${value}: worker processes share the port with SO_REUSEPORT, which needs Node 22.12 or later (this is ${process.version})`,
    );
  }
  return { workers: Number(value), args: rest };
}

/** Whether listeners can share a port here: Deno and Bun, Node from 22.12 (and 23.1). */
function reusePortWorks(): boolean {
  if ("Deno" in globalThis || "Bun" in globalThis) return true;
  const [major, minor] = process.versions.node.split(".").map(Number);
  return major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
}

/** The number of cores this process may use. */
function cores(): number {
  const n = (globalThis.navigator as { hardwareConcurrency?: number } | undefined)
    ?.hardwareConcurrency;
  return typeof n === "number" && n > 0 ? n : 1;
}

/** The host keys as OpenSSH private key text, for a worker. */
async function shareSetup(setup: ServeSetup): Promise<Shared> {
  return {
    files: { ...setup.files },
    hostKeys: await Promise.all(setup.hostKeys.map((k) => writePrivateKeyFile(k))),
  };
}

/** What a worker gets from {@link Shared}: its keys parsed, and a reader of its files. */
async function fromShared(
  shared: Shared,
): Promise<Pick<StartServeOptions, "hostKeys" | "readConfig">> {
  return {
    hostKeys: await Promise.all(
      shared.hostKeys.map(async (t) => (await parsePrivateKeyFile(t)).key),
    ),
    readConfig: (file) => {
      const text = shared.files[file];
      if (text === undefined) throw new OptionError(`${file}: not read by the parent process`);
      return text;
    },
  };
}

/** The options of {@link superviseWorkers}. */
interface SuperviseOptions {
  workers: number;
  writeLog?: (line: string) => void;
}

/**
 * The parent of `rxssh serve -W N` (`args`: the arguments after `serve`,
 * without `-W`): starts the workers, relays SIGTERM, SIGINT and SIGHUP to
 * them, restarts one that dies, and returns the exit code (0 after a
 * signal once every worker has exited 0; 1 when they cannot start; 2 for
 * bad arguments).
 *
 * @example
 * ```ts
 * import { superviseWorkers } from "./serve_workers.ts";
 * async function run() {
 *   process.exitCode = await superviseWorkers(["-p", "2222"], { workers: 2 });
 * }
 * ```
 */
export async function superviseWorkers(
  args: readonly string[],
  options: SuperviseOptions,
): Promise<number> {
  const writeLog = options.writeLog ?? ((line: string) => process.stderr.write(line + "\n"));
  const password = process.env.RXSSH_PASSWORD;
  delete process.env.RXSSH_PASSWORD; // the workers get it over their pipe, sessions never
  let shared: Shared;
  let log: Logger;
  let graceMs: number;
  try {
    const setup = await loadServeSetup(args, { writeLog, envPassword: password });
    ({ log, shutdownGraceMs: graceMs } = setup);
    shared = await shareSetup(setup);
  } catch (e) {
    writeLog(`rxssh serve: ${e instanceof Error ? e.message : String(e)}`);
    return e instanceof OptionError ? 2 : 1;
  }
  const pool = new Pool(args, { log, password, shared: () => shared });
  const started = await pool.start(options.workers);
  if (started !== 0) return started;
  return await pool.serve({
    graceMs: () => graceMs,
    reload: async () => {
      const setup = await loadServeSetup(args, { writeLog, envPassword: password });
      graceMs = setup.shutdownGraceMs;
      shared = await shareSetup(setup);
      log = setup.log;
      return shared;
    },
  });
}

/** The workers of one `rxssh serve -W N`. */
class Pool {
  readonly workers: Worker[] = [];
  bind: Address[] | undefined;
  stopping = false;
  /** When each restart happened (the last minute's). */
  restarts: number[] = [];
  #gaveUp!: (code: number) => void;
  /** Resolves when restarting gives up. */
  readonly gaveUp = new Promise<number>((resolve) => this.#gaveUp = resolve);

  constructor(
    readonly args: readonly string[],
    readonly ctx: { log: Logger; password?: string; shared: () => Shared },
  ) {}

  /** Starts worker `index` (replacing a dead one); resolves with its answer to `start`. */
  async launch(index: number): Promise<ToParent> {
    const w: Worker = new WorkerProcess(index, {
      args: ["serve", ...this.args],
      env: { [SERVE_WORKER_ENV]: String(index) },
    });
    this.workers[index - 1] = w;
    const answer = await w.request({
      type: "start",
      ...this.ctx.shared(),
      password: this.ctx.password,
      bind: this.bind,
    }) ?? EXITED;
    if (answer.type === "ready") {
      this.ctx.log.info(`worker ${index} (pid ${w.child.pid}) started`);
      w.exited.then((code) => this.onExit(w, code));
    }
    return answer;
  }

  /** Starts `count` workers, the first binding the addresses; 0 when all run, else the exit code. */
  async start(count: number): Promise<number> {
    const first = await this.launch(1);
    if (first.type !== "ready") return this.failedStart(first);
    this.bind = first.addresses;
    const rest = await Promise.all(
      Array.from({ length: count - 1 }, (_, i) => this.launch(i + 2)),
    );
    const bad = rest.find((a) => a.type !== "ready");
    if (bad) return this.failedStart(bad);
    const pids = this.workers.map((w) => w.child.pid).join(" ");
    for (const a of this.bind) {
      this.ctx.log.info(
        `listening on ${a.hostname.includes(":") ? `[${a.hostname}]` : a.hostname}:${a.port} ` +
          `(${count} worker${count === 1 ? "" : "s"}: pids ${pids})`,
      );
    }
    return 0;
  }

  /** A worker could not start: the others stop, and its code (2: bad options) is the parent's. */
  async failedStart(answer: ToParent): Promise<number> {
    this.stopping = true;
    for (const w of this.workers) w?.send({ type: "stop", graceMs: 0 });
    const codes = await Promise.all(this.workers.map((w) => w?.exited));
    if (answer.type === "failed" && answer.code !== undefined) return answer.code;
    return codes.find((c) => c === 2) ?? 1;
  }

  /** A worker exited while serving: start another, unless that keeps happening. */
  onExit(w: Worker, code: number | null): void {
    if (this.workers[w.index - 1] !== w) return;
    if (this.stopping) {
      return this.ctx.log.info(`worker ${w.index} (pid ${w.child.pid}) exited (${code})`);
    }
    const now = Date.now();
    this.restarts = [...this.restarts.filter((t) => now - t < 60_000), now];
    if (this.restarts.length > 5) {
      this.ctx.log.error(`worker ${w.index} (pid ${w.child.pid}) exited (${code}); giving up`);
      this.#gaveUp(1);
      return;
    }
    this.ctx.log.error(`worker ${w.index} (pid ${w.child.pid}) exited (${code}); starting another`);
    this.launch(w.index).then((a) => {
      if (a.type !== "ready") this.ctx.log.error(`worker ${w.index} did not start again`);
    });
  }

  /**
   * Serves until SIGTERM or SIGINT (then stops every worker, gracefully;
   * a second signal cuts the grace period short), reloading on SIGHUP.
   */
  async serve(how: { graceMs(): number; reload(): Promise<Shared> }): Promise<number> {
    let signalled!: () => void;
    const stop = new Promise<void>((resolve) => signalled = resolve);
    const onStop = () => signalled();
    const onHup = () => this.reload(how.reload);
    process.on("SIGTERM", onStop);
    process.on("SIGINT", onStop);
    process.on("SIGHUP", onHup);
    const gaveUp = await Promise.race([stop.then(() => false), this.gaveUp.then(() => true)]);
    this.stopping = true;
    const graceMs = gaveUp ? 0 : how.graceMs();
    for (const w of this.workers) w.send({ type: "stop", graceMs });
    const again = () => {
      for (const w of this.workers) w.send({ type: "stop", graceMs: 0 });
    };
    process.off("SIGTERM", onStop);
    process.off("SIGINT", onStop);
    process.on("SIGTERM", again);
    process.on("SIGINT", again);
    const codes = await this.exits(graceMs + 10_000);
    process.off("SIGTERM", again);
    process.off("SIGINT", again);
    process.off("SIGHUP", onHup);
    return gaveUp || codes.some((c) => c !== 0) ? 1 : 0;
  }

  /** Waits for every worker to exit; those still running after `ms` are killed. */
  async exits(ms: number): Promise<(number | null)[]> {
    const timer = setTimeout(() => {
      for (const w of this.workers) {
        if (w.exitCode === undefined) {
          this.ctx.log.error(`worker ${w.index} (pid ${w.child.pid}) did not stop; killing it`);
          w.child.kill("SIGKILL");
        }
      }
    }, ms);
    const codes = await Promise.all(this.workers.map((w) => w.exited));
    clearTimeout(timer);
    return codes;
  }

  /** SIGHUP: the configuration read again and sent to every worker; a bad one is kept out. */
  async reload(read: () => Promise<Shared>): Promise<void> {
    let shared: Shared;
    try {
      shared = await read();
    } catch (e) {
      this.ctx.log.error(
        `SIGHUP: ${e instanceof Error ? e.message : String(e)}; keeping the previous configuration`,
      );
      return;
    }
    const answers = await Promise.all(
      this.workers.map(async (w) => await w.request({ type: "reload", ...shared }) ?? EXITED),
    );
    const failed = answers.filter((a) => a.type !== "reloaded").length;
    if (failed) this.ctx.log.error(`SIGHUP: ${failed} workers could not reload`);
    else this.ctx.log.info(`SIGHUP: ${answers.length} workers reloaded the configuration`);
  }
}

/**
 * A worker of `rxssh serve -W N` (started by {@link superviseWorkers} with
 * {@link SERVE_WORKER_ENV} set): serves with what its parent sends over
 * standard input, on addresses bound with SO_REUSEPORT, until the parent
 * says stop or goes away (then as after SIGTERM: a graceful close).
 * Returns the exit code.
 *
 * @example
 * ```ts
 * import { serveWorker } from "./serve_workers.ts";
 * async function run() {
 *   process.exitCode = await serveWorker(["-p", "2222"]);
 * }
 * ```
 */
export async function serveWorker(
  args: readonly string[],
  options: StartServeOptions = {},
): Promise<number> {
  const index = process.env[SERVE_WORKER_ENV] ?? "?";
  delete process.env[SERVE_WORKER_ENV];
  const write = options.writeLog ?? ((line: string) => process.stderr.write(line + "\n"));
  const writeLog = (line: string) => write(`[worker ${index}] ${line}`);
  const reply = (m: ToParent) => tellParent(m);
  const inbox = parentMessages<ToWorker>();
  const start = await inbox.next();
  if (start?.type !== "start") return 1; // the parent went away before saying anything
  let handle: ServeHandle;
  try {
    handle = await startServe(args, {
      ...options,
      ...await fromShared(start),
      envPassword: start.password,
      bind: start.bind,
      reusePort: true,
      worker: true,
      writeLog,
    });
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    writeLog(`rxssh serve: ${message}`);
    reply({ type: "failed", message, code: e instanceof OptionError ? 2 : 1 });
    return e instanceof OptionError ? 2 : 1;
  }
  reply({ type: "ready", addresses: [...handle.addresses] });
  // One broken connection must not take the worker (and its other connections) down with it.
  const onUncaught = (e: unknown) =>
    writeLog(
      `internal error (worker continues): ${e instanceof Error ? e.stack ?? e.message : String(e)}`,
    );
  process.on("uncaughtException", onUncaught);
  process.on("unhandledRejection", onUncaught);
  // The parent relays signals: a terminal's SIGINT or SIGHUP to the whole group is its to handle.
  const ignore = () => {};
  process.on("SIGINT", ignore);
  process.on("SIGHUP", ignore);
  const graceMs = await Promise.race([
    serveMessages(inbox, { handle, reply, writeLog }),
    handle.failed.then(() => -1),
  ]);
  if (graceMs < 0) {
    await handle.close({ graceMs: 0 });
    return 1;
  }
  // A second stop (the parent's second signal) cuts the grace period short.
  await Promise.race([
    handle.close({ graceMs }),
    inbox.next().then(() => handle.close({ graceMs: 0 })),
  ]);
  process.off("SIGINT", ignore);
  process.off("SIGHUP", ignore);
  return 0;
}

/** Handles `reload` until `stop` (or the parent's end); resolves with the grace period. */
async function serveMessages(
  inbox: ReturnType<typeof parentMessages<ToWorker>>,
  to: { handle: ServeHandle; reply(m: ToParent): void; writeLog(line: string): void },
): Promise<number> {
  const { handle, reply, writeLog } = to;
  const onTerm = () => inbox.push({ type: "stop" }); // SIGTERM to the worker itself: as its parent's stop
  process.once("SIGTERM", onTerm);
  for (;;) {
    const m = await inbox.next();
    if (m === undefined || m.type === "stop") {
      process.off("SIGTERM", onTerm);
      return m?.graceMs ?? handle.shutdownGraceMs;
    }
    if (m.type !== "reload") continue;
    try {
      await handle.reload(await fromShared(m));
      reply({ type: "reloaded" });
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      writeLog(`reload failed, keeping the previous configuration: ${message}`);
      reply({ type: "failed", message });
    }
  }
}
