/**
 * The SSH server: accept connections, run key exchange and user
 * authentication, and hand sessions to the application, either through a
 * simple handler ("run this function for exec") or reactively.
 *
 * @module
 */
import { type Observable, Subject } from "rxjs";
import {
  type AuthResult,
  serveAuthentication,
  type ServerAuthHandlers,
  type ServerAuthOptions,
  type SessionRestrictions,
} from "./auth/server.ts";
import type { Channel, IncomingChannelRequest } from "./connection/channel.ts";
import { Connection, type IncomingChannelOpen } from "./connection/connection.ts";
import { type PtyRequest, SessionRequest } from "./connection/session.ts";
import type { Behaviour, Lifecycle } from "./rx/behaviour.ts";
import { type ChannelContext, type ChannelEvent, serveChannel } from "./rx/channel_behaviour.ts";
import { matchPatternList } from "./keys/patterns.ts";
import type { PrivateKey, PublicKey } from "./keys/types.ts";
import { plainAddress } from "./runtime/address.ts";
import { runCommand } from "./runtime/process.ts";
import { listenTcp } from "./runtime/tcp.ts";
import type { ListenerWarning } from "./runtime/accept.ts";
import type { TcpListener } from "./runtime/types.ts";
import {
  type ByteStream,
  type KexEvent,
  Transport,
  type TransportOptions,
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
  /** Sends exit-status (or exit-signal), EOF and CLOSE. Pending output is flushed first. */
  exit(code: number | { signal: string; coreDumped?: boolean; message?: string }): Promise<void>;
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
  /** The channel multiplexer (all channel opens, global requests). */
  readonly connection: Connection;
  /** Sessions started with exec, shell or subsystem. */
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
export interface ServerOptions extends
  Partial<
    Pick<
      TransportOptions,
      | "kexAlgorithms"
      | "hostKeyAlgorithms"
      | "ciphers"
      | "macs"
      | "preBanner"
      | "handshakeTimeout"
      | "acceptMacError"
      | "rekeyBytes"
      | "rekeyInterval"
    >
  > {
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
   * session handler, or a channel behaviour with its init arguments (as
   * Erlang's daemon `subsystems` option registers them).
   */
  subsystems?: Readonly<
    Record<
      string,
      ((session: ServerSession) => void | Promise<void>) | {
        behaviour: Behaviour<unknown, unknown, ChannelEvent, never, ChannelContext>;
        args?: unknown;
      }
    >
  >;
  /** Sessions per connection (OpenSSH MaxSessions, default 10). */
  maxSessions?: number;
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
   * Called synchronously for every channel open other than "session" (e.g.
   * direct-tcpip), so that it can accept, reject or defer it without racing
   * the connection's first messages. Opens it leaves unanswered (and all of
   * them without this option) are refused with UNKNOWN_CHANNEL_TYPE.
   *
   * @example
   * ```ts
   * import type { ServerOptions } from "./server.ts";
   * const o: Pick<ServerOptions, "onChannelOpen"> = {
   *   onChannelOpen: (open) => open.reject(1, `${open.type} channels are not offered`),
   * };
   * ```
   */
  onChannelOpen?: (open: IncomingChannelOpen) => void;
  /**
   * Called synchronously for session requests the server does not handle
   * itself (x11-req, auth-agent-req@openssh.com, ...). Return true when you
   * answered (accept/reject/defer) the request; otherwise it is refused.
   * `connection` lets the handler open channels back to the client;
   * `setEnv` adds variables (DISPLAY, SSH_AUTH_SOCK) to the session's command.
   *
   * @example
   * ```ts
   * import type { ServerOptions } from "./server.ts";
   * const o: Pick<ServerOptions, "onSessionRequest"> = {
   *   onSessionRequest: (r) => r.type === "auth-agent-req@openssh.com" ? (r.reject(), true) : false,
   * };
   * ```
   */
  onSessionRequest?: (
    request: IncomingChannelRequest,
    session: {
      channel: Channel;
      username: string;
      connection: Connection;
      restrictions: SessionRestrictions;
      setEnv(name: string, value: string): void;
    },
  ) => boolean;
  /**
   * Observes the connection as it goes: the key exchange, every
   * authentication decision, each session start and each refused request
   * (see {@link ServerEvent}); enough to log sshd-style lines. Called
   * synchronously; an exception it throws is ignored.
   *
   * @example
   * ```ts
   * import type { ServerOptions } from "./server.ts";
   * const o: Pick<ServerOptions, "onEvent"> = {
   *   onEvent: (e) => {
   *     if (e.type === "userauth" && !e.accepted) console.error(`Failed ${e.method} for ${e.username}`);
   *   },
   * };
   * ```
   */
  onEvent?: (event: ServerEvent) => void;
}

/**
 * What {@link ServerOptions.onEvent} sees on one connection:
 *
 * - `kex`: the first key exchange finished (algorithms, the client's
 *   identification line).
 * - `userauth`: an authentication handler decided (for publickey, whether
 *   the key is acceptable, once for the query and once for the signed
 *   request; rxssh still checks the signature after an acceptance).
 * - `session`: a session channel started a command, shell or subsystem:
 *   what the client asked for and what runs (they differ under a forced
 *   command).
 * - `refused`: a session channel or one of its requests was refused, with
 *   the reason.
 *
 * The strings in events are raw and peer-controlled (user names, the
 * identification line, commands, subsystem and variable names): they may
 * hold newlines, control characters or hundreds of kilobytes. Quote them
 * before writing them to a log or a terminal (`rxssh serve` uses
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
 *     case "refused": return `${e.request} ${e.name ?? ""} refused (${e.reason})`;
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
  }
  | {
    readonly type: "refused";
    /** Our channel number (absent when the session channel itself was refused). */
    readonly channelId?: number;
    /** "session" (the channel open), "env", "pty-req", "exec", "shell" or "subsystem". */
    readonly request: string;
    /** The variable name (env) or subsystem name. */
    readonly name?: string;
    readonly reason: string;
  };

const te = new TextEncoder();

function serverSession(
  channel: Channel,
  username: string,
  start: { kind: "exec" | "shell" | "subsystem"; command?: string },
  env: Record<string, string>,
  pty: PtyRequest | undefined,
  windowChange$: Observable<{ cols: number; rows: number; widthPx: number; heightPx: number }>,
  signal$: Observable<string>,
): ServerSession {
  let exited = false;
  return {
    username,
    ...start,
    env,
    pty,
    stdin: channel.readable,
    stdout: channel.writable,
    stderr: channel.stderrWritable,
    windowChange$,
    signal$,
    channel,
    async exit(code) {
      if (exited) return;
      exited = true;
      const status = typeof code === "number"
        ? ["exit-status", SessionRequest.exitStatus.encode(code)] as const
        : [
          "exit-signal",
          SessionRequest.exitSignal.encode({
            signal: code.signal,
            coreDumped: code.coreDumped ?? false,
            message: code.message ?? "",
          }),
        ] as const;
      // RFC 4254 §6.10: output first, then exit-status, then EOF and CLOSE. The status goes
      // before EOF because some clients (ssh2) close the channel as soon as they see EOF.
      await channel.drained();
      await channel.request(status[0], status[1], { wantReply: false }).catch(() => {});
      await channel.writable.close().catch(() => {});
      await channel.close().catch(() => {});
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
      publicKey: async (u, key, algorithm, context) => {
        const decision = await publicKey(u, key, algorithm, context);
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
 * Runs one server connection over a byte stream: key exchange,
 * authentication, then sessions. Resolves with the connection once the
 * user is authenticated.
 *
 * The client's address for the publicKey handler (from=) is the stream's
 * `remoteAddress`, IPv4-mapped IPv6 addresses written as plain IPv4, unless
 * `auth.clientAddress` is given.
 *
 * @example
 * ```ts
 * import { serveConnection } from "./server.ts";
 * import type { ServerOptions } from "./server.ts";
 * import type { ByteStream } from "./transport/transport.ts";
 * async function one(stream: ByteStream, options: ServerOptions) {
 *   const c = await serveConnection(stream, options);
 *   console.log("logged in:", c.username);
 * }
 * ```
 */
export async function serveConnection(
  stream: ByteStream,
  options: ServerOptions,
): Promise<ServerConnection> {
  const emit = (e: ServerEvent) => {
    try {
      options.onEvent?.(e);
    } catch {
      // An observer never breaks the connection.
    }
  };
  const transport = new Transport(stream, {
    role: "server",
    hostKeys: options.hostKeys,
    kexAlgorithms: options.kexAlgorithms,
    hostKeyAlgorithms: options.hostKeyAlgorithms,
    ciphers: options.ciphers,
    macs: options.macs,
    preBanner: options.preBanner,
    handshakeTimeout: options.handshakeTimeout,
    acceptMacError: options.acceptMacError,
    rekeyBytes: options.rekeyBytes,
    rekeyInterval: options.rekeyInterval,
  });
  const auth = await authenticate(stream, transport, options, emit);
  const connection = new Connection(transport);
  const ctx: SessionContext = {
    options,
    auth,
    limits: auth.restrictions ?? {},
    forced: options.forceCommand ?? auth.restrictions?.command,
    acceptEnv: (options.acceptEnv ?? DEFAULT_ACCEPT_ENV).join(","),
    connection,
    emit,
    sessions: new Subject<ServerSession>(),
    lives: new Subject<ChannelLife>(),
    live: new Map<number, ChannelLife>(),
  };
  const maxSessions = options.maxSessions ?? 10;
  let sessionCount = 0;
  connection.channelOpen$.subscribe((open) => {
    if (open.type !== "session") return options.onChannelOpen?.(open);
    if (sessionCount >= maxSessions) {
      emit({ type: "refused", request: "session", reason: `MaxSessions ${maxSessions}` });
      return open.reject(4, `too many sessions (MaxSessions ${maxSessions})`);
    }
    sessionCount++;
    open.accept().then((channel) => {
      channel.closed.then(() => sessionCount--);
      serveSessionChannel(channel, ctx);
    }, () => sessionCount--);
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
    session$: ctx.sessions.asObservable(),
    channelLife$: ctx.lives.asObservable(),
    liveChannels: ctx.live,
  };
}

/**
 * Key exchange, then user authentication, under one LoginGraceTime deadline
 * counted from the accepted connection (sshd arms its grace alarm before the
 * version exchange and disarms it after authentication, sshd.c main).
 */
async function authenticate(
  stream: ByteStream,
  transport: Transport,
  options: ServerOptions,
  emit: (e: ServerEvent) => void,
): Promise<AuthResult> {
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
    const clientAddress = plainAddress((stream as { remoteAddress?: string }).remoteAddress);
    return await serveAuthentication(transport, {
      clientAddress,
      ...options.auth,
      loginGraceTime: 0, // the deadline above covers authentication
      handlers: options.onEvent
        ? reportedHandlers(options.auth.handlers, emit)
        : options.auth.handlers,
    });
  } finally {
    clearTimeout(timer);
  }
}

/** What the session channels of one connection share. */
interface SessionContext {
  options: ServerOptions;
  auth: AuthResult;
  limits: SessionRestrictions;
  /** The forced command (ForceCommand, else the key's command=). */
  forced?: string;
  /** acceptEnv as one pattern list. */
  acceptEnv?: string;
  connection: Connection;
  emit: (e: ServerEvent) => void;
  sessions: Subject<ServerSession>;
  lives: Subject<ChannelLife>;
  live: Map<number, ChannelLife>;
}

/** What one session channel has been asked for before it starts. */
interface SessionState {
  channel: Channel;
  env: ClientEnvironment;
  hookEnv: Record<string, string>; // set by onSessionRequest handlers
  pty?: PtyRequest;
  started: boolean;
  windowChange: Subject<{ cols: number; rows: number; widthPx: number; heightPx: number }>;
  signals: Subject<string>;
  refuse: (r: IncomingChannelRequest, reason: string, name?: string) => void;
}

/**
 * sshd's cap on a session's client variables: session.c session_env_req
 * refuses once `num_env > 128`, so 129 are kept.
 */
const DEFAULT_MAX_ENV = 129;
/** Our cap on the bytes (names and values, UTF-8) of a session's client variables. */
const DEFAULT_MAX_ENV_BYTES = 64 * 1024;
/** sshd's AcceptEnv as Debian ships it. */
const DEFAULT_ACCEPT_ENV = ["LANG", "LC_*"];

/** The variables a client set with env requests (RFC 4254 §6.4), within the caps. */
interface ClientEnvironment {
  readonly vars: Record<string, string>;
  /** Stores the variable, or returns why it is refused. */
  offer(name: string, value: string): string | undefined;
}

function clientEnvironment(ctx: SessionContext): ClientEnvironment {
  const maxEnv = ctx.options.maxEnv ?? DEFAULT_MAX_ENV;
  const maxBytes = ctx.options.maxEnvBytes ?? DEFAULT_MAX_ENV_BYTES;
  const vars: Record<string, string> = Object.create(null);
  const size = (name: string, value: string) => te.encode(name).length + te.encode(value).length;
  let count = 0;
  let bytes = 0;
  return {
    vars,
    offer(name, value) {
      // A name with "=" would set another variable in the child's environment (sshd's
      // child_set_env refuses it too); NUL cannot reach a process at all.
      if (name === "" || /[=\0]/.test(name) || value.includes("\0")) return "invalid variable";
      const known = Object.hasOwn(vars, name);
      // sshd's order: the count first, then AcceptEnv.
      if (!known && count >= maxEnv) return `too many variables (maxEnv ${maxEnv})`;
      if (ctx.acceptEnv !== undefined && matchPatternList(name, ctx.acceptEnv) !== 1) {
        return "not in acceptEnv";
      }
      const after = bytes - (known ? size(name, vars[name]) : 0) + size(name, value);
      if (after > maxBytes) return `over maxEnvBytes ${maxBytes}`;
      if (!known) count++;
      bytes = after;
      vars[name] = value;
      return undefined;
    },
  };
}

/** Answers the requests of one accepted session channel (RFC 4254 §6). */
function serveSessionChannel(channel: Channel, ctx: SessionContext): void {
  const channelId = channel.localId;
  const { options, limits } = ctx;
  const state: SessionState = {
    channel,
    env: clientEnvironment(ctx),
    hookEnv: {},
    started: false,
    windowChange: new Subject(),
    signals: new Subject(),
    refuse: (r, reason, name) => {
      ctx.emit({ type: "refused", channelId, request: r.type, name, reason });
      r.reject();
    },
  };
  const { refuse } = state;
  channel.requests$.subscribe({
    next: (r: IncomingChannelRequest) => {
      try {
        switch (r.type) {
          case "env": {
            const { name, value } = SessionRequest.env.decode(r.data);
            const refused = state.env.offer(name, value);
            return refused === undefined ? r.accept() : refuse(r, refused, name);
          }
          case "pty-req":
            if (state.started) return refuse(r, "the session has started");
            if (options.permitTty === false) return refuse(r, "permitTty is false");
            if (limits.pty === false) return refuse(r, "no-pty");
            state.pty = SessionRequest.pty.decode(r.data);
            return r.accept();
          case "window-change":
            state.windowChange.next(SessionRequest.windowChange.decode(r.data));
            return r.accept();
          case "signal":
            state.signals.next(SessionRequest.signal.decode(r.data));
            return r.accept();
          case "exec":
          case "shell":
          case "subsystem":
            return startSession(r, ctx, state);
          default:
            if (
              options.onSessionRequest?.(r, {
                channel,
                username: ctx.auth.username,
                connection: ctx.connection,
                restrictions: limits,
                setEnv: (name, value) => void (state.hookEnv[name] = value),
              })
            ) {
              return;
            }
            return r.reject();
        }
      } catch {
        return r.reject(); // malformed request data
      }
    },
    complete: () => {
      state.windowChange.complete();
      state.signals.complete();
    },
  });
}

/** exec, shell or subsystem (RFC 4254 §6.5): runs the handler, a behaviour, or the reactive path. */
function startSession(r: IncomingChannelRequest, ctx: SessionContext, state: SessionState): void {
  const { options, forced } = ctx;
  const channelId = state.channel.localId;
  if (state.started) return state.refuse(r, "the session has started");
  const request = r.type as "exec" | "shell" | "subsystem";
  const requested = request === "exec"
    ? SessionRequest.exec.decode(r.data)
    : request === "subsystem"
    ? SessionRequest.subsystem.decode(r.data)
    : undefined;
  // A forced command (ForceCommand, authorized_keys command=) replaces whatever was asked.
  const kind = forced !== undefined ? "exec" : request;
  const command = forced ?? requested;
  const registered = kind === "subsystem" ? options.subsystems?.[command!] : undefined;
  const handler = kind === "exec" ? options.exec : kind === "shell" ? options.shell : registered;
  const reactive = ctx.sessions.observed;
  if (!handler && !reactive) {
    return state.refuse(r, `no ${kind} handler`, kind === "subsystem" ? command : undefined);
  }
  state.started = true;
  r.accept();
  ctx.emit({
    type: "session",
    channelId,
    request,
    requested,
    kind,
    command,
    forced: forced !== undefined,
    pty: state.pty !== undefined,
  });
  if (registered && typeof registered === "object") {
    // A channel behaviour owns the channel from here: its data, requests and close.
    const name = command!;
    serveChannel(state.channel, registered.behaviour, registered.args).subscribe((lifecycle) => {
      const life = { channelId, name, lifecycle };
      if (lifecycle.phase === "ended") ctx.live.delete(channelId);
      else ctx.live.set(channelId, life);
      ctx.lives.next(life);
    });
    return;
  }
  // sshd's order: the client's variables, then the key's environment=, then the original command.
  const env: Record<string, string> = {
    ...state.env.vars,
    ...state.hookEnv,
    ...(options.permitUserEnvironment ? ctx.limits.environment : {}),
    ...(forced !== undefined && requested !== undefined ? { SSH_ORIGINAL_COMMAND: requested } : {}),
  };
  const s = serverSession(
    state.channel,
    ctx.auth.username,
    { kind, command },
    env,
    state.pty,
    state.windowChange.asObservable(),
    state.signals.asObservable(),
  );
  if (reactive) ctx.sessions.next(s);
  if (handler && typeof handler === "function") runHandler(handler, s);
}

/** Runs a session handler; a failing handler ends its session only. */
function runHandler(handler: (s: ServerSession) => void | Promise<void>, s: ServerSession): void {
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
  /** Authenticated connections. */
  readonly connection$: Observable<ServerConnection>;
  /** Connections that failed before authentication completed (key exchange or auth errors). */
  readonly rejected$: Observable<unknown>;
  /**
   * Transient accept failures (the process out of file descriptors, ...):
   * one `accept-failing` when a burst starts, one `accept-recovered` with
   * the count when accepting works again. The listener backs off and keeps
   * its port meanwhile. Completes when the listener ends.
   */
  readonly listenerWarning$: Observable<ListenerWarning>;
  /** Stops accepting connections (open ones continue). */
  close(): void;
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
  options: ServerOptions & { hostname?: string; port?: number; listener?: TcpListener },
): Promise<SshServer> {
  const warnings = new Subject<ListenerWarning>();
  const listener: TcpListener = options.listener ?? await listenTcp({
    hostname: options.hostname ?? "127.0.0.1",
    port: options.port ?? 22,
    onWarning: (w) => warnings.next(w),
  });
  const connections = new Subject<ServerConnection>();
  const rejected = new Subject<unknown>();
  (async () => {
    try {
      for await (const conn of listener) {
        serveConnection(conn, options).then((c) => connections.next(c), (e) => {
          rejected.next(e);
          conn.close();
        });
      }
      connections.complete();
    } catch (e) {
      // The listener failed for good (not a transient accept failure): the application must know.
      connections.error(e);
    } finally {
      rejected.complete();
      warnings.complete();
    }
  })();
  return {
    port: listener.port,
    connection$: connections.asObservable(),
    rejected$: rejected.asObservable(),
    listenerWarning$: warnings.asObservable(),
    close: () => listener.close(),
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
