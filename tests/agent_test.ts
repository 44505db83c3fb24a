// The SSH agent protocol against OpenSSH: our client against a real
// ssh-agent (keys added by ssh-add, signatures verified, login to sshd);
// our agent on a unix socket used by ssh-add and ssh; agent forwarding both
// ways (ssh -A into our server, our client with forwarding into sshd).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import process from "node:process";
import {
  currentUser,
  findOpenSsh,
  pinnedHostKey,
  runProcess,
  runSsh,
  type Sshd,
  startSshd,
} from "./_openssh.ts";
import { type AgentClient, connectAgent } from "../lib/agent/client.ts";
import { AgentError } from "../lib/agent/protocol.ts";
import { listenAgent, type MemoryAgent, memoryAgent } from "../lib/agent/server.ts";
import { agentForwardingHandler, enableAgentForwarding } from "../lib/agent/forwarding.ts";
import { connect } from "../lib/client.ts";
import { listen, runLocalCommand } from "../lib/server.ts";
import { generatePrivateKey } from "../lib/keys/private_key.ts";
import { parsePublicKey } from "../lib/keys/public_key.ts";
import { formatPublicKeyLine, parsePublicKeyLine } from "../lib/keys/public_key_file.ts";
import { decodeSignature } from "../lib/keys/signature.ts";
import { parsePrivateKeyFile } from "../lib/keys/private_key_file.ts";
import type { PrivateKey } from "../lib/keys/types.ts";

const openssh = findOpenSsh();
const sshAgentBin = openssh ? path.join(path.dirname(openssh.ssh), "ssh-agent") : "";
const sshAddBin = openssh ? path.join(path.dirname(openssh.ssh), "ssh-add") : "";
const skip = openssh && fs.existsSync(sshAgentBin) && fs.existsSync(sshAddBin)
  ? false
  : "OpenSSH (ssh, sshd, ssh-agent, ssh-add) is not installed";
const user = currentUser();
const td = new TextDecoder();
const data = new TextEncoder().encode("data to sign");
const SSH_OPTS = [
  "-F",
  "/dev/null",
  "-o",
  "BatchMode=yes",
  "-o",
  "StrictHostKeyChecking=no",
  "-o",
  "UserKnownHostsFile=/dev/null",
  "-o",
  "LogLevel=ERROR",
];

/** Fingerprints listed by `ssh-add -l` ("<bits> SHA256:... comment (TYPE)"). */
function listedFingerprints(text: string): string[] {
  return [...text.matchAll(/SHA256:[A-Za-z0-9+/]+/g)].map((m) => m[0]).sort();
}

/** A real `ssh-agent -D` on a private socket; stop() kills it. */
async function startSshAgent(dir: string): Promise<{ sock: string; stop(): Promise<void> }> {
  const sock = path.join(dir, "agent.sock");
  const child: ChildProcess = spawn(sshAgentBin, ["-a", sock, "-D"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout?.resume();
  child.stderr?.resume();
  const deadline = Date.now() + 10_000;
  while (!fs.existsSync(sock)) {
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill("SIGKILL");
      throw new Error("ssh-agent did not create its socket");
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    sock,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

/** ssh-keygen a key into `dir`; returns the path and its parsed private key. */
async function keygen(
  dir: string,
  name: string,
  args: string[],
): Promise<{ file: string; key: PrivateKey; pubLine: string }> {
  const file = path.join(dir, name);
  const r = await runProcess(
    openssh!.sshKeygen,
    ["-q", "-N", "", "-C", name, ...args, "-f", file],
    {
      timeoutMs: 60_000,
    },
  );
  assert.equal(r.code, 0, r.stderr);
  const { key } = await parsePrivateKeyFile(fs.readFileSync(file, "utf8"));
  return { file, key, pubLine: fs.readFileSync(file + ".pub", "utf8").trim() };
}

describe("our agent client against OpenSSH's ssh-agent", { skip }, () => {
  let dir: string;
  let agentProc: { sock: string; stop(): Promise<void> };
  let agent: AgentClient;
  let keys: { file: string; key: PrivateKey; pubLine: string }[];
  let sshd: Sshd;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-agent-"));
    agentProc = await startSshAgent(dir);
    keys = [
      await keygen(dir, "id_ed25519", ["-t", "ed25519"]),
      await keygen(dir, "id_ecdsa", ["-t", "ecdsa", "-b", "256"]),
      await keygen(dir, "id_rsa", ["-t", "rsa", "-b", "2048"]),
    ];
    for (const k of keys) {
      const r = await runProcess(sshAddBin, [k.file], {
        timeoutMs: 20_000,
        env: { ...process.env, SSH_AUTH_SOCK: agentProc.sock },
      });
      assert.equal(r.code, 0, r.stderr);
    }
    agent = await connectAgent(agentProc.sock);
    sshd = await startSshd({ config: { PermitRootLogin: "yes", LogLevel: "INFO" } });
  });
  after(async () => {
    agent?.close();
    await sshd?.stop();
    await agentProc?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("lists the identities ssh-add added, with the same fingerprints", async () => {
    const ids = await agent.identities();
    assert.deepEqual(ids.map((i) => i.type).sort(), [
      "ecdsa-sha2-nistp256",
      "ssh-ed25519",
      "ssh-rsa",
    ]);
    const ours = ids.map((i) => parsePublicKey(i.blob).fingerprint()).sort();
    const fromFiles = keys.map((k) => k.key.publicKey.fingerprint()).sort();
    assert.deepEqual(ours, fromFiles);
    const r = await runProcess(sshAddBin, ["-l"], {
      timeoutMs: 20_000,
      env: { ...process.env, SSH_AUTH_SOCK: agentProc.sock },
    });
    assert.deepEqual(listedFingerprints(r.stdout), ours);
    assert.deepEqual(ids.map((i) => i.comment).sort(), ["id_ecdsa", "id_ed25519", "id_rsa"]);
  });

  it("signatures verify: ed25519, ecdsa, rsa-sha2-256 and rsa-sha2-512", async () => {
    const ids = await agent.identities();
    let checked = 0;
    for (const id of ids) {
      const pub = parsePublicKey(id.blob);
      for (const algorithm of id.algorithms) {
        const sig = await agent.sign(id.blob, data, { algorithm });
        assert.equal(decodeSignature(sig).algorithm, algorithm);
        assert.ok(await pub.verify(sig, data, { algorithm }), `${algorithm} verifies`);
        assert.ok(
          !(await pub.verify(sig, new Uint8Array([1]), { algorithm })),
          "not for other data",
        );
        checked++;
      }
    }
    assert.equal(checked, 4);
  });

  it("refusals are AgentErrors: an unknown key", async () => {
    const other = await generatePrivateKey("ssh-ed25519");
    await assert.rejects(
      agent.sign(other.publicKey.blob, data, { algorithm: "ssh-ed25519" }),
      AgentError,
    );
  });

  it("adds and removes keys in ssh-agent (ADD_IDENTITY, REMOVE_IDENTITY)", async () => {
    const env = { ...process.env, SSH_AUTH_SOCK: agentProc.sock };
    for (const type of ["ssh-ed25519", "ecdsa-sha2-nistp384", "ssh-rsa"]) {
      const key = await generatePrivateKey(type, type === "ssh-rsa" ? { bits: 2048 } : {});
      await agent.addIdentity(key, `added ${type}`);
      let listed = await runProcess(sshAddBin, ["-l"], { timeoutMs: 20_000, env });
      assert.ok(listed.stdout.includes(key.publicKey.fingerprint()), listed.stdout);
      assert.ok(listed.stdout.includes(`added ${type}`));
      // ssh-agent signs with the key we sent it.
      const alg = key.algorithms[0];
      const sig = await agent.sign(key.publicKey.blob, data, { algorithm: alg });
      assert.ok(await key.publicKey.verify(sig, data, { algorithm: alg }));
      await agent.removeIdentity(key.publicKey.blob);
      listed = await runProcess(sshAddBin, ["-l"], { timeoutMs: 20_000, env });
      assert.ok(!listed.stdout.includes(key.publicKey.fingerprint()));
    }
    assert.equal((await agent.identities()).length, 3);
  });

  it("our client logs into sshd with the agent (auth method agent), per key type", async () => {
    for (const k of keys) {
      // Only this key is authorized: the agent must sign with it (rsa via the SHA-2 flags).
      fs.writeFileSync(path.join(sshd.dir, "authorized_keys"), k.pubLine + "\n");
      const client = await connect({
        host: "127.0.0.1",
        port: sshd.port,
        username: user,
        authMethods: [{ type: "agent", agent }],
        hostKey: pinnedHostKey(sshd),
      });
      const r = await client.exec("echo logged-in");
      assert.equal(td.decode(r.stdout), "logged-in\n", k.key.type);
      await client.close();
    }
  });
});

describe("our memoryAgent on a unix socket, used by OpenSSH", { skip }, () => {
  let dir: string;
  let agent: MemoryAgent;
  let socket: { path: string; close(): Promise<void> };
  let sshd: Sshd;
  let keys: PrivateKey[];
  let env: Record<string, string | undefined>;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-memagent-"));
    keys = [
      await generatePrivateKey("ssh-ed25519"),
      await generatePrivateKey("ecdsa-sha2-nistp256"),
      await generatePrivateKey("ssh-rsa", { bits: 2048 }),
    ];
    agent = memoryAgent(keys.map((key, i) => ({ key, comment: `ours-${i}` })));
    socket = await listenAgent(path.join(dir, "agent.sock"), agent);
    env = { ...process.env, SSH_AUTH_SOCK: socket.path };
    sshd = await startSshd({ config: { PermitRootLogin: "yes", LogLevel: "INFO" } });
  });
  after(async () => {
    await socket?.close();
    await sshd?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("ssh-add -l lists our keys", async () => {
    const r = await runProcess(sshAddBin, ["-l"], { timeoutMs: 20_000, env });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      listedFingerprints(r.stdout),
      keys.map((k) => k.publicKey.fingerprint()).sort(),
    );
    for (const c of ["ours-0", "ours-1", "ours-2"]) assert.ok(r.stdout.includes(c));
    const L = await runProcess(sshAddBin, ["-L"], { timeoutMs: 20_000, env });
    const lines = L.stdout.trim().split("\n").map((l) => parsePublicKeyLine(l));
    assert.deepEqual(lines.map((l) => l.comment), ["ours-0", "ours-1", "ours-2"]);
  });

  it("ssh-add adds a key file to our agent, -d and -D remove", async () => {
    const k = await keygen(dir, "added_ecdsa", ["-t", "ecdsa", "-b", "384"]);
    let r = await runProcess(sshAddBin, [k.file], { timeoutMs: 20_000, env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(agent.keys.length, 4);
    // The key we received signs like the original.
    const held = agent.keys[3];
    const sig = await held.sign("ecdsa-sha2-nistp384", data);
    assert.ok(await k.key.publicKey.verify(sig, data, { algorithm: "ecdsa-sha2-nistp384" }));
    r = await runProcess(sshAddBin, ["-d", k.file], { timeoutMs: 20_000, env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(agent.keys.length, 3);
    // A lifetime constraint (ssh-add -t) is refused, not ignored.
    r = await runProcess(sshAddBin, ["-t", "60", k.file], { timeoutMs: 20_000, env });
    assert.notEqual(r.code, 0);
    assert.equal(agent.keys.length, 3);
    const extra = memoryAgent();
    const s2 = await listenAgent(path.join(dir, "agent2.sock"), extra);
    const env2 = { ...process.env, SSH_AUTH_SOCK: s2.path };
    await runProcess(sshAddBin, [k.file], { timeoutMs: 20_000, env: env2 });
    assert.equal(extra.keys.length, 1);
    r = await runProcess(sshAddBin, ["-D"], { timeoutMs: 20_000, env: env2 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(extra.keys.length, 0);
    await s2.close();
    assert.ok(!fs.existsSync(s2.path));
  });

  it("ssh logs into sshd with a key only our agent holds (ed25519, ecdsa, rsa)", async () => {
    for (const key of keys) {
      fs.writeFileSync(path.join(sshd.dir, "authorized_keys"), formatPublicKeyLine(key.publicKey));
      const r = await runSsh([
        ...SSH_OPTS,
        "-o",
        `IdentityAgent=${socket.path}`,
        "-o",
        "IdentityFile=/dev/null",
        "-p",
        String(sshd.port),
        "-l",
        user,
        "127.0.0.1",
        "echo via-our-agent",
      ], { timeoutMs: 30_000, env });
      assert.equal(r.stdout, "via-our-agent\n", `${key.type}: ${r.stderr}`);
      assert.equal(r.code, 0);
    }
  });
});

describe("agent forwarding", { skip }, () => {
  let dir: string;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-fwd-"));
  });
  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("ssh -A (real ssh-agent) into our server: the remote ssh-add -l lists the agent's keys", async () => {
    const agentProc = await startSshAgent(dir);
    const env = { ...process.env, SSH_AUTH_SOCK: agentProc.sock };
    const k1 = await keygen(dir, "fwd_ed25519", ["-t", "ed25519"]);
    const k2 = await keygen(dir, "fwd_rsa", ["-t", "rsa", "-b", "2048"]);
    for (const k of [k1, k2]) {
      assert.equal((await runProcess(sshAddBin, [k.file], { timeoutMs: 20_000, env })).code, 0);
    }
    const socketsDir = fs.mkdtempSync(path.join(dir, "socks-"));
    const forwarding = agentForwardingHandler({ tmpDir: socketsDir });
    const restrictedKey = k2.key.publicKey.fingerprint();
    let restrict = false;
    const server = await listen({
      port: 0,
      hostKeys: [await generatePrivateKey("ssh-ed25519")],
      auth: {
        handlers: {
          publicKey: (_u, key) =>
            restrict && key.fingerprint() === restrictedKey ? { agentForwarding: false } : true,
        },
      },
      handlers: [forwarding],
      exec: forwarding.withAgentEnv(runLocalCommand),
    });
    try {
      const ssh = (extra: string[], command: string) =>
        runSsh([
          ...SSH_OPTS,
          ...extra,
          "-o",
          "IdentityFile=/dev/null",
          "-p",
          String(server.port),
          "-l",
          user,
          "127.0.0.1",
          command,
        ], { timeoutMs: 30_000, env });
      const r = await ssh(["-A"], "ssh-add -l; echo sock=$SSH_AUTH_SOCK");
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(
        listedFingerprints(r.stdout),
        [k1, k2].map((k) => k.key.publicKey.fingerprint()).sort(),
      );
      // sshd's layout: a private ssh-XXXXXX directory (0700) with agent.<pid>.
      const sock = /sock=(\S+)/.exec(r.stdout)?.[1] ?? "";
      assert.match(sock, new RegExp(`^${socketsDir}/ssh-[^/]+/agent\\.\\d+$`));
      // The socket is gone once the session ended.
      await new Promise((res) => setTimeout(res, 200));
      assert.ok(!fs.existsSync(sock), "the agent socket is removed after the session");

      // The remote side can use the forwarded agent to sign (ssh-keygen -Y sign via ssh-add -L).
      const sign = await ssh(["-A"], "ssh-add -L | head -1");
      assert.equal(sign.code, 0, sign.stderr);
      assert.ok(sign.stdout.startsWith("ssh-"), sign.stdout);

      // Without -A there is no socket.
      const none = await ssh([], "echo sock=${SSH_AUTH_SOCK:-none}");
      assert.ok(!none.stdout.includes(socketsDir), none.stdout);

      // A key restricted with no-agent-forwarding: refused.
      restrict = true;
      const refused = await ssh([
        "-A",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        `IdentityFile=${k2.file}`,
      ], "echo sock=${SSH_AUTH_SOCK:-none}");
      assert.equal(refused.code, 0, refused.stderr);
      assert.ok(!refused.stdout.includes(socketsDir), refused.stdout);
    } finally {
      server.close();
      await forwarding.close();
      await agentProc.stop();
    }
  });

  it("ssh -A into our server with plain runLocalCommand: SSH_AUTH_SOCK comes through setEnv", async () => {
    const agentProc = await startSshAgent(fs.mkdtempSync(path.join(dir, "plain-")));
    const env = { ...process.env, SSH_AUTH_SOCK: agentProc.sock };
    const k = await keygen(dir, "plain_ecdsa", ["-t", "ecdsa", "-b", "256"]);
    assert.equal((await runProcess(sshAddBin, [k.file], { timeoutMs: 20_000, env })).code, 0);
    const forwarding = agentForwardingHandler();
    const server = await listen({
      port: 0,
      hostKeys: [await generatePrivateKey("ssh-ed25519")],
      auth: { handlers: { publicKey: () => true } },
      handlers: [forwarding],
      exec: runLocalCommand,
    });
    try {
      for (let i = 0; i < 3; i++) {
        const r = await runSsh([
          ...SSH_OPTS,
          "-A",
          "-o",
          "IdentityFile=/dev/null",
          "-p",
          String(server.port),
          "-l",
          user,
          "127.0.0.1",
          "ssh-add -l",
        ], { timeoutMs: 30_000, env });
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(listedFingerprints(r.stdout), [k.key.publicKey.fingerprint()]);
      }
    } finally {
      server.close();
      await forwarding.close();
      await agentProc.stop();
    }
  });

  it("our client with enableAgentForwarding into sshd: the remote ssh-add -l lists our keys", async () => {
    const login = await generatePrivateKey("ssh-ed25519");
    const keys = [
      await generatePrivateKey("ssh-ed25519"),
      await generatePrivateKey("ecdsa-sha2-nistp256"),
      await generatePrivateKey("ssh-rsa", { bits: 2048 }),
    ];
    const agent = memoryAgent(keys.map((key, i) => ({ key, comment: `forwarded-${i}` })));
    const sshd = await startSshd({
      config: { PermitRootLogin: "yes", AllowAgentForwarding: "yes", LogLevel: "INFO" },
    });
    try {
      fs.writeFileSync(
        path.join(sshd.dir, "authorized_keys"),
        [login, ...keys].map((k) => formatPublicKeyLine(k.publicKey)).join("\n") + "\n",
      );
      const client = await connect({
        host: "127.0.0.1",
        port: sshd.port,
        username: user,
        privateKeys: [login],
        hostKey: pinnedHostKey(sshd),
      });
      try {
        // Before the request, no agent for the session (sshd then keeps one per connection).
        const plain = await client.exec("echo ${SSH_AUTH_SOCK:-none}");
        assert.equal(td.decode(plain.stdout), "none\n");
        const forward = enableAgentForwarding(client, agent);
        const r = await client.exec("ssh-add -l", { requests: [forward] });
        assert.equal(r.code, 0, td.decode(r.stderr));
        assert.deepEqual(
          listedFingerprints(td.decode(r.stdout)),
          keys.map((k) => k.publicKey.fingerprint()).sort(),
        );
        assert.ok(td.decode(r.stdout).includes("forwarded-2"));
        // Through the forwarded agent, the remote ssh logs back into sshd with our keys
        // (RSA signatures travel with the SHA-2 flags).
        const hop = await client.exec(
          `ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=no ` +
            `-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o IdentityFile=/dev/null ` +
            `-p ${sshd.port} -l ${user} 127.0.0.1 echo second-hop`,
          { requests: [forward] },
        );
        assert.equal(td.decode(hop.stdout), "second-hop\n", td.decode(hop.stderr));
      } finally {
        await client.close();
      }
    } finally {
      await sshd.stop();
    }
  });
});
