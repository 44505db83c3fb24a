/**
 * Quoting of peer-controlled text for error messages, DISCONNECT
 * descriptions and log lines.
 *
 * @module
 */

/** Characters escaped in a string besides C0, DEL and C1: other controls,
 * format characters (bidi overrides, zero-width), surrogates, private use,
 * unassigned code points, and separators other than the ASCII space. */
const UNSAFE = /[\p{C}\p{Z}]/u;

/**
 * Makes text the peer controls safe to put into a message or a log line:
 * the result holds only printable characters, on one line, at most about
 * `max` characters long.
 *
 * - Bytes (`Uint8Array`) are not decoded: printable ASCII (0x20-0x7e) is
 *   kept, every other byte becomes `\xNN`.
 * - In a string, printable ASCII and printable non-ASCII characters are
 *   kept; C0 controls, DEL and C1 controls become `\xNN`; other
 *   non-printables (bidi overrides, zero-width and format characters, line
 *   and paragraph separators, non-ASCII spaces, lone surrogates, private use,
 *   unassigned code points) become `\u{XXXX}`.
 * - `\` becomes `\\` and `"` becomes `\"`, so the result can be put between
 *   double quotes and read back without ambiguity.
 * - When the escaped text would exceed `max` characters it is cut there (never
 *   inside an escape) and `...(N bytes)` is appended, N being the length of
 *   the original in bytes (UTF-8 for a string). Only the first `max`
 *   characters of the input are examined, plus one pass to count the bytes of
 *   a string, so a 250 KB name costs no more than a short one to quote.
 *
 * The result is not wrapped in quotes: add them where the message needs them.
 *
 * @example
 * ```ts
 * import { quotePeerText } from "./quote.ts";
 * console.log(quotePeerText("root\nAccepted publickey")); // root\x0aAccepted publickey
 * console.log(quotePeerText(new Uint8Array([0x61, 0x1b, 0xff]))); // a\x1b\xff
 * console.log(quotePeerText("x".repeat(300), 8)); // xxxxxxxx...(300 bytes)
 * ```
 */
export function quotePeerText(text: string | Uint8Array, max = 256): string {
  const bound = Math.max(0, Math.floor(max));
  const out = typeof text === "string" ? quoteString(text, bound) : quoteBytes(text, bound);
  if (out.complete) return out.text;
  const bytes = typeof text === "string" ? utf8Length(text) : text.length;
  return `${out.text}...(${bytes} bytes)`;
}

interface Quoted {
  text: string;
  complete: boolean;
}

function hex2(n: number): string {
  return "\\x" + n.toString(16).padStart(2, "0");
}

function quoteBytes(bytes: Uint8Array, max: number): Quoted {
  const parts: string[] = [];
  let length = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    const piece = b === 0x5c
      ? "\\\\"
      : b === 0x22
      ? '\\"'
      : b >= 0x20 && b < 0x7f
      ? String.fromCharCode(b)
      : hex2(b);
    if (length + piece.length > max) return { text: parts.join(""), complete: false };
    parts.push(piece);
    length += piece.length;
  }
  return { text: parts.join(""), complete: true };
}

function escapeCodePoint(cp: number): string {
  if (cp === 0x5c) return "\\\\";
  if (cp === 0x22) return '\\"';
  if (cp >= 0x20 && cp < 0x7f) return String.fromCharCode(cp);
  if (cp < 0xa0) return hex2(cp); // C0, DEL, C1
  const ch = String.fromCodePoint(cp);
  return UNSAFE.test(ch) ? `\\u{${cp.toString(16).toUpperCase().padStart(4, "0")}}` : ch;
}

function quoteString(text: string, max: number): Quoted {
  const parts: string[] = [];
  let length = 0;
  for (let i = 0; i < text.length;) {
    // A lone surrogate comes back from codePointAt as itself (0xd800-0xdfff).
    const cp = text.codePointAt(i)!;
    const piece = escapeCodePoint(cp);
    if (length + piece.length > max) return { text: parts.join(""), complete: false };
    parts.push(piece);
    length += piece.length;
    i += cp > 0xffff ? 2 : 1;
  }
  return { text: parts.join(""), complete: true };
}

/** UTF-8 length of a string (a lone surrogate counts as U+FFFD, 3 bytes). */
function utf8Length(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}
