import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  chooseGexGroup,
  MODP_GROUP14,
  MODP_GROUP15,
  MODP_GROUP16,
  MODP_GROUP17,
  MODP_GROUP18,
  MODP_GROUPS,
} from "./dh_groups.ts";
import { modPow } from "./kex_dh.ts";

/** floor(2^m * pi), by Machin's formula pi = 16 atan(1/5) - 4 atan(1/239). */
function piTimes2Pow(m: number): bigint {
  const guard = 64n;
  const one = 1n << (BigInt(m) + guard);
  const atanInv = (x: bigint) => {
    // atan(1/x) = sum (-1)^k / ((2k+1) x^(2k+1)), each term truncated.
    let sum = 0n;
    let power = one / x;
    const x2 = x * x;
    for (let k = 0n; power !== 0n; k++) {
      const term = power / (2n * k + 1n);
      sum += k % 2n === 0n ? term : -term;
      power /= x2;
    }
    return sum;
  };
  return (16n * atanInv(5n) - 4n * atanInv(239n)) >> guard;
}

// RFC 3526: "This prime is: 2^N - 2^(N-64) - 1 + 2^64 * { [2^(N-130) pi] + c }".
const FORMULA = [
  { group: MODP_GROUP14, n: 2048, c: 124476n },
  { group: MODP_GROUP15, n: 3072, c: 1690314n },
  { group: MODP_GROUP16, n: 4096, c: 240904n },
  { group: MODP_GROUP17, n: 6144, c: 929484n },
  { group: MODP_GROUP18, n: 8192, c: 4743158n },
];

describe("RFC 3526 MODP groups", () => {
  it("Machin's pi is right in its first bits", () => {
    // pi = 3.243F6A8885A308D3... in hex.
    assert.equal(piTimes2Pow(62).toString(16), "c90fdaa22168c234");
  });

  for (const { group, n, c } of FORMULA) {
    it(`group ${group.id}: ${n} bits, g = 2, and the hex equals RFC 3526's pi formula`, () => {
      assert.equal(group.bits, n);
      assert.equal(group.p.toString(2).length, n);
      assert.equal(group.g, 2n);
      const N = BigInt(n);
      const expected = (1n << N) - (1n << (N - 64n)) - 1n +
        (1n << 64n) * (piTimes2Pow(n - 130) + c);
      assert.equal(group.p, expected);
      // Top and bottom 64 bits are all ones.
      assert.equal(group.p >> (N - 64n), (1n << 64n) - 1n);
      assert.equal(group.p & ((1n << 64n) - 1n), (1n << 64n) - 1n);
    });

    it(`group ${group.id}: p and q = (p-1)/2 pass Fermat tests (a safe prime)`, () => {
      const p = group.p;
      const q = (p - 1n) / 2n;
      assert.equal(modPow(2n, p - 1n, p), 1n);
      assert.equal(modPow(3n, q - 1n, q), 1n);
      // 2 generates the subgroup of order q (2 is a quadratic residue, p = 7 mod 8).
      assert.equal(p % 8n, 7n);
      assert.equal(modPow(2n, q, p), 1n);
    });
  }

  it("groups are listed smallest first and frozen", () => {
    assert.deepEqual(MODP_GROUPS.map((g) => g.bits), [2048, 3072, 4096, 6144, 8192]);
    assert.deepEqual(MODP_GROUPS.map((g) => g.id), [14, 15, 16, 17, 18]);
    assert.ok(Object.isFrozen(MODP_GROUPS) && Object.isFrozen(MODP_GROUP14));
  });
});

describe("chooseGexGroup (RFC 4419 §3, OpenSSH choose_dh)", () => {
  const bits = (min: number, n: number, max: number) => chooseGexGroup(min, n, max)?.bits;
  it("picks the smallest group of at least n bits", () => {
    assert.equal(bits(2048, 2048, 8192), 2048);
    assert.equal(bits(2048, 2049, 8192), 3072);
    assert.equal(bits(2048, 3072, 8192), 3072);
    assert.equal(bits(2048, 4000, 8192), 4096);
    assert.equal(bits(2048, 7000, 8192), 8192);
    assert.equal(bits(1024, 8192, 8192), 8192);
  });
  it("falls back to the largest group within max", () => {
    assert.equal(bits(2048, 7000, 6144), 6144);
    assert.equal(bits(1024, 5000, 5000), 4096);
  });
  it("clamps n into [min, max]", () => {
    assert.equal(bits(4096, 1024, 8192), 4096);
    assert.equal(bits(1024, 16384, 3072), 3072);
  });
  it("returns undefined when nothing fits", () => {
    assert.equal(chooseGexGroup(1024, 1024, 2047), undefined);
    assert.equal(chooseGexGroup(8193, 9000, 16384), undefined);
    assert.equal(chooseGexGroup(4096, 4096, 2048), undefined);
    assert.equal(chooseGexGroup(2049, 2049, 3071), undefined);
  });
});
