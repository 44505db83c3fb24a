// SFTP v3 packets: every request and reply round-trips, the framer copes
// with any split and refuses oversized lengths, hostile counts are bounded,
// and the codec talks to OpenSSH's own sftp-server binary.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  decodeHello,
  decodeLimits,
  decodeRequest,
  decodeResponse,
  decodeStatVfs,
  decodeUsersGroups,
  encodeHello,
  encodeRequest,
  encodeResponse,
  encodeUsersGroups,
  FX,
  FXP,
  MAX_PACKET_LENGTH,
  OpenFlags,
  SftpFramer,
  type SftpRequest,
  type SftpResponse,
  SftpUnknownRequest,
} from "./packets.ts";
import { WireError } from "../wire/errors.ts";

const h = new Uint8Array([0, 0, 0, 7]);
const attrs = { size: 2 ** 40, uid: 1000, gid: 100, permissions: 0o100644, atime: 1, mtime: 2 };
const REQUESTS: SftpRequest[] = [
  { type: "open", path: "/tmp/ä", flags: OpenFlags.READ | OpenFlags.WRITE, attrs },
  { type: "close", handle: h },
  { type: "read", handle: h, offset: 2 ** 33, length: 261120 },
  { type: "write", handle: h, offset: 5, data: new Uint8Array([1, 2, 3]) },
  { type: "lstat", path: "l" },
  { type: "fstat", handle: h },
  { type: "setstat", path: "s", attrs: { permissions: 0o600 } },
  { type: "fsetstat", handle: h, attrs: { atime: 3, mtime: 4 } },
  { type: "opendir", path: "." },
  { type: "readdir", handle: h },
  { type: "remove", path: "r" },
  { type: "mkdir", path: "d", attrs: {} },
  { type: "rmdir", path: "d" },
  { type: "realpath", path: "." },
  { type: "stat", path: "st" },
  { type: "rename", oldPath: "a", newPath: "b" },
  { type: "readlink", path: "ln" },
  { type: "symlink", target: "t", linkPath: "ln" },
  { type: "posix-rename@openssh.com", oldPath: "a", newPath: "b" },
  { type: "statvfs@openssh.com", path: "/" },
  { type: "fstatvfs@openssh.com", handle: h },
  { type: "hardlink@openssh.com", oldPath: "a", newPath: "b" },
  { type: "fsync@openssh.com", handle: h },
  { type: "lsetstat@openssh.com", path: "p", attrs: { uid: 1, gid: 2 } },
  { type: "limits@openssh.com" },
  { type: "expand-path@openssh.com", path: "~/x" },
  {
    type: "copy-data",
    readHandle: h,
    readOffset: 1,
    length: 0,
    writeHandle: new Uint8Array([9]),
    writeOffset: 2,
  },
  { type: "home-directory", username: "root" },
  { type: "users-groups-by-id@openssh.com", uids: [0, 1000], gids: [0] },
  { type: "extended", name: "vendor@example.com", data: new Uint8Array([4, 5]) },
];

test("every request round-trips with its id", () => {
  for (const [i, r] of REQUESTS.entries()) {
    const p = encodeRequest(i + 1, r);
    assert.equal(new DataView(p.buffer, p.byteOffset).getUint32(0), p.length - 4);
    assert.deepEqual(decodeRequest(p.subarray(4)), { id: i + 1, request: r }, r.type);
  }
});

test("symlink puts the target first on the wire, as OpenSSH does (PROTOCOL §4.1)", () => {
  const p = encodeRequest(1, { type: "symlink", target: "T", linkPath: "LL" });
  // len, type, id, string "T", string "LL"
  assert.deepEqual([...p.subarray(9, 14)], [0, 0, 0, 1, "T".charCodeAt(0)]);
});

test("every reply round-trips", () => {
  const replies: SftpResponse[] = [
    { type: "status", code: FX.EOF, message: "End of file", language: "en" },
    { type: "handle", handle: h },
    { type: "data", data: new Uint8Array(1000).fill(7) },
    {
      type: "name",
      entries: [
        { filename: "a", longname: "-rw-r--r-- a", attrs },
        { filename: "b", longname: "", attrs: {} },
      ],
    },
    { type: "attrs", attrs: { ...attrs, extended: [["x@y", new Uint8Array([1])]] } },
    { type: "extended-reply", data: new Uint8Array([1, 2, 3]) },
  ];
  for (const [i, r] of replies.entries()) {
    assert.deepEqual(decodeResponse(encodeResponse(i, r).subarray(4)), { id: i, response: r });
  }
});

test("a status without message and language (pre-draft-02 servers) decodes", () => {
  const p = new Uint8Array([FXP.STATUS, 0, 0, 0, 1, 0, 0, 0, 4]);
  assert.deepEqual(decodeResponse(p).response, {
    type: "status",
    code: FX.FAILURE,
    message: "",
    language: "",
  });
});

test("an unknown request type carries its id; bad fields name themselves", () => {
  const unknown = new Uint8Array([99, 0, 0, 0, 42]);
  assert.throws(
    () => decodeRequest(unknown),
    (e) => e instanceof SftpUnknownRequest && e.id === 42,
  );
  const longHandle = encodeRequest(1, { type: "close", handle: new Uint8Array(257) });
  assert.throws(() => decodeRequest(longHandle.subarray(4)), /handle.*257 bytes/);
  const truncated = encodeRequest(1, { type: "rename", oldPath: "a", newPath: "b" }).subarray(
    4,
    14,
  );
  assert.throws(
    () => decodeRequest(truncated),
    (e) => e instanceof WireError && e.field === "newpath",
  );
  const trailing = new Uint8Array([
    ...encodeRequest(1, { type: "stat", path: "x" }).subarray(4),
    0,
  ]);
  assert.throws(() => decodeRequest(trailing), WireError);
  const badFlags = new Uint8Array([FXP.FSETSTAT, 0, 0, 0, 1, 0, 0, 0, 1, 9, 0x40, 0, 0, 0]);
  assert.throws(() => decodeRequest(badFlags), /unknown attribute flags 0x40000000/);
});

test("hostile counts are refused before anything is allocated for them", () => {
  // A NAME claiming 2^32 - 1 entries in 4 bytes.
  const name = new Uint8Array([FXP.NAME, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff]);
  assert.throws(() => decodeResponse(name), /names do not fit/);
  // ATTRS claiming 2^32 - 1 extended pairs.
  const ext = new Uint8Array([FXP.ATTRS, 0, 0, 0, 1, 0x80, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
  assert.throws(() => decodeResponse(ext), /extended attributes/);
  // A size past 2^53.
  const big = new Uint8Array([FXP.ATTRS, 0, 0, 0, 1, 0, 0, 0, 1, 0xff, 0, 0, 0, 0, 0, 0, 0]);
  assert.throws(() => decodeResponse(big), /past 2\^53/);
});

test("the framer reassembles packets split at every byte and refuses oversized lengths", () => {
  const stream = new Uint8Array([
    ...encodeHello("init", 3),
    ...encodeRequest(1, { type: "write", handle: h, offset: 0, data: new Uint8Array(300).fill(1) }),
    ...encodeRequest(2, { type: "realpath", path: "." }),
  ]);
  for (let a = 0; a <= stream.length; a++) {
    for (const b of [a, Math.min(stream.length, a + 1), Math.min(stream.length, a + 7)]) {
      const f = new SftpFramer();
      const got: number[] = [];
      const on = (p: Uint8Array) => got.push(p[0]);
      f.push(stream.slice(0, a), on);
      f.push(stream.slice(a, b), on);
      f.push(stream.slice(b), on);
      assert.deepEqual(got, [FXP.INIT, FXP.WRITE, FXP.REALPATH], `split at ${a}/${b}`);
      assert.equal(f.buffered, 0);
    }
  }
  const f = new SftpFramer();
  const tooLong = new Uint8Array([0, 4, 0, 1]); // 262145
  assert.throws(() => f.push(tooLong, () => {}), /packet length 262145 \(must be 1 to 262144\)/);
  assert.equal(MAX_PACKET_LENGTH, 262144);
  // Split over two pushes, the length is refused as soon as its 4 bytes are in.
  const g = new SftpFramer();
  g.push(new Uint8Array([0x7f]), () => {});
  assert.throws(() => g.push(new Uint8Array([0xff, 0xff, 0xff]), () => {}), /2147483647/);
  assert.equal(g.buffered, 0);
});

test("users-groups-by-id replies round-trip", () => {
  const v = { users: ["root", ""], groups: ["wheel"] };
  assert.deepEqual(decodeUsersGroups(encodeUsersGroups(v)), v);
});

/** Runs OpenSSH's sftp-server on stdio and exchanges packets with it. */
async function withSftpServer(
  run: (ask: (p: Uint8Array) => Promise<Uint8Array>) => Promise<void>,
): Promise<void> {
  const bin = "/usr/lib/openssh/sftp-server";
  if (!fs.existsSync(bin)) throw new Error(`${bin} is missing: run scripts/ensure_openssh.sh`);
  const child = spawn(bin, ["-e", "-l", "QUIET"], { stdio: ["pipe", "pipe", "inherit"] });
  const framer = new SftpFramer();
  const waiting: ((p: Uint8Array) => void)[] = [];
  child.stdout!.on(
    "data",
    (d: Uint8Array) => framer.push(new Uint8Array(d), (p) => waiting.shift()!(p.slice())),
  );
  const ask = (p: Uint8Array) =>
    new Promise<Uint8Array>((resolve) => {
      waiting.push(resolve);
      child.stdin!.write(p);
    });
  try {
    await run(ask);
  } finally {
    child.stdin!.end();
    await new Promise((r) => child.once("exit", r));
  }
}

test("OpenSSH's sftp-server understands our requests and we its replies", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-sftp-packets-"));
  try {
    await withSftpServer(async (ask) => {
      const hello = decodeHello(await ask(encodeHello("init", 3)));
      assert.equal(hello.version, 3);
      for (const ext of ["posix-rename@openssh.com", "limits@openssh.com", "copy-data"]) {
        assert.ok(hello.extensions.has(ext), ext);
      }
      const reply = async (id: number, r: SftpRequest) => {
        const d = decodeResponse(await ask(encodeRequest(id, r)));
        assert.equal(d.id, id);
        return d.response;
      };
      const limits = await reply(1, { type: "limits@openssh.com" });
      assert.equal(limits.type, "extended-reply");
      const l = decodeLimits((limits as { data: Uint8Array }).data);
      assert.ok(
        l.maxReadLength >= 32768 && l.maxPacketLength >= l.maxReadLength,
        JSON.stringify(l),
      );
      const file = path.join(dir, "f");
      const opened = await reply(2, {
        type: "open",
        path: file,
        flags: OpenFlags.WRITE | OpenFlags.CREAT | OpenFlags.EXCL,
        attrs: { permissions: 0o640 },
      });
      assert.equal(opened.type, "handle");
      const handle = (opened as { handle: Uint8Array }).handle.slice();
      const data = new TextEncoder().encode("hello sftp");
      assert.deepEqual(await reply(3, { type: "write", handle, offset: 0, data }), {
        type: "status",
        code: FX.OK,
        message: "Success",
        language: "",
      });
      assert.equal((await reply(4, { type: "close", handle })).type, "status");
      assert.equal(fs.readFileSync(file, "utf8"), "hello sftp");
      const st = await reply(5, { type: "stat", path: file });
      assert.equal(st.type, "attrs");
      const a = (st as { attrs: { size?: number; permissions?: number } }).attrs;
      assert.equal(a.size, 10);
      assert.equal(a.permissions! & 0o777, 0o640);
      await reply(6, { type: "symlink", target: file, linkPath: path.join(dir, "ln") });
      assert.equal(fs.readlinkSync(path.join(dir, "ln")), file);
      const vfs = await reply(7, { type: "statvfs@openssh.com", path: dir });
      assert.ok(decodeStatVfs((vfs as { data: Uint8Array }).data).namemax > 0);
      const missing = await reply(8, { type: "stat", path: path.join(dir, "nope") });
      assert.equal(missing.type === "status" && missing.code, FX.NO_SUCH_FILE);
      const ids = await reply(9, { type: "users-groups-by-id@openssh.com", uids: [0], gids: [0] });
      assert.deepEqual(decodeUsersGroups((ids as { data: Uint8Array }).data).users, ["root"]);
      const real = await reply(10, { type: "realpath", path: dir + "/./f" });
      assert.equal(real.type === "name" && real.entries[0].filename, file);
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
