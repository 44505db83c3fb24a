/**
 * Helpers shared by the crypto layer's tests.
 *
 * @module
 */
import type { PacketOpener } from "./types.ts";

/** Hex (whitespace ignored) to bytes. */
export const hex = (s: string): Uint8Array =>
  Uint8Array.from(s.replace(/\s+/g, "").match(/../g) ?? [], (b) => parseInt(b, 16));

/** Bytes to lower-case hex. */
export const toHex = (b: Uint8Array): string =>
  Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

/** A copy of `b` placed at byte offset `offset` of a larger buffer, with 0xee around it. */
export function at(b: Uint8Array, offset: number): Uint8Array {
  const big = new Uint8Array(offset + b.length + 5).fill(0xee);
  big.set(b, offset);
  return big.subarray(offset, offset + b.length);
}

/** How {@link framePacket} frames a payload. */
export interface FrameOptions {
  /** The cipher's block size (8 or 16). */
  blockSize: number;
  /** The packet_length is apart (-etm MACs, AEAD ciphers): it is not aligned with the rest. */
  lengthApart: boolean;
  /** Byte offset of the result in its buffer (see {@link at}); 0 by default. */
  offset?: number;
  /** The padding bytes: one byte value, or `"random"`; 0 by default. */
  fill?: number | "random";
}

/**
 * An RFC 4253 §6 plaintext packet (uint32 packet_length, byte padding_length,
 * payload, at least 4 bytes of padding) filling whole blocks, copied to
 * `offset` of a larger buffer.
 */
export function framePacket(
  payload: Uint8Array,
  { blockSize, lengthApart, offset = 0, fill = 0 }: FrameOptions,
): Uint8Array {
  const head = lengthApart ? 1 : 5;
  let pad = blockSize - ((head + payload.length) % blockSize);
  if (pad < 4) pad += blockSize;
  const len = 1 + payload.length + pad;
  const p = new Uint8Array(4 + len);
  if (fill === "random") crypto.getRandomValues(p);
  else p.fill(fill);
  new DataView(p.buffer).setUint32(0, len);
  p[4] = pad;
  p.set(payload, 5);
  return at(p, offset);
}

/**
 * Reads one packet off the front of `stream` as a transport would
 * (decryptLength on the first block, then open on the whole packet).
 */
export async function receive(
  opener: PacketOpener,
  seq: number,
  stream: Uint8Array,
): Promise<{ body: Uint8Array; rest: Uint8Array }> {
  const n = await opener.decryptLength(seq, stream.subarray(0, opener.firstBlockSize));
  const whole = stream.subarray(0, 4 + n + opener.macLength);
  return { body: await opener.open(seq, whole), rest: stream.subarray(whole.length) };
}
