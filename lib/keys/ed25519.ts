/**
 * ssh-ed25519 keys and signatures (RFC 8709, Ed25519 of RFC 8032).
 *
 * @module
 */
import { ed25519 } from "@noble/curves/ed25519.js";
import { defaultRandom, type RandomSource } from "../crypto/types.ts";
import { ed25519Signer, ed25519Verify } from "../crypto/webcrypto_curves.ts";
import { SshWriter } from "../wire/writer.ts";
import { KeyError } from "./errors.ts";
import { fingerprintSha256 } from "./fingerprint.ts";
import { encodeSignature, tryDecodeSignature } from "./signature.ts";
import type { PrivateKey, PublicKey } from "./types.ts";
import { constantTimeEqual } from "../crypto/constant_time.ts";

/** Key type and signature algorithm name (RFC 8709 §4, §6). */
const NAME = "ssh-ed25519";

/**
 * An ssh-ed25519 public key. Blob (RFC 8709 §4): `string "ssh-ed25519",
 * string key` with a 32-byte key.
 *
 * @example
 * ```ts
 * import { ed25519PublicKey } from "./ed25519.ts";
 * const key = ed25519PublicKey(new Uint8Array(32));
 * console.log(key.type, key.blob.length); // "ssh-ed25519" 51
 * ```
 */
export class Ed25519PublicKey implements PublicKey {
  /** Always "ssh-ed25519". */
  readonly type: string = NAME;
  /** The RFC 8709 §4 blob. */
  readonly blob: Uint8Array;
  /** The raw 32-byte public key (a view into {@link blob}). */
  readonly key: Uint8Array;

  /** Wraps a 32-byte raw key; prefer {@link ed25519PublicKey}. */
  constructor(key: Uint8Array) {
    if (key.length !== 32) {
      throw new KeyError(`${NAME} public key`, `key is ${key.length} bytes, expected 32`);
    }
    this.blob = new SshWriter(51).string(NAME).string(key).finish();
    this.key = this.blob.subarray(19);
  }

  /**
   * Verifies an ssh-ed25519 signature blob (RFC 8709 §6: `string
   * "ssh-ed25519", string signature` with a 64-byte signature). Strict RFC
   * 8032 §5.1.7 verification (canonical encodings only), in WebCrypto where
   * the runtime has Ed25519.
   */
  verify(
    signatureBlob: Uint8Array,
    data: Uint8Array,
    options: { algorithm: string },
  ): Promise<boolean> {
    if (options.algorithm !== NAME) return Promise.resolve(false);
    const sig = tryDecodeSignature(signatureBlob);
    if (sig === undefined || sig.algorithm !== NAME || sig.signature.length !== 64) {
      return Promise.resolve(false);
    }
    return ed25519Verify(this.key, sig.signature, data);
  }

  /** SHA-256 fingerprint of {@link blob}. */
  fingerprint(): string {
    return fingerprintSha256(this.blob);
  }
}

/**
 * Builds an ssh-ed25519 public key from its raw 32 bytes (RFC 8032 §5.1.5
 * encoding). Throws {@link KeyError} on any other length.
 *
 * @example
 * ```ts
 * import { ed25519PublicKey } from "./ed25519.ts";
 * console.log(ed25519PublicKey(new Uint8Array(32)).fingerprint().startsWith("SHA256:")); // true
 * ```
 */
export function ed25519PublicKey(key: Uint8Array): Ed25519PublicKey {
  return new Ed25519PublicKey(Uint8Array.from(key));
}

/**
 * An ssh-ed25519 private key. The seed is held privately and never appears
 * in messages or enumerable properties.
 *
 * @example
 * ```ts
 * import { ed25519PrivateKey } from "./ed25519.ts";
 * const key = ed25519PrivateKey(new Uint8Array(32).fill(7));
 * const sig = await key.sign("ssh-ed25519", new Uint8Array([1, 2, 3]));
 * console.log(await key.publicKey.verify(sig, new Uint8Array([1, 2, 3]), { algorithm: "ssh-ed25519" })); // true
 * ```
 */
export class Ed25519PrivateKey implements PrivateKey {
  /** Always "ssh-ed25519". */
  readonly type: string = NAME;
  /** The public half. */
  readonly publicKey: Ed25519PublicKey;
  /** ["ssh-ed25519"]. */
  readonly algorithms: readonly string[] = [NAME];
  #seed: Uint8Array;
  #sign: (data: Uint8Array) => Promise<Uint8Array>;

  /** Wraps a 32-byte seed (RFC 8032 §5.1.5 private key); prefer {@link ed25519PrivateKey}. */
  constructor(seed: Uint8Array) {
    if (seed.length !== 32) {
      throw new KeyError(`${NAME} private key`, `seed is ${seed.length} bytes, expected 32`);
    }
    this.#seed = Uint8Array.from(seed);
    this.#sign = ed25519Signer(this.#seed);
    this.publicKey = new Ed25519PublicKey(ed25519.getPublicKey(this.#seed));
  }

  /** Signs with Ed25519 (RFC 8032 §5.1.6) and returns the RFC 8709 §6 signature blob. */
  async sign(algorithm: string, data: Uint8Array): Promise<Uint8Array> {
    if (algorithm !== NAME) {
      throw new KeyError(
        `${NAME} private key`,
        `cannot sign with algorithm ${JSON.stringify(algorithm)}`,
      );
    }
    return encodeSignature(NAME, await this.#sign(data));
  }

  /**
   * The OpenSSH private key fields (PROTOCOL.key / sshkey_private_serialize):
   * `string pk(32), string sk(64) = seed || pk`, for writers of key files.
   */
  opensshPrivateFields(): Uint8Array {
    const sk = new Uint8Array(64);
    sk.set(this.#seed);
    sk.set(this.publicKey.key, 32);
    return new SshWriter(108).string(this.publicKey.key).string(sk).finish();
  }
}

/**
 * Builds an ssh-ed25519 private key from its 32-byte seed, or from the
 * 64-byte `seed || public key` form OpenSSH stores (the public half is then
 * checked). Throws {@link KeyError} on bad lengths or a mismatching public half.
 *
 * @example
 * ```ts
 * import { ed25519PrivateKey } from "./ed25519.ts";
 * const key = ed25519PrivateKey(crypto.getRandomValues(new Uint8Array(32)));
 * console.log(key.algorithms); // ["ssh-ed25519"]
 * ```
 */
export function ed25519PrivateKey(seed: Uint8Array): Ed25519PrivateKey {
  if (seed.length === 64) {
    const key = new Ed25519PrivateKey(seed.subarray(0, 32));
    const given = seed.subarray(32);
    if (!constantTimeEqual(key.publicKey.key, given)) {
      throw new KeyError(`${NAME} private key`, "the stored public half does not match the seed");
    }
    return key;
  }
  return new Ed25519PrivateKey(seed);
}

/**
 * Generates a fresh ssh-ed25519 private key from 32 bytes of `random`.
 *
 * @example
 * ```ts
 * import { generateEd25519 } from "./ed25519.ts";
 * const key = generateEd25519();
 * console.log(key.publicKey.fingerprint());
 * ```
 */
export function generateEd25519(random: RandomSource = defaultRandom): Ed25519PrivateKey {
  const seed = random(32);
  try {
    return new Ed25519PrivateKey(seed);
  } finally {
    seed.fill(0);
  }
}
