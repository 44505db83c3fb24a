// Issue 12: agent forwarding for a whole connection. OpenSSH's `ssh -A`
// against `rxssh serve` (AllowAgentForwarding yes, the default): the
// remote `ssh-add -l` lists the key held by the local ssh-agent; our
// `rxssh -A` and `connect({ forwardAgent })` against OpenSSH's sshd: the
// same, on every session of the connection; `-a` and no option: no agent.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import process from "node:process";
import { connect } from "../lib/client.ts";
import { cliCommand, keygen, ROOT, rxsshTestArgs, serve, type Served } from "./_cli.ts";
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
const skip = openssh ? false : "OpenSSH (ssh, sshd, ssh-agent, ssh-add) is not installed";

describe("agent forwarding for a whole connection", { skip }, () => {
  let dir: string;
  let keyFile: string;
  let agentSock: string;
  let agent: ChildProcess;
  let fingerprint: string;
  let sshd: Sshd;
  let rx: Served;
  const env = () => ({ ...process.env, SSH_AUTH_SOCK: agentSock, HOME: dir });
  /** ssh -A forwards the agent it uses. */
  const sshArgs = (port: number, extra: string[]) =>
    withAgent(testSshArgs(port, keyFile, currentUser(), extra));

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-agent-fwd-"));
    keyFile = path.join(dir, "id");
    const pub = await keygen(keyFile);
    const authorizedKeys = path.join(dir, "authorized_keys");
    fs.writeFileSync(authorizedKeys, pub + "\n");
    agentSock = path.join(dir, "agent.sock");
    agent = spawn(path.join(path.dirname(openssh!.ssh), "ssh-agent"), ["-a", agentSock, "-D"], {
      stdio: "ignore",
    });
    for (let i = 0; i < 500 && !fs.existsSync(agentSock); i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const added = await runProcess(path.join(path.dirname(openssh!.ssh), "ssh-add"), [keyFile], {
      timeoutMs: 10_000,
      env: env(),
    });
    assert.equal(added.code, 0, added.stderr);
    const listed = await runProcess(path.join(path.dirname(openssh!.ssh), "ssh-add"), ["-l"], {
      timeoutMs: 10_000,
      env: env(),
    });
    fingerprint = /SHA256:\S+/.exec(listed.stdout)![0];
    fs.mkdirSync(path.join(dir, "serve-home"));
    [sshd, rx] = await Promise.all([
      startSshd({
        config: { AuthorizedKeysFile: authorizedKeys, PermitRootLogin: "yes", LogLevel: "INFO" },
      }),
      serve(["-o", `AuthorizedKeysFile=${authorizedKeys}`], { HOME: path.join(dir, "serve-home") }),
    ]);
  });
  after(async () => {
    agent?.kill();
    await Promise.all([sshd?.stop(), rx?.stop()]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("OpenSSH ssh -A against rxssh serve: the remote ssh-add -l lists the key; without -A nothing", async () => {
    const withA = await runSsh(
      sshArgs(rx.port, ["-A", "127.0.0.1", "ssh-add -l"]),
      { timeoutMs: 30_000, env: env() },
    );
    assert.match(withA.stdout, new RegExp(fingerprint.replace(/[+/]/g, "\\$&")), withA.stderr);
    const without = await runSsh(
      sshArgs(rx.port, ["127.0.0.1", "ssh-add -l"]),
      { timeoutMs: 30_000, env: env() },
    );
    assert.notEqual(without.code, 0);
    assert.doesNotMatch(without.stdout, /SHA256:/);
  });

  it("rxssh -A against sshd: the key is listed remotely; -a turns it off", async () => {
    const args = (flag: string) => {
      const [file, argv] = cliCommand([
        ...rxsshTestArgs(sshd.port, keyFile, currentUser()),
        flag,
        "127.0.0.1",
        "ssh-add -l",
      ]);
      return runProcess(file, argv, { timeoutMs: 60_000, cwd: ROOT, env: env() });
    };
    const withA = await args("-A");
    assert.match(withA.stdout, new RegExp(fingerprint.replace(/[+/]/g, "\\$&")), withA.stderr);
    const withoutA = await args("-a");
    assert.doesNotMatch(withoutA.stdout, /SHA256:/);
  });

  it("connect({ forwardAgent }): every session of the connection gets the agent", async () => {
    const client = await connect({
      host: "127.0.0.1",
      port: sshd.port,
      username: currentUser(),
      agent: agentSock,
      hostKey: pinnedHostKey(sshd),
      forwardAgent: agentSock,
    });
    try {
      for (let i = 0; i < 2; i++) {
        const r = await client.exec("ssh-add -l");
        assert.match(new TextDecoder().decode(r.stdout), /SHA256:/);
      }
    } finally {
      await client.close();
    }
  });
});
