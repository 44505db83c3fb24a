/**
 * AES-GCM in JavaScript for small packets (NIST SP 800-38D), used beside
 * WebCrypto: a WebCrypto call costs 40-100 µs of CPU whatever its size (a
 * hop to a worker thread), which dominates the short packets of a handshake,
 * of authentication and of interactive sessions. Here a packet of a few
 * hundred bytes costs a few µs: the AES key schedule and the GHASH table
 * are computed once per key, not per packet as `gcm()` does.
 *
 * AES and its counter mode come from `_aes_js.ts` (noble's block function,
 * shared with the AES-CTR small path); GHASH is Shoup's 4-bit table method
 * (as in OpenSSL's gcm_gmult_4bit) over 32-bit words, 256 bytes of table per
 * key. When `_aes_js.ts` fails its known-answer check there is no small
 * path (callers fall back to WebCrypto).
 *
 * @module
 */
import { AesJs } from "./_aes_js.ts";
import { secretMade, wipe } from "./_secrets.ts";

// Reduction constants for a 4-bit shift (OpenSSL's rem_4bit, top 16 bits of the high word).
const REM4 = Uint32Array.from(
  [
    0x0000,
    0x1c20,
    0x3840,
    0x2460,
    0x7080,
    0x6ca0,
    0x48c0,
    0x54e0,
    0xe100,
    0xfd20,
    0xd940,
    0xc560,
    0x9180,
    0x8da0,
    0xa9c0,
    0xb5e0,
  ].map((x) => (x << 16) >>> 0),
);

const be32 = (b: Uint8Array, o: number) =>
  ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
const putLe32 = (b: Uint8Array, o: number, w: number) => {
  b[o] = w & 0xff, b[o + 1] = (w >>> 8) & 0xff, b[o + 2] = (w >>> 16) & 0xff, b[o + 3] = w >>> 24;
};
const le32 = (b: Uint8Array, o: number) =>
  (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;

/**
 * One AES-GCM key with its schedule and GHASH table: seal and open whole
 * messages with a 12-byte nonce and a 16-byte tag.
 *
 * @example
 * ```ts
 * import { SmallGcm } from "./_gcm_small.ts";
 * const g = SmallGcm.create(new Uint8Array(16))!;
 * const nonce = new Uint8Array(12), aad = new Uint8Array(4);
 * const out = new Uint8Array(3 + 16);
 * g.sealInto(nonce, aad, new Uint8Array([1, 2, 3]), out, 0);
 * console.log(g.open(nonce, aad, out)); // Uint8Array(3) [1, 2, 3]
 * ```
 */
export class SmallGcm {
  readonly #aes: AesJs;
  /** Htable[i] = i·H for 4-bit i, 4 big-endian words each (SP 800-38D §6.3 bit order). */
  readonly #h = new Uint32Array(64);
  // GHASH state and scratch, reused (one operation at a time: everything here is synchronous).
  readonly #z = new Uint32Array(4); // the GHASH accumulator, big-endian words
  readonly #block = new Uint8Array(16);
  readonly #counter = new Uint8Array(16);

  private constructor(aes: AesJs) {
    this.#aes = aes;
    const { s0, s1, s2, s3 } = aes.encryptWords(0, 0, 0, 0); // H = E(K, 0^128)
    const hb = new Uint8Array(16);
    this.#leWords(hb, 0, s0, s1, s2, s3);
    let v0 = be32(hb, 0), v1 = be32(hb, 4), v2 = be32(hb, 8), v3 = be32(hb, 12);
    hb.fill(0);
    const t = this.#h;
    const put = (i: number) => {
      t[4 * i] = v0, t[4 * i + 1] = v1, t[4 * i + 2] = v2, t[4 * i + 3] = v3;
    };
    // V·x: shift right one bit in GCM order, reducing by R = 0xe1 || 0^120.
    const times = () => {
      const carry = v3 & 1;
      v3 = ((v3 >>> 1) | (v2 << 31)) >>> 0;
      v2 = ((v2 >>> 1) | (v1 << 31)) >>> 0;
      v1 = ((v1 >>> 1) | (v0 << 31)) >>> 0;
      v0 = ((v0 >>> 1) ^ (carry ? 0xe1000000 : 0)) >>> 0;
    };
    put(8);
    times();
    put(4);
    times();
    put(2);
    times();
    put(1);
    for (const [a, b] of [[3, 1], [5, 4], [6, 4], [7, 4], [9, 8], [10, 8], [11, 8]]) {
      for (let w = 0; w < 4; w++) t[4 * a + w] = t[4 * (a - b) + w] ^ t[4 * b + w];
    }
    for (let i = 12; i < 16; i++) {
      for (let w = 0; w < 4; w++) t[4 * i + w] = t[4 * (i - 8) + w] ^ t[32 + w];
    }
    secretMade("GHASH table", new Uint8Array(t.buffer, t.byteOffset, t.byteLength));
  }

  /**
   * The state for `key` (16 or 32 bytes), or undefined when the JavaScript
   * AES (`_aes_js.ts`) is unavailable.
   */
  static create(key: Uint8Array): SmallGcm | undefined {
    const aes = AesJs.create(key);
    return aes && new SmallGcm(aes);
  }

  /** Zeroes the key schedule, the GHASH table and the scratch state; not used after. */
  wipe(): void {
    this.#aes.wipe();
    wipe(this.#block, this.#counter);
    this.#h.fill(0);
    this.#z.fill(0);
  }

  #leWords(out: Uint8Array, o: number, a: number, b: number, c: number, d: number): void {
    putLe32(out, o, a);
    putLe32(out, o + 4, b);
    putLe32(out, o + 8, c);
    putLe32(out, o + 12, d);
  }

  /** Z = (Z ⊕ X)·H for X = 16 bytes at `b[o..]` (zero-padded past `end`). */
  #absorb(b: Uint8Array, o: number, end: number): void {
    const x = this.#block;
    const zs = this.#z;
    let src = b, at = o;
    if (o + 16 > end) {
      x.fill(0);
      x.set(b.subarray(o, end));
      src = x, at = 0;
    }
    for (let w = 0; w < 4; w++) zs[w] ^= be32(src, at + 4 * w);
    // Shoup's 4-bit multiplication: nibbles from the last byte to the first.
    const t = this.#h;
    let z0 = 0, z1 = 0, z2 = 0, z3 = 0;
    let first = true;
    for (let w = 3; w >= 0; w--) {
      const word = zs[w];
      for (let s = 0; s < 32; s += 4) {
        const n = (word >>> s) & 0xf;
        if (!first) {
          const rem = z3 & 0xf;
          z3 = ((z3 >>> 4) | (z2 << 28)) >>> 0;
          z2 = ((z2 >>> 4) | (z1 << 28)) >>> 0;
          z1 = ((z1 >>> 4) | (z0 << 28)) >>> 0;
          z0 = ((z0 >>> 4) ^ REM4[rem]) >>> 0;
        }
        first = false;
        const k = 4 * n;
        z0 ^= t[k], z1 ^= t[k + 1], z2 ^= t[k + 2], z3 ^= t[k + 3];
      }
    }
    zs[0] = z0, zs[1] = z1, zs[2] = z2, zs[3] = z3;
  }

  #ghash(aad: Uint8Array, data: Uint8Array): void {
    this.#z.fill(0);
    for (let o = 0; o < aad.length; o += 16) this.#absorb(aad, o, aad.length);
    for (let o = 0; o < data.length; o += 16) this.#absorb(data, o, data.length);
    // len(A) || len(C) in bits, 64-bit big-endian each (lengths here are far below 2^29 bytes).
    const x = this.#block;
    x.fill(0);
    const a = aad.length * 8, c = data.length * 8;
    x[4] = a >>> 24, x[5] = (a >>> 16) & 0xff, x[6] = (a >>> 8) & 0xff, x[7] = a & 0xff;
    x[12] = c >>> 24, x[13] = (c >>> 16) & 0xff, x[14] = (c >>> 8) & 0xff, x[15] = c & 0xff;
    this.#absorb(x, 0, 16);
  }

  /** GCTR (SP 800-38D §6.5) from counter block `nonce || ctr`, src → dst (may alias). */
  #ctr(nonce: Uint8Array, ctr: number, src: Uint8Array, dst: Uint8Array, dstOff: number): void {
    const c = this.#counter;
    c.set(nonce.subarray(0, 12));
    c[12] = ctr >>> 24, c[13] = (ctr >>> 16) & 0xff, c[14] = (ctr >>> 8) & 0xff, c[15] = ctr & 0xff;
    this.#aes.ctr(c, src, dst, dstOff);
  }

  #tag(nonce: Uint8Array, out: Uint8Array, o: number): void {
    const { s0, s1, s2, s3 } = this.#aes.encryptWords(
      le32(nonce, 0),
      le32(nonce, 4),
      le32(nonce, 8),
      0x01000000,
    ); // E(K, J0), J0 = nonce || 1
    const m = this.#block;
    this.#leWords(m, 0, s0, s1, s2, s3);
    const z = this.#z;
    for (let w = 0; w < 4; w++) {
      out[o + 4 * w] = (z[w] >>> 24) ^ m[4 * w];
      out[o + 4 * w + 1] = ((z[w] >>> 16) & 0xff) ^ m[4 * w + 1];
      out[o + 4 * w + 2] = ((z[w] >>> 8) & 0xff) ^ m[4 * w + 2];
      out[o + 4 * w + 3] = (z[w] & 0xff) ^ m[4 * w + 3];
    }
  }

  /**
   * Encrypts `plain` into `out[o..]` and writes the 16-byte tag right after
   * it (`out` must have `plain.length + 16` bytes from `o`).
   */
  sealInto(
    nonce: Uint8Array,
    aad: Uint8Array,
    plain: Uint8Array,
    out: Uint8Array,
    o: number,
  ): void {
    this.#ctr(nonce, 2, plain, out, o);
    this.#ghash(aad, out.subarray(o, o + plain.length));
    this.#tag(nonce, out, o + plain.length);
  }

  /** Decrypts `sealed` (ciphertext || tag); undefined when the tag does not verify. */
  open(nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array | undefined {
    if (sealed.length < 16) return undefined;
    const body = sealed.subarray(0, sealed.length - 16);
    this.#ghash(aad, body);
    const expect = new Uint8Array(16);
    this.#tag(nonce, expect, 0);
    let diff = 0;
    for (let i = 0; i < 16; i++) diff |= expect[i] ^ sealed[body.length + i];
    if (diff !== 0) return undefined;
    const plain = new Uint8Array(body.length);
    this.#ctr(nonce, 2, body, plain, 0);
    return plain;
  }
}
