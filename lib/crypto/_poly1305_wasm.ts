/**
 * Poly1305 (RFC 8439 §2.5) with its block loop in WebAssembly: 26-bit limbs
 * and 64-bit products, the "donna-32" arrangement. noble's Poly1305 runs in
 * 16-bit limbs on JavaScript numbers (about 250 MB/s on the bench machine);
 * 64-bit integer multiplies are what JavaScript lacks and WebAssembly has.
 * Key setup, the last partial block and the final reduction stay in
 * JavaScript. The module is built here, byte by byte, from the opcodes
 * below: no binary blob, no dependency, and it is checked against RFC 8439
 * §2.5.2 before first use (callers fall back to noble otherwise).
 *
 * @module
 */

import { I32, I64, localDecls, moduleBytes, op, sleb, uleb } from "./_wasm.ts";
import { constantTimeEqual } from "./constant_time.ts";

// Globals: 0..4 h, 5..9 r, 10..13 s1..s4 (s_i = 5 r_i).
const H = (i: number) => i, R = (i: number) => 5 + i, S = (i: number) => 9 + i;
// blocks(ptr i32, len i32, hibit i32): locals 3..6 t0..t3 (i64), 7..11 d0..d4 (i64), 12 c (i64)
const t = (i: number) => 3 + i, d = (i: number) => 7 + i, C = 12;
const g = (i: number) => [op.globalGet, i];
const gs = (i: number) => [op.globalSet, i];
const l = (i: number) => [op.localGet, i];
const ls = (i: number) => [op.localSet, i];
const k64 = (n: number) => [op.i64Const, ...sleb(n)];
const MASK = 0x3ffffff;

/**
 * The module: memory (exported), globals h0..h4 r0..r4 s1..s4 (i64), and
 * `setKey(r0..r4)`, `blocks(ptr, len, hibit)`, `getH(i)`, `reset()`.
 */
function buildModule(): Uint8Array<ArrayBuffer> {
  return moduleBytes({
    types: [
      { params: [I32, I32, I32], results: [] }, // blocks
      { params: [I32, I32, I32, I32, I32], results: [] }, // setKey
      { params: [I32], results: [I32] }, // getH
    ],
    globals: Array.from({ length: 14 }, () => I64),
    functions: [
      { type: 0, name: "blocks", body: blocksBody() },
      { type: 1, name: "setKey", body: setKeyBody() },
      { type: 2, name: "getH", body: getHBody() },
    ],
  });
}

/** blocks(ptr, len, hibit): h = (h + block) * r for each 16-byte block (RFC 8439 §2.5.1). */
function blocksBody(): number[] {
  return [
    ...localDecls([[10, I64]]),
    op.block,
    0x40,
    op.loop,
    0x40,
    // while (len >= 16)
    ...l(1),
    op.i32Const,
    ...sleb(16),
    op.i32LtU,
    op.brIf,
    1,
    ...addBlock(),
    ...multiplyByR(),
    ...carry(),
    // ptr += 16; len -= 16
    ...l(0),
    op.i32Const,
    ...sleb(16),
    op.i32Add,
    ...ls(0),
    ...l(1),
    op.i32Const,
    ...sleb(16),
    op.i32Sub,
    ...ls(1),
    op.br, // continue the loop
    0,
    op.end,
    op.end,
    op.end,
  ];
}

/** h += the block at ptr as five 26-bit limbs, with `hibit` (2^128, or 0 for a padded last block). */
function addBlock(): number[] {
  const load = (off: number) => [op.localGet, 0, op.i64Load32u, 2, ...uleb(off)];
  const limb = (i: number, expr: number[]) => [...g(H(i)), ...expr, op.i64Add, ...gs(H(i))];
  // limb i (1..3) of the block: ((t_{i-1} >> shift) | (t_i << (32 - shift))) & mask
  const middle = (i: number, shift: number) =>
    limb(i, [
      ...l(t(i - 1)),
      ...k64(shift),
      op.i64ShrU,
      ...l(t(i)),
      ...k64(32 - shift),
      op.i64Shl,
      op.i64Or,
      ...k64(MASK),
      op.i64And,
    ]);
  return [
    ...[0, 1, 2, 3].flatMap((i) => [...load(4 * i), ...ls(t(i))]),
    // h0 += t0 & mask
    ...limb(0, [...l(t(0)), ...k64(MASK), op.i64And]),
    // h1 += ((t0 >> 26) | (t1 << 6)) & mask, h2 (20, 12), h3 (14, 18)
    ...middle(1, 26),
    ...middle(2, 20),
    ...middle(3, 14),
    // h4 += (t3 >> 8) | hibit
    ...limb(4, [...l(t(3)), ...k64(8), op.i64ShrU, ...l(2), op.i64ExtendI32u, op.i64Or]),
  ];
}

/** d = h * r mod 2^130 - 5 (RFC 8439 §2.5.1), the products folded with s = 5 r. */
function multiplyByR(): number[] {
  // sum of five products: x0*y0 + ... (each h < 2^27, r or s < 2^29: < 2^59 total)
  const dot = (pairs: [number, number][]) => {
    const out: number[] = [];
    pairs.forEach(([a, b], i) => {
      out.push(...g(a), ...g(b), op.i64Mul);
      if (i) out.push(op.i64Add);
    });
    return out;
  };
  return [
    ...dot([[H(0), R(0)], [H(1), S(4)], [H(2), S(3)], [H(3), S(2)], [H(4), S(1)]]),
    ...ls(d(0)),
    ...dot([[H(0), R(1)], [H(1), R(0)], [H(2), S(4)], [H(3), S(3)], [H(4), S(2)]]),
    ...ls(d(1)),
    ...dot([[H(0), R(2)], [H(1), R(1)], [H(2), R(0)], [H(3), S(4)], [H(4), S(3)]]),
    ...ls(d(2)),
    ...dot([[H(0), R(3)], [H(1), R(2)], [H(2), R(1)], [H(3), R(0)], [H(4), S(4)]]),
    ...ls(d(3)),
    ...dot([[H(0), R(4)], [H(1), R(3)], [H(2), R(2)], [H(3), R(1)], [H(4), R(0)]]),
    ...ls(d(4)),
  ];
}

/** h = d with carries propagated back into 26-bit limbs (the top carry folded in times 5). */
function carry(): number[] {
  return [
    // carries: h_i = d_i & mask, d_{i+1} += d_i >> 26
    ...[0, 1, 2, 3].flatMap((i) => [
      ...l(d(i)),
      ...k64(MASK),
      op.i64And,
      ...gs(H(i)),
      ...l(d(i + 1)),
      ...l(d(i)),
      ...k64(26),
      op.i64ShrU,
      op.i64Add,
      ...ls(d(i + 1)),
    ]),
    ...l(d(4)),
    ...k64(MASK),
    op.i64And,
    ...gs(H(4)),
    // h0 += (d4 >> 26) * 5; h1 += h0 >> 26; h0 &= mask
    ...l(d(4)),
    ...k64(26),
    op.i64ShrU,
    ...k64(5),
    op.i64Mul,
    ...g(H(0)),
    op.i64Add,
    ...ls(C),
    ...l(C),
    ...k64(MASK),
    op.i64And,
    ...gs(H(0)),
    ...g(H(1)),
    ...l(C),
    ...k64(26),
    op.i64ShrU,
    op.i64Add,
    ...gs(H(1)),
  ];
}

/** setKey(r0..r4: i32): r_i, s_i = 5 r_i, h = 0. */
function setKeyBody(): number[] {
  return [
    ...localDecls([]),
    ...[0, 1, 2, 3, 4].flatMap((i) => [...l(i), op.i64ExtendI32u, ...gs(R(i))]),
    ...[1, 2, 3, 4].flatMap((i) => [...g(R(i)), ...k64(5), op.i64Mul, ...gs(S(i))]),
    ...[0, 1, 2, 3, 4].flatMap((i) => [...k64(0), ...gs(H(i))]),
    op.end,
  ];
}

/** getH(i: i32) -> i32: the limb, for the final reduction in JavaScript. */
function getHBody(): number[] {
  return [
    ...localDecls([]),
    ...[0, 1, 2, 3].flatMap((i) => [
      op.block,
      0x40,
      ...l(0),
      op.i32Const,
      ...sleb(i),
      op.i32Sub,
      op.brIf,
      0,
      ...g(H(i)),
      op.i32WrapI64,
      op.ret,
      op.end,
    ]),
    ...g(H(4)),
    op.i32WrapI64,
    op.end,
  ];
}

interface Exports {
  blocks(ptr: number, len: number, hibit: number): void;
  setKey(r0: number, r1: number, r2: number, r3: number, r4: number): void;
  getH(i: number): number;
  memory: WebAssembly.Memory;
}

const le32 = (b: Uint8Array, o: number) =>
  (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;

/** One Poly1305 engine (one WebAssembly instance; synchronous, one MAC at a time). */
class Poly1305Wasm {
  readonly #x: Exports;
  #mem: Uint8Array;

  constructor(x: Exports) {
    this.#x = x;
    this.#mem = new Uint8Array(x.memory.buffer);
  }

  /** The 16-byte tag of `msg` under the 32-byte one-time `key` (RFC 8439 §2.5). */
  mac(msg: Uint8Array, key: Uint8Array): Uint8Array {
    const x = this.#x;
    // r clamped (§2.5.1) and split into 26-bit limbs.
    const t0 = le32(key, 0), t1 = le32(key, 4), t2 = le32(key, 8), t3 = le32(key, 12);
    x.setKey(
      t0 & 0x3ffffff,
      ((t0 >>> 26) | (t1 << 6)) & 0x3ffff03,
      ((t1 >>> 20) | (t2 << 12)) & 0x3ffc0ff,
      ((t2 >>> 14) | (t3 << 18)) & 0x3f03fff,
      (t3 >>> 8) & 0x00fffff,
    );
    const full = msg.length & ~15;
    if (msg.length + 16 > this.#mem.length) {
      x.memory.grow(Math.ceil((msg.length + 16 - this.#mem.length) / 65536));
      this.#mem = new Uint8Array(x.memory.buffer);
    }
    const mem = this.#mem;
    mem.set(msg.subarray(0, full), 0);
    x.blocks(0, full, 1 << 24);
    const rest = msg.length - full;
    if (rest) {
      // The last block: the bytes, then 0x01, then zeros; no 2^128 bit (§2.5.1).
      mem.fill(0, 0, 16);
      mem.set(msg.subarray(full), 0);
      mem[rest] = 1;
      x.blocks(0, 16, 0);
    }
    let h0 = x.getH(0), h1 = x.getH(1), h2 = x.getH(2), h3 = x.getH(3), h4 = x.getH(4);
    // Full carry, then h mod 2^130 - 5 by computing h + 5 - 2^130 and selecting (donna-32).
    let c = h1 >>> 26;
    h1 &= 0x3ffffff;
    h2 += c, c = h2 >>> 26, h2 &= 0x3ffffff;
    h3 += c, c = h3 >>> 26, h3 &= 0x3ffffff;
    h4 += c, c = h4 >>> 26, h4 &= 0x3ffffff;
    h0 += c * 5, c = h0 >>> 26, h0 &= 0x3ffffff;
    h1 += c;
    let g0 = h0 + 5;
    c = g0 >>> 26, g0 &= 0x3ffffff;
    let g1 = h1 + c;
    c = g1 >>> 26, g1 &= 0x3ffffff;
    let g2 = h2 + c;
    c = g2 >>> 26, g2 &= 0x3ffffff;
    let g3 = h3 + c;
    c = g3 >>> 26, g3 &= 0x3ffffff;
    const g4 = h4 + c - (1 << 26);
    if (g4 >= 0) h0 = g0, h1 = g1, h2 = g2, h3 = g3, h4 = g4;
    // h as 128 bits, plus s (the key's second half), mod 2^128.
    const w0 = (h0 | (h1 << 26)) >>> 0;
    const w1 = ((h1 >>> 6) | (h2 << 20)) >>> 0;
    const w2 = ((h2 >>> 12) | (h3 << 14)) >>> 0;
    const w3 = ((h3 >>> 18) | (h4 << 8)) >>> 0;
    const out = new Uint8Array(16);
    let f = w0 + le32(key, 16);
    const put = (i: number, v: number) => {
      out[i] = v & 0xff, out[i + 1] = (v >>> 8) & 0xff, out[i + 2] = (v >>> 16) & 0xff;
      out[i + 3] = (v >>> 24) & 0xff;
    };
    put(0, f >>> 0);
    f = w1 + le32(key, 20) + Math.floor(f / 2 ** 32);
    put(4, f >>> 0);
    f = w2 + le32(key, 24) + Math.floor(f / 2 ** 32);
    put(8, f >>> 0);
    f = w3 + le32(key, 28) + Math.floor(f / 2 ** 32);
    put(12, f >>> 0);
    return out;
  }
}

let engine: Poly1305Wasm | undefined | null = null;

/**
 * The WebAssembly Poly1305, or undefined where WebAssembly is unavailable or
 * the result disagrees with RFC 8439 §2.5.2's test vector.
 *
 * @example
 * ```ts
 * import { poly1305Wasm } from "./_poly1305_wasm.ts";
 * const tag = poly1305Wasm()?.(new Uint8Array(100), new Uint8Array(32).fill(1));
 * console.log(tag === undefined || tag.length === 16); // true
 * ```
 */
export function poly1305Wasm(): ((msg: Uint8Array, key: Uint8Array) => Uint8Array) | undefined {
  if (engine === null) {
    engine = undefined;
    try {
      const inst = new WebAssembly.Instance(new WebAssembly.Module(buildModule()), {});
      const e = new Poly1305Wasm(inst.exports as unknown as Exports);
      const hex = (h: string) => Uint8Array.from(h.match(/../g)!, (b) => parseInt(b, 16));
      const key = hex("85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b");
      const msg = new TextEncoder().encode("Cryptographic Forum Research Group");
      const tag = e.mac(msg, key);
      const want = hex("a8061dc1305136c6c22b8baf0c0127a9");
      if (constantTimeEqual(tag, want)) engine = e;
    } catch {
      // no WebAssembly here: noble it is
    }
  }
  const e = engine;
  return e ? (msg, key) => e.mac(msg, key) : undefined;
}
