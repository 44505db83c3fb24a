/**
 * The shapes every key type implements; the transport and authentication
 * layers only talk to these.
 *
 * @module
 */

/**
 * A public key of one of the supported types, able to verify signatures
 * made with its private half.
 *
 * @example
 * ```ts
 * import type { PublicKey } from "./types.ts";
 * async function check(key: PublicKey, sig: Uint8Array, h: Uint8Array) {
 *   if (!(await key.verify(sig, h, { algorithm: "ssh-ed25519" }))) throw new Error(`bad signature from ${key.fingerprint()}`);
 * }
 * ```
 */
export interface PublicKey {
  /** Key type: "ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521" or "ssh-rsa". */
  readonly type: string;
  /** The RFC 4253 §6.6 public key blob (`string type, ...`). Owned by the key: do not modify. */
  readonly blob: Uint8Array;
  /**
   * Verifies `signatureBlob` (`string algorithm || string signature`,
   * RFC 4253 §6.6) over `data` for signature algorithm `options.algorithm`.
   * Resolves false on any mismatch (an algorithm this key cannot verify, a
   * blob naming another algorithm, a bad encoding, a wrong signature); never
   * rejects because of the signature.
   */
  verify(
    signatureBlob: Uint8Array,
    data: Uint8Array,
    options: { algorithm: string },
  ): Promise<boolean>;
  /** "SHA256:" + unpadded base64 of sha256(blob), as `ssh-keygen -l` prints it. */
  fingerprint(): string;
}

/**
 * A private key: signs data for the signature algorithms it supports.
 *
 * @example
 * ```ts
 * import type { PrivateKey } from "./types.ts";
 * async function signWithBest(key: PrivateKey, data: Uint8Array) {
 *   return await key.sign(key.algorithms[0], data);
 * }
 * ```
 */
export interface PrivateKey {
  /** Key type, equal to `publicKey.type`. */
  readonly type: string;
  /** The public half. */
  readonly publicKey: PublicKey;
  /** Signature algorithms it can produce, preferred first, e.g. ["rsa-sha2-512", "rsa-sha2-256"] for ssh-rsa. */
  readonly algorithms: readonly string[];
  /**
   * Signs `data` and returns the signature blob (`string algorithm ||
   * string signature`, RFC 4253 §6.6). Rejects with a KeyError when
   * `algorithm` is not one of {@link algorithms}.
   */
  sign(algorithm: string, data: Uint8Array): Promise<Uint8Array>;
}
