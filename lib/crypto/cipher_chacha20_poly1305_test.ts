import { test } from "node:test";
import assert from "node:assert/strict";
import { CHACHA20_POLY1305 } from "./cipher_chacha20_poly1305.ts";
import { MacError } from "./errors.ts";
import { WireError } from "../wire/errors.ts";
import { at, framePacket, hex, receive, toHex } from "./_test_util.ts";

const NO_IV = new Uint8Array(0);

/**
 * Known answers for chacha20-poly1305@openssh.com from ring's
 * tests/aead_chacha20_poly1305_openssh_tests.txt (briansmith/ring; read from
 * the copy in kjvalencik/ring at 590ca2f1). KEY is the 64-byte key as the
 * KDF gives it (K_2 first, then K_1), IN the plaintext packet, CT the
 * encrypted length followed by the encrypted rest, TAG the Poly1305 tag.
 * Lengths 16, 24, 32, 40, 48 and 56 and sequence numbers up to 254.
 */
const RING = [
  {
    key: "247a041f6780baf0de3741aa4436024b6a5169b0eab8a090a291f5900bf566a5" +
      "4ac2c64c0f38cab14a143111bc39d1873013f52f2e92062e375c1a5378ad9b32",
    seq: 94,
    in: "000000100f000000000000000000000000000000",
    ct: "c87186a24d89e672f37df98a95d0a0653e9f0fe4",
    tag: "075bc727e855c8d487bb3060c42267cd",
  },
  {
    key: "166da003239df87cdb35f27804c9ae0c9269ca901eb322846c91fee8febff944" +
      "c10b1c092012d0beb6e1d95dcc383bfbea85eebdd63e5ff39f584297e7c737d3",
    seq: 242,
    in: "00000010056162636465666768696a0000000000",
    ct: "503cf64139aa6cd5310579bf7b22ecabfd37945c",
    tag: "c199946b567076d4e615311fbfed69b6",
  },
  {
    key: "4a3042e117e06543aeb7fc450dab16b8652fe0a79378f78d6cb0c23f50bdbf4a" +
      "c00c92a0b330bd035d6cd3918ff1daeb65d0fe329d88305f0728661dccd7278d",
    seq: 204,
    in: "000000180b6162636465666768696a6b6c0000000000000000000000",
    ct: "60bbfcf8be81835fe6fa7a1e482a0a6fdd8d11599c3786e3c7976893",
    tag: "411803ef2f1b4187c1019fb47290d0d1",
  },
  {
    key: "82891b6e9fa6c259413a2893df1d5b931c421e779affd244b7d7e380c1b6f86b" +
      "b653bb308de56e6460ae29e3baaa216434c53c1edef973ba4b6a6716a50f2584",
    seq: 15,
    in: "000000200b6162636465666768696a6b6c6d6e6f70717273740000000000000000000000",
    ct: "ff041f7e3aed8e76b2e6ecf6808453f618d5335b26f390181b2466fb0fc15f5b358eac7b",
    tag: "d74db4633f889ab3b79fbfe3b63ac92d",
  },
  {
    key: "f690749ae24d2d5e5710a46b2d3a6eb929bd0cd9ebd501b7760191dd104dc34d" +
      "1787205f7da01f279913703a8ab6813f8d265c2b2e93e35cf81c750df3d41aa4",
    seq: 254,
    in: "00000028076162636465666768696a6b6c6d6e6f707172737475767778797a41424344454600000000000000",
    ct: "1bd7494c9f159342b1eb72ec456ccd2a81d62e77befcd8f86d3132c625db3060feb742562bb9b6a48e952df4",
    tag: "c25f2198717e2fd726dfc00513ce1b9a",
  },
  {
    key: "aa3f42ae78356f6529dc4eafbf3dd7aabfa6921188627e6b31f39fc4930b2c7f" +
      "5f13cfea36e47000a59897a2aafde1ae53590a913dc90434d0a18bf1c39f15ee",
    seq: 62,
    in: "000000300b6162636465666768696a6b6c6d6e6f707172737475767778797a41424344454630313233" +
      "0000000000000000000000",
    ct: "54a9962b5f227c41bdcd901279f2db09e91bf4f1320ae053f6b2625abdc06f12774d759bc1998d42" +
      "799ef5656f964502e9509dbf",
    tag: "65b3b25f3f1bef915414b8348b2c8d5b",
  },
  {
    key: "8bca240f2520e87d0211bae810e04c2e69ca38d1dd44213e7277f6c9dfa15aa5" +
      "85520a4f288a30aef91a97a0c02caec7cc0fc2dba66162406cadf65e85d8f3af",
    seq: 59,
    in: "000000380b6162636465666768696a6b6c6d6e6f707172737475767778797a41424344454630313233" +
      "34353637383961620000000000000000000000",
    ct: "270fea0aa9e530a49aff4acda9d5c1954c3153f2184ee80cf80f959bf1146c0b66e38754733304194e" +
      "297712a6174fc6344f4448bc3dbd2a88266d71",
    tag: "bed23e779e7e238854be5f62fe751780",
  },
];

test("chacha20-poly1305: table entry", () => {
  assert.equal(CHACHA20_POLY1305.name, "chacha20-poly1305@openssh.com");
  assert.equal(CHACHA20_POLY1305.keyLength, 64);
  assert.equal(CHACHA20_POLY1305.ivLength, 0);
  assert.equal(CHACHA20_POLY1305.blockSize, 8);
  assert.equal(CHACHA20_POLY1305.aead, true);
});

test("chacha20-poly1305: ring's known answers seal byte for byte", async () => {
  for (const v of RING) {
    for (const offset of [0, 1, 3]) {
      const sealer = await CHACHA20_POLY1305.sealer(hex(v.key), NO_IV);
      assert.equal(sealer.blockSize, 8);
      assert.equal(sealer.lengthApart, true);
      assert.equal(sealer.overhead, 16);
      const wire = await sealer.seal(v.seq, at(hex(v.in), offset));
      assert.equal(toHex(wire), v.ct + v.tag, `seq ${v.seq} offset ${offset}`);
    }
  }
});

test("chacha20-poly1305: ring's known answers open, decrypting in place", async () => {
  for (const v of RING) {
    for (const offset of [0, 2, 7]) {
      const opener = await CHACHA20_POLY1305.opener(hex(v.key), NO_IV);
      assert.equal(opener.firstBlockSize, 4);
      assert.equal(opener.macLength, 16);
      assert.equal(opener.lengthApart, true);
      const whole = at(hex(v.ct + v.tag), offset);
      const length = await opener.decryptLength(v.seq, whole.subarray(0, 4));
      assert.equal(length, parseInt(v.in.slice(0, 8), 16));
      const body = await opener.open(v.seq, whole);
      assert.equal(toHex(body), v.in.slice(8));
      // in place: the body is a view of the buffer that was passed in
      assert.equal(body.buffer, whole.buffer);
      assert.equal(body.byteOffset, whole.byteOffset + 4);
    }
  }
});

test("chacha20-poly1305: open works without a prior decryptLength", async () => {
  const v = RING[3];
  const opener = await CHACHA20_POLY1305.opener(hex(v.key), NO_IV);
  assert.equal(toHex(await opener.open(v.seq, hex(v.ct + v.tag))), v.in.slice(8));
});

/** An RFC 4253 §6 packet for an 8-byte block with the length apart. */
const packet = (payload: Uint8Array, offset: number, fillByte = 0x5a): Uint8Array =>
  framePacket(payload, { blockSize: 8, lengthApart: true, offset, fill: fillByte });

test("chacha20-poly1305: many packets in a stream, odd offsets, sequence numbers wrapping", async () => {
  const key = Uint8Array.from({ length: 64 }, (_, i) => i * 7);
  const sealer = await CHACHA20_POLY1305.sealer(key, NO_IV);
  const opener = await CHACHA20_POLY1305.opener(key, NO_IV);
  const start = 2 ** 32 - 5;
  const sent: Uint8Array[] = [];
  const wire: Uint8Array[] = [];
  for (let i = 0; i < 40; i++) {
    const seq = (start + i) % 2 ** 32;
    const payload = Uint8Array.from({ length: (i * 37) % 300 }, (_, j) => (j + i) & 0xff);
    const p = packet(payload, i % 5);
    sent.push(p.slice(4));
    wire.push(await sealer.seal(seq, p));
  }
  const stream = at(
    Uint8Array.from(wire.flatMap((w) => Array.from(w))),
    3,
  );
  let rest = stream;
  for (let i = 0; i < 40; i++) {
    const seq = (start + i) % 2 ** 32;
    const r = await receive(opener, seq, rest);
    assert.deepEqual(r.body, sent[i], `packet ${i}`);
    rest = r.rest;
  }
  assert.equal(rest.length, 0);
});

test("chacha20-poly1305: the nonce is the sequence number", async () => {
  const key = new Uint8Array(64).fill(9);
  const sealer = await CHACHA20_POLY1305.sealer(key, NO_IV);
  const opener = await CHACHA20_POLY1305.opener(key, NO_IV);
  const p = packet(new Uint8Array(20), 0);
  const a = await sealer.seal(1, p.slice());
  const b = await sealer.seal(2, p.slice());
  assert.notEqual(toHex(a), toHex(b));
  // same seq, same bytes: no hidden state between packets
  assert.equal(toHex(await sealer.seal(1, p.slice())), toHex(a));
  // under another sequence number even the length decrypts to garbage
  await assert.rejects(
    opener.open(2, a.slice()),
    (e) => e instanceof WireError || e instanceof MacError,
  );
  assert.deepEqual(await opener.open(1, a.slice()), p.subarray(4));
});

test("chacha20-poly1305: a flipped bit anywhere is a MacError", async () => {
  const v = RING[4];
  const good = hex(v.ct + v.tag);
  for (let i = 0; i < good.length; i++) {
    for (const bit of [0x01, 0x80]) {
      const opener = await CHACHA20_POLY1305.opener(hex(v.key), NO_IV);
      const bad = good.slice();
      bad[i] ^= bit;
      if (i < 4) {
        // The length is encrypted: a flipped bit yields another length (a
        // stream cipher flips the same plaintext bit). A transport reads
        // that many bytes; once it has them the tag fails.
        const n = await opener.decryptLength(v.seq, bad.subarray(0, 4));
        assert.equal(n, (parseInt(v.in.slice(0, 8), 16) ^ (bit << (8 * (3 - i)))) >>> 0);
        if (n > 200) continue; // an absurd length the transport rejects by size
        const whole = new Uint8Array(4 + n + 16);
        whole.set(bad.subarray(0, Math.min(bad.length, whole.length)));
        // a length off the 8-byte grid is refused before the tag, as OpenSSH does
        await assert.rejects(opener.open(v.seq, whole), n % 8 === 0 ? MacError : WireError);
      } else {
        await opener.decryptLength(v.seq, bad.subarray(0, 4));
        const before = bad.slice();
        await assert.rejects(opener.open(v.seq, bad), (e: unknown) => {
          assert.ok(e instanceof MacError);
          assert.equal(e.seq, v.seq);
          assert.equal(e.algorithm, "chacha20-poly1305@openssh.com");
          return true;
        });
        // nothing was decrypted before the tag was checked
        assert.deepEqual(bad, before);
      }
    }
  }
});

test("chacha20-poly1305: truncated or overlong input is a WireError", async () => {
  const v = RING[2];
  const good = hex(v.ct + v.tag);
  for (const len of [0, 3, 19, good.length - 1]) {
    const opener = await CHACHA20_POLY1305.opener(hex(v.key), NO_IV);
    if (len >= 4) await opener.decryptLength(v.seq, good.subarray(0, 4));
    await assert.rejects(opener.open(v.seq, good.slice(0, len)), WireError);
  }
  const opener = await CHACHA20_POLY1305.opener(hex(v.key), NO_IV);
  await assert.rejects(opener.decryptLength(v.seq, good.subarray(0, 3)), WireError);
  const longer = new Uint8Array(good.length + 8);
  longer.set(good);
  await assert.rejects(opener.open(v.seq, longer), WireError);
});

test("chacha20-poly1305: a packet_length that is not a multiple of 8 is refused", async () => {
  const key = new Uint8Array(64).fill(1);
  const sealer = await CHACHA20_POLY1305.sealer(key, NO_IV);
  const opener = await CHACHA20_POLY1305.opener(key, NO_IV);
  const p = new Uint8Array(4 + 13);
  p[3] = 13;
  p[4] = 4;
  const wire = await sealer.seal(0, p);
  assert.equal(await opener.decryptLength(0, wire), 13);
  await assert.rejects(opener.open(0, wire), WireError);
});

test("chacha20-poly1305: wrong key length is refused", async () => {
  await assert.rejects(CHACHA20_POLY1305.sealer(new Uint8Array(32), NO_IV), RangeError);
  await assert.rejects(CHACHA20_POLY1305.opener(new Uint8Array(65), NO_IV), RangeError);
});
