/**
 * Private byte helpers of the keys layer (base64, base64url, big-endian integers).
 *
 * @module
 */

/** Standard base64 with padding (RFC 4648 §4). */
export function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/** Decodes standard base64 (padding optional); throws on invalid input. */
export function fromBase64(text: string): Uint8Array {
  const s = atob(text);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** base64url without padding (RFC 4648 §5), as JWK uses it (RFC 7518 §6.3). */
export function toBase64Url(bytes: Uint8Array): string {
  return toBase64(bytes).replace(/=+$/, "").replaceAll("+", "-").replaceAll("/", "_");
}

/** Decodes base64url with or without padding. */
export function fromBase64Url(text: string): Uint8Array {
  const s = text.replaceAll("-", "+").replaceAll("_", "/");
  return fromBase64(s + "=".repeat((4 - (s.length % 4)) % 4));
}

/** The magnitude without leading zero bytes (a sub-view). */
export function stripLeadingZeros(b: Uint8Array): Uint8Array {
  let i = 0;
  while (i < b.length && b[i] === 0) i++;
  return b.subarray(i);
}

/** Unsigned big-endian bytes to bigint. */
export function bytesToBigint(b: Uint8Array): bigint {
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  return v;
}

/** Non-negative bigint to minimal unsigned big-endian bytes (zero is one 0 byte), or left-padded to `length`. */
export function bigintToBytes(v: bigint, length?: number): Uint8Array {
  if (v < 0n) throw new RangeError("negative value");
  let hex = v.toString(16);
  if (hex.length % 2) hex = "0" + hex;
  const n = hex.length / 2;
  const len = length ?? n;
  if (n > len) throw new RangeError(`value needs ${n} bytes, more than ${len}`);
  const out = new Uint8Array(len);
  for (let i = 0; i < n; i++) out[len - n + i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Number of significant bits of an unsigned big-endian magnitude. */
export function bitLength(b: Uint8Array): number {
  const m = stripLeadingZeros(b);
  if (m.length === 0) return 0;
  return (m.length - 1) * 8 + (32 - Math.clz32(m[0]));
}

/** Left-pads `b` with zeros to `length` bytes (returns `b` itself when already that long). */
export function leftPad(b: Uint8Array, length: number): Uint8Array {
  if (b.length === length) return b;
  const out = new Uint8Array(length);
  out.set(b, length - b.length);
  return out;
}

/** A printable, bounded rendering of an untrusted name for error messages. */
export function describeName(name: string): string {
  const shown = name.length > 64 ? `${name.slice(0, 64)}...` : name;
  return JSON.stringify(shown);
}
