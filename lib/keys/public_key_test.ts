import { test } from "node:test";
import assert from "node:assert/strict";
import { SshWriter } from "../wire/writer.ts";
import { ed25519PrivateKey } from "./ed25519.ts";
import { KeyError } from "./errors.ts";
import { fingerprintSha256 } from "./fingerprint.ts";
import { HOST_KEY_ALGORITHMS, signatureAlgorithmsForKeyType } from "./host_key_algorithms.ts";
import { generatePrivateKey } from "./private_key.ts";
import { parsePublicKey, PUBLIC_KEY_TYPES } from "./public_key.ts";
import { atOffset, hex, utf8 } from "./_test_util.ts";

// RFC 6979 A.2.5 P-256 public key, a valid uncompressed point.
const P256_Q = hex(
  "04 60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6" +
    "7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299",
);
const w = () => new SshWriter();
const ED = w().string("ssh-ed25519").string(new Uint8Array(32).fill(3)).finish();
const EC = w().string("ecdsa-sha2-nistp256").string("nistp256").string(P256_Q).finish();
const RSA_N = (1n << 2047n) | 12345n | 1n;
const RSA = w().string("ssh-rsa").mpint(65537n).mpint(RSA_N).finish();

function keyError(pattern: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof KeyError, `expected KeyError, got ${e}`);
    assert.match(e.message, pattern);
    return true;
  };
}

test("parsePublicKey: each type round-trips from an offset view and keeps its own copy", () => {
  for (const blob of [ED, EC, RSA]) {
    const view = atOffset(blob, 13);
    const key = parsePublicKey(view);
    assert.deepEqual(key.blob, blob);
    assert.equal(key.fingerprint(), fingerprintSha256(blob));
    view.fill(0);
    assert.deepEqual(key.blob, blob); // unaffected by later reuse of the packet buffer
  }
  assert.equal(parsePublicKey(ED).type, "ssh-ed25519");
  assert.equal(parsePublicKey(EC).type, "ecdsa-sha2-nistp256");
  assert.equal(parsePublicKey(RSA).type, "ssh-rsa");
});

test("parsePublicKey: every truncation of every type throws KeyError naming a field", () => {
  for (const blob of [ED, EC, RSA]) {
    for (let len = 0; len < blob.length; len++) {
      assert.throws(() => parsePublicKey(atOffset(blob.subarray(0, len), 3)), (e: unknown) => {
        assert.ok(e instanceof KeyError, `length ${len}: ${e}`);
        assert.ok(e.where !== undefined, `length ${len}: no where in ${e.message}`);
        return true;
      });
    }
  }
  assert.throws(
    () => parsePublicKey(new Uint8Array(0)),
    keyError(/^public key: key type at offset 0: uint32 needs 4 bytes/),
  );
  assert.throws(
    () => parsePublicKey(ED.subarray(0, 40)),
    keyError(/ssh-ed25519 key at offset 15: string length 32 exceeds the 21 bytes left/),
  );
});

test("parsePublicKey: hostile blobs throw KeyError naming the problem", () => {
  const cases: [Uint8Array, RegExp][] = [
    [w().string("ssh-dss").string("x").finish(), /unsupported key type "ssh-dss"/],
    [w().string("x".repeat(5000)).finish(), /unsupported key type "x{64}\.\.\."/],
    [
      w().string(new Uint8Array([0x73, 0x00, 0x01])).finish(),
      /key type at offset 0: byte 0x0 at index 1/,
    ],
    [w().uint32(0xffffffff).finish(), /key type at offset 0: string length 4294967295 exceeds/],
    [w().string("ssh-ed25519").string(new Uint8Array(31)).finish(), /key is 31 bytes, expected 32/],
    [
      w().string("ssh-ed25519").string(new Uint8Array(32)).byte(0).finish(),
      /ssh-ed25519 public key: offset 51: 1 unexpected trailing bytes/,
    ],
    [
      w().string("ecdsa-sha2-nistp256").string("nistp384").string(P256_Q).finish(),
      /curve identifier "nistp384" does not match the key type/,
    ],
    [
      w().string("ecdsa-sha2-nistp256").string("nistp256").string(P256_Q.subarray(0, 33)).finish(),
      /Q at offset 35: Q is 33 bytes, expected 65/,
    ],
    [
      w().string("ecdsa-sha2-nistp256").string("nistp256").string(new Uint8Array(65).fill(4))
        .finish(),
      /Q is not a point on nistp256/,
    ],
    [
      w().string("ecdsa-sha2-nistp256").string("nistp256").string(new Uint8Array(65)).finish(),
      /expected 0x04 \(uncompressed\)/,
    ],
    [
      w().string("ecdsa-sha2-nistp521").string("nistp521").string(P256_Q).finish(),
      /Q is 65 bytes, expected 133/,
    ],
    [
      w().string("ecdsa-sha2-nistp256").string("nistp256").string(P256_Q).uint32(0).finish(),
      /4 unexpected trailing bytes/,
    ],
    [
      w().string("ssh-rsa").mpint(65537n).mpint((1n << 1022n) | 1n).finish(),
      /n at offset 18: modulus is 1023 bits, fewer than 1024/,
    ],
    [
      w().string("ssh-rsa").mpint(65537n).mpint(-RSA_N).finish(),
      /n at offset 18: mpint is negative/,
    ],
    [w().string("ssh-rsa").mpint(65537n).mpint(RSA_N + 1n).finish(), /modulus is even/],
    [
      w().string("ssh-rsa").mpint(1n).mpint(RSA_N).finish(),
      /e at offset 11: exponent 1 is not an odd number >= 3/,
    ],
    [w().string("ssh-rsa").mpint(0n).mpint(RSA_N).finish(), /exponent 0 is not/],
    [
      w().string("ssh-rsa").string(hex("0001")).mpint(RSA_N).finish(),
      /e at offset 11: mpint has an unnecessary leading byte/,
    ],
    [w().string("ssh-rsa").mpint(65537n).mpint(1n << 16400n | 1n).finish(), /more than 16384/],
  ];
  for (const [blob, pattern] of cases) {
    assert.throws(() => parsePublicKey(atOffset(blob, 5)), keyError(pattern), pattern.source);
  }
});

test("HOST_KEY_ALGORITHMS: OpenSSH order, no SHA-1", () => {
  assert.deepEqual([...HOST_KEY_ALGORITHMS.keys()], [
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "rsa-sha2-512",
    "rsa-sha2-256",
  ]);
  assert.equal(HOST_KEY_ALGORITHMS.has("ssh-rsa"), false);
  for (const [name, a] of HOST_KEY_ALGORITHMS) {
    assert.equal(a.name, name);
    assert.ok(PUBLIC_KEY_TYPES.includes(a.keyType));
  }
  assert.deepEqual(signatureAlgorithmsForKeyType("ssh-rsa"), ["rsa-sha2-512", "rsa-sha2-256"]);
  assert.deepEqual(signatureAlgorithmsForKeyType("ssh-dss"), []);
});

test("fingerprintSha256: known values", () => {
  assert.equal(
    fingerprintSha256(new Uint8Array(0)),
    "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU",
  );
  // RFC 8032 TEST 1 key: fingerprint as printed by `ssh-keygen -l` for
  // "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINdamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1Ea".
  const key = ed25519PrivateKey(
    hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"),
  );
  assert.equal(key.publicKey.fingerprint(), "SHA256:bbXpuKG6zhzdmnxq256TlqzFBzRl2f6OOg722cYNbU8");
});

test("generatePrivateKey: every type signs what its public key verifies", async () => {
  for (const type of PUBLIC_KEY_TYPES) {
    const key = await generatePrivateKey(type, type === "ssh-rsa" ? { bits: 2048 } : {});
    assert.equal(key.type, type);
    assert.equal(key.publicKey.type, type);
    assert.deepEqual(key.algorithms, signatureAlgorithmsForKeyType(type));
    const pub = parsePublicKey(key.publicKey.blob);
    const data = utf8(`H for ${type}`);
    for (const alg of key.algorithms) {
      assert.equal(
        await pub.verify(await key.sign(alg, data), data, { algorithm: alg }),
        true,
        alg,
      );
    }
  }
});

test("generatePrivateKey: injected randomness, bad types and sizes", async () => {
  const fixed = (n: number) => new Uint8Array(n).fill(9);
  for (const type of ["ssh-ed25519", "ecdsa-sha2-nistp384"]) {
    const a = await generatePrivateKey(type, { random: fixed });
    const b = await generatePrivateKey(type, { random: fixed });
    assert.deepEqual(a.publicKey.blob, b.publicKey.blob);
  }
  assert.equal(
    (await generatePrivateKey("ecdsa-sha2-nistp521", { bits: 521 })).type,
    "ecdsa-sha2-nistp521",
  );
  await assert.rejects(
    generatePrivateKey("ecdsa-sha2-nistp256", { bits: 384 }),
    keyError(/bits is 384, but the curve has 256/),
  );
  await assert.rejects(generatePrivateKey("ssh-dss"), keyError(/unsupported type "ssh-dss"/));
  await assert.rejects(
    generatePrivateKey("ssh-rsa", { bits: 1024 }),
    keyError(/cannot generate a 1024-bit key/),
  );
});
