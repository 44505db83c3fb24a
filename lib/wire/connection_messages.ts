/**
 * Codecs for the connection protocol (RFC 4254 §§4-6). Type-specific data
 * (channel types, channel requests, global requests) stays raw here and is
 * decoded by the layer that knows the type.
 *
 * @module
 */
import { Msg } from "./message_numbers.ts";
import { SshReader } from "./reader.ts";
import { SshWriter } from "./writer.ts";

/**
 * SSH_MSG_GLOBAL_REQUEST (RFC 4254 §4).
 *
 * @example
 * ```ts
 * import { decodeGlobalRequest, encodeGlobalRequest } from "./connection_messages.ts";
 * const m = decodeGlobalRequest(encodeGlobalRequest({ name: "keepalive@openssh.com", wantReply: true, data: new Uint8Array(0) }));
 * console.log(m.name);
 * ```
 */
export interface GlobalRequest {
  /** Request name. */
  name: string;
  /** want reply */
  wantReply: boolean;
  /** Request-specific data (raw). */
  data: Uint8Array;
}

/**
 * Encodes SSH_MSG_GLOBAL_REQUEST.
 *
 * @example
 * ```ts
 * import { encodeGlobalRequest } from "./connection_messages.ts";
 * encodeGlobalRequest({ name: "no-more-sessions@openssh.com", wantReply: false, data: new Uint8Array(0) });
 * ```
 */
export function encodeGlobalRequest(m: GlobalRequest): Uint8Array {
  return new SshWriter(32 + m.data.length).byte(Msg.GLOBAL_REQUEST).string(m.name).boolean(
    m.wantReply,
  ).raw(m.data)
    .finish();
}

/**
 * Decodes SSH_MSG_GLOBAL_REQUEST.
 *
 * @example
 * ```ts
 * import { decodeGlobalRequest, encodeGlobalRequest } from "./connection_messages.ts";
 * decodeGlobalRequest(encodeGlobalRequest({ name: "x", wantReply: false, data: new Uint8Array(0) }));
 * ```
 */
export function decodeGlobalRequest(payload: Uint8Array): GlobalRequest {
  const r = new SshReader(payload);
  r.expectMessage(Msg.GLOBAL_REQUEST, "GLOBAL_REQUEST");
  return { name: r.ascii("request name"), wantReply: r.boolean("want reply"), data: r.rest() };
}

/**
 * SSH_MSG_CHANNEL_OPEN (RFC 4254 §5.1).
 *
 * @example
 * ```ts
 * import type { ChannelOpen } from "./connection_messages.ts";
 * const m: ChannelOpen = { type: "session", sender: 0, window: 2097152, maxPacket: 32768, data: new Uint8Array(0) };
 * ```
 */
export interface ChannelOpen {
  /** Channel type, e.g. "session". */
  type: string;
  /** Sender channel. */
  sender: number;
  /** Initial window size. */
  window: number;
  /** Maximum packet size. */
  maxPacket: number;
  /** Type-specific data (raw). */
  data: Uint8Array;
}

/**
 * Encodes SSH_MSG_CHANNEL_OPEN.
 *
 * @example
 * ```ts
 * import { encodeChannelOpen } from "./connection_messages.ts";
 * encodeChannelOpen({ type: "session", sender: 0, window: 2097152, maxPacket: 32768, data: new Uint8Array(0) });
 * ```
 */
export function encodeChannelOpen(m: ChannelOpen): Uint8Array {
  return new SshWriter(32 + m.data.length).byte(Msg.CHANNEL_OPEN).string(m.type).uint32(m.sender)
    .uint32(m.window)
    .uint32(m.maxPacket).raw(m.data).finish();
}

/**
 * Decodes SSH_MSG_CHANNEL_OPEN.
 *
 * @example
 * ```ts
 * import { decodeChannelOpen, encodeChannelOpen } from "./connection_messages.ts";
 * decodeChannelOpen(encodeChannelOpen({ type: "session", sender: 1, window: 10, maxPacket: 10, data: new Uint8Array(0) }));
 * ```
 */
export function decodeChannelOpen(payload: Uint8Array): ChannelOpen {
  const r = new SshReader(payload);
  r.expectMessage(Msg.CHANNEL_OPEN, "CHANNEL_OPEN");
  return {
    type: r.ascii("channel type"),
    sender: r.uint32("sender channel"),
    window: r.uint32("initial window size"),
    maxPacket: r.uint32("maximum packet size"),
    data: r.rest(),
  };
}

/**
 * Encodes SSH_MSG_CHANNEL_OPEN_CONFIRMATION (RFC 4254 §5.1).
 *
 * @example
 * ```ts
 * import { encodeChannelOpenConfirmation } from "./connection_messages.ts";
 * encodeChannelOpenConfirmation({ recipient: 0, sender: 3, window: 2097152, maxPacket: 32768 });
 * ```
 */
export function encodeChannelOpenConfirmation(
  m: { recipient: number; sender: number; window: number; maxPacket: number; data?: Uint8Array },
): Uint8Array {
  return new SshWriter(24).byte(Msg.CHANNEL_OPEN_CONFIRMATION).uint32(m.recipient).uint32(m.sender)
    .uint32(m.window).uint32(m.maxPacket).raw(m.data ?? new Uint8Array(0)).finish();
}

/**
 * Decodes SSH_MSG_CHANNEL_OPEN_CONFIRMATION.
 *
 * @example
 * ```ts
 * import { decodeChannelOpenConfirmation, encodeChannelOpenConfirmation } from "./connection_messages.ts";
 * decodeChannelOpenConfirmation(encodeChannelOpenConfirmation({ recipient: 0, sender: 3, window: 1, maxPacket: 1 }));
 * ```
 */
export function decodeChannelOpenConfirmation(
  payload: Uint8Array,
): { recipient: number; sender: number; window: number; maxPacket: number; data: Uint8Array } {
  const r = new SshReader(payload);
  r.expectMessage(Msg.CHANNEL_OPEN_CONFIRMATION, "CHANNEL_OPEN_CONFIRMATION");
  return {
    recipient: r.uint32("recipient channel"),
    sender: r.uint32("sender channel"),
    window: r.uint32("initial window size"),
    maxPacket: r.uint32("maximum packet size"),
    data: r.rest(),
  };
}

/**
 * SSH_MSG_CHANNEL_OPEN_FAILURE reason codes (RFC 4254 §5.1).
 *
 * @example
 * ```ts
 * import { OpenFailure } from "./connection_messages.ts";
 * console.log(OpenFailure.UNKNOWN_CHANNEL_TYPE); // 3
 * ```
 */
export const OpenFailure = {
  ADMINISTRATIVELY_PROHIBITED: 1,
  CONNECT_FAILED: 2,
  UNKNOWN_CHANNEL_TYPE: 3,
  RESOURCE_SHORTAGE: 4,
} as const;

/**
 * SSH_EXTENDED_DATA_STDERR, the one data_type_code of
 * SSH_MSG_CHANNEL_EXTENDED_DATA that RFC 4254 §5.2 defines.
 *
 * @example
 * ```ts
 * import { encodeChannelData, EXTENDED_DATA_STDERR } from "./connection_messages.ts";
 * encodeChannelData(0, new TextEncoder().encode("oops"), { dataType: EXTENDED_DATA_STDERR });
 * ```
 */
export const EXTENDED_DATA_STDERR = 1;

/**
 * Encodes SSH_MSG_CHANNEL_OPEN_FAILURE.
 *
 * @example
 * ```ts
 * import { encodeChannelOpenFailure, OpenFailure } from "./connection_messages.ts";
 * encodeChannelOpenFailure({
 *   recipient: 0,
 *   reason: OpenFailure.UNKNOWN_CHANNEL_TYPE,
 *   description: "unknown channel type",
 *   language: "",
 * });
 * ```
 */
export function encodeChannelOpenFailure(
  m: { recipient: number; reason: number; description: string; language: string },
): Uint8Array {
  return new SshWriter(64).byte(Msg.CHANNEL_OPEN_FAILURE).uint32(m.recipient).uint32(m.reason)
    .string(m.description).string(m.language).finish();
}

/**
 * Decodes SSH_MSG_CHANNEL_OPEN_FAILURE.
 *
 * @example
 * ```ts
 * import {
 *   decodeChannelOpenFailure,
 *   encodeChannelOpenFailure,
 *   OpenFailure,
 * } from "./connection_messages.ts";
 * const reason = OpenFailure.ADMINISTRATIVELY_PROHIBITED;
 * const m = encodeChannelOpenFailure({ recipient: 0, reason, description: "no", language: "" });
 * console.log(decodeChannelOpenFailure(m).reason); // 1
 * ```
 */
export function decodeChannelOpenFailure(
  payload: Uint8Array,
): { recipient: number; reason: number; description: string; language: string } {
  const r = new SshReader(payload);
  r.expectMessage(Msg.CHANNEL_OPEN_FAILURE, "CHANNEL_OPEN_FAILURE");
  return {
    recipient: r.uint32("recipient channel"),
    reason: r.uint32("reason code"),
    description: new TextDecoder().decode(r.string("description")),
    language: r.remaining ? r.ascii("language tag") : "",
  };
}

/**
 * Encodes SSH_MSG_CHANNEL_WINDOW_ADJUST (RFC 4254 §5.2).
 *
 * @example
 * ```ts
 * import { encodeWindowAdjust } from "./connection_messages.ts";
 * encodeWindowAdjust(0, 1048576);
 * ```
 */
export function encodeWindowAdjust(recipient: number, bytes: number): Uint8Array {
  return new SshWriter(9).byte(Msg.CHANNEL_WINDOW_ADJUST).uint32(recipient).uint32(bytes).finish();
}

/**
 * Encodes SSH_MSG_CHANNEL_DATA, or SSH_MSG_CHANNEL_EXTENDED_DATA when
 * `options.dataType` is given ({@link EXTENDED_DATA_STDERR} for stderr), RFC 4254
 * §5.2. One copy of `data`.
 *
 * @example
 * ```ts
 * import { encodeChannelData, EXTENDED_DATA_STDERR } from "./connection_messages.ts";
 * encodeChannelData(0, new TextEncoder().encode("hi"));
 * encodeChannelData(0, new TextEncoder().encode("oops"), { dataType: EXTENDED_DATA_STDERR });
 * ```
 */
export function encodeChannelData(
  recipient: number,
  data: Uint8Array,
  options: { dataType?: number } = {},
): Uint8Array {
  const head = encodeChannelDataHeader(recipient, data.length, options);
  const out = new Uint8Array(head.length + data.length);
  out.set(head);
  out.set(data, head.length);
  return out;
}

/**
 * The first 9 (CHANNEL_DATA) or 13 (EXTENDED_DATA) bytes of
 * {@link encodeChannelData}'s message for `length` bytes of data: byte
 * message number, uint32 recipient, [uint32 data_type_code,] uint32 length
 * of the string that follows. Sent with the data as a second part, it saves
 * copying the data into a message of its own.
 *
 * @example
 * ```ts
 * import { encodeChannelDataHeader } from "./connection_messages.ts";
 * console.log(encodeChannelDataHeader(0, 2)); // Uint8Array(9) [94, 0, 0, 0, 0, 0, 0, 0, 2]
 * ```
 */
export function encodeChannelDataHeader(
  recipient: number,
  length: number,
  options: { dataType?: number } = {},
): Uint8Array {
  const { dataType } = options;
  const head = dataType === undefined ? 9 : 13;
  const out = new Uint8Array(head);
  out[0] = dataType === undefined ? Msg.CHANNEL_DATA : Msg.CHANNEL_EXTENDED_DATA;
  const put = (at: number, v: number) => {
    out[at] = v >>> 24;
    out[at + 1] = (v >>> 16) & 0xff;
    out[at + 2] = (v >>> 8) & 0xff;
    out[at + 3] = v & 0xff;
  };
  put(1, recipient);
  if (dataType !== undefined) put(5, dataType);
  put(head - 4, length);
  return out;
}

/**
 * Encodes a message that carries only the recipient channel: EOF, CLOSE,
 * SUCCESS, FAILURE (RFC 4254 §§5.3, 5.4).
 *
 * @example
 * ```ts
 * import { encodeChannelSimple } from "./connection_messages.ts";
 * import { Msg } from "./message_numbers.ts";
 * encodeChannelSimple(Msg.CHANNEL_EOF, 0);
 * ```
 */
export function encodeChannelSimple(msg: number, recipient: number): Uint8Array {
  return new SshWriter(5).byte(msg).uint32(recipient).finish();
}

/**
 * SSH_MSG_CHANNEL_REQUEST (RFC 4254 §5.4).
 *
 * @example
 * ```ts
 * import type { ChannelRequest } from "./connection_messages.ts";
 * const m: ChannelRequest = { recipient: 0, type: "shell", wantReply: true, data: new Uint8Array(0) };
 * ```
 */
export interface ChannelRequest {
  /** Recipient channel. */
  recipient: number;
  /** Request type, e.g. "exec". */
  type: string;
  /** want reply */
  wantReply: boolean;
  /** Type-specific data (raw). */
  data: Uint8Array;
}

/**
 * Encodes SSH_MSG_CHANNEL_REQUEST.
 *
 * @example
 * ```ts
 * import { encodeChannelRequest } from "./connection_messages.ts";
 * encodeChannelRequest({ recipient: 0, type: "shell", wantReply: true, data: new Uint8Array(0) });
 * ```
 */
export function encodeChannelRequest(m: ChannelRequest): Uint8Array {
  return new SshWriter(32 + m.data.length).byte(Msg.CHANNEL_REQUEST).uint32(m.recipient).string(
    m.type,
  )
    .boolean(m.wantReply).raw(m.data).finish();
}

/**
 * Decodes SSH_MSG_CHANNEL_REQUEST.
 *
 * @example
 * ```ts
 * import { decodeChannelRequest, encodeChannelRequest } from "./connection_messages.ts";
 * decodeChannelRequest(encodeChannelRequest({ recipient: 0, type: "shell", wantReply: true, data: new Uint8Array(0) }));
 * ```
 */
export function decodeChannelRequest(payload: Uint8Array): ChannelRequest {
  const r = new SshReader(payload);
  r.expectMessage(Msg.CHANNEL_REQUEST, "CHANNEL_REQUEST");
  return {
    recipient: r.uint32("recipient channel"),
    type: r.ascii("request type"),
    wantReply: r.boolean("want reply"),
    data: r.rest(),
  };
}
