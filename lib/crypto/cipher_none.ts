/**
 * The "none" cipher and MAC state every connection starts in (RFC 4253 §6.3:
 * "The initial state ... is no encryption", §6.4: "Initially, the MAC
 * algorithm MUST be none"). Packets pass through unchanged.
 *
 * "none" is deliberately absent from the negotiable table in `ciphers.ts`.
 *
 * @module
 */
import type { CipherAlgorithm, PacketOpener, PacketSealer } from "./types.ts";

/**
 * Outgoing protection before the first SSH_MSG_NEWKEYS: returns the packet
 * as it is. Padding aligns `4 + packet_length` to 8 bytes (RFC 4253 §6).
 *
 * @example
 * ```ts
 * import { NONE_SEALER } from "./cipher_none.ts";
 * const packet = new Uint8Array([0, 0, 0, 12, 4, 21, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
 * console.log((await NONE_SEALER.seal(0, packet)) === packet); // true
 * ```
 */
export const NONE_SEALER: PacketSealer = Object.freeze({
  blockSize: 8,
  lengthApart: false,
  overhead: 0,
  seal(_seq: number, packet: Uint8Array): Promise<Uint8Array> {
    return Promise.resolve(packet);
  },
});

/**
 * Incoming protection before the first SSH_MSG_NEWKEYS: reads packet_length
 * from the first 8 bytes (one "none" block; every packet is at least 16
 * bytes, RFC 4253 §6) and returns the packet body as a view, without copying.
 *
 * @example
 * ```ts
 * import { NONE_OPENER } from "./cipher_none.ts";
 * const whole = new Uint8Array([0, 0, 0, 12, 4, 21, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
 * const length = await NONE_OPENER.decryptLength(0, whole.subarray(0, 8)); // 12
 * const body = await NONE_OPENER.open(0, whole.subarray(0, 4 + length));
 * console.log(body[0], body[1]); // 4 21
 * ```
 */
export const NONE_OPENER: PacketOpener = Object.freeze({
  blockSize: 8,
  lengthApart: false,
  firstBlockSize: 8,
  macLength: 0,
  decryptLength(_seq: number, first: Uint8Array): Promise<number> {
    return Promise.resolve(
      ((first[0] << 24) | (first[1] << 16) | (first[2] << 8) | first[3]) >>> 0,
    );
  },
  open(_seq: number, whole: Uint8Array): Promise<Uint8Array> {
    return Promise.resolve(whole.subarray(4));
  },
});

/**
 * The "none" cipher as a {@link CipherAlgorithm}, for code that wants to treat
 * the initial state like any negotiated one. Its sealer and opener are
 * {@link NONE_SEALER} and {@link NONE_OPENER}; key, IV and MAC are ignored.
 *
 * @example
 * ```ts
 * import { NONE_CIPHER } from "./cipher_none.ts";
 * const sealer = await NONE_CIPHER.sealer(new Uint8Array(0), new Uint8Array(0));
 * console.log(sealer.blockSize); // 8
 * ```
 */
export const NONE_CIPHER: CipherAlgorithm = Object.freeze({
  name: "none",
  keyLength: 0,
  ivLength: 0,
  blockSize: 8,
  aead: false,
  sealer(): Promise<PacketSealer> {
    return Promise.resolve(NONE_SEALER);
  },
  opener(): Promise<PacketOpener> {
    return Promise.resolve(NONE_OPENER);
  },
});
