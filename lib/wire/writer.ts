/**
 * Encoding of the SSH data types (RFC 4251 §5) into a growable buffer.
 *
 * @module
 */

const utf8 = new TextEncoder();

/**
 * Writes RFC 4251 §5 data types into a buffer that grows as needed.
 * `reserve` leaves room at the front (the transport uses it for the packet
 * header so that a payload is never copied twice).
 *
 * @example
 * ```ts
 * import { SshWriter } from "./writer.ts";
 * const bytes = new SshWriter().byte(5).string("ssh-userauth").finish();
 * console.log(bytes.length); // 17
 * ```
 */
export class SshWriter {
  #buf: Uint8Array;
  #view: DataView;
  #len: number;

  /** Starts an empty buffer of `capacity` bytes, with `reserve` bytes skipped at the front. */
  constructor(capacity = 256, reserve = 0) {
    this.#buf = new Uint8Array(Math.max(capacity, reserve + 16));
    this.#view = new DataView(this.#buf.buffer);
    this.#len = reserve;
  }

  /** Bytes written so far (including any reserved prefix). */
  get length(): number {
    return this.#len;
  }

  #grow(n: number): void {
    const need = this.#len + n;
    if (need <= this.#buf.length) return;
    let cap = this.#buf.length * 2;
    while (cap < need) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }

  /** `byte` */
  byte(v: number): this {
    this.#grow(1);
    this.#buf[this.#len++] = v;
    return this;
  }

  /** `boolean` */
  boolean(v: boolean): this {
    return this.byte(v ? 1 : 0);
  }

  /** `uint32` */
  uint32(v: number): this {
    this.#grow(4);
    this.#view.setUint32(this.#len, v >>> 0);
    this.#len += 4;
    return this;
  }

  /** `uint64` */
  uint64(v: bigint | number): this {
    this.#grow(8);
    this.#view.setBigUint64(this.#len, BigInt(v));
    this.#len += 8;
    return this;
  }

  /** Raw bytes with no length prefix. */
  raw(b: Uint8Array): this {
    this.#grow(b.length);
    this.#buf.set(b, this.#len);
    this.#len += b.length;
    return this;
  }

  /** `string`: a uint32 length then the bytes; a JS string is written as UTF-8. */
  string(v: Uint8Array | string): this {
    const b = typeof v === "string" ? utf8.encode(v) : v;
    this.uint32(b.length);
    return this.raw(b);
  }

  /** `mpint` from a bigint (two's complement, minimal length). */
  mpint(v: bigint): this {
    if (v === 0n) return this.uint32(0);
    const out = twosComplement(v);
    this.uint32(out.length);
    return this.raw(out);
  }

  /** `mpint` from an unsigned big-endian magnitude (leading zeros stripped, a zero byte added when the top bit is set). */
  mpintBytes(magnitude: Uint8Array): this {
    let i = 0;
    while (i < magnitude.length && magnitude[i] === 0) i++;
    const m = magnitude.subarray(i);
    if (m.length === 0) return this.uint32(0);
    if (m[0] & 0x80) {
      this.uint32(m.length + 1);
      this.byte(0);
    } else {
      this.uint32(m.length);
    }
    return this.raw(m);
  }

  /** `name-list` */
  nameList(names: readonly string[]): this {
    return this.string(names.join(","));
  }

  /** The written bytes, as a view of the internal buffer (no copy). */
  finish(): Uint8Array {
    return this.#buf.subarray(0, this.#len);
  }
}

/**
 * The minimal big-endian two's complement bytes of `v` (at least one byte):
 * the body of an SSH `mpint` (RFC 4251 §5) and of a DER INTEGER (X.690 §8.3).
 *
 * @example
 * ```ts
 * import { twosComplement } from "./writer.ts";
 * console.log(twosComplement(-129n)); // Uint8Array [255, 127]
 * ```
 */
export function twosComplement(v: bigint): Uint8Array {
  // Smallest n with -2^(8n-1) <= v < 2^(8n-1); negative values are v + 2^(8n).
  let n = 1;
  while (v >= 1n << BigInt(8 * n - 1) || v < -(1n << BigInt(8 * n - 1))) n++;
  let x = v < 0n ? v + (1n << BigInt(8 * n)) : v;
  const out = new Uint8Array(n);
  for (let i = n - 1; i >= 0; i--) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return out;
}

/**
 * Encodes one `string` field (uint32 length + bytes).
 *
 * @example
 * ```ts
 * import { encodeString } from "./writer.ts";
 * console.log(encodeString("ab")); // Uint8Array [0, 0, 0, 2, 97, 98]
 * ```
 */
export function encodeString(v: Uint8Array | string): Uint8Array {
  const b = typeof v === "string" ? utf8.encode(v) : v;
  return new SshWriter(b.length + 4).string(b).finish();
}

/**
 * Encodes one `mpint` field from an unsigned big-endian magnitude.
 *
 * @example
 * ```ts
 * import { encodeMpintBytes } from "./writer.ts";
 * console.log(encodeMpintBytes(new Uint8Array([0x80]))); // [0, 0, 0, 2, 0, 128]
 * ```
 */
export function encodeMpintBytes(magnitude: Uint8Array): Uint8Array {
  return new SshWriter(magnitude.length + 5).mpintBytes(magnitude).finish();
}
