// `rxssh keygen` against OpenSSH's ssh-keygen: keys we generate are read by
// ssh-keygen (-y, -l), keys ssh-keygen generates are fingerprinted and
// printed by us exactly as by ssh-keygen (-l, -E md5, -v, -y), certificates
// we sign are shown by `ssh-keygen -L` as the ones ssh-keygen signs with the
// same flags, -p changes passphrases, -e/-i convert like ssh-keygen. Runs
// keygenMain in-process and, for exit codes, file modes and stdout, through
// tests/_keygen_cli.ts as a child process of the runtime running the test.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import process from "node:process";
import { keygenMain } from "../lib/cli/keygen.ts";
import { findOpenSsh } from "./_openssh.ts";

const openssh = findOpenSsh();
const skip = openssh
  ? false
  : "OpenSSH is not installed (.ci/run installs it; apt-get install openssh-client)";
const SSH_KEYGEN = openssh?.sshKeygen ?? "ssh-keygen";
const WRAPPER = path.join(path.dirname(new URL(import.meta.url).pathname), "_keygen_cli.ts");
const ENV = { ...process.env, TZ: "UTC" };

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs OpenSSH's ssh-keygen. */
function sk(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Run {
  const r = spawnSync(SSH_KEYGEN, args, {
    encoding: "utf8",
    timeout: 60_000,
    cwd: options.cwd,
    env: { ...ENV, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  // OpenSSH's log.c ends its messages (errors, "Signed user key ...") with \r\n; we end them with \n.
  return {
    code: r.status ?? -1,
    stdout: r.stdout ?? "",
    stderr: (r.stderr ?? "").replaceAll("\r\n", "\n"),
  };
}

/** Runs `rxssh keygen` as a child process (the runtime running this test, through the wrapper). */
function cli(
  args: string[],
  options: { cwd?: string; input?: string; env?: Record<string, string> } = {},
): Run {
  const argv = "Deno" in globalThis ? ["run", "-A", WRAPPER, ...args] : [WRAPPER, ...args];
  const r = spawnSync(process.execPath, argv, {
    encoding: "utf8",
    timeout: 120_000,
    cwd: options.cwd,
    env: { ...ENV, ...options.env },
    input: options.input ?? "",
  });
  return { code: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

/** Runs keygenMain in this process. */
async function kg(args: string[], passphrases: string[] = []): Promise<Run> {
  let stdout = "";
  let stderr = "";
  const code = await keygenMain(args, {
    stdout: (t) => stdout += t,
    stderr: (t) => stderr += t,
    readPassphrase: (prompt) => {
      stderr += prompt;
      const p = passphrases.shift();
      return p === undefined ? Promise.reject(new Error("no passphrase left")) : Promise.resolve(p);
    },
  });
  return { code, stdout, stderr };
}

function ok(r: Run, what: string): Run {
  assert.equal(r.code, 0, `${what}: exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r;
}

const mode = (f: string) => fs.statSync(f).mode & 0o777;
const umask = process.umask();

let tmp = "";
let n = 0;
const fresh = (name: string) => path.join(tmp, `${n++}-${name}`);

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-keygen-"));
});
after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Key types with their -t/-b flags and formats that can hold them. */
const TYPES: { name: string; args: string[]; formats: string[] }[] = [
  { name: "ed25519", args: ["-t", "ed25519"], formats: ["openssh", "PEM"] },
  { name: "ecdsa256", args: ["-t", "ecdsa"], formats: ["openssh", "PEM", "PKCS8"] },
  { name: "ecdsa384", args: ["-t", "ecdsa", "-b", "384"], formats: ["openssh", "PEM", "PKCS8"] },
  { name: "ecdsa521", args: ["-t", "ecdsa", "-b", "521"], formats: ["openssh", "PEM", "PKCS8"] },
  { name: "rsa2048", args: ["-t", "rsa", "-b", "2048"], formats: ["openssh", "PEM", "PKCS8"] },
];

const formatArgs = (f: string) => f === "openssh" ? [] : ["-m", f];

describe("rxssh keygen: keys we generate, read by ssh-keygen", { skip }, () => {
  for (const t of TYPES) {
    for (const format of t.formats) {
      for (const pass of ["", "correct horse"]) {
        it(`${t.name} ${format} ${pass ? "encrypted" : "plain"}`, async () => {
          const f = fresh(`${t.name}-${format}`);
          const comment = `${t.name} test key`;
          ok(
            await kg(["-q", ...t.args, ...formatArgs(format), "-N", pass, "-C", comment, "-f", f]),
            "generate",
          );
          const text = fs.readFileSync(f, "utf8");
          const pem = format !== "openssh" && t.name !== "ed25519";
          assert.equal(text.includes("OPENSSH PRIVATE KEY"), !pem);
          // encrypted: ssh-keygen cannot read it without the passphrase
          assert.equal(sk(["-y", "-P", "", "-f", f]).code === 0, pass === "");
          const pub = fs.readFileSync(`${f}.pub`, "utf8");
          assert.match(pub, new RegExp(` ${comment}\n$`));
          // ssh-keygen -y: the same public key (and the comment, which PEM does not hold)
          const y = ok(sk(["-y", "-P", pass, "-f", f]), "ssh-keygen -y");
          assert.equal(y.stdout, pem ? pub.replace(` ${comment}\n`, "\n") : pub);
          assert.equal(ok(await kg(["-y", "-P", pass, "-f", f]), "our -y").stdout, y.stdout);
          // ssh-keygen -l on the private file and the .pub: the same lines as ours
          for (const file of [f, `${f}.pub`]) {
            const l = ok(sk(["-l", "-f", file]), "ssh-keygen -l");
            assert.match(l.stdout, new RegExp(`^\\d+ SHA256:\\S+ ${comment} \\(`));
            assert.equal(ok(await kg(["-l", "-f", file]), "our -l").stdout, l.stdout);
          }
          if (pass) {
            const wrong = sk(["-y", "-P", "not it", "-f", f]);
            assert.notEqual(wrong.code, 0);
          }
        });
      }
    }
  }

  it("the default type (ed25519) and RSA's default size, 3072 bits", async () => {
    const a = fresh("default");
    ok(await kg(["-q", "-N", "", "-f", a]), "generate");
    assert.match(ok(sk(["-l", "-f", a]), "-l").stdout, /^256 SHA256:\S+ \S+@\S+ \(ED25519\)\n$/);
    const b = fresh("rsa");
    ok(await kg(["-q", "-t", "rsa", "-N", "", "-f", b]), "generate");
    assert.match(ok(sk(["-l", "-f", b]), "-l").stdout, /^3072 SHA256:/);
  });

  for (const cipher of ["aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com"]) {
    it(`-Z ${cipher} -a 8`, async () => {
      const f = fresh("cipher");
      ok(await kg(["-q", "-t", "ed25519", "-Z", cipher, "-a", "8", "-N", "pw", "-f", f]), "gen");
      const y = ok(sk(["-y", "-P", "pw", "-f", f]), "ssh-keygen -y");
      assert.equal(y.stdout, fs.readFileSync(`${f}.pub`, "utf8"));
    });
  }

  for (const t of TYPES) {
    it(`as a process: ${t.name} (messages, randomart, modes 0600/0644, exit 0)`, () => {
      const f = fresh(t.name);
      const r = ok(cli([...t.args, "-N", "", "-C", "me@there", "-f", f]), "rxssh keygen");
      const fp = ok(sk(["-lv", "-f", f]), "ssh-keygen -lv").stdout.split("\n");
      const [, finger] = fp[0].split(" ");
      const tname = t.args[1];
      assert.equal(
        r.stdout,
        [
          `Generating public/private ${tname} key pair.`,
          `Your identification has been saved in ${f}`,
          `Your public key has been saved in ${f}.pub`,
          "The key fingerprint is:",
          `${finger} me@there`,
          "The key's randomart image is:",
          ...fp.slice(1),
        ].join("\n"),
      );
      assert.equal(mode(f), 0o600);
      assert.equal(mode(`${f}.pub`), 0o644 & ~umask);
    });
  }

  it("refuses to overwrite an existing key: exit 1, file untouched", () => {
    const f = fresh("exists");
    fs.writeFileSync(f, "keep me\n");
    const r = cli(["-t", "ed25519", "-N", "", "-f", f]);
    assert.equal(r.code, 1);
    assert.ok(r.stdout.includes(`${f} already exists.`), r.stdout);
    assert.match(r.stderr, /not overwritten/);
    assert.equal(fs.readFileSync(f, "utf8"), "keep me\n");
    assert.ok(!fs.existsSync(`${f}.pub`));
  });

  it("asks for the passphrase twice on standard input without -N", () => {
    const f = fresh("asked");
    ok(cli(["-q", "-t", "ed25519", "-f", f], { input: "pass phrase\npass phrase\n" }), "gen");
    assert.equal(
      ok(sk(["-y", "-P", "pass phrase", "-f", f]), "-y").stdout.split(" ")[1],
      fs.readFileSync(`${f}.pub`, "utf8").split(" ")[1],
    );
  });

  it("errors: bad type, bad bits, short PEM passphrase, like ssh-keygen", async () => {
    let r = await kg(["-t", "dsa", "-N", "", "-f", fresh("x")]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /dsa/);
    r = await kg(["-t", "ecdsa", "-b", "255", "-N", "", "-f", fresh("x")]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Invalid ECDSA key length: valid lengths are 256, 384 or 521 bits/);
    r = await kg(["-t", "rsa", "-b", "1024", "-N", "", "-f", fresh("x")]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Invalid RSA key length: minimum is 2048 bits/);
    const f = fresh("short");
    r = await kg(["-q", "-t", "ecdsa", "-m", "PEM", "-N", "1234", "-f", f]);
    assert.equal(r.code, 1);
    const theirs = sk(["-q", "-t", "ecdsa", "-m", "PEM", "-N", "1234", "-f", fresh("short")]);
    assert.equal(r.stderr, theirs.stderr.replace(/"[^"]*"/, `"${f}"`));
    assert.ok(!fs.existsSync(f));
    r = await kg(["-x"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /unknown option -- x\nusage:/);
  });
});

describe(
  "rxssh keygen: keys ssh-keygen generated, printed as ssh-keygen prints them",
  { skip },
  () => {
    const cases: { name: string; args: string[]; format: string; pass: string }[] = [];
    for (const t of TYPES) {
      for (const format of t.name === "ed25519" ? ["openssh"] : t.formats) {
        for (const pass of ["", "secret words"]) {
          cases.push({
            name: t.name,
            args: t.args,
            format,
            pass,
          });
        }
      }
    }
    for (const c of cases) {
      it(`${c.name} ${c.format} ${c.pass ? "encrypted" : "plain"}: -l, -l -E md5, -lv, -y`, async () => {
        const f = fresh(`${c.name}-theirs`);
        ok(
          sk(["-q", ...c.args, ...formatArgs(c.format), "-N", c.pass, "-C", "their key", "-f", f]),
          "sk",
        );
        const compare = async (args: string[]) => {
          const theirs = sk(args);
          const ours = await kg(args);
          assert.equal(ours.stdout, theirs.stdout, args.join(" "));
          assert.equal(ours.code === 0, theirs.code === 0, args.join(" "));
        };
        for (const file of [f, `${f}.pub`]) {
          await compare(["-l", "-f", file]);
          await compare(["-l", "-E", "md5", "-f", file]);
          await compare(["-lv", "-f", file]);
          await compare(["-lv", "-E", "md5", "-f", file]);
        }
        await compare(["-y", "-P", c.pass, "-f", f]);
        fs.rmSync(`${f}.pub`); // then the comment comes from the private key, or is missing
        await compare(["-l", "-f", f]);
      });
    }

    it("-l on authorized_keys and known_hosts lines (options, host names, comments, certificates)", async () => {
      const a = fresh("a");
      const b = fresh("b");
      ok(sk(["-q", "-t", "ed25519", "-N", "", "-C", "a key", "-f", a]), "sk");
      ok(sk(["-q", "-t", "ecdsa", "-N", "", "-C", "", "-f", b]), "sk");
      ok(sk(["-q", "-s", a, "-I", "id", a + ".pub"]), "sign");
      const [ta, ba, ca] = fs.readFileSync(`${a}.pub`, "utf8").trim().split(" ");
      const [tb, bb] = fs.readFileSync(`${b}.pub`, "utf8").trim().split(" ");
      const file = fresh("mixed");
      fs.writeFileSync(
        file,
        [
          `${ta} ${ba} ${ca}`,
          "# a comment",
          "",
          `  ${tb} ${bb} spaced comment`,
          `from="10.0.0.1",command="echo \\"hi there\\"" ${ta} ${ba} tail comment`,
          `restrict ${tb} ${bb}`,
          `host.example.com,10.0.0.2 ${tb} ${bb}`,
          `|1|abcd|efgh ${ta} ${ba}`,
          "not a key at all",
          fs.readFileSync(`${a}-cert.pub`, "utf8").trim(),
        ].join("\n") + "\n",
      );
      for (
        const args of [["-l", "-f", file], ["-l", "-E", "md5", "-f", file], ["-lv", "-f", file]]
      ) {
        const theirs = ok(sk(args), "sk -l");
        assert.equal(ok(await kg(args), "our -l").stdout, theirs.stdout);
      }
      assert.equal(ok(sk(["-l", "-f", file]), "").stdout.split("\n").length, 8);
      assert.equal((await kg(["-l", "-f", fresh("none")])).code, 1);
    });
  },
);

/** Certificate signing cases: flags after `-s ca -I id`. */
const CERT_CASES: { name: string; ca: string[]; args: string[]; relative?: boolean }[] = [
  { name: "user, defaults", ca: ["-t", "ed25519"], args: [] },
  {
    name: "user, principals, serial, absolute validity",
    ca: ["-t", "ecdsa", "-b", "384"],
    args: ["-n", "alice,bob", "-z", "42", "-V", "20240101:20300101123456"],
  },
  {
    name: "user, options",
    ca: ["-t", "ed25519"],
    args: [
      "-n",
      "deploy",
      "-O",
      "force-command=/usr/bin/deploy --now",
      "-O",
      "source-address=10.0.0.0/8,192.168.1.1,::1/128",
      "-O",
      "no-pty",
      "-O",
      "no-port-forwarding",
      "-O",
      "verify-required",
      "-O",
      "extension:login@example.com=alice",
      "-O",
      "critical:x-flag@example.com",
    ],
  },
  {
    name: "user, clear then permit-pty, always:forever",
    ca: ["-t", "rsa", "-b", "2048"],
    args: ["-O", "clear", "-O", "permit-pty", "-V", "always:forever"],
  },
  {
    name: "user, rsa-sha2-256 CA signature, from 0x.. to UTC",
    ca: ["-t", "rsa", "-b", "2048"],
    args: ["-t", "rsa-sha2-256", "-V", "0x5f5e1000:20350102030405Z"],
  },
  {
    name: "host, principals, -V +52w",
    ca: ["-t", "ecdsa"],
    args: ["-h", "-n", "web.example.com,10.1.2.3", "-V", "+52w"],
    relative: true,
  },
  {
    name: "host with -O permit-pty, -V -1d:+1w, serial +7",
    ca: ["-t", "ed25519"],
    args: ["-h", "-O", "permit-pty", "-V", "-1d:+1w", "-z", "+7"],
    relative: true,
  },
  {
    name: "user, -V 20240101:20240201 in local time (TZ=Asia/Tokyo)",
    ca: ["-t", "ed25519"],
    args: ["-n", "root", "-V", "20240101:20240201"],
  },
];

/** Times in a `Valid:` or `valid` text, in seconds, for comparisons with a tolerance. */
function times(s: string): number[] {
  return [...s.matchAll(/(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)/g)].map((m) =>
    Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) / 1000
  );
}

function sameWithin(ours: string, theirs: string, relative: boolean | undefined): void {
  if (!relative) return assert.equal(ours, theirs);
  const strip = (s: string) => s.replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/g, "T");
  assert.equal(strip(ours), strip(theirs));
  const a = times(ours);
  const b = times(theirs);
  assert.equal(a.length, b.length);
  a.forEach((t, i) => assert.ok(Math.abs(t - b[i]) <= 60, `${ours} vs ${theirs}`));
}

describe("rxssh keygen -s: certificates as ssh-keygen -L shows them", { skip }, () => {
  for (const [i, c] of CERT_CASES.entries()) {
    it(c.name, () => {
      const dir = fresh("cert");
      const mine = path.join(dir, "mine");
      const theirs = path.join(dir, "theirs");
      fs.mkdirSync(mine, { recursive: true });
      fs.mkdirSync(theirs, { recursive: true });
      ok(sk(["-q", ...c.ca, "-N", "ca pass", "-C", "ca", "-f", path.join(dir, "ca")]), "ca");
      const keyArgs = TYPES[i % TYPES.length].args;
      ok(sk(["-q", ...keyArgs, "-N", "", "-C", "the user", "-f", path.join(dir, "id")]), "key");
      for (const d of [mine, theirs]) {
        fs.copyFileSync(path.join(dir, "id.pub"), path.join(d, "id.pub"));
      }
      const args = ["-s", "../ca", "-P", "ca pass", "-I", `key ${i}`, ...c.args, "id.pub"];
      const env: Record<string, string> = i === 7 && fs.existsSync("/usr/share/zoneinfo/Asia/Tokyo")
        ? { TZ: "Asia/Tokyo" }
        : {};
      const r = ok(cli(args, { cwd: mine, env }), "rxssh keygen -s");
      const s = ok(sk(args, { cwd: theirs, env }), "ssh-keygen -s");
      sameWithin(r.stderr, s.stderr, c.relative);
      assert.match(r.stderr, /^Signed (user|host) key id-cert.pub: id "key \d+" serial \d+/);
      assert.equal(mode(path.join(mine, "id-cert.pub")), 0o644 & ~umask);
      const lines = (d: string) => fs.readFileSync(path.join(d, "id-cert.pub"), "utf8").split(" ");
      assert.equal(lines(mine)[0], lines(theirs)[0]);
      assert.equal(lines(mine)[2], "the");
      // ssh-keygen -L shows our certificate as it shows its own
      const lMine = ok(sk(["-L", "-f", "id-cert.pub"], { cwd: mine, env }), "-L mine");
      const lTheirs = ok(sk(["-L", "-f", "id-cert.pub"], { cwd: theirs, env }), "-L theirs");
      sameWithin(lMine.stdout, lTheirs.stdout, c.relative);
      // and our -L prints what ssh-keygen -L prints
      assert.equal(
        ok(cli(["-L", "-f", "id-cert.pub"], { cwd: mine, env }), "our -L").stdout,
        lMine.stdout,
      );
      // the -l line of a certificate
      assert.equal(
        ok(cli(["-l", "-f", "id-cert.pub"], { cwd: mine }), "our -l").stdout,
        ok(sk(["-l", "-f", "id-cert.pub"], { cwd: mine }), "-l").stdout,
      );
    });
  }

  it("errors: no -I, empty principal, bad -V, unknown -O, CA signature type", async () => {
    const ca = fresh("ca");
    ok(await kg(["-q", "-t", "ed25519", "-N", "", "-f", ca]), "ca");
    const cases: [string[], RegExp][] = [
      [["-s", ca, `${ca}.pub`], /Must specify key id \(-I\) when certifying/],
      [["-s", ca, "-I", "x", "-n", "a,,b", `${ca}.pub`], /Empty principal name/],
      [["-s", ca, "-I", "x", "-V", "+1y", `${ca}.pub`], /Invalid relative certificate life \+1y/],
      [
        ["-s", ca, "-I", "x", "-V", "20300101:20200101", `${ca}.pub`],
        /Empty certificate validity interval/,
      ],
      [["-s", ca, "-I", "x", "-O", "bogus", `${ca}.pub`], /Unsupported certificate option "bogus"/],
      [
        ["-s", ca, "-I", "x", "-t", "rsa-sha2-256", `${ca}.pub`],
        /CA key type ssh-ed25519 doesn't match/,
      ],
    ];
    for (const [args, re] of cases) {
      const r = await kg(args);
      assert.equal(r.code, 1, args.join(" "));
      assert.match(r.stderr, re);
      const s = sk(args);
      assert.notEqual(s.code, 0, `ssh-keygen accepted ${args.join(" ")}`);
    }
  });
});

describe("rxssh keygen -p / -c: passphrases and comments", { skip }, () => {
  for (const format of ["openssh", "PEM", "PKCS8"]) {
    it(`-p on an ssh-keygen ${format} key: the new passphrase works, the old one fails`, async () => {
      const f = fresh("p");
      ok(
        sk(["-q", "-t", "ecdsa", ...formatArgs(format), "-N", "old pass", "-C", "cc", "-f", f]),
        "sk",
      );
      const before = ok(sk(["-y", "-P", "old pass", "-f", f]), "-y").stdout;
      const r = ok(
        await kg(["-p", ...formatArgs(format), "-P", "old pass", "-N", "new pass", "-f", f]),
        "-p",
      );
      assert.equal(
        r.stdout,
        (format === "openssh" ? "Key has comment 'cc'\n" : "") +
          "Your identification has been saved with the new passphrase.\n",
      );
      assert.equal(
        fs.readFileSync(f, "utf8").includes("OPENSSH PRIVATE KEY"),
        format === "openssh",
      );
      assert.equal(ok(sk(["-y", "-P", "new pass", "-f", f]), "-y new").stdout, before);
      const old = sk(["-y", "-P", "old pass", "-f", f]);
      assert.notEqual(old.code, 0);
      assert.match(old.stderr, /incorrect passphrase supplied to decrypt private key/);
      assert.equal(mode(f), 0o600);
    });
  }

  it("-p removes and adds a passphrase, asks on standard input, keeps the comment", async () => {
    const f = fresh("p2");
    ok(await kg(["-q", "-t", "ed25519", "-N", "first", "-C", "kept", "-f", f]), "gen");
    ok(await kg(["-p", "-f", f], ["first", "", ""]), "-p to none");
    assert.equal(
      ok(sk(["-y", "-P", "", "-f", f]), "-y").stdout,
      fs.readFileSync(`${f}.pub`, "utf8"),
    );
    const r = ok(cli(["-p", "-f", f], { input: "again 1\nagain 1\n" }), "-p via stdin");
    assert.match(r.stdout, /^Key has comment 'kept'\n/);
    assert.equal(
      ok(sk(["-y", "-P", "again 1", "-f", f]), "-y").stdout,
      fs.readFileSync(`${f}.pub`, "utf8"),
    );
  });

  it("wrong -P: exit 1 and ssh-keygen's wording (-y, -p, -s)", async () => {
    const f = fresh("w");
    ok(sk(["-q", "-t", "ed25519", "-N", "right", "-f", f]), "sk");
    const theirs = sk(["-y", "-P", "wrong", "-f", f]);
    const r = cli(["-y", "-P", "wrong", "-f", f]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    assert.equal(r.stderr, theirs.stderr);
    assert.equal(
      r.stderr,
      `Load key "${f}": incorrect passphrase supplied to decrypt private key\n`,
    );
    const p = cli(["-p", "-P", "wrong", "-N", "x", "-f", f]);
    assert.equal(p.code, 1);
    assert.equal(p.stderr, sk(["-p", "-P", "wrong", "-N", "x", "-f", f]).stderr);
    const s = await kg(["-s", f, "-P", "wrong", "-I", "x", `${f}.pub`]);
    assert.equal(s.code, 1);
    assert.match(s.stderr, /incorrect passphrase supplied to decrypt private key/);
    const missing = cli(["-y", "-f", `${f}.missing`]);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, sk(["-y", "-f", `${f}.missing`]).stderr);
  });

  it("-c changes the comment of the private key and the .pub", async () => {
    const f = fresh("c");
    ok(await kg(["-q", "-t", "ed25519", "-N", "pw", "-C", "old", "-f", f]), "gen");
    const r = ok(await kg(["-c", "-P", "pw", "-C", "new one", "-f", f]), "-c");
    assert.equal(r.stdout, "Old comment: old\nComment 'new one' applied\n");
    assert.match(ok(sk(["-y", "-P", "pw", "-f", f]), "-y").stdout, / new one\n$/);
    assert.match(fs.readFileSync(`${f}.pub`, "utf8"), / new one\n$/);
  });
});

describe("rxssh keygen -e / -i: public key conversions as ssh-keygen", { skip }, () => {
  for (const t of TYPES) {
    it(t.name, async () => {
      const f = fresh(t.name);
      ok(sk(["-q", ...t.args, "-N", "", "-C", "c", "-f", f]), "sk");
      const formats = t.name === "ed25519"
        ? [[]]
        : [[], ["-m", "RFC4716"], ["-m", "PKCS8"], ["-m", "PEM"]];
      for (const m of formats) {
        for (const file of [f, `${f}.pub`]) {
          const theirs = ok(sk(["-e", ...m, "-f", file]), "sk -e");
          const ours = ok(await kg(["-e", ...m, "-f", file]), "-e");
          assert.equal(ours.stdout, theirs.stdout, m.join(" "));
          const exported = fresh("exported");
          fs.writeFileSync(exported, theirs.stdout);
          // ssh-keygen -i -m PEM reads RSA PUBLIC KEY only; an EC PUBLIC KEY is -m PKCS8
          const mi = m[1] === "PEM" && !t.name.startsWith("rsa") ? ["-m", "PKCS8"] : m;
          const back = ok(sk(["-i", ...mi, "-f", exported]), "sk -i").stdout;
          assert.equal(ok(await kg(["-i", ...mi, "-f", exported]), "-i").stdout, back);
          assert.equal(back, fs.readFileSync(`${f}.pub`, "utf8").replace(/ c\n$/, "\n"));
        }
      }
    });
  }
});
