import { test } from "node:test";
import assert from "node:assert/strict";
import { gcm } from "@noble/ciphers/aes.js";
import { AES128_GCM, AES256_GCM } from "./cipher_aes_gcm.ts";
import { MacError } from "./errors.ts";
import { WireError } from "../wire/errors.ts";
import type { CipherAlgorithm } from "./types.ts";
import { at, framePacket, hex, receive, toHex } from "./_test_util.ts";

const cat = (...parts: Uint8Array[]): Uint8Array => hex(parts.map(toHex).join(""));

/**
 * McGrew & Viega, "The Galois/Counter Mode of Operation (GCM)", Appendix B,
 * test cases 3 (AES-128) and 15 (AES-256): 64-byte plaintext, IV
 * cafebabefacedbaddecaf888, no additional data.
 */
const P = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72" +
  "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255";
const IV = "cafebabefacedbaddecaf888";
const MV = [
  {
    alg: AES128_GCM,
    key: "feffe9928665731c6d6a8f9467308308",
    c: "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e" +
      "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985",
    t: "4d5c2af327cd64a62cf35abd2ba6fab4",
  },
  {
    alg: AES256_GCM,
    key: "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
    c: "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa" +
      "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
    t: "b094dac5d93471bdec1a502270e3cc6c",
  },
];

test("aes-gcm: table entries", () => {
  assert.equal(AES128_GCM.name, "aes128-gcm@openssh.com");
  assert.equal(AES256_GCM.name, "aes256-gcm@openssh.com");
  for (const [alg, k] of [[AES128_GCM, 16], [AES256_GCM, 32]] as const) {
    assert.equal(alg.keyLength, k);
    assert.equal(alg.ivLength, 12);
    assert.equal(alg.blockSize, 16);
    assert.equal(alg.aead, true);
  }
});

test("aes-gcm: the reference GCM (noble) reproduces McGrew-Viega test cases 3 and 15", () => {
  // The SSH framing always authenticates the 4-byte packet_length, and no
  // published vector has exactly that; the tags below are therefore taken
  // from @noble/ciphers' GCM, an implementation independent of WebCrypto,
  // after checking it here against the published vectors.
  for (const v of MV) {
    assert.equal(toHex(gcm(hex(v.key), hex(IV)).encrypt(hex(P))), v.c + v.t);
  }
});

test("aes-gcm: McGrew-Viega plaintext sealed with SSH framing", async () => {
  for (const v of MV) {
    for (const offset of [0, 1, 6]) {
      const sealer = await v.alg.sealer(hex(v.key), hex(IV));
      assert.equal(sealer.blockSize, 16);
      assert.equal(sealer.lengthApart, true);
      assert.equal(sealer.overhead, 16);
      const packet = at(hex("00000040" + P), offset);
      const wire = await sealer.seal(3, packet);
      assert.equal(wire.length, 4 + 64 + 16);
      // RFC 5647 §7.2: packet_length in clear ...
      assert.equal(toHex(wire.subarray(0, 4)), "00000040");
      // ... the rest encrypted exactly as GCM encrypts it (published ciphertext) ...
      assert.equal(toHex(wire.subarray(4, 68)), v.c);
      // ... and the tag over packet_length as AAD (RFC 5647 §7.3)
      const ref = gcm(hex(v.key), hex(IV), hex("00000040")).encrypt(hex(P));
      assert.equal(toHex(wire.subarray(68)), toHex(ref.subarray(64)));
      assert.notEqual(toHex(wire.subarray(68)), v.t); // the AAD matters

      const opener = await v.alg.opener(hex(v.key), hex(IV));
      assert.equal(opener.firstBlockSize, 4);
      assert.equal(opener.macLength, 16);
      const whole = at(wire, offset + 1);
      assert.equal(await opener.decryptLength(3, whole.subarray(0, 4)), 64);
      assert.equal(toHex(await opener.open(3, whole)), P);
    }
  }
});

test("aes-gcm: the invocation counter increments per packet, as 64 bits, fixed field untouched", async () => {
  const key = hex(MV[0].key);
  for (
    const [iv, second] of [
      [IV, "cafebabefacedbaddecaf889"],
      ["00000001ffffffffffffffff", "000000010000000000000000"], // wraps mod 2^64
      ["aabbccdd00000000ffffffff", "aabbccdd0000000100000000"], // carries
    ]
  ) {
    const sealer = await AES128_GCM.sealer(key, hex(iv));
    const packet = hex("00000040" + P);
    await sealer.seal(0, packet.slice());
    const wire = await sealer.seal(1, packet.slice());
    const ref = gcm(key, hex(second), hex("00000040")).encrypt(hex(P));
    assert.equal(toHex(wire.subarray(4)), toHex(ref), `after ${iv}`);
  }
});

/** An RFC 4253 §6 packet for 16-byte blocks with the length apart. */
const packet = (payload: Uint8Array, offset: number): Uint8Array =>
  framePacket(payload, { blockSize: 16, lengthApart: true, offset, fill: 0x3c });

for (const alg of [AES128_GCM, AES256_GCM] as CipherAlgorithm[]) {
  test(`${alg.name}: many packets in a stream, odd offsets, sequence numbers wrapping`, async () => {
    const key = Uint8Array.from({ length: alg.keyLength }, (_, i) => i + 1);
    const iv = hex("0102030400000000fffffffa"); // the counter carries on the way
    const sealer = await alg.sealer(key, iv);
    const opener = await alg.opener(key, iv);
    const sent: Uint8Array[] = [];
    const wire: number[] = [];
    const start = 2 ** 32 - 3;
    for (let i = 0; i < 30; i++) {
      const payload = Uint8Array.from({ length: (i * 53) % 700 }, (_, j) => j ^ i);
      const p = packet(payload, i % 4);
      sent.push(p.slice(4));
      wire.push(...await sealer.seal((start + i) % 2 ** 32, p));
    }
    let rest = at(Uint8Array.from(wire), 5);
    for (let i = 0; i < 30; i++) {
      const r = await receive(opener, (start + i) % 2 ** 32, rest);
      assert.deepEqual(r.body, sent[i], `packet ${i}`);
      rest = r.rest;
    }
    assert.equal(rest.length, 0);
  });

  test(`${alg.name}: a flipped bit in length, ciphertext or tag is a MacError`, async () => {
    const key = new Uint8Array(alg.keyLength).fill(0x42);
    const iv = new Uint8Array(12).fill(7);
    const sealer = await alg.sealer(key, iv);
    const good = await sealer.seal(9, packet(new Uint8Array(40).fill(1), 0));
    const n = good.length - 20;
    for (let i = 0; i < good.length; i++) {
      const opener = await alg.opener(key, iv);
      const bad = good.slice();
      bad[i] ^= i < 4 ? 0x10 : 0x01; // for the length: keep it on the 16-byte grid
      const m = await opener.decryptLength(9, bad.subarray(0, 4));
      let whole = bad;
      if (i < 4) {
        // The length is clear and authenticated: a transport reads the
        // claimed length, then the tag fails.
        assert.equal(m, (n ^ (0x10 << (8 * (3 - i)))) >>> 0);
        if (m > 1000) continue;
        whole = new Uint8Array(4 + m + 16);
        whole.set(bad.subarray(0, Math.min(bad.length, whole.length)));
      }
      await assert.rejects(opener.open(9, whole), (e: unknown) => {
        assert.ok(e instanceof MacError, String(e));
        assert.equal(e.algorithm, alg.name);
        assert.equal(e.seq, 9);
        return true;
      });
    }
  });

  test(`${alg.name}: a lost packet leaves the nonces out of step: the tag fails`, async () => {
    const key = new Uint8Array(alg.keyLength).fill(0x42);
    const iv = new Uint8Array(12);
    const sealer = await alg.sealer(key, iv);
    const opener = await alg.opener(key, iv);
    await sealer.seal(0, packet(new Uint8Array(3), 0)); // never delivered
    const second = await sealer.seal(1, packet(new Uint8Array(3), 0));
    await assert.rejects(opener.open(0, second), MacError);
  });

  test(`${alg.name}: truncated, overlong or off-grid input is a WireError`, async () => {
    const key = new Uint8Array(alg.keyLength);
    const iv = new Uint8Array(12);
    const sealer = await alg.sealer(key, iv);
    const good = await sealer.seal(0, packet(new Uint8Array(10), 0));
    for (const len of [4, 19, good.length - 1]) {
      const opener = await alg.opener(key, iv);
      await assert.rejects(opener.open(0, good.subarray(0, len)), WireError);
    }
    const opener = await alg.opener(key, iv);
    await assert.rejects(opener.decryptLength(0, good.subarray(0, 2)), WireError);
    await assert.rejects(opener.open(0, cat(good, new Uint8Array(16))), WireError);
    const offGrid = hex("0000000c" + "00".repeat(12 + 16));
    await assert.rejects(opener.open(0, offGrid), WireError);
  });

  test(`${alg.name}: wrong key or IV length is refused`, async () => {
    await assert.rejects(
      alg.sealer(new Uint8Array(alg.keyLength + 1), new Uint8Array(12)),
      RangeError,
    );
    await assert.rejects(alg.opener(new Uint8Array(alg.keyLength), new Uint8Array(16)), RangeError);
  });
}
