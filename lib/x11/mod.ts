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
  type X11Forwarding,
  type X11ForwardingOptions,
  type X11Refusal,
} from "./client.ts";
export {
  type X11ForwardedDisplay,
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
