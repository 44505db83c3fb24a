/**
 * AES in counter mode: `aes128-ctr`, `aes192-ctr`, `aes256-ctr` (RFC 4344
 * §4), with an HMAC either as encrypt-and-MAC (RFC 4253 §6.4) or as
 * encrypt-then-MAC (`-etm@openssh.com`, OpenSSH PROTOCOL §1.5).
 *
 * Where the runtime's node:crypto is native and fast (Bun, Node:
 * `_node_crypto.ts`), AES-CTR runs there, synchronously. Elsewhere (Deno) it
 * runs in WebCrypto (`crypto.subtle`, AES-CTR with a 128-bit counter; 192-bit
 * keys are accepted there too), except for packets whose encrypted part is
 * at most `SMALL_PACKET` bytes (and the first block of every encrypt-and-MAC
 * packet, which holds its length): a WebCrypto call costs 16-100 µs of CPU
 * at any size, so those go through the JavaScript AES of `_aes_js.ts` (the
 * one AES-GCM's small path uses). The HMAC makes the same choice
 * (`MacInstance.computeAsync`, see mac.ts) and runs beside the AES where the
 * construction allows: encrypt-and-MAC MACs and encrypts the plaintext at
 * once; -etm verifies before it decrypts. With -etm the opener is `parallel`.
 *
 * RFC 4344 §4: the counter X is a 128-bit big-endian integer, initialised to
 * the IV from the key exchange and incremented (mod 2^128) after every block;
 * it is never reset between packets. Every encrypted part of an SSH packet is
 * a whole number of 16-byte blocks, so each packet advances the counter by
 * exactly its block count, whichever path (JavaScript, WebCrypto,
 * node:crypto) computed its keystream: {@link take} claims the values.
 *
 * @module
 */
import { SshError, WireError } from "../wire/errors.ts";
import { MacError } from "./errors.ts";
import { constantTimeEqual } from "./constant_time.ts";
import { secretMade } from "./_secrets.ts";
import { nodeAes } from "./_node_crypto.ts";
import { sealTarget } from "./_seal.ts";
import { AesJs, SMALL_PACKET } from "./_aes_js.ts";
import type {
  CipherAlgorithm,
  MacInstance,
  OpenOptions,
  PacketOpener,
  PacketSealer,
} from "./types.ts";

const BLOCK = 16;

/** WebCrypto's BufferSource wants ArrayBuffer-backed views; ours always are. */
type Bytes = Uint8Array<ArrayBuffer>;
const bytes = (u: Uint8Array): Bytes => u as Bytes;

function readUint32(b: Uint8Array, at = 0): number {
  return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
}

/** Adds `blocks` to the 128-bit big-endian counter in place (mod 2^128). */
function advance(counter: Uint8Array, blocks: number): void {
  let carry = blocks;
  for (let i = BLOCK - 1; i >= 0 && carry !== 0; i--) {
    carry += counter[i];
    counter[i] = carry & 0xff;
    carry = Math.floor(carry / 256);
  }
}

/**
 * Claims the next `blocks` counter values: returns the counter for the first
 * one and moves the stream on, synchronously, so that calls made before an
 * earlier one settles still get their own keystream.
 */
function take(counter: Uint8Array, blocks: number): Bytes {
  const start = counter.slice();
  advance(counter, blocks);
  return start;
}

/** A WebCrypto key, or the raw key for node:crypto (Bun, Node: `_node_crypto.ts`). */
type Key = CryptoKey | Uint8Array;

/**
 * The cipher's key: for node:crypto, or for WebCrypto with the JavaScript
 * schedule for small packets beside it (undefined if that failed its check).
 */
interface Keys {
  key: Key;
  small: AesJs | undefined;
}

/** Zeroes what the sealer or opener owns: its raw key, schedule, counter and MAC. */
function disposeKeys(k: Keys, counter: Uint8Array, mac: MacInstance): void {
  if (k.key instanceof Uint8Array) k.key.fill(0);
  k.small?.wipe();
  counter.fill(0);
  mac.dispose?.();
}

/**
 * `data` XOR the keystream from `counter` (SP 800-38A §6.5). A small input
 * on the WebCrypto backend is done in JavaScript, in place (the result is
 * `data`); otherwise the result is a new array and `data` is read before
 * this returns.
 */
function ctr(k: Keys, counter: Bytes, data: Uint8Array): Uint8Array | Promise<Uint8Array> {
  const { key, small } = k;
  if (key instanceof Uint8Array) return nodeAes()!.ctr(key, counter, data);
  if (small && data.length <= SMALL_PACKET) {
    small.ctr(counter, data, data, 0);
    return data;
  }
  return crypto.subtle.encrypt({ name: "AES-CTR", counter, length: 128 }, key, bytes(data)).then(
    (b) => new Uint8Array(b),
  );
}

/**
 * The MAC of one packet through {@link MacInstance.computeAsync} when the
 * instance offers it (which picks JavaScript or WebCrypto by size). Reads
 * `part` before it returns.
 */
function macOf(mac: MacInstance, seq: number, part: Uint8Array): Promise<Uint8Array> {
  return mac.computeAsync?.(seq, part) ?? Promise.resolve(mac.compute(seq, part));
}

function aligned(name: string, n: number, what: string): void {
  if (n % BLOCK !== 0 || n < BLOCK) {
    throw new WireError(
      `${name}: ${what} is ${n} bytes, not a positive multiple of the ${BLOCK}-byte block`,
      { field: "packet_length", offset: 0 },
    );
  }
}

class AesCtrSealer implements PacketSealer {
  readonly blockSize = BLOCK;
  readonly lengthApart: boolean;
  readonly overhead: number;
  readonly #name: string;
  readonly #keys: Keys;
  readonly #counter: Uint8Array;
  readonly #mac: MacInstance;

  constructor(name: string, keys: Keys, iv: Uint8Array, mac: MacInstance) {
    this.#name = name;
    this.#keys = keys;
    this.#counter = secretMade("AES-CTR counter", iv.slice());
    this.#mac = mac;
    this.lengthApart = mac.algorithm.etm;
    this.overhead = mac.algorithm.macLength;
  }
  dispose(): void {
    disposeKeys(this.#keys, this.#counter, this.#mac);
  }

  async seal(seq: number, packet: Uint8Array, spare?: boolean): Promise<Uint8Array> {
    const macLength = this.overhead;
    const n = packet.length;
    if (this.lengthApart) {
      // OpenSSH PROTOCOL §1.5: packet_length in clear, the rest encrypted,
      // mac = MAC(key, seq || packet_length || ciphertext).
      aligned(this.#name, n - 4, "packet_length");
      const counter = take(this.#counter, (n - 4) / BLOCK);
      const out = sealTarget(packet, macLength, spare);
      out.set(await ctr(this.#keys, counter, out.subarray(4, n)), 4);
      out.set(await macOf(this.#mac, seq, out.subarray(0, n)), n);
      return out;
    }
    // RFC 4253 §6: the whole packet, length included, is encrypted, and
    // §6.4: mac = MAC(key, seq || unencrypted_packet). The MAC reads the
    // plaintext when called, so the encryption may then run in place, at
    // the same time.
    aligned(this.#name, n, "4 + packet_length");
    const counter = take(this.#counter, n / BLOCK);
    const tag = macOf(this.#mac, seq, packet);
    const out = sealTarget(packet, macLength, spare);
    out.set(await ctr(this.#keys, counter, out.subarray(0, n)));
    out.set(await tag, n);
    return out;
  }
}

class AesCtrOpener implements PacketOpener {
  readonly blockSize = BLOCK;
  readonly lengthApart: boolean;
  readonly firstBlockSize: number;
  readonly macLength: number;
  /**
   * -etm only: the length is in clear (decryptLength keeps no state) and
   * open takes its counter values synchronously, in call order, so the
   * reader may open several buffered packets at once. E&M keeps the
   * decrypted first block between the two calls, so it may not.
   */
  readonly parallel: boolean;
  readonly #name: string;
  readonly #keys: Keys;
  readonly #counter: Uint8Array;
  readonly #mac: MacInstance;
  /** E&M only: the decrypted first block, kept from decryptLength for open. */
  #first: Uint8Array | undefined;

  constructor(name: string, keys: Keys, iv: Uint8Array, mac: MacInstance) {
    this.#name = name;
    this.#keys = keys;
    this.#counter = secretMade("AES-CTR counter", iv.slice());
    this.#mac = mac;
    this.lengthApart = mac.algorithm.etm;
    this.firstBlockSize = this.lengthApart ? 4 : BLOCK;
    this.parallel = this.lengthApart;
    this.macLength = mac.algorithm.macLength;
  }
  dispose(): void {
    disposeKeys(this.#keys, this.#counter, this.#mac);
    this.#first?.fill(0);
  }

  async decryptLength(_seq: number, first: Uint8Array): Promise<number> {
    if (first.length < this.firstBlockSize) {
      throw new WireError(
        `${this.#name}: ${first.length} bytes given, the length needs ${this.firstBlockSize}`,
        { field: "packet_length", offset: 0 },
      );
    }
    if (this.lengthApart) return readUint32(first);
    // E&M: the length sits inside the first encrypted block (RFC 4253 §6).
    // One block: always cheaper in JavaScript when that path exists; a copy,
    // so the caller's ciphertext is left alone.
    const counter = take(this.#counter, 1);
    const block = await ctr(this.#keys, counter, first.slice(0, BLOCK));
    this.#first = block;
    return readUint32(block);
  }

  open(seq: number, whole: Uint8Array, options?: OpenOptions): Promise<Uint8Array> {
    return this.lengthApart
      ? this.#openEtm(seq, whole, options)
      : this.#openEncryptAndMac(seq, whole, options);
  }

  /**
   * A MAC did not verify: throws MacError unless the caller opted in with
   * `acceptMacError` and it accepts this packet. Off the normal path.
   */
  #macFailed(seq: number, options: OpenOptions | undefined): void {
    const error = new MacError(this.#mac.algorithm.name, seq);
    if (options?.acceptMacError?.(error) !== true) throw error;
  }

  #checkLength(whole: Uint8Array, packetLength: number): void {
    const expected = 4 + packetLength + this.macLength;
    if (whole.length !== expected) {
      throw new WireError(
        `${this.#name}: packet is ${whole.length} bytes but packet_length ${packetLength} ` +
          `and a ${this.macLength}-byte MAC make ${expected}`,
        { field: "packet", offset: 0 },
      );
    }
  }

  async #openEtm(seq: number, whole: Uint8Array, options?: OpenOptions): Promise<Uint8Array> {
    const n = readUint32(whole);
    this.#checkLength(whole, n);
    aligned(this.#name, n, "packet_length");
    // The peer used these counter values whether or not the MAC verifies.
    const counter = take(this.#counter, n / BLOCK);
    const end = 4 + n;
    // OpenSSH PROTOCOL §1.5: verify the MAC over the ciphertext before
    // decrypting anything (an accepted failure decrypts anyway).
    const tag = await macOf(this.#mac, seq, whole.subarray(0, end));
    if (!constantTimeEqual(tag, whole.subarray(end))) this.#macFailed(seq, options);
    whole.set(await ctr(this.#keys, counter, whole.subarray(4, end)), 4);
    return whole.subarray(4, end);
  }

  async #openEncryptAndMac(
    seq: number,
    whole: Uint8Array,
    options?: OpenOptions,
  ): Promise<Uint8Array> {
    const first = this.#first;
    if (first === undefined) {
      throw new SshError(`${this.#name}: open() called without decryptLength() for packet ${seq}`);
    }
    this.#first = undefined;
    const n = readUint32(first);
    this.#checkLength(whole, n);
    const end = 4 + n;
    aligned(this.#name, end, "4 + packet_length");
    const counter = take(this.#counter, end / BLOCK - 1);
    if (end > BLOCK) whole.set(await ctr(this.#keys, counter, whole.subarray(BLOCK, end)), BLOCK);
    whole.set(first, 0);
    // RFC 4253 §6.4: mac = MAC(key, seq || unencrypted_packet).
    // An accepted failure returns the plaintext already decrypted above.
    const tag = await macOf(this.#mac, seq, whole.subarray(0, end));
    if (!constantTimeEqual(tag, whole.subarray(end))) this.#macFailed(seq, options);
    return whole.subarray(4, end);
  }
}

function aesCtr(bits: 128 | 192 | 256): CipherAlgorithm {
  const name = `aes${bits}-ctr`;
  const keyLength = bits / 8;
  async function prepare(key: Uint8Array, iv: Uint8Array, mac: MacInstance | undefined) {
    if (key.length !== keyLength) {
      throw new RangeError(`${name}: key is ${key.length} bytes, expected ${keyLength}`);
    }
    if (iv.length !== BLOCK) {
      throw new RangeError(`${name}: IV is ${iv.length} bytes, expected ${BLOCK}`);
    }
    if (mac === undefined) throw new TypeError(`${name} needs a MAC`);
    if (nodeAes()) {
      return { keys: { key: secretMade("AES key copy", key.slice()), small: undefined }, mac };
    }
    const webKey = await crypto.subtle.importKey("raw", bytes(key), "AES-CTR", false, ["encrypt"]);
    return { keys: { key: webKey, small: AesJs.create(key) }, mac };
  }
  return Object.freeze({
    name,
    keyLength,
    ivLength: BLOCK,
    blockSize: BLOCK,
    aead: false,
    async sealer(key: Uint8Array, iv: Uint8Array, mac?: MacInstance): Promise<PacketSealer> {
      const p = await prepare(key, iv, mac);
      return new AesCtrSealer(name, p.keys, iv, p.mac);
    },
    async opener(key: Uint8Array, iv: Uint8Array, mac?: MacInstance): Promise<PacketOpener> {
      const p = await prepare(key, iv, mac);
      return new AesCtrOpener(name, p.keys, iv, p.mac);
    },
  });
}

/**
 * `aes128-ctr` (RFC 4344 §4): 16-byte key, 16-byte IV, 16-byte blocks. Needs a
 * MAC; with an `-etm@openssh.com` MAC the packet length travels in clear.
 *
 * @example
 * ```ts
 * import { AES128_CTR } from "./cipher_aes_ctr.ts";
 * import { HMAC_SHA2_256_ETM } from "./mac.ts";
 * const key = new Uint8Array(16), iv = new Uint8Array(16);
 * const sealer = await AES128_CTR.sealer(key, iv, HMAC_SHA2_256_ETM.create(new Uint8Array(32)));
 * const packet = new Uint8Array(36);
 * new DataView(packet.buffer).setUint32(0, 32);
 * console.log((await sealer.seal(3, packet)).length); // 68
 * ```
 */
export const AES128_CTR: CipherAlgorithm = aesCtr(128);

/**
 * `aes192-ctr` (RFC 4344 §4): 24-byte key, 16-byte IV.
 *
 * @example
 * ```ts
 * import { AES192_CTR } from "./cipher_aes_ctr.ts";
 * console.log(AES192_CTR.keyLength, AES192_CTR.ivLength); // 24 16
 * ```
 */
export const AES192_CTR: CipherAlgorithm = aesCtr(192);

/**
 * `aes256-ctr` (RFC 4344 §4): 32-byte key, 16-byte IV.
 *
 * @example
 * ```ts
 * import { AES256_CTR } from "./cipher_aes_ctr.ts";
 * import { HMAC_SHA2_512 } from "./mac.ts";
 * const opener = await AES256_CTR.opener(
 *   new Uint8Array(32),
 *   new Uint8Array(16),
 *   HMAC_SHA2_512.create(new Uint8Array(64)),
 * );
 * console.log(opener.firstBlockSize, opener.macLength); // 16 64
 * ```
 */
export const AES256_CTR: CipherAlgorithm = aesCtr(256);
