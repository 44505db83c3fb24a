import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  CURVE25519_SHA256,
  CURVE25519_SHA256_LIBSSH,
  ECDH_NISTP256,
  ECDH_NISTP384,
  ECDH_NISTP521,
  x25519KeyPair,
  x25519Shared,
} from "./kex_ecdh.ts";
import { KexError } from "./errors.ts";
import { defaultRandom, type KexAlgorithm, type RandomSource } from "./types.ts";

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const unhex = (s: string) => Uint8Array.from(s.match(/../g) ?? [], (x) => parseInt(x, 16));

/** A RandomSource that hands out the given byte strings in order. */
function scripted(...chunks: Uint8Array[]): RandomSource {
  return (n) => {
    const c = chunks.shift();
    assert.ok(c, "scripted random ran out");
    assert.equal(c.length, n, "scripted random: unexpected request size");
    return c.slice();
  };
}

// RFC 7748 §6.1.
const RFC7748 = {
  a: "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
  A: "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
  b: "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
  B: "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
  K: "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742",
};

// RFC 5903 §8.1 (256-bit), §8.2 (384-bit), §8.3 (521-bit): private keys i and
// r, public points g^i and g^r as 04||x||y, and the x-coordinate of g^ir.
const RFC5903 = [
  {
    alg: ECDH_NISTP256,
    seedLength: 48,
    i: "c88f01f510d9ac3f70a292daa2316de544e9aab8afe84049c62a9c57862d1433",
    gi: "04dad0b65394221cf9b051e1feca5787d098dfe637fc90b9ef945d0c3772581180" +
      "5271a0461cdb8252d61f1c456fa3e59ab1f45b33accf5f58389e0577b8990bb3",
    r: "c6ef9c5d78ae012a011164acb397ce2088685d8f06bf9be0b283ab46476bee53",
    gr: "04d12dfb5289c8d4f81208b70270398c342296970a0bccb74c736fc7554494bf63" +
      "56fbf3ca366cc23e8157854c13c58d6aac23f046ada30f8353e74f33039872ab",
    gir: "d6840f6b42f6edafd13116e0e12565202fef8e9ece7dce03812464d04b9442de",
  },
  {
    alg: ECDH_NISTP384,
    seedLength: 72,
    i: "099f3c7034d4a2c699884d73a375a67f7624ef7c6b3c0f160647b67414dce655" +
      "e35b538041e649ee3faef896783ab194",
    gi: "04667842d7d180ac2cde6f74f37551f55755c7645c20ef73e31634fe72b4c55ee6" +
      "de3ac808acb4bdb4c88732aee95f41aa9482ed1fc0eeb9cafc4984625ccfc23f65" +
      "032149e0e144ada024181535a0f38eeb9fcff3c2c947dae69b4c634573a81c",
    r: "41cb0779b4bdb85d47846725fbec3c9430fab46cc8dc5060855cc9bda0aa2942" +
      "e0308312916b8ed2960e4bd55a7448fc",
    gr: "04e558dbef53eecde3d3fccfc1aea08a89a987475d12fd950d83cfa41732bc509d" +
      "0d1ac43a0336def96fda41d0774a3571dcfbec7aacf3196472169e838430367f66" +
      "eebe3c6e70c416dd5f0c68759dd1fff83fa40142209dff5eaad96db9e6386c",
    gir: "11187331c279962d93d604243fd592cb9d0a926f422e47187521287e7156c5c4" +
      "d603135569b9e9d09cf5d4a270f59746",
  },
  {
    alg: ECDH_NISTP521,
    seedLength: 99,
    i: "0037ade9319a89f4dabdb3ef411aaccca5123c61acab57b5393dce47608172a0" +
      "95aa85a30fe1c2952c6771d937ba9777f5957b2639bab072462f68c27a57382d4a52",
    gi: "040015417e84dbf28c0ad3c278713349dc7df153c897a1891bd98bab4357c9ecbe" +
      "e1e3bf42e00b8e380aeae57c2d107564941885942af5a7f4601723c4195d176ced" +
      "3e017cae20b6641d2eeb695786d8c946146239d099e18e1d5a514c739d7cb4a10a" +
      "d8a788015ac405d7799dc75e7b7d5b6cf2261a6a7f1507438bf01beb6ca3926f9582",
    r: "0145ba99a847af43793fdd0e872e7cdfa16be30fdc780f97bccc3f078380201e" +
      "9c677d600b343757a3bdbf2a3163e4c2f869cca7458aa4a4effc311f5cb151685eb9",
    gr: "0400d0b3975ac4b799f5bea16d5e13e9af971d5e9b984c9f39728b5e5739735a21" +
      "9b97c356436adc6e95bb0352f6be64a6c2912d4ef2d0433ced2b6171640012d946" +
      "0f015c68226383956e3bd066e797b623c27ce0eac2f551a10c2c724d9852077b87" +
      "220b6536c5c408a1d2aebb8e86d678ae49cb57091f4732296579ab44fcd17f0fc56a",
    gir: "01144c7d79ae6956bc8edb8e7c787c4521cb086fa64407f97894e5e6b2d79b04" +
      "d1427e73ca4baa240a34786859810c06b3c715a3a8cc3151f2bee417996d19f3ddea",
  },
];

/**
 * The seed noble's randomSecretKey maps to the scalar d: it reduces a seed
 * as (seed mod (n-1)) + 1 (FIPS 186-5 A.2.1), so seed = d - 1 gives d.
 */
function seedFor(d: string, length: number): Uint8Array {
  const v = BigInt("0x" + d) - 1n;
  return unhex(v.toString(16).padStart(2 * length, "0"));
}

/** K as a magnitude: leading zero bytes dropped. */
const mag = (h: string) => h.replace(/^(00)+/, "");

describe("curve25519-sha256 (RFC 8731)", () => {
  for (const alg of [CURVE25519_SHA256, CURVE25519_SHA256_LIBSSH]) {
    it(`${alg.name}: RFC 7748 §6.1 vector through client and server`, async () => {
      assert.equal(alg.publicEncoding, "string");
      assert.equal(alg.secretEncoding, "mpint");
      assert.equal(alg.hash.name, "sha256");
      const c = await alg.client(scripted(unhex(RFC7748.a)));
      assert.equal(hex(c.publicValue), RFC7748.A);
      const s = await alg.server(c.publicValue, scripted(unhex(RFC7748.b)));
      assert.equal(hex(s.publicValue), RFC7748.B);
      assert.equal(hex(s.secret), RFC7748.K);
      assert.equal(hex(await c.finish(s.publicValue)), RFC7748.K);
    });

    it(`${alg.name}: random client and server agree`, async () => {
      const c = await alg.client(defaultRandom);
      const s = await alg.server(c.publicValue, defaultRandom);
      assert.deepEqual(await c.finish(s.publicValue), s.secret);
      assert.equal(c.publicValue.length, 32);
    });

    it(`${alg.name}: rejects wrong lengths and low-order points with KexError`, async () => {
      const c = await alg.client(defaultRandom);
      for (const len of [0, 31, 33, 65]) {
        await assert.rejects(
          () => alg.server(new Uint8Array(len).fill(9), defaultRandom),
          KexError,
        );
        await assert.rejects(() => c.finish(new Uint8Array(len).fill(9)), KexError);
      }
      // u = 0 and u = 1 (order 1 and 4), and u = p (non-canonical 0): all
      // give an all-zero shared secret.
      const p = (1n << 255n) - 19n;
      const le = (v: bigint) => unhex(v.toString(16).padStart(64, "0")).reverse();
      for (const u of [0n, 1n, p - 1n, p, p + 1n]) {
        await assert.rejects(() => alg.server(le(u), defaultRandom), KexError, `server, u = ${u}`);
        await assert.rejects(() => c.finish(le(u)), KexError, `client, u = ${u}`);
      }
      await assert.rejects(() => c.finish(new Uint8Array(32)), /curve25519-sha256.*: Q_S/);
    });
  }

  it("K is the magnitude of the 32 bytes: leading zeros dropped", async () => {
    // Try secrets until one gives a shared secret with a leading zero byte.
    const peer = await x25519KeyPair(defaultRandom);
    for (let i = 0; i < 4096; i++) {
      const c = await CURVE25519_SHA256.client(defaultRandom);
      const k = await c.finish(peer.publicKey);
      const raw = await x25519Shared("t", "t", peer.secretKey, c.publicValue);
      if (raw[0] === 0) {
        assert.equal(k.length, 31 - (raw[1] === 0 ? 1 : 0));
        assert.deepEqual(k, raw.subarray(32 - k.length));
        return;
      }
      assert.deepEqual(k, raw);
    }
    assert.fail("no leading zero in 4096 tries");
  });
});

describe("ecdh-sha2-nistp* (RFC 5656 §4)", () => {
  for (const v of RFC5903) {
    const alg: KexAlgorithm = v.alg;
    it(`${alg.name}: RFC 5903 vector through client and server`, async () => {
      assert.equal(alg.publicEncoding, "string");
      assert.equal(alg.secretEncoding, "mpint");
      const c = await alg.client(scripted(seedFor(v.i, v.seedLength)));
      assert.equal(hex(c.publicValue), v.gi);
      const s = await alg.server(c.publicValue, scripted(seedFor(v.r, v.seedLength)));
      assert.equal(hex(s.publicValue), v.gr);
      assert.equal(hex(s.secret), mag(v.gir));
      assert.equal(hex(await c.finish(unhex(v.gr))), mag(v.gir));
    });

    it(`${alg.name}: random client and server agree`, async () => {
      const c = await alg.client(defaultRandom);
      const s = await alg.server(c.publicValue, defaultRandom);
      assert.deepEqual(await c.finish(s.publicValue), s.secret);
      assert.equal(c.publicValue[0], 4);
    });

    it(`${alg.name}: rejects bad points with KexError`, async () => {
      const c = await alg.client(defaultRandom);
      const good = unhex(v.gr);
      const offCurve = good.slice();
      offCurve[offCurve.length - 1] ^= 1;
      const compressed = new Uint8Array((good.length + 1) / 2);
      compressed.set(good.subarray(0, compressed.length));
      compressed[0] = 2 + (good[good.length - 1] & 1);
      const wrongPrefix = good.slice();
      wrongPrefix[0] = 6;
      const bad = [
        new Uint8Array(0),
        new Uint8Array([0]), // SEC1 point at infinity
        offCurve,
        compressed,
        wrongPrefix,
        good.subarray(0, good.length - 1),
        new Uint8Array([...good, 0]),
        new Uint8Array(good.length).fill(0).map((_, i) => (i === 0 ? 4 : 0)), // (0, 0)
        unhex(v.gi.slice(0, 2) + "ff".repeat(good.length - 1)), // coordinates >= p
      ];
      for (const [n, point] of bad.entries()) {
        await assert.rejects(() => alg.server(point, defaultRandom), KexError, `server, case ${n}`);
        await assert.rejects(() => c.finish(point), KexError, `client, case ${n}`);
      }
      await assert.rejects(
        () => c.finish(offCurve),
        new RegExp(`^KexError: ${alg.name}: Q_S is not a point`),
      );
    });
  }
});
