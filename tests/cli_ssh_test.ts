// The `rxssh` client, run as a child process of the runtime running this
// test, against a real OpenSSH sshd (exit codes, stdout/stderr, stdin,
// known_hosts: strict checking, accept-new writing a line ssh-keygen -F
// finds, a changed host key refused) and against `rxssh serve` (publickey
// and a password through SSH_ASKPASS).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import process from "node:process";
import { cliCommand, keygen, ROOT, serve } from "./_cli.ts";
import {
  currentUser,
  findOpenSsh,
  type RunOptions,
  runProcess,
  type Sshd,
  startSshd,
} from "./_openssh.ts";

const openssh = findOpenSsh();
const skip = openssh
  ? false
  : "OpenSSH is not installed (.ci/run installs it; apt-get install openssh-server)";
const user = currentUser();

/** Runs `rxssh args...` to completion (stdin closed unless `input` is given). */
function rxssh(args: string[], options: Partial<RunOptions> & { home: string }) {
  const [file, argv] = cliCommand(args);
  return runProcess(file, argv, {
    timeoutMs: 60_000,
    cwd: ROOT,
    ...options,
    env: { ...process.env, HOME: options.home, ...options.env },
  });
}

describe("rxssh client -> OpenSSH sshd", { skip }, () => {
  let sshd: Sshd;
  let home: string;
  let keyFile: string;
  let knownHosts: string;

  before(async () => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-client-home-"));
    keyFile = path.join(home, "key");
    const pub = await keygen(keyFile);
    // LogLevel INFO: at DEBUG levels sshd copies its debug lines into the session's stderr.
    sshd = await startSshd({ config: { PermitRootLogin: "yes", LogLevel: "INFO" } });
    fs.writeFileSync(path.join(sshd.dir, "authorized_keys"), pub + "\n");
    knownHosts = path.join(home, "known_hosts");
  });
  after(async () => {
    await sshd?.stop();
    fs.rmSync(home, { recursive: true, force: true });
  });

  const args = (strict: string, ...rest: string[]) => [
    "-i",
    keyFile,
    "-p",
    String(sshd.port),
    "-o",
    `UserKnownHostsFile=${knownHosts}`,
    "-o",
    `StrictHostKeyChecking=${strict}`,
    "-o",
    "BatchMode=yes",
    `${user}@127.0.0.1`,
    ...rest,
  ];

  it("StrictHostKeyChecking=yes refuses an unknown host with exit 255", async () => {
    fs.rmSync(knownHosts, { force: true });
    const r = await rxssh(args("yes", "echo never"), { home });
    assert.equal(r.code, 255, r.stderr);
    assert.equal(r.stdout, "");
    assert.match(
      r.stderr,
      new RegExp(
        `No ED25519 host key is known for \\[127\\.0\\.0\\.1\\]:${sshd.port} and you have requested strict checking\\.`,
      ),
    );
    assert.match(r.stderr, /Host key verification failed\./);
    assert.equal(fs.existsSync(knownHosts), false);
  });

  it("accept-new: stdout, stderr and exit code 42; the known_hosts line is found by ssh-keygen -F", async () => {
    fs.rmSync(knownHosts, { force: true });
    const r = await rxssh(args("accept-new", "echo out; echo err >&2; exit 42"), { home });
    assert.equal(r.code, 42, r.stderr);
    assert.equal(r.stdout, "out\n");
    assert.match(r.stderr, /^err$/m);
    assert.match(r.stderr, /Warning: Permanently added '\[127\.0\.0\.1\]:\d+' \(ED25519\)/);
    const f = await runProcess(
      openssh!.sshKeygen,
      ["-F", `[127.0.0.1]:${sshd.port}`, "-f", knownHosts],
      { timeoutMs: 30_000 },
    );
    assert.equal(f.code, 0, f.stderr);
    assert.ok(f.stdout.includes(sshd.hostKeys[0].pubLine), f.stdout);
    // Now known: strict checking passes, and nothing is added twice.
    const again = await rxssh(args("yes", "exit 0"), { home });
    assert.equal(again.code, 0, again.stderr);
    assert.equal(fs.readFileSync(knownHosts, "utf8").trim().split("\n").length, 1);
  });

  it("forwards stdin (a short text through cat; 1 MiB with the same SHA-256)", async () => {
    const data = new Uint8Array(1024 * 1024).map((_, i) => (i * 7919) & 0xff);
    const small = await rxssh(args("accept-new", "cat"), { home, input: "data" });
    assert.equal(small.stdout, "data");
    // runProcess decodes stdout as UTF-8: compare the remote SHA-256 instead of the bytes.
    const sum = await rxssh(args("accept-new", "sha256sum"), { home, input: data });
    assert.equal(sum.code, 0, sum.stderr);
    assert.equal(sum.stdout.split(" ")[0], createHash("sha256").update(data).digest("hex"));
  });

  it("refuses a changed host key, whatever StrictHostKeyChecking says", async () => {
    const other = path.join(home, "other");
    const otherPub = await keygen(other);
    fs.writeFileSync(knownHosts, `[127.0.0.1]:${sshd.port} ${otherPub}\n`);
    for (const strict of ["accept-new", "no"]) {
      const r = await rxssh(args(strict, "echo never"), { home });
      assert.equal(r.code, 255, strict);
      assert.equal(r.stdout, "");
      assert.match(r.stderr, /REMOTE HOST IDENTIFICATION HAS CHANGED/);
      assert.match(r.stderr, new RegExp(`Offending ED25519 key in ${knownHosts}:1`));
      assert.match(r.stderr, /Host key verification failed\./);
    }
    fs.rmSync(other);
    fs.rmSync(other + ".pub");
  });

  it("refuses a revoked host key, even when a plain line also lists it", async () => {
    const pub = sshd.hostKeys[0].pubLine.split(" ").slice(0, 2).join(" ");
    const name = `[127.0.0.1]:${sshd.port}`;
    fs.writeFileSync(knownHosts, `${name} ${pub}\n@revoked ${name} ${pub}\n`);
    const r = await rxssh(args("accept-new", "echo never"), { home });
    assert.equal(r.code, 255);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /WARNING: REVOKED HOST KEY DETECTED!/);
    assert.match(
      r.stderr,
      new RegExp(
        `The ED25519 host key for \\[127\\.0\\.0\\.1\\]:${sshd.port} is marked as revoked\\.`,
      ),
    );
    assert.match(r.stderr, /Host key verification failed\./);
    fs.rmSync(knownHosts);
  });

  it("exit 255 and ssh's messages for a refused key and a closed port", async () => {
    fs.rmSync(knownHosts, { force: true });
    const stranger = path.join(home, "stranger");
    await keygen(stranger);
    const r = await rxssh(
      ["-i", stranger, ...args("accept-new", "true").slice(2)],
      { home },
    );
    assert.equal(r.code, 255);
    assert.match(r.stderr, new RegExp(`${user}@127\\.0\\.0\\.1: Permission denied \\(publickey`));
    const closed = await rxssh(["-p", "1", "-o", "BatchMode=yes", "127.0.0.1", "true"], { home });
    assert.equal(closed.code, 255);
    assert.match(closed.stderr, /connect to host 127\.0\.0\.1 port 1: Connection refused/);
  });

  it("an encrypted identity asks for its passphrase (SSH_ASKPASS), except in BatchMode", async () => {
    const enc = path.join(home, "encrypted");
    const k = await runProcess(
      openssh!.sshKeygen,
      ["-q", "-t", "ed25519", "-N", "key pass", "-C", "", "-f", enc],
      { timeoutMs: 60_000 },
    );
    assert.equal(k.code, 0, k.stderr);
    const authorized = path.join(sshd.dir, "authorized_keys");
    const before = fs.readFileSync(authorized, "utf8");
    fs.appendFileSync(authorized, fs.readFileSync(enc + ".pub", "utf8"));
    const askpass = path.join(home, "askpass-key.sh");
    fs.writeFileSync(askpass, "#!/bin/sh\necho 'key pass'\n", { mode: 0o700 });
    const env = { SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: "force" };
    try {
      const common = ["-i", enc, "-p", String(sshd.port), "-o", `UserKnownHostsFile=${knownHosts}`];
      const ok = await rxssh(
        [...common, "-o", "StrictHostKeyChecking=accept-new", `${user}@127.0.0.1`, "echo unlocked"],
        { home, env },
      );
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal(ok.stdout, "unlocked\n");
      const batch = await rxssh(
        [...common, "-o", "BatchMode=yes", `${user}@127.0.0.1`, "echo unlocked"],
        { home, env },
      );
      assert.equal(batch.code, 255);
      assert.match(batch.stderr, /Permission denied/);
    } finally {
      fs.writeFileSync(authorized, before);
    }
  });

  it("-tt gets a pty with TERM", async () => {
    const r = await rxssh(["-tt", ...args("accept-new", 'tty; echo "$TERM"')], {
      home,
      env: { TERM: "xterm-rxssh" },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^\/dev\/pts\/\d+\r?$/m);
    assert.match(r.stdout, /^xterm-rxssh\r?$/m);
  });
});

describe("rxssh client -> rxssh serve", { skip }, () => {
  it("publickey and password (SSH_ASKPASS) logins end to end", async () => {
    const serverHome = fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-e2e-server-"));
    const clientHome = fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-e2e-client-"));
    const server = { stop: async () => {} } as Awaited<ReturnType<typeof serve>>;
    try {
      // The client's default identity, found without -i.
      fs.mkdirSync(path.join(clientHome, ".ssh"), { mode: 0o700 });
      const pub = await keygen(path.join(clientHome, ".ssh", "id_ed25519"));
      const authorized = path.join(serverHome, "authorized_keys");
      fs.writeFileSync(authorized, pub + "\n");
      Object.assign(
        server,
        await serve(
          ["-o", `AuthorizedKeysFile=${authorized}`, "-o", "PasswordAuthentication=yes"],
          { HOME: serverHome, RXSSH_PASSWORD: "open sesame" },
        ),
      );
      // HashKnownHosts=no: /etc/ssh/ssh_config is read (Debian's says yes).
      const base = [
        "-p",
        String(server.port),
        "-o",
        "StrictHostKeyChecking=accept-new",
        "-o",
        "HashKnownHosts=no",
      ];
      const r = await rxssh([...base, "127.0.0.1", "echo via key; exit 5"], {
        home: clientHome,
        input: "",
      });
      assert.equal(r.code, 5, r.stderr);
      assert.equal(r.stdout, "via key\n");
      // Written to the default ~/.ssh/known_hosts.
      assert.match(
        fs.readFileSync(path.join(clientHome, ".ssh", "known_hosts"), "utf8"),
        new RegExp(`^\\[127\\.0\\.0\\.1\\]:${server.port} ssh-ed25519 `),
      );
      const askpass = path.join(clientHome, "askpass.sh");
      fs.writeFileSync(askpass, "#!/bin/sh\necho 'open sesame'\n", { mode: 0o700 });
      const pw = await rxssh(
        [...base, "-o", "PubkeyAuthentication=no", `${user}@127.0.0.1`, "cat; exit 3"],
        {
          home: clientHome,
          input: "through stdin\n",
          env: { SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: "force" },
        },
      );
      assert.equal(pw.code, 3, pw.stderr);
      assert.equal(pw.stdout, "through stdin\n");
      assert.match(server.log(), new RegExp(`Accepted password for ${user}`));
      // BatchMode never asks: the password method is not tried.
      const batch = await rxssh(
        [...base, "-o", "PubkeyAuthentication=no", "-o", "BatchMode=yes", "127.0.0.1", "true"],
        { home: clientHome, env: { SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: "force" } },
      );
      assert.equal(batch.code, 255);
      assert.match(batch.stderr, /Permission denied \(publickey,password\)/);
    } finally {
      await server.stop();
      fs.rmSync(serverHome, { recursive: true, force: true });
      fs.rmSync(clientHome, { recursive: true, force: true });
    }
  });
});
