import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { currentUser, findOpenSsh, runProcess, runSsh, startSshd } from "./_openssh.ts";

const openssh = findOpenSsh();
const skip = openssh
  ? false
  : "OpenSSH is not installed (needs ssh, /usr/sbin/sshd, ssh-keygen: apt-get install openssh-server openssh-client)";

/** Reads from a raw TCP socket up to the first CRLF (the SSH version line). */
function readBanner(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection({ host: "127.0.0.1", port });
    let text = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no banner within 5 s; got ${JSON.stringify(text)}`));
    }, 5000);
    socket.on("data", (chunk: Uint8Array) => {
      text += new TextDecoder().decode(chunk);
      const end = text.indexOf("\r\n");
      if (end >= 0) {
        clearTimeout(timer);
        socket.destroy();
        resolve(text.slice(0, end));
      }
    });
    socket.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.createConnection({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

describe("OpenSSH test harness", () => {
  it("starts sshd on loopback, which sends its banner, and stops it", { skip }, async () => {
    const sshd = await startSshd({ hostKeyTypes: ["ed25519", "ecdsa256", "rsa3072"] });
    try {
      assert.ok(sshd.port > 0);
      assert.ok(sshd.dir && fs.existsSync(sshd.configPath));
      assert.deepEqual(sshd.hostKeys.map((k) => k.algorithm), [
        "ssh-ed25519",
        "ecdsa-sha2-nistp256",
        "ssh-rsa",
      ]);
      for (const k of sshd.hostKeys) {
        assert.match(k.pubLine, /^[a-z0-9-]+ [A-Za-z0-9+/=]+$/);
        assert.ok(fs.existsSync(k.path) && fs.existsSync(k.pubPath));
      }
      const banner = await readBanner(sshd.port);
      assert.match(banner, /^SSH-2\.0-OpenSSH_/);
      assert.match(sshd.log(), /debug/); // LogLevel DEBUG3, captured
    } finally {
      await sshd.stop();
    }
    assert.equal(await canConnect(sshd.port), false, "sshd still listening after stop()");
    assert.equal(fs.existsSync(sshd.dir), false, "stop() removes the temp dir");
    await sshd.stop(); // idempotent
  });

  it("runs ssh against it: public key login, command output", { skip }, async () => {
    const keyDir = fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-client-key-"));
    try {
      const key = path.join(keyDir, "id_ed25519");
      const gen = await runProcess(
        openssh!.sshKeygen,
        ["-q", "-t", "ed25519", "-N", "", "-C", "", "-f", key],
        { timeoutMs: 20_000 },
      );
      assert.equal(gen.code, 0, gen.stderr);
      const authorizedKeys = path.join(keyDir, "authorized_keys");
      fs.copyFileSync(`${key}.pub`, authorizedKeys);
      const sshd = await startSshd({
        config: { AuthorizedKeysFile: authorizedKeys, PermitRootLogin: "prohibit-password" },
      });
      try {
        const knownHosts = path.join(keyDir, "known_hosts");
        fs.writeFileSync(knownHosts, `[127.0.0.1]:${sshd.port} ${sshd.hostKeys[0].pubLine}\n`);
        const r = await runSsh([
          "-F",
          "/dev/null",
          "-p",
          String(sshd.port),
          "-i",
          key,
          "-o",
          "BatchMode=yes",
          "-o",
          "IdentitiesOnly=yes",
          "-o",
          `UserKnownHostsFile=${knownHosts}`,
          "-o",
          "StrictHostKeyChecking=yes",
          "-l",
          currentUser(),
          "127.0.0.1",
          "cat; echo from-sshd",
        ], { timeoutMs: 30_000, input: "piped-input\n" });
        assert.equal(r.timedOut, false);
        assert.equal(r.code, 0, `ssh failed: ${r.stderr}\n--- sshd log ---\n${sshd.log()}`);
        assert.equal(r.stdout, "piped-input\nfrom-sshd\n");
      } finally {
        await sshd.stop();
      }
    } finally {
      fs.rmSync(keyDir, { recursive: true, force: true });
    }
  });

  it("kills ssh when it exceeds its timeout", { skip }, async () => {
    // A server that accepts and never answers: ssh waits for a banner forever.
    const silent = net.createServer(() => {});
    await new Promise<void>((r) => silent.listen({ host: "127.0.0.1", port: 0 }, () => r()));
    const sockets: net.Socket[] = [];
    silent.on("connection", (s: net.Socket) => sockets.push(s));
    try {
      const port = (silent.address() as net.AddressInfo).port;
      const started = Date.now();
      const r = await runSsh(
        ["-F", "/dev/null", "-p", String(port), "-o", "BatchMode=yes", "127.0.0.1", "true"],
        { timeoutMs: 500 },
      );
      assert.equal(r.timedOut, true);
      assert.equal(r.signal, "SIGKILL");
      assert.ok(Date.now() - started < 5000);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
    }
  });
});
