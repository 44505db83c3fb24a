/**
 * X25519 and Ed25519 through the runtime's WebCrypto (Secure Curves in the
 * Web Cryptography API), with noble as the fallback where a runtime lacks
 * them. Deno and Bun have both natively: a key exchange and a signature then
 * cost about a third of noble's time, which is most of the CPU a server
 * spends per connection (bench/README.md, setup).
 *
 * Results are byte-identical to noble's (RFC 7748 §5, RFC 8032 §5.1.6 are
 * deterministic); the checks that differ between libraries are done here, in
 * one place: the all-zero X25519 result (RFC 7748 §6.1) and, for Ed25519
 * verification, S < L and canonical point encodings (RFC 8032 §5.1.7).
 *
 * @module
 */
import { ed25519, x25519 } from "@noble/curves/ed25519.js";

// PKCS#8 PrivateKeyInfo prefixes (RFC 8410 §7): SEQUENCE { INTEGER 0,
// AlgorithmIdentifier { OID }, OCTET STRING { OCTET STRING (32) } }.
// The OIDs are 1.3.101.110 (X25519) and 1.3.101.112 (Ed25519): they differ in the last byte.
const pkcs8Prefix = (oidLast: number) =>
  Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, oidLast]
    .concat([0x04, 0x22, 0x04, 0x20]));
const X25519_PKCS8 = pkcs8Prefix(0x6e);
const ED25519_PKCS8 = pkcs8Prefix(0x70);

function pkcs8(prefix: Uint8Array, key: Uint8Array): Uint8Array<ArrayBuffer> {
  const der = new Uint8Array(prefix.length + key.length);
  der.set(prefix);
  der.set(key, prefix.length);
  return der;
}

const own = (b: Uint8Array): Uint8Array<ArrayBuffer> =>
  b.buffer instanceof ArrayBuffer ? b as Uint8Array<ArrayBuffer> : Uint8Array.from(b);

const subtle = (globalThis.crypto as Crypto | undefined)?.subtle;

// The X25519 base point u = 9 (RFC 7748 §4.1), imported once: X25519(k, 9)
// is k's public key, so WebCrypto derives it without exporting anything.
let basePoint: Promise<CryptoKey | undefined> | undefined;
function x25519Base(): Promise<CryptoKey | undefined> {
  return basePoint ??= (async () => {
    if (!subtle) return undefined;
    const u = new Uint8Array(32);
    u[0] = 9;
    try {
      const base = await subtle.importKey("raw", u, { name: "X25519" }, false, []);
      // Probe the whole path once; a runtime that imports but cannot derive falls back.
      const k = await subtle.importKey(
        "pkcs8",
        pkcs8(X25519_PKCS8, new Uint8Array(32).fill(1)),
        { name: "X25519" },
        false,
        ["deriveBits"],
      );
      await subtle.deriveBits({ name: "X25519", public: base }, k, 256);
      return base;
    } catch {
      return undefined;
    }
  })();
}

/**
 * Thrown by {@link x25519Agree} when the peer's point gives no usable secret.
 *
 * @example
 * ```ts
 * import { LowOrderPointError, x25519Agree } from "./webcrypto_curves.ts";
 * const e = await x25519Agree(new Uint8Array(32).fill(1), new Uint8Array(32)).catch((e) => e);
 * console.log(e instanceof LowOrderPointError); // true
 * ```
 */
export class LowOrderPointError extends Error {
  /** "LowOrderPointError". */
  override name = "LowOrderPointError";
}

/**
 * X25519(secretKey, u) (RFC 7748 §5) for a 32-byte secret and a 32-byte u.
 * Throws {@link LowOrderPointError} when the result is all zeros (a
 * low-order u; RFC 7748 §6.1 and RFC 8731 §3 require rejecting it).
 *
 * @example
 * ```ts
 * import { x25519Agree, x25519Public } from "./webcrypto_curves.ts";
 * const a = crypto.getRandomValues(new Uint8Array(32));
 * const b = crypto.getRandomValues(new Uint8Array(32));
 * const k1 = await x25519Agree(a, await x25519Public(b));
 * const k2 = await x25519Agree(b, await x25519Public(a));
 * console.log(k1.join() === k2.join()); // true
 * ```
 */
export async function x25519Agree(secretKey: Uint8Array, u: Uint8Array): Promise<Uint8Array> {
  let shared: Uint8Array;
  const base = await x25519Base();
  if (base && subtle) {
    try {
      const [k, peer] = await Promise.all([
        subtle.importKey("pkcs8", pkcs8(X25519_PKCS8, secretKey), { name: "X25519" }, false, [
          "deriveBits",
        ]),
        subtle.importKey("raw", own(u), { name: "X25519" }, false, []),
      ]);
      shared = new Uint8Array(await subtle.deriveBits({ name: "X25519", public: peer }, k, 256));
    } catch (cause) {
      // WebCrypto refuses an all-zero result with an OperationError (Secure Curves §6.3.3).
      throw new LowOrderPointError("X25519 result is all zeros", { cause });
    }
  } else {
    try {
      shared = x25519.getSharedSecret(secretKey, u);
    } catch (cause) {
      throw new LowOrderPointError("X25519 result is all zeros", { cause });
    }
  }
  let acc = 0;
  for (let i = 0; i < shared.length; i++) acc |= shared[i];
  if (acc === 0) throw new LowOrderPointError("X25519 result is all zeros");
  return shared;
}

/**
 * The X25519 public key of a 32-byte secret: X25519(secretKey, 9).
 *
 * @example
 * ```ts
 * import { x25519Public } from "./webcrypto_curves.ts";
 * console.log((await x25519Public(new Uint8Array(32).fill(7))).length); // 32
 * ```
 */
export async function x25519Public(secretKey: Uint8Array): Promise<Uint8Array> {
  const base = await x25519Base();
  if (!base || !subtle) return x25519.getPublicKey(secretKey);
  const k = await subtle.importKey(
    "pkcs8",
    pkcs8(X25519_PKCS8, secretKey),
    { name: "X25519" },
    false,
    ["deriveBits"],
  );
  return new Uint8Array(await subtle.deriveBits({ name: "X25519", public: base }, k, 256));
}

let ed25519Support: Promise<boolean> | undefined;
function ed25519Native(): Promise<boolean> {
  return ed25519Support ??= (async () => {
    if (!subtle) return false;
    try {
      const seed = new Uint8Array(32).fill(1);
      const k = await subtle.importKey(
        "pkcs8",
        pkcs8(ED25519_PKCS8, seed),
        { name: "Ed25519" },
        false,
        ["sign"],
      );
      const m = new Uint8Array([1]);
      const sig = new Uint8Array(await subtle.sign({ name: "Ed25519" }, k, m));
      // Known-answer check against noble before trusting the runtime.
      return sig.length === 64 && sig.every((b, i) => b === ed25519.sign(m, seed)[i]);
    } catch {
      return false;
    }
  })();
}

/**
 * An Ed25519 signer for a 32-byte seed (RFC 8032 §5.1.5): the seed is
 * imported into WebCrypto once, on first use, as a non-extractable key.
 *
 * @example
 * ```ts
 * import { ed25519Signer } from "./webcrypto_curves.ts";
 * const sign = ed25519Signer(new Uint8Array(32).fill(1));
 * console.log((await sign(new Uint8Array([1, 2, 3]))).length); // 64
 * ```
 */
export function ed25519Signer(seed: Uint8Array): (data: Uint8Array) => Promise<Uint8Array> {
  const copy = Uint8Array.from(seed);
  let key: Promise<CryptoKey | undefined> | undefined;
  return async (data) => {
    key ??= ed25519Native().then((ok) =>
      ok && subtle
        ? subtle.importKey("pkcs8", pkcs8(ED25519_PKCS8, copy), { name: "Ed25519" }, false, [
          "sign",
        ])
        : undefined
    ).catch(() => undefined);
    const k = await key;
    if (k && subtle) return new Uint8Array(await subtle.sign({ name: "Ed25519" }, k, own(data)));
    return ed25519.sign(data, copy);
  };
}

// 2^255 - 19 and the group order L (RFC 8032 §5.1), little-endian bytes compared from the top.
const P_LE = Uint8Array.from({ length: 32 }, (_, i) => i === 0 ? 0xed : i === 31 ? 0x7f : 0xff);
const L_LE = Uint8Array.from([
  0xed,
  0xd3,
  0xf5,
  0x5c,
  0x1a,
  0x63,
  0x12,
  0x58,
  0xd6,
  0x9c,
  0xf7,
  0xa2,
  0xde,
  0xf9,
  0xde,
  0x14,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0x10,
]);

/** a < b for 32-byte little-endian numbers; `mask` clears a's top bit (the x sign of a point). */
function lessThan(a: Uint8Array, b: Uint8Array, mask = 0xff): boolean {
  for (let i = 31; i >= 0; i--) {
    const x = i === 31 ? a[i] & mask : a[i];
    if (x !== b[i]) return x < b[i];
  }
  return false;
}

/**
 * Strict Ed25519 verification (RFC 8032 §5.1.7): rejects S ≥ L and
 * non-canonical encodings of A and R (y ≥ p) before the curve arithmetic,
 * which runs in WebCrypto when the runtime has Ed25519. Never throws.
 *
 * @example
 * ```ts
 * import { ed25519Verify } from "./webcrypto_curves.ts";
 * console.log(await ed25519Verify(new Uint8Array(32), new Uint8Array(64), new Uint8Array(0))); // false
 * ```
 */
export async function ed25519Verify(
  publicKey: Uint8Array,
  signature: Uint8Array,
  data: Uint8Array,
): Promise<boolean> {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  if (!lessThan(signature.subarray(32), L_LE)) return false;
  if (!lessThan(publicKey, P_LE, 0x7f) || !lessThan(signature, P_LE, 0x7f)) return false;
  try {
    if ((await ed25519Native()) && subtle) {
      const k = await subtle.importKey("raw", own(publicKey), { name: "Ed25519" }, false, [
        "verify",
      ]);
      return await subtle.verify({ name: "Ed25519" }, k, own(signature), own(data));
    }
    return ed25519.verify(signature, data, publicKey, { zip215: false });
  } catch {
    return false;
  }
}
