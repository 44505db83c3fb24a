// Our SFTP client over our SSH client against OpenSSH's sshd with
// `Subsystem sftp internal-sftp`: SHA-256-checked get and put of 0 B, 1 B,
// 1 MiB and 200 MiB; a tree of 1,000 files with modes and mtimes; every
// extension internal-sftp implements; sshd killed mid-transfer.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { currentUser, findOpenSsh, pinnedHostKey, type Sshd, startSshd } from "./_openssh.ts";
import { connect, type SshClient } from "../lib/client.ts";
import { generatePrivateKey } from "../lib/keys/private_key.ts";
import { sftp, type SftpClient } from "../lib/sftp/client.ts";
import { SftpConnectionError, SftpTransferError } from "../lib/sftp/errors.ts";

const openssh = findOpenSsh();
const skip = openssh
  ? false
  : "OpenSSH is not installed (.ci/run installs it; apt-get install openssh-server)";
const MiB = 1024 * 1024;
const b64 = (b: Uint8Array) => btoa(String.fromCharCode(...b));

/** Writes `size` random bytes to `file` and returns their SHA-256. */
function randomFile(file: string, size: number): string {
  const hash = createHash("sha256");
  const fd = fs.openSync(file, "w");
  const chunk = new Uint8Array(4 * MiB);
  try {
    for (let done = 0; done < size;) {
      const n = Math.min(chunk.length, size - done);
      for (let i = 0; i < n; i += 65536) crypto.getRandomValues(chunk.subarray(i, i + 65536));
      fs.writeSync(fd, chunk, 0, n);
      hash.update(chunk.subarray(0, n));
      done += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest("hex");
}

function sha256File(file: string): string {
  const hash = createHash("sha256");
  const fd = fs.openSync(file, "r");
  const buf = new Uint8Array(4 * MiB);
  try {
    for (let n; (n = fs.readSync(fd, buf)) > 0;) hash.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest("hex");
}

describe("our SFTP client against sshd's internal-sftp", { skip }, () => {
  let sshd: Sshd;
  let client: SshClient;
  let s: SftpClient;
  let dir: string;
  before(async () => {
    const key = await generatePrivateKey("ssh-ed25519");
    // LogLevel INFO: at DEBUG levels internal-sftp logs every request, which slows it down.
    sshd = await startSshd({
      config: { PermitRootLogin: "yes", LogLevel: "INFO", Subsystem: "sftp internal-sftp" },
    });
    fs.writeFileSync(
      path.join(sshd.dir, "authorized_keys"),
      `ssh-ed25519 ${b64(key.publicKey.blob)}\n`,
    );
    client = await connect({
      host: "127.0.0.1",
      port: sshd.port,
      username: currentUser(),
      privateKeys: [key],
      hostKey: pinnedHostKey(sshd),
    });
    s = await sftp(client);
    dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-sftpi-")));
  });
  after(async () => {
    await s?.close();
    await client?.close();
    await sshd?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });
  const p = (name: string) => path.join(dir, name);

  it("the subsystem starts; limits@openssh.com sizes reads at 261,120 bytes", () => {
    assert.equal(s.version, 3);
    assert.equal(s.readBlockSize, 261120);
    assert.equal(s.writeBlockSize, 261120);
  });

  for (const size of [0, 1, MiB, 200 * MiB]) {
    it(`put then get of ${size} bytes, SHA-256 equal`, { timeout: 60_000 }, async () => {
      const src = p(`src-${size}`);
      const digest = randomFile(src, size);
      const up = await s.put(src, p(`up-${size}`));
      assert.equal(up.bytes, size);
      assert.equal(sha256File(p(`up-${size}`)), digest);
      fs.rmSync(src);
      const down = await s.get(p(`up-${size}`), p(`down-${size}`));
      assert.equal(down.bytes, size);
      assert.equal(sha256File(p(`down-${size}`)), digest);
      fs.rmSync(p(`up-${size}`));
      fs.rmSync(p(`down-${size}`));
    });
  }

  it("a tree of 1,000 files round-trips with modes and mtimes", { timeout: 60_000 }, async () => {
    const src = p("tree");
    for (let i = 0; i < 1000; i++) {
      const d = path.join(src, `d${i % 7}`);
      fs.mkdirSync(d, { recursive: true });
      const f = path.join(d, `f${i}`);
      fs.writeFileSync(f, `${i}\n`.repeat(i % 50));
      fs.chmodSync(f, [0o644, 0o600, 0o755, 0o640][i % 4]);
      fs.utimesSync(f, 1_300_000_000 + i, 1_300_000_000 + i * 7);
    }
    const up = await s.put(src, p("tree.up"), { recursive: true, preserve: true });
    assert.equal(up.files, 1000);
    const down = await s.get(p("tree.up"), p("tree.down"), { recursive: true, preserve: true });
    assert.equal(down.files, 1000);
    for (let i = 0; i < 1000; i++) {
      const rel = path.join(`d${i % 7}`, `f${i}`);
      const a = fs.statSync(path.join(src, rel));
      const b = fs.statSync(path.join(p("tree.down"), rel));
      assert.equal(b.mode & 0o777, a.mode & 0o777, rel);
      assert.equal(Math.floor(b.mtimeMs / 1000), 1_300_000_000 + i * 7, rel);
      assert.equal(b.size, a.size, rel);
    }
  });

  it("every extension internal-sftp implements", async () => {
    fs.writeFileSync(p("x1"), "abcdef");
    fs.writeFileSync(p("x2"), "old");
    await s.posixRename(p("x2"), p("x1.moved"));
    assert.equal(fs.readFileSync(p("x1.moved"), "utf8"), "old");
    const v = await s.statvfs(dir);
    assert.ok(v.frsize > 0);
    const h = await s.open(p("x1"), { flags: "r" });
    assert.equal((await s.fstatvfs(h)).fsid, v.fsid);
    await s.hardlink(p("x1"), p("x1.hard"));
    assert.equal(fs.statSync(p("x1")).ino, fs.statSync(p("x1.hard")).ino);
    await s.symlink("x1", p("x1.sym"));
    await s.lsetstat(p("x1.sym"), { atime: 1_234_567_890, mtime: 1_234_567_890 });
    assert.equal(Math.floor(fs.lstatSync(p("x1.sym")).mtimeMs / 1000), 1_234_567_890);
    assert.deepEqual(await s.fetchLimits(), s.limits);
    const home = await s.expandPath("~");
    assert.equal(home, await s.realpath("."));
    const names = await s.usersGroupsById([process.getuid?.() ?? 0], [0]);
    assert.equal(names.users[0], currentUser());
    assert.equal(await s.homeDirectory(currentUser()), home);
    const out = await s.open(p("x3"), { flags: "w" });
    await s.copyData(h, out, { fromOffset: 2, length: 3 });
    await s.fsync(out);
    await s.closeHandle(out);
    await s.closeHandle(h);
    assert.equal(fs.readFileSync(p("x3"), "utf8"), "cde");
  });

  // Last: it stops sshd.
  it("sshd killed mid-get: a typed error with the bytes written, nothing under the final name", {
    timeout: 60_000,
  }, async () => {
    randomFile(p("big"), 64 * MiB);
    const t = s.get(p("big"), p("big.copy"));
    let stopping: Promise<void> | undefined;
    t.progress$.subscribe({
      next: (r) => void (r.bytes > 0 && (stopping ??= sshd.stop())),
      error: () => {},
    });
    const err = await t.done.catch((e) => e);
    await stopping;
    assert.ok(err instanceof SftpTransferError, String(err));
    assert.ok(err.cause instanceof SftpConnectionError, String(err.cause));
    assert.ok(err.bytesTransferred > 0 && err.bytesTransferred < 64 * MiB);
    assert.equal(fs.existsSync(p("big.copy")), false);
    assert.equal(fs.statSync(err.partialPath!).size, err.bytesTransferred);
  });
});
