// The SFTP client against OpenSSH's sftp-server on stdio (every request,
// every extension, streams, get/put, trees, resume, a server killed mid-
// transfer) and against in-memory doubles (replies in reverse order, short
// reads, hostile replies, a server that goes away).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { firstValueFrom, toArray } from "rxjs";
import { spawn } from "node:child_process";
import { Readable, Writable } from "node:stream";
import { memoryPair } from "../runtime/memory.ts";
import type { ByteStreamPair } from "../transport/transport.ts";
import type { Session } from "../connection/session.ts";
import { openSftp, sftp, type SftpClient, type SubsystemStarter } from "./client.ts";
import { SftpConnectionError, SftpError, SftpTransferError } from "./errors.ts";
import {
  decodeRequest,
  encodeHello,
  encodeLimits,
  encodeResponse,
  FX,
  SftpFramer,
  type SftpRequest,
  type SftpResponse,
} from "./packets.ts";

const SFTP_SERVER = "/usr/lib/openssh/sftp-server";
const skip = fs.existsSync(SFTP_SERVER) ? false : `${SFTP_SERVER} is not installed`;
const MiB = 1024 * 1024;
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const enc = new TextEncoder();

function random(n: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(b.subarray(i, i + 65536));
  return b;
}

/** sftp-server on stdio. node:child_process streams (Bun's own spawn reports a write to a
 * killed child's stdin as an uncaught EPIPE, which the kill tests provoke). */
async function startServer(
  dir: string,
  options: { blockSize?: number } = {},
): Promise<{ s: SftpClient; proc: Server }> {
  const child = spawn(SFTP_SERVER, [], { cwd: dir, stdio: ["pipe", "pipe", "ignore"] });
  child.stdin.on("error", () => {});
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const stream = {
    readable: Readable.toWeb(child.stdout) as unknown as ReadableStream<Uint8Array>,
    writable: Writable.toWeb(child.stdin) as WritableStream<Uint8Array>,
  };
  const s = await openSftp(stream, options);
  return { s, proc: { kill: (sig) => void child.kill(sig), exit: exited } };
}

interface Server {
  kill(signal: "SIGKILL"): void;
  exit: Promise<void>;
}

describe("SftpClient against OpenSSH's sftp-server on stdio", { skip }, () => {
  let dir: string;
  let s: SftpClient;
  let proc: Server;
  before(async () => {
    dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-sftpc-")));
    ({ s, proc } = await startServer(dir));
  });
  after(async () => {
    await s?.close();
    await proc?.exit;
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const p = (name: string) => path.join(dir, name);

  it("handshake: version 3, OpenSSH's extensions, block sizes from limits@openssh.com", () => {
    assert.equal(s.version, 3);
    for (const e of ["posix-rename@openssh.com", "limits@openssh.com", "copy-data"]) {
      assert.ok(s.supports(e), e);
    }
    assert.equal(s.limits?.maxReadLength, 261120);
    assert.equal(s.readBlockSize, 261120);
    assert.equal(s.writeBlockSize, 261120);
  });

  it("open/write/read/fstat/close, short read at the end, EOF as null", async () => {
    const h = await s.open(p("a.txt"), { flags: "w+", attrs: { permissions: 0o640 } });
    await s.write(h, enc.encode("hello world"), { offset: 0 });
    await s.write(h, enc.encode("W"), { offset: 6 });
    assert.deepEqual(await s.read(h, { offset: 0, length: 5 }), enc.encode("hello"));
    assert.deepEqual(await s.read(h, { offset: 6, length: 100 }), enc.encode("World"));
    assert.equal(await s.read(h, { offset: 11, length: 10 }), null);
    const a = await s.fstat(h);
    assert.equal(a.size, 11);
    assert.equal(a.permissions! & 0o777, 0o640);
    await s.closeHandle(h);
    await assert.rejects(s.closeHandle(h), (e: unknown) => e instanceof SftpError);
  });

  it("stat, lstat, setstat, fsetstat, symlink, readlink, realpath", async () => {
    fs.writeFileSync(p("b"), "bb");
    await s.setstat(p("b"), { permissions: 0o600, atime: 1_000_000, mtime: 2_000_000 });
    const st = await s.stat(p("b"));
    assert.equal(st.permissions! & 0o777, 0o600);
    assert.equal(st.mtime, 2_000_000);
    assert.equal(st.atime, 1_000_000);
    await s.symlink("b", p("b.link"));
    assert.equal(await s.readlink(p("b.link")), "b");
    assert.equal((await s.lstat(p("b.link"))).permissions! & 0o170000, 0o120000);
    assert.equal((await s.stat(p("b.link"))).size, 2);
    assert.equal(await s.realpath(p("x/../b")), p("b"));
    assert.equal(await s.realpath("."), dir);
    const h = await s.open(p("b"), { flags: "r+" });
    await s.fsetstat(h, { size: 1 });
    await s.closeHandle(h);
    assert.equal(fs.readFileSync(p("b"), "utf8"), "b");
  });

  it("mkdir, opendir/readdir, list and list$, rename, remove, rmdir", async () => {
    await s.mkdir(p("d"), { permissions: 0o750 });
    assert.equal(fs.statSync(p("d")).mode & 0o777, 0o750);
    for (let i = 0; i < 150; i++) fs.writeFileSync(p(`d/f${i}`), String(i));
    const names: string[] = [];
    for await (const e of s.list(p("d"))) names.push(e.filename);
    assert.equal(names.filter((n) => n.startsWith("f")).length, 150);
    const all = await firstValueFrom(s.list$(p("d")).pipe(toArray()));
    assert.equal(all.length, names.length);
    assert.ok(all.some((e) => e.longname.includes("f1")));
    const h = await s.opendir(p("d"));
    const batch = await s.readdir(h);
    assert.ok(batch && batch.length > 0);
    await s.closeHandle(h);
    await s.rename(p("d/f0"), p("d/g0"));
    await assert.rejects(s.rename(p("d/f1"), p("d/g0")), (e: unknown) => e instanceof SftpError);
    await s.remove(p("d/g0"));
    await assert.rejects(s.rmdir(p("d")), (e: unknown) => e instanceof SftpError);
    for (let i = 1; i < 150; i++) await s.remove(p(`d/f${i}`));
    await s.rmdir(p("d"));
    assert.equal(fs.existsSync(p("d")), false);
  });

  it("a failure status is an SftpError with code, name, path and quoted server text", async () => {
    const err = await s.stat(p("missing\n")).catch((e) => e);
    assert.ok(err instanceof SftpError);
    assert.equal(err.code, FX.NO_SUCH_FILE);
    assert.equal(err.codeName, "SSH_FX_NO_SUCH_FILE");
    assert.equal(err.path, p("missing\n"));
    assert.equal(err.op, "stat");
    assert.match(err.message, /missing\\x0a.*SSH_FX_NO_SUCH_FILE/);
    assert.doesNotMatch(err.message, /\n/);
  });

  it("every extension: posix-rename, statvfs, fstatvfs, hardlink, fsync, lsetstat, limits, expand-path, copy-data, home-directory, users-groups-by-id", async () => {
    fs.writeFileSync(p("e1"), "one");
    fs.writeFileSync(p("e2"), "two");
    await s.posixRename(p("e1"), p("e2")); // replaces, where rename refuses
    assert.equal(fs.readFileSync(p("e2"), "utf8"), "one");
    const v = await s.statvfs(dir);
    assert.ok(v.bsize > 0 && v.namemax > 0);
    const h = await s.open(p("e2"), { flags: "r+" });
    assert.equal((await s.fstatvfs(h)).fsid, v.fsid);
    await s.fsync(h);
    await s.hardlink(p("e2"), p("e3"));
    assert.equal(fs.statSync(p("e2")).nlink, 2);
    await s.symlink("e2", p("e4"));
    await s.lsetstat(p("e4"), { atime: 1_500_000_000, mtime: 1_500_000_000 });
    assert.equal(Math.floor(fs.lstatSync(p("e4")).mtimeMs / 1000), 1_500_000_000);
    assert.deepEqual(await s.fetchLimits(), s.limits);
    assert.equal(await s.expandPath("e2"), p("e2"));
    assert.equal(await s.expandPath("~/e2"), p("e2")); // "~" is the start directory
    const user = (await s.usersGroupsById([process.getuid?.() ?? 0], [0])).users[0];
    assert.ok(user.length > 0);
    assert.ok((await s.homeDirectory(user)).length > 0);
    const out = await s.open(p("e5"), { flags: "w" });
    await s.copyData(h, out, { fromOffset: 1, length: 2, toOffset: 0 });
    await s.closeHandle(out);
    await s.closeHandle(h);
    assert.equal(fs.readFileSync(p("e5"), "utf8"), "ne");
    const ids = await s.usersGroupsById([0, 4_000_000_000], [0]);
    assert.deepEqual(ids, { users: ["root", ""], groups: ["root"] });
  });

  it("read stream: 1 MiB with read-ahead, ranges, and a handle passed in", async () => {
    const data = random(MiB + 17);
    fs.writeFileSync(p("r.bin"), data);
    const got = new Uint8Array(await new Response(s.createReadStream(p("r.bin"))).arrayBuffer());
    assert.equal(sha(got), sha(data));
    const part = s.createReadStream(p("r.bin"), { start: 1000, end: 300_999, requests: 3 });
    assert.deepEqual(
      new Uint8Array(await new Response(part).arrayBuffer()),
      data.subarray(1000, 301_000),
    );
    const h = await s.open(p("r.bin"));
    const viaHandle = await new Response(s.createReadStream(h, { start: MiB })).arrayBuffer();
    assert.deepEqual(new Uint8Array(viaHandle), data.subarray(MiB));
    assert.equal((await s.fstat(h)).size, data.length); // the handle is still open
    await s.closeHandle(h);
  });

  it("a read stream cancelled early closes its handle; one that grew is read to EOF", async () => {
    fs.writeFileSync(p("grow"), random(1000));
    const h = await s.open(p("grow"));
    // The size is taken now; the file grows before the stream reads: it must read to EOF.
    const stream = s.createReadStream(h, {});
    fs.appendFileSync(p("grow"), random(500));
    const got = new Uint8Array(await new Response(stream).arrayBuffer());
    assert.equal(got.length, 1500);
    await s.closeHandle(h);
    const r = s.createReadStream(p("r.bin")).getReader();
    await r.read();
    await r.cancel();
  });

  it("write stream: 1 MiB with write-behind through pipeTo, mode, start offset", async () => {
    const data = random(MiB + 3);
    await new Blob([data]).stream().pipeTo(s.createWriteStream(p("w.bin"), { mode: 0o604 }));
    assert.equal(sha(fs.readFileSync(p("w.bin"))), sha(data));
    assert.equal(fs.statSync(p("w.bin")).mode & 0o777, 0o604);
    const w = s.createWriteStream(p("w.bin"), { flags: "r+", start: 2 }).getWriter();
    await w.write(enc.encode("XY"));
    await w.close();
    assert.equal(fs.readFileSync(p("w.bin")).subarray(0, 4).toString("latin1").slice(2), "XY");
  });

  it("a WRITE that fails errors the write stream", async () => {
    fs.writeFileSync(p("ro"), "x");
    const h = await s.open(p("ro"), { flags: "r" });
    const w = s.createWriteStream(h).getWriter();
    await w.write(enc.encode("nope")).catch(() => {});
    const err = await w.close().catch((e) => e);
    assert.ok(err instanceof SftpError, String(err));
    await s.closeHandle(h);
  });

  it("get and put: 0 B, 1 B and 1 MiB, SHA-256 equal, progress reported", async () => {
    for (const size of [0, 1, MiB]) {
      const data = random(size);
      fs.writeFileSync(p(`src${size}`), data);
      const t = s.put(p(`src${size}`), p(`up${size}`));
      const reports = firstValueFrom(t.progress$.pipe(toArray()));
      const sum = await t;
      assert.equal(sum.files, 1);
      assert.equal(sum.bytes, size);
      const last = (await reports).at(-1)!;
      assert.equal(last.bytes, size);
      assert.equal(last.total, size);
      assert.equal(sha(fs.readFileSync(p(`up${size}`))), sha(data));
      await s.get(p(`up${size}`), p(`down${size}`));
      assert.equal(sha(fs.readFileSync(p(`down${size}`))), sha(data));
      assert.equal(fs.existsSync(p(`down${size}.rxssh-part`)), false);
    }
  });

  it("get and put into a directory keep the name; a directory without recursive is refused", async () => {
    fs.mkdirSync(p("into"));
    fs.writeFileSync(p("named"), "n");
    await s.get(p("named"), p("into"));
    assert.equal(fs.readFileSync(p("into/named"), "utf8"), "n");
    fs.mkdirSync(p("into2"));
    await s.put(p("named"), p("into2"));
    assert.equal(fs.readFileSync(p("into2/named"), "utf8"), "n");
    await assert.rejects(s.get(p("into"), p("elsewhere")).done, /recursive/);
    await assert.rejects(s.put(p("into"), p("elsewhere")).done, /recursive/);
  });

  it("preserve keeps modes and times; resume continues a get and a put", async () => {
    const data = random(700_000);
    fs.writeFileSync(p("pres"), data);
    fs.chmodSync(p("pres"), 0o751);
    fs.utimesSync(p("pres"), 1_600_000_000, 1_600_000_123);
    await s.get(p("pres"), p("pres.down"), { preserve: true });
    const st = fs.statSync(p("pres.down"));
    assert.equal(st.mode & 0o777, 0o751);
    assert.equal(Math.floor(st.mtimeMs / 1000), 1_600_000_123);
    await s.put(p("pres"), p("pres.up"), { preserve: true });
    assert.equal(Math.floor(fs.statSync(p("pres.up")).mtimeMs / 1000), 1_600_000_123);
    assert.equal(fs.statSync(p("pres.up")).mode & 0o777, 0o751);
    // reget: a partial file continues from its length
    fs.writeFileSync(p("pres.re.rxssh-part"), data.subarray(0, 300_001));
    const got = await s.get(p("pres"), p("pres.re"), { resume: true });
    assert.equal(got.bytes, data.length - 300_001);
    assert.equal(sha(fs.readFileSync(p("pres.re"))), sha(data));
    // reput: the remote file continues from its length
    fs.writeFileSync(p("pres.reup"), data.subarray(0, 123_456));
    const put = await s.put(p("pres"), p("pres.reup"), { resume: true });
    assert.equal(put.bytes, data.length - 123_456);
    assert.equal(sha(fs.readFileSync(p("pres.reup"))), sha(data));
    // a destination longer than the source cannot be resumed
    fs.writeFileSync(p("pres.long"), random(800_000));
    await assert.rejects(s.get(p("pres"), p("pres.long"), { resume: true }).done, /cannot resume/);
  });

  it("a tree of 1,000 small files round-trips with modes and mtimes", async () => {
    const src = p("tree");
    let n = 0;
    for (let a = 0; a < 10; a++) {
      fs.mkdirSync(path.join(src, `d${a}`, "sub"), { recursive: true });
      for (let b = 0; b < 100; b++) {
        const f = path.join(src, `d${a}`, b % 2 ? "sub" : "", `f${b}`);
        fs.writeFileSync(f, `file ${a}/${b} `.repeat(b));
        fs.chmodSync(f, b % 3 ? 0o644 : 0o600);
        fs.utimesSync(f, 1_500_000_000 + n, 1_500_000_000 + n);
        n++;
      }
      fs.utimesSync(path.join(src, `d${a}`), 1_400_000_000, 1_400_000_000 + a);
    }
    const up = await s.put(src, p("tree.up"), { recursive: true, preserve: true });
    assert.equal(up.files, 1000);
    const down = await s.get(p("tree.up"), p("tree.down"), { recursive: true, preserve: true });
    assert.equal(down.files, 1000);
    assert.equal(down.directories, 21);
    for (let a = 0; a < 10; a++) {
      const d = fs.statSync(path.join(p("tree.down"), `d${a}`));
      assert.equal(Math.floor(d.mtimeMs / 1000), 1_400_000_000 + a);
      for (let b = 0; b < 100; b++) {
        const rel = path.join(`d${a}`, b % 2 ? "sub" : "", `f${b}`);
        const x = fs.statSync(path.join(src, rel));
        const y = fs.statSync(path.join(p("tree.down"), rel));
        assert.equal(y.mode & 0o777, x.mode & 0o777, rel);
        assert.equal(Math.floor(y.mtimeMs / 1000), Math.floor(x.mtimeMs / 1000), rel);
        assert.deepEqual(
          fs.readFileSync(path.join(p("tree.down"), rel)),
          fs.readFileSync(path.join(src, rel)),
        );
      }
    }
  });
});

describe("a server killed mid-transfer", { skip }, () => {
  let dir: string;
  before(() => {
    dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-sftpk-")));
    fs.writeFileSync(path.join(dir, "big"), random(64 * MiB));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("get: a typed error with the bytes written, nothing under the final name", async () => {
    const { s, proc } = await startServer(dir, { blockSize: 16384 });
    const t = s.get(path.join(dir, "big"), path.join(dir, "copy"), { requests: 4 });
    t.progress$.subscribe({ next: (r) => r.bytes > 0 && proc.kill("SIGKILL"), error: () => {} });
    const err = await t.done.catch((e) => e);
    assert.ok(err instanceof SftpTransferError, String(err));
    assert.ok(err.cause instanceof SftpConnectionError, String(err.cause));
    assert.ok(err.bytesTransferred > 0 && err.bytesTransferred < 64 * MiB);
    assert.match(err.message, new RegExp(`after ${err.bytesTransferred} bytes written`));
    assert.equal(fs.existsSync(path.join(dir, "copy")), false);
    assert.equal(fs.statSync(err.partialPath!).size, err.bytesTransferred);
    await assert.rejects(s.stat("."), (e: unknown) => e instanceof SftpConnectionError);
    await s.close();
  });

  it("put: a typed error with the bytes acknowledged", async () => {
    const { s, proc } = await startServer(dir, { blockSize: 16384 });
    const t = s.put(path.join(dir, "big"), path.join(dir, "up"), { requests: 4 });
    t.progress$.subscribe({ next: (r) => r.bytes > 0 && proc.kill("SIGKILL"), error: () => {} });
    const err = await t.done.catch((e) => e);
    assert.ok(err instanceof SftpTransferError, String(err));
    assert.ok(err.bytesTransferred > 0 && err.bytesTransferred < 64 * MiB);
    await s.close();
  });
});

// --- doubles --------------------------------------------------------------------

type Answer = (req: SftpRequest, id: number) => SftpResponse | Uint8Array | undefined;

/**
 * A scripted server over a memory pair: answers VERSION with `extensions`,
 * then passes each request to `answer`, which returns a reply (encoded
 * here), raw bytes to send as they are, or undefined to hold the reply.
 */
function double(
  answer: Answer,
  extensions: [string, string][] = [],
): { client: ByteStreamPair; send(bytes: Uint8Array): Promise<void>; end(): Promise<void> } {
  const [client, server] = memoryPair();
  const w = server.writable.getWriter();
  const framer = new SftpFramer();
  let hello = true;
  (async () => {
    const r = server.readable.getReader();
    for (;;) {
      const { value, done } = await r.read();
      if (done) return await w.close().catch(() => {}); // EOF: the server exits
      framer.push(value, (packet) => {
        if (hello) {
          hello = false;
          w.write(encodeHello("version", 3, extensions)).catch(() => {});
          return;
        }
        const { id, request } = decodeRequest(packet);
        const out = answer(request, id);
        if (out instanceof Uint8Array) w.write(out).catch(() => {});
        else if (out) w.write(encodeResponse(id, out)).catch(() => {});
      });
    }
  })().catch(() => {});
  return {
    client,
    send: (bytes) => w.write(bytes),
    end: () => w.close(),
  };
}

const OK: SftpResponse = { type: "status", code: FX.OK, message: "", language: "" };
const EOF: SftpResponse = { type: "status", code: FX.EOF, message: "", language: "" };

describe("SftpClient against doubles", () => {
  it("replies in reverse order and short reads are reassembled by offset", async () => {
    const file = random(200_000);
    const held: [number, SftpResponse][] = [];
    let reads = 0;
    let reversedBatches = 0;
    const d = double((req, id) => {
      if (req.type === "open") return { type: "handle", handle: new Uint8Array([1]) };
      if (req.type === "fstat") return { type: "attrs", attrs: { size: file.length } };
      if (req.type === "close") return OK;
      if (req.type !== "read") return undefined;
      reads++;
      // A full-size READ gets half (a short read); the re-asked rest is answered in full.
      const n = Math.min(req.length === 8192 ? 4096 : req.length, file.length - req.offset);
      held.push([
        id,
        n <= 0 ? EOF : { type: "data", data: file.slice(req.offset, req.offset + n) },
      ]);
      // Whatever arrives within a few milliseconds is answered newest first.
      if (held.length === 1) {
        setTimeout(() => {
          const out = held.splice(0).reverse();
          if (out.length > 1) reversedBatches++;
          d.send(concat(out.map(([i, r]) => encodeResponse(i, r)))).catch(() => {});
        }, 5);
      }
      return undefined;
    });
    const s = await openSftp(d.client, { blockSize: 8192 });
    const stream = s.createReadStream("f", { requests: 4 });
    const got = new Uint8Array(await new Response(stream).arrayBuffer());
    assert.equal(got.length, file.length);
    assert.equal(sha(got), sha(file));
    assert.ok(reads > file.length / 8192); // short reads were asked again
    assert.ok(reversedBatches > 5, `${reversedBatches} batches answered in reverse`);
    await s.close();
  });

  for (const failAt of [0, 8192]) {
    it(`a READ failing at offset ${failAt} mid-get: typed error, no final file, partial only with bytes`, async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-sftpf-"));
      try {
        const d = double((req) => {
          if (req.type === "stat" || req.type === "fstat") {
            return { type: "attrs", attrs: { size: 100_000, permissions: 0o100644 } };
          }
          if (req.type === "open") return { type: "handle", handle: new Uint8Array([7]) };
          if (req.type === "close") return OK;
          if (req.type !== "read") return undefined;
          if (req.offset < failAt) return { type: "data", data: new Uint8Array(req.length) };
          return { type: "status", code: FX.PERMISSION_DENIED, message: "no\x1b[2J", language: "" };
        });
        const s = await openSftp(d.client, { blockSize: 8192 });
        const local = path.join(dir, "out");
        const err = await s.get("/remote/file", local).done.catch((e) => e);
        assert.ok(err instanceof SftpTransferError, String(err));
        assert.ok(err.cause instanceof SftpError);
        assert.equal(err.cause.code, FX.PERMISSION_DENIED);
        assert.equal(err.bytesTransferred, failAt);
        assert.ok(!err.message.includes("\x1b") && err.message.includes("\\x1b")); // quoted
        assert.equal(fs.existsSync(local), false);
        if (failAt === 0) assert.equal(err.partialPath, undefined);
        else assert.equal(fs.statSync(err.partialPath!).size, failAt);
        assert.deepEqual(fs.readdirSync(dir), failAt ? ["out.rxssh-part"] : []);
        await s.close();
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it("an extension the server did not advertise fails locally with OP_UNSUPPORTED", async () => {
    let asked = 0;
    const d = double(() => (asked++, OK));
    const s = await openSftp(d.client);
    assert.equal(s.limits, undefined);
    assert.equal(s.readBlockSize, 32768);
    const err = await s.statvfs("/").catch((e) => e);
    assert.ok(err instanceof SftpError);
    assert.equal(err.code, FX.OP_UNSUPPORTED);
    assert.equal(err.local, true);
    await assert.rejects(s.posixRename("a", "b"), /OP_UNSUPPORTED/);
    assert.equal(asked, 0);
    await s.close();
  });

  it("limits@openssh.com advertised but refused: the draft's 32 KiB", async () => {
    const d = double(
      () => ({ type: "status", code: FX.OP_UNSUPPORTED, message: "", language: "" }),
      [["limits@openssh.com", "1"]],
    );
    const s = await openSftp(d.client);
    assert.equal(s.limits, undefined);
    assert.equal(s.readBlockSize, 32768);
    await s.close();
  });

  it("limits@openssh.com with small limits sizes reads and writes by them", async () => {
    const d = double(
      (req) =>
        req.type === "limits@openssh.com"
          ? {
            type: "extended-reply",
            data: encodeLimits({
              maxPacketLength: 34000,
              maxReadLength: 20000,
              maxWriteLength: 0,
              maxOpenHandles: 0,
            }),
          }
          : undefined,
      [["limits@openssh.com", "1"]],
    );
    const s = await openSftp(d.client);
    assert.equal(s.readBlockSize, 20000);
    assert.equal(s.writeBlockSize, 34000 - 1024); // no write limit: what fits in a packet
    await s.close();
  });

  it("list closes the directory handle when the loop breaks early", async () => {
    const closed: string[] = [];
    const d = double((req) => {
      if (req.type === "opendir") return { type: "handle", handle: enc.encode("dirh") };
      if (req.type === "readdir") {
        return {
          type: "name",
          entries: [1, 2, 3].map((i) => ({ filename: `n${i}`, longname: "", attrs: {} })),
        };
      }
      if (req.type === "close") {
        closed.push(new TextDecoder().decode(req.handle));
        return OK;
      }
      return undefined;
    });
    const s = await openSftp(d.client);
    for await (const e of s.list("/x")) if (e.filename === "n2") break;
    assert.deepEqual(closed, ["dirh"]);
    const sub = s.list$("/y").subscribe(() => sub.unsubscribe());
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(closed, ["dirh", "dirh"]);
    await s.close();
  });

  for (
    const [what, reply] of [
      ["a reply to an unknown id", encodeResponse(999, OK)],
      ["an oversized packet", new Uint8Array([0, 0x10, 0, 0, 101, 0, 0, 0, 1])],
      ["a NAME with an absurd count", nameWithCount(1, 0x7fffffff)],
      [
        "a reply of the wrong type",
        encodeResponse(1, { type: "handle", handle: new Uint8Array(1) }),
      ],
    ] as const
  ) {
    it(`${what} ends the session with SftpConnectionError; every waiting request rejects`, async () => {
      const d = double((_req, id) => (id === 1 ? reply : undefined));
      const s = await openSftp(d.client);
      const first = s.stat("/a"); // id 1: answered with the hostile reply
      const second = s.stat("/b"); // never answered
      const e1 = await first.catch((e) => e);
      const e2 = await second.catch((e) => e);
      assert.ok(e1 instanceof SftpConnectionError, String(e1));
      assert.ok(e2 instanceof SftpConnectionError, String(e2));
      assert.ok(s.isEnded);
      assert.ok((await s.ended) instanceof SftpConnectionError);
      await assert.rejects(s.realpath("."), (e: unknown) => e instanceof SftpConnectionError);
      await s.close();
    });
  }

  it("a server that goes away rejects what is waiting, no hang", async () => {
    const d = double(() => undefined);
    const s = await openSftp(d.client);
    const waiting = [s.stat("/a"), s.realpath("."), s.readlink("/l")];
    await d.end();
    for (const w of waiting) {
      await assert.rejects(w, (e: unknown) => e instanceof SftpConnectionError);
    }
    await s.close();
  });

  it("close() rejects what is still waiting and ends the stream", async () => {
    const d = double(() => undefined);
    const s = await openSftp(d.client);
    const waiting = assert.rejects(s.stat("/a"), /closed by this side/);
    await s.close();
    await waiting;
  });

  it("a first packet that is not SSH_FXP_VERSION is an SftpConnectionError", async () => {
    const [client, server] = memoryPair();
    const w = server.writable.getWriter();
    server.readable.pipeTo(new WritableStream()).catch(() => {});
    w.write(encodeResponse(0, OK)).catch(() => {});
    await assert.rejects(
      openSftp(client),
      (e: unknown) => e instanceof SftpConnectionError && /SSH_FXP_VERSION/.test(e.message),
    );
  });

  it("sftp() starts the subsystem on a session; close() closes its channel", async () => {
    const d = double((req) =>
      req.type === "realpath"
        ? { type: "name", entries: [{ filename: "/home/u", longname: "", attrs: {} }] }
        : undefined
    );
    const started: string[] = [];
    let channelClosed = 0;
    const starter: SubsystemStarter = {
      subsystem: (name) => {
        started.push(name);
        return Promise.resolve({
          stdin: d.client.writable,
          stdout: d.client.readable,
          stderr: new ReadableStream({ start: (c) => c.close() }),
          channel: { close: () => (channelClosed++, Promise.resolve()) },
        } as unknown as Session);
      },
    };
    const s = await sftp(starter);
    assert.deepEqual(started, ["sftp"]);
    assert.equal(await s.realpath("."), "/home/u");
    await s.close();
    assert.equal(channelClosed, 1);
  });

  it("no VERSION within the timeout is an SftpConnectionError", async () => {
    const [client] = memoryPair();
    await assert.rejects(
      openSftp(client, { handshakeTimeoutMs: 50 }),
      (e: unknown) => e instanceof SftpConnectionError && /SSH_FXP_VERSION/.test(e.message),
    );
  });
});

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) (out.set(p, o), (o += p.length));
  return out;
}

/** An SSH_FXP_NAME packet claiming `count` entries but holding none. */
function nameWithCount(id: number, count: number): Uint8Array {
  const b = new Uint8Array(13);
  const v = new DataView(b.buffer);
  v.setUint32(0, 9);
  b[4] = 104;
  v.setUint32(5, id);
  v.setUint32(9, count);
  return b;
}
