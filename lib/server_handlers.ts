/**
 * The server's handler registry: what a server answers when a client asks
 * for a channel, a global request, a session request (x11-req,
 * auth-agent-req@openssh.com, ...) or starts a session (exec, shell, a
 * subsystem by name). One table per server (from its options, and added
 * at run time), under which each connection has its own; the first handler
 * to claim a request wins, and what none claims is refused at once.
 *
 * @module
 */
import type { Subscription } from "rxjs";
import type { AuthResult, SessionRestrictions } from "./auth/server.ts";
import type { Channel } from "./connection/channel.ts";
import type { Connection } from "./connection/connection.ts";
import {
  ConnectionHandlers,
  type ConnectionHandlerSet,
  HandlerTable,
  type SessionRequestHandler,
} from "./connection/handlers.ts";
import type { ChannelBehaviourSpec } from "./rx/channel_behaviour.ts";
import type { ServerSession } from "./server.ts";

/**
 * What every server-side handler gets: the connection and who is on it.
 *
 * @example
 * ```ts
 * import type { ServerContext } from "./server_handlers.ts";
 * const mayForward = (c: ServerContext) => c.restrictions.portForwarding !== false;
 * ```
 */
export interface ServerContext {
  /** The connection (to open channels back to the client). */
  readonly connection: Connection;
  /** The authenticated user. */
  readonly username: string;
  /** How the user authenticated. */
  readonly auth: AuthResult;
  /** The key's or certificate's restrictions (no-pty, no-agent-forwarding, permitopen=, ...). */
  readonly restrictions: SessionRestrictions;
  /** The client's address, IPv4-mapped IPv6 written as IPv4. */
  readonly remoteAddress?: string;
}

/**
 * What a session-request handler gets besides the request: the session
 * channel it came on, and a way to add variables to the environment of the
 * command the session will run (DISPLAY, SSH_AUTH_SOCK).
 *
 * @example
 * ```ts
 * import type { SessionRequestContext } from "./server_handlers.ts";
 * const display = (s: SessionRequestContext) => s.setEnv("DISPLAY", "localhost:10.0");
 * ```
 */
export interface SessionRequestContext extends ServerContext {
  /** The session channel. */
  readonly channel: Channel;
  /** Adds a variable to the session's environment (after the client's, before the key's). */
  setEnv(name: string, value: string): void;
}

/**
 * A session-request handler on the server.
 *
 * @example
 * ```ts
 * import { refuse } from "./connection/handlers.ts";
 * import type { ServerSessionRequestHandler } from "./server_handlers.ts";
 * const noAgent: ServerSessionRequestHandler = () => refuse("agent forwarding is disabled");
 * ```
 */
export type ServerSessionRequestHandler = SessionRequestHandler<SessionRequestContext>;

/**
 * Runs a started session (exec, shell or a subsystem): the simple path.
 *
 * @example
 * ```ts
 * import type { SessionHandler } from "./server_handlers.ts";
 * const bye: SessionHandler = (s) => s.exit(0);
 * ```
 */
export type SessionHandler = (session: ServerSession) => void | Promise<void>;

/**
 * A subsystem: a session handler, or a channel behaviour.
 *
 * @example
 * ```ts
 * import type { SubsystemHandler } from "./server_handlers.ts";
 * import { channelBehaviour } from "./rx/channel_behaviour.ts";
 * const h: SubsystemHandler = (s) => s.exit(0);
 * const echo: SubsystemHandler = channelBehaviour({ init: () => ({ state: 0 }) }, undefined);
 * ```
 */
export type SubsystemHandler = SessionHandler | ChannelBehaviourSpec;

/**
 * Handlers given at once (in `ServerOptions.handlers`, or by a feature such
 * as `agentForwardingHandler()`).
 *
 * @example
 * ```ts
 * import { refuse } from "./connection/handlers.ts";
 * import type { ServerHandlerSet } from "./server_handlers.ts";
 * const set: ServerHandlerSet = {
 *   channelOpen: { "direct-tcpip": () => refuse("no forwarding here") },
 *   sessionRequest: { "x11-req": () => refuse("no X11 here") },
 * };
 * ```
 */
export interface ServerHandlerSet extends ConnectionHandlerSet<ServerContext> {
  /** Session-request handlers by request type. */
  readonly sessionRequest?: Readonly<Record<string, ServerSessionRequestHandler>>;
  /** Runs exec requests. */
  readonly exec?: SessionHandler;
  /** Runs shell requests. */
  readonly shell?: SessionHandler;
  /** Subsystems by name. */
  readonly subsystem?: Readonly<Record<string, SubsystemHandler>>;
}

/**
 * A server's (or one server connection's) handlers. Each method registers
 * one handler and returns the subscription that removes it.
 *
 * @example
 * ```ts
 * import { ServerHandlers } from "./server_handlers.ts";
 * import { refuse } from "./connection/handlers.ts";
 * const handlers = new ServerHandlers();
 * const sub = handlers.sessionRequest("x11-req", () => refuse("no X11 here"));
 * handlers.exec((s) => s.exit(0));
 * sub.unsubscribe();
 * ```
 */
export class ServerHandlers extends ConnectionHandlers<ServerContext> {
  /** Session-request handlers by type. */
  readonly sessionRequests: HandlerTable<ServerSessionRequestHandler>;
  /** Session starts: "exec", "shell", and "subsystem " + name. */
  readonly starts: HandlerTable<SubsystemHandler>;

  /** Empty tables; a `parent`'s handlers are consulted after these. */
  constructor(parent?: ServerHandlers) {
    super(parent);
    this.sessionRequests = new HandlerTable(parent?.sessionRequests);
    this.starts = new HandlerTable(parent?.starts);
  }

  /** Registers a session-request handler for `type`. */
  sessionRequest(type: string, handler: ServerSessionRequestHandler): Subscription {
    return this.sessionRequests.add(type, handler);
  }

  /** Registers the handler of exec requests (the first registered runs). */
  exec(handler: SessionHandler): Subscription {
    return this.starts.add("exec", handler);
  }

  /** Registers the handler of shell requests (the first registered runs). */
  shell(handler: SessionHandler): Subscription {
    return this.starts.add("shell", handler);
  }

  /** Registers subsystem `name` (the first registered runs). */
  subsystem(name: string, handler: SubsystemHandler): Subscription {
    return this.starts.add(`subsystem ${name}`, handler);
  }

  /** The handler that runs a session of `kind` (subsystems by `name`), if any. */
  starter(
    kind: "exec" | "shell" | "subsystem",
    name?: string,
  ): SubsystemHandler | undefined {
    return this.starts.get(kind === "subsystem" ? `subsystem ${name}` : kind)[0];
  }

  /** Registers every handler of `set`; one subscription removes them all. */
  override add(set: ServerHandlerSet): Subscription {
    const sub = super.add(set);
    for (const [k, h] of Object.entries(set.sessionRequest ?? {})) {
      sub.add(this.sessionRequest(k, h));
    }
    if (set.exec) sub.add(this.exec(set.exec));
    if (set.shell) sub.add(this.shell(set.shell));
    for (const [k, h] of Object.entries(set.subsystem ?? {})) sub.add(this.subsystem(k, h));
    return sub;
  }
}
