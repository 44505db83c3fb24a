import { test } from "node:test";
import assert from "node:assert/strict";
import { bcryptPbkdf, BLOWFISH_PI_HEX } from "./bcrypt_pbkdf.ts";
import { atOffset, hex, toHex, utf8 } from "./_test_util.ts";

// OpenBSD's regress vectors for bcrypt_pbkdf(3), as carried by RustCrypto
// password-hashes, bcrypt-pbkdf/tests/test_vectors.rs (test_openbsd_vectors).
const VECTORS: { password: string; salt: string; rounds: number; out: string }[] = [
  {
    password: "password",
    salt: "salt",
    rounds: 4,
    out: "5bbf0cc293587f1c3635555c27796598d47e579071bf427e9d8fbe842aba34d9",
  },
  { password: "password", salt: "\0", rounds: 4, out: "c12b566235eee04c212598970a579a67" },
  { password: "\0", salt: "salt", rounds: 4, out: "6051be18c2f4f82cbf0efee5471b4bb9" },
  {
    password: "password\0",
    salt: "salt\0",
    rounds: 4,
    out: "7410e44cf4fa07bfaac8a928b1727fac001375e7bf7384370f48efd121743050",
  },
  { password: "pass\0wor", salt: "sa\0l", rounds: 4, out: "c2bffd9db38f6569efef4372f4de83c0" },
  { password: "pass\0word", salt: "sa\0lt", rounds: 4, out: "4ba4ac3925c0e8d7f0cdb6bb1684a56f" },
  {
    password: "password",
    salt: "salt",
    rounds: 8,
    out: "e1367ec5151a33faac4cc1c144cd23fa15d5548493ecc99b9b5d9c0d3b27bec76227ea66088b849b" +
      "20ab7aa478010246e74bba51723fefa9f9474d6508845e8d",
  },
  { password: "password", salt: "salt", rounds: 42, out: "833cf0dcf56db65608e8f0dc0ce882bd" },
  {
    password: "Lorem ipsum dolor sit amet, consectetur adipisicing elit, " +
      "sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. " +
      "Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris " +
      "nisi ut aliquip ex ea commodo consequat. " +
      "Duis aute irure dolor in reprehenderit in voluptate velit esse cillum " +
      "dolore eu fugiat nulla pariatur. Excepteur sint occaecat cupidatat non " +
      "proident, sunt in culpa qui officia deserunt mollit anim id est laborum.",
    salt: "salis\0",
    rounds: 8,
    out: "10978b07253df57f71a162eb0e8ad30a",
  },
];

test("bcrypt_pbkdf: OpenBSD regress vectors", () => {
  for (const v of VECTORS) {
    const out = bcryptPbkdf(utf8(v.password), utf8(v.salt), {
      rounds: v.rounds,
      length: v.out.length / 2,
    });
    assert.equal(toHex(out), v.out, `${JSON.stringify(v.password.slice(0, 20))} / ${v.rounds}`);
  }
});

test("bcrypt_pbkdf: inputs at byte offsets give the same output", () => {
  const v = VECTORS[0];
  const out = bcryptPbkdf(atOffset(utf8(v.password), 3), atOffset(utf8(v.salt), 5), {
    rounds: v.rounds,
    length: 32,
  });
  assert.equal(toHex(out), v.out);
});

test("bcrypt_pbkdf: a shorter output is not a prefix (interleaved blocks)", () => {
  const full = bcryptPbkdf(utf8("password"), utf8("salt"), { rounds: 4, length: 64 });
  const short = bcryptPbkdf(utf8("password"), utf8("salt"), { rounds: 4, length: 32 });
  assert.notDeepEqual(full.subarray(0, 32), short);
  // With a stride of 2, the even bytes of the 64-byte output are block 1.
  const even = full.filter((_, i) => i % 2 === 0);
  const first32 = bcryptPbkdf(utf8("password"), utf8("salt"), { rounds: 4, length: 32 });
  assert.deepEqual(even, first32);
});

test("bcrypt_pbkdf: refuses what bcrypt_pbkdf.c refuses", () => {
  const p = utf8("p");
  const s = utf8("s");
  assert.throws(() => bcryptPbkdf(new Uint8Array(0), s, { rounds: 1, length: 8 }), RangeError);
  assert.throws(() => bcryptPbkdf(p, new Uint8Array(0), { rounds: 1, length: 8 }), RangeError);
  assert.throws(() => bcryptPbkdf(p, s, { rounds: 0, length: 8 }), RangeError);
  assert.throws(() => bcryptPbkdf(p, s, { rounds: 1, length: 0 }), RangeError);
  assert.throws(() => bcryptPbkdf(p, s, { rounds: 1, length: 1025 }), RangeError);
  assert.equal(bcryptPbkdf(p, s, { rounds: 1, length: 1024 }).length, 1024);
});

/** pi = 16 atan(1/5) - 4 atan(1/239) (Machin), in fixed point with `bits` fraction bits. */
function piFixed(bits: number): bigint {
  const one = 1n << BigInt(bits);
  const atanInv = (x: bigint) => {
    let sum = 0n;
    let term = one / x;
    const x2 = x * x;
    for (let k = 1n, sign = 1n; term !== 0n; k += 2n, sign = -sign) {
      sum += sign * (term / k);
      term /= x2;
    }
    return sum;
  };
  return 16n * atanInv(5n) - 4n * atanInv(239n);
}

test("Blowfish: the P-array and S-boxes are the hex digits of pi", () => {
  assert.equal(BLOWFISH_PI_HEX.length, 8 * (18 + 4 * 256));
  const digits = BLOWFISH_PI_HEX.length * 4;
  const guard = 64;
  const pi = piFixed(digits + guard);
  const fraction = (pi - (3n << BigInt(digits + guard))) >> BigInt(guard);
  assert.equal(fraction.toString(16).padStart(BLOWFISH_PI_HEX.length, "0"), BLOWFISH_PI_HEX);
  // Spot checks against Schneier's published tables.
  assert.equal(BLOWFISH_PI_HEX.slice(0, 8), "243f6a88");
  assert.equal(BLOWFISH_PI_HEX.slice(18 * 8, 19 * 8), "d1310ba6");
  assert.equal(BLOWFISH_PI_HEX.slice(-8), "3ac372e6");
  assert.deepEqual(hex(BLOWFISH_PI_HEX.slice(0, 16)), hex("243f6a8885a308d3"));
});
