/**
 * mlkem768x25519-sha256: the PQ/T hybrid of ML-KEM-768 (FIPS 203) and
 * X25519 (RFC 7748) for SSH, draft-ietf-sshm-mlkem-hybrid-kex (as
 * implemented by OpenSSH 9.9 and later).
 *
 * @module
 */
import { ml_kem768 } from "@noble/post-quantum/ml-kem.js";
import { KexError } from "./errors.ts";
import { SHA256 } from "./hash.ts";
import { x25519KeyPair, x25519Shared } from "./kex_ecdh.ts";
import type { KexAlgorithm, KexClient, RandomSource } from "./types.ts";
import { secretMade, wipe } from "./_secrets.ts";

const NAME = "mlkem768x25519-sha256";
/** FIPS 203 ML-KEM-768 encapsulation key size. */
const MLKEM_PUBLIC = 1184;
/** FIPS 203 ML-KEM-768 ciphertext size. */
const MLKEM_CIPHERTEXT = 1088;
/** FIPS 203 keygen seed d || z. */
const MLKEM_SEED = 64;
/** FIPS 203 encapsulation randomness m. */
const MLKEM_MSG = 32;
const X25519_PUBLIC = 32;

/**
 * Sizes of the hybrid messages: C_INIT (client's SSH_MSG_KEX_HYBRID_INIT
 * value) and S_REPLY (server's SSH_MSG_KEX_HYBRID_REPLY value).
 *
 * @example
 * ```ts
 * import { MLKEM768X25519_SIZES } from "./kex_mlkem.ts";
 * console.log(MLKEM768X25519_SIZES.clientInit, MLKEM768X25519_SIZES.serverReply); // 1216 1120
 * ```
 */
export const MLKEM768X25519_SIZES: { readonly clientInit: number; readonly serverReply: number } =
  Object.freeze({
    clientInit: MLKEM_PUBLIC + X25519_PUBLIC,
    serverReply: MLKEM_CIPHERTEXT + X25519_PUBLIC,
  });

function take(random: RandomSource, n: number): Uint8Array {
  const b = random(n);
  if (b.length !== n) throw new RangeError(`random returned ${b.length} bytes, expected ${n}`);
  return b;
}

/** K = SHA-256(K_PQ || K_CL), sent to the exchange hash as a `string`. */
function combine(kPq: Uint8Array, kCl: Uint8Array): Uint8Array {
  const k = SHA256.digest(kPq, kCl);
  kPq.fill(0);
  kCl.fill(0);
  return k;
}

/**
 * mlkem768x25519-sha256 (draft-ietf-sshm-mlkem-hybrid-kex):
 *
 * - C_INIT = C_PK2 || C_PK1: the client's ML-KEM-768 encapsulation key
 *   (1184 bytes) then its X25519 public key (32 bytes);
 * - S_REPLY = S_CT2 || S_PK1: the ML-KEM-768 ciphertext (1088 bytes) then
 *   the server's X25519 public key (32 bytes);
 * - K = SHA-256(K_PQ || K_CL), with K_PQ the 32-byte ML-KEM shared secret
 *   and K_CL the 32-byte X25519 shared secret, encoded as a `string`
 *   (not an mpint) in the exchange hash and the KDF.
 *
 * Both public values travel as `string`s. The client's ML-KEM seed (64
 * bytes), the server's encapsulation randomness (32 bytes) and both X25519
 * secrets come from `random`, so a seeded RandomSource makes a run
 * reproducible. A malformed encapsulation key (FIPS 203 §7.2 modulus
 * check), a wrong length or a low-order X25519 key is a {@link KexError}.
 *
 * @example
 * ```ts
 * import { MLKEM768X25519_SHA256 } from "./kex_mlkem.ts";
 * import { defaultRandom } from "./types.ts";
 * const c = await MLKEM768X25519_SHA256.client(defaultRandom);
 * const s = await MLKEM768X25519_SHA256.server(c.publicValue, defaultRandom);
 * console.log((await c.finish(s.publicValue)).join() === s.secret.join()); // true
 * ```
 */
export const MLKEM768X25519_SHA256: KexAlgorithm = Object.freeze({
  name: NAME,
  hash: SHA256,
  kind: "single" as const,
  publicEncoding: "string" as const,
  secretEncoding: "string" as const,
  async client(random: RandomSource): Promise<KexClient> {
    const seed = take(random, MLKEM_SEED);
    const kem = ml_kem768.keygen(seed);
    seed.fill(0);
    secretMade("ML-KEM-768 decapsulation key", kem.secretKey);
    const ecdh = await x25519KeyPair(random);
    const publicValue = new Uint8Array(MLKEM768X25519_SIZES.clientInit);
    publicValue.set(kem.publicKey, 0);
    publicValue.set(ecdh.publicKey, MLKEM_PUBLIC);
    return {
      publicValue,
      async finish(serverReply: Uint8Array): Promise<Uint8Array> {
        if (serverReply.length !== MLKEM768X25519_SIZES.serverReply) {
          throw new KexError(
            `${NAME}: S_REPLY is ${serverReply.length} bytes, expected ${MLKEM768X25519_SIZES.serverReply}`,
          );
        }
        const ct = serverReply.subarray(0, MLKEM_CIPHERTEXT);
        const peer = serverReply.subarray(MLKEM_CIPHERTEXT);
        try {
          const kCl = await x25519Shared(NAME, "S_REPLY's X25519 key", ecdh.secretKey, peer);
          let kPq: Uint8Array;
          try {
            // Implicit rejection (FIPS 203 §6.3): a forged ciphertext yields a
            // pseudo-random key, which then fails the host-key signature.
            kPq = ml_kem768.decapsulate(ct, kem.secretKey);
          } catch (cause) {
            throw new KexError(`${NAME}: ML-KEM-768 decapsulation failed`, { cause });
          }
          return combine(kPq, kCl);
        } finally {
          // Both private keys serve this one exchange.
          wipe(ecdh.secretKey, kem.secretKey);
        }
      },
    };
  },
  async server(clientInit: Uint8Array, random: RandomSource) {
    if (clientInit.length !== MLKEM768X25519_SIZES.clientInit) {
      throw new KexError(
        `${NAME}: C_INIT is ${clientInit.length} bytes, expected ${MLKEM768X25519_SIZES.clientInit}`,
      );
    }
    const ek = clientInit.subarray(0, MLKEM_PUBLIC);
    const peer = clientInit.subarray(MLKEM_PUBLIC);
    const ecdh = await x25519KeyPair(random);
    let kCl: Uint8Array;
    try {
      kCl = await x25519Shared(NAME, "C_INIT's X25519 key", ecdh.secretKey, peer);
    } finally {
      wipe(ecdh.secretKey);
    }
    const msg = take(random, MLKEM_MSG);
    let enc: { cipherText: Uint8Array; sharedSecret: Uint8Array };
    try {
      enc = ml_kem768.encapsulate(ek, msg);
    } catch (cause) {
      throw new KexError(`${NAME}: C_INIT's ML-KEM-768 encapsulation key is invalid`, { cause });
    } finally {
      msg.fill(0);
    }
    const publicValue = new Uint8Array(MLKEM768X25519_SIZES.serverReply);
    publicValue.set(enc.cipherText, 0);
    publicValue.set(ecdh.publicKey, MLKEM_CIPHERTEXT);
    return { publicValue, secret: combine(enc.sharedSecret, kCl) };
  },
});
