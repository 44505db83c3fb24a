/**
 * TCP connections and listeners as WHATWG byte streams, on Deno
 * (`Deno.connect`, `Deno.listen`), on Bun (`Bun.connect`, `Bun.listen`) and
 * on Node (`node:net`). Each adapter is loaded only on its runtime, except
 * that {@link listenTcpSync} needs the Deno and Bun adapters at hand (they
 * touch their runtime's global only when called).
 *
 * @module
 */
import { bunListenTcp } from "./_bun_tcp.ts";
import { denoListenTcp } from "./_deno_tcp.ts";
import type { ConnectTcpOptions, ListenTcpOptions, TcpConnection, TcpListener } from "./types.ts";

/** True when running on Deno. */
function isDeno(): boolean {
  return "Deno" in globalThis;
}

/** True when running on Bun. */
function isBun(): boolean {
  return "Bun" in globalThis;
}

/**
 * Opens a TCP connection to `host`:`port`. The returned pair has
 * backpressure in both directions: reading stops when `readable`'s queue is
 * full, and `writable`'s writes resolve once the socket has taken the bytes.
 * Closing `writable` half-closes (sends FIN); `readable` stays open until the
 * peer closes its side. Nagle's algorithm is off unless `noDelay: false`.
 *
 * @example
 * ```ts
 * import { connectTcp } from "./tcp.ts";
 * const conn = await connectTcp("127.0.0.1", 22, { signal: AbortSignal.timeout(5000) });
 * const reader = conn.readable.getReader();
 * const { value } = await reader.read(); // "SSH-2.0-..." from an SSH server
 * console.log(new TextDecoder().decode(value));
 * conn.close();
 * ```
 */
export async function connectTcp(
  host: string,
  port: number,
  options: ConnectTcpOptions = {},
): Promise<TcpConnection> {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`connectTcp: port must be an integer in 0..65535, got ${port}`);
  }
  if (isDeno()) {
    const { denoConnectTcp } = await import("./_deno_tcp.ts");
    return denoConnectTcp(host, port, options);
  }
  if (isBun()) {
    const { bunConnectTcp } = await import("./_bun_tcp.ts");
    return bunConnectTcp(host, port, options);
  }
  const { nodeConnectTcp } = await import("./_node_tcp.ts");
  return nodeConnectTcp(host, port, options);
}

/**
 * Listens for TCP connections. Resolves once the socket is bound, with the
 * port the OS picked when `port` is 0 (the default). Accepted connections
 * behave like those of {@link connectTcp}. Transient accept failures (out of
 * file descriptors) are retried with back-off and reported through
 * `options.onWarning`; any other ends the listener with a `ListenerError`.
 *
 * @example
 * ```ts
 * import { listenTcp } from "./tcp.ts";
 * const listener = await listenTcp({ hostname: "127.0.0.1", port: 0 });
 * console.log(`listening on ${listener.hostname}:${listener.port}`);
 * (async () => {
 *   for await (const conn of listener) {
 *     conn.readable.pipeTo(conn.writable).catch(() => conn.close()); // echo
 *   }
 * })();
 * listener.close();
 * ```
 */
export async function listenTcp(options: ListenTcpOptions = {}): Promise<TcpListener> {
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`listenTcp: port must be an integer in 0..65535, got ${port}`);
  }
  if (isDeno()) {
    const { denoListenTcp } = await import("./_deno_tcp.ts");
    return denoListenTcp(options);
  }
  if (isBun()) {
    const { bunListenTcp } = await import("./_bun_tcp.ts");
    return bunListenTcp(options);
  }
  const { nodeListenTcp } = await import("./_node_tcp.ts");
  return nodeListenTcp(options);
}

/**
 * Binds a TCP listener synchronously where the runtime can (`Deno.listen`
 * and `Bun.listen` are synchronous), so that a caller learns at once
 * whether the port was free, e.g. an X11 display number that the next
 * session request needs. Returns `undefined` on Node, which binds only
 * asynchronously (use {@link listenTcp} there); throws the runtime's error
 * when the address is taken.
 *
 * @example
 * ```ts
 * import { listenTcp, listenTcpSync } from "./tcp.ts";
 * const options = { hostname: "127.0.0.1", port: 6010 };
 * const listener = listenTcpSync(options) ?? await listenTcp(options);
 * listener.close();
 * ```
 */
export function listenTcpSync(options: ListenTcpOptions = {}): TcpListener | undefined {
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`listenTcpSync: port must be an integer in 0..65535, got ${port}`);
  }
  if (isDeno()) return denoListenTcp(options);
  if (isBun()) return bunListenTcp(options);
  return undefined;
}

export type { ConnectTcpOptions, ListenTcpOptions, TcpConnection, TcpListener };
export { ListenerError, type ListenerWarning } from "./accept.ts";
