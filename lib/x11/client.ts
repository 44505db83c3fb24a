/**
 * X11 forwarding, client side (RFC 4254 §6.3), as OpenSSH's `ssh -X` does
 * it: the session asks for `x11-req` with a fake random cookie; each
 * `"x11"` channel the server opens is checked for that fake cookie in the
 * X11 connection setup, which is then replaced by the real one (from
 * `xauth list`) and sent on to the local X server. Channels are announced
 * on `x11$` (libssh2's X11 callback, as a subscription).
 *
 * @module
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import process from "node:process";
import { type Observable, Subject } from "rxjs";
import type { Channel } from "../connection/channel.ts";
import type { Connection } from "../connection/connection.ts";
import {
  acceptChannel,
  type ChannelOpenHandler,
  type ChannelOpenRequest,
  type ConnectionHandlers,
  refuse,
} from "../connection/handlers.ts";
import { spliceChannel } from "../connection/splice.ts";
import { connectTcp } from "../runtime/tcp.ts";
import type { TcpConnection, UnixConnection } from "../runtime/types.ts";
import { connectUnix } from "../runtime/unix.ts";
import { OpenFailure } from "../wire/connection_messages.ts";
import { SshError } from "../wire/errors.ts";
import { runXauth } from "./_xauth.ts";
import {
  encodeX11Setup,
  fromHex,
  parseDisplay,
  parseX11Setup,
  toHex,
  X11ChannelCodec,
  type X11Display,
  X11RequestCodec,
} from "./wire.ts";
import { constantTimeEqual } from "../crypto/constant_time.ts";

/**
 * Options of {@link enableX11Forwarding}.
 *
 * @example
 * ```ts
 * import type { X11ForwardingOptions } from "./client.ts";
 * const o: X11ForwardingOptions = { display: ":0", xauthority: "/home/me/.Xauthority" };
 * ```
 */
export interface X11ForwardingOptions {
  /** The local X display (default `process.env.DISPLAY`). */
  display?: string;
  /**
   * The authentication protocol (default: the one `xauth list` reports,
   * else "MIT-MAGIC-COOKIE-1"). When given, only an xauth entry of this
   * protocol is used.
   */
  authProtocol?: string;
  /** The real cookie (hex text or bytes); default: `xauth list <display>`. */
  cookie?: string | Uint8Array;
  /** The screen number sent in x11-req (default: the display's, e.g. 1 for ":0.1"). */
  screen?: number;
  /** Ask the server to forward only the first X11 connection. */
  singleConnection?: boolean;
  /** The xauth program (default "xauth"); false: never run it. */
  xauth?: string | false;
  /** The authority file xauth reads (default: xauth's own, `$XAUTHORITY` or `~/.Xauthority`). */
  xauthority?: string;
  /** Refuse the session when the server refuses x11-req (default false: ignored, as ssh warns and goes on). */
  required?: boolean;
  /**
   * Trusted forwarding (default true here, as `ssh -Y`; `connect()`'s
   * `forwardX11` defaults to false, as `ssh -X`). Untrusted (OpenSSH's
   * ForwardX11Trusted no): the real cookie is a new one that
   * `xauth generate <display> MIT-MAGIC-COOKIE-1 untrusted timeout <timeout+60>`
   * makes (the X server's SECURITY extension then limits what remote
   * clients may do), never the display's own; when that fails,
   * {@link X11CookieError} is thrown (ssh does not fall back to fake data).
   * Ignored when `cookie` is given.
   */
  trusted?: boolean;
  /**
   * Untrusted only: seconds after which new X11 channels are refused (ssh's
   * ForwardX11Timeout, default 1200; 0: never); the generated cookie expires
   * 60 seconds after that.
   */
  timeout?: number;
  /** Random bytes for the fake cookie (injectable for tests). */
  random?: (length: number) => Uint8Array;
}

/**
 * One forwarded X11 connection: the channel the server opened, where the
 * X client connected from on the server's side, and the local display it
 * was connected to.
 *
 * @example
 * ```ts
 * import type { X11Connection } from "./client.ts";
 * const line = (x: X11Connection) => `X11 from ${x.originatorAddress}:${x.originatorPort} -> ${x.display}`;
 * ```
 */
export interface X11Connection {
  /** The `"x11"` channel. */
  readonly channel: Channel;
  /** The X client's address on the server's side (RFC 4254 §6.3.2). */
  readonly originatorAddress: string;
  /** The X client's port on the server's side. */
  readonly originatorPort: number;
  /** The local display the channel is connected to. */
  readonly display: string;
  /** Resolves when the forwarded connection has ended (both directions done, both sides closed). */
  readonly done: Promise<void>;
}

/**
 * An `"x11"` channel that was closed without reaching the X server: a wrong
 * or missing fake cookie, a malformed setup, or an unreachable display.
 *
 * @example
 * ```ts
 * import type { X11Refusal } from "./client.ts";
 * const line = (r: X11Refusal) => `X11 connection from ${r.originatorAddress} rejected: ${r.reason}`;
 * ```
 */
export interface X11Refusal {
  /** The X client's address on the server's side. */
  readonly originatorAddress: string;
  /** The X client's port on the server's side. */
  readonly originatorPort: number;
  /** What was wrong. */
  readonly reason: string;
}

/**
 * X11 forwarding set up on a client: the request to put in
 * `SessionOptions.requests`, and the forwarded connections.
 *
 * @example
 * ```ts
 * import type { X11Forwarding } from "./client.ts";
 * const watch = (x: X11Forwarding) => x.x11$.subscribe((c) => console.log("X11 from", c.originatorAddress));
 * ```
 */
export interface X11Forwarding {
  /** The x11-req entry for `SessionOptions.requests` (carries the fake cookie). */
  readonly request: {
    readonly type: "x11-req";
    readonly data: Uint8Array;
    readonly required: boolean;
  };
  /** One emission per accepted X11 channel, once it is connected to the display (hot). */
  readonly x11$: Observable<X11Connection>;
  /** Channels closed because of a wrong cookie or an unreachable display (hot). */
  readonly refused$: Observable<X11Refusal>;
  /** The local display. */
  readonly display: string;
  /** The authentication protocol. */
  readonly authProtocol: string;
  /** The fake cookie the server sees (hex). */
  readonly fakeCookie: string;
  /**
   * Where the real cookie came from: the option, `xauth list` (trusted),
   * `xauth generate` (untrusted), or nowhere (trusted only: then the fake
   * one is sent on, as ssh does).
   */
  readonly cookieSource: "option" | "xauth" | "generated" | "none";
  /** False when the real cookie is an untrusted one from `xauth generate` (see {@link X11ForwardingOptions.trusted}). */
  readonly trusted: boolean;
  /** Stops accepting X11 channels for this forwarding; completes the observables. */
  close(): void;
}

/** The forwardings registered on one connection, and the one subscription that serves them. */
interface Registered {
  readonly proto: string;
  readonly fake: Uint8Array;
  readonly real: Uint8Array;
  readonly display: string;
  readonly target: X11Display;
  readonly x11: Subject<X11Connection>;
  readonly refused: Subject<X11Refusal>;
  /** Date.now() from which channels are refused (ForwardX11Timeout); undefined: never. */
  readonly refuseAt?: number;
}

/**
 * Untrusted X11 forwarding could not be set up: `xauth generate` (or
 * xauth itself) failed, so there is no cookie to give the X server, and,
 * as in ssh, no fake one is used instead.
 *
 * @example
 * ```ts
 * import { X11CookieError } from "./client.ts";
 * const e = new X11CookieError(":0", "xauth generate failed");
 * console.log(e.message); // untrusted X11 forwarding setup failed for display :0: xauth generate failed
 * ```
 */
export class X11CookieError extends SshError {
  /** Creates the error for `display`, saying why. */
  constructor(readonly display: string, reason: string) {
    super(`untrusted X11 forwarding setup failed for display ${display}: ${reason}`);
  }
}

/** Marks the x11 channel-open handlers of forwardings, so that one finds its siblings. */
const FORWARDING = Symbol("x11 forwarding");
type X11OpenHandler = ChannelOpenHandler<never> & { readonly [FORWARDING]?: Registered };

/** The largest setup request: 12 bytes and two padded strings of up to 65535 bytes. */
const MAX_SETUP = 12 + 2 * 65536;

/** Connects to the local X server, as ssh's x11_connect_display does. */
async function connectDisplay(target: X11Display): Promise<TcpConnection | UnixConnection> {
  if (target.path !== undefined) {
    try {
      return await connectUnix(target.path);
    } catch (e) {
      // Linux X servers listen on the abstract socket too.
      if (process.platform !== "linux") throw e;
      return await connectUnix(`\0${target.path}`).catch(() => {
        throw e;
      });
    }
  }
  return await connectTcp(target.host, target.port, { signal: AbortSignal.timeout(10_000) });
}

/** Reads the X11 setup request from the channel; the rest stays in the channel's stream. */
async function readSetup(channel: Channel): Promise<{ head: Uint8Array; rest: Uint8Array }> {
  const reader = channel.readable.getReader();
  let buf = new Uint8Array(0);
  try {
    for (;;) {
      const setup = parseX11Setup(buf);
      if (setup) return { head: buf.subarray(0, setup.length), rest: buf.subarray(setup.length) };
      if (buf.length > MAX_SETUP) throw new Error("X11 connection setup too long");
      const { value, done } = await reader.read();
      if (done) throw new Error("the X11 client closed before its connection setup");
      const next = new Uint8Array(buf.length + value.length);
      next.set(buf);
      next.set(value, buf.length);
      buf = next;
    }
  } finally {
    reader.releaseLock();
  }
}

async function serveX11Channel(
  channel: Channel,
  origin: { originatorAddress: string; originatorPort: number },
  candidates: Set<Registered>,
): Promise<void> {
  const refuse = (to: Iterable<Registered>, reason: string) => {
    for (const r of to) r.refused.next({ ...origin, reason });
    channel.close().catch(() => {});
  };
  let head: Uint8Array, rest: Uint8Array;
  try {
    ({ head, rest } = await readSetup(channel));
  } catch (e) {
    return refuse(candidates, e instanceof Error ? e.message : String(e));
  }
  const setup = parseX11Setup(head)!;
  const owner = [...candidates].find((r) =>
    r.proto === setup.authProtocol && constantTimeEqual(r.fake, setup.authData)
  );
  if (owner?.refuseAt !== undefined && Date.now() >= owner.refuseAt) {
    return refuse([owner], "Rejected X11 connection after ForwardX11Timeout expired");
  }
  if (!owner) {
    return refuse(
      candidates,
      [...candidates].some((r) => r.proto === setup.authProtocol)
        ? "X11 authentication data does not match the fake data"
        : `X11 connection uses a different authentication protocol (${
          JSON.stringify(setup.authProtocol)
        })`,
    );
  }
  let socket: TcpConnection | UnixConnection;
  try {
    socket = await connectDisplay(owner.target);
  } catch (e) {
    return refuse([owner], `cannot connect to display ${owner.display}: ${String(e)}`);
  }
  // Replace the fake cookie with the real one, as ssh's x11_open_helper does.
  const rewritten = encodeX11Setup({ ...setup, authData: owner.real });
  const first = new Uint8Array(rewritten.length + rest.length);
  first.set(rewritten);
  first.set(rest, rewritten.length);
  const done = spliceChannel(channel, socket, { first });
  owner.x11.next({ channel, ...origin, display: owner.display, done });
  await done;
}

/**
 * The channel-open handler of one forwarding. The first forwarding
 * registered on a client answers every "x11" open; which forwarding owns a
 * channel shows only in the X11 setup it carries (the fake cookie), so the
 * candidates are all forwardings registered on the client at that moment.
 */
function x11OpenHandler<C>(
  registered: Registered,
  handlers: ConnectionHandlers<C>,
): X11OpenHandler & ChannelOpenHandler<C> {
  const handler = (open: ChannelOpenRequest) => {
    let origin: { originatorAddress: string; originatorPort: number };
    try {
      origin = X11ChannelCodec.decode(open.data);
    } catch (e) {
      return refuse(`malformed x11 channel open: ${e}`, OpenFailure.CONNECT_FAILED);
    }
    const candidates = new Set<Registered>();
    for (const h of handlers.channelOpens.get("x11") as readonly unknown[] as X11OpenHandler[]) {
      if (h[FORWARDING]) candidates.add(h[FORWARDING]);
    }
    return acceptChannel((channel) => serveX11Channel(channel, origin, candidates));
  };
  return Object.assign(handler, { [FORWARDING]: registered });
}

/** The display name xauth is asked about: ssh asks for "unix:n" when DISPLAY is "localhost:n". */
function xauthName(display: string): string {
  return display.startsWith("localhost:") ? `unix:${display.slice(10)}` : display;
}

/** The first cookie `xauth list` gives for the display, as ssh's client_x11_get_proto reads it. */
function xauthCookie(
  program: string,
  file: string | undefined,
  display: string,
  proto: string | undefined,
): { proto: string; cookie: Uint8Array } | undefined {
  const out = runXauth(program, file, ["list", xauthName(display)]);
  return firstCookie(out, proto);
}

/**
 * A new untrusted cookie for the display, as ssh's client_x11_get_proto
 * makes one (ForwardX11Trusted no): `xauth -f <tmp>/xauthfile generate
 * <display> MIT-MAGIC-COOKIE-1 untrusted [timeout <t+60>]`, connecting to
 * the display with the authority of `XAUTHORITY` (`xauthority` when
 * given), then read back with `xauth -f <tmp>/xauthfile list`.
 */
function generateUntrusted(
  program: string,
  display: string,
  options: { xauthority?: string; timeout: number },
): { proto: string; cookie: Uint8Array } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ssh-"));
  const file = path.join(dir, "xauthfile");
  const name = xauthName(display);
  try {
    const env = options.xauthority ? { ...process.env, XAUTHORITY: options.xauthority } : undefined;
    const args = ["generate", name, "MIT-MAGIC-COOKIE-1", "untrusted"];
    // ssh's X11_TIMEOUT_SLACK: the cookie outlives the ForwardX11Timeout by a minute.
    if (options.timeout > 0) args.push("timeout", String(options.timeout + 60));
    if (runXauth(program, file, args, undefined, env) === undefined) {
      throw new X11CookieError(
        display,
        `${program} generate failed (xauth missing, display unreachable, or no SECURITY extension)`,
      );
    }
    const found = firstCookie(runXauth(program, file, ["list", name]), "MIT-MAGIC-COOKIE-1");
    if (!found) throw new X11CookieError(display, "xauth key data not generated");
    return found;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The first `display proto hexcookie` line of `xauth list` output (of `proto` when given). */
function firstCookie(
  out: string | undefined,
  proto: string | undefined,
): { proto: string; cookie: Uint8Array } | undefined {
  for (const line of (out ?? "").split("\n")) {
    const [, p, hex] = line.trim().split(/\s+/);
    if (!p || !hex || (proto !== undefined && p !== proto)) continue;
    try {
      return { proto: p, cookie: fromHex(hex) };
    } catch {
      continue;
    }
  }
  return undefined;
}

/**
 * Sets up X11 forwarding on a client (OpenSSH's `ssh -X`, trusted, as
 * `-Y`): finds the real cookie of the local display (`xauth list`, or
 * `options.cookie`), makes a fake random one of the same length, and
 * returns the `x11-req` to put in `SessionOptions.requests` (it carries
 * the fake cookie). From then on `"x11"` channels the server opens are
 * accepted; the first X11 packet on each must carry the fake cookie,
 * which is replaced by the real one before the bytes reach the X server
 * (`":n"` is the socket `/tmp/.X11-unix/X<n>`, `"host:n"` TCP port
 * 6000+n); others are closed and reported on `refused$`.
 *
 * With `trusted: false` (`ssh -X` where ForwardX11Trusted is no) the real
 * cookie is a new untrusted one from `xauth generate`, and channels opened
 * after `timeout` seconds are refused; a failure to generate it throws
 * {@link X11CookieError}. Without a display, a `TypeError` is thrown.
 *
 * xauth runs synchronously (a few milliseconds), as in ssh.
 *
 * @example
 * ```ts
 * import { connect } from "../client.ts";
 * import { enableX11Forwarding } from "./client.ts";
 * async function xclock() {
 *   const client = await connect({ host: "example.com", username: "me", password: "pw", hostKey: { fingerprint: "SHA256:..." } });
 *   const x11 = enableX11Forwarding(client, { display: ":0" });
 *   x11.x11$.subscribe((c) => console.log("X11 connection from", c.originatorAddress, c.originatorPort));
 *   const r = await client.exec("xdpyinfo | head -3", { requests: [x11.request] });
 *   console.log(new TextDecoder().decode(r.stdout));
 *   x11.close();
 *   await client.close();
 * }
 * ```
 */
export function enableX11Forwarding<C>(
  client: { readonly connection: Connection; readonly handlers: ConnectionHandlers<C> },
  options: X11ForwardingOptions = {},
): X11Forwarding {
  const display = options.display ?? process.env.DISPLAY;
  if (!display) {
    throw new TypeError("enableX11Forwarding: no display (options.display and $DISPLAY are unset)");
  }
  const target = parseDisplay(display);
  let proto = options.authProtocol;
  let real: Uint8Array | undefined;
  let cookieSource: X11Forwarding["cookieSource"] = "none";
  const trusted = options.trusted ?? true;
  const timeout = options.timeout ?? 1200;
  let refuseAt: number | undefined;
  if (options.cookie !== undefined) {
    real = typeof options.cookie === "string" ? fromHex(options.cookie) : options.cookie.slice();
    cookieSource = "option";
  } else if (!trusted) {
    if (options.xauth === false) throw new X11CookieError(display, "xauth is turned off");
    ({ proto, cookie: real } = generateUntrusted(options.xauth ?? "xauth", display, {
      xauthority: options.xauthority,
      timeout,
    }));
    cookieSource = "generated";
    if (timeout > 0) refuseAt = Date.now() + timeout * 1000;
  } else if (options.xauth !== false) {
    const found = xauthCookie(options.xauth ?? "xauth", options.xauthority, display, proto);
    if (found) {
      proto = found.proto;
      real = found.cookie;
      cookieSource = "xauth";
    }
  }
  proto ??= "MIT-MAGIC-COOKIE-1";
  const random = options.random ??
    ((n: number) => crypto.getRandomValues(new Uint8Array(n)));
  const fake = random(real?.length || 16).slice();
  // No real cookie: the fake one goes to the X server (ssh: "using fake authentication data").
  real ??= fake;
  const registered: Registered = {
    proto,
    fake,
    real,
    display,
    target,
    x11: new Subject(),
    refused: new Subject(),
    refuseAt,
  };
  const sub = client.handlers.channelOpen("x11", x11OpenHandler(registered, client.handlers));
  const close = () => {
    if (sub.closed) return;
    sub.unsubscribe();
    registered.x11.complete();
    registered.refused.complete();
  };
  client.connection.done.then(close, close);
  const fakeCookie = toHex(fake);
  return {
    request: {
      type: "x11-req",
      data: X11RequestCodec.encode({
        singleConnection: options.singleConnection ?? false,
        authProtocol: proto,
        authCookie: fakeCookie,
        screen: options.screen ?? target.screen,
      }),
      required: options.required ?? false,
    },
    x11$: registered.x11.asObservable(),
    refused$: registered.refused.asObservable(),
    display,
    authProtocol: proto,
    fakeCookie,
    cookieSource,
    trusted: cookieSource !== "generated",
    close,
  };
}
