/**
 * Codecs for the user authentication messages (RFC 4252 §§5-8).
 *
 * @module
 */
import { Msg } from "./message_numbers.ts";
import { SshReader } from "./reader.ts";
import { SshWriter } from "./writer.ts";

/**
 * The "publickey" method's fields of SSH_MSG_USERAUTH_REQUEST (RFC 4252 §7).
 *
 * @example
 * ```ts
 * import type { PublicKeyAuthRequest } from "./auth_messages.ts";
 * const query: PublicKeyAuthRequest = {
 *   user: "alice", service: "ssh-connection", algorithm: "ssh-ed25519", key: new Uint8Array(51),
 * };
 * ```
 */
export interface PublicKeyAuthRequest {
  /** User name (UTF-8). */
  user: string;
  /** Service to start after authentication, normally "ssh-connection". */
  service: string;
  /** Public key algorithm name (a signature algorithm, e.g. "rsa-sha2-256"). */
  algorithm: string;
  /** Public key blob. */
  key: Uint8Array;
  /** Signature blob; absent for a query ("would this key be accepted?"). */
  signature?: Uint8Array;
}

/**
 * The data a client signs for "publickey" authentication (RFC 4252 §7):
 * string session_id, then the request up to the signature with the boolean TRUE.
 *
 * @example
 * ```ts
 * import { publicKeySignedData } from "./auth_messages.ts";
 * const data = publicKeySignedData(new Uint8Array(32), {
 *   user: "alice", service: "ssh-connection", algorithm: "ssh-ed25519", key: new Uint8Array(51),
 * });
 * ```
 */
export function publicKeySignedData(sessionId: Uint8Array, r: PublicKeyAuthRequest): Uint8Array {
  return new SshWriter(256).string(sessionId).byte(Msg.USERAUTH_REQUEST).string(r.user).string(
    r.service,
  )
    .string("publickey").boolean(true).string(r.algorithm).string(r.key).finish();
}

/**
 * Encodes a "publickey" SSH_MSG_USERAUTH_REQUEST (a query when there is no signature).
 *
 * @example
 * ```ts
 * import { encodePublicKeyAuthRequest } from "./auth_messages.ts";
 * encodePublicKeyAuthRequest({ user: "alice", service: "ssh-connection", algorithm: "ssh-ed25519", key: new Uint8Array(51) });
 * ```
 */
export function encodePublicKeyAuthRequest(r: PublicKeyAuthRequest): Uint8Array {
  const w = new SshWriter(256).byte(Msg.USERAUTH_REQUEST).string(r.user).string(r.service).string(
    "publickey",
  )
    .boolean(r.signature !== undefined).string(r.algorithm).string(r.key);
  if (r.signature) w.string(r.signature);
  return w.finish();
}

/**
 * The common head of SSH_MSG_USERAUTH_REQUEST: user, service, method; the
 * method-specific fields follow at `reader.offset`.
 *
 * @example
 * ```ts
 * import { decodeAuthRequestHead, encodePublicKeyAuthRequest } from "./auth_messages.ts";
 * const p = encodePublicKeyAuthRequest({ user: "a", service: "ssh-connection", algorithm: "ssh-ed25519", key: new Uint8Array(1) });
 * console.log(decodeAuthRequestHead(p).method); // "publickey"
 * ```
 */
export function decodeAuthRequestHead(payload: Uint8Array): {
  user: string;
  service: string;
  method: string;
  reader: SshReader;
} {
  const r = new SshReader(payload);
  r.expectMessage(Msg.USERAUTH_REQUEST, "USERAUTH_REQUEST");
  return {
    user: r.utf8("user name"),
    service: r.ascii("service name"),
    method: r.ascii("method name"),
    reader: r,
  };
}

/**
 * Encodes SSH_MSG_USERAUTH_FAILURE (RFC 4252 §5.1).
 *
 * @example
 * ```ts
 * import { encodeAuthFailure } from "./auth_messages.ts";
 * encodeAuthFailure(["publickey", "password"], false);
 * ```
 */
export function encodeAuthFailure(methods: readonly string[], partialSuccess: boolean): Uint8Array {
  return new SshWriter(64).byte(Msg.USERAUTH_FAILURE).nameList(methods).boolean(partialSuccess)
    .finish();
}

/**
 * Decodes SSH_MSG_USERAUTH_FAILURE.
 *
 * @example
 * ```ts
 * import { decodeAuthFailure, encodeAuthFailure } from "./auth_messages.ts";
 * console.log(decodeAuthFailure(encodeAuthFailure(["publickey"], true))); // { methods: ["publickey"], partialSuccess: true }
 * ```
 */
export function decodeAuthFailure(
  payload: Uint8Array,
): { methods: string[]; partialSuccess: boolean } {
  const r = new SshReader(payload);
  r.expectMessage(Msg.USERAUTH_FAILURE, "USERAUTH_FAILURE");
  const out = {
    methods: r.nameList("authentications that can continue"),
    partialSuccess: r.boolean("partial success"),
  };
  r.end("USERAUTH_FAILURE");
  return out;
}

/**
 * Decodes SSH_MSG_USERAUTH_BANNER (RFC 4252 §5.4).
 *
 * @example
 * ```ts
 * import { decodeAuthBanner } from "./auth_messages.ts";
 * import { SshWriter } from "./writer.ts";
 * console.log(decodeAuthBanner(new SshWriter().byte(53).string("hi").string("").finish()).message); // "hi"
 * ```
 */
export function decodeAuthBanner(payload: Uint8Array): { message: string; language: string } {
  const r = new SshReader(payload);
  r.expectMessage(Msg.USERAUTH_BANNER, "USERAUTH_BANNER");
  return {
    message: r.utf8("banner message"),
    language: r.remaining ? r.ascii("banner language tag") : "",
  };
}
