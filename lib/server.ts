/**
 * The SSH server: accept connections, run key exchange and user
 * authentication, and hand sessions to the application, either through a
 * simple handler ("run this function for exec") or reactively.
 *
 * @module
 */
import { type Observable, Subject } from "rxjs";
import { LazySubject } from "./rx/_lazy_subject.ts";
import { listenWorkers } from "./server_workers.ts";
import {
  type AuthResult,
  serveAuthentication,
  type ServerAuthHandlers,
  type ServerAuthOptions,
} from "./auth/server.ts";
import type { Channel, IncomingChannelRequest } from "./connection/channel.ts";
import {
  Connection,
  type ConnectionEvent,
  type SharedChannelCount,
} from "./connection/connection.ts";
import { keepalive } from "./connection/keepalive.ts";
import {
  acceptChannel,
  ask,
  type ChannelOpenRequest,
  refuse,
  type Verdict,
} from "./connection/handlers.ts";
import {
  type DecodedRequest,
  decodeSessionRequest,
  type ExitStatus,
  type PtyRequest,
  sendExitStatus,
} from "./connection/session.ts";
import type { Lifecycle } from "./rx/behaviour.ts";
import type { ChannelBehaviourSpec } from "./rx/channel_behaviour.ts";
import type { PrivateKey, PublicKey } from "./keys/types.ts";
import {
  type ServerContext,
  ServerHandlers,
  type ServerHandlerSet,
  type SessionHandler,
  type SubsystemHandler,
} from "./server_handlers.ts";
import {
  type ClientEnvironment,
  clientEnvironment,
  ptyRefusal,
  sessionEnvironment,
  sessionStart,
} from "./server_policy.ts";
import { OpenFailure } from "./wire/connection_messages.ts";
import { plainAddress } from "./runtime/address.ts";
import { runCommand } from "./runtime/process.ts";
import { listenTcp } from "./runtime/tcp.ts";
import type { ListenerWarning } from "./runtime/accept.ts";
import {
  type ProxiedConnection,
  type ProxyProtocolOptions,
  readProxyHeader,
  trustedProxies,
} from "./runtime/proxy_protocol.ts";
import type { TcpListener } from "./runtime/types.ts";
import {
  closeDropped,
  StartupGate,
  type StartupLimits,
  type StartupTicket,
} from "./server_limits.ts";
import {
  type ByteStreamPair,
  type KexEvent,
  PRE_AUTH_LIMITS,
  Transport,
  type TransportTuning,
  transportTuning,
} from "./transport/transport.ts";
import { DisconnectReason } from "./wire/errors.ts";

/**
 * A session the client started: what it asked for, its streams, and a way
 * to finish it with an exit status.
 *
 * @example
 * ```ts
 * import type { ServerSession } from "./server.ts";
 * async function hello(s: ServerSession) {
 *   const w = s.stdout.getWriter();
 *   await w.write(new TextEncoder().encode(`hello ${s.username}, you ran ${s.command}\n`));
 *   w.releaseLock();
 *   await s.exit(0);
 * }
 * ```
 */
export interface ServerSession {
  /** The authenticated user. */
  readonly username: string;
  /** "exec", "shell" or "subsystem". */
  readonly kind: "exec" | "shell" | "subsystem";
  /** The command for exec, the subsystem name for subsystem. */
  readonly command?: string;
  /** Environment variables the client sent (env requests). */
  readonly env: Readonly<Record<string, string>>;
  /** The pty-req, if the client asked for a terminal. */
  readonly pty?: PtyRequest;
  /** Data from the client. */
  readonly stdin: ReadableStream<Uint8Array>;
  /** Data to the client. */
  readonly stdout: WritableStream<Uint8Array>;
  /** Extended data (stderr) to the client. */
  readonly stderr: WritableStream<Uint8Array>;
  /** window-change requests. */
  readonly windowChange$: Observable<
    { cols: number; rows: number; widthPx: number; heightPx: number }
  >;
  /** signal requests (names without "SIG"). */
  readonly signal$: Observable<string>;
  /** The channel itself. */
  readonly channel: Channel;
  /**
   * Sends exit-status (or exit-signal), EOF and CLOSE. Pending output is
   * flushed first. Rejects with a RangeError (sending nothing) for a code
   * that is not a uint32.
   */
  exit(code: ExitStatus): Promise<void>;
}

/**
 * One authenticated client connection.
 *
 * @example
 * ```ts
 * import type { ServerConnection } from "./server.ts";
 * const log = (c: ServerConnection) => c.session$.subscribe((s) => console.log(c.username, s.kind, s.command));
 * ```
 */
export interface ServerConnection {
  /** The authenticated user. */
  readonly username: string;
  /** How the user authenticated. */
  readonly auth: AuthResult;
  /** The transport (events). */
  readonly transport: Transport;
  /** The channel multiplexer (to open channels to the client, send global requests). */
  readonly connection: Connection;
  /**
   * This connection's handlers, consulted before the server's: add one at
   * run time, unsubscribe to remove it.
   */
  readonly handlers: ServerHandlers;
  /** Everything the connection did, from accept (the same stream as {@link IncomingConnection.event$}). */
  readonly event$: Observable<ServerEvent>;
  /**
   * Sessions started with exec, shell or a subsystem run by a session
   * handler, for watching (hot): the handler owns their streams. Whether
   * anyone subscribes changes nothing.
   */
  readonly session$: Observable<ServerSession>;
  /** The life of every behaviour-run channel: starting, up, closing, ended (with the reason). */
  readonly channelLife$: Observable<ChannelLife>;
  /** Behaviour-run channels alive now, by local channel id, with their latest phase. */
  readonly liveChannels: ReadonlyMap<number, ChannelLife>;
}

/**
 * One lifecycle step of a behaviour-run channel.
 *
 * @example
 * ```ts
 * import type { ChannelLife } from "./server.ts";
 * const line = (c: ChannelLife) => `${c.channelId} ${c.name}: ${c.lifecycle.phase}`;
 * ```
 */
export interface ChannelLife {
  /** Our channel number. */
  readonly channelId: number;
  /** The subsystem name. */
  readonly name: string;
  /** The phase and, when ended, the reason. */
  readonly lifecycle: Lifecycle<unknown>;
}

/**
 * Options of {@link listen} and {@link serveConnection}.
 *
 * @example
 * ```ts
 * import type { ServerOptions } from "./server.ts";
 * import { generatePrivateKey } from "./keys/private_key.ts";
 * const o: ServerOptions = {
 *   hostKeys: [await generatePrivateKey("ssh-ed25519")],
 *   auth: { handlers: { password: (u, p) => u === "demo" && p === "demo" } },
 *   exec: async (s) => { await s.exit(0); },
 * };
 * ```
 */
export interface ServerOptions extends TransportTuning {
  /** Host keys to offer. */
  hostKeys: readonly PrivateKey[];
  /** Authentication policy and decisions (deny by default). */
  auth: ServerAuthOptions;
  /** Simple path: runs for every exec request. */
  exec?: (session: ServerSession) => void | Promise<void>;
  /** Simple path: runs for every shell request. */
  shell?: (session: ServerSession) => void | Promise<void>;
  /**
   * Subsystems by name (e.g. "sftp"); other names are refused. Either a
   * session handler, or a channel behaviour registered with its init
   * arguments by `channelBehaviour(behaviour, args, { messages })` (as
   * Erlang's daemon `subsystems` option registers them).
   */
  subsystems?: Readonly<Record<string, SubsystemHandler>>;
  /**
   * Handlers for what clients ask: channel opens by type (other than
   * "session", which the server owns), global requests by name, session
   * requests by type (x11-req, auth-agent-req@openssh.com, ...), exec,
   * shell and subsystems. Features such as `agentForwardingHandler()` and
   * `x11ForwardingHandler()` are handler sets. They are in place before the
   * first message is read; add more at run time on `SshServer.handlers` or
   * `ServerConnection.handlers`. Earlier sets win; `exec`, `shell` and
   * `subsystems` above come first.
   *
   * @example
   * ```ts
   * import type { ServerOptions } from "./server.ts";
   * import { refuse } from "./connection/handlers.ts";
   * const o: Pick<ServerOptions, "handlers"> = {
   *   handlers: { channelOpen: { "direct-tcpip": () => refuse("no forwarding here", 1) } },
   * };
   * ```
   */
  handlers?: ServerHandlerSet | readonly ServerHandlerSet[];
  /**
   * Seconds between keepalive@openssh.com requests to an idle-or-not client
   * (sshd's ClientAliveInterval; 0 = off, the default). After
   * `clientAliveCountMax` (default 3) unanswered ones the connection ends
   * with CONNECTION_LOST ("Timeout, client ... not responding").
   *
   * @example
   * ```ts
   * import type { ServerOptions } from "./server.ts";
   * const o: Pick<ServerOptions, "clientAliveInterval" | "clientAliveCountMax"> = { clientAliveInterval: 30, clientAliveCountMax: 3 };
   * ```
   */
  clientAliveInterval?: number;
  /** See `clientAliveInterval` (sshd's ClientAliveCountMax). */
  clientAliveCountMax?: number;
  /** Sessions per connection (OpenSSH MaxSessions, default 10). */
  maxSessions?: number;
  /**
   * Channels open at once on one connection, all types (sessions,
   * forwardings, agent, X11), either side's (default `MAX_CHANNELS`,
   * 1024). A client's open past it is refused with RESOURCE_SHORTAGE.
   *
   * @example
   * ```ts
   * import type { ServerOptions } from "./server.ts";
   * const o: Pick<ServerOptions, "maxChannels"> = { maxChannels: 64 };
   * ```
   */
  maxChannels?: number;
  /**
   * Apply environment= from key restrictions (OpenSSH PermitUserEnvironment,
   * default false). Those variables override what the client sent.
   *
   * @example
   * ```ts
   * import type { ServerOptions } from "./server.ts";
   * const o: Pick<ServerOptions, "permitUserEnvironment"> = { permitUserEnvironment: true };
   * ```
   */
  permitUserEnvironment?: boolean;
  /**
   * Which client `env` requests are accepted, as sshd's AcceptEnv: patterns
   * with `*` and `?` (and `!` to exclude); a variable is accepted when its
   * name matches one of them. Refused requests are answered with failure
   * and reported as a `refused` {@link ServerEvent}. Default `["LANG", "LC_*"]`
   * (Debian's sshd_config): a client that may set `LD_PRELOAD`, `BASH_ENV` or
   * `PATH` can escape a forced command, so widen it knowingly (`["*"]` accepts
   * every name); `[]` refuses them all.
   *
   * @example
   * ```ts
   * import type { ServerOptions } from "./server.ts";
   * const o: Pick<ServerOptions, "acceptEnv"> = { acceptEnv: ["LANG", "LC_*"] };
   * ```
   */
  acceptEnv?: readonly string[];
  /**
   * Most variables one session keeps from the client's `env` requests;
   * later ones are refused (a FAILURE reply when the client wants one).
   * Default 129, as sshd (session.c keeps adding until it holds 129).
   *
   * @example
   * ```ts
   * import type { ServerOptions } from "./server.ts";
   * const o: Pick<ServerOptions, "maxEnv"> = { maxEnv: 32 };
   * ```
   */
  maxEnv?: number;
  /**
   * Most bytes (names plus values, UTF-8) one session keeps from the
   * client's `env` requests; a variable that would go over is refused.
   * Default 65536. This also bounds one name or value.
   *
   * @example
   * ```ts
   * import type { ServerOptions } from "./server.ts";
   * const o: Pick<ServerOptions, "maxEnvBytes"> = { maxEnvBytes: 8192 };
   * ```
   */
  maxEnvBytes?: number;
  /**
   * false: every pty-req is refused (sshd's PermitTTY no), whatever the
   * key's restrictions say. Default true (a key's no-pty still refuses).
   *
   * @example
   * ```ts
   * import type { ServerOptions } from "./server.ts";
   * const o: Pick<ServerOptions, "permitTty"> = { permitTty: false };
   * ```
   */
  permitTty?: boolean;
  /**
   * A command that replaces every exec, shell and subsystem request (sshd's
   * ForceCommand); it wins over a key's `command=`. The session runs as
   * `exec` with this command, and `SSH_ORIGINAL_COMMAND` holds what the
   * client asked for (the exec command or the subsystem name; unset for a
   * shell).
   *
   * @example
   * ```ts
   * import type { ServerOptions } from "./server.ts";
   * const o: Pick<ServerOptions, "forceCommand"> = { forceCommand: "/usr/bin/git-shell" };
   * ```
   */
  forceCommand?: string;
  /**
   * Take the client's address from a PROXY protocol header (v1 or v2) that
   * a load balancer in `trusted` writes first (HAProxy `send-proxy-v2`).
   * The header is read and checked before the server sends anything; a
   * connection from any other address, or without a valid header within
   * `timeoutMs` (default 5000), is closed without an SSH banner. The carried
   * address is then the client's everywhere: `remoteAddress`, `from=`, the
   * keepalive and log texts. Off when absent.
   *
   * @example
   * ```ts
   * import type { ServerOptions } from "./server.ts";
   * const o: Pick<ServerOptions, "proxyProtocol"> = { proxyProtocol: { trusted: ["10.0.0.0/8"], timeoutMs: 3000 } };
   * ```
   */
  proxyProtocol?: ProxyProtocolOptions;
}

/**
 * What one server connection did, in order, from accept:
 *
 * - `kex`: the first key exchange finished (algorithms, the client's
 *   identification line).
 * - `userauth`: an authentication handler decided (for publickey, whether
 *   the key is acceptable, once for the query and once for the signed
 *   request; rxssh still checks the signature after an acceptance).
 * - `channel-open`, `global-request`: a decision on a channel open or a
 *   global request (from the connection's handlers; see `ConnectionEvent`).
 * - `channel-request`: a decision on a request on a session channel (env,
 *   pty-req, x11-req, ...); an accepted exec, shell or subsystem is reported
 *   as `session` instead.
 * - `session`: a session channel started a command, shell or subsystem:
 *   what the client asked for and what runs (they differ under a forced
 *   command).
 *
 * The strings in events are raw and peer-controlled (user names, the
 * identification line, commands, subsystem, channel and variable names):
 * they may hold newlines, control characters or hundreds of kilobytes.
 * Quote them before writing them to a log or a terminal (`rxssh serve` uses
 * `quotePeerText` from `lib/wire/quote.ts`).
 *
 * @example
 * ```ts
 * import type { ServerEvent } from "./server.ts";
 * function line(e: ServerEvent): string {
 *   switch (e.type) {
 *     case "kex": return `kex: ${e.kex.algorithms.kex} (${e.peerVersion})`;
 *     case "userauth": return `${e.accepted ? "Accepted" : "Failed"} ${e.method} for ${e.username}`;
 *     case "session": return `session ${e.request} ${e.requested ?? ""}${e.forced ? " (forced command)" : ""}`;
 *     case "channel-request": return `${e.request} ${e.name ?? ""} ${e.accepted ? "accepted" : `refused (${e.reason})`}`;
 *     case "channel-open": return `${e.channelType} channel ${e.accepted ? "opened" : "refused"}`;
 *     case "global-request": return `${e.name} ${e.accepted ? "accepted" : "refused"}`;
 *   }
 * }
 * ```
 */
export type ServerEvent =
  | {
    readonly type: "kex";
    readonly kex: KexEvent;
    /** The client's identification line. */
    readonly peerVersion?: string;
  }
  | {
    readonly type: "userauth";
    readonly username: string;
    readonly method: "none" | "password" | "publickey" | "keyboard-interactive";
    readonly accepted: boolean;
    /** The offered key (publickey). */
    readonly publicKey?: PublicKey;
  }
  | ConnectionEvent
  | {
    readonly type: "channel-request";
    /** Our channel number. */
    readonly channelId: number;
    /** The request type ("env", "pty-req", "x11-req", "exec", ...). */
    readonly request: string;
    /** The variable name (env) or subsystem name. */
    readonly name?: string;
    readonly accepted: boolean;
    /** Why it was refused. */
    readonly reason?: string;
    /** A handler's exception, when one threw. */
    readonly error?: unknown;
  }
  | {
    readonly type: "session";
    readonly channelId: number;
    /** The request the client sent. */
    readonly request: "exec" | "shell" | "subsystem";
    /** Its command or subsystem name. */
    readonly requested?: string;
    /** What runs: "exec" under a forced command, otherwise the request. */
    readonly kind: "exec" | "shell" | "subsystem";
    /** The command (or subsystem name) that runs. */
    readonly command?: string;
    /** True when forceCommand or the key's command= replaced the request. */
    readonly forced: boolean;
    readonly pty: boolean;
  };

const te = new TextEncoder();

type WindowChange = { cols: number; rows: number; widthPx: number; heightPx: number };

/** A {@link ServerSession} over `channel` with what the client asked for. */
function serverSession(
  channel: Channel,
  s: {
    username: string;
    start: { kind: "exec" | "shell" | "subsystem"; command?: string };
    env: Record<string, string>;
    pty?: PtyRequest;
    windowChange$: Observable<WindowChange>;
    signal$: Observable<string>;
  },
): ServerSession {
  let exited = false;
  return {
    username: s.username,
    ...s.start,
    env: s.env,
    pty: s.pty,
    stdin: channel.readable,
    stdout: channel.writable,
    stderr: channel.stderrWritable,
    windowChange$: s.windowChange$,
    signal$: s.signal$,
    channel,
    async exit(code) {
      if (exited) return;
      exited = true;
      try {
        await sendExitStatus(channel, code, { close: true });
      } catch (e) {
        if (!(e instanceof RangeError)) return; // the channel went away meanwhile
        exited = false; // nothing was sent: the caller may exit properly
        throw e;
      }
    },
  };
}

/** Wraps the auth handlers so that every decision is reported as a `userauth` event. */
function reportedHandlers(
  h: ServerAuthHandlers,
  emit: (e: ServerEvent) => void,
): ServerAuthHandlers {
  const report = (
    username: string,
    method: "none" | "password" | "publickey" | "keyboard-interactive",
    accepted: boolean,
    publicKey?: PublicKey,
  ) => emit({ type: "userauth", username, method, accepted, publicKey });
  const { none, password, publicKey, keyboardInteractive } = h;
  return {
    ...(none && {
      none: async (u) => {
        const ok = await none(u);
        report(u, "none", ok);
        return ok;
      },
    }),
    ...(password && {
      password: async (u, p) => {
        const ok = await password(u, p);
        report(u, "password", ok);
        return ok;
      },
    }),
    ...(publicKey && {
      publicKey: async (u, key, context) => {
        const decision = await publicKey(u, key, context);
        report(u, "publickey", decision !== false, key);
        return decision;
      },
    }),
    ...(keyboardInteractive && {
      keyboardInteractive: async (u) => {
        const challenge = await keyboardInteractive(u);
        return {
          ...challenge,
          check: async (answers: string[]) => {
            const ok = await challenge.check(answers);
            report(u, "keyboard-interactive", ok);
            return ok;
          },
        };
      },
    }),
  };
}

/**
 * A connection the server has just accepted: its transport (IGNORE, DEBUG,
 * DISCONNECT and key-exchange events from the first byte, as the client's
 * `onTransport` sees them) and its events, before authentication; then the
 * authenticated connection. Subscribe in the same tick as the emission (or
 * the `acceptConnection` call) to miss nothing.
 *
 * @example
 * ```ts
 * import type { IncomingConnection } from "./server.ts";
 * function watch(c: IncomingConnection) {
 *   c.transport.ignore$.subscribe(() => console.log("IGNORE from", c.remoteAddress));
 *   c.event$.subscribe((e) => console.log(e.type));
 *   c.authenticated.then((s) => console.log("logged in:", s.username), () => {});
 * }
 * ```
 */
export interface IncomingConnection {
  /** The transport, before the version exchange. */
  readonly transport: Transport;
  /**
   * The client's address (IPv4-mapped IPv6 written as IPv4), when the stream
   * has one. With `proxyProtocol`, the address the header carried, known
   * once `proxied` resolves (before the first `kex` event; `listen` emits on
   * `accept$` only then).
   */
  readonly remoteAddress?: string;
  /** The client's port, when the stream has one (with `proxyProtocol`, as `remoteAddress`). */
  readonly remotePort?: number;
  /**
   * With `proxyProtocol`: resolves with the connection as the header
   * describes it; rejects with a `ProxyProtocolError` (as does
   * `authenticated`) when the connection was refused and closed, or with a
   * `StartupDroppedError` when the client the header names is past
   * PerSourceMaxStartups.
   */
  readonly proxied?: Promise<ProxiedConnection>;
  /** Every event of this connection, from accept; completes when it ends. Hot. */
  readonly event$: Observable<ServerEvent>;
  /** Resolves once the user is authenticated; rejects when key exchange or authentication fails. */
  readonly authenticated: Promise<ServerConnection>;
}

/**
 * Starts serving one connection over a byte stream and returns at once:
 * key exchange, authentication, then sessions. See {@link IncomingConnection}.
 * `serverHandlers` is the server-wide table this connection's handlers fall
 * back to (`listen` passes its own; default: one made from `options`).
 * `startup` is the connection's place in a `StartupGate` (`listen` passes
 * it): released once authenticated or closed; behind a PROXY header its
 * PerSourceMaxStartups check is made with the carried client address.
 * `sharedChannels` is the server-wide channel count (`listen` passes one
 * capped at `maxServerChannels`).
 *
 * The client's address for the publicKey handler (from=) is the stream's
 * `remoteAddress`, IPv4-mapped IPv6 addresses written as plain IPv4, unless
 * `auth.clientAddress` is given.
 *
 * @example
 * ```ts
 * import { acceptConnection } from "./server.ts";
 * import type { ServerOptions } from "./server.ts";
 * import type { ByteStreamPair } from "./transport/transport.ts";
 * function one(stream: ByteStreamPair, options: ServerOptions) {
 *   const c = acceptConnection(stream, options);
 *   c.event$.subscribe((e) => console.log(e.type));
 *   return c.authenticated;
 * }
 * ```
 */
export function acceptConnection(
  stream: ByteStreamPair,
  options: ServerOptions & {
    serverHandlers?: ServerHandlers;
    startup?: StartupTicket;
    sharedChannels?: SharedChannelCount;
  },
): IncomingConnection {
  // Made on first subscription, as the connection's other streams (an idle connection's memory).
  const events = new LazySubject<ServerEvent>();
  const emit = (e: ServerEvent) => events.next(e);
  type Peer = { remoteAddress?: string; remotePort?: number };
  const { startup } = options;
  // With the PROXY protocol, nothing is written nor read for SSH until the header is checked,
  // and PerSourceMaxStartups counts the client the header names (sshd_config(5)).
  const proxied = options.proxyProtocol
    ? readProxyHeader(stream, options.proxyProtocol).then((c) => {
      try {
        startup?.checkSource(c);
      } catch (e) {
        closeDropped(c);
        throw e;
      }
      return c;
    })
    : undefined;
  proxied?.catch(() => {});
  const transport = new Transport(proxied ? afterHeader(proxied) : stream, {
    role: "server",
    hostKeys: options.hostKeys,
    ...transportTuning(options),
    maxPreAuthBytes: options.maxPreAuthBytes ?? PRE_AUTH_LIMITS.bytes,
    maxPreAuthPackets: options.maxPreAuthPackets ?? PRE_AUTH_LIMITS.packets,
  });
  let peer: Peer = proxied ? {} : stream as Peer;
  transport.closed.then(() => {
    startup?.release();
    setTimeout(() => events.complete(), 0);
  });
  const authenticated = Promise.resolve(proxied).then((c) => {
    if (c) peer = c;
    const remoteAddress = plainAddress(peer.remoteAddress);
    return authenticate(transport, { options, emit, remoteAddress }).then((auth) => {
      startup?.release(); // a startup ends at authentication (sshd closes its startup_pipe)
      return startConnection(transport, {
        options,
        auth,
        events,
        remoteAddress,
        parent: options.serverHandlers ?? serverHandlers(options),
      });
    });
  });
  authenticated.catch(() => {});
  return {
    transport,
    get remoteAddress() {
      return plainAddress(peer.remoteAddress);
    },
    get remotePort() {
      return peer.remotePort;
    },
    proxied,
    get event$() {
      return events.observable;
    },
    authenticated,
  };
}

/**
 * A byte stream pair over the one `ready` gives: reads and writes wait for
 * it (the transport's identification line stays unsent until the PROXY
 * header is checked) and fail when it rejects.
 */
function afterHeader(ready: Promise<ByteStreamPair>): ByteStreamPair {
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  let writer: WritableStreamDefaultWriter<Uint8Array> | undefined;
  const getReader = async () => reader ??= (await ready).readable.getReader();
  const getWriter = async () => writer ??= (await ready).writable.getWriter();
  return {
    readable: new ReadableStream<Uint8Array>({
      async pull(c) {
        const { done, value } = await (await getReader()).read();
        if (done) c.close();
        else c.enqueue(value);
      },
      cancel: async (reason) => void await (await getReader()).cancel(reason),
    }),
    writable: new WritableStream<Uint8Array>({
      write: async (chunk) => await (await getWriter()).write(chunk),
      close: async () => await (await getWriter()).close(),
      abort: async (reason) => await (await getWriter()).abort(reason),
    }),
  };
}

/**
 * Runs one server connection over a byte stream (see
 * {@link acceptConnection}); resolves with the connection once the user is
 * authenticated.
 *
 * @example
 * ```ts
 * import { serveConnection } from "./server.ts";
 * import type { ServerOptions } from "./server.ts";
 * import type { ByteStreamPair } from "./transport/transport.ts";
 * async function one(stream: ByteStreamPair, options: ServerOptions) {
 *   const c = await serveConnection(stream, options);
 *   console.log("logged in:", c.username);
 * }
 * ```
 */
export function serveConnection(
  stream: ByteStreamPair,
  options: ServerOptions,
): Promise<ServerConnection> {
  return acceptConnection(stream, options).authenticated;
}

/** The server-wide handler table `options` describe (exec, shell, subsystems first). */
function serverHandlers(options: ServerOptions): ServerHandlers {
  const handlers = new ServerHandlers();
  handlers.add({ exec: options.exec, shell: options.shell, subsystem: options.subsystems });
  const sets = options.handlers === undefined
    ? []
    : Array.isArray(options.handlers)
    ? options.handlers
    : [options.handlers as ServerHandlerSet];
  for (const set of sets) handlers.add(set);
  return handlers;
}

/** After authentication: the connection layer, with the session channel type owned here. */
function startConnection(
  transport: Transport,
  c: {
    options: ServerOptions & { sharedChannels?: SharedChannelCount };
    auth: AuthResult;
    events: LazySubject<ServerEvent>;
    remoteAddress?: string;
    parent: ServerHandlers;
  },
): ServerConnection {
  const { options, auth, events } = c;
  const handlers = new ServerHandlers(c.parent);
  const ctx = {
    options,
    handlers,
    emit: (e: ServerEvent) => events.next(e),
    sessions: new LazySubject<ServerSession>(),
    lives: new LazySubject<ChannelLife>(),
    live: new Map<number, ChannelLife>(),
  } as SessionContext;
  const sessionOpen = sessionOpenHandler(ctx, options.maxSessions ?? 10);
  const connection = new Connection(transport, {
    maxChannels: options.maxChannels,
    sharedChannels: options.sharedChannels,
    router: {
      channelOpen: (r) =>
        r.type === "session"
          ? sessionOpen(r)
          : ask(handlers.channelOpens.get(r.type), r, ctx.context),
      globalRequest: (r) => ask(handlers.globalRequests.get(r.name), r, ctx.context),
    },
  });
  ctx.context = {
    connection,
    username: auth.username,
    auth,
    restrictions: auth.restrictions ?? {},
    remoteAddress: c.remoteAddress,
  };
  connection.event$.subscribe((e) => ctx.emit(e));
  keepalive({
    globalRequest: (name) => connection.globalRequest(name),
    disconnect: (reason, description) => transport.disconnect(reason, description),
    closed: transport.closed,
  }, {
    interval: options.clientAliveInterval ?? 0,
    countMax: options.clientAliveCountMax,
    peer: `client ${c.remoteAddress ?? "(unknown)"}`,
  });
  transport.closed.then(() => {
    ctx.sessions.complete();
    // Let behaviours see the loss and terminate before the lifecycle stream completes.
    setTimeout(() => ctx.lives.complete(), 0);
  });
  return {
    username: auth.username,
    auth,
    transport,
    connection,
    handlers,
    get event$() {
      return events.observable;
    },
    get session$() {
      return ctx.sessions.observable;
    },
    get channelLife$() {
      return ctx.lives.observable;
    },
    liveChannels: ctx.live,
  };
}

/** "session" channel opens (RFC 4254 §6.1), up to MaxSessions at once. */
function sessionOpenHandler(
  ctx: SessionContext,
  maxSessions: number,
): (r: ChannelOpenRequest) => Verdict<ReturnType<typeof acceptChannel>> {
  let open = 0;
  return () => {
    if (open >= maxSessions) {
      return refuse(
        `too many sessions (MaxSessions ${maxSessions})`,
        OpenFailure.RESOURCE_SHORTAGE,
      );
    }
    open++;
    return acceptChannel((channel) => {
      channel.closed.then(() => open--);
      serveSessionChannel(channel, ctx);
    });
  };
}

/**
 * Key exchange, then user authentication, under one LoginGraceTime deadline
 * counted from the accepted connection (sshd arms its grace alarm before the
 * version exchange and disarms it after authentication, sshd.c main).
 */
async function authenticate(
  transport: Transport,
  c: { options: ServerOptions; emit: (e: ServerEvent) => void; remoteAddress?: string },
): Promise<AuthResult> {
  const { options, emit } = c;
  const grace = options.auth.loginGraceTime ?? 120_000;
  const timer = grace > 0
    ? setTimeout(() => {
      transport.disconnect(
        DisconnectReason.PROTOCOL_ERROR,
        `not authenticated within the login grace time (${grace} ms)`,
      ).catch(() => {});
    }, grace)
    : undefined;
  try {
    const kex = await transport.ready;
    emit({ type: "kex", kex, peerVersion: transport.peerVersion?.line });
    return await serveAuthentication(transport, {
      clientAddress: c.remoteAddress,
      ...options.auth,
      loginGraceTime: 0, // the deadline above covers authentication
      handlers: reportedHandlers(options.auth.handlers, emit),
    });
  } finally {
    clearTimeout(timer);
  }
}

/** What the session channels of one connection share. */
interface SessionContext {
  options: ServerOptions;
  handlers: ServerHandlers;
  /** What handlers get (set once the connection exists). */
  context: ServerContext;
  emit: (e: ServerEvent) => void;
  sessions: LazySubject<ServerSession>;
  lives: LazySubject<ChannelLife>;
  live: Map<number, ChannelLife>;
}

/** What one session channel has been asked for before it starts. */
interface SessionState {
  channel: Channel;
  env: ClientEnvironment;
  /** Variables added by session-request handlers (DISPLAY, SSH_AUTH_SOCK). */
  added: Record<string, string>;
  pty?: PtyRequest;
  started: boolean;
  windowChange: Subject<WindowChange>;
  signals: Subject<string>;
}

/** A decision on one session request: the reply, the event's details, what runs after the reply. */
interface Decision {
  ok: boolean;
  reason?: string;
  name?: string;
  error?: unknown;
  /** Runs once the reply is queued (a session start). */
  after?: () => void;
  /** The decision is reported by the caller as a `session` event already. */
  reported?: boolean;
}

/**
 * Answers the requests of one accepted session channel (RFC 4254 §6), one
 * at a time in the order they came: a request waits until the one before it
 * was decided, so exec runs after an auth-agent-req handler set up
 * SSH_AUTH_SOCK.
 */
function serveSessionChannel(channel: Channel, ctx: SessionContext): void {
  const state: SessionState = {
    channel,
    env: clientEnvironment(ctx.options),
    added: {},
    started: false,
    windowChange: new Subject(),
    signals: new Subject(),
  };
  let queue = Promise.resolve();
  channel.requests$.subscribe({
    next: (r: IncomingChannelRequest) => {
      r.defer();
      queue = queue.then(async () => {
        let d: Decision;
        try {
          d = await decideSessionRequest(r, ctx, state);
        } catch (error) {
          d = { ok: false, reason: "malformed request", error };
        }
        if (d.ok) r.accept();
        else r.reject();
        if (!d.reported) {
          ctx.emit({
            type: "channel-request",
            channelId: channel.localId,
            request: r.type,
            name: d.name,
            accepted: d.ok,
            reason: d.reason,
            error: d.error,
          });
        }
        d.after?.();
      });
    },
    complete: () => {
      state.windowChange.complete();
      state.signals.complete();
    },
  });
}

/** The server's own session requests, then the registry's (first claim wins). */
async function decideSessionRequest(
  r: IncomingChannelRequest,
  ctx: SessionContext,
  state: SessionState,
): Promise<Decision> {
  const d = decodeSessionRequest(r.type, r.data); // throws on malformed data: refused
  const as = <N extends string>(_name: N) => d as Extract<DecodedRequest, { name: N }>;
  switch (r.type) {
    case "env": {
      const { variable: name, value } = as("env");
      const refused = state.env.offer(name, value);
      return { ok: refused === undefined, reason: refused, name };
    }
    case "pty-req": {
      const refused = ptyRefusal(ctx.options, ctx.context.restrictions, state.started);
      if (refused === undefined) state.pty = as("pty-req").pty;
      return { ok: refused === undefined, reason: refused };
    }
    case "window-change": {
      const { cols, rows, widthPx, heightPx } = as("window-change");
      state.windowChange.next({ cols, rows, widthPx, heightPx });
      return { ok: true };
    }
    case "signal":
      state.signals.next(as("signal").signal);
      return { ok: true };
    case "exec":
      return startSession(ctx, state, { request: "exec", requested: as("exec").command });
    case "shell":
      return startSession(ctx, state, { request: "shell" });
    case "subsystem":
      return startSession(ctx, state, {
        request: "subsystem",
        requested: as("subsystem").subsystem,
      });
  }
  const context = {
    ...ctx.context,
    channel: state.channel,
    setEnv: (name: string, value: string) => void (state.added[name] = value),
  };
  const request = { type: r.type, data: r.data, wantReply: r.wantReply };
  try {
    const v = await ask(ctx.handlers.sessionRequests.get(r.type), request, context);
    if (v === undefined) return { ok: false, reason: "no handler" };
    return v.accepted ? { ok: true, after: v.after } : { ok: false, reason: v.description };
  } catch (error) {
    return { ok: false, reason: "the handler failed", error };
  }
}

/** exec, shell or subsystem (RFC 4254 §6.5): runs the registered handler or behaviour. */
function startSession(
  ctx: SessionContext,
  state: SessionState,
  asked: { request: "exec" | "shell" | "subsystem"; requested?: string },
): Decision {
  if (state.started) return { ok: false, reason: "the session has started" };
  const { restrictions } = ctx.context;
  const start = sessionStart(ctx.options, restrictions, asked);
  const handler = ctx.handlers.starter(start.kind, start.command);
  const name = start.kind === "subsystem" ? start.command : undefined;
  if (!handler) return { ok: false, reason: `no ${start.kind} handler`, name };
  state.started = true;
  const channelId = state.channel.localId;
  ctx.emit({ type: "session", channelId, ...start, pty: state.pty !== undefined });
  return {
    ok: true,
    reported: true,
    after: () => {
      if (typeof handler === "object") return runBehaviourSubsystem(handler, ctx, state, name!);
      const s = serverSession(state.channel, {
        username: ctx.context.username,
        start,
        env: sessionEnvironment(ctx.options, restrictions, {
          client: state.env.vars,
          added: state.added,
          start,
        }),
        pty: state.pty,
        windowChange$: state.windowChange.asObservable(),
        signal$: state.signals.asObservable(),
      });
      ctx.sessions.next(s);
      runHandler(handler, s);
    },
  };
}

/** A channel behaviour owns the channel from here: its data, requests and close. */
function runBehaviourSubsystem(
  registered: ChannelBehaviourSpec,
  ctx: SessionContext,
  state: SessionState,
  name: string,
): void {
  const channelId = state.channel.localId;
  registered.run(state.channel).subscribe((lifecycle) => {
    const life = { channelId, name, lifecycle };
    if (lifecycle.phase === "ended") ctx.live.delete(channelId);
    else ctx.live.set(channelId, life);
    ctx.lives.next(life);
  });
}

/** Runs a session handler; a failing handler ends its session only. */
function runHandler(handler: SessionHandler, s: ServerSession): void {
  Promise.resolve().then(() => handler(s)).catch(async (e) => {
    const w = s.stderr.getWriter();
    await w.write(te.encode(`rxssh: ${e instanceof Error ? e.message : String(e)}\n`))
      .catch(() => {});
    w.releaseLock();
    await s.exit(255);
  });
}

/**
 * A listening server.
 *
 * @example
 * ```ts
 * import type { SshServer } from "./server.ts";
 * const stop = (s: SshServer) => s.close();
 * ```
 */
export interface SshServer {
  /** The port it listens on. */
  readonly port: number;
  /**
   * With `listen({ workers })`, in the primary: the worker processes' ids
   * (the connections are theirs; this server's observables emit nothing).
   */
  readonly workers?: readonly number[];
  /**
   * Every accepted connection, at once, before its first byte is read
   * (transport and events from the start; see {@link IncomingConnection}). Hot.
   */
  readonly accept$: Observable<IncomingConnection>;
  /** Authenticated connections (each follows its `accept$` emission). */
  readonly connection$: Observable<ServerConnection>;
  /**
   * The server-wide handlers (from `options`); add one at run time and every
   * connection, open or to come, consults it after its own.
   */
  readonly handlers: ServerHandlers;
  /**
   * Connections that failed before authentication completed (key exchange
   * or auth errors), and those dropped at accept, before any SSH byte, by
   * MaxStartups or PerSourceMaxStartups: a `StartupDroppedError` (its
   * `limit`, `startups`, addresses; `message` is sshd's log line). Dropped
   * connections never appear on `accept$`.
   */
  readonly rejected$: Observable<unknown>;
  /**
   * Transient accept failures (the process out of file descriptors, ...):
   * one `accept-failing` when a burst starts, one `accept-recovered` with
   * the count when accepting works again. The listener backs off and keeps
   * its port meanwhile. Completes when the listener ends.
   */
  readonly listenerWarning$: Observable<ListenerWarning>;
  /**
   * Stops accepting connections. Without `graceMs`, open connections
   * continue and the promise resolves at once. With `graceMs`, they may
   * finish within that many milliseconds; those still open then are
   * disconnected (BY_APPLICATION, with `message`, default "server shutting
   * down"), and the promise resolves once every connection has ended.
   *
   * @example
   * ```ts
   * import type { SshServer } from "./server.ts";
   * const drain = (s: SshServer) => s.close({ graceMs: 30_000, message: "maintenance" });
   * ```
   */
  close(options?: CloseOptions): Promise<void>;
}

/**
 * Options of {@link SshServer.close}.
 *
 * @example
 * ```ts
 * import type { CloseOptions } from "./server.ts";
 * const o: CloseOptions = { graceMs: 10_000 };
 * ```
 */
export interface CloseOptions {
  /** How long open connections may go on (ms) before they are disconnected. */
  graceMs?: number;
  /** The DISCONNECT description sent when the grace period is over. */
  message?: string;
}

/**
 * Stops `listener`, then (with `graceMs`) waits for `open` connections to
 * end, up to the grace period, and disconnects the rest (BY_APPLICATION).
 */
async function closeGracefully(
  listener: TcpListener,
  c: { open: ReadonlySet<Transport>; options: CloseOptions },
): Promise<void> {
  listener.close();
  const { graceMs, message = "server shutting down" } = c.options;
  if (graceMs === undefined) return;
  const allEnded = () => Promise.all([...c.open].map((t) => t.closed));
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = await Promise.race([
    allEnded().then(() => false),
    new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(true), graceMs)),
  ]);
  clearTimeout(timer);
  if (!late) return;
  await Promise.all(
    [...c.open].map((t) => t.disconnect(DisconnectReason.BY_APPLICATION, message).catch(() => {})),
  );
}

/**
 * Default cap on channels open at once across one server's connections
 * (`listen({ maxServerChannels })`; `rxssh serve` uses it too): room for
 * 1,000 connections at sshd's MaxSessions (10) each, and a bound well
 * below what 16 connections at `MAX_CHANNELS` could otherwise hold.
 *
 * @example
 * ```ts
 * import { MAX_SERVER_CHANNELS } from "./server.ts";
 * console.log(MAX_SERVER_CHANNELS); // 16384
 * ```
 */
export const MAX_SERVER_CHANNELS = 16384;

/**
 * Where and how {@link listen} listens (with the {@link ServerOptions}).
 *
 * @example
 * ```ts
 * import type { ListenOptions } from "./server.ts";
 * const everyCore: ListenOptions = { hostname: "0.0.0.0", port: 2222, workers: navigator.hardwareConcurrency };
 * ```
 */
export interface ListenOptions extends StartupLimits {
  /**
   * Channels open at once across all of this server's connections, all
   * types (default {@link MAX_SERVER_CHANNELS}); a client's open past it is
   * refused with RESOURCE_SHORTAGE. With `workers`, per worker.
   */
  maxServerChannels?: number;
  /** The address to bind (default "127.0.0.1"). */
  hostname?: string;
  /** The port (default 22; 0: the OS picks one). */
  port?: number;
  /** An already bound listener to serve instead (no workers then). */
  listener?: TcpListener;
  /** Binds with SO_REUSEPORT (see `ListenTcpOptions.reusePort`; Deno needs `--unstable-net`). */
  reusePort?: boolean;
  /**
   * Processes sharing the port (default 1: this one). Above 1, this
   * program is started again `workers` times with the same arguments
   * (Deno: `deno run -A --unstable-net` of the main module), each calling
   * `listen` in turn: there it serves on the shared port with this
   * process's host keys (sent over a pipe), and here `listen` returns a
   * server standing for them (`workers`: their pids; `close` stops them
   * all, gracefully with `graceMs`). Linux spreads the connections over
   * the workers. See `server_workers.ts`.
   */
  workers?: number;
}

/**
 * Listens on TCP and serves every connection with {@link serveConnection}.
 * `connection$` completes when the server is closed, and errors with a
 * `ListenerError` when the listener fails for good (a failure of `accept`
 * other than the transient ones reported on `listenerWarning$`): subscribe
 * with an error handler. `listener` serves an already bound listener
 * instead of binding `hostname`:`port` (its warnings go where its creator
 * sent them).
 *
 * Unauthenticated connections are limited as sshd limits them
 * (`maxStartups`, default 10:30:100, `perSourceMaxStartups`,
 * `perSourceNetBlockSize`; see `server_limits.ts`): one past the limit is
 * closed at accept with sshd's "Exceeded MaxStartups" line and no SSH
 * banner, and reported on `rejected$`. With `workers`, each worker counts
 * its own.
 *
 * @example
 * ```ts
 * import { listen } from "./server.ts";
 * import { generatePrivateKey } from "./keys/private_key.ts";
 * const server = await listen({
 *   hostname: "127.0.0.1",
 *   port: 0,
 *   hostKeys: [await generatePrivateKey("ssh-ed25519")],
 *   auth: { handlers: { password: (u, p) => u === "demo" && p === "demo" } },
 *   exec: async (s) => {
 *     const w = s.stdout.getWriter();
 *     await w.write(new TextEncoder().encode(`you ran: ${s.command}\n`));
 *     w.releaseLock();
 *     await s.exit(0);
 *   },
 * });
 * console.log(server.port);
 * server.close();
 * ```
 */
export async function listen(
  options: ServerOptions & ListenOptions,
): Promise<SshServer> {
  if (options.proxyProtocol) trustedProxies(options.proxyProtocol.trusted); // a TypeError now, not per connection
  const gate = new StartupGate(options); // a bad MaxStartups is a TypeError now too
  const sharedChannels = { max: options.maxServerChannels ?? MAX_SERVER_CHANNELS, open: 0 };
  // workers: the primary runs the workers; a worker binds the shared port (server_workers.ts).
  if (!options.listener) {
    const workers = await listenWorkers({ options, listen });
    if (workers) return workers;
  }
  const warnings = new Subject<ListenerWarning>();
  const listener: TcpListener = options.listener ?? await listenTcp({
    hostname: options.hostname ?? "127.0.0.1",
    port: options.port ?? 22,
    reusePort: options.reusePort,
    onWarning: (w) => warnings.next(w),
  });
  const connections = new Subject<ServerConnection>();
  const accepted = new Subject<IncomingConnection>();
  const rejected = new Subject<unknown>();
  const handlers = serverHandlers(options);
  const open = new Set<Transport>();
  (async () => {
    try {
      for await (const conn of listener) {
        let startup: StartupTicket;
        try {
          // sshd's accept loop: MaxStartups, then PerSourceMaxStartups (after a PROXY header, if any).
          startup = gate.admit(conn, { source: !options.proxyProtocol });
        } catch (e) {
          rejected.next(e);
          closeDropped(conn);
          continue;
        }
        const incoming = acceptConnection(conn, {
          ...options,
          serverHandlers: handlers,
          startup,
          sharedChannels,
        });
        open.add(incoming.transport);
        incoming.transport.closed.then(() => open.delete(incoming.transport));
        // Behind a PROXY header, the connection is announced once its client is known.
        if (incoming.proxied) incoming.proxied.then(() => accepted.next(incoming), () => {});
        else accepted.next(incoming);
        incoming.authenticated.then((c) => connections.next(c), (e) => {
          rejected.next(e);
          conn.close();
        });
      }
      connections.complete();
    } catch (e) {
      // The listener failed for good (not a transient accept failure): the application must know.
      connections.error(e);
    } finally {
      accepted.complete();
      rejected.complete();
      warnings.complete();
    }
  })();
  return {
    port: listener.port,
    accept$: accepted.asObservable(),
    connection$: connections.asObservable(),
    handlers,
    rejected$: rejected.asObservable(),
    listenerWarning$: warnings.asObservable(),
    close: (o = {}) => closeGracefully(listener, { open, options: o }),
  };
}

/**
 * A session handler that runs the client's command (or a login shell) as a
 * local process, with a pty when the client asked for one, forwarding
 * stdin, stdout, stderr, signals and the exit status. This is what
 * `rxssh serve` runs.
 *
 * @example
 * ```ts
 * import { listen, runLocalCommand } from "./server.ts";
 * import { generatePrivateKey } from "./keys/private_key.ts";
 * const server = await listen({
 *   port: 0,
 *   hostKeys: [await generatePrivateKey("ssh-ed25519")],
 *   auth: { handlers: { password: () => false } },
 *   exec: runLocalCommand,
 *   shell: runLocalCommand,
 * });
 * server.close();
 * ```
 */
export async function runLocalCommand(s: ServerSession): Promise<void> {
  const p = runCommand(s.command ?? "", {
    env: s.env,
    pty: s.pty ? { term: s.pty.term, cols: s.pty.cols, rows: s.pty.rows } : undefined,
  });
  const sub = s.signal$.subscribe((name) => p.kill(name));
  sub.add(s.windowChange$.subscribe((w) => p.resize(w.cols, w.rows)));
  s.stdin.pipeTo(p.stdin).catch(() => {});
  await Promise.all([
    p.stdout.pipeTo(s.stdout, { preventClose: true }).catch(() => {}),
    p.stderr.pipeTo(s.stderr, { preventClose: true }).catch(() => {}),
  ]);
  const result = await p.exit;
  sub.unsubscribe();
  await s.exit("code" in result ? result.code : { signal: result.signal });
}
