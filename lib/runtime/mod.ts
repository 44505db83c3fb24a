/**
 * The runtime adapters: TCP connections and listeners on Deno, Bun and
 * Node (`node:net`), in-memory stream pairs, WebSockets, local commands
 * (with or without a pseudo-terminal) and the PROXY protocol a load balancer
 * writes in front of a connection, all as WHATWG streams, which is all
 * the protocol layers need of a runtime.
 *
 * @example
 * ```ts
 * import { memoryPair } from "./mod.ts";
 * const [a, b] = memoryPair();
 * const w = a.writable.getWriter();
 * await w.write(new TextEncoder().encode("hi"));
 * const { value } = await b.readable.getReader().read();
 * console.log(new TextDecoder().decode(value)); // "hi"
 * ```
 *
 * @module
 */
export { connectTcp, ListenerError, type ListenerWarning, listenTcp } from "./tcp.ts";
export type {
  ByteStreamPair,
  ConnectTcpOptions,
  ListenTcpOptions,
  TcpConnection,
  TcpListener,
} from "./types.ts";
export { memoryPair, type MemoryPairOptions } from "./memory.ts";
export {
  crc32c,
  decodeProxyHeader,
  type ProxiedConnection,
  type ProxyEndpoint,
  type ProxyHeader,
  ProxyProtocolError,
  type ProxyProtocolOptions,
  type ProxySocket,
  readProxyHeader,
  trustedProxies,
} from "./proxy_protocol.ts";
export { webSocketStream, type WebSocketStreamOptions } from "./websocket.ts";
export { runCommand, type RunCommandOptions, type RunningCommand } from "./process.ts";
