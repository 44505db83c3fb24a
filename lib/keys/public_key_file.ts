/**
 * Public key file formats: the OpenSSH one-line form (`id_ed25519.pub`,
 * `key-cert.pub`), the SSH2 public key file of RFC 4716 (`ssh-keygen -e`),
 * and PEM — SubjectPublicKeyInfo (RFC 5280 §4.1.2.7, `ssh-keygen -e -m
 * PKCS8`) and PKCS#1 RSAPublicKey (RFC 8017 §A.1.1, `ssh-keygen -e -m PEM`).
 *
 * @module
 */
import { SshReader } from "../wire/reader.ts";
import { describeName, fromBase64, toBase64 } from "./_bytes.ts";
import { der, DerReader, pemDecode, pemEncode } from "./der.ts";
import { ecdsaPublicKey } from "./ecdsa.ts";
import { ed25519PublicKey } from "./ed25519.ts";
import { KeyError } from "./errors.ts";
import { parsePublicKey } from "./public_key.ts";
import { rsaPublicKey } from "./rsa.ts";
import type { PublicKey } from "./types.ts";

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

function decodeBase64(text: string, about: { what: string; where: string }): Uint8Array {
  const { what, where } = about;
  if (!BASE64.test(text) || text.length % 4 === 1) {
    throw new KeyError(what, "not valid base64", { where });
  }
  try {
    return fromBase64(text);
  } catch {
    throw new KeyError(what, "not valid base64", { where });
  }
}

// ---------------------------------------------------------------------------
// OpenSSH one-line form

/**
 * Parses an OpenSSH public key line, `<type> <base64 blob>[ <comment>]`, as
 * in `.pub` files (OpenSSH sshkey_read; the blob is RFC 4253 §6.6 or an
 * OpenSSH certificate, PROTOCOL.certkeys). Leading and trailing whitespace
 * and a final line break are ignored; the comment is the rest of the line
 * (it may contain spaces). The type must match the blob's. Throws
 * {@link KeyError} otherwise.
 *
 * @example
 * ```ts
 * import { parsePublicKeyLine } from "./public_key_file.ts";
 * const { key, comment } = parsePublicKeyLine(
 *   "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFP3eLoDGlFqm94Cs0qwXVJ+ktRT8TbkJXnMx/FbJzPK me@host\n",
 * );
 * console.log(key.type, comment); // "ssh-ed25519" "me@host"
 * ```
 */
export function parsePublicKeyLine(line: string): { key: PublicKey; comment: string } {
  const what = "public key line";
  const text = line.replace(/^\s+|\s+$/g, "");
  if (/[\r\n]/.test(text)) throw new KeyError(what, "more than one line");
  const m = /^(\S+)[ \t]+(\S+)(?:[ \t]+(.*))?$/.exec(text);
  if (m === null) {
    throw new KeyError(what, 'expected "<type> <base64>[ <comment>]"');
  }
  const [, type, b64, comment = ""] = m;
  const blob = decodeBase64(b64, { what, where: "base64 blob" });
  const key = parsePublicKey(blob);
  if (key.type !== type) {
    throw new KeyError(
      what,
      `the line says ${describeName(type)} but the blob is ${describeName(key.type)}`,
      { where: "key type" },
    );
  }
  return { key, comment };
}

/**
 * Formats a public key (or certificate) as the line ssh-keygen writes to a
 * `.pub` file: `<type> <base64 blob>`, then ` <comment>` when the comment is
 * not empty, then a newline. Throws {@link KeyError} when the comment holds
 * a line break.
 *
 * @example
 * ```ts
 * import { formatPublicKeyLine } from "./public_key_file.ts";
 * import { ed25519PublicKey } from "./ed25519.ts";
 * console.log(formatPublicKeyLine(ed25519PublicKey(new Uint8Array(32)), "me@host"));
 * // "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA me@host\n"
 * ```
 */
export function formatPublicKeyLine(key: PublicKey, comment?: string): string {
  if (comment !== undefined && /[\r\n]/.test(comment)) {
    throw new KeyError("public key line", "the comment contains a line break");
  }
  return `${key.type} ${toBase64(key.blob)}${comment ? ` ${comment}` : ""}\n`;
}

// ---------------------------------------------------------------------------
// RFC 4716

const RFC4716_BEGIN = "---- BEGIN SSH2 PUBLIC KEY ----";
const RFC4716_END = "---- END SSH2 PUBLIC KEY ----";
const utf8 = new TextEncoder();

/**
 * A parsed RFC 4716 public key file.
 *
 * @example
 * ```ts
 * import type { Rfc4716PublicKey } from "./public_key_file.ts";
 * const describe = (f: Rfc4716PublicKey) => `${f.key.type} ${f.comment}`;
 * ```
 */
export interface Rfc4716PublicKey {
  /** The key. */
  key: PublicKey;
  /** The Comment header's value without its enclosing quotes ("" when absent). */
  comment: string;
  /** Every header, in order, as [tag, value] with continuations joined (tags as written). */
  headers: [string, string][];
}

/**
 * Parses an RFC 4716 "SSH2 public key" file (RFC 4716 §3): the begin line,
 * headers `Tag: value` (§3.3; a line ending in `\` continues on the next,
 * §3.3), the base64 body (§3.4), the end line. The Comment header (§3.3.2)
 * has its enclosing double quotes removed. Text around the block is ignored.
 * Throws {@link KeyError} naming the line at fault.
 *
 * @example
 * ```ts
 * import { parseRfc4716PublicKey } from "./public_key_file.ts";
 * const { key, comment } = parseRfc4716PublicKey([
 *   "---- BEGIN SSH2 PUBLIC KEY ----",
 *   'Comment: "256-bit ED25519, converted by me@host from OpenSSH"',
 *   "AAAAC3NzaC1lZDI1NTE5AAAAIFP3eLoDGlFqm94Cs0qwXVJ+ktRT8TbkJXnMx/FbJzPK",
 *   "---- END SSH2 PUBLIC KEY ----",
 * ].join("\n"));
 * console.log(key.type, comment); // "ssh-ed25519" "256-bit ED25519, converted by me@host from OpenSSH"
 * ```
 */
export function parseRfc4716PublicKey(text: string): Rfc4716PublicKey {
  const what = "RFC 4716 public key";
  const lines = text.split(/\r\n|\r|\n/).map((l) => l.replace(/[ \t]+$/, ""));
  const begin = lines.findIndex((l) => l.trim() === RFC4716_BEGIN);
  if (begin < 0) throw new KeyError(what, `no "${RFC4716_BEGIN}" line`);
  const end = lines.findIndex((l, i) => i > begin && l.trim() === RFC4716_END);
  if (end < 0) throw new KeyError(what, `no "${RFC4716_END}" line`);
  const headers: [string, string][] = [];
  let i = begin + 1;
  // §3.3: headers come first; a header line contains ':' (base64 never does).
  while (i < end && lines[i].includes(":")) {
    const lineNo = i + 1;
    let logical = lines[i];
    while (logical.endsWith("\\")) {
      i++;
      if (i >= end) {
        throw new KeyError(what, "header continued past the body", { where: `line ${lineNo}` });
      }
      logical = logical.slice(0, -1) + lines[i];
    }
    i++;
    const colon = logical.indexOf(":");
    const tag = logical.slice(0, colon);
    if (!validTag(tag)) {
      throw new KeyError(what, `bad header tag ${describeName(tag)}`, { where: `line ${lineNo}` });
    }
    const value = logical.slice(colon + 1).replace(/^ /, "");
    if (utf8.encode(value).length > 1024) {
      throw new KeyError(what, "header value longer than 1024 bytes", { where: `line ${lineNo}` });
    }
    headers.push([tag, value]);
  }
  const body = lines.slice(i, end).join("").replace(/\s+/g, "");
  if (body.length === 0) throw new KeyError(what, "empty body", { where: `line ${i + 1}` });
  const blob = decodeBase64(body, { what, where: `body at line ${i + 1}` });
  const key = parsePublicKey(blob);
  const c = headers.find(([tag]) => tag.toLowerCase() === "comment")?.[1] ?? "";
  const comment = c.length >= 2 && c.startsWith('"') && c.endsWith('"') ? c.slice(1, -1) : c;
  return { key, comment, headers };
}

/** RFC 4716 §3.3: a header tag is 1 to 64 bytes of printable US-ASCII other than ':' (no spaces). */
function validTag(tag: string): boolean {
  if (tag.length === 0 || tag.length > 64) return false;
  for (let i = 0; i < tag.length; i++) {
    const c = tag.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || c === 0x3a) return false;
  }
  return true;
}

/** Splits `line` into pieces of at most `max` UTF-8 bytes, never inside a code point. */
function splitBytes(line: string, max: number): string[] {
  const out: string[] = [];
  let cur = "";
  let n = 0;
  for (const ch of line) {
    const len = utf8.encode(ch).length;
    if (n + len > max) {
      out.push(cur);
      cur = "";
      n = 0;
    }
    cur += ch;
    n += len;
  }
  out.push(cur);
  return out;
}

/**
 * Options of {@link formatRfc4716PublicKey}.
 *
 * @example
 * ```ts
 * import type { Rfc4716Options } from "./public_key_file.ts";
 * const options: Rfc4716Options = { comment: "alice@laptop", headers: [["x-origin", "ci"]] };
 * ```
 */
export interface Rfc4716Options {
  /** Written first as `Comment: "<comment>"` (RFC 4716 §3.3.2), when given. */
  comment?: string;
  /** Further headers, in order (RFC 4716 §3.3). */
  headers?: readonly (readonly [string, string])[];
}

/**
 * Formats a public key as an RFC 4716 "SSH2 public key" file, the way
 * `ssh-keygen -e` writes it: begin line, `Comment: "..."`, the base64 blob
 * in 70-column lines, end line. Header lines longer than 72 bytes are
 * continued with a trailing `\` (RFC 4716 §3.3). Throws {@link KeyError} on
 * a bad header tag, a value over 1024 bytes, or a line break in a value.
 *
 * @example
 * ```ts
 * import { formatRfc4716PublicKey } from "./public_key_file.ts";
 * import { ed25519PublicKey } from "./ed25519.ts";
 * console.log(formatRfc4716PublicKey(ed25519PublicKey(new Uint8Array(32)), { comment: "me@host" }));
 * // ---- BEGIN SSH2 PUBLIC KEY ----
 * // Comment: "me@host"
 * // AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
 * // ---- END SSH2 PUBLIC KEY ----
 * ```
 */
export function formatRfc4716PublicKey(key: PublicKey, options: Rfc4716Options = {}): string {
  const what = "RFC 4716 public key";
  const headers: (readonly [string, string])[] = [];
  if (options.comment !== undefined) headers.push(["Comment", `"${options.comment}"`]);
  headers.push(...(options.headers ?? []));
  const out = [RFC4716_BEGIN];
  for (const [tag, value] of headers) {
    if (!validTag(tag)) {
      throw new KeyError(what, `bad header tag ${describeName(tag)}`);
    }
    if (/[\r\n]/.test(value)) throw new KeyError(what, `header ${tag} contains a line break`);
    if (utf8.encode(value).length > 1024) {
      throw new KeyError(what, `header ${tag} is longer than 1024 bytes`);
    }
    const line = `${tag}: ${value}`;
    if (utf8.encode(line).length <= 72) {
      out.push(line);
    } else {
      const parts = splitBytes(line, 71);
      out.push(...parts.slice(0, -1).map((p) => `${p}\\`), parts[parts.length - 1]);
    }
  }
  out.push(...(toBase64(key.blob).match(/.{1,70}/g) ?? []), RFC4716_END);
  return out.join("\n") + "\n";
}

// ---------------------------------------------------------------------------
// PEM: SubjectPublicKeyInfo and PKCS#1

/** rsaEncryption (RFC 8017 §A.1). */
const OID_RSA = "1.2.840.113549.1.1.1";
/** id-ecPublicKey (RFC 5480 §2.1.1). */
const OID_EC = "1.2.840.10045.2.1";
/** id-Ed25519 (RFC 8410 §3). */
const OID_ED25519 = "1.3.101.112";
/** namedCurve OIDs (RFC 5480 §2.1.1.1) ↔ SSH curve identifiers (RFC 5656 §10.1). */
const CURVE_OIDS: ReadonlyMap<string, string> = new Map([
  ["1.2.840.10045.3.1.7", "nistp256"],
  ["1.3.132.0.34", "nistp384"],
  ["1.3.132.0.35", "nistp521"],
]);

/**
 * Which PEM form a public key is in: `"spki"` ("PUBLIC KEY",
 * SubjectPublicKeyInfo) or `"pkcs1"` ("RSA PUBLIC KEY", RSAPublicKey).
 *
 * @example
 * ```ts
 * import type { PemPublicKeyFormat } from "./public_key_file.ts";
 * const f: PemPublicKeyFormat = "spki";
 * ```
 */
export type PemPublicKeyFormat = "spki" | "pkcs1";

function readRsaPublicKeyDer(bytes: Uint8Array, what: string): PublicKey {
  const r = new DerReader(bytes, what);
  const seq = r.sequence("RSAPublicKey");
  const n = seq.unsignedBytes("modulus");
  const e = seq.unsignedBytes("publicExponent");
  seq.end("RSAPublicKey");
  r.end("RSAPublicKey");
  return rsaPublicKey(n, e);
}

function readSpki(bytes: Uint8Array, what: string): PublicKey {
  const r = new DerReader(bytes, what);
  const spki = r.sequence("SubjectPublicKeyInfo");
  const alg = spki.sequence("algorithm");
  const oid = alg.oid("algorithm OID");
  let key: PublicKey;
  if (oid === OID_RSA) {
    // RFC 8017 §A.1 / RFC 3279 §2.3.1: parameters NULL (tolerated when absent).
    if (!alg.done) alg.null("rsaEncryption parameters");
    alg.end("algorithm");
    key = readRsaPublicKeyDer(spki.bitString("subjectPublicKey"), what);
  } else if (oid === OID_EC) {
    // RFC 5480 §2.1.1: ECParameters ::= namedCurve only.
    const curveOid = alg.oid("namedCurve");
    alg.end("algorithm");
    const curve = CURVE_OIDS.get(curveOid);
    if (curve === undefined) {
      throw new KeyError(what, `unsupported named curve ${curveOid}`, { where: "namedCurve" });
    }
    key = ecdsaPublicKey(curve, spki.bitString("subjectPublicKey"));
  } else if (oid === OID_ED25519) {
    // RFC 8410 §3: parameters MUST be absent; §4: the key is the 32-byte encoding.
    alg.end("algorithm (Ed25519 parameters must be absent)");
    const pk = spki.bitString("subjectPublicKey");
    if (pk.length !== 32) {
      throw new KeyError(what, `Ed25519 key is ${pk.length} bytes, expected 32`, {
        where: "subjectPublicKey",
      });
    }
    key = ed25519PublicKey(pk);
  } else {
    throw new KeyError(what, `unsupported algorithm ${oid}`, { where: "algorithm OID" });
  }
  spki.end("SubjectPublicKeyInfo");
  r.end("SubjectPublicKeyInfo");
  return key;
}

/**
 * Parses a PEM public key: "-----BEGIN PUBLIC KEY-----" (SubjectPublicKeyInfo,
 * RFC 5280 §4.1.2.7) holding rsaEncryption (RFC 8017), id-ecPublicKey with a
 * namedCurve P-256/384/521 (RFC 5480) or Ed25519 (RFC 8410), or "-----BEGIN
 * RSA PUBLIC KEY-----" (PKCS#1 RSAPublicKey, RFC 8017 §A.1.1). Throws
 * {@link KeyError} naming the DER field at fault.
 *
 * @example
 * ```ts
 * import { parsePemPublicKey } from "./public_key_file.ts";
 * const { key, format } = parsePemPublicKey(
 *   "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAU/d4ugMaUWqb3gKzSrBdUn6S1FPxNuQleczH8VsnM8o=\n-----END PUBLIC KEY-----\n",
 * );
 * console.log(key.type, format); // "ssh-ed25519" "spki"
 * ```
 */
export function parsePemPublicKey(text: string): { key: PublicKey; format: PemPublicKeyFormat } {
  const m = /-----BEGIN (RSA PUBLIC KEY|PUBLIC KEY)-----/.exec(text);
  if (m === null) {
    throw new KeyError("PEM public key", 'no "PUBLIC KEY" or "RSA PUBLIC KEY" block');
  }
  const { label, bytes } = pemDecode(text, m[1]);
  if (label === "RSA PUBLIC KEY") {
    return { key: readRsaPublicKeyDer(bytes, "PKCS#1 RSA public key"), format: "pkcs1" };
  }
  return { key: readSpki(bytes, "SubjectPublicKeyInfo public key"), format: "spki" };
}

/**
 * Formats a public key as PEM: `"spki"` (default) gives "PUBLIC KEY"
 * (SubjectPublicKeyInfo, what `ssh-keygen -e -m PKCS8` writes), `"pkcs1"`
 * gives "RSA PUBLIC KEY" (RSAPublicKey, what `ssh-keygen -e -m PEM` writes
 * for RSA). Throws {@link KeyError} for certificates, unsupported types, or
 * pkcs1 with a non-RSA key.
 *
 * @example
 * ```ts
 * import { formatPemPublicKey } from "./public_key_file.ts";
 * import { ed25519PublicKey } from "./ed25519.ts";
 * console.log(formatPemPublicKey(ed25519PublicKey(new Uint8Array(32))));
 * // -----BEGIN PUBLIC KEY-----
 * // MCowBQYDK2VwAyEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=
 * // -----END PUBLIC KEY-----
 * ```
 */
export function formatPemPublicKey(
  key: PublicKey,
  options: { format?: PemPublicKeyFormat } = {},
): string {
  try {
    return formatPem(key, options.format ?? "spki");
  } catch (e) {
    throw KeyError.fromWire("PEM public key", e);
  }
}

function formatPem(key: PublicKey, format: PemPublicKeyFormat): string {
  const what = "PEM public key";
  const r = new SshReader(key.blob);
  const type = r.ascii("key type");
  if (format === "pkcs1" && type !== "ssh-rsa") {
    throw new KeyError(what, `PKCS#1 holds RSA keys only, not ${describeName(type)}`);
  }
  let spki: Uint8Array;
  switch (type) {
    case "ssh-rsa": {
      // RFC 4253 §6.6: mpint e, mpint n.
      const e = r.mpintBytes("e");
      const n = r.mpintBytes("n");
      const pkcs1 = der.sequence(der.unsigned(n), der.unsigned(e));
      if (format === "pkcs1") return pemEncode("RSA PUBLIC KEY", pkcs1);
      spki = der.sequence(der.sequence(der.oid(OID_RSA), der.null()), der.bitString(pkcs1));
      break;
    }
    case "ecdsa-sha2-nistp256":
    case "ecdsa-sha2-nistp384":
    case "ecdsa-sha2-nistp521": {
      // RFC 5656 §3.1: string identifier, string Q.
      const curve = r.ascii("curve identifier");
      const q = r.string("Q");
      const oid = [...CURVE_OIDS].find(([, c]) => c === curve)?.[0];
      if (oid === undefined) throw new KeyError(what, `unsupported curve ${describeName(curve)}`);
      spki = der.sequence(der.sequence(der.oid(OID_EC), der.oid(oid)), der.bitString(q));
      break;
    }
    case "ssh-ed25519":
      // RFC 8709 §4: string key.
      spki = der.sequence(der.sequence(der.oid(OID_ED25519)), der.bitString(r.string("key")));
      break;
    default:
      throw new KeyError(what, `no PEM form for ${describeName(type)}`);
  }
  return pemEncode("PUBLIC KEY", spki);
}

// ---------------------------------------------------------------------------
// Autodetection

/**
 * The format {@link parsePublicKeyText} found.
 *
 * @example
 * ```ts
 * import type { PublicKeyTextFormat } from "./public_key_file.ts";
 * const f: PublicKeyTextFormat = "rfc4716";
 * ```
 */
export type PublicKeyTextFormat = "openssh" | "rfc4716" | PemPublicKeyFormat;

/**
 * Parses a public key in any of the formats of this module, detected from
 * the text: RFC 4716 (a "---- BEGIN SSH2 PUBLIC KEY ----" line), PEM ("-----BEGIN
 * PUBLIC KEY-----" or "-----BEGIN RSA PUBLIC KEY-----"), else the OpenSSH
 * one-line form (the first line that is neither blank nor a `#` comment).
 * `comment` is "" for PEM. Throws {@link KeyError}.
 *
 * @example
 * ```ts
 * import { parsePublicKeyText } from "./public_key_file.ts";
 * const { key, format } = parsePublicKeyText(
 *   "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFP3eLoDGlFqm94Cs0qwXVJ+ktRT8TbkJXnMx/FbJzPK\n",
 * );
 * console.log(key.type, format); // "ssh-ed25519" "openssh"
 * ```
 */
export function parsePublicKeyText(
  text: string,
): { key: PublicKey; comment: string; format: PublicKeyTextFormat } {
  if (text.includes(RFC4716_BEGIN)) {
    const { key, comment } = parseRfc4716PublicKey(text);
    return { key, comment, format: "rfc4716" };
  }
  if (/-----BEGIN [A-Z0-9 ]+-----/.test(text)) {
    const { key, format } = parsePemPublicKey(text);
    return { key, comment: "", format };
  }
  const line = text.split(/\r\n|\r|\n/).find((l) => l.trim() !== "" && !/^\s*#/.test(l));
  if (line === undefined) throw new KeyError("public key", "no key in the text");
  const { key, comment } = parsePublicKeyLine(line);
  return { key, comment, format: "openssh" };
}
