// FsBackend: paths resolve under the root as in a chroot (.., absolute
// paths, links with absolute and relative targets, hardlinks and renames
// out), final links are never opened, the umask is exact, and directory
// listings carry the `ls -l` lines OpenSSH's sftp-server sends for the same
// directory.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { FsBackend } from "./fs_backend.ts";
import { statusOf } from "./backend.ts";
import {
  decodeHello,
  decodeResponse,
  encodeHello,
  encodeRequest,
  FX,
  type NameEntry,
  OpenFlags,
  SftpFramer,
} from "./packets.ts";

const td = new TextDecoder();
const te = new TextEncoder();

async function code(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return FX.OK;
  } catch (e) {
    return statusOf(e);
  }
}

async function readAll(b: FsBackend, p: string): Promise<string> {
  const f = await b.open(p, OpenFlags.READ, {});
  try {
    return td.decode((await f.read(0, 1 << 16)) ?? new Uint8Array(0));
  } finally {
    await f.close();
  }
}

describe("FsBackend", () => {
  let base: string;
  let root: string;
  let b: FsBackend;

  before(() => {
    base = fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-fsbackend-"));
    root = path.join(base, "root");
    fs.mkdirSync(path.join(root, "pub/deeper"), { recursive: true });
    fs.writeFileSync(path.join(base, "secret"), "secret\n");
    fs.writeFileSync(path.join(root, "secret"), "decoy\n");
    fs.writeFileSync(path.join(root, "pub/file"), "file\n");
    fs.symlinkSync(path.join(base, "secret"), path.join(root, "pub/abs"));
    fs.symlinkSync("../../secret", path.join(root, "pub/rel"));
    fs.symlinkSync("../../../..", path.join(root, "pub/up"));
    fs.symlinkSync(base, path.join(root, "pub/dirout"));
    fs.symlinkSync("loop2", path.join(root, "pub/loop1"));
    fs.symlinkSync("loop1", path.join(root, "pub/loop2"));
    b = new FsBackend({ root, start: "/pub", umask: 0o027 });
  });
  after(() => fs.rmSync(base, { recursive: true, force: true }));

  it("resolves .. and absolute paths under the root, as a chroot does", async () => {
    assert.equal(await b.realpath("."), "/pub");
    assert.equal(await b.realpath("../../../.."), "/");
    assert.equal(await b.realpath("/../../secret"), "/secret");
    assert.equal(await readAll(b, "../../../secret"), "decoy\n");
    assert.equal(await readAll(b, "/../secret"), "decoy\n");
    assert.equal(await code(b.stat(path.join(base, "secret"))), FX.NO_SUCH_FILE);
    assert.equal(await b.realpath("missing"), "/pub/missing");
    assert.equal(await code(b.realpath("missing/deeper")), FX.NO_SUCH_FILE);
  });

  it("follows links inside the root only: absolute targets start at the root, .. stops there", async () => {
    // abs -> BASE/secret: that path does not exist under the root.
    assert.equal(await code(b.open("abs", OpenFlags.READ, {})), FX.NO_SUCH_FILE);
    assert.equal(await code(b.stat("abs")), FX.NO_SUCH_FILE);
    // rel -> ../../secret from /pub: the root's own secret.
    assert.equal(await readAll(b, "rel"), "decoy\n");
    assert.equal(await b.realpath("up"), "/");
    assert.equal(await b.realpath("up/pub/file"), "/pub/file");
    assert.equal(await code(b.opendir("dirout")), FX.NO_SUCH_FILE);
    assert.equal(await code(b.open("dirout/secret", OpenFlags.READ, {})), FX.NO_SUCH_FILE);
    assert.equal(
      await code(b.open("dirout/planted", OpenFlags.WRITE | OpenFlags.CREAT, {})),
      FX.NO_SUCH_FILE,
    );
    assert.equal(await code(b.stat("loop1")), FX.NO_SUCH_FILE); // ELOOP
    // lstat and readlink see the link itself, target as stored.
    assert.equal(await b.readlink("abs"), path.join(base, "secret"));
    assert.equal((await b.lstat("abs")).permissions! & 0o170000, 0o120000);
    assert.equal(fs.existsSync(path.join(base, "planted")), false);
  });

  it("hardlinks and renames never reach outside the root", async () => {
    // Links to the outside secret: resolved under the root, where it does not exist.
    assert.equal(await code(b.hardlink(path.join(base, "secret"), "h1")), FX.NO_SUCH_FILE);
    assert.equal(await code(b.hardlink("dirout/secret", "h2")), FX.NO_SUCH_FILE);
    // A link of the link itself (link(2) does not follow): still a link resolved inside.
    assert.equal(await code(b.hardlink("abs", "h3")), FX.OK);
    assert.equal(await code(b.open("h3", OpenFlags.READ, {})), FX.NO_SUCH_FILE);
    assert.equal(fs.statSync(path.join(base, "secret")).nlink, 1);
    // A hardlink placed "outside" lands inside.
    assert.equal(await code(b.hardlink("file", "../../../h4")), FX.OK);
    assert.ok(fs.existsSync(path.join(root, "h4")));
    assert.ok(!fs.existsSync(path.join(base, "h4")));
    // Renames out: clamped at the root, or through a link that leads out: refused.
    fs.writeFileSync(path.join(root, "pub/mv"), "mv\n");
    assert.equal(await code(b.rename("mv", "../../../moved")), FX.OK);
    assert.ok(fs.existsSync(path.join(root, "moved")));
    assert.equal(await code(b.rename("/moved", "dirout/moved")), FX.NO_SUCH_FILE);
    assert.equal(await code(b.posixRename("/moved", `${base}/moved`)), FX.NO_SUCH_FILE);
    assert.equal(await code(b.rename(`${base}/secret`, "stolen")), FX.NO_SUCH_FILE);
    assert.deepEqual(fs.readdirSync(base).sort(), ["root", "secret"]);
    // rename refuses to replace; posix-rename replaces.
    fs.writeFileSync(path.join(root, "pub/a"), "a\n");
    fs.writeFileSync(path.join(root, "pub/b"), "b\n");
    assert.equal(await code(b.rename("a", "b")), FX.FAILURE);
    assert.equal(await code(b.posixRename("a", "b")), FX.OK);
    assert.equal(fs.readFileSync(path.join(root, "pub/b"), "utf8"), "a\n");
  });

  it("a symlink may point anywhere, but is followed inside the root", async () => {
    assert.equal(await code(b.symlink(path.join(base, "secret"), "made")), FX.OK);
    assert.equal(fs.readlinkSync(path.join(root, "pub/made")), path.join(base, "secret"));
    assert.equal(await code(b.open("made", OpenFlags.READ, {})), FX.NO_SUCH_FILE);
    assert.equal(await code(b.symlink("x", "/../../made2")), FX.OK);
    assert.ok(fs.lstatSync(path.join(root, "made2")).isSymbolicLink());
  });

  it("a file swapped for a link leading out is followed inside the root; remove takes the link", async () => {
    const f = await b.open("swap", OpenFlags.WRITE | OpenFlags.CREAT, {});
    await f.close();
    fs.rmSync(path.join(root, "pub/swap"));
    fs.symlinkSync(path.join(base, "secret"), path.join(root, "pub/swap"));
    assert.equal(await code(b.open("swap", OpenFlags.READ, {})), FX.NO_SUCH_FILE);
    // remove takes the link itself.
    assert.equal(await code(b.remove("swap")), FX.OK);
    assert.ok(fs.existsSync(path.join(base, "secret")));
  });

  it("applies the umask exactly to created files and directories, not to existing ones", async () => {
    const f = await b.open("um", OpenFlags.WRITE | OpenFlags.CREAT, { permissions: 0o777 });
    await f.write(0, te.encode("x"));
    await f.close();
    assert.equal(fs.statSync(path.join(root, "pub/um")).mode & 0o777, 0o750);
    fs.chmodSync(path.join(root, "pub/um"), 0o666);
    const g = await b.open("um", OpenFlags.WRITE | OpenFlags.CREAT, { permissions: 0o777 });
    await g.close();
    assert.equal(fs.statSync(path.join(root, "pub/um")).mode & 0o777, 0o666);
    await b.mkdir("umd", { permissions: 0o777 });
    assert.equal(fs.statSync(path.join(root, "pub/umd")).mode & 0o777, 0o750);
    assert.equal(
      await code(b.open("um", OpenFlags.WRITE | OpenFlags.CREAT | OpenFlags.EXCL, {})),
      FX.FAILURE,
    );
  });

  it("without a root (/), paths go to the kernel: relative to the start, links followed anywhere", async () => {
    const whole = new FsBackend({ start: path.join(root, "pub") });
    assert.equal(await whole.realpath("."), fs.realpathSync(path.join(root, "pub")));
    assert.equal(await whole.realpath("missing"), path.join(fs.realpathSync(root), "pub/missing"));
    assert.equal(await readAll(whole, "abs"), "secret\n"); // no root to keep
    assert.equal((await whole.stat("abs")).size, 7);
    await whole.setstat("rel", { mtime: 12345, atime: 12345 });
    assert.equal(fs.statSync(path.join(base, "secret")).mtimeMs, 12345000); // rel leads to base
    assert.equal(await code(whole.realpath("missing/deeper")), FX.NO_SUCH_FILE);
  });

  it("READs of a large block return what the file holds, also when it grows or shrinks after open", async () => {
    const p = path.join(root, "pub/grow");
    fs.writeFileSync(p, new Uint8Array(5000).fill(1));
    const f = await b.open("/pub/grow", OpenFlags.READ, {});
    try {
      const block = 261_120; // OpenSSH's read length
      assert.equal((await f.read(0, block))!.length, 5000);
      assert.equal(await f.read(5000, block), null);
      // Another writer appends 100,000 bytes: a short read (not EOF), then the rest.
      fs.appendFileSync(p, new Uint8Array(100_000).fill(2));
      let got = 0;
      for (let d = await f.read(5000, block); d !== null; d = await f.read(5000 + got, block)) {
        assert.ok(d.length > 0 && d.every((x) => x === 2));
        got += d.length;
      }
      assert.equal(got, 100_000);
      // Truncated by another writer: what is left, then EOF.
      fs.truncateSync(p, 3000);
      assert.equal((await f.read(0, block))!.length, 3000);
      assert.equal(await f.read(3000, block), null);
    } finally {
      await f.close();
    }
    // Written through a handle: its own writes count.
    const w = await b.open("/pub/grow", OpenFlags.READ | OpenFlags.WRITE, {});
    try {
      await w.write(3000, new Uint8Array(200_000).fill(3));
      assert.equal((await w.read(0, 261_120))!.length, 203_000);
    } finally {
      await w.close();
    }
  });

  it("answers home-directory and expand-path for its user only", async () => {
    const u = new FsBackend({ root, start: "/pub", username: "alice" });
    assert.equal(await u.homeDirectory("alice"), "/pub");
    assert.equal(await u.expandPath("~/deeper"), "/pub/deeper");
    assert.equal(await u.expandPath("~alice"), "/pub");
    assert.equal(await code(u.expandPath("~bob")), FX.NO_SUCH_FILE);
    assert.equal(await code(u.homeDirectory("bob")), FX.FAILURE);
  });
});

/** Lists `dir` with OpenSSH's sftp-server on stdio: the NAME entries of READDIR. */
async function sftpServerListing(dir: string): Promise<NameEntry[]> {
  const child = spawn("/usr/lib/openssh/sftp-server", [], { stdio: ["pipe", "pipe", "ignore"] });
  const framer = new SftpFramer();
  const packets: Uint8Array[] = [];
  let wake = () => {};
  child.stdout.on("data", (c: Uint8Array) => {
    framer.push(new Uint8Array(c), (p) => packets.push(p.slice()));
    wake();
  });
  const next = async () => {
    while (packets.length === 0) await new Promise<void>((r) => wake = r);
    return packets.shift()!;
  };
  try {
    child.stdin.write(encodeHello("init", 3));
    decodeHello(await next());
    child.stdin.write(encodeRequest(1, { type: "opendir", path: dir }));
    const h = decodeResponse(await next()).response as { handle: Uint8Array };
    const out: NameEntry[] = [];
    for (let id = 2;; id++) {
      child.stdin.write(encodeRequest(id, { type: "readdir", handle: h.handle }));
      const r = decodeResponse(await next()).response;
      if (r.type !== "name") break;
      out.push(...r.entries);
    }
    return out;
  } finally {
    child.kill();
  }
}

describe("FsBackend listings", {
  skip: fs.existsSync("/usr/lib/openssh/sftp-server") ? false : "no OpenSSH sftp-server",
}, () => {
  it("carry the ls -l lines OpenSSH's sftp-server sends", async () => {
    // Inside a private parent: ".." is listed too, and the shared /tmp's link count moves
    // whenever another test makes or removes a directory there.
    const parent = fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-longname-"));
    const dir = path.join(parent, "dir");
    fs.mkdirSync(dir, { mode: 0o700 });
    try {
      fs.writeFileSync(path.join(dir, "recent"), "12345");
      fs.writeFileSync(path.join(dir, "old"), "x".repeat(123456), { mode: 0o4755 });
      fs.chmodSync(path.join(dir, "old"), 0o4755);
      fs.utimesSync(path.join(dir, "old"), 1_000_000_000, 1_000_000_000);
      fs.mkdirSync(path.join(dir, "sub"), { mode: 0o1777 });
      fs.chmodSync(path.join(dir, "sub"), 0o1777);
      fs.symlinkSync("recent", path.join(dir, "link"));
      const theirs = await sftpServerListing(dir);
      const ours: NameEntry[] = [];
      const d = await new FsBackend({}).opendir(dir);
      for (let e = await d.read(); e !== null; e = await d.read()) ours.push(...e);
      await d.close();
      const byName = (l: NameEntry[]) =>
        Object.fromEntries(l.map((e) => [e.filename, { longname: e.longname, attrs: e.attrs }]));
      assert.deepEqual(byName(ours), byName(theirs));
    } finally {
      fs.rmSync(parent, { recursive: true, force: true });
    }
  });
});
