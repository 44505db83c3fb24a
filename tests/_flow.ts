// Test helpers for flow-control tests: a byte stream whose reads can be
// stopped (a peer that does not read) and one that counts what was read.

/** A readable that stops pulling from `src` while the gate is shut. */
export function gated(src: ReadableStream<Uint8Array>): {
  readable: ReadableStream<Uint8Array>;
  shut(): void;
  open(): void;
} {
  const reader = src.getReader();
  let open = true;
  let wake: (() => void) | undefined;
  const readable = new ReadableStream<Uint8Array>({
    async pull(c) {
      while (!open) await new Promise<void>((r) => (wake = r));
      const { value, done } = await reader.read();
      if (done) c.close();
      else c.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  }, { highWaterMark: 0 });
  return {
    readable,
    shut: () => void (open = false),
    open: () => {
      open = true;
      wake?.();
    },
  };
}

/** A readable that counts the bytes taken from `src` (in `count.bytes`). */
export function counted(
  src: ReadableStream<Uint8Array>,
): { readable: ReadableStream<Uint8Array>; count: { bytes: number } } {
  const reader = src.getReader();
  const count = { bytes: 0 };
  const readable = new ReadableStream<Uint8Array>({
    async pull(c) {
      const { value, done } = await reader.read();
      if (done) return c.close();
      count.bytes += value.length;
      c.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  }, { highWaterMark: 0 });
  return { readable, count };
}

/**
 * Waits until `read()` has not changed for `checks` checks `everyMs` apart
 * (the other side stopped); returns the last value.
 */
export async function settles(read: () => number, everyMs = 200, checks = 3): Promise<number> {
  let last = -1;
  for (let stable = 0; stable < checks;) {
    await new Promise((r) => setTimeout(r, everyMs));
    const now = read();
    stable = now === last ? stable + 1 : 0;
    last = now;
  }
  return last;
}
