/**
 * X11 forwarding (RFC 4254 §6.3): the client side
 * ({@link enableX11Forwarding}), the server side
 * ({@link x11ForwardingHandler}) and their wire codecs.
 *
 * @example
 * ```ts
 * import { enableX11Forwarding, x11ForwardingHandler } from "./mod.ts";
 * console.log(typeof enableX11Forwarding, typeof x11ForwardingHandler);
 * ```
 *
 * @module
 */
export {
  enableX11Forwarding,
  type X11Connection,
  X11CookieError,
  type X11Forwarding,
  type X11ForwardingOptions,
  type X11Refusal,
} from "./client.ts";
export {
  forwardX11ForConnection,
  type ForwardX11Options,
  type X11ConnectionClient,
  type X11LogLevel,
} from "./connection.ts";
export {
  type X11ForwardedDisplay,
  type X11ForwardingContext,
  type X11ForwardingHandler,
  x11ForwardingHandler,
  type X11ServerChannel,
  type X11ServerOptions,
} from "./server.ts";
export {
  encodeX11Setup,
  fromHex,
  parseDisplay,
  parseX11Setup,
  toHex,
  X11ChannelCodec,
  type X11ChannelOrigin,
  type X11Display,
  X11Error,
  type X11Request,
  X11RequestCodec,
  type X11Setup,
} from "./wire.ts";
// What this layer's API mentions from the layers below.
export type { ServerAuthHandlers, ServerAuthOptions, SessionRestrictions } from "../auth/server.ts";
export type {
  Channel,
  ChannelHost,
  ChannelOptions,
  IncomingChannelRequest,
} from "../connection/channel.ts";
export type {
  Connection,
  ConnectionEvent,
  ConnectionOptions,
  SharedChannelCount,
} from "../connection/connection.ts";
export type {
  Acceptance,
  ChannelAcceptance,
  ChannelOpenHandler,
  ChannelOpenRequest,
  ChannelRequest,
  ConnectionHandlers,
  ConnectionHandlerSet,
  GlobalRequest,
  GlobalRequestHandler,
  Handler,
  HandlerTable,
  PeerRequestRouter,
  Refusal,
  SessionRequestHandler,
  Verdict,
} from "../connection/handlers.ts";
export type { PtyRequest } from "../connection/session.ts";
export type { RandomSource } from "../crypto/types.ts";
export type { PrivateKey, PublicKey } from "../keys/types.ts";
export type { Payload } from "../transport/packets.ts";
export type {
  HostKeyInfo,
  HostKeyVerifier,
  KexEvent,
  MacErrorEvent,
  NegotiatedAlgorithms,
  TransportOptions,
} from "../transport/transport.ts";
export type { InfoPrompt } from "../wire/auth_messages.ts";
export type { Codec } from "../wire/codec.ts";
export { SshError } from "../wire/errors.ts";
export type { GexRequest } from "../wire/transport_messages.ts";
