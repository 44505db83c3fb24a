/**
 * TCP on Bun: `Bun.connect` / `Bun.listen` sockets wrapped into WHATWG
 * streams, with backpressure in both directions and half-close
 * (`allowHalfOpen`).
 *
 * Bun's sockets do not buffer: `socket.write` returns how many bytes the
 * kernel took, and the rest is written here on `drain`. A write resolves
 * only once all of its bytes are taken, so the caller may reuse its buffer.
 * Reading pauses (`socket.pause()`) when the readable's queue is full and
 * resumes on the next pull. Closing the writable calls `socket.shutdown()`
 * (FIN, reading goes on); `close()` calls `socket.end()`, which closes the
 * socket gracefully in both directions (already-written bytes are still
 * delivered, unlike `terminate()`, which resets the connection).
 *
 * `Bun` is not typed under `deno check`; the few members used here are
 * declared locally, and this module touches `Bun` only when called.
 *
 * @module
 */
import { acceptingFrom } from "./accept.ts";
import { abortable } from "./_abortable.ts";
import type {
  ByteStreamPair,
  ConnectTcpOptions,
  ListenTcpOptions,
  TcpConnection,
  TcpListener,
} from "./types.ts";

/** Bytes queued in the readable before the socket is paused. */
const READ_HIGH_WATER_MARK = 256 * 1024;

/** The members of Bun's `Socket` that this adapter uses. */
interface BunSocket<Data> {
  data: Data;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  /** Bytes the kernel took (possibly fewer than asked), or -1 when closed. */
  write(data: Uint8Array): number;
  /** Sends FIN; the socket keeps reading. */
  shutdown(): void;
  /** Closes both directions gracefully. */
  end(): void;
  pause(): void;
  resume(): void;
  setNoDelay(noDelay?: boolean): boolean;
}

/** The socket handlers this adapter installs (`binaryType: "uint8array"`). */
interface BunSocketHandler<Data> {
  binaryType: "uint8array";
  open?(socket: BunSocket<Data>): void;
  data(socket: BunSocket<Data>, data: Uint8Array): void;
  drain(socket: BunSocket<Data>): void;
  end(socket: BunSocket<Data>): void;
  close(socket: BunSocket<Data>, error?: Error): void;
  error(socket: BunSocket<Data>, error: Error): void;
  connectError?(socket: BunSocket<Data>, error: Error): void;
}

/** The members of Bun's `TCPSocketListener` that this adapter uses. */
interface BunListener {
  readonly hostname: string;
  readonly port: number;
  stop(closeActiveConnections?: boolean): void;
}

/** The members of the `Bun` global that the adapters use. */
interface BunNamespace {
  /** TCP with `hostname` and `port`; a unix socket with `unix` (a path, or "\0name"). */
  connect<Data>(
    options: ({ hostname: string; port: number } | { unix: string }) & {
      allowHalfOpen: boolean;
      data: Data;
      socket: BunSocketHandler<Data>;
    },
  ): Promise<BunSocket<Data>>;
  /** TCP with `hostname` and `port`; a unix socket with `unix`. */
  listen<Data>(
    options: ({ hostname: string; port: number } | { unix: string }) & {
      allowHalfOpen: boolean;
      /** SO_REUSEPORT (TCP). */
      reusePort?: boolean;
      socket: BunSocketHandler<Data>;
    },
  ): BunListener;
}

/**
 * The `Bun` global, typed with the members the adapters use; throws when
 * not running on Bun.
 *
 * @example
 * ```ts
 * import { bun } from "./_bun_tcp.ts";
 * if ("Bun" in globalThis) console.log(typeof bun().listen); // "function"
 * ```
 */
export function bun(): BunNamespace {
  const g = globalThis as unknown as { Bun?: BunNamespace };
  if (!g.Bun) throw new Error("_bun_tcp: the Bun global is missing (not running on Bun)");
  return g.Bun;
}

/** A write waiting for `drain` to hand the rest of its bytes to the kernel. */
interface PendingWrite {
  chunk: Uint8Array;
  offset: number;
  resolve(): void;
  reject(e: unknown): void;
}

/**
 * The per-socket state behind a {@link TcpConnection} (or a unix socket's
 * pair): Bun's handlers are shared, so they find it in `socket.data` and
 * forward events to it.
 *
 * @example
 * ```ts
 * import { bun, BunConn, handlers } from "./_bun_tcp.ts";
 * const socket = await bun().connect<BunConn>({
 *   unix: "/tmp/agent.sock",
 *   allowHalfOpen: true,
 *   data: new BunConn(),
 *   socket: { ...handlers(), open: (s) => s.data.attach(s, false) },
 * });
 * socket.data.pair().close();
 * ```
 */
export class BunConn {
  #socket: BunSocket<BunConn> | undefined;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #closedLocally = false;
  #readDone = false;
  #writeDone = false;
  #socketClosed = false;
  #paused = false;
  #error: unknown;
  #pending: PendingWrite | undefined;
  /** Bytes from the peer. */
  readonly readable: ReadableStream<Uint8Array>;
  /** Bytes to the peer; closing it half-closes. */
  readonly writable: WritableStream<Uint8Array>;

  constructor() {
    this.readable = new ReadableStream<Uint8Array>(
      {
        start: (c) => {
          this.#controller = c;
        },
        pull: () => {
          if (this.#paused && !this.#readDone && !this.#socketClosed) {
            this.#paused = false;
            this.#socket?.resume();
          }
        },
        cancel: () => {
          this.#readDone = true;
          this.#pause();
          this.#maybeRelease();
        },
      },
      { highWaterMark: READ_HIGH_WATER_MARK, size: (chunk) => chunk.byteLength },
    );
    this.writable = new WritableStream<Uint8Array>({
      write: (chunk) => this.#write(chunk),
      close: () => {
        this.#writeDone = true;
        if (this.#socketClosed) {
          return this.#readDone ? undefined : Promise.reject(this.#gone());
        }
        this.#socket?.shutdown();
        this.#maybeRelease();
      },
      abort: () => {
        this.#writeDone = true;
        this.#release();
      },
    });
  }

  /** Called from the `open` handler, before any other event. */
  attach(socket: BunSocket<BunConn>, noDelay: boolean): void {
    this.#socket = socket;
    if (noDelay) socket.setNoDelay(true);
  }

  /** The connection as the public shape. */
  connection(): TcpConnection {
    const socket = this.#socket!;
    return {
      ...this.pair(),
      remoteAddress: socket.remoteAddress ?? "",
      remotePort: socket.remotePort ?? 0,
      localAddress: socket.localAddress ?? "",
      localPort: socket.localPort ?? 0,
    };
  }

  /** The streams and `close()`, without addresses (what a unix socket has). */
  pair(): ByteStreamPair & { close(): void } {
    return {
      readable: this.readable,
      writable: this.writable,
      close: () => {
        this.#closedLocally = true;
        this.#release();
      },
    };
  }

  /** The `data` handler: queues the bytes, pausing the socket when the queue is full. */
  onData(data: Uint8Array): void {
    if (this.#readDone) return;
    this.#controller.enqueue(data);
    if ((this.#controller.desiredSize ?? 0) <= 0) this.#pause();
  }

  /** The `drain` handler: hands the pending write's rest to the kernel. */
  onDrain(): void {
    const p = this.#pending;
    if (!p || !this.#socket) return;
    const n = this.#socket.write(p.chunk.subarray(p.offset));
    if (n < 0) return; // closed: the close handler rejects the write
    p.offset += n;
    if (p.offset >= p.chunk.byteLength) {
      this.#pending = undefined;
      p.resolve();
    }
  }

  /** The peer sent FIN. */
  onEnd(): void {
    this.#finishRead();
    this.#maybeRelease();
  }

  /** The `error` handler: remembers the first error for `close`. */
  onError(error: Error): void {
    this.#error ??= error;
  }

  /** The `close` handler: rejects a pending write and ends the readable. */
  onClose(error?: Error): void {
    this.#socketClosed = true;
    if (error) this.#error ??= error;
    const p = this.#pending;
    this.#pending = undefined;
    p?.reject(this.#gone());
    // Bun reports a clean close without an `end` event when the peer's FIN
    // arrives after our own shutdown: that is end-of-stream, not an error.
    this.#finishRead(this.#closedLocally ? undefined : this.#error);
  }

  #write(chunk: Uint8Array): Promise<void> | undefined {
    if (this.#socketClosed || !this.#socket) return this.#writeFailed();
    if (chunk.byteLength === 0) return;
    const n = this.#socket.write(chunk);
    if (n < 0) return this.#writeFailed();
    if (n >= chunk.byteLength) return;
    return new Promise<void>((resolve, reject) => {
      this.#pending = { chunk, offset: n, resolve, reject };
    });
  }

  /**
   * A write the socket refused errors the writable, so neither its `close`
   * nor its `abort` will come: the write side is done here, or a socket whose
   * readable is cancelled too would never be released (Bun may not report
   * `close` for a paused socket that got a reset).
   */
  #writeFailed(): Promise<void> {
    this.#writeDone = true;
    this.#maybeRelease();
    return Promise.reject(this.#gone());
  }

  #pause(): void {
    if (this.#paused || this.#socketClosed) return;
    this.#paused = true;
    this.#socket?.pause();
  }

  #finishRead(error?: unknown): void {
    if (this.#readDone) return;
    this.#readDone = true;
    if (error === undefined) this.#controller.close();
    else this.#controller.error(error);
  }

  #maybeRelease(): void {
    if (this.#readDone && this.#writeDone) this.#release();
  }

  #release(): void {
    if (this.#socketClosed) {
      if (this.#closedLocally) this.#finishRead();
      return;
    }
    // `end()` closes at once (Bun keeps no write buffer) and fires `close`.
    this.#socket?.end();
    if (this.#closedLocally) this.#finishRead();
  }

  #gone(): unknown {
    const s = this.#socket;
    // A unix socket has no remote address.
    const peer = s?.remoteAddress ? `${s.remoteAddress}:${s.remotePort}` : "the socket peer";
    return this.#error ?? new Error(`connection to ${peer} closed`);
  }
}

/**
 * The handlers shared by every socket: they forward to `socket.data`, a
 * {@link BunConn}.
 *
 * @example
 * ```ts
 * import { handlers } from "./_bun_tcp.ts";
 * console.log(handlers().binaryType); // "uint8array"
 * ```
 */
export function handlers(): BunSocketHandler<BunConn> {
  return {
    binaryType: "uint8array",
    data: (s, d) => s.data.onData(d),
    drain: (s) => s.data.onDrain(),
    end: (s) => s.data.onEnd(),
    close: (s, e) => s.data.onClose(e),
    error: (s, e) => s.data.onError(e),
  };
}

/**
 * `connectTcp` on Bun.
 *
 * @example
 * ```ts
 * import { bunConnectTcp } from "./_bun_tcp.ts";
 * const conn = await bunConnectTcp("127.0.0.1", 22, {}).catch(() => undefined);
 * conn?.close();
 * ```
 */
export async function bunConnectTcp(
  host: string,
  port: number,
  options: ConnectTcpOptions,
): Promise<TcpConnection> {
  const { signal } = options;
  signal?.throwIfAborted();
  const pending = bun().connect<BunConn>({
    hostname: host,
    port,
    allowHalfOpen: true,
    data: new BunConn(),
    socket: {
      ...handlers(),
      open: (s) => s.data.attach(s, options.noDelay ?? true),
      connectError: () => {},
    },
  });
  const socket = await abortable(pending, signal, (s) => s.end());
  return socket.data.connection();
}

/**
 * `listenTcp` on Bun. Bun accepts natively: a failed accept (the process out
 * of descriptors) never reaches JavaScript, so `options.onWarning` is not
 * called; Bun retries at once, spinning a core until descriptors are free
 * (see DESIGN.md, "Listeners").
 *
 * @example
 * ```ts
 * import { bunListenTcp } from "./_bun_tcp.ts";
 * const listener = bunListenTcp({ hostname: "127.0.0.1", port: 0 });
 * console.log(listener.port);
 * listener.close();
 * ```
 */
export function bunListenTcp(options: ListenTcpOptions): TcpListener {
  const hostname = options.hostname ?? "0.0.0.0";
  const noDelay = options.noDelay ?? true;
  const { listener, next, close } = bunAccepting(
    (socket) =>
      bun().listen<BunConn>({
        hostname,
        port: options.port ?? 0,
        allowHalfOpen: true,
        reusePort: options.reusePort ?? false, // SO_REUSEPORT
        socket,
      }),
    (state) => state.connection(),
    noDelay,
  );
  return {
    hostname: listener.hostname,
    port: listener.port,
    close,
    ...acceptingFrom(next, `listenTcp on ${hostname}`),
  };
}

/**
 * The accept queue of a Bun listener (TCP or unix): `listen` binds with the
 * given socket handlers; each accepted socket becomes `wrap(state)`, handed
 * to the first waiting `next()` or queued. `close()` stops the listener,
 * closes queued connections and ends waiting `next()` calls with
 * `undefined`.
 *
 * @example
 * ```ts
 * import { bunAccepting } from "./_bun_tcp.ts";
 * const Bun = (globalThis as any).Bun;
 * const { next, close } = bunAccepting(
 *   (socket) => Bun.listen({ hostname: "127.0.0.1", port: 0, allowHalfOpen: true, socket }),
 *   (state) => state.pair(),
 *   false,
 * );
 * close();
 * console.log(await next()); // undefined
 * ```
 */
export function bunAccepting<C extends { close(): void }>(
  listen: (socket: BunSocketHandler<BunConn>) => BunListener,
  wrap: (state: BunConn) => C,
  noDelay: boolean,
): { listener: BunListener; next(): Promise<C | undefined>; close(): void } {
  let closed = false;
  const queue: C[] = [];
  const waiters: ((conn: C | undefined) => void)[] = [];
  const listener = listen({
    ...handlers(),
    open(socket) {
      const state = new BunConn();
      socket.data = state;
      state.attach(socket, noDelay);
      if (closed) {
        socket.end();
        return;
      }
      // Data that arrives before accept() waits in the readable's queue,
      // which pauses the socket once it is full.
      const conn = wrap(state);
      const waiter = waiters.shift();
      if (waiter) waiter(conn);
      else queue.push(conn);
    },
  });
  return {
    listener,
    next() {
      if (closed) return Promise.resolve(undefined);
      const conn = queue.shift();
      if (conn) return Promise.resolve(conn);
      return new Promise((resolve) => waiters.push(resolve));
    },
    close() {
      if (closed) return;
      closed = true;
      listener.stop(false);
      for (const c of queue.splice(0)) c.close();
      for (const w of waiters.splice(0)) w(undefined);
    },
  };
}
