/**
 * Decoding of public key blobs (RFC 4253 §6.6) into {@link PublicKey}s,
 * OpenSSH certificates (PROTOCOL.certkeys) included.
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
// A cycle, used at call time only: certificates embed plain keys.
import { CERTIFICATE_TYPES, parseCertificate } from "./certificate.ts";

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
 * Reads the fields that follow `string key type` in the blob of a plain
 * (non-certificate) key of `type` (ssh-ed25519: RFC 8709 §4; ecdsa-sha2-*:
 * RFC 5656 §3.1; ssh-rsa: RFC 4253 §6.6), leaving `r` after them. OpenSSH
 * certificates (PROTOCOL.certkeys) embed exactly these fields after their
 * nonce. Throws {@link KeyError} for an unsupported type or bad values and
 * WireError when truncated.
 *
 * @example
 * ```ts
 * import { readPublicKeyFields } from "./public_key.ts";
 * import { SshReader } from "../wire/reader.ts";
 * import { SshWriter } from "../wire/writer.ts";
 * const r = new SshReader(new SshWriter().string(new Uint8Array(32)).finish());
 * console.log(readPublicKeyFields("ssh-ed25519", r).type); // "ssh-ed25519"
 * ```
 */
export function readPublicKeyFields(type: string, r: SshReader): PublicKey {
  switch (type) {
    case "ssh-ed25519": {
      const at = r.offset;
      const pk = r.string("ssh-ed25519 key");
      if (pk.length !== 32) {
        throw new KeyError("ssh-ed25519 public key", `key is ${pk.length} bytes, expected 32`, {
          where: `ssh-ed25519 key at offset ${at}`,
        });
      }
      return new Ed25519PublicKey(Uint8Array.from(pk));
    }
    case "ecdsa-sha2-nistp256":
    case "ecdsa-sha2-nistp384":
    case "ecdsa-sha2-nistp521":
      return readEcdsaPublicKey(type, r);
    case "ssh-rsa":
      return readRsaPublicKey(r);
    default:
      throw new KeyError("public key", `unsupported key type ${describeName(type)}`, {
        where: "key type at offset 0",
      });
  }
}

/**
 * Decodes a public key blob: `string key type` followed by the type's fields
 * (ssh-ed25519: RFC 8709 §4; ecdsa-sha2-*: RFC 5656 §3.1; ssh-rsa: RFC 4253
 * §6.6). OpenSSH certificate blobs (`*-cert-v01@openssh.com`,
 * PROTOCOL.certkeys) are decoded by {@link parseCertificate} into an
 * {@link SshCertificate}, itself a PublicKey. `blob` may be a view into a
 * larger buffer; the key keeps its own copy. Throws {@link KeyError} naming
 * the field and offset when the blob is truncated, has trailing bytes, holds
 * invalid values, or has an unsupported type.
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
    if (CERTIFICATE_TYPES.includes(type)) return parseCertificate(blob);
    const key = readPublicKeyFields(type, r);
    if (r.remaining !== 0) {
      throw new KeyError(`${type} public key`, `${r.remaining} unexpected trailing bytes`, {
        where: `offset ${r.offset}`,
      });
    }
    return key;
  } catch (e) {
    throw KeyError.fromWire(what, e);
  }
}
