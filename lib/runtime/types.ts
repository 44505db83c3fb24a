/**
 * The shapes that runtime adapters produce: a duplex pair of WHATWG byte
 * streams, and the TCP connection and listener types built on it.
 *
 * @module
 */
import type { ListenerWarning } from "./accept.ts";

import type { ByteStreamPair } from "../transport/transport.ts";
export type { ByteStreamPair };

/**
 * A connected TCP socket as a {@link ByteStreamPair}. Closing `writable`
 * half-closes (sends FIN) and keeps `readable` open; the socket is released
 * when both directions are done or when {@link TcpConnection.close} is called.
 *
 * @example
 * ```ts
 * import type { TcpConnection } from "./types.ts";
 * function describe(conn: TcpConnection): string {
 *   return `${conn.localAddress}:${conn.localPort} -> ${conn.remoteAddress}:${conn.remotePort}`;
 * }
 * ```
 */
export interface TcpConnection extends ByteStreamPair {
  /** The peer's IP address. */
  readonly remoteAddress: string;
  /** The peer's port. */
  readonly remotePort: number;
  /** The local IP address. */
  readonly localAddress: string;
  /** The local port. */
  readonly localPort: number;
  /**
   * Closes the socket in both directions at once. Idempotent. A pending read
   * ends `readable` normally; later writes reject.
   */
  close(): void;
}

/**
 * A listening TCP socket. Accepted connections come from
 * {@link TcpListener.accept} or from iterating the listener with
 * `for await`; the iteration ends when the listener is closed.
 *
 * @example
 * ```ts
 * import type { TcpListener } from "./types.ts";
 * async function serve(listener: TcpListener): Promise<void> {
 *   for await (const conn of listener) {
 *     conn.readable.pipeTo(conn.writable).catch(() => conn.close()); // echo
 *   }
 * }
 * ```
 */
export interface TcpListener extends AsyncIterable<TcpConnection> {
  /** The address the listener is bound to. */
  readonly hostname: string;
  /** The bound port (the one the OS picked when port 0 was asked for). */
  readonly port: number;
  /**
   * Waits for the next connection. Rejects with an `Error` once the listener
   * is closed, and with a `ListenerError` when accepting failed for good
   * (iterations then throw it too, and the listener is closed).
   */
  accept(): Promise<TcpConnection>;
  /**
   * Stops listening. Idempotent. Pending `accept()` calls reject and
   * iterations end; connections already accepted stay open.
   */
  close(): void;
}

/**
 * Options of `connectTcp`.
 *
 * @example
 * ```ts
 * import type { ConnectTcpOptions } from "./types.ts";
 * const options: ConnectTcpOptions = { noDelay: true, signal: AbortSignal.timeout(5000) };
 * ```
 */
export interface ConnectTcpOptions {
  /** Disable Nagle's algorithm (default `true`: SSH sends small packets). */
  noDelay?: boolean;
  /** Abandons the connection attempt when aborted. */
  signal?: AbortSignal;
}

/**
 * Options of `listenTcp`.
 *
 * @example
 * ```ts
 * import type { ListenTcpOptions } from "./types.ts";
 * const options: ListenTcpOptions = { hostname: "127.0.0.1", port: 0 };
 * ```
 */
export interface ListenTcpOptions {
  /** The address to bind (default `"0.0.0.0"`, all IPv4 interfaces). */
  hostname?: string;
  /** The port to bind (default 0: the OS picks a free one). */
  port?: number;
  /** Disable Nagle's algorithm on accepted connections (default `true`). */
  noDelay?: boolean;
  /**
   * Sets `SO_REUSEPORT` (default `false`), so that several processes can
   * bind the same address and port, each with its own listener; on Linux
   * the kernel spreads incoming connections over them. Deno needs the
   * `--unstable-net` flag for it (without it Deno ends the process with
   * exit code 70 when the option is used); Bun has it; Node has it from
   * 22.12 and 23.1 (older versions ignore it and the second bind fails
   * with EADDRINUSE).
   *
   * @example
   * ```ts
   * import type { ListenTcpOptions } from "./types.ts";
   * const shared: ListenTcpOptions = { hostname: "0.0.0.0", port: 2222, reusePort: true };
   * ```
   */
  reusePort?: boolean;
  /**
   * Called when accepts start failing for a transient reason (out of file
   * descriptors: EMFILE, ENFILE; ENOBUFS, ECONNABORTED, ...) and when they
   * work again: once per burst each, never per failure. The listener backs
   * off (5 ms doubling to 1 s) and keeps its port meanwhile. Not called on
   * Bun's own listener, whose native accept loop reports nothing (see
   * DESIGN.md).
   *
   * @example
   * ```ts
   * import type { ListenTcpOptions } from "./types.ts";
   * const options: ListenTcpOptions = { onWarning: (w) => console.error(w.type, w.code) };
   * ```
   */
  onWarning?: (warning: ListenerWarning) => void;
}

/**
 * A connected unix domain socket as a {@link ByteStreamPair}. Closing
 * `writable` half-closes (`shutdown(SHUT_WR)`) and keeps `readable` open;
 * the socket is released when both directions are done or when
 * {@link UnixConnection.close} is called.
 *
 * @example
 * ```ts
 * import type { UnixConnection } from "./types.ts";
 * const describe = (conn: UnixConnection) => `unix socket ${JSON.stringify(conn.path)}`;
 * ```
 */
export interface UnixConnection extends ByteStreamPair {
  /** The socket's path (`"\0name"` for a Linux abstract socket). */
  readonly path: string;
  /**
   * Closes the socket in both directions at once. Idempotent. A pending read
   * ends `readable` normally; later writes reject.
   */
  close(): void;
}

/**
 * A listening unix domain socket. Accepted connections come from
 * {@link UnixListener.accept} or from iterating the listener with
 * `for await`; the iteration ends when the listener is closed.
 *
 * @example
 * ```ts
 * import type { UnixListener } from "./types.ts";
 * async function serve(listener: UnixListener): Promise<void> {
 *   for await (const conn of listener) {
 *     conn.readable.pipeTo(conn.writable).catch(() => conn.close()); // echo
 *   }
 * }
 * ```
 */
export interface UnixListener extends AsyncIterable<UnixConnection> {
  /** The socket's path (`"\0name"` for a Linux abstract socket). */
  readonly path: string;
  /**
   * Waits for the next connection. Rejects with an `Error` once the listener
   * is closed, and with a `ListenerError` when accepting failed for good.
   */
  accept(): Promise<UnixConnection>;
  /**
   * Stops listening and removes the socket file (an abstract socket has
   * none). Idempotent. Pending `accept()` calls reject and iterations end;
   * connections already accepted stay open.
   */
  close(): void;
}

/**
 * Options of `connectUnix`.
 *
 * @example
 * ```ts
 * import type { ConnectUnixOptions } from "./types.ts";
 * const options: ConnectUnixOptions = { signal: AbortSignal.timeout(5000) };
 * ```
 */
export interface ConnectUnixOptions {
  /** Abandons the connection attempt when aborted. */
  signal?: AbortSignal;
}

/**
 * Options of `listenUnix`.
 *
 * @example
 * ```ts
 * import type { ListenUnixOptions } from "./types.ts";
 * const options: ListenUnixOptions = { mode: 0o600 };
 * ```
 */
export interface ListenUnixOptions {
  /**
   * The socket file's permission bits, set right after binding (default:
   * what the umask leaves). Bind inside a private directory (mode 0700) to
   * leave no window at all. Ignored for abstract sockets.
   */
  mode?: number;
  /**
   * Called when accepts start failing for a transient reason and when they
   * work again, as `ListenTcpOptions.onWarning` (not on Bun).
   */
  onWarning?: (warning: ListenerWarning) => void;
}
