/**
 * The keys layer: public and private keys, signatures and fingerprints
 * (RFC 4253 §6.6, RFC 5656, RFC 8332, RFC 8709).
 *
 * @example
 * ```ts
 * import { generatePrivateKey, parsePublicKey } from "./mod.ts";
 * const key = await generatePrivateKey("ssh-ed25519");
 * console.log(parsePublicKey(key.publicKey.blob).fingerprint() === key.publicKey.fingerprint()); // true
 * ```
 *
 * @module
 */
export type { PrivateKey, PublicKey } from "./types.ts";
// Types of the layers below that this layer's API mentions.
export type { RandomSource } from "../crypto/types.ts";
export { SshError } from "../wire/errors.ts";
export { KeyError } from "./errors.ts";
export { parsePublicKey, PUBLIC_KEY_TYPES } from "./public_key.ts";
export { type GenerateKeyOptions, generatePrivateKey } from "./private_key.ts";
export {
  HOST_KEY_ALGORITHMS,
  type HostKeyAlgorithm,
  signatureAlgorithmsForKeyType,
} from "./host_key_algorithms.ts";
export { fingerprintSha256 } from "./fingerprint.ts";
export { decodeSignature, encodeSignature } from "./signature.ts";
export {
  Ed25519PrivateKey,
  ed25519PrivateKey,
  Ed25519PublicKey,
  ed25519PublicKey,
  generateEd25519,
} from "./ed25519.ts";
export {
  type EcdsaCurveName,
  EcdsaPrivateKey,
  ecdsaPrivateKey,
  EcdsaPublicKey,
  ecdsaPublicKey,
  generateEcdsa,
} from "./ecdsa.ts";
export {
  generateRsa,
  RSA_MAX_BITS,
  RSA_MIN_GENERATE_BITS,
  RSA_MIN_PUBLIC_BITS,
  RsaPrivateKey,
  rsaPrivateKey,
  rsaPrivateKeyFromJwk,
  type RsaPrivateParts,
  RsaPublicKey,
  rsaPublicKey,
} from "./rsa.ts";
