import { test } from "node:test";
import assert from "node:assert/strict";
import { SshReader } from "../wire/reader.ts";
import { SshWriter } from "../wire/writer.ts";
import { ecdsaPrivateKey, ecdsaPublicKey, generateEcdsa } from "./ecdsa.ts";
import { KeyError } from "./errors.ts";
import { parsePublicKey } from "./public_key.ts";
import { encodeSignature } from "./signature.ts";
import { atOffset, hex, toHex, utf8 } from "./_test_util.ts";

// RFC 6979 A.2.5 (P-256, SHA-256), A.2.6 (P-384, SHA-384), A.2.7 (P-521, SHA-512):
// key pair and the deterministic signature of the message "sample". These are
// exactly the hashes RFC 5656 §6.2.1 assigns to each curve.
const RFC6979 = [
  {
    curve: "nistp256",
    x: "C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721",
    ux: "60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6",
    uy: "7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299",
    r: "EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716",
    s: "F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8",
  },
  {
    curve: "nistp384",
    x: "6B9D3DAD2E1B8C1C05B19875B6659F4DE23C3B667BF297BA9AA47740787137D896D5724E4C70A825F872C9EA60D2EDF5",
    ux:
      "EC3A4E415B4E19A4568618029F427FA5DA9A8BC4AE92E02E06AAE5286B300C64DEF8F0EA9055866064A254515480BC13",
    uy:
      "8015D9B72D7D57244EA8EF9AC0C621896708A59367F9DFB9F54CA84B3F1C9DB1288B231C3AE0D4FE7344FD2533264720",
    r: "94EDBB92A5ECB8AAD4736E56C691916B3F88140666CE9FA73D64C4EA95AD133C81A648152E44ACF96E36DD1E80FABE46",
    s: "99EF4AEB15F178CEA1FE40DB2603138F130E740A19624526203B6351D0A3A94FA329C145786E679E7B82C71A38628AC8",
  },
  {
    curve: "nistp521",
    x: "0FAD06DAA62BA3B25D2FB40133DA757205DE67F5BB0018FEE8C86E1B68C7E75CAA896EB32F1F47C70855836A6D16FCC1466F6D8FBEC67DB89EC0C08B0E996B83538",
    ux:
      "01894550D0785932E00EAA23B694F213F8C3121F86DC97A04E5A7167DB4E5BCD371123D46E45DB6B5D5370A7F20FB633155D38FFA16D2BD761DCAC474B9A2F5023A4",
    uy:
      "00493101C962CD4D2FDDF782285E64584139C2F91B47F87FF82354D6630F746A28A0DB25741B5B34A828008B22ACC23F924FAAFBD4D33F81EA66956DFEAA2BFDFCF5",
    r: "00C328FAFCBD79DD77850370C46325D987CB525569FB63C5D3BC53950E6D4C5F174E25A1EE9017B5D450606ADD152B534931D7D4E8455CC91F9B15BF05EC36E377FA",
    s: "00617CCE7CF5064806C467F678D3B4080D6F1CC50AF26CA209417308281B68AF282623EAA63E5B5C0723D8B8C37FF0777B1A20F8CCB1DCCC43997F1EE0E44DA4A67A",
  },
];

function blobFor(curve: string, ux: string, uy: string): Uint8Array {
  return new SshWriter()
    .string(`ecdsa-sha2-${curve}`)
    .string(curve)
    .string(hex("04" + ux + uy))
    .finish();
}

function sigBlob(type: string, r: string, s: string): Uint8Array {
  const inner = new SshWriter().mpintBytes(hex(r)).mpintBytes(hex(s)).finish();
  return encodeSignature(type, inner);
}

for (const v of RFC6979) {
  const type = `ecdsa-sha2-${v.curve}`;
  test(`ecdsa: RFC 6979 vector for ${v.curve} verifies through a blob built from the RFC's key`, async () => {
    const pub = parsePublicKey(atOffset(blobFor(v.curve, v.ux, v.uy)));
    assert.equal(pub.type, type);
    const data = atOffset(utf8("sample"), 1);
    assert.equal(
      await pub.verify(atOffset(sigBlob(type, v.r, v.s), 3), data, { algorithm: type }),
      true,
    );
    assert.equal(
      await pub.verify(sigBlob(type, v.r, v.s), utf8("samplf"), { algorithm: type }),
      false,
    );
    // r and s swapped, s tampered
    assert.equal(await pub.verify(sigBlob(type, v.s, v.r), data, { algorithm: type }), false);
    const s2 = (BigInt("0x" + v.s) ^ 1n).toString(16);
    assert.equal(
      await pub.verify(sigBlob(type, v.r, s2.length % 2 ? "0" + s2 : s2), data, {
        algorithm: type,
      }),
      false,
    );
  });

  test(`ecdsa: our ${v.curve} signer reproduces RFC 6979's deterministic signature`, async () => {
    const key = ecdsaPrivateKey(v.curve, hex(v.x));
    assert.deepEqual(key.publicKey.blob, blobFor(v.curve, v.ux, v.uy));
    const blob = await key.sign(type, utf8("sample"));
    const r = new SshReader(blob);
    assert.equal(r.ascii("alg"), type);
    const inner = new SshReader(r.string("sig"));
    r.end("blob");
    assert.equal(inner.mpint("r"), BigInt("0x" + v.r));
    assert.equal(inner.mpint("s"), BigInt("0x" + v.s));
    inner.end("inner");
  });
}

for (const curve of ["nistp256", "nistp384", "nistp521"]) {
  const type = `ecdsa-sha2-${curve}`;
  test(`ecdsa: ${curve} generate / sign / verify round trip; tampering gives false`, async () => {
    const key = generateEcdsa(curve);
    assert.equal(key.type, type);
    assert.deepEqual(key.algorithms, [type]);
    const data = utf8("exchange hash H");
    const blob = await key.sign(type, data);
    const pub = parsePublicKey(key.publicKey.blob);
    assert.equal(pub.fingerprint(), key.publicKey.fingerprint());
    assert.equal(await pub.verify(blob, data, { algorithm: type }), true);
    assert.equal(await pub.verify(blob, utf8("exchange hash h"), { algorithm: type }), false);
    for (let i = 25; i < blob.length; i += 17) {
      const bad = blob.slice();
      bad[i] ^= 0x40;
      assert.equal(await pub.verify(bad, data, { algorithm: type }), false, `byte ${i}`);
    }
    const other = type === "ecdsa-sha2-nistp256" ? "ecdsa-sha2-nistp384" : "ecdsa-sha2-nistp256";
    assert.equal(await pub.verify(blob, data, { algorithm: other }), false);
    assert.equal(await pub.verify(blob, data, { algorithm: "ssh-ed25519" }), false);
    await assert.rejects(key.sign(other, data), KeyError);
  });
}

test("ecdsa: out-of-range, negative, zero and non-minimal r/s give false", async () => {
  const v = RFC6979[0];
  const type = "ecdsa-sha2-nistp256";
  const pub = parsePublicKey(blobFor(v.curve, v.ux, v.uy));
  const data = utf8("sample");
  const n = "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551";
  const mk = (w: (x: SshWriter) => SshWriter) => encodeSignature(type, w(new SshWriter()).finish());
  assert.equal(
    await pub.verify(mk((x) => x.mpint(0n).mpint(1n)), data, { algorithm: type }),
    false,
  );
  assert.equal(
    await pub.verify(mk((x) => x.mpint(-5n).mpint(BigInt("0x" + v.s))), data, { algorithm: type }),
    false,
  );
  assert.equal(
    await pub.verify(
      mk((x) => x.mpint(BigInt("0x" + v.r) + BigInt("0x" + n)).mpint(BigInt("0x" + v.s))),
      data,
      { algorithm: type },
    ),
    false,
  );
  // non-minimal mpint (extra leading zero)
  const padded = mk((x) => x.string(hex("00" + "00" + v.r)).mpint(BigInt("0x" + v.s)));
  assert.equal(await pub.verify(padded, data, { algorithm: type }), false);
  // trailing bytes inside the signature
  assert.equal(
    await pub.verify(
      mk((x) => x.mpint(BigInt("0x" + v.r)).mpint(BigInt("0x" + v.s)).byte(0)),
      data,
      { algorithm: type },
    ),
    false,
  );
  // a low-S signature of the same message is also accepted (both are valid)
  const lowS = (BigInt("0x" + n) - BigInt("0x" + v.s)).toString(16).padStart(64, "0");
  assert.equal(await pub.verify(sigBlob(type, v.r, lowS), data, { algorithm: type }), true);
});

test("ecdsa: hostile public keys and scalars throw KeyError", () => {
  const v = RFC6979[0];
  const good = hex("04" + v.ux + v.uy);
  const offCurve = good.slice();
  offCurve[64] ^= 1;
  assert.throws(() => ecdsaPublicKey("nistp256", offCurve), /not a point on nistp256/);
  const compressed = hex("03" + v.ux);
  assert.throws(() => ecdsaPublicKey("nistp256", compressed), /Q is 33 bytes, expected 65/);
  const wrongPrefix = good.slice();
  wrongPrefix[0] = 0x06;
  assert.throws(() => ecdsaPublicKey("nistp256", wrongPrefix), /expected 0x04/);
  assert.throws(() => ecdsaPublicKey("nistp224", good), /unsupported curve/);
  assert.throws(
    () => ecdsaPrivateKey("nistp256", new Uint8Array(32)),
    /scalar is not in \[1, n-1\]/,
  );
  assert.throws(
    () =>
      ecdsaPrivateKey(
        "nistp256",
        hex("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551"),
      ),
    (e: Error) => e instanceof KeyError && !/bce6faad/i.test(e.message),
  );
  assert.throws(() => ecdsaPrivateKey("nistp256", new Uint8Array(33).fill(1)), /longer than 32/);
  // leading zeros, as an mpint magnitude might carry, are fine
  const withZero = new Uint8Array(33);
  withZero.set(hex(v.x), 1);
  assert.equal(ecdsaPrivateKey("ecdsa-sha2-nistp256", withZero).publicKey.q.length, 65);
});

test("ecdsa: the scalar does not leak through properties or JSON", () => {
  const v = RFC6979[1];
  const key = ecdsaPrivateKey(v.curve, hex(v.x));
  const dump = JSON.stringify(key) + Object.values(key).map(String).join();
  assert.equal(dump.toLowerCase().includes(v.x.toLowerCase()), false);
  const f = new SshReader(key.opensshPrivateFields());
  assert.equal(f.ascii("curve"), "nistp384");
  assert.equal(toHex(f.string("Q")), ("04" + v.ux + v.uy).toLowerCase());
  assert.equal(f.mpint("d"), BigInt("0x" + v.x));
  f.end("fields");
});
