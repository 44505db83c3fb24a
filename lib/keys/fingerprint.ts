/**
 * Public key fingerprints as OpenSSH prints them.
 *
 * @module
 */
import { md5 } from "@noble/hashes/legacy.js";
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

/**
 * The legacy MD5 fingerprint of a public key blob (RFC 4253 §6.6 encoding):
 * `"MD5:"` followed by the 16 bytes of md5(blob) as lower-case hex pairs
 * joined by colons, exactly what `ssh-keygen -l -E md5` prints (OpenSSH
 * sshkey_fingerprint, SSH_FP_HEX; the format of RFC 4716 §4 with a prefix).
 *
 * @example
 * ```ts
 * import { fingerprintMd5 } from "./fingerprint.ts";
 * console.log(fingerprintMd5(new Uint8Array(0))); // "MD5:d4:1d:8c:d9:8f:00:b2:04:e9:80:09:98:ec:f8:42:7e"
 * ```
 */
export function fingerprintMd5(blob: Uint8Array): string {
  return "MD5:" + Array.from(md5(blob), (b) => b.toString(16).padStart(2, "0")).join(":");
}
