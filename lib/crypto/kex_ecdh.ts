/**
 * Elliptic-curve Diffie-Hellman key exchange: curve25519-sha256 (RFC 8731)
 * and ecdh-sha2-nistp256/384/521 (RFC 5656 §4).
 *
 * @module
 */
import { p256, p384, p521 } from "@noble/curves/nist.js";
import { KexError } from "./errors.ts";
import { SHA256, SHA384, SHA512 } from "./hash.ts";
import type { Hash, KexAlgorithm, KexClient, RandomSource } from "./types.ts";
import { secretMade, wipe } from "./_secrets.ts";
import { LowOrderPointError, x25519Agree, x25519Public } from "./webcrypto_curves.ts";

/** Drops leading zero bytes: K as the magnitude of an mpint. */
function magnitude(b: Uint8Array): Uint8Array {
  let i = 0;
  while (i < b.length && b[i] === 0) i++;
  return b.subarray(i);
}

/**
 * An X25519 key pair whose secret comes from `random` (RFC 7748 §6.1: 32
 * random bytes, clamped by the scalar multiplication itself).
 *
 * @example
 * ```ts
 * import { x25519KeyPair } from "./kex_ecdh.ts";
 * import { defaultRandom } from "./types.ts";
 * console.log((await x25519KeyPair(defaultRandom)).publicKey.length); // 32
 * ```
 */
export async function x25519KeyPair(
  random: RandomSource,
): Promise<{ secretKey: Uint8Array; publicKey: Uint8Array }> {
  const secretKey = secretMade("X25519 ephemeral private key", random(32));
  if (secretKey.length !== 32) throw new RangeError("random returned the wrong number of bytes");
  return { secretKey, publicKey: await x25519Public(secretKey) };
}

/**
 * X25519(secretKey, peerPublic) with the checks RFC 8731 §3 requires: the
 * peer's key must be 32 bytes and the result must not be all zeros (what
 * a low-order point produces). Failures are a
 * {@link KexError} naming `name` and `what` (the peer value, e.g. "Q_S").
 * Returns the raw 32-byte shared secret.
 *
 * @example
 * ```ts
 * import { x25519KeyPair, x25519Shared } from "./kex_ecdh.ts";
 * import { defaultRandom } from "./types.ts";
 * const a = await x25519KeyPair(defaultRandom), b = await x25519KeyPair(defaultRandom);
 * const k = await x25519Shared("demo", "Q_S", a.secretKey, b.publicKey);
 * const k2 = await x25519Shared("demo", "Q_C", b.secretKey, a.publicKey);
 * console.log(k.join() === k2.join()); // true
 * ```
 */
export async function x25519Shared(
  name: string,
  what: string,
  secretKey: Uint8Array,
  peerPublic: Uint8Array,
): Promise<Uint8Array> {
  if (peerPublic.length !== 32) {
    throw new KexError(`${name}: ${what} is ${peerPublic.length} bytes, expected 32`);
  }
  try {
    // RFC 7748 §6.1 / RFC 8731 §3: an all-zero result MUST be rejected.
    return await x25519Agree(secretKey, peerPublic);
  } catch (cause) {
    if (cause instanceof LowOrderPointError) {
      throw new KexError(`${name}: ${what} is a low-order X25519 point`, { cause });
    }
    throw cause;
  }
}

function curve25519(name: string): KexAlgorithm {
  return Object.freeze({
    name,
    hash: SHA256,
    kind: "single" as const,
    publicEncoding: "string" as const,
    secretEncoding: "mpint" as const,
    async client(random: RandomSource): Promise<KexClient> {
      const { secretKey, publicKey } = await x25519KeyPair(random);
      return {
        publicValue: publicKey,
        // RFC 8731 §3.1: K is the 32 bytes read as an unsigned big-endian
        // integer, encoded as an mpint.
        // The ephemeral key serves one exchange: wiped whatever the outcome.
        finish: async (serverPublic) => {
          try {
            return magnitude(await x25519Shared(name, "Q_S", secretKey, serverPublic));
          } finally {
            wipe(secretKey);
          }
        },
      };
    },
    async server(clientPublic: Uint8Array, random: RandomSource) {
      if (clientPublic.length !== 32) {
        throw new KexError(`${name}: Q_C is ${clientPublic.length} bytes, expected 32`);
      }
      const { secretKey, publicKey } = await x25519KeyPair(random);
      try {
        const secret = magnitude(await x25519Shared(name, "Q_C", secretKey, clientPublic));
        return { publicValue: publicKey, secret };
      } finally {
        wipe(secretKey);
      }
    },
  });
}

/**
 * curve25519-sha256 (RFC 8731 §3): X25519 with SHA-256; Q_C and Q_S are
 * 32-byte strings, K is an mpint.
 *
 * @example
 * ```ts
 * import { CURVE25519_SHA256 } from "./kex_ecdh.ts";
 * import { defaultRandom } from "./types.ts";
 * const c = await CURVE25519_SHA256.client(defaultRandom);
 * const s = await CURVE25519_SHA256.server(c.publicValue, defaultRandom);
 * console.log((await c.finish(s.publicValue)).join() === s.secret.join()); // true
 * ```
 */
export const CURVE25519_SHA256: KexAlgorithm = curve25519("curve25519-sha256");

/**
 * curve25519-sha256@libssh.org: the pre-RFC name of
 * {@link CURVE25519_SHA256}, identical on the wire (RFC 8731 §1).
 *
 * @example
 * ```ts
 * import { CURVE25519_SHA256_LIBSSH } from "./kex_ecdh.ts";
 * console.log(CURVE25519_SHA256_LIBSSH.name); // "curve25519-sha256@libssh.org"
 * ```
 */
export const CURVE25519_SHA256_LIBSSH: KexAlgorithm = curve25519("curve25519-sha256@libssh.org");

type NistCurve = typeof p256;

function nist(name: string, curve: NistCurve, hash: Hash): KexAlgorithm {
  const fieldLen = curve.lengths.secretKey!; // 32, 48, 66: also the coordinate size
  const pointLen = curve.lengths.publicKeyUncompressed!;
  const keyPair = (random: RandomSource) => {
    // noble reduces a seed of lengths.seed bytes (n + 8 bytes and more) into
    // [1, n-1] with negligible bias (FIPS 186-5 A.2.1).
    const seed = random(curve.lengths.seed!);
    const secretKey = secretMade(
      `${name} ephemeral private key`,
      curve.utils.randomSecretKey(seed),
    );
    seed.fill(0);
    return { secretKey, publicKey: curve.getPublicKey(secretKey, false) };
  };
  // RFC 5656 §4: the peer's point is validated (SEC1 §3.2.2.1: on the curve,
  // not infinity) and K is its product's x-coordinate (§4, SEC1 §3.3.1),
  // encoded as an mpint.
  const agree = (what: string, secretKey: Uint8Array, peer: Uint8Array): Uint8Array => {
    if (peer.length !== pointLen || peer[0] !== 0x04) {
      throw new KexError(
        `${name}: ${what} is not an uncompressed point (${peer.length} bytes, first byte ${
          peer.length ? "0x" + peer[0].toString(16).padStart(2, "0") : "none"
        }; expected ${pointLen} bytes starting 0x04)`,
      );
    }
    let shared: Uint8Array;
    try {
      curve.Point.fromBytes(peer).assertValidity();
      shared = curve.getSharedSecret(secretKey, peer, true);
    } catch (cause) {
      throw new KexError(`${name}: ${what} is not a point on the curve`, { cause });
    }
    return magnitude(shared.subarray(1, 1 + fieldLen));
  };
  return Object.freeze({
    name,
    hash,
    kind: "single" as const,
    publicEncoding: "string" as const,
    secretEncoding: "mpint" as const,
    // deno-lint-ignore require-await
    async client(random: RandomSource): Promise<KexClient> {
      const { secretKey, publicKey } = keyPair(random);
      return {
        publicValue: publicKey,
        // deno-lint-ignore require-await
        finish: async (serverPublic) => {
          try {
            return agree("Q_S", secretKey, serverPublic);
          } finally {
            wipe(secretKey);
          }
        },
      };
    },
    // deno-lint-ignore require-await
    async server(clientPublic: Uint8Array, random: RandomSource) {
      const { secretKey, publicKey } = keyPair(random);
      try {
        return { publicValue: publicKey, secret: agree("Q_C", secretKey, clientPublic) };
      } finally {
        wipe(secretKey);
      }
    },
  });
}

/**
 * ecdh-sha2-nistp256 (RFC 5656 §4, §6.1): P-256 with SHA-256. Q_C and Q_S
 * are 65-byte uncompressed SEC1 points.
 *
 * @example
 * ```ts
 * import { ECDH_NISTP256 } from "./kex_ecdh.ts";
 * import { defaultRandom } from "./types.ts";
 * console.log((await ECDH_NISTP256.client(defaultRandom)).publicValue.length); // 65
 * ```
 */
export const ECDH_NISTP256: KexAlgorithm = nist("ecdh-sha2-nistp256", p256, SHA256);

/**
 * ecdh-sha2-nistp384 (RFC 5656 §4, §6.1): P-384 with SHA-384; 97-byte points.
 *
 * @example
 * ```ts
 * import { ECDH_NISTP384 } from "./kex_ecdh.ts";
 * console.log(ECDH_NISTP384.hash.name); // "sha384"
 * ```
 */
export const ECDH_NISTP384: KexAlgorithm = nist("ecdh-sha2-nistp384", p384, SHA384);

/**
 * ecdh-sha2-nistp521 (RFC 5656 §4, §6.1): P-521 with SHA-512; 133-byte points.
 *
 * @example
 * ```ts
 * import { ECDH_NISTP521 } from "./kex_ecdh.ts";
 * console.log(ECDH_NISTP521.hash.name); // "sha512"
 * ```
 */
export const ECDH_NISTP521: KexAlgorithm = nist("ecdh-sha2-nistp521", p521, SHA512);
