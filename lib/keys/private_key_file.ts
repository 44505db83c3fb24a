/**
 * Private key files: reading and writing the formats OpenSSH's ssh-keygen
 * and OpenSSL use, byte-compatible with both.
 *
 * - "openssh": OpenSSH's "openssh-key-v1" (PROTOCOL.key), ssh-keygen's
 *   default, optionally encrypted with bcrypt_pbkdf and aes256-ctr,
 *   aes256-gcm@openssh.com or chacha20-poly1305@openssh.com;
 * - "pkcs1" / "sec1": `ssh-keygen -m PEM` (RFC 8017 §A.1.2, RFC 5915 §3),
 *   optionally with OpenSSL's traditional "Proc-Type: 4,ENCRYPTED";
 * - "pkcs8": `ssh-keygen -m PKCS8` (RFC 5208, RFC 5958, RFC 8410),
 *   optionally PBES2-encrypted (RFC 8018).
 *
 * @module
 */
import type { RandomSource } from "../crypto/types.ts";
import { describeName } from "./_bytes.ts";
import { asKeyError } from "./_private_key_common.ts";
import { KeyError } from "./errors.ts";
import { encodeOpensshPrivateKey, parseOpensshPrivateKey } from "./openssh_private_key.ts";
import {
  encodePemPrivateKey,
  findPemPrivateKeyLabel,
  parsePemPrivateKey,
} from "./pem_private_key.ts";
import type { PrivateKey } from "./types.ts";

export { PassphraseRequiredError, WrongPassphraseError } from "./_private_key_common.ts";

/**
 * The private key file formats: "openssh" (openssh-key-v1), "pkcs1" (PEM
 * RSA PRIVATE KEY), "sec1" (PEM EC PRIVATE KEY) and "pkcs8" (PEM PRIVATE
 * KEY / ENCRYPTED PRIVATE KEY).
 *
 * @example
 * ```ts
 * import type { PrivateKeyFileFormat } from "./private_key_file.ts";
 * const f: PrivateKeyFileFormat = "openssh";
 * ```
 */
export type PrivateKeyFileFormat = "openssh" | "pkcs1" | "sec1" | "pkcs8";

/**
 * What {@link parsePrivateKeyFile} found.
 *
 * @example
 * ```ts
 * import type { ParsedPrivateKeyFile } from "./private_key_file.ts";
 * const label = (f: ParsedPrivateKeyFile) => `${f.key.type} ${f.comment} [${f.format}]`;
 * ```
 */
export interface ParsedPrivateKeyFile {
  /** The private key. */
  key: PrivateKey;
  /** The key's comment ("" for PEM formats, which have none). */
  comment: string;
  /** The file's format. */
  format: PrivateKeyFileFormat;
  /** True when the file was passphrase-protected. */
  encrypted: boolean;
}

/**
 * Options of {@link parsePrivateKeyFile}.
 *
 * @example
 * ```ts
 * import type { ParsePrivateKeyFileOptions } from "./private_key_file.ts";
 * const o: ParsePrivateKeyFileOptions = { passphrase: "correct horse battery staple" };
 * ```
 */
export interface ParsePrivateKeyFileOptions {
  /** The passphrase of an encrypted file; strings are UTF-8 encoded. Empty means none. */
  passphrase?: string | Uint8Array;
}

/**
 * Reads a private key file of any supported format, detected from its
 * BEGIN line: OpenSSH ("-----BEGIN OPENSSH PRIVATE KEY-----"), PKCS#1,
 * SEC1, PKCS#8 or encrypted PKCS#8. Supported key types: ssh-ed25519,
 * ecdsa-sha2-nistp256/384/521, ssh-rsa.
 *
 * Rejects with {@link PassphraseRequiredError} when the file is encrypted
 * and no passphrase was given, {@link WrongPassphraseError} when the
 * passphrase does not decrypt it (never with a garbage key), and
 * {@link KeyError} for anything else: its `what` names the format and
 * `where` the part of the file at fault. Secret bytes never appear in
 * messages.
 *
 * @example
 * ```ts
 * import { parsePrivateKeyFile, writePrivateKeyFile } from "./private_key_file.ts";
 * import { generatePrivateKey } from "./private_key.ts";
 * const text = await writePrivateKeyFile(await generatePrivateKey("ssh-ed25519"), {
 *   passphrase: "pw",
 *   comment: "me@host",
 *   rounds: 4,
 * });
 * const { key, comment, format, encrypted } = await parsePrivateKeyFile(text, { passphrase: "pw" });
 * console.log(key.type, comment, format, encrypted); // "ssh-ed25519" "me@host" "openssh" true
 * ```
 */
export async function parsePrivateKeyFile(
  text: string | Uint8Array,
  options: ParsePrivateKeyFileOptions = {},
): Promise<ParsedPrivateKeyFile> {
  const s = await asKeyError(
    "private key file",
    () => typeof text === "string" ? text : new TextDecoder("utf-8").decode(text),
  );
  const openssh = s.indexOf("-----BEGIN OPENSSH PRIVATE KEY-----");
  const pemLabel = findPemPrivateKeyLabel(s);
  const pem = pemLabel === undefined ? -1 : s.indexOf(`-----BEGIN ${pemLabel}-----`);
  if (openssh >= 0 && (pem < 0 || openssh < pem)) {
    const { key, comment, encrypted } = await parseOpensshPrivateKey(s, options);
    return { key, comment, format: "openssh", encrypted };
  }
  if (pem >= 0) {
    const { key, format, encrypted } = await parsePemPrivateKey(s, options);
    return { key, comment: "", format, encrypted };
  }
  const other = /-----BEGIN ([A-Z0-9 ]+)-----/.exec(s)?.[1];
  throw new KeyError(
    "private key file",
    other === undefined
      ? "no private key found (expected an OpenSSH or PEM BEGIN line)"
      : `unsupported block "${
        other.slice(0, 40)
      }" (expected OPENSSH, RSA, EC, or PKCS#8 PRIVATE KEY)`,
    { where: "armor" },
  );
}

/**
 * Options of {@link writePrivateKeyFile}.
 *
 * @example
 * ```ts
 * import type { WritePrivateKeyFileOptions } from "./private_key_file.ts";
 * const o: WritePrivateKeyFileOptions = { format: "openssh", passphrase: "pw", cipher: "aes256-gcm@openssh.com" };
 * ```
 */
export interface WritePrivateKeyFileOptions {
  /** Default "openssh". "pkcs1" is for ssh-rsa keys only, "sec1" for ECDSA only. */
  format?: PrivateKeyFileFormat;
  /** Encrypts when given and not empty (an empty passphrase means none, as in ssh-keygen). */
  passphrase?: string | Uint8Array;
  /** "openssh" only: the comment stored with the key (default ""); PEM formats have none and drop it. */
  comment?: string;
  /** "openssh" only: the cipher when encrypting; default "aes256-ctr", as ssh-keygen. */
  cipher?: "aes256-ctr" | "aes256-gcm@openssh.com" | "chacha20-poly1305@openssh.com";
  /** "openssh" only: bcrypt_pbkdf rounds; default 16, as ssh-keygen 9.2 (`-a`). */
  rounds?: number;
  /** Randomness for salts, IVs and the check integer (default WebCrypto). */
  random?: RandomSource;
}

/**
 * Writes `key` as a private key file that ssh-keygen and OpenSSL read (see
 * the module notes for each format and its encryption). Ed25519 keys can
 * be written as "openssh" or "pkcs8" (OpenSSL reads the latter; OpenSSH 9.2
 * does not). Rejects with {@link KeyError} when the format cannot hold the
 * key type, the key is not one of ours (e.g. agent-backed), or an option is
 * unusable.
 *
 * @example
 * ```ts
 * import { writePrivateKeyFile } from "./private_key_file.ts";
 * import { generatePrivateKey } from "./private_key.ts";
 * const key = await generatePrivateKey("ecdsa-sha2-nistp256");
 * console.log((await writePrivateKeyFile(key, { format: "sec1" })).split("\n")[0]);
 * // "-----BEGIN EC PRIVATE KEY-----"
 * ```
 */
export async function writePrivateKeyFile(
  key: PrivateKey,
  options: WritePrivateKeyFileOptions = {},
): Promise<string> {
  const format = options.format ?? "openssh";
  if (format === "openssh") {
    return await encodeOpensshPrivateKey(key, options);
  }
  if (format === "pkcs1" || format === "sec1" || format === "pkcs8") {
    // PEM has no place for a comment (ssh-keygen drops it too); a cipher or
    // rounds asked for but not applied would be a silent downgrade.
    for (const o of ["cipher", "rounds"] as const) {
      if (options[o] !== undefined) {
        throw new KeyError(
          `${format} private key`,
          `option "${o}" applies to the openssh format only`,
        );
      }
    }
    return await encodePemPrivateKey(key, {
      format,
      passphrase: options.passphrase,
      random: options.random,
    });
  }
  throw new KeyError("private key file", `unknown format ${describeName(String(format))}`);
}
