import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import process from "node:process";
import * as unix from "./unix.ts";
import { nodeConnectUnix, nodeListenUnix } from "./_node_unix.ts";
import { makePrivateTempDir, removeTree } from "./fs.ts";
import type {
  ConnectUnixOptions,
  ListenUnixOptions,
  UnixConnection,
  UnixListener,
} from "./types.ts";
import { dec, enc, readAll } from "./_test_util.ts";

interface Impl {
  name: string;
  connectUnix(path: string, options?: ConnectUnixOptions): Promise<UnixConnection>;
  listenUnix(path: string, options?: ListenUnixOptions): Promise<UnixListener>;
}

// As in tcp_test.ts: unix.ts picks the runtime's adapter (Deno.connect,
// Bun.connect, node:net); on Deno and Bun the node:net adapter (Node's) is
// exercised too.
const runtime = "Deno" in globalThis ? "Deno" : "Bun" in globalThis ? "Bun" : undefined;
const impls: Impl[] = [{ name: `${runtime ?? "node:net"} via unix.ts`, ...unix }];
if (runtime) {
  impls.push({
    name: `node:net on ${runtime}`,
    connectUnix: (path, options = {}) => nodeConnectUnix(path, options),
    listenUnix: (path, options = {}) => nodeListenUnix(path, options),
  });
}

let dir = "";
let n = 0;
before(() => {
  dir = makePrivateTempDir("rxssh-unix-test-");
});
after(() => removeTree(dir));
const freshPath = () => `${dir}/s${n++}.sock`;

async function withPair(
  impl: Impl,
  path: string,
  body: (client: UnixConnection, server: UnixConnection, listener: UnixListener) => Promise<void>,
  options: ListenUnixOptions = {},
): Promise<void> {
  const listener = await impl.listenUnix(path, options);
  let client: UnixConnection | undefined;
  let server: UnixConnection | undefined;
  try {
    [client, server] = await Promise.all([impl.connectUnix(path), listener.accept()]);
    await body(client, server, listener);
  } finally {
    client?.close();
    server?.close();
    listener.close();
  }
}

async function write(conn: UnixConnection, text: string): Promise<void> {
  const w = conn.writable.getWriter();
  await w.write(enc.encode(text));
  w.releaseLock();
}

for (const impl of impls) {
  describe(`unix sockets (${impl.name})`, () => {
    it("round trip: both directions, half-close keeps the other direction open", async () => {
      const path = freshPath();
      await withPair(impl, path, async (client, server, listener) => {
        assert.equal(listener.path, path);
        assert.equal(client.path, path);
        assert.equal(server.path, path);
        await write(client, "ping");
        await client.writable.close(); // EOF to the server
        assert.equal(dec.decode(await readAll(server.readable)), "ping");
        await write(server, "pong after your EOF");
        await server.writable.close();
        assert.equal(dec.decode(await readAll(client.readable)), "pong after your EOF");
      });
    });

    it("1 MiB through an echo with backpressure", async () => {
      await withPair(impl, freshPath(), async (client, server) => {
        const echo = server.readable.pipeTo(server.writable);
        const data = new Uint8Array(1 << 20).map((_, i) => (i * 131) & 0xff);
        const writing = (async () => {
          const w = client.writable.getWriter();
          for (let off = 0; off < data.length; off += 65536) {
            await w.write(data.subarray(off, off + 65536));
          }
          await w.close();
        })();
        const got = await readAll(client.readable);
        await writing;
        await echo;
        assert.equal(got.length, data.length);
        assert.deepEqual(got, data);
      });
    });

    it("a socket file while listening; closing the listener removes it", async () => {
      const path = freshPath();
      const listener = await impl.listenUnix(path);
      assert.ok(fs.statSync(path).isSocket());
      listener.close();
      listener.close(); // idempotent
      // Node's server unlinks the file as it finishes closing.
      for (let i = 0; i < 50 && fs.existsSync(path); i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      assert.equal(fs.existsSync(path), false);
      await assert.rejects(listener.accept(), /closed/);
    });

    it("a closed listener ends its iteration and a pending accept", async () => {
      const listener = await impl.listenUnix(freshPath());
      const pending = listener.accept();
      const iteration = (async () => {
        const got: UnixConnection[] = [];
        for await (const c of listener) got.push(c);
        return got;
      })();
      listener.close();
      await assert.rejects(pending, /closed/);
      assert.deepEqual(await iteration, []);
    });

    it("rejects a path where nothing listens, and a path already bound", async () => {
      const path = freshPath();
      await assert.rejects(impl.connectUnix(path));
      const listener = await impl.listenUnix(path);
      try {
        await assert.rejects(impl.listenUnix(path));
      } finally {
        listener.close();
      }
    });

    it("an aborted signal refuses to connect", async () => {
      const path = freshPath();
      const listener = await impl.listenUnix(path);
      try {
        const ac = new AbortController();
        ac.abort(new Error("gave up"));
        await assert.rejects(impl.connectUnix(path, { signal: ac.signal }), /gave up/);
      } finally {
        listener.close();
      }
    });

    it(
      "Linux abstract sockets ('\\0name': no file)",
      { skip: process.platform !== "linux" },
      async () => {
        const path = `\0rxssh-unix-test-${Date.now()}-${n++}`;
        await withPair(impl, path, async (client, server) => {
          await write(server, "abstract");
          await server.writable.close();
          assert.equal(dec.decode(await readAll(client.readable)), "abstract");
        }, { mode: 0o600 }); // ignored: there is no file
      },
    );
  });
}

describe("unix.ts", () => {
  it("listenUnix gives the socket file options.mode (0600, 0660)", async () => {
    for (const mode of [0o600, 0o660]) {
      const path = freshPath();
      const listener = await unix.listenUnix(path, { mode });
      try {
        assert.equal(fs.statSync(path).mode & 0o777, mode);
      } finally {
        listener.close();
      }
    }
  });

  it("refuses an empty path", async () => {
    await assert.rejects(unix.connectUnix(""), TypeError);
    await assert.rejects(unix.listenUnix("\0"), TypeError);
  });
});
