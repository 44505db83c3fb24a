/**
 * Handler registries: one shape for everything a peer asks (RFC 4254 §4
 * global requests, §5.1 channel opens, §5.4 and §6 channel requests).
 *
 * A handler looks at one request and returns a verdict: {@link accept} (with
 * reply data), {@link acceptChannel} (with what to do with the channel),
 * {@link refuse} (with the text and, for channel opens, the RFC 4254 §5.1
 * reason code), or `undefined` to leave it to the next handler. Handlers may
 * be async. They are registered by key (the channel type, the global-request
 * name, the session-request type) and consulted in registration order; the
 * first verdict wins; what no handler claims is refused at once with the
 * RFC's reason. Registering returns a `Subscription`: unsubscribing removes
 * the handler, and later requests no longer reach it.
 *
 * This replaces hot subjects that had to be answered in the same tick, and
 * per-feature registries: features (agent and X11 forwarding, subsystems,
 * port forwarding) install themselves here. Watching stays observable: every
 * decision is an event on the connection's `event$`.
 *
 * @module
 */
import { Subscription } from "rxjs";
import type { Channel, ChannelOptions } from "./channel.ts";

/**
 * A refusal, with the text for events and (for a channel open) the text and
 * reason code the peer gets.
 *
 * @example
 * ```ts
 * import { refuse } from "./handlers.ts";
 * import { OpenFailure } from "../wire/connection_messages.ts";
 * const r = refuse("port forwarding is disabled", OpenFailure.ADMINISTRATIVELY_PROHIBITED);
 * console.log(r.accepted, r.reason); // false 1
 * ```
 */
export interface Refusal {
  /** Always false. */
  readonly accepted: false;
  /** Why; sent to the peer with a channel-open failure, reported in events. */
  readonly description: string;
  /** RFC 4254 §5.1 reason code (channel opens; default ADMINISTRATIVELY_PROHIBITED). */
  readonly reason?: number;
}

/**
 * An acceptance of a global or session request, with optional reply data
 * (a global request's REQUEST_SUCCESS data, e.g. the port bound for
 * `tcpip-forward` with port 0, RFC 4254 §7.1).
 *
 * @example
 * ```ts
 * import { accept } from "./handlers.ts";
 * const a = accept(new Uint8Array([0, 0, 0x1f, 0x90]));
 * console.log(a.accepted); // true
 * ```
 */
export interface Acceptance {
  /** Always true. */
  readonly accepted: true;
  /** Reply data (global requests only). */
  readonly data?: Uint8Array;
  /** Runs after the reply was queued for sending (e.g. start listening only then). */
  readonly after?: () => void;
}

/**
 * An acceptance of a channel open: the channel is confirmed with these
 * window and packet sizes, then handed to `use`.
 *
 * @example
 * ```ts
 * import { acceptChannel } from "./handlers.ts";
 * const a = acceptChannel((ch) => ch.readable.pipeTo(ch.writable), { window: 1 << 20 });
 * console.log(a.window); // 1048576
 * ```
 */
export interface ChannelAcceptance extends ChannelOptions {
  /** Always true. */
  readonly accepted: true;
  /** Receives the confirmed channel; a throw or rejection closes it. */
  readonly use: (channel: Channel) => void | Promise<void>;
}

/**
 * What a handler returns: its verdict, or `undefined` to pass.
 *
 * @example
 * ```ts
 * import { refuse, type Verdict, type Acceptance } from "./handlers.ts";
 * const v: Verdict<Acceptance> = refuse("no");
 * ```
 */
export type Verdict<A> = A | Refusal | undefined;

/**
 * A handler: a request and its context in, a verdict (or a promise of one) out.
 *
 * @example
 * ```ts
 * import { accept, type Handler, type Acceptance } from "./handlers.ts";
 * const h: Handler<{ name: string }, unknown, Acceptance> = (r) => r.name === "ping" ? accept() : undefined;
 * ```
 */
export type Handler<R, C, A> = (request: R, context: C) => Verdict<A> | Promise<Verdict<A>>;

/**
 * Accepts a global or session request.
 *
 * @example
 * ```ts
 * import { accept } from "./handlers.ts";
 * const handler = () => accept();
 * ```
 */
export function accept(data?: Uint8Array, options: { after?: () => void } = {}): Acceptance {
  return { accepted: true, data, after: options.after };
}

/**
 * Accepts a channel open; `use` gets the channel once it is confirmed.
 *
 * @example
 * ```ts
 * import { acceptChannel } from "./handlers.ts";
 * const echo = () => acceptChannel(async (ch) => { await ch.readable.pipeTo(ch.writable); await ch.close(); });
 * ```
 */
export function acceptChannel(
  use: (channel: Channel) => void | Promise<void>,
  options: ChannelOptions = {},
): ChannelAcceptance {
  return { accepted: true, use, ...options };
}

/**
 * Refuses a request. `reason` is the RFC 4254 §5.1 code sent with a
 * channel-open failure (global and channel requests carry no reason on the
 * wire; the text still reaches the connection's events).
 *
 * @example
 * ```ts
 * import { refuse } from "./handlers.ts";
 * import { OpenFailure } from "../wire/connection_messages.ts";
 * const r = refuse("no such host", OpenFailure.CONNECT_FAILED);
 * ```
 */
export function refuse(description: string, reason?: number): Refusal {
  return { accepted: false, description, reason };
}

/**
 * Handlers by key, consulted in registration order, then the parent
 * table's (a server-wide table under each connection's own).
 *
 * @example
 * ```ts
 * import { HandlerTable } from "./handlers.ts";
 * const t = new HandlerTable<() => void>();
 * const sub = t.add("x11", () => {});
 * console.log(t.get("x11").length); // 1
 * sub.unsubscribe();
 * console.log(t.get("x11").length); // 0
 * ```
 */
export class HandlerTable<H> {
  /** Made by the first add (most per-connection tables stay empty). */
  #byKey?: Map<string, H[]>;
  #parent?: HandlerTable<H>;

  /** A table; `parent`'s handlers are consulted after this one's. */
  constructor(parent?: HandlerTable<H>) {
    this.#parent = parent;
  }

  /** Registers `handler` for `key` until the subscription is unsubscribed. */
  add(key: string, handler: H): Subscription {
    const byKey = this.#byKey ??= new Map();
    const list = byKey.get(key) ?? [];
    // A fresh array on every change: a lookup in progress keeps the list it started with.
    byKey.set(key, [...list, handler]);
    return new Subscription(() => {
      const now = byKey.get(key);
      if (!now) return;
      const i = now.indexOf(handler);
      if (i < 0) return;
      const next = [...now.slice(0, i), ...now.slice(i + 1)];
      if (next.length) byKey.set(key, next);
      else byKey.delete(key);
    });
  }

  /** The handlers for `key`: this table's, then the parent's. */
  get(key: string): readonly H[] {
    const own = this.#byKey?.get(key) ?? [];
    const inherited = this.#parent?.get(key) ?? [];
    return inherited.length ? [...own, ...inherited] : own;
  }
}

/**
 * Asks `handlers` in order; resolves with the first verdict, or `undefined`
 * when none claims the request. A handler that throws or rejects fails the
 * whole question (the caller refuses and reports it).
 *
 * @example
 * ```ts
 * import { accept, ask } from "./handlers.ts";
 * const v = await ask([() => undefined, () => accept()], {}, {});
 * console.log(v?.accepted); // true
 * ```
 */
export async function ask<R, C, A>(
  handlers: readonly Handler<R, C, A>[],
  request: R,
  context: C,
): Promise<Verdict<A>> {
  for (const handler of handlers) {
    const v = await handler(request, context);
    if (v !== undefined) return v;
  }
  return undefined;
}

/**
 * A channel the peer asks to open (RFC 4254 §5.1): its type, its
 * type-specific data (raw; e.g. direct-tcpip's host and port) and the
 * peer's window and packet size.
 *
 * @example
 * ```ts
 * import type { ChannelOpenRequest } from "./handlers.ts";
 * const isSession = (r: ChannelOpenRequest) => r.type === "session";
 * ```
 */
export interface ChannelOpenRequest {
  /** The channel type. */
  readonly type: string;
  /** Type-specific data, raw. */
  readonly data: Uint8Array;
  /** The peer's initial window. */
  readonly window: number;
  /** The peer's largest data packet. */
  readonly maxPacket: number;
}

/**
 * A global request from the peer (RFC 4254 §4).
 *
 * @example
 * ```ts
 * import type { GlobalRequest } from "./handlers.ts";
 * const isForward = (r: GlobalRequest) => r.name === "tcpip-forward";
 * ```
 */
export interface GlobalRequest {
  /** The request name. */
  readonly name: string;
  /** Request-specific data, raw. */
  readonly data: Uint8Array;
  /** Whether the peer waits for the reply. */
  readonly wantReply: boolean;
}

/**
 * A channel request on a session channel (RFC 4254 §5.4, §6).
 *
 * @example
 * ```ts
 * import type { ChannelRequest } from "./handlers.ts";
 * const isX11 = (r: ChannelRequest) => r.type === "x11-req";
 * ```
 */
export interface ChannelRequest {
  /** The request type. */
  readonly type: string;
  /** Type-specific data, raw. */
  readonly data: Uint8Array;
  /** Whether the peer waits for the reply. */
  readonly wantReply: boolean;
}

/**
 * A session-request handler (x11-req, auth-agent-req@openssh.com, ...);
 * `C` is what it needs of the session (the server gives a
 * `SessionRequestContext`).
 *
 * @example
 * ```ts
 * import { refuse, type SessionRequestHandler } from "./handlers.ts";
 * const noAgent: SessionRequestHandler<unknown> = () => refuse("agent forwarding is disabled");
 * ```
 */
export type SessionRequestHandler<C> = Handler<ChannelRequest, C, Acceptance>;

/**
 * A channel-open handler.
 *
 * @example
 * ```ts
 * import { refuse, type ChannelOpenHandler } from "./handlers.ts";
 * const h: ChannelOpenHandler<unknown> = (open) => refuse(`${open.type} is not offered`);
 * ```
 */
export type ChannelOpenHandler<C> = Handler<ChannelOpenRequest, C, ChannelAcceptance>;

/**
 * A global-request handler.
 *
 * @example
 * ```ts
 * import { accept, type GlobalRequestHandler } from "./handlers.ts";
 * const keepalive: GlobalRequestHandler<unknown> = () => accept();
 * ```
 */
export type GlobalRequestHandler<C> = Handler<GlobalRequest, C, Acceptance>;

/**
 * Handlers given at once, e.g. in options or by a feature such as agent
 * forwarding: channel-open handlers by channel type, global-request
 * handlers by name.
 *
 * @example
 * ```ts
 * import { acceptChannel, type ConnectionHandlerSet } from "./handlers.ts";
 * const echo: ConnectionHandlerSet<unknown> = {
 *   channelOpen: { "echo@example.com": () => acceptChannel((ch) => ch.readable.pipeTo(ch.writable)) },
 * };
 * ```
 */
export interface ConnectionHandlerSet<C> {
  /** Channel-open handlers by channel type. */
  readonly channelOpen?: Readonly<Record<string, ChannelOpenHandler<C>>>;
  /** Global-request handlers by request name. */
  readonly globalRequest?: Readonly<Record<string, GlobalRequestHandler<C>>>;
}

/**
 * How a {@link Connection} answers what the peer asks (a bound
 * {@link ConnectionHandlers} is one).
 *
 * @example
 * ```ts
 * import type { PeerRequestRouter } from "./handlers.ts";
 * const refuseAll: PeerRequestRouter<unknown> = { channelOpen: () => undefined, globalRequest: () => undefined };
 * ```
 */
export interface PeerRequestRouter<T> {
  /** The verdict on a channel open (`undefined`: unclaimed). */
  channelOpen(
    request: ChannelOpenRequest,
    connection: T,
  ): Verdict<ChannelAcceptance> | Promise<Verdict<ChannelAcceptance>>;
  /** The verdict on a global request (`undefined`: unclaimed). */
  globalRequest(
    request: GlobalRequest,
    connection: T,
  ): Verdict<Acceptance> | Promise<Verdict<Acceptance>>;
}

/**
 * The channel-open and global-request handlers of a connection (or of a
 * server, as the parent of each connection's). `C` is the context every
 * handler gets (the client's: `{ connection }`; the server's adds the user
 * and the key's restrictions).
 *
 * @example
 * ```ts
 * import { ConnectionHandlers, refuse } from "./handlers.ts";
 * const handlers = new ConnectionHandlers<unknown>();
 * const sub = handlers.channelOpen("direct-tcpip", () => refuse("not here"));
 * sub.unsubscribe(); // direct-tcpip opens are refused as unknown again
 * ```
 */
export class ConnectionHandlers<C> {
  /** Channel-open handlers by channel type. */
  readonly channelOpens: HandlerTable<ChannelOpenHandler<C>>;
  /** Global-request handlers by name. */
  readonly globalRequests: HandlerTable<GlobalRequestHandler<C>>;

  /** Empty tables; a `parent`'s handlers are consulted after these. */
  constructor(parent?: ConnectionHandlers<C>) {
    this.channelOpens = new HandlerTable(parent?.channelOpens);
    this.globalRequests = new HandlerTable(parent?.globalRequests);
  }

  /** Registers a channel-open handler for `type`. */
  channelOpen(type: string, handler: ChannelOpenHandler<C>): Subscription {
    return this.channelOpens.add(type, handler);
  }

  /** Registers a global-request handler for `name`. */
  globalRequest(name: string, handler: GlobalRequestHandler<C>): Subscription {
    return this.globalRequests.add(name, handler);
  }

  /** Registers every handler of `set`; one subscription removes them all. */
  add(set: ConnectionHandlerSet<C>): Subscription {
    const sub = new Subscription();
    for (const [k, h] of Object.entries(set.channelOpen ?? {})) sub.add(this.channelOpen(k, h));
    for (const [k, h] of Object.entries(set.globalRequest ?? {})) {
      sub.add(this.globalRequest(k, h));
    }
    return sub;
  }

  /** A router for a connection, each handler given `context(connection)`. */
  router<T>(context: (connection: T) => C): PeerRequestRouter<T> {
    return {
      channelOpen: (r, conn) => ask(this.channelOpens.get(r.type), r, context(conn)),
      globalRequest: (r, conn) => ask(this.globalRequests.get(r.name), r, context(conn)),
    };
  }
}
