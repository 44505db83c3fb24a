/**
 * ChaCha20 in WebAssembly, the original variant OpenSSH uses (64-bit block
 * counter, 64-bit nonce; D. J. Bernstein's, the core of RFC 8439 §2.3 with a
 * different split of words 12..15). Four blocks at once in 128-bit SIMD
 * lanes where the runtime has WebAssembly SIMD (CPU per 32 KiB: Deno 27 µs,
 * Bun 47 µs; noble 67-98, Deno's node:crypto 32), else one block at a time
 * (52 µs). The rounds are unrolled by the generators below. Checked against noble's `chacha20orig`
 * on a multi-block known answer before first use; callers fall back to noble.
 *
 * @module
 */
import { concat, I32, localDecls, moduleBytes, op, simd, sleb, uleb, V128 } from "./_wasm.ts";
import { constantTimeEqual } from "./constant_time.ts";

/** Memory layout: the 16-word state at 0, 256 bytes of scratch at 64, the data from 320 on. */
const SCRATCH = 64, DATA = 320;

/**
 * The module around a block loop: `stream(ptr, len)` runs `iteration` while
 * at least `bytes` remain, advancing ptr and len by `bytes` each time.
 */
function streamModule(
  locals: number[],
  prologue: number[],
  bytes: number,
  iteration: number[],
): Uint8Array<ArrayBuffer> {
  const body = concat(
    locals,
    prologue,
    [
      op.block,
      0x40,
      op.loop,
      0x40,
      ...get(1),
      ...c32(bytes),
      op.i32LtU,
      op.brIf,
      1,
    ],
    iteration,
    [
      ...get(0),
      ...c32(bytes),
      op.i32Add,
      ...set(0),
      ...get(1),
      ...c32(bytes),
      op.i32Sub,
      ...set(1),
      op.br,
      0,
      op.end,
      op.end,
      op.end,
    ],
  );
  return moduleBytes({
    types: [{ params: [I32, I32], results: [] }],
    functions: [{ type: 0, name: "stream", body }],
  });
}

/** `stream(ptr, len)`: XOR `len` (a multiple of 64) bytes at `ptr` with the keystream of the state at 0. */
const get = (i: number) => [op.localGet, ...uleb(i)];
const set = (i: number) => [op.localSet, ...uleb(i)];
const c32 = (n: number) => [op.i32Const, ...sleb(n | 0)];
/** Locals 2..17 hold x0..x15 and 18..33 s0..s15 in both modules (0 ptr, 1 len are the params). */
const X = (i: number) => 2 + i, S = (i: number) => 18 + i;

/** How a module adds, XORs and rotates its words: i32 (one block) or i32x4 (four). */
interface Lanes {
  add: number[];
  xor: number[];
  /** Rotates local `x` left by `n` in place. */
  rotl(x: number, n: number): number[];
}

/** Ten double rounds (RFC 8439 §2.1-2.3) on x0..x15, unrolled, in the given lane width. */
function rounds(v: Lanes): number[] {
  // a += b; d ^= a; d <<<= n
  const step = (a: number, b: number, d: number, n: number) =>
    concat(
      get(X(a)),
      get(X(b)),
      v.add,
      set(X(a)),
      get(X(d)),
      get(X(a)),
      v.xor,
      set(X(d)),
      v.rotl(X(d), n),
    );
  const qr = (a: number, b: number, c: number, d: number) =>
    concat(step(a, b, d, 16), step(c, d, b, 12), step(a, b, d, 8), step(c, d, b, 7));
  const doubleRound = concat(
    qr(0, 4, 8, 12),
    qr(1, 5, 9, 13),
    qr(2, 6, 10, 14),
    qr(3, 7, 11, 15),
    qr(0, 5, 10, 15),
    qr(1, 6, 11, 12),
    qr(2, 7, 8, 13),
    qr(3, 4, 9, 14),
  );
  return concat(...Array.from({ length: 10 }, () => doubleRound));
}

const SCALAR: Lanes = {
  add: [op.i32Add],
  xor: [op.i32Xor],
  rotl: (x, n) => concat(get(x), c32(n), [op.i32Rotl], set(x)),
};
const SIMD4: Lanes = {
  add: simd.i32x4Add,
  xor: simd.v128Xor,
  // (x << n) | (x >>> 32 - n)
  rotl: (x, n) =>
    concat(
      get(x),
      c32(n),
      simd.i32x4Shl,
      get(x),
      c32(32 - n),
      simd.i32x4ShrU,
      simd.v128Or,
      set(x),
    ),
};

function buildModule(): Uint8Array<ArrayBuffer> {
  const words = Array.from({ length: 16 }, (_, i) => i);
  return streamModule(
    localDecls([[32, I32]]),
    [
      // s = the state in memory
      ...words.flatMap((i) => [...c32(0), op.i32Load, 2, ...uleb(4 * i), ...set(S(i))]),
    ],
    64,
    concat(
      words.flatMap((i) => [...get(S(i)), ...set(X(i))]),
      rounds(SCALAR),
      // data word i ^= x_i + s_i (little-endian words: the keystream's byte order)
      words.flatMap((i) => [
        ...get(0),
        ...get(0),
        op.i32Load,
        2,
        ...uleb(4 * i),
        ...get(X(i)),
        ...get(S(i)),
        op.i32Add,
        op.i32Xor,
        op.i32Store,
        2,
        ...uleb(4 * i),
      ]),
      // the 64-bit block counter in words 12 (low) and 13 (high)
      [
        ...get(S(12)),
        ...c32(1),
        op.i32Add,
        ...set(S(12)),
        ...get(S(13)),
        ...get(S(12)),
        op.i32Eqz,
        op.i32Add,
        ...set(S(13)),
      ],
    ),
  );
}

/**
 * `stream(ptr, len)` with 128-bit SIMD: four blocks per iteration, one per
 * lane (len a multiple of 256). The rounds are the scalar ones on i32x4;
 * the keystream goes to the scratch area and is XORed into the data by word.
 */
function buildSimdModule(): Uint8Array<ArrayBuffer> {
  const T = 34; // a v128 temporary
  const mem = (align: number, offset: number) => [align, ...uleb(offset)];
  const words = Array.from({ length: 16 }, (_, i) => i);
  const lanes = [0, 1, 2, 3];
  // s12 += step; s13 += the carry out of each lane (a lane wrapped when it became smaller).
  const advance = (by: number[]) => [
    ...get(S(12)),
    ...simd.v128Const,
    ...by.flatMap((v) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24]),
    ...simd.i32x4Add,
    ...set(T),
    ...get(S(13)),
    ...get(T),
    ...get(S(12)),
    ...simd.i32x4LtU,
    ...simd.i32x4Sub, // a true lane is -1: subtracting it adds the carry
    ...set(S(13)),
    ...get(T),
    ...set(S(12)),
  ];
  return streamModule(
    localDecls([[33, V128]]),
    [
      ...words.flatMap((i) => [
        ...c32(0),
        op.i32Load,
        ...mem(2, 4 * i),
        ...simd.i32x4Splat,
        ...set(S(i)),
      ]),
      ...advance([0, 1, 2, 3]), // lanes are blocks n, n+1, n+2, n+3
    ],
    256,
    concat(
      words.flatMap((i) => [...get(S(i)), ...set(X(i))]),
      rounds(SIMD4),
      words.flatMap((i) => [
        ...c32(0),
        ...get(X(i)),
        ...get(S(i)),
        ...simd.i32x4Add,
        ...simd.v128Store,
        ...mem(4, SCRATCH + 16 * i),
      ]),
      // block b, word i of the data ^= lane b of keystream word i
      lanes.flatMap((b) =>
        words.flatMap((i) => [
          ...get(0),
          ...get(0),
          op.i32Load,
          ...mem(2, 64 * b + 4 * i),
          ...c32(0),
          op.i32Load,
          ...mem(2, SCRATCH + 16 * i + 4 * b),
          op.i32Xor,
          op.i32Store,
          ...mem(2, 64 * b + 4 * i),
        ])
      ),
      advance([4, 4, 4, 4]),
    ),
  );
}

/**
 * ChaCha20 as OpenSSH uses it (the original 64-bit nonce and 64-bit block
 * counter): key, 8-byte nonce, data, output (may be the data), first block.
 *
 * @example
 * ```ts
 * import type { Chacha20 } from "./_node_crypto.ts";
 * const keystream = (c: Chacha20, key: Uint8Array, nonce: Uint8Array) =>
 *   c(key, nonce, new Uint8Array(64), new Uint8Array(64), 0);
 * ```
 */
export type Chacha20 = (
  key: Uint8Array,
  nonce: Uint8Array,
  data: Uint8Array,
  out: Uint8Array,
  counter: number,
) => Uint8Array;

interface Exports {
  stream(ptr: number, len: number): void;
  memory: WebAssembly.Memory;
}

/** "expand 32-byte k" as four little-endian words (RFC 8439 §2.3). */
const SIGMA = [0x61707865, 0x3320646e, 0x79622d32, 0x6b206574];

function engine(x: Exports, blockBytes: number): Chacha20 {
  let mem = new Uint8Array(x.memory.buffer);
  let view = new DataView(x.memory.buffer);
  return (key, nonce, data, out, counter) => {
    // Whole iterations (64 bytes, or 256 for four SIMD lanes); the surplus keystream is dropped.
    const padded = Math.ceil(data.length / blockBytes) * blockBytes;
    if (DATA + padded > mem.length) {
      x.memory.grow(Math.ceil((DATA + padded - mem.length) / 65536));
      mem = new Uint8Array(x.memory.buffer);
      view = new DataView(x.memory.buffer);
    }
    for (let i = 0; i < 4; i++) view.setUint32(4 * i, SIGMA[i], true);
    mem.set(key, 16);
    view.setUint32(48, counter >>> 0, true);
    view.setUint32(52, Math.floor(counter / 2 ** 32) >>> 0, true);
    mem.set(nonce, 56);
    mem.set(data, DATA);
    x.stream(DATA, padded);
    out.set(mem.subarray(DATA, DATA + data.length));
    return out;
  };
}

/**
 * One variant, instantiated without the known-answer check (tests check
 * both variants; {@link chacha20Wasm} checks before use). Throws where the
 * runtime cannot compile it (no WebAssembly SIMD, for "simd").
 *
 * @example
 * ```ts
 * import { chacha20Variant } from "./_chacha20_wasm.ts";
 * const c = chacha20Variant("scalar");
 * console.log(c(new Uint8Array(32), new Uint8Array(8), new Uint8Array(5), new Uint8Array(5), 1).length); // 5
 * ```
 */
export function chacha20Variant(variant: "simd" | "scalar"): Chacha20 {
  const [build, blockBytes] = variant === "simd" ? [buildSimdModule, 256] : [buildModule, 64];
  const inst = new WebAssembly.Instance(new WebAssembly.Module(build()), {});
  return engine(inst.exports as unknown as Exports, blockBytes);
}

let cached: Chacha20 | undefined | null = null;

/**
 * The WebAssembly ChaCha20, or undefined where WebAssembly is missing or the
 * known answer (`check`, noble's `chacha20orig` in the caller) disagrees.
 *
 * @example
 * ```ts
 * import { chacha20Wasm } from "./_chacha20_wasm.ts";
 * import { chacha20orig } from "@noble/ciphers/chacha.js";
 * const c = chacha20Wasm(chacha20orig);
 * console.log(c === undefined || c(new Uint8Array(32), new Uint8Array(8), new Uint8Array(3), new Uint8Array(3), 1).length === 3); // true
 * ```
 */
export function chacha20Wasm(check: Chacha20): Chacha20 | undefined {
  if (cached !== null) return cached;
  cached = undefined;
  // SIMD first (four blocks at once), the scalar module where SIMD is missing or wrong.
  for (const variant of ["simd", "scalar"] as const) {
    try {
      const impl = chacha20Variant(variant);
      const key = Uint8Array.from({ length: 32 }, (_, i) => i * 11 + 3);
      const nonce = Uint8Array.from({ length: 8 }, (_, i) => 0xf0 + i);
      const data = Uint8Array.from({ length: 700 }, (_, i) => i * 7);
      // SSH uses counters 0 (length, Poly1305 key) and 1 (payload).
      if (
        [0, 1, 7].every((counter) => {
          const want = check(key, nonce, data, new Uint8Array(700), counter);
          const got = impl(key, nonce, data, new Uint8Array(700), counter);
          return constantTimeEqual(got, want);
        })
      ) {
        cached = impl;
        break;
      }
    } catch {
      // this variant does not run here: try the next
    }
  }
  return cached;
}
