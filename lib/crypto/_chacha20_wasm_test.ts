import assert from "node:assert/strict";
import { test } from "node:test";
import { chacha20, chacha20orig } from "@noble/ciphers/chacha.js";
import { chacha20Variant, chacha20Wasm } from "./_chacha20_wasm.ts";

const unhex = (h: string) => Uint8Array.from(h.match(/../g) ?? [], (b) => parseInt(b, 16));
const c = chacha20Wasm(chacha20orig);

test("chacha20 (WebAssembly): available on this runtime", () => {
  assert.ok(c, "Deno and Bun both run WebAssembly; the known answer must pass");
});

for (const variant of ["simd", "scalar"] as const) {
  test(`chacha20 (WebAssembly, ${variant}): compiles here and equals noble's chacha20orig, in place too`, () => {
    // Deno and Bun both have WebAssembly SIMD: the faster variant must be the one in use.
    const v = chacha20Variant(variant);
    for (const len of [0, 1, 63, 64, 65, 255, 256, 257, 700, 32768 + 48]) {
      const key = crypto.getRandomValues(new Uint8Array(32));
      const nonce = crypto.getRandomValues(new Uint8Array(8));
      const data = crypto.getRandomValues(new Uint8Array(len));
      for (const counter of [0, 1, 5]) {
        const want = chacha20orig(key, nonce, data, new Uint8Array(len), counter);
        assert.deepEqual(
          v(key, nonce, data, new Uint8Array(len), counter),
          want,
          `${len} @${counter}`,
        );
        const inPlace = data.slice();
        v(key, nonce, inPlace, inPlace, counter);
        assert.deepEqual(inPlace, want);
      }
    }
  });
}

if (c) {
  test("chacha20 (WebAssembly): RFC 8439 §2.4.2 (words 12..15 = counter 1, nonce 0, 0x4a000000, 0)", () => {
    // The original layout holds the IETF one when the 96-bit nonce's first word is the counter's high word.
    const key = unhex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    const plain = new TextEncoder().encode(
      "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
    );
    const ietfNonce = unhex("000000000000004a00000000");
    const want = chacha20(key, ietfNonce, plain, new Uint8Array(plain.length), 1);
    assert.equal(
      Buffer.from(want.subarray(0, 16)).toString("hex"),
      "6e2e359a2568f98041ba0728dd0d6981",
    );
    // counter = 1 | (0 << 32) and nonce = bytes 4..11 of the IETF nonce.
    const got = c(key, ietfNonce.subarray(4), plain, new Uint8Array(plain.length), 1);
    assert.deepEqual(got, want);
  });
}
