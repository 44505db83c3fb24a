/**
 * The one byte comparison of rxssh: every place that compares a secret, a
 * MAC or AEAD tag, a cookie, a password digest, a check value or a public
 * key blob uses {@link constantTimeEqual}, so no comparison can leak, by its
 * running time, how many leading bytes of a guess were right (the MAC check
 * of RFC 4253 §6.4, the X11 cookie of RFC 4254 §6.3.1, the checkint of
 * OpenSSH PROTOCOL.key, the password digest of `rxssh serve`).
 *
 * @module
 */

/**
 * Compares two byte arrays in time that depends only on their lengths, not on
 * where they differ (a MAC check must not leak how many leading bytes of a
 * forged tag were right). Returns false at once when the lengths differ:
 * lengths are public everywhere it is used (tags, cookies and digests have
 * fixed sizes; compare digests of secrets whose length is secret).
 *
 * @example
 * ```ts
 * import { constantTimeEqual } from "./constant_time.ts";
 * console.log(constantTimeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2]))); // true
 * console.log(constantTimeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 3]))); // false
 * ```
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}
