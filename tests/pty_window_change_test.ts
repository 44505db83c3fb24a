// Real ptys on our server (runLocalCommand under script(1)): window-change
// from our client and from OpenSSH's ssh running inside tmux reaches the
// shell (stty size), and env arrives.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import process from "node:process";
import { connect } from "../lib/client.ts";
import { listen, runLocalCommand, type SshServer } from "../lib/server.ts";
import { currentUser, findOpenSsh } from "./_openssh.ts";
import { hostKey } from "./_transport_pair.ts";
import { readUntil } from "./_streams.ts";

const haveScript = spawnSync("script", ["--version"]).status === 0;
const haveTmux = spawnSync("tmux", ["-V"]).status === 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("window-change on our server's real pty", {
  skip: haveScript ? false : "script(1) (util-linux) is missing",
}, () => {
  let server: SshServer;
  let fingerprint: string;
  let dir: string;
  before(async () => {
    const key = await hostKey("ssh-ed25519");
    fingerprint = key.publicKey.fingerprint();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-pty-"));
    server = await listen({
      hostname: "127.0.0.1",
      port: 0,
      hostKeys: [key],
      auth: { handlers: { password: (_u, p) => p === "pty-test" }, failureDelay: 1 },
      acceptEnv: ["RXSSH_*"],
      exec: runLocalCommand,
      shell: runLocalCommand,
    });
  });
  after(() => {
    server?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("our client: stty size follows resize()", async () => {
    const client = await connect({
      host: "127.0.0.1",
      port: server.port,
      username: currentUser(),
      password: "pty-test",
      hostKey: { fingerprint },
    });
    const s = await client.shell({
      pty: { term: "xterm", cols: 80, rows: 24, widthPx: 0, heightPx: 0, modes: {} },
      env: { RXSSH_PTY: "yes" },
    });
    const w = s.stdin.getWriter();
    const enc = new TextEncoder();
    await w.write(enc.encode("echo E=$RXSSH_PTY; stty size\n"));
    const first = await readUntil(s.stdout, /24 80/);
    assert.match(first, /E=yes/);
    await s.resize({ cols: 132, rows: 43 });
    await sleep(200);
    await w.write(enc.encode("stty size\n"));
    assert.match(await readUntil(s.stdout, /43 132/), /43 132/);
    await w.write(enc.encode("exit 5\n"));
    w.releaseLock();
    s.stdout.cancel().catch(() => {});
    assert.equal((await s.exit).code, 5);
    await client.close();
  });

  it("OpenSSH ssh in tmux: a pty shell, env, and a tmux resize seen by stty", {
    skip: haveTmux && findOpenSsh() ? false : "tmux or OpenSSH missing",
  }, async () => {
    const askpass = path.join(dir, "askpass.sh");
    fs.writeFileSync(askpass, "#!/bin/sh\necho pty-test\n", { mode: 0o700 });
    const sock = path.join(dir, "tmux.sock");
    const ssh = [
      findOpenSsh()!.ssh,
      "-tt",
      "-F",
      "/dev/null",
      "-p",
      String(server.port),
      "-o",
      "StrictHostKeyChecking=no",
      "-o",
      "UserKnownHostsFile=/dev/null",
      "-o",
      "LogLevel=ERROR",
      "-o",
      "PreferredAuthentications=password",
      "-o",
      "SetEnv=RXSSH_TMUX=from-ssh",
      `${currentUser()}@127.0.0.1`,
    ].map((a) => `'${a}'`).join(" ");
    const env = {
      ...process.env,
      SSH_ASKPASS: askpass,
      SSH_ASKPASS_REQUIRE: "force",
      DISPLAY: ":0",
    };
    const tmux = (...args: string[]) =>
      spawnSync("tmux", ["-S", sock, ...args], { encoding: "utf8", env, timeout: 10_000 });
    try {
      assert.equal(tmux("new-session", "-d", "-x", "80", "-y", "24", ssh).status, 0);
      const pane = async (pattern: RegExp) => {
        for (let i = 0; i < 100; i++) {
          const text = tmux("capture-pane", "-p").stdout;
          if (pattern.test(text)) return text;
          await sleep(100);
        }
        throw new Error(`pane never showed ${pattern}:\n${tmux("capture-pane", "-p").stdout}`);
      };
      await sleep(500);
      tmux("send-keys", "echo E=$RXSSH_TMUX; stty size", "Enter");
      await pane(/E=from-ssh[\s\S]*24 80/);
      tmux("resize-window", "-x", "100", "-y", "30");
      await sleep(500);
      tmux("send-keys", "clear; stty size", "Enter");
      await pane(/30 100/);
      tmux("send-keys", "exit", "Enter");
    } finally {
      tmux("kill-server");
    }
  });
});
