/**
 * Decoding of the SSH data types (RFC 4251 §5) from a byte view.
 *
 * @module
 */
import { WireError } from "./errors.ts";
import { quotePeerText } from "./quote.ts";

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Reads RFC 4251 §5 data types from a `Uint8Array` view (any byteOffset).
 * Every method takes the name of the field it decodes, so that a failure
 * throws a {@link WireError} that says which field at which offset.
 * Strings are returned as sub-views: no copy.
 *
 * @example
 * ```ts
 * import { SshReader } from "./reader.ts";
 * const r = new SshReader(new Uint8Array([0, 0, 0, 2, 104, 105, 1]));
 * console.log(r.utf8("greeting"), r.boolean("flag")); // "hi" true
 * r.end("message");
 * ```
 */
export class SshReader {
  /** The bytes being read. */
  readonly bytes: Uint8Array;
  /** Offset of the next byte to read. */
  offset: number;
  #view: DataView;

  /** Reads from `bytes`, starting at `offset` (default 0). */
  constructor(bytes: Uint8Array, offset = 0) {
    this.bytes = bytes;
    this.offset = offset;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Bytes not read yet. */
  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  #need(n: number, field: string, what: string): void {
    if (this.offset + n > this.bytes.length) {
      throw new WireError(
        `${what} needs ${n} bytes but only ${this.bytes.length - this.offset} remain`,
        { field, offset: this.offset },
      );
    }
  }

  /** Reads the message number and checks it is `msg`; `name` names the message in the error. */
  expectMessage(msg: number, name: string): void {
    const start = this.offset;
    const got = this.byte(`${name} message number`);
    if (got !== msg) {
      throw new WireError(`expected message ${msg}, got ${got}`, {
        field: `${name} message number`,
        offset: start,
      });
    }
  }

  /** `byte` */
  byte(field: string): number {
    this.#need(1, field, "byte");
    return this.bytes[this.offset++];
  }

  /** `boolean`: any non-zero value is true (RFC 4251 §5). */
  boolean(field: string): boolean {
    return this.byte(field) !== 0;
  }

  /** `uint32` */
  uint32(field: string): number {
    this.#need(4, field, "uint32");
    const v = this.#view.getUint32(this.offset);
    this.offset += 4;
    return v;
  }

  /** `uint64` as a bigint. */
  uint64(field: string): bigint {
    this.#need(8, field, "uint64");
    const v = this.#view.getBigUint64(this.offset);
    this.offset += 8;
    return v;
  }

  /** `n` raw bytes as a sub-view. */
  raw(n: number, field: string): Uint8Array {
    this.#need(n, field, `${n} raw bytes`);
    const v = this.bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return v;
  }

  /** `string` as a sub-view of the underlying bytes. */
  string(field: string): Uint8Array {
    const start = this.offset;
    const len = this.uint32(field);
    if (len > this.bytes.length - this.offset) {
      this.offset = start;
      throw new WireError(
        `string length ${len} exceeds the ${this.bytes.length - start - 4} bytes left`,
        { field, offset: start },
      );
    }
    const v = this.bytes.subarray(this.offset, this.offset + len);
    this.offset += len;
    return v;
  }

  /** `string` decoded as UTF-8 (invalid UTF-8 is a {@link WireError}). */
  utf8(field: string): string {
    const start = this.offset;
    const b = this.string(field);
    try {
      return utf8.decode(b);
    } catch {
      throw new WireError("string is not valid UTF-8", { field, offset: start });
    }
  }

  /** `string` holding US-ASCII only (names, name-lists). */
  ascii(field: string): string {
    const start = this.offset;
    const b = this.string(field);
    let s = "";
    for (let i = 0; i < b.length; i++) {
      const c = b[i];
      if (c < 0x20 || c > 0x7e) {
        throw new WireError(`byte 0x${c.toString(16)} at index ${i} is not printable US-ASCII`, {
          field,
          offset: start,
        });
      }
      s += String.fromCharCode(c);
    }
    return s;
  }

  /** `mpint` as a bigint (two's complement, big-endian). */
  mpint(field: string): bigint {
    const start = this.offset;
    const b = this.string(field);
    if (b.length === 0) return 0n;
    if (b.length > 1 && ((b[0] === 0 && b[1] < 0x80) || (b[0] === 0xff && b[1] >= 0x80))) {
      throw new WireError("mpint has an unnecessary leading byte", { field, offset: start });
    }
    let v = 0n;
    for (const x of b) v = (v << 8n) | BigInt(x);
    if (b[0] & 0x80) v -= 1n << BigInt(b.length * 8);
    return v;
  }

  /** `mpint` that must be non-negative, as its unsigned big-endian magnitude (a sub-view, no leading zero). */
  mpintBytes(field: string): Uint8Array {
    const start = this.offset;
    const b = this.string(field);
    if (b.length === 0) return b;
    if (b[0] & 0x80) throw new WireError("mpint is negative", { field, offset: start });
    if (b[0] === 0) {
      if (b.length === 1 || b[1] < 0x80) {
        throw new WireError("mpint has an unnecessary leading byte", { field, offset: start });
      }
      return b.subarray(1);
    }
    return b;
  }

  /** `name-list`: comma-separated US-ASCII names, none empty (RFC 4251 §5). */
  nameList(field: string): string[] {
    const start = this.offset;
    const s = this.ascii(field);
    if (s === "") return [];
    const names = s.split(",");
    for (const n of names) {
      if (n === "") {
        throw new WireError(`name-list "${quotePeerText(s)}" contains an empty name`, {
          field,
          offset: start,
        });
      }
    }
    return names;
  }

  /** Everything not read yet, as a sub-view. */
  rest(): Uint8Array {
    const v = this.bytes.subarray(this.offset);
    this.offset = this.bytes.length;
    return v;
  }

  /** Asserts that every byte was consumed. */
  end(what: string): void {
    if (this.offset !== this.bytes.length) {
      throw new WireError(`${this.bytes.length - this.offset} unexpected trailing bytes`, {
        field: what,
        offset: this.offset,
      });
    }
  }
}
