import { test } from "node:test";
import assert from "node:assert/strict";
import { fromBase64 } from "./_bytes.ts";
import { PassphraseRequiredError, WrongPassphraseError } from "./_private_key_common.ts";
import { atOffset, hex, utf8 } from "./_test_util.ts";
import { der, pemDecode, pemEncode } from "./der.ts";
import { generateEcdsa } from "./ecdsa.ts";
import { generateEd25519 } from "./ed25519.ts";
import { KeyError } from "./errors.ts";
import { encodePemPrivateKey, parsePemPrivateKey } from "./pem_private_key.ts";
import type { PrivateKey } from "./types.ts";

// Test keys (no secrets), written by OpenSSL 3.0 and ssh-keygen 9.2p1:
// SEC1_P256: `ssh-keygen -t ecdsa -b 256 -m PEM -N ''`; the others are that
// key re-saved by `ssh-keygen -p -m PEM|PKCS8 [-N passw0rd]`. Ed25519:
// `openssl genpkey -algorithm ed25519`, encrypted with `openssl pkcs8 -topk8
// -v2 aes-192-cbc -v2prf hmacWithSHA1 -passout pass:passw0rd`. RSA: `openssl
// genrsa 1024` (PKCS#8) and `openssl rsa -traditional` (PKCS#1).
const SEC1_P256 = `-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIGecqntxQPTsUsULdGwK+fsmv4PkFIJNEm831cQVIilUoAoGCCqGSM49
AwEHoUQDQgAE50wpbV5MLLFcHOK85JDE1yQYQDekHqcwqrXooDxv42Z0hmU2xkLT
Z/AhJdzyghKYxcO87sXIWmfyykgnE47J2g==
-----END EC PRIVATE KEY-----
`;
const SEC1_P256_LEGACY = `-----BEGIN EC PRIVATE KEY-----
Proc-Type: 4,ENCRYPTED
DEK-Info: AES-128-CBC,31F91DCC639875D02B7642A65F93FE29

1Ram27hXVhYHaIxqyefXy/ueXQfCDivuoS2WVQzDlFuiHIC8CIFns9V9iZZ0+RaQ
hlZiPOs0xVxyiez8uA4QaUUZCbwpvI8jsnnoHD7TZvbZ2cNU7xZTGZt7llelHoOb
4K3BPUF8IGC2DrhV/so6NvTy+1Ok6q16y2tkSM/Aivw=
-----END EC PRIVATE KEY-----
`;
const PKCS8_P256 = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgZ5yqe3FA9OxSxQt0
bAr5+ya/g+QUgk0SbzfVxBUiKVShRANCAATnTCltXkwssVwc4rzkkMTXJBhAN6Qe
pzCqteigPG/jZnSGZTbGQtNn8CEl3PKCEpjFw7zuxchaZ/LKSCcTjsna
-----END PRIVATE KEY-----
`;
const PKCS8_P256_ENCRYPTED = `-----BEGIN ENCRYPTED PRIVATE KEY-----
MIHsMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAhne8sJLBJ6NQICCAAw
DAYIKoZIhvcNAgkFADAdBglghkgBZQMEAQIEEGc5nsogAjh7mLtiDnWForcEgZBV
J4223VkphcLowo/J0U/Bv6/+LeDZ36X7McAw3YurAEKXa3hV0UaJJecHCmdUcnsP
iVckuThFooeIX4Wh7nmTjwkVwQUd5dl1q1PgkRXeQU2NAxY53FCN7taxpT0GicbQ
LT+UJa5zQIoo5mlzGSzhkLYT23fRdvKQO8pbOkaK4eDVa0Sd0TuRYLapC/8yjsI=
-----END ENCRYPTED PRIVATE KEY-----
`;
const PKCS8_ED25519 = `-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIEUfVV0U3yP7Y1W0ULy8xY6QhW/xvGrQ57MJuw4H67iU
-----END PRIVATE KEY-----
`;
const PKCS8_ED25519_ENCRYPTED = `-----BEGIN ENCRYPTED PRIVATE KEY-----
MIGNMEkGCSqGSIb3DQEFDTA8MBsGCSqGSIb3DQEFDDAOBAhu+GgqWIsDQgICCAAw
HQYJYIZIAWUDBAEWBBDUzRxHkmx73TpkT78+hdJqBEDvrCQghVIMj73ic7LOyVUD
NRSj6A198Thq/faUbfzVYMttq4YpsVhDEGAPcfNtWRp0nujqDV/yZiv4xMxvaCQk
-----END ENCRYPTED PRIVATE KEY-----
`;
const PKCS1_RSA1024 = `-----BEGIN RSA PRIVATE KEY-----
MIICXAIBAAKBgQDIV5bvIJqvhK46gc246mYGYzKJptHMsxqPIvRU2cZ5N/DjtUO1
xwJOh3WjyXdPSQrYoMkItStdwVOqn5ptxo2RGSsrsc1EyOyRChZRg8TISHm6CacV
UEh1DUpHyX4pPXFteJuAK0X3Kyb9f8oIzgXWxKlBsaMLji18swoq5qQ7qQIDAQAB
AoGAVwZVNgJ/rwZ/eEKyTkTjlJq6dTjVoYmbW9nfMIx4vmciaIdwpiGQSvRkkYUO
Io6j+328Vd/8unkkEtXJiy3YiAy13vVZDW5HbgpP7Ox9luxlHK309lXv0r+Q21Xj
yR1RROFGNzdmzCsLtFtsDiopzgk97Cd/1VXvgSGEMjQzBRECQQD/FpA8pqjMMuAa
KO9idRGAQQ/ZJZ7BXF9hXIu1IPp8w9HZaWGzKSBbTySfggtt7kr+snSqMtR8opBC
yhKma9JfAkEAyQ7tTAA0QVAUake/U0BcJ8IGf1Zwq0iFncvAseviqm1YaBj4r5i5
cZD9wOAhJVEh6+m7LM++lp/5fIpNxV7+9wJBAN7POpV/jRkvpweykcYSM4MvUUR+
07hZkwZb67v+Xkz0Tiv1HF19osGe04Jv+MPAzMjD35t6Ypeq9w8fqkKrE0kCQACd
3Bp0kbR1k2p0B+EwfFfe33g6gqPz1/0Q5+ljyNEu/qtrEDAxrrfrcuvJhDCCHDGG
CP3tMS9zFCfOoMhvLycCQAKDynGFAo5kJfN7dWCx2u3Ug8JbAPvL3/hLQqsiyG0g
2MEIq2VQlxIKS2DCJJjXb9d7a9hgZxPyvNa18jrcgEQ=
-----END RSA PRIVATE KEY-----
`;
const PKCS8_RSA1024 = `-----BEGIN PRIVATE KEY-----
MIICdgIBADANBgkqhkiG9w0BAQEFAASCAmAwggJcAgEAAoGBAMhXlu8gmq+ErjqB
zbjqZgZjMomm0cyzGo8i9FTZxnk38OO1Q7XHAk6HdaPJd09JCtigyQi1K13BU6qf
mm3GjZEZKyuxzUTI7JEKFlGDxMhIeboJpxVQSHUNSkfJfik9cW14m4ArRfcrJv1/
ygjOBdbEqUGxowuOLXyzCirmpDupAgMBAAECgYBXBlU2An+vBn94QrJOROOUmrp1
ONWhiZtb2d8wjHi+ZyJoh3CmIZBK9GSRhQ4ijqP7fbxV3/y6eSQS1cmLLdiIDLXe
9VkNbkduCk/s7H2W7GUcrfT2Ve/Sv5DbVePJHVFE4UY3N2bMKwu0W2wOKinOCT3s
J3/VVe+BIYQyNDMFEQJBAP8WkDymqMwy4Boo72J1EYBBD9klnsFcX2Fci7Ug+nzD
0dlpYbMpIFtPJJ+CC23uSv6ydKoy1HyikELKEqZr0l8CQQDJDu1MADRBUBRqR79T
QFwnwgZ/VnCrSIWdy8Cx6+KqbVhoGPivmLlxkP3A4CElUSHr6bssz76Wn/l8ik3F
Xv73AkEA3s86lX+NGS+nB7KRxhIzgy9RRH7TuFmTBlvru/5eTPROK/UcXX2iwZ7T
gm/4w8DMyMPfm3pil6r3Dx+qQqsTSQJAAJ3cGnSRtHWTanQH4TB8V97feDqCo/PX
/RDn6WPI0S7+q2sQMDGut+ty68mEMIIcMYYI/e0xL3MUJ86gyG8vJwJAAoPKcYUC
jmQl83t1YLHa7dSDwlsA+8vf+EtCqyLIbSDYwQirZVCXEgpLYMIkmNdv13tr2GBn
E/K81rXyOtyARA==
-----END PRIVATE KEY-----
`;
const P256_PUB =
  "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBOdMKW1eTCyxXBzivOSQxNckGEA3pB6nMKq16KA8b+NmdIZlNsZC02fwISXc8oISmMXDvO7FyFpn8spIJxOOydo=";
const RSA1024_PUB =
  "AAAAB3NzaC1yc2EAAAADAQABAAAAgQDIV5bvIJqvhK46gc246mYGYzKJptHMsxqPIvRU2cZ5N/DjtUO1xwJOh3WjyXdPSQrYoMkItStdwVOqn5ptxo2RGSsrsc1EyOyRChZRg8TISHm6CacVUEh1DUpHyX4pPXFteJuAK0X3Kyb9f8oIzgXWxKlBsaMLji18swoq5qQ7qQ==";
/** `openssl pkey -pubout`: the raw Ed25519 public key of PKCS8_ED25519. */
const ED25519_PUB = "cbe61ad4376499d644af97f6e6f3bc911182dea1e9086fa1619de74eff83698c";

async function rejects(p: Promise<unknown>, cls: typeof KeyError, re?: RegExp): Promise<KeyError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${e}`);
    if (re) assert.match((e as Error).message, re);
    return e as KeyError;
  }
  assert.fail(`expected ${cls.name}`);
}

async function signs(key: PrivateKey): Promise<void> {
  const data = utf8("data");
  const sig = await key.sign(key.algorithms[0], data);
  assert.ok(await key.publicKey.verify(sig, data, { algorithm: key.algorithms[0] }));
}

test("pem: reads OpenSSL's and ssh-keygen's files of every format", async () => {
  const cases = [
    [SEC1_P256, "sec1", false, P256_PUB],
    [SEC1_P256_LEGACY, "sec1", true, P256_PUB],
    [PKCS8_P256, "pkcs8", false, P256_PUB],
    [PKCS8_P256_ENCRYPTED, "pkcs8", true, P256_PUB],
    [PKCS1_RSA1024, "pkcs1", false, RSA1024_PUB],
    [PKCS8_RSA1024, "pkcs8", false, RSA1024_PUB],
  ] as const;
  for (const [text, format, encrypted, pub] of cases) {
    const f = await parsePemPrivateKey(text, { passphrase: "passw0rd" });
    assert.equal(f.format, format);
    assert.equal(f.encrypted, encrypted);
    assert.deepEqual(f.key.publicKey.blob, fromBase64(pub));
    await signs(f.key);
  }
  for (const text of [PKCS8_ED25519, PKCS8_ED25519_ENCRYPTED]) {
    const f = await parsePemPrivateKey(atOffset(utf8(text)), { passphrase: utf8("passw0rd") });
    assert.equal(f.key.type, "ssh-ed25519");
    assert.deepEqual(f.key.publicKey.blob.subarray(-32), hex(ED25519_PUB));
    await signs(f.key);
  }
});

test("pem: unencrypted output is byte-identical to OpenSSL's", async () => {
  const cases = [
    [SEC1_P256, "sec1"],
    [PKCS8_P256, "pkcs8"],
    [PKCS1_RSA1024, "pkcs1"],
    [PKCS8_RSA1024, "pkcs8"],
    [PKCS8_ED25519, "pkcs8"],
  ] as const;
  for (const [text, format] of cases) {
    const { key } = await parsePemPrivateKey(text);
    assert.equal(await encodePemPrivateKey(key, { format }), text, format);
  }
});

test("pem: traditional encrypted output is byte-identical to ssh-keygen -m PEM's", async () => {
  const iv = hex(/DEK-Info: AES-128-CBC,([0-9A-F]+)/.exec(SEC1_P256_LEGACY)![1]);
  const { key } = await parsePemPrivateKey(SEC1_P256);
  const out = await encodePemPrivateKey(key, {
    format: "sec1",
    passphrase: "passw0rd",
    random: () => iv.slice(),
  });
  assert.equal(out, SEC1_P256_LEGACY);
});

test("pem: round trips, encrypted and not, for every type and format", async () => {
  const rsa = (await parsePemPrivateKey(PKCS1_RSA1024)).key;
  const keys: [PrivateKey, ("pkcs1" | "sec1" | "pkcs8")[]][] = [
    [generateEd25519(), ["pkcs8"]],
    [generateEcdsa("nistp256"), ["sec1", "pkcs8"]],
    [generateEcdsa("nistp384"), ["sec1", "pkcs8"]],
    [generateEcdsa("nistp521"), ["sec1", "pkcs8"]],
    [rsa, ["pkcs1", "pkcs8"]],
  ];
  for (const [key, formats] of keys) {
    for (const format of formats) {
      for (const passphrase of [undefined, "", "pässwörd"]) {
        const text = await encodePemPrivateKey(key, { format, passphrase });
        const back = await parsePemPrivateKey(text, { passphrase });
        assert.equal(back.format, format);
        assert.equal(back.encrypted, !!passphrase);
        assert.deepEqual(back.key.publicKey.blob, key.publicKey.blob);
        if (passphrase) {
          await rejects(parsePemPrivateKey(text), PassphraseRequiredError, /passphrase is needed/);
          await rejects(
            parsePemPrivateKey(text, { passphrase: "nope" }),
            WrongPassphraseError,
            /wrong passphrase/,
          );
        }
      }
    }
  }
});

test("pem: wrong and missing passphrases on OpenSSL's files", async () => {
  for (const text of [SEC1_P256_LEGACY, PKCS8_P256_ENCRYPTED, PKCS8_ED25519_ENCRYPTED]) {
    await rejects(parsePemPrivateKey(text), PassphraseRequiredError);
    await rejects(parsePemPrivateKey(text, { passphrase: "" }), PassphraseRequiredError);
    for (const passphrase of ["passw0rD", "x", "passw0rd "]) {
      await rejects(parsePemPrivateKey(text, { passphrase }), WrongPassphraseError);
    }
  }
});

test("pem: a format that cannot hold the key, or a foreign key, is refused", async () => {
  const ed = generateEd25519();
  const ec = generateEcdsa("nistp256");
  await rejects(
    encodePemPrivateKey(ed, { format: "pkcs1" }),
    KeyError,
    /cannot hold a ssh-ed25519/,
  );
  await rejects(encodePemPrivateKey(ed, { format: "sec1" }), KeyError, /cannot hold/);
  await rejects(encodePemPrivateKey(ec, { format: "pkcs1" }), KeyError, /cannot hold/);
  const foreign: PrivateKey = {
    type: ec.type,
    publicKey: ec.publicKey,
    algorithms: ec.algorithms,
    sign: (a, d) => ec.sign(a, d),
  };
  await rejects(encodePemPrivateKey(foreign), KeyError, /not an Ed25519PrivateKey/);
});

/** Re-armors DER under `label`. */
const armor = (label: string, bytes: Uint8Array) => pemEncode(label, bytes);
const body = (text: string) => pemDecode(text).bytes;

test("pem: unsupported and inconsistent contents are KeyErrors naming the part", async () => {
  const alg = (oid: string, params?: Uint8Array) =>
    der.sequence(der.oid(oid), ...(params ? [params] : []));
  const p8 = (a: Uint8Array, inner: Uint8Array, version = 0n) =>
    armor("PRIVATE KEY", der.sequence(der.integer(version), a, der.octetString(inner)));
  const seed = der.octetString(new Uint8Array(32).fill(1));
  const cases: [string, string, RegExp][] = [
    [
      "DSA",
      p8(alg("1.2.840.10040.4.1"), seed),
      /privateKeyAlgorithm: unsupported key algorithm DSA/,
    ],
    ["Ed448", p8(alg("1.3.101.113"), seed), /unsupported key algorithm Ed448/],
    ["Ed25519 with params", p8(alg("1.3.101.112", der.null()), seed), /must be absent/],
    ["version 2", p8(alg("1.3.101.112"), seed, 2n), /version is 2, expected 0 or 1/],
    [
      "explicit curve",
      p8(alg("1.2.840.10045.2.1", der.sequence(der.integer(1n))), seed),
      /explicit curve parameters are not supported/,
    ],
    [
      "secp256k1",
      p8(alg("1.2.840.10045.2.1", der.oid("1.3.132.0.10")), seed),
      /unsupported curve 1.3.132.0.10/,
    ],
    [
      "multi-prime RSA",
      armor("RSA PRIVATE KEY", der.sequence(der.integer(1n), der.integer(3n))),
      /multi-prime RSA keys \(version 1\) are not supported/,
    ],
    [
      "SEC1 without curve",
      armor(
        "EC PRIVATE KEY",
        der.sequence(der.integer(1n), der.octetString(new Uint8Array(32).fill(1))),
      ),
      /no curve/,
    ],
    [
      "SEC1 public point mismatch",
      armor(
        "EC PRIVATE KEY",
        der.sequence(
          der.integer(1n),
          der.octetString(new Uint8Array(32).fill(1)),
          der.context(0, der.oid("1.2.840.10045.3.1.7")),
          der.context(1, der.bitString(generateEcdsa("nistp256").publicKey.q)),
        ),
      ),
      /publicKey: the stored public point does not match the private scalar/,
    ],
    [
      "legacy DES",
      SEC1_P256_LEGACY.replace("AES-128-CBC", "DES-EDE3-CBC"),
      /DEK-Info header: unsupported cipher "DES-EDE3-CBC"/,
    ],
    [
      "legacy bad IV",
      SEC1_P256_LEGACY.replace(/AES-128-CBC,[0-9A-F]+/, "AES-128-CBC,1234"),
      /IV is not 32 hexadecimal digits/,
    ],
    [
      "no block",
      "-----BEGIN DSA PRIVATE KEY-----\nAAAA\n-----END DSA PRIVATE KEY-----\n",
      /no RSA, EC/,
    ],
    [
      "bad base64 length",
      "-----BEGIN PRIVATE KEY-----\nAAAAA\n-----END PRIVATE KEY-----\n",
      /armor/,
    ],
  ];
  for (const [name, text, re] of cases) {
    const e = await rejects(parsePemPrivateKey(text, { passphrase: "passw0rd" }), KeyError, re);
    assert.ok(!(e instanceof WrongPassphraseError), name);
  }
  // An inconsistent RSA key (p and q swapped changes the CRT values).
  const rsa = body(PKCS1_RSA1024);
  const f = await parsePemPrivateKey(PKCS1_RSA1024);
  assert.equal(f.key.type, "ssh-rsa");
  const flipped = rsa.slice();
  flipped[flipped.length - 1] ^= 1; // the coefficient
  await rejects(
    parsePemPrivateKey(armor("RSA PRIVATE KEY", flipped)),
    KeyError,
    /iqmp|coefficient/,
  );
  // PBES2 with an unsupported KDF (scrypt) or scheme.
  const enc = body(PKCS8_P256_ENCRYPTED);
  const scrypt = enc.slice();
  // PBKDF2 OID ...05 0c -> ...05 0d would be PBES2; use a byte in the KDF OID.
  const kdfAt = findBytes(scrypt, hex("2a864886f70d01050c"));
  scrypt[kdfAt + 8] = 0x0b;
  await rejects(
    parsePemPrivateKey(armor("ENCRYPTED PRIVATE KEY", scrypt), { passphrase: "passw0rd" }),
    KeyError,
    /keyDerivationFunc: unsupported key derivation function 1.2.840.113549.1.5.11/,
  );
});

function findBytes(hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  throw new Error("not found");
}

test("pem: truncation at every byte of the text and of the DER is a KeyError", async () => {
  for (const text of [SEC1_P256, PKCS8_ED25519, PKCS8_P256_ENCRYPTED, SEC1_P256_LEGACY]) {
    for (let n = 0; n < text.length - 1; n++) {
      await rejects(parsePemPrivateKey(text.slice(0, n), { passphrase: "passw0rd" }), KeyError);
    }
    const block = pemDecode(text);
    const label = block.label;
    for (let n = 0; n < block.bytes.length; n++) {
      const cut = armor(label, block.bytes.subarray(0, n));
      const t = block.headers.size
        ? cut.replace(
          "-----\n",
          `-----\n${[...block.headers].map(([k, v]) => `${k}: ${v}`).join("\n")}\n\n`,
        )
        : cut;
      await rejects(parsePemPrivateKey(t, { passphrase: "passw0rd" }), KeyError);
    }
  }
});

test("pem: every single-bit flip of a SEC1 or PKCS#8 file is a KeyError or harmless", async () => {
  for (const text of [SEC1_P256, PKCS8_P256, PKCS8_ED25519]) {
    const { label, bytes } = pemDecode(text);
    const original = (await parsePemPrivateKey(text)).key;
    for (let i = 0; i < bytes.length; i++) {
      for (const bit of [0x01, 0x80]) {
        const b = bytes.slice();
        b[i] ^= bit;
        try {
          const r = await parsePemPrivateKey(armor(label, b));
          // A PKCS#8 v1 Ed25519 file has no redundancy: its seed may become another seed.
          if (!(text === PKCS8_ED25519 && i >= 16)) {
            assert.deepEqual(r.key.publicKey.blob, original.publicKey.blob, `byte ${i}`);
          }
        } catch (e) {
          assert.ok(e instanceof KeyError, `byte ${i}: ${e}`);
        }
      }
    }
  }
});
