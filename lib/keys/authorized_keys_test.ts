// authorized_keys: option parsing (sshd(8) AUTHORIZED_KEYS FILE FORMAT, as
// auth-options.c sshauthopt_parse implements it), evaluation (as
// auth2-pubkeyfile.c does), diagnostics, and the real sshd deciding logins
// from the same file.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { toBase64 } from "./_bytes.ts";
import {
  type AuthorizedKeyOptions,
  certificateAuthorities,
  evaluateAuthorizedKey,
  findAuthorizedKey,
  parseAuthorizedKeys,
} from "./authorized_keys.ts";
import { generatePrivateKey } from "./private_key.ts";
import { parsePublicKey } from "./public_key.ts";
import type { PublicKey } from "./types.ts";
import { currentUser, findOpenSsh, runProcess, runSsh, startSshd } from "../../tests/_openssh.ts";

const K1 = (await generatePrivateKey("ssh-ed25519")).publicKey;
const K2 = (await generatePrivateKey("ecdsa-sha2-nistp256")).publicKey;
const K3 = (await generatePrivateKey("ssh-ed25519")).publicKey;
const line = (k: PublicKey) => `${k.type} ${toBase64(k.blob)}`;
const L1 = line(K1);

function only(text: string) {
  const r = parseAuthorizedKeys(text);
  assert.deepEqual(r.diagnostics, [], text);
  assert.equal(r.entries.length, 1, text);
  return r.entries[0];
}

const DEFAULTS: AuthorizedKeyOptions = {
  restrict: false,
  certAuthority: false,
  portForwarding: true,
  agentForwarding: true,
  x11Forwarding: true,
  pty: true,
  userRc: true,
  noTouchRequired: false,
  verifyRequired: false,
  environment: [],
  permitOpen: [],
  permitListen: [],
};

test("every documented option (table)", () => {
  const table: [string, Partial<AuthorizedKeyOptions>][] = [
    ["agent-forwarding", {}],
    ["no-agent-forwarding", { agentForwarding: false }],
    ["cert-authority", { certAuthority: true }],
    ['command="/usr/bin/uptime -p"', { command: "/usr/bin/uptime -p" }],
    ['command="echo \\"hi there\\""', { command: 'echo "hi there"' }],
    ['command=""', { command: "" }],
    ['environment="PATH=/bin:/usr/bin"', { environment: ["PATH=/bin:/usr/bin"] }],
    ['environment="A=1",environment="B=x=y"', { environment: ["A=1", "B=x=y"] }],
    ['environment="A=1",environment="A=2"', { environment: ["A=1"] }], // first wins
    ['environment="EMPTY="', { environment: ["EMPTY="] }],
    ['expiry-time="20300101"', { expiryTime: new Date(2030, 0, 1).getTime() / 1000 }],
    ['expiry-time="203001021304Z"', { expiryTime: Date.UTC(2030, 0, 2, 13, 4) / 1000 }],
    ['expiry-time="20300102130405z"', { expiryTime: Date.UTC(2030, 0, 2, 13, 4, 5) / 1000 }],
    ['expiry-time="20300102UTC"', { expiryTime: Date.UTC(2030, 0, 2) / 1000 }],
    [
      'expiry-time="20310101Z",expiry-time="20300101Z"',
      { expiryTime: Date.UTC(2030, 0, 1) / 1000 },
    ],
    ['from="*.example.com,!bad.example.com,10.0.0.0/8"', {
      from: "*.example.com,!bad.example.com,10.0.0.0/8",
    }],
    ["no-port-forwarding", { portForwarding: false }],
    ["port-forwarding", {}],
    ["no-pty", { pty: false }],
    ["pty", {}],
    ["no-user-rc", { userRc: false }],
    ["user-rc", {}],
    ["no-X11-forwarding", { x11Forwarding: false }],
    ["X11-forwarding", {}],
    ["no-touch-required", { noTouchRequired: true }],
    ["touch-required", {}],
    ["verify-required", { verifyRequired: true }],
    ['permitopen="localhost:80"', {
      permitOpen: [{ spec: "localhost:80", host: "localhost", port: 80 }],
    }],
    ['permitopen="*:443",permitopen="db:*"', {
      permitOpen: [
        { spec: "*:443", host: "*", port: 443 },
        { spec: "db:*", host: "db", port: "*" },
      ],
    }],
    ['permitopen="[2001:db8::1]:22"', {
      permitOpen: [{ spec: "[2001:db8::1]:22", host: "2001:db8::1", port: 22 }],
    }],
    ['permitopen="host/8080"', { permitOpen: [{ spec: "host/8080", host: "host", port: 8080 }] }],
    ['permitlisten="8080"', { permitListen: [{ spec: "*:8080", host: "*", port: 8080 }] }],
    ['permitlisten="localhost:8080",permitlisten="[::1]:9000"', {
      permitListen: [
        { spec: "localhost:8080", host: "localhost", port: 8080 },
        { spec: "[::1]:9000", host: "::1", port: 9000 },
      ],
    }],
    ['principals="alice,bob",cert-authority', { principals: "alice,bob", certAuthority: true }],
    ["restrict", {
      restrict: true,
      portForwarding: false,
      agentForwarding: false,
      x11Forwarding: false,
      pty: false,
      userRc: false,
    }],
    ['tunnel="0"', { tunnel: 0 }],
    ['tunnel="42",tunnel="any"', { tunnel: "any" }],
    // Options are case-insensitive.
    ["NO-PTY,No-Agent-Forwarding,RESTRICT,PTY", {
      restrict: true,
      portForwarding: false,
      agentForwarding: false,
      x11Forwarding: false,
      userRc: false,
    }],
    ['COMMAND="x",From="127.0.0.1"', { command: "x", from: "127.0.0.1" }],
  ];
  for (const [opts, want] of table) {
    const e = only(`${opts} ${L1} comment here`);
    assert.deepEqual(e.options, { ...DEFAULTS, ...want }, opts);
    assert.equal(e.rawOptions, opts);
    assert.equal(e.keyType, "ssh-ed25519");
    assert.equal(e.comment, "comment here");
    assert.deepEqual(e.key.blob, K1.blob);
  }
});

test("restrict turns everything off; later options turn things back on; order matters", () => {
  const a = only(`restrict,pty,port-forwarding ${L1}`).options;
  assert.deepEqual(
    [a.pty, a.portForwarding, a.agentForwarding, a.x11Forwarding, a.userRc],
    [true, true, false, false, false],
  );
  // restrict after pty wins, as sshd evaluates left to right.
  const b = only(`pty,restrict ${L1}`).options;
  assert.equal(b.pty, false);
  const c = only(`restrict,agent-forwarding,X11-forwarding,user-rc ${L1}`).options;
  assert.deepEqual(
    [c.pty, c.portForwarding, c.agentForwarding, c.x11Forwarding, c.userRc],
    [false, false, true, true, true],
  );
});

test("lines without options, comments, whitespace, CRLF", () => {
  const text = [
    "# comment",
    "",
    "   \t",
    `  \t${L1}`,
    `${line(K2)}   spaced   comment  `,
    `${L1}\r`,
    `   # indented comment`,
  ].join("\n");
  const { entries, diagnostics } = parseAuthorizedKeys(text);
  assert.deepEqual(diagnostics, []);
  assert.deepEqual(entries.map((e) => [e.line, e.keyType, e.comment]), [
    [4, "ssh-ed25519", ""],
    [5, "ecdsa-sha2-nistp256", "spaced   comment  "],
    [6, "ssh-ed25519", ""],
  ]);
  assert.equal(entries[0].rawOptions, undefined);
  assert.deepEqual(entries[0].options, DEFAULTS);
});

test("malformed lines: typed diagnostics with line numbers, never an entry", () => {
  const b64 = toBase64(K1.blob);
  const bad = [
    [`bogus-option ${L1}`, "bad-options", "bad key options: unknown key option"],
    [`command=unquoted ${L1}`, "bad-options", "bad key options: missing start quote"],
    [
      `command="unterminated ${L1}`,
      "bad-options",
      "invalid key option string (unterminated quote)",
    ],
    [`command="a",command="b" ${L1}`, "bad-options", 'bad key options: multiple "command" clauses'],
    [`from="a",from="b" ${L1}`, "bad-options", 'bad key options: multiple "from" clauses'],
    [
      `principals="a",principals="b" ${L1}`,
      "bad-options",
      'bad key options: multiple "principals" clauses',
    ],
    [`environment="NOEQUALS" ${L1}`, "bad-options", "bad key options: invalid environment string"],
    [
      `environment="BAD-NAME=1" ${L1}`,
      "bad-options",
      "bad key options: invalid environment string",
    ],
    [`environment="=1" ${L1}`, "bad-options", "bad key options: invalid environment string"],
    [`expiry-time="2030" ${L1}`, "bad-options", "bad key options: invalid expires time"],
    [`expiry-time="20301301" ${L1}`, "bad-options", "bad key options: invalid expires time"],
    [`expiry-time="2030010x" ${L1}`, "bad-options", "bad key options: invalid expires time"],
    [`expiry-time="19700101Z" ${L1}`, "bad-options", "bad key options: invalid expires time"],
    [`permitopen="nohostport" ${L1}`, "bad-options", "bad key options: invalid permission port"],
    [`permitopen="host:0" ${L1}`, "bad-options", "bad key options: invalid permission port"],
    [`permitopen="host:65536" ${L1}`, "bad-options", "bad key options: invalid permission port"],
    [`permitopen="[::1:22" ${L1}`, "bad-options", "bad key options: invalid permission hostname"],
    [`permitopen="[::1]x22" ${L1}`, "bad-options", "bad key options: invalid permission hostname"],
    [`permitlisten="host:" ${L1}`, "bad-options", "bad key options: invalid permission port"],
    [`tunnel="x" ${L1}`, "bad-options", "bad key options: invalid tun device"],
    [`restrict,no-restrict ${L1}`, "bad-options", "bad key options: unknown key option"],
    [`ptyx ${L1}`, "bad-options", "bad key options: unknown key option"],
    [`no-pty`, "no-key", "no key found"],
    [`ssh-ed25519`, "no-key", 'no key after type "ssh-ed25519"'],
    [`ssh-ed25519 `, "no-key", 'no key after type "ssh-ed25519"'],
    [`ssh-ed25519 !!!notbase64`, "bad-base64", "key is not valid base64"],
    [`ssh-ed25519 AAAA`, "bad-key", ""],
    [
      `ecdsa-sha2-nistp256 ${b64}`,
      "key-type-mismatch",
      'line says "ecdsa-sha2-nistp256" but the key is "ssh-ed25519"',
    ],
    [`ssh-rsa ${b64} x`, "key-type-mismatch", 'line says "ssh-rsa" but the key is "ssh-ed25519"'],
    [`no-pty ssh-ed25519 AAAA`, "bad-key", ""],
    [
      "sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAABHNzaDo=",
      "unsupported-key-type",
      "",
    ],
  ] as const;
  const text = ["# header", ...bad.map(([l]) => l), L1].join("\n");
  const { entries, diagnostics } = parseAuthorizedKeys(text);
  assert.equal(entries.length, 1);
  assert.equal(entries[0].line, bad.length + 2);
  assert.equal(diagnostics.length, bad.length);
  bad.forEach(([l, kind, problem], i) => {
    const d = diagnostics[i];
    assert.equal(d.line, i + 2, l);
    assert.equal(d.kind, kind, l);
    if (problem) assert.equal(d.problem, problem, l);
    else assert.ok(d.problem.length > 0, l);
  });
});

test("sshauthopt_parse leniency: a trailing comma, an empty option", () => {
  assert.equal(only(`no-pty, ${L1}`).options.pty, false);
  // An empty option between commas is skipped too (the loop only rejects a non-comma).
  assert.equal(only(`no-pty,,no-user-rc ${L1}`).options.userRc, false);
});

test("options with spaces inside quotes; unknown text after key is the comment", () => {
  const e = only(`command="echo a  b",environment="X=a b" ${L1} my key, with, commas`);
  assert.equal(e.options.command, "echo a  b");
  assert.deepEqual(e.options.environment, ["X=a b"]);
  assert.equal(e.comment, "my key, with, commas");
  assert.equal(e.rawOptions, 'command="echo a  b",environment="X=a b"');
});

test("findAuthorizedKey: permissions, blob equality, restrict", () => {
  const { entries } = parseAuthorizedKeys(
    [
      `restrict,pty,command="id",environment="A=1",permitopen="h:1",permitlisten="2" ${L1}`,
      line(K2),
    ].join("\n"),
  );
  const m = findAuthorizedKey(entries, parsePublicKey(K1.blob), { clientAddress: "10.0.0.1" });
  assert.ok(m.ok);
  assert.equal(m.entry.line, 1);
  assert.deepEqual(m.permissions, {
    pty: true,
    portForwarding: false,
    agentForwarding: false,
    x11Forwarding: false,
    userRc: false,
    command: "id",
    environment: { A: "1" },
    permitOpen: [{ spec: "h:1", host: "h", port: 1 }],
    permitListen: [{ spec: "*:2", host: "*", port: 2 }],
    certAuthority: false,
    noTouchRequired: false,
    verifyRequired: false,
    expired: false,
  });
  const m2 = findAuthorizedKey(entries, K2, { clientAddress: "10.0.0.1" });
  assert.ok(m2.ok);
  assert.equal(m2.entry.line, 2);
  assert.equal(m2.permissions.pty, true);
  const m3 = findAuthorizedKey(entries, K3, { clientAddress: "10.0.0.1" });
  assert.deepEqual(m3, { ok: false, reason: "not-listed", refusals: [] });
});

test("from=: addresses, CIDR, negation, host names; later lines still considered", () => {
  const { entries } = parseAuthorizedKeys(
    [
      `from="127.0.0.2" ${L1}`,
      `from="10.0.0.0/8,!10.9.0.0/16",no-pty ${L1}`,
      `from="*.example.com,!evil.example.com" ${L1}`,
      `from="2001:db8::/32" ${L1}`,
    ].join("\n"),
  );
  const at = (clientAddress: string, clientHostname?: string) => {
    const m = findAuthorizedKey(entries, K1, { clientAddress, clientHostname });
    return m.ok ? m.entry.line : m.reason;
  };
  assert.equal(at("127.0.0.2"), 1);
  assert.equal(at("127.0.0.1"), "from-refused");
  assert.equal(at("10.1.2.3"), 2);
  assert.equal(at("10.9.2.3"), "from-refused");
  assert.equal(at("192.0.2.1", "www.EXAMPLE.com"), 3);
  assert.equal(at("192.0.2.1", "evil.example.com"), "from-refused");
  assert.equal(at("10.9.0.1", "www.example.com"), 3); // line 2 refuses (negated), line 3 accepts
  assert.equal(at("2001:db8::7"), 4);
  const m = findAuthorizedKey(entries, K1, { clientAddress: "127.0.0.1" });
  assert.ok(!m.ok);
  assert.deepEqual(m.refusals.map((r) => [r.entry.line, r.reason]), [
    [1, "from-refused"],
    [2, "from-refused"],
    [3, "from-refused"],
    [4, "from-refused"],
  ]);
  // A malformed address list refuses (sshd: "invalid from criteria").
  const bad = only(`from="10.0.0.1/8" ${L1}`);
  const r = evaluateAuthorizedKey(bad, { clientAddress: "10.0.0.1" });
  assert.equal(r.ok ? "ok" : r.reason, "from-invalid");
});

test("expiry-time, principals without cert-authority, cert-authority entries", () => {
  const { entries } = parseAuthorizedKeys(
    [
      `expiry-time="20200101Z" ${L1}`,
      `expiry-time="20300101Z",no-pty ${L1}`,
      `principals="alice" ${line(K2)}`,
      `cert-authority,principals="alice,bob,,carol",from="10.0.0.0/8" ${line(K2)} ca`,
    ].join("\n"),
  );
  const now = Date.UTC(2025, 5, 1);
  const m = findAuthorizedKey(entries, K1, { clientAddress: "10.0.0.1", now });
  assert.ok(m.ok);
  assert.equal(m.entry.line, 2);
  assert.equal(m.permissions.expired, false);
  const later = findAuthorizedKey(entries, K1, {
    clientAddress: "10.0.0.1",
    now: new Date(Date.UTC(2031, 0, 1)),
  });
  assert.ok(!later.ok);
  assert.equal(later.reason, "expired");
  assert.equal(later.refusals.length, 2);
  // The second of expiry: still valid at that exact second (sshd: valid_before < now).
  const edge = findAuthorizedKey(entries, K1, {
    clientAddress: "10.0.0.1",
    now: Date.UTC(2030, 0, 1) + 999,
  });
  assert.ok(edge.ok);
  const e1 = evaluateAuthorizedKey(entries[0], { clientAddress: "10.0.0.1", now });
  assert.ok(!e1.ok && e1.reason === "expired" && e1.permissions.expired);

  const k2 = findAuthorizedKey(entries, K2, { clientAddress: "10.0.0.1" });
  assert.ok(!k2.ok);
  assert.equal(k2.reason, "principals-without-cert-authority"); // CA line is not for plain keys
  const cas = certificateAuthorities(entries);
  assert.deepEqual(cas.map((c) => [c.line, c.comment]), [[4, "ca"]]);
  const ev = evaluateAuthorizedKey(cas[0], { clientAddress: "10.0.0.1" });
  assert.ok(ev.ok);
  assert.deepEqual(ev.permissions.principals, ["alice", "bob"]); // stops at an empty item, as sshd
  assert.equal(ev.permissions.certAuthority, true);
  const ev2 = evaluateAuthorizedKey(cas[0], { clientAddress: "192.0.2.1" });
  assert.ok(!ev2.ok && ev2.reason === "from-refused");
});

// ---------------------------------------------------------------------------
// The real sshd decides logins from the same file; we must agree.

const openssh = findOpenSsh();
const skip = openssh ? false : "OpenSSH not installed";

test("sshd agrees: from= with addresses, CIDR and negation, expiry-time", { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "rxssh-ak-"));
  const sshd = await startSshd({
    config: {
      PubkeyAuthentication: "yes",
      PasswordAuthentication: "no",
      AuthenticationMethods: "publickey",
    },
  });
  try {
    const keygen = openssh!.sshKeygen;
    const names = ["a", "b", "c", "d", "e", "f", "g", "h"];
    const pubs: Record<string, string> = {};
    for (const n of names) {
      const r = await runProcess(keygen, [
        "-q",
        "-t",
        "ed25519",
        "-N",
        "",
        "-C",
        n,
        "-f",
        join(dir, n),
      ], {
        timeoutMs: 30_000,
      });
      assert.equal(r.code, 0, r.stderr);
      pubs[n] = readFileSync(join(dir, n + ".pub"), "utf8").trim();
    }
    const file = [
      `from="127.0.0.2" ${pubs.a}`, // a: only from 127.0.0.2
      `from="127.0.0.1" ${pubs.b}`, // b: only from 127.0.0.1
      `from="127.0.0.2" ${pubs.c}`, // c: refused by this line ...
      `bogus-option ${pubs.c}`, // ... this line is invalid ...
      `from="127.0.0.0/8,!127.0.0.2",restrict ${pubs.c}`, // ... accepted here, except from 127.0.0.2
      `from="!127.0.0.1,127.0.0.0/24" ${pubs.d}`, // d: negation first
      `expiry-time="20200101Z" ${pubs.e}`, // e: expired
      `expiry-time="20991231Z" ${pubs.f}`, // f: not yet
      `no-pty,,no-user-rc ${pubs.g}`, // g: sshd tolerates the empty option
      `ptyx ${pubs.h}`, // h: an unknown option makes the line unusable
    ].join("\n") + "\n";
    const akPath = join(sshd.dir, "authorized_keys");
    writeFileSync(akPath, file);
    const { entries, diagnostics } = parseAuthorizedKeys(readFileSync(akPath, "utf8"));
    assert.deepEqual(diagnostics.map((d) => d.line), [4, 10]);
    const user = currentUser();
    const cases: [string, string][] = [];
    for (const n of names) for (const from of ["127.0.0.1", "127.0.0.2"]) cases.push([n, from]);
    let agreed = 0;
    for (const [n, from] of cases) {
      const r = await runSsh([
        "-F",
        "/dev/null",
        "-p",
        String(sshd.port),
        "-l",
        user,
        "-b",
        from,
        "-i",
        join(dir, n),
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        "PreferredAuthentications=publickey",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "127.0.0.1",
        "true",
      ], { timeoutMs: 30_000 });
      const sshdAccepts = r.code === 0;
      const ours = findAuthorizedKey(
        entries,
        parsePublicKey(Uint8Array.from(atob(pubs[n].split(" ")[1]), (c) => c.charCodeAt(0))),
        { clientAddress: from },
      );
      assert.equal(ours.ok, sshdAccepts, `key ${n} from ${from}: sshd ${r.code} ${r.stderr}`);
      agreed++;
    }
    assert.equal(agreed, 16);
    // The expected outcomes, spelled out.
    const expect = (n: string, from: string) => {
      const e = entries.find((e) => e.comment === n);
      return e !== undefined && findAuthorizedKey(entries, e.key, { clientAddress: from }).ok;
    };
    assert.deepEqual(
      cases.map(([n, f]) => expect(n, f)),
      [
        false,
        true,
        true,
        false,
        true,
        true,
        false,
        true,
        false,
        false,
        true,
        true,
        true,
        true,
        false,
        false,
      ],
    );
  } finally {
    await sshd.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
