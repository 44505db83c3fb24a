/**
 * ecdsa-sha2-nistp256/384/521 keys and signatures (RFC 5656 §3).
 *
 * @module
 */
import { p256, p384, p521 } from "@noble/curves/nist.js";
import { defaultRandom, type RandomSource } from "../crypto/types.ts";
import { SshReader } from "../wire/reader.ts";
import { SshWriter } from "../wire/writer.ts";
import { leftPad, stripLeadingZeros } from "./_bytes.ts";
import { KeyError } from "./errors.ts";
import { fingerprintSha256 } from "./fingerprint.ts";
import { encodeSignature, tryDecodeSignature } from "./signature.ts";
import type { PrivateKey, PublicKey } from "./types.ts";

/**
 * A NIST curve identifier as RFC 5656 §10.1 names it.
 *
 * @example
 * ```ts
 * import type { EcdsaCurveName } from "./ecdsa.ts";
 * const c: EcdsaCurveName = "nistp384";
 * ```
 */
export type EcdsaCurveName = "nistp256" | "nistp384" | "nistp521";

type Curve = typeof p256;

interface CurveInfo {
  readonly curveName: EcdsaCurveName;
  readonly type: string;
  readonly curve: Curve;
  /** Field element / scalar size in bytes. */
  readonly size: number;
}

/**
 * RFC 5656 §6.2.1: the hash follows the curve size. noble's p256/p384/p521
 * prehash with SHA-256/384/512 respectively, matching that table.
 */
const CURVES: ReadonlyMap<string, CurveInfo> = new Map<string, CurveInfo>([
  ["nistp256", { curveName: "nistp256", type: "ecdsa-sha2-nistp256", curve: p256, size: 32 }],
  ["nistp384", { curveName: "nistp384", type: "ecdsa-sha2-nistp384", curve: p384, size: 48 }],
  ["nistp521", { curveName: "nistp521", type: "ecdsa-sha2-nistp521", curve: p521, size: 66 }],
]);

function curveInfo(curve: string, what: string): CurveInfo {
  const name = curve.startsWith("ecdsa-sha2-") ? curve.slice("ecdsa-sha2-".length) : curve;
  const info = CURVES.get(name);
  if (info === undefined) {
    throw new KeyError(what, `unsupported curve ${JSON.stringify(curve.slice(0, 64))}`);
  }
  return info;
}

/**
 * An ECDSA public key. Blob (RFC 5656 §3.1): `string
 * "ecdsa-sha2-[identifier]", string [identifier], string Q` with Q the
 * uncompressed SEC1 point `0x04 || X || Y`.
 *
 * @example
 * ```ts
 * import { ecdsaPublicKey } from "./ecdsa.ts";
 * import { p256 } from "@noble/curves/nist.js";
 * const q = p256.getPublicKey(p256.utils.randomSecretKey(), false);
 * console.log(ecdsaPublicKey("nistp256", q).type); // "ecdsa-sha2-nistp256"
 * ```
 */
export class EcdsaPublicKey implements PublicKey {
  /** "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384" or "ecdsa-sha2-nistp521". */
  readonly type: string;
  /** The curve identifier, e.g. "nistp256". */
  readonly curveName: EcdsaCurveName;
  /** The RFC 5656 §3.1 blob. */
  readonly blob: Uint8Array;
  /** The uncompressed point Q (a view into {@link blob}). */
  readonly q: Uint8Array;
  #info: CurveInfo;

  /**
   * Wraps a validated uncompressed point; prefer {@link ecdsaPublicKey}.
   * Throws {@link KeyError} when Q is not an uncompressed point on the curve.
   */
  constructor(curve: EcdsaCurveName, q: Uint8Array) {
    const info = curveInfo(curve, "ecdsa public key");
    validatePoint(info, q, { what: `${info.type} public key` });
    this.#info = info;
    this.type = info.type;
    this.curveName = info.curveName;
    this.blob = new SshWriter(q.length + 48).string(info.type).string(info.curveName).string(q)
      .finish();
    this.q = this.blob.subarray(this.blob.length - q.length);
  }

  /**
   * Verifies an ECDSA signature blob (RFC 5656 §3.1.2: `string
   * "ecdsa-sha2-[identifier]", string (mpint r || mpint s)`), hashing `data`
   * with the curve's hash (§6.2.1). High-S signatures are accepted, as
   * OpenSSH (OpenSSL) does.
   */
  verify(
    signatureBlob: Uint8Array,
    data: Uint8Array,
    options: { algorithm: string },
  ): Promise<boolean> {
    return Promise.resolve(options.algorithm === this.type && this.#verify(signatureBlob, data));
  }

  #verify(signatureBlob: Uint8Array, data: Uint8Array): boolean {
    const sig = tryDecodeSignature(signatureBlob);
    if (sig === undefined || sig.algorithm !== this.type) return false;
    const { curve, size } = this.#info;
    try {
      const r = new SshReader(sig.signature);
      const rr = r.mpint("r");
      const ss = r.mpint("s");
      r.end("ecdsa signature");
      const n = curve.Point.Fn.ORDER;
      if (rr <= 0n || ss <= 0n || rr >= n || ss >= n) return false;
      const compact = new Uint8Array(2 * size);
      compact.set(bigintTo(rr, size), 0);
      compact.set(bigintTo(ss, size), size);
      return curve.verify(compact, data, this.q, { prehash: true, lowS: false, format: "compact" });
    } catch {
      return false;
    }
  }

  /** SHA-256 fingerprint of {@link blob}. */
  fingerprint(): string {
    return fingerprintSha256(this.blob);
  }
}

function bigintTo(v: bigint, size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = size - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/**
 * Checks that `q` is an uncompressed SEC1 point on the curve and not the
 * point at infinity (OpenSSH sshkey_ec_validate_public; only uncompressed
 * points are accepted, as OpenSSH's sshbuf_get_ec does).
 */
function validatePoint(
  info: CurveInfo,
  q: Uint8Array,
  about: { what: string; where?: string },
): void {
  const { what, where = "Q" } = about;
  const want = 1 + 2 * info.size;
  if (q.length !== want) {
    throw new KeyError(what, `Q is ${q.length} bytes, expected ${want}`, { where });
  }
  if (q[0] !== 0x04) {
    throw new KeyError(what, `Q starts with 0x${q[0].toString(16)}, expected 0x04 (uncompressed)`, {
      where,
    });
  }
  try {
    info.curve.Point.fromBytes(q).assertValidity();
  } catch {
    throw new KeyError(what, `Q is not a point on ${info.curveName}`, { where });
  }
}

/**
 * Builds an ECDSA public key from its curve ("nistp256", "nistp384",
 * "nistp521" or the full key type) and uncompressed point Q. Throws
 * {@link KeyError} on an unknown curve or a point that is not on it.
 *
 * @example
 * ```ts
 * import { ecdsaPublicKey } from "./ecdsa.ts";
 * import { p384 } from "@noble/curves/nist.js";
 * const q = p384.getPublicKey(p384.utils.randomSecretKey(), false);
 * console.log(ecdsaPublicKey("ecdsa-sha2-nistp384", q).curveName); // "nistp384"
 * ```
 */
export function ecdsaPublicKey(curve: string, q: Uint8Array): EcdsaPublicKey {
  return new EcdsaPublicKey(curveInfo(curve, "ecdsa public key").curveName, Uint8Array.from(q));
}

/**
 * Reads the fields after the key type of an ECDSA public key blob (RFC 5656
 * §3.1): `string identifier, string Q`. `type` is the already-read key type.
 * Throws WireError when truncated and KeyError on unacceptable values.
 *
 * @example
 * ```ts
 * import { readEcdsaPublicKey } from "./ecdsa.ts";
 * import { SshReader } from "../wire/reader.ts";
 * import { SshWriter } from "../wire/writer.ts";
 * import { p256 } from "@noble/curves/nist.js";
 * const q = p256.getPublicKey(p256.utils.randomSecretKey(), false);
 * const r = new SshReader(new SshWriter().string("nistp256").string(q).finish());
 * console.log(readEcdsaPublicKey("ecdsa-sha2-nistp256", r).type);
 * ```
 */
export function readEcdsaPublicKey(type: string, r: SshReader): EcdsaPublicKey {
  const info = curveInfo(type, "ecdsa public key");
  const what = `${info.type} public key`;
  const at = r.offset;
  const id = r.ascii("curve identifier");
  if (id !== info.curveName) {
    throw new KeyError(
      what,
      `curve identifier ${JSON.stringify(id.slice(0, 64))} does not match the key type`,
      { where: `curve identifier at offset ${at}` },
    );
  }
  const qAt = r.offset;
  const q = r.string("Q");
  validatePoint(info, q, { what, where: `Q at offset ${qAt}` });
  return new EcdsaPublicKey(info.curveName, Uint8Array.from(q));
}

/**
 * An ECDSA private key (RFC 5656). Signatures are deterministic (RFC 6979
 * nonces) and not normalized to low S, like OpenSSL's. The scalar is held
 * privately and never appears in messages.
 *
 * @example
 * ```ts
 * import { generateEcdsa } from "./ecdsa.ts";
 * const key = generateEcdsa("nistp521");
 * const sig = await key.sign("ecdsa-sha2-nistp521", new Uint8Array([1]));
 * console.log(await key.publicKey.verify(sig, new Uint8Array([1]), { algorithm: "ecdsa-sha2-nistp521" })); // true
 * ```
 */
export class EcdsaPrivateKey implements PrivateKey {
  /** The key type, e.g. "ecdsa-sha2-nistp256". */
  readonly type: string;
  /** The public half. */
  readonly publicKey: EcdsaPublicKey;
  /** The one signature algorithm, equal to {@link type} (RFC 5656 §3.1.2). */
  readonly algorithms: readonly string[];
  #info: CurveInfo;
  #scalar: Uint8Array;

  /** Wraps a scalar of the curve's size; prefer {@link ecdsaPrivateKey}. */
  constructor(curve: EcdsaCurveName, scalar: Uint8Array) {
    const info = curveInfo(curve, "ecdsa private key");
    const what = `${info.type} private key`;
    const m = stripLeadingZeros(scalar);
    if (m.length > info.size) {
      throw new KeyError(what, `scalar is ${m.length} bytes, longer than ${info.size}`);
    }
    const d = leftPad(m, info.size).slice();
    let q: Uint8Array;
    try {
      q = info.curve.getPublicKey(d, false);
    } catch {
      d.fill(0);
      throw new KeyError(what, "scalar is not in [1, n-1]");
    }
    this.#info = info;
    this.#scalar = d;
    this.type = info.type;
    this.algorithms = [info.type];
    this.publicKey = new EcdsaPublicKey(info.curveName, q);
  }

  /** Signs `data` (RFC 5656 §3.1.2) and returns the signature blob. */
  sign(algorithm: string, data: Uint8Array): Promise<Uint8Array> {
    if (algorithm !== this.type) {
      return Promise.reject(
        new KeyError(
          `${this.type} private key`,
          `cannot sign with algorithm ${JSON.stringify(algorithm)}`,
        ),
      );
    }
    const { curve, size } = this.#info;
    const compact = curve.sign(data, this.#scalar, {
      prehash: true,
      lowS: false,
      format: "compact",
    });
    const inner = new SshWriter(2 * size + 10)
      .mpintBytes(compact.subarray(0, size))
      .mpintBytes(compact.subarray(size))
      .finish();
    return Promise.resolve(encodeSignature(this.type, inner));
  }

  /**
   * The OpenSSH private key fields (PROTOCOL.key / sshkey_private_serialize):
   * `string curve identifier, string Q, mpint d`, for writers of key files.
   */
  opensshPrivateFields(): Uint8Array {
    return new SshWriter(256).string(this.#info.curveName).string(this.publicKey.q)
      .mpintBytes(this.#scalar).finish();
  }
}

/**
 * Builds an ECDSA private key from its curve ("nistp256", "nistp384",
 * "nistp521" or the full key type) and the big-endian private scalar d (any
 * length up to the curve size; leading zeros, as in an mpint, are fine).
 * Throws {@link KeyError} when d is not in [1, n-1].
 *
 * @example
 * ```ts
 * import { ecdsaPrivateKey } from "./ecdsa.ts";
 * const key = ecdsaPrivateKey("nistp256", new Uint8Array(32).fill(1));
 * console.log(key.type); // "ecdsa-sha2-nistp256"
 * ```
 */
export function ecdsaPrivateKey(curve: string, scalar: Uint8Array): EcdsaPrivateKey {
  return new EcdsaPrivateKey(curveInfo(curve, "ecdsa private key").curveName, scalar);
}

/**
 * Generates a fresh ECDSA private key on `curve` ("nistp256", "nistp384",
 * "nistp521" or the full key type), reducing extra random bytes modulo the
 * order so the scalar is uniform (FIPS 186-5 A.4.1).
 *
 * @example
 * ```ts
 * import { generateEcdsa } from "./ecdsa.ts";
 * console.log(generateEcdsa("nistp384").type); // "ecdsa-sha2-nistp384"
 * ```
 */
export function generateEcdsa(
  curve: string,
  random: RandomSource = defaultRandom,
): EcdsaPrivateKey {
  const info = curveInfo(curve, "ecdsa private key");
  const seed = random(info.curve.lengths.seed ?? info.size + 16);
  const d = info.curve.utils.randomSecretKey(seed);
  seed.fill(0);
  try {
    return new EcdsaPrivateKey(info.curveName, d);
  } finally {
    d.fill(0);
  }
}
