/**
 * Small helpers shared by the transport's modules (transport.ts,
 * _handshake.ts, _packet_layer.ts). Private to lib/transport/.
 *
 * @module
 */
import { DisconnectError } from "../wire/errors.ts";

/**
 * A promise with its resolve and reject functions.
 *
 * @example
 * ```ts
 * import { deferred, type Deferred } from "./_support.ts";
 * const d: Deferred<number> = deferred<number>();
 * d.resolve(1);
 * console.log(await d.promise); // 1
 * ```
 */
export interface Deferred<T> {
  /** Settles through {@link resolve} or {@link reject}. */
  promise: Promise<T>;
  /** Fulfils {@link promise}. */
  resolve(v: T): void;
  /** Rejects {@link promise}. */
  reject(e: unknown): void;
}

/**
 * A new {@link Deferred}. Its rejections are also delivered to whoever
 * awaits it, but never reported as unhandled.
 *
 * @example
 * ```ts
 * import { deferred } from "./_support.ts";
 * const d = deferred<void>();
 * d.reject(new Error("nobody listens: no unhandled rejection"));
 * ```
 */
export function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Rejections are also delivered to whoever awaits; never unhandled.
  promise.catch(() => {});
  return { promise, resolve, reject };
}

/**
 * `p`'s value, or undefined when `ms` pass first (the timer never outlives it).
 *
 * @example
 * ```ts
 * import { withinMs } from "./_support.ts";
 * console.log(await withinMs(new Promise(() => {}), 10)); // undefined
 * ```
 */
export async function withinMs<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A {@link DisconnectError} decided by this side (RFC 4253 §11.1 `reason`).
 *
 * @example
 * ```ts
 * import { bad } from "./_support.ts";
 * import { DisconnectReason } from "../wire/errors.ts";
 * const e = bad(DisconnectReason.PROTOCOL_ERROR, "packet 3 has an empty payload");
 * console.log(e.local, e.reason); // true 2
 * ```
 */
export const bad = (reason: number, description: string): DisconnectError =>
  new DisconnectError(reason, description, { local: true });
