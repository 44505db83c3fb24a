/**
 * The key exchange methods rxssh implements, by wire name (RFC 4253 §7.1
 * negotiation picks one of these names). No SHA-1 method is provided.
 *
 * @module
 */
import {
  DH_GEX_SHA256,
  DH_GROUP14_SHA256,
  DH_GROUP16_SHA512,
  DH_GROUP18_SHA512,
} from "./kex_dh.ts";
import {
  CURVE25519_SHA256,
  CURVE25519_SHA256_LIBSSH,
  ECDH_NISTP256,
  ECDH_NISTP384,
  ECDH_NISTP521,
} from "./kex_ecdh.ts";
import { MLKEM768X25519_SHA256 } from "./kex_mlkem.ts";
import type { KexAlgorithm } from "./types.ts";

/**
 * Every supported key exchange method keyed by wire name, in OpenSSH's
 * current default order of preference (post-quantum hybrid first):
 * mlkem768x25519-sha256, curve25519-sha256, curve25519-sha256@libssh.org,
 * ecdh-sha2-nistp256, ecdh-sha2-nistp384, ecdh-sha2-nistp521,
 * diffie-hellman-group-exchange-sha256, diffie-hellman-group16-sha512,
 * diffie-hellman-group18-sha512, diffie-hellman-group14-sha256.
 * Which of them are offered by default is the transport's decision.
 *
 * @example
 * ```ts
 * import { KEX_ALGORITHMS } from "./kex.ts";
 * console.log([...KEX_ALGORITHMS.keys()][0]); // "mlkem768x25519-sha256"
 * console.log(KEX_ALGORITHMS.get("curve25519-sha256")?.secretEncoding); // "mpint"
 * ```
 */
export const KEX_ALGORITHMS: ReadonlyMap<string, KexAlgorithm> = new Map(
  [
    MLKEM768X25519_SHA256,
    CURVE25519_SHA256,
    CURVE25519_SHA256_LIBSSH,
    ECDH_NISTP256,
    ECDH_NISTP384,
    ECDH_NISTP521,
    DH_GEX_SHA256,
    DH_GROUP16_SHA512,
    DH_GROUP18_SHA512,
    DH_GROUP14_SHA256,
  ].map((k) => [k.name, k]),
);
