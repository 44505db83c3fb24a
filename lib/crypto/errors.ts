/**
 * Errors of the crypto layer.
 *
 * @module
 */
import { SshError } from "../wire/errors.ts";

/**
 * A packet's MAC or AEAD tag did not verify (RFC 4253 §6.4).
 *
 * @example
 * ```ts
 * import { MacError } from "./errors.ts";
 * const e = new MacError("aes128-gcm@openssh.com", 7);
 * console.log(e.message);
 * ```
 */
export class MacError extends SshError {
  /** The cipher or MAC that rejected the packet. */
  readonly algorithm: string;
  /** The sequence number of the rejected packet. */
  readonly seq: number;
  /** Creates the error. */
  constructor(algorithm: string, seq: number) {
    super(`${algorithm}: message authentication failed for packet ${seq}`);
    this.algorithm = algorithm;
    this.seq = seq;
  }
}

/**
 * A key exchange value from the peer is invalid (wrong length, point not on
 * the curve, DH value out of range, all-zero shared secret).
 *
 * @example
 * ```ts
 * import { KexError } from "./errors.ts";
 * throw new KexError("curve25519-sha256: Q_S is 31 bytes, expected 32");
 * ```
 */
export class KexError extends SshError {}
