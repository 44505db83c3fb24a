/**
 * Public key fingerprints as OpenSSH prints them.
 *
 * @module
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { toBase64 } from "./_bytes.ts";

/**
 * The SHA-256 fingerprint of a public key blob (RFC 4253 §6.6 encoding):
 * `"SHA256:"` followed by the unpadded base64 of sha256(blob), exactly what
 * `ssh-keygen -l -E sha256` prints (OpenSSH sshkey_fingerprint, SSH_FP_BASE64).
 *
 * @example
 * ```ts
 * import { fingerprintSha256 } from "./fingerprint.ts";
 * console.log(fingerprintSha256(new Uint8Array(0))); // "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"
 * ```
 */
export function fingerprintSha256(blob: Uint8Array): string {
  return "SHA256:" + toBase64(sha256(blob)).replace(/=+$/, "");
}
