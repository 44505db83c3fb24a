/**
 * TCP on Deno: `Deno.connect` / `Deno.listen`, with streams built on
 * `conn.read` / `conn.write` so that closing the writable is a half-close
 * (`closeWrite`) rather than closing the whole resource as `conn.writable`
 * does.
 *
 * @module
 */
import { abortable } from "./_abortable.ts";
import { type AcceptBackoffOptions, acceptingFrom, acceptWithBackoff } from "./accept.ts";
import type {
  ByteStreamPair,
  ConnectTcpOptions,
  ListenTcpOptions,
  TcpConnection,
  TcpListener,
} from "./types.ts";

/** Size of each read from the socket. */
const READ_SIZE = 64 * 1024;
/** The smallest read buffer (what an idle connection holds). */
const MIN_READ_SIZE = 2048;

/**
 * Wraps an accepted or connected Deno TCP connection.
 *
 * @example
 * ```ts
 * import { wrapDenoConn } from "./_deno_tcp.ts";
 * const conn = wrapDenoConn(await Deno.connect({ hostname: "127.0.0.1", port: 22 }), true);
 * conn.close();
 * ```
 */
export function wrapDenoConn(conn: Deno.TcpConn, noDelay: boolean): TcpConnection {
  if (noDelay) {
    try {
      conn.setNoDelay(true);
    } catch {
      // not fatal: some platforms refuse on an already-reset socket
    }
  }
  const remote = conn.remoteAddr;
  const local = conn.localAddr;
  return {
    ...denoStreams(conn),
    remoteAddress: remote.hostname,
    remotePort: remote.port,
    localAddress: local.hostname,
    localPort: local.port,
  };
}

/**
 * The byte streams of any Deno connection (TCP or unix socket): closing
 * the writable half-closes (`closeWrite`); the resource is released once
 * both directions are done, or by `close()`.
 *
 * @example
 * ```ts
 * import { denoStreams } from "./_deno_tcp.ts";
 * const pair = denoStreams(await Deno.connect({ transport: "unix", path: "/tmp/agent.sock" }));
 * pair.close();
 * ```
 */
export function denoStreams(conn: Deno.Conn): ByteStreamPair & { close(): void } {
  const state = new ConnState(conn);
  return {
    readable: connReadable(state),
    writable: connWritable(state),
    close() {
      state.closedLocally = true;
      state.release();
    },
  };
}

/** What both streams and `close()` of one Deno connection share. */
class ConnState {
  /** The resource is closed. */
  released = false;
  /** `close()` was called: a failing read then ends the readable quietly. */
  closedLocally = false;
  readDone = false;
  writeDone = false;

  constructor(readonly conn: Deno.Conn) {}

  /** Closes the resource, once. */
  release(): void {
    if (this.released) return;
    this.released = true;
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }

  /** Releases the resource once both directions are done. */
  maybeRelease(): void {
    if (this.readDone && this.writeDone) this.release();
  }
}

/**
 * Reads from the connection on demand. The read buffer adapts: a read that
 * fills it doubles the next one (up to READ_SIZE), a mostly empty one
 * halves it, so an idle connection's pending read holds MIN_READ_SIZE
 * bytes instead of READ_SIZE.
 */
function connReadable(state: ConnState): ReadableStream<Uint8Array> {
  const { conn } = state;
  let readSize = MIN_READ_SIZE;
  return new ReadableStream<Uint8Array>({
    async pull(c) {
      const buf = new Uint8Array(readSize);
      let n: number | null;
      try {
        n = state.released ? null : await conn.read(buf);
      } catch (e) {
        state.readDone = true;
        if (state.closedLocally || state.released) {
          c.close();
          return;
        }
        state.maybeRelease();
        throw e;
      }
      if (n === null) {
        state.readDone = true;
        c.close();
        state.maybeRelease();
        return;
      }
      // Small reads are copied so that they do not pin a large buffer.
      c.enqueue(n < buf.length / 4 ? buf.slice(0, n) : buf.subarray(0, n));
      if (n === buf.length) readSize = Math.min(readSize * 2, READ_SIZE);
      else if (n < buf.length / 4) readSize = Math.max(readSize / 2, MIN_READ_SIZE);
    },
    cancel() {
      state.readDone = true;
      state.maybeRelease();
    },
  });
}

/** Writes whole chunks; closing half-closes (`closeWrite`), aborting releases. */
function connWritable(state: ConnState): WritableStream<Uint8Array> {
  const { conn } = state;
  return new WritableStream<Uint8Array>({
    async write(chunk) {
      let off = 0;
      try {
        while (off < chunk.byteLength) {
          off += await conn.write(chunk.subarray(off));
        }
      } catch (e) {
        // The writable is now errored: neither close() nor abort() will come,
        // so the write side is done here (or a cancelled readable would never
        // release the resource).
        state.writeDone = true;
        state.maybeRelease();
        throw e;
      }
    },
    async close() {
      state.writeDone = true;
      if (!state.released) {
        try {
          await conn.closeWrite();
        } catch (e) {
          // The peer may already have gone; that is not an error of ours.
          if (!(e instanceof Deno.errors.NotConnected)) {
            state.maybeRelease();
            throw e;
          }
        }
      }
      state.maybeRelease();
    },
    abort() {
      state.writeDone = true;
      state.release();
    },
  });
}

/**
 * `connectTcp` on Deno.
 *
 * @example
 * ```ts
 * import { denoConnectTcp } from "./_deno_tcp.ts";
 * const conn = await denoConnectTcp("127.0.0.1", 22, {});
 * conn.close();
 * ```
 */
export async function denoConnectTcp(
  host: string,
  port: number,
  options: ConnectTcpOptions,
): Promise<TcpConnection> {
  const { signal } = options;
  signal?.throwIfAborted();
  const pending = Deno.connect({ hostname: host, port, transport: "tcp" });
  const conn = await abortable(pending, signal, (c) => c.close());
  return wrapDenoConn(conn, options.noDelay ?? true);
}

/**
 * `listenTcp` on Deno.
 *
 * @example
 * ```ts
 * import { denoListenTcp } from "./_deno_tcp.ts";
 * const listener = denoListenTcp({ hostname: "127.0.0.1", port: 0 });
 * console.log(listener.port);
 * listener.close();
 * ```
 */
export function denoListenTcp(options: ListenTcpOptions): TcpListener {
  const hostname = options.hostname ?? "0.0.0.0";
  const listener = Deno.listen({
    hostname,
    port: options.port ?? 0,
    transport: "tcp",
    // SO_REUSEPORT; only passed when asked, since Deno wants --unstable-net for it.
    ...(options.reusePort && { reusePort: true }),
  });
  return wrapDenoListener(listener, options);
}

/** The members of `Deno.TcpListener` used here. */
export interface DenoListenerLike {
  readonly addr: { hostname: string; port: number };
  accept(): Promise<Deno.TcpConn>;
  close(): void;
}

/**
 * A bound Deno listener as a {@link TcpListener}. Deno's `accept()` rejects
 * when the process runs out of descriptors (EMFILE): those transient
 * failures are retried with back-off ({@link acceptWithBackoff}); any other
 * ends the iteration with a `ListenerError`. `backoff` overrides the
 * back-off's timing (tests).
 *
 * @example
 * ```ts
 * import { wrapDenoListener } from "./_deno_tcp.ts";
 * const listener = wrapDenoListener(Deno.listen({ hostname: "127.0.0.1", port: 0 }), {
 *   onWarning: (w) => console.error(w.type, w.code),
 * });
 * listener.close();
 * ```
 */
export function wrapDenoListener(
  listener: DenoListenerLike,
  options: ListenTcpOptions,
  backoff: Omit<AcceptBackoffOptions, "onWarning"> = {},
): TcpListener {
  const { hostname, port } = listener.addr;
  const noDelay = options.noDelay ?? true;
  const closing = new AbortController();
  const accept = acceptWithBackoff(() => listener.accept(), {
    hostname,
    port,
    signal: closing.signal,
  }, { ...backoff, onWarning: options.onWarning });
  const close = () => {
    if (closing.signal.aborted) return;
    closing.abort();
    try {
      listener.close();
    } catch {
      // already closed
    }
  };
  const next = async (): Promise<TcpConnection | undefined> => {
    try {
      const conn = await accept();
      return conn && wrapDenoConn(conn, noDelay);
    } catch (e) {
      close(); // a ListenerError: the listener is done
      throw e;
    }
  };
  return {
    hostname,
    port,
    close,
    ...acceptingFrom(next, `listenTcp on ${hostname}:${port}`),
  };
}
