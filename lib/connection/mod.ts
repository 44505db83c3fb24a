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
  type ChannelInit,
  type ChannelOptions,
  type ChannelPort,
  DEFAULT_CHANNEL_MAX_PACKET,
  DEFAULT_WINDOW,
  type IncomingChannelRequest,
} from "./channel.ts";
export {
  ChannelOpenError,
  Connection,
  type ConnectionEvent,
  type ConnectionOptions,
  MAX_CHANNELS,
  MAX_UNANSWERED,
  type MessageTransport,
  type SharedChannelCount,
} from "./connection.ts";
export {
  accept,
  type Acceptance,
  acceptChannel,
  ask,
  type ChannelAcceptance,
  type ChannelOpenHandler,
  type ChannelOpenRequest,
  type ChannelRequest,
  ConnectionHandlers,
  type ConnectionHandlerSet,
  type GlobalRequest,
  type GlobalRequestHandler,
  type Handler,
  HandlerTable,
  type PeerRequestRouter,
  type Refusal,
  refuse,
  type Verdict,
} from "./handlers.ts";
export { keepalive, type KeepaliveOptions, type KeepaliveTarget } from "./keepalive.ts";
export {
  type DecodedRequest,
  decodeSessionRequest,
  decodeTerminalModes,
  encodeTerminalModes,
  type ExitInfo,
  type ExitStatus,
  openSession,
  type PtyRequest,
  sendExitStatus,
  type Session,
  type SessionOptions,
  SessionRequest,
  SessionRequestError,
  TerminalMode,
} from "./session.ts";
// What this layer's API mentions from the layers below.
export { DisconnectError, SshError } from "../wire/errors.ts";
export type { Payload } from "../transport/packets.ts";
