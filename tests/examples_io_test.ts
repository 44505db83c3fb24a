// Bring-your-own I/O (libssh2's SEND/RECV): the WebSocket and in-memory
// examples run under the current runtime, and webSocketStream is unit-tested
// against a scripted WebSocket.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import process from "node:process";
import { webSocketStream } from "../lib/runtime/websocket.ts";

const isDeno = "Deno" in globalThis;
/** Runs a TypeScript file with the runtime running this test. */
function run(file: string) {
  const argv = isDeno ? ["run", "-A", file] : [file];
  return spawnSync(process.execPath, argv, { encoding: "utf8", timeout: 60_000 });
}

test("examples/websocket.ts: SSH over a loopback WebSocket, server and client", () => {
  const r = run("examples/websocket.ts");
  assert.equal(r.status, 0, r.stderr);
  const server = isDeno ? "Deno\\.serve \\+ Deno\\.upgradeWebSocket" : "Bun\\.serve websocket";
  assert.match(r.stdout, new RegExp(`server: SSH on ws://127\\.0\\.0\\.1:\\d+/ssh \\(${server}`));
  assert.match(r.stdout, /client: WebSocket open \(binaryType arraybuffer\)/);
  assert.match(r.stdout, /server: demo authenticated over a WebSocket/);
  assert.match(r.stdout, /client: connected: mlkem768x25519-sha256, ssh-ed25519/);
  assert.match(r.stdout, /-> demo ran "count": 300000 bytes, exit 0/);
  assert.match(r.stdout, /server: connection ended: BY_APPLICATION \(received\)/);
  const m = r.stdout.match(/client: (\d+) bytes sent and (\d+) received over the WebSocket/);
  assert.ok(m, r.stdout);
  assert.ok(Number(m[1]) > 300_000, `sent ${m[1]}`);
  assert.match(r.stdout, /websocket example done\n$/);
});

test("examples/in_memory.ts: SSH over memoryPair()", () => {
  const r = run("examples/in_memory.ts");
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /in-memory pair created/);
  assert.match(r.stdout, /client connected: mlkem768x25519-sha256, ssh-ed25519/);
  assert.match(r.stdout, /server authenticated demo \(password\)/);
  assert.match(r.stdout, /-> demo ran "count": 300000 bytes, exit 0/);
  assert.match(r.stdout, /server saw the disconnect: BY_APPLICATION \(received\)/);
  assert.match(r.stdout, /in-memory example done\n$/);
});

/** A scripted WebSocket: the test opens it, feeds it messages and sets bufferedAmount. */
class FakeWebSocket extends EventTarget {
  readyState = 0;
  binaryType = "blob";
  bufferedAmount = 0;
  readonly url = "ws://fake/ssh";
  readonly sent: Uint8Array[] = [];
  closedWith?: { code?: number; reason?: string };
  send(data: Uint8Array): void {
    if (this.readyState !== 1) throw new Error("not open");
    this.sent.push(data.slice());
  }
  close(code?: number, reason?: string): void {
    this.closedWith ??= { code, reason };
    this.readyState = 2;
  }
  open(): void {
    this.readyState = 1;
    this.dispatchEvent(new Event("open"));
  }
  message(data: unknown): void {
    this.dispatchEvent(Object.assign(new Event("message"), { data }));
  }
  closed(wasClean: boolean, code = wasClean ? 1000 : 1006): void {
    this.readyState = 3;
    this.dispatchEvent(Object.assign(new Event("close"), { wasClean, code, reason: "" }));
  }
}
const asWs = (f: FakeWebSocket) => f as unknown as WebSocket;
const tick = () => new Promise((r) => setTimeout(r, 0));

test("webSocketStream: waits for open, sets arraybuffer, delivers binary messages in order, ends on a clean close", async () => {
  const ws = new FakeWebSocket();
  const pending = webSocketStream(asWs(ws));
  assert.equal(ws.binaryType, "arraybuffer");
  ws.open();
  ws.message(new Uint8Array([1, 2, 3]).buffer); // sent right after open: not lost
  const { readable, writable } = await pending;
  const big = new Uint8Array(10).fill(9);
  ws.message(big.subarray(4, 7)); // a view at an offset
  ws.closed(true);
  const got: number[] = [];
  for await (const chunk of readable) got.push(...chunk);
  assert.deepEqual(got, [1, 2, 3, 9, 9, 9]);
  await assert.rejects(writable.getWriter().write(new Uint8Array([1])), /closing or closed/);
});

test("webSocketStream: writes send binary and wait while bufferedAmount is above the high-water mark", async () => {
  const ws = new FakeWebSocket();
  const pending = webSocketStream(asWs(ws), { sendHighWaterMark: 100 });
  ws.open();
  const { writable } = await pending;
  const w = writable.getWriter();
  await w.write(new Uint8Array([7, 7]));
  assert.deepEqual(ws.sent, [new Uint8Array([7, 7])]);
  ws.bufferedAmount = 500; // the socket has not drained
  let done = false;
  const p = w.write(new Uint8Array([8])).then(() => (done = true));
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(done, false, "the write waits for the socket to drain");
  assert.equal(ws.sent.length, 2, "the chunk itself was handed over at once");
  ws.bufferedAmount = 50;
  await p;
  assert.equal(done, true);
  await w.close();
  assert.deepEqual(ws.closedWith, { code: 1000, reason: undefined });
});

test("webSocketStream: unclean close and text messages error the readable; cancel closes the socket", async () => {
  {
    const ws = new FakeWebSocket();
    const pending = webSocketStream(asWs(ws));
    ws.open();
    const { readable } = await pending;
    ws.closed(false);
    await assert.rejects(readable.getReader().read(), /closed uncleanly \(code 1006/);
  }
  {
    const ws = new FakeWebSocket();
    const pending = webSocketStream(asWs(ws));
    ws.open();
    const { readable } = await pending;
    ws.message("hello");
    await assert.rejects(readable.getReader().read(), /text message/);
    assert.equal(ws.closedWith?.code, 1003);
  }
  {
    const ws = new FakeWebSocket();
    const pending = webSocketStream(asWs(ws));
    ws.open();
    const { readable } = await pending;
    await readable.cancel();
    assert.equal(ws.closedWith?.code, 1000);
  }
});

test("webSocketStream: a socket that fails to open, or is already closed, rejects", async () => {
  const ws = new FakeWebSocket();
  const pending = webSocketStream(asWs(ws));
  await tick();
  ws.dispatchEvent(new Event("error"));
  await assert.rejects(pending, /failed to open/);
  const gone = new FakeWebSocket();
  gone.readyState = 3;
  await assert.rejects(webSocketStream(asWs(gone)), /already closing or closed/);
  await assert.rejects(
    webSocketStream(asWs(new FakeWebSocket()), { sendHighWaterMark: -1 }),
    RangeError,
  );
});

/** A loopback WebSocket echo server under the current runtime. */
function echoServer(): { port: number; stop(): Promise<void> } {
  if (isDeno) {
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
      const { socket, response } = Deno.upgradeWebSocket(req);
      webSocketStream(socket).then((s) => s.readable.pipeTo(s.writable)).catch(() => {});
      return response;
    });
    return { port: server.addr.port, stop: () => server.shutdown() };
  }
  type Ws = { send(m: string | Uint8Array): number };
  type Srv = { port: number; upgrade(r: Request): boolean; stop(force?: boolean): unknown };
  const bun = (globalThis as unknown as {
    Bun: {
      serve(o: {
        hostname: string;
        port: number;
        fetch(r: Request, s: Srv): Response | undefined;
        websocket: { message(ws: Ws, m: string | Uint8Array): void };
      }): Srv;
    };
  }).Bun;
  const server = bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (req, srv) => srv.upgrade(req) ? undefined : new Response("no", { status: 400 }),
    websocket: { message: (ws, m) => void ws.send(m) },
  });
  return { port: server.port, stop: async () => void await server.stop(true) };
}

test("webSocketStream: a real loopback WebSocket, 200 kB echoed intact", async () => {
  const server = echoServer();
  try {
    const s = await webSocketStream(new WebSocket(`ws://127.0.0.1:${server.port}/`), {
      sendHighWaterMark: 16 * 1024,
    });
    const w = s.writable.getWriter();
    const data = Uint8Array.from({ length: 200_000 }, (_, i) => (i * 7) & 0xff);
    const reading = (async () => {
      const got = new Uint8Array(data.length);
      let n = 0;
      const r = s.readable.getReader();
      while (n < data.length) {
        const { value, done } = await r.read();
        if (done) break;
        got.set(value, n);
        n += value.length;
      }
      r.releaseLock();
      return got.subarray(0, n);
    })();
    for (let i = 0; i < data.length; i += 30_000) await w.write(data.subarray(i, i + 30_000));
    assert.deepEqual(await reading, data);
    // No half-close: closing our side closes the socket, and the readable ends.
    await w.close();
    assert.equal((await s.readable.getReader().read()).done, true);
  } finally {
    await server.stop();
  }
});
