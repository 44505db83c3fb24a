/**
 * Helpers shared by the keys layer's tests.
 *
 * @module
 */
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";

/** Hex (case-insensitive, whitespace ignored, odd length left-padded with a 0) to bytes. */
export function hex(s: string): Uint8Array {
  const h = s.replace(/\s+/g, "").toLowerCase();
  return hexToBytes(h.length % 2 ? "0" + h : h);
}

/** Bytes to lower-case hex. */
export function toHex(b: Uint8Array): string {
  return bytesToHex(b);
}

/** A copy of `b` placed at byte offset `offset` of a larger buffer, with junk around it. */
export function atOffset(b: Uint8Array, offset = 7): Uint8Array {
  const buf = new Uint8Array(b.length + offset + 5).fill(0xa5);
  buf.set(b, offset);
  return buf.subarray(offset, offset + b.length);
}

/** UTF-8 encoding. */
export function utf8(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}
