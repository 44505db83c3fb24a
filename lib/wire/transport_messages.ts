/**
 * Codecs for the transport-layer messages (RFC 4253 §§7-12, RFC 8308 §2.3,
 * RFC 4419 §3). Each decoder takes the whole payload (message number
 * included) and throws WireError (from `errors.ts`) naming the field and offset.
 *
 * @module
 */
import { Msg } from "./message_numbers.ts";
import { quotePeerText } from "./quote.ts";
import { SshReader } from "./reader.ts";
import { SshWriter } from "./writer.ts";

/**
 * SSH_MSG_KEXINIT (RFC 4253 §7.1).
 *
 * @example
 * ```ts
 * import type { KexInit } from "./transport_messages.ts";
 * const names = (k: KexInit) => k.kexAlgorithms.join(",");
 * ```
 */
export interface KexInit {
  /** 16 random bytes. */
  cookie: Uint8Array;
  /** kex_algorithms */
  kexAlgorithms: string[];
  /** server_host_key_algorithms */
  serverHostKeyAlgorithms: string[];
  /** encryption_algorithms_client_to_server */
  ciphersClientToServer: string[];
  /** encryption_algorithms_server_to_client */
  ciphersServerToClient: string[];
  /** mac_algorithms_client_to_server */
  macsClientToServer: string[];
  /** mac_algorithms_server_to_client */
  macsServerToClient: string[];
  /** compression_algorithms_client_to_server */
  compressionClientToServer: string[];
  /** compression_algorithms_server_to_client */
  compressionServerToClient: string[];
  /** languages_client_to_server */
  languagesClientToServer: string[];
  /** languages_server_to_client */
  languagesServerToClient: string[];
  /** first_kex_packet_follows */
  firstKexPacketFollows: boolean;
}

/**
 * Encodes SSH_MSG_KEXINIT.
 *
 * @example
 * ```ts
 * import { encodeKexInit } from "./transport_messages.ts";
 * const p = encodeKexInit({
 *   cookie: new Uint8Array(16), kexAlgorithms: ["curve25519-sha256"], serverHostKeyAlgorithms: ["ssh-ed25519"],
 *   ciphersClientToServer: ["aes128-ctr"], ciphersServerToClient: ["aes128-ctr"],
 *   macsClientToServer: ["hmac-sha2-256"], macsServerToClient: ["hmac-sha2-256"],
 *   compressionClientToServer: ["none"], compressionServerToClient: ["none"],
 *   languagesClientToServer: [], languagesServerToClient: [], firstKexPacketFollows: false,
 * });
 * console.log(p[0]); // 20
 * ```
 */
export function encodeKexInit(k: KexInit): Uint8Array {
  if (k.cookie.length !== 16) {
    throw new RangeError(`KEXINIT cookie must be 16 bytes, got ${k.cookie.length}`);
  }
  return new SshWriter(1024)
    .byte(Msg.KEXINIT)
    .raw(k.cookie)
    .nameList(k.kexAlgorithms)
    .nameList(k.serverHostKeyAlgorithms)
    .nameList(k.ciphersClientToServer)
    .nameList(k.ciphersServerToClient)
    .nameList(k.macsClientToServer)
    .nameList(k.macsServerToClient)
    .nameList(k.compressionClientToServer)
    .nameList(k.compressionServerToClient)
    .nameList(k.languagesClientToServer)
    .nameList(k.languagesServerToClient)
    .boolean(k.firstKexPacketFollows)
    .uint32(0)
    .finish();
}

/**
 * Decodes SSH_MSG_KEXINIT. The reserved uint32 is read and ignored; trailing
 * bytes are an error.
 *
 * @example
 * ```ts
 * import { decodeKexInit, encodeKexInit } from "./transport_messages.ts";
 * const k = decodeKexInit(encodeKexInit({
 *   cookie: new Uint8Array(16), kexAlgorithms: ["curve25519-sha256"], serverHostKeyAlgorithms: ["ssh-ed25519"],
 *   ciphersClientToServer: ["aes128-ctr"], ciphersServerToClient: ["aes128-ctr"],
 *   macsClientToServer: ["hmac-sha2-256"], macsServerToClient: ["hmac-sha2-256"],
 *   compressionClientToServer: ["none"], compressionServerToClient: ["none"],
 *   languagesClientToServer: [], languagesServerToClient: [], firstKexPacketFollows: false,
 * }));
 * console.log(k.kexAlgorithms); // ["curve25519-sha256"]
 * ```
 */
export function decodeKexInit(payload: Uint8Array): KexInit {
  const r = new SshReader(payload);
  r.expectMessage(Msg.KEXINIT, "KEXINIT");
  const k: KexInit = {
    cookie: r.raw(16, "KEXINIT cookie"),
    kexAlgorithms: r.nameList("kex_algorithms"),
    serverHostKeyAlgorithms: r.nameList("server_host_key_algorithms"),
    ciphersClientToServer: r.nameList("encryption_algorithms_client_to_server"),
    ciphersServerToClient: r.nameList("encryption_algorithms_server_to_client"),
    macsClientToServer: r.nameList("mac_algorithms_client_to_server"),
    macsServerToClient: r.nameList("mac_algorithms_server_to_client"),
    compressionClientToServer: r.nameList("compression_algorithms_client_to_server"),
    compressionServerToClient: r.nameList("compression_algorithms_server_to_client"),
    languagesClientToServer: r.nameList("languages_client_to_server"),
    languagesServerToClient: r.nameList("languages_server_to_client"),
    firstKexPacketFollows: r.boolean("first_kex_packet_follows"),
  };
  r.uint32("KEXINIT reserved");
  r.end("KEXINIT");
  return k;
}

/**
 * SSH_MSG_DISCONNECT (RFC 4253 §11.1).
 *
 * @example
 * ```ts
 * import type { DisconnectMessage } from "./transport_messages.ts";
 * import { DisconnectReason } from "./errors.ts";
 * const m: DisconnectMessage = {
 *   reason: DisconnectReason.BY_APPLICATION,
 *   description: "bye",
 *   language: "",
 * };
 * ```
 */
export interface DisconnectMessage {
  /** Reason code. */
  reason: number;
  /** ISO-10646 UTF-8 description. */
  description: string;
  /** RFC 3066 language tag. */
  language: string;
}

/**
 * Encodes SSH_MSG_DISCONNECT.
 *
 * @example
 * ```ts
 * import { encodeDisconnect } from "./transport_messages.ts";
 * import { DisconnectReason } from "./errors.ts";
 * encodeDisconnect({ reason: DisconnectReason.BY_APPLICATION, description: "bye", language: "" });
 * ```
 */
export function encodeDisconnect(m: DisconnectMessage): Uint8Array {
  return new SshWriter(64).byte(Msg.DISCONNECT).uint32(m.reason).string(m.description).string(
    m.language,
  )
    .finish();
}

/**
 * Decodes SSH_MSG_DISCONNECT. A description that is not valid UTF-8 is
 * replaced rather than rejected: the connection is ending anyway.
 *
 * @example
 * ```ts
 * import { decodeDisconnect, encodeDisconnect } from "./transport_messages.ts";
 * import { DisconnectReason } from "./errors.ts";
 * const reason = DisconnectReason.PROTOCOL_ERROR;
 * console.log(decodeDisconnect(encodeDisconnect({ reason, description: "x", language: "" })).reason); // 2
 * ```
 */
export function decodeDisconnect(payload: Uint8Array): DisconnectMessage {
  const r = new SshReader(payload);
  r.expectMessage(Msg.DISCONNECT, "DISCONNECT");
  const reason = r.uint32("DISCONNECT reason code");
  const description = new TextDecoder().decode(r.string("DISCONNECT description"));
  // Some peers omit the language tag; tolerate that.
  const language = r.remaining ? new TextDecoder().decode(r.string("DISCONNECT language tag")) : "";
  return { reason, description, language };
}

/**
 * Encodes SSH_MSG_IGNORE (RFC 4253 §11.2).
 *
 * @example
 * ```ts
 * import { encodeIgnore } from "./transport_messages.ts";
 * encodeIgnore(new Uint8Array(8));
 * ```
 */
export function encodeIgnore(data: Uint8Array | string): Uint8Array {
  return new SshWriter(16 + data.length).byte(Msg.IGNORE).string(data).finish();
}

/**
 * Decodes SSH_MSG_IGNORE, returning its data.
 *
 * @example
 * ```ts
 * import { decodeIgnore, encodeIgnore } from "./transport_messages.ts";
 * console.log(decodeIgnore(encodeIgnore("pad")).length); // 3
 * ```
 */
export function decodeIgnore(payload: Uint8Array): Uint8Array {
  const r = new SshReader(payload);
  r.expectMessage(Msg.IGNORE, "IGNORE");
  // RFC 4253 §11.2: the data is arbitrary; tolerate a missing string.
  return r.remaining ? r.string("IGNORE data") : new Uint8Array(0);
}

/**
 * SSH_MSG_DEBUG (RFC 4253 §11.3).
 *
 * @example
 * ```ts
 * import type { DebugMessage } from "./transport_messages.ts";
 * const m: DebugMessage = { alwaysDisplay: false, message: "hello", language: "" };
 * ```
 */
export interface DebugMessage {
  /** always_display */
  alwaysDisplay: boolean;
  /** The message (UTF-8). */
  message: string;
  /** Language tag. */
  language: string;
}

/**
 * Encodes SSH_MSG_DEBUG.
 *
 * @example
 * ```ts
 * import { encodeDebug } from "./transport_messages.ts";
 * encodeDebug({ alwaysDisplay: true, message: "hi", language: "" });
 * ```
 */
export function encodeDebug(m: DebugMessage): Uint8Array {
  return new SshWriter(32).byte(Msg.DEBUG).boolean(m.alwaysDisplay).string(m.message).string(
    m.language,
  ).finish();
}

/**
 * Decodes SSH_MSG_DEBUG.
 *
 * @example
 * ```ts
 * import { decodeDebug, encodeDebug } from "./transport_messages.ts";
 * console.log(decodeDebug(encodeDebug({ alwaysDisplay: true, message: "hi", language: "" })).message);
 * ```
 */
export function decodeDebug(payload: Uint8Array): DebugMessage {
  const r = new SshReader(payload);
  r.expectMessage(Msg.DEBUG, "DEBUG");
  return {
    alwaysDisplay: r.boolean("DEBUG always_display"),
    message: r.utf8("DEBUG message"),
    language: r.remaining ? r.ascii("DEBUG language tag") : "",
  };
}

/**
 * Encodes SSH_MSG_UNIMPLEMENTED (RFC 4253 §11.4).
 *
 * @example
 * ```ts
 * import { encodeUnimplemented } from "./transport_messages.ts";
 * encodeUnimplemented(42);
 * ```
 */
export function encodeUnimplemented(seq: number): Uint8Array {
  return new SshWriter(8).byte(Msg.UNIMPLEMENTED).uint32(seq).finish();
}

/**
 * Decodes SSH_MSG_UNIMPLEMENTED, returning the rejected packet's sequence number.
 *
 * @example
 * ```ts
 * import { decodeUnimplemented, encodeUnimplemented } from "./transport_messages.ts";
 * console.log(decodeUnimplemented(encodeUnimplemented(7))); // 7
 * ```
 */
export function decodeUnimplemented(payload: Uint8Array): number {
  const r = new SshReader(payload);
  r.expectMessage(Msg.UNIMPLEMENTED, "UNIMPLEMENTED");
  const seq = r.uint32("UNIMPLEMENTED packet sequence number");
  r.end("UNIMPLEMENTED");
  return seq;
}

/**
 * Encodes SSH_MSG_SERVICE_REQUEST or SSH_MSG_SERVICE_ACCEPT (RFC 4253 §10).
 *
 * @example
 * ```ts
 * import { encodeService } from "./transport_messages.ts";
 * import { Msg } from "./message_numbers.ts";
 * encodeService(Msg.SERVICE_REQUEST, "ssh-userauth");
 * ```
 */
export function encodeService(
  msg: typeof Msg.SERVICE_REQUEST | typeof Msg.SERVICE_ACCEPT,
  name: string,
): Uint8Array {
  return new SshWriter(32).byte(msg).string(name).finish();
}

/**
 * Decodes SSH_MSG_SERVICE_REQUEST or SSH_MSG_SERVICE_ACCEPT, returning the service name.
 *
 * @example
 * ```ts
 * import { decodeService, encodeService } from "./transport_messages.ts";
 * import { Msg } from "./message_numbers.ts";
 * console.log(decodeService(Msg.SERVICE_ACCEPT, encodeService(Msg.SERVICE_ACCEPT, "ssh-userauth")));
 * ```
 */
export function decodeService(
  msg: typeof Msg.SERVICE_REQUEST | typeof Msg.SERVICE_ACCEPT,
  payload: Uint8Array,
): string {
  const name = msg === Msg.SERVICE_REQUEST ? "SERVICE_REQUEST" : "SERVICE_ACCEPT";
  const r = new SshReader(payload);
  r.expectMessage(msg, name);
  const service = r.ascii(`${name} service name`);
  r.end(name);
  return service;
}

/**
 * Encodes SSH_MSG_EXT_INFO (RFC 8308 §2.3).
 *
 * @example
 * ```ts
 * import { encodeExtInfo } from "./transport_messages.ts";
 * encodeExtInfo(new Map([["server-sig-algs", new TextEncoder().encode("ssh-ed25519")]]));
 * ```
 */
export function encodeExtInfo(extensions: ReadonlyMap<string, Uint8Array>): Uint8Array {
  const w = new SshWriter(256).byte(Msg.EXT_INFO).uint32(extensions.size);
  for (const [name, value] of extensions) w.string(name).string(value);
  return w.finish();
}

/**
 * Decodes SSH_MSG_EXT_INFO into a map of extension name to raw value.
 *
 * @example
 * ```ts
 * import { decodeExtInfo, encodeExtInfo } from "./transport_messages.ts";
 * const m = decodeExtInfo(encodeExtInfo(new Map([["ping@openssh.com", new TextEncoder().encode("0")]])));
 * console.log(m.size); // 1
 * ```
 */
export function decodeExtInfo(payload: Uint8Array): Map<string, Uint8Array> {
  const r = new SshReader(payload);
  r.expectMessage(Msg.EXT_INFO, "EXT_INFO");
  const n = r.uint32("EXT_INFO nr-extensions");
  const out = new Map<string, Uint8Array>();
  for (let i = 0; i < n; i++) {
    const name = r.ascii(`EXT_INFO extension ${i} name`);
    out.set(name, r.string(`EXT_INFO extension "${quotePeerText(name, 64)}" value`));
  }
  r.end("EXT_INFO");
  return out;
}

/**
 * Encodes a message that carries one field after its number, the shape of
 * KEXDH_INIT / KEX_ECDH_INIT / KEX_HYBRID_INIT (RFC 4253 §8, RFC 5656 §4) and
 * KEX_DH_GEX_INIT (RFC 4419 §3). `field` is already wire-encoded (an mpint or
 * a string), exactly as it enters the exchange hash.
 *
 * @example
 * ```ts
 * import { encodeKexInitValue } from "./transport_messages.ts";
 * import { encodeString } from "./writer.ts";
 * encodeKexInitValue(30, encodeString(new Uint8Array(32)));
 * ```
 */
export function encodeKexInitValue(msg: number, field: Uint8Array): Uint8Array {
  return new SshWriter(field.length + 1).byte(msg).raw(field).finish();
}

/**
 * The KEX reply (KEXDH_REPLY, KEX_ECDH_REPLY, KEX_HYBRID_REPLY, KEX_DH_GEX_REPLY):
 * string K_S, the server's value (mpint or string), string signature.
 *
 * @example
 * ```ts
 * import type { KexReply } from "./transport_messages.ts";
 * const hostKeyBlob = (r: KexReply) => r.hostKey;
 * ```
 */
export interface KexReply {
  /** K_S, the server's public host key blob. */
  hostKey: Uint8Array;
  /** The server's value, raw (magnitude for mpint, bytes for string). */
  value: Uint8Array;
  /** The server's value exactly as encoded on the wire (for the exchange hash). */
  valueField: Uint8Array;
  /** The signature blob over the exchange hash. */
  signature: Uint8Array;
}

/**
 * Encodes a KEX reply numbered `msg`; `reply.valueField` is already wire-encoded.
 *
 * @example
 * ```ts
 * import { encodeKexReply } from "./transport_messages.ts";
 * import { encodeString } from "./writer.ts";
 * encodeKexReply(31, { hostKey: new Uint8Array(51), valueField: encodeString(new Uint8Array(32)), signature: new Uint8Array(83) });
 * ```
 */
export function encodeKexReply(
  msg: number,
  reply: Pick<KexReply, "hostKey" | "valueField" | "signature">,
): Uint8Array {
  const { hostKey, valueField, signature } = reply;
  return new SshWriter(hostKey.length + valueField.length + signature.length + 16)
    .byte(msg).string(hostKey).raw(valueField).string(signature).finish();
}

/**
 * Decodes one field, mpint or string, returning the raw value and its encoding.
 */
function readValue(
  r: SshReader,
  as: { encoding: "mpint" | "string"; field: string },
): [Uint8Array, Uint8Array] {
  const { encoding, field } = as;
  const start = r.offset;
  const value = encoding === "mpint" ? r.mpintBytes(field) : r.string(field);
  return [value, r.bytes.subarray(start, r.offset)];
}

/**
 * Decodes a KEX init message numbered `as.msg` (one value field, an
 * `as.encoding`); returns the raw value and the field as encoded.
 *
 * @example
 * ```ts
 * import { decodeKexInitValue, encodeKexInitValue } from "./transport_messages.ts";
 * import { encodeString } from "./writer.ts";
 * const [v] = decodeKexInitValue(encodeKexInitValue(30, encodeString(new Uint8Array(32))), { msg: 30, encoding: "string" });
 * console.log(v.length); // 32
 * ```
 */
export function decodeKexInitValue(
  payload: Uint8Array,
  as: { msg: number; encoding: "mpint" | "string" },
): [Uint8Array, Uint8Array] {
  const { msg, encoding } = as;
  const r = new SshReader(payload);
  r.expectMessage(msg, "KEX init");
  const v = readValue(r, { encoding, field: encoding === "mpint" ? "e" : "Q_C" });
  r.end("KEX init");
  return v;
}

/**
 * Decodes a KEX reply numbered `as.msg` whose server value is an `as.encoding`.
 *
 * @example
 * ```ts
 * import { decodeKexReply, encodeKexReply } from "./transport_messages.ts";
 * import { encodeString } from "./writer.ts";
 * const r = decodeKexReply(encodeKexReply(31, { hostKey: new Uint8Array(4), valueField: encodeString(new Uint8Array(32)), signature: new Uint8Array(8) }), { msg: 31, encoding: "string" });
 * console.log(r.value.length); // 32
 * ```
 */
export function decodeKexReply(
  payload: Uint8Array,
  as: { msg: number; encoding: "mpint" | "string" },
): KexReply {
  const { msg, encoding } = as;
  const r = new SshReader(payload);
  r.expectMessage(msg, "KEX reply");
  const hostKey = r.string("K_S (server host key)");
  const [value, valueField] = readValue(r, {
    encoding,
    field: encoding === "mpint" ? "f" : "Q_S",
  });
  const signature = r.string("signature of H");
  r.end("KEX reply");
  return { hostKey, value, valueField, signature };
}

/**
 * SSH_MSG_KEX_DH_GEX_REQUEST (RFC 4419 §3): sizes in bits.
 *
 * @example
 * ```ts
 * import type { GexRequest } from "./transport_messages.ts";
 * const r: GexRequest = { min: 2048, n: 3072, max: 8192 };
 * ```
 */
export interface GexRequest {
  /** Minimal acceptable group size. */
  min: number;
  /** Preferred group size. */
  n: number;
  /** Maximal acceptable group size. */
  max: number;
}

/**
 * Encodes SSH_MSG_KEX_DH_GEX_REQUEST.
 *
 * @example
 * ```ts
 * import { encodeGexRequest } from "./transport_messages.ts";
 * encodeGexRequest({ min: 2048, n: 3072, max: 8192 });
 * ```
 */
export function encodeGexRequest(g: GexRequest): Uint8Array {
  return new SshWriter(13).byte(Msg.KEX_DH_GEX_REQUEST).uint32(g.min).uint32(g.n).uint32(g.max)
    .finish();
}

/**
 * Decodes SSH_MSG_KEX_DH_GEX_REQUEST.
 *
 * @example
 * ```ts
 * import { decodeGexRequest, encodeGexRequest } from "./transport_messages.ts";
 * console.log(decodeGexRequest(encodeGexRequest({ min: 2048, n: 3072, max: 8192 })).n); // 3072
 * ```
 */
export function decodeGexRequest(payload: Uint8Array): GexRequest {
  const r = new SshReader(payload);
  r.expectMessage(Msg.KEX_DH_GEX_REQUEST, "KEX_DH_GEX_REQUEST");
  const g = { min: r.uint32("GEX min"), n: r.uint32("GEX n"), max: r.uint32("GEX max") };
  r.end("KEX_DH_GEX_REQUEST");
  return g;
}

/**
 * Encodes SSH_MSG_KEX_DH_GEX_GROUP (p, g).
 *
 * @example
 * ```ts
 * import { encodeGexGroup } from "./transport_messages.ts";
 * encodeGexGroup(23n, 5n);
 * ```
 */
export function encodeGexGroup(p: bigint, g: bigint): Uint8Array {
  return new SshWriter(1100).byte(Msg.KEX_DH_GEX_GROUP).mpint(p).mpint(g).finish();
}

/**
 * Decodes SSH_MSG_KEX_DH_GEX_GROUP.
 *
 * @example
 * ```ts
 * import { decodeGexGroup, encodeGexGroup } from "./transport_messages.ts";
 * console.log(decodeGexGroup(encodeGexGroup(23n, 5n))); // { p: 23n, g: 5n }
 * ```
 */
export function decodeGexGroup(payload: Uint8Array): { p: bigint; g: bigint } {
  const r = new SshReader(payload);
  r.expectMessage(Msg.KEX_DH_GEX_GROUP, "KEX_DH_GEX_GROUP");
  const p = r.mpint("GEX p");
  const g = r.mpint("GEX g");
  r.end("KEX_DH_GEX_GROUP");
  return { p, g };
}
