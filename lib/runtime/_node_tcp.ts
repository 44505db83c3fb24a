/**
 * TCP on Bun and Node: `node:net` sockets wrapped into WHATWG streams, with
 * backpressure in both directions and half-close (`allowHalfOpen`).
 *
 * @module
 */
import type { Server, Socket } from "node:net";
import {
  AcceptBursts,
  acceptingFrom,
  errnoName,
  ListenerError,
  type ListenerWarning,
  TRANSIENT_ACCEPT_ERRORS,
} from "./accept.ts";
import type { ConnectTcpOptions, ListenTcpOptions, TcpConnection, TcpListener } from "./types.ts";

/** Bytes queued in the readable before the socket is paused. */
const READ_HIGH_WATER_MARK = 256 * 1024;

/**
 * Wraps a connected `node:net` socket (created with `allowHalfOpen: true`),
 * TCP or unix.
 *
 * @example
 * ```ts
 * import { createConnection } from "node:net";
 * import { wrapNodeSocket } from "./_node_tcp.ts";
 * const socket = createConnection({ host: "127.0.0.1", port: 22, allowHalfOpen: true });
 * socket.once("connect", () => wrapNodeSocket(socket, true).close());
 * socket.once("error", () => {});
 * ```
 */
export function wrapNodeSocket(socket: Socket, noDelay: boolean): TcpConnection {
  if (noDelay) socket.setNoDelay(true);
  const state = new SocketState(socket);
  return {
    readable: socketReadable(state),
    writable: socketWritable(state),
    remoteAddress: socket.remoteAddress ?? "",
    remotePort: socket.remotePort ?? 0,
    localAddress: socket.localAddress ?? "",
    localPort: socket.localPort ?? 0,
    close() {
      state.closedLocally = true;
      socket.destroy();
    },
  };
}

/** What both streams and `close()` of one wrapped socket share. */
class SocketState {
  /** `close()` was called: the readable then ends without an error. */
  closedLocally = false;
  readDone = false;
  writeDone = false;
  /** The socket emitted "close". */
  closed = false;
  /** The socket's last error. */
  error: unknown;
  /** Pending writes / end, rejected if the socket goes away under them. */
  readonly pending = new Set<(e: unknown) => void>();
  readonly #peer: string;

  constructor(readonly socket: Socket) {
    // A unix socket has no remote address.
    this.#peer = socket.remoteAddress
      ? `${socket.remoteAddress}:${socket.remotePort}`
      : "the socket peer";
    socket.on("error", (e: unknown) => {
      this.error = e;
    });
    socket.once("close", () => {
      this.closed = true;
      const err = this.gone();
      for (const reject of this.pending) reject(err);
      this.pending.clear();
    });
  }

  /** The error for an operation on a socket that went away. */
  gone(): unknown {
    return this.error ?? new Error(`connection to ${this.#peer} closed`);
  }

  /** Destroys the socket once both directions are done. */
  maybeDestroy(): void {
    if (this.readDone && this.writeDone && !this.socket.destroyed) this.socket.destroy();
  }
}

/**
 * The socket's bytes, paused while more than READ_HIGH_WATER_MARK bytes
 * wait unread; ends on the peer's end-of-stream, errors if the socket goes
 * away otherwise (unless closed locally).
 */
function socketReadable(state: SocketState): ReadableStream<Uint8Array> {
  const { socket } = state;
  return new ReadableStream<Uint8Array>(
    {
      start(c) {
        const finish = (error?: unknown) => {
          if (state.readDone) return;
          state.readDone = true;
          if (error === undefined || state.closedLocally) c.close();
          else c.error(error);
        };
        socket.on("data", (chunk: Uint8Array) => {
          if (state.readDone) return;
          c.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
          if ((c.desiredSize ?? 0) <= 0) socket.pause();
        });
        socket.once("end", () => {
          finish();
          state.maybeDestroy();
        });
        socket.once(
          "close",
          () => finish(state.error ?? (state.closedLocally ? undefined : state.gone())),
        );
      },
      pull() {
        if (!state.readDone) socket.resume();
      },
      cancel() {
        state.readDone = true;
        socket.pause();
        state.maybeDestroy();
      },
    },
    { highWaterMark: READ_HIGH_WATER_MARK, size: (chunk) => chunk.byteLength },
  );
}

/**
 * Writes that resolve once the kernel has the bytes; closing half-closes
 * (`socket.end`), aborting destroys the socket.
 */
function socketWritable(state: SocketState): WritableStream<Uint8Array> {
  const { socket, pending } = state;
  return new WritableStream<Uint8Array>({
    write(chunk) {
      if (state.closed) return Promise.reject(state.gone());
      if (chunk.byteLength === 0) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        pending.add(reject);
        // The callback fires once the bytes are handed to the kernel, so the
        // next write waits for a slow peer, and the caller may reuse `chunk`.
        socket.write(chunk, (err?: Error | null) => {
          pending.delete(reject);
          if (err) reject(err);
          else resolve();
        });
      });
    },
    close() {
      state.writeDone = true;
      if (state.closed) {
        return state.readDone ? Promise.resolve() : Promise.reject(state.gone());
      }
      return new Promise<void>((resolve, reject) => {
        pending.add(reject);
        socket.end(() => {
          pending.delete(reject);
          resolve();
          state.maybeDestroy();
        });
      });
    },
    abort() {
      state.writeDone = true;
      socket.destroy();
    },
  });
}

/**
 * `connectTcp` on Bun and Node.
 *
 * @example
 * ```ts
 * import { nodeConnectTcp } from "./_node_tcp.ts";
 * const conn = await nodeConnectTcp("127.0.0.1", 22, {}).catch(() => undefined);
 * conn?.close();
 * ```
 */
export async function nodeConnectTcp(
  host: string,
  port: number,
  options: ConnectTcpOptions,
): Promise<TcpConnection> {
  const { signal } = options;
  signal?.throwIfAborted();
  const net = await import("node:net");
  const socket = net.createConnection({ host, port, allowHalfOpen: true });
  await whenConnected(socket, signal);
  return wrapNodeSocket(socket, options.noDelay ?? true);
}

/**
 * Resolves once `socket` (just created by `net.createConnection`) is
 * connected; rejects with its error, or with `signal`'s reason when aborted
 * first (the socket is then destroyed).
 *
 * @example
 * ```ts
 * import { createConnection } from "node:net";
 * import { whenConnected } from "./_node_tcp.ts";
 * const socket = createConnection({ path: "/tmp/agent.sock", allowHalfOpen: true });
 * await whenConnected(socket, AbortSignal.timeout(1000)).catch(() => {});
 * socket.destroy();
 * ```
 */
export function whenConnected(socket: Socket, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      cleanup();
      socket.destroy();
      reject(signal?.reason);
    };
    const onError = (e: unknown) => {
      cleanup();
      socket.destroy();
      reject(e);
    };
    const onConnect = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      signal?.removeEventListener("abort", onAbort);
      socket.off("error", onError);
      socket.off("connect", onConnect);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    socket.once("error", onError);
    socket.once("connect", onConnect);
  });
}

/**
 * `listenTcp` on Bun and Node.
 *
 * @example
 * ```ts
 * import { nodeListenTcp } from "./_node_tcp.ts";
 * const listener = await nodeListenTcp({ hostname: "127.0.0.1", port: 0 });
 * console.log(listener.port);
 * listener.close();
 * ```
 */
export async function nodeListenTcp(options: ListenTcpOptions): Promise<TcpListener> {
  const net = await import("node:net");
  const hostname = options.hostname ?? "0.0.0.0";
  const server: Server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    // reusePort: SO_REUSEPORT from Node 22.12 and 23.1 (older versions ignore it).
    const listenOptions = { host: hostname, port: options.port ?? 0, reusePort: options.reusePort };
    server.listen(listenOptions, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return wrapNodeServer(server, options);
}

/**
 * A listening `node:net` server (created with `allowHalfOpen: true,
 * pauseOnConnect: true`) as a {@link TcpListener}. Node's libuv retries
 * failed accepts by itself (it even frees a reserve descriptor to drain the
 * queue on EMFILE) and emits them as server errors: transient ones are
 * reported through `options.onWarning`, once per burst; any other ends the
 * listener with a `ListenerError`.
 *
 * @example
 * ```ts
 * import { createServer } from "node:net";
 * import { wrapNodeServer } from "./_node_tcp.ts";
 * const server = createServer({ allowHalfOpen: true, pauseOnConnect: true });
 * server.listen({ host: "127.0.0.1", port: 0 }, () => {
 *   const listener = wrapNodeServer(server, { onWarning: (w) => console.error(w) });
 *   listener.close();
 * });
 * ```
 */
export function wrapNodeServer(server: Server, options: ListenTcpOptions): TcpListener {
  const noDelay = options.noDelay ?? true;
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : options.port ?? 0;
  const boundHost = typeof address === "object" && address
    ? address.address
    : options.hostname ?? "0.0.0.0";
  const { next, close } = nodeAccepting(
    server,
    { hostname: boundHost, port, onWarning: options.onWarning },
    (socket) => wrapNodeSocket(socket, noDelay),
  );
  return {
    hostname: boundHost,
    port,
    close,
    ...acceptingFrom(next, `listenTcp on ${boundHost}:${port}`),
  };
}

/**
 * The accept queue of a listening `node:net` server (TCP or unix): each
 * accepted socket becomes `wrap(socket)`, handed to the first waiting
 * `next()` or queued. Transient accept errors are reported through
 * `where.onWarning`, once per burst; any other ends the listener with a
 * `ListenerError` naming `where` (`next()` then rejects with it). `close()`
 * stops the server, destroys queued sockets and ends waiting `next()` calls
 * with `undefined`.
 *
 * @example
 * ```ts
 * import { createServer } from "node:net";
 * import { nodeAccepting, wrapNodeSocket } from "./_node_tcp.ts";
 * const server = createServer({ allowHalfOpen: true, pauseOnConnect: true });
 * server.listen({ host: "127.0.0.1", port: 0 }, async () => {
 *   const { next, close } = nodeAccepting(server, { hostname: "127.0.0.1", port: 0 }, (s) =>
 *     wrapNodeSocket(s, true));
 *   close();
 *   console.log(await next()); // undefined
 * });
 * ```
 */
export function nodeAccepting<C>(
  server: Server,
  where: { hostname: string; port: number; onWarning?: (w: ListenerWarning) => void },
  wrap: (socket: Socket) => C,
): { next(): Promise<C | undefined>; close(): void } {
  const bursts = new AcceptBursts(where.onWarning);
  let closed = false;
  let fatal: ListenerError | undefined;
  const queue: Socket[] = [];
  const waiters: { resolve: (s: Socket | undefined) => void; reject: (e: unknown) => void }[] = [];
  server.on("connection", (socket: Socket) => {
    bursts.succeeded();
    if (closed) {
      socket.destroy();
      return;
    }
    const waiter = waiters.shift();
    if (waiter) waiter.resolve(socket);
    else queue.push(socket);
  });
  const close = () => {
    if (closed) return;
    closed = true;
    server.close();
    for (const s of queue.splice(0)) s.destroy();
    for (const w of waiters.splice(0)) w.resolve(undefined);
  };
  server.on("error", (e: unknown) => {
    if (closed) return;
    const code = errnoName(e);
    if (TRANSIENT_ACCEPT_ERRORS.has(code)) return bursts.failed(e);
    const detail = e instanceof Error ? e.message : String(e);
    fatal = new ListenerError(detail, {
      hostname: where.hostname,
      port: where.port,
      code,
      cause: e,
    });
    const pending = waiters.splice(0);
    close();
    for (const w of pending) w.reject(fatal);
  });
  const nextSocket = (): Promise<Socket | undefined> => {
    if (fatal) return Promise.reject(fatal);
    if (closed) return Promise.resolve(undefined);
    const socket = queue.shift();
    if (socket) return Promise.resolve(socket);
    return new Promise((resolve, reject) => waiters.push({ resolve, reject }));
  };
  return {
    next: async () => {
      const socket = await nextSocket();
      return socket && wrap(socket);
    },
    close,
  };
}
