/**
 * Unix domain sockets on Deno: `Deno.connect` / `Deno.listen` with
 * `transport: "unix"` (abstract `"\0name"` paths included, on Linux), with
 * the streams of TCP connections (`denoStreams`: half-close on closing the
 * writable).
 *
 * @module
 */
import { abortable } from "./_abortable.ts";
import { denoStreams } from "./_deno_tcp.ts";
import { acceptingFrom, acceptWithBackoff } from "./accept.ts";
import type {
  ConnectUnixOptions,
  ListenUnixOptions,
  UnixConnection,
  UnixListener,
} from "./types.ts";

/**
 * `connectUnix` on Deno.
 *
 * @example
 * ```ts
 * import { denoConnectUnix } from "./_deno_unix.ts";
 * const conn = await denoConnectUnix("/tmp/agent.sock", {}).catch(() => undefined);
 * conn?.close();
 * ```
 */
export async function denoConnectUnix(
  path: string,
  options: ConnectUnixOptions,
): Promise<UnixConnection> {
  const { signal } = options;
  signal?.throwIfAborted();
  const pending = Deno.connect({ transport: "unix", path });
  const conn = await abortable(pending, signal, (c) => c.close());
  return { ...denoStreams(conn), path };
}

/**
 * `listenUnix` on Deno (binding is synchronous). Transient accept failures
 * (out of descriptors) are retried with back-off, as for TCP.
 *
 * @example
 * ```ts
 * import { denoListenUnix } from "./_deno_unix.ts";
 * const listener = denoListenUnix(`/tmp/rxssh-${Date.now()}.sock`, {});
 * listener.close();
 * ```
 */
export function denoListenUnix(path: string, options: ListenUnixOptions): UnixListener {
  const listener = Deno.listen({ transport: "unix", path });
  const closing = new AbortController();
  const accept = acceptWithBackoff(() => listener.accept(), {
    hostname: path,
    port: 0,
    signal: closing.signal,
  }, { onWarning: options.onWarning });
  const close = () => {
    if (closing.signal.aborted) return;
    closing.abort();
    try {
      listener.close(); // Deno removes the socket file
    } catch {
      // already closed
    }
  };
  const next = async (): Promise<UnixConnection | undefined> => {
    try {
      const conn = await accept();
      return conn && { ...denoStreams(conn), path };
    } catch (e) {
      close(); // a ListenerError: the listener is done
      throw e;
    }
  };
  return {
    path,
    close,
    ...acceptingFrom(next, `listenUnix on ${JSON.stringify(path)}`),
  };
}
