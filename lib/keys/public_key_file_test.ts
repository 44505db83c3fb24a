// Public key file formats and MD5 fingerprints: unit tests, hostile inputs,
// and interop with the real ssh-keygen (and openssl for Ed25519 PEM, which
// ssh-keygen 9.x cannot convert). Interop tests skip without ssh-keygen.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SshWriter } from "../wire/writer.ts";
import { toBase64 } from "./_bytes.ts";
import { ed25519PublicKey } from "./ed25519.ts";
import { KeyError } from "./errors.ts";
import { fingerprintMd5, fingerprintSha256 } from "./fingerprint.ts";
import { generatePrivateKey } from "./private_key.ts";
import {
  formatPemPublicKey,
  formatPublicKeyLine,
  formatRfc4716PublicKey,
  parsePemPublicKey,
  parsePublicKeyLine,
  parsePublicKeyText,
  parseRfc4716PublicKey,
} from "./public_key_file.ts";
import { hex } from "./_test_util.ts";

const SSH_KEYGEN = "/usr/bin/ssh-keygen";
const skip = existsSync(SSH_KEYGEN) ? false : "ssh-keygen not installed";
const OPENSSL = ["/usr/bin/openssl", "/usr/local/bin/openssl"].find((p) => existsSync(p));

function keygen(args: string[]): string {
  return execFileSync(SSH_KEYGEN, args, { stdio: ["pipe", "pipe", "pipe"], env: { TZ: "UTC" } })
    .toString();
}

function withTempDir<T>(f: (dir: string) => Promise<T> | T): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "rxssh-pubfile-"));
  return Promise.resolve().then(() => f(dir)).finally(() =>
    rmSync(dir, { recursive: true, force: true })
  );
}

function keyError(pattern: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof KeyError, `expected KeyError, got ${e}`);
    assert.match(e.message, pattern);
    return true;
  };
}

const ED_LINE =
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFP3eLoDGlFqm94Cs0qwXVJ+ktRT8TbkJXnMx/FbJzPK me@host";

test("fingerprintMd5: RFC 1321 vectors in OpenSSH's colon-hex form", () => {
  assert.equal(
    fingerprintMd5(new Uint8Array(0)),
    "MD5:d4:1d:8c:d9:8f:00:b2:04:e9:80:09:98:ec:f8:42:7e",
  );
  const abc = new TextEncoder().encode("abc");
  assert.equal(fingerprintMd5(abc), "MD5:90:01:50:98:3c:d2:4f:b0:d6:96:3f:7d:28:e1:7f:72");
  // A view at an offset hashes only the view.
  const buf = new Uint8Array([9, 9, 0x61, 0x62, 0x63, 9]);
  assert.equal(fingerprintMd5(buf.subarray(2, 5)), fingerprintMd5(abc));
});

test("OpenSSH line: parse, comment with spaces, round trip, type mismatch", () => {
  const { key, comment } = parsePublicKeyLine(`  ${ED_LINE} and more  \r\n`);
  assert.equal(key.type, "ssh-ed25519");
  assert.equal(comment, "me@host and more");
  assert.equal(formatPublicKeyLine(key, comment), `${ED_LINE} and more\n`);
  assert.equal(formatPublicKeyLine(key), ED_LINE.replace(/ me@host$/, "") + "\n");
  assert.equal(formatPublicKeyLine(key, ""), ED_LINE.replace(/ me@host$/, "") + "\n");
  assert.equal(parsePublicKeyLine(ED_LINE.replace(/ me@host$/, "")).comment, "");
  assert.throws(
    () => parsePublicKeyLine(ED_LINE.replace("ssh-ed25519 ", "ssh-rsa ")),
    keyError(/says "ssh-rsa" but the blob is "ssh-ed25519"/),
  );
  assert.throws(() => formatPublicKeyLine(key, "a\nb"), keyError(/line break/));
});

test("OpenSSH line: hostile input gives KeyError", () => {
  const cases: [string, RegExp][] = [
    ["", /expected/],
    ["ssh-ed25519", /expected/],
    ["ssh-ed25519 !!!!", /base64/],
    ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFP3", /public key/],
    ["ssh-ed25519 AAAA", /public key/],
    [`${ED_LINE}\nssh-ed25519 AAAA`, /more than one line/],
    ["ssh-dss " + toBase64(new SshWriter().string("ssh-dss").finish()), /unsupported key type/],
  ];
  for (const [line, re] of cases) assert.throws(() => parsePublicKeyLine(line), keyError(re), line);
});

test("RFC 4716: headers, quoting, continuation, wrapping; round trip", () => {
  const key = parsePublicKeyLine(ED_LINE).key;
  const long = "a comment that is long enough to need more than one line in an RFC 4716 file, " +
    "ünïcödé included";
  const text = formatRfc4716PublicKey(key, { comment: long, headers: [["x-tag", "v"]] });
  for (const line of text.split("\n")) {
    assert.ok(new TextEncoder().encode(line).length <= 72, line);
  }
  assert.match(text, /^---- BEGIN SSH2 PUBLIC KEY ----\nComment: "a comment.*\\\n/);
  const back = parseRfc4716PublicKey("junk before\r\n" + text.replaceAll("\n", "\r\n") + "after");
  assert.deepEqual(back.key.blob, key.blob);
  assert.equal(back.comment, long);
  assert.deepEqual(back.headers, [["Comment", `"${long}"`], ["x-tag", "v"]]);
  // Unquoted comment, lower-case tag, no headers.
  const body = toBase64(key.blob);
  const plain =
    `---- BEGIN SSH2 PUBLIC KEY ----\ncomment: hi there\n${body}\n---- END SSH2 PUBLIC KEY ----\n`;
  assert.equal(parseRfc4716PublicKey(plain).comment, "hi there");
  const none = formatRfc4716PublicKey(key);
  assert.equal(
    none,
    `---- BEGIN SSH2 PUBLIC KEY ----\n${body}\n---- END SSH2 PUBLIC KEY ----\n`,
  );
  assert.equal(parsePublicKeyText(none).format, "rfc4716");
});

test("RFC 4716: hostile input gives KeyError", () => {
  const body = toBase64(parsePublicKeyLine(ED_LINE).key.blob);
  const B = "---- BEGIN SSH2 PUBLIC KEY ----";
  const E = "---- END SSH2 PUBLIC KEY ----";
  const cases: [string, RegExp][] = [
    ["nothing", /no "---- BEGIN/],
    [`${B}\n${body}\n`, /no "---- END/],
    [`${B}\n${E}`, /empty body/],
    [`${B}\nComment: x\\\n${E}`, /continued past the body/],
    [`${B}\n: x\n${body}\n${E}`, /bad header tag/],
    [`${B}\nA B: x\n${body}\n${E}`, /bad header tag/],
    [`${B}\nC: ${"x".repeat(1100)}\n${body}\n${E}`, /longer than 1024/],
    [`${B}\n${body.slice(0, 20)}\n${E}`, /public key|base64/],
    [`${B}\n${body}*\n${E}`, /base64/],
  ];
  for (const [text, re] of cases) {
    assert.throws(() => parseRfc4716PublicKey(text), keyError(re), text.slice(0, 80));
  }
  const key = parsePublicKeyLine(ED_LINE).key;
  assert.throws(() => formatRfc4716PublicKey(key, { headers: [["a:b", "x"]] }), keyError(/tag/));
  assert.throws(() => formatRfc4716PublicKey(key, { comment: "a\nb" }), keyError(/line break/));
});

test("PEM: Ed25519 SPKI matches RFC 8410 §10.1's example key", () => {
  // RFC 8410 §10.1 public key example.
  const pem = "-----BEGIN PUBLIC KEY-----\n" +
    "MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n" +
    "-----END PUBLIC KEY-----\n";
  const { key, format } = parsePemPublicKey(pem);
  assert.equal(format, "spki");
  assert.deepEqual(
    key.blob.subarray(19),
    hex("19bf44096984cdfe8541bac167dc3b96c85086aa30b6b6cb0c5c38ad703166e1"),
  );
  assert.equal(formatPemPublicKey(key), pem);
  assert.throws(() => formatPemPublicKey(key, { format: "pkcs1" }), keyError(/RSA keys only/));
});

test("PEM: every type round-trips through SPKI (and PKCS#1 for RSA)", async () => {
  for (
    const type of [
      "ssh-ed25519",
      "ecdsa-sha2-nistp256",
      "ecdsa-sha2-nistp384",
      "ecdsa-sha2-nistp521",
      "ssh-rsa",
    ]
  ) {
    const key = (await generatePrivateKey(type, type === "ssh-rsa" ? { bits: 2048 } : {}))
      .publicKey;
    const spki = formatPemPublicKey(key);
    assert.deepEqual(parsePemPublicKey(spki).key.blob, key.blob, type);
    assert.equal(parsePublicKeyText(spki).format, "spki");
    if (type === "ssh-rsa") {
      const pkcs1 = formatPemPublicKey(key, { format: "pkcs1" });
      assert.match(pkcs1, /^-----BEGIN RSA PUBLIC KEY-----\n/);
      const parsed = parsePublicKeyText(pkcs1);
      assert.equal(parsed.format, "pkcs1");
      assert.deepEqual(parsed.key.blob, key.blob);
    }
  }
});

test("PEM: hostile input gives KeyError", () => {
  const pem = (b: Uint8Array, label = "PUBLIC KEY") =>
    `-----BEGIN ${label}-----\n${toBase64(b)}\n-----END ${label}-----\n`;
  const ed = parsePemPublicKey(formatPemPublicKey(ed25519PublicKey(new Uint8Array(32).fill(1))));
  const good = hex("302a300506032b6570032100" + "01".repeat(32));
  assert.deepEqual(parsePemPublicKey(pem(good)).key.blob, ed.key.blob);
  const cases: [string, RegExp][] = [
    ["no pem here", /no "PUBLIC KEY"/],
    ["-----BEGIN PUBLIC KEY-----\n!!\n-----END PUBLIC KEY-----\n", /base64/],
    [pem(good.subarray(0, 20)), /exceeds|truncated/],
    [pem(hex("302b300506032b6570032200" + "01".repeat(33))), /33 bytes, expected 32/],
    [pem(hex("302c300706032b65700500032100" + "01".repeat(32))), /parameters must be absent/],
    [
      pem(hex("302a300506032b6571032100" + "01".repeat(32))),
      /unsupported algorithm 1\.3\.101\.113/,
    ],
    // id-ecPublicKey with secp256k1 (1.3.132.0.10).
    [
      pem(hex("3036301006072a8648ce3d020106052b8104000a032200" + "02" + "11".repeat(32))),
      /unsupported named curve 1\.3\.132\.0\.10/,
    ],
    // P-256 with a point not on the curve.
    [
      pem(hex("3059301306072a8648ce3d020106082a8648ce3d030107034200" + "04" + "11".repeat(64))),
      /not a point/,
    ],
    [pem(hex("3006020103020103"), "RSA PUBLIC KEY"), /modulus is 2 bits/],
    [pem(hex("30030201ff"), "RSA PUBLIC KEY"), /negative/],
    [pem(good) + "x" + pem(hex("3000")), /./], // first block wins; must still parse
  ];
  for (const [text, re] of cases.slice(0, -1)) {
    assert.throws(() => parsePemPublicKey(text), keyError(re), text.slice(0, 80));
  }
  assert.equal(parsePemPublicKey(cases[cases.length - 1][0]).key.type, "ssh-ed25519");
  assert.throws(() => parsePublicKeyText("\n# only a comment\n"), keyError(/no key/));
});

// ---------------------------------------------------------------------------
// Interop with ssh-keygen

const TYPES: { t: string; bits?: number; type: string; name: string }[] = [
  { t: "ed25519", type: "ssh-ed25519", name: "ED25519" },
  { t: "ecdsa", bits: 256, type: "ecdsa-sha2-nistp256", name: "ECDSA" },
  { t: "ecdsa", bits: 384, type: "ecdsa-sha2-nistp384", name: "ECDSA" },
  { t: "ecdsa", bits: 521, type: "ecdsa-sha2-nistp521", name: "ECDSA" },
  { t: "rsa", bits: 2048, type: "ssh-rsa", name: "RSA" },
];

for (const spec of TYPES) {
  const label = `${spec.t}${spec.bits ? `-${spec.bits}` : ""}`;
  test(`interop ${label}: .pub line, RFC 4716, PKCS8/PEM both ways, MD5 and SHA256 fingerprints`, {
    skip,
    timeout: 60_000,
  }, () =>
    withTempDir((dir) => {
      const k = join(dir, "k");
      const comment = "user@host with spaces";
      keygen([
        "-q",
        "-N",
        "",
        "-C",
        comment,
        "-t",
        spec.t,
        ...(spec.bits ? ["-b", String(spec.bits)] : []),
        "-f",
        k,
      ]);
      const pubText = readFileSync(`${k}.pub`, "utf8");
      const keyLine = pubText.split(" ").slice(0, 2).join(" ");
      // .pub line, exactly as ssh-keygen writes it.
      const { key, comment: c } = parsePublicKeyLine(pubText);
      assert.equal(key.type, spec.type);
      assert.equal(c, comment);
      assert.equal(formatPublicKeyLine(key, c), pubText);
      // Fingerprints.
      for (
        const [e, ours] of [["md5", fingerprintMd5(key.blob)], [
          "sha256",
          fingerprintSha256(key.blob),
        ]]
      ) {
        const out = keygen(["-l", "-E", e, "-f", `${k}.pub`]).trim();
        assert.equal(out.split(" ")[1], ours, `${label} ${e}`);
        assert.match(out, new RegExp(`\\(${spec.name}\\)$`));
      }
      assert.equal(key.fingerprint(), fingerprintSha256(key.blob));
      // ssh-keygen -e (RFC 4716) → us.
      const rfc = keygen(["-e", "-f", `${k}.pub`]);
      const parsed = parseRfc4716PublicKey(rfc);
      assert.deepEqual(parsed.key.blob, key.blob);
      assert.match(parsed.comment, new RegExp(`-bit ${spec.name}, converted by .* from OpenSSH$`));
      // Our RFC 4716 matches ssh-keygen's byte for byte given the same comment.
      assert.equal(formatRfc4716PublicKey(key, { comment: parsed.comment }), rfc);
      assert.equal(parsePublicKeyText(rfc).format, "rfc4716");
      // Us (RFC 4716, with a long wrapped comment) → ssh-keygen -i.
      for (const rfcComment of [comment, "x".repeat(150)]) {
        writeFileSync(join(dir, "ours.rfc"), formatRfc4716PublicKey(key, { comment: rfcComment }));
        assert.equal(keygen(["-i", "-f", join(dir, "ours.rfc")]).trim(), keyLine);
      }
      if (spec.t === "ed25519") {
        // ssh-keygen 9.x has no PKCS8/PEM conversion for Ed25519: use openssl.
        if (OPENSSL === undefined) return;
        const ours = formatPemPublicKey(key);
        writeFileSync(join(dir, "ours.pem"), ours);
        const r = spawnSync(OPENSSL, ["pkey", "-pubin", "-in", join(dir, "ours.pem"), "-pubout"], {
          encoding: "utf8",
        });
        assert.equal(r.stdout, ours, r.stderr);
        const text =
          spawnSync(OPENSSL, ["pkey", "-pubin", "-in", join(dir, "ours.pem"), "-noout", "-text"], {
            encoding: "utf8",
          }).stdout;
        const raw = text.split("pub:")[1].replace(/[\s:]/g, "");
        assert.equal(
          raw,
          Array.from(key.blob.subarray(19), (b) => b.toString(16).padStart(2, "0")).join(""),
        );
        return;
      }
      // ssh-keygen -e -m PKCS8 → us, identical to ours; ours → ssh-keygen -i -m PKCS8.
      const pkcs8 = keygen(["-e", "-m", "PKCS8", "-f", `${k}.pub`]);
      assert.deepEqual(parsePemPublicKey(pkcs8).key.blob, key.blob);
      assert.equal(formatPemPublicKey(key), pkcs8);
      writeFileSync(join(dir, "ours.pkcs8"), formatPemPublicKey(key));
      assert.equal(keygen(["-i", "-m", "PKCS8", "-f", join(dir, "ours.pkcs8")]).trim(), keyLine);
      // -m PEM: PKCS#1 for RSA (SPKI for ECDSA, import unsupported by ssh-keygen).
      const pem = keygen(["-e", "-m", "PEM", "-f", `${k}.pub`]);
      const fromPem = parsePemPublicKey(pem);
      assert.deepEqual(fromPem.key.blob, key.blob);
      if (spec.t === "rsa") {
        assert.equal(fromPem.format, "pkcs1");
        assert.equal(formatPemPublicKey(key, { format: "pkcs1" }), pem);
        writeFileSync(join(dir, "ours.pem"), formatPemPublicKey(key, { format: "pkcs1" }));
        assert.equal(keygen(["-i", "-m", "PEM", "-f", join(dir, "ours.pem")]).trim(), keyLine);
      }
    }));
}
