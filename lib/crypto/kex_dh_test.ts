import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  bigintToBytes,
  bytesToBigint,
  DH_GEX_SHA256,
  DH_GROUP14_SHA256,
  DH_GROUP16_SHA512,
  DH_GROUP18_SHA512,
  modPow,
  privateExponentBits,
} from "./kex_dh.ts";
import {
  MODP_GROUP14,
  MODP_GROUP15,
  MODP_GROUP16,
  MODP_GROUP18,
  MODP_GROUPS,
  type ModpGroup,
} from "./dh_groups.ts";
import { KexError } from "./errors.ts";
import { defaultRandom, type KexAlgorithm } from "./types.ts";

/** Deterministic RandomSource: SplitMix-like counter bytes. */
function seeded(seed: number) {
  let s = seed >>> 0;
  return (n: number) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      out[i] = (z ^ (z >>> 16)) & 0xff;
    }
    return out;
  };
}

/** Reference modexp: plain right-to-left binary. */
function naiveModPow(b: bigint, e: bigint, m: bigint): bigint {
  let r = 1n;
  b %= m;
  while (e > 0n) {
    if (e & 1n) r = (r * b) % m;
    b = (b * b) % m;
    e >>= 1n;
  }
  return r;
}

const SINGLE: [KexAlgorithm, ModpGroup][] = [
  [DH_GROUP14_SHA256, MODP_GROUP14],
  [DH_GROUP16_SHA512, MODP_GROUP16],
  [DH_GROUP18_SHA512, MODP_GROUP18],
];

describe("bigint helpers", () => {
  it("round-trips magnitudes without leading zeros", () => {
    assert.deepEqual(bigintToBytes(0n), new Uint8Array(0));
    assert.deepEqual(bigintToBytes(0x80n), new Uint8Array([0x80]));
    assert.deepEqual(bigintToBytes(0x1234n), new Uint8Array([0x12, 0x34]));
    assert.deepEqual(bigintToBytes(1n, 3), new Uint8Array([0, 0, 1]));
    assert.throws(() => bigintToBytes(0x10000n, 2), RangeError);
    assert.throws(() => bigintToBytes(-1n), RangeError);
    assert.equal(bytesToBigint(new Uint8Array([0, 0, 1, 0])), 256n);
    assert.equal(bytesToBigint(new Uint8Array(0)), 0n);
    const p = MODP_GROUP18.p;
    assert.equal(bytesToBigint(bigintToBytes(p)), p);
    assert.equal(bigintToBytes(p).length, 1024);
  });
});

describe("modPow", () => {
  it("matches a naive reference for small and large bases", () => {
    const r = seeded(1);
    const p = MODP_GROUP14.p;
    for (let i = 0; i < 20; i++) {
      const b = bytesToBigint(r(1 + (i * 13) % 256));
      const e = bytesToBigint(r(1 + (i * 7) % 80));
      assert.equal(modPow(b, e, p), naiveModPow(b, e, p), `case ${i}`);
    }
    assert.equal(modPow(4n, 13n, 497n), 445n);
    assert.equal(modPow(5n, 0n, 7n), 1n);
    assert.equal(modPow(5n, 3n, 1n), 0n);
    assert.equal(modPow(-2n, 3n, 7n), naiveModPow(5n, 3n, 7n));
    assert.throws(() => modPow(2n, -1n, 7n), RangeError);
    assert.throws(() => modPow(2n, 1n, 0n), RangeError);
  });
});

describe("privateExponentBits", () => {
  it("is at least twice the strength (RFC 3526 §8) and below the group size", () => {
    assert.deepEqual(MODP_GROUPS.map((g) => privateExponentBits(g.bits)), [
      320,
      448,
      512,
      576,
      640,
    ]);
    assert.equal(privateExponentBits(1024), 256);
    assert.equal(privateExponentBits(16), 14);
  });
});

describe("diffie-hellman single-group methods (RFC 4253 §8, RFC 8268)", () => {
  for (const [alg, group] of SINGLE) {
    it(`${alg.name}: client and server agree`, async () => {
      assert.equal(alg.kind, "single");
      assert.equal(alg.publicEncoding, "mpint");
      assert.equal(alg.secretEncoding, "mpint");
      const c = await alg.client(defaultRandom);
      const s = await alg.server(c.publicValue, defaultRandom);
      const k = await c.finish(s.publicValue);
      assert.deepEqual(k, s.secret);
      for (const v of [c.publicValue, s.publicValue, k]) {
        assert.ok(v.length > 0 && v[0] !== 0, "magnitude has no leading zero");
        assert.ok(bytesToBigint(v) < group.p);
      }
    });

    it(`${alg.name}: deterministic with injected random`, async () => {
      const run = async () => {
        const c = await alg.client(seeded(7));
        const s = await alg.server(c.publicValue, seeded(8));
        return { e: c.publicValue, f: s.publicValue, k: await c.finish(s.publicValue) };
      };
      const a = await run();
      const b = await run();
      assert.deepEqual(a, b);
      // e = g^x with x the top-bit-set exponent drawn from random.
      const bits = privateExponentBits(group.bits);
      const raw = bytesToBigint(seeded(7)(Math.ceil(bits / 8)));
      const x = (raw & ((1n << BigInt(bits)) - 1n)) | (1n << BigInt(bits - 1));
      assert.equal(bytesToBigint(a.e), naiveModPow(2n, x, group.p));
    });

    it(`${alg.name}: rejects e and f of 0, 1, p-1, p, p+1, 2^k with KexError`, async () => {
      const p = group.p;
      const bad = [0n, 1n, p - 1n, p, p + 1n, 2n, 1n << 100n, (1n << 200n) + 1n];
      const c = await alg.client(defaultRandom);
      for (const y of bad) {
        const raw = bigintToBytes(y);
        await assert.rejects(() => alg.server(raw, defaultRandom), KexError, `server, e = ${y}`);
        await assert.rejects(() => c.finish(raw), KexError, `client, f = ${y}`);
      }
      // Leading zeros are tolerated on input: same value.
      await assert.rejects(() => c.finish(new Uint8Array([0, 0, 1])), KexError);
      await assert.rejects(
        () => c.finish(bigintToBytes(p - 1n)),
        new RegExp(`${alg.name}: .*p-1`),
      );
    });
  }
});

describe("diffie-hellman-group-exchange-sha256 (RFC 4419)", () => {
  it("agrees for every MODP group it may be given", async () => {
    assert.equal(DH_GEX_SHA256.kind, "gex");
    assert.equal(DH_GEX_SHA256.hash.name, "sha256");
    for (const group of [MODP_GROUP14, MODP_GROUP15, MODP_GROUP16]) {
      const c = await DH_GEX_SHA256.client(defaultRandom, group);
      const s = await DH_GEX_SHA256.server(c.publicValue, defaultRandom, group);
      assert.deepEqual(await c.finish(s.publicValue), s.secret);
    }
  });

  it("works with a small safe-prime group (p = 2*1019 + 1 = 2039)", async () => {
    const group = { p: 2039n, g: 7n };
    const c = await DH_GEX_SHA256.client(seeded(3), group);
    const s = await DH_GEX_SHA256.server(c.publicValue, seeded(4), group);
    assert.deepEqual(await c.finish(s.publicValue), s.secret);
  });

  it("requires a sane group", async () => {
    await assert.rejects(() => DH_GEX_SHA256.client(defaultRandom), KexError);
    await assert.rejects(
      () => DH_GEX_SHA256.client(defaultRandom, { p: 2n ** 64n, g: 2n }),
      KexError,
    );
    await assert.rejects(() => DH_GEX_SHA256.client(defaultRandom, { p: 2039n, g: 1n }), KexError);
    await assert.rejects(
      () => DH_GEX_SHA256.client(defaultRandom, { p: 2039n, g: 2038n }),
      KexError,
    );
    await assert.rejects(() => DH_GEX_SHA256.server(new Uint8Array([5]), defaultRandom), KexError);
  });

  it("rejects e = 0, 1, p-1, p with KexError", async () => {
    const group = MODP_GROUP14;
    const c = await DH_GEX_SHA256.client(defaultRandom, group);
    for (const y of [0n, 1n, group.p - 1n, group.p]) {
      const raw = bigintToBytes(y);
      await assert.rejects(() => DH_GEX_SHA256.server(raw, defaultRandom, group), KexError);
      await assert.rejects(() => c.finish(raw), KexError);
    }
  });
});

describe("finite-field exchanges leave the event loop free (issue 10, item 7)", () => {
  // A forced 8192-bit exchange costs tens of ms of modular exponentiation;
  // run on the event loop, it stalled every other connection. The event
  // loop must run (here: a timer fires) while each step is computed.
  it("group 18: client, server and finish each let a timer run before they settle", async () => {
    const alg = DH_GROUP18_SHA512;
    const loopRan = async <T>(work: () => Promise<T>): Promise<[T, boolean]> => {
      let ran = false;
      const timer = setTimeout(() => (ran = true), 0);
      const value = await work();
      clearTimeout(timer);
      return [value, ran];
    };
    const [c, clientRan] = await loopRan(() => alg.client(seeded(11)));
    const [s, serverRan] = await loopRan(() => alg.server(c.publicValue, seeded(12)));
    const [k, finishRan] = await loopRan(() => c.finish(s.publicValue));
    assert.deepEqual(k, s.secret);
    assert.deepEqual([clientRan, serverRan, finishRan], [true, true, true]);
  });
});
