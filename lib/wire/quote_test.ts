import { test } from "node:test";
import assert from "node:assert/strict";
import { quotePeerText } from "./quote.ts";

test("quotePeerText keeps printable text unchanged", () => {
  assert.equal(quotePeerText("ssh-userauth"), "ssh-userauth");
  assert.equal(quotePeerText("curve25519-sha256,ext-info-c"), "curve25519-sha256,ext-info-c");
  assert.equal(quotePeerText("héllo wörld ✓ 日本"), "héllo wörld ✓ 日本");
  assert.equal(quotePeerText("😀"), "😀");
  assert.equal(quotePeerText(""), "");
});

test("quotePeerText escapes C0, DEL and C1 controls as \\xNN", () => {
  assert.equal(
    quotePeerText("x\nAccepted publickey for root"),
    "x\\x0aAccepted publickey for root",
  );
  assert.equal(
    quotePeerText("\r\t\0\x1b[31m\x7f\x85\x9b"),
    "\\x0d\\x09\\x00\\x1b[31m\\x7f\\x85\\x9b",
  );
  assert.doesNotMatch(quotePeerText("a\nb\rc\u2028d\u0085e"), /[\n\r\u2028\u0085]/);
});

test("quotePeerText escapes bidi, zero-width, separators and lone surrogates as \\u{...}", () => {
  assert.equal(quotePeerText("a\u202eb"), "a\\u{202E}b");
  assert.equal(
    quotePeerText("a\u200bb\u2028c\u2029d\u00a0e"),
    "a\\u{200B}b\\u{2028}c\\u{2029}d\\u{00A0}e",
  );
  assert.equal(quotePeerText("a\ud800b\udc00"), "a\\u{D800}b\\u{DC00}");
  assert.equal(quotePeerText("\ufeff"), "\\u{FEFF}");
});

test("quotePeerText escapes backslash and double quote so the result can be quoted", () => {
  assert.equal(quotePeerText('a\\x0a"b'), 'a\\\\x0a\\"b');
  assert.equal(quotePeerText(new Uint8Array([0x5c, 0x22])), '\\\\\\"');
});

test("quotePeerText on bytes keeps printable ASCII and escapes every other byte", () => {
  assert.equal(
    quotePeerText(new Uint8Array([0x61, 0x0a, 0x1b, 0x7f, 0x80, 0xc3, 0xa9, 0x7a])),
    "a\\x0a\\x1b\\x7f\\x80\\xc3\\xa9z",
  );
  const view = new Uint8Array([0, 0, 0x68, 0x69, 0]).subarray(2, 4);
  assert.equal(quotePeerText(view), "hi");
});

test("quotePeerText truncates at max characters with the original length", () => {
  assert.equal(quotePeerText("x".repeat(300), 8), "xxxxxxxx...(300 bytes)");
  assert.equal(quotePeerText("x".repeat(256)), "x".repeat(256));
  assert.equal(quotePeerText("x".repeat(257)), "x".repeat(256) + "...(257 bytes)");
  // the original length is in bytes: UTF-8 for a string
  assert.equal(quotePeerText("é".repeat(10), 4), "éééé...(20 bytes)");
  assert.equal(quotePeerText("😀".repeat(3), 2), "😀...(12 bytes)");
  assert.equal(quotePeerText(new Uint8Array(1000).fill(0x41), 3), "AAA...(1000 bytes)");
});

test("quotePeerText never cuts inside an escape and bounds the escaped length", () => {
  assert.equal(quotePeerText("ab\n", 5), "ab...(3 bytes)");
  assert.equal(quotePeerText("ab\n", 6), "ab\\x0a");
  assert.equal(quotePeerText(new Uint8Array(100), 10), "\\x00\\x00...(100 bytes)");
  const huge = quotePeerText("\n".repeat(250_000));
  assert.ok(huge.length < 256 + 20, `length ${huge.length}`);
  assert.match(huge, /^(\\x0a)+\.\.\.\(250000 bytes\)$/);
  assert.equal(quotePeerText("abc", 0), "...(3 bytes)");
});

test("a 208 KB list of unknown KEX names quotes to under 300 characters", () => {
  const names = Array.from({ length: 20_000 }, (_, i) => `unknown-kex-${i}`).join(",");
  assert.ok(names.length > 200_000);
  const q = quotePeerText(names);
  assert.ok(q.length < 300, `length ${q.length}`);
  assert.ok(q.endsWith(`...(${names.length} bytes)`));
  assert.ok(q.startsWith("unknown-kex-0,unknown-kex-1,"));
});
