/**
 * Port forwarding, client side (RFC 4254 §7): `forwardOut` opens a
 * `direct-tcpip` channel to a host and port as the server sees them and
 * gives its bytes as a byte-stream pair (the type every transport takes,
 * so it can carry another SSH connection: a jump host); `forwardIn` asks
 * the server to listen (`tcpip-forward`) for as long as it is subscribed;
 * `localForward` binds a local listener and tunnels each connection, as
 * `ssh -L` does. Unix-domain sockets alike (OpenSSH PROTOCOL §2.4):
 * `forwardOutUnix` (`direct-streamlocal@openssh.com`), `forwardInUnix`
 * (`streamlocal-forward@openssh.com`), and `localForward` with a socket
 * path to bind or to reach.
 *
 * @module
 */
import { Observable } from "rxjs";
import type { Channel } from "../connection/channel.ts";
import type { Connection } from "../connection/connection.ts";
import { acceptChannel, type ConnectionHandlers } from "../connection/handlers.ts";
import { spliceChannel } from "../connection/splice.ts";
import { plainAddress } from "../runtime/address.ts";
import { listenTcp } from "../runtime/tcp.ts";
import type { TcpConnection, TcpListener, UnixConnection } from "../runtime/types.ts";
import { listenUnix } from "../runtime/unix.ts";
import type { ByteStreamPair } from "../transport/transport.ts";
import { SshError } from "../wire/errors.ts";
import {
  BoundPortCodec,
  ListenAddressCodec,
  StreamLocalChannelCodec,
  StreamLocalPathCodec,
  TcpChannelCodec,
} from "./wire.ts";

/**
 * A forwarded connection: its bytes as a byte-stream pair, the channel
 * under it, and `close()` (both directions).
 *
 * @example
 * ```ts
 * import type { ForwardedStream } from "./client.ts";
 * const hello = (s: ForwardedStream) => s.writable.getWriter().write(new TextEncoder().encode("GET / HTTP/1.0\r\n\r\n"));
 * ```
 */
export interface ForwardedStream extends ByteStreamPair {
  /** The channel (direct-tcpip, forwarded-tcpip, or their streamlocal twins). */
  readonly channel: Channel;
  /** Closes the channel. */
  close(): Promise<void>;
}

/**
 * A server that refused a forwarding request (tcpip-forward): what was
 * asked, and the server's answer.
 *
 * @example
 * ```ts
 * import { ForwardingError } from "./client.ts";
 * const e = new ForwardingError("the server refused tcpip-forward for localhost:80");
 * console.log(e.message);
 * ```
 */
export class ForwardingError extends SshError {}

/**
 * The client surface these functions need (an `SshClient` has it).
 *
 * @example
 * ```ts
 * import type { ForwardingClient } from "./client.ts";
 * const done = (c: ForwardingClient) => c.connection.done;
 * ```
 */
export interface ForwardingClient {
  /** The connection the channels are opened on. */
  readonly connection: Connection;
}

function streamOf(channel: Channel): ForwardedStream {
  return {
    channel,
    readable: channel.readable,
    writable: channel.writable,
    close: () => channel.close(),
  };
}

/**
 * Opens a `direct-tcpip` channel to `host`:`port` as the server resolves
 * and reaches them (RFC 4254 §7.2). Rejects with `ChannelOpenError` when
 * the server refuses (reason 1, administratively prohibited; 2, connect
 * failed).
 *
 * @example
 * ```ts
 * import { forwardOut } from "./client.ts";
 * import type { SshClient } from "../client.ts";
 * async function fetchThrough(client: SshClient) {
 *   const s = await forwardOut(client, { host: "localhost", port: 80 });
 *   const w = s.writable.getWriter();
 *   await w.write(new TextEncoder().encode("GET / HTTP/1.0\r\n\r\n"));
 *   await w.close();
 *   console.log(await new Response(s.readable).text());
 * }
 * ```
 */
export async function forwardOut(
  client: ForwardingClient,
  target: { host: string; port: number },
  options: { originator?: { address: string; port: number } } = {},
): Promise<ForwardedStream> {
  const channel = await client.connection.openChannel(
    "direct-tcpip",
    TcpChannelCodec.encode({
      host: target.host,
      port: target.port,
      originatorAddress: options.originator?.address ?? "127.0.0.1",
      originatorPort: options.originator?.port ?? 0,
    }),
  );
  return streamOf(channel);
}

/**
 * What {@link forwardIn} emits: first `listening` with the address and
 * port the server bound (the port it chose for port 0), then one
 * `connection` per connection the server accepted there.
 *
 * @example
 * ```ts
 * import type { RemoteForwardEvent } from "./client.ts";
 * const line = (e: RemoteForwardEvent) =>
 *   e.type === "listening" ? `listening on ${e.port}` : `from ${e.originatorAddress}:${e.originatorPort}`;
 * ```
 */
export type RemoteForwardEvent =
  | { readonly type: "listening"; readonly address: string; readonly port: number }
  | ({
    readonly type: "connection";
    /** Where the connection came from, on the server's side. */
    readonly originatorAddress: string;
    readonly originatorPort: number;
  } & ForwardedStream);

/**
 * Asks the server to listen on `address`:`port` for as long as the
 * observable is subscribed (RFC 4254 §7.1): subscribing sends
 * `tcpip-forward`, the first emission reports the bound port, each
 * connection then arrives as a byte-stream pair; unsubscribing sends
 * `cancel-tcpip-forward`, and connections that arrive later are refused.
 * A refusal errors the observable with {@link ForwardingError}.
 *
 * @example
 * ```ts
 * import { forwardIn } from "./client.ts";
 * import type { SshClient } from "../client.ts";
 * function echoOnServerPort(client: SshClient) {
 *   return forwardIn(client, { address: "localhost", port: 0 }).subscribe((e) => {
 *     if (e.type === "listening") console.log("server listens on", e.port);
 *     else e.readable.pipeTo(e.writable);
 *   });
 * }
 * ```
 */
export function forwardIn<C>(
  client: ForwardingClient & { readonly handlers: ConnectionHandlers<C> },
  listen: { address: string; port: number },
): Observable<RemoteForwardEvent> {
  return new Observable<RemoteForwardEvent>((sub) => {
    let bound: { address: string; port: number } | undefined;
    let done = false;
    const handler = client.handlers.channelOpen("forwarded-tcpip", (open) => {
      const d = TcpChannelCodec.decode(open.data);
      // Ours when it names our address and the port we were given (RFC 4254 §7.2).
      if (!bound || d.port !== bound.port || d.host !== bound.address || done) return undefined;
      return acceptChannel((channel) => {
        sub.next({
          type: "connection",
          originatorAddress: d.originatorAddress,
          originatorPort: d.originatorPort,
          ...streamOf(channel),
        });
      });
    });
    client.connection.globalRequest("tcpip-forward", ListenAddressCodec.encode(listen)).then(
      (reply) => {
        if (done) return;
        if (!reply.ok) {
          return sub.error(
            new ForwardingError(
              `the server refused tcpip-forward for ${listen.address}:${listen.port}`,
            ),
          );
        }
        const port = listen.port === 0 ? BoundPortCodec.decode(reply.data) : listen.port;
        bound = { address: listen.address, port };
        sub.next({ type: "listening", address: listen.address, port });
      },
      (e) => sub.error(e),
    );
    client.connection.done.then(() => sub.complete());
    return () => {
      done = true;
      handler.unsubscribe();
      if (bound) {
        client.connection.globalRequest(
          "cancel-tcpip-forward",
          ListenAddressCodec.encode(bound),
          { wantReply: false },
        ).catch(() => {});
      }
    };
  });
}

/**
 * A local forward, as `ssh -L [bind:]port:host:hostport`: listens on
 * `bind` (default 127.0.0.1, port 0: any) and tunnels every connection
 * through a `direct-tcpip` channel to `target`. The returned object says
 * where it listens; `unsubscribe()` closes the listener and its tunnels.
 * A tunnel the server refuses closes that one local connection.
 *
 * Either side may be a Unix-domain socket, as `ssh -L /path:host:port`,
 * `-L port:/path` and `-L /path:/path`: a `target` of `{ path }` is reached
 * through `direct-streamlocal@openssh.com` ({@link forwardOutUnix}); a
 * `bind` of `{ path }` listens on that socket file (mode 0600; an existing
 * file is an error, as ssh's StreamLocalBindUnlink no), which
 * `unsubscribe()` removes. The listener then has `path`, `hostname` ""
 * and `port` 0.
 *
 * @example
 * ```ts
 * import { localForward } from "./client.ts";
 * import type { SshClient } from "../client.ts";
 * async function db(client: SshClient) {
 *   const fwd = await localForward(client, { host: "db.internal", port: 5432 }, { port: 15432 });
 *   console.log("psql -h 127.0.0.1 -p", fwd.port);
 *   return fwd; // fwd.unsubscribe() when done
 * }
 * ```
 */
export async function localForward(
  client: ForwardingClient,
  target: { host: string; port: number } | { path: string },
  bind: { hostname?: string; port?: number } | { path: string } = {},
): Promise<LocalListener> {
  const open = (conn: TcpConnection | UnixConnection) =>
    "path" in target ? forwardOutUnix(client, target.path) : forwardOut(client, target, {
      originator: "remotePort" in conn
        ? { address: plainAddress(conn.remoteAddress), port: conn.remotePort }
        : undefined,
    });
  const serve = (conn: TcpConnection | UnixConnection) =>
    open(conn).then((s) => spliceChannel(s.channel, conn), () => conn.close());
  if (!("path" in bind)) return listenLocally(client, serve, bind);
  const listener = await listenUnix(bind.path, { mode: 0o600 });
  const stop = runListener(client, { listener, serve });
  return { hostname: "", port: 0, path: listener.path, unsubscribe: stop };
}

/**
 * A local listener that tunnels what it accepts ({@link localForward},
 * `dynamicForward`): where it listens, and `unsubscribe()`, which closes it
 * and every connection it is carrying.
 *
 * @example
 * ```ts
 * import type { LocalListener } from "./client.ts";
 * const where = (l: LocalListener) => `${l.hostname}:${l.port}`;
 * ```
 */
export interface LocalListener {
  /** The bound address ("" for a Unix socket). */
  readonly hostname: string;
  /** The bound port (0 for a Unix socket). */
  readonly port: number;
  /** The socket file, when bound to a Unix socket ({@link localForward} with `{ path }`). */
  readonly path?: string;
  /** Closes the listener and its tunnels. */
  unsubscribe(): void;
}

/**
 * Binds `bind` (default 127.0.0.1, any port) and runs `serve` for each
 * accepted connection until unsubscribed or until the SSH connection ends.
 *
 * @example
 * ```ts
 * import { listenLocally } from "./client.ts";
 * import type { SshClient } from "../client.ts";
 * const refuseAll = (client: SshClient) => listenLocally(client, async (conn) => conn.close());
 * ```
 */
export async function listenLocally(
  client: ForwardingClient,
  serve: (conn: TcpConnection) => Promise<unknown>,
  bind: { hostname?: string; port?: number } = {},
): Promise<LocalListener> {
  const listener: TcpListener = await listenTcp({
    hostname: bind.hostname ?? "127.0.0.1",
    port: bind.port ?? 0,
  });
  const stop = runListener(client, { listener, serve });
  return { hostname: listener.hostname, port: listener.port, unsubscribe: stop };
}

/**
 * Runs `serve` for each connection `listener` accepts until the returned
 * stop function is called or the SSH connection ends; stopping closes the
 * listener and every connection it accepted.
 */
function runListener<T extends { close(): void }>(
  client: ForwardingClient,
  on: { listener: AsyncIterable<T> & { close(): void }; serve: (conn: T) => Promise<unknown> },
): () => void {
  const { listener, serve } = on;
  const open = new Set<T>();
  (async () => {
    for await (const conn of listener) {
      open.add(conn);
      serve(conn).catch(() => conn.close()).finally(() => open.delete(conn));
    }
  })().catch(() => {});
  let closed = false;
  const stop = () => {
    if (closed) return;
    closed = true;
    listener.close();
    for (const c of open) c.close();
  };
  client.connection.done.then(stop);
  return stop;
}

/**
 * Opens a `direct-streamlocal@openssh.com` channel to the Unix-domain
 * socket at `path` on the server (OpenSSH PROTOCOL §2.4; `ssh -L
 * port:/path`, `ssh -W /path` does not exist). Rejects with
 * `ChannelOpenError` when the server refuses (reason 1, administratively
 * prohibited, e.g. AllowStreamLocalForwarding; 2, connect failed).
 *
 * @example
 * ```ts
 * import { forwardOutUnix } from "./client.ts";
 * import type { SshClient } from "../client.ts";
 * async function dockerVersion(client: SshClient) {
 *   const s = await forwardOutUnix(client, "/var/run/docker.sock");
 *   const w = s.writable.getWriter();
 *   await w.write(new TextEncoder().encode("GET /version HTTP/1.0\r\n\r\n"));
 *   await w.close();
 *   console.log(await new Response(s.readable).text());
 * }
 * ```
 */
export async function forwardOutUnix(
  client: ForwardingClient,
  path: string,
): Promise<ForwardedStream> {
  const channel = await client.connection.openChannel(
    "direct-streamlocal@openssh.com",
    StreamLocalChannelCodec.encode(path),
  );
  return streamOf(channel);
}

/**
 * What {@link forwardInUnix} emits: first `listening` with the socket path
 * once the server listens there, then one `connection` per connection the
 * server accepted on it.
 *
 * @example
 * ```ts
 * import type { RemoteUnixForwardEvent } from "./client.ts";
 * const line = (e: RemoteUnixForwardEvent) =>
 *   e.type === "listening" ? `listening on ${e.path}` : `a connection to ${e.path}`;
 * ```
 */
export type RemoteUnixForwardEvent =
  | { readonly type: "listening"; readonly path: string }
  | ({ readonly type: "connection"; readonly path: string } & ForwardedStream);

/**
 * Asks the server to listen on the Unix-domain socket `path` for as long
 * as the observable is subscribed (OpenSSH PROTOCOL §2.4, `ssh -R
 * /path:…`): subscribing sends `streamlocal-forward@openssh.com`, the
 * first emission says it listens, each connection then arrives as a
 * byte-stream pair (a `forwarded-streamlocal@openssh.com` channel);
 * unsubscribing sends `cancel-streamlocal-forward@openssh.com` (the server
 * removes the socket file). A refusal (the path exists, or
 * AllowStreamLocalForwarding forbids it) errors the observable with
 * {@link ForwardingError}.
 *
 * @example
 * ```ts
 * import { forwardInUnix } from "./client.ts";
 * import type { SshClient } from "../client.ts";
 * function echoOnServerSocket(client: SshClient) {
 *   return forwardInUnix(client, "/tmp/echo.sock").subscribe((e) => {
 *     if (e.type === "listening") console.log("server listens on", e.path);
 *     else e.readable.pipeTo(e.writable);
 *   });
 * }
 * ```
 */
export function forwardInUnix<C>(
  client: ForwardingClient & { readonly handlers: ConnectionHandlers<C> },
  path: string,
): Observable<RemoteUnixForwardEvent> {
  return new Observable<RemoteUnixForwardEvent>((sub) => {
    let listening = false;
    let done = false;
    const handler = client.handlers.channelOpen("forwarded-streamlocal@openssh.com", (open) => {
      // Ours when it names the path we asked for (OpenSSH PROTOCOL §2.4).
      if (!listening || done || StreamLocalChannelCodec.decode(open.data) !== path) {
        return undefined;
      }
      return acceptChannel((channel) =>
        sub.next({ type: "connection", path, ...streamOf(channel) })
      );
    });
    client.connection.globalRequest(
      "streamlocal-forward@openssh.com",
      StreamLocalPathCodec.encode(path),
    ).then(
      (reply) => {
        if (done) return;
        if (!reply.ok) {
          return sub.error(
            new ForwardingError(`the server refused streamlocal-forward for ${path}`),
          );
        }
        listening = true;
        sub.next({ type: "listening", path });
      },
      (e) => sub.error(e),
    );
    client.connection.done.then(() => sub.complete());
    return () => {
      done = true;
      handler.unsubscribe();
      if (listening) {
        client.connection.globalRequest(
          "cancel-streamlocal-forward@openssh.com",
          StreamLocalPathCodec.encode(path),
          { wantReply: false },
        ).catch(() => {});
      }
    };
  });
}
