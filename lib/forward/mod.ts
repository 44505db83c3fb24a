/**
 * Port forwarding (RFC 4254 §7) and Unix-socket forwarding (OpenSSH
 * PROTOCOL §2.4): the client side ({@link forwardOut}, {@link forwardIn},
 * {@link forwardOutUnix}, {@link forwardInUnix}, {@link localForward}),
 * the server side ({@link portForwardingHandler}) and their wire codecs.
 *
 * @example
 * ```ts
 * import { forwardOut, portForwardingHandler } from "./mod.ts";
 * console.log(typeof forwardOut, Object.keys(portForwardingHandler().channelOpen)); // function [ "direct-tcpip", "direct-streamlocal@openssh.com" ]
 * ```
 *
 * @module
 */
export {
  type ForwardedStream,
  forwardIn,
  type ForwardingClient,
  ForwardingError,
  forwardInUnix,
  forwardOut,
  forwardOutUnix,
  listenLocally,
  localForward,
  type LocalListener,
  type RemoteForwardEvent,
  type RemoteUnixForwardEvent,
} from "./client.ts";
export {
  type ForwardingContext,
  type KeyPermit,
  MAX_SERVER_LISTENERS,
  type PortForwardingHandler,
  portForwardingHandler,
  type PortForwardingOptions,
} from "./server.ts";
export { dynamicForward } from "./socks.ts";
export {
  BoundPortCodec,
  ForwardedStreamLocalCodec,
  type ListenAddress,
  ListenAddressCodec,
  StreamLocalChannelCodec,
  StreamLocalPathCodec,
  TcpChannelCodec,
  type TcpChannelData,
} from "./wire.ts";
// What this layer's API mentions from the layers below.
export { SshError } from "../wire/errors.ts";
export type { Codec } from "../wire/codec.ts";
export type { Payload } from "../transport/packets.ts";
export type { ByteStreamPair } from "../transport/transport.ts";
export type { TcpConnection } from "../runtime/types.ts";
export type {
  Channel,
  ChannelHost,
  ChannelInit,
  ChannelOptions,
  ChannelPort,
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
