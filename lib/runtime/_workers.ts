/**
 * Worker processes that run this same program again (for `listen({ workers
 * })` and `rxssh serve -W N`), and the JSON-line control channel between
 * them: parent to worker on the worker's standard input, worker to parent
 * on its standard output as lines `{"rxsshWorker": message}` (any other
 * line a worker prints is passed through to the parent's standard output).
 * Standard error is shared.
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";

/**
 * The command line that runs this program again: Deno's main module with
 * `--unstable-net` (which `reusePort` needs on Deno) and all permissions (a
 * server that runs commands was given `--allow-run`, which amounts to as
 * much); Bun's script (or a `bun build --compile` executable itself);
 * Node's script with its flags.
 *
 * @example
 * ```ts
 * import { selfCommand } from "./_workers.ts";
 * const [cmd, args] = selfCommand();
 * console.log(cmd, args.join(" "));
 * ```
 */
export function selfCommand(): [string, string[]] {
  const deno = (globalThis as { Deno?: { execPath(): string; mainModule: string } }).Deno;
  if (deno) return [deno.execPath(), ["run", "-A", "--unstable-net", deno.mainModule]];
  const script = process.argv[1];
  if ("Bun" in globalThis && (script === undefined || script.startsWith("/$bunfs/"))) {
    return [process.execPath, []];
  }
  return [process.execPath, [...process.execArgv, script]];
}

/** The part of a Node readable that {@link readLines} uses. */
interface LineSource {
  setEncoding(encoding: "utf8"): unknown;
  on(event: string, listener: (chunk: string) => void): unknown;
}

/**
 * Calls `on.line` with each line of `stream` (without its newline) and
 * `on.end` once at its end.
 *
 * @example
 * ```ts
 * import process from "node:process";
 * import { readLines } from "./_workers.ts";
 * readLines(process.stdin, { line: (l) => console.log(l.length), end: () => {} });
 * ```
 */
export function readLines(
  stream: LineSource,
  on: { line(line: string): void; end(): void },
): void {
  let buffered = "";
  let ended = false;
  const end = () => {
    if (!ended) on.end();
    ended = true;
  };
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    buffered += chunk;
    let nl;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      on.line(line);
    }
  });
  stream.on("end", end);
  stream.on("error", end);
}

/**
 * Writes `message` to the parent (this process's standard output, as a
 * control line).
 *
 * @example
 * ```ts
 * import { tellParent } from "./_workers.ts";
 * tellParent({ type: "ready", port: 2222 });
 * ```
 */
export function tellParent(message: unknown): void {
  process.stdout.write(JSON.stringify({ rxsshWorker: message }) + "\n");
}

/**
 * The parent's messages on this process's standard input, one at a time;
 * `next()` gives `undefined` once the parent has gone (end of input).
 * `push` adds one as if the parent had sent it.
 *
 * @example
 * ```ts
 * import { parentMessages } from "./_workers.ts";
 * async function first() {
 *   const inbox = parentMessages<{ type: string }>();
 *   return await inbox.next();
 * }
 * ```
 */
export function parentMessages<M>(): {
  next(): Promise<M | undefined>;
  push(m: M | undefined): void;
  close(): void;
} {
  const queue: (M | undefined)[] = [];
  const waiting: ((m: M | undefined) => void)[] = [];
  let ended = false;
  const push = (m: M | undefined) => {
    const w = waiting.shift();
    if (w) w(m);
    else queue.push(m);
  };
  readLines(process.stdin, {
    line: (line) => {
      try {
        push(JSON.parse(line) as M);
      } catch {
        // not a control message
      }
    },
    end: () => {
      ended = true;
      push(undefined);
    },
  });
  return {
    push,
    next: () =>
      queue.length > 0
        ? Promise.resolve(queue.shift())
        : ended
        ? Promise.resolve(undefined)
        : new Promise((resolve) => waiting.push(resolve)),
    // Stops reading, so that standard input no longer keeps the process alive.
    close: () => process.stdin.pause(),
  };
}

/**
 * One worker process as its parent sees it: this program run again with
 * `args` and `env` added to the environment.
 *
 * @example
 * ```ts
 * import { WorkerProcess } from "./_workers.ts";
 * async function one() {
 *   const w = new WorkerProcess(1, { args: [], env: { MY_WORKER: "1" } });
 *   console.log(await w.request({ type: "start" }));
 *   w.send({ type: "stop" });
 *   await w.exited;
 * }
 * ```
 */
export class WorkerProcess<In = unknown, Out = unknown> {
  readonly child: ChildProcess;
  /** Resolves with the exit code (null: ended by a signal or never started). */
  readonly exited: Promise<number | null>;
  /** Set once the worker has exited. */
  exitCode: number | null | undefined;
  #waiting: ((m: Out | undefined) => void)[] = [];

  /** Starts worker number `index`. */
  constructor(
    readonly index: number,
    how: { args: readonly string[]; env: Record<string, string> },
  ) {
    const [cmd, prefix] = selfCommand();
    this.child = spawn(cmd, [...prefix, ...how.args], {
      env: { ...process.env, ...how.env },
      stdio: ["pipe", "pipe", "inherit"],
    });
    this.exited = new Promise((resolve) => {
      const done = (code: number | null) => {
        if (this.exitCode !== undefined) return;
        this.exitCode = code;
        resolve(code);
        for (const w of this.#waiting.splice(0)) w(undefined);
      };
      this.child.once("exit", (code, signal) => done(signal ? null : code));
      this.child.once("error", () => done(null));
    });
    this.child.stdin!.on("error", () => {}); // a worker that exited: its exit is what counts
    readLines(this.child.stdout!, {
      line: (line) => {
        let m: { rxsshWorker?: Out } | undefined;
        try {
          m = line.startsWith('{"rxsshWorker":') ? JSON.parse(line) : undefined;
        } catch {
          m = undefined;
        }
        if (m?.rxsshWorker !== undefined) this.#waiting.shift()?.(m.rxsshWorker);
        else process.stdout.write(line + "\n"); // the worker's own output
      },
      end: () => {},
    });
  }

  /** Sends a control message (dropped once the worker has exited). */
  send(message: In): void {
    if (this.exitCode === undefined) this.child.stdin!.write(JSON.stringify(message) + "\n");
  }

  /** Sends a control message; resolves with the worker's answer (`undefined`: it exited). */
  request(message: In): Promise<Out | undefined> {
    if (this.exitCode !== undefined) return Promise.resolve(undefined);
    const answer = new Promise<Out | undefined>((resolve) => this.#waiting.push(resolve));
    this.send(message);
    return answer;
  }
}
