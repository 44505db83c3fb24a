/**
 * X11 forwarding for a whole connection (`connect({ forwardX11 })`,
 * OpenSSH's ForwardX11 with `ssh -X` / `-Y`): one fake cookie for the
 * connection, `x11-req` on every session, and what ssh says on the way
 * (a missing display, missing xauth data, a refused request) given to a
 * log callback instead of failing the connection.
 *
 * @module
 */
import process from "node:process";
import type { Channel } from "../connection/channel.ts";
import type { Connection } from "../connection/connection.ts";
import type { ConnectionHandlers } from "../connection/handlers.ts";
import {
  enableX11Forwarding,
  X11CookieError,
  type X11Forwarding,
  type X11ForwardingOptions,
} from "./client.ts";
import { parseDisplay } from "./wire.ts";

/**
 * How important a message of {@link ForwardX11Options.onLog} is, as ssh's
 * log levels: `error` and `info` are what ssh prints by default, `verbose`
 * with `-v`/LogLevel VERBOSE, `debug` with `-v`.
 *
 * @example
 * ```ts
 * import type { X11LogLevel } from "./connection.ts";
 * const shown = (l: X11LogLevel) => l === "error" || l === "info";
 * ```
 */
export type X11LogLevel = "error" | "info" | "verbose" | "debug";

/**
 * `connect()`'s `forwardX11` as an object: where the display is, and
 * whether it is trusted (OpenSSH's ForwardX11Trusted, default no: `ssh -X`;
 * `trusted: true` is `ssh -Y`).
 *
 * @example
 * ```ts
 * import type { ForwardX11Options } from "./connection.ts";
 * const o: ForwardX11Options = {
 *   display: ":0",
 *   trusted: false,
 *   timeout: 1200,
 *   onLog: (level, message) => level !== "debug" && console.error(message),
 * };
 * ```
 */
export interface ForwardX11Options extends Omit<X11ForwardingOptions, "required" | "trusted"> {
  /**
   * Trusted forwarding (`ssh -Y`, ForwardX11Trusted yes): the display's
   * own cookie from `xauth list`. Default false (`ssh -X`): an untrusted
   * cookie from `xauth generate ... untrusted timeout <timeout+60>`, and X11
   * channels refused after `timeout` seconds.
   */
  trusted?: boolean;
  /** Untrusted only: ForwardX11Timeout in seconds (default 1200; 0: none). */
  timeout?: number;
  /** Receives ssh's messages about the forwarding (see {@link X11LogLevel}); default: none. */
  onLog?: (level: X11LogLevel, message: string) => void;
  /** Receives the forwarding once it is set up (its `x11$`, `refused$`, fake cookie). */
  onForwarding?: (forwarding: X11Forwarding) => void;
}

/**
 * What {@link forwardX11ForConnection} needs of a client (an `SshClient`
 * has it all).
 *
 * @example
 * ```ts
 * import type { X11ConnectionClient } from "./connection.ts";
 * import type { ClientContext, SshClient } from "../client.ts";
 * const asClient = (c: SshClient): X11ConnectionClient<ClientContext> => c;
 * ```
 */
export interface X11ConnectionClient<C> {
  /** The connection the server opens "x11" channels on. */
  readonly connection: Connection;
  /** Where the "x11" channel-open handler goes. */
  readonly handlers: ConnectionHandlers<C>;
  /** Adds a request to every session from now on; returns how to stop. */
  requestOnEverySession(request: {
    type: string;
    data?: Uint8Array;
    required?: boolean;
    onReply?: (accepted: boolean, channel: Channel) => void;
  }): () => void;
}

/**
 * Sets up X11 forwarding for every session of `client`, as ssh's
 * ssh_session2_setup and client_x11_get_proto do for ForwardX11 yes: one
 * forwarding (one fake cookie) for the connection, its `x11-req` asked on
 * every session that starts afterwards (want-reply; a refusal is logged as
 * ssh's "X11 forwarding request failed on channel N" and the session goes
 * on).
 *
 * It never throws and never fails the connection; it logs and forwards
 * nothing when there is no display ("X11 forwarding requested but DISPLAY
 * not set", debug, as ssh), when the display name is invalid, or when an
 * untrusted cookie cannot be generated ("Warning: untrusted X11 forwarding
 * setup failed: xauth key data not generated", error, as ssh). Trusted
 * without xauth data, the fake cookie goes to the X server ("Warning: No
 * xauth data; using fake authentication data for X11 forwarding.", info).
 * Returns the forwarding, or undefined when nothing is forwarded.
 *
 * @example
 * ```ts
 * import { connect } from "../client.ts";
 * async function twoXdpyinfos() {
 *   // connect({ forwardX11 }) calls forwardX11ForConnection itself.
 *   const client = await connect({
 *     host: "example.com",
 *     username: "me",
 *     hostKey: { knownHosts: "/home/me/.ssh/known_hosts" },
 *     forwardX11: { onLog: (level, m) => level === "error" && console.error(m) },
 *   });
 *   for (let i = 0; i < 2; i++) console.log((await client.exec("xdpyinfo | head -1")).code);
 *   await client.close();
 * }
 * ```
 */
export function forwardX11ForConnection<C>(
  client: X11ConnectionClient<C>,
  option: boolean | ForwardX11Options | undefined,
): X11Forwarding | undefined {
  if (option === undefined || option === false) return undefined;
  const o: ForwardX11Options = option === true ? {} : option;
  const log = o.onLog ?? (() => {});
  const display = o.display ?? process.env.DISPLAY;
  if (!display) {
    log("debug", "X11 forwarding requested but DISPLAY not set");
    return undefined;
  }
  let forwarding: X11Forwarding;
  try {
    parseDisplay(display);
    forwarding = enableX11Forwarding(client, {
      ...o,
      display,
      trusted: o.trusted ?? false,
      required: false,
    });
  } catch (e) {
    if (e instanceof X11CookieError) {
      log("debug", e.message);
      log("error", "Warning: untrusted X11 forwarding setup failed: xauth key data not generated");
    } else {
      log("info", `DISPLAY "${display}" invalid; disabling X11 forwarding`);
    }
    return undefined;
  }
  if (forwarding.cookieSource === "none") {
    log("info", "Warning: No xauth data; using fake authentication data for X11 forwarding.");
  }
  forwarding.refused$.subscribe((r) => {
    if (/ForwardX11Timeout/.test(r.reason)) log("verbose", r.reason);
    else if (/authentication/.test(r.reason)) {
      log("debug", r.reason);
      log("info", "X11 connection rejected because of wrong authentication.");
    } else log("error", `X11 connection from ${r.originatorAddress}: ${r.reason}`);
  });
  log("debug", "Requesting X11 forwarding with authentication spoofing.");
  client.requestOnEverySession({
    ...forwarding.request,
    onReply: (accepted, channel) =>
      accepted
        ? log("debug", `X11 forwarding request accepted on channel ${channel.localId}`)
        : log("error", `X11 forwarding request failed on channel ${channel.localId}`),
  });
  o.onForwarding?.(forwarding);
  return forwarding;
}
