/**
 * The SHA-2 hashes the key exchange and the KDF use (RFC 4253 §7.2, §8;
 * RFC 5656 §6.2.1; RFC 8731 §3), backed by `@noble/hashes`.
 *
 * @module
 */
import { sha256, sha384, sha512 } from "@noble/hashes/sha2.js";
import type { Hash } from "./types.ts";

/** Any noble hash constructor: `create()` returns an incremental hasher. */
interface NobleHash {
  readonly outputLen: number;
  create(): { update(data: Uint8Array): unknown; digest(): Uint8Array };
}

function wrap(name: Hash["name"], noble: NobleHash): Hash {
  return Object.freeze({
    name,
    outputLength: noble.outputLen,
    digest(...parts: Uint8Array[]): Uint8Array {
      // Feed each part into one incremental state: no concatenated copy.
      const h = noble.create();
      for (const p of parts) h.update(p);
      return h.digest();
    },
  });
}

/**
 * SHA-256 (FIPS 180-4): the hash of curve25519-sha256, ecdh-sha2-nistp256,
 * mlkem768x25519-sha256, diffie-hellman-group14-sha256 and
 * diffie-hellman-group-exchange-sha256.
 *
 * @example
 * ```ts
 * import { SHA256 } from "./hash.ts";
 * const d = SHA256.digest(new TextEncoder().encode("ab"), new TextEncoder().encode("c"));
 * console.log(d.length); // 32, equal to SHA-256("abc")
 * ```
 */
export const SHA256: Hash = wrap("sha256", sha256);

/**
 * SHA-384 (FIPS 180-4): the hash of ecdh-sha2-nistp384 (RFC 5656 §6.2.1).
 *
 * @example
 * ```ts
 * import { SHA384 } from "./hash.ts";
 * console.log(SHA384.outputLength); // 48
 * ```
 */
export const SHA384: Hash = wrap("sha384", sha384);

/**
 * SHA-512 (FIPS 180-4): the hash of ecdh-sha2-nistp521,
 * diffie-hellman-group16-sha512 and diffie-hellman-group18-sha512 (RFC 8268).
 *
 * @example
 * ```ts
 * import { SHA512 } from "./hash.ts";
 * console.log(SHA512.digest().length); // 64
 * ```
 */
export const SHA512: Hash = wrap("sha512", sha512);

/**
 * The hashes above by {@link Hash.name}.
 *
 * @example
 * ```ts
 * import { HASHES } from "./hash.ts";
 * console.log(HASHES.get("sha384")?.outputLength); // 48
 * ```
 */
export const HASHES: ReadonlyMap<Hash["name"], Hash> = new Map([
  ["sha256", SHA256],
  ["sha384", SHA384],
  ["sha512", SHA512],
]);
