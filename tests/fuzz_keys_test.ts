// Property and fuzz tests over the key decoders: public key blobs (RFC 4253
// §6.6, RFC 5656, RFC 8709), signatures, certificates (PROTOCOL.certkeys),
// SSHSIG (PROTOCOL.sshsig), openssh-key-v1 (PROTOCOL.key), PEM / PKCS#1 /
// SEC1 / PKCS#8, the public key text formats (OpenSSH line, RFC 4716, PEM),
// known_hosts, authorized_keys and allowed_signers. Binary formats are
// mutated below their armor (the base64 is decoded, mutated, re-armored),
// so that the mutations reach the parsers rather than the base64 check.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  assertSame,
  check,
  checkAsync,
  expectTyped,
  expectTypedAsync,
  hostile,
  mutated,
} from "./_fuzz.ts";
import { KeyError } from "../lib/keys/errors.ts";
import { WireError } from "../lib/wire/errors.ts";
import { generatePrivateKey } from "../lib/keys/private_key.ts";
import { parsePublicKey } from "../lib/keys/public_key.ts";
import { decodeSignature, encodeSignature } from "../lib/keys/signature.ts";
import {
  CertificateError,
  formatCertificateLine,
  parseCertificate,
  signCertificate,
} from "../lib/keys/certificate.ts";
import { parseSshsig, signSshsig, SshsigError } from "../lib/keys/sshsig.ts";
import {
  encodeOpensshPrivateKey,
  parseOpensshPrivateKey,
} from "../lib/keys/openssh_private_key.ts";
import { encodePemPrivateKey, parsePemPrivateKey } from "../lib/keys/pem_private_key.ts";
import { parsePrivateKeyFile } from "../lib/keys/private_key_file.ts";
import { pemDecode, pemEncode } from "../lib/keys/der.ts";
import {
  formatPemPublicKey,
  formatPublicKeyLine,
  formatRfc4716PublicKey,
  parsePublicKeyText,
} from "../lib/keys/public_key_file.ts";
import { formatKnownHostsLine, parseKnownHosts } from "../lib/keys/known_hosts.ts";
import { parseAuthorizedKeys } from "../lib/keys/authorized_keys.ts";
import { AllowedSignersError, parseAllowedSigners } from "../lib/keys/allowed_signers.ts";
import type { PrivateKey, PublicKey } from "../lib/keys/types.ts";

const RUNS = 200;
const KEY_ERRORS = [KeyError, WireError];

const keys: PrivateKey[] = [
  await generatePrivateKey("ssh-ed25519"),
  await generatePrivateKey("ecdsa-sha2-nistp256"),
  await generatePrivateKey("ecdsa-sha2-nistp384"),
  await generatePrivateKey("ssh-rsa", { bits: 2048 }),
];
const ca = keys[0];
const publicKeys: PublicKey[] = keys.map((k) => k.publicKey);
const certificates = [
  await signCertificate({
    key: publicKeys[1],
    ca,
    type: "user",
    keyId: "alice",
    principals: ["alice", "root"],
    serial: 7n,
    criticalOptions: { "force-command": "true", "source-address": "10.0.0.0/8" },
  }),
  await signCertificate({
    key: publicKeys[0],
    ca: keys[3],
    type: "host",
    keyId: "h",
    principals: ["h.example"],
  }),
];
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

/** Re-armors mutated bytes under `label`, so that the parser sees them past the base64. */
function rearmored(label: string, valid: string[]): fc.Arbitrary<string> {
  const blobs = valid.map((t) => pemDecode(t, label).bytes);
  return fc.oneof(
    { weight: 1, arbitrary: fc.constantFrom(...valid) },
    { weight: 6, arbitrary: mutated(fc.constantFrom(...blobs)).map((b) => pemEncode(label, b)) },
    { weight: 1, arbitrary: mutated(fc.constantFrom(...valid.map(enc))).map(dec) },
  );
}

test("fuzz: public key blobs round-trip and resist hostile bytes", () => {
  for (const k of publicKeys) assertSame(parsePublicKey(k.blob).blob, k.blob, k.type);
  check(hostile(fc.constantFrom(...publicKeys.map((k) => k.blob))), RUNS * 2, (b) => {
    const k = expectTyped(b, parsePublicKey, KEY_ERRORS);
    if (k) assertSame(k.blob, b, "a parsed blob is the whole input");
  });
});

test("fuzz: signature blobs round-trip and resist hostile bytes", () => {
  const sig = fc.record({
    algorithm: fc.stringMatching(/^[a-z0-9@.\-]{1,30}$/),
    signature: fc.uint8Array({ maxLength: 80 }),
  });
  check(
    sig,
    RUNS / 2,
    (s) => assertSame(decodeSignature(encodeSignature(s.algorithm, s.signature)), s),
  );
  check(hostile(sig.map((s) => encodeSignature(s.algorithm, s.signature))), RUNS, (b) => {
    expectTyped(b, decodeSignature, KEY_ERRORS);
  });
});

test("fuzz: certificates round-trip and resist hostile blobs", () => {
  for (const c of certificates) assertSame(parseCertificate(c.blob).blob, c.blob, c.type);
  check(hostile(fc.constantFrom(...certificates.map((c) => c.blob))), RUNS * 3, (b) => {
    expectTyped(b, parseCertificate, [CertificateError, ...KEY_ERRORS]);
  });
});

test("fuzz: SSHSIG signatures resist hostile armor and blobs", async () => {
  const armored = [
    await signSshsig(keys[0], enc("hello\n"), { namespace: "file" }),
    await signSshsig(keys[1], enc("x"), { namespace: "git", hashAlgorithm: "sha256" }),
  ];
  for (const a of armored) assert.equal(parseSshsig(a).namespace.length > 0, true);
  check(rearmored("SSH SIGNATURE", armored), RUNS * 2, (t) => {
    expectTyped(t, parseSshsig, [SshsigError, ...KEY_ERRORS]);
  });
  check(
    hostile(fc.constantFrom(...armored.map((a) => pemDecode(a, "SSH SIGNATURE").bytes))),
    RUNS,
    (b) => {
      expectTyped(b, parseSshsig, [SshsigError, ...KEY_ERRORS]);
    },
  );
});

test("fuzz: openssh-key-v1 private keys round-trip and resist hostile files", async () => {
  const files = await Promise.all(keys.map((k) => encodeOpensshPrivateKey(k, { comment: "c" })));
  files.push(await encodeOpensshPrivateKey(keys[0], { passphrase: "pw", rounds: 1 }));
  for (const [i, k] of keys.entries()) {
    assertSame((await parseOpensshPrivateKey(files[i])).key.publicKey.blob, k.publicKey.blob);
  }
  await checkAsync(rearmored("OPENSSH PRIVATE KEY", files), RUNS, async (t) => {
    await expectTypedAsync(t, parseOpensshPrivateKey, [KeyError]);
  });
});

test("fuzz: PEM private keys (PKCS#1, SEC1, PKCS#8) round-trip and resist hostile files", async () => {
  const pems = [
    await encodePemPrivateKey(keys[0], { format: "pkcs8" }),
    await encodePemPrivateKey(keys[1], { format: "sec1" }),
    await encodePemPrivateKey(keys[2], { format: "pkcs8" }),
    await encodePemPrivateKey(keys[3], { format: "pkcs1" }),
  ];
  for (const [i, p] of pems.entries()) {
    assertSame((await parsePemPrivateKey(p)).key.publicKey.blob, keys[i].publicKey.blob);
  }
  for (const label of ["PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY"]) {
    const valid = pems.filter((p) => p.includes(`BEGIN ${label}-`));
    await checkAsync(rearmored(label, valid), RUNS / 2, async (t) => {
      await expectTypedAsync(t, parsePemPrivateKey, [KeyError]);
      await expectTypedAsync(t, parsePrivateKeyFile, [KeyError]);
    });
  }
});

test("fuzz: public key text (OpenSSH line, RFC 4716, PEM) round-trips and resists hostile text", () => {
  const texts = publicKeys.flatMap((k) => [
    formatPublicKeyLine(k, "me@host"),
    formatRfc4716PublicKey(k, { comment: "me" }),
    ...(k.type === "ssh-ed25519" ? [] : [formatPemPublicKey(k)]),
  ]);
  for (const t of texts) assert.ok(parsePublicKeyText(t).key.blob.length > 0);
  const lineBlobs = publicKeys.map((k) => k.blob);
  const arb = fc.oneof(
    mutated(fc.constantFrom(...texts.map(enc))).map(dec),
    mutated(fc.constantFrom(...lineBlobs)).map((b) =>
      `ssh-ed25519 ${btoa(String.fromCharCode(...b))} c`
    ),
    fc.string({ maxLength: 80 }),
  );
  check(arb, RUNS * 2, (t) => {
    expectTyped(t, parsePublicKeyText, KEY_ERRORS);
  });
});

const b64 = (b: Uint8Array) => btoa(String.fromCharCode(...b));
const fileLine = fc.oneof(
  fc.constantFrom(
    "",
    "# comment",
    "   ",
    `${formatPublicKeyLine(publicKeys[0])}`,
    `command="echo hi",no-pty,from="10.0.0.0/8,!10.1.*",permitopen="h:22",expiry-time="20300101" ${
      formatPublicKeyLine(publicKeys[1])
    }`,
    `cert-authority,principals="alice" ${formatPublicKeyLine(publicKeys[0])}`,
    `restrict,environment="A=B",tunnel="0",permitlisten="localhost:8080" ${
      formatPublicKeyLine(publicKeys[2])
    }`,
    formatCertificateLine(certificates[0]),
    `host.example,10.0.0.1 ${formatPublicKeyLine(publicKeys[0])}`,
    `[h]:2222 ${formatPublicKeyLine(publicKeys[3])}`,
    `@cert-authority *.example ${formatPublicKeyLine(publicKeys[0])}`,
    `@revoked * ${formatPublicKeyLine(publicKeys[1])}`,
    formatKnownHostsLine(publicKeys[0], { host: "h.example", hash: true }),
    `alice@example.com,bob@* namespaces="git",valid-after="20200101",valid-before="20300101Z" ${
      formatPublicKeyLine(publicKeys[0])
    }`,
    `* cert-authority ${formatPublicKeyLine(publicKeys[1])}`,
  ),
  fc.string({ maxLength: 60 }),
  mutated(fc.constantFrom(...publicKeys.map((k) => k.blob))).map((b) => `ssh-ed25519 ${b64(b)}`),
);
/** Text files made of valid, mutated and arbitrary lines, themselves mutated. */
const fileText = fc.oneof(
  fc.array(fileLine, { maxLength: 6 }).map((l) => l.join("\n")),
  mutated(fc.array(fileLine, { minLength: 1, maxLength: 4 }).map((l) => enc(l.join("\n")))).map(
    dec,
  ),
);

test("fuzz: known_hosts: any text parses, with a diagnostic per bad line", () => {
  check(fileText, RUNS * 2, (t) => {
    const f = expectTyped(t, parseKnownHosts, []);
    assert.ok(f, "parseKnownHosts never throws");
  });
});

test("fuzz: authorized_keys: any text parses, with a diagnostic per bad line", () => {
  check(fileText, RUNS * 2, (t) => {
    const f = expectTyped(t, parseAuthorizedKeys, []);
    assert.ok(f, "parseAuthorizedKeys never throws");
  });
});

test("fuzz: allowed_signers: any text parses or fails with an AllowedSignersError", () => {
  check(fileText, RUNS * 2, (t) => {
    expectTyped(t, parseAllowedSigners, [AllowedSignersError]);
    // With onError, bad lines are reported and skipped: never a throw.
    const errors: AllowedSignersError[] = [];
    expectTyped(t, (x) => parseAllowedSigners(x, { onError: (e) => errors.push(e) }), []);
    for (const e of errors) assert.ok(e instanceof AllowedSignersError);
  });
});

// Regression cases: the counterexamples the properties above found (each
// fixed in its own commit, with a unit test beside the module).
test("fuzz regression: misplaced base64 padding is a typed error in every armor", async () => {
  const sig =
    "-----BEGIN SSH SIGNATURE-----\n1NIU0lHAAAAAQAAAGgAAAATZWNkc2Etc2hhMi1uaXN0cDI1NgAAAAhuaXN0cDI1NgAAAE\n" +
    "ClNyV+y4iNMRw8E8lY/5nq/OQ14w+J6Z5cMb2tlpL5U=\n-----END SSH SIGNATURE-----\n";
  expectTyped(sig, parseSshsig, [SshsigError]);
  const pub =
    "-\nM-----BEGIN PUBLIC KEY-----\nFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAExR0gMyIW867Syj9kOpG2Z2MOd/1p\n" +
    "/2jfYkyU2J6Ke3qA0FZEs7XIKAB8PMjFt2c9p8ZLskiWRGt+8/7uC0ahSw==\n-----END PUBLIC KEY-----\n";
  expectTyped(pub, parsePublicKeyText, [KeyError]);
  const pem = "-----BEGIN PRIVATE KEY-----\nAAAAAA=\n-----END PRIVATE KEY-----\n";
  await expectTypedAsync(pem, parsePemPrivateKey, [KeyError]);
  await expectTypedAsync(pem.replaceAll(" PRIVATE", " OPENSSH PRIVATE"), parseOpensshPrivateKey, [
    KeyError,
  ]);
});
