/**
 * Accepting connections through transient failures. When the process runs
 * out of file descriptors (EMFILE, ENFILE), the kernel runs out of buffers
 * (ENOBUFS, ENOMEM) or a client gives up while queued (ECONNABORTED),
 * `accept(2)` fails, but the listener is fine: it backs off (5 ms, doubling
 * to 1 s, reset by the next successful accept, as Go's net/http does) and
 * retries, and reports one {@link ListenerWarning} when such a burst starts
 * and one when it ends. Any other failure ends the listener with a
 * {@link ListenerError}.
 *
 * @module
 */

/**
 * errno names of `accept(2)` failures that pass: the listener backs off and
 * retries. The set of Go's `Temporary()` accept errors and libuv's, plus the
 * kernel's out-of-memory ones.
 *
 * @example
 * ```ts
 * import { TRANSIENT_ACCEPT_ERRORS } from "./accept.ts";
 * console.log(TRANSIENT_ACCEPT_ERRORS.has("EMFILE")); // true
 * ```
 */
export const TRANSIENT_ACCEPT_ERRORS: ReadonlySet<string> = new Set([
  "EMFILE",
  "ENFILE",
  "ECONNABORTED",
  "ENOBUFS",
  "ENOMEM",
  "EPROTO",
  "ECONNRESET",
  "ETIMEDOUT",
  "EINTR",
  "EAGAIN",
]);

/** The first back-off after a failed accept, in ms. */
const INITIAL_DELAY_MS = 5;
/** The longest back-off, in ms. */
const MAX_DELAY_MS = 1000;

/**
 * A burst of failed accepts on a listener, reported twice: when its first
 * failure happens (`accept-failing`, with how long the listener waits before
 * the next try) and when the next accept succeeds (`accept-recovered`, with
 * how many accepts failed and for how long). The listener keeps its port
 * and goes on in between.
 *
 * @example
 * ```ts
 * import type { ListenerWarning } from "./accept.ts";
 * const line = (w: ListenerWarning) =>
 *   w.type === "accept-failing"
 *     ? `accept failed: ${w.message} (${w.code}); retrying`
 *     : `accept recovered after ${w.errors} failures in ${w.durationMs} ms (${w.code})`;
 * ```
 */
export type ListenerWarning =
  | {
    readonly type: "accept-failing";
    /** The errno name, e.g. "EMFILE". */
    readonly code: string;
    /** What the runtime said, e.g. "Too many open files (os error 24)". */
    readonly message: string;
    /** The wait before the next try (absent where the runtime retries by itself). */
    readonly retryInMs?: number;
  }
  | {
    readonly type: "accept-recovered";
    /** The errno name of the burst's first failure. */
    readonly code: string;
    /** How many accepts failed in the burst. */
    readonly errors: number;
    /** From the first failure to the successful accept. */
    readonly durationMs: number;
  };

/**
 * A listener that cannot accept any more: the error `accept(2)` returned
 * was not a transient one (see {@link TRANSIENT_ACCEPT_ERRORS}). The
 * listener is closed. A unix listener's error has its path as `hostname`
 * and port 0 (the message quotes the path).
 *
 * @example
 * ```ts
 * import { ListenerError } from "./accept.ts";
 * const e = new ListenerError("Bad file descriptor", { hostname: "127.0.0.1", port: 2222, code: "EBADF" });
 * console.log(e.message); // "listener on 127.0.0.1:2222 failed: Bad file descriptor (EBADF)"
 * ```
 */
export class ListenerError extends Error {
  /** The address the listener was bound to (a unix listener's path). */
  readonly hostname: string;
  /** Its port (0 for a unix listener). */
  readonly port: number;
  /** The errno name, or "" when the runtime gave none. */
  readonly code: string;

  /**
   * Creates the error: `detail` is what the runtime said, `at.code` its
   * errno name ("" or absent when it gave none), `at.cause` its own error.
   */
  constructor(
    detail: string,
    at: { hostname: string; port: number; code?: string; cause?: unknown },
  ) {
    const { hostname, port, code = "", cause } = at;
    const where = port === 0 ? JSON.stringify(hostname) : `${hostname}:${port}`;
    super(`listener on ${where} failed: ${detail}${code ? ` (${code})` : ""}`, { cause });
    this.name = "ListenerError";
    this.hostname = hostname;
    this.port = port;
    this.code = code;
  }
}

/** The errno name of a runtime's error (`code` on Deno, Bun and Node), or "". */
export function errnoName(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : "";
}

/**
 * Counts the failures of one burst and reports its start and end.
 *
 * @example
 * ```ts
 * import { AcceptBursts } from "./accept.ts";
 * const bursts = new AcceptBursts((w) => console.log(w.type));
 * bursts.failed(Object.assign(new Error("Too many open files"), { code: "EMFILE" }), 5); // accept-failing
 * bursts.failed(Object.assign(new Error("Too many open files"), { code: "EMFILE" }), 10);
 * bursts.succeeded(); // accept-recovered (2 errors)
 * ```
 */
export class AcceptBursts {
  #burst: { code: string; errors: number; start: number } | undefined;
  readonly #report: ((w: ListenerWarning) => void) | undefined;
  readonly #now: () => number;

  constructor(
    report: ((w: ListenerWarning) => void) | undefined,
    now: () => number = () => performance.now(),
  ) {
    this.#report = report;
    this.#now = now;
  }

  /** True while accepts fail. */
  get failing(): boolean {
    return this.#burst !== undefined;
  }

  /** One failed accept; the first of a burst is reported. */
  failed(e: unknown, retryInMs?: number): void {
    if (this.#burst) {
      this.#burst.errors++;
      return;
    }
    const code = errnoName(e);
    this.#burst = { code, errors: 1, start: this.#now() };
    const message = e instanceof Error ? e.message : String(e);
    this.#emit({ type: "accept-failing", code, message, retryInMs });
  }

  /** A successful accept: ends the burst, if any. */
  succeeded(): void {
    const b = this.#burst;
    if (!b) return;
    this.#burst = undefined;
    const durationMs = Math.round(this.#now() - b.start);
    this.#emit({ type: "accept-recovered", code: b.code, errors: b.errors, durationMs });
  }

  #emit(w: ListenerWarning): void {
    try {
      this.#report?.(w);
    } catch {
      // An observer never breaks the listener.
    }
  }
}

/**
 * Options of {@link acceptWithBackoff}.
 *
 * @example
 * ```ts
 * import type { AcceptBackoffOptions } from "./accept.ts";
 * const o: AcceptBackoffOptions = { onWarning: (w) => console.error(w), initialDelayMs: 5, maxDelayMs: 1000 };
 * ```
 */
export interface AcceptBackoffOptions {
  /** Called when a burst of failed accepts starts and when it ends. */
  onWarning?: (warning: ListenerWarning) => void;
  /** The first back-off (default 5 ms). */
  initialDelayMs?: number;
  /** The longest back-off (default 1000 ms). */
  maxDelayMs?: number;
  /** Waits `ms` or until `signal` aborts (injectable for tests). */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** A clock in ms for the burst's duration (injectable for tests). */
  now?: () => number;
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

/**
 * Wraps a raw `accept`: the returned function resolves with the next
 * connection, retrying transient failures with back-off, or with
 * `undefined` once `signal` aborts (the listener was closed, also during a
 * back-off); it rejects with a {@link ListenerError} on any other failure.
 *
 * @example
 * ```ts
 * import { acceptWithBackoff } from "./accept.ts";
 * const closing = new AbortController();
 * const next = acceptWithBackoff(
 *   () => Promise.resolve("a connection"),
 *   { hostname: "127.0.0.1", port: 2222, signal: closing.signal },
 *   { onWarning: (w) => console.error(w) },
 * );
 * console.log(await next()); // "a connection"
 * ```
 */
export function acceptWithBackoff<T>(
  accept: () => Promise<T>,
  where: { hostname: string; port: number; signal: AbortSignal },
  options: AcceptBackoffOptions = {},
): () => Promise<T | undefined> {
  const initial = options.initialDelayMs ?? INITIAL_DELAY_MS;
  const max = options.maxDelayMs ?? MAX_DELAY_MS;
  const sleep = options.sleep ?? abortableSleep;
  const bursts = new AcceptBursts(options.onWarning, options.now);
  const { signal } = where;
  let delay = initial;
  return async () => {
    for (;;) {
      if (signal.aborted) return undefined;
      let conn: T;
      try {
        conn = await accept();
      } catch (e) {
        if (signal.aborted) return undefined;
        const code = errnoName(e);
        if (!TRANSIENT_ACCEPT_ERRORS.has(code)) {
          const detail = e instanceof Error ? e.message : String(e);
          throw new ListenerError(detail, {
            hostname: where.hostname,
            port: where.port,
            code,
            cause: e,
          });
        }
        bursts.failed(e, delay);
        await sleep(delay, signal);
        delay = Math.min(delay * 2, max);
        continue;
      }
      bursts.succeeded();
      delay = initial;
      return conn;
    }
  };
}

/**
 * The accepting half of a listener, from a source of connections: `next`
 * resolves with the next one, or undefined once the listener is closed.
 * `accept()` throws then (naming `what`); iteration ends.
 *
 * @example
 * ```ts
 * import { acceptingFrom } from "./accept.ts";
 * const queue = [1, 2];
 * const l = acceptingFrom(() => Promise.resolve(queue.shift()), "listenDemo on :0");
 * for await (const n of l) console.log(n); // 1, then 2
 * ```
 */
export function acceptingFrom<T>(
  next: () => Promise<T | undefined>,
  what: string,
): { accept(): Promise<T>; [Symbol.asyncIterator](): AsyncGenerator<T> } {
  return {
    async accept() {
      const conn = await next();
      if (conn === undefined) throw new Error(`${what}: the listener is closed`);
      return conn;
    },
    async *[Symbol.asyncIterator]() {
      for (;;) {
        const conn = await next();
        if (conn === undefined) return;
        yield conn;
      }
    },
  };
}
