/**
 * Fan-out: run one command on many hosts from one client, as an observable
 * of results. At most `concurrency` hosts are worked on at once; each
 * attempt (TCP connect, key exchange, authentication and the command) has a
 * time limit; failed attempts are retried with a doubling delay when a retry
 * can help (refused, timed out, unreachable, a broken connection), never
 * for a refused login or a wrong host key. A host that fails is a value
 * (`ok: false`, with the kind of failure), not an error: one bad host never
 * breaks the pipeline, and the stream completes once every host has a
 * result.
 *
 * @module
 */
import { defer, from, mergeMap, Observable } from "rxjs";
import { connect, type ConnectOptions, type SshClient } from "./client.ts";
import { AuthenticationError } from "./auth/client.ts";
import { HostKeyError } from "./host_keys.ts";
import { connectTcp } from "./runtime/tcp.ts";
import type { TcpConnection } from "./runtime/types.ts";

/**
 * One host to run on: `connect` options (host, port, username,
 * credentials, hostKey), with an optional display `name`. A string is
 * `host`, `host:port`, `user@host` or `user@[v6]:port`.
 *
 * @example
 * ```ts
 * import type { FanOutTarget } from "./fanout.ts";
 * const t: FanOutTarget = { name: "db-1", host: "10.0.0.5", port: 22, username: "ops" };
 * ```
 */
export interface FanOutTarget extends Omit<ConnectOptions, "stream" | "via"> {
  /** How the host appears in its result (default `host` or `host:port`). */
  name?: string;
  /** This host's time limit per attempt, in ms (default: {@link FanOutOptions.timeoutMs}). */
  timeoutMs?: number;
}

/**
 * Options of {@link fanOut}.
 *
 * @example
 * ```ts
 * import type { FanOutOptions } from "./fanout.ts";
 * const o: FanOutOptions = { concurrency: 32, timeoutMs: 10_000, retries: 2, defaults: { username: "ops" } };
 * ```
 */
export interface FanOutOptions {
  /** Hosts worked on at once (default 16). */
  concurrency?: number;
  /** Time limit of one attempt in ms, from the TCP connect to the exit status (default 30000). */
  timeoutMs?: number;
  /** Further attempts after a failure that may pass (default 1). */
  retries?: number;
  /** Delay before the first retry in ms, doubled for each next one (default 250). */
  retryDelayMs?: number;
  /** Connect options for every host (credentials, hostKey); a target's own win. */
  defaults?: Omit<ConnectOptions, "stream" | "via" | "host" | "port">;
  /** Sent to the command's standard input, then EOF. */
  stdin?: Uint8Array | string;
  /** Clock for the timings (default `performance.now`). */
  now?: () => number;
}

/**
 * How a host failed: `refused` (nothing listens: ECONNREFUSED), `timeout`
 * (an attempt took longer than `timeoutMs`), `unreachable` (no route, no
 * such name), `auth` (the server refused every credential), `host-key`
 * (the server's key was not the expected one), `error` (anything else: a
 * broken connection, a protocol error).
 *
 * @example
 * ```ts
 * import type { FanOutFailure } from "./fanout.ts";
 * const retryable = (f: FanOutFailure) => f !== "auth" && f !== "host-key";
 * ```
 */
export type FanOutFailure = "refused" | "timeout" | "unreachable" | "auth" | "host-key" | "error";

/**
 * When a host's work happened, in ms of the `now` clock.
 *
 * @example
 * ```ts
 * import type { FanOutTiming } from "./fanout.ts";
 * const line = (t: FanOutTiming) => `connected in ${t.connectMs ?? "-"} ms, done in ${t.totalMs} ms`;
 * ```
 */
export interface FanOutTiming {
  /** When the first attempt started. */
  readonly startedAt: number;
  /** From the start of the last attempt to authenticated (absent if it never got there). */
  readonly connectMs?: number;
  /** From the first attempt's start to the result, retries and their delays included. */
  readonly totalMs: number;
}

/**
 * One host's result: the command's exit status and output (`ok: true`), or
 * how the host failed (`ok: false`).
 *
 * @example
 * ```ts
 * import type { FanOutResult } from "./fanout.ts";
 * const line = (r: FanOutResult) =>
 *   r.ok ? `${r.host}: exit ${r.code} (${r.timing.totalMs} ms)` : `${r.host}: ${r.failure}: ${r.message}`;
 * ```
 */
export type FanOutResult =
  | {
    readonly ok: true;
    readonly host: string;
    /** The exit status, when the server sent one. */
    readonly code?: number;
    /** The signal that ended the command, when it was killed. */
    readonly signal?: string;
    readonly stdout: Uint8Array;
    readonly stderr: Uint8Array;
    /** 1, or more when earlier attempts failed. */
    readonly attempts: number;
    readonly timing: FanOutTiming;
  }
  | {
    readonly ok: false;
    readonly host: string;
    readonly failure: FanOutFailure;
    /** What went wrong, from the last attempt's error. */
    readonly message: string;
    /** The last attempt's error. */
    readonly error: unknown;
    readonly attempts: number;
    readonly timing: FanOutTiming;
  };

/**
 * Runs `command` on every host of `hosts` (an array, an iterable, an async
 * iterable or an observable of hosts) and emits one {@link FanOutResult} per host, in the
 * order they finish, then completes. It never errors for a host's failure;
 * unsubscribing abandons the hosts in flight (their connections are
 * closed).
 *
 * @example
 * ```ts
 * import { fanOut } from "./fanout.ts";
 * import { generatePrivateKey } from "./keys/private_key.ts";
 * const key = await generatePrivateKey("ssh-ed25519");
 * const results$ = fanOut(["web-1", "web-2", "ops@db-1:2222"], "uptime", {
 *   concurrency: 50,
 *   timeoutMs: 10_000,
 *   retries: 2,
 *   defaults: { username: "deploy", privateKeys: [key], hostKey: { knownHosts: "~/.ssh/known_hosts" } },
 * });
 * results$.subscribe((r) => console.log(r.host, r.ok ? r.code : r.failure));
 * ```
 */
export function fanOut(
  hosts:
    | Iterable<string | FanOutTarget>
    | AsyncIterable<string | FanOutTarget>
    | Observable<string | FanOutTarget>,
  command: string,
  options: FanOutOptions = {},
): Observable<FanOutResult> {
  const concurrency = options.concurrency ?? 16;
  if (!(concurrency >= 1)) {
    throw new RangeError(`fanOut: concurrency must be ≥ 1, got ${concurrency}`);
  }
  return from(hosts).pipe(
    mergeMap(
      (h) => defer(() => oneHost(typeof h === "string" ? parseTarget(h) : h, command, options)),
      concurrency,
    ),
  );
}

/** `[user@]host[:port]`, with IPv6 in brackets. */
function parseTarget(text: string): FanOutTarget {
  const m = /^(?:([^@]+)@)?(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(text);
  if (!m) return { host: text, name: text };
  const host = m[2].replace(/^\[(.*)\]$/, "$1");
  return { name: text, host, ...(m[1] && { username: m[1] }), ...(m[3] && { port: Number(m[3]) }) };
}

/** One host, as an observable of its one result: attempts, retries, and closing on unsubscribe. */
function oneHost(
  target: FanOutTarget,
  command: string,
  options: FanOutOptions,
): Observable<FanOutResult> {
  return new Observable<FanOutResult>((subscriber) => {
    const stop = new AbortController();
    (async () => {
      const now = options.now ?? (() => performance.now());
      const host = target.name ??
        (target.port ? `${target.host}:${target.port}` : target.host ?? "");
      const startedAt = now();
      const retries = options.retries ?? 1;
      let delay = options.retryDelayMs ?? 250;
      for (let attempt = 1;; attempt++) {
        const r = await runAttempt(target, command, { options, now, signal: stop.signal });
        if (stop.signal.aborted) return;
        const timing = { startedAt, connectMs: r.connectMs, totalMs: now() - startedAt };
        if (r.ok) {
          const { stdout, stderr, code, signal } = r.result;
          subscriber.next({
            ok: true,
            host,
            code,
            signal,
            stdout,
            stderr,
            attempts: attempt,
            timing,
          });
          return subscriber.complete();
        }
        const failure = classify(r.error);
        // A refused login, a wrong host key or bad options (a TypeError) fail the same way again.
        const retryable = failure !== "auth" && failure !== "host-key" &&
          !(r.error instanceof TypeError);
        if (!retryable || attempt > retries) {
          const message = r.error instanceof Error ? r.error.message : String(r.error);
          subscriber.next({
            ok: false,
            host,
            failure,
            message,
            error: r.error,
            attempts: attempt,
            timing,
          });
          return subscriber.complete();
        }
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay *= 2;
      }
    })();
    return () => stop.abort();
  });
}

/** Thrown into an attempt that ran out of time. */
class AttemptTimeout extends Error {
  constructor(ms: number) {
    super(`no result within ${ms} ms`);
    this.name = "AttemptTimeout";
  }
}

type Attempt =
  | { ok: true; result: Awaited<ReturnType<SshClient["exec"]>>; connectMs?: number }
  | { ok: false; error: unknown; connectMs?: number };

/** One try: TCP, SSH, the command, all under the time limit; everything is closed after. */
async function runAttempt(
  target: FanOutTarget,
  command: string,
  c: { options: FanOutOptions; now: () => number; signal: AbortSignal },
): Promise<Attempt> {
  const { options, now } = c;
  const timeoutMs = target.timeoutMs ?? options.timeoutMs ?? 30_000;
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new AttemptTimeout(timeoutMs)), timeoutMs);
  const onStop = () => ac.abort(new Error("fanOut: unsubscribed"));
  c.signal.addEventListener("abort", onStop);
  const aborted = new Promise<never>((_, reject) =>
    ac.signal.addEventListener("abort", () => reject(ac.signal.reason))
  );
  aborted.catch(() => {});
  const race = <T>(p: Promise<T>) => {
    p.catch(() => {}); // lost races must not be unhandled rejections
    return Promise.race([p, aborted]);
  };
  const start = now();
  let conn: TcpConnection | undefined;
  let client: SshClient | undefined;
  let connectMs: number | undefined;
  try {
    const { name: _, timeoutMs: _t, ...opts } = { ...options.defaults, ...target };
    conn = await race(connectTcp(opts.host ?? "", opts.port ?? 22, { signal: ac.signal }));
    const connecting = connect({ ...opts, stream: conn });
    connecting.then((cl) => {
      if (ac.signal.aborted) cl.close().catch(() => {}); // it won after the time limit
    }, () => {});
    client = await race(connecting);
    connectMs = now() - start;
    const result = await race(client.exec(command, { stdin: options.stdin }));
    return { ok: true, result, connectMs };
  } catch (error) {
    return { ok: false, error, connectMs };
  } finally {
    clearTimeout(timer);
    c.signal.removeEventListener("abort", onStop);
    await client?.close().catch(() => {});
    conn?.close();
  }
}

/** The kind of a failed attempt, from its error. */
function classify(e: unknown): FanOutFailure {
  if (e instanceof AttemptTimeout) return "timeout";
  if (e instanceof AuthenticationError) return "auth";
  if (e instanceof HostKeyError) return "host-key";
  const text = `${(e as { name?: string })?.name ?? ""} ${(e as { code?: string })?.code ?? ""} ${
    e instanceof Error ? e.message : String(e)
  }`;
  if (/ECONNREFUSED|ConnectionRefused|connection refused/i.test(text)) return "refused";
  if (/host key/i.test(text)) return "host-key";
  if (/EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_|NotFound|unreachable|failed to lookup/i.test(text)) {
    return "unreachable";
  }
  return "error";
}
