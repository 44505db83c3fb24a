/**
 * A small ASN.1 DER reader and writer (ITU-T X.690), enough for the key
 * formats OpenSSL and ssh-keygen write: PKCS#1, SEC1, PKCS#8 (RFC 5208,
 * RFC 5958), SubjectPublicKeyInfo (RFC 5280) and PBES2 (RFC 8018).
 *
 * @module
 */
import { KeyError } from "./errors.ts";
import { twosComplement } from "../wire/writer.ts";

/**
 * Universal tags used by the key formats.
 *
 * @example
 * ```ts
 * import { Tag } from "./der.ts";
 * console.log(Tag.SEQUENCE); // 0x30
 * ```
 */
export const Tag = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/**
 * One decoded DER element: its tag, its content bytes (a view), and where it
 * started, for error messages.
 *
 * @example
 * ```ts
 * import type { DerElement } from "./der.ts";
 * const isSeq = (e: DerElement) => e.tag === 0x30;
 * ```
 */
export interface DerElement {
  /** The identifier octet (class, constructed bit and tag number < 31). */
  readonly tag: number;
  /** The content octets. */
  readonly content: Uint8Array;
  /** Offset of the identifier octet within the outermost input. */
  readonly offset: number;
}

/**
 * Reads DER elements in sequence from `bytes`; `what` names the structure in
 * errors (e.g. "PKCS#8 private key").
 *
 * @example
 * ```ts
 * import { DerReader, Tag } from "./der.ts";
 * const r = new DerReader(new Uint8Array([0x30, 3, 0x02, 1, 5]), "example");
 * const seq = r.sequence("outer");
 * console.log(seq.integer("n")); // 5n
 * ```
 */
export class DerReader {
  #bytes: Uint8Array;
  #pos = 0;
  #base: number;
  #what: string;

  /** Reads `bytes` of `what`; `options.base` is their offset within the outermost input. */
  constructor(bytes: Uint8Array, what: string, options: { base?: number } = {}) {
    this.#bytes = bytes;
    this.#what = what;
    this.#base = options.base ?? 0;
  }

  /** True when every byte was read. */
  get done(): boolean {
    return this.#pos >= this.#bytes.length;
  }

  #fail(field: string, problem: string, at = this.#pos): never {
    throw new KeyError(this.#what, `${field} at DER offset ${this.#base + at}: ${problem}`);
  }

  /** The tag of the next element, without reading it (undefined at the end). */
  peekTag(): number | undefined {
    return this.done ? undefined : this.#bytes[this.#pos];
  }

  /** Reads any element. */
  element(field: string): DerElement {
    const start = this.#pos;
    const b = this.#bytes;
    if (start + 2 > b.length) this.#fail(field, "truncated element header");
    const tag = b[start];
    if ((tag & 0x1f) === 0x1f) this.#fail(field, "multi-byte tags are not used by key formats");
    let len = b[start + 1];
    let p = start + 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      if (n === 0 || n > 4) this.#fail(field, `unsupported length of ${n} length octets`);
      if (p + n > b.length) this.#fail(field, "truncated length");
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + b[p + i];
      if (len < 0x80 || b[p] === 0) this.#fail(field, "non-minimal length encoding");
      p += n;
    }
    if (p + len > b.length) {
      this.#fail(field, `length ${len} exceeds the ${b.length - p} bytes left`);
    }
    this.#pos = p + len;
    return { tag, content: b.subarray(p, p + len), offset: this.#base + start };
  }

  /** Reads an element that must have tag `tag`. */
  expect(tag: number, field: string): DerElement {
    const at = this.#pos;
    const e = this.element(field);
    if (e.tag !== tag) {
      this.#fail(field, `expected tag 0x${tag.toString(16)}, found 0x${e.tag.toString(16)}`, at);
    }
    return e;
  }

  /** Reads a SEQUENCE and returns a reader over its content. */
  sequence(field: string): DerReader {
    const e = this.expect(Tag.SEQUENCE, field);
    return new DerReader(e.content, this.#what, {
      base: e.offset + headerLength(e.content.length),
    });
  }

  /** Reads an INTEGER as a bigint (two's complement). */
  integer(field: string): bigint {
    const c = this.expect(Tag.INTEGER, field).content;
    if (c.length === 0) this.#fail(field, "empty INTEGER");
    let v = 0n;
    for (const x of c) v = (v << 8n) | BigInt(x);
    if (c[0] & 0x80) v -= 1n << BigInt(c.length * 8);
    return v;
  }

  /** Reads a non-negative INTEGER as its unsigned big-endian magnitude (no leading zeros). */
  unsignedBytes(field: string): Uint8Array {
    const at = this.#pos;
    const c = this.expect(Tag.INTEGER, field).content;
    if (c.length === 0) this.#fail(field, "empty INTEGER", at);
    if (c[0] & 0x80) this.#fail(field, "INTEGER is negative", at);
    let i = 0;
    while (i < c.length - 1 && c[i] === 0) i++;
    return c.subarray(i);
  }

  /** Reads an INTEGER that must fit a JS number. */
  small(field: string): number {
    const v = this.integer(field);
    if (v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER)) {
      this.#fail(field, `INTEGER ${v} out of range`);
    }
    return Number(v);
  }

  /** Reads an OBJECT IDENTIFIER in dotted form. */
  oid(field: string): string {
    const c = this.expect(Tag.OID, field).content;
    if (c.length === 0) this.#fail(field, "empty OBJECT IDENTIFIER");
    const parts: number[] = [];
    let v = 0;
    for (const x of c) {
      v = v * 128 + (x & 0x7f);
      if (!(x & 0x80)) {
        parts.push(v);
        v = 0;
      }
    }
    const first = parts.shift()!;
    const a = first < 80 ? Math.floor(first / 40) : 2;
    return [a, first - a * 40, ...parts].join(".");
  }

  /** Reads an OCTET STRING. */
  octetString(field: string): Uint8Array {
    return this.expect(Tag.OCTET_STRING, field).content;
  }

  /** Reads a BIT STRING with no unused bits. */
  bitString(field: string): Uint8Array {
    const at = this.#pos;
    const c = this.expect(Tag.BIT_STRING, field).content;
    if (c.length === 0 || c[0] !== 0) this.#fail(field, "BIT STRING with unused bits", at);
    return c.subarray(1);
  }

  /** Reads NULL. */
  null(field: string): void {
    if (this.expect(Tag.NULL, field).content.length !== 0) this.#fail(field, "NULL with content");
  }

  /** Reads an optional context-specific element `[n]` (constructed, explicit) if it is next. */
  optionalContext(n: number, field: string): DerReader | undefined {
    if (this.peekTag() !== (0xa0 | n)) return undefined;
    const e = this.element(field);
    return new DerReader(e.content, this.#what, {
      base: e.offset + headerLength(e.content.length),
    });
  }

  /** Fails unless every byte was read. */
  end(field: string): void {
    if (!this.done) {
      this.#fail(field, `${this.#bytes.length - this.#pos} unexpected trailing bytes`);
    }
  }
}

/**
 * Builds DER: each function returns the encoded element.
 *
 * @example
 * ```ts
 * import { der } from "./der.ts";
 * const bytes = der.sequence(der.integer(5n), der.null());
 * console.log(bytes); // [0x30, 5, 0x02, 1, 5, 0x05, 0]
 * ```
 */
export const der = {
  /** Any element from its tag and content. */
  element(tag: number, content: Uint8Array): Uint8Array {
    const n = content.length;
    const len = n < 0x80
      ? [n]
      : n < 0x100
      ? [0x81, n]
      : n < 0x10000
      ? [0x82, n >> 8, n & 0xff]
      : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
    const out = new Uint8Array(1 + len.length + n);
    out[0] = tag;
    out.set(len, 1);
    out.set(content, 1 + len.length);
    return out;
  },
  /** SEQUENCE of the given encoded elements. */
  sequence(...items: Uint8Array[]): Uint8Array {
    return der.element(Tag.SEQUENCE, concat(items));
  },
  /** INTEGER from a bigint (minimal two's complement). */
  integer(v: bigint): Uint8Array {
    return der.element(Tag.INTEGER, twosComplement(v));
  },
  /** INTEGER from an unsigned big-endian magnitude. */
  unsigned(magnitude: Uint8Array): Uint8Array {
    let i = 0;
    while (i < magnitude.length - 1 && magnitude[i] === 0) i++;
    const m = magnitude.subarray(i);
    return der.element(Tag.INTEGER, m.length && m[0] & 0x80 ? concat([new Uint8Array([0]), m]) : m);
  },
  /** OBJECT IDENTIFIER from dotted form. */
  oid(dotted: string): Uint8Array {
    const p = dotted.split(".").map(Number);
    const values = [p[0] * 40 + p[1], ...p.slice(2)];
    const bytes: number[] = [];
    for (const v of values) {
      const chunk = [v & 0x7f];
      let x = Math.floor(v / 128);
      while (x > 0) {
        chunk.unshift((x & 0x7f) | 0x80);
        x = Math.floor(x / 128);
      }
      bytes.push(...chunk);
    }
    return der.element(Tag.OID, Uint8Array.from(bytes));
  },
  /** OCTET STRING. */
  octetString(b: Uint8Array): Uint8Array {
    return der.element(Tag.OCTET_STRING, b);
  },
  /** BIT STRING with no unused bits. */
  bitString(b: Uint8Array): Uint8Array {
    return der.element(Tag.BIT_STRING, concat([new Uint8Array([0]), b]));
  },
  /** NULL. */
  null(): Uint8Array {
    return new Uint8Array([Tag.NULL, 0]);
  },
  /** Context-specific constructed `[n]` wrapping `inner`. */
  context(n: number, inner: Uint8Array): Uint8Array {
    return der.element(0xa0 | n, inner);
  },
};

/** Bytes of identifier and length octets for a content of `n` bytes. */
function headerLength(n: number): number {
  return n < 0x80 ? 2 : n < 0x100 ? 3 : n < 0x10000 ? 4 : 5;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * PEM armor (RFC 7468): finds the block with `label` (or any label when
 * omitted) and returns its label, headers (RFC 1421 style, as OpenSSL's
 * traditional encrypted PEM uses) and decoded bytes.
 *
 * @example
 * ```ts
 * import { pemDecode, pemEncode } from "./der.ts";
 * const text = pemEncode("TEST", new Uint8Array([1, 2, 3]));
 * console.log(pemDecode(text).bytes); // [1, 2, 3]
 * ```
 */
export function pemDecode(
  text: string,
  label?: string,
): { label: string; headers: Map<string, string>; bytes: Uint8Array } {
  const re = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/g;
  for (const m of text.matchAll(re)) {
    if (label !== undefined && m[1] !== label) continue;
    const headers = new Map<string, string>();
    let body = m[2];
    const blank = body.search(/\r?\n\r?\n/);
    if (/^[A-Za-z-]+:/.test(body) && blank >= 0) {
      for (const line of body.slice(0, blank).split(/\r?\n/)) {
        const i = line.indexOf(":");
        if (i > 0) headers.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
      }
      body = body.slice(blank);
    }
    const b64 = body.replace(/\s+/g, "");
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) {
      throw new KeyError(`PEM ${m[1]}`, "body is not valid base64");
    }
    let bin: string;
    try {
      bin = atob(b64);
    } catch {
      // The pattern lets through padding that does not end a multiple of 4 characters.
      throw new KeyError(`PEM ${m[1]}`, "body is not valid base64");
    }
    return { label: m[1], headers, bytes: Uint8Array.from(bin, (c) => c.charCodeAt(0)) };
  }
  throw new KeyError(
    "PEM",
    label ? `no "-----BEGIN ${label}-----" block found` : "no PEM block found",
  );
}

/**
 * Encodes bytes as a PEM block with 64-column base64 lines (RFC 7468 §2).
 *
 * @example
 * ```ts
 * import { pemEncode } from "./der.ts";
 * console.log(pemEncode("PUBLIC KEY", new Uint8Array(4)));
 * ```
 */
export function pemEncode(label: string, bytes: Uint8Array): string {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  const b64 = btoa(bin).replace(/.{64}/g, "$&\n").replace(/\n$/, "");
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}
