import { test } from "node:test";
import assert from "node:assert/strict";
import { chacha20orig } from "@noble/ciphers/chacha.js";
import { SshReader } from "../wire/reader.ts";
import { SshWriter } from "../wire/writer.ts";
import { fromBase64, toBase64 } from "./_bytes.ts";
import { PassphraseRequiredError, WrongPassphraseError } from "./_private_key_common.ts";
import { atOffset, utf8 } from "./_test_util.ts";
import { bcryptPbkdf } from "./bcrypt_pbkdf.ts";
import { generateEcdsa } from "./ecdsa.ts";
import { ed25519PrivateKey, generateEd25519 } from "./ed25519.ts";
import { KeyError } from "./errors.ts";
import {
  encodeOpensshPrivateKey,
  OPENSSH_KEY_CIPHERS,
  parseOpensshPrivateKey,
} from "./openssh_private_key.ts";
import { rsaPrivateKeyFromJwk } from "./rsa.ts";
import type { PrivateKey } from "./types.ts";

// Fixtures written by OpenSSH 9.2p1's ssh-keygen (test keys, no secrets):
// `ssh-keygen -t ed25519 -C fixture@rxssh -N ''`, and `-N pass -a 2` with the
// default cipher (aes256-ctr), `-Z aes256-gcm@openssh.com` and
// `-Z chacha20-poly1305@openssh.com`; `ssh-keygen -t ecdsa -b 256 -N ''`.
const FIXTURE_NONE = `-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW
QyNTUxOQAAACBfhQCzxAgn7jdMHpxRFuODA4uomEPNz+xYI4efjRPdaAAAAJD7JU7e+yVO
3gAAAAtzc2gtZWQyNTUxOQAAACBfhQCzxAgn7jdMHpxRFuODA4uomEPNz+xYI4efjRPdaA
AAAEChGeZGMRVTEbwablMK1btZ1Anpfehe/72SU+gAlH6N11+FALPECCfuN0wenFEW44MD
i6iYQ83P7Fgjh5+NE91oAAAADWZpeHR1cmVAcnhzc2g=
-----END OPENSSH PRIVATE KEY-----\n`;
const PUB_NONE =
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF+FALPECCfuN0wenFEW44MDi6iYQ83P7Fgjh5+NE91o fixture@rxssh";
const FIXTURE_CTR = `-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAACmFlczI1Ni1jdHIAAAAGYmNyeXB0AAAAGAAAABC9zZtVai
t6l3QPVZPsMLknAAAAAgAAAAEAAAAzAAAAC3NzaC1lZDI1NTE5AAAAICbaRQIE0/pteyVh
6vNhlFJEfuOtQwNeZJGQ3R/NEFqQAAAAkJ4cflYLOB3AP8QL8vDaKLW1XuAwQn/LkEQ+hh
a0JHr7arT4pU+z5+x6IJIuVgXVmNTG+fMRimX6lhs0XIGULVvPuAOdWXdbtPgtST5J99Y+
WAYln8Qd9mhz0awE1dgYSGXj03y6SeRRIkG0/c1UUd+yZdWpNx2pqRpWQiRzDBarcnSxyk
QyTIvooGpC/l85ZQ==
-----END OPENSSH PRIVATE KEY-----\n`;
const PUB_CTR =
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICbaRQIE0/pteyVh6vNhlFJEfuOtQwNeZJGQ3R/NEFqQ fixture@rxssh";
const FIXTURE_GCM = `-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAAFmFlczI1Ni1nY21Ab3BlbnNzaC5jb20AAAAGYmNyeXB0AA
AAGAAAABA3ClbP4Tm2UWHUfy9XUYqoAAAAAgAAAAEAAAAzAAAAC3NzaC1lZDI1NTE5AAAA
IKieuQeObAXflAwJB8OALOWIaBKpAGUe0JSh1x9mF8EcAAAAkG8Q42DFhPBJC1SRdSLypY
1zP5y6y6G7bc4mgVOfIOfsPKB/ll49YOwNZJAq7GEBE6ZV5KAkFtcOnwNiK1IETMaarwDG
EnLSUAcSk+qW9y2AlEF6Fkg1F3mFbLrOonOXjKaMD6imBQDGe5AEXtR3/Gvb/KHdlZ7Jyp
/A4KFVHjY31ZwxluYjcR8pMksgUGWw7J4kwi/Wovz7Qwj9+bh12m4=
-----END OPENSSH PRIVATE KEY-----\n`;
const PUB_GCM =
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKieuQeObAXflAwJB8OALOWIaBKpAGUe0JSh1x9mF8Ec fixture@rxssh";
const FIXTURE_CHACHA = `-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAAHWNoYWNoYTIwLXBvbHkxMzA1QG9wZW5zc2guY29tAAAABm
JjcnlwdAAAABgAAAAQNxTdXtQWXtO7uSU8YKCfvwAAAAIAAAABAAAAMwAAAAtzc2gtZWQy
NTUxOQAAACCth3LSfcOrlDvG5MH7H5ip3calrAlbK+08ldA7C9eQRgAAAJBkan83bTrlsb
Yk2RZYd1bb+iMXgMEeFXNAeBZQHrCw1FHVlhgJZ3D6TlAtJa6yOCJjyti7j6sb1hotrq10
+aa6Quk+nQXNDypmAEcuYVhcNqoDVrORALn0wBKvoKn0LVmb0Z/Pr5Vw5OhysZqb0RE3oM
P8kY5cSt7PEN40ufgbOY0lYXozsCjB0Sh7efpkEWJ9mkwUokw4x/j3ALekbqse
-----END OPENSSH PRIVATE KEY-----\n`;
const PUB_CHACHA =
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK2HctJ9w6uUO8bkwfsfmKndxqWsCVsr7TyV0DsL15BG fixture@rxssh";
const FIXTURE_P256 = `-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAaAAAABNlY2RzYS
1zaGEyLW5pc3RwMjU2AAAACG5pc3RwMjU2AAAAQQSjPBBbnstdK6jRpeXgfsuJvLbewY2H
9+e7D4IToDJYhgcCPgOlxON0qyKdif9eDvG0FvNl2uJ5wvkvcUW1zfmlAAAAqEhB06lIQd
OpAAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBKM8EFuey10rqNGl
5eB+y4m8tt7BjYf357sPghOgMliGBwI+A6XE43SrIp2J/14O8bQW82Xa4nnC+S9xRbXN+a
UAAAAhAN1/xdtFIrccIHtjW9Y/+6lA+E4SlYIEZsm/M3lZL+kfAAAADHAyNTYgZml4dHVy
ZQECAw==
-----END OPENSSH PRIVATE KEY-----\n`;
const PUB_P256 =
  "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBKM8EFuey10rqNGl5eB+y4m8tt7BjYf357sPghOgMliGBwI+A6XE43SrIp2J/14O8bQW82Xa4nnC+S9xRbXN+aU= p256 fixture";

function unarmor(text: string): Uint8Array {
  return fromBase64(text.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, ""));
}

function armor(bytes: Uint8Array): string {
  const b64 = toBase64(bytes).replace(/.{70}/g, "$&\n").replace(/\n$/, "");
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${b64}\n-----END OPENSSH PRIVATE KEY-----\n`;
}

function pubBlob(line: string): Uint8Array {
  return fromBase64(line.split(" ")[1]);
}

/** A RandomSource that hands out the given buffers in order. */
function scripted(...chunks: Uint8Array[]) {
  return (n: number) => {
    const c = chunks.shift();
    assert.ok(c !== undefined && c.length === n, `scripted random: asked for ${n} bytes`);
    return c.slice();
  };
}

/** The fields of an openssh-key-v1 file, for building altered ones. */
interface Parts {
  cipher: string;
  kdf: string;
  kdfOptions: Uint8Array;
  count: number;
  publicBlob: Uint8Array;
  length: number;
  body: Uint8Array;
}

function split(bytes: Uint8Array): Parts {
  const r = new SshReader(bytes, 15);
  const cipher = r.ascii("c");
  const kdf = r.ascii("k");
  const kdfOptions = r.string("o");
  const count = r.uint32("n");
  const publicBlob = r.string("p");
  const length = r.uint32("l");
  return { cipher, kdf, kdfOptions, count, publicBlob, length, body: r.rest() };
}

function join(p: Parts): string {
  return armor(
    new SshWriter().raw(utf8("openssh-key-v1\0")).string(p.cipher).string(p.kdf)
      .string(p.kdfOptions).uint32(p.count).string(p.publicBlob).uint32(p.length).raw(p.body)
      .finish(),
  );
}

/** An unencrypted private section with the given pieces. */
function section(
  opts: { check1?: number; check2?: number; fields: Uint8Array; comment?: string; pad?: number[] },
): Uint8Array {
  const w = new SshWriter().uint32(opts.check1 ?? 7).uint32(opts.check2 ?? opts.check1 ?? 7)
    .raw(opts.fields).string(opts.comment ?? "c");
  if (opts.pad) { for (const b of opts.pad) w.byte(b); }
  else for (let i = 1; w.length % 8; i++) w.byte(i);
  return w.finish();
}

function ed25519Fields(key: PrivateKey): Uint8Array {
  const k = key as unknown as { opensshPrivateFields(): Uint8Array };
  return new SshWriter().string(key.type).raw(k.opensshPrivateFields()).finish();
}

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

test("openssh: reads ssh-keygen's unencrypted files (ed25519, ecdsa)", async () => {
  const a = await parseOpensshPrivateKey(FIXTURE_NONE);
  assert.equal(a.key.type, "ssh-ed25519");
  assert.equal(a.comment, "fixture@rxssh");
  assert.equal(a.encrypted, false);
  assert.equal(a.cipher, "none");
  assert.deepEqual(a.key.publicKey.blob, pubBlob(PUB_NONE));
  const b = await parseOpensshPrivateKey(FIXTURE_P256);
  assert.equal(b.key.type, "ecdsa-sha2-nistp256");
  assert.equal(b.comment, "p256 fixture");
  assert.deepEqual(b.key.publicKey.blob, pubBlob(PUB_P256));
  const data = utf8("signed");
  for (const { key } of [a, b]) {
    const sig = await key.sign(key.algorithms[0], data);
    assert.ok(await key.publicKey.verify(sig, data, { algorithm: key.algorithms[0] }));
  }
});

test("openssh: unencrypted output is byte-identical to ssh-keygen's", async () => {
  for (const fixture of [FIXTURE_NONE, FIXTURE_P256]) {
    const { key, comment } = await parseOpensshPrivateKey(fixture);
    const check = unarmor(fixture).subarray(-split(unarmor(fixture)).length).subarray(0, 4);
    const out = await encodeOpensshPrivateKey(key, { comment, random: scripted(check) });
    assert.equal(out, fixture);
  }
});

/** Decrypts the first 16 bytes of a fixture's section independently of the module under test. */
async function firstBlock(p: Parts, pass: string): Promise<Uint8Array> {
  const o = new SshReader(p.kdfOptions);
  const salt = o.string("salt");
  const rounds = o.uint32("rounds");
  const lengths: Record<string, [number, number]> = {
    "aes256-ctr": [32, 16],
    "aes256-gcm@openssh.com": [32, 12],
    "chacha20-poly1305@openssh.com": [64, 0],
  };
  const [kl, il] = lengths[p.cipher];
  const d = bcryptPbkdf(utf8(pass), salt, { rounds, length: kl + il });
  const block = p.body.slice(0, 16);
  if (p.cipher === "chacha20-poly1305@openssh.com") {
    return chacha20orig(d.slice(0, 32), new Uint8Array(8), block, undefined, 1);
  }
  // AES-GCM's keystream for the first block is AES-CTR from IV || 00000002.
  const counter = new Uint8Array(16);
  counter.set(d.subarray(32, 32 + il));
  if (il === 12) counter[15] = 2;
  const k = await crypto.subtle.importKey("raw", d.slice(0, 32), "AES-CTR", false, ["encrypt"]);
  return new Uint8Array(
    await crypto.subtle.encrypt({ name: "AES-CTR", counter, length: 32 }, k, block),
  );
}

test("openssh: encrypted files (ctr, gcm, chacha) decrypt and re-encrypt byte-identically", async () => {
  const cases = [
    [FIXTURE_CTR, PUB_CTR, "aes256-ctr"],
    [FIXTURE_GCM, PUB_GCM, "aes256-gcm@openssh.com"],
    [FIXTURE_CHACHA, PUB_CHACHA, "chacha20-poly1305@openssh.com"],
  ] as const;
  for (const [fixture, pub, cipher] of cases) {
    const f = await parseOpensshPrivateKey(fixture, { passphrase: "pass" });
    assert.equal(f.encrypted, true);
    assert.equal(f.cipher, cipher);
    assert.equal(f.rounds, 2);
    assert.equal(f.comment, "fixture@rxssh");
    assert.deepEqual(f.key.publicKey.blob, pubBlob(pub));
    const parts = split(unarmor(fixture));
    const salt = new SshReader(parts.kdfOptions).string("salt");
    const check = (await firstBlock(parts, "pass")).subarray(0, 4);
    const out = await encodeOpensshPrivateKey(f.key, {
      passphrase: "pass",
      cipher,
      rounds: 2,
      comment: f.comment,
      random: scripted(salt, check),
    });
    assert.equal(out, fixture, cipher);
  }
});

test("openssh: wrong and missing passphrases", async () => {
  for (const fixture of [FIXTURE_CTR, FIXTURE_GCM, FIXTURE_CHACHA]) {
    const e = await rejects(
      parseOpensshPrivateKey(fixture, { passphrase: "wrong" }),
      WrongPassphraseError,
      /wrong passphrase/,
    );
    assert.equal(e.what, "openssh-key-v1 private key");
    await rejects(parseOpensshPrivateKey(fixture), PassphraseRequiredError, /passphrase is needed/);
    await rejects(parseOpensshPrivateKey(fixture, { passphrase: "" }), PassphraseRequiredError);
    await rejects(
      parseOpensshPrivateKey(fixture, { passphrase: new Uint8Array(0) }),
      PassphraseRequiredError,
    );
  }
  // A passphrase given for an unencrypted file is not needed and not an error.
  assert.equal((await parseOpensshPrivateKey(FIXTURE_NONE, { passphrase: "x" })).encrypted, false);
});

test("openssh: round trips every type and cipher; bytes and string passphrases agree", async () => {
  const keys: PrivateKey[] = [
    generateEd25519(),
    generateEcdsa("nistp256"),
    generateEcdsa("nistp384"),
    generateEcdsa("nistp521"),
    (await parseOpensshPrivateKey(FIXTURE_NONE)).key,
  ];
  for (const key of keys) {
    for (const cipher of ["none", ...OPENSSH_KEY_CIPHERS]) {
      const passphrase = cipher === "none" ? undefined : "pässwörd";
      const text = await encodeOpensshPrivateKey(key, {
        passphrase,
        cipher,
        rounds: 1,
        comment: "ünïcode comment",
      });
      const back = await parseOpensshPrivateKey(atOffset(utf8(text)), {
        passphrase: passphrase && utf8(passphrase),
      });
      assert.equal(back.cipher, cipher);
      assert.equal(back.comment, "ünïcode comment");
      assert.deepEqual(back.key.publicKey.blob, key.publicKey.blob);
      const sig = await back.key.sign(key.algorithms[0], utf8("x"));
      assert.ok(await key.publicKey.verify(sig, utf8("x"), { algorithm: key.algorithms[0] }));
    }
  }
});

test("openssh: RSA keys round trip with their CRT values", async () => {
  const pair = await crypto.subtle.generateKey(
    {
      name: "RSASSA-PKCS1-v1_5",
      hash: "SHA-256",
      modulusLength: 2048,
      publicExponent: new Uint8Array([1, 0, 1]),
    },
    true,
    ["sign"],
  ) as CryptoKeyPair;
  const jwk = await crypto.subtle.exportKey("jwk", pair.privateKey);
  const key = rsaPrivateKeyFromJwk(jwk);
  const text = await encodeOpensshPrivateKey(key, { passphrase: "pw", rounds: 1 });
  const back = await parseOpensshPrivateKey(text, { passphrase: "pw" });
  assert.deepEqual(back.key.publicKey.blob, key.publicKey.blob);
  for (const alg of ["rsa-sha2-256", "rsa-sha2-512"]) {
    const sig = await back.key.sign(alg, utf8("m"));
    assert.ok(await key.publicKey.verify(sig, utf8("m"), { algorithm: alg }));
  }
});

test("openssh: writing refuses foreign keys, unknown ciphers and bad rounds", async () => {
  const key = generateEd25519();
  const foreign: PrivateKey = {
    type: key.type,
    publicKey: key.publicKey,
    algorithms: key.algorithms,
    sign: (a, d) => key.sign(a, d),
  };
  await rejects(encodeOpensshPrivateKey(foreign), KeyError, /not an Ed25519PrivateKey/);
  await rejects(
    encodeOpensshPrivateKey(key, { passphrase: "p", cipher: "3des-cbc" }),
    KeyError,
    /unsupported cipher/,
  );
  await rejects(encodeOpensshPrivateKey(key, { passphrase: "p", rounds: 0 }), KeyError, /rounds/);
  // No passphrase: "none", whatever cipher was asked for (as ssh-keygen).
  const plain = await encodeOpensshPrivateKey(key, { cipher: "aes256-ctr" });
  assert.equal((await parseOpensshPrivateKey(plain)).cipher, "none");
});

test("openssh: malformed files name the part at fault", async () => {
  const base = split(unarmor(FIXTURE_NONE));
  const key = (await parseOpensshPrivateKey(FIXTURE_NONE)).key;
  const fields = ed25519Fields(key);
  const ok = section({ fields });
  const other = generateEd25519();
  const withBody = (body: Uint8Array): Parts => ({ ...base, length: body.length, body });
  const cases: [string, Parts, RegExp][] = [
    ["two keys", { ...base, count: 2 }, /number of keys .*holds 2 keys, expected 1/],
    ["zero keys", { ...base, count: 0 }, /holds 0 keys/],
    [
      "unknown cipher",
      { ...base, cipher: "rot13", kdf: "bcrypt" },
      /ciphername.*unsupported cipher "rot13"/,
    ],
    ["unknown kdf", { ...base, kdf: "scrypt" }, /kdfname.*unsupported KDF "scrypt"/],
    ["none kdf with cipher", { ...base, cipher: "aes256-ctr" }, /cannot be used with KDF "none"/],
    [
      "kdf options with none",
      { ...base, kdfOptions: new Uint8Array(4) },
      /KDF "none" takes no options/,
    ],
    [
      "unaligned",
      { ...base, length: ok.length - 1, body: ok.subarray(1) },
      /not a positive multiple/,
    ],
    [
      "trailing bytes",
      { ...base, length: ok.length, body: new Uint8Array([...ok, 0]) },
      /bytes follow, expected/,
    ],
    ["short body", { ...base, length: ok.length, body: ok.subarray(8) }, /bytes follow, expected/],
    [
      "check integers differ",
      withBody(section({ check1: 1, check2: 2, fields })),
      /check integers differ: the file is corrupt/,
    ],
    [
      "bad padding",
      withBody(section({ fields, comment: "", pad: [1, 2, 4, 4, 5] })),
      /padding.*padding byte 3 is not 3/,
    ],
    [
      "public key mismatch",
      { ...base, publicBlob: other.publicKey.blob },
      /publickey1 at offset \d+: the public key does not match the private key/,
    ],
    [
      "key type mismatch",
      { ...base, publicBlob: generateEcdsa("nistp256").publicKey.blob },
      /keytype at offset 8: key type "ssh-ed25519" differs from the public key's "ecdsa-sha2-nistp256"/,
    ],
    [
      "unsupported type",
      {
        ...withBody(section({ fields: new SshWriter().string("ssh-dss").finish(), comment: "" })),
        publicBlob: new SshWriter().string("ssh-dss").finish(),
      },
      /unsupported private key type "ssh-dss"/,
    ],
    [
      "NUL in comment",
      withBody(section({ fields, comment: "a\0b" })),
      /comment contains a NUL/,
    ],
  ];
  for (const [name, parts, re] of cases) {
    const e = await rejects(parseOpensshPrivateKey(join(parts)), KeyError, re);
    assert.ok(!(e instanceof WrongPassphraseError), name);
  }
  // The armor itself.
  await rejects(parseOpensshPrivateKey("hello"), KeyError, /armor: no "-----BEGIN OPENSSH/);
  await rejects(
    parseOpensshPrivateKey("-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n"),
    KeyError,
    /no "-----END OPENSSH PRIVATE KEY-----"/,
  );
  await rejects(parseOpensshPrivateKey(armor(utf8("openssh-key-v2\0"))), KeyError, /magic/);
  await rejects(
    parseOpensshPrivateKey(FIXTURE_NONE.replace("b3Bl", "b3B!")),
    KeyError,
    /not valid base64/,
  );
  // A corrupt encrypted section: the check integers cannot be told from a wrong passphrase.
  const enc = split(unarmor(FIXTURE_CTR));
  enc.body = enc.body.slice();
  enc.body[0] ^= 1;
  await rejects(parseOpensshPrivateKey(join(enc), { passphrase: "pass" }), WrongPassphraseError);
  // A flipped tag byte fails the tag check.
  for (const fixture of [FIXTURE_GCM, FIXTURE_CHACHA]) {
    const p = split(unarmor(fixture));
    p.body = p.body.slice();
    p.body[p.body.length - 1] ^= 0x80;
    await rejects(
      parseOpensshPrivateKey(join(p), { passphrase: "pass" }),
      WrongPassphraseError,
      /tag/,
    );
  }
  // bcrypt options that are not `string salt, uint32 rounds`.
  const badKdf = { ...enc, body: split(unarmor(FIXTURE_CTR)).body, kdfOptions: new Uint8Array(3) };
  await rejects(
    parseOpensshPrivateKey(join(badKdf), { passphrase: "pass" }),
    KeyError,
    /kdfoptions/,
  );
});

test("openssh: truncation at every byte of the text and of the binary is a KeyError", async () => {
  const encrypted = await encodeOpensshPrivateKey(ed25519PrivateKey(new Uint8Array(32).fill(3)), {
    passphrase: "p",
    rounds: 1,
    cipher: "chacha20-poly1305@openssh.com",
  });
  for (const [text, passphrase] of [[FIXTURE_NONE, undefined], [encrypted, "p"]] as const) {
    for (let n = 0; n < text.length - 1; n++) {
      const t = text.slice(0, n);
      await rejects(parseOpensshPrivateKey(t, { passphrase }), KeyError);
    }
    const bytes = unarmor(text);
    for (let n = 0; n < bytes.length; n++) {
      const e = await rejects(
        parseOpensshPrivateKey(armor(bytes.subarray(0, n)), { passphrase }),
        KeyError,
      );
      assert.ok(!(e instanceof WrongPassphraseError));
    }
  }
});

test("openssh: every single-bit flip of an unencrypted file is detected or harmless", async () => {
  const bytes = unarmor(FIXTURE_P256);
  const original = await parseOpensshPrivateKey(FIXTURE_P256);
  for (let i = 0; i < bytes.length; i++) {
    for (const bit of [0x01, 0x80]) {
      const b = bytes.slice();
      b[i] ^= bit;
      try {
        const r = await parseOpensshPrivateKey(armor(b));
        // Only the comment (and check integers flipped in step) may change without notice.
        assert.deepEqual(r.key.publicKey.blob, original.key.publicKey.blob, `byte ${i}`);
      } catch (e) {
        assert.ok(e instanceof KeyError, `byte ${i}: ${e}`);
      }
    }
  }
});

test("a key file asking for absurd bcrypt rounds is refused at once, not computed", async () => {
  const text = await encodeOpensshPrivateKey(generateEd25519(), { passphrase: "pw", rounds: 2 });
  const b64 = text.split("\n").filter((l) => !l.startsWith("-----")).join("");
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  // kdfname "bcrypt", then kdfoptions: uint32 length, string salt, uint32 rounds.
  const at =
    bytes.findIndex((_, i) => new TextDecoder().decode(bytes.subarray(i, i + 6)) === "bcrypt") + 6;
  const view = new DataView(bytes.buffer);
  const saltLength = view.getUint32(at + 4);
  view.setUint32(at + 8 + saltLength, 0xffffffff);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  const hostile = `-----BEGIN OPENSSH PRIVATE KEY-----\n${
    btoa(bin)
  }\n-----END OPENSSH PRIVATE KEY-----\n`;
  const started = Date.now();
  await assert.rejects(
    parseOpensshPrivateKey(hostile, { passphrase: "pw" }),
    /bcrypt rounds 4294967295 exceed the limit/,
  );
  assert.ok(Date.now() - started < 1000);
});
