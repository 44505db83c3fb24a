/**
 * HMAC-SHA2 message authentication codes for the SSH binary packet protocol:
 * `hmac-sha2-256` and `hmac-sha2-512` (RFC 6668 §2, used as RFC 4253 §6.4
 * says) and their encrypt-then-MAC forms `hmac-sha2-256-etm@openssh.com` and
 * `hmac-sha2-512-etm@openssh.com` (OpenSSH PROTOCOL §1.5).
 *
 * The MAC of packet number `seq` is `HMAC(key, uint32(seq) || data)`; what
 * `data` is (the plaintext packet, or the clear length and the ciphertext for
 * -etm) is the cipher's business, see `cipher_aes_ctr.ts`.
 *
 * @module
 */
import { hmac } from "@noble/hashes/hmac.js";
import { sha256, sha512 } from "@noble/hashes/sha2.js";
import type { MacAlgorithm, MacInstance } from "./types.ts";
import { nodeHmac } from "./_node_crypto.ts";
import { secretMade } from "./_secrets.ts";

type Sha2 = typeof sha256 | typeof sha512;
/** The part of noble's HMAC state object used here. */
interface KeyedHmac {
  _cloneInto(to?: KeyedHmac): KeyedHmac;
  update(data: Uint8Array): unknown;
  digestInto(out: Uint8Array): void;
  /** Zeroes the inner and outer hash states (noble's HMAC destroy). */
  destroy(): void;
}

/** Writes `seq` mod 2^32 big-endian at `b[0..4]` (RFC 4253 §6.4). */
function putSeq(b: Uint8Array, seq: number): void {
  const s = seq >>> 0;
  b[0] = s >>> 24;
  b[1] = s >>> 16;
  b[2] = s >>> 8;
  b[3] = s;
}

/**
 * Inputs up to which `computeAsync` stays in JavaScript on the WebCrypto
 * backend (Deno), per hash. CPU per MAC on Deno 2.9, 2-core x86-64, noble
 * against one WebCrypto call: SHA-256 6-9 µs against 15-21 µs up to 256
 * bytes, even at 1 KiB (15 µs); SHA-512 13-18 µs against 17-22 µs up to 256
 * bytes, 31 against 22 µs at 1 KiB.
 */
const SMALL_MAC_INPUT = { sha256: 1024, sha512: 256 } as const;

/**
 * A keyed HMAC, in two forms. `compute` runs noble in JavaScript: the key is
 * absorbed once, `base` holds the inner and outer hash states after the
 * padded key block (RFC 2104 §2), and every call clones that state into a
 * reusable scratch instance instead of re-hashing the key. `computeAsync`,
 * the packet path, uses node:crypto where the runtime prefers it (Bun);
 * elsewhere `compute` for small inputs ({@link SMALL_MAC_INPUT}) and for
 * larger ones a WebCrypto HMAC key imported once when the instance is made
 * (native SHA-2, several times faster on 32 KiB packets); if the runtime
 * refuses the key it falls back to `compute`.
 */
class HmacSha2Instance implements MacInstance {
  readonly algorithm: MacAlgorithm;
  readonly #base: KeyedHmac;
  #scratch: KeyedHmac | undefined;
  readonly #seq = new Uint8Array(4);
  /** The WebCrypto key once imported; null when the import failed. */
  #key: CryptoKey | null | undefined;
  readonly #keyReady: Promise<CryptoKey | null>;
  readonly #hashName: "sha256" | "sha512";
  readonly #rawKey: Uint8Array;

  constructor(algorithm: MacAlgorithm, hash: Sha2, key: Uint8Array) {
    this.algorithm = algorithm;
    this.#base = hmac.create(hash, key) as unknown as KeyedHmac;
    this.#hashName = hash.outputLen === 32 ? "sha256" : "sha512";
    // Copied now: the caller wipes its key once the instance is made. The
    // node:crypto path keeps this copy; the WebCrypto path wipes it once imported.
    const raw = this.#rawKey = secretMade("HMAC key copy", key.slice());
    const webHash = hash.outputLen === 32 ? "SHA-256" : "SHA-512";
    // Started now so that the first packet rarely waits for it; never rejects.
    this.#keyReady = nodeHmac() ? Promise.resolve(null) : Promise.resolve()
      .then(() =>
        crypto.subtle.importKey(
          "raw",
          raw,
          { name: "HMAC", hash: webHash },
          false,
          ["sign"],
        )
      )
      .then((k) => (this.#key = k), () => (this.#key = null))
      .finally(() => raw.fill(0));
  }

  dispose(): void {
    this.#rawKey.fill(0);
    this.#base.destroy();
    this.#scratch?.destroy();
  }

  computeAsync(seq: number, ...parts: Uint8Array[]): Promise<Uint8Array> {
    const native = nodeHmac();
    if (native) {
      // Synchronous and native (Bun, Node): no copy, no thread hop.
      const seqBytes = new Uint8Array(4);
      putSeq(seqBytes, seq);
      return Promise.resolve(native(this.#hashName, this.#rawKey, [seqBytes, ...parts]));
    }
    let length = 4;
    for (const p of parts) length += p.length;
    // Small: synchronous, in JavaScript (a WebCrypto call costs more).
    if (length - 4 <= SMALL_MAC_INPUT[this.#hashName]) {
      return Promise.resolve(this.compute(seq, ...parts));
    }
    // WebCrypto takes one buffer: uint32(seq) || parts, copied here, before
    // anything is awaited, so the caller may overwrite `parts` at once.
    const data = new Uint8Array(length);
    putSeq(data, seq);
    let at = 4;
    for (const p of parts) {
      data.set(p, at);
      at += p.length;
    }
    const key = this.#key;
    if (key) return this.#sign(key, data);
    const body = data.subarray(4);
    if (key === null) return Promise.resolve(this.compute(seq, body));
    return this.#keyReady.then((k) => k ? this.#sign(k, data) : this.compute(seq, body));
  }

  async #sign(key: CryptoKey, data: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
    return new Uint8Array(await crypto.subtle.sign("HMAC", key, data));
  }

  compute(seq: number, ...parts: Uint8Array[]): Uint8Array {
    const h = this.#base._cloneInto(this.#scratch);
    this.#scratch = h;
    // RFC 4253 §6.4: mac = MAC(key, sequence_number || unencrypted_packet),
    // sequence_number an uint32 that wraps around to 0 after 2^32 - 1.
    putSeq(this.#seq, seq);
    h.update(this.#seq);
    for (const p of parts) h.update(p);
    const out = new Uint8Array(this.algorithm.macLength);
    h.digestInto(out);
    return out;
  }
}

function hmacSha2(name: string, hash: Sha2, etm: boolean): MacAlgorithm {
  const algorithm: MacAlgorithm = {
    name,
    keyLength: hash.outputLen,
    macLength: hash.outputLen,
    etm,
    create(key: Uint8Array): MacInstance {
      return new HmacSha2Instance(algorithm, hash, key);
    },
  };
  return Object.freeze(algorithm);
}

/**
 * `hmac-sha2-256` (RFC 6668 §2): encrypt-and-MAC over the plaintext packet;
 * 32-byte key, 32-byte MAC.
 *
 * @example
 * ```ts
 * import { HMAC_SHA2_256 } from "./mac.ts";
 * const mac = HMAC_SHA2_256.create(new Uint8Array(32));
 * console.log(mac.compute(0, new TextEncoder().encode("packet")).length); // 32
 * ```
 */
export const HMAC_SHA2_256: MacAlgorithm = hmacSha2("hmac-sha2-256", sha256, false);

/**
 * `hmac-sha2-512` (RFC 6668 §2): encrypt-and-MAC over the plaintext packet;
 * 64-byte key, 64-byte MAC.
 *
 * @example
 * ```ts
 * import { HMAC_SHA2_512 } from "./mac.ts";
 * const mac = HMAC_SHA2_512.create(new Uint8Array(64));
 * console.log(mac.compute(7, new Uint8Array(16)).length); // 64
 * ```
 */
export const HMAC_SHA2_512: MacAlgorithm = hmacSha2("hmac-sha2-512", sha512, false);

/**
 * `hmac-sha2-256-etm@openssh.com` (OpenSSH PROTOCOL §1.5): the packet length
 * travels in clear and the MAC covers `uint32(seq) || packet_length ||
 * ciphertext`; 32-byte key, 32-byte MAC.
 *
 * @example
 * ```ts
 * import { HMAC_SHA2_256_ETM } from "./mac.ts";
 * console.log(HMAC_SHA2_256_ETM.etm, HMAC_SHA2_256_ETM.macLength); // true 32
 * ```
 */
export const HMAC_SHA2_256_ETM: MacAlgorithm = hmacSha2(
  "hmac-sha2-256-etm@openssh.com",
  sha256,
  true,
);

/**
 * `hmac-sha2-512-etm@openssh.com` (OpenSSH PROTOCOL §1.5): encrypt-then-MAC
 * with SHA-512; 64-byte key, 64-byte MAC.
 *
 * @example
 * ```ts
 * import { HMAC_SHA2_512_ETM } from "./mac.ts";
 * console.log(HMAC_SHA2_512_ETM.name); // "hmac-sha2-512-etm@openssh.com"
 * ```
 */
export const HMAC_SHA2_512_ETM: MacAlgorithm = hmacSha2(
  "hmac-sha2-512-etm@openssh.com",
  sha512,
  true,
);
