/**
 * AES in JavaScript for small packets, beside WebCrypto (Deno): a WebCrypto
 * call costs 40-100 µs of CPU whatever its size (a hop to a worker thread),
 * which dominates short packets (handshake, authentication, interactive
 * sessions, and a peer's flood of tiny ones). One block function serves
 * both modes that use it: AES-GCM (`_gcm_small.ts`) and AES-CTR
 * (`cipher_aes_ctr.ts`).
 *
 * The block function is noble's (`unsafe.encrypt`, table-based like the rest
 * of noble), with the key schedule computed once per key. A FIPS-197
 * known-answer check at first use disables the path (callers fall back to
 * WebCrypto) should noble's internal API ever change.
 *
 * @module
 */
import { unsafe } from "@noble/ciphers/aes.js";
import { secretMade, wipe } from "./_secrets.ts";

/**
 * Encrypted bytes up to which a packet goes through JavaScript rather than
 * WebCrypto, for AES-GCM and AES-CTR alike. CPU per call on Deno 2.9
 * (2-core x86-64): JavaScript CTR 2 µs for 64 bytes, 3.6 µs for 256, 16 µs
 * for 1 KiB, 31 µs for 2 KiB; one WebCrypto AES-CTR call 16-20 µs at those
 * sizes when called one at a time (40-100 µs measured under load); GCM
 * crosses near 2 KiB. 1 KiB keeps every short packet in JavaScript and bulk
 * data (32 KiB packets) in WebCrypto, off the main thread.
 *
 * @example
 * ```ts
 * import { SMALL_PACKET } from "./_aes_js.ts";
 * console.log(SMALL_PACKET); // 1024
 * ```
 */
export const SMALL_PACKET = 1024;

type Encrypt = (
  xk: Uint32Array,
  s0: number,
  s1: number,
  s2: number,
  s3: number,
) => { s0: number; s1: number; s2: number; s3: number };

const aes = unsafe as unknown as {
  expandKeyLE?: (key: Uint8Array) => Uint32Array;
  encrypt?: Encrypt;
};

const le32 = (b: Uint8Array, o: number) =>
  (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
const be32 = (b: Uint8Array, o: number) =>
  ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
const swap32 = (w: number) =>
  ((w >>> 24) | ((w >>> 8) & 0xff00) | ((w << 8) & 0xff0000) | (w << 24)) >>> 0;

/** XORs the 4 little-endian words of one keystream block into `src[s..]` → `dst[d..]` (`n` ≤ 16 bytes). */
function xorBlock(
  src: Uint8Array,
  s: number,
  dst: Uint8Array,
  d: number,
  n: number,
  k: { s0: number; s1: number; s2: number; s3: number },
): void {
  if (n === 16) {
    const { s0, s1, s2, s3 } = k;
    dst[d] = src[s] ^ s0, dst[d + 1] = src[s + 1] ^ (s0 >>> 8);
    dst[d + 2] = src[s + 2] ^ (s0 >>> 16), dst[d + 3] = src[s + 3] ^ (s0 >>> 24);
    dst[d + 4] = src[s + 4] ^ s1, dst[d + 5] = src[s + 5] ^ (s1 >>> 8);
    dst[d + 6] = src[s + 6] ^ (s1 >>> 16), dst[d + 7] = src[s + 7] ^ (s1 >>> 24);
    dst[d + 8] = src[s + 8] ^ s2, dst[d + 9] = src[s + 9] ^ (s2 >>> 8);
    dst[d + 10] = src[s + 10] ^ (s2 >>> 16), dst[d + 11] = src[s + 11] ^ (s2 >>> 24);
    dst[d + 12] = src[s + 12] ^ s3, dst[d + 13] = src[s + 13] ^ (s3 >>> 8);
    dst[d + 14] = src[s + 14] ^ (s3 >>> 16), dst[d + 15] = src[s + 15] ^ (s3 >>> 24);
    return;
  }
  const w = [k.s0, k.s1, k.s2, k.s3];
  for (let i = 0; i < n; i++) dst[d + i] = src[s + i] ^ (w[i >> 2] >>> (8 * (i & 3)));
}

/**
 * One AES key (16, 24 or 32 bytes) with its schedule: single blocks, and
 * the CTR keystream with a 128-bit big-endian counter (SP 800-38A §6.5,
 * RFC 4344 §4). GCM's counter (SP 800-38D §6.5, inc32 on the low word)
 * is the same as long as the low word does not wrap, i.e. for any message
 * under 2^32 - 2 blocks.
 *
 * @example
 * ```ts
 * import { AesJs } from "./_aes_js.ts";
 * const aes = AesJs.create(new Uint8Array(16))!;
 * const data = new Uint8Array(20);
 * aes.ctr(new Uint8Array(16), data, data, 0); // in place
 * console.log(data.length); // 20
 * ```
 */
export class AesJs {
  readonly #xk: Uint32Array;
  readonly #enc: Encrypt;

  private constructor(xk: Uint32Array, enc: Encrypt) {
    this.#xk = xk;
    secretMade("AES key schedule", new Uint8Array(xk.buffer, xk.byteOffset, xk.byteLength));
    this.#enc = enc;
  }

  /** Zeroes the key schedule; the instance is not used after. */
  wipe(): void {
    this.#xk.fill(0);
  }

  /** The schedule for `key`, or undefined when noble's block function is missing or fails FIPS-197. */
  static create(key: Uint8Array): AesJs | undefined {
    if (!aes.expandKeyLE || !aes.encrypt || !selfCheck()) return undefined;
    const copy = Uint8Array.from(key);
    try {
      return new AesJs(aes.expandKeyLE(copy), aes.encrypt);
    } finally {
      wipe(copy);
    }
  }

  /** E(K, block) for the block given as its four little-endian 32-bit words. */
  encryptWords(
    s0: number,
    s1: number,
    s2: number,
    s3: number,
  ): { s0: number; s1: number; s2: number; s3: number } {
    return this.#enc(this.#xk, s0, s1, s2, s3);
  }

  /**
   * CTR mode: `dst[dstOff..] = src ^ E(K, counter), E(K, counter + 1), ...`
   * (`src` and `dst` may alias). `counter` is the 16-byte big-endian block,
   * read and not changed: the caller advances its own copy.
   */
  ctr(counter: Uint8Array, src: Uint8Array, dst: Uint8Array, dstOff: number): void {
    let c0 = be32(counter, 0), c1 = be32(counter, 4), c2 = be32(counter, 8);
    let c3 = be32(counter, 12);
    const n = src.length;
    for (let o = 0; o < n; o += 16) {
      const k = this.#enc(this.#xk, swap32(c0), swap32(c1), swap32(c2), swap32(c3));
      xorBlock(src, o, dst, dstOff + o, Math.min(16, n - o), k);
      // +1 mod 2^128, carrying from the low word up.
      c3 = (c3 + 1) >>> 0;
      if (c3 === 0) {
        c2 = (c2 + 1) >>> 0;
        if (c2 === 0) {
          c1 = (c1 + 1) >>> 0;
          if (c1 === 0) c0 = (c0 + 1) >>> 0;
        }
      }
    }
  }
}

let checked: boolean | undefined;
/** FIPS-197 Appendix C.1: AES-128(000102..0f, 00112233..ff) = 69c4e0d8..c55a. */
function selfCheck(): boolean {
  if (checked !== undefined) return checked;
  try {
    const key = Uint8Array.from({ length: 16 }, (_, i) => i);
    const pt = Uint8Array.from({ length: 16 }, (_, i) => i * 0x11);
    const xk = aes.expandKeyLE!(key);
    const { s0, s1, s2, s3 } = aes.encrypt!(
      xk,
      le32(pt, 0),
      le32(pt, 4),
      le32(pt, 8),
      le32(pt, 12),
    );
    const hex = [s0, s1, s2, s3].map((w) =>
      [w & 0xff, (w >>> 8) & 0xff, (w >>> 16) & 0xff, w >>> 24].map((b) =>
        b.toString(16).padStart(2, "0")
      ).join("")
    ).join("");
    checked = hex === "69c4e0d86a7b0430d8cdb78070b4c55a";
  } catch {
    checked = false;
  }
  return checked;
}
