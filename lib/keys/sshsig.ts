/**
 * SSH signatures of arbitrary data (OpenSSH PROTOCOL.sshsig), as made and
 * checked by `ssh-keygen -Y sign`/`-Y verify` and used for git commit
 * signing (`gpg.format = ssh`).
 *
 * The signed data is `"SSHSIG" || string namespace || string reserved ||
 * string hash_algorithm || string H(message)`; the message is hashed
 * incrementally, so a `ReadableStream` of any size is never buffered whole.
 *
 * @module
 */
import { sha256, sha512 } from "@noble/hashes/sha2.js";
import { SshReader } from "../wire/reader.ts";
import { SshWriter } from "../wire/writer.ts";
import { describeName, fromBase64, toBase64 } from "./_bytes.ts";
import { KeyError } from "./errors.ts";
import { parsePublicKey } from "./public_key.ts";
import { tryDecodeSignature } from "./signature.ts";
import type { PrivateKey, PublicKey } from "./types.ts";
import { constantTimeEqual } from "../crypto/constant_time.ts";

export type { PrivateKey, PublicKey } from "./types.ts";

const MAGIC = new Uint8Array([0x53, 0x53, 0x48, 0x53, 0x49, 0x47]); // "SSHSIG"
const VERSION = 1;
const BEGIN = "-----BEGIN SSH SIGNATURE-----";
const END = "-----END SSH SIGNATURE-----";
/** Signature algorithms OpenSSH accepts from ssh-rsa keys in SSHSIG (never SHA-1 "ssh-rsa"). */
const RSA_ALLOWED = ["rsa-sha2-512", "rsa-sha2-256"];

/**
 * The message hash algorithms of PROTOCOL.sshsig, `"sha512"` being the
 * default of both ssh-keygen and {@link signSshsig}.
 *
 * @example
 * ```ts
 * import { SSHSIG_HASH_ALGORITHMS } from "./sshsig.ts";
 * console.log(SSHSIG_HASH_ALGORITHMS); // ["sha512", "sha256"]
 * ```
 */
export const SSHSIG_HASH_ALGORITHMS: readonly ("sha512" | "sha256")[] = Object.freeze([
  "sha512",
  "sha256",
]);

/**
 * Which check an SSHSIG operation failed:
 * - `"armor"`: not `-----BEGIN SSH SIGNATURE-----` / base64 / `-----END SSH SIGNATURE-----`;
 * - `"format"`: the binary signature is truncated, has trailing bytes or a bad field;
 * - `"version"`: a version other than 1;
 * - `"namespace"`: the signature's namespace is not the expected one (or is empty);
 * - `"hash-algorithm"`: a hash algorithm other than sha512 and sha256;
 * - `"signature-algorithm"`: an algorithm the key may not sign SSHSIGs with (e.g. `ssh-rsa`, SHA-1);
 * - `"key"`: the signature was made by another key than the expected one;
 * - `"signature"`: the signature does not verify over the message.
 *
 * @example
 * ```ts
 * import type { SshsigCheck } from "./sshsig.ts";
 * const check: SshsigCheck = "namespace";
 * ```
 */
export type SshsigCheck =
  | "armor"
  | "format"
  | "version"
  | "namespace"
  | "hash-algorithm"
  | "signature-algorithm"
  | "key"
  | "signature";

/**
 * An SSHSIG signature could not be made, parsed or verified. `check` names
 * the check that failed; the message says which value was wrong.
 *
 * @example
 * ```ts
 * import { SshsigError, verifySshsig } from "./sshsig.ts";
 * try {
 *   await verifySshsig("not a signature", new Uint8Array(), { namespace: "file" });
 * } catch (e) {
 *   if (e instanceof SshsigError) console.log(e.check); // "armor"
 * }
 * ```
 */
export class SshsigError extends KeyError {
  /** The check that failed. */
  readonly check: SshsigCheck;
  /** Creates the error; `options.where` names the field (and offset) when there is one. */
  constructor(
    check: SshsigCheck,
    problem: string,
    options: ErrorOptions & { where?: string } = {},
  ) {
    super("SSH signature", problem, options);
    this.check = check;
  }
}

/**
 * A decoded SSHSIG signature (OpenSSH PROTOCOL.sshsig §2).
 *
 * @example
 * ```ts
 * import { parseSshsig, signSshsig, type SshSignature } from "./sshsig.ts";
 * import { generatePrivateKey } from "./private_key.ts";
 * const key = await generatePrivateKey("ssh-ed25519");
 * const sig: SshSignature = parseSshsig(await signSshsig(key, new Uint8Array(), { namespace: "file" }));
 * console.log(sig.namespace, sig.hashAlgorithm); // "file" "sha512"
 * ```
 */
export interface SshSignature {
  /** Format version; always 1. */
  readonly version: number;
  /** The key that made the signature (not yet trusted: check it against an allowed signers list). */
  readonly publicKey: PublicKey;
  /** The namespace (domain) the signature is valid for, e.g. `"git"` or `"file"`. */
  readonly namespace: string;
  /** The reserved field, empty in every signature made so far; ignored when verifying, as by OpenSSH. */
  readonly reserved: Uint8Array;
  /** The message hash algorithm, `"sha512"` or `"sha256"` (other values fail {@link verifySshsig}). */
  readonly hashAlgorithm: string;
  /** The signature blob (`string algorithm || string signature`, RFC 4253 §6.6). */
  readonly signature: Uint8Array;
}

/**
 * Options of {@link signSshsig}.
 *
 * @example
 * ```ts
 * import type { SignSshsigOptions } from "./sshsig.ts";
 * const options: SignSshsigOptions = { namespace: "git", hashAlgorithm: "sha256" };
 * ```
 */
export interface SignSshsigOptions {
  /** The namespace the signature is for (`ssh-keygen -n`), e.g. `"git"` or `"file"`; must not be empty. */
  namespace: string;
  /** Message hash, default `"sha512"` (as ssh-keygen). */
  hashAlgorithm?: "sha512" | "sha256";
  /**
   * Signature algorithm; default `"rsa-sha2-512"` for ssh-rsa keys (as
   * ssh-keygen), otherwise the key's first algorithm. ssh-rsa keys may only
   * use `"rsa-sha2-512"` or `"rsa-sha2-256"`.
   */
  signatureAlgorithm?: string;
}

/**
 * Options of {@link verifySshsig}.
 *
 * @example
 * ```ts
 * import type { VerifySshsigOptions } from "./sshsig.ts";
 * const options: VerifySshsigOptions = { namespace: "git" };
 * ```
 */
export interface VerifySshsigOptions {
  /** The namespace the signature must have been made for. */
  namespace: string;
  /** When given, the signature must have been made by this key (compared by public key blob). */
  publicKey?: PublicKey;
}

function hasher(algorithm: string) {
  switch (algorithm) {
    case "sha512":
      return sha512.create();
    case "sha256":
      return sha256.create();
    default:
      throw new SshsigError(
        "hash-algorithm",
        `unsupported hash algorithm ${describeName(algorithm)}, expected "sha512" or "sha256"`,
      );
  }
}

/** Hashes `message`; a stream is read chunk by chunk and never held whole. */
async function hashMessage(
  algorithm: string,
  message: Uint8Array | ReadableStream<Uint8Array>,
): Promise<Uint8Array> {
  const h = hasher(algorithm);
  if (message instanceof Uint8Array) return h.update(message).digest();
  const reader = message.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      h.update(value);
    }
  } finally {
    reader.releaseLock();
  }
  return h.digest();
}

/** What is signed: the message's `hash` under `of.namespace` with `of.hashAlgorithm`. */
function signedData(
  hash: Uint8Array,
  of: { namespace: string; hashAlgorithm: string },
): Uint8Array {
  const { namespace, hashAlgorithm } = of;
  // PROTOCOL.sshsig §3; the reserved field is signed empty, as by OpenSSH.
  return new SshWriter(namespace.length + hash.length + 40).raw(MAGIC).string(namespace)
    .string(new Uint8Array(0)).string(hashAlgorithm).string(hash).finish();
}

function checkNamespace(namespace: string): void {
  if (typeof namespace !== "string" || namespace === "") {
    throw new SshsigError("namespace", "the namespace must be a non-empty string");
  }
  if (namespace.includes("\0")) {
    throw new SshsigError("namespace", `namespace ${describeName(namespace)} contains a NUL`);
  }
}

function allowedAlgorithm(key: PublicKey, algorithm: string): boolean {
  return key.type === "ssh-rsa" ? RSA_ALLOWED.includes(algorithm) : algorithm === key.type;
}

/**
 * Armors an SSHSIG blob exactly as ssh-keygen does: the BEGIN line, the
 * base64 in lines of 70 characters, the END line, each ending in "\n".
 */
function armor(blob: Uint8Array): string {
  const b64 = toBase64(blob);
  let body = "";
  for (let i = 0; i < b64.length; i += 70) body += b64.slice(i, i + 70) + "\n";
  return `${BEGIN}\n${body}${END}\n`;
}

function startsWithMagic(b: Uint8Array): boolean {
  return b.length >= MAGIC.length && MAGIC.every((x, i) => b[i] === x);
}

/** The binary blob of an armored (or already binary) signature. */
function dearmor(input: string | Uint8Array): Uint8Array {
  let text: string;
  if (input instanceof Uint8Array) {
    if (startsWithMagic(input)) return input;
    text = "";
    for (let i = 0; i < input.length; i += 0x8000) {
      text += String.fromCharCode(...input.subarray(i, i + 0x8000));
    }
  } else if (typeof input === "string") {
    text = input;
  } else {
    throw new SshsigError("armor", "the signature must be a string or a Uint8Array");
  }
  const start = text.search(/\S/);
  if (start < 0 || !text.startsWith(BEGIN, start)) {
    throw new SshsigError("armor", `missing "${BEGIN}" header`, { where: "offset 0" });
  }
  const afterBegin = start + BEGIN.length;
  const nl = /^\r?\n/.exec(text.slice(afterBegin, afterBegin + 2));
  if (!nl) {
    throw new SshsigError("armor", "the header line is not followed by a line break", {
      where: `offset ${afterBegin}`,
    });
  }
  const bodyStart = afterBegin + nl[0].length;
  const endAt = text.indexOf(END, bodyStart);
  if (endAt < 0) throw new SshsigError("armor", `missing "${END}" footer`);
  if (text.slice(endAt + END.length).trim() !== "") {
    throw new SshsigError("armor", "unexpected text after the footer", {
      where: `offset ${endAt + END.length}`,
    });
  }
  const body = text.slice(bodyStart, endAt).replace(/[ \t\r\n]+/g, "");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body) || body.length % 4 === 1) {
    throw new SshsigError("armor", "the body is not valid base64", {
      where: `offset ${bodyStart}`,
    });
  }
  let blob: Uint8Array;
  try {
    blob = fromBase64(body);
  } catch {
    // atob also refuses padding that does not end a multiple of 4 characters.
    throw new SshsigError("armor", "the body is not valid base64", {
      where: `offset ${bodyStart}`,
    });
  }
  if (blob.length === 0) {
    throw new SshsigError("armor", "the body is empty", { where: `offset ${bodyStart}` });
  }
  return blob;
}

/** Reads a `string` that must hold UTF-8 without NUL (OpenSSH cstring). */
function cstring(r: SshReader, field: string): string {
  const at = r.offset;
  const s = r.utf8(field);
  if (s.includes("\0")) {
    throw new SshsigError("format", "string contains a NUL", { where: `${field} at offset ${at}` });
  }
  return s;
}

/**
 * Decodes an SSHSIG signature: the armored text ssh-keygen writes (a string,
 * or its bytes), or the binary blob itself (bytes starting with "SSHSIG").
 * Checks the structure only, not the signature: use {@link verifySshsig}.
 * Throws {@link SshsigError} (`check` `"armor"`, `"format"` or `"version"`)
 * on anything malformed, truncated or with trailing bytes.
 *
 * @example
 * ```ts
 * import { parseSshsig, signSshsig } from "./sshsig.ts";
 * import { generatePrivateKey } from "./private_key.ts";
 * const key = await generatePrivateKey("ecdsa-sha2-nistp256");
 * const armored = await signSshsig(key, new TextEncoder().encode("hi"), { namespace: "file" });
 * const sig = parseSshsig(armored);
 * console.log(sig.publicKey.fingerprint() === key.publicKey.fingerprint()); // true
 * ```
 */
export function parseSshsig(armored: string | Uint8Array): SshSignature {
  const blob = dearmor(armored);
  const r = new SshReader(blob);
  try {
    const magic = r.raw(MAGIC.length, "magic preamble");
    if (!startsWithMagic(magic)) {
      throw new SshsigError("format", 'the blob does not start with "SSHSIG"', {
        where: "magic preamble at offset 0",
      });
    }
    const version = r.uint32("version");
    if (version !== VERSION) {
      throw new SshsigError("version", `version ${version} is not supported, expected 1`, {
        where: "version at offset 6",
      });
    }
    const keyAt = r.offset;
    const keyBlob = r.string("publickey");
    let publicKey: PublicKey;
    try {
      publicKey = parsePublicKey(keyBlob);
    } catch (e) {
      const problem = e instanceof Error ? e.message : String(e);
      throw new SshsigError("format", problem, { where: `publickey at offset ${keyAt}`, cause: e });
    }
    const namespace = cstring(r, "namespace");
    const reserved = Uint8Array.from(r.string("reserved"));
    const hashAlgorithm = cstring(r, "hash_algorithm");
    const signature = Uint8Array.from(r.string("signature"));
    r.end("SSHSIG blob");
    return { version, publicKey, namespace, reserved, hashAlgorithm, signature };
  } catch (e) {
    if (e instanceof SshsigError) throw e;
    const k = KeyError.fromWire("SSH signature", e);
    if (k instanceof KeyError) {
      throw new SshsigError("format", k.message.replace(/^SSH signature: /, ""), { cause: e });
    }
    throw k;
  }
}

/**
 * Signs `message` for `namespace` (OpenSSH PROTOCOL.sshsig) and returns the
 * armored signature, byte for byte as `ssh-keygen -Y sign -n namespace`
 * writes it (the signatures themselves are identical for the deterministic
 * ssh-ed25519 and ssh-rsa). A stream is hashed chunk by chunk as it is read.
 * Rejects with {@link SshsigError} for an empty namespace, an unsupported
 * hash, or a signature algorithm the key cannot use for SSHSIG (a stream is
 * then cancelled unread); errors of the stream itself are passed on.
 *
 * @example
 * ```ts
 * import { signSshsig } from "./sshsig.ts";
 * import { generatePrivateKey } from "./private_key.ts";
 * const key = await generatePrivateKey("ssh-ed25519");
 * const armored = await signSshsig(key, new TextEncoder().encode("hello\n"), { namespace: "file" });
 * console.log(armored.split("\n")[0]); // "-----BEGIN SSH SIGNATURE-----"
 * ```
 */
export async function signSshsig(
  key: PrivateKey,
  message: Uint8Array | ReadableStream<Uint8Array>,
  options: SignSshsigOptions,
): Promise<string> {
  const { namespace, hashAlgorithm = "sha512" } = options;
  const algorithm = options.signatureAlgorithm ??
    (key.type === "ssh-rsa" ? "rsa-sha2-512" : key.algorithms[0]);
  try {
    checkNamespace(namespace);
    hasher(hashAlgorithm); // validates before any reading
    if (!allowedAlgorithm(key.publicKey, algorithm) || !key.algorithms.includes(algorithm)) {
      throw new SshsigError(
        "signature-algorithm",
        `a ${key.type} key cannot make SSH signatures with ${describeName(algorithm)}`,
      );
    }
  } catch (e) {
    if (!(message instanceof Uint8Array)) await message.cancel(e).catch(() => {});
    throw e;
  }
  const hash = await hashMessage(hashAlgorithm, message);
  const signature = await key.sign(algorithm, signedData(hash, { namespace, hashAlgorithm }));
  const blob = new SshWriter(signature.length + key.publicKey.blob.length + 64).raw(MAGIC)
    .uint32(VERSION).string(key.publicKey.blob).string(namespace).string(new Uint8Array(0))
    .string(hashAlgorithm).string(signature).finish();
  return armor(blob);
}

/**
 * Verifies an SSHSIG signature (armored text, its bytes, or the binary blob)
 * over `message` for `namespace`, as `ssh-keygen -Y check-novalidate` does,
 * and resolves with the decoded signature. The signing key is only trusted
 * if `publicKey` is given (then it must be that key) or the caller checks
 * `publicKey` of the result, e.g. with `findAllowedSigners`. A stream is
 * hashed chunk by chunk; it is cancelled when a check fails before it is read.
 *
 * Rejects with {@link SshsigError} whose `check` names what failed: armor,
 * format, version, namespace, hash-algorithm, signature-algorithm, key or
 * signature.
 *
 * @example
 * ```ts
 * import { signSshsig, verifySshsig } from "./sshsig.ts";
 * import { generatePrivateKey } from "./private_key.ts";
 * const key = await generatePrivateKey("ssh-ed25519");
 * const data = new TextEncoder().encode("release v1.0\n");
 * const armored = await signSshsig(key, data, { namespace: "file" });
 * const sig = await verifySshsig(armored, data, { namespace: "file", publicKey: key.publicKey });
 * console.log(sig.publicKey.fingerprint());
 * ```
 */
export async function verifySshsig(
  armored: string | Uint8Array,
  message: Uint8Array | ReadableStream<Uint8Array>,
  options: VerifySshsigOptions,
): Promise<SshSignature> {
  let sig: SshSignature;
  try {
    const { namespace, publicKey } = options;
    sig = parseSshsig(armored);
    if (sig.namespace !== namespace) {
      throw new SshsigError(
        "namespace",
        `the signature is for namespace ${describeName(sig.namespace)}, expected ${
          describeName(namespace)
        }`,
      );
    }
    hasher(sig.hashAlgorithm);
    if (publicKey !== undefined && !constantTimeEqual(publicKey.blob, sig.publicKey.blob)) {
      throw new SshsigError(
        "key",
        `the signature was made by ${sig.publicKey.type} key ${sig.publicKey.fingerprint()}, expected ${publicKey.type} key ${publicKey.fingerprint()}`,
      );
    }
    const decoded = tryDecodeSignature(sig.signature);
    if (decoded === undefined) {
      throw new SshsigError("format", "the signature blob is malformed", { where: "signature" });
    }
    if (!allowedAlgorithm(sig.publicKey, decoded.algorithm)) {
      throw new SshsigError(
        "signature-algorithm",
        `signature algorithm ${
          describeName(decoded.algorithm)
        } is not allowed for a ${sig.publicKey.type} key`,
      );
    }
  } catch (e) {
    if (!(message instanceof Uint8Array)) await message.cancel(e).catch(() => {});
    throw e;
  }
  const hash = await hashMessage(sig.hashAlgorithm, message);
  const algorithm = tryDecodeSignature(sig.signature)!.algorithm;
  const ok = await sig.publicKey.verify(
    sig.signature,
    signedData(hash, sig),
    { algorithm },
  );
  if (!ok) {
    throw new SshsigError(
      "signature",
      `the ${algorithm} signature of ${sig.publicKey.type} key ${sig.publicKey.fingerprint()} does not verify over the message`,
    );
  }
  return sig;
}
