// Issue 12: ProxyCommand and IdentitiesOnly against OpenSSH's sshd (its own
// config, host key and port). The library's connect({ proxyCommand }) over
// nc, with ssh's %-tokens, the proxy's stderr, SIGHUP at close and a typed
// error for a proxy that exits first; the CLI with -o ProxyCommand and a
// config's `ProxyCommand rxssh -W %h:%p bastion`; OpenSSH's ssh using
// `rxssh -W` as its ProxyCommand; a failing proxy prints what ssh prints.
// IdentitiesOnly: an ssh-agent key that is no IdentityFile is not offered
// (by our CLI, as by ssh); one whose IdentityFile is encrypted (not
// loaded in BatchMode) is, matched by the file's `.pub`.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import process from "node:process";
import { connect, type ConnectOptions } from "../lib/client.ts";
import { SshConfigError } from "../lib/config/ssh_config.ts";
import { parsePrivateKeyFile } from "../lib/keys/private_key_file.ts";
import type { PrivateKey } from "../lib/keys/types.ts";
import { ProxyCommandError } from "../lib/proxy_command.ts";
import { cliCommand, keygen, ROOT, rxsshTestArgs } from "./_cli.ts";
import {
  currentUser,
  findOpenSsh,
  pinnedHostKey,
  runProcess,
  runSsh,
  type Sshd,
  startSshd,
  testSshArgs,
  withAgent,
} from "./_openssh.ts";

const openssh = findOpenSsh();
const hasNc = spawnSync("sh", ["-c", "command -v nc"]).status === 0;
const skip = !openssh
  ? "OpenSSH (ssh, sshd, ssh-agent) is not installed"
  : !hasNc
  ? "nc is not installed (scripts/ensure_openssh.sh installs netcat-openbsd)"
  : false;

/** A shell word. */
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The command line that runs our CLI with `args`, as one shell string (for a ProxyCommand). */
function rxsshShell(args: string[]): string {
  const [file, argv] = cliCommand(args);
  return [file, ...argv].map((a) => q(a === "cli.ts" ? path.join(ROOT, "cli.ts") : a)).join(" ");
}

/** Runs our CLI with `args` (cwd: the repository, `env` added to ours). */
function rxssh(args: string[], env: Record<string, string> = {}) {
  const [file, argv] = cliCommand(args);
  return runProcess(file, argv, { timeoutMs: 60_000, cwd: ROOT, env: { ...process.env, ...env } });
}

/** Whether process `pid` still runs. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** sshd accepting the keys in `dir`/authorized_keys. */
const sshdFor = (dir: string) =>
  startSshd({
    config: {
      AuthorizedKeysFile: path.join(dir, "authorized_keys"),
      PermitRootLogin: "yes",
      LogLevel: "INFO",
    },
  });

/** A WritableStream that keeps what it is given as text. */
function collector(): { stream: WritableStream<Uint8Array>; text(): string } {
  let text = "";
  return {
    stream: new WritableStream({ write: (c) => void (text += new TextDecoder().decode(c)) }),
    text: () => text,
  };
}

describe("ProxyCommand", { skip }, () => {
  let dir: string;
  let keyFile: string;
  let key: PrivateKey;
  let sshd: Sshd;
  const user = currentUser();
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-proxy-"));
    keyFile = path.join(dir, "id");
    const pub = await keygen(keyFile);
    key = (await parsePrivateKeyFile(fs.readFileSync(keyFile, "utf8"))).key;
    fs.writeFileSync(path.join(dir, "authorized_keys"), pub + "\n");
    sshd = await sshdFor(dir);
  });
  after(async () => {
    await sshd?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const toSshd = (more: Partial<ConnectOptions>): ConnectOptions => ({
    host: "127.0.0.1",
    port: sshd.port,
    username: user,
    privateKeys: [key],
    agent: false,
    hostKey: pinnedHostKey(sshd),
    ...more,
  });

  it("connect({ proxyCommand }): nc carries the connection; tokens, stderr, SIGHUP at close", async () => {
    const pidFile = path.join(dir, "proxy.pid");
    const err = collector();
    // After nc the shell becomes `sleep 60` (same pid): only our SIGHUP ends it quickly.
    const script = `echo $$ > ${pidFile}; echo "tokens %r %n %h %p %%" >&2; ` +
      `nc %h %p; exec sleep 60`;
    const client = await connect(toSshd({
      proxyCommand: { command: `sh -c '${script}'`, stderr: err.stream },
    }));
    const r = await client.exec("echo over the proxy");
    assert.equal(new TextDecoder().decode(r.stdout), "over the proxy\n");
    const pid = Number(fs.readFileSync(pidFile, "utf8"));
    assert.ok(alive(pid));
    await client.close();
    for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(alive(pid), false, "the proxy command still runs after close()");
    assert.match(
      err.text(),
      new RegExp(`tokens ${user} 127\\.0\\.0\\.1 127\\.0\\.0\\.1 ${sshd.port} %`),
    );
  });

  it("a proxy that exits before the handshake: ProxyCommandError with its status; bad tokens refused", async () => {
    const err = collector();
    const e = await connect(toSshd({
      proxyCommand: { command: "sh -c 'echo no route >&2; exit 3'", stderr: err.stream },
    })).then(() => undefined, (e) => e);
    assert.ok(e instanceof ProxyCommandError, String(e));
    assert.equal(e.command, "sh -c 'echo no route >&2; exit 3'");
    assert.deepEqual(e.status, { code: 3 });
    assert.match(e.message, /exited with status 3 before the SSH handshake/);
    assert.equal(err.text(), "no route\n");
    const missing = await connect(toSshd({
      proxyCommand: { command: "no-such-proxy-program %h", stderr: "ignore" },
    })).then(() => undefined, (e) => e);
    assert.ok(missing instanceof ProxyCommandError);
    assert.deepEqual(missing.status, { code: 127 });
    await assert.rejects(connect(toSshd({ proxyCommand: "nc %h %z" })), SshConfigError);
    await assert.rejects(
      connect(toSshd({ proxyCommand: "nc %h %p", via: [toSshd({})] })),
      /via and options.proxyCommand/,
    );
  });

  it("connect({ config }): ProxyCommand from the file, %n is the alias; ProxyJump first wins", async () => {
    const config = path.join(dir, "lib_config");
    const seen = path.join(dir, "seen_n");
    fs.writeFileSync(
      config,
      `Host alias\n  HostName 127.0.0.1\n  Port ${sshd.port}\n  User ${user}\n` +
        `  ProxyCommand sh -c 'echo %n > ${seen}; exec nc %h %p'\n  ProxyJump nowhere.invalid\n` +
        `  IdentityFile ${keyFile}\n  IdentityAgent none\n  UserKnownHostsFile /dev/null\n` +
        `  StrictHostKeyChecking no\n`,
    );
    const client = await connect({ host: "alias", config });
    try {
      assert.equal((await client.exec("true")).code, 0);
      assert.equal(fs.readFileSync(seen, "utf8"), "alias\n");
    } finally {
      await client.close();
    }
  });

  it("rxssh -o ProxyCommand='nc %h %p'; ssh's messages for a proxy that fails", async () => {
    const base = rxsshTestArgs(sshd.port, keyFile, user);
    const ok = await rxssh([...base, "-o", "ProxyCommand=nc %h %p", "127.0.0.1", "echo", "hi"]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, "hi\n");
    const ours = await rxssh([...base, "-o", "ProxyCommand=false", "127.0.0.1", "true"]);
    const theirs = await runSsh(
      testSshArgs(sshd.port, keyFile, user, ["-o", "ProxyCommand=false", "127.0.0.1", "true"]),
      { timeoutMs: 30_000 },
    );
    assert.equal(theirs.code, 255);
    assert.equal(ours.code, 255);
    // ssh prints one of two things, by a race between writing its banner to
    // the proxy and reading from it: a closed read (what we print, as we
    // never fail the write first) or, under load, EPIPE on the banner.
    const closed = "kex_exchange_identification: Connection closed by remote host\n" +
      "Connection closed by UNKNOWN port 65535\n";
    const epipe = "banner exchange: Connection to UNKNOWN port 65535: Broken pipe\n";
    assert.ok([closed, epipe].includes(theirs.stderr.replace(/\r\n/g, "\n")), theirs.stderr);
    assert.equal(ours.stderr, closed);
  });

  it("ProxyCommand rxssh -W %h:%p bastion: our CLI through our CLI, and OpenSSH's ssh through it", async () => {
    const config = path.join(dir, "cli_config");
    const common = `  HostName 127.0.0.1\n  Port ${sshd.port}\n  User ${user}\n` +
      `  IdentityFile ${keyFile}\n  IdentityAgent none\n  UserKnownHostsFile /dev/null\n` +
      `  StrictHostKeyChecking no\n  BatchMode yes\n`;
    const hop = rxsshShell(["-F", config, "-W", "%h:%p", "bastion"]);
    fs.writeFileSync(
      config,
      `Host bastion\n${common}Host target\n${common}  ProxyCommand ${hop}\n`,
    );
    const ours = await rxssh(["-F", config, "target", "echo", "via", "bastion"]);
    assert.equal(ours.code, 0, ours.stderr);
    assert.equal(ours.stdout, "via bastion\n");
    const theirs = await runSsh(
      testSshArgs(sshd.port, keyFile, user, [
        "-o",
        `ProxyCommand=${
          rxsshShell([...rxsshTestArgs(sshd.port, keyFile, user), "-W", "%h:%p", "127.0.0.1"])
        }`,
        "127.0.0.1",
        "echo",
        "ssh via rxssh -W",
      ]),
      { timeoutMs: 60_000 },
    );
    assert.equal(theirs.code, 0, theirs.stderr);
    assert.equal(theirs.stdout, "ssh via rxssh -W\n");
  });
});

describe(
  "IdentitiesOnly: the agent's keys that are no IdentityFile are not offered",
  { skip },
  () => {
    let dir: string;
    let agentSock: string;
    let agent: ChildProcess;
    let sshd: Sshd;
    let inAgent: string;
    let other: string;
    const user = currentUser();
    const env = () => ({ SSH_AUTH_SOCK: agentSock, HOME: dir });
    before(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-idonly-"));
      inAgent = path.join(dir, "in_agent");
      other = path.join(dir, "other");
      const pub = await keygen(inAgent);
      await keygen(other);
      fs.writeFileSync(path.join(dir, "authorized_keys"), pub + "\n");
      agentSock = path.join(dir, "agent.sock");
      const bin = path.dirname(openssh!.ssh);
      agent = spawn(path.join(bin, "ssh-agent"), ["-a", agentSock, "-D"], { stdio: "ignore" });
      for (let i = 0; i < 500 && !fs.existsSync(agentSock); i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      const added = await runProcess(path.join(bin, "ssh-add"), [inAgent], {
        timeoutMs: 10_000,
        env: { ...process.env, ...env() },
      });
      assert.equal(added.code, 0, added.stderr);
      // From now on only the agent can sign with the authorized key: its file is encrypted.
      const encrypted = await runProcess(openssh!.sshKeygen, [
        "-p",
        "-P",
        "",
        "-N",
        "pw",
        "-f",
        inAgent,
      ], {
        timeoutMs: 10_000,
      });
      assert.equal(encrypted.code, 0, encrypted.stderr);
      sshd = await sshdFor(dir);
    });
    after(async () => {
      agent?.kill();
      await sshd?.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    /** rxssh and ssh with IdentityFile `identity`, IdentitiesOnly `only`, the agent at hand. */
    const both = (identity: string, only: string) => {
      const args = withAgent(
        testSshArgs(sshd.port, identity, user, [
          "-o",
          `IdentitiesOnly=${only}`,
          "127.0.0.1",
          "echo",
          "in",
        ]),
      );
      return Promise.all([
        rxssh(args, env()),
        runSsh(args, { timeoutMs: 30_000, env: { ...process.env, ...env() } }),
      ]);
    };

    it("IdentityFile another key: with IdentitiesOnly yes the agent's key is not offered (ssh: the same)", async () => {
      const [ours, theirs] = await both(other, "yes");
      assert.equal(theirs.code, 255, theirs.stderr);
      assert.equal(ours.code, 255, ours.stderr);
      assert.match(ours.stderr, /Permission denied \(publickey/);
      const [oursNo, theirsNo] = await both(other, "no");
      assert.equal(theirsNo.code, 0, theirsNo.stderr);
      assert.equal(oursNo.code, 0, oursNo.stderr);
      assert.equal(oursNo.stdout, "in\n");
    });

    it("IdentityFile the agent's key (encrypted, BatchMode): its .pub lets the agent offer it", async () => {
      const [ours, theirs] = await both(inAgent, "yes");
      assert.equal(theirs.code, 0, theirs.stderr);
      assert.equal(ours.code, 0, ours.stderr);
      assert.equal(ours.stdout, "in\n");
    });
  },
);
