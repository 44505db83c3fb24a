/**
 * The wire layer: SSH's data types (RFC 4251 §5) read and written with
 * {@link SshReader} and {@link SshWriter}, message numbers by name
 * (RFC 4250 §4.1), the reason codes of DISCONNECT (RFC 4253 §11.1) and
 * CHANNEL_OPEN_FAILURE (RFC 4254 §5.1), the typed errors every layer throws,
 * and an encoder and decoder for each message of the transport (RFC 4253),
 * authentication (RFC 4252, RFC 4256) and connection (RFC 4254) protocols.
 *
 * @example
 * ```ts
 * import { decodeChannelOpenFailure, encodeChannelOpenFailure, Msg, OpenFailure } from "./mod.ts";
 * const payload = encodeChannelOpenFailure({
 *   recipient: 0,
 *   reason: OpenFailure.UNKNOWN_CHANNEL_TYPE,
 *   description: "unknown channel type",
 *   language: "",
 * });
 * console.log(payload[0] === Msg.CHANNEL_OPEN_FAILURE); // true
 * console.log(decodeChannelOpenFailure(payload).reason); // 3
 * ```
 *
 * @module
 */
export { Msg } from "./message_numbers.ts";
export {
  DisconnectError,
  DisconnectReason,
  type DisconnectReasonCode,
  disconnectReasonName,
  SshError,
  WireError,
} from "./errors.ts";
export { SshReader } from "./reader.ts";
export { encodeMpintBytes, encodeString, SshWriter, twosComplement } from "./writer.ts";
export type { Codec } from "./codec.ts";
export { quotePeerText } from "./quote.ts";
export {
  type DebugMessage,
  decodeDebug,
  decodeDisconnect,
  decodeExtInfo,
  decodeGexGroup,
  decodeGexRequest,
  decodeIgnore,
  decodeKexInit,
  decodeKexInitValue,
  decodeKexReply,
  decodeService,
  decodeUnimplemented,
  type DisconnectMessage,
  encodeDebug,
  encodeDisconnect,
  encodeExtInfo,
  encodeGexGroup,
  encodeGexRequest,
  encodeIgnore,
  encodeKexInit,
  encodeKexInitValue,
  encodeKexReply,
  encodeService,
  encodeUnimplemented,
  type GexRequest,
  type KexInit,
  type KexReply,
} from "./transport_messages.ts";
export {
  decodeAuthBanner,
  decodeAuthFailure,
  decodeAuthRequestHead,
  decodeInfoRequest,
  decodeInfoResponse,
  encodeAuthBanner,
  encodeAuthFailure,
  encodeInfoRequest,
  encodeInfoResponse,
  encodePkOk,
  encodePublicKeyAuthRequest,
  encodeSimpleAuthRequest,
  type InfoPrompt,
  type PublicKeyAuthRequest,
  publicKeySignedData,
} from "./auth_messages.ts";
export {
  type ChannelOpen,
  type ChannelRequest,
  decodeChannelOpen,
  decodeChannelOpenConfirmation,
  decodeChannelOpenFailure,
  decodeChannelRequest,
  decodeGlobalRequest,
  encodeChannelData,
  encodeChannelDataHeader,
  encodeChannelOpen,
  encodeChannelOpenConfirmation,
  encodeChannelOpenFailure,
  encodeChannelRequest,
  encodeChannelSimple,
  encodeGlobalRequest,
  encodeWindowAdjust,
  EXTENDED_DATA_STDERR,
  type GlobalRequest,
  OpenFailure,
} from "./connection_messages.ts";
