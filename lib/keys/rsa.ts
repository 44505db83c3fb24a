/**
 * ssh-rsa keys with rsa-sha2-256 / rsa-sha2-512 signatures (RFC 8332),
 * on WebCrypto RSASSA-PKCS1-v1_5. SHA-1 ("ssh-rsa" signatures) is not
 * supported.
 *
 * @module
 */
import type { SshReader } from "../wire/reader.ts";
import { SshWriter } from "../wire/writer.ts";
import {
  bigintToBytes,
  bitLength,
  bytesToBigint,
  fromBase64Url,
  leftPad,
  stripLeadingZeros,
  toBase64Url,
} from "./_bytes.ts";
import { KeyError } from "./errors.ts";
import { fingerprintSha256 } from "./fingerprint.ts";
import { encodeSignature, tryDecodeSignature } from "./signature.ts";
import type { PrivateKey, PublicKey } from "./types.ts";

const TYPE = "ssh-rsa";

/** RFC 8332 §3: signature algorithm name -> WebCrypto hash. */
const HASHES: ReadonlyMap<string, "SHA-256" | "SHA-512"> = new Map([
  ["rsa-sha2-512", "SHA-512"],
  ["rsa-sha2-256", "SHA-256"],
]);

/**
 * Smallest RSA modulus accepted for a public key, in bits (OpenSSH
 * SSH_RSA_MINIMUM_MODULUS_SIZE).
 *
 * @example
 * ```ts
 * import { RSA_MIN_PUBLIC_BITS } from "./rsa.ts";
 * console.log(RSA_MIN_PUBLIC_BITS); // 1024
 * ```
 */
export const RSA_MIN_PUBLIC_BITS = 1024;

/**
 * Largest RSA modulus accepted, in bits (OpenSSH SSHBUF_MAX_BIGNUM * 8).
 *
 * @example
 * ```ts
 * import { RSA_MAX_BITS } from "./rsa.ts";
 * console.log(RSA_MAX_BITS); // 16384
 * ```
 */
export const RSA_MAX_BITS = 16384;

/**
 * Smallest modulus {@link generateRsa} produces, in bits.
 *
 * @example
 * ```ts
 * import { RSA_MIN_GENERATE_BITS } from "./rsa.ts";
 * console.log(RSA_MIN_GENERATE_BITS); // 2048
 * ```
 */
export const RSA_MIN_GENERATE_BITS = 2048;

const ALG = "RSASSA-PKCS1-v1_5";

/**
 * An ssh-rsa public key. Blob (RFC 4253 §6.6): `string "ssh-rsa", mpint e,
 * mpint n`. Verifies rsa-sha2-256 and rsa-sha2-512 signatures only.
 *
 * @example
 * ```ts
 * import { generateRsa } from "./rsa.ts";
 * const key = await generateRsa(2048);
 * console.log(key.publicKey.type, (key.publicKey as { bits: number }).bits); // "ssh-rsa" 2048
 * ```
 */
export class RsaPublicKey implements PublicKey {
  /** Always "ssh-rsa". */
  readonly type: string = TYPE;
  /** The RFC 4253 §6.6 blob. */
  readonly blob: Uint8Array;
  /** The modulus n, unsigned big-endian without leading zeros. */
  readonly n: Uint8Array;
  /** The public exponent e, unsigned big-endian without leading zeros. */
  readonly e: Uint8Array;
  /** Size of the modulus in bits. */
  readonly bits: number;
  #keys = new Map<string, Promise<CryptoKey>>();

  /**
   * Wraps a modulus and exponent (unsigned big-endian); prefer
   * {@link rsaPublicKey}. Throws {@link KeyError} when n is outside
   * [1024, 16384] bits or even, or e is even, below 3 or above 64 bits.
   */
  constructor(n: Uint8Array, e: Uint8Array) {
    const nn = stripLeadingZeros(n);
    const ee = stripLeadingZeros(e);
    checkPublic(nn, ee, { what: `${TYPE} public key` });
    this.bits = bitLength(nn);
    this.blob = new SshWriter(nn.length + ee.length + 24).string(TYPE).mpintBytes(ee).mpintBytes(nn)
      .finish();
    this.n = Uint8Array.from(nn);
    this.e = Uint8Array.from(ee);
  }

  /** The public key as a JWK (RFC 7518 §6.3.1). */
  jwk(): JsonWebKey {
    return { kty: "RSA", n: toBase64Url(this.n), e: toBase64Url(this.e) };
  }

  #key(hash: "SHA-256" | "SHA-512"): Promise<CryptoKey> {
    let k = this.#keys.get(hash);
    if (k === undefined) {
      k = crypto.subtle.importKey("jwk", this.jwk(), { name: ALG, hash }, false, ["verify"]);
      this.#keys.set(hash, k);
    }
    return k;
  }

  /**
   * Verifies an RFC 8332 §3 signature blob (`string "rsa-sha2-256" |
   * "rsa-sha2-512", string s`). A signature shorter than the modulus is
   * left-padded with zeros (as OpenSSH does); a longer one fails. Resolves
   * false for "ssh-rsa" (SHA-1) and for a blob naming another algorithm.
   */
  async verify(
    signatureBlob: Uint8Array,
    data: Uint8Array,
    options: { algorithm: string },
  ): Promise<boolean> {
    const { algorithm } = options;
    const hash = HASHES.get(algorithm);
    if (hash === undefined) return false;
    const sig = tryDecodeSignature(signatureBlob);
    if (sig === undefined || sig.algorithm !== algorithm) return false;
    const k = this.n.length;
    if (sig.signature.length > k || sig.signature.length === 0) return false;
    try {
      const key = await this.#key(hash);
      return await crypto.subtle.verify(ALG, key, leftPad(sig.signature, k).slice(), data.slice());
    } catch {
      return false;
    }
  }

  /** SHA-256 fingerprint of {@link blob}. */
  fingerprint(): string {
    return fingerprintSha256(this.blob);
  }
}

function checkPublic(
  n: Uint8Array,
  e: Uint8Array,
  about: { what: string; where?: { n?: string; e?: string } },
) {
  const { what, where } = about;
  const bits = bitLength(n);
  if (bits < RSA_MIN_PUBLIC_BITS) {
    throw new KeyError(what, `modulus is ${bits} bits, fewer than ${RSA_MIN_PUBLIC_BITS}`, {
      where: where?.n ?? "n",
    });
  }
  if (bits > RSA_MAX_BITS) {
    throw new KeyError(what, `modulus is ${bits} bits, more than ${RSA_MAX_BITS}`, {
      where: where?.n ?? "n",
    });
  }
  if ((n[n.length - 1] & 1) === 0) {
    throw new KeyError(what, "modulus is even", { where: where?.n ?? "n" });
  }
  const eBits = bitLength(e);
  if (eBits > 64) {
    throw new KeyError(what, `exponent is ${eBits} bits, more than 64`, { where: where?.e ?? "e" });
  }
  const ev = bytesToBigint(e);
  if (ev < 3n || (ev & 1n) === 0n) {
    throw new KeyError(what, `exponent ${ev} is not an odd number >= 3`, {
      where: where?.e ?? "e",
    });
  }
}

/**
 * Builds an ssh-rsa public key from n and e (bigints or unsigned big-endian
 * bytes). Throws {@link KeyError} on unacceptable values.
 *
 * @example
 * ```ts
 * import { rsaPublicKey } from "./rsa.ts";
 * try { rsaPublicKey(15n, 3n); } catch (e) { console.log((e as Error).message); } // modulus is 4 bits
 * ```
 */
export function rsaPublicKey(n: bigint | Uint8Array, e: bigint | Uint8Array): RsaPublicKey {
  return new RsaPublicKey(toMagnitude(n, "n"), toMagnitude(e, "e"));
}

function toMagnitude(v: bigint | Uint8Array, name: string): Uint8Array {
  if (typeof v !== "bigint") return v;
  if (v < 0n) throw new KeyError("ssh-rsa key", `${name} is negative`);
  return bigintToBytes(v);
}

/**
 * Reads the fields after the key type of an ssh-rsa public key blob (RFC
 * 4253 §6.6): `mpint e, mpint n`. Throws WireError when truncated and
 * KeyError on unacceptable values; parsePublicKey reports both as KeyError.
 *
 * @example
 * ```ts
 * import { readRsaPublicKey } from "./rsa.ts";
 * import { SshReader } from "../wire/reader.ts";
 * try { readRsaPublicKey(new SshReader(new Uint8Array([0, 0, 0, 1, 3]))); } catch (e) { console.log(String(e)); }
 * ```
 */
export function readRsaPublicKey(r: SshReader): RsaPublicKey {
  const eAt = r.offset;
  const e = r.mpintBytes("e");
  const nAt = r.offset;
  const n = r.mpintBytes("n");
  checkPublic(n, e, {
    what: `${TYPE} public key`,
    where: { n: `n at offset ${nAt}`, e: `e at offset ${eAt}` },
  });
  return new RsaPublicKey(n, e);
}

/**
 * The private values of an RSA key as OpenSSH stores them (PROTOCOL.key:
 * n, e, d, iqmp, p, q); `iqmp` = q^-1 mod p is computed when absent.
 *
 * @example
 * ```ts
 * import type { RsaPrivateParts } from "./rsa.ts";
 * const parts: RsaPrivateParts = { n: 3233n, e: 17n, d: 2753n, p: 61n, q: 53n };
 * ```
 */
export interface RsaPrivateParts {
  /** Modulus. */
  n: bigint;
  /** Public exponent. */
  e: bigint;
  /** Private exponent. */
  d: bigint;
  /** First prime. */
  p: bigint;
  /** Second prime. */
  q: bigint;
  /** q^-1 mod p (the JWK "qi"); computed when absent. */
  iqmp?: bigint;
}

function modInverse(a: bigint, m: bigint): bigint {
  let [r0, r1] = [((a % m) + m) % m, m];
  let [s0, s1] = [1n, 0n];
  while (r1 !== 0n) {
    const qt = r0 / r1;
    [r0, r1] = [r1, r0 - qt * r1];
    [s0, s1] = [s1, s0 - qt * s1];
  }
  if (r0 !== 1n) throw new RangeError("not invertible");
  return ((s0 % m) + m) % m;
}

/**
 * An ssh-rsa private key signing with rsa-sha2-512 and rsa-sha2-256 (RFC
 * 8332 §3) through WebCrypto; the CryptoKey for each hash is imported once.
 * The private values are held privately and never appear in messages.
 *
 * @example
 * ```ts
 * import { generateRsa } from "./rsa.ts";
 * const key = await generateRsa(2048);
 * const sig = await key.sign("rsa-sha2-256", new Uint8Array([1]));
 * console.log(await key.publicKey.verify(sig, new Uint8Array([1]), { algorithm: "rsa-sha2-256" })); // true
 * ```
 */
export class RsaPrivateKey implements PrivateKey {
  /** Always "ssh-rsa". */
  readonly type: string = TYPE;
  /** The public half. */
  readonly publicKey: RsaPublicKey;
  /** ["rsa-sha2-512", "rsa-sha2-256"]: never "ssh-rsa" (SHA-1). */
  readonly algorithms: readonly string[] = [...HASHES.keys()];
  #parts: Required<RsaPrivateParts>;
  #keys = new Map<string, Promise<CryptoKey>>();

  /** Checks and wraps the private values; prefer {@link rsaPrivateKey}. */
  constructor(parts: RsaPrivateParts) {
    const what = `${TYPE} private key`;
    const { n, e, d, p, q } = parts;
    if ([n, e, d, p, q].some((v) => typeof v !== "bigint" || v <= 0n)) {
      throw new KeyError(what, "n, e, d, p and q must be positive integers");
    }
    if (p * q !== n) throw new KeyError(what, "p * q does not equal n");
    if (d >= n) throw new KeyError(what, "d is not below n");
    let iqmp: bigint;
    try {
      iqmp = modInverse(q, p);
    } catch {
      throw new KeyError(what, "q is not invertible modulo p");
    }
    if (parts.iqmp !== undefined && parts.iqmp !== iqmp) {
      throw new KeyError(what, "iqmp is not the inverse of q modulo p");
    }
    this.publicKey = new RsaPublicKey(bigintToBytes(n), bigintToBytes(e));
    this.#parts = { n, e, d, p, q, iqmp };
  }

  #key(hash: "SHA-256" | "SHA-512"): Promise<CryptoKey> {
    let k = this.#keys.get(hash);
    if (k === undefined) {
      const { d, p, q, iqmp } = this.#parts;
      const b = (v: bigint) => toBase64Url(bigintToBytes(v));
      const jwk: JsonWebKey = {
        ...this.publicKey.jwk(),
        d: b(d),
        p: b(p),
        q: b(q),
        dp: b(d % (p - 1n)),
        dq: b(d % (q - 1n)),
        qi: b(iqmp),
      };
      k = crypto.subtle.importKey("jwk", jwk, { name: ALG, hash }, false, ["sign"]);
      this.#keys.set(hash, k);
    }
    return k;
  }

  /**
   * Signs with RSASSA-PKCS1-v1_5 and returns the RFC 8332 §3 signature blob;
   * the signature is exactly as long as the modulus. Rejects with
   * {@link KeyError} for any algorithm other than rsa-sha2-256/512.
   */
  async sign(algorithm: string, data: Uint8Array): Promise<Uint8Array> {
    const hash = HASHES.get(algorithm);
    if (hash === undefined) {
      throw new KeyError(
        `${TYPE} private key`,
        `cannot sign with algorithm ${JSON.stringify(algorithm)}`,
      );
    }
    let s: Uint8Array;
    try {
      s = new Uint8Array(await crypto.subtle.sign(ALG, await this.#key(hash), data.slice()));
    } catch (e) {
      // The WebCrypto message may only say that the key was rejected; never include key values.
      throw new KeyError(`${TYPE} private key`, `WebCrypto could not sign with ${algorithm}`, {
        cause: e,
      });
    }
    return encodeSignature(algorithm, leftPad(s, this.publicKey.n.length));
  }

  /**
   * The OpenSSH private key fields (PROTOCOL.key / sshkey_private_serialize):
   * `mpint n, mpint e, mpint d, mpint iqmp, mpint p, mpint q`, for writers
   * of key files.
   */
  opensshPrivateFields(): Uint8Array {
    const { n, e, d, iqmp, p, q } = this.#parts;
    return new SshWriter(1024).mpint(n).mpint(e).mpint(d).mpint(iqmp).mpint(p).mpint(q).finish();
  }
}

/**
 * Builds an ssh-rsa private key from n, e, d, p, q (and optionally iqmp),
 * as found in an OpenSSH key file. Throws {@link KeyError} when the values
 * are inconsistent (p·q ≠ n, wrong iqmp) or the modulus is unacceptable.
 *
 * @example
 * ```ts
 * import { rsaPrivateKey } from "./rsa.ts";
 * try { rsaPrivateKey({ n: 3233n, e: 17n, d: 2753n, p: 61n, q: 53n }); } catch (e) { console.log((e as Error).message); }
 * // "ssh-rsa public key: n: modulus is 12 bits, fewer than 1024"
 * ```
 */
export function rsaPrivateKey(parts: RsaPrivateParts): RsaPrivateKey {
  return new RsaPrivateKey(parts);
}

/**
 * Builds an ssh-rsa private key from an RSA private JWK (RFC 7518 §6.3.2),
 * e.g. one exported by WebCrypto. dp and dq, when present, are not needed:
 * they are recomputed from d.
 *
 * @example
 * ```ts
 * import { rsaPrivateKeyFromJwk } from "./rsa.ts";
 * const pair = await crypto.subtle.generateKey(
 *   { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) },
 *   true, ["sign", "verify"],
 * ) as CryptoKeyPair;
 * const key = rsaPrivateKeyFromJwk(await crypto.subtle.exportKey("jwk", pair.privateKey));
 * console.log(key.publicKey.fingerprint());
 * ```
 */
export function rsaPrivateKeyFromJwk(jwk: JsonWebKey): RsaPrivateKey {
  const what = `${TYPE} private key`;
  if (jwk.kty !== "RSA") {
    throw new KeyError(what, `JWK kty is ${JSON.stringify(jwk.kty)}, expected "RSA"`);
  }
  const get = (name: "n" | "e" | "d" | "p" | "q" | "qi"): bigint => {
    const v = jwk[name];
    if (typeof v !== "string") throw new KeyError(what, `JWK has no "${name}"`);
    try {
      return bytesToBigint(fromBase64Url(v));
    } catch {
      throw new KeyError(what, `JWK "${name}" is not base64url`);
    }
  };
  return new RsaPrivateKey({
    n: get("n"),
    e: get("e"),
    d: get("d"),
    p: get("p"),
    q: get("q"),
    iqmp: jwk.qi === undefined ? undefined : get("qi"),
  });
}

/**
 * Generates an ssh-rsa private key with WebCrypto (public exponent 65537).
 * `bits` defaults to 3072 and must be a multiple of 8 in [2048, 16384].
 * WebCrypto draws its own randomness: an injected RandomSource cannot be used.
 *
 * @example
 * ```ts
 * import { generateRsa } from "./rsa.ts";
 * const key = await generateRsa();
 * console.log(key.publicKey.bits); // 3072
 * ```
 */
export async function generateRsa(bits = 3072): Promise<RsaPrivateKey> {
  const what = `${TYPE} private key`;
  if (
    !Number.isInteger(bits) || bits < RSA_MIN_GENERATE_BITS || bits > RSA_MAX_BITS || bits % 8 !== 0
  ) {
    throw new KeyError(
      what,
      `cannot generate a ${bits}-bit key: bits must be a multiple of 8 in [${RSA_MIN_GENERATE_BITS}, ${RSA_MAX_BITS}]`,
    );
  }
  const pair = await crypto.subtle.generateKey(
    { name: ALG, hash: "SHA-512", modulusLength: bits, publicExponent: new Uint8Array([1, 0, 1]) },
    true,
    ["sign", "verify"],
  ) as CryptoKeyPair;
  return rsaPrivateKeyFromJwk(await crypto.subtle.exportKey("jwk", pair.privateKey));
}
