// Issue 12: connect({ host: alias, config }) reads ssh_config (HostName,
// Port, User, IdentityFile, UserKnownHostsFile, StrictHostKeyChecking,
// ProxyJump, IdentityAgent), explicit options win; the agent at
// SSH_AUTH_SOCK (OpenSSH's ssh-agent, a key added by ssh-add) is used by
// default, and not with agent: false. Our servers on loopback.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import process from "node:process";
import { AuthenticationError } from "../lib/auth/client.ts";
import { connect } from "../lib/client.ts";
import { IdentityFileError } from "../lib/client_config.ts";
import { portForwardingHandler } from "../lib/forward/server.ts";
import { generatePrivateKey } from "../lib/keys/private_key.ts";
import { writePrivateKeyFile } from "../lib/keys/private_key_file.ts";
import { formatPublicKeyLine } from "../lib/keys/public_key_file.ts";
import type { PrivateKey } from "../lib/keys/types.ts";
import { listen, type SshServer } from "../lib/server.ts";
import { findOpenSsh, runProcess } from "./_openssh.ts";
import { hostKey } from "./_transport_pair.ts";

const openssh = findOpenSsh();
const sshAgentBin = openssh ? path.join(path.dirname(openssh.ssh), "ssh-agent") : "";
const sshAddBin = openssh ? path.join(path.dirname(openssh.ssh), "ssh-add") : "";
const noAgent = openssh && fs.existsSync(sshAgentBin) && fs.existsSync(sshAddBin)
  ? false
  : "OpenSSH's ssh-agent and ssh-add are not installed";

/** One of our servers: accepts `allowed` keys, records "user fingerprint" of each accepted one. */
async function server(
  allowed: () => PrivateKey[],
  seen: string[],
): Promise<SshServer & { hostKey: PrivateKey }> {
  const hk = await hostKey("ssh-ed25519");
  const s = await listen({
    hostname: "127.0.0.1",
    port: 0,
    hostKeys: [hk],
    auth: {
      handlers: {
        publicKey: (user, key) => {
          const ok = allowed().some((k) => k.publicKey.fingerprint() === key.fingerprint());
          if (ok) seen.push(`${user} ${key.fingerprint()}`);
          return ok;
        },
      },
      failureDelay: 1,
    },
    exec: async (s) => {
      const w = s.stdout.getWriter();
      await w.write(new TextEncoder().encode(`ran ${s.command}\n`));
      w.releaseLock();
      await s.exit(0);
    },
    handlers: [portForwardingHandler()],
  });
  return Object.assign(s, { hostKey: hk });
}

describe("connect({ config }): ssh_config for the library", () => {
  let dir: string;
  let keyA: PrivateKey, keyB: PrivateKey, keyJ: PrivateKey;
  let s1: SshServer & { hostKey: PrivateKey }, s2: SshServer & { hostKey: PrivateKey };
  const seen1: string[] = [], seen2: string[] = [];
  let cfg: string, knownHosts: string;
  let savedSock: string | undefined;

  before(async () => {
    savedSock = process.env.SSH_AUTH_SOCK;
    delete process.env.SSH_AUTH_SOCK; // these tests are about files; the agent has its own
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-cfg-"));
    [keyA, keyB, keyJ] = await Promise.all(
      [1, 2, 3].map(() => generatePrivateKey("ssh-ed25519")),
    );
    fs.writeFileSync(path.join(dir, "id_a"), await writePrivateKeyFile(keyA), { mode: 0o600 });
    fs.writeFileSync(path.join(dir, "id_j"), await writePrivateKeyFile(keyJ), { mode: 0o600 });
    fs.writeFileSync(
      path.join(dir, "id_enc"),
      await writePrivateKeyFile(keyB, { passphrase: "sesame", rounds: 2 }),
      { mode: 0o600 },
    );
    s1 = await server(() => [keyA, keyB], seen1); // the target
    s2 = await server(() => [keyJ], seen2); // the jump host
    knownHosts = path.join(dir, "known_hosts");
    fs.writeFileSync(
      knownHosts,
      [s1, s2].map((s) => `[127.0.0.1]:${s.port} ${formatPublicKeyLine(s.hostKey.publicKey)}\n`)
        .join(""),
    );
    cfg = path.join(dir, "config");
    fs.writeFileSync(
      cfg,
      `Host target
  HostName 127.0.0.1
  Port ${s1.port}
  User alice
  IdentityFile ${dir}/id_a
Host behind
  HostName 127.0.0.1
  Port ${s1.port}
  User carol
  IdentityFile ${dir}/id_a
  ProxyJump jump
Host jump
  HostName 127.0.0.1
  Port ${s2.port}
  User jim
  IdentityFile ${dir}/id_j
Host encrypted
  HostName 127.0.0.1
  Port ${s1.port}
  IdentityFile ${dir}/id_enc
Host stranger
  HostName 127.0.0.1
  Port ${s1.port}
  IdentityFile ${dir}/id_a
  UserKnownHostsFile ${dir}/known_hosts_new
Host *
  UserKnownHostsFile ${knownHosts}
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
`,
    );
  });
  after(() => {
    s1?.close();
    s2?.close();
    if (savedSock !== undefined) process.env.SSH_AUTH_SOCK = savedSock;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("Host alias: HostName, Port, User, IdentityFile and UserKnownHostsFile from the file", async () => {
    const c = await connect({ host: "target", config: cfg });
    const r = await c.exec("hello");
    assert.equal(new TextDecoder().decode(r.stdout), "ran hello\n");
    await c.close();
    assert.equal(seen1.at(-1), `alice ${keyA.publicKey.fingerprint()}`);
  });

  it("explicit options win: username, privateKeys, port, hostKey", async () => {
    const c = await connect({ host: "target", config: cfg, username: "bob", privateKeys: [keyB] });
    await c.close();
    assert.equal(seen1.at(-1), `bob ${keyB.publicKey.fingerprint()}`);
    // Another port (the jump server's, which knows key J only): the config's IdentityFile (A) is refused there.
    await assert.rejects(
      connect({ host: "target", config: cfg, port: s2.port }),
      AuthenticationError,
    );
    const d = await connect({ host: "target", config: cfg, port: s2.port, privateKeys: [keyJ] });
    await d.close();
    assert.equal(seen2.at(-1), `alice ${keyJ.publicKey.fingerprint()}`);
    // An explicit hostKey replaces the known_hosts check.
    await assert.rejects(
      connect({ host: "target", config: cfg, hostKey: { fingerprint: "SHA256:wrong" } }),
      /host key/i,
    );
  });

  it("StrictHostKeyChecking: yes refuses an unknown host, accept-new adds it", async () => {
    await assert.rejects(connect({ host: "stranger", config: cfg }), /host key|unknown/i);
    assert.equal(fs.existsSync(path.join(dir, "known_hosts_new")), false);
    fs.writeFileSync(
      path.join(dir, "cfg_accept"),
      `StrictHostKeyChecking accept-new\nInclude ${cfg}\n`,
    );
    const c = await connect({ host: "stranger", config: path.join(dir, "cfg_accept") });
    await c.close();
    const added = fs.readFileSync(path.join(dir, "known_hosts_new"), "utf8");
    assert.match(added, new RegExp(`^\\[127\\.0\\.0\\.1\\]:${s1.port} ssh-ed25519 `));
  });

  it("ProxyJump: the hop resolved from the same file, with its own user and key", async () => {
    const before2 = seen2.length;
    const c = await connect({ host: "behind", config: cfg });
    const r = await c.exec("via");
    assert.equal(new TextDecoder().decode(r.stdout), "ran via\n");
    await c.close();
    assert.ok(seen2.length > before2);
    assert.equal(seen2.at(-1), `jim ${keyJ.publicKey.fingerprint()}`);
    assert.equal(seen1.at(-1), `carol ${keyA.publicKey.fingerprint()}`);
  });

  it("an encrypted IdentityFile: an IdentityFileError without a passphrase, used with one", async () => {
    await assert.rejects(
      connect({ host: "encrypted", config: cfg, username: "e" }),
      (e) => e instanceof IdentityFileError && e.file === `${dir}/id_enc`,
    );
    const c = await connect({
      host: "encrypted",
      config: cfg,
      username: "e",
      passphrase: "sesame",
    });
    await c.close();
    assert.equal(seen1.at(-1), `e ${keyB.publicKey.fingerprint()}`);
  });

  it("a missing agent socket is skipped silently", async () => {
    process.env.SSH_AUTH_SOCK = path.join(dir, "no-such.sock");
    try {
      const c = await connect({ host: "target", config: cfg });
      await c.close();
    } finally {
      delete process.env.SSH_AUTH_SOCK;
    }
  });
});

describe("connect(): the agent at SSH_AUTH_SOCK by default", { skip: noAgent }, () => {
  let dir: string;
  let agentKey: PrivateKey;
  let agentProc: ChildProcess;
  let sock: string;
  let s: SshServer & { hostKey: PrivateKey };
  const seen: string[] = [];
  let savedSock: string | undefined;
  let fingerprint: string;

  before(async () => {
    savedSock = process.env.SSH_AUTH_SOCK;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-cfgagent-"));
    agentKey = await generatePrivateKey("ssh-ed25519");
    const keyFile = path.join(dir, "id_agent");
    fs.writeFileSync(keyFile, await writePrivateKeyFile(agentKey), { mode: 0o600 });
    sock = path.join(dir, "agent.sock");
    agentProc = spawn(sshAgentBin, ["-a", sock, "-D"], { stdio: ["ignore", "pipe", "pipe"] });
    agentProc.stdout?.resume();
    agentProc.stderr?.resume();
    const deadline = Date.now() + 10_000;
    while (!fs.existsSync(sock)) {
      if (Date.now() > deadline) throw new Error("ssh-agent did not create its socket");
      await new Promise((r) => setTimeout(r, 20));
    }
    const r = await runProcess(sshAddBin, [keyFile], {
      timeoutMs: 20_000,
      env: { ...process.env, SSH_AUTH_SOCK: sock },
    });
    assert.equal(r.code, 0, r.stderr);
    fs.rmSync(keyFile); // only the agent has it now
    s = await server(() => [agentKey], seen);
    fingerprint = s.hostKey.publicKey.fingerprint();
  });
  after(async () => {
    s?.close();
    if (savedSock === undefined) delete process.env.SSH_AUTH_SOCK;
    else process.env.SSH_AUTH_SOCK = savedSock;
    await new Promise<void>((resolve) => {
      if (!agentProc || agentProc.exitCode !== null || agentProc.signalCode !== null) {
        return resolve();
      }
      agentProc.once("exit", () => resolve());
      agentProc.kill("SIGTERM");
    });
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const target = () => ({
    host: "127.0.0.1",
    port: s.port,
    username: "agent-user",
    hostKey: { fingerprint },
  });

  it("uses the agent's key; not with agent: false; agent: path picks a socket", async () => {
    process.env.SSH_AUTH_SOCK = sock;
    try {
      const c = await connect(target());
      await c.close();
      assert.equal(seen.at(-1), `agent-user ${agentKey.publicKey.fingerprint()}`);
      await assert.rejects(connect({ ...target(), agent: false }), AuthenticationError);
      delete process.env.SSH_AUTH_SOCK;
      await assert.rejects(connect(target()), AuthenticationError);
      const d = await connect({ ...target(), agent: sock, username: "by-path" });
      await d.close();
      assert.equal(seen.at(-1), `by-path ${agentKey.publicKey.fingerprint()}`);
    } finally {
      delete process.env.SSH_AUTH_SOCK;
    }
  });

  it("IdentityAgent from the config: none turns it off, a path picks one", async () => {
    const cfg = path.join(dir, "config");
    fs.writeFileSync(
      cfg,
      `Host off\n  IdentityAgent none\nHost other\n  IdentityAgent ${sock}\n` +
        `Host *\n  HostName 127.0.0.1\n  Port ${s.port}\n  User cfg\n` +
        `  IdentityFile ${dir}/none\n  StrictHostKeyChecking yes\n`,
    );
    const hostKeyOpt = { hostKey: { fingerprint } };
    process.env.SSH_AUTH_SOCK = sock;
    try {
      // IdentityFile ${dir}/none is explicit and missing (an IdentityFileError): keys are given, none.
      await assert.rejects(
        connect({ host: "off", config: cfg, privateKeys: [], ...hostKeyOpt }),
        AuthenticationError,
      );
      const b = await connect({ host: "on", config: cfg, privateKeys: [], ...hostKeyOpt });
      await b.close();
      assert.equal(seen.at(-1), `cfg ${agentKey.publicKey.fingerprint()}`);
      delete process.env.SSH_AUTH_SOCK;
      const c = await connect({ host: "other", config: cfg, privateKeys: [], ...hostKeyOpt });
      await c.close();
      assert.equal(seen.at(-1), `cfg ${agentKey.publicKey.fingerprint()}`);
      await assert.rejects(
        connect({ host: "off", config: cfg, ...hostKeyOpt }),
        (e) => e instanceof IdentityFileError && /no such file/.test(e.message),
      );
    } finally {
      delete process.env.SSH_AUTH_SOCK;
    }
  });
});
