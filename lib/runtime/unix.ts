/**
 * Unix domain sockets as WHATWG byte streams, on Deno (`Deno.connect`,
 * `Deno.listen` with `transport: "unix"`), on Bun (`Bun.connect`,
 * `Bun.listen` with `unix`) and on Node (`node:net` with a path). Each
 * adapter is loaded only on its runtime. A path that starts with `"\0"` is
 * a Linux abstract socket (no file; X servers listen on one, e.g.
 * `"\0/tmp/.X11-unix/X0"`).
 *
 * @module
 */
import * as fs from "node:fs";
import type {
  ConnectUnixOptions,
  ListenUnixOptions,
  UnixConnection,
  UnixListener,
} from "./types.ts";

/** True when running on Deno. */
function isDeno(): boolean {
  return "Deno" in globalThis;
}

/** True when running on Bun. */
function isBun(): boolean {
  return "Bun" in globalThis;
}

function checkPath(fn: string, path: string): void {
  if (typeof path !== "string" || path === "" || path === "\0") {
    throw new TypeError(`${fn}: the socket path must be a non-empty string, got ${String(path)}`);
  }
}

/**
 * Connects to the unix socket at `path` (e.g. `$SSH_AUTH_SOCK`, or an X
 * server's `/tmp/.X11-unix/X0`). The pair has backpressure in both
 * directions; closing `writable` half-closes, and `readable` stays open
 * until the peer closes its side. Rejects with the runtime's error
 * (ENOENT, ECONNREFUSED, EACCES) when nothing listens there.
 *
 * @example
 * ```ts
 * import { connectUnix } from "./unix.ts";
 * const conn = await connectUnix("/run/user/1000/ssh-agent.sock", { signal: AbortSignal.timeout(5000) });
 * const w = conn.writable.getWriter();
 * await w.write(new Uint8Array([0, 0, 0, 1, 11])); // SSH_AGENTC_REQUEST_IDENTITIES
 * w.releaseLock();
 * conn.close();
 * ```
 */
export async function connectUnix(
  path: string,
  options: ConnectUnixOptions = {},
): Promise<UnixConnection> {
  checkPath("connectUnix", path);
  if (isDeno()) {
    const { denoConnectUnix } = await import("./_deno_unix.ts");
    return denoConnectUnix(path, options);
  }
  if (isBun()) {
    const { bunConnectUnix } = await import("./_bun_unix.ts");
    return bunConnectUnix(path, options);
  }
  const { nodeConnectUnix } = await import("./_node_unix.ts");
  return nodeConnectUnix(path, options);
}

/**
 * Listens on a unix socket at `path`; resolves once it is bound (and, with
 * `options.mode`, once the socket file has that mode). Rejects when the
 * path is taken (EADDRINUSE: a stale socket file is not removed for you) or
 * its directory is missing. Closing the listener removes the socket file.
 *
 * @example
 * ```ts
 * import { listenUnix } from "./unix.ts";
 * import { makePrivateTempDir, removeTree } from "./fs.ts";
 * const dir = makePrivateTempDir("demo-");
 * const listener = await listenUnix(`${dir}/echo.sock`, { mode: 0o600 });
 * (async () => {
 *   for await (const conn of listener) conn.readable.pipeTo(conn.writable).catch(() => conn.close());
 * })();
 * listener.close();
 * removeTree(dir);
 * ```
 */
export async function listenUnix(
  path: string,
  options: ListenUnixOptions = {},
): Promise<UnixListener> {
  checkPath("listenUnix", path);
  let listener: UnixListener;
  if (isDeno()) {
    const { denoListenUnix } = await import("./_deno_unix.ts");
    listener = denoListenUnix(path, options);
  } else if (isBun()) {
    const { bunListenUnix } = await import("./_bun_unix.ts");
    listener = bunListenUnix(path, options);
  } else {
    const { nodeListenUnix } = await import("./_node_unix.ts");
    listener = await nodeListenUnix(path, options);
  }
  if (options.mode !== undefined && !path.startsWith("\0")) {
    try {
      fs.chmodSync(path, options.mode);
    } catch (e) {
      listener.close();
      throw e;
    }
  }
  return listener;
}

export type { ConnectUnixOptions, ListenUnixOptions, UnixConnection, UnixListener };
