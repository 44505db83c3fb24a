import { test } from "node:test";
import assert from "node:assert/strict";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256, sha512 } from "@noble/hashes/sha2.js";
import { HMAC_SHA2_256, HMAC_SHA2_256_ETM, HMAC_SHA2_512, HMAC_SHA2_512_ETM } from "./mac.ts";
import { at, hex, toHex } from "./_test_util.ts";

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);
const fill = (n: number, v: number): Uint8Array => new Uint8Array(n).fill(v);

/**
 * RFC 4231 §4.2-§4.8 test cases 1-7 (HMAC-SHA-256 and HMAC-SHA-512 columns).
 * `trunc` marks test case 5, whose published output is truncated to 128 bits.
 */
const RFC4231: {
  key: Uint8Array;
  data: Uint8Array;
  sha256: string;
  sha512: string;
  trunc?: number;
}[] = [
  {
    key: fill(20, 0x0b),
    data: ascii("Hi There"),
    sha256: "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
    sha512: "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde" +
      "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854",
  },
  {
    key: ascii("Jefe"),
    data: ascii("what do ya want for nothing?"),
    sha256: "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    sha512: "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554" +
      "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
  },
  {
    key: fill(20, 0xaa),
    data: fill(50, 0xdd),
    sha256: "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
    sha512: "fa73b0089d56a284efb0f0756c890be9b1b5dbdd8ee81a3655f83e33b2279d39" +
      "bf3e848279a722c806b485a47e67c807b946a337bee8942674278859e13292fb",
  },
  {
    key: hex("0102030405060708090a0b0c0d0e0f10111213141516171819"),
    data: fill(50, 0xcd),
    sha256: "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
    sha512: "b0ba465637458c6990e5a8c5f61d4af7e576d97ff94b872de76f8050361ee3db" +
      "a91ca5c11aa25eb4d679275cc5788063a5f19741120c4f2de2adebeb10a298dd",
  },
  {
    key: fill(20, 0x0c),
    data: ascii("Test With Truncation"),
    sha256: "a3b6167473100ee06e0c796c2955552b",
    sha512: "415fad6271580a531d4179bc891d87a6",
    trunc: 16,
  },
  {
    key: fill(131, 0xaa),
    data: ascii("Test Using Larger Than Block-Size Key - Hash Key First"),
    sha256: "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
    sha512: "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f352" +
      "6b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598",
  },
  {
    key: fill(131, 0xaa),
    data: ascii(
      "This is a test using a larger than block-size key and a larger than block-size data." +
        " The key needs to be hashed before being used by the HMAC algorithm.",
    ),
    sha256: "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
    sha512: "e37b6a775dc87dbaa4dfa9f96e5e3ffddebd71f8867289865df5a32d20cdc944" +
      "b6022cac3c4982b10d5eeb55c3e4de15134676fb6de0446065c97440fa8c6a58",
  },
];

/**
 * compute(seq, ...parts) is HMAC(key, uint32(seq) || parts), so an RFC 4231
 * message is fed as seq = its first four bytes (big-endian) and the rest as
 * parts, split at several points and placed at odd byte offsets.
 */
function viaSsh(alg: typeof HMAC_SHA2_256, key: Uint8Array, data: Uint8Array, split: number) {
  const seq = new DataView(data.buffer, data.byteOffset).getUint32(0);
  const rest = data.subarray(4);
  const big = new Uint8Array(rest.length + 7);
  big.set(rest, 3);
  const view = big.subarray(3, 3 + rest.length);
  const cut = Math.min(split, view.length);
  return alg.create(key).compute(seq, view.subarray(0, cut), view.subarray(cut));
}

for (
  const [name, alg, etmAlg, field] of [
    ["hmac-sha2-256", HMAC_SHA2_256, HMAC_SHA2_256_ETM, "sha256"],
    ["hmac-sha2-512", HMAC_SHA2_512, HMAC_SHA2_512_ETM, "sha512"],
  ] as const
) {
  test(`${name}: RFC 4231 test cases 1-7 through compute(seq, ...parts)`, () => {
    for (const [i, v] of RFC4231.entries()) {
      for (const split of [0, 1, 17, 1000]) {
        for (const a of [alg, etmAlg]) {
          const mac = viaSsh(a, v.key, v.data, split);
          assert.equal(mac.length, a.macLength);
          assert.equal(toHex(mac.subarray(0, v.trunc ?? mac.length)), v[field], `case ${i + 1}`);
        }
      }
    }
  });

  test(`${name}: one instance gives the same MAC on every call (keyed state reused)`, () => {
    const v = RFC4231[1];
    const seq = new DataView(v.data.buffer).getUint32(0);
    const m = alg.create(v.key);
    for (let i = 0; i < 5; i++) {
      assert.equal(toHex(m.compute(seq, v.data.subarray(4))), v[field]);
      // interleave another packet so that leftover state would show
      m.compute(i, new Uint8Array(300));
    }
  });

  test(`${name}: computeAsync (WebCrypto) gives RFC 4231 cases 1-7 too, from the first call`, async () => {
    for (const [i, v] of RFC4231.entries()) {
      const seq = new DataView(v.data.buffer).getUint32(0);
      for (const a of [alg, etmAlg]) {
        // called right after create, before the key import can have settled
        const m = a.create(v.key);
        const rest = at(v.data.subarray(4), 3);
        const got = await Promise.all([
          m.computeAsync!(seq, rest),
          m.computeAsync!(seq, rest.subarray(0, 1), rest.subarray(1)),
          m.computeAsync!(seq, new Uint8Array(0), rest, new Uint8Array(0)),
        ]);
        for (const mac of got) {
          assert.equal(mac.length, a.macLength);
          assert.equal(toHex(mac.subarray(0, v.trunc ?? mac.length)), v[field], `case ${i + 1}`);
        }
        // and once the key is in place
        assert.deepEqual(await m.computeAsync!(seq, rest), got[0]);
        assert.deepEqual(m.compute(seq, rest), got[0]);
      }
    }
  });

  test(`${name}: computeAsync reads its input before returning, and wraps seq like compute`, async () => {
    const m = alg.create(fill(alg.keyLength, 9));
    await m.computeAsync!(0, new Uint8Array(1)); // key imported
    const body = Uint8Array.from({ length: 1000 }, (_, i) => i);
    const expected = m.compute(0xfffffffe, body);
    const pending = [m.computeAsync!(0xfffffffe, body), m.computeAsync!(2 ** 32 - 2, body)];
    body.fill(0); // the caller reuses its buffer at once
    for (const p of pending) assert.deepEqual(await p, expected);
    assert.deepEqual(await m.computeAsync!(2 ** 32 + 5, body), m.compute(5, body));
  });

  test(`${name}: computeAsync equals noble's HMAC on both sides of the JavaScript/WebCrypto size limit`, async () => {
    const key = fill(alg.keyLength, 5);
    const hash = field === "sha256" ? sha256 : sha512;
    for (const a of [alg, etmAlg]) {
      const m = a.create(key);
      const sizes = [0, 1, 63, 64, 255, 256, 257, 1019, 1023, 1024, 1025, 1028, 2100];
      const got = await Promise.all(sizes.map((n, seq) => {
        const body = Uint8Array.from({ length: n }, (_, i) => i * 7 + seq);
        // Split in two parts, as the -etm cipher may pass them.
        return m.computeAsync!(seq, body.subarray(0, n >> 1), body.subarray(n >> 1));
      }));
      for (const [seq, n] of sizes.entries()) {
        const body = Uint8Array.from({ length: n }, (_, i) => i * 7 + seq);
        const expected = hmac(hash, key, Uint8Array.from([0, 0, 0, seq, ...body]));
        assert.deepEqual(got[seq], expected, `${a.name}, ${n} bytes`);
      }
    }
  });

  test(`${name}: computeAsync falls back to compute when WebCrypto refuses the key (empty)`, async () => {
    // WebCrypto rejects zero-length HMAC keys; HMAC itself allows them.
    const m = alg.create(new Uint8Array(0));
    const body = ascii("payload");
    const expected = hmac(
      field === "sha256" ? sha256 : sha512,
      new Uint8Array(0),
      hex("00000003" + toHex(body)),
    );
    assert.deepEqual(await m.computeAsync!(3, body), expected);
    assert.deepEqual(await m.computeAsync!(3, body), expected);
  });

  test(`${name}: table entries`, () => {
    assert.equal(alg.name, name);
    assert.equal(etmAlg.name, `${name}-etm@openssh.com`);
    assert.equal(alg.etm, false);
    assert.equal(etmAlg.etm, true);
    const len = field === "sha256" ? 32 : 64;
    for (const a of [alg, etmAlg]) {
      assert.equal(a.keyLength, len);
      assert.equal(a.macLength, len);
      assert.equal(a.create(new Uint8Array(len)).algorithm, a);
    }
  });

  test(`${name}: the sequence number is taken mod 2^32, big-endian`, () => {
    const m = alg.create(fill(alg.keyLength, 7));
    const body = ascii("payload");
    // seq 2^32 - 1 is the bytes ff ff ff ff in front of the data (checked
    // against noble's one-shot HMAC, which RFC 4231 above vouches for)
    const key = fill(alg.keyLength, 7);
    const hash = field === "sha256" ? sha256 : sha512;
    assert.deepEqual(m.compute(0xffffffff, body), hmac(hash, key, hex("ffffffff" + toHex(body))));
    assert.deepEqual(m.compute(0x80000000, body), hmac(hash, key, hex("80000000" + toHex(body))));
    assert.deepEqual(m.compute(2 ** 32, body), m.compute(0, body));
    assert.deepEqual(m.compute(2 ** 32 + 5, body), m.compute(5, body));
    assert.deepEqual(m.compute(0x01020304, body), hmac(hash, key, hex("01020304" + toHex(body))));
    assert.notDeepEqual(m.compute(1, body), m.compute(2, body));
  });
}
