// MemoryBackend: the tree's operations, links and their resolution, and its
// limits (bytes and entries), which fail with SSH_FX_FAILURE and leave the
// tree as it was.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { MemoryBackend } from "./memory_backend.ts";
import { statusOf } from "./backend.ts";
import { FX, OpenFlags } from "./packets.ts";

const te = new TextEncoder();
const td = new TextDecoder();
const CREATE = OpenFlags.WRITE | OpenFlags.CREAT;

async function code(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return FX.OK;
  } catch (e) {
    return statusOf(e);
  }
}

describe("MemoryBackend", () => {
  it("creates, writes, lists, links, renames and removes", async () => {
    const m = new MemoryBackend({ umask: 0o022 });
    await m.mkdir("/d", { permissions: 0o777 });
    assert.equal((await m.stat("/d")).permissions, 0o040755);
    const f = await m.open("/d/f", CREATE, { permissions: 0o666 });
    await f.write(3, te.encode("abc"));
    assert.deepEqual(await f.stat(), { ...(await m.stat("/d/f")) });
    await f.close();
    assert.deepEqual(m.readFile("/d/f"), new Uint8Array([0, 0, 0, 97, 98, 99]));
    assert.equal((await m.stat("/d/f")).permissions, 0o100644);
    await m.symlink("f", "/d/l");
    await m.symlink("/d", "/abs");
    assert.equal(await m.readlink("/d/l"), "f");
    assert.equal(await m.realpath("/abs/l"), "/d/f");
    assert.equal(await m.realpath("/../../abs/../d/./f"), "/d/f");
    assert.equal((await m.stat("/abs/l")).size, 6);
    assert.equal((await m.lstat("/d/l")).permissions, 0o120777);
    await m.hardlink("/d/f", "/h");
    const dir = await m.opendir("/d");
    const names = (await dir.read())!.map((e) => e.filename);
    assert.deepEqual(names, [".", "..", "f", "l"]);
    assert.equal(await dir.read(), null);
    assert.equal(await code(m.rename("/d/f", "/h")), FX.FAILURE);
    assert.equal(await code(m.posixRename("/d/f", "/h")), FX.OK); // same file: nothing to do
    assert.equal(await code(m.rename("/d", "/d/inside")), FX.FAILURE);
    assert.equal(await code(m.rmdir("/d")), FX.FAILURE); // not empty
    assert.equal(await code(m.remove("/d")), FX.FAILURE);
    await m.remove("/d/f");
    await m.remove("/d/l");
    assert.equal(td.decode(m.readFile("/h")), "\0\0\0abc"); // the hardlink keeps the data
    await m.rmdir("/d");
    assert.equal(await code(m.stat("/d")), FX.NO_SUCH_FILE);
    assert.equal(await code(m.stat("/abs")), FX.NO_SUCH_FILE); // dangling now
  });

  it("refuses writes past maxBytes and entries past maxEntries, keeping the tree intact", async () => {
    const m = new MemoryBackend({ maxBytes: 1000, maxEntries: 4 });
    const f = await m.open("/a", CREATE, {});
    await f.write(0, new Uint8Array(900));
    assert.equal(await code(f.write(900, new Uint8Array(101))), FX.FAILURE);
    assert.equal(await code(f.write(900, new Uint8Array(100))), FX.OK);
    assert.equal(m.bytes, 1000);
    assert.equal(await code(f.setstat({ size: 2000 })), FX.FAILURE);
    await f.setstat({ size: 10 });
    assert.equal(m.bytes, 10);
    await m.mkdir("/b", {});
    await m.symlink("a", "/c");
    assert.equal(await code(m.mkdir("/d", {})), FX.FAILURE); // root + 3 entries
    assert.equal(await code(m.open("/e", CREATE, {})), FX.FAILURE);
    const vfs = await m.statvfs("/");
    assert.equal(vfs.ffree, 0);
    await m.remove("/c");
    assert.equal(await code(m.mkdir("/d", {})), FX.OK);
  });

  it("reads stop at the end of the file; links loop into NO_SUCH_FILE", async () => {
    const m = new MemoryBackend();
    m.writeFile("/x", te.encode("hello"));
    const f = await m.open("/x", OpenFlags.READ, {});
    assert.equal(td.decode((await f.read(1, 100))!), "ello");
    assert.equal(await f.read(5, 1), null);
    assert.equal(await code(f.write(0, te.encode("no"))), FX.PERMISSION_DENIED);
    await f.close();
    assert.equal(await code(f.read(0, 1)), FX.FAILURE);
    await m.symlink("/l2", "/l1");
    await m.symlink("/l1", "/l2");
    assert.equal(await code(m.stat("/l1")), FX.NO_SUCH_FILE);
    assert.equal(await code(m.open("/x/y", OpenFlags.READ, {})), FX.NO_SUCH_FILE);
  });
});
