import assert from "node:assert/strict";
import { test } from "node:test";
import { ctr, gcm } from "@noble/ciphers/aes.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256, sha512 } from "@noble/hashes/sha2.js";
import { nodeAes, nodeHmac } from "./_node_crypto.ts";

const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";
const isDeno = !isBun && typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";
const rnd = (n: number) => crypto.getRandomValues(new Uint8Array(n));

test("node:crypto backends: each runtime uses the ones measured faster there", () => {
  if (isBun) {
    assert.ok(nodeAes(), "Bun: AES from node:crypto (BoringSSL)");
    assert.ok(nodeHmac(), "Bun: HMAC from node:crypto");
  } else if (isDeno) {
    assert.equal(nodeAes(), undefined, "Deno: AES stays on WebCrypto");
    assert.equal(nodeHmac(), undefined, "Deno: HMAC stays on WebCrypto");
  }
});

// The first test pins which backends each runtime uses; the rest check those in use.
const aes = nodeAes();
if (aes) {
  test("node:crypto AES-GCM and AES-CTR equal noble's on random inputs, and bad tags fail", () => {
    for (const kl of [16, 32]) {
      for (const len of [0, 1, 15, 16, 17, 100, 1024, 32768 + 5]) {
        const key = rnd(kl), nonce = rnd(12), aad = rnd(4), plain = rnd(len);
        const out = new Uint8Array(2 + len + 16);
        aes.gcmSeal(key, nonce, aad, plain, out, 2);
        assert.deepEqual(out.subarray(2), gcm(key, nonce, aad).encrypt(plain), `gcm ${kl} ${len}`);
        assert.deepEqual(aes.gcmOpen(key, nonce, aad, out.subarray(2)), plain);
        const bad = out.slice(2);
        bad[bad.length - 1] ^= 0x80;
        assert.equal(aes.gcmOpen(key, nonce, aad, bad), undefined);
        const counter = rnd(16);
        counter.fill(0xff, 12); // the low 32 bits wrap within the message: a full 128-bit counter
        assert.deepEqual(
          aes.ctr(key, counter, plain),
          ctr(key, counter).encrypt(plain),
          `ctr ${len}`,
        );
      }
    }
  });
}

const mac = nodeHmac();
if (mac) {
  test("node:crypto HMAC equals noble's over split parts", () => {
    for (const [name, hash] of [["sha256", sha256], ["sha512", sha512]] as const) {
      const key = rnd(hash.outputLen), a = rnd(4), b = rnd(1000);
      const whole = new Uint8Array(1004);
      whole.set(a);
      whole.set(b, 4);
      assert.deepEqual(mac(name, key, [a, b]), hmac(hash, key, whole));
    }
  });
}
