/**
 * Unix domain sockets on Bun: `Bun.connect` / `Bun.listen` with `unix`
 * (abstract `"\0name"` paths included, on Linux), with the streams of TCP
 * sockets (`BunConn`: backpressure both ways, half-close).
 *
 * @module
 */
import { acceptingFrom } from "./accept.ts";
import { abortable } from "./_abortable.ts";
import { bun, bunAccepting, BunConn, handlers } from "./_bun_tcp.ts";
import type {
  ConnectUnixOptions,
  ListenUnixOptions,
  UnixConnection,
  UnixListener,
} from "./types.ts";

/**
 * `connectUnix` on Bun.
 *
 * @example
 * ```ts
 * import { bunConnectUnix } from "./_bun_unix.ts";
 * const conn = await bunConnectUnix("/tmp/agent.sock", {}).catch(() => undefined);
 * conn?.close();
 * ```
 */
export async function bunConnectUnix(
  path: string,
  options: ConnectUnixOptions,
): Promise<UnixConnection> {
  const { signal } = options;
  signal?.throwIfAborted();
  const pending = bun().connect<BunConn>({
    unix: path,
    allowHalfOpen: true,
    data: new BunConn(),
    socket: { ...handlers(), open: (s) => s.data.attach(s, false), connectError: () => {} },
  });
  const socket = await abortable(pending, signal, (s) => s.end());
  return { ...socket.data.pair(), path };
}

/**
 * `listenUnix` on Bun (binding is synchronous). As for TCP, failed accepts
 * never reach JavaScript, so `options.onWarning` is not called.
 *
 * @example
 * ```ts
 * import { bunListenUnix } from "./_bun_unix.ts";
 * const listener = bunListenUnix(`/tmp/rxssh-${Date.now()}.sock`, {});
 * listener.close();
 * ```
 */
export function bunListenUnix(path: string, _options: ListenUnixOptions): UnixListener {
  const { next, close } = bunAccepting(
    (socket) => bun().listen<BunConn>({ unix: path, allowHalfOpen: true, socket }),
    (state): UnixConnection => ({ ...state.pair(), path }),
    false,
  );
  return {
    path,
    close,
    ...acceptingFrom(next, `listenUnix on ${JSON.stringify(path)}`),
  };
}
