/**
 * X11 forwarding, server side (RFC 4254 §6.3), as sshd does it with
 * `X11Forwarding yes` and `X11UseLocalhost yes`: an accepted `x11-req`
 * gets a display `localhost:<n>` (a listener on 127.0.0.1:6000+n, the
 * first free n from the display offset), `DISPLAY` for the session's
 * command, the client's (fake) cookie in the user's authority file through
 * `xauth add`, and for every X client that connects an `"x11"` channel to
 * the SSH client, spliced to the X client's socket.
 *
 * @module
 */
import { type Observable, Subject } from "rxjs";
import type { Channel } from "../connection/channel.ts";
import type { Connection } from "../connection/connection.ts";
import { accept, refuse, type SessionRequestHandler } from "../connection/handlers.ts";
import { spliceChannel } from "../connection/splice.ts";
import { plainAddress } from "../runtime/address.ts";
import { listenTcp, listenTcpSync } from "../runtime/tcp.ts";
import type { TcpListener } from "../runtime/types.ts";
import { runXauth } from "./_xauth.ts";
import { X11ChannelCodec, type X11Request, X11RequestCodec } from "./wire.ts";

/**
 * Options of {@link x11ForwardingHandler}.
 *
 * @example
 * ```ts
 * import type { X11ServerOptions } from "./server.ts";
 * const o: X11ServerOptions = { displayOffset: 10, xauthority: "/tmp/xauth-test" };
 * ```
 */
export interface X11ServerOptions {
  /** The first display number tried (sshd's X11DisplayOffset, default 10). */
  displayOffset?: number;
  /** How many display numbers are tried from the offset (sshd: 1000). */
  maxDisplays?: number;
  /** The xauth program (default "xauth"); false: never run it. */
  xauth?: string | false;
  /**
   * The authority file for `xauth -f` and `XAUTHORITY` of the session
   * (default: xauth's own choice, `$XAUTHORITY` or `~/.Xauthority` of this
   * process, as sshd runs xauth in the user's environment).
   */
  xauthority?: string;
  /** Decides per user (after key restrictions); default: everyone. */
  allow?: (username: string) => boolean;
}

/**
 * An accepted `x11-req`: the display that the session got.
 *
 * @example
 * ```ts
 * import type { X11ForwardedDisplay } from "./server.ts";
 * const line = (d: X11ForwardedDisplay) => `${d.username}: DISPLAY=${d.displayName}`;
 * ```
 */
export interface X11ForwardedDisplay {
  /** The authenticated user. */
  readonly username: string;
  /** The session channel that asked. */
  readonly session: Channel;
  /** The display number n (the listener is on 127.0.0.1:6000+n). */
  readonly display: number;
  /** `DISPLAY` of the session, `localhost:n.screen`. */
  readonly displayName: string;
  /** What the client asked for (its fake cookie included). */
  readonly request: X11Request;
}

/**
 * An `"x11"` channel opened to the client for an X client that connected
 * to a forwarded display.
 *
 * @example
 * ```ts
 * import type { X11ServerChannel } from "./server.ts";
 * const line = (c: X11ServerChannel) => `x11 channel ${c.channel.localId} for ${c.originatorAddress}:${c.originatorPort}`;
 * ```
 */
export interface X11ServerChannel {
  /** The display it came in on. */
  readonly display: X11ForwardedDisplay;
  /** The channel to the client. */
  readonly channel: Channel;
  /** The X client's address. */
  readonly originatorAddress: string;
  /** The X client's port. */
  readonly originatorPort: number;
  /** Resolves when the forwarded connection has ended. */
  readonly done: Promise<void>;
}

/**
 * What the x11-req handler needs of the session (a server's
 * session-request context has it all).
 *
 * @example
 * ```ts
 * import type { X11ForwardingContext } from "./server.ts";
 * const allowed = (s: X11ForwardingContext) => s.restrictions.x11Forwarding !== false;
 * ```
 */
export interface X11ForwardingContext {
  /** The authenticated user. */
  readonly username: string;
  /** The session channel the request came on. */
  readonly channel: Channel;
  /** The connection, to open `"x11"` channels on. */
  readonly connection: Connection;
  /** Restrictions from authentication; `x11Forwarding: false` refuses. */
  readonly restrictions: { readonly x11Forwarding?: boolean };
  /** Adds a variable to the session's environment (DISPLAY, XAUTHORITY). */
  setEnv(name: string, value: string): void;
}

/**
 * X11 forwarding for `ServerOptions.handlers`, with observables of what it did.
 *
 * @example
 * ```ts
 * import type { X11ForwardingHandler } from "./server.ts";
 * const watch = (h: X11ForwardingHandler) => h.x11$.subscribe((c) => console.log(c.originatorPort));
 * ```
 */
export interface X11ForwardingHandler {
  /** The x11-req handler. */
  readonly sessionRequest: Readonly<Record<string, SessionRequestHandler<X11ForwardingContext>>>;
  /** Each accepted x11-req, with its display (hot). */
  readonly display$: Observable<X11ForwardedDisplay>;
  /** Each `"x11"` channel opened to a client (hot). */
  readonly x11$: Observable<X11ServerChannel>;
  /** Each refused x11-req with the reason (hot). */
  readonly refused$: Observable<{ readonly username: string; readonly reason: string }>;
}

/** Display numbers handed out by this process whose listeners are still open. */
const inUse = new Set<number>();

/**
 * Makes a handler set (for `ServerOptions.handlers`) that serves X11 forwarding as sshd does
 * (`X11Forwarding yes`, `X11UseLocalhost yes`). For an `x11-req` (unless
 * the key's restrictions say `no-X11-forwarding`, or `allow` refuses):
 *
 * - binds 127.0.0.1:6000+n for the first free n ≥ `displayOffset` (on Deno
 *   and Bun synchronously, so that `DISPLAY` is known before the command
 *   request that follows; on Node n is reserved first and bound after);
 * - sets `DISPLAY=localhost:n.screen` (and `XAUTHORITY` when
 *   `xauthority` is given) for the session's command;
 * - runs `xauth remove/add unix:n.screen <protocol> <cookie>` with the
 *   client's cookie, synchronously, before the command can start (skipped
 *   when xauth is missing, as sshd does without XAuthLocation);
 * - for each X client that connects, opens an `"x11"` channel to the SSH
 *   client with the X client's address and port, and splices them; with
 *   single-connection, stops listening after the first.
 *
 * The listener closes (and the xauth entry is removed) when the session
 * channel closes.
 *
 * @example
 * ```ts
 * import { listen, runLocalCommand } from "../server.ts";
 * import { generatePrivateKey } from "../keys/private_key.ts";
 * import { x11ForwardingHandler } from "./server.ts";
 * const x11 = x11ForwardingHandler({ displayOffset: 10 });
 * x11.x11$.subscribe((c) => console.log("X11 client", c.originatorAddress, c.originatorPort));
 * const server = await listen({
 *   port: 0,
 *   hostKeys: [await generatePrivateKey("ssh-ed25519")],
 *   auth: { handlers: { password: (u, p) => u === "demo" && p === "demo" } },
 *   exec: runLocalCommand,
 *   handlers: [x11],
 * });
 * server.close();
 * ```
 */
export function x11ForwardingHandler(options: X11ServerOptions = {}): X11ForwardingHandler {
  const svc: X11Service = {
    options,
    offset: options.displayOffset ?? 10,
    max: options.maxDisplays ?? 1000,
    xauth: options.xauth === false ? undefined : options.xauth ?? "xauth",
    displays: new Subject(),
    channels: new Subject(),
    refusals: new Subject(),
    active: new WeakSet(),
  };
  const answer: SessionRequestHandler<X11ForwardingContext> = async (r, s) => {
    const checked = checkX11Request(svc, r.data, s);
    const why = typeof checked === "string" ? checked : await openDisplay(svc, checked, s);
    if (why === undefined) return accept();
    svc.refusals.next({ username: s.username, reason: why });
    return refuse(why);
  };
  return {
    sessionRequest: { "x11-req": answer },
    display$: svc.displays.asObservable(),
    x11$: svc.channels.asObservable(),
    refused$: svc.refusals.asObservable(),
  };
}

/** What one {@link x11ForwardingHandler} shares between its sessions. */
interface X11Service {
  readonly options: X11ServerOptions;
  readonly offset: number;
  readonly max: number;
  readonly xauth?: string;
  readonly displays: Subject<X11ForwardedDisplay>;
  readonly channels: Subject<X11ServerChannel>;
  readonly refusals: Subject<{ username: string; reason: string }>;
  /** Session channels with a forwarded display. */
  readonly active: WeakSet<Channel>;
}

/** The decoded x11-req, or why it is refused (restrictions, policy, sshd's checks). */
function checkX11Request(
  svc: X11Service,
  data: Uint8Array,
  s: X11ForwardingContext,
): X11Request | string {
  if (s.restrictions.x11Forwarding === false) return "no-X11-forwarding";
  if (svc.options.allow && !svc.options.allow(s.username)) return "not allowed";
  if (svc.active.has(s.channel)) return "X11 forwarding already active on this session";
  let request: X11Request;
  try {
    request = X11RequestCodec.decode(data);
  } catch (e) {
    return `malformed x11-req: ${e instanceof Error ? e.message : e}`;
  }
  if (
    !/^[0-9a-fA-F]+$/.test(request.authCookie) || !/^[\x21-\x7e]+$/.test(request.authProtocol)
  ) {
    return "invalid x11-req authentication protocol or cookie"; // sshd's session_x11_req check
  }
  return request;
}

/** Binds the first free display synchronously, or reserves one (Node). */
function bindDisplay(
  svc: X11Service,
): { n: number; listener: TcpListener | Promise<TcpListener> } | undefined {
  for (let n = svc.offset; n < svc.offset + svc.max && 6000 + n <= 65535; n++) {
    if (inUse.has(n)) continue;
    let listener: TcpListener | undefined;
    try {
      listener = listenTcpSync({ hostname: "127.0.0.1", port: 6000 + n });
    } catch {
      continue; // taken
    }
    inUse.add(n);
    return { n, listener: listener ?? listenTcp({ hostname: "127.0.0.1", port: 6000 + n }) };
  }
  return undefined;
}

/**
 * Gives the session a display: binds it, writes the cookie with xauth, sets
 * DISPLAY (and XAUTHORITY), and serves X clients until the session closes.
 * Resolves undefined once the display listens, or with why it cannot.
 */
async function openDisplay(
  svc: X11Service,
  request: X11Request,
  s: X11ForwardingContext,
): Promise<string | undefined> {
  const { options, xauth } = svc;
  const bound = bindDisplay(svc);
  if (!bound) return `no free display in ${svc.offset}..${svc.offset + svc.max - 1}`;
  const { n } = bound;
  svc.active.add(s.channel);
  // sshd writes the cookie under the unix name: Xlib looks up local TCP displays as FamilyLocal.
  const authName = `unix:${n}.${request.screen}`;
  if (xauth) {
    runXauth(
      xauth,
      options.xauthority,
      ["-"],
      `remove ${authName}\nadd ${authName} ${request.authProtocol} ${request.authCookie}\n`,
    );
  }
  let listener: TcpListener | undefined;
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    listener?.close();
    inUse.delete(n);
    if (xauth) runXauth(xauth, options.xauthority, ["-"], `remove ${authName}\n`);
  };
  s.channel.closed.then(end);
  try {
    listener = await bound.listener;
  } catch (e) {
    end();
    return `cannot listen on display ${n}: ${e}`;
  }
  if (ended) {
    listener.close();
    return "the session closed";
  }
  const d: X11ForwardedDisplay = {
    username: s.username,
    session: s.channel,
    display: n,
    displayName: `localhost:${n}.${request.screen}`,
    request,
  };
  s.setEnv("DISPLAY", d.displayName);
  if (options.xauthority) s.setEnv("XAUTHORITY", options.xauthority);
  svc.displays.next(d);
  serveDisplay(svc, d, listener, s.connection).catch(() => {}).finally(() => {
    if (!d.request.singleConnection) end();
  });
  return undefined;
}

/** Opens an `"x11"` channel to the client for each X client of the display, and splices them. */
async function serveDisplay(
  svc: X11Service,
  d: X11ForwardedDisplay,
  listener: TcpListener,
  connection: Connection,
): Promise<void> {
  for await (const conn of listener) {
    if (d.request.singleConnection) listener.close();
    const origin = {
      originatorAddress: plainAddress(conn.remoteAddress),
      originatorPort: conn.remotePort,
    };
    connection.openChannel("x11", X11ChannelCodec.encode(origin)).then((channel) => {
      const done = spliceChannel(channel, conn);
      svc.channels.next({ display: d, channel, ...origin, done });
    }, () => conn.close());
  }
}
