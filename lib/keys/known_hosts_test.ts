// known_hosts: parsing, hashing (hostfile.c host_hash), lookups with ssh's
// semantics (hostfile.c / sshconnect.c), and interop with ssh-keygen -H / -F
// and with files written by ssh itself.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fromBase64, toBase64 } from "./_bytes.ts";
import {
  certificateAuthoritiesFor,
  checkHostKey,
  findHostEntries,
  formatKnownHostsLine,
  hashHostName,
  knownHostsName,
  parseKnownHosts,
} from "./known_hosts.ts";
import { generatePrivateKey } from "./private_key.ts";
import { parsePublicKey } from "./public_key.ts";
import type { PublicKey } from "./types.ts";
import { currentUser, findOpenSsh, runProcess, runSsh, startSshd } from "../../tests/_openssh.ts";

const A = (await generatePrivateKey("ssh-ed25519")).publicKey;
const B = (await generatePrivateKey("ecdsa-sha2-nistp256")).publicKey;
const C = (await generatePrivateKey("ssh-ed25519")).publicKey;
const k = (key: PublicKey) => `${key.type} ${toBase64(key.blob)}`;

test("parse: markers, patterns, hashed names, comments, diagnostics", () => {
  const hashed = hashHostName("hashed.example", new Uint8Array(20).fill(7));
  const text = [
    "# comment",
    "",
    `example.com,192.0.2.1 ${k(A)} a comment`,
    `  @cert-authority *.example.com ${k(B)}`,
    `@revoked\t* ${k(C)}`,
    `${hashed} ${k(A)}`,
    `@bogus host ${k(A)}`, // 7
    `@revoked @revoked host ${k(A)}`, // 8
    `hostonly`, // 9
    `host `, // 10
    `host # comment`, // 11
    `|2|abc|def ${k(A)}`, // 12
    `|1|AAAA|def ${k(A)}`, // 13: salt not 20 bytes
    `host ssh-ed25519 !!!`, // 14
    `host ecdsa-sha2-nistp256 ${toBase64(A.blob)}`, // 15
    `host 2048 35 12345`, // 16: legacy RSA1
  ].join("\n");
  const { entries, diagnostics } = parseKnownHosts(text);
  assert.deepEqual(
    entries.map((e) => [e.line, e.marker, e.hosts, e.hashed, e.keyType, e.comment]),
    [
      [3, undefined, "example.com,192.0.2.1", false, "ssh-ed25519", "a comment"],
      [4, "@cert-authority", "*.example.com", false, "ecdsa-sha2-nistp256", ""],
      [5, "@revoked", "*", false, "ssh-ed25519", ""],
      [6, undefined, hashed, true, "ssh-ed25519", ""],
    ],
  );
  assert.deepEqual(diagnostics.map((d) => [d.line, d.kind]), [
    [7, "bad-marker"],
    [8, "bad-marker"],
    [9, "truncated"],
    [10, "truncated"],
    [11, "truncated"],
    [12, "bad-hash"],
    [13, "bad-hash"],
    [14, "bad-base64"],
    [15, "key-type-mismatch"],
    [16, "no-key"],
  ]);
});

test("hashHostName: HMAC-SHA1 over the name, salt and hash in base64", () => {
  const salt = new Uint8Array(20).map((_, i) => i);
  const h = hashHostName("example.com", salt);
  assert.match(h, /^\|1\|[A-Za-z0-9+/]{27}=\|[A-Za-z0-9+/]{27}=$/);
  assert.equal(h.split("|")[2], toBase64(salt));
  assert.notEqual(hashHostName("example.com"), hashHostName("example.com")); // random salt
  assert.notEqual(hashHostName("[example.com]:2222", salt), h);
  assert.throws(() => hashHostName("x", new Uint8Array(16)), RangeError);
});

test("knownHostsName and formatKnownHostsLine", () => {
  assert.equal(knownHostsName("Example.COM", 22), "example.com");
  assert.equal(knownHostsName("example.com", 0), "example.com");
  assert.equal(knownHostsName("example.com", 2222), "[example.com]:2222");
  assert.equal(knownHostsName("::1", 22), "::1");
  assert.equal(knownHostsName("::1", 2200), "[::1]:2200");
  assert.equal(formatKnownHostsLine(A, { host: "Example.COM", port: 22 }), `example.com ${k(A)}`);
  assert.equal(formatKnownHostsLine(A, { host: "h", port: 2222 }), `[h]:2222 ${k(A)}`);
  assert.equal(
    formatKnownHostsLine(A, { host: "h", port: 2222, marker: "@cert-authority" }),
    `@cert-authority [h]:2222 ${k(A)}`,
  );
  const salt = new Uint8Array(20).fill(1);
  assert.equal(
    formatKnownHostsLine(A, { host: "H", port: 2222, hash: true, salt }),
    `${hashHostName("[h]:2222", salt)} ${k(A)}`,
  );
});

test("checkHostKey: match, mismatch (any type, last offending line), unknown, revoked, negation", () => {
  const hashed = hashHostName("[hashed.example]:2022");
  const { entries } = parseKnownHosts(
    [
      `a.example,*.b.example,!bad.b.example ${k(A)}`, // 1
      `a.example ${k(B)}`, // 2
      `[a.example]:2222 ${k(B)}`, // 3
      `${hashed} ${k(A)}`, // 4
      `@revoked *.b.example ${k(C)}`, // 5
      `@cert-authority a.example ${k(C)}`, // 6
      `*.c.example ${k(B)}`, // 7
    ].join("\n"),
  );
  const st = (host: string, port: number, key: PublicKey) => {
    const r = checkHostKey(entries, key, { host, port });
    return [r.status, r.line];
  };
  assert.deepEqual(st("a.example", 22, A), ["match", 1]);
  assert.deepEqual(st("A.EXAMPLE", 22, B), ["match", 2]);
  assert.deepEqual(st("a.example", 22, C), ["mismatch", 2]); // CA line does not count
  assert.deepEqual(st("a.example", 2222, B), ["match", 3]);
  assert.deepEqual(st("a.example", 2222, A), ["mismatch", 3]); // other type: still a mismatch, as ssh
  assert.deepEqual(st("a.example", 2200, A), ["unknown", undefined]);
  assert.deepEqual(st("x.b.example", 22, A), ["match", 1]);
  assert.deepEqual(st("x.b.example", 22, C), ["revoked", 5]);
  assert.deepEqual(st("bad.b.example", 22, A), ["unknown", undefined]); // negated: line excluded
  assert.deepEqual(st("bad.b.example", 22, C), ["revoked", 5]);
  assert.deepEqual(st("hashed.example", 2022, A), ["match", 4]);
  assert.deepEqual(st("hashed.example", 22, A), ["unknown", undefined]);
  assert.deepEqual(st("x.c.example", 22, A), ["mismatch", 7]);
  assert.deepEqual(checkHostKey(entries, A, { host: "a.example", port: 22 }).knownKeyTypes, [
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
  ]);
  // Revoked wins even over a matching plain line.
  const { entries: e2 } = parseKnownHosts(`h ${k(A)}\n@revoked h ${k(A)}\n`);
  assert.deepEqual(checkHostKey(e2, A, { host: "h", port: 22 }).status, "revoked");
});

test("certificateAuthoritiesFor: host patterns, revoked CAs excluded", () => {
  const { entries } = parseKnownHosts(
    [
      `@cert-authority *.example.com,!old.example.com ${k(A)}`,
      `@cert-authority [*.example.com]:2222 ${k(B)}`,
      `@cert-authority * ${k(C)}`,
      `@revoked db.example.com ${k(C)}`,
      `www.example.com ${k(B)}`,
    ].join("\n"),
  );
  const lines = (h: string, p: number) =>
    certificateAuthoritiesFor(entries, { host: h, port: p }).map((e) => e.line);
  assert.deepEqual(lines("www.example.com", 22), [1, 3]);
  assert.deepEqual(lines("old.example.com", 22), [3]);
  assert.deepEqual(lines("db.example.com", 22), [1]);
  assert.deepEqual(lines("www.example.com", 2222), [2, 3]);
});

// ---------------------------------------------------------------------------
// Interop with ssh-keygen and ssh.

const openssh = findOpenSsh();
const skip = openssh ? false : "OpenSSH not installed";

function withDir<T>(f: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "rxssh-kh-"));
  return f(dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

async function keygen(args: string[]): Promise<string> {
  const r = await runProcess(openssh!.sshKeygen, args, { timeoutMs: 30_000 });
  assert.equal(r.code, 0, `ssh-keygen ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/** Line numbers `ssh-keygen -F name -f file` reports. */
async function keygenFind(name: string, file: string): Promise<number[]> {
  const r = await runProcess(openssh!.sshKeygen, ["-F", name, "-f", file], { timeoutMs: 30_000 });
  return [...r.stdout.matchAll(/^# Host .* found: line (\d+)/gm)].map((m) => Number(m[1]));
}

const HOSTS: [string, number][] = [
  ["example.com", 22],
  ["www.example.com", 22],
  ["bad.example.com", 22],
  ["192.0.2.1", 22],
  ["192.0.2.1", 2222],
  ["db.internal", 22],
  ["db.internal", 2222],
  ["db1.internal", 22],
  ["::1", 22],
  ["::1", 830],
  ["x.org", 22],
  ["nowhere.test", 22],
];

const MIXED = () =>
  [
    "# mixed file",
    `example.com,192.0.2.1,DB.Internal ${k(A)}`,
    `*.example.com,!bad.example.com ${k(B)}`,
    `[192.0.2.1]:2222,[db.internal]:2222 ${k(A)}`,
    `db?.internal ${k(C)} wildcard`,
    `::1,[::1]:830 ${k(B)}`,
    `@revoked * ${k(C)}`,
    `@cert-authority *.org ${k(A)}`,
    `${hashHostName("nowhere.test")} ${k(A)}`,
    `${hashHostName("[db.internal]:2222")} ${k(B)}`,
  ].join("\n") + "\n";

test(
  "ssh-keygen -F agrees with findHostEntries on a mixed file",
  { skip },
  () =>
    withDir(async (dir) => {
      const file = join(dir, "known_hosts");
      writeFileSync(file, MIXED());
      const { entries, diagnostics } = parseKnownHosts(readFileSync(file, "utf8"));
      assert.deepEqual(diagnostics, []);
      let compared = 0;
      let matched = 0;
      for (const [host, port] of HOSTS) {
        const theirs = await keygenFind(knownHostsName(host, port), file);
        matched += theirs.length;
        const ours = findHostEntries(entries, { host, port }).map((e) => e.line);
        assert.deepEqual(ours, theirs, `${host} port ${port}`);
        compared++;
      }
      assert.equal(compared, HOSTS.length);
      assert.ok(matched >= 2 * HOSTS.length, `only ${matched} lines matched`);
    }),
);

test(
  "a file hashed by ssh-keygen -H is matched for every host",
  { skip },
  () =>
    withDir(async (dir) => {
      const file = join(dir, "known_hosts");
      writeFileSync(file, MIXED());
      const plain = parseKnownHosts(readFileSync(file, "utf8")).entries;
      await keygen(["-H", "-f", file]);
      const text = readFileSync(file, "utf8");
      const { entries, diagnostics } = parseKnownHosts(text);
      assert.deepEqual(diagnostics, []);
      assert.ok(entries.filter((e) => e.hashed).length >= 8, text);
      let checked = 0;
      for (const [host, port] of HOSTS) {
        // The same keys are found for the host before and after hashing.
        const before = findHostEntries(plain, { host, port }).map((e) => `${e.marker} ${k(e.key)}`)
          .sort();
        const after = findHostEntries(entries, { host, port }).map((e) => `${e.marker} ${k(e.key)}`)
          .sort();
        assert.deepEqual(after, before, `${host} port ${port}`);
        // And ssh-keygen -F agrees on the hashed file too.
        const theirs = await keygenFind(knownHostsName(host, port), file);
        assert.deepEqual(findHostEntries(entries, { host, port }).map((e) => e.line), theirs);
        checked++;
      }
      assert.equal(checked, HOSTS.length);
      // The hash of every hashed line is reproduced with its salt.
      for (const e of entries.filter((e) => e.hashed)) {
        const salt = fromBase64(e.hosts.split("|")[2]);
        const names = HOSTS.map(([h, p]) => knownHostsName(h, p));
        assert.ok(names.some((n) => hashHostName(n, salt) === e.hosts), e.hosts);
      }
    }),
);

test("lines we format (hashed and plain, with and without port) are found by ssh-keygen -F", {
  skip,
}, () =>
  withDir(async (dir) => {
    const file = join(dir, "known_hosts");
    const cases: [string, number, boolean][] = [
      ["plain.example", 22, false],
      ["plain.example", 2222, false],
      ["hashed.example", 22, true],
      ["hashed.example", 2222, true],
      ["192.0.2.9", 22, true],
      ["2001:db8::9", 2200, false],
      ["2001:db8::9", 22, true],
    ];
    const lines = cases.map(([h, p, hash], i) =>
      formatKnownHostsLine([A, B, C][i % 3], { host: h, port: p, hash })
    );
    writeFileSync(file, lines.join("\n") + "\n");
    let found = 0;
    for (const [i, [h, p]] of cases.entries()) {
      assert.deepEqual(await keygenFind(knownHostsName(h, p), file), [i + 1], lines[i]);
      found++;
    }
    assert.equal(found, cases.length);
    assert.deepEqual(await keygenFind("plain.example.org", file), []);
  }));

test(
  "known_hosts written by ssh itself: read, matched, and our line equals ssh's",
  { skip },
  async () => {
    const sshd = await startSshd({
      hostKeyTypes: ["ed25519", "ecdsa256", "rsa3072"],
      config: { PubkeyAuthentication: "yes", PasswordAuthentication: "no" },
    });
    try {
      await withDir(async (dir) => {
        await keygen(["-q", "-t", "ed25519", "-N", "", "-C", "", "-f", join(dir, "id")]);
        writeFileSync(join(sshd.dir, "authorized_keys"), readFileSync(join(dir, "id.pub")));
        const ssh = (knownHosts: string, extra: string[]) =>
          runSsh([
            "-F",
            "/dev/null",
            "-p",
            String(sshd.port),
            "-l",
            currentUser(),
            "-i",
            join(dir, "id"),
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            `UserKnownHostsFile=${knownHosts}`,
            "-o",
            "GlobalKnownHostsFile=/dev/null",
            ...extra,
            "127.0.0.1",
            "true",
          ], { timeoutMs: 30_000 });
        let runs = 0;
        for (const hostKey of sshd.hostKeys) {
          const key = parsePublicKey(fromBase64(hostKey.pubLine.split(" ")[1]));
          for (const hash of [false, true]) {
            const kh = join(dir, `kh_${hostKey.type}_${hash}`);
            const r = await ssh(kh, [
              "-o",
              "StrictHostKeyChecking=accept-new",
              "-o",
              `HashKnownHosts=${hash ? "yes" : "no"}`,
              "-o",
              `HostKeyAlgorithms=${
                hostKey.algorithm === "ssh-rsa" ? "rsa-sha2-512" : hostKey.algorithm
              }`,
            ]);
            assert.equal(r.code, 0, r.stderr);
            const written = readFileSync(kh, "utf8");
            const { entries, diagnostics } = parseKnownHosts(written);
            assert.deepEqual(diagnostics, []);
            assert.equal(entries.length, 1, written);
            assert.equal(entries[0].hashed, hash);
            const check = checkHostKey(entries, key, { host: "127.0.0.1", port: sshd.port });
            assert.equal(check.status, "match");
            assert.equal(check.line, 1);
            assert.equal(
              checkHostKey(entries, key, { host: "127.0.0.1", port: 22 }).status,
              "unknown",
            );
            if (hash) {
              const salt = fromBase64(entries[0].hosts.split("|")[2]);
              assert.equal(
                formatKnownHostsLine(key, { host: "127.0.0.1", port: sshd.port, hash, salt }) +
                  "\n",
                written,
              );
            } else {
              assert.equal(
                formatKnownHostsLine(key, { host: "127.0.0.1", port: sshd.port }) + "\n",
                written,
              );
            }
            runs++;
          }
          // ssh accepts our hashed line under StrictHostKeyChecking=yes ...
          const ours = join(dir, `ours_${hostKey.type}`);
          writeFileSync(
            ours,
            formatKnownHostsLine(key, { host: "127.0.0.1", port: sshd.port, hash: true }) + "\n",
          );
          const r = await ssh(ours, [
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            `HostKeyAlgorithms=${
              hostKey.algorithm === "ssh-rsa" ? "rsa-sha2-512" : hostKey.algorithm
            }`,
          ]);
          assert.equal(r.code, 0, r.stderr);
          runs++;
        }
        // ... refuses a changed key, where we say "mismatch" ...
        const other = join(dir, "other");
        writeFileSync(
          other,
          formatKnownHostsLine(A, { host: "127.0.0.1", port: sshd.port }) + "\n",
        );
        const ed = parsePublicKey(fromBase64(sshd.hostKeys[0].pubLine.split(" ")[1]));
        assert.equal(
          checkHostKey(parseKnownHosts(readFileSync(other, "utf8")).entries, ed, {
            host: "127.0.0.1",
            port: sshd.port,
          }).status,
          "mismatch",
        );
        const changed = await ssh(other, [
          "-o",
          "StrictHostKeyChecking=yes",
          "-o",
          "HostKeyAlgorithms=ssh-ed25519",
        ]);
        assert.notEqual(changed.code, 0);
        assert.match(changed.stderr, /REMOTE HOST IDENTIFICATION HAS CHANGED/);
        // ... and a revoked one, where we say "revoked".
        const revoked = join(dir, "revoked");
        writeFileSync(
          revoked,
          formatKnownHostsLine(ed, { host: "127.0.0.1", port: sshd.port }) + "\n" +
            formatKnownHostsLine(ed, { host: "127.0.0.1", port: sshd.port, marker: "@revoked" }) +
            "\n",
        );
        assert.equal(
          checkHostKey(parseKnownHosts(readFileSync(revoked, "utf8")).entries, ed, {
            host: "127.0.0.1",
            port: sshd.port,
          }).status,
          "revoked",
        );
        const rev = await ssh(revoked, [
          "-o",
          "StrictHostKeyChecking=yes",
          "-o",
          "HostKeyAlgorithms=ssh-ed25519",
        ]);
        assert.notEqual(rev.code, 0);
        assert.match(rev.stderr, /REVOKED/);
        assert.equal(runs, 9);
      });
    } finally {
      await sshd.stop();
    }
  },
);
