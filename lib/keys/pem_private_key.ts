/**
 * OpenSSL's PEM private key files, as `ssh-keygen -m PEM` and `-m PKCS8`
 * write them:
 *
 * - "RSA PRIVATE KEY": PKCS#1 RSAPrivateKey (RFC 8017 §A.1.2);
 * - "EC PRIVATE KEY": SEC1 ECPrivateKey (RFC 5915 §3) with a namedCurve
 *   (RFC 5480 §2.1.1.1);
 * - "PRIVATE KEY": PKCS#8 PrivateKeyInfo / OneAsymmetricKey (RFC 5208 §5,
 *   RFC 5958 §2) for rsaEncryption (RFC 8017 §A.1), id-ecPublicKey (RFC
 *   5480 §2.1.1) and Ed25519 (RFC 8410 §7);
 * - "ENCRYPTED PRIVATE KEY": PKCS#8 EncryptedPrivateKeyInfo (RFC 5208 §6)
 *   with PBES2 (RFC 8018 §6.2): PBKDF2 (§5.2, PRF HMAC-SHA-1/224/256/384/512,
 *   §B.1) and AES-CBC (§B.2.5; NIST OIDs of RFC 3565 §4.1);
 * - OpenSSL's traditional encrypted PEM (RFC 1421 §4.6.1.1 headers
 *   "Proc-Type: 4,ENCRYPTED" and "DEK-Info: AES-128-CBC,<IV>"), keyed with
 *   EVP_BytesToKey(MD5, salt = first 8 IV bytes, 1 iteration), as OpenSSL's
 *   PEM_write_bio_PrivateKey_traditional does for ssh-keygen -m PEM.
 *
 * SHA-1 and MD5 appear here only as the KDFs of these legacy file formats.
 *
 * @module
 */
import { md5 } from "@noble/hashes/legacy.js";
import { constantTimeEqual } from "../crypto/constant_time.ts";
import { defaultRandom, type RandomSource } from "../crypto/types.ts";
import {
  ab,
  asKeyError,
  checkedEcdsaPrivateKey,
  checkedRsaPrivateKey,
  PassphraseRequiredError,
  type PrivateKeyParts,
  privateKeyParts,
  withPassphraseBytes,
  WrongPassphraseError,
} from "./_private_key_common.ts";
import { der, DerReader, pemDecode, pemEncode, Tag } from "./der.ts";
import type { EcdsaCurveName, EcdsaPublicKey } from "./ecdsa.ts";
import { ed25519PrivateKey } from "./ed25519.ts";
import { KeyError } from "./errors.ts";
import type { PrivateKey } from "./types.ts";

/**
 * The PEM private key encodings: PKCS#1 (RSA), SEC1 (ECDSA) and PKCS#8 (all).
 *
 * @example
 * ```ts
 * import type { PemPrivateKeyFormat } from "./pem_private_key.ts";
 * const f: PemPrivateKeyFormat = "pkcs8";
 * ```
 */
export type PemPrivateKeyFormat = "pkcs1" | "sec1" | "pkcs8";

const OID = {
  rsaEncryption: "1.2.840.113549.1.1.1",
  ecPublicKey: "1.2.840.10045.2.1",
  ed25519: "1.3.101.112",
  pbes2: "1.2.840.113549.1.5.13",
  pbkdf2: "1.2.840.113549.1.5.12",
  hmacWithSHA1: "1.2.840.113549.2.7",
} as const;

/** RFC 5480 §2.1.1.1 namedCurve OIDs. */
const CURVE_OIDS: ReadonlyMap<string, EcdsaCurveName> = new Map([
  ["1.2.840.10045.3.1.7", "nistp256"],
  ["1.3.132.0.34", "nistp384"],
  ["1.3.132.0.35", "nistp521"],
]);
const CURVE_TO_OID: Readonly<Record<EcdsaCurveName, string>> = {
  nistp256: "1.2.840.10045.3.1.7",
  nistp384: "1.3.132.0.34",
  nistp521: "1.3.132.0.35",
};

/** Other algorithms whose keys a PKCS#8 file may hold, for a clear "unsupported" message. */
const KNOWN_UNSUPPORTED: ReadonlyMap<string, string> = new Map([
  ["1.2.840.10040.4.1", "DSA"],
  ["1.2.840.113549.1.1.10", "RSASSA-PSS"],
  ["1.3.101.113", "Ed448"],
  ["1.3.101.110", "X25519"],
  ["1.3.101.111", "X448"],
]);

/** RFC 8018 §B.1.2 PRFs -> WebCrypto hash. */
const PRFS: ReadonlyMap<string, string> = new Map([
  [OID.hmacWithSHA1, "SHA-1"],
  ["1.2.840.113549.2.9", "SHA-256"],
  ["1.2.840.113549.2.10", "SHA-384"],
  ["1.2.840.113549.2.11", "SHA-512"],
]);
const PRF_OID_SHA256 = "1.2.840.113549.2.9";

/** RFC 8018 §B.2.5 / RFC 3565: aes*-CBC-Pad OIDs -> key bytes. */
const PBES2_CIPHERS: ReadonlyMap<string, number> = new Map([
  ["2.16.840.1.101.3.4.1.2", 16],
  ["2.16.840.1.101.3.4.1.22", 24],
  ["2.16.840.1.101.3.4.1.42", 32],
]);
const AES256_CBC_OID = "2.16.840.1.101.3.4.1.42";

/** OpenSSL's traditional PEM DEK-Info cipher names we read -> key bytes. */
const LEGACY_CIPHERS: ReadonlyMap<string, number> = new Map([
  ["AES-128-CBC", 16],
  ["AES-192-CBC", 24],
  ["AES-256-CBC", 32],
]);

/** The most PBKDF2 iterations an encrypted PKCS#8 file may ask for. */
export const MAX_PBKDF2_ITERATIONS = 10_000_000;

/** PBKDF2 iterations written: OpenSSL's default (PKCS5_DEFAULT_ITER), as ssh-keygen -m PKCS8 uses. */
const PBKDF2_ITERATIONS = 2048;

const LABELS: Readonly<Record<string, PemPrivateKeyFormat>> = {
  "RSA PRIVATE KEY": "pkcs1",
  "EC PRIVATE KEY": "sec1",
  "PRIVATE KEY": "pkcs8",
  "ENCRYPTED PRIVATE KEY": "pkcs8",
};

const WHAT: Readonly<Record<PemPrivateKeyFormat, string>> = {
  pkcs1: "PKCS#1 RSA private key",
  sec1: "SEC1 EC private key",
  pkcs8: "PKCS#8 private key",
};

// ---------------------------------------------------------------- decoding

/** RFC 8017 §A.1.2 RSAPrivateKey (two-prime, version 0). */
function decodePkcs1(bytes: Uint8Array, what = WHAT.pkcs1): PrivateKey {
  const top = new DerReader(bytes, what);
  const r = top.sequence("RSAPrivateKey");
  const version = r.integer("version");
  if (version !== 0n) {
    throw new KeyError(
      what,
      version === 1n
        ? "multi-prime RSA keys (version 1) are not supported"
        : `version is ${version}, expected 0`,
      { where: "version" },
    );
  }
  const n = r.integer("modulus");
  const e = r.integer("publicExponent");
  const d = r.integer("privateExponent");
  const p = r.integer("prime1");
  const q = r.integer("prime2");
  const dp = r.integer("exponent1");
  const dq = r.integer("exponent2");
  const iqmp = r.integer("coefficient");
  r.end("RSAPrivateKey");
  top.end("RSAPrivateKey");
  return checkedRsaPrivateKey({ n, e, d, p, q, dp, dq, iqmp }, what);
}

function encodePkcs1(parts: Extract<PrivateKeyParts, { kind: "rsa" }>): Uint8Array {
  const { n, e, d, p, q, iqmp } = parts;
  return der.sequence(
    der.integer(0n),
    der.integer(n),
    der.integer(e),
    der.integer(d),
    der.integer(p),
    der.integer(q),
    der.integer(d % (p - 1n)),
    der.integer(d % (q - 1n)),
    der.integer(iqmp),
  );
}

/**
 * RFC 5915 §3 ECPrivateKey. `outerCurve` is the curve named by a PKCS#8
 * AlgorithmIdentifier; the inner parameters, when present, must agree.
 */
/** SEC1 ECPrivateKey (RFC 5915 §3); inside PKCS#8 the curve may come from outside (`of.outerCurve`). */
function decodeSec1(
  bytes: Uint8Array,
  of: { what: string; outerCurve?: EcdsaCurveName },
): PrivateKey {
  const { what, outerCurve } = of;
  const top = new DerReader(bytes, what);
  const r = top.sequence("ECPrivateKey");
  const version = r.integer("version");
  if (version !== 1n) {
    throw new KeyError(what, `version is ${version}, expected 1`, { where: "version" });
  }
  const d = r.octetString("privateKey");
  let curve = outerCurve;
  const params = r.optionalContext(0, "parameters");
  if (params !== undefined) {
    const inner = namedCurve(params, what);
    params.end("parameters");
    if (curve !== undefined && curve !== inner) {
      throw new KeyError(what, `curve ${inner} differs from the algorithm's ${curve}`, {
        where: "parameters",
      });
    }
    curve = inner;
  }
  let q: Uint8Array | undefined;
  const pub = r.optionalContext(1, "publicKey");
  if (pub !== undefined) {
    q = pub.bitString("publicKey");
    pub.end("publicKey");
  }
  r.end("ECPrivateKey");
  top.end("ECPrivateKey");
  if (curve === undefined) {
    throw new KeyError(what, "no curve: the parameters [0] are absent", { where: "parameters" });
  }
  const size = curve === "nistp256" ? 32 : curve === "nistp384" ? 48 : 66;
  if (d.length === 0 || d.length > size) {
    throw new KeyError(what, `privateKey is ${d.length} bytes, expected ${size}`, {
      where: "privateKey",
    });
  }
  return checkedEcdsaPrivateKey(curve, d, { q, what, where: "publicKey" });
}

function namedCurve(r: DerReader, what: string): EcdsaCurveName {
  if (r.peekTag() !== Tag.OID) {
    throw new KeyError(what, "explicit curve parameters are not supported, only a namedCurve OID", {
      where: "parameters",
    });
  }
  const oid = r.oid("namedCurve");
  const curve = CURVE_OIDS.get(oid);
  if (curve === undefined) {
    throw new KeyError(what, `unsupported curve ${oid} (expected P-256, P-384 or P-521)`, {
      where: "namedCurve",
    });
  }
  return curve;
}

function encodeSec1(
  parts: Extract<PrivateKeyParts, { kind: "ecdsa" }>,
  withParameters: boolean,
): Uint8Array {
  return der.sequence(
    der.integer(1n),
    der.octetString(parts.d),
    ...(withParameters ? [der.context(0, der.oid(CURVE_TO_OID[parts.curve]))] : []),
    der.context(1, der.bitString(parts.q)),
  );
}

/** RFC 5208 §5 / RFC 5958 §2 PrivateKeyInfo (OneAsymmetricKey v1 or v2). */
function decodePkcs8(bytes: Uint8Array, what = WHAT.pkcs8): PrivateKey {
  const top = new DerReader(bytes, what);
  const r = top.sequence("PrivateKeyInfo");
  const version = r.integer("version");
  if (version !== 0n && version !== 1n) {
    throw new KeyError(what, `version is ${version}, expected 0 or 1`, { where: "version" });
  }
  const alg = r.sequence("privateKeyAlgorithm");
  const oid = alg.oid("algorithm");
  const inner = r.octetString("privateKey");
  if (r.peekTag() === 0xa0) r.element("attributes");
  let publicKey: Uint8Array | undefined;
  if (r.peekTag() === 0x81) {
    const c = r.element("publicKey").content;
    if (version !== 1n) {
      throw new KeyError(what, "publicKey [1] needs version 1", { where: "publicKey" });
    }
    if (c.length === 0 || c[0] !== 0) {
      throw new KeyError(what, "BIT STRING with unused bits", { where: "publicKey" });
    }
    publicKey = c.subarray(1);
  }
  r.end("PrivateKeyInfo");
  top.end("PrivateKeyInfo");
  switch (oid) {
    case OID.rsaEncryption: {
      if (!alg.done) alg.null("parameters");
      alg.end("privateKeyAlgorithm");
      return decodePkcs1(inner, `${what} (RSA)`);
    }
    case OID.ecPublicKey: {
      const curve = namedCurve(alg, what);
      alg.end("privateKeyAlgorithm");
      const key = decodeSec1(inner, { what: `${what} (EC)`, outerCurve: curve });
      if (
        publicKey !== undefined &&
        !constantTimeEqual(publicKey, (key.publicKey as EcdsaPublicKey).q)
      ) {
        throw new KeyError(what, "the stored public key does not match the private key", {
          where: "publicKey",
        });
      }
      return key;
    }
    case OID.ed25519: {
      // RFC 8410 §3: the parameters MUST be absent.
      alg.end("privateKeyAlgorithm parameters (must be absent for Ed25519)");
      const c = new DerReader(inner, `${what} (Ed25519)`);
      const seed = c.octetString("CurvePrivateKey");
      c.end("CurvePrivateKey");
      if (seed.length !== 32) {
        throw new KeyError(what, `Ed25519 key is ${seed.length} bytes, expected 32`, {
          where: "privateKey",
        });
      }
      const key = ed25519PrivateKey(seed);
      if (publicKey !== undefined && !constantTimeEqual(publicKey, key.publicKey.key)) {
        throw new KeyError(what, "the stored public key does not match the private key", {
          where: "publicKey",
        });
      }
      return key;
    }
    default:
      throw new KeyError(what, `unsupported key algorithm ${KNOWN_UNSUPPORTED.get(oid) ?? oid}`, {
        where: "privateKeyAlgorithm",
      });
  }
}

function encodePkcs8(parts: PrivateKeyParts): Uint8Array {
  switch (parts.kind) {
    case "rsa":
      return der.sequence(
        der.integer(0n),
        der.sequence(der.oid(OID.rsaEncryption), der.null()),
        der.octetString(encodePkcs1(parts)),
      );
    case "ecdsa":
      // As OpenSSL: the curve in the AlgorithmIdentifier, not repeated inside.
      return der.sequence(
        der.integer(0n),
        der.sequence(der.oid(OID.ecPublicKey), der.oid(CURVE_TO_OID[parts.curve])),
        der.octetString(encodeSec1(parts, false)),
      );
    case "ed25519":
      return der.sequence(
        der.integer(0n),
        der.sequence(der.oid(OID.ed25519)),
        der.octetString(der.octetString(parts.seed)),
      );
  }
}

// -------------------------------------------------------------- encryption

async function aesCbc(
  mode: "encrypt" | "decrypt",
  key: Uint8Array,
  iv: Uint8Array,
  data: Uint8Array,
): Promise<Uint8Array> {
  const k = await crypto.subtle.importKey("raw", ab(key), "AES-CBC", false, [mode]);
  const f = mode === "encrypt" ? crypto.subtle.encrypt : crypto.subtle.decrypt;
  return new Uint8Array(await f.call(crypto.subtle, { name: "AES-CBC", iv: ab(iv) }, k, ab(data)));
}

async function pbkdf2(
  pass: Uint8Array,
  salt: Uint8Array,
  iterations: number,
  hash: string,
  length: number,
): Promise<Uint8Array> {
  const k = await crypto.subtle.importKey("raw", ab(pass), "PBKDF2", false, ["deriveBits"]);
  return new Uint8Array(
    await crypto.subtle.deriveBits(
      { name: "PBKDF2", salt: ab(salt), iterations, hash },
      k,
      length * 8,
    ),
  );
}

/** OpenSSL EVP_BytesToKey with MD5 and one iteration: D_i = MD5(D_{i-1} || pass || salt). */
function bytesToKey(pass: Uint8Array, salt: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let prev = new Uint8Array(0);
  for (let o = 0; o < length; o += 16) {
    const input = new Uint8Array(prev.length + pass.length + salt.length);
    input.set(prev);
    input.set(pass, prev.length);
    input.set(salt, prev.length + pass.length);
    prev.fill(0);
    prev = md5(input);
    input.fill(0);
    out.set(prev.subarray(0, Math.min(16, length - o)), o);
  }
  prev.fill(0);
  return out;
}

/** RFC 5208 §6 EncryptedPrivateKeyInfo with PBES2 (RFC 8018 §6.2, §A.2, §A.4). */
async function decryptPkcs8(bytes: Uint8Array, pass: Uint8Array | undefined): Promise<PrivateKey> {
  const what = "PKCS#8 encrypted private key";
  const top = new DerReader(bytes, what);
  const r = top.sequence("EncryptedPrivateKeyInfo");
  const alg = r.sequence("encryptionAlgorithm");
  const scheme = alg.oid("encryptionAlgorithm");
  if (scheme !== OID.pbes2) {
    throw new KeyError(what, `unsupported encryption scheme ${scheme} (only PBES2 is supported)`, {
      where: "encryptionAlgorithm",
    });
  }
  const params = alg.sequence("PBES2-params");
  alg.end("encryptionAlgorithm");
  const { salt, iterations, hash, aesLength, iv } = readPbes2Params(params, what);
  const data = r.octetString("encryptedData");
  r.end("EncryptedPrivateKeyInfo");
  top.end("EncryptedPrivateKeyInfo");
  if (data.length === 0 || data.length % 16 !== 0) {
    throw new KeyError(what, `encryptedData is ${data.length} bytes, not whole AES blocks`, {
      where: "encryptedData",
    });
  }
  if (pass === undefined) {
    throw new PassphraseRequiredError(
      what,
      `the key is encrypted (PBES2, PBKDF2-HMAC-${hash}, AES-${
        aesLength * 8
      }-CBC); a passphrase is needed`,
    );
  }
  const key = await pbkdf2(pass, salt, iterations, hash, aesLength);
  try {
    return await decryptedDer(() => aesCbc("decrypt", key, iv, data), {
      what,
      decode: decodePkcs8,
    });
  } finally {
    key.fill(0);
  }
}

/** PBES2-params (RFC 8018 §A.4): PBKDF2, then AES-CBC with its IV. */
function readPbes2Params(params: DerReader, what: string) {
  const kdf = readPbkdf2(params.sequence("keyDerivationFunc"), what);
  const enc = params.sequence("encryptionScheme");
  params.end("PBES2-params");
  const encOid = enc.oid("encryptionScheme");
  const aesLength = PBES2_CIPHERS.get(encOid);
  if (aesLength === undefined) {
    throw new KeyError(what, `unsupported cipher ${encOid} (expected AES-128/192/256-CBC)`, {
      where: "encryptionScheme",
    });
  }
  const iv = enc.octetString("IV");
  enc.end("encryptionScheme");
  if (iv.length !== 16) {
    throw new KeyError(what, `IV is ${iv.length} bytes, expected 16`, { where: "IV" });
  }
  if (kdf.keyLength !== undefined && kdf.keyLength !== aesLength) {
    throw new KeyError(what, `keyLength ${kdf.keyLength} does not fit the cipher's ${aesLength}`, {
      where: "keyLength",
    });
  }
  return { ...kdf, aesLength, iv };
}

/** keyDerivationFunc with PBKDF2-params (RFC 8018 §A.2): salt, iterations, key length, PRF. */
function readPbkdf2(kdf: DerReader, what: string) {
  const kdfOid = kdf.oid("keyDerivationFunc");
  if (kdfOid !== OID.pbkdf2) {
    throw new KeyError(
      what,
      `unsupported key derivation function ${kdfOid} (only PBKDF2 is supported)`,
      { where: "keyDerivationFunc" },
    );
  }
  const kp = kdf.sequence("PBKDF2-params");
  kdf.end("keyDerivationFunc");
  const salt = kp.octetString("salt");
  const iterations = kp.small("iterationCount");
  // A hostile file must not keep the parser busy for hours; OpenSSL writes 2048.
  if (iterations < 1 || iterations > MAX_PBKDF2_ITERATIONS) {
    throw new KeyError(
      what,
      `iterationCount ${iterations} is out of range (1 to ${MAX_PBKDF2_ITERATIONS})`,
      { where: "iterationCount" },
    );
  }
  let keyLength: number | undefined;
  if (kp.peekTag() === Tag.INTEGER) keyLength = kp.small("keyLength");
  let prfOid: string = OID.hmacWithSHA1;
  if (!kp.done) {
    const prf = kp.sequence("prf");
    prfOid = prf.oid("prf");
    if (!prf.done) prf.null("prf parameters");
    prf.end("prf");
  }
  kp.end("PBKDF2-params");
  const hash = PRFS.get(prfOid);
  if (hash === undefined) {
    throw new KeyError(what, `unsupported PBKDF2 PRF ${prfOid}`, { where: "prf" });
  }
  return { salt, iterations, keyLength, hash };
}

/**
 * Decrypts, then decodes; a padding failure or undecodable plaintext means a
 * wrong passphrase (CBC has no integrity check: this is how OpenSSL tells).
 */
async function decryptedDer(
  decrypt: () => Promise<Uint8Array>,
  then: { what: string; decode: (der: Uint8Array) => PrivateKey },
): Promise<PrivateKey> {
  const { what, decode } = then;
  let plain: Uint8Array;
  try {
    plain = await decrypt();
  } catch {
    throw new WrongPassphraseError(what, "wrong passphrase: the decrypted CBC padding is invalid");
  }
  try {
    return decode(plain);
  } catch (e) {
    throw new WrongPassphraseError(
      what,
      "wrong passphrase (or a corrupt file): the decrypted data is not a valid key",
      { cause: e },
    );
  } finally {
    plain.fill(0);
  }
}

function hexToBytes(hex: string): Uint8Array | undefined {
  if (!/^([0-9A-Fa-f]{2})+$/.test(hex)) return undefined;
  return Uint8Array.from(hex.match(/../g)!, (h) => parseInt(h, 16));
}

function toHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("").toUpperCase();
}

/**
 * OpenSSL traditional PEM encryption (RFC 1421 §4.6.1.1 / §4.6.1.3
 * headers): the block's headers name the cipher and IV; `pass` is the
 * passphrase (undefined: none given).
 */
async function decryptLegacy(
  block: ReturnType<typeof pemDecode>,
  how: { format: "pkcs1" | "sec1"; pass: Uint8Array | undefined },
): Promise<PrivateKey> {
  const { format, pass } = how;
  const { headers, bytes: body } = block;
  const what = WHAT[format];
  const procType = headers.get("Proc-Type");
  if (procType !== "4,ENCRYPTED") {
    throw new KeyError(what, `Proc-Type is ${JSON.stringify(procType)}, expected "4,ENCRYPTED"`, {
      where: "Proc-Type header",
    });
  }
  const dek = headers.get("DEK-Info");
  if (dek === undefined) {
    throw new KeyError(what, "encrypted but no DEK-Info header", { where: "DEK-Info header" });
  }
  const [cipherName, ivHex = ""] = dek.split(",").map((s) => s.trim());
  const keyLength = LEGACY_CIPHERS.get(cipherName.toUpperCase());
  if (keyLength === undefined) {
    throw new KeyError(
      what,
      `unsupported cipher ${
        JSON.stringify(cipherName.slice(0, 32))
      } (expected AES-128/192/256-CBC)`,
      { where: "DEK-Info header" },
    );
  }
  const iv = hexToBytes(ivHex);
  if (iv === undefined || iv.length !== 16) {
    throw new KeyError(what, "the IV is not 32 hexadecimal digits", { where: "DEK-Info header" });
  }
  if (body.length === 0 || body.length % 16 !== 0) {
    throw new KeyError(what, `the body is ${body.length} bytes, not whole AES blocks`, {
      where: "body",
    });
  }
  if (pass === undefined) {
    throw new PassphraseRequiredError(
      what,
      `the key is encrypted (${cipherName.toUpperCase()}); a passphrase is needed`,
    );
  }
  const key = bytesToKey(pass, iv.subarray(0, 8), keyLength);
  try {
    return await decryptedDer(() => aesCbc("decrypt", key, iv, body), {
      what,
      decode: format === "pkcs1" ? (b) => decodePkcs1(b) : (b) => decodeSec1(b, { what }),
    });
  } finally {
    key.fill(0);
  }
}

/**
 * A decoded PEM private key file.
 *
 * @example
 * ```ts
 * import type { PemPrivateKeyFile } from "./pem_private_key.ts";
 * const describe = (f: PemPrivateKeyFile) => `${f.format}${f.encrypted ? " (encrypted)" : ""}`;
 * ```
 */
export interface PemPrivateKeyFile {
  /** The private key. */
  key: PrivateKey;
  /** Which encoding the file used. */
  format: PemPrivateKeyFormat;
  /** True when the file was passphrase-protected. */
  encrypted: boolean;
}

/**
 * Finds the first private key PEM block (`RSA PRIVATE KEY`, `EC PRIVATE
 * KEY`, `PRIVATE KEY` or `ENCRYPTED PRIVATE KEY`) in `text`; undefined when
 * there is none.
 *
 * @example
 * ```ts
 * import { findPemPrivateKeyLabel } from "./pem_private_key.ts";
 * console.log(findPemPrivateKeyLabel("-----BEGIN EC PRIVATE KEY-----\n...")); // "EC PRIVATE KEY"
 * ```
 */
export function findPemPrivateKeyLabel(text: string): string | undefined {
  const m = /-----BEGIN ((?:RSA |EC |ENCRYPTED )?PRIVATE KEY)-----/.exec(text);
  return m?.[1];
}

/**
 * Options of {@link parsePemPrivateKey}.
 *
 * @example
 * ```ts
 * import type { ParsePemOptions } from "./pem_private_key.ts";
 * const o: ParsePemOptions = { passphrase: "hunter22" };
 * ```
 */
export interface ParsePemOptions {
  /** Passphrase (strings are UTF-8 encoded, as OpenSSL reads them from a terminal). */
  passphrase?: string | Uint8Array;
}

/**
 * Decodes a PEM private key file: PKCS#1, SEC1 or PKCS#8, plain, PBES2
 * encrypted, or in OpenSSL's traditional "Proc-Type: 4,ENCRYPTED" form with
 * AES-CBC. Every value is checked (RSA: p·q = n and the CRT values; EC: the
 * stored public point; PKCS#8 v2: the stored public key).
 *
 * Rejects with {@link PassphraseRequiredError} when encrypted and no
 * passphrase was given, {@link WrongPassphraseError} when decryption fails,
 * and {@link KeyError} for anything malformed or unsupported (DSA, Ed448,
 * explicit curves, scrypt, DES).
 *
 * @example
 * ```ts
 * import { encodePemPrivateKey, parsePemPrivateKey } from "./pem_private_key.ts";
 * import { generateEcdsa } from "./ecdsa.ts";
 * const pem = await encodePemPrivateKey(generateEcdsa("nistp384"), { format: "sec1" });
 * const { key, format } = await parsePemPrivateKey(pem);
 * console.log(key.type, format); // "ecdsa-sha2-nistp384" "sec1"
 * ```
 */
export function parsePemPrivateKey(
  input: string | Uint8Array,
  options: ParsePemOptions = {},
): Promise<PemPrivateKeyFile> {
  const text = typeof input === "string" ? input : new TextDecoder().decode(input);
  const label = findPemPrivateKeyLabel(text);
  const format = label === undefined ? undefined : LABELS[label];
  const what = label === undefined ? "PEM private key" : `PEM ${label}`;
  return asKeyError(what, async () => {
    if (label === undefined || format === undefined) {
      throw new KeyError(what, "no RSA, EC, PKCS#8 or encrypted PKCS#8 private key block found", {
        where: "armor",
      });
    }
    let block: ReturnType<typeof pemDecode>;
    try {
      block = pemDecode(text, label);
    } catch (e) {
      if (e instanceof KeyError) throw new KeyError(what, e.message, { where: "armor", cause: e });
      throw new KeyError(what, "the body is not valid base64", { where: "armor" });
    }
    try {
      return await withPassphraseBytes(
        options.passphrase,
        (pass) => decodeBlock(block, { label, format, pass }),
      );
    } finally {
      // Unencrypted DER holds the secret values; the key keeps its own copies.
      block.bytes.fill(0);
    }
  });
}

/** A PEM block labelled `how.label`, holding a key in `how.format`, decrypted with `how.pass` when encrypted. */
async function decodeBlock(
  block: ReturnType<typeof pemDecode>,
  how: { label: string; format: PemPrivateKeyFormat; pass: Uint8Array | undefined },
): Promise<PemPrivateKeyFile> {
  const { label, format, pass } = how;
  const what = `PEM ${label}`;
  if (label === "ENCRYPTED PRIVATE KEY") {
    return { key: await decryptPkcs8(block.bytes, pass), format, encrypted: true };
  }
  if (block.headers.has("Proc-Type") || block.headers.has("DEK-Info")) {
    if (format === "pkcs8") {
      throw new KeyError(
        what,
        "PKCS#8 keys are encrypted as ENCRYPTED PRIVATE KEY, not with headers",
        { where: "headers" },
      );
    }
    return {
      key: await decryptLegacy(block, { format, pass }),
      format,
      encrypted: true,
    };
  }
  const key = format === "pkcs1"
    ? decodePkcs1(block.bytes)
    : format === "sec1"
    ? decodeSec1(block.bytes, { what: WHAT.sec1 })
    : decodePkcs8(block.bytes);
  return { key, format, encrypted: false };
}

// ---------------------------------------------------------------- encoding

/**
 * Options of {@link encodePemPrivateKey}.
 *
 * @example
 * ```ts
 * import type { EncodePemOptions } from "./pem_private_key.ts";
 * const o: EncodePemOptions = { format: "pkcs8", passphrase: "s3cret!" };
 * ```
 */
export interface EncodePemOptions {
  /** "pkcs1" (ssh-rsa only), "sec1" (ECDSA only) or "pkcs8" (all types, the default). */
  format?: PemPrivateKeyFormat;
  /**
   * Encrypts when given and not empty. PKCS#8: PBES2 with
   * PBKDF2-HMAC-SHA256 (2048 iterations, OpenSSL's default) and
   * AES-256-CBC. PKCS#1 / SEC1: OpenSSL's traditional AES-128-CBC with the
   * MD5-based EVP_BytesToKey, exactly as `ssh-keygen -m PEM` writes; prefer
   * PKCS#8 or the OpenSSH format, whose KDFs are much stronger.
   */
  passphrase?: string | Uint8Array;
  /** Randomness for salts and IVs (default WebCrypto). */
  random?: RandomSource;
}

/**
 * Encodes `key` as a PEM file that OpenSSL and `ssh-keygen` read: PKCS#1
 * "RSA PRIVATE KEY", SEC1 "EC PRIVATE KEY" (with the namedCurve and the
 * public point, like OpenSSL) or PKCS#8 "PRIVATE KEY" / "ENCRYPTED PRIVATE
 * KEY". Rejects with {@link KeyError} for a format the key type does not
 * have or a key that is not one of ours.
 *
 * @example
 * ```ts
 * import { encodePemPrivateKey } from "./pem_private_key.ts";
 * import { generateEd25519 } from "./ed25519.ts";
 * const pem = await encodePemPrivateKey(generateEd25519(), { format: "pkcs8" });
 * console.log(pem.startsWith("-----BEGIN PRIVATE KEY-----")); // true
 * ```
 */
export async function encodePemPrivateKey(
  key: PrivateKey,
  options: EncodePemOptions = {},
): Promise<string> {
  const format = options.format ?? "pkcs8";
  if (!(format in WHAT)) {
    throw new KeyError("PEM private key", `unknown format ${JSON.stringify(String(format))}`);
  }
  const plain = encodePlain(key, format);
  const random = options.random ?? defaultRandom;
  const label = format === "pkcs1"
    ? "RSA PRIVATE KEY"
    : format === "sec1"
    ? "EC PRIVATE KEY"
    : "PRIVATE KEY";
  try {
    return await withPassphraseBytes(options.passphrase, (pass) => {
      if (pass === undefined) return Promise.resolve(pemEncode(label, plain));
      if (format === "pkcs8") return sealPkcs8(plain, { pass, random });
      return sealLegacy(plain, { label, pass, random });
    });
  } finally {
    plain.fill(0);
  }
}

/** The unencrypted DER of `key` in `format`; the key's secret parts are wiped after. */
function encodePlain(key: PrivateKey, format: keyof typeof WHAT): Uint8Array {
  const what = WHAT[format];
  const parts = privateKeyParts(key, what);
  try {
    if (format === "pkcs1") {
      if (parts.kind !== "rsa") throw new KeyError(what, `cannot hold a ${key.type} key`);
      return encodePkcs1(parts);
    }
    if (format === "sec1") {
      if (parts.kind !== "ecdsa") throw new KeyError(what, `cannot hold a ${key.type} key`);
      return encodeSec1(parts, true);
    }
    return encodePkcs8(parts);
  } finally {
    if (parts.kind === "ed25519") parts.seed.fill(0);
    if (parts.kind === "ecdsa") parts.d.fill(0);
  }
}

/**
 * "ENCRYPTED PRIVATE KEY": PKCS#8 in an EncryptedPrivateKeyInfo (RFC 5208
 * §6) with PBES2, PBKDF2-HMAC-SHA-256 and AES-256-CBC (RFC 8018 §6.2).
 */
async function sealPkcs8(
  plain: Uint8Array,
  secret: { pass: Uint8Array; random: RandomSource },
): Promise<string> {
  const salt = secret.random(16).slice();
  const iv = secret.random(16).slice();
  const k = await pbkdf2(secret.pass, salt, PBKDF2_ITERATIONS, "SHA-256", 32);
  let sealed: Uint8Array;
  try {
    sealed = await aesCbc("encrypt", k, iv, plain);
  } finally {
    k.fill(0);
  }
  const info = der.sequence(
    der.sequence(
      der.oid(OID.pbes2),
      der.sequence(
        der.sequence(
          der.oid(OID.pbkdf2),
          der.sequence(
            der.octetString(salt),
            der.integer(BigInt(PBKDF2_ITERATIONS)),
            der.sequence(der.oid(PRF_OID_SHA256), der.null()),
          ),
        ),
        der.sequence(der.oid(AES256_CBC_OID), der.octetString(iv)),
      ),
    ),
    der.octetString(sealed),
  );
  return pemEncode("ENCRYPTED PRIVATE KEY", info);
}

/**
 * OpenSSL's legacy PEM encryption ("Proc-Type: 4,ENCRYPTED", RFC 1421
 * §4.6.1.1): AES-128-CBC keyed by EVP_BytesToKey over the IV's first 8 bytes.
 */
async function sealLegacy(
  plain: Uint8Array,
  secret: { label: string; pass: Uint8Array; random: RandomSource },
): Promise<string> {
  const iv = secret.random(16).slice();
  const k = bytesToKey(secret.pass, iv.subarray(0, 8), 16);
  let sealed: Uint8Array;
  try {
    sealed = await aesCbc("encrypt", k, iv, plain);
  } finally {
    k.fill(0);
  }
  const { label } = secret;
  const body = pemEncode(label, sealed).split("\n").slice(1).join("\n");
  return `-----BEGIN ${label}-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,${
    toHex(iv)
  }\n\n${body}`;
}
