/**
 * Private helpers shared by the private key file formats (openssh-key-v1,
 * PKCS#1, SEC1, PKCS#8): the passphrase errors, passphrase handling, and the
 * raw values of our three private key classes.
 *
 * @module
 */
import { constantTimeEqual } from "../crypto/constant_time.ts";
import { secretMade, wipe } from "../crypto/_secrets.ts";
import { SshReader } from "../wire/reader.ts";
import { describeName } from "./_bytes.ts";
import { type EcdsaCurveName, EcdsaPrivateKey, ecdsaPrivateKey } from "./ecdsa.ts";
import { Ed25519PrivateKey } from "./ed25519.ts";
import { KeyError } from "./errors.ts";
import { RsaPrivateKey, rsaPrivateKey } from "./rsa.ts";
import type { PrivateKey } from "./types.ts";

/**
 * The private key file is encrypted and no passphrase (or an empty one) was
 * given. Ask the user and try again.
 *
 * @example
 * ```ts
 * import { PassphraseRequiredError } from "./_private_key_common.ts";
 * const e = new PassphraseRequiredError("openssh-key-v1 private key", "the key is encrypted with aes256-ctr; a passphrase is needed");
 * console.log(e instanceof PassphraseRequiredError, e.what);
 * ```
 */
export class PassphraseRequiredError extends KeyError {}

/**
 * The passphrase does not decrypt the private key file: an authentication
 * tag failed (aes256-gcm@openssh.com, chacha20-poly1305@openssh.com), the
 * openssh-key-v1 check integers differ, or the CBC padding or the decrypted
 * ASN.1 (PKCS#8, legacy PEM) is invalid. Never a partially decoded key.
 *
 * @example
 * ```ts
 * import { WrongPassphraseError } from "./_private_key_common.ts";
 * const e = new WrongPassphraseError("PKCS#8 private key", "wrong passphrase: the CBC padding is invalid");
 * console.log(e.message);
 * ```
 */
export class WrongPassphraseError extends KeyError {}

/** A passphrase as bytes (UTF-8 for strings), or undefined when absent or empty. */
export function passphraseBytes(
  passphrase: string | Uint8Array | undefined,
): Uint8Array | undefined {
  if (passphrase === undefined) return undefined;
  const b = typeof passphrase === "string" ? new TextEncoder().encode(passphrase) : passphrase;
  return b.length === 0 ? undefined : b;
}

/**
 * Runs `f` with the passphrase as bytes ({@link passphraseBytes}); bytes
 * encoded here from a string are ours, reported to the test hook and wiped
 * when `f` settles (the string itself cannot be wiped; bytes the caller gave
 * stay the caller's).
 */
export async function withPassphraseBytes<T>(
  passphrase: string | Uint8Array | undefined,
  f: (pass: Uint8Array | undefined) => Promise<T>,
): Promise<T> {
  const pass = passphraseBytes(passphrase);
  const owned = typeof passphrase === "string" && pass !== undefined;
  if (owned) secretMade("passphrase bytes", pass);
  try {
    return await f(pass);
  } finally {
    if (owned) wipe(pass);
  }
}

/** The raw values of one of our private keys, for the file encoders. */
export type PrivateKeyParts =
  | {
    kind: "ed25519";
    /** 32-byte seed (secret; wipe after use). */
    seed: Uint8Array;
    /** 32-byte public key. */
    pk: Uint8Array;
  }
  | {
    kind: "ecdsa";
    curve: EcdsaCurveName;
    /** Uncompressed point. */
    q: Uint8Array;
    /** Scalar, left-padded to the curve size (secret; wipe after use). */
    d: Uint8Array;
  }
  | { kind: "rsa"; n: bigint; e: bigint; d: bigint; p: bigint; q: bigint; iqmp: bigint };

const EC_SIZES: Readonly<Record<string, number>> = { nistp256: 32, nistp384: 48, nistp521: 66 };

/**
 * Narrows `key` to one of our classes, whose secret values can be written
 * to a file; throws {@link KeyError} for any other (e.g. an agent-backed
 * key).
 */
export function ownPrivateKey(
  key: PrivateKey,
  what: string,
): Ed25519PrivateKey | EcdsaPrivateKey | RsaPrivateKey {
  if (
    key instanceof Ed25519PrivateKey || key instanceof EcdsaPrivateKey ||
    key instanceof RsaPrivateKey
  ) {
    return key;
  }
  throw new KeyError(
    what,
    `cannot serialize a ${describeName(String(key.type))} key that is not an ` +
      "Ed25519PrivateKey, EcdsaPrivateKey or RsaPrivateKey",
  );
}

/**
 * Extracts the raw values of `key` from its OpenSSH private fields
 * (PROTOCOL.key / sshkey_private_serialize). Throws {@link KeyError} for keys
 * that are not one of our classes (e.g. an agent-backed key).
 */
export function privateKeyParts(key: PrivateKey, what: string): PrivateKeyParts {
  const own = ownPrivateKey(key, what);
  const fields = own.opensshPrivateFields();
  try {
    const r = new SshReader(fields);
    if (own instanceof Ed25519PrivateKey) {
      const pk = r.string("pk").slice();
      const sk = r.string("sk");
      return { kind: "ed25519", seed: sk.slice(0, 32), pk };
    }
    if (own instanceof EcdsaPrivateKey) {
      const curve = r.ascii("curve") as EcdsaCurveName;
      const q = r.string("Q").slice();
      const m = r.mpintBytes("d");
      const d = new Uint8Array(EC_SIZES[curve]);
      d.set(m, d.length - m.length);
      return { kind: "ecdsa", curve, q, d };
    }
    const n = r.mpint("n");
    const e = r.mpint("e");
    const d = r.mpint("d");
    const iqmp = r.mpint("iqmp");
    const p = r.mpint("p");
    const q = r.mpint("q");
    return { kind: "rsa", n, e, d, p, q, iqmp };
  } finally {
    fields.fill(0);
  }
}

/**
 * Builds an ssh-rsa private key after the checks OpenSSH and OpenSSL make
 * on file contents, so that no unusable key object escapes: p, q > 1,
 * p·q = n, e·d ≡ 1 (mod p−1) and (mod q−1), and the optional CRT values
 * (dp, dq, iqmp) agree. Messages never contain the values.
 */
export function checkedRsaPrivateKey(
  parts: {
    n: bigint;
    e: bigint;
    d: bigint;
    p: bigint;
    q: bigint;
    iqmp?: bigint;
    dp?: bigint;
    dq?: bigint;
  },
  what: string,
): RsaPrivateKey {
  const { n, e, d, p, q } = parts;
  for (const [name, v] of [["n", n], ["e", e], ["d", d], ["p", p], ["q", q]] as const) {
    if (v <= 1n) {
      throw new KeyError(what, `${name} must be an integer greater than 1`, { where: name });
    }
  }
  if (p * q !== n) throw new KeyError(what, "p * q does not equal n", { where: "p, q" });
  const ed = e * d;
  if (ed % (p - 1n) !== 1n || ed % (q - 1n) !== 1n) {
    throw new KeyError(what, "d is not the inverse of e modulo p-1 and q-1", { where: "d" });
  }
  if (parts.dp !== undefined && parts.dp !== d % (p - 1n)) {
    throw new KeyError(what, "exponent1 is not d mod (p-1)", { where: "exponent1" });
  }
  if (parts.dq !== undefined && parts.dq !== d % (q - 1n)) {
    throw new KeyError(what, "exponent2 is not d mod (q-1)", { where: "exponent2" });
  }
  return rsaPrivateKey({ n, e, d, p, q, iqmp: parts.iqmp });
}

/**
 * Builds an ECDSA key from its scalar and checks the stored public point
 * `stored.q`, when given; a mismatch is a KeyError for `stored.what` at
 * `stored.where`.
 */
export function checkedEcdsaPrivateKey(
  curve: EcdsaCurveName,
  d: Uint8Array,
  stored: { q: Uint8Array | undefined; what: string; where: string },
): EcdsaPrivateKey {
  const { q, what, where } = stored;
  const key = ecdsaPrivateKey(curve, d);
  if (q !== undefined && !constantTimeEqual(q, key.publicKey.q)) {
    throw new KeyError(what, "the stored public point does not match the private scalar", {
      where,
    });
  }
  return key;
}

/**
 * Runs `f`, turning a WireError into a KeyError for `what` and any other
 * unexpected exception into a KeyError too (callers promise KeyError only).
 * Error messages of other types are not copied: they could in principle
 * mention values; the original stays available as `cause`.
 */
export async function asKeyError<T>(what: string, f: () => T | Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    const k = KeyError.fromWire(what, e);
    if (k instanceof KeyError) throw k;
    throw new KeyError(what, `malformed file (${(e as Error)?.name ?? "error"})`, { cause: e });
  }
}

/** WebCrypto wants ArrayBuffer-backed views; a copy always is. */
export function ab(b: Uint8Array): Uint8Array<ArrayBuffer> {
  return b.slice();
}
