/**
 * Port forwarding, server side (RFC 4254 §7), as sshd does it: `direct-tcpip`
 * channels connect to the host and port the client names (`ssh -L`, `-D`,
 * `-W`, jump hosts); `tcpip-forward` binds a listener for the client and
 * opens a `forwarded-tcpip` channel back for each connection it accepts
 * (`ssh -R`); `cancel-tcpip-forward` closes it. Unix-domain sockets alike
 * (OpenSSH PROTOCOL §2.4): `direct-streamlocal@openssh.com` connects to a
 * socket path, `streamlocal-forward@openssh.com` listens on one and opens
 * `forwarded-streamlocal@openssh.com` channels back. A server forwards
 * nothing unless it installs this handler set; its defaults are sshd's
 * (AllowTcpForwarding and AllowStreamLocalForwarding yes, GatewayPorts no),
 * narrowed per direction by the options, and a key's `no-port-forwarding`
 * refuses it all. Listeners close when the connection ends (a socket file is
 * removed with its listener); each connection has one cap on listeners and
 * one on open tunnels, TCP and Unix together.
 *
 * @module
 */
import type { Channel } from "../connection/channel.ts";
import type { Connection } from "../connection/connection.ts";
import {
  accept,
  type Acceptance,
  acceptChannel,
  type ChannelAcceptance,
  type ChannelOpenHandler,
  type GlobalRequestHandler,
  type Refusal,
  refuse,
} from "../connection/handlers.ts";
import { spliceChannel } from "../connection/splice.ts";
import { plainAddress } from "../runtime/address.ts";
import { connectTcp, listenTcp } from "../runtime/tcp.ts";
import type { TcpListener, UnixListener } from "../runtime/types.ts";
import { connectUnix, listenUnix } from "../runtime/unix.ts";
import { OpenFailure } from "../wire/connection_messages.ts";
import {
  BoundPortCodec,
  ForwardedStreamLocalCodec,
  ListenAddressCodec,
  StreamLocalChannelCodec,
  StreamLocalPathCodec,
  TcpChannelCodec,
} from "./wire.ts";

/**
 * What the forwarding handlers need of a connection (a server's handler
 * context has it all).
 *
 * @example
 * ```ts
 * import type { ForwardingContext } from "./server.ts";
 * const allowed = (c: ForwardingContext) => c.restrictions.portForwarding !== false;
 * ```
 */
export interface ForwardingContext {
  /** The connection (forwarded-tcpip channels are opened on it). */
  readonly connection: Connection;
  /** The authenticated user. */
  readonly username: string;
  /**
   * The key's restrictions: `portForwarding: false` (no-port-forwarding)
   * refuses everything; `permitOpen` / `permitListen` (authorized_keys
   * permitopen= / permitlisten=) narrow what the server allows.
   */
  readonly restrictions: {
    readonly portForwarding?: boolean;
    readonly permitOpen?: readonly KeyPermit[];
    readonly permitListen?: readonly KeyPermit[];
  };
}

/**
 * Options of {@link portForwardingHandler}; the names follow sshd_config.
 *
 * @example
 * ```ts
 * import type { PortForwardingOptions } from "./server.ts";
 * const o: PortForwardingOptions = { allowTcpForwarding: "local", permitOpen: ["db.internal:5432"] };
 * ```
 */
export interface PortForwardingOptions {
  /** Which directions are allowed (sshd's AllowTcpForwarding; default "yes"). */
  readonly allowTcpForwarding?: "yes" | "no" | "local" | "remote";
  /**
   * Which directions of Unix-socket forwarding are allowed (sshd's
   * AllowStreamLocalForwarding; "all" is "yes"; default "yes"): "local"
   * is `direct-streamlocal@openssh.com` (`ssh -L …:/path`), "remote" is
   * `streamlocal-forward@openssh.com` (`ssh -R /path:…`). Sockets the
   * server binds get mode 0600 (sshd's StreamLocalBindMask 0177) and an
   * existing file is not replaced (StreamLocalBindUnlink no).
   */
  readonly allowStreamLocalForwarding?: "yes" | "no" | "local" | "remote" | "all";
  /**
   * Where `direct-tcpip` may connect, as `host:port` with `*` for any port
   * or host (sshd's PermitOpen; default: anywhere). `[]` or `["none"]` forbids all.
   */
  readonly permitOpen?: readonly string[];
  /**
   * Ports (`port` or `host:port`, `*` for any) a client may listen on
   * (sshd's PermitListen; default: any port ≥ 1024 unless the user is root-equivalent).
   */
  readonly permitListen?: readonly string[];
  /**
   * Whether remote forwards may bind other addresses than loopback
   * (sshd's GatewayPorts: "no", the default, binds loopback whatever was
   * asked; "yes" binds all addresses; "clientspecified" binds what the
   * client asked).
   */
  readonly gatewayPorts?: "no" | "yes" | "clientspecified";
  /** Listeners one connection may hold at once, TCP and Unix (default 32). */
  readonly maxListeners?: number;
  /**
   * Listeners all connections served by this handler may hold at once,
   * TCP and Unix (default {@link MAX_SERVER_LISTENERS}); past it
   * tcpip-forward and streamlocal-forward get REQUEST_FAILURE.
   */
  readonly maxServerListeners?: number;
  /** Forwarded connections one connection may carry at once, both ways (default 256). */
  readonly maxTunnels?: number;
  /** Milliseconds a `direct-tcpip` connect may take (default 10 000). */
  readonly connectTimeout?: number;
}

/**
 * What {@link portForwardingHandler} returns: handlers for
 * `ServerOptions.handlers`.
 *
 * @example
 * ```ts
 * import type { PortForwardingHandler } from "./server.ts";
 * const types = (h: PortForwardingHandler) => Object.keys(h.channelOpen);
 * ```
 */
export interface PortForwardingHandler {
  /** `direct-tcpip` and `direct-streamlocal@openssh.com`. */
  readonly channelOpen: Readonly<Record<string, ChannelOpenHandler<ForwardingContext>>>;
  /** `tcpip-forward`, `cancel-tcpip-forward` and their streamlocal twins. */
  readonly globalRequest: Readonly<Record<string, GlobalRequestHandler<ForwardingContext>>>;
}

/**
 * One authorized_keys `permitopen` / `permitlisten` entry (host `*` or a
 * name; port `*` or a number).
 *
 * @example
 * ```ts
 * import type { KeyPermit } from "./server.ts";
 * const p: KeyPermit = { host: "localhost", port: 8080 };
 * ```
 */
export interface KeyPermit {
  /** The host, or `*`. */
  readonly host: string;
  /** The port, or `"*"`. */
  readonly port: number | "*";
}

/** Whether a key's permits (none: no limit from the key) allow `host`:`port`. */
function keyPermits(
  permits: readonly KeyPermit[] | undefined,
  host: string,
  port: number,
): boolean {
  if (!permits || permits.length === 0) return true;
  return permits.some((p) =>
    (p.host === "*" || p.host.toLowerCase() === host.toLowerCase()) &&
    (p.port === "*" || p.port === port)
  );
}

/** One connection's forwarding state. */
interface ConnectionForwards {
  /** By `tcp address:port` or `unix path`; TCP and Unix listeners share the cap. */
  readonly listeners: Map<string, { close(): void }>;
  tunnels: number;
}

/** "host:port" patterns, as sshd's PermitOpen / PermitListen entries. */
function permitted(patterns: readonly string[] | undefined, host: string, port: number): boolean {
  if (patterns === undefined) return true;
  return patterns.some((p) => {
    if (p === "any") return true;
    if (p === "none") return false;
    const i = p.lastIndexOf(":");
    const [h, pt] = i < 0 ? ["*", p] : [p.slice(0, i).replace(/^\[|\]$/g, ""), p.slice(i + 1)];
    return (h === "*" || h.toLowerCase() === host.toLowerCase()) &&
      (pt === "*" || Number(pt) === port);
  });
}

/** The address a remote forward binds, from what the client asked and GatewayPorts. */
function bindAddress(asked: string, gatewayPorts: PortForwardingOptions["gatewayPorts"]): string {
  if (gatewayPorts === "yes") return "0.0.0.0";
  if (gatewayPorts === "clientspecified") {
    if (asked === "" || asked === "*" || asked === "0.0.0.0") return "0.0.0.0";
    if (asked === "localhost") return "127.0.0.1";
    return asked;
  }
  return "127.0.0.1"; // sshd: loopback only, whatever was asked (RFC 4254 §7.1 leaves it to the server)
}

/**
 * Server-side port forwarding (`ssh -L`, `-R`, `-D`, `-W`, `-J` against
 * this server), as a handler set for `ServerOptions.handlers`.
 *
 * @example
 * ```ts
 * import { portForwardingHandler } from "./server.ts";
 * import { listen, runLocalCommand } from "../server.ts";
 * import { generatePrivateKey } from "../keys/private_key.ts";
 * const server = await listen({
 *   port: 0,
 *   hostKeys: [await generatePrivateKey("ssh-ed25519")],
 *   auth: { handlers: { password: () => false } },
 *   exec: runLocalCommand,
 *   handlers: [portForwardingHandler({ allowTcpForwarding: "local", permitOpen: ["localhost:8080"] })],
 * });
 * server.close();
 * ```
 */
export function portForwardingHandler(options: PortForwardingOptions = {}): PortForwardingHandler {
  const f = new Forwarder(options);
  return {
    channelOpen: {
      "direct-tcpip": (open, ctx) => f.directTcpip(open.data, ctx),
      "direct-streamlocal@openssh.com": (open, ctx) => f.directStreamLocal(open.data, ctx),
    },
    globalRequest: {
      "tcpip-forward": (request, ctx) => f.tcpipForward(request.data, ctx),
      "cancel-tcpip-forward": (request, ctx) => f.cancelTcpipForward(request.data, ctx),
      "streamlocal-forward@openssh.com": (request, ctx) => f.streamLocalForward(request.data, ctx),
      "cancel-streamlocal-forward@openssh.com": (request, ctx) =>
        f.cancelStreamLocalForward(request.data, ctx),
    },
  };
}

/**
 * Default cap on forwarded listeners (tcpip-forward plus
 * streamlocal-forward@openssh.com) across the connections one
 * {@link portForwardingHandler} serves: each is a socket of this process,
 * and 32 connections at the per-connection default (32) fill it.
 *
 * @example
 * ```ts
 * import { MAX_SERVER_LISTENERS } from "./server.ts";
 * console.log(MAX_SERVER_LISTENERS); // 1024
 * ```
 */
export const MAX_SERVER_LISTENERS = 1024;

/** One {@link portForwardingHandler}'s policy and its connections' forwards. */
class Forwarder {
  #options: PortForwardingOptions;
  #state = new Map<Connection, ConnectionForwards>();
  /** Listeners held or being bound across connections (see maxServerListeners). */
  #listening = 0;

  constructor(options: PortForwardingOptions) {
    this.#options = options;
  }

  /** This connection's state, made on first use and dropped when the connection ends. */
  #forwards(connection: Connection): ConnectionForwards {
    let s = this.#state.get(connection);
    if (!s) {
      const fresh: ConnectionForwards = { listeners: new Map(), tunnels: 0 };
      s = fresh;
      this.#state.set(connection, fresh);
      connection.done.then(() => {
        for (const l of fresh.listeners.values()) l.close();
        this.#listening -= fresh.listeners.size;
        this.#state.delete(connection);
      });
    }
    return s;
  }

  /**
   * Reserves a listener for `f`'s connection, or says why not (per
   * connection, then server-wide); `bind` opens it. The reservation is
   * dropped when binding fails or the connection ended meanwhile.
   */
  async #bindListener<L extends { close(): void }>(
    f: ConnectionForwards,
    c: { connection: Connection; key: string; bind: () => Promise<L> },
  ): Promise<L | string> {
    if (f.listeners.size >= (this.#options.maxListeners ?? 32)) return "too many listeners";
    const max = this.#options.maxServerListeners ?? MAX_SERVER_LISTENERS;
    if (this.#listening >= max) return `too many listeners on this server (${max})`;
    this.#listening++;
    let listener: L;
    try {
      listener = await c.bind();
    } catch (e) {
      this.#listening--;
      return `cannot listen${c.key.startsWith("unix") ? ` on ${c.key.slice(5)}` : ""}: ${
        e instanceof Error ? e.message : e
      }`;
    }
    if (this.#state.get(c.connection) !== f) { // the connection ended while binding
      listener.close();
      this.#listening--;
      return "connection closed";
    }
    return listener;
  }

  /**
   * Why a direction is refused (the key's no-port-forwarding,
   * AllowTcpForwarding or AllowStreamLocalForwarding), if it is.
   */
  #refusal(
    ctx: ForwardingContext,
    of: { direction: "local" | "remote"; unix?: boolean },
  ): string | undefined {
    const allow = of.unix
      ? this.#options.allowStreamLocalForwarding ?? "yes"
      : this.#options.allowTcpForwarding ?? "yes";
    if (ctx.restrictions.portForwarding === false) return "no-port-forwarding";
    if (allow === "no" || (allow !== "yes" && allow !== "all" && allow !== of.direction)) {
      return `${of.unix ? "AllowStreamLocalForwarding" : "AllowTcpForwarding"} ${allow}`;
    }
    return undefined;
  }

  /** RFC 4254 §7.2: connect, then confirm; refusals with sshd's reasons. */
  async directTcpip(
    data: Uint8Array,
    ctx: ForwardingContext,
  ): Promise<Refusal | ChannelAcceptance> {
    const why = this.#refusal(ctx, { direction: "local" });
    if (why) return refuse(why, OpenFailure.ADMINISTRATIVELY_PROHIBITED);
    const d = TcpChannelCodec.decode(data);
    const where = `${d.host}:${d.port}`;
    if (!keyPermits(ctx.restrictions.permitOpen, d.host, d.port)) {
      return refuse(
        `${where} is not permitted (permitopen)`,
        OpenFailure.ADMINISTRATIVELY_PROHIBITED,
      );
    }
    if (!permitted(this.#options.permitOpen, d.host, d.port)) {
      return refuse(
        `${where} is not permitted (PermitOpen)`,
        OpenFailure.ADMINISTRATIVELY_PROHIBITED,
      );
    }
    const f = this.#forwards(ctx.connection);
    if (f.tunnels >= (this.#options.maxTunnels ?? 256)) {
      return refuse("too many forwarded connections", OpenFailure.RESOURCE_SHORTAGE);
    }
    f.tunnels++;
    try {
      const socket = await connectTcp(d.host, d.port, {
        signal: AbortSignal.timeout(this.#options.connectTimeout ?? 10_000),
      });
      return acceptChannel((channel) =>
        spliceChannel(channel, socket).finally(() => void f.tunnels--)
      );
    } catch (e) {
      f.tunnels--;
      // sshd's reason: CONNECT_FAILED ("Connection refused", ...).
      return refuse(
        `connect failed: ${e instanceof Error ? e.message : e}`,
        OpenFailure.CONNECT_FAILED,
      );
    }
  }

  /** RFC 4254 §7.1: bind, reply (with the port for port 0), then accept. */
  async tcpipForward(data: Uint8Array, ctx: ForwardingContext): Promise<Refusal | Acceptance> {
    const why = this.#refusal(ctx, { direction: "remote" });
    if (why) return refuse(why);
    const asked = ListenAddressCodec.decode(data);
    const where = `${asked.address}:${asked.port}`;
    const options = this.#options;
    if (!keyPermits(ctx.restrictions.permitListen, asked.address, asked.port)) {
      return refuse(`${where} is not permitted (permitlisten)`);
    }
    if (!permitted(options.permitListen, asked.address, asked.port)) {
      return refuse(`${where} is not permitted (PermitListen)`);
    }
    if (options.permitListen === undefined && asked.port !== 0 && asked.port < 1024) {
      return refuse(`port ${asked.port} is privileged`);
    }
    const f = this.#forwards(ctx.connection);
    const listener: TcpListener | string = await this.#bindListener(f, {
      connection: ctx.connection,
      key: "tcp",
      bind: () =>
        listenTcp({ hostname: bindAddress(asked.address, options.gatewayPorts), port: asked.port }),
    });
    if (typeof listener === "string") return refuse(listener);
    const bound = { address: asked.address, port: listener.port };
    f.listeners.set(`tcp ${bound.address}:${bound.port}`, listener);
    return accept(asked.port === 0 ? BoundPortCodec.encode(listener.port) : undefined, {
      // Connections are forwarded only once the client has the reply (and the port).
      after: () => void this.#serveListener(listener, { bound, ctx, f }),
    });
  }

  /** RFC 4254 §7.1: closes the listener of an earlier tcpip-forward. */
  cancelTcpipForward(data: Uint8Array, ctx: ForwardingContext): Refusal | Acceptance {
    const asked = ListenAddressCodec.decode(data);
    const f = this.#forwards(ctx.connection);
    const key = `tcp ${asked.address}:${asked.port}`;
    const l = f.listeners.get(key);
    if (!l) return refuse(`no forwarding on ${asked.address}:${asked.port}`);
    f.listeners.delete(key);
    this.#listening--;
    l.close();
    return accept();
  }

  /** OpenSSH PROTOCOL §2.4: direct-streamlocal@openssh.com, connect to the path, then confirm. */
  async directStreamLocal(
    data: Uint8Array,
    ctx: ForwardingContext,
  ): Promise<Refusal | ChannelAcceptance> {
    const why = this.#refusal(ctx, { direction: "local", unix: true });
    if (why) return refuse(why, OpenFailure.ADMINISTRATIVELY_PROHIBITED);
    const path = StreamLocalChannelCodec.decode(data);
    const f = this.#forwards(ctx.connection);
    if (f.tunnels >= (this.#options.maxTunnels ?? 256)) {
      return refuse("too many forwarded connections", OpenFailure.RESOURCE_SHORTAGE);
    }
    f.tunnels++;
    try {
      const socket = await connectUnix(path, {
        signal: AbortSignal.timeout(this.#options.connectTimeout ?? 10_000),
      });
      return acceptChannel((channel) =>
        spliceChannel(channel, socket).finally(() => void f.tunnels--)
      );
    } catch (e) {
      f.tunnels--;
      return refuse(
        `connect to ${path} failed: ${e instanceof Error ? e.message : e}`,
        OpenFailure.CONNECT_FAILED,
      );
    }
  }

  /**
   * OpenSSH PROTOCOL §2.4: streamlocal-forward@openssh.com binds `path`
   * (mode 0600, an existing file is an error as with sshd's
   * StreamLocalBindUnlink no), replies, then accepts.
   */
  async streamLocalForward(
    data: Uint8Array,
    ctx: ForwardingContext,
  ): Promise<Refusal | Acceptance> {
    const why = this.#refusal(ctx, { direction: "remote", unix: true });
    if (why) return refuse(why);
    const path = StreamLocalPathCodec.decode(data);
    const f = this.#forwards(ctx.connection);
    if (f.listeners.has(`unix ${path}`)) return refuse(`already listening on ${path}`);
    const listener: UnixListener | string = await this.#bindListener(f, {
      connection: ctx.connection,
      key: `unix ${path}`,
      bind: () => listenUnix(path, { mode: 0o600 }),
    });
    if (typeof listener === "string") return refuse(listener);
    f.listeners.set(`unix ${path}`, listener);
    return accept(undefined, {
      after: () => void this.#serveUnixListener(listener, { path, ctx, f }),
    });
  }

  /** OpenSSH PROTOCOL §2.4: closes (and removes) the socket of an earlier streamlocal-forward. */
  cancelStreamLocalForward(data: Uint8Array, ctx: ForwardingContext): Refusal | Acceptance {
    const path = StreamLocalPathCodec.decode(data);
    const f = this.#forwards(ctx.connection);
    const l = f.listeners.get(`unix ${path}`);
    if (!l) return refuse(`no forwarding on ${path}`);
    f.listeners.delete(`unix ${path}`);
    this.#listening--;
    l.close();
    return accept();
  }

  /** Accepts on a streamlocal listener; a forwarded-streamlocal channel per connection. */
  async #serveUnixListener(
    listener: UnixListener,
    on: { path: string; ctx: ForwardingContext; f: ConnectionForwards },
  ): Promise<void> {
    const { path, ctx, f } = on;
    try {
      for await (const conn of listener) {
        if (f.tunnels >= (this.#options.maxTunnels ?? 256)) {
          conn.close();
          continue;
        }
        f.tunnels++;
        ctx.connection.openChannel(
          "forwarded-streamlocal@openssh.com",
          ForwardedStreamLocalCodec.encode(path),
        ).then(
          (channel: Channel) => spliceChannel(channel, conn),
          () => conn.close(),
        ).finally(() => void f.tunnels--);
      }
    } catch {
      // The listener failed for good: its forward ends; the connection goes on.
    }
  }

  /** Accepts on a remote forward's listener and opens a forwarded-tcpip channel per connection. */
  async #serveListener(
    listener: TcpListener,
    on: { bound: { address: string; port: number }; ctx: ForwardingContext; f: ConnectionForwards },
  ): Promise<void> {
    const { bound, ctx, f } = on;
    try {
      for await (const conn of listener) {
        if (f.tunnels >= (this.#options.maxTunnels ?? 256)) {
          conn.close();
          continue;
        }
        f.tunnels++;
        const data = TcpChannelCodec.encode({
          host: bound.address,
          port: bound.port,
          originatorAddress: plainAddress(conn.remoteAddress),
          originatorPort: conn.remotePort,
        });
        ctx.connection.openChannel("forwarded-tcpip", data).then(
          (channel: Channel) => spliceChannel(channel, conn),
          () => conn.close(),
        ).finally(() => void f.tunnels--);
      }
    } catch {
      // The listener failed for good: its forward ends; the connection goes on.
    }
  }
}
