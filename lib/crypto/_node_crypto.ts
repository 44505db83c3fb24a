/**
 * Synchronous native ciphers from the runtime's `node:crypto`, where they
 * beat the alternatives. Not a dependency: Deno, Bun and Node all ship
 * `node:crypto`; what differs is what backs it, so the choice is made per
 * runtime from measurements (CPU µs to process one 32 KiB packet, 2-core
 * x86-64, `bench/README.md`):
 *
 * | runtime  | AES-128-GCM: node:crypto / WebCrypto | AES-256-CTR: node / WebCrypto |
 * | -------- | ------------------------------------ | ----------------------------- |
 * | Bun 1.4  | 8 / 61 (BoringSSL)                   | 8 / ~60                       |
 * | Deno 2.9 | 155 / 114                            | 70 / ~110                     |
 *
 * So Bun (and Node, whose node:crypto is OpenSSL) takes AES and HMAC from
 * here; Deno keeps WebCrypto. (Deno's node:crypto ChaCha20, 32 µs, lost to
 * our WebAssembly SIMD one, 27 µs: `_chacha20_wasm.ts`.) Every backend passes a known-answer test before it is used, so a
 * runtime whose polyfill misbehaves falls back rather than corrupts.
 *
 * @module
 */
import * as nodeCrypto from "node:crypto";
import { constantTimeEqual } from "./constant_time.ts";

const g = globalThis as { Deno?: unknown; Bun?: unknown };
const runtime = g.Bun !== undefined ? "bun" : g.Deno !== undefined ? "deno" : "node";

/** Which primitives this runtime takes from node:crypto (see the table above). */
const PREFER: Readonly<Record<typeof runtime, { aes: boolean }>> = {
  bun: { aes: true },
  deno: { aes: false },
  node: { aes: true },
};

/**
 * Synchronous AES-GCM and AES-CTR over node:crypto.
 *
 * @example
 * ```ts
 * import { nodeAes } from "./_node_crypto.ts";
 * const aes = nodeAes(); // undefined on Deno
 * const ks = aes?.ctr(new Uint8Array(16), new Uint8Array(16), new Uint8Array(16));
 * console.log(ks === undefined || ks.length === 16); // true
 * ```
 */
export interface NodeAes {
  /** AES-GCM (SP 800-38D) with a 12-byte nonce: writes ciphertext || 16-byte tag into `out` at `at`. */
  gcmSeal(
    key: Uint8Array,
    nonce: Uint8Array,
    aad: Uint8Array,
    plain: Uint8Array,
    out: Uint8Array,
    at: number,
  ): void;
  /** Opens ciphertext || tag; undefined when the tag does not verify. */
  gcmOpen(
    key: Uint8Array,
    nonce: Uint8Array,
    aad: Uint8Array,
    sealed: Uint8Array,
  ): Uint8Array | undefined;
  /** AES-CTR (SP 800-38A) keystream XOR from the 16-byte counter block (128-bit increment). */
  ctr(key: Uint8Array, counter: Uint8Array, data: Uint8Array): Uint8Array;
}

const bits = (key: Uint8Array) => key.length * 8;
const gcmName = (key: Uint8Array) => `aes-${bits(key)}-gcm` as nodeCrypto.CipherGCMTypes;

const nodeAesImpl: NodeAes = {
  gcmSeal(key, nonce, aad, plain, out, at) {
    const c = nodeCrypto.createCipheriv(gcmName(key), key, nonce, { authTagLength: 16 });
    c.setAAD(aad);
    const body = c.update(plain);
    const tail = c.final();
    out.set(body, at);
    out.set(tail, at + body.length);
    out.set(c.getAuthTag(), at + plain.length);
  },
  gcmOpen(key, nonce, aad, sealed) {
    if (sealed.length < 16) return undefined;
    const n = sealed.length - 16;
    const d = nodeCrypto.createDecipheriv(gcmName(key), key, nonce, {
      authTagLength: 16,
    });
    d.setAAD(aad);
    d.setAuthTag(sealed.subarray(n));
    const body = d.update(sealed.subarray(0, n));
    try {
      const tail = d.final();
      if (tail.length === 0) return new Uint8Array(body.buffer, body.byteOffset, body.length);
      const out = new Uint8Array(n);
      out.set(body);
      out.set(tail, body.length);
      return out;
    } catch {
      return undefined;
    }
  },
  ctr(key, counter, data) {
    const c = nodeCrypto.createCipheriv(`aes-${bits(key)}-ctr`, key, counter);
    const body = c.update(data);
    return new Uint8Array(body.buffer, body.byteOffset, body.length);
  },
};

const unhex = (h: string) => Uint8Array.from(h.match(/../g) ?? [], (b) => parseInt(b, 16));
const same = constantTimeEqual;

let aes: NodeAes | undefined | null = null;
/**
 * node:crypto AES when this runtime prefers it and it passes the GCM test
 * case 4 of McGrew & Viega and the SP 800-38A F.5.5 CTR vector; else undefined.
 *
 * @example
 * ```ts
 * import { nodeAes } from "./_node_crypto.ts";
 * console.log(typeof nodeAes()); // "object" on Bun and Node, "undefined" on Deno
 * ```
 */
export function nodeAes(): NodeAes | undefined {
  if (aes !== null) return aes;
  aes = undefined;
  if (!PREFER[runtime].aes) return aes;
  try {
    const k = unhex("feffe9928665731c6d6a8f9467308308");
    const iv = unhex("cafebabefacedbaddecaf888");
    const a = unhex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
    const p = unhex(
      "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
    );
    const expect = unhex(
      "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091" +
        "5bc94fbc3221a5db94fae95ae7121a47",
    );
    const out = new Uint8Array(p.length + 16);
    nodeAesImpl.gcmSeal(k, iv, a, p, out, 0);
    const back = nodeAesImpl.gcmOpen(k, iv, a, out);
    const bad = out.slice();
    bad[0] ^= 1;
    // SP 800-38A F.5.5 (CTR-AES256.Encrypt), first block.
    const ctr = nodeAesImpl.ctr(
      unhex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4"),
      unhex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"),
      unhex("6bc1bee22e409f96e93d7e117393172a"),
    );
    if (
      same(out, expect) && back !== undefined && same(back, p) &&
      nodeAesImpl.gcmOpen(k, iv, a, bad) === undefined &&
      same(ctr, unhex("601ec313775789a5b7a7f504bbf3d228"))
    ) {
      aes = nodeAesImpl;
    }
  } catch {
    // unsupported here: WebCrypto it is
  }
  return aes;
}

/**
 * HMAC-SHA-256/512 over the concatenation of `parts` (RFC 2104), synchronously.
 *
 * @example
 * ```ts
 * import type { Hmac } from "./_node_crypto.ts";
 * const tag = (h: Hmac, key: Uint8Array, seq: Uint8Array, packet: Uint8Array) =>
 *   h("sha256", key, [seq, packet]);
 * ```
 */
export type Hmac = (hash: "sha256" | "sha512", key: Uint8Array, parts: Uint8Array[]) => Uint8Array;

let hmac: Hmac | undefined | null = null;
/**
 * node:crypto HMAC where this runtime takes its AES from node:crypto too
 * (Bun: 21 µs of CPU per 32 KiB, synchronous, against a WebCrypto call per
 * packet) and it passes RFC 4231 test case 2 for both hashes; else undefined.
 *
 * @example
 * ```ts
 * import { nodeHmac } from "./_node_crypto.ts";
 * const mac = nodeHmac()?.("sha256", new Uint8Array(32), [new Uint8Array(4)]);
 * console.log(mac === undefined || mac.length === 32); // true
 * ```
 */
export function nodeHmac(): Hmac | undefined {
  if (hmac !== null) return hmac;
  hmac = undefined;
  if (!PREFER[runtime].aes) return hmac;
  const impl: Hmac = (hash, key, parts) => {
    const h = nodeCrypto.createHmac(hash, key);
    for (const p of parts) h.update(p);
    const d = h.digest();
    return new Uint8Array(d.buffer, d.byteOffset, d.length);
  };
  try {
    const te = new TextEncoder();
    const key = te.encode("Jefe");
    const parts = [te.encode("what do ya want "), te.encode("for nothing?")];
    if (
      same(
        impl("sha256", key, parts),
        unhex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
      ) &&
      same(
        impl("sha512", key, parts),
        unhex(
          "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
        ),
      )
    ) {
      hmac = impl;
    }
  } catch {
    // unsupported here: WebCrypto and noble it is
  }
  return hmac;
}
