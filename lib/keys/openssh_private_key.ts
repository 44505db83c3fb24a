/**
 * OpenSSH's own private key format, "openssh-key-v1" (OpenSSH PROTOCOL.key),
 * as ssh-keygen writes it by default: plain or encrypted with a
 * bcrypt_pbkdf-derived key.
 *
 * PROTOCOL.key §1 (overall format):
 *
 * ```text
 * "openssh-key-v1" 0x00   # NUL-terminated "Auth Magic" string
 * string ciphername
 * string kdfname
 * string kdfoptions        # "bcrypt": string salt, uint32 rounds; "none": empty
 * uint32 number of keys N  # always 1
 * string publickey1
 * string encrypted, padded list of private keys
 * ```
 *
 * PROTOCOL.key §3 (private section, before encryption):
 *
 * ```text
 * uint32 checkint; uint32 checkint   # the same random value twice
 * string keytype, <type-specific private fields>, string comment
 * byte padding[]                    # 1, 2, 3, ... to the cipher block size (8 for "none")
 * ```
 *
 * PROTOCOL.key §2: the cipher key and IV are `bcrypt_pbkdf(passphrase,
 * salt, rounds)` output, key first. As OpenSSH's sshkey.c
 * (sshkey_private_to_blob2 / private2_decrypt) does with cipher_crypt(seq 0,
 * no AAD): AES-CTR/CBC encrypt the section as is; aes*-gcm@openssh.com uses
 * the 12-byte IV as the whole nonce and appends its 16-byte tag after the
 * section; chacha20-poly1305@openssh.com (PROTOCOL.chacha20poly1305 with no
 * length field) encrypts with the first 32 key bytes from block counter 1,
 * nonce 0, and appends Poly1305 over the ciphertext keyed by block 0.
 *
 * @module
 */
import { cbc } from "@noble/ciphers/aes.js";
import { chacha20orig } from "@noble/ciphers/chacha.js";
import { poly1305 } from "@noble/ciphers/_poly1305.js";
import { constantTimeEqual } from "../crypto/constant_time.ts";
import { secretMade } from "../crypto/_secrets.ts";
import { defaultRandom, type RandomSource } from "../crypto/types.ts";
import { SshReader } from "../wire/reader.ts";
import { WireError } from "../wire/errors.ts";
import { SshWriter } from "../wire/writer.ts";
import { describeName, fromBase64, toBase64 } from "./_bytes.ts";
import {
  ab,
  asKeyError,
  checkedEcdsaPrivateKey,
  checkedRsaPrivateKey,
  ownPrivateKey,
  PassphraseRequiredError,
  withPassphraseBytes,
  WrongPassphraseError,
} from "./_private_key_common.ts";
import { bcryptPbkdf } from "./bcrypt_pbkdf.ts";
import type { EcdsaCurveName } from "./ecdsa.ts";
import { ed25519PrivateKey } from "./ed25519.ts";
import { KeyError } from "./errors.ts";
import type { PrivateKey } from "./types.ts";

const WHAT = "openssh-key-v1 private key";
const BEGIN = "-----BEGIN OPENSSH PRIVATE KEY-----";
const END = "-----END OPENSSH PRIVATE KEY-----";
/** PROTOCOL.key §1: "openssh-key-v1" and its NUL. */
const AUTH_MAGIC = new TextEncoder().encode("openssh-key-v1\0");
/** sshkey.c SALT_LEN. */
const SALT_LENGTH = 16;
/** The most bcrypt rounds a key file may ask for (about 10 s of work here). */
export const MAX_BCRYPT_ROUNDS = 2048;

/** ssh-keygen's default bcrypt rounds (OpenSSH 9.2; later releases use 24). */
const DEFAULT_ROUNDS = 16;

/** One cipher as OpenSSH applies it to a key file (cipher_crypt with seq 0 and no AAD). */
interface KeyFileCipher {
  readonly keyLength: number;
  readonly ivLength: number;
  readonly blockSize: number;
  readonly tagLength: number;
  /** Returns ciphertext || tag. */
  encrypt(key: Uint8Array, iv: Uint8Array, plain: Uint8Array): Promise<Uint8Array>;
  /** `sealed` is ciphertext || tag; throws WrongPassphraseError when the tag fails. */
  decrypt(key: Uint8Array, iv: Uint8Array, sealed: Uint8Array): Promise<Uint8Array>;
}

async function aesCtr(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
  const k = await crypto.subtle.importKey("raw", ab(key), "AES-CTR", false, ["encrypt"]);
  return new Uint8Array(
    await crypto.subtle.encrypt({ name: "AES-CTR", counter: ab(iv), length: 128 }, k, ab(data)),
  );
}

function ctr(bits: number): KeyFileCipher {
  return {
    keyLength: bits / 8,
    ivLength: 16,
    blockSize: 16,
    tagLength: 0,
    encrypt: aesCtr,
    decrypt: aesCtr,
  };
}

/** Raw CBC (no padding: the section is block-aligned), as OpenSSL's EVP_Cipher does. */
function cbcRaw(bits: number): KeyFileCipher {
  return {
    keyLength: bits / 8,
    ivLength: 16,
    blockSize: 16,
    tagLength: 0,
    encrypt: (key, iv, data) =>
      Promise.resolve(cbc(key, iv, { disablePadding: true }).encrypt(data)),
    decrypt: (key, iv, data) =>
      Promise.resolve(cbc(key, iv, { disablePadding: true }).decrypt(data)),
  };
}

function gcm(bits: number): KeyFileCipher {
  const importKey = (key: Uint8Array) =>
    crypto.subtle.importKey("raw", ab(key), "AES-GCM", false, ["encrypt", "decrypt"]);
  return {
    keyLength: bits / 8,
    ivLength: 12,
    blockSize: 16,
    tagLength: 16,
    async encrypt(key, iv, data) {
      const k = await importKey(key);
      return new Uint8Array(
        await crypto.subtle.encrypt({ name: "AES-GCM", iv: ab(iv), tagLength: 128 }, k, ab(data)),
      );
    },
    async decrypt(key, iv, data) {
      const k = await importKey(key);
      try {
        return new Uint8Array(
          await crypto.subtle.decrypt({ name: "AES-GCM", iv: ab(iv), tagLength: 128 }, k, ab(data)),
        );
      } catch {
        throw new WrongPassphraseError(WHAT, "wrong passphrase: the AES-GCM tag does not verify");
      }
    },
  };
}

/** OpenSSH chachapoly_crypt with seqnr 0 and aadlen 0: the header key is unused. */
const CHACHA_NONCE = new Uint8Array(8);
function chachaPolyKey(key: Uint8Array): Uint8Array {
  return chacha20orig(key.subarray(0, 32), CHACHA_NONCE, new Uint8Array(32));
}
const CHACHA: KeyFileCipher = {
  keyLength: 64,
  ivLength: 0,
  blockSize: 8,
  tagLength: 16,
  encrypt(key, _iv, data) {
    const out = new Uint8Array(data.length + 16);
    chacha20orig(key.subarray(0, 32), CHACHA_NONCE, data, out.subarray(0, data.length), 1);
    const polyKey = chachaPolyKey(key);
    out.set(poly1305(out.subarray(0, data.length), polyKey), data.length);
    polyKey.fill(0);
    return Promise.resolve(out);
  },
  decrypt(key, _iv, sealed) {
    const n = sealed.length - 16;
    const polyKey = chachaPolyKey(key);
    const tag = poly1305(sealed.subarray(0, n), polyKey);
    polyKey.fill(0);
    if (!constantTimeEqual(tag, sealed.subarray(n))) {
      return Promise.reject(
        new WrongPassphraseError(WHAT, "wrong passphrase: the Poly1305 tag does not verify"),
      );
    }
    return Promise.resolve(chacha20orig(
      key.subarray(0, 32),
      CHACHA_NONCE,
      sealed.subarray(0, n)
        .slice(),
      undefined,
      1,
    ));
  },
};

/** The ciphers OpenSSH's cipher table offers for key files (ssh-keygen -Z), minus 3des-cbc. */
const CIPHERS: ReadonlyMap<string, KeyFileCipher> = new Map([
  ["aes128-ctr", ctr(128)],
  ["aes192-ctr", ctr(192)],
  ["aes256-ctr", ctr(256)],
  ["aes128-cbc", cbcRaw(128)],
  ["aes192-cbc", cbcRaw(192)],
  ["aes256-cbc", cbcRaw(256)],
  ["aes128-gcm@openssh.com", gcm(128)],
  ["aes256-gcm@openssh.com", gcm(256)],
  ["chacha20-poly1305@openssh.com", CHACHA],
]);

/**
 * Ciphers {@link parseOpensshPrivateKey} decrypts ("none" aside); the
 * writer accepts every one of them too.
 *
 * @example
 * ```ts
 * import { OPENSSH_KEY_CIPHERS } from "./openssh_private_key.ts";
 * console.log(OPENSSH_KEY_CIPHERS.includes("aes256-ctr")); // true
 * ```
 */
export const OPENSSH_KEY_CIPHERS: readonly string[] = Object.freeze([...CIPHERS.keys()]);

/**
 * A decoded openssh-key-v1 file.
 *
 * @example
 * ```ts
 * import type { OpensshPrivateKeyFile } from "./openssh_private_key.ts";
 * const show = (f: OpensshPrivateKeyFile) => `${f.key.type} ${f.comment} (${f.cipher})`;
 * ```
 */
export interface OpensshPrivateKeyFile {
  /** The private key. */
  key: PrivateKey;
  /** The comment stored with it (often "user@host"). */
  comment: string;
  /** True when the file was encrypted with a passphrase. */
  encrypted: boolean;
  /** The cipher name ("none" when not encrypted). */
  cipher: string;
  /** bcrypt rounds, when encrypted. */
  rounds?: number;
}

/**
 * Options of {@link parseOpensshPrivateKey}.
 *
 * @example
 * ```ts
 * import type { ParseOpensshOptions } from "./openssh_private_key.ts";
 * const o: ParseOpensshOptions = { passphrase: "correct horse" };
 * ```
 */
export interface ParseOpensshOptions {
  /** Passphrase (strings are UTF-8 encoded, as typed into ssh-keygen). */
  passphrase?: string | Uint8Array;
}

/**
 * Finds the armored block and decodes its base64, as private2_uudecode
 * does (line breaks ignored). Text before the BEGIN line is allowed.
 */
function unarmor(text: string): Uint8Array {
  const start = text.indexOf(BEGIN);
  if (start < 0) throw new KeyError(WHAT, `no "${BEGIN}" line found`, { where: "armor" });
  const bodyStart = start + BEGIN.length;
  const end = text.indexOf(END, bodyStart);
  if (end < 0) {
    throw new KeyError(WHAT, `no "${END}" line after the BEGIN line`, { where: "armor" });
  }
  const b64 = text.slice(bodyStart, end).replace(/[\r\n\t ]+/g, "");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 === 1) {
    throw new KeyError(WHAT, "the body between BEGIN and END is not valid base64", {
      where: "armor",
    });
  }
  try {
    return fromBase64(b64);
  } catch {
    throw new KeyError(WHAT, "the body between BEGIN and END is not valid base64", {
      where: "armor",
    });
  }
}

function toText(input: string | Uint8Array): string {
  return typeof input === "string" ? input : new TextDecoder("utf-8").decode(input);
}

/**
 * Reads the type-specific private fields after `string keytype`
 * (PROTOCOL.key §3, sshkey_private_deserialize): ssh-ed25519 `string pk,
 * string sk(seed || pk)`; ecdsa-sha2-* `string curve, string Q, mpint d`;
 * ssh-rsa `mpint n, e, d, iqmp, p, q`.
 */
function readPrivateFields(type: string, r: SshReader): PrivateKey {
  const what = `${type} private key in ${WHAT}`;
  switch (type) {
    case "ssh-ed25519": {
      const pkAt = r.offset;
      const pk = r.string("ed25519 pk");
      if (pk.length !== 32) {
        throw new KeyError(what, `pk is ${pk.length} bytes, expected 32`, {
          where: `pk at offset ${pkAt}`,
        });
      }
      const skAt = r.offset;
      const sk = r.string("ed25519 sk");
      if (sk.length !== 64) {
        throw new KeyError(what, `sk is ${sk.length} bytes, expected 64`, {
          where: `sk at offset ${skAt}`,
        });
      }
      if (!constantTimeEqual(pk, sk.subarray(32))) {
        throw new KeyError(what, "pk differs from the public half of sk", {
          where: `sk at offset ${skAt}`,
        });
      }
      return ed25519PrivateKey(sk);
    }
    case "ecdsa-sha2-nistp256":
    case "ecdsa-sha2-nistp384":
    case "ecdsa-sha2-nistp521": {
      const curveAt = r.offset;
      const curve = r.ascii("ecdsa curve");
      if (curve !== type.slice("ecdsa-sha2-".length)) {
        throw new KeyError(what, `curve ${describeName(curve)} does not match the key type`, {
          where: `curve at offset ${curveAt}`,
        });
      }
      const qAt = r.offset;
      const q = r.string("ecdsa Q");
      const dAt = r.offset;
      const d = r.mpintBytes("ecdsa d");
      try {
        return checkedEcdsaPrivateKey(curve as EcdsaCurveName, d, {
          q,
          what,
          where: `Q at offset ${qAt}`,
        });
      } catch (e) {
        if (e instanceof KeyError && e.where === undefined) {
          throw new KeyError(what, e.message, { where: `d at offset ${dAt}`, cause: e });
        }
        throw e;
      }
    }
    case "ssh-rsa": {
      const at = r.offset;
      const n = r.mpint("rsa n");
      const e = r.mpint("rsa e");
      const d = r.mpint("rsa d");
      const iqmp = r.mpint("rsa iqmp");
      const p = r.mpint("rsa p");
      const q = r.mpint("rsa q");
      try {
        return checkedRsaPrivateKey({ n, e, d, p, q, iqmp }, what);
      } catch (err) {
        if (err instanceof KeyError) {
          throw new KeyError(what, err.message, {
            where: `rsa fields at offset ${at}`,
            cause: err,
          });
        }
        throw err;
      }
    }
    default:
      throw new KeyError(WHAT, `unsupported private key type ${describeName(type)}`, {
        where: "keytype",
      });
  }
}

/**
 * Decodes an "openssh-key-v1" private key file (the text with its BEGIN /
 * END lines, or its bytes), decrypting it with `passphrase` when it is
 * encrypted. Every check of OpenSSH's sshkey_parse_private2 is made: one
 * key, known cipher and KDF, block-aligned section, exact tag and no
 * trailing data, equal check integers, padding 1, 2, 3, ..., and a public
 * key that matches the private one.
 *
 * Rejects with {@link PassphraseRequiredError} when encrypted and no
 * passphrase was given, {@link WrongPassphraseError} when the passphrase is
 * wrong, and {@link KeyError} (naming the part at fault) for anything
 * malformed or unsupported.
 *
 * @example
 * ```ts
 * import { encodeOpensshPrivateKey, parseOpensshPrivateKey } from "./openssh_private_key.ts";
 * import { generateEd25519 } from "./ed25519.ts";
 * const text = await encodeOpensshPrivateKey(generateEd25519(), { comment: "me@host" });
 * const { key, comment } = await parseOpensshPrivateKey(text);
 * console.log(key.type, comment); // "ssh-ed25519" "me@host"
 * ```
 */
export function parseOpensshPrivateKey(
  input: string | Uint8Array,
  options: ParseOpensshOptions = {},
): Promise<OpensshPrivateKeyFile> {
  return asKeyError(WHAT, async () => {
    const bytes = unarmor(toText(input));
    try {
      return await withPassphraseBytes(options.passphrase, (pass) => parseBinary(bytes, pass));
    } finally {
      // An unencrypted file's bytes hold the secret fields; the key keeps its own copies.
      bytes.fill(0);
    }
  });
}

async function parseBinary(
  bytes: Uint8Array,
  pass: Uint8Array | undefined,
): Promise<OpensshPrivateKeyFile> {
  const head = readHead(bytes);
  const { cipher } = head;
  let rounds: number | undefined;
  let plain: Uint8Array;
  if (cipher === undefined) {
    plain = head.sealed.slice();
  } else {
    const kdf = readBcryptOptions(head.kdfOptions, head.kdfOptionsAt);
    rounds = kdf.rounds;
    if (pass === undefined) {
      throw new PassphraseRequiredError(
        WHAT,
        `the key is encrypted (${head.cipherName}, bcrypt with ${rounds} rounds); a passphrase is needed`,
      );
    }
    const derived = secretMade(
      "bcrypt_pbkdf output",
      bcryptPbkdf(pass, kdf.salt, { rounds, length: cipher.keyLength + cipher.ivLength }),
    );
    try {
      plain = await cipher.decrypt(
        derived.subarray(0, cipher.keyLength),
        derived.subarray(cipher.keyLength),
        head.sealed,
      );
    } finally {
      derived.fill(0);
    }
  }
  secretMade("openssh-key-v1 private section", plain);
  try {
    return readSection(plain, { ...head, rounds });
  } finally {
    plain.fill(0);
  }
}

/** The unencrypted part of an "openssh-key-v1" file (PROTOCOL.key §1), checked. */
interface FileHead {
  cipherName: string;
  /** Undefined for "none". */
  cipher: KeyFileCipher | undefined;
  kdfOptions: Uint8Array;
  kdfOptionsAt: number;
  /** The one public key, its offset and its type. */
  publicBlob: Uint8Array;
  blobAt: number;
  blobType: string;
  /** The private section as stored: encrypted (with the cipher's tag) or not. */
  sealed: Uint8Array;
}

/**
 * Reads the magic, cipher, KDF, the one public key and the private
 * section's length (PROTOCOL.key §1), and checks that they fit together.
 */
function readHead(bytes: Uint8Array): FileHead {
  if (
    bytes.length < AUTH_MAGIC.length ||
    !constantTimeEqual(bytes.subarray(0, AUTH_MAGIC.length), AUTH_MAGIC)
  ) {
    throw new KeyError(WHAT, 'does not start with "openssh-key-v1\\0"', {
      where: "magic at offset 0",
    });
  }
  const r = new SshReader(bytes, AUTH_MAGIC.length);
  const cipherAt = r.offset;
  const cipherName = r.ascii("ciphername");
  const kdfAt = r.offset;
  const kdfName = r.ascii("kdfname");
  const kdfOptionsAt = r.offset;
  const kdfOptions = r.string("kdfoptions");
  const countAt = r.offset;
  const count = r.uint32("number of keys");
  if (count !== 1) {
    throw new KeyError(WHAT, `holds ${count} keys, expected 1`, {
      where: `number of keys at offset ${countAt}`,
    });
  }
  const blobAt = r.offset;
  const publicBlob = r.string("publickey1");
  const blobType = new SshReader(publicBlob).ascii("publickey1 key type");
  const lengthAt = r.offset;
  const encryptedLength = r.uint32("private section length");
  const cipher = checkCipherAndKdf({
    cipherName,
    cipherAt,
    kdfName,
    kdfAt,
    kdfOptions,
    kdfOptionsAt,
  });
  const blockSize = cipher?.blockSize ?? 8;
  if (encryptedLength < blockSize || encryptedLength % blockSize !== 0) {
    throw new KeyError(
      WHAT,
      `length ${encryptedLength} is not a positive multiple of the ${blockSize}-byte block`,
      { where: `private section length at offset ${lengthAt}` },
    );
  }
  const tagLength = cipher?.tagLength ?? 0;
  if (r.remaining !== encryptedLength + tagLength) {
    throw new KeyError(
      WHAT,
      `${r.remaining} bytes follow, expected ${encryptedLength}` +
        (tagLength ? ` plus a ${tagLength}-byte tag` : ""),
      { where: `private section at offset ${r.offset}` },
    );
  }
  const sealed = r.rest();
  return { cipherName, cipher, kdfOptions, kdfOptionsAt, publicBlob, blobAt, blobType, sealed };
}

/**
 * The cipher a file names, checked against its KDF: both "none", or a
 * cipher we have with "bcrypt"; "none" takes no KDF options.
 */
function checkCipherAndKdf(f: {
  cipherName: string;
  cipherAt: number;
  kdfName: string;
  kdfAt: number;
  kdfOptions: Uint8Array;
  kdfOptionsAt: number;
}): KeyFileCipher | undefined {
  const { cipherName, kdfName, kdfAt } = f;
  const cipher = cipherName === "none" ? undefined : CIPHERS.get(cipherName);
  if (cipherName !== "none" && cipher === undefined) {
    throw new KeyError(WHAT, `unsupported cipher ${describeName(cipherName)}`, {
      where: `ciphername at offset ${f.cipherAt}`,
    });
  }
  if (kdfName !== "none" && kdfName !== "bcrypt") {
    throw new KeyError(WHAT, `unsupported KDF ${describeName(kdfName)}`, {
      where: `kdfname at offset ${kdfAt}`,
    });
  }
  if ((kdfName === "none") !== (cipher === undefined)) {
    throw new KeyError(
      WHAT,
      `cipher ${describeName(cipherName)} cannot be used with KDF ${describeName(kdfName)}`,
      { where: `kdfname at offset ${kdfAt}` },
    );
  }
  if (kdfName === "none" && f.kdfOptions.length !== 0) {
    throw new KeyError(WHAT, `KDF "none" takes no options, found ${f.kdfOptions.length} bytes`, {
      where: `kdfoptions at offset ${f.kdfOptionsAt}`,
    });
  }
  return cipher;
}

/** bcrypt's KDF options (PROTOCOL.key §1: `string salt, uint32 rounds`), within our limits. */
function readBcryptOptions(
  kdfOptions: Uint8Array,
  at: number,
): { salt: Uint8Array; rounds: number } {
  const k = new SshReader(kdfOptions);
  let salt: Uint8Array;
  let rounds: number;
  try {
    salt = k.string("bcrypt salt");
    rounds = k.uint32("bcrypt rounds");
    k.end("bcrypt kdfoptions");
  } catch (e) {
    if (!(e instanceof WireError)) throw e;
    throw new KeyError(WHAT, e.message, { where: `bcrypt kdfoptions at offset ${at}`, cause: e });
  }
  if (salt.length === 0 || salt.length > 1 << 20 || rounds === 0) {
    throw new KeyError(
      WHAT,
      rounds === 0
        ? "bcrypt rounds is 0"
        : `the bcrypt salt is ${salt.length} bytes, expected 1 to ${1 << 20}`,
      { where: `kdfoptions at offset ${at}` },
    );
  }
  if (rounds > MAX_BCRYPT_ROUNDS) {
    // A hostile file must not keep the parser busy for hours (ssh-keygen -a rarely exceeds 100).
    throw new KeyError(WHAT, `bcrypt rounds ${rounds} exceed the limit of ${MAX_BCRYPT_ROUNDS}`, {
      where: `kdfoptions at offset ${at}`,
    });
  }
  return { salt, rounds };
}

/**
 * The decrypted private section (PROTOCOL.key §3): check integers, the
 * key (matching the public one), the comment, the padding.
 */
function readSection(
  plain: Uint8Array,
  file: FileHead & { rounds: number | undefined },
): OpensshPrivateKeyFile {
  const { publicBlob, blobType, rounds } = file;
  const encrypted = file.cipher !== undefined;
  const what = `${WHAT} private section`;
  try {
    const s = new SshReader(plain);
    s.uint32("checkint1");
    s.uint32("checkint2");
    // The two check integers (PROTOCOL.key), compared in constant time: after
    // a decryption they tell a wrong passphrase, so they are compared as bytes.
    if (!constantTimeEqual(plain.subarray(0, 4), plain.subarray(4, 8))) {
      if (encrypted) {
        throw new WrongPassphraseError(
          WHAT,
          "wrong passphrase: the check integers differ after decryption",
        );
      }
      throw new KeyError(what, "the two check integers differ: the file is corrupt", {
        where: "checkint at offset 0",
      });
    }
    const typeAt = s.offset;
    const type = s.ascii("keytype");
    if (type !== blobType) {
      throw new KeyError(
        what,
        `key type ${describeName(type)} differs from the public key's ${describeName(blobType)}`,
        { where: `keytype at offset ${typeAt}` },
      );
    }
    const key = readPrivateFields(type, s);
    const commentAt = s.offset;
    const comment = s.utf8("comment");
    if (comment.includes("\0")) {
      throw new KeyError(what, "the comment contains a NUL character", {
        where: `comment at offset ${commentAt}`,
      });
    }
    // PROTOCOL.key §3 / private2_check_padding: 1, 2, 3, ...
    for (let i = 1; s.remaining > 0; i++) {
      const at = s.offset;
      if (s.byte("padding") !== (i & 0xff)) {
        throw new KeyError(what, `padding byte ${i} is not ${i & 0xff}`, {
          where: `padding at offset ${at}`,
        });
      }
    }
    if (!constantTimeEqual(key.publicKey.blob, publicBlob)) {
      throw new KeyError(WHAT, "the public key does not match the private key", {
        where: `publickey1 at offset ${file.blobAt}`,
      });
    }
    return {
      key,
      comment,
      encrypted,
      cipher: file.cipherName,
      ...(rounds === undefined ? {} : { rounds }),
    };
  } catch (e) {
    throw KeyError.fromWire(what, e);
  }
}

/**
 * Options of {@link encodeOpensshPrivateKey}.
 *
 * @example
 * ```ts
 * import type { EncodeOpensshOptions } from "./openssh_private_key.ts";
 * const o: EncodeOpensshOptions = { passphrase: "s3cret", cipher: "chacha20-poly1305@openssh.com", rounds: 32 };
 * ```
 */
export interface EncodeOpensshOptions {
  /** Encrypts when given and not empty (as ssh-keygen: an empty passphrase means no encryption). */
  passphrase?: string | Uint8Array;
  /** The comment stored with the key (default ""). */
  comment?: string;
  /** One of {@link OPENSSH_KEY_CIPHERS}; default "aes256-ctr" (ssh-keygen's). */
  cipher?: string;
  /** bcrypt_pbkdf rounds, default 16 (ssh-keygen 9.2's; `ssh-keygen -a`). */
  rounds?: number;
  /** Randomness for the salt and the check integer (default WebCrypto). */
  random?: RandomSource;
}

/**
 * Encodes `key` as an "openssh-key-v1" file, byte for byte as ssh-keygen
 * lays it out (70-column base64, the same padding and field order), so that
 * `ssh-keygen -y -f file` reads it. With a passphrase, the private section
 * is encrypted with `cipher` under a bcrypt_pbkdf key from a fresh 16-byte
 * salt. Rejects with {@link KeyError} for keys that are not one of ours,
 * an unknown cipher, or unusable rounds.
 *
 * @example
 * ```ts
 * import { encodeOpensshPrivateKey } from "./openssh_private_key.ts";
 * import { generateEcdsa } from "./ecdsa.ts";
 * const text = await encodeOpensshPrivateKey(generateEcdsa("nistp256"), { passphrase: "pw", rounds: 4 });
 * console.log(text.split("\n")[0]); // "-----BEGIN OPENSSH PRIVATE KEY-----"
 * ```
 */
export function encodeOpensshPrivateKey(
  key: PrivateKey,
  options: EncodeOpensshOptions = {},
): Promise<string> {
  return withPassphraseBytes(options.passphrase, (pass) => encodeWith(key, options, pass));
}

/** {@link encodeOpensshPrivateKey} with the passphrase as bytes. */
async function encodeWith(
  key: PrivateKey,
  options: EncodeOpensshOptions,
  pass: Uint8Array | undefined,
): Promise<string> {
  const random = options.random ?? defaultRandom;
  const cipherName = pass === undefined ? "none" : options.cipher ?? "aes256-ctr";
  const cipher = cipherName === "none" ? undefined : CIPHERS.get(cipherName);
  if (cipherName !== "none" && cipher === undefined) {
    throw new KeyError(WHAT, `cannot encrypt with unsupported cipher ${describeName(cipherName)}`);
  }
  const rounds = options.rounds ?? DEFAULT_ROUNDS;
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 0xffffffff) {
    throw new KeyError(WHAT, `rounds is ${rounds}, expected an integer >= 1`);
  }
  const fields = ownPrivateKey(key, WHAT).opensshPrivateFields();

  const salt = cipher ? random(SALT_LENGTH).slice() : new Uint8Array(0);
  const kdfOptions = cipher
    ? new SshWriter(32).string(salt).uint32(rounds).finish()
    : new Uint8Array(0);
  const check = random(4);
  const blockSize = cipher?.blockSize ?? 8;
  const section = new SshWriter(fields.length + 256)
    .raw(check.subarray(0, 4))
    .raw(check.subarray(0, 4))
    .string(key.type)
    .raw(fields)
    .string(options.comment ?? "");
  fields.fill(0);
  for (let i = 1; section.length % blockSize !== 0; i++) section.byte(i & 0xff);
  const plain = section.finish();

  let sealed: Uint8Array;
  if (cipher === undefined) {
    sealed = plain.slice();
  } else {
    const derived = bcryptPbkdf(pass!, salt, {
      rounds,
      length: cipher.keyLength + cipher.ivLength,
    });
    try {
      sealed = await cipher.encrypt(
        derived.subarray(0, cipher.keyLength),
        derived.subarray(cipher.keyLength),
        plain,
      );
    } finally {
      derived.fill(0);
    }
  }
  const out = new SshWriter(sealed.length + key.publicKey.blob.length + 128)
    .raw(AUTH_MAGIC)
    .string(cipherName)
    .string(cipher ? "bcrypt" : "none")
    .string(kdfOptions)
    .uint32(1)
    .string(key.publicKey.blob)
    .uint32(plain.length)
    .raw(sealed)
    .finish();
  plain.fill(0);
  // sshbuf_dtob64(..., wrap = 1): 70 columns.
  const b64 = toBase64(out).replace(/.{70}/g, "$&\n").replace(/\n$/, "");
  return `${BEGIN}\n${b64}\n${END}\n`;
}
