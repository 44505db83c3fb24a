import assert from "node:assert/strict";
import { test } from "node:test";
import { ctr as nobleCtr } from "@noble/ciphers/aes.js";
import { AesJs } from "./_aes_js.ts";
import { hex } from "./_test_util.ts";

test("JavaScript AES-CTR equals noble's ctr: every key size, 0..300 bytes, counters that carry", () => {
  const counters = [
    "00000000000000000000000000000000",
    "0102030405060708090a0b0c0d0e0ffe",
    "000000000000000000000000fffffffd", // low word wraps
    "00000000ffffffffffffffffffffffff", // carries through three words
    "fffffffffffffffffffffffffffffffe", // 2^128 wraps to 0
  ];
  for (const keyLength of [16, 24, 32]) {
    const key = crypto.getRandomValues(new Uint8Array(keyLength));
    const aes = AesJs.create(key);
    assert.ok(aes, "the JavaScript path is available");
    for (const c of counters) {
      for (let n = 0; n <= 300; n += n < 40 ? 1 : 37) {
        const data = crypto.getRandomValues(new Uint8Array(n));
        const expected = nobleCtr(key, hex(c)).encrypt(data);
        const out = new Uint8Array(n + 3);
        const counter = hex(c);
        aes.ctr(counter, data, out, 3);
        assert.deepEqual(out.subarray(3), expected, `key ${keyLength}, counter ${c}, ${n} bytes`);
        assert.deepEqual(counter, hex(c), "the caller's counter is left alone");
        const inPlace = data.slice();
        aes.ctr(hex(c), inPlace, inPlace, 0);
        assert.deepEqual(inPlace, expected, "in place");
      }
    }
  }
});

test("JavaScript AES: FIPS-197 C.1 (AES-128) through encryptWords", () => {
  const aes = AesJs.create(hex("000102030405060708090a0b0c0d0e0f"))!;
  const le = (b: Uint8Array, o: number) => new DataView(b.buffer).getUint32(o, true);
  const pt = hex("00112233445566778899aabbccddeeff");
  const { s0, s1, s2, s3 } = aes.encryptWords(le(pt, 0), le(pt, 4), le(pt, 8), le(pt, 12));
  const out = new Uint8Array(16);
  const dv = new DataView(out.buffer);
  [s0, s1, s2, s3].forEach((w, i) => dv.setUint32(4 * i, w, true));
  assert.deepEqual(out, hex("69c4e0d86a7b0430d8cdb78070b4c55a"));
});
