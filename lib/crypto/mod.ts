/**
 * The crypto layer's public part: the errors the transport reports for a
 * failed key exchange or MAC (RFC 4253 §7, §6.4), the random source it draws
 * from, the SHA-2 hashes of the key exchange, and a constant-time
 * comparison. The ciphers, MACs and key exchange methods themselves are
 * chosen by name through the transport's options.
 *
 * @example
 * ```ts
 * import { constantTimeEqual, type RandomSource, SHA256 } from "./mod.ts";
 * const random: RandomSource = (n) => crypto.getRandomValues(new Uint8Array(n));
 * const a = SHA256.digest(random(32));
 * console.log(a.length, constantTimeEqual(a, a.slice())); // 32 true
 * ```
 *
 * @module
 */
export { KexError, MacError } from "./errors.ts";
export { defaultRandom, type Hash, type RandomSource } from "./types.ts";
export { HASHES, SHA256, SHA384, SHA512 } from "./hash.ts";
export { constantTimeEqual } from "./constant_time.ts";
// What this layer's API mentions from the layer below.
export { SshError } from "../wire/errors.ts";
