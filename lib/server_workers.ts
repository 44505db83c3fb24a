/**
 * `listen({ workers: N })`: N processes, each running this program again
 * and accepting on one shared port (SO_REUSEPORT), in the manner of
 * `node:cluster`. The program calls `listen` in every process:
 *
 * - in the first (the primary), `listen` starts the workers and returns an
 *   {@link SshServer} that accepts nothing itself: its `port` is the shared
 *   port, `workers` their process ids, `close({ graceMs })` stops them all
 *   gracefully; its observables emit nothing (connections live in the
 *   workers) and complete when it is closed;
 * - in a worker (the environment variable `RXSSH_LISTEN_WORKER` is set),
 *   `listen` returns an ordinary server bound with `reusePort`, serving with
 *   the primary's host keys (sent over a pipe, never written to disk), so
 *   every worker shows the same host key whatever the program loaded or
 *   generated in that process.
 *
 * @module
 */
import { Subject } from "rxjs";
import { parsePrivateKeyFile, writePrivateKeyFile } from "./keys/private_key_file.ts";
import type { PrivateKey } from "./keys/types.ts";
import { parentMessages, tellParent, WorkerProcess } from "./runtime/_workers.ts";
import { ServerHandlers } from "./server_handlers.ts";
import type { CloseOptions, SshServer } from "./server.ts";
import process from "node:process";

/** The environment variable that makes `listen({ workers })` a worker's (its value: the worker's number). */
export const LISTEN_WORKER_ENV = "RXSSH_LISTEN_WORKER";

type ToWorker =
  | { type: "start"; hostKeys: string[]; port: number }
  | { type: "stop"; graceMs?: number; message?: string };
type ToParent = { type: "ready"; port: number } | { type: "failed"; message: string };

/** What `listen` gives {@link listenWorkers}: its options and itself, for one process. */
interface ListenOne<O> {
  options: O & { workers?: number; hostKeys: readonly PrivateKey[]; port?: number };
  listen(
    options: O & { workers: 1; port: number; hostKeys: PrivateKey[]; reusePort: true },
  ): Promise<SshServer>;
}

/**
 * `listen({ workers })`: in a worker, the one-process server on the shared
 * port; in the primary with `workers` above 1, the server that runs the
 * workers; otherwise `undefined` (one process: `listen` goes on as usual).
 *
 * @example
 * ```ts
 * import { listenWorkers } from "./server_workers.ts";
 * import { listen } from "./server.ts";
 * import { generatePrivateKey } from "./keys/private_key.ts";
 * const options = { port: 0, workers: 1, hostKeys: [await generatePrivateKey("ssh-ed25519")] };
 * console.log(await listenWorkers({ options, listen })); // undefined: one process
 * ```
 */
export async function listenWorkers<O>(one: ListenOne<O>): Promise<SshServer | undefined> {
  if (process.env[LISTEN_WORKER_ENV] !== undefined) return await serveAsWorker(one);
  const workers = one.options.workers ?? 1;
  if (!Number.isInteger(workers) || workers < 1) {
    throw new RangeError(`listen: workers must be a positive integer, got ${workers}`);
  }
  return workers > 1 ? await startWorkers(one.options, workers) : undefined;
}

/** A worker: the start message's host keys and port, a server with reusePort, stop on request. */
async function serveAsWorker<O>(one: ListenOne<O>): Promise<SshServer> {
  delete process.env[LISTEN_WORKER_ENV]; // one listen per worker; sessions do not inherit it
  const inbox = parentMessages<ToWorker>();
  const start = await inbox.next();
  if (start?.type !== "start") throw new Error("listen: a worker's parent sent no start message");
  let server: SshServer;
  try {
    const hostKeys = await Promise.all(
      start.hostKeys.map(async (text) => (await parsePrivateKeyFile(text)).key),
    );
    // workers: 1: this process serves (the variable is gone, so listen must not start workers).
    server = await one.listen({
      ...one.options,
      workers: 1,
      port: start.port,
      hostKeys,
      reusePort: true,
    });
  } catch (e) {
    tellParent({ type: "failed", message: e instanceof Error ? e.message : String(e) });
    throw e;
  }
  tellParent({ type: "ready", port: server.port });
  (async () => {
    // The parent's stop, or its end (it died): a graceful close either way.
    const stop = await inbox.next();
    const graceMs = stop?.type === "stop" ? stop.graceMs : 30_000;
    const closing = server.close({
      graceMs,
      message: stop?.type === "stop" ? stop.message : undefined,
    });
    // A second stop cuts the grace period short.
    await Promise.race([closing, inbox.next().then(() => server.close({ graceMs: 0 }))]);
    inbox.close();
  })();
  return server;
}

/** The primary: starts `count` workers (the first binds the port), and the server that stands for them. */
async function startWorkers(
  options: { hostKeys: readonly PrivateKey[]; port?: number },
  count: number,
): Promise<SshServer> {
  const hostKeys = await Promise.all(options.hostKeys.map((k) => writePrivateKeyFile(k)));
  const deno = (globalThis as { Deno?: { args: string[] } }).Deno;
  const args = deno ? deno.args : process.argv.slice(2);
  const workers: WorkerProcess<ToWorker, ToParent>[] = [];
  const launch = async (index: number, port: number) => {
    const w = new WorkerProcess<ToWorker, ToParent>(index, {
      args,
      env: { [LISTEN_WORKER_ENV]: String(index) },
    });
    workers.push(w);
    const answer = await w.request({ type: "start", hostKeys, port });
    if (answer?.type !== "ready") {
      throw new Error(
        `listen: worker ${index} did not start: ${answer?.message ?? `exited (${w.exitCode})`}`,
      );
    }
    return answer.port;
  };
  const stopAll = async (c: CloseOptions = {}) => {
    for (const w of workers) w.send({ type: "stop", graceMs: c.graceMs, message: c.message });
    const timer = setTimeout(() => {
      for (const w of workers) if (w.exitCode === undefined) w.child.kill("SIGKILL");
    }, (c.graceMs ?? 0) + 10_000);
    await Promise.all(workers.map((w) => w.exited));
    clearTimeout(timer);
  };
  let port: number;
  try {
    port = await launch(1, options.port ?? 22);
    await Promise.all(Array.from({ length: count - 1 }, (_, i) => launch(i + 2, port)));
  } catch (e) {
    await stopAll();
    throw e;
  }
  return primaryServer({ port, workers, stopAll });
}

/** The primary's {@link SshServer}: no connections of its own; `close` stops the workers. */
function primaryServer(s: {
  port: number;
  workers: WorkerProcess<ToWorker, ToParent>[];
  stopAll(c?: CloseOptions): Promise<void>;
}): SshServer {
  const ended = new Subject<never>();
  let closing: Promise<void> | undefined;
  return {
    port: s.port,
    workers: s.workers.map((w) => w.child.pid!),
    accept$: ended.asObservable(),
    connection$: ended.asObservable(),
    rejected$: ended.asObservable(),
    listenerWarning$: ended.asObservable(),
    handlers: new ServerHandlers(),
    close: (c = {}) => {
      // A second close cuts the first one's grace period short.
      if (closing) { for (const w of s.workers) w.send({ type: "stop", graceMs: 0 }); }
      return closing ??= s.stopAll(c).finally(() => ended.complete());
    },
  };
}
