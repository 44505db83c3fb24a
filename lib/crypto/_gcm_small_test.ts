import assert from "node:assert/strict";
import { test } from "node:test";
import { gcm } from "@noble/ciphers/aes.js";
import { SmallGcm } from "./_gcm_small.ts";
import { AES128_GCM, AES256_GCM } from "./cipher_aes_gcm.ts";
import { MacError } from "./errors.ts";

const unhex = (h: string) => Uint8Array.from(h.match(/../g) ?? [], (b) => parseInt(b, 16));
const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

// McGrew & Viega, "The Galois/Counter Mode of Operation", test cases 4 and 16
// (the NIST GCM validation suite's first vectors with AAD and a partial block).
const VECTORS = [
  {
    name: "test case 4 (AES-128, 60-byte P, 20-byte A)",
    k: "feffe9928665731c6d6a8f9467308308",
    iv: "cafebabefacedbaddecaf888",
    p: "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
    a: "feedfacedeadbeeffeedfacedeadbeefabaddad2",
    c: "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
    t: "5bc94fbc3221a5db94fae95ae7121a47",
  },
  {
    name: "test case 16 (AES-256, 60-byte P, 20-byte A)",
    k: "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
    iv: "cafebabefacedbaddecaf888",
    p: "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
    a: "feedfacedeadbeeffeedfacedeadbeefabaddad2",
    c: "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
    t: "76fc6ece0f4e1768cddf8853bb2d551b",
  },
];

for (const v of VECTORS) {
  test(`small GCM: ${v.name}`, () => {
    const g = SmallGcm.create(unhex(v.k));
    assert.ok(g, "the JavaScript path is available");
    const p = unhex(v.p);
    const out = new Uint8Array(p.length + 16);
    g.sealInto(unhex(v.iv), unhex(v.a), p, out, 0);
    assert.equal(hex(out), v.c + v.t);
    assert.equal(hex(g.open(unhex(v.iv), unhex(v.a), out)!), v.p);
  });
}

test("small GCM: equals noble's gcm() for 0..1100-byte messages, both key sizes, odd offsets", () => {
  for (const kl of [16, 32]) {
    const key = crypto.getRandomValues(new Uint8Array(kl));
    const g = SmallGcm.create(key)!;
    for (let len = 0; len <= 1100; len += 13) {
      const nonce = crypto.getRandomValues(new Uint8Array(12));
      const aad = crypto.getRandomValues(new Uint8Array(len % 5 === 0 ? 4 : len % 23));
      const p = crypto.getRandomValues(new Uint8Array(len));
      const ref = gcm(key, nonce, aad).encrypt(p);
      const out = new Uint8Array(3 + len + 16);
      g.sealInto(nonce, aad, p, out, 3);
      assert.deepEqual(out.subarray(3), ref, `seal, ${kl * 8}-bit key, ${len} bytes`);
      assert.deepEqual(g.open(nonce, aad, ref), p, `open, ${len} bytes`);
    }
  }
});

test("small GCM: a changed tag, body, AAD or nonce does not open", () => {
  const key = crypto.getRandomValues(new Uint8Array(16));
  const g = SmallGcm.create(key)!;
  const nonce = crypto.getRandomValues(new Uint8Array(12));
  const aad = new Uint8Array([0, 0, 0, 32]);
  const sealed = gcm(key, nonce, aad).encrypt(new Uint8Array(32).fill(7));
  for (const i of [0, 31, 32, 47]) {
    const bad = sealed.slice();
    bad[i] ^= 1;
    assert.equal(g.open(nonce, aad, bad), undefined, `byte ${i} flipped`);
  }
  assert.equal(g.open(nonce, new Uint8Array([0, 0, 0, 33]), sealed), undefined);
  assert.equal(g.open(nonce.map((b, i) => i === 11 ? b ^ 1 : b), aad, sealed), undefined);
  assert.equal(g.open(nonce, aad, sealed.subarray(0, 15)), undefined);
});

for (const alg of [AES128_GCM, AES256_GCM]) {
  test(`${alg.name}: packets on both sides of the JavaScript/WebCrypto size boundary interleave`, async () => {
    const key = crypto.getRandomValues(new Uint8Array(alg.keyLength));
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const sealer = await alg.sealer(key, iv);
    const opener = await alg.opener(key, iv);
    // packet_length = 1 + payload + padding, a multiple of 16: 1008..1040 straddle 1024.
    const sizes = [16, 1008, 1024, 1040, 2048, 32, 1024, 1040, 16];
    const wires = await Promise.all(sizes.map((n, seq) => {
      const packet = new Uint8Array(4 + n);
      new DataView(packet.buffer).setUint32(0, n);
      packet[4] = 4;
      packet.fill(seq + 1, 5);
      return sealer.seal(seq, packet);
    }));
    for (const [seq, wire] of wires.entries()) {
      // Independent reference: noble over the same nonce sequence.
      const nonce = iv.slice();
      new DataView(nonce.buffer).setBigUint64(
        4,
        new DataView(iv.buffer).getBigUint64(4) + BigInt(seq),
      );
      assert.deepEqual(
        wire.subarray(4),
        gcm(key, nonce, wire.subarray(0, 4)).encrypt(
          (() => {
            const p = new Uint8Array(sizes[seq]);
            p[0] = 4;
            p.fill(seq + 1, 1);
            return p;
          })(),
        ),
        `packet ${seq} (${sizes[seq]} bytes)`,
      );
      const plain = await opener.open(seq, wire);
      assert.equal(plain.length, sizes[seq]);
      assert.equal(plain[plain.length - 1], seq + 1);
    }
    // Tampering is a MacError on both paths.
    const opener2 = await alg.opener(key, iv);
    for (const [seq, wire] of wires.entries()) {
      const bad = wire.slice();
      bad[bad.length - 1] ^= 1;
      await assert.rejects(() => opener2.open(seq, bad), MacError, `packet ${seq}`);
    }
  });
}
