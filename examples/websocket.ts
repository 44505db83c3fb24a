/**
 * SSH over a WebSocket on loopback: an rxssh server behind an HTTP server
 * that upgrades `/ssh` to a WebSocket, and an rxssh client that reaches it
 * with the standard `WebSocket` class. This is libssh2's SEND/RECV
 * callbacks in web form: the SSH core only ever sees a pair of byte
 * streams.
 *
 * - Deno: `Deno.serve` + `Deno.upgradeWebSocket`; the server-side socket is
 *   a standard `WebSocket`, so `webSocketStream` wraps both ends.
 * - Bun: `Bun.serve` with `websocket` handlers; Bun's `ServerWebSocket` is
 *   callback-based, so a small adapter below turns it into streams (with
 *   real backpressure on sends: `send()` returns -1 and `drain` follows).
 *
 * Run: `deno run -A examples/websocket.ts` or `bun examples/websocket.ts`.
 *
 * @module
 */
import { firstValueFrom } from "rxjs";
import {
  type ByteStreamPair,
  connect,
  generatePrivateKey,
  serveConnection,
  type ServerOptions,
  type ServerSession,
  webSocketStream,
} from "../mod.ts";

const te = new TextEncoder();

/** The server's only command: counts the bytes on stdin and says how many. */
async function count(s: ServerSession): Promise<void> {
  let n = 0;
  const reader = s.stdin.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    n += value.length;
  }
  const out = s.stdout.getWriter();
  await out.write(te.encode(`${s.username} ran ${JSON.stringify(s.command)}: ${n} bytes\n`));
  out.releaseLock();
  await s.exit(0);
}

/** A loopback HTTP server that serves SSH on WebSocket upgrades of `/ssh`. */
interface WsServer {
  readonly port: number;
  readonly how: string;
  stop(): Promise<void>;
}

/** Deno: the upgraded socket is a standard WebSocket. */
function serveDeno(onStream: (s: ByteStreamPair) => void): WsServer {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    if (new URL(req.url).pathname !== "/ssh" || req.headers.get("upgrade") !== "websocket") {
      return new Response("SSH lives at /ssh (WebSocket)\n", { status: 404 });
    }
    const { socket, response } = Deno.upgradeWebSocket(req);
    webSocketStream(socket).then(onStream, (e) => console.error("server:", e.message));
    return response;
  });
  return {
    port: server.addr.port,
    how: "Deno.serve + Deno.upgradeWebSocket",
    stop: () => server.shutdown(),
  };
}

/** The members of Bun's `ServerWebSocket` used here. */
interface BunServerWebSocket {
  data: BunConn;
  /** Bytes sent (> 0), -1 when queued under backpressure, 0 when dropped (closed). */
  send(data: Uint8Array): number;
  close(code?: number, reason?: string): void;
}
interface BunConn {
  rc?: ReadableStreamDefaultController<Uint8Array>;
  drained?: () => void;
  closed: boolean;
}
interface BunServer {
  readonly port: number;
  upgrade(req: Request, options: { data: BunConn }): boolean;
  stop(closeActiveConnections?: boolean): Promise<void> | void;
}
interface BunLike {
  serve(options: {
    hostname: string;
    port: number;
    fetch(req: Request, server: BunServer): Response | undefined;
    websocket: {
      open(ws: BunServerWebSocket): void;
      message(ws: BunServerWebSocket, message: string | Uint8Array): void;
      drain(ws: BunServerWebSocket): void;
      close(ws: BunServerWebSocket, code: number, reason: string): void;
    };
  }): BunServer;
}

/** Bun: `ServerWebSocket` handlers turned into a byte stream pair. */
function serveBun(onStream: (s: ByteStreamPair) => void): WsServer {
  const bun = (globalThis as unknown as { Bun: BunLike }).Bun;
  const server = bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req, srv) {
      if (new URL(req.url).pathname === "/ssh" && srv.upgrade(req, { data: { closed: false } })) {
        return undefined;
      }
      return new Response("SSH lives at /ssh (WebSocket)\n", { status: 404 });
    },
    websocket: {
      open(ws) {
        const conn = ws.data;
        const readable = new ReadableStream<Uint8Array>({
          start: (c) => void (conn.rc = c),
          cancel: () => ws.close(1000),
        });
        const writable = new WritableStream<Uint8Array>({
          async write(chunk) {
            if (conn.closed) throw new Error("WebSocket closed");
            const sent = ws.send(chunk);
            if (sent === 0) throw new Error("WebSocket closed");
            if (sent === -1) await new Promise<void>((r) => (conn.drained = r)); // backpressure
          },
          close: () => ws.close(1000),
          abort: () => ws.close(4000, "aborted"),
        });
        onStream({ readable, writable });
      },
      message(ws, message) {
        if (typeof message === "string") return ws.close(1003, "binary messages only");
        ws.data.rc?.enqueue(new Uint8Array(message)); // a copy: Bun may reuse its buffer
      },
      drain(ws) {
        const d = ws.data.drained;
        ws.data.drained = undefined;
        d?.();
      },
      close(ws) {
        ws.data.closed = true;
        ws.data.drained?.();
        try {
          ws.data.rc?.close();
        } catch {
          // already closed or cancelled
        }
      },
    },
  });
  return {
    port: server.port,
    how: "Bun.serve websocket handlers",
    stop: async () => void await server.stop(true),
  };
}

const hostKey = await generatePrivateKey("ssh-ed25519");
const options: ServerOptions = {
  hostKeys: [hostKey],
  auth: { handlers: { password: (user, pw) => user === "demo" && pw === "demo" } },
  exec: count,
};
let serverDone!: Promise<string>;
const onStream = (stream: ByteStreamPair) => {
  serverDone = (async () => {
    const c = await serveConnection(stream, options);
    console.log(`server: ${c.username} authenticated over a WebSocket`);
    const d = await firstValueFrom(c.transport.disconnect$);
    return `${d.reasonName} (${d.local ? "sent" : "received"})`;
  })();
};
const server = "Bun" in globalThis ? serveBun(onStream) : serveDeno(onStream);
const url = `ws://127.0.0.1:${server.port}/ssh`;
console.log(`server: SSH on ${url} (${server.how})`);

// The client: the standard WebSocket class, counted on the way through.
const ws = new WebSocket(url);
const raw = await webSocketStream(ws);
console.log(`client: WebSocket open (binaryType ${ws.binaryType})`);
const counts = { sent: 0, received: 0 };
const counted: ByteStreamPair = {
  readable: raw.readable.pipeThrough(
    new TransformStream({
      transform(chunk, c) {
        counts.received += chunk.length;
        c.enqueue(chunk);
      },
    }),
  ),
  writable: (() => {
    const t = new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, c) {
        counts.sent += chunk.length;
        c.enqueue(chunk);
      },
    });
    t.readable.pipeTo(raw.writable).catch(() => {});
    return t.writable;
  })(),
};

const client = await connect({
  stream: counted,
  username: "demo",
  password: "demo",
  hostKey: { fingerprint: hostKey.publicKey.fingerprint() },
});
const a = client.transport.algorithms!;
console.log(`client: connected: ${a.kex}, ${a.hostKey}, ${a.cipherClientToServer}`);

const input = new Uint8Array(300_000).fill(0x62);
const r = await client.exec("count", { stdin: input });
console.log(
  `client: exec count with ${input.length} bytes of stdin -> ${
    new TextDecoder().decode(r.stdout).trim()
  }, exit ${r.code}`,
);
await client.close();
console.log(`server: connection ended: ${await serverDone}`);
console.log(`client: ${counts.sent} bytes sent and ${counts.received} received over the WebSocket`);
await server.stop();
console.log("websocket example done");
