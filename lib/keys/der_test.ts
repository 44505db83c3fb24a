import { test } from "node:test";
import assert from "node:assert/strict";
import { der, DerReader, pemDecode, pemEncode } from "./der.ts";
import { KeyError } from "./errors.ts";

test("DER round trip of the shapes key formats use, including long lengths and OIDs", () => {
  const big = new Uint8Array(300).fill(0xab);
  const bytes = der.sequence(
    der.integer(0n),
    der.integer(-129n),
    der.unsigned(new Uint8Array([0, 0, 0x80, 1])),
    der.oid("1.2.840.113549.1.1.1"),
    der.null(),
    der.octetString(big),
    der.bitString(new Uint8Array([4, 5])),
    der.context(0, der.oid("1.3.132.0.34")),
  );
  const r = new DerReader(bytes, "test").sequence("outer");
  assert.equal(r.integer("a"), 0n);
  assert.equal(r.integer("b"), -129n);
  assert.deepEqual([...r.unsignedBytes("c")], [0x80, 1]);
  assert.equal(r.oid("alg"), "1.2.840.113549.1.1.1");
  r.null("params");
  assert.equal(r.octetString("big").length, 300);
  assert.deepEqual([...r.bitString("bits")], [4, 5]);
  assert.equal(r.optionalContext(1, "absent"), undefined);
  assert.equal(r.optionalContext(0, "curve")!.oid("curve"), "1.3.132.0.34");
  r.end("outer");
});

test("hostile DER is a KeyError naming the field and offset", () => {
  const cases: Uint8Array[] = [
    new Uint8Array([0x30]),
    new Uint8Array([0x30, 0x05, 0x02]),
    new Uint8Array([0x30, 0x81, 0x05, 0, 0, 0, 0, 0]), // non-minimal length
    new Uint8Array([0x30, 0x85, 1, 1, 1, 1, 1]),
    new Uint8Array([0x02, 0x01, 0x05]), // INTEGER where SEQUENCE expected
  ];
  for (const c of cases) {
    assert.throws(
      () => new DerReader(c, "PKCS#8 private key").sequence("PrivateKeyInfo"),
      (e: Error) => {
        assert.ok(e instanceof KeyError);
        assert.match(e.message, /PKCS#8 private key.*PrivateKeyInfo at DER offset \d+/);
        return true;
      },
    );
  }
});

test("PEM armor: encode, decode, headers, label selection, garbage", () => {
  const text = pemEncode("PUBLIC KEY", new Uint8Array(100).fill(7));
  assert.ok(text.split("\n").every((l) => l.length <= 64));
  assert.deepEqual(pemDecode(text, "PUBLIC KEY").bytes, new Uint8Array(100).fill(7));
  const legacy =
    "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAQID\n-----END RSA PRIVATE KEY-----\n";
  const d = pemDecode(legacy);
  assert.equal(d.headers.get("Proc-Type"), "4,ENCRYPTED");
  assert.deepEqual([...d.bytes], [1, 2, 3]);
  assert.throws(() => pemDecode(text, "PRIVATE KEY"), KeyError);
  assert.throws(() => pemDecode("-----BEGIN X-----\n@@@\n-----END X-----\n"), /base64/);
  // Found by tests/fuzz_keys_test.ts: misplaced padding was a bare InvalidCharacterError.
  assert.throws(() => pemDecode("-----BEGIN X-----\nAAAAAA=\n-----END X-----\n"), (e) => {
    assert.ok(e instanceof KeyError, String(e));
    assert.match(e.message, /PEM X.*not valid base64/);
    return true;
  });
});
