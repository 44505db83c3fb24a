// Sessions against the real OpenSSH, both directions, over loopback:
// commands with stdout, stderr and exit codes 0 and 42; 100 MiB through cat
// with matching SHA-256; a pty shell; env; window-change (our client).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import process from "node:process";
import {
  currentUser,
  findOpenSsh,
  pinnedHostKey,
  runProcess,
  type Sshd,
  startSshd,
} from "./_openssh.ts";
import { connect, type SshClient } from "../lib/client.ts";
import { listen, runLocalCommand, type SshServer } from "../lib/server.ts";
import { generatePrivateKey } from "../lib/keys/private_key.ts";
import type { PrivateKey } from "../lib/keys/types.ts";
import { hostKey } from "./_transport_pair.ts";
import { readUntil } from "./_streams.ts";

const openssh = findOpenSsh();
const skip = openssh
  ? false
  : "OpenSSH is not installed (.ci/run installs it; apt-get install openssh-server)";
const user = currentUser();
const td = new TextDecoder();
const MiB = 1024 * 1024;
const b64 = (b: Uint8Array) => btoa(String.fromCharCode(...b));

describe("our client against OpenSSH sshd: sessions", { skip }, () => {
  let sshd: Sshd;
  let key: PrivateKey;
  let client: SshClient;
  before(async () => {
    key = await generatePrivateKey("ssh-ed25519");
    // LogLevel INFO: at DEBUG levels sshd copies its debug lines into the session's stderr.
    sshd = await startSshd({
      config: { PermitRootLogin: "yes", AcceptEnv: "LANG RXSSH_*", LogLevel: "INFO" },
    });
    fs.writeFileSync(
      path.join(sshd.dir, "authorized_keys"),
      `ssh-ed25519 ${b64(key.publicKey.blob)}\n`,
    );
    client = await connect({
      host: "127.0.0.1",
      port: sshd.port,
      username: user,
      privateKeys: [key],
      hostKey: pinnedHostKey(sshd),
    });
  });
  after(async () => {
    await client?.close();
    await sshd?.stop();
  });

  it("exec: stdout, stderr, exit codes 0 and 42", async () => {
    const r = await client.exec("echo out; echo err >&2; exit 42");
    assert.equal(td.decode(r.stdout), "out\n");
    assert.equal(td.decode(r.stderr), "err\n");
    assert.equal(r.code, 42);
    assert.equal((await client.exec("true")).code, 0);
  });

  it("100 MiB through cat, SHA-256 equal both ways", async () => {
    const data = new Uint8Array(100 * MiB);
    for (let i = 0; i < data.length; i += 65536) {
      crypto.getRandomValues(data.subarray(i, i + 65536));
    }
    const r = await client.exec("cat", { stdin: data });
    assert.equal(r.code, 0);
    assert.equal(r.stdout.length, data.length);
    assert.equal(
      createHash("sha256").update(r.stdout).digest("hex"),
      createHash("sha256").update(data).digest("hex"),
    );
  });

  it("env reaches the command (AcceptEnv)", async () => {
    const r = await client.exec("echo $RXSSH_TEST", { env: { RXSSH_TEST: "from-rxssh" } });
    assert.equal(td.decode(r.stdout), "from-rxssh\n");
  });

  it("a pty shell: TERM, a tty, and window-change seen by stty", async () => {
    const s = await client.shell({
      pty: { term: "xterm-256color", cols: 80, rows: 24, widthPx: 0, heightPx: 0, modes: {} },
    });
    const w = s.stdin.getWriter();
    await w.write(new TextEncoder().encode("echo T=$TERM; tty; stty size\n"));
    const first = await readUntil(s.stdout, /24 80/);
    assert.match(first, /T=xterm-256color/);
    assert.match(first, /\/dev\/pts\/\d+/);
    await s.resize({ cols: 100, rows: 30 });
    await w.write(new TextEncoder().encode("stty size\n"));
    assert.match(await readUntil(s.stdout, /30 100/), /30 100/);
    await w.write(new TextEncoder().encode("exit 3\n"));
    w.releaseLock();
    s.stdout.cancel().catch(() => {});
    assert.equal((await s.exit).code, 3);
  });
});

describe("OpenSSH ssh against our server (rxssh running real commands)", { skip }, () => {
  let server: SshServer;
  let dir: string;
  let keyPath: string;
  let sshArgs: string[];
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-ssh-"));
    keyPath = path.join(dir, "id_ed25519");
    spawnSync(openssh!.sshKeygen, ["-q", "-t", "ed25519", "-N", "", "-f", keyPath]);
    const allowed = fs.readFileSync(keyPath + ".pub", "utf8").split(" ")[1];
    server = await listen({
      hostname: "127.0.0.1",
      port: 0,
      hostKeys: [await hostKey("ssh-ed25519"), await hostKey("ssh-rsa")],
      auth: {
        handlers: {
          publicKey: (u, k) => u === user && b64(k.blob) === allowed,
          password: (u, p) => u === user && p === "correct horse",
        },
        failureDelay: 1,
      },
      acceptEnv: ["LANG", "LC_*", "RXSSH_*"],
      exec: runLocalCommand,
      shell: runLocalCommand,
    });
    sshArgs = [
      "-F",
      "/dev/null",
      "-p",
      String(server.port),
      "-o",
      "StrictHostKeyChecking=no",
      "-o",
      `UserKnownHostsFile=${path.join(dir, "known_hosts")}`,
      "-o",
      "IdentitiesOnly=yes",
      "-i",
      keyPath,
    ];
  });
  after(() => {
    server?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  // ssh takes the first value of an option, so BatchMode=yes goes last unless a test sets it.
  const ssh = (args: string[], options: { input?: string; env?: Record<string, string> } = {}) =>
    runProcess(openssh!.ssh, [
      ...sshArgs,
      ...args.slice(0, -2),
      "-o",
      "BatchMode=yes",
      ...args.slice(-2),
    ], {
      timeoutMs: 60_000,
      input: options.input,
      env: options.env,
    });

  it("publickey login; stdout, stderr, exit codes 0 and 42", async () => {
    const r = await ssh([`${user}@127.0.0.1`, "echo out; echo err >&2; exit 42"]);
    assert.equal(r.stdout, "out\n");
    assert.match(r.stderr, /err\n/);
    assert.equal(r.code, 42);
    assert.equal((await ssh([`${user}@127.0.0.1`, "true"])).code, 0);
  });

  it("password login (SSH_ASKPASS)", async () => {
    const askpass = path.join(dir, "askpass.sh");
    fs.writeFileSync(askpass, "#!/bin/sh\necho 'correct horse'\n", { mode: 0o700 });
    const r = await ssh(
      [
        "-o",
        "BatchMode=no",
        "-o",
        "PreferredAuthentications=password",
        "-o",
        "NumberOfPasswordPrompts=1",
        `${user}@127.0.0.1`,
        "echo pw-ok",
      ],
      {
        env: {
          ...process.env,
          SSH_ASKPASS: askpass,
          SSH_ASKPASS_REQUIRE: "force",
          DISPLAY: ":0",
        } as Record<string, string>,
      },
    );
    assert.equal(r.stdout, "pw-ok\n", r.stderr);
    assert.equal(r.code, 0);
  });

  it("100 MiB through cat, SHA-256 equal", async () => {
    const file = path.join(dir, "blob");
    const fd = fs.openSync(file, "w");
    const chunk = new Uint8Array(MiB);
    for (let i = 0; i < 100; i++) {
      for (let o = 0; o < MiB; o += 65536) crypto.getRandomValues(chunk.subarray(o, o + 65536));
      fs.writeSync(fd, chunk);
    }
    fs.closeSync(fd);
    const want = createHash("sha256").update(fs.readFileSync(file)).digest("hex");
    const cmd = `'${openssh!.ssh}' ${
      sshArgs.map((a) => `'${a}'`).join(" ")
    } ${user}@127.0.0.1 cat < '${file}' | sha256sum`;
    const r = await runProcess("/bin/sh", ["-c", cmd], { timeoutMs: 120_000 });
    assert.equal(r.stdout.split(" ")[0], want, r.stderr);
  });

  it("a pty (-tt): TERM and a real tty; env via SetEnv", async () => {
    const r = await ssh([
      "-tt",
      "-o",
      "SetEnv=RXSSH_E=set-by-ssh",
      `${user}@127.0.0.1`,
      "echo T=$TERM E=$RXSSH_E; tty",
    ], {
      env: { ...process.env, TERM: "vt220" } as Record<string, string>,
    });
    assert.match(r.stdout, /T=vt220 E=set-by-ssh/);
    assert.match(r.stdout, /\/dev\/pts\/\d+/);
    assert.equal(r.code, 0);
  });
});
