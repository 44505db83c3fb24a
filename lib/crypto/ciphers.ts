/**
 * The cipher and MAC tables the transport negotiates from (RFC 4253 §7.1:
 * the first algorithm on the client's list that the server also supports
 * wins), keyed by wire name and ordered as OpenSSH's defaults.
 *
 * "none" is not in these tables: it is only the initial state, see
 * `cipher_none.ts`.
 *
 * @module
 */
import { AES128_CTR, AES192_CTR, AES256_CTR } from "./cipher_aes_ctr.ts";
import { AES128_GCM, AES256_GCM } from "./cipher_aes_gcm.ts";
import { CHACHA20_POLY1305 } from "./cipher_chacha20_poly1305.ts";
import { HMAC_SHA2_256, HMAC_SHA2_256_ETM, HMAC_SHA2_512, HMAC_SHA2_512_ETM } from "./mac.ts";
import type { CipherAlgorithm, MacAlgorithm } from "./types.ts";

/**
 * Supported ciphers by wire name, in OpenSSH's default preference order
 * (`ssh -Q cipher` order of the default `Ciphers`): chacha20-poly1305, then
 * AES-CTR, then AES-GCM. Iteration order is that preference order.
 *
 * @example
 * ```ts
 * import { CIPHERS } from "./ciphers.ts";
 * console.log([...CIPHERS.keys()].join(",")); // the default client proposal
 * const gcm = CIPHERS.get("aes256-gcm@openssh.com");
 * console.log(gcm?.aead); // true
 * ```
 */
export const CIPHERS: ReadonlyMap<string, CipherAlgorithm> = new Map(
  [CHACHA20_POLY1305, AES128_CTR, AES192_CTR, AES256_CTR, AES128_GCM, AES256_GCM].map(
    (c) => [c.name, c] as const,
  ),
);

/**
 * Supported MACs by wire name, in OpenSSH's default preference order:
 * encrypt-then-MAC forms first. AEAD ciphers ignore the negotiated MAC.
 *
 * @example
 * ```ts
 * import { MACS } from "./ciphers.ts";
 * const mac = MACS.get("hmac-sha2-256-etm@openssh.com");
 * console.log(mac?.etm, mac?.keyLength); // true 32
 * ```
 */
export const MACS: ReadonlyMap<string, MacAlgorithm> = new Map(
  [HMAC_SHA2_256_ETM, HMAC_SHA2_512_ETM, HMAC_SHA2_256, HMAC_SHA2_512].map(
    (m) => [m.name, m] as const,
  ),
);
