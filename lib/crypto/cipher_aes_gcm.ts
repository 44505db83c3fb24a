/**
 * AES-GCM as OpenSSH speaks it: `aes128-gcm@openssh.com` and
 * `aes256-gcm@openssh.com` (RFC 5647 §7, with OpenSSH PROTOCOL §1.6: the
 * cipher is negotiated alone and the MAC is implicit).
 *
 * - RFC 5647 §7.1: the 12-byte nonce is a 4-byte fixed field followed by an
 *   8-byte invocation counter, both from the key exchange's IV; the counter
 *   is a 64-bit big-endian integer incremented (mod 2^64) after each packet.
 * - RFC 5647 §7.2: packet_length is sent in clear and authenticated as the
 *   additional data; padding_length, payload and padding are encrypted.
 * - RFC 5647 §7.3: the 16-byte tag follows the ciphertext.
 *
 * Where the runtime's node:crypto is native and fast (Bun, Node:
 * `_node_crypto.ts`), AES-GCM runs there, synchronously. Elsewhere (Deno) it
 * runs in WebCrypto (`crypto.subtle`), except for packets whose encrypted
 * part is at most `SMALL_PACKET` bytes (`_aes_js.ts`, shared with AES-CTR):
 * a WebCrypto call costs 40-100 µs of CPU at any size, so those are sealed
 * and opened in JavaScript (`_gcm_small.ts`, about 2 µs for 64 bytes; the
 * measured crossover is about 2 KiB). All produce the same bytes; the nonce sequence is one.
 *
 * @module
 */
import { WireError } from "../wire/errors.ts";
import { MacError } from "./errors.ts";
import type { CipherAlgorithm, PacketOpener, PacketSealer } from "./types.ts";
import { SmallGcm } from "./_gcm_small.ts";
import { SMALL_PACKET } from "./_aes_js.ts";
import { nodeAes } from "./_node_crypto.ts";
import { sealTarget } from "./_seal.ts";
import { secretMade } from "./_secrets.ts";

const BLOCK = 16;
const TAG = 16;
const IV = 12;

/** WebCrypto's BufferSource wants ArrayBuffer-backed views; ours always are. */
type Bytes = Uint8Array<ArrayBuffer>;
const bytes = (u: Uint8Array): Bytes => u as Bytes;

/** A WebCrypto key, or the raw key for node:crypto. */
type Backend = CryptoKey | Uint8Array;

function readUint32(b: Uint8Array): number {
  return ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
}

/**
 * Returns the nonce for this packet and increments the invocation counter
 * (bytes 4..11, big-endian, mod 2^64; the fixed field never changes).
 */
function nextNonce(nonce: Uint8Array): Bytes {
  const current = nonce.slice();
  for (let i = IV - 1; i >= 4; i--) {
    nonce[i] = (nonce[i] + 1) & 0xff;
    if (nonce[i] !== 0) break;
  }
  return current;
}

/** Zeroes what a sealer or opener owns: its raw key (node:crypto), JavaScript state and nonce. */
function disposeGcm(key: Backend, small: SmallGcm | undefined, nonce: Uint8Array): void {
  if (key instanceof Uint8Array) key.fill(0);
  small?.wipe();
  nonce.fill(0);
}

class AesGcmSealer implements PacketSealer {
  readonly blockSize = BLOCK;
  readonly lengthApart = true;
  readonly overhead = TAG;
  readonly #key: Backend;
  readonly #small: SmallGcm | undefined;
  readonly #nonce: Uint8Array;

  constructor(key: Backend, small: SmallGcm | undefined, iv: Uint8Array) {
    this.#key = key;
    this.#small = small;
    this.#nonce = secretMade("AES-GCM nonce", iv.slice());
  }
  dispose(): void {
    disposeGcm(this.#key, this.#small, this.#nonce);
  }

  async seal(_seq: number, packet: Uint8Array, spare?: boolean): Promise<Uint8Array> {
    const iv = nextNonce(this.#nonce);
    const n = packet.length;
    const out = sealTarget(packet, TAG, spare);
    const aad = out.subarray(0, 4);
    const key = this.#key;
    if (key instanceof Uint8Array) {
      nodeAes()!.gcmSeal(key, iv, aad, out.subarray(4, n), out, 4);
      return out;
    }
    if (this.#small && n - 4 <= SMALL_PACKET) {
      this.#small.sealInto(iv, aad, out.subarray(4, n), out, 4);
      return out;
    }
    // WebCrypto copies its input when called, so encrypting "in place" is safe.
    const sealed = await crypto.subtle.encrypt(
      { name: "AES-GCM", iv, additionalData: bytes(aad), tagLength: TAG * 8 },
      key,
      bytes(out.subarray(4, n)),
    );
    out.set(new Uint8Array(sealed), 4);
    return out;
  }
}

class AesGcmOpener implements PacketOpener {
  readonly blockSize = BLOCK;
  readonly parallel = true;
  readonly lengthApart = true;
  readonly firstBlockSize = 4;
  readonly macLength = TAG;
  readonly #name: string;
  readonly #key: Backend;
  readonly #small: SmallGcm | undefined;
  readonly #nonce: Uint8Array;

  constructor(name: string, key: Backend, small: SmallGcm | undefined, iv: Uint8Array) {
    this.#name = name;
    this.#key = key;
    this.#small = small;
    this.#nonce = secretMade("AES-GCM nonce", iv.slice());
  }
  dispose(): void {
    disposeGcm(this.#key, this.#small, this.#nonce);
  }

  decryptLength(_seq: number, first: Uint8Array): Promise<number> {
    if (first.length < 4) {
      return Promise.reject(
        new WireError(`${this.#name}: ${first.length} bytes given, the length needs 4`, {
          field: "packet_length",
          offset: 0,
        }),
      );
    }
    return Promise.resolve(readUint32(first));
  }

  async open(seq: number, whole: Uint8Array): Promise<Uint8Array> {
    const n = readUint32(whole);
    if (whole.length !== 4 + n + TAG) {
      throw new WireError(
        `${this.#name}: packet is ${whole.length} bytes but packet_length ${n} ` +
          `and a ${TAG}-byte tag make ${4 + n + TAG}`,
        { field: "packet", offset: 0 },
      );
    }
    if (n % BLOCK !== 0 || n < BLOCK) {
      throw new WireError(
        `${this.#name}: packet_length ${n} is not a positive multiple of ${BLOCK}`,
        { field: "packet_length", offset: 0 },
      );
    }
    // The peer consumed this nonce whether or not the tag verifies.
    const iv = nextNonce(this.#nonce);
    const key = this.#key;
    if (key instanceof Uint8Array) {
      const plain = nodeAes()!.gcmOpen(key, iv, whole.subarray(0, 4), whole.subarray(4));
      if (!plain) throw new MacError(this.#name, seq);
      return plain;
    }
    if (this.#small && n <= SMALL_PACKET) {
      const plain = this.#small.open(iv, whole.subarray(0, 4), whole.subarray(4));
      if (!plain) throw new MacError(this.#name, seq);
      return plain;
    }
    let plain: ArrayBuffer;
    try {
      plain = await crypto.subtle.decrypt(
        { name: "AES-GCM", iv, additionalData: bytes(whole.subarray(0, 4)), tagLength: TAG * 8 },
        key,
        bytes(whole.subarray(4)),
      );
    } catch {
      throw new MacError(this.#name, seq);
    }
    return new Uint8Array(plain);
  }
}

function aesGcm(bits: 128 | 256): CipherAlgorithm {
  const name = `aes${bits}-gcm@openssh.com`;
  const keyLength = bits / 8;
  function importKey(key: Uint8Array, iv: Uint8Array): Promise<Backend> {
    if (key.length !== keyLength) {
      throw new RangeError(`${name}: key is ${key.length} bytes, expected ${keyLength}`);
    }
    if (iv.length !== IV) throw new RangeError(`${name}: IV is ${iv.length} bytes, expected ${IV}`);
    if (nodeAes()) return Promise.resolve(secretMade("AES key copy", key.slice()));
    return crypto.subtle.importKey("raw", bytes(key), "AES-GCM", false, ["encrypt", "decrypt"]);
  }
  const small = (key: Uint8Array) => nodeAes() ? undefined : SmallGcm.create(key);
  return Object.freeze({
    name,
    keyLength,
    ivLength: IV,
    blockSize: BLOCK,
    aead: true,
    async sealer(key: Uint8Array, iv: Uint8Array): Promise<PacketSealer> {
      return new AesGcmSealer(await importKey(key, iv), small(key), iv);
    },
    async opener(key: Uint8Array, iv: Uint8Array): Promise<PacketOpener> {
      return new AesGcmOpener(name, await importKey(key, iv), small(key), iv);
    },
  });
}

/**
 * `aes128-gcm@openssh.com` (RFC 5647 §7, OpenSSH PROTOCOL §1.6): 16-byte key,
 * 12-byte IV, 16-byte blocks and tag; no separate MAC.
 *
 * @example
 * ```ts
 * import { AES128_GCM } from "./cipher_aes_gcm.ts";
 * const key = new Uint8Array(16), iv = new Uint8Array(12);
 * const sealer = await AES128_GCM.sealer(key, iv);
 * const opener = await AES128_GCM.opener(key, iv);
 * const packet = new Uint8Array(20);
 * packet.set([0, 0, 0, 16, 10]);
 * const wire = await sealer.seal(0, packet);
 * const length = await opener.decryptLength(0, wire.subarray(0, 4)); // 16
 * console.log((await opener.open(0, wire.subarray(0, 4 + length + 16)))[0]); // 10
 * ```
 */
export const AES128_GCM: CipherAlgorithm = aesGcm(128);

/**
 * `aes256-gcm@openssh.com` (RFC 5647 §7, OpenSSH PROTOCOL §1.6): 32-byte key,
 * 12-byte IV, 16-byte tag.
 *
 * @example
 * ```ts
 * import { AES256_GCM } from "./cipher_aes_gcm.ts";
 * console.log(AES256_GCM.aead, AES256_GCM.keyLength); // true 32
 * ```
 */
export const AES256_GCM: CipherAlgorithm = aesGcm(256);
