import assert from "node:assert/strict";
import { test } from "node:test";
import { poly1305 } from "@noble/ciphers/_poly1305.js";
import { poly1305Wasm } from "./_poly1305_wasm.ts";

const unhex = (h: string) => Uint8Array.from(h.match(/../g) ?? [], (b) => parseInt(b, 16));

const mac = poly1305Wasm();

test("poly1305 (WebAssembly): available on this runtime", () => {
  assert.ok(mac, "Deno and Bun both run WebAssembly; the known answer must pass");
});

if (mac) {
  test("poly1305 (WebAssembly): RFC 8439 §2.5.2 and A.3 vectors", () => {
    const v252 = mac(
      new TextEncoder().encode("Cryptographic Forum Research Group"),
      unhex("85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b"),
    );
    assert.equal(Buffer.from(v252).toString("hex"), "a8061dc1305136c6c22b8baf0c0127a9");
    // A.3 #1: all-zero key and message gives a zero tag.
    assert.deepEqual(mac(new Uint8Array(64), new Uint8Array(32)), new Uint8Array(16));
    // A.3 #5 and #6: h reaches 2^130 - 5 exactly / wraps (the final reduction's corner cases).
    const r2 = unhex("02" + "00".repeat(31));
    assert.equal(
      Buffer.from(mac(unhex("ff".repeat(16)), r2)).toString("hex"),
      "03" + "00".repeat(15),
    );
    const k6 = unhex("02" + "00".repeat(15) + "ff".repeat(16));
    assert.equal(
      Buffer.from(mac(unhex("02" + "00".repeat(15)), k6)).toString("hex"),
      "03" + "00".repeat(15),
    );
  });

  test("poly1305 (WebAssembly): equals noble's for 0..300-byte and large random messages, extreme keys", () => {
    const lengths = [...Array.from({ length: 301 }, (_, i) => i), 32768 + 16, 65536, 100_003];
    for (const [i, len] of lengths.entries()) {
      const key = new Uint8Array(32);
      const msg = new Uint8Array(len);
      for (let o = 0; o < len; o += 65536) crypto.getRandomValues(msg.subarray(o, o + 65536));
      crypto.getRandomValues(key);
      if (i % 5 === 0) msg.fill(0xff);
      if (i % 7 === 0) key.fill(0xff);
      assert.deepEqual(mac(msg, key), poly1305(msg, key), `length ${len}`);
    }
  });
}
