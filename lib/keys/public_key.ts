/**
 * Decoding of public key blobs (RFC 4253 §6.6) into {@link PublicKey}s.
 *
 * @module
 */
import { SshReader } from "../wire/reader.ts";
import { describeName } from "./_bytes.ts";
import { readEcdsaPublicKey } from "./ecdsa.ts";
import { Ed25519PublicKey } from "./ed25519.ts";
import { KeyError } from "./errors.ts";
import { readRsaPublicKey } from "./rsa.ts";
import type { PublicKey } from "./types.ts";

export type { PublicKey } from "./types.ts";

/**
 * The public key types {@link parsePublicKey} understands, in OpenSSH's
 * default preference order.
 *
 * @example
 * ```ts
 * import { PUBLIC_KEY_TYPES } from "./public_key.ts";
 * console.log(PUBLIC_KEY_TYPES.includes("ssh-ed25519")); // true
 * ```
 */
export const PUBLIC_KEY_TYPES: readonly string[] = Object.freeze([
  "ssh-ed25519",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "ssh-rsa",
]);

/**
 * Decodes a public key blob: `string key type` followed by the type's fields
 * (ssh-ed25519: RFC 8709 §4; ecdsa-sha2-*: RFC 5656 §3.1; ssh-rsa: RFC 4253
 * §6.6). `blob` may be a view into a larger buffer; the key keeps its own
 * copy. Throws {@link KeyError} naming the field and offset when the blob is
 * truncated, has trailing bytes, holds invalid values, or has an unsupported
 * type.
 *
 * @example
 * ```ts
 * import { parsePublicKey } from "./public_key.ts";
 * import { SshWriter } from "../wire/writer.ts";
 * const blob = new SshWriter().string("ssh-ed25519").string(new Uint8Array(32)).finish();
 * console.log(parsePublicKey(blob).fingerprint());
 * ```
 */
export function parsePublicKey(blob: Uint8Array): PublicKey {
  const what = "public key";
  const r = new SshReader(blob);
  try {
    const type = r.ascii("key type");
    let key: PublicKey;
    switch (type) {
      case "ssh-ed25519": {
        const at = r.offset;
        const pk = r.string("ssh-ed25519 key");
        if (pk.length !== 32) {
          throw new KeyError(
            "ssh-ed25519 public key",
            `key is ${pk.length} bytes, expected 32`,
            `ssh-ed25519 key at offset ${at}`,
          );
        }
        key = new Ed25519PublicKey(Uint8Array.from(pk));
        break;
      }
      case "ecdsa-sha2-nistp256":
      case "ecdsa-sha2-nistp384":
      case "ecdsa-sha2-nistp521":
        key = readEcdsaPublicKey(type, r);
        break;
      case "ssh-rsa":
        key = readRsaPublicKey(r);
        break;
      default:
        throw new KeyError(
          what,
          `unsupported key type ${describeName(type)}`,
          "key type at offset 0",
        );
    }
    if (r.remaining !== 0) {
      throw new KeyError(
        `${type} public key`,
        `${r.remaining} unexpected trailing bytes`,
        `offset ${r.offset}`,
      );
    }
    return key;
  } catch (e) {
    throw KeyError.fromWire(what, e);
  }
}
