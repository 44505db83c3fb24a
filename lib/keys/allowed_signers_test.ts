// allowed_signers (ssh-keygen(1) "ALLOWED SIGNERS"): parsing, pattern
// matching and the option checks, and the same accept/reject as the real
// `ssh-keygen -Y verify` / `-Y find-principals` over a matrix of keys,
// identities, namespaces and verification times. The interop tests are
// skipped without /usr/bin/ssh-keygen.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SshWriter } from "../wire/writer.ts";
import { toBase64 } from "./_bytes.ts";
import { utf8 } from "./_test_util.ts";
import { AllowedSignersError, findAllowedSigners, parseAllowedSigners } from "./allowed_signers.ts";
import { KeyError } from "./errors.ts";
import { matchPatternList } from "./patterns.ts";
import { generatePrivateKey } from "./private_key.ts";
import { signSshsig, verifySshsig } from "./sshsig.ts";
import type { PrivateKey } from "./types.ts";

const ed = await generatePrivateKey("ssh-ed25519");
const ec = await generatePrivateKey("ecdsa-sha2-nistp256");
const line = (k: PrivateKey) => `${k.type} ${toBase64(k.publicKey.blob)}`;

test("allowed_signers: principals, options, key and comment of each entry", () => {
  const text = [
    "# a comment",
    "",
    "   \t",
    `alice@example.com ${line(ed)} alice's laptop`,
    `*@example.com,!mallory@example.com namespaces="git" ${line(ec)}`,
    `"bob@x.org,carol x" valid-after="20240101Z",valid-before="20250101120000UTC" ${line(ed)}`,
    `  dave Cert-Authority,NAMESPACES="fi*,a\\"b" ${line(ec)}\r`,
    `erin valid-after="202406011200" ${line(ed)}`,
  ].join("\n");
  const entries = parseAllowedSigners(text);
  assert.equal(entries.length, 5);
  const [a, b, c, d, e] = entries;
  assert.deepEqual(a.principals, ["alice@example.com"]);
  assert.equal(a.certAuthority, false);
  assert.equal(a.namespaces, undefined);
  assert.deepEqual(a.publicKey.blob, ed.publicKey.blob);
  assert.equal(a.comment, "alice's laptop");
  assert.equal(a.line, 4);
  assert.deepEqual(b.principals, ["*@example.com", "!mallory@example.com"]);
  assert.deepEqual(b.namespaces, ["git"]);
  assert.equal(b.publicKey.type, "ecdsa-sha2-nistp256");
  assert.equal(b.comment, undefined);
  assert.deepEqual(c.principals, ["bob@x.org", "carol x"]);
  assert.equal(c.validAfter?.toISOString(), "2024-01-01T00:00:00.000Z");
  assert.equal(c.validBefore?.toISOString(), "2025-01-01T12:00:00.000Z");
  assert.equal(d.certAuthority, true);
  assert.deepEqual(d.namespaces, ["fi*", 'a"b']);
  assert.equal(d.line, 7);
  // No Z or UTC: local time, as OpenSSH's mktime().
  assert.equal(e.validAfter?.getTime(), new Date(2024, 5, 1, 12, 0).getTime());
});

test("allowed_signers: bad lines throw AllowedSignersError with the line number, or are skipped via onError", () => {
  const good = `ok ${line(ed)}`;
  const ecBlobAsEd = `ssh-ed25519 ${toBase64(ec.publicKey.blob)}`;
  const bad = [
    "lonely",
    "alice ",
    `alice unknown-option ${line(ed)}`,
    `alice namespaces=git ${line(ed)}`,
    `alice namespaces="git ${line(ed)}`,
    `alice namespaces="git",namespaces="file" ${line(ed)}`,
    `alice namespaces="git", ${line(ed)}`,
    `alice valid-after="2024" ${line(ed)}`,
    `alice valid-after="20241301Z" ${line(ed)}`,
    `alice valid-after="19700101Z" ${line(ed)}`,
    `alice valid-after="2024010x" ${line(ed)}`,
    `alice valid-after="20250101Z",valid-before="20240101Z" ${line(ed)}`,
    `alice valid-after="20240101Z",valid-before="20240101Z" ${line(ed)}`,
    `alice valid-before="20240101Z",valid-before="20250101Z" ${line(ed)}`,
    "alice ssh-ed25519",
    "alice ssh-ed25519 not*base64",
    "alice ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA",
    `alice ${ecBlobAsEd}`,
    `alice namespaces="git"`,
    '"alice ssh-ed25519 AAAA',
    `alice sk-ssh-ed25519@openssh.com ${toBase64(ed.publicKey.blob)}`,
    `alice ssh-ed25519-cert-v01@openssh.com ${toBase64(ed.publicKey.blob)}`,
  ];
  for (const l of bad) {
    assert.throws(
      () => parseAllowedSigners(`${good}\n${l}\n${good}\n`),
      (e: unknown) => e instanceof AllowedSignersError && e instanceof KeyError && e.line === 2,
      l,
    );
    const skipped: AllowedSignersError[] = [];
    const entries = parseAllowedSigners(`${good}\n${l}\n${good}\n`, {
      onError: (e) => skipped.push(e),
    });
    assert.equal(entries.length, 2, l);
    assert.equal(skipped.length, 1, l);
    assert.match(skipped[0].message, /^allowed signers: line 2: /);
  }
});

test("allowed_signers: matchPatternList is OpenSSH's match_pattern_list", () => {
  const cases: [string, string, boolean][] = [
    ["alice", "alice", true],
    ["alice", "Alice", false],
    ["alice", "al*", true],
    ["alice", "a?ice", true],
    ["alice", "a?ce", false],
    ["alice", "*", true],
    ["", "*", true],
    ["", "", false],
    ["", ",", true],
    ["", "a,", false],
    ["", "a,,", true],
    ["alice", "", false],
    ["alice", "bob,alice", true],
    ["alice", "*,!alice", false],
    ["alice", "!alice,*", false],
    ["alice", "!bob", false],
    ["bob@example.com", "*@example.com,!mallory@*", true],
    ["mallory@example.com", "*@example.com,!mallory@*", false],
    ["a.b.c", "*.*.c", true],
    ["abcabd", "*abd", true],
    ["abcab", "*a*b*c*", true],
    ["abab", "*a*b*c*", false],
    ["axxxbxxxc", "a*b*c", true],
    ["x", "**", true],
  ];
  for (const [s, p, want] of cases) {
    assert.equal(matchPatternList(s, p) === 1, want, `${s} ~ ${p}`);
  }
});

test("allowed_signers: findAllowedSigners checks principal, key, namespaces and validity", () => {
  const entries = parseAllowedSigners([
    `alice@example.com,!bob@example.com,*@example.com namespaces="git,fi?e" ${line(ed)}`,
    `carol valid-after="20240101Z",valid-before="20250101Z" ${line(ec)}`,
    `dave cert-authority ${line(ed)}`,
    `erin,,frank ${line(ec)}`,
  ].join("\n"));
  const key = ed.publicKey;
  const t2024 = new Date("2024-06-01T00:00:00Z");
  assert.deepEqual(findAllowedSigners(entries, { identity: "alice@example.com", key }), [
    "alice@example.com",
  ]);
  assert.deepEqual(
    findAllowedSigners(entries, { identity: "zoe@example.com", key, namespace: "file" }),
    ["zoe@example.com"],
  );
  assert.deepEqual(findAllowedSigners(entries, { identity: "bob@example.com", key }), []);
  assert.deepEqual(
    findAllowedSigners(entries, { identity: "alice@example.com", key, namespace: "ssh" }),
    [],
  );
  assert.deepEqual(
    findAllowedSigners(entries, { identity: "alice@example.com", key: ec.publicKey }),
    [],
  );
  // cert-authority keys do not vouch for themselves.
  assert.deepEqual(findAllowedSigners(entries, { identity: "dave", key }), []);
  const carol = { identity: "carol", key: ec.publicKey };
  assert.deepEqual(findAllowedSigners(entries, { ...carol, now: t2024 }), ["carol"]);
  assert.deepEqual(findAllowedSigners(entries, { ...carol, now: t2024.getTime() }), ["carol"]);
  assert.deepEqual(
    findAllowedSigners(entries, { ...carol, now: new Date("2023-12-31T23:59:59Z") }),
    [],
  );
  assert.deepEqual(
    findAllowedSigners(entries, { ...carol, now: new Date("2024-01-01T00:00:00Z") }),
    [
      "carol",
    ],
  );
  assert.deepEqual(
    findAllowedSigners(entries, { ...carol, now: new Date("2025-01-01T00:00:00.999Z") }),
    [
      "carol",
    ],
  );
  assert.deepEqual(
    findAllowedSigners(entries, { ...carol, now: new Date("2025-01-01T00:00:01Z") }),
    [],
  );
  // Without an identity: the first matching entry's principals (find-principals).
  assert.deepEqual(findAllowedSigners(entries, { key }), [
    "alice@example.com",
    "!bob@example.com",
    "*@example.com",
  ]);
  assert.deepEqual(findAllowedSigners(entries, { key: ec.publicKey, now: t2024 }), ["carol"]);
  assert.deepEqual(findAllowedSigners(entries, { key: ec.publicKey, now: new Date(2030, 0) }), [
    "erin",
  ]);
});

// ---------------------------------------------------------------- interop

const SSH_KEYGEN = "/usr/bin/ssh-keygen";
const skip = existsSync(SSH_KEYGEN) ? false : "ssh-keygen not installed at /usr/bin/ssh-keygen";

test("interop: allowed_signers decisions equal ssh-keygen -Y verify and -Y find-principals", {
  skip,
  timeout: 300_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), "rxssh-allowed-"));
  try {
    const k = [
      ed,
      ec,
      await generatePrivateKey("ssh-rsa", { bits: 2048 }),
      await generatePrivateKey("ssh-ed25519"),
      await generatePrivateKey("ecdsa-sha2-nistp384"),
      await generatePrivateKey("ecdsa-sha2-nistp521"),
    ];
    const text = [
      "# allowed signers for the interop matrix",
      "",
      `alice@example.com ${line(k[0])} laptop`,
      `*@example.com,!mallory@example.com namespaces="git" ${line(k[1])}`,
      `"bob@x.org,carol@x.org" valid-after="20240101Z",valid-before="20250101Z" ${line(k[2])}`,
      `dave NAMESPACES="fi*,!file-secret",Valid-After="202406011200" ${line(k[0])}`,
      `erin cert-authority ${line(k[3])}`,
      `frank bogus-option ${line(k[3])}`,
      `gina valid-before="20240101Z" ${line(k[4])}`,
      `henry namespaces="git,file",valid-after="20991231235959UTC" ${line(k[4])}`,
      `ivan?,j* ${line(k[4])}`,
      `kate valid-after="20250101Z",valid-before="20240101Z" ${line(k[5])}`,
      `  \tlouis,mallory@example.com namespaces="file-secret" ${line(k[5])}`,
      `*,!nobody namespaces="nothing" ${line(k[3])}`,
    ].join("\n") + "\n";
    const allowed = join(dir, "allowed_signers");
    writeFileSync(allowed, text);
    const skipped: AllowedSignersError[] = [];
    const entries = parseAllowedSigners(text, { onError: (e) => skipped.push(e) });
    assert.deepEqual(skipped.map((e) => e.line), [8, 12]);

    const message = utf8("the signed message\n");
    const namespaces = ["file", "git", "file-secret"];
    const sigs = new Map<string, string>();
    for (let i = 0; i < k.length; i++) {
      for (const ns of namespaces) {
        const file = join(dir, `k${i}.${ns}.sig`);
        const armored = await signSshsig(k[i], message, { namespace: ns });
        writeFileSync(file, armored);
        sigs.set(file, armored);
      }
    }
    const identities = [
      "alice@example.com",
      "bob@example.com",
      "mallory@example.com",
      "bob@x.org",
      "carol@x.org",
      "dave",
      "erin",
      "frank",
      "gina",
      "henry",
      "ivan1",
      "ivan",
      "jack",
      "kate",
      "louis",
      "nobody",
    ];
    const times: [string, Date][] = [
      ["20230601Z", new Date("2023-06-01T00:00:00Z")],
      ["20240601120000", new Date(2024, 5, 1, 12, 0, 0)],
      ["20260601Z", new Date("2026-06-01T00:00:00Z")],
    ];
    let accepted = 0, rejected = 0;
    for (let i = 0; i < k.length; i++) {
      for (const ns of namespaces) {
        const file = join(dir, `k${i}.${ns}.sig`);
        const sig = await verifySshsig(sigs.get(file)!, message, { namespace: ns });
        for (const [opt, now] of times) {
          for (const identity of identities) {
            const r = spawnSync(SSH_KEYGEN, [
              "-Y",
              "verify",
              "-f",
              allowed,
              "-I",
              identity,
              "-n",
              ns,
              "-s",
              file,
              "-O",
              `verify-time=${opt}`,
            ], { input: message });
            const theirs = r.status === 0;
            const ours =
              findAllowedSigners(entries, { identity, namespace: ns, key: sig.publicKey, now })
                .length > 0;
            assert.equal(ours, theirs, `key ${i} ${identity} ${ns} at ${opt}: ${r.stderr}`);
            if (theirs) accepted++;
            else rejected++;
          }
        }
      }
      for (const [opt, now] of times) {
        const file = join(dir, `k${i}.file.sig`);
        const r = spawnSync(SSH_KEYGEN, [
          "-Y",
          "find-principals",
          "-f",
          allowed,
          "-s",
          file,
          "-O",
          `verify-time=${opt}`,
        ]);
        const theirs = r.status === 0 ? r.stdout.toString().trim().split("\n") : [];
        const key = (await verifySshsig(sigs.get(file)!, message, { namespace: "file" }))
          .publicKey;
        assert.deepEqual(findAllowedSigners(entries, { key, now }), theirs, `key ${i} at ${opt}`);
      }
    }
    // The matrix exercises both answers, many times each.
    assert.ok(accepted >= 20, `accepted ${accepted}`);
    assert.ok(rejected >= 200, `rejected ${rejected}`);
    console.log(
      `allowed_signers interop: ${accepted} accepted, ${rejected} rejected, same as ssh-keygen`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("allowed_signers: a truncated key blob in a line is an error, never an untyped throw", () => {
  const blob = new SshWriter().string("ssh-ed25519").string(new Uint8Array(32)).finish();
  for (let n = 1; n < blob.length; n++) {
    const b64 = toBase64(blob.subarray(0, n));
    assert.throws(
      () => parseAllowedSigners(`alice ssh-ed25519 ${b64}`),
      AllowedSignersError,
      `cut at ${n}`,
    );
  }
});
