import { test } from "node:test";
import assert from "node:assert/strict";
import { SshReader } from "../wire/reader.ts";
import { SshWriter } from "../wire/writer.ts";
import { KeyError } from "./errors.ts";
import { parsePublicKey } from "./public_key.ts";
import {
  generateRsa,
  RsaPrivateKey,
  rsaPrivateKey,
  rsaPrivateKeyFromJwk,
  rsaPublicKey,
} from "./rsa.ts";
import { decodeSignature, encodeSignature } from "./signature.ts";
import { atOffset, hex, toHex, utf8 } from "./_test_util.ts";

// RSA-2048 test vector made with OpenSSL 3.0 (`openssl genrsa 2048`,
// `openssl dgst -sha256|-sha512 -sign` over "sample"). Test key only.
const N =
  "b2c05ace59ca81a7a9e3f9708448c2423401051bfd16696c14c955e3b1fd9848af9084d0695650c5f0e2279f" +
  "6070202628ac5f711b8a3393849eab0649822846a557618e14b67744d94068cdcfd828e16c07a25a09436332" +
  "d3dc380913b8889dc4ae5ce70f330985207b2b32032f1018bb7b4e5680659b8f8f0effa27deed4e23d3dbe8b" +
  "5ef78eb06d2ff8b462ec9caf9b02b860dca2fddd8a63d12fe3d5d0b27002a9e2a220612f98f97af97351e45a" +
  "283e346c32dfffd890b4a61861ffc8f9df5d0a1bbfe213c3398ff8b8c399183e4836abb873237d9387e5af1b" +
  "997b9de48850d97d70f0879a2a9932a23ed146c4b39f06a874aa471c615c18d3bd43756d";
const D =
  "147c1bcbf319548378e241e74599aafd784537a72df9600a7d55576cf92c6543cb2ee6319628c8a7ee839463" +
  "dce2eca442dc02320da46865baf88e03f1efa31af97eca94c445e6e4327b81a7386efebc5aab834d0b2bb856" +
  "0e5679eb7c6194f273a441cc4eff1bd3b055bd2d059562a45af3f615ceb016443cf24c947c171f393f023b3e" +
  "bf44fcb11fd9a7254779d83ea9239b5f662b043a5219cd05a246bc30579a44d07de2a434e8f6c8809bfc12f1" +
  "6d0d6dd52371c1ed40881d5a361224b7682012568fc6a099c01efa38a5ee9fc7dfec30ef7deef44337df017e" +
  "6ce601f767a437f78ec42dcf764b3274215589129673b29836eb9d2a32e73f3bd47743d7";
const P =
  "e55a6700d0dcc63a2c46e8aca9ce17544bafaaec7ce768340f9c3acbaad540ceb814119cf0fdd12ebfe7e765" +
  "20b76f0fe96063b415bcad26cc59a7efee34ab3648c98d377e0f05087d6927f473f746bb3a75101335b4cda4" +
  "ab9c374f82098a1b960a140b41f27c09969f4d856e94da7b44d50e3ddc7643223b3a9c877e5b45bf";
const Q =
  "c784ea8942647a3b4d11cb8995cd63bf822bc9187eab173a1c575f99e15b026a200af098a1e9474c0496e2ef" +
  "3202e1c47a0b45bb9920c1031d1e7193ed478d9485774426ce2ebc29445df45058b94315d1c7c8463b1511c9" +
  "76ca183938689f859b4927503e4e47b43a606ee01d3ad2fb8bdab0129a1e29ebba7926292e8f47d3";
const IQMP =
  "a76fabcc743289dba83c3289e9b820346ac57a978ef0f68fdc17a1a4b2cd3fb5f3bf6fad367691f603edba58" +
  "c45d2c7ac31d870105cd9c5c130a3394d50019ed237e16d8ed5f8460a8e559c54b27976d19cc9494d186333f" +
  "c64c0df0f4e115df6c17f741a421c4679b7f4497bef75ab14354cfbd726d82ed9266fea89ef6ebad";
const SIG_SHA256 =
  "705ad176be266fea1d2b4bf3adfdffc7eaa0a20bafe08e33d311f566782240638a87a8f11d71f3a73c3560a4" +
  "d8d636a4681862e48169d6926a4340ff5df165922be794b3b60ab6bbecbbf4480a3339fc918fd607893a8413" +
  "5d348f333f0d9b35bf39e5e6cc3c64622ead9dbb10163bd0b3feaea19d5f64ef48637c12f7d5fef106f98e1e" +
  "23ec9c12f76cc022395b2ab668497131a4c8abf11dccc687d8bb2961ecc9959d206320c1abb08b2712dad094" +
  "5913b5178a91fb495efbc130bf2afa4c619ae767e3431fbf5cf197623e9271126724fba83a1873a29269339b" +
  "5779dc14f35fe99b44c71180440e7af1a8420c49e2bd1f6e5a9c87273aa13e4994f48fcc";
const SIG_SHA512 =
  "0ccf34226dc47c39048da2ed7aec5f3b07121df6fef9a193269775157a5465b919509efaac02e9f02a24698a" +
  "c248cd539bf4f108b8ecea7c56aba7594de36991c3dc7fc0073699ba49a9e7cbb53ce9d89524d45900354d97" +
  "a23ecde71e2f5b231b63212a1aa95dcb2f7a9c2c8f9d333659428fc5604f5538a295144581e26dcb63da8262" +
  "79bd35c5fffe3369cdaffe5a6412b3769e4800d909a0c5d913b36373bca7fe88f6f12e931571ed61392bab78" +
  "cf716572e1ab8025e31a33c1ae08ebc43b737872d3802cb373a68f785011f29abbae44b669a022ae47d8248f" +
  "51b4b77218c8ae2df752d3184cb28b73874e58a84ff30c03b377567c221d8a03f3e438eb";
const E = 65537n;
const big = (h: string) => BigInt("0x" + h);
const vectorKey = () =>
  rsaPrivateKey({ n: big(N), e: E, d: big(D), p: big(P), q: big(Q), iqmp: big(IQMP) });

test("rsa: OpenSSL's PKCS#1 v1.5 signatures verify, and our signer reproduces them", async () => {
  const key = vectorKey();
  assert.equal(key.publicKey.bits, 2048);
  const blob = new SshWriter().string("ssh-rsa").mpint(E).mpint(big(N)).finish();
  assert.deepEqual(key.publicKey.blob, blob);
  const pub = parsePublicKey(atOffset(blob, 3));
  const data = atOffset(utf8("sample"), 11);
  for (const [alg, sig] of [["rsa-sha2-256", SIG_SHA256], ["rsa-sha2-512", SIG_SHA512]] as const) {
    assert.equal(
      await pub.verify(atOffset(encodeSignature(alg, hex(sig))), data, { algorithm: alg }),
      true,
      alg,
    );
    const ours = decodeSignature(await key.sign(alg, data));
    assert.equal(ours.algorithm, alg);
    assert.equal(toHex(ours.signature), sig); // RSASSA-PKCS1-v1_5 is deterministic
  }
  // the other hash's name on the same bytes, or plain "ssh-rsa" (SHA-1), is refused
  assert.equal(
    await pub.verify(encodeSignature("rsa-sha2-512", hex(SIG_SHA256)), data, {
      algorithm: "rsa-sha2-512",
    }),
    false,
  );
  assert.equal(
    await pub.verify(encodeSignature("rsa-sha2-512", hex(SIG_SHA512)), data, {
      algorithm: "rsa-sha2-256",
    }),
    false,
  );
  assert.equal(
    await pub.verify(encodeSignature("ssh-rsa", hex(SIG_SHA256)), data, { algorithm: "ssh-rsa" }),
    false,
  );
  assert.equal(
    await pub.verify(encodeSignature("rsa-sha2-256", hex(SIG_SHA256)), data, {
      algorithm: "ssh-rsa",
    }),
    false,
  );
  assert.equal(
    await pub.verify(encodeSignature("rsa-sha2-256", hex(SIG_SHA256)), utf8("Sample"), {
      algorithm: "rsa-sha2-256",
    }),
    false,
  );
});

test("rsa: round trip with both hashes; tampering and wrong algorithms give false", async () => {
  const key = await generateRsa(2048);
  assert.deepEqual(key.algorithms, ["rsa-sha2-512", "rsa-sha2-256"]);
  assert.equal(key.publicKey.bits, 2048);
  const pub = parsePublicKey(key.publicKey.blob);
  const data = utf8("session identifier + userauth request");
  for (const alg of key.algorithms) {
    const blob = await key.sign(alg, data);
    assert.equal(decodeSignature(blob).signature.length, 256);
    assert.equal(await pub.verify(blob, data, { algorithm: alg }), true);
    assert.equal(await pub.verify(blob, data.subarray(1), { algorithm: alg }), false);
    const bad = blob.slice();
    bad[bad.length - 1] ^= 1;
    assert.equal(await pub.verify(bad, data, { algorithm: alg }), false);
    assert.equal(await pub.verify(blob, data, { algorithm: "ssh-rsa" }), false);
    assert.equal(await pub.verify(blob, data, { algorithm: "ssh-ed25519" }), false);
    // longer than the modulus, empty, truncated blob
    const sig = decodeSignature(blob).signature;
    const longer = new Uint8Array(sig.length + 1);
    longer.set(sig, 1);
    assert.equal(await pub.verify(encodeSignature(alg, longer), data, { algorithm: alg }), false);
    assert.equal(
      await pub.verify(encodeSignature(alg, new Uint8Array(0)), data, { algorithm: alg }),
      false,
    );
    assert.equal(await pub.verify(blob.subarray(0, 40), data, { algorithm: alg }), false);
  }
  await assert.rejects(key.sign("ssh-rsa", data), /cannot sign with algorithm "ssh-rsa"/);
  await assert.rejects(key.sign("ssh-ed25519", data), KeyError);
});

test("rsa: a signature shorter than the modulus is accepted after left-padding", async () => {
  const key = vectorKey();
  // RSASSA-PKCS1-v1_5 is deterministic: search for a message whose signature starts with 0x00.
  for (let i = 0; i < 5000; i++) {
    const data = utf8(`message ${i}`);
    const blob = await key.sign("rsa-sha2-256", data);
    const sig = decodeSignature(blob).signature;
    assert.equal(sig.length, 256);
    if (sig[0] !== 0) continue;
    const short = encodeSignature("rsa-sha2-256", sig.subarray(1));
    assert.equal(await key.publicKey.verify(short, data, { algorithm: "rsa-sha2-256" }), true);
    return;
  }
  assert.fail("no signature with a leading zero byte found");
});

test("rsa: JWK import, private values checked, secrets kept out of messages", async () => {
  const pair = await crypto.subtle.generateKey(
    {
      name: "RSASSA-PKCS1-v1_5",
      hash: "SHA-256",
      modulusLength: 2048,
      publicExponent: new Uint8Array([1, 0, 1]),
    },
    true,
    ["sign", "verify"],
  ) as CryptoKeyPair;
  const jwk = await crypto.subtle.exportKey("jwk", pair.privateKey);
  const key = rsaPrivateKeyFromJwk(jwk);
  const data = utf8("x");
  // WebCrypto's own public key verifies our signature
  const sig = decodeSignature(await key.sign("rsa-sha2-256", data)).signature;
  assert.equal(
    await crypto.subtle.verify("RSASSA-PKCS1-v1_5", pair.publicKey, sig.slice(), data.slice()),
    true,
  );

  const parts = { n: big(N), e: E, d: big(D), p: big(P), q: big(Q) };
  assert.ok(rsaPrivateKey(parts) instanceof RsaPrivateKey); // iqmp computed
  assert.throws(() => rsaPrivateKey({ ...parts, p: big(P) + 2n }), /p \* q does not equal n/);
  assert.throws(() => rsaPrivateKey({ ...parts, iqmp: big(IQMP) + 1n }), /iqmp is not the inverse/);
  assert.throws(() => rsaPrivateKeyFromJwk({ kty: "EC" }), /kty is "EC"/);
  assert.throws(() => rsaPrivateKeyFromJwk({ kty: "RSA", n: jwk.n, e: jwk.e }), /JWK has no "d"/);
  try {
    rsaPrivateKey({ ...parts, p: big(P) + 2n });
  } catch (e) {
    const m = (e as Error).message.toLowerCase();
    for (const secret of [D, P, Q, big(D).toString(), big(P).toString()]) {
      assert.equal(m.includes(secret), false);
    }
  }
  const k = vectorKey();
  const dump = JSON.stringify(k) + Object.values(k).map(String).join();
  assert.equal(dump.includes(D) || dump.includes(P), false);
  // opensshPrivateFields: mpint n, e, d, iqmp, p, q (PROTOCOL.key)
  const f = new SshReader(k.opensshPrivateFields());
  assert.deepEqual(
    ["n", "e", "d", "iqmp", "p", "q"].map((x) => f.mpint(x)),
    [big(N), E, big(D), big(IQMP), big(P), big(Q)],
  );
  f.end("fields");
});

test("rsa: unacceptable public keys and generation sizes throw KeyError", async () => {
  const n1023 = (1n << 1022n) | 1n;
  assert.throws(
    () => rsaPublicKey(n1023 | (1n << 1022n), 65537n),
    /modulus is 1023 bits, fewer than 1024/,
  );
  const n1024 = (1n << 1023n) | 1n;
  assert.equal(rsaPublicKey(n1024, 65537n).bits, 1024);
  assert.throws(() => rsaPublicKey(n1024 + 1n, 65537n), /modulus is even/);
  assert.throws(() => rsaPublicKey(n1024, 1n), /exponent 1 is not an odd number >= 3/);
  assert.throws(() => rsaPublicKey(n1024, 65536n), /not an odd number/);
  assert.throws(() => rsaPublicKey(n1024, (1n << 64n) | 1n), /exponent is 65 bits/);
  assert.throws(() => rsaPublicKey(1n << 16384n | 1n, 3n), /more than 16384/);
  await assert.rejects(generateRsa(1024), /bits must be a multiple of 8 in \[2048, 16384\]/);
  await assert.rejects(generateRsa(2050), KeyError);
});
