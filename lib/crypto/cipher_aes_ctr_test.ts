import { test } from "node:test";
import assert from "node:assert/strict";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256, sha512 } from "@noble/hashes/sha2.js";
import { ctr as nobleCtr } from "@noble/ciphers/aes.js";
import { nodeAes } from "./_node_crypto.ts";
import { AES128_CTR, AES192_CTR, AES256_CTR } from "./cipher_aes_ctr.ts";
import { MacError } from "./errors.ts";
import { HMAC_SHA2_256, HMAC_SHA2_256_ETM, HMAC_SHA2_512, HMAC_SHA2_512_ETM } from "./mac.ts";
import { SshError, WireError } from "../wire/errors.ts";
import type { CipherAlgorithm, MacAlgorithm, MacInstance } from "./types.ts";
import { at, framePacket, hex, receive, toHex } from "./_test_util.ts";

const u32 = (n: number): string => n.toString(16).padStart(8, "0");

/** NIST SP 800-38A, Appendix F.5.1, F.5.3, F.5.5 (CTR-AES128/192/256.Encrypt). */
const CTR0 = "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";
const PT = "6bc1bee22e409f96e93d7e117393172a" + "ae2d8a571e03ac9c9eb76fac45af8e51" +
  "30c81c46a35ce411e5fbc1191a0a52ef" + "f69f2445df4f9b17ad2b417be66c3710";
const NIST = [
  {
    alg: AES128_CTR,
    key: "2b7e151628aed2a6abf7158809cf4f3c",
    ct: "874d6191b620e3261bef6864990db6ce" + "9806f66b7970fdff8617187bb9fffdff" +
      "5ae4df3edbd5d35e5b4f09020db03eab" + "1e031dda2fbe03d1792170a0f3009cee",
  },
  {
    alg: AES192_CTR,
    key: "8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b",
    ct: "1abc932417521ca24f2b0459fe7e6e0b" + "090339ec0aa6faefd5ccc2c6f4ce8e94" +
      "1e36b26bd1ebc670d1bd1d665620abf7" + "4f78a7f6d29809585a97daec58c6b050",
  },
  {
    alg: AES256_CTR,
    key: "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
    ct: "601ec313775789a5b7a7f504bbf3d228" + "f443e3ca4d62b59aca84e990cacaf5c5" +
      "2b0930daa23de94ce87017ba2d84988d" + "dfc9c58db67aada613c2dd08457941a6",
  },
];
const MAC_KEY = hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
const refMac = (seq: number, data: string) => toHex(hmac(sha256, MAC_KEY, hex(u32(seq) + data)));

test("aes-ctr: table entries", () => {
  for (const [alg, bits] of [[AES128_CTR, 128], [AES192_CTR, 192], [AES256_CTR, 256]] as const) {
    assert.equal(alg.name, `aes${bits}-ctr`);
    assert.equal(alg.keyLength, bits / 8);
    assert.equal(alg.ivLength, 16);
    assert.equal(alg.blockSize, 16);
    assert.equal(alg.aead, false);
  }
});

test("aes-ctr: NIST SP 800-38A F.5 through encrypt-and-MAC framing, one packet and two", async () => {
  for (const v of NIST) {
    // RFC 4253 §6: the whole packet is encrypted; the MAC is over the plaintext.
    const sealer = await v.alg.sealer(hex(v.key), hex(CTR0), HMAC_SHA2_256.create(MAC_KEY));
    assert.equal(sealer.lengthApart, false);
    assert.equal(sealer.overhead, 32);
    const wire = await sealer.seal(7, at(hex(PT), 3));
    assert.equal(toHex(wire.subarray(0, 64)), v.ct, v.alg.name);
    assert.equal(toHex(wire.subarray(64)), refMac(7, PT));

    // RFC 4344 §4: the counter runs on across packets.
    const split = await v.alg.sealer(hex(v.key), hex(CTR0), HMAC_SHA2_256.create(MAC_KEY));
    const a = await split.seal(1, hex(PT.slice(0, 64)));
    const b = await split.seal(2, at(hex(PT.slice(64)), 1));
    assert.equal(toHex(a.subarray(0, 32)) + toHex(b.subarray(0, 32)), v.ct);
    assert.equal(toHex(b.subarray(32)), refMac(2, PT.slice(64)));
  }
});

test("aes-ctr: NIST SP 800-38A F.5 through encrypt-then-MAC framing, seal and open", async () => {
  for (const v of NIST) {
    // OpenSSH PROTOCOL §1.5: packet_length in clear, the rest encrypted,
    // MAC over uint32(seq) || packet_length || ciphertext.
    const sealer = await v.alg.sealer(hex(v.key), hex(CTR0), HMAC_SHA2_256_ETM.create(MAC_KEY));
    assert.equal(sealer.lengthApart, true);
    const wire = await sealer.seal(0xfffffffe, at(hex("00000040" + PT), 5));
    assert.equal(toHex(wire.subarray(0, 4)), "00000040");
    assert.equal(toHex(wire.subarray(4, 68)), v.ct);
    assert.equal(toHex(wire.subarray(68)), refMac(0xfffffffe, "00000040" + v.ct));

    const opener = await v.alg.opener(hex(v.key), hex(CTR0), HMAC_SHA2_256_ETM.create(MAC_KEY));
    assert.equal(opener.firstBlockSize, 4);
    assert.equal(opener.macLength, 32);
    const whole = at(wire, 2);
    assert.equal(await opener.decryptLength(0xfffffffe, whole.subarray(0, 4)), 64);
    const body = await opener.open(0xfffffffe, whole);
    assert.equal(toHex(body), PT);
    assert.equal(body.buffer, whole.buffer); // decrypted in place
  }
});

test("aes-ctr: the 128-bit counter carries and wraps across packets (nettle ctr-test.c #16)", async () => {
  // Unofficial vector from GNU Nettle's testsuite/ctr-test.c: AES-128, the
  // F.5.1 key and plaintext, initial counter 2^128 - 2, so the third block
  // uses counter 0.
  const key = hex("2b7e151628aed2a6abf7158809cf4f3c");
  const iv = hex("fffffffffffffffffffffffffffffffe");
  const expected = "ba76aa54d5b56067c1a7903b3fddfa89" + "24df0c565cf42a68978713b67ad124fd" +
    "4d3f774ab9e47da2dbb9315ea3110680" + "a18d5905ebfe25a803df27c2211e58d6";
  const sealer = await AES128_CTR.sealer(key, iv, HMAC_SHA2_256_ETM.create(MAC_KEY));
  const opener = await AES128_CTR.opener(key, iv, HMAC_SHA2_256_ETM.create(MAC_KEY));
  let got = "";
  for (let i = 0; i < 4; i++) {
    const block = PT.slice(32 * i, 32 * i + 32);
    const wire = await sealer.seal(i, hex("00000010" + block));
    got += toHex(wire.subarray(4, 20));
    assert.equal(toHex(await opener.open(i, wire)), block);
  }
  assert.equal(got, expected);
});

/** An RFC 4253 §6 packet for 16-byte blocks; `apart`: the length is not aligned with the rest. */
const packet = (payload: Uint8Array, apart: boolean, offset: number): Uint8Array =>
  framePacket(payload, { blockSize: 16, lengthApart: apart, offset, fill: 0x77 });

const MACS: MacAlgorithm[] = [HMAC_SHA2_256, HMAC_SHA2_512, HMAC_SHA2_256_ETM, HMAC_SHA2_512_ETM];
const CIPHERS: CipherAlgorithm[] = [AES128_CTR, AES192_CTR, AES256_CTR];

for (const alg of CIPHERS) {
  for (const macAlg of MACS) {
    const name = `${alg.name} + ${macAlg.name}`;
    const key = Uint8Array.from({ length: alg.keyLength }, (_, i) => 3 * i);
    const iv = hex("00112233445566778899aabbccddeeff");
    const macKey = Uint8Array.from({ length: macAlg.keyLength }, (_, i) => 255 - i);
    const pair = async () => ({
      sealer: await alg.sealer(key, iv, macAlg.create(macKey)),
      opener: await alg.opener(key, iv, macAlg.create(macKey)),
    });

    test(`${name}: many packets in a stream, odd offsets, sequence numbers wrapping`, async () => {
      const { sealer, opener } = await pair();
      assert.equal(sealer.lengthApart, macAlg.etm);
      assert.equal(opener.firstBlockSize, macAlg.etm ? 4 : 16);
      const start = 2 ** 32 - 4;
      const sent: Uint8Array[] = [];
      const wire: number[] = [];
      for (let i = 0; i < 25; i++) {
        const payload = Uint8Array.from({ length: (i * 61) % 500 }, (_, j) => j * i);
        const p = packet(payload, macAlg.etm, i % 3);
        sent.push(p.slice(4));
        const w = await sealer.seal((start + i) % 2 ** 32, p);
        assert.equal(w.length, p.length + macAlg.macLength);
        wire.push(...w);
      }
      let rest = at(Uint8Array.from(wire), 7);
      for (let i = 0; i < 25; i++) {
        const r = await receive(opener, (start + i) % 2 ** 32, rest);
        assert.deepEqual(r.body, sent[i], `packet ${i}`);
        rest = r.rest;
      }
      assert.equal(rest.length, 0);
    });

    test(`${name}: seals and opens started together take their counters in call order`, async () => {
      // The transport starts several seals before the first settles, and
      // (for -etm, parallel) several opens; each must get its own keystream.
      const { sealer, opener } = await pair();
      assert.equal(opener.parallel, macAlg.etm);
      const ref = await pair();
      const plain = Array.from(
        { length: 12 },
        (_, i) => packet(new Uint8Array((i * 997) % 3000).fill(i), macAlg.etm, i % 2),
      );
      const expected = plain.map((p) => p.slice(4));
      const sequential: Uint8Array[] = [];
      for (const [i, p] of plain.entries()) sequential.push(await ref.sealer.seal(i, p.slice()));
      const wires = await Promise.all(plain.map((p, i) => sealer.seal(i, p)));
      assert.deepEqual(wires, sequential);
      if (macAlg.etm) {
        const opened = await Promise.all(wires.map((w, i) => opener.open(i, w.slice())));
        assert.deepEqual(opened, expected);
      } else {
        for (const [i, w] of wires.entries()) {
          const whole = w.slice();
          await opener.decryptLength(i, whole.subarray(0, 16));
          assert.deepEqual(await opener.open(i, whole), expected[i]);
        }
      }
    });

    test(`${name}: a MAC without computeAsync still works (compute is the fallback)`, async () => {
      const plainMac = (): MacInstance => {
        const m = macAlg.create(macKey);
        return { algorithm: m.algorithm, compute: (seq, ...parts) => m.compute(seq, ...parts) };
      };
      const sealer = await alg.sealer(key, iv, plainMac());
      const opener = await alg.opener(key, iv, plainMac());
      const ref = await pair();
      const p = packet(new Uint8Array(100).fill(3), macAlg.etm, 1);
      const wire = await sealer.seal(9, p.slice());
      assert.deepEqual(wire, await ref.sealer.seal(9, p.slice()));
      const r = await receive(opener, 9, wire.slice());
      assert.deepEqual(r.body, p.slice(4));
      wire[wire.length - 1] ^= 1;
      const again = await alg.opener(key, iv, plainMac());
      await assert.rejects(receive(again, 9, wire), MacError);
    });

    test(`${name}: a flipped bit in length, ciphertext or MAC is a MacError`, async () => {
      const { sealer } = await pair();
      const good = await sealer.seal(77, packet(new Uint8Array(30).fill(5), macAlg.etm, 0));
      const n = good.length - 4 - macAlg.macLength;
      for (let i = 0; i < good.length; i++) {
        const { opener } = await pair();
        const bad = good.slice();
        // for the length: stay on the 16-byte grid so the MAC is what fails
        bad[i] ^= i < 4 ? 0x20 : 0x04;
        const m = await opener.decryptLength(77, bad.subarray(0, opener.firstBlockSize));
        let whole = bad;
        if (i < 4) {
          // Encrypted (E&M) or clear (-etm), the length reads with the same
          // bit flipped (CTR is a stream cipher); the transport then reads
          // that many bytes, and the MAC fails on them.
          assert.equal(m, (n ^ (0x20 << (8 * (3 - i)))) >>> 0);
          if (m > 1000) continue; // absurd: the transport refuses it by size
          whole = new Uint8Array(4 + m + macAlg.macLength);
          whole.set(bad.subarray(0, Math.min(bad.length, whole.length)));
        }
        const before = whole.slice();
        await assert.rejects(opener.open(77, whole), (e: unknown) => {
          assert.ok(e instanceof MacError, `byte ${i}: ${e}`);
          assert.equal(e.algorithm, macAlg.name);
          assert.equal(e.seq, 77);
          return true;
        });
        // -etm checks the MAC before decrypting anything
        if (macAlg.etm) assert.deepEqual(whole, before);
      }
    });

    test(`${name}: acceptMacError sees each failure and, returning true, gets the plaintext; the stream stays in step`, async () => {
      for (const verdict of [true, false]) {
        const { sealer, opener } = await pair();
        const bodies = [new Uint8Array(30).fill(5), new Uint8Array(50).fill(6)];
        const plain = bodies.map((b) => packet(b, macAlg.etm, 0));
        const expected = plain.map((p) => p.slice(4));
        const wires = [await sealer.seal(40, plain[0]), await sealer.seal(41, plain[1])];
        wires[0][wires[0].length - 1] ^= 0x80; // the last MAC byte
        const seen: MacError[] = [];
        const options = {
          acceptMacError: (e: MacError) => {
            seen.push(e);
            return verdict;
          },
        };
        await opener.decryptLength(40, at(wires[0], 5).subarray(0, opener.firstBlockSize));
        if (verdict) {
          assert.deepEqual(await opener.open(40, at(wires[0], 5), options), expected[0]);
        } else {
          await assert.rejects(opener.open(40, wires[0], options), MacError);
        }
        assert.equal(seen.length, 1);
        assert.equal(seen[0].seq, 40);
        assert.equal(seen[0].algorithm, macAlg.name);
        // the counter moved on either way: the next (intact) packet opens, without a call
        await opener.decryptLength(41, wires[1].subarray(0, opener.firstBlockSize));
        assert.deepEqual(await opener.open(41, wires[1], options), expected[1]);
        assert.equal(seen.length, 1);
      }
    });

    test(`${name}: truncated or overlong input is a WireError`, async () => {
      const { sealer } = await pair();
      const good = await sealer.seal(0, packet(new Uint8Array(20), macAlg.etm, 0));
      for (const cut of [1, macAlg.macLength, 16]) {
        const { opener } = await pair();
        await opener.decryptLength(0, good.subarray(0, opener.firstBlockSize));
        await assert.rejects(opener.open(0, good.subarray(0, good.length - cut)), WireError);
      }
      const { opener } = await pair();
      await assert.rejects(opener.decryptLength(0, good.subarray(0, 3)), WireError);
      await opener.decryptLength(0, good.subarray(0, opener.firstBlockSize));
      const longer = new Uint8Array(good.length + 16);
      longer.set(good);
      await assert.rejects(opener.open(0, longer), WireError);
    });

    test(`${name}: packets off the 16-byte grid are refused`, async () => {
      const { sealer } = await pair();
      const p = new Uint8Array(macAlg.etm ? 4 + 24 : 24);
      new DataView(p.buffer).setUint32(0, p.length - 4);
      await assert.rejects(sealer.seal(0, p), WireError);
    });
  }
}

test("aes-ctr: encrypt-and-MAC open needs decryptLength first", async () => {
  const opener = await AES128_CTR.opener(
    new Uint8Array(16),
    new Uint8Array(16),
    HMAC_SHA2_256.create(MAC_KEY),
  );
  await assert.rejects(opener.open(0, new Uint8Array(48)), SshError);
});

test("aes-ctr: wrong key or IV length, or no MAC, is refused", async () => {
  const mac = HMAC_SHA2_256.create(MAC_KEY);
  await assert.rejects(AES128_CTR.sealer(new Uint8Array(24), new Uint8Array(16), mac), RangeError);
  await assert.rejects(AES256_CTR.opener(new Uint8Array(32), new Uint8Array(12), mac), RangeError);
  await assert.rejects(AES192_CTR.sealer(new Uint8Array(24), new Uint8Array(16)), TypeError);
});

/** Deterministic bytes (xorshift32) for the property tests below. */
function prng(seed: number): (n: number) => Uint8Array {
  let s = seed >>> 0 || 1;
  return (n) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      s ^= s << 13, s >>>= 0, s ^= s >>> 17, s ^= s << 5, s >>>= 0;
      out[i] = s & 0xff;
    }
    return out;
  };
}

const NOBLE_HASH = { 32: sha256, 64: sha512 } as const;

for (const alg of CIPHERS) {
  for (const macAlg of MACS) {
    const name = `${alg.name} + ${macAlg.name}`;
    test(`${name}: random sizes across the JavaScript/WebCrypto boundary equal noble's ctr over the whole stream`, async () => {
      const rand = prng(alg.keyLength * 131 + macAlg.macLength);
      const key = rand(alg.keyLength), iv = rand(16), macKey = rand(macAlg.keyLength);
      const etm = macAlg.etm;
      const sealer = await alg.sealer(key, iv, macAlg.create(macKey));
      const opener = await alg.opener(key, iv, macAlg.create(macKey));
      // Encrypted lengths of 1..160 blocks: half at most 1 KiB (64 blocks), half above.
      const packets = Array.from({ length: 40 }, () => {
        const [a, b] = rand(2);
        const blocks = a & 1 ? 1 + (b % 64) : 60 + (b % 100);
        const p = rand(blocks * 16 + (etm ? 4 : 0));
        new DataView(p.buffer).setUint32(0, p.length - 4);
        return p;
      });
      const plain = packets.map((p) => p.slice());
      // Several in flight at once, as the transport's writer seals them.
      const wires: Uint8Array[] = [];
      for (let i = 0; i < packets.length; i += 8) {
        wires.push(
          ...await Promise.all(packets.slice(i, i + 8).map((p, j) => sealer.seal(i + j, p))),
        );
      }
      // Reference: one noble ctr over the concatenated encrypted parts.
      const skip = etm ? 4 : 0;
      const stream = new Uint8Array(plain.reduce((n, p) => n + p.length - skip, 0));
      let o = 0;
      for (const p of plain) stream.set(p.subarray(skip), o), o += p.length - skip;
      const ref = nobleCtr(key, iv).encrypt(stream);
      const hash = NOBLE_HASH[macAlg.macLength as 32 | 64];
      o = 0;
      for (const [seq, wire] of wires.entries()) {
        const n = plain[seq].length;
        assert.equal(wire.length, n + macAlg.macLength, `packet ${seq}`);
        assert.deepEqual(
          wire.subarray(skip, n),
          ref.subarray(o, o + n - skip),
          `ciphertext ${seq}`,
        );
        o += n - skip;
        const macInput = etm ? wire.subarray(0, n) : plain[seq];
        const seqBytes = hex(u32(seq));
        const expected = hmac(hash, macKey, Uint8Array.from([...seqBytes, ...macInput]));
        assert.deepEqual(wire.subarray(n), expected, `MAC ${seq}`);
      }
      // And back, through one opener, in order.
      for (const [seq, wire] of wires.entries()) {
        const { body } = await receive(opener, seq, wire.slice());
        assert.deepEqual(body, plain[seq].subarray(4), `opened ${seq}`);
      }
    });
  }
}

test("aes-ctr + hmac-sha2: small packets make no WebCrypto call; large ones use the runtime's backend", async () => {
  // Issue 10, item 7: on Deno each tiny aes-ctr packet cost three WebCrypto
  // calls (first block, rest, MAC), about 55 µs of CPU.
  const subtle = crypto.subtle;
  const calls = { encrypt: 0, sign: 0 };
  const original = { encrypt: subtle.encrypt, sign: subtle.sign };
  const count = (name: "encrypt" | "sign") =>
    function (this: SubtleCrypto, ...args: unknown[]) {
      calls[name]++;
      return (original[name] as (...a: unknown[]) => Promise<ArrayBuffer>).apply(subtle, args);
    };
  Object.defineProperty(subtle, "encrypt", { value: count("encrypt"), configurable: true });
  Object.defineProperty(subtle, "sign", { value: count("sign"), configurable: true });
  try {
    const sizes = { small: [16, 64, 1024], large: [1040, 32768] };
    const used: Record<string, number> = {};
    for (const macAlg of MACS) {
      const small = macAlg.macLength === 32 ? 1024 : 256; // mac.ts SMALL_MAC_INPUT
      for (const [kind, list] of Object.entries(sizes)) {
        calls.encrypt = calls.sign = 0;
        const key = new Uint8Array(16), iv = new Uint8Array(16);
        const sealer = await AES128_CTR.sealer(key, iv, macAlg.create(new Uint8Array(32)));
        const opener = await AES128_CTR.opener(key, iv, macAlg.create(new Uint8Array(32)));
        for (const [seq, n] of list.entries()) {
          const macInput = macAlg.etm ? n + 4 : n;
          if (kind === "small" && macInput > small) continue;
          const p = new Uint8Array(n + (macAlg.etm ? 4 : 0));
          new DataView(p.buffer).setUint32(0, p.length - 4);
          const wire = await sealer.seal(seq, p);
          await receive(opener, seq, wire);
        }
        used[`${macAlg.name} ${kind}`] = calls.encrypt + calls.sign;
      }
    }
    const onDeno = nodeAes() === undefined;
    for (const [what, n] of Object.entries(used)) {
      if (what.endsWith("small")) assert.equal(n, 0, `${what}: WebCrypto calls`);
      else if (onDeno) assert.ok(n > 0, `${what}: large packets still go to WebCrypto on Deno`);
      else assert.equal(n, 0, `${what}: node:crypto, not WebCrypto, on this runtime`);
    }
  } finally {
    Object.defineProperty(subtle, "encrypt", { value: original.encrypt, configurable: true });
    Object.defineProperty(subtle, "sign", { value: original.sign, configurable: true });
  }
});
