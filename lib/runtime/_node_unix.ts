/**
 * Unix domain sockets on Node: `node:net` with a `path` (abstract
 * `"\0name"` paths included, on Linux), wrapped as TCP sockets are
 * (`wrapNodeSocket`: backpressure both ways, half-close).
 *
 * @module
 */
import { acceptingFrom } from "./accept.ts";
import type { Server, Socket } from "node:net";
import { nodeAccepting, whenConnected, wrapNodeSocket } from "./_node_tcp.ts";
import type {
  ConnectUnixOptions,
  ListenUnixOptions,
  UnixConnection,
  UnixListener,
} from "./types.ts";

/** The streams and `close()` of a node:net socket, with the socket's path. */
function unixConnection(socket: Socket, path: string): UnixConnection {
  const { readable, writable, close } = wrapNodeSocket(socket, false);
  return { readable, writable, close, path };
}

/**
 * `connectUnix` on Node.
 *
 * @example
 * ```ts
 * import { nodeConnectUnix } from "./_node_unix.ts";
 * const conn = await nodeConnectUnix("/tmp/agent.sock", {}).catch(() => undefined);
 * conn?.close();
 * ```
 */
export async function nodeConnectUnix(
  path: string,
  options: ConnectUnixOptions,
): Promise<UnixConnection> {
  const { signal } = options;
  signal?.throwIfAborted();
  const net = await import("node:net");
  const socket = net.createConnection({ path, allowHalfOpen: true });
  await whenConnected(socket, signal);
  return unixConnection(socket, path);
}

/**
 * `listenUnix` on Node: resolves once the socket is bound. Node removes the
 * socket file when the server closes.
 *
 * @example
 * ```ts
 * import { nodeListenUnix } from "./_node_unix.ts";
 * const listener = await nodeListenUnix(`/tmp/rxssh-${Date.now()}.sock`, {});
 * listener.close();
 * ```
 */
export async function nodeListenUnix(
  path: string,
  options: ListenUnixOptions,
): Promise<UnixListener> {
  const net = await import("node:net");
  const server: Server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { next, close } = nodeAccepting(
    server,
    { hostname: path, port: 0, onWarning: options.onWarning },
    (socket) => unixConnection(socket, path),
  );
  return {
    path,
    close,
    ...acceptingFrom(next, `listenUnix on ${JSON.stringify(path)}`),
  };
}
