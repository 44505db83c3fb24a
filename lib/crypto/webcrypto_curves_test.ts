import assert from "node:assert/strict";
import { test } from "node:test";
import { ed25519, x25519 } from "@noble/curves/ed25519.js";
import {
  ed25519Signer,
  ed25519Verify,
  LowOrderPointError,
  x25519Agree,
  x25519Public,
} from "./webcrypto_curves.ts";

const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const P = 2n ** 255n - 19n;
const le = (n: bigint) =>
  Uint8Array.from({ length: 32 }, (_, i) => Number((n >> BigInt(8 * i)) & 255n));
const fromLe = (b: Uint8Array) => b.reduceRight((acc, x) => (acc << 8n) | BigInt(x), 0n);

test("x25519: public keys and shared secrets equal noble's for 50 random secrets", async () => {
  for (let i = 0; i < 50; i++) {
    const a = crypto.getRandomValues(new Uint8Array(32));
    const b = crypto.getRandomValues(new Uint8Array(32));
    const pa = await x25519Public(a);
    assert.deepEqual(pa, x25519.getPublicKey(a));
    assert.deepEqual(await x25519Agree(b, pa), x25519.getSharedSecret(b, pa));
  }
});

test("x25519: every low-order u (RFC 7748 §6.1; the 0, 1 and order-8 points) is LowOrderPointError", async () => {
  const lowOrder = [
    0n,
    1n,
    325606250916557431795983626356110631294008115727848805560023387167927233504n,
    39382357235489614581723060781553021112529911719440698176882885853963445705823n,
    P - 1n,
    P,
    P + 1n,
  ];
  const k = crypto.getRandomValues(new Uint8Array(32));
  for (const u of lowOrder) {
    // u ≥ 2^255 is not representable with the top bit masked; p and p+1 reduce to 0 and 1.
    await assert.rejects(() => x25519Agree(k, le(u % 2n ** 255n)), LowOrderPointError, `u = ${u}`);
  }
});

test("ed25519: signatures equal noble's (RFC 8032 is deterministic) and verify", async () => {
  for (let i = 0; i < 20; i++) {
    const seed = crypto.getRandomValues(new Uint8Array(32));
    const msg = crypto.getRandomValues(new Uint8Array(i * 37));
    const sig = await ed25519Signer(seed)(msg);
    assert.deepEqual(sig, ed25519.sign(msg, seed));
    const pk = ed25519.getPublicKey(seed);
    assert.equal(await ed25519Verify(pk, sig, msg), true);
    const other = msg.length ? msg.map((b, j) => j === 0 ? b ^ 1 : b) : new Uint8Array([0]);
    assert.equal(await ed25519Verify(pk, sig, other), false);
  }
});

test("ed25519: strict verification rejects S ≥ L, non-canonical R and A, and bad lengths", async () => {
  const seed = crypto.getRandomValues(new Uint8Array(32));
  const pk = ed25519.getPublicKey(seed);
  const msg = new TextEncoder().encode("strict");
  const sig = ed25519.sign(msg, seed);
  assert.equal(await ed25519Verify(pk, sig, msg), true);

  // S + L: the same scalar mod L, malleated (RFC 8032 §5.1.7 step 1 rejects it).
  const malleated = sig.slice();
  malleated.set(le(fromLe(sig.subarray(32)) + L), 32);
  assert.equal(await ed25519Verify(pk, malleated, msg), false);

  // y = p + 1 encodes the point y = 1 (the identity) non-canonically.
  const nonCanonical = le(P + 1n);
  const badR = sig.slice();
  badR.set(nonCanonical, 0);
  assert.equal(await ed25519Verify(pk, badR, msg), false);
  assert.equal(await ed25519Verify(nonCanonical, sig, msg), false);

  assert.equal(await ed25519Verify(pk.subarray(1), sig, msg), false);
  assert.equal(await ed25519Verify(pk, sig.subarray(1), msg), false);
  assert.equal(await ed25519Verify(new Uint8Array(32).fill(0xff), sig, msg), false);
});

test("ed25519: a signer keeps its own copy of the seed", async () => {
  const seed = crypto.getRandomValues(new Uint8Array(32));
  const expected = ed25519.sign(new Uint8Array([7]), seed);
  const sign = ed25519Signer(seed);
  seed.fill(0);
  assert.deepEqual(await sign(new Uint8Array([7])), expected);
});
