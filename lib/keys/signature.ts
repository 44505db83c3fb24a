/**
 * The signature blob shared by every key type (RFC 4253 §6.6):
 * `string signature-format-identifier || string signature-blob`.
 *
 * @module
 */
import { SshReader } from "../wire/reader.ts";
import { SshWriter } from "../wire/writer.ts";
import { KeyError } from "./errors.ts";

/**
 * Encodes a signature blob: `string algorithm || string signature`
 * (RFC 4253 §6.6).
 *
 * @example
 * ```ts
 * import { encodeSignature } from "./signature.ts";
 * const blob = encodeSignature("ssh-ed25519", new Uint8Array(64));
 * console.log(blob.length); // 4 + 11 + 4 + 64 = 83
 * ```
 */
export function encodeSignature(algorithm: string, signature: Uint8Array): Uint8Array {
  return new SshWriter(algorithm.length + signature.length + 8).string(algorithm).string(signature)
    .finish();
}

/**
 * Decodes a signature blob (RFC 4253 §6.6). The signature is a sub-view of
 * `blob`. Throws {@link KeyError} when the blob is malformed or has trailing
 * bytes.
 *
 * @example
 * ```ts
 * import { decodeSignature, encodeSignature } from "./signature.ts";
 * const { algorithm, signature } = decodeSignature(encodeSignature("rsa-sha2-256", new Uint8Array(3)));
 * console.log(algorithm, signature.length); // "rsa-sha2-256" 3
 * ```
 */
export function decodeSignature(blob: Uint8Array): { algorithm: string; signature: Uint8Array } {
  try {
    const r = new SshReader(blob);
    const algorithm = r.ascii("signature algorithm");
    const signature = r.string("signature");
    r.end("signature blob");
    return { algorithm, signature };
  } catch (e) {
    throw KeyError.fromWire("signature blob", e);
  }
}

/**
 * Like {@link decodeSignature} but returns undefined instead of throwing
 * (verify paths must answer false, not throw, on hostile blobs).
 *
 * @example
 * ```ts
 * import { tryDecodeSignature } from "./signature.ts";
 * console.log(tryDecodeSignature(new Uint8Array([0, 0, 0, 9]))); // undefined
 * ```
 */
export function tryDecodeSignature(
  blob: Uint8Array,
): { algorithm: string; signature: Uint8Array } | undefined {
  try {
    return decodeSignature(blob);
  } catch {
    return undefined;
  }
}
