/**
 * Helpers shared by the runtime layer's tests.
 *
 * @module
 */

/** UTF-8 encoder. */
export const enc = new TextEncoder();
/** UTF-8 decoder. */
export const dec = new TextDecoder();

/** Reads `readable` to its end and returns everything as one array. */
export async function readAll(readable: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of readable) parts.push(c);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
