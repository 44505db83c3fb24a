/**
 * The connection protocol (RFC 4254): a {@link Connection} multiplexes
 * channels and global requests over an authenticated transport; a
 * {@link Channel} carries data as WHATWG streams with flow control by its
 * window; session channels (§6) run commands, shells and subsystems, with
 * pseudo-terminals and their terminal modes (§8).
 *
 * @example
 * ```ts
 * import { decodeTerminalModes, encodeTerminalModes, TerminalMode } from "./mod.ts";
 * const modes = encodeTerminalModes({ ECHO: 0, TTY_OP_ISPEED: 38400 });
 * console.log(modes[0] === TerminalMode.ECHO); // true
 * console.log(decodeTerminalModes(modes)); // { ECHO: 0, TTY_OP_ISPEED: 38400 }
 * ```
 *
 * @module
 */
export {
  Channel,
  ChannelError,
  type ChannelHost,
  type ChannelOptions,
  type IncomingChannelRequest,
} from "./channel.ts";
export {
  ChannelOpenError,
  Connection,
  type IncomingChannelOpen,
  type IncomingGlobalRequest,
  type MessageTransport,
} from "./connection.ts";
export {
  decodeTerminalModes,
  encodeTerminalModes,
  type ExitInfo,
  openSession,
  type PtyRequest,
  type Session,
  type SessionOptions,
  SessionRequest,
  SessionRequestError,
  TerminalMode,
} from "./session.ts";
// What this layer's API mentions from the layers below.
export { DisconnectError, SshError } from "../wire/errors.ts";
export type { Payload } from "../transport/packets.ts";
