// `rxssh serve` driven by OpenSSH's ssh over loopback: publickey login via
// AuthorizedKeysFile, exit codes and stderr, password login through
// SSH_ASKPASS (RXSSH_PASSWORD and PasswordFile), authorized_keys options
// (command=, from=, no-pty, environment=, expiry-time=), and the host key
// generated on the first run and reused on the second. The CLI runs as a
// child process of the runtime running this test.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import process from "node:process";
import { currentUser, findOpenSsh, runProcess, runSsh } from "./_openssh.ts";
import { keygen, serve, type Served } from "./_cli.ts";

const openssh = findOpenSsh();
const skip = openssh
  ? false
  : "OpenSSH is not installed (.ci/run installs it; apt-get install openssh-client)";
const user = currentUser();

function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** ssh options every call uses: no config, no known_hosts, no agent. */
function sshArgs(port: number, extra: string[]): string[] {
  return [
    "-F",
    "/dev/null",
    "-p",
    String(port),
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
    "-o",
    "LogLevel=ERROR",
    "-o",
    "IdentityAgent=none",
    "-l",
    user,
    ...extra,
  ];
}

describe("OpenSSH ssh -> rxssh serve", { skip }, () => {
  let home: string;
  let work: string;
  let server: Served;
  let keyFile: string;
  let pub: string;
  let authorizedKeys: string;

  before(async () => {
    home = tempDir("rxssh-serve-home-");
    work = tempDir("rxssh-serve-work-");
    keyFile = path.join(work, "id_ed25519");
    pub = await keygen(keyFile);
    authorizedKeys = path.join(work, "authorized_keys");
    fs.writeFileSync(authorizedKeys, pub + "\n");
    server = await serve(["-o", `AuthorizedKeysFile=${authorizedKeys}`], { HOME: home });
  });
  after(async () => {
    await server?.stop();
    fs.rmSync(home, { recursive: true, force: true });
    fs.rmSync(work, { recursive: true, force: true });
  });

  const key = (extra: string[]) =>
    sshArgs(server.port, ["-i", keyFile, "-o", "BatchMode=yes", ...extra]);

  it("publickey login: stdout, stderr and exit codes 0 and 42", async () => {
    fs.writeFileSync(authorizedKeys, pub + "\n");
    const ok = await runSsh(key(["127.0.0.1", "echo hello"]), { timeoutMs: 30_000 });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, "hello\n");
    const r = await runSsh(key(["127.0.0.1", "echo out; echo err >&2; exit 42"]), {
      timeoutMs: 30_000,
    });
    assert.equal(r.code, 42, r.stderr);
    assert.equal(r.stdout, "out\n");
    assert.match(r.stderr, /^err$/m);
    assert.match(server.log(), new RegExp(`Accepted publickey for ${user} from 127\\.0\\.0\\.1`));
  });

  it("stdin reaches the command", async () => {
    fs.writeFileSync(authorizedKeys, pub + "\n");
    const data = "x".repeat(300_000) + "\n";
    const r = await runSsh(key(["127.0.0.1", "wc -c"]), { timeoutMs: 30_000, input: data });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), String(data.length));
  });

  it("refuses a key that is not listed", async () => {
    fs.writeFileSync(authorizedKeys, "");
    const r = await runSsh(key(["127.0.0.1", "true"]), { timeoutMs: 30_000 });
    assert.equal(r.code, 255);
    assert.match(r.stderr, /Permission denied \(publickey\)/);
  });

  it("command= is forced; the original goes to SSH_ORIGINAL_COMMAND", async () => {
    fs.writeFileSync(
      authorizedKeys,
      `command="echo forced; echo \\"[$SSH_ORIGINAL_COMMAND]\\"" ${pub}\n`,
    );
    const r = await runSsh(key(["127.0.0.1", "echo not this; exit 3"]), { timeoutMs: 30_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "forced\n[echo not this; exit 3]\n");
  });

  it('from="10.0.0.1" refuses a client on 127.0.0.1; from="127.0.0.1" lets it in', async () => {
    fs.writeFileSync(authorizedKeys, `from="10.0.0.1" ${pub}\n`);
    const r = await runSsh(key(["127.0.0.1", "echo in"]), { timeoutMs: 30_000 });
    assert.equal(r.code, 255);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /Permission denied/);
    fs.writeFileSync(authorizedKeys, `from="10.0.0.1,127.0.0.1" ${pub}\n`);
    const ok = await runSsh(key(["127.0.0.1", "echo in"]), { timeoutMs: 30_000 });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, "in\n");
  });

  it("no-pty refuses pty-req (fatal for ssh -tt, as with sshd); without it -tt gets a pty", async () => {
    fs.writeFileSync(authorizedKeys, `no-pty ${pub}\n`);
    const r = await runSsh(key(["-tt", "127.0.0.1", "tty"]), { timeoutMs: 30_000 });
    assert.equal(r.code, 255);
    assert.match(r.stderr + r.stdout, /PTY allocation request failed/);
    assert.doesNotMatch(r.stdout, /\/dev\/pts/);
    fs.writeFileSync(authorizedKeys, pub + "\n");
    const t = await runSsh(key(["-tt", "127.0.0.1", "tty"]), { timeoutMs: 30_000 });
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /^\/dev\/pts\/\d+/m);
  });

  it("environment= sets variables; an expired expiry-time refuses the key", async () => {
    fs.writeFileSync(authorizedKeys, `environment="RXSSH_FROM_KEY=yes it is" ${pub}\n`);
    const r = await runSsh(key(["127.0.0.1", 'echo "$RXSSH_FROM_KEY"']), { timeoutMs: 30_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "yes it is\n");
    fs.writeFileSync(authorizedKeys, `expiry-time="20000101" ${pub}\n`);
    const e = await runSsh(key(["127.0.0.1", "true"]), { timeoutMs: 30_000 });
    assert.equal(e.code, 255);
    assert.match(e.stderr, /Permission denied/);
  });
});

describe("OpenSSH ssh -> rxssh serve: passwords", { skip }, () => {
  let home: string;
  let askpass: string;
  before(() => {
    home = tempDir("rxssh-serve-pw-");
    askpass = path.join(home, "askpass.sh");
    fs.writeFileSync(askpass, '#!/bin/sh\nprintf "%s\\n" "$RXSSH_TEST_ANSWER"\n', { mode: 0o700 });
  });
  after(() => fs.rmSync(home, { recursive: true, force: true }));

  const login = (port: number, answer: string, command: string) =>
    runSsh(
      sshArgs(port, [
        "-o",
        "BatchMode=no",
        "-o",
        "PubkeyAuthentication=no",
        "-o",
        "PreferredAuthentications=password",
        "-o",
        "NumberOfPasswordPrompts=1",
        "127.0.0.1",
        command,
      ]),
      {
        timeoutMs: 30_000,
        env: {
          ...process.env,
          SSH_ASKPASS: askpass,
          SSH_ASKPASS_REQUIRE: "force",
          DISPLAY: ":0",
          RXSSH_TEST_ANSWER: answer,
        },
      },
    );

  it("RXSSH_PASSWORD: right and wrong passwords; sessions do not see it; it is never logged", async () => {
    const secret = "correct horse battery staple";
    const server = await serve(["-o", "PasswordAuthentication=yes"], {
      HOME: home,
      RXSSH_PASSWORD: secret,
    });
    try {
      const ok = await login(server.port, secret, "echo in; env | grep -c RXSSH_PASSWORD; exit 7");
      assert.equal(ok.code, 7, ok.stderr);
      assert.equal(ok.stdout, "in\n0\n");
      const bad = await login(server.port, "wrong", "echo in");
      assert.equal(bad.code, 255);
      assert.match(bad.stderr, /Permission denied/);
      assert.match(server.log(), new RegExp(`Accepted password for ${user}`));
      assert.match(server.log(), new RegExp(`Failed password for ${user}`));
      assert.doesNotMatch(server.log(), /correct horse|wrong/);
    } finally {
      await server.stop();
    }
  });

  it("PasswordFile; a group-readable one is refused at startup", async () => {
    const file = path.join(home, "password");
    fs.writeFileSync(file, "from-a-file\n", { mode: 0o600 });
    const server = await serve(
      ["-o", "PasswordAuthentication=yes", "-o", `PasswordFile=${file}`],
      { HOME: home },
    );
    try {
      const ok = await login(server.port, "from-a-file", "echo ok");
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal(ok.stdout, "ok\n");
    } finally {
      await server.stop();
    }
    fs.chmodSync(file, 0o640);
    await assert.rejects(
      serve(["-o", "PasswordAuthentication=yes", "-o", `PasswordFile=${file}`], { HOME: home }),
      /too open/,
    );
  });
});

describe("rxssh serve host key", { skip }, () => {
  it("is generated on the first run (ed25519, mode 0600, OpenSSH format) and reused on the second", async () => {
    const home = tempDir("rxssh-serve-hostkey-");
    try {
      const fingerprint = (log: string) =>
        /host key: ssh-ed25519 (SHA256:[A-Za-z0-9+/]+)/.exec(log)?.[1];
      const first = await serve([], { HOME: home });
      await first.stop();
      assert.match(first.log(), /generated host key .*ssh_host_ed25519_key: SHA256:/);
      const file = path.join(home, ".rxssh", "ssh_host_ed25519_key");
      assert.equal(fs.statSync(file).mode & 0o777, 0o600);
      const fp = fingerprint(first.log());
      assert.ok(fp, first.log());
      // ssh-keygen reads the file we wrote and agrees on the fingerprint.
      const l = await runProcess(openssh!.sshKeygen, ["-l", "-f", file], { timeoutMs: 30_000 });
      assert.equal(l.code, 0, l.stderr);
      assert.ok(l.stdout.includes(fp!), l.stdout);
      const second = await serve([], { HOME: home });
      // OpenSSH sees the same key.
      const scan = await runProcess(
        "ssh-keyscan",
        ["-p", String(second.port), "-t", "ed25519", "127.0.0.1"],
        { timeoutMs: 30_000 },
      );
      await second.stop();
      assert.doesNotMatch(second.log(), /generated host key/);
      assert.equal(fingerprint(second.log()), fp);
      if (scan.code === 0) {
        const pub = fs.readFileSync(file + ".pub", "utf8").split(" ").slice(0, 2).join(" ");
        assert.ok(scan.stdout.includes(pub), scan.stdout);
      }
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  });
});
