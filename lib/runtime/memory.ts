/**
 * An in-memory, buffered duplex pair: two {@link ByteStreamPair}s connected
 * back to back, for tests and for running a client and a server in one
 * process.
 *
 * @module
 */
import type { ByteStreamPair } from "./types.ts";

/**
 * Options of {@link memoryPair}.
 *
 * @example
 * ```ts
 * import { memoryPair, type MemoryPairOptions } from "./memory.ts";
 * const options: MemoryPairOptions = { highWaterMark: 64 * 1024 };
 * const [a, b] = memoryPair(options);
 * ```
 */
export interface MemoryPairOptions {
  /**
   * Bytes buffered in each direction before writes start waiting for the
   * reader (default 4 MiB).
   */
  highWaterMark?: number;
}

/** Default buffer of each direction of a {@link memoryPair}. */
const DEFAULT_HIGH_WATER_MARK = 4 * 1024 * 1024;

/**
 * Two connected in-memory duplex streams: what `a` writes, `b` reads, and the
 * other way round.
 *
 * - Buffered: a write resolves at once while fewer than `highWaterMark` bytes
 *   wait for the reader, so both sides may write (an SSH version line, a
 *   KEXINIT) before either reads. Beyond that, writes wait for the reader.
 * - Every chunk is copied on write, so the writer may reuse its buffer as soon
 *   as `write()` is called.
 * - Closing `a.writable` closes `b.readable` once the buffered bytes are
 *   read; aborting it errors `b.readable` with the abort reason. Cancelling
 *   `b.readable` makes later writes on `a.writable` reject (like EPIPE).
 *
 * @example
 * ```ts
 * import { memoryPair } from "./memory.ts";
 * const [a, b] = memoryPair();
 * const w = a.writable.getWriter();
 * await w.write(new TextEncoder().encode("hello"));
 * await w.close();
 * console.log(await new Response(b.readable).text()); // "hello"
 * ```
 */
export function memoryPair(options: MemoryPairOptions = {}): [ByteStreamPair, ByteStreamPair] {
  const hwm = options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
  if (!(hwm > 0) || !Number.isFinite(hwm)) {
    throw new RangeError(`memoryPair: highWaterMark must be a positive number, got ${hwm}`);
  }
  const ab = pipe(hwm);
  const ba = pipe(hwm);
  return [
    { readable: ba.readable, writable: ab.writable },
    { readable: ab.readable, writable: ba.writable },
  ];
}

/** One direction: a writable whose chunks are copied into a readable's queue. */
function pipe(hwm: number): ByteStreamPair {
  let rc!: ReadableStreamDefaultController<Uint8Array>;
  let cancelled = false;
  let wakers: (() => void)[] = [];
  const wake = () => {
    const w = wakers;
    wakers = [];
    for (const f of w) f();
  };
  const readable = new ReadableStream<Uint8Array>(
    {
      start(c) {
        rc = c;
      },
      pull() {
        wake();
      },
      cancel() {
        cancelled = true;
        wake();
      },
    },
    { highWaterMark: hwm, size: (chunk) => chunk.byteLength },
  );
  const writable = new WritableStream<Uint8Array>({
    async write(chunk, wc) {
      if (cancelled) throw new Error("memoryPair: the reading side was cancelled");
      rc.enqueue(chunk.slice());
      // Wait for room below the high-water mark (or for the reader to go away,
      // or for this writable to be aborted).
      const signal: AbortSignal | undefined = wc.signal;
      while (!cancelled && (rc.desiredSize ?? 1) <= 0 && !signal?.aborted) {
        await new Promise<void>((resolve) => {
          wakers.push(resolve);
          signal?.addEventListener("abort", () => resolve(), { once: true });
        });
      }
    },
    close() {
      if (!cancelled) rc.close();
    },
    abort(reason) {
      if (!cancelled) rc.error(reason);
    },
  });
  return { readable, writable };
}
