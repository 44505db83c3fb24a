// serveSftp driven with raw packets over a memory pair: the handshake and
// its extensions, the data path, limits, ordering of pipelined requests,
// and hostile input (malformed packets, unknown types and extensions,
// handles never opened or closed, reads past EOF, oversized lengths, 10,000
// opens, a client that never reads its replies).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { memoryPair } from "../runtime/memory.ts";
import { SshWriter } from "../wire/writer.ts";
import { MemoryBackend } from "./memory_backend.ts";
import type { SftpBackend } from "./backend.ts";
import {
  decodeHello,
  decodeLimits,
  decodeResponse,
  encodeHello,
  encodeRequest,
  FX,
  OpenFlags,
  SftpFramer,
  type SftpRequest,
  type SftpResponse,
} from "./packets.ts";
import { DEFAULT_MAX_READ_LENGTH, serveSftp, type SftpServerOptions } from "./server.ts";

/** A raw client: writes packets, reads replies by id. */
class Raw {
  readonly writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly framer = new SftpFramer();
  readonly queue: Uint8Array[] = [];
  nextId = 1;

  constructor(
    pair: { readable: ReadableStream<Uint8Array>; writable: WritableStream<Uint8Array> },
  ) {
    this.writer = pair.writable.getWriter();
    this.reader = pair.readable.getReader();
  }

  send(bytes: Uint8Array): Promise<void> {
    return this.writer.write(bytes);
  }

  /** The next packet from the server, or null at its end. */
  async packet(): Promise<Uint8Array | null> {
    while (this.queue.length === 0) {
      const { value, done } = await this.reader.read();
      if (done) return null;
      this.framer.push(value, (p) => this.queue.push(p.slice()));
    }
    return this.queue.shift()!;
  }

  async reply(): Promise<{ id: number; response: SftpResponse }> {
    const p = await this.packet();
    assert.ok(p, "the server ended the session");
    return decodeResponse(p);
  }

  async hello(): Promise<Map<string, string>> {
    await this.send(encodeHello("init", 3));
    const v = decodeHello((await this.packet())!);
    assert.equal(v.kind, "version");
    assert.equal(v.version, 3);
    return v.extensions;
  }

  /** Sends `r` and waits for its reply (asserting the id). */
  async call(r: SftpRequest): Promise<SftpResponse> {
    const id = this.nextId++;
    await this.send(encodeRequest(id, r));
    const got = await this.reply();
    assert.equal(got.id, id);
    return got.response;
  }

  async status(r: SftpRequest): Promise<number> {
    const res = await this.call(r);
    assert.equal(res.type, "status", JSON.stringify(res));
    return (res as { code: number }).code;
  }

  async handle(path: string, flags: number): Promise<Uint8Array> {
    const res = await this.call({ type: "open", path, flags, attrs: {} });
    assert.equal(res.type, "handle", JSON.stringify(res));
    return (res as { handle: Uint8Array }).handle;
  }
}

function start(backend: SftpBackend = new MemoryBackend(), options: SftpServerOptions = {}) {
  const [client, server] = memoryPair();
  const done = serveSftp(server, backend, options);
  return { raw: new Raw(client), done, backend };
}

/** A packet from its type byte onward, with the length in front. */
function packet(body: Uint8Array): Uint8Array {
  return new SshWriter().string(body).finish();
}

const te = new TextEncoder();
const RW = OpenFlags.READ | OpenFlags.WRITE | OpenFlags.CREAT;

describe("serveSftp", () => {
  it("answers INIT with version 3 and the backend's extensions only", async () => {
    const { raw, done } = start();
    const ext = await raw.hello();
    for (const name of ["posix-rename@openssh.com", "hardlink@openssh.com", "limits@openssh.com"]) {
      assert.ok(ext.has(name), name);
    }
    await raw.writer.close();
    assert.equal((await done).reason, "eof");

    const m = new MemoryBackend();
    const bare: SftpBackend = {
      open: m.open.bind(m),
      opendir: m.opendir.bind(m),
      stat: m.stat.bind(m),
      lstat: m.lstat.bind(m),
      setstat: m.setstat.bind(m),
      remove: m.remove.bind(m),
      mkdir: m.mkdir.bind(m),
      rmdir: m.rmdir.bind(m),
      rename: m.rename.bind(m),
      readlink: m.readlink.bind(m),
      symlink: m.symlink.bind(m),
      realpath: m.realpath.bind(m),
    };
    const s2 = start(bare);
    const ext2 = await s2.raw.hello();
    assert.deepEqual([...ext2.keys()].sort(), [
      "copy-data",
      "fsync@openssh.com",
      "limits@openssh.com",
    ]);
    assert.equal(
      await s2.raw.status({ type: "hardlink@openssh.com", oldPath: "/a", newPath: "/b" }),
      FX.OP_UNSUPPORTED,
    );
    await s2.raw.writer.close();
    await s2.done;
  });

  it("writes, reads, stops at EOF, caps READ at the limit and answers limits@openssh.com", async () => {
    const { raw, done } = start(new MemoryBackend(), { maxHandles: 7 });
    await raw.hello();
    const limits = await raw.call({ type: "limits@openssh.com" });
    assert.equal(limits.type, "extended-reply");
    assert.deepEqual(decodeLimits((limits as { data: Uint8Array }).data), {
      maxPacketLength: 262144,
      maxReadLength: DEFAULT_MAX_READ_LENGTH,
      maxWriteLength: DEFAULT_MAX_READ_LENGTH,
      maxOpenHandles: 7,
    });
    const h = await raw.handle("/f", RW);
    const big = new Uint8Array(300_000).map((_, i) => i * 7);
    for (let at = 0; at < big.length; at += 60_000) {
      const data = big.subarray(at, at + 60_000);
      assert.equal(await raw.status({ type: "write", handle: h, offset: at, data }), FX.OK);
    }
    const r = await raw.call({ type: "read", handle: h, offset: 0, length: 0xffffffff });
    assert.equal(r.type, "data");
    const got = (r as { data: Uint8Array }).data;
    assert.equal(got.length, DEFAULT_MAX_READ_LENGTH);
    assert.deepEqual(got, big.subarray(0, got.length));
    const tail = await raw.call({ type: "read", handle: h, offset: 299_990, length: 100 });
    assert.deepEqual((tail as { data: Uint8Array }).data, big.subarray(299_990));
    assert.equal(
      await raw.status({ type: "read", handle: h, offset: 300_000, length: 10 }),
      FX.EOF,
    );
    assert.equal(
      await raw.status({ type: "read", handle: h, offset: 2 ** 52, length: 10 }),
      FX.EOF,
    );
    assert.equal(await raw.status({ type: "close", handle: h }), FX.OK);
    await raw.writer.close();
    assert.deepEqual((await done).reason, "eof");
  });

  it("keeps pipelined requests on one file in order (write, overlapping write, read)", async () => {
    const { raw, done } = start();
    await raw.hello();
    const h = await raw.handle("/o", RW);
    const ids = [100, 101, 102, 103];
    await raw.send(
      encodeRequest(100, { type: "write", handle: h, offset: 0, data: te.encode("aaaa") }),
    );
    await raw.send(
      encodeRequest(101, { type: "write", handle: h, offset: 2, data: te.encode("bbbb") }),
    );
    await raw.send(encodeRequest(102, { type: "read", handle: h, offset: 0, length: 100 }));
    await raw.send(encodeRequest(103, { type: "close", handle: h }));
    const replies = new Map<number, SftpResponse>();
    for (const _ of ids) {
      const r = await raw.reply();
      replies.set(r.id, r.response);
    }
    assert.equal(
      new TextDecoder().decode((replies.get(102) as { data: Uint8Array }).data),
      "aabbbb",
    );
    assert.equal((replies.get(103) as { code: number }).code, FX.OK);
    await raw.writer.close();
    await done;
  });

  it("runs reads at once but replies in arrival order (OpenSSH 9.2's client needs it)", async () => {
    const backend = new MemoryBackend();
    backend.writeFile("/r", new Uint8Array(8).map((_, i) => i));
    let running = 0;
    let most = 0;
    const slow: SftpBackend = Object.assign(Object.create(backend), {
      open: async (p: string, f: number, a: object) => {
        const file = await backend.open(p, f, a);
        return {
          ...file,
          read: async (offset: number, length: number) => {
            most = Math.max(most, ++running);
            // The first request finishes last.
            await new Promise((r) => setTimeout(r, 10 * (8 - offset)));
            running--;
            return file.read(offset, length);
          },
        };
      },
    });
    const { raw, done } = start(slow);
    await raw.hello();
    const h = await raw.handle("/r", OpenFlags.READ);
    for (let i = 0; i < 8; i++) {
      await raw.send(encodeRequest(200 + i, { type: "read", handle: h, offset: i, length: 1 }));
    }
    for (let i = 0; i < 8; i++) {
      const r = await raw.reply();
      assert.equal(r.id, 200 + i);
      assert.deepEqual((r.response as { data: Uint8Array }).data, new Uint8Array([i]));
    }
    assert.equal(most, 8);
    await raw.writer.close();
    await done;
  });

  it("answers handles never opened or already closed as sftp-server does", async () => {
    const { raw, done } = start();
    await raw.hello();
    const bogus = new Uint8Array([0, 0, 0, 99]);
    assert.equal(
      await raw.status({ type: "read", handle: bogus, offset: 0, length: 1 }),
      FX.FAILURE,
    );
    assert.equal(await raw.status({ type: "fstat", handle: bogus }), FX.FAILURE);
    assert.equal(await raw.status({ type: "readdir", handle: bogus }), FX.FAILURE);
    assert.equal(await raw.status({ type: "close", handle: bogus }), FX.NO_SUCH_FILE);
    const odd = new Uint8Array([1, 2, 3]);
    assert.equal(
      await raw.status({ type: "write", handle: odd, offset: 0, data: odd }),
      FX.FAILURE,
    );
    const h = await raw.handle("/x", RW);
    assert.equal(await raw.status({ type: "close", handle: h }), FX.OK);
    assert.equal(await raw.status({ type: "close", handle: h }), FX.NO_SUCH_FILE);
    assert.equal(await raw.status({ type: "read", handle: h, offset: 0, length: 1 }), FX.FAILURE);
    const d = (await raw.call({ type: "opendir", path: "/" }) as { handle: Uint8Array }).handle;
    assert.equal(await raw.status({ type: "read", handle: d, offset: 0, length: 1 }), FX.FAILURE);
    const list = await raw.call({ type: "readdir", handle: d });
    assert.equal(list.type, "name");
    assert.deepEqual((list as { entries: { filename: string }[] }).entries.map((e) => e.filename), [
      ".",
      "..",
      "x",
    ]);
    assert.equal(await raw.status({ type: "readdir", handle: d }), FX.EOF);
    await raw.writer.close();
    await done;
  });

  it("answers malformed packets BAD_MESSAGE, unknown types and extensions OP_UNSUPPORTED, and goes on", async () => {
    const { raw, done } = start();
    await raw.hello();
    // STAT (17) with id 5 and a path string that claims 1000 bytes.
    await raw.send(packet(new Uint8Array([17, 0, 0, 0, 5, 0, 0, 3, 232, 65])));
    assert.deepEqual(await raw.reply(), {
      id: 5,
      response: { type: "status", code: FX.BAD_MESSAGE, message: "Bad message", language: "" },
    });
    // A path that is not UTF-8.
    await raw.send(packet(new Uint8Array([17, 0, 0, 0, 6, 0, 0, 0, 1, 0xff])));
    assert.equal(((await raw.reply()).response as { code: number }).code, FX.BAD_MESSAGE);
    // Type 99, id 7.
    await raw.send(packet(new Uint8Array([99, 0, 0, 0, 7])));
    assert.deepEqual(await raw.reply(), {
      id: 7,
      response: {
        type: "status",
        code: FX.OP_UNSUPPORTED,
        message: "Operation unsupported",
        language: "",
      },
    });
    assert.equal(
      await raw.status({ type: "extended", name: "nobody@example.com", data: new Uint8Array(3) }),
      FX.OP_UNSUPPORTED,
    );
    // READ with a trailing byte.
    const h = await raw.handle("/t", RW);
    const read = encodeRequest(9, { type: "read", handle: h, offset: 0, length: 4 });
    const longer = new Uint8Array(read.length + 1);
    longer.set(read);
    new DataView(longer.buffer).setUint32(0, read.length - 3);
    await raw.send(longer);
    assert.equal(((await raw.reply()).response as { code: number }).code, FX.BAD_MESSAGE);
    // Unknown attribute flags in SETSTAT.
    await raw.send(packet(new SshWriter().byte(9).uint32(10).string("/t").uint32(0x100).finish()));
    assert.equal(((await raw.reply()).response as { code: number }).code, FX.BAD_MESSAGE);
    assert.equal(await raw.status({ type: "stat", path: "/missing" }), FX.NO_SUCH_FILE);
    assert.equal((await raw.call({ type: "stat", path: "/t" })).type, "attrs");
    await raw.writer.close();
    assert.equal((await done).reason, "eof");
  });

  it("answers oversized counts BAD_MESSAGE and quotes peer text in its log", async () => {
    const lines: string[] = [];
    const { raw, done } = start(new MemoryBackend(), { log: (l) => lines.push(l) });
    await raw.hello();
    // SETSTAT whose attrs claim 0xffffffff extended pairs.
    const attrs = new SshWriter().byte(9).uint32(11).string("/").uint32(0x80000000).uint32(
      0xffffffff,
    );
    await raw.send(packet(attrs.finish()));
    assert.equal(((await raw.reply()).response as { code: number }).code, FX.BAD_MESSAGE);
    // users-groups-by-id whose uid list is not a whole number of uint32.
    const ids = new SshWriter().byte(200).uint32(12).string("users-groups-by-id@openssh.com")
      .string(new Uint8Array(5)).string(new Uint8Array(0));
    await raw.send(packet(ids.finish()));
    assert.equal(((await raw.reply()).response as { code: number }).code, FX.BAD_MESSAGE);
    assert.equal(
      await raw.status({ type: "extended", name: "evil\nname\u202e", data: new Uint8Array(0) }),
      FX.OP_UNSUPPORTED,
    );
    assert.ok(lines.some((l) => l.includes("evil\\x0aname\\u{202E}")), lines.join("\n"));
    assert.ok(lines.every((l) => !l.includes("\n")));
    await raw.writer.close();
    assert.equal((await done).reason, "eof");
  });

  it("ends the session on a packet without an id, a length over 256 KiB, or no INIT", async () => {
    for (
      const bytes of [
        packet(new Uint8Array([17, 0, 0])),
        new Uint8Array([0, 0x10, 0, 0, 17]),
        new Uint8Array([0, 0, 0, 0]),
      ]
    ) {
      const { raw, done } = start();
      await raw.hello();
      await raw.send(bytes);
      const end = await done;
      assert.equal(end.reason, "error");
      assert.equal(await raw.packet(), null);
    }
    const { raw, done } = start();
    await raw.send(encodeRequest(1, { type: "stat", path: "/" }));
    assert.equal((await done).reason, "error");
    assert.equal(await raw.packet(), null);
  });

  it("bounds open handles: 10,000 opens get maxHandles handles, the rest FAILURE", async () => {
    const backend = new MemoryBackend();
    backend.writeFile("/f", te.encode("x"));
    let closed = 0;
    const counting: SftpBackend = Object.assign(Object.create(backend), {
      open: async (p: string, f: number, a: object) => {
        const file = await backend.open(p, f, a);
        return { ...file, close: () => (closed++, file.close()) };
      },
    });
    const { raw, done } = start(counting, { maxHandles: 100 });
    await raw.hello();
    for (let i = 0; i < 10_000; i++) {
      await raw.send(
        encodeRequest(i, { type: "open", path: "/f", flags: OpenFlags.READ, attrs: {} }),
      );
    }
    const codes = new Map<string, number>();
    for (let i = 0; i < 10_000; i++) {
      const r = (await raw.reply()).response;
      const k = r.type === "handle" ? "handle" : `status ${(r as { code: number }).code}`;
      codes.set(k, (codes.get(k) ?? 0) + 1);
    }
    assert.deepEqual(Object.fromEntries(codes), { handle: 100, [`status ${FX.FAILURE}`]: 9_900 });
    assert.equal(closed, 9_900); // refused files are closed at once
    await raw.writer.close();
    await done;
    assert.equal(closed, 10_000); // the rest when the session ends
  });

  it("stops reading when maxInFlight requests wait on a client that reads no replies", async () => {
    const backend = new MemoryBackend();
    backend.writeFile("/big", new Uint8Array(DEFAULT_MAX_READ_LENGTH));
    const [client, server] = memoryPair({ highWaterMark: 1024 });
    const done = serveSftp(server, backend, { maxInFlight: 4 });
    const raw = new Raw(client);
    await raw.hello();
    const h = await raw.handle("/big", OpenFlags.READ);
    let sent = 0;
    const sending = (async () => {
      for (; sent < 200; sent++) {
        await raw.send(
          encodeRequest(1000 + sent, {
            type: "read",
            handle: h,
            offset: 0,
            length: DEFAULT_MAX_READ_LENGTH,
          }),
        );
      }
    })();
    await new Promise((r) => setTimeout(r, 300));
    // 4 in flight, 1 KiB of buffered requests (about 40): not all 200.
    assert.ok(sent < 100, `${sent} requests were taken`);
    for (let i = 0; i < 200; i++) {
      const r = await raw.reply();
      assert.equal(r.response.type, "data");
    }
    await sending;
    await raw.writer.close();
    assert.equal((await done).requests, 201); // the open and 200 reads
  });

  it("runs no queued request once the client stopped taking replies", async () => {
    const backend = new MemoryBackend();
    const [client, server] = memoryPair({ highWaterMark: 1024 });
    const done = serveSftp(server, backend, { maxInFlight: 2 });
    const raw = new Raw(client);
    await raw.hello();
    // 500 mkdirs in one chunk: all queued at once; the replies fill the
    // 1 KiB the client does not read, then the client goes away.
    const all = new SshWriter();
    for (let i = 0; i < 500; i++) {
      all.raw(encodeRequest(10 + i, { type: "mkdir", path: `/d${i}`, attrs: {} }));
    }
    await raw.send(all.finish());
    await new Promise((r) => setTimeout(r, 200));
    await raw.reader.cancel();
    const end = await done;
    assert.equal(end.reason, "error");
    await new Promise((r) => setTimeout(r, 200));
    const made = (await (await backend.opendir("/")).read())!.length - 2;
    // 1 KiB holds 36 replies of 28 bytes; then the 2 in flight and the one
    // whose write was waiting when the client left (without the stop: ~100).
    assert.ok(made <= 40, `${made} of the 500 mkdirs ran`);
  });

  it("read-only: refuses every change with PERMISSION_DENIED, reads still work", async () => {
    const backend = new MemoryBackend();
    backend.writeFile("/r", te.encode("ro"));
    const { raw, done } = start(backend, { readOnly: true });
    await raw.hello();
    const denied = FX.PERMISSION_DENIED;
    assert.equal(await raw.status({ type: "open", path: "/n", flags: RW, attrs: {} }), denied);
    assert.equal(
      await raw.status({
        type: "open",
        path: "/r",
        flags: OpenFlags.READ | OpenFlags.TRUNC,
        attrs: {},
      }),
      denied,
    );
    assert.equal(await raw.status({ type: "remove", path: "/r" }), denied);
    assert.equal(await raw.status({ type: "mkdir", path: "/d", attrs: {} }), denied);
    assert.equal(await raw.status({ type: "rename", oldPath: "/r", newPath: "/s" }), denied);
    assert.equal(
      await raw.status({ type: "setstat", path: "/r", attrs: { permissions: 0o600 } }),
      denied,
    );
    assert.equal(await raw.status({ type: "symlink", target: "/r", linkPath: "/l" }), denied);
    assert.equal(
      await raw.status({ type: "hardlink@openssh.com", oldPath: "/r", newPath: "/l" }),
      denied,
    );
    const h = await raw.handle("/r", OpenFlags.READ);
    const r = await raw.call({ type: "read", handle: h, offset: 0, length: 10 });
    assert.deepEqual((r as { data: Uint8Array }).data, te.encode("ro"));
    await raw.writer.close();
    await done;
    assert.deepEqual(backend.readFile("/r"), te.encode("ro"));
  });

  it("copy-data copies between handles and refuses overlap within one file", async () => {
    const backend = new MemoryBackend();
    backend.writeFile("/a", te.encode("0123456789"));
    const { raw, done } = start(backend);
    await raw.hello();
    const a = await raw.handle("/a", OpenFlags.READ | OpenFlags.WRITE);
    const b = await raw.handle("/b", RW);
    const copy = (length: number, from: Uint8Array, to: Uint8Array, at = 0, into = 0) =>
      raw.status({
        type: "copy-data",
        readHandle: from,
        readOffset: at,
        length,
        writeHandle: to,
        writeOffset: into,
      });
    assert.equal(await copy(0, a, b), FX.OK);
    assert.equal(await copy(4, a, a, 0, 2), FX.FAILURE);
    assert.equal(await copy(20, a, b, 5, 10), FX.EOF);
    await raw.writer.close();
    await done;
    assert.equal(new TextDecoder().decode(backend.readFile("/b")), "012345678956789");
  });
});
