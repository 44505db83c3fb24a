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
 * Each WebCrypto primitive is trusted only after it gives the known answer
 * (RFC 7748 §6.1, RFC 8032 §7.1 TEST 1), checked on its first use.
 *
 * @module
 */
import { ed25519, x25519 } from "@noble/curves/ed25519.js";
import { constantTimeEqual } from "./constant_time.ts";

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

const unhex = (h: string) => Uint8Array.from(h.match(/../g) ?? [], (b) => parseInt(b, 16));
const same = constantTimeEqual;

// Known answers, checked once per primitive on its first use (never at import):
// fixed vectors, so a check costs one WebCrypto call or two, not a reference
// computation. RFC 7748 §6.1: Alice's secret key and X25519(secret, 9).
const X25519_KAT = {
  secret: unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"),
  public: unhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"),
};
// RFC 8032 §7.1 TEST 1: seed, public key, and the signature of the empty message.
const ED25519_KAT = {
  seed: unhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"),
  public: unhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"),
  signature: unhex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
  ),
};

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
      // The whole path once, on a known answer; a runtime that gets it wrong falls back.
      const k = await subtle.importKey(
        "pkcs8",
        pkcs8(X25519_PKCS8, X25519_KAT.secret),
        { name: "X25519" },
        false,
        ["deriveBits"],
      );
      const pub = new Uint8Array(await subtle.deriveBits({ name: "X25519", public: base }, k, 256));
      return same(pub, X25519_KAT.public) ? base : undefined;
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

let ed25519SignSupport: Promise<boolean> | undefined;
/** Whether WebCrypto signs RFC 8032 TEST 1 to its known answer (checked on the first signature). */
function ed25519NativeSign(): Promise<boolean> {
  return ed25519SignSupport ??= (async () => {
    if (!subtle) return false;
    try {
      const k = await subtle.importKey(
        "pkcs8",
        pkcs8(ED25519_PKCS8, ED25519_KAT.seed),
        { name: "Ed25519" },
        false,
        ["sign"],
      );
      const sig = new Uint8Array(await subtle.sign({ name: "Ed25519" }, k, new Uint8Array(0)));
      return same(sig, ED25519_KAT.signature);
    } catch {
      return false;
    }
  })();
}

let ed25519VerifySupport: Promise<boolean> | undefined;
/**
 * Whether WebCrypto accepts RFC 8032 TEST 1's signature and refuses it with
 * one bit flipped (checked on the first verification; a client only verifies).
 */
function ed25519NativeVerify(): Promise<boolean> {
  return ed25519VerifySupport ??= (async () => {
    if (!subtle) return false;
    try {
      const k = await subtle.importKey("raw", ED25519_KAT.public, { name: "Ed25519" }, false, [
        "verify",
      ]);
      const bad = ED25519_KAT.signature.slice();
      bad[0] ^= 1;
      const empty = new Uint8Array(0);
      const [good, wrong] = await Promise.all([
        subtle.verify({ name: "Ed25519" }, k, ED25519_KAT.signature, empty),
        subtle.verify({ name: "Ed25519" }, k, bad, empty),
      ]);
      return good === true && wrong === false;
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
    key ??= ed25519NativeSign().then((ok) =>
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
    if ((await ed25519NativeVerify()) && subtle) {
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
