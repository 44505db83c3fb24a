/**
 * OpenSSH certificates (PROTOCOL.certkeys): parsing, verification against a
 * CA, signing, and the `*-cert.pub` line.
 *
 * A certificate blob ("New public key formats" in PROTOCOL.certkeys) is
 *
 * ```text
 * string  "<key type>-cert-v01@openssh.com"
 * string  nonce
 * ...     the plain key's fields (after its type string)
 * uint64  serial
 * uint32  type               (1 = user, 2 = host)
 * string  key id
 * string  valid principals   (packed strings)
 * uint64  valid after
 * uint64  valid before
 * string  critical options   (packed string name, string data; sorted)
 * string  extensions         (same encoding)
 * string  reserved
 * string  signature key      (the CA's plain public key blob)
 * string  signature          (over every preceding byte)
 * ```
 *
 * @module
 */
import { defaultRandom, type RandomSource } from "../crypto/types.ts";
import { SshReader } from "../wire/reader.ts";
import { WireError } from "../wire/errors.ts";
import { SshWriter } from "../wire/writer.ts";
import { describeName, toBase64 } from "./_bytes.ts";
import { KeyError } from "./errors.ts";
import { parsePublicKey, readPublicKeyFields } from "./public_key.ts";
import { tryDecodeSignature } from "./signature.ts";
import type { PrivateKey, PublicKey } from "./types.ts";

/** The suffix of every certificate key type and certificate signature algorithm name. */
const CERT_SUFFIX = "-cert-v01@openssh.com";

/**
 * The certificate key types this module understands (PROTOCOL.certkeys,
 * "Certified keys are represented using new key types"; DSA is not
 * supported).
 *
 * @example
 * ```ts
 * import { CERTIFICATE_TYPES } from "./certificate.ts";
 * console.log(CERTIFICATE_TYPES.includes("ssh-ed25519-cert-v01@openssh.com")); // true
 * ```
 */
export const CERTIFICATE_TYPES: readonly string[] = Object.freeze([
  "ssh-ed25519-cert-v01@openssh.com",
  "ecdsa-sha2-nistp256-cert-v01@openssh.com",
  "ecdsa-sha2-nistp384-cert-v01@openssh.com",
  "ecdsa-sha2-nistp521-cert-v01@openssh.com",
  "ssh-rsa-cert-v01@openssh.com",
]);

/**
 * The plain name behind a certificate key type or certificate signature
 * algorithm: `"ssh-ed25519-cert-v01@openssh.com"` → `"ssh-ed25519"`,
 * `"rsa-sha2-512-cert-v01@openssh.com"` → `"rsa-sha2-512"` (PROTOCOL.certkeys:
 * the RSA/SHA-2 names only appear as algorithm names, never as key types).
 * Other names are returned unchanged.
 *
 * @example
 * ```ts
 * import { plainAlgorithm } from "./certificate.ts";
 * console.log(plainAlgorithm("rsa-sha2-256-cert-v01@openssh.com")); // "rsa-sha2-256"
 * console.log(plainAlgorithm("ssh-ed25519")); // "ssh-ed25519"
 * ```
 */
export function plainAlgorithm(name: string): string {
  return name.endsWith(CERT_SUFFIX) ? name.slice(0, -CERT_SUFFIX.length) : name;
}

/**
 * A certificate's purpose (PROTOCOL.certkeys: SSH_CERT_TYPE_USER = 1,
 * SSH_CERT_TYPE_HOST = 2).
 *
 * @example
 * ```ts
 * import type { CertificateType } from "./certificate.ts";
 * const t: CertificateType = "host";
 * ```
 */
export type CertificateType = "user" | "host";

/**
 * `valid before` of a certificate that never expires (all ones, what
 * `ssh-keygen -s` writes without `-V`).
 *
 * @example
 * ```ts
 * import { CERT_FOREVER } from "./certificate.ts";
 * console.log(CERT_FOREVER); // 18446744073709551615n
 * ```
 */
export const CERT_FOREVER = 0xffffffffffffffffn;

/** OpenSSH's SSHKEY_CERT_MAX_PRINCIPALS. */
const MAX_PRINCIPALS = 256;

/** The fields of a certificate besides its blob, as {@link parseCertificate} decodes them. */
interface CertificateFields {
  type: string;
  blob: Uint8Array;
  nonce: Uint8Array;
  key: PublicKey;
  serial: bigint;
  certType: CertificateType;
  keyId: string;
  principals: readonly string[];
  validAfter: bigint;
  validBefore: bigint;
  criticalOptions: ReadonlyMap<string, string>;
  extensions: ReadonlyMap<string, string>;
  reserved: Uint8Array;
  signatureKey: PublicKey;
  signature: Uint8Array;
  signatureAlgorithm: string;
  signedData: Uint8Array;
}

/**
 * A parsed OpenSSH certificate (PROTOCOL.certkeys). It is itself a
 * {@link PublicKey}: `type` is the certificate key type, `blob` the whole
 * certificate, `verify` checks signatures of the certified key (certificate
 * algorithm names such as `rsa-sha2-512-cert-v01@openssh.com` are mapped to
 * the plain ones), and `fingerprint()` is the certified key's, as OpenSSH
 * prints it for certificates (`ssh-keygen -l`, sshd logs). Parsing checks the
 * encoding only; {@link verifyCertificate} checks the CA signature, dates,
 * principal, type and critical options. All byte fields are views into
 * {@link blob}.
 *
 * @example
 * ```ts
 * import { signCertificate } from "./certificate.ts";
 * import { generateEd25519 } from "./ed25519.ts";
 * const ca = generateEd25519();
 * const user = generateEd25519();
 * const cert = await signCertificate({ key: user.publicKey, ca, type: "user", keyId: "alice", principals: ["alice"] });
 * console.log(cert.type, cert.certType, cert.principals); // "ssh-ed25519-cert-v01@openssh.com" "user" ["alice"]
 * ```
 */
export class SshCertificate implements PublicKey {
  /** The certificate key type, e.g. "ssh-ed25519-cert-v01@openssh.com". */
  readonly type: string;
  /** The whole certificate blob (own copy). */
  readonly blob: Uint8Array;
  /** The CA-chosen random nonce. */
  readonly nonce: Uint8Array;
  /** The certified (plain) public key. */
  readonly key: PublicKey;
  /** The serial number (0 when the CA does not number certificates). */
  readonly serial: bigint;
  /** "user" or "host". */
  readonly certType: CertificateType;
  /** The free-form key id the CA filled in. */
  readonly keyId: string;
  /** The valid principals; empty means any principal (PROTOCOL.certkeys). */
  readonly principals: readonly string[];
  /** Start of validity, seconds since the epoch (0: always). */
  readonly validAfter: bigint;
  /** End of validity (exclusive), seconds since the epoch ({@link CERT_FOREVER}: never). */
  readonly validBefore: bigint;
  /** Critical options, name → value ("" for flags; otherwise the string inside the data field). */
  readonly criticalOptions: ReadonlyMap<string, string>;
  /** Extensions, name → value (same decoding as {@link criticalOptions}). */
  readonly extensions: ReadonlyMap<string, string>;
  /** The reserved field (unused, ignored). */
  readonly reserved: Uint8Array;
  /** The CA's public key (the `signature key` field). */
  readonly signatureKey: PublicKey;
  /** The CA's signature blob (`string algorithm, string signature`, RFC 4253 §6.6). */
  readonly signature: Uint8Array;
  /** The algorithm named in {@link signature}, e.g. "rsa-sha2-512" ("" when undecodable). */
  readonly signatureAlgorithm: string;
  /** The bytes the CA signed: the blob up to and including the signature key. */
  readonly signedData: Uint8Array;

  /** Use {@link parseCertificate} or {@link signCertificate}. */
  constructor(fields: CertificateFields) {
    this.type = fields.type;
    this.blob = fields.blob;
    this.nonce = fields.nonce;
    this.key = fields.key;
    this.serial = fields.serial;
    this.certType = fields.certType;
    this.keyId = fields.keyId;
    this.principals = Object.freeze([...fields.principals]);
    this.validAfter = fields.validAfter;
    this.validBefore = fields.validBefore;
    this.criticalOptions = fields.criticalOptions;
    this.extensions = fields.extensions;
    this.reserved = fields.reserved;
    this.signatureKey = fields.signatureKey;
    this.signature = fields.signature;
    this.signatureAlgorithm = fields.signatureAlgorithm;
    this.signedData = fields.signedData;
  }

  /**
   * Verifies a signature of the certified key. `options.algorithm` may be the
   * certificate algorithm name (`ssh-ed25519-cert-v01@openssh.com`,
   * `rsa-sha2-256-cert-v01@openssh.com`, ...) or the plain one; the
   * signature blob itself names the plain algorithm (PROTOCOL.certkeys).
   * Does not check the certificate: see {@link verifyCertificate}.
   */
  verify(
    signatureBlob: Uint8Array,
    data: Uint8Array,
    options: { algorithm: string },
  ): Promise<boolean> {
    return this.key.verify(signatureBlob, data, { algorithm: plainAlgorithm(options.algorithm) });
  }

  /**
   * The certified key's SHA-256 fingerprint, as `ssh-keygen -l -f
   * key-cert.pub` prints it (OpenSSH fingerprints certificates by their
   * plain key). `fingerprintSha256(cert.blob)` hashes the whole certificate.
   */
  fingerprint(): string {
    return this.key.fingerprint();
  }
}

function certError(type: string, problem: string, options: { where?: string } = {}): KeyError {
  return new KeyError(`${type} certificate`, problem, options);
}

/** The problem part of a WireError's message (without its field and relative offset). */
function wireProblem(e: WireError): string {
  const prefix = `${e.field} at offset ${e.offset}: `;
  return e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message;
}

const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Reads the critical options or extensions field (`field` is "critical
 * option" or "extension") and decodes its packed `string name, string data`
 * tuples (PROTOCOL.certkeys "Critical options", "Extensions"). Data is
 * empty (a flag) or holds exactly one string (the value). Duplicate names
 * are rejected.
 */
function readOptions(
  r: SshReader,
  of: { field: "critical option" | "extension"; type: string },
): Map<string, string> {
  const { field, type } = of;
  const base = r.offset + 4;
  const packed = new SshReader(r.string(`${field}s`));
  const out = new Map<string, string>();
  while (packed.remaining > 0) {
    const at = base + packed.offset;
    let name: string;
    let data: Uint8Array;
    try {
      name = packed.utf8(`${field} name`);
      data = packed.string(`${field} data`);
    } catch (e) {
      if (e instanceof WireError) {
        throw certError(type, wireProblem(e), { where: `${field} at offset ${at}` });
      }
      throw e;
    }
    const where = `${field} ${describeName(name)} at offset ${at}`;
    if (out.has(name)) throw certError(type, "duplicate name", { where });
    let value = "";
    if (data.length > 0) {
      const d = new SshReader(data);
      try {
        value = utf8Decoder.decode(d.string("value"));
        d.end("value");
      } catch {
        throw certError(type, "data is not empty nor exactly one UTF-8 string", { where });
      }
    }
    out.set(name, value);
  }
  return out;
}

/** Reads the valid principals field: packed UTF-8 strings, at most MAX_PRINCIPALS. */
function readPrincipals(r: SshReader, type: string): string[] {
  const base = r.offset + 4;
  const packed = new SshReader(r.string("valid principals"));
  const out: string[] = [];
  while (packed.remaining > 0) {
    const at = base + packed.offset;
    if (out.length === MAX_PRINCIPALS) {
      throw certError(type, `more than ${MAX_PRINCIPALS} principals`, {
        where: `valid principals at offset ${at}`,
      });
    }
    try {
      out.push(packed.utf8("principal"));
    } catch (e) {
      if (e instanceof WireError) {
        throw certError(type, wireProblem(e), { where: `principal at offset ${at}` });
      }
      throw e;
    }
  }
  return out;
}

/**
 * Decodes an OpenSSH certificate blob (PROTOCOL.certkeys, "New public key
 * formats") for the types in {@link CERTIFICATE_TYPES}. `blob` may be a view
 * into a larger buffer; the certificate keeps its own copy. Checks the
 * encoding (field by field, no trailing bytes, type 1 or 2, at most 256
 * principals, options decodable and not duplicated, a plain CA key) but not
 * the CA signature nor the dates: use {@link verifyCertificate}. Throws
 * {@link KeyError} naming the field and offset.
 *
 * @example
 * ```ts
 * import { parseCertificate, signCertificate } from "./certificate.ts";
 * import { generateEd25519 } from "./ed25519.ts";
 * const made = await signCertificate({ key: generateEd25519().publicKey, ca: generateEd25519(), type: "host", keyId: "web", principals: ["web.example.com"] });
 * const cert = parseCertificate(made.blob);
 * console.log(cert.keyId, cert.certType, cert.serial); // "web" "host" 0n
 * ```
 */
export function parseCertificate(blob: Uint8Array): SshCertificate {
  return parseCertificateBlob(Uint8Array.from(blob), true);
}

function parseCertificateBlob(blob: Uint8Array, allowCertCa: boolean): SshCertificate {
  const r = new SshReader(blob);
  let type = "unknown";
  try {
    type = r.ascii("key type");
    if (!CERTIFICATE_TYPES.includes(type)) {
      throw new KeyError("certificate", `unsupported certificate type ${describeName(type)}`, {
        where: "key type at offset 0",
      });
    }
    const what = `${type} certificate`;
    const nonce = r.string("nonce");
    const key = readCertifiedKey(r, type);
    const serial = r.uint64("serial");
    const certType = readCertType(r, what);
    const keyId = r.utf8("key id");
    const principals = readPrincipals(r, type);
    const validAfter = r.uint64("valid after");
    const validBefore = r.uint64("valid before");
    const criticalOptions = readOptions(r, { field: "critical option", type });
    const extensions = readOptions(r, { field: "extension", type });
    const reserved = r.string("reserved");
    const caAt = r.offset;
    const caBlob = r.string("signature key");
    const signedData = blob.subarray(0, r.offset);
    const signature = r.string("signature");
    r.end(`${type} certificate`);
    const signatureKey = readSignatureKey(caBlob, { what, at: caAt, allowCertCa });
    return new SshCertificate({
      type,
      blob,
      nonce,
      key,
      serial,
      certType,
      keyId,
      principals,
      validAfter,
      validBefore,
      criticalOptions,
      extensions,
      reserved,
      signatureKey,
      signature,
      signatureAlgorithm: tryDecodeSignature(signature)?.algorithm ?? "",
      signedData,
    });
  } catch (e) {
    throw KeyError.fromWire(`${type} certificate`, e);
  }
}

/** The certified key's fields (its plain type's, after the nonce); its complaints become the certificate's. */
function readCertifiedKey(r: SshReader, type: string): PublicKey {
  try {
    return readPublicKeyFields(plainAlgorithm(type), r);
  } catch (e) {
    if (!(e instanceof KeyError)) throw e;
    // Re-attribute the plain key's complaint to the certificate, keeping the field.
    const prefix = `${e.what}: ${e.where === undefined ? "" : `${e.where}: `}`;
    const problem = e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message;
    throw new KeyError(`${type} certificate`, problem, { where: e.where, cause: e });
  }
}

/** The type field: 1 (user) or 2 (host). */
function readCertType(r: SshReader, what: string): "user" | "host" {
  const typeAt = r.offset;
  const typeNumber = r.uint32("type");
  if (typeNumber !== 1 && typeNumber !== 2) {
    throw new KeyError(what, `type ${typeNumber} is neither user (1) nor host (2)`, {
      where: `type at offset ${typeAt}`,
    });
  }
  return typeNumber === 1 ? "user" : "host";
}

/**
 * The CA key: a plain key, or (when `allowCertCa`) a certificate whose own
 * CA key is plain. Its complaints name the signature key field at `at`.
 */
function readSignatureKey(
  caBlob: Uint8Array,
  of: { what: string; at: number; allowCertCa: boolean },
): PublicKey {
  try {
    return isCertBlob(caBlob)
      ? (of.allowCertCa ? parseCertificateBlob(caBlob, false) : failNested(of.what))
      : parsePublicKey(caBlob);
  } catch (e) {
    if (e instanceof KeyError) {
      throw new KeyError(of.what, e.message, {
        where: `signature key at offset ${of.at}`,
        cause: e,
      });
    }
    throw e;
  }
}

function failNested(what: string): never {
  throw new KeyError(what, "the CA key is a certificate whose CA key is a certificate");
}

function isCertBlob(b: Uint8Array): boolean {
  try {
    return new SshReader(b).ascii("key type").endsWith(CERT_SUFFIX);
  } catch {
    return false;
  }
}

/**
 * Which check of {@link verifyCertificate} failed.
 *
 * @example
 * ```ts
 * import type { CertificateCheck } from "./certificate.ts";
 * const c: CertificateCheck = "expired";
 * ```
 */
export type CertificateCheck =
  | "signature"
  | "signature-key"
  | "expired"
  | "not-yet-valid"
  | "principal"
  | "type"
  | "critical-option"
  | "untrusted-ca";

/**
 * A certificate failed a check of {@link verifyCertificate}; `check` says
 * which, and the message gives the values involved (dates, principal, type,
 * option name, CA fingerprint).
 *
 * @example
 * ```ts
 * import { CertificateError } from "./certificate.ts";
 * const e = new CertificateError("expired", "expired at 2024-01-01T00:00:00Z", {
 *   type: "ssh-ed25519-cert-v01@openssh.com",
 * });
 * console.log(e.check, e.message);
 * // "expired" "ssh-ed25519-cert-v01@openssh.com certificate: expired at 2024-01-01T00:00:00Z"
 * ```
 */
export class CertificateError extends KeyError {
  /** The check that failed. */
  readonly check: CertificateCheck;
  /** Creates the error; `options.type` is the certificate key type. */
  constructor(check: CertificateCheck, problem: string, options: { type: string }) {
    super(`${options.type} certificate`, problem);
    this.check = check;
  }
}

/**
 * Options of {@link verifyCertificate}.
 *
 * @example
 * ```ts
 * import type { VerifyCertificateOptions } from "./certificate.ts";
 * const options: VerifyCertificateOptions = { type: "user", principal: "alice", now: 1700000000 };
 * ```
 */
export interface VerifyCertificateOptions {
  /** The time to check validity at, in seconds since the epoch (default: now). */
  now?: number;
  /** A principal (user or host name) that must be listed, unless the list is empty. */
  principal?: string;
  /**
   * When true, an empty principal list does not match {@link principal}
   * (sshd's TrustedUserCAKeys rule). Default false (the PROTOCOL.certkeys
   * reading: empty means any).
   */
  requirePrincipal?: boolean;
  /** The certificate type required. */
  type?: CertificateType;
  /** Decides whether the CA key is trusted; when absent, any CA is (only the signature is checked). */
  trustedCa?: (ca: PublicKey) => boolean;
  /**
   * Critical options the caller understands and enforces, for user
   * certificates (default: OpenSSH's force-command, source-address,
   * verify-required). Host certificates with any critical option are
   * rejected, as by OpenSSH's client.
   */
  knownCriticalOptions?: readonly string[];
}

/** The critical options OpenSSH's sshd understands for user certificates. */
const OPENSSH_CRITICAL_OPTIONS: readonly string[] = [
  "force-command",
  "source-address",
  "verify-required",
];

/** A certificate time as ISO 8601 UTC (`forever` / `always` at the extremes). */
function formatTime(t: bigint): string {
  if (t === CERT_FOREVER) return "forever";
  if (t === 0n) return "the epoch";
  if (t > 8_640_000_000_000n) return `${t} s after the epoch`;
  return new Date(Number(t) * 1000).toISOString().replace(".000Z", "Z");
}

/**
 * Checks a certificate as OpenSSH does (sshkey_cert_check_authority and the
 * CA signature check of cert_parse), in this order: the CA key is not itself
 * a certificate (PROTOCOL.certkeys: chained certificates are not supported),
 * the CA is trusted, the CA signature over the signed bytes is valid (with
 * the algorithm the signature names; ssh-rsa SHA-1 signatures are refused),
 * the type, the validity period (`valid after <= now < valid before`), the
 * principal, and the critical options. Rejects with a
 * {@link CertificateError} naming the failed check.
 *
 * @example
 * ```ts
 * import { CertificateError, signCertificate, verifyCertificate } from "./certificate.ts";
 * import { generateEd25519 } from "./ed25519.ts";
 * const ca = generateEd25519();
 * const cert = await signCertificate({ key: generateEd25519().publicKey, ca, type: "user", keyId: "bob", principals: ["bob"] });
 * await verifyCertificate(cert, { principal: "bob", type: "user", trustedCa: (k) => k.fingerprint() === ca.publicKey.fingerprint() });
 * try {
 *   await verifyCertificate(cert, { principal: "root" });
 * } catch (e) {
 *   if (e instanceof CertificateError) console.log(e.check); // "principal"
 * }
 * ```
 */
export async function verifyCertificate(
  cert: SshCertificate,
  options: VerifyCertificateOptions = {},
): Promise<void> {
  const fail = (check: CertificateCheck, problem: string): never => {
    throw new CertificateError(check, problem, { type: cert.type });
  };
  const ca = cert.signatureKey;
  if (ca instanceof SshCertificate || ca.type.endsWith(CERT_SUFFIX)) {
    fail("signature-key", `the signature key is itself a certificate (${ca.type})`);
  }
  if (options.trustedCa && !options.trustedCa(ca)) {
    fail("untrusted-ca", `CA key ${ca.type} ${ca.fingerprint()} is not trusted`);
  }
  const alg = cert.signatureAlgorithm;
  if (!(alg !== "" && await ca.verify(cert.signature, cert.signedData, { algorithm: alg }))) {
    fail(
      "signature",
      `the CA signature (${
        alg === "" ? "undecodable" : describeName(alg)
      }) by ${ca.type} ${ca.fingerprint()} is invalid`,
    );
  }
  if (options.type !== undefined && options.type !== cert.certType) {
    fail("type", `is a ${cert.certType} certificate, a ${options.type} certificate is required`);
  }
  const now = BigInt(Math.floor(options.now ?? Date.now() / 1000));
  if (now < cert.validAfter) {
    fail(
      "not-yet-valid",
      `not valid before ${formatTime(cert.validAfter)} (now is ${formatTime(now)})`,
    );
  }
  if (now >= cert.validBefore) {
    fail("expired", `expired at ${formatTime(cert.validBefore)} (now is ${formatTime(now)})`);
  }
  if (options.principal !== undefined) {
    const listed = cert.principals.includes(options.principal);
    const any = cert.principals.length === 0 && !options.requirePrincipal;
    if (!listed && !any) {
      fail(
        "principal",
        cert.principals.length === 0
          ? `lists no principals, ${describeName(options.principal)} is required`
          : `principal ${describeName(options.principal)} is not listed (${
            cert.principals.map(describeName).join(", ")
          })`,
      );
    }
  }
  const known = cert.certType === "host"
    ? []
    : (options.knownCriticalOptions ?? OPENSSH_CRITICAL_OPTIONS);
  for (const name of cert.criticalOptions.keys()) {
    if (!known.includes(name)) {
      fail(
        "critical-option",
        `unknown critical option ${describeName(name)} in a ${cert.certType} certificate`,
      );
    }
  }
}

/**
 * Options of {@link signCertificate}.
 *
 * @example
 * ```ts
 * import type { SignCertificateOptions } from "./certificate.ts";
 * import { generateEd25519 } from "./ed25519.ts";
 * const options: SignCertificateOptions = {
 *   key: generateEd25519().publicKey, ca: generateEd25519(), type: "user", keyId: "ci", principals: ["deploy"],
 *   validAfter: 1700000000n, validBefore: 1700003600n, criticalOptions: { "force-command": "/usr/bin/deploy" },
 * };
 * ```
 */
export interface SignCertificateOptions {
  /** The (plain) public key to certify. */
  key: PublicKey;
  /** The CA's private key (a plain key). */
  ca: PrivateKey;
  /** "user" or "host". */
  type: CertificateType;
  /** The key id (free-form; shown in logs). */
  keyId: string;
  /** Valid principals (default none: any principal). */
  principals?: readonly string[];
  /** Serial number (default 0). */
  serial?: bigint;
  /** Start of validity in seconds since the epoch (default 0: always). */
  validAfter?: bigint;
  /** End of validity, exclusive (default {@link CERT_FOREVER}). */
  validBefore?: bigint;
  /** Critical options, name → value ("" for a flag). Written sorted by name. */
  criticalOptions?: Readonly<Record<string, string>>;
  /**
   * Extensions, name → value ("" for a flag). Written sorted by name. Default
   * for user certificates, as `ssh-keygen -s`: permit-X11-forwarding,
   * permit-agent-forwarding, permit-port-forwarding, permit-pty,
   * permit-user-rc; none for host certificates.
   */
  extensions?: Readonly<Record<string, string>>;
  /** The CA signature algorithm (default the CA's first: rsa-sha2-512 for RSA). */
  signatureAlgorithm?: string;
  /** Randomness for the 32-byte nonce (default WebCrypto). */
  random?: RandomSource;
}

/** The extensions `ssh-keygen -s` puts in user certificates by default. */
const DEFAULT_USER_EXTENSIONS: Readonly<Record<string, string>> = {
  "permit-X11-forwarding": "",
  "permit-agent-forwarding": "",
  "permit-port-forwarding": "",
  "permit-pty": "",
  "permit-user-rc": "",
};

const utf8Encoder = new TextEncoder();

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** PROTOCOL.certkeys "Critical options": tuples sorted lexically by name, data = string value or empty. */
function encodeOptions(options: Readonly<Record<string, string>>): Uint8Array {
  const entries = Object.entries(options).map(([k, v]) => [utf8Encoder.encode(k), v] as const);
  entries.sort((a, b) => compareBytes(a[0], b[0]));
  const w = new SshWriter();
  for (const [name, value] of entries) {
    w.string(name);
    w.string(value === "" ? new Uint8Array(0) : new SshWriter().string(value).finish());
  }
  return w.finish();
}

const UINT64_MAX = 0xffffffffffffffffn;

function checkUint64(v: bigint, name: string): bigint {
  if (typeof v !== "bigint" || v < 0n || v > UINT64_MAX) {
    throw new KeyError("certificate", `${name} ${String(v)} is not a uint64`);
  }
  return v;
}

/**
 * Signs a certificate for `key` with the CA private key `ca`
 * (PROTOCOL.certkeys), as `ssh-keygen -s ca -I keyId -n principals [-h]
 * [-V] [-z] [-O]` does: a 32-byte random nonce, options and extensions
 * sorted lexically by name, the default user extensions, and the CA
 * signature over every field up to and including the CA key. Rejects with
 * {@link KeyError} when `key` or the CA is a certificate, the key type is
 * unsupported, the dates are not `validAfter < validBefore`, or the CA
 * cannot sign with `signatureAlgorithm`.
 *
 * @example
 * ```ts
 * import { formatCertificateLine, signCertificate } from "./certificate.ts";
 * import { generateEcdsa } from "./ecdsa.ts";
 * import { generateEd25519 } from "./ed25519.ts";
 * const now = BigInt(Math.floor(Date.now() / 1000));
 * const cert = await signCertificate({
 *   key: generateEd25519().publicKey, ca: generateEcdsa("nistp256"), type: "user", keyId: "alice@laptop",
 *   principals: ["alice"], serial: 7n, validAfter: now - 60n, validBefore: now + 3600n,
 * });
 * console.log(formatCertificateLine(cert, "alice@laptop")); // "ssh-ed25519-cert-v01@openssh.com AAAA... alice@laptop\n"
 * ```
 */
export async function signCertificate(options: SignCertificateOptions): Promise<SshCertificate> {
  const { key, ca } = options;
  if (key.type.endsWith(CERT_SUFFIX)) {
    throw new KeyError("certificate", `the key to certify is already a certificate (${key.type})`);
  }
  if (ca.type.endsWith(CERT_SUFFIX) || ca.publicKey.type.endsWith(CERT_SUFFIX)) {
    throw new KeyError(
      "certificate",
      "the CA key is a certificate (chained certificates are not supported)",
    );
  }
  const certType = `${key.type}${CERT_SUFFIX}`;
  if (!CERTIFICATE_TYPES.includes(certType)) {
    throw new KeyError("certificate", `unsupported key type ${describeName(key.type)}`);
  }
  if (options.type !== "user" && options.type !== "host") {
    throw new KeyError(
      "certificate",
      `type ${describeName(String(options.type))} is neither "user" nor "host"`,
    );
  }
  const serial = checkUint64(options.serial ?? 0n, "serial");
  const validAfter = checkUint64(options.validAfter ?? 0n, "validAfter");
  const validBefore = checkUint64(options.validBefore ?? CERT_FOREVER, "validBefore");
  if (validAfter >= validBefore) {
    throw new KeyError(
      "certificate",
      `validAfter ${validAfter} is not before validBefore ${validBefore}`,
    );
  }
  const principals = options.principals ?? [];
  if (principals.length > MAX_PRINCIPALS) {
    throw new KeyError(
      "certificate",
      `${principals.length} principals, more than ${MAX_PRINCIPALS}`,
    );
  }
  const algorithm = options.signatureAlgorithm ?? ca.algorithms[0];
  if (!ca.algorithms.includes(algorithm)) {
    throw new KeyError(
      "certificate",
      `the ${ca.type} CA cannot sign with ${describeName(algorithm)} (it offers ${
        ca.algorithms.join(", ")
      })`,
    );
  }
  // The key's fields after its type string, reused verbatim.
  const kr = new SshReader(key.blob);
  kr.string("key type");
  const keyFields = kr.rest();
  const packedPrincipals = new SshWriter();
  for (const p of principals) packedPrincipals.string(p);
  const extensions = options.extensions ??
    (options.type === "user" ? DEFAULT_USER_EXTENSIONS : {});
  const nonce = (options.random ?? defaultRandom)(32);
  const w = new SshWriter(1024)
    .string(certType)
    .string(nonce)
    .raw(keyFields)
    .uint64(serial)
    .uint32(options.type === "user" ? 1 : 2)
    .string(options.keyId)
    .string(packedPrincipals.finish())
    .uint64(validAfter)
    .uint64(validBefore)
    .string(encodeOptions(options.criticalOptions ?? {}))
    .string(encodeOptions(extensions))
    .string(new Uint8Array(0))
    .string(ca.publicKey.blob);
  const signature = await ca.sign(algorithm, w.finish());
  return parseCertificate(w.string(signature).finish());
}

/**
 * Formats a certificate as the one line `ssh-keygen -s` writes to
 * `key-cert.pub`: `<cert type> <base64 blob>[ <comment>]` and a newline
 * (the OpenSSH public key line of sshkey_write).
 *
 * @example
 * ```ts
 * import { formatCertificateLine, signCertificate } from "./certificate.ts";
 * import { generateEd25519 } from "./ed25519.ts";
 * const cert = await signCertificate({ key: generateEd25519().publicKey, ca: generateEd25519(), type: "host", keyId: "h" });
 * console.log(formatCertificateLine(cert).startsWith("ssh-ed25519-cert-v01@openssh.com AAAA")); // true
 * ```
 */
export function formatCertificateLine(cert: SshCertificate, comment?: string): string {
  if (comment !== undefined && /[\r\n]/.test(comment)) {
    throw new KeyError("certificate line", "the comment contains a line break");
  }
  return `${cert.type} ${toBase64(cert.blob)}${comment ? ` ${comment}` : ""}\n`;
}
