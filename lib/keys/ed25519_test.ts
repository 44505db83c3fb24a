import { test } from "node:test";
import assert from "node:assert/strict";
import { SshReader } from "../wire/reader.ts";
import { SshWriter } from "../wire/writer.ts";
import { ed25519PrivateKey, ed25519PublicKey, generateEd25519 } from "./ed25519.ts";
import { KeyError } from "./errors.ts";
import { parsePublicKey } from "./public_key.ts";
import { encodeSignature } from "./signature.ts";
import { atOffset, hex, toHex, utf8 } from "./_test_util.ts";

// RFC 8032 §7.1, TEST 1, 2 and 3: secret key (seed), public key, message, signature.
const RFC8032 = [
  {
    name: "TEST 1",
    sk: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
    pk: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
    msg: "",
    sig:
      "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
  },
  {
    name: "TEST 2",
    sk: "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
    pk: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
    msg: "72",
    sig:
      "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
  },
  {
    name: "TEST 3",
    sk: "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
    pk: "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
    msg: "af82",
    sig:
      "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
  },
];

for (const v of RFC8032) {
  test(`ed25519: RFC 8032 §7.1 ${v.name} through sign() and verify()`, async () => {
    const key = ed25519PrivateKey(hex(v.sk));
    assert.equal(toHex(key.publicKey.key), v.pk);
    // RFC 8709 §4 blob
    assert.deepEqual(
      key.publicKey.blob,
      new SshWriter().string("ssh-ed25519").string(hex(v.pk)).finish(),
    );
    const data = atOffset(hex(v.msg), 3);
    const sigBlob = await key.sign("ssh-ed25519", data);
    // RFC 8709 §6: string "ssh-ed25519", string signature(64)
    const r = new SshReader(sigBlob);
    assert.equal(r.ascii("alg"), "ssh-ed25519");
    assert.equal(toHex(r.string("sig")), v.sig);
    r.end("sig blob");

    const pub = parsePublicKey(atOffset(key.publicKey.blob, 5));
    const given = atOffset(encodeSignature("ssh-ed25519", hex(v.sig)), 9);
    assert.equal(await pub.verify(given, data, { algorithm: "ssh-ed25519" }), true);
  });
}

test("ed25519: tampered data, signature, algorithm or encoding are rejected with false", async () => {
  const key = ed25519PrivateKey(hex(RFC8032[2].sk));
  const data = hex(RFC8032[2].msg);
  const blob = await key.sign("ssh-ed25519", data);
  const pub = key.publicKey;
  assert.equal(await pub.verify(blob, data, { algorithm: "ssh-ed25519" }), true);
  assert.equal(await pub.verify(blob, hex("af83"), { algorithm: "ssh-ed25519" }), false);
  const bad = blob.slice();
  bad[bad.length - 40] ^= 1;
  assert.equal(await pub.verify(bad, data, { algorithm: "ssh-ed25519" }), false);
  assert.equal(await pub.verify(blob, data, { algorithm: "ecdsa-sha2-nistp256" }), false);
  assert.equal(await pub.verify(blob, data, { algorithm: "rsa-sha2-256" }), false);
  // blob naming another algorithm
  const sig = new SshReader(blob);
  sig.ascii("a");
  const raw = sig.string("s");
  assert.equal(
    await pub.verify(encodeSignature("ssh-ed448", raw), data, { algorithm: "ssh-ed25519" }),
    false,
  );
  // wrong length, truncated, trailing bytes, empty
  assert.equal(
    await pub.verify(encodeSignature("ssh-ed25519", raw.subarray(0, 63)), data, {
      algorithm: "ssh-ed25519",
    }),
    false,
  );
  assert.equal(
    await pub.verify(blob.subarray(0, blob.length - 1), data, { algorithm: "ssh-ed25519" }),
    false,
  );
  const trailing = new Uint8Array(blob.length + 1);
  trailing.set(blob);
  assert.equal(await pub.verify(trailing, data, { algorithm: "ssh-ed25519" }), false);
  assert.equal(await pub.verify(new Uint8Array(0), data, { algorithm: "ssh-ed25519" }), false);
  // S >= L (non-canonical) is rejected (RFC 8032 §5.1.7)
  const highS = raw.slice();
  highS.fill(0xff, 32);
  assert.equal(
    await pub.verify(encodeSignature("ssh-ed25519", highS), data, { algorithm: "ssh-ed25519" }),
    false,
  );
  // a public key that is not a curve point: verify answers false, never throws
  const junk = ed25519PublicKey(new Uint8Array(32).fill(0xff));
  assert.equal(await junk.verify(blob, data, { algorithm: "ssh-ed25519" }), false);
});

test("ed25519: signing with another algorithm rejects with KeyError", async () => {
  const key = generateEd25519();
  await assert.rejects(key.sign("rsa-sha2-256", utf8("x")), KeyError);
  assert.deepEqual(key.algorithms, ["ssh-ed25519"]);
});

test("ed25519: 64-byte seed||pk form, bad lengths, deterministic generation", () => {
  const v = RFC8032[0];
  const both = new Uint8Array(64);
  both.set(hex(v.sk));
  both.set(hex(v.pk), 32);
  assert.equal(toHex(ed25519PrivateKey(both).publicKey.key), v.pk);
  both[63] ^= 1;
  assert.throws(() => ed25519PrivateKey(both), KeyError);
  assert.throws(() => ed25519PrivateKey(new Uint8Array(31)), /seed is 31 bytes, expected 32/);
  assert.throws(() => ed25519PublicKey(new Uint8Array(33)), /key is 33 bytes, expected 32/);
  const fixed = () => hex(v.sk);
  assert.equal(toHex(generateEd25519(fixed).publicKey.key), v.pk);
});

test("ed25519: the seed does not leak through properties, JSON or errors", async () => {
  const v = RFC8032[0];
  const key = ed25519PrivateKey(hex(v.sk));
  const dump = JSON.stringify(key) + Object.values(key).map(String).join();
  assert.equal(dump.includes(v.sk), false);
  await assert.rejects(
    key.sign("nope", new Uint8Array(0)),
    (e: Error) => !e.message.includes(v.sk),
  );
  // opensshPrivateFields carries it, on request only
  const f = new SshReader(key.opensshPrivateFields());
  assert.equal(toHex(f.string("pk")), v.pk);
  assert.equal(toHex(f.string("sk")), v.sk + v.pk);
  f.end("fields");
});
