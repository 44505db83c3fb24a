import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ml_kem768 } from "@noble/post-quantum/ml-kem.js";
import { x25519 } from "@noble/curves/ed25519.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { MLKEM768X25519_SHA256, MLKEM768X25519_SIZES } from "./kex_mlkem.ts";
import { KexError } from "./errors.ts";
import { defaultRandom, type RandomSource } from "./types.ts";

const alg = MLKEM768X25519_SHA256;

/** Deterministic RandomSource (xorshift32 bytes), with a log of request sizes. */
function seeded(seed: number): RandomSource & { sizes: number[] } {
  let s = seed >>> 0 || 1;
  const sizes: number[] = [];
  const f = (n: number) => {
    sizes.push(n);
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      s ^= s << 13;
      s >>>= 0;
      s ^= s >>> 17;
      s ^= s << 5;
      s >>>= 0;
      out[i] = s & 0xff;
    }
    return out;
  };
  return Object.assign(f, { sizes });
}

describe("mlkem768x25519-sha256 (draft-ietf-sshm-mlkem-hybrid-kex)", () => {
  it("declares string encodings and SHA-256", () => {
    assert.equal(alg.name, "mlkem768x25519-sha256");
    assert.equal(alg.kind, "single");
    assert.equal(alg.publicEncoding, "string");
    assert.equal(alg.secretEncoding, "string");
    assert.equal(alg.hash.name, "sha256");
    assert.deepEqual(MLKEM768X25519_SIZES, { clientInit: 1216, serverReply: 1120 });
  });

  it("client and server agree; lengths are 1216, 1120 and 32", async () => {
    for (let i = 0; i < 3; i++) {
      const c = await alg.client(defaultRandom);
      assert.equal(c.publicValue.length, 1184 + 32);
      const s = await alg.server(c.publicValue, defaultRandom);
      assert.equal(s.publicValue.length, 1088 + 32);
      assert.equal(s.secret.length, 32);
      assert.deepEqual(await c.finish(s.publicValue), s.secret);
    }
  });

  it("is deterministic with injected random, and K = SHA-256(K_PQ || K_CL)", async () => {
    const run = async () => {
      const cr = seeded(11);
      const sr = seeded(12);
      const c = await alg.client(cr);
      const s = await alg.server(c.publicValue, sr);
      const k = await c.finish(s.publicValue);
      return { c, s, k, cr, sr };
    };
    const a = await run();
    const b = await run();
    assert.deepEqual(a.c.publicValue, b.c.publicValue);
    assert.deepEqual(a.s.publicValue, b.s.publicValue);
    assert.deepEqual(a.k, b.k);
    assert.deepEqual(a.k, a.s.secret);
    // Client: 64-byte ML-KEM seed, then the X25519 secret; server: its X25519
    // secret, then the 32-byte encapsulation randomness.
    assert.deepEqual(a.cr.sizes, [64, 32]);
    assert.deepEqual(a.sr.sizes, [32, 32]);

    // Recompute independently from the same random bytes with noble directly.
    const cr = seeded(11);
    const kem = ml_kem768.keygen(cr(64));
    const cx = cr(32);
    assert.deepEqual(a.c.publicValue.subarray(0, 1184), kem.publicKey);
    assert.deepEqual(a.c.publicValue.subarray(1184), x25519.getPublicKey(cx));
    const sr = seeded(12);
    const sx = sr(32);
    const enc = ml_kem768.encapsulate(kem.publicKey, sr(32));
    assert.deepEqual(a.s.publicValue.subarray(0, 1088), enc.cipherText);
    assert.deepEqual(a.s.publicValue.subarray(1088), x25519.getPublicKey(sx));
    const kCl = x25519.getSharedSecret(sx, x25519.getPublicKey(cx));
    const expected = sha256(new Uint8Array([...enc.sharedSecret, ...kCl]));
    assert.deepEqual(a.k, expected);
  });

  it("a different client seed gives a different K", async () => {
    const c1 = await alg.client(seeded(1));
    const c2 = await alg.client(seeded(2));
    const s1 = await alg.server(c1.publicValue, seeded(3));
    const s2 = await alg.server(c2.publicValue, seeded(3));
    assert.notDeepEqual(s1.secret, s2.secret);
  });

  it("rejects wrong lengths with KexError", async () => {
    const c = await alg.client(defaultRandom);
    for (const len of [0, 32, 1184, 1215, 1217, 1120]) {
      await assert.rejects(
        () => alg.server(new Uint8Array(len), defaultRandom),
        KexError,
        `C_INIT ${len}`,
      );
    }
    for (const len of [0, 32, 1088, 1119, 1121, 1216]) {
      await assert.rejects(() => c.finish(new Uint8Array(len)), KexError, `S_REPLY ${len}`);
    }
    await assert.rejects(
      () => c.finish(new Uint8Array(5)),
      /mlkem768x25519-sha256: S_REPLY is 5 bytes/,
    );
  });

  it("rejects low-order X25519 halves with KexError", async () => {
    const c = await alg.client(defaultRandom);
    const init = c.publicValue.slice();
    init.fill(0, 1184); // u = 0
    await assert.rejects(() => alg.server(init, defaultRandom), KexError);
    const s = await alg.server(c.publicValue, defaultRandom);
    const reply = s.publicValue.slice();
    reply.fill(0, 1088);
    reply[1088] = 1; // u = 1
    await assert.rejects(() => c.finish(reply), KexError);
  });

  it("rejects an encapsulation key failing the FIPS 203 modulus check", async () => {
    const c = await alg.client(defaultRandom);
    const init = c.publicValue.slice();
    // The first 12-bit coefficient becomes 0xfff >= q = 3329.
    init[0] = 0xff;
    init[1] |= 0x0f;
    await assert.rejects(() => alg.server(init, defaultRandom), KexError);
    await assert.rejects(() => alg.server(init, defaultRandom), /encapsulation key is invalid/);
  });

  it("a tampered ciphertext gives a different K (implicit rejection), not an error", async () => {
    const c = await alg.client(defaultRandom);
    const s = await alg.server(c.publicValue, defaultRandom);
    const reply = s.publicValue.slice();
    reply[10] ^= 1;
    const k = await c.finish(reply);
    assert.equal(k.length, 32);
    assert.notDeepEqual(k, s.secret);
  });
});
