/**
 * Compression for the SSH packet layer (RFC 4253 §6.2, issue 12): `fflate`
 * against the runtime's `node:zlib`, each as SSH needs it: one zlib stream
 * per direction, a sync flush after every packet, the context kept across
 * packets. Runs unchanged under Deno and Bun:
 *
 * ```sh
 * deno run -A bench/compression_bench.ts      # or: bun bench/compression_bench.ts
 * ```
 *
 * `node:zlib` has no synchronous streaming call (`zlibSync`-style calls
 * start a new stream every time, and `_processChunk` without a callback
 * closes the stream after one chunk), so it is measured as streams:
 * `write()` then `flush(Z_SYNC_FLUSH)`, awaiting the callback per packet.
 * Prints µs per packet and MB/s of payload for compressing and for
 * inflating, at ~100-byte packets (interactive) and 32 KiB packets (bulk).
 *
 * @module
 */
import * as zlib from "node:zlib";

/** fflate, when installed (`npm install --no-save fflate@0.8.3`): not a dependency of rxssh. */
type Fflate = {
  Zlib: new (o: { level: number }, cb: (d: Uint8Array) => void) => {
    push(d: Uint8Array): void;
    flush(sync: boolean): void;
  };
  Unzlib: new (cb: (d: Uint8Array) => void) => { push(d: Uint8Array): void };
};
const fflateName = "fflate";
const fflate: Fflate | undefined = await import(fflateName).catch(() => undefined);

/** Text-like data (log lines with varying numbers), compressible about 3-5x. */
function sample(size: number, seed: number): Uint8Array {
  let s = seed >>> 0;
  const rnd = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0);
  const words = ["GET", "/index.html", "200", "user", "ssh", "deny", "accept", "ms", "bytes"];
  let text = "";
  while (text.length < size) {
    text += `${rnd() % 100000} ${words[rnd() % words.length]} ${words[rnd() % words.length]} ${
      (rnd() % 1000).toString(16)
    }\n`;
  }
  return new TextEncoder().encode(text.slice(0, size));
}

interface Codec {
  name: string;
  compress(p: Uint8Array): Uint8Array | Promise<Uint8Array>;
  inflate(p: Uint8Array): Uint8Array | Promise<Uint8Array>;
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  n = 0;
  for (const p of parts) out.set(p, n), n += p.length;
  return out;
}

function fflateCodec(): Codec {
  const { Zlib, Unzlib } = fflate!;
  let out: Uint8Array[] = [];
  const z = new Zlib({ level: 6 }, (d) => out.push(d));
  let inflated: Uint8Array[] = [];
  const u = new Unzlib((d) => inflated.push(d));
  return {
    name: "fflate 0.8.3",
    compress(p) {
      out = [];
      z.push(p);
      z.flush(true);
      return concat(out);
    },
    inflate(p) {
      inflated = [];
      u.push(p);
      return concat(inflated);
    },
  };
}

/** A node:zlib stream used packet by packet: write, sync flush, collect. */
function flusher(stream: zlib.Deflate | zlib.Inflate) {
  let parts: Uint8Array[] = [];
  stream.on("data", (d: Uint8Array) => parts.push(d));
  return (p: Uint8Array) =>
    new Promise<Uint8Array>((resolve, reject) => {
      stream.write(p, (e) => e && reject(e));
      stream.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        const got = concat(parts);
        parts = [];
        resolve(got);
      });
    });
}

function nodeCodec(): Codec {
  return {
    name: "node:zlib streams",
    compress: flusher(zlib.createDeflate({ level: 6 })),
    inflate: flusher(zlib.createInflate()),
  };
}

/** Inflates the concatenation of `packets` with zlib itself: whether a compressor's stream is valid. */
function validStream(packets: Uint8Array[], plain: Uint8Array[]): string {
  try {
    const got = zlib.inflateSync(concat(packets), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    const want = concat(plain);
    if (got.length !== want.length || !got.every((b, i) => b === want[i])) return "WRONG DATA";
    return "ok";
  } catch (e) {
    return `INVALID (${(e as Error).message})`;
  }
}

/**
 * One codec at one packet size: `count` packets compressed by a fresh
 * stream (timed; the stream checked with zlib), then a stream made by
 * node:zlib inflated packet by packet (timed), so both inflaters get the
 * same valid input.
 */
async function measure(make: () => Codec, size: number, count: number) {
  const packets = Array.from({ length: 64 }, (_, i) => sample(size, i + 1));
  const plain = Array.from({ length: count }, (_, i) => packets[i % 64]);
  const warm = make();
  for (let i = 0; i < Math.min(count, 500); i++) await warm.compress(plain[i]);
  const c = make();
  let t = performance.now();
  const out: Uint8Array[] = [];
  for (const p of plain) out.push(await c.compress(p));
  const tc = performance.now() - t;
  const stream = validStream(out, plain);
  const reference = nodeCodec();
  const input: Uint8Array[] = [];
  for (const p of plain) input.push(await reference.compress(p));
  const d = make();
  let inflateError = "";
  t = performance.now();
  for (let i = 0; i < count; i++) {
    const got = await d.inflate(input[i]);
    if (got.length !== size) {
      inflateError = `packet ${i}: inflated ${got.length} bytes, not ${size}`;
      break;
    }
  }
  const td = performance.now() - t;
  const mb = (size * count) / 1e6;
  let zBytes = 0;
  for (const z of out) zBytes += z.length;
  return {
    codec: c.name,
    packet: size,
    ratio: (size * count / zBytes).toFixed(2),
    "deflate µs": ((tc * 1000) / count).toFixed(1),
    "deflate MB/s": (mb / (tc / 1000)).toFixed(1),
    "inflate µs": inflateError ? "-" : ((td * 1000) / count).toFixed(1),
    "inflate MB/s": inflateError ? "-" : (mb / (td / 1000)).toFixed(1),
    "deflated stream": stream,
    inflate: inflateError || "ok",
  };
}

const runtime = "Bun" in globalThis
  ? `bun ${(globalThis as { Bun?: { version: string } }).Bun!.version}`
  : `deno ${(globalThis as { Deno?: { version: { deno: string } } }).Deno!.version.deno}`;
const rows = [];
for (const [size, count] of [[100, 20000], [32 * 1024, 2000]]) {
  for (const make of fflate ? [fflateCodec, nodeCodec] : [nodeCodec]) {
    rows.push(await measure(make, size, count));
  }
}
console.log(`# ${runtime}${fflate ? "" : " (fflate not installed: node:zlib only)"}`);
console.table(rows);
