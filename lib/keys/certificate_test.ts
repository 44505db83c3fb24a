// OpenSSH certificates (PROTOCOL.certkeys): unit tests, failure cases,
// hostile blobs, and interop with the real ssh-keygen (certificates it signs
// parse and verify here; ours are listed by `ssh-keygen -L` with the same
// fields) and sshd (a user certificate we sign logs in through
// TrustedUserCAKeys). Interop tests skip without OpenSSH.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SshWriter } from "../wire/writer.ts";
import { toBase64 } from "./_bytes.ts";
import {
  CERT_FOREVER,
  CERTIFICATE_TYPES,
  type CertificateCheck,
  CertificateError,
  formatCertificateLine,
  parseCertificate,
  plainAlgorithm,
  signCertificate,
  SshCertificate,
  verifyCertificate,
} from "./certificate.ts";
import { generateEcdsa } from "./ecdsa.ts";
import { generateEd25519 } from "./ed25519.ts";
import { KeyError } from "./errors.ts";
import { fingerprintSha256 } from "./fingerprint.ts";
import { generatePrivateKey } from "./private_key.ts";
import { parsePublicKey } from "./public_key.ts";
import { formatPublicKeyLine, parsePublicKeyLine } from "./public_key_file.ts";
import type { PrivateKey, PublicKey } from "./types.ts";
import { atOffset, toHex, utf8 } from "./_test_util.ts";
import { currentUser, findOpenSsh, runSsh, startSshd } from "../../tests/_openssh.ts";

const SSH_KEYGEN = "/usr/bin/ssh-keygen";
const skip = existsSync(SSH_KEYGEN) ? false : "ssh-keygen not installed";
const skipSshd = findOpenSsh() ? false : "OpenSSH (ssh, sshd, ssh-keygen) not installed";

const KEY_TYPES = [
  "ssh-ed25519",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "ssh-rsa",
];

const keyCache = new Map<string, Promise<PrivateKey>>();
/** One private key per type and slot, generated once per test process. */
function key(type: string, slot = 0): Promise<PrivateKey> {
  const id = `${type}/${slot}`;
  let k = keyCache.get(id);
  if (k === undefined) {
    k = generatePrivateKey(type, type === "ssh-rsa" ? { bits: 2048 } : {});
    keyCache.set(id, k);
  }
  return k;
}

const NOW = 1_750_000_000;

function certError(check: CertificateCheck, pattern: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof CertificateError, `expected CertificateError, got ${e}`);
    assert.ok(e instanceof KeyError);
    assert.equal(e.check, check, e.message);
    assert.match(e.message, pattern);
    return true;
  };
}

function keyError(pattern: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof KeyError, `expected KeyError, got ${e}`);
    assert.match(e.message, pattern);
    return true;
  };
}

test("sign/parse round trip for every subject and CA type; the cert is a PublicKey", async () => {
  for (const subjectType of KEY_TYPES) {
    for (const caType of KEY_TYPES) {
      const subject = await key(subjectType);
      const ca = await key(caType, 1);
      const cert = await signCertificate({
        key: subject.publicKey,
        ca,
        type: "user",
        keyId: "alice@laptop ✓",
        principals: ["alice", "root"],
        serial: 0xfedcba9876543210n,
        validAfter: BigInt(NOW - 60),
        validBefore: BigInt(NOW + 3600),
        criticalOptions: { "source-address": "10.0.0.0/8", "force-command": "uptime" },
        random: (n) => new Uint8Array(n).fill(0x42),
      });
      assert.equal(cert.type, `${subjectType}-cert-v01@openssh.com`);
      assert.ok(CERTIFICATE_TYPES.includes(cert.type));
      const label = `${subjectType} by ${caType}`;
      // Every field as given, and the certified key is the subject.
      const parsed = parseCertificate(atOffset(cert.blob, 5));
      for (const c of [cert, parsed]) {
        assert.deepEqual(c.key.blob, subject.publicKey.blob, label);
        assert.deepEqual(c.nonce, new Uint8Array(32).fill(0x42));
        assert.equal(c.serial, 0xfedcba9876543210n);
        assert.equal(c.certType, "user");
        assert.equal(c.keyId, "alice@laptop ✓");
        assert.deepEqual(c.principals, ["alice", "root"]);
        assert.equal(c.validAfter, BigInt(NOW - 60));
        assert.equal(c.validBefore, BigInt(NOW + 3600));
        assert.deepEqual([...c.criticalOptions], [
          ["force-command", "uptime"],
          ["source-address", "10.0.0.0/8"],
        ]);
        assert.deepEqual([...c.extensions.keys()], [
          "permit-X11-forwarding",
          "permit-agent-forwarding",
          "permit-port-forwarding",
          "permit-pty",
          "permit-user-rc",
        ]);
        assert.deepEqual(c.signatureKey.blob, ca.publicKey.blob);
        assert.equal(c.signatureAlgorithm, ca.algorithms[0]);
        assert.deepEqual(c.signedData, c.blob.subarray(0, c.signedData.length));
        assert.equal(c.reserved.length, 0);
        await verifyCertificate(c, { now: NOW, principal: "alice", type: "user" });
      }
      // parsePublicKey and the .pub line give the certificate too.
      const viaKey = parsePublicKey(cert.blob);
      assert.ok(viaKey instanceof SshCertificate);
      const line = formatCertificateLine(cert, "alice@laptop");
      assert.equal(line, formatPublicKeyLine(cert, "alice@laptop"));
      assert.equal(line, `${cert.type} ${toBase64(cert.blob)} alice@laptop\n`);
      const fromLine = parsePublicKeyLine(line);
      assert.ok(fromLine.key instanceof SshCertificate);
      assert.deepEqual(fromLine.key.blob, cert.blob);
      // PublicKey behaviour: fingerprint of the certified key (as OpenSSH), verify delegates.
      assert.equal(cert.fingerprint(), subject.publicKey.fingerprint());
      assert.notEqual(fingerprintSha256(cert.blob), cert.fingerprint());
      const data = utf8("session id and userauth request");
      for (const alg of subject.algorithms) {
        const sig = await subject.sign(alg, data);
        assert.equal(
          await cert.verify(sig, data, { algorithm: `${alg}-cert-v01@openssh.com` }),
          true,
          alg,
        );
        assert.equal(await cert.verify(sig, data, { algorithm: alg }), true);
        assert.equal(await cert.verify(sig, utf8("other"), { algorithm: alg }), false);
      }
    }
  }
});

test("plainAlgorithm maps certificate algorithm names", () => {
  assert.equal(plainAlgorithm("ssh-ed25519-cert-v01@openssh.com"), "ssh-ed25519");
  assert.equal(plainAlgorithm("ecdsa-sha2-nistp521-cert-v01@openssh.com"), "ecdsa-sha2-nistp521");
  assert.equal(plainAlgorithm("rsa-sha2-256-cert-v01@openssh.com"), "rsa-sha2-256");
  assert.equal(plainAlgorithm("rsa-sha2-512-cert-v01@openssh.com"), "rsa-sha2-512");
  assert.equal(plainAlgorithm("ssh-rsa-cert-v01@openssh.com"), "ssh-rsa");
  assert.equal(plainAlgorithm("ssh-ed25519"), "ssh-ed25519");
});

test("signCertificate: defaults, sorting, RSA algorithm choice, and refusals", async () => {
  const ca = generateEd25519();
  const subject = generateEd25519().publicKey;
  const host = await signCertificate({ key: subject, ca, type: "host", keyId: "h" });
  assert.equal(host.certType, "host");
  assert.equal(host.extensions.size, 0);
  assert.equal(host.validAfter, 0n);
  assert.equal(host.validBefore, CERT_FOREVER);
  assert.deepEqual(host.principals, []);
  assert.equal(host.nonce.length, 32);
  const sorted = await signCertificate({
    key: subject,
    ca,
    type: "user",
    keyId: "s",
    extensions: { "z@example.com": "v", "permit-pty": "", "a@example.com": "" },
    criticalOptions: { "verify-required": "", "force-command": "ls" },
  });
  assert.deepEqual([...sorted.extensions.keys()], ["a@example.com", "permit-pty", "z@example.com"]);
  assert.equal(sorted.extensions.get("z@example.com"), "v");
  assert.deepEqual([...sorted.criticalOptions.keys()], ["force-command", "verify-required"]);
  const rsaCa = await key("ssh-rsa", 1);
  const r256 = await signCertificate({
    key: subject,
    ca: rsaCa,
    type: "user",
    keyId: "r",
    signatureAlgorithm: "rsa-sha2-256",
  });
  assert.equal(r256.signatureAlgorithm, "rsa-sha2-256");
  await verifyCertificate(r256);
  assert.equal(
    (await signCertificate({ key: subject, ca: rsaCa, type: "user", keyId: "r" }))
      .signatureAlgorithm,
    "rsa-sha2-512",
  );

  await assert.rejects(
    signCertificate({ key: host, ca, type: "user", keyId: "x" }),
    keyError(/already a certificate/),
  );
  await assert.rejects(
    signCertificate({
      key: subject,
      ca: rsaCa,
      type: "user",
      keyId: "x",
      signatureAlgorithm: "ssh-rsa",
    }),
    keyError(/cannot sign with "ssh-rsa"/),
  );
  await assert.rejects(
    signCertificate({
      key: subject,
      ca,
      type: "user",
      keyId: "x",
      validAfter: 5n,
      validBefore: 5n,
    }),
    keyError(/validAfter 5 is not before validBefore 5/),
  );
  await assert.rejects(
    signCertificate({ key: subject, ca, type: "user", keyId: "x", serial: -1n }),
    keyError(/serial -1 is not a uint64/),
  );
  await assert.rejects(
    signCertificate({ key: subject, ca, type: "admin" as "user", keyId: "x" }),
    keyError(/neither "user" nor "host"/),
  );
  await assert.rejects(
    signCertificate({
      key: subject,
      ca,
      type: "user",
      keyId: "x",
      principals: Array.from({ length: 257 }, (_, i) => `p${i}`),
    }),
    keyError(/257 principals/),
  );
});

/** A certificate built by hand, for cases signCertificate refuses to make. */
async function handMade(options: {
  subject: PublicKey;
  signer: PrivateKey;
  signatureKeyBlob?: Uint8Array;
  typeNumber?: number;
  principals?: Uint8Array;
  critical?: Uint8Array;
  extensions?: Uint8Array;
}): Promise<Uint8Array> {
  const kr = options.subject.blob.subarray(4 + options.subject.type.length);
  const w = new SshWriter()
    .string(`${options.subject.type}-cert-v01@openssh.com`)
    .string(new Uint8Array(16))
    .raw(kr)
    .uint64(1n)
    .uint32(options.typeNumber ?? 1)
    .string("hand")
    .string(options.principals ?? new Uint8Array(0))
    .uint64(0n)
    .uint64(CERT_FOREVER)
    .string(options.critical ?? new Uint8Array(0))
    .string(options.extensions ?? new Uint8Array(0))
    .string("")
    .string(options.signatureKeyBlob ?? options.signer.publicKey.blob);
  const sig = await options.signer.sign(options.signer.algorithms[0], w.finish());
  return w.string(sig).finish();
}

test("verifyCertificate: each failed check is a CertificateError naming it", async () => {
  const ca = generateEcdsa("nistp256");
  const subject = generateEd25519().publicKey;
  const base = {
    key: subject,
    ca,
    keyId: "k",
    validAfter: BigInt(NOW),
    validBefore: BigInt(NOW + 3600),
  };
  const user = await signCertificate({ ...base, type: "user", principals: ["alice", "bob"] });
  await verifyCertificate(user, { now: NOW, principal: "bob", type: "user" });
  await verifyCertificate(user, { now: NOW + 3599 });

  await assert.rejects(
    verifyCertificate(user, { now: NOW + 3600 }),
    certError("expired", /expired at 2025-06-15T16:06:40Z \(now is 2025-06-15T16:06:40Z\)/),
  );
  await assert.rejects(
    verifyCertificate(user, { now: NOW - 1 }),
    certError(
      "not-yet-valid",
      /not valid before 2025-06-15T15:06:40Z \(now is 2025-06-15T15:06:39Z\)/,
    ),
  );
  await assert.rejects(
    verifyCertificate(user, { now: NOW, principal: "root" }),
    certError("principal", /principal "root" is not listed \("alice", "bob"\)/),
  );
  await assert.rejects(
    verifyCertificate(user, { now: NOW, type: "host" }),
    certError("type", /is a user certificate, a host certificate is required/),
  );
  await assert.rejects(
    verifyCertificate(user, { now: NOW, trustedCa: (k) => k.type === "ssh-ed25519" }),
    certError("untrusted-ca", /CA key ecdsa-sha2-nistp256 SHA256:\S+ is not trusted/),
  );
  await verifyCertificate(user, {
    now: NOW,
    trustedCa: (k) => k.fingerprint() === ca.publicKey.fingerprint(),
  });

  // Empty principal list: any principal, unless required (sshd TrustedUserCAKeys).
  const anyone = await signCertificate({ ...base, type: "user" });
  await verifyCertificate(anyone, { now: NOW, principal: "root" });
  await assert.rejects(
    verifyCertificate(anyone, { now: NOW, principal: "root", requirePrincipal: true }),
    certError("principal", /lists no principals, "root" is required/),
  );

  // A tampered certificate: the CA signature no longer matches.
  const tampered = Uint8Array.from(user.blob);
  tampered[4 + user.type.length + 4] ^= 1; // the first nonce byte
  const bad = parseCertificate(tampered);
  await assert.rejects(verifyCertificate(bad, { now: NOW }), certError("signature", /is invalid/));
  // A signature blob naming another algorithm, and an undecodable one.
  const sigStart = user.blob.length - user.signature.length;
  const garbled = Uint8Array.from(user.blob);
  garbled[sigStart + 4] = 0x41; // "ecdsa..." -> "Acdsa..."
  await assert.rejects(
    verifyCertificate(parseCertificate(garbled), { now: NOW }),
    certError("signature", /"Acdsa-sha2-nistp256"/),
  );

  // Critical options: OpenSSH's are known for user certs; others are not.
  const withOptions = await signCertificate({
    ...base,
    type: "user",
    criticalOptions: { "force-command": "ls", "source-address": "::1", "verify-required": "" },
  });
  await verifyCertificate(withOptions, { now: NOW });
  const unknown = await signCertificate({
    ...base,
    type: "user",
    criticalOptions: { "zz@example.com": "1" },
  });
  await assert.rejects(
    verifyCertificate(unknown, { now: NOW }),
    certError("critical-option", /unknown critical option "zz@example.com" in a user certificate/),
  );
  await verifyCertificate(unknown, { now: NOW, knownCriticalOptions: ["zz@example.com"] });
  const hostWithOption = await signCertificate({
    ...base,
    type: "host",
    criticalOptions: { "force-command": "ls" },
  });
  await assert.rejects(
    verifyCertificate(hostWithOption, { now: NOW }),
    certError("critical-option", /"force-command" in a host certificate/),
  );

  // A certificate whose CA key is itself a certificate (chained: not supported).
  const intermediate = generateEd25519();
  const intermediateCert = await signCertificate({
    key: intermediate.publicKey,
    ca,
    type: "user",
    keyId: "i",
  });
  const chained = parseCertificate(
    await handMade({ subject, signer: intermediate, signatureKeyBlob: intermediateCert.blob }),
  );
  assert.ok(chained.signatureKey instanceof SshCertificate);
  await assert.rejects(
    verifyCertificate(chained, { now: NOW }),
    certError("signature-key", /itself a certificate \(ssh-ed25519-cert-v01@openssh.com\)/),
  );
  // Two levels are refused while parsing.
  const twoLevels = await handMade({
    subject,
    signer: intermediate,
    signatureKeyBlob: chained.blob,
  });
  assert.throws(() => parseCertificate(twoLevels), keyError(/signature key at offset \d+/));
});

test("parseCertificate: hostile and truncated blobs give KeyError naming the field", async () => {
  const ca = generateEd25519();
  const subject = await key("ecdsa-sha2-nistp256");
  const cert = await signCertificate({
    key: subject.publicKey,
    ca,
    type: "user",
    keyId: "k",
    principals: ["a", "b"],
    criticalOptions: { "force-command": "x" },
  });
  // Every truncation.
  for (let n = 0; n < cert.blob.length; n++) {
    assert.throws(() => parseCertificate(cert.blob.subarray(0, n)), keyError(/./), `length ${n}`);
  }
  assert.throws(
    () => parseCertificate(cert.blob.subarray(0, cert.blob.length - 3)),
    keyError(/signature at offset \d+: string length/),
  );
  // Trailing bytes.
  const extra = new Uint8Array(cert.blob.length + 1);
  extra.set(cert.blob);
  assert.throws(() => parseCertificate(extra), keyError(/1 unexpected trailing bytes/));
  // Random corruption: KeyError or success, never another exception.
  let seed = 0x12345678;
  const rnd = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 0x100000000;
  };
  for (let i = 0; i < 3000; i++) {
    const b = Uint8Array.from(cert.blob);
    const flips = 1 + Math.floor(rnd() * 3);
    for (let j = 0; j < flips; j++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
    try {
      const c = parsePublicKey(b);
      if (c instanceof SshCertificate) {
        await verifyCertificate(c).catch((e) =>
          assert.ok(e instanceof CertificateError, String(e))
        );
      }
    } catch (e) {
      assert.ok(e instanceof KeyError, `corruption ${i}: ${e}`);
    }
  }
  const subjectKey = subject.publicKey;
  const packed = (...items: (string | Uint8Array)[]) => {
    const w = new SshWriter();
    for (const it of items) w.string(it);
    return w.finish();
  };
  const cases: [Promise<Uint8Array>, RegExp][] = [
    [
      handMade({ subject: subjectKey, signer: ca, typeNumber: 3 }),
      /type at offset \d+: type 3 is neither user \(1\) nor host \(2\)/,
    ],
    [
      handMade({
        subject: subjectKey,
        signer: ca,
        extensions: packed("permit-pty", "", "permit-pty", ""),
      }),
      /extension "permit-pty" at offset \d+: duplicate name/,
    ],
    [
      handMade({ subject: subjectKey, signer: ca, critical: packed("force-command", "ls") }),
      /critical option "force-command" at offset \d+: data is not empty nor exactly one UTF-8 string/,
    ],
    [
      handMade({ subject: subjectKey, signer: ca, critical: packed("force-command") }),
      /critical option at offset \d+: uint32 needs 4 bytes/,
    ],
    [
      handMade({
        subject: subjectKey,
        signer: ca,
        principals: packed(...Array.from({ length: 257 }, () => "p")),
      }),
      /more than 256 principals/,
    ],
    [
      handMade({ subject: subjectKey, signer: ca, principals: new Uint8Array([0, 0, 0, 1, 0xff]) }),
      /principal at offset \d+: string is not valid UTF-8/,
    ],
    [
      handMade({ subject: subjectKey, signer: ca, signatureKeyBlob: packed("ssh-dss", "x") }),
      /signature key at offset \d+: .*unsupported key type "ssh-dss"/,
    ],
  ];
  for (const [made, re] of cases) {
    const blob = await made;
    assert.throws(() => parseCertificate(blob), keyError(re), String(re));
    assert.throws(() => parsePublicKey(blob), keyError(re), String(re));
  }
  assert.throws(
    () => parseCertificate(packed("ssh-dss-cert-v01@openssh.com", "x")),
    keyError(/unsupported certificate type "ssh-dss-cert-v01@openssh.com"/),
  );
  assert.throws(
    () => parsePublicKey(packed("ssh-ed25519-cert-v01@openssh.com", "nonce", "short")),
    keyError(/ssh-ed25519-cert-v01@openssh.com certificate: ssh-ed25519 key at offset \d+/),
  );
});

// ---------------------------------------------------------------------------
// Interop with ssh-keygen and sshd

function keygen(args: string[], cwd?: string): string {
  return execFileSync(SSH_KEYGEN, args, {
    stdio: ["pipe", "pipe", "pipe"],
    env: { TZ: "UTC" },
    cwd,
  }).toString();
}

const SPECS: { t: string; bits?: number; type: string; name: string }[] = [
  { t: "ed25519", type: "ssh-ed25519", name: "ED25519" },
  { t: "ecdsa", bits: 256, type: "ecdsa-sha2-nistp256", name: "ECDSA" },
  { t: "ecdsa", bits: 384, type: "ecdsa-sha2-nistp384", name: "ECDSA" },
  { t: "ecdsa", bits: 521, type: "ecdsa-sha2-nistp521", name: "ECDSA" },
  { t: "rsa", bits: 2048, type: "ssh-rsa", name: "RSA" },
];
const NAME = new Map(SPECS.map((s) => [s.type, s.name]));

function genKey(dir: string, name: string, spec: (typeof SPECS)[number]): string {
  const path = join(dir, name);
  keygen([
    "-q",
    "-N",
    "",
    "-C",
    `${name}@test`,
    "-t",
    spec.t,
    ...(spec.bits ? ["-b", String(spec.bits)] : []),
    "-f",
    path,
  ]);
  return path;
}

/** ssh-keygen's time format (format_absolute_time), under TZ=UTC. */
function keygenTime(t: bigint): string {
  return new Date(Number(t) * 1000).toISOString().slice(0, 19);
}

/** What `ssh-keygen -L` prints for `cert` (OpenSSH 9.x do_show_cert), trimmed lines. */
function expectedListing(cert: SshCertificate): string[] {
  const valid = cert.validAfter === 0n && cert.validBefore === CERT_FOREVER
    ? "forever"
    : cert.validAfter === 0n
    ? `before ${keygenTime(cert.validBefore)}`
    : cert.validBefore === CERT_FOREVER
    ? `after ${keygenTime(cert.validAfter)}`
    : `from ${keygenTime(cert.validAfter)} to ${keygenTime(cert.validBefore)}`;
  const options = (m: ReadonlyMap<string, string>, critical: boolean) => {
    if (m.size === 0) return [];
    return [...m].map(([name, value]) => {
      if (critical && (name === "force-command" || name === "source-address")) {
        return `${name} ${value}`;
      }
      const flags = critical ? ["verify-required"] : [
        "permit-X11-forwarding",
        "permit-agent-forwarding",
        "permit-port-forwarding",
        "permit-pty",
        "permit-user-rc",
        "no-touch-required",
      ];
      if (flags.includes(name)) return name;
      if (value === "") return `${name} UNKNOWN FLAG OPTION`;
      const data = new SshWriter().string(value).finish();
      return `${name} UNKNOWN OPTION: ${toHex(data)} (len ${data.length})`;
    });
  };
  const ca = cert.signatureKey;
  return [
    `Type: ${cert.type} ${cert.certType} certificate`,
    `Public key: ${NAME.get(cert.key.type)}-CERT ${cert.fingerprint()}`,
    `Signing CA: ${NAME.get(ca.type)} ${ca.fingerprint()} (using ${cert.signatureAlgorithm})`,
    `Key ID: "${cert.keyId}"`,
    `Serial: ${cert.serial}`,
    `Valid: ${valid}`,
    `Principals:${cert.principals.length ? "" : " (none)"}`,
    ...cert.principals,
    `Critical Options:${cert.criticalOptions.size ? "" : " (none)"}`,
    ...options(cert.criticalOptions, true),
    `Extensions:${cert.extensions.size ? "" : " (none)"}`,
    ...options(cert.extensions, false),
  ];
}

function listing(certPath: string): string[] {
  return keygen(["-L", "-f", certPath]).split("\n").slice(1).map((l) => l.trim()).filter((l) =>
    l !== ""
  );
}

function withTempDir<T>(f: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "rxssh-cert-"));
  return f(dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

test(
  "interop: certificates signed by ssh-keygen (every subject × CA type, user and host) parse with -L's fields and verify",
  {
    skip,
    timeout: 180_000,
  },
  () =>
    withTempDir(async (dir) => {
      const subjects = SPECS.map((s, i) => genKey(dir, `subject${i}`, s));
      const cas = SPECS.map((s, i) => genKey(dir, `ca${i}`, s));
      let count = 0;
      for (const [i, subject] of subjects.entries()) {
        for (const [j, ca] of cas.entries()) {
          for (const host of [false, true]) {
            const base = join(dir, `s${i}c${j}${host ? "h" : "u"}`);
            writeFileSync(`${base}.pub`, readFileSync(`${subject}.pub`));
            const opts = host ? ["-h"] : [
              "-O",
              "force-command=/bin/echo hello world",
              "-O",
              "source-address=127.0.0.1/32,::1/128",
              "-O",
              "verify-required",
              "-O",
              "extension:foo@example.com=bar",
              "-O",
              "extension:flag@example.com",
              "-O",
              "no-x11-forwarding",
            ];
            const serial = String(1000 * i + 10 * j + (host ? 1 : 0));
            keygen([
              "-s",
              ca,
              "-I",
              `id ${i}/${j}`,
              "-n",
              "a,b",
              "-V",
              "+1h",
              "-z",
              serial,
              ...opts,
              `${base}.pub`,
            ]);
            const text = readFileSync(`${base}-cert.pub`, "utf8");
            const { key: parsed, comment } = parsePublicKeyLine(text);
            assert.equal(comment, `subject${i}@test`);
            assert.ok(parsed instanceof SshCertificate);
            const cert = parsed;
            assert.equal(formatCertificateLine(cert, comment), text);
            assert.equal(cert.type, `${SPECS[i].type}-cert-v01@openssh.com`);
            assert.deepEqual(
              cert.key.blob,
              parsePublicKeyLine(readFileSync(`${subject}.pub`, "utf8")).key.blob,
            );
            assert.deepEqual(
              cert.signatureKey.blob,
              parsePublicKeyLine(readFileSync(`${ca}.pub`, "utf8")).key.blob,
            );
            assert.equal(cert.serial, BigInt(serial));
            assert.equal(cert.certType, host ? "host" : "user");
            assert.deepEqual(cert.principals, ["a", "b"]);
            if (!host) {
              assert.equal(cert.criticalOptions.get("force-command"), "/bin/echo hello world");
              assert.equal(cert.extensions.get("foo@example.com"), "bar");
              assert.equal(cert.extensions.has("permit-X11-forwarding"), false);
            }
            assert.deepEqual(listing(`${base}-cert.pub`), expectedListing(cert));
            const now = Math.floor(Date.now() / 1000);
            await verifyCertificate(cert, {
              now,
              principal: "b",
              type: host ? "host" : "user",
              trustedCa: (k) => k.fingerprint() === cert.signatureKey.fingerprint(),
            });
            await assert.rejects(
              verifyCertificate(cert, { now: now + 7200 }),
              certError("expired", /expired at/),
            );
            count++;
          }
        }
      }
      assert.equal(count, 50);
      // An rsa-sha2-256 CA signature (ssh-keygen -t rsa-sha2-256) and a certificate with no options.
      const base = join(dir, "r256");
      writeFileSync(`${base}.pub`, readFileSync(`${subjects[0]}.pub`));
      keygen(["-s", cas[4], "-t", "rsa-sha2-256", "-I", "r", "-O", "clear", `${base}.pub`]);
      const cert = parsePublicKeyLine(readFileSync(`${base}-cert.pub`, "utf8"))
        .key as SshCertificate;
      assert.equal(cert.signatureAlgorithm, "rsa-sha2-256");
      assert.equal(cert.extensions.size, 0);
      assert.deepEqual(listing(`${base}-cert.pub`), expectedListing(cert));
      await verifyCertificate(cert, { principal: "anyone" });
      // Unknown critical options are kept and rejected by verification, as sshd would.
      keygen(["-s", cas[0], "-I", "c", "-O", "critical:zz@example.com=q", `${base}.pub`]);
      const crit = parsePublicKeyLine(readFileSync(`${base}-cert.pub`, "utf8"))
        .key as SshCertificate;
      assert.deepEqual(listing(`${base}-cert.pub`), expectedListing(crit));
      await assert.rejects(
        verifyCertificate(crit),
        certError("critical-option", /"zz@example.com"/),
      );
    }),
);

test(
  "interop: certificates we sign (every subject × CA type, user and host) are listed by ssh-keygen -L with the same fields",
  {
    skip,
    timeout: 180_000,
  },
  () =>
    withTempDir(async (dir) => {
      let count = 0;
      const now = BigInt(Math.floor(Date.now() / 1000));
      for (const [i, subjectType] of KEY_TYPES.entries()) {
        const subject = (await key(subjectType)).publicKey;
        for (const [j, caType] of KEY_TYPES.entries()) {
          const ca = await key(caType, 1);
          for (const type of ["user", "host"] as const) {
            const cert = await signCertificate({
              key: subject,
              ca,
              type,
              keyId: `ours ${i}/${j} "quoted"`,
              principals: type === "user" ? ["alice", "bob"] : ["h1.example.com", "*.example.org"],
              serial: BigInt(100 * i + j),
              validAfter: j % 2 ? now - 60n : 0n,
              validBefore: j === 4 ? CERT_FOREVER : now + 3600n,
              criticalOptions: type === "user"
                ? { "force-command": "uptime", "source-address": "10.1.0.0/16" }
                : undefined,
              extensions: type === "user" && i === 1
                ? { "permit-pty": "", "x@example.com": "y" }
                : undefined,
            });
            const path = join(dir, `c${i}${j}${type}-cert.pub`);
            writeFileSync(path, formatCertificateLine(cert, "ours"));
            assert.deepEqual(
              listing(path),
              expectedListing(cert),
              `${subjectType} by ${caType} ${type}`,
            );
            count++;
          }
        }
      }
      assert.equal(count, 50);
    }),
);

test(
  "interop: sshd accepts user certificates we sign (TrustedUserCAKeys), for every subject and CA type",
  {
    skip: skipSshd,
    timeout: 180_000,
  },
  () =>
    withTempDir(async (dir) => {
      const user = currentUser();
      const cas = await Promise.all(KEY_TYPES.map((t) => key(t, 2)));
      const caFile = join(dir, "trusted_user_ca_keys");
      writeFileSync(caFile, cas.map((c, i) => formatPublicKeyLine(c.publicKey, `ca${i}`)).join(""));
      const sshd = await startSshd({
        config: { TrustedUserCAKeys: caFile, PermitRootLogin: "prohibit-password" },
      });
      try {
        const login = async (keyPath: string, certPath: string) =>
          await runSsh([
            "-F",
            "/dev/null",
            "-p",
            String(sshd.port),
            "-i",
            keyPath,
            "-o",
            `CertificateFile=${certPath}`,
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-l",
            user,
            "127.0.0.1",
            "true",
          ], { timeoutMs: 30_000 });
        const now = BigInt(Math.floor(Date.now() / 1000));
        for (const [i, spec] of SPECS.entries()) {
          const keyPath = genKey(dir, `user${i}`, spec);
          const subject = parsePublicKeyLine(readFileSync(`${keyPath}.pub`, "utf8")).key;
          const ca = cas[(i + 1) % cas.length];
          const cert = await signCertificate({
            key: subject,
            ca,
            type: "user",
            keyId: `rxssh-login-${i}`,
            principals: [user],
            serial: BigInt(7000 + i),
            validAfter: now - 60n,
            validBefore: now + 600n,
          });
          const certPath = `${keyPath}-cert.pub`;
          writeFileSync(certPath, formatCertificateLine(cert, `user${i}`));
          const r = await login(keyPath, certPath);
          assert.equal(
            r.code,
            0,
            `${spec.type} cert by ${ca.type}: ${r.stderr}\n--- sshd log ---\n${
              sshd.log().slice(-4000)
            }`,
          );
          assert.match(
            sshd.log(),
            new RegExp(`ID rxssh-login-${i} \\(serial ${7000 + i}\\) CA ${NAME.get(ca.type)}`),
          );
        }
        // Refused: a principal that is not the user, and an expired certificate.
        const keyPath = join(dir, "user0");
        const subject = parsePublicKeyLine(readFileSync(`${keyPath}.pub`, "utf8")).key;
        for (
          const [label, extra] of [
            ["wrong principal", {
              principals: ["someone-else"],
              validAfter: now - 60n,
              validBefore: now + 600n,
            }],
            ["expired", { principals: [user], validAfter: now - 600n, validBefore: now - 60n }],
          ] as const
        ) {
          const cert = await signCertificate({
            key: subject,
            ca: cas[0],
            type: "user",
            keyId: label,
            ...extra,
          });
          const certPath = join(dir, "refused-cert.pub");
          writeFileSync(certPath, formatCertificateLine(cert));
          const r = await login(keyPath, certPath);
          assert.notEqual(r.code, 0, `${label}: sshd accepted it`);
        }
      } finally {
        await sshd.stop();
      }
    }),
);
