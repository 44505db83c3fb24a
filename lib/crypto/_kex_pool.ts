/**
 * Runs the modular exponentiations of the finite-field key exchanges
 * (`kex_dh.ts`) off the main thread, so that an 8192-bit exchange (tens of
 * ms of CPU) does not stall every other connection of the process.
 *
 * - Workers (`_kex_worker.ts`, `node:worker_threads`) start lazily, on the
 *   first exchange, up to {@link KEX_POOL_SIZE}; a job goes to the worker with
 *   the fewest jobs, and jobs queue inside each worker.
 * - A worker is `ref`'d while it has jobs and `unref`'d when it has none, so
 *   an idle pool never keeps a process alive. (`node:worker_threads` rather
 *   than the web `Worker`: Deno's web `Worker` cannot be unref'd, and
 *   terminating it when idle would cost a restart of 30 ms per exchange.)
 * - Server exchanges waiting in the pool are bounded by
 *   {@link MAX_QUEUED_SERVER_EXCHANGES}: past it, a new one is refused with a
 *   `DisconnectError` (TOO_MANY_CONNECTIONS), so a flood queues a bounded
 *   amount of work instead of a growing one. Client exchanges are the
 *   process's own and are not refused.
 * - Where no worker can run (no `node:worker_threads`, or a worker failed),
 *   the same `modPow` runs synchronously: same results, on the main thread.
 * - The exponent is a secret: no error made here or in the worker carries
 *   anything derived from a request.
 *
 * @module
 */
import { DisconnectError, DisconnectReason } from "../wire/errors.ts";
import { modPow } from "./_modpow.ts";

/**
 * One `base ^ exponent mod modulus`.
 *
 * @example
 * ```ts
 * import type { PowRequest } from "./_kex_pool.ts";
 * const r: PowRequest = { base: 2n, exponent: 10n, modulus: 1000n };
 * ```
 */
export interface PowRequest {
  /** The base (the generator g, or the peer's public value). */
  base: bigint;
  /** The private exponent: never copied into any error or message. */
  exponent: bigint;
  /** The group's prime p. */
  modulus: bigint;
}

/**
 * Workers in the pool: the cores minus one for the event loop, at least 1,
 * at most 4 (measured on a 2-core machine: one worker; see DESIGN.md).
 *
 * @example
 * ```ts
 * import { KEX_POOL_SIZE } from "./_kex_pool.ts";
 * console.log(KEX_POOL_SIZE >= 1); // true
 * ```
 */
export const KEX_POOL_SIZE: number = Math.max(
  1,
  Math.min(4, ((globalThis.navigator?.hardwareConcurrency as number | undefined) ?? 2) - 1),
);

/**
 * Server-side exchanges that may wait in the pool at once, process-wide.
 * An 8192-bit exchange costs 30-100 ms of a worker: 64 of them are a few
 * seconds of queue, well inside any login grace time.
 *
 * @example
 * ```ts
 * import { MAX_QUEUED_SERVER_EXCHANGES } from "./_kex_pool.ts";
 * console.log(MAX_QUEUED_SERVER_EXCHANGES); // 64
 * ```
 */
export const MAX_QUEUED_SERVER_EXCHANGES = 64;

interface Job {
  requests: PowRequest[];
  resolve(results: bigint[]): void;
  reject(error: Error): void;
}

/** The part of a `node:worker_threads` Worker used here. */
interface ThreadWorker {
  postMessage(value: unknown): void;
  on(
    event: "message",
    listener: (value: { id: number; results?: bigint[]; error?: string }) => void,
  ): void;
  on(event: "error", listener: (error: unknown) => void): void;
  on(event: "exit", listener: (code: number) => void): void;
  ref(): void;
  unref(): void;
  terminate(): unknown;
}

interface Slot {
  worker: ThreadWorker;
  jobs: Map<number, Job>;
}

type WorkerConstructor = new (url: URL) => ThreadWorker;

const slots: Slot[] = [];
let nextId = 0;
let queuedServer = 0;
let jobsInWorkers = 0;
/** Why the pool runs in-thread, once it does. */
let fallback: string | undefined;
let workerClass: Promise<WorkerConstructor | undefined> | undefined;

function loadWorkerClass(): Promise<WorkerConstructor | undefined> {
  workerClass ??= import("node:worker_threads").then(
    (m) => m.Worker as unknown as WorkerConstructor,
    () => undefined,
  );
  return workerClass;
}

function runInThread(requests: PowRequest[]): bigint[] {
  return requests.map((r) => modPow(r.base, r.exponent, r.modulus));
}

/** A worker died or failed to load: finish its jobs here, and stop using workers. */
function retire(slot: Slot, why: string): void {
  fallback ??= why;
  const i = slots.indexOf(slot);
  if (i >= 0) slots.splice(i, 1);
  try {
    slot.worker.terminate();
  } catch {
    // already gone
  }
  const jobs = [...slot.jobs.values()];
  slot.jobs.clear();
  for (const job of jobs) {
    try {
      job.resolve(runInThread(job.requests));
    } catch (e) {
      job.reject(e as Error);
    }
  }
}

function startWorker(Worker: WorkerConstructor): Slot | undefined {
  let worker: ThreadWorker;
  try {
    worker = new Worker(new URL("./_kex_worker.ts", import.meta.url));
  } catch (e) {
    fallback ??= `cannot start a worker: ${(e as Error)?.name ?? "error"}`;
    return undefined;
  }
  const slot: Slot = { worker, jobs: new Map() };
  worker.on("message", ({ id, results, error }) => {
    const job = slot.jobs.get(id);
    if (!job) return;
    slot.jobs.delete(id);
    if (slot.jobs.size === 0) worker.unref();
    jobsInWorkers++;
    if (results) job.resolve(results);
    else job.reject(new RangeError(`modular exponentiation failed in the worker (${error})`));
  });
  worker.on("error", (e) => retire(slot, `worker error: ${(e as Error)?.name ?? "error"}`));
  worker.on("exit", (code) => retire(slot, `worker exited with code ${code}`));
  slots.push(slot);
  return slot;
}

/** The worker for the next job: the least busy, or a new one while the pool has room. */
function pickSlot(Worker: WorkerConstructor): Slot | undefined {
  let best: Slot | undefined;
  for (const s of slots) if (!best || s.jobs.size < best.jobs.size) best = s;
  if ((!best || best.jobs.size > 0) && slots.length < KEX_POOL_SIZE && fallback === undefined) {
    return startWorker(Worker) ?? best;
  }
  return best;
}

/**
 * Computes every `base ^ exponent mod modulus` of `requests`, in a worker
 * when one can run, else on this thread; same results either way.
 * `server: true` counts the job against {@link MAX_QUEUED_SERVER_EXCHANGES}
 * and rejects with a `DisconnectError` (TOO_MANY_CONNECTIONS) past it;
 * `what` names the method in that error.
 *
 * @example
 * ```ts
 * import { powAll } from "./_kex_pool.ts";
 * const [a, b] = await powAll([
 *   { base: 2n, exponent: 10n, modulus: 1000n },
 *   { base: 3n, exponent: 3n, modulus: 5n },
 * ]);
 * console.log(a, b); // 24n 2n
 * ```
 */
export async function powAll(
  requests: PowRequest[],
  options: { server?: boolean; what?: string } = {},
): Promise<bigint[]> {
  if (options.server) {
    if (queuedServer >= MAX_QUEUED_SERVER_EXCHANGES) {
      throw new DisconnectError(
        DisconnectReason.TOO_MANY_CONNECTIONS,
        `${options.what ?? "key exchange"}: ${queuedServer} finite-field key exchanges are ` +
          `already waiting (limit ${MAX_QUEUED_SERVER_EXCHANGES}); try again later`,
        { local: true },
      );
    }
    queuedServer++;
  }
  try {
    const Worker = fallback === undefined ? await loadWorkerClass() : undefined;
    const slot = Worker ? pickSlot(Worker) : undefined;
    if (!slot) {
      fallback ??= "node:worker_threads is not available";
      return runInThread(requests);
    }
    const id = nextId++;
    const done = new Promise<bigint[]>((resolve, reject) => {
      slot.jobs.set(id, { requests, resolve, reject });
    });
    slot.worker.ref();
    slot.worker.postMessage({ id, requests });
    return await done;
  } finally {
    if (options.server) queuedServer--;
  }
}

/**
 * What the pool has done so far, for tests and diagnostics: live workers,
 * jobs answered by a worker, server exchanges waiting, and why it fell back
 * to the main thread (undefined while it has not).
 *
 * @example
 * ```ts
 * import { kexPoolState } from "./_kex_pool.ts";
 * console.log(kexPoolState().workers); // 0 before the first exchange
 * ```
 */
export function kexPoolState(): {
  workers: number;
  jobsInWorkers: number;
  queuedServer: number;
  fallback: string | undefined;
} {
  return { workers: slots.length, jobsInWorkers, queuedServer, fallback };
}
