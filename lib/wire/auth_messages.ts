/**
 * Codecs for the user authentication messages (RFC 4252 §§5-8).
 *
 * @module
 */
import { WireError } from "./errors.ts";
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

/**
 * SSH_MSG_USERAUTH_REQUEST for "none" (RFC 4252 §5.2), "password" (§8) and
 * "keyboard-interactive" (RFC 4256 §3.1).
 *
 * @example
 * ```ts
 * import { encodeSimpleAuthRequest } from "./auth_messages.ts";
 * encodeSimpleAuthRequest({ user: "alice", service: "ssh-connection", method: "password", password: "s3cret" });
 * ```
 */
export function encodeSimpleAuthRequest(
  r:
    | { user: string; service: string; method: "none" }
    | { user: string; service: string; method: "password"; password: string }
    | { user: string; service: string; method: "keyboard-interactive"; submethods?: string },
): Uint8Array {
  const w = new SshWriter(64).byte(Msg.USERAUTH_REQUEST).string(r.user).string(r.service).string(
    r.method,
  );
  if (r.method === "password") w.boolean(false).string(r.password);
  if (r.method === "keyboard-interactive") w.string("").string(r.submethods ?? "");
  return w.finish();
}

/**
 * Message 60 in the "publickey" method: SSH_MSG_USERAUTH_PK_OK (RFC 4252 §7).
 *
 * @example
 * ```ts
 * import { encodePkOk } from "./auth_messages.ts";
 * encodePkOk("ssh-ed25519", new Uint8Array(51));
 * ```
 */
export function encodePkOk(algorithm: string, key: Uint8Array): Uint8Array {
  return new SshWriter(128).byte(Msg.USERAUTH_PK_OK).string(algorithm).string(key).finish();
}

/**
 * A keyboard-interactive prompt (RFC 4256 §3.2).
 *
 * @example
 * ```ts
 * import type { InfoPrompt } from "./auth_messages.ts";
 * const p: InfoPrompt = { prompt: "Password: ", echo: false };
 * ```
 */
export interface InfoPrompt {
  /** Prompt text. */
  prompt: string;
  /** Whether the answer may be echoed. */
  echo: boolean;
}

/**
 * SSH_MSG_USERAUTH_INFO_REQUEST (RFC 4256 §3.2).
 *
 * @example
 * ```ts
 * import { decodeInfoRequest, encodeInfoRequest } from "./auth_messages.ts";
 * const m = decodeInfoRequest(encodeInfoRequest({ name: "", instruction: "", prompts: [{ prompt: "Code: ", echo: true }] }));
 * console.log(m.prompts.length); // 1
 * ```
 */
export function encodeInfoRequest(
  m: { name: string; instruction: string; prompts: InfoPrompt[] },
): Uint8Array {
  const w = new SshWriter(128).byte(Msg.USERAUTH_INFO_REQUEST).string(m.name).string(m.instruction)
    .string("").uint32(
      m.prompts.length,
    );
  for (const p of m.prompts) w.string(p.prompt).boolean(p.echo);
  return w.finish();
}

/**
 * Decodes SSH_MSG_USERAUTH_INFO_REQUEST.
 *
 * @example
 * ```ts
 * import { decodeInfoRequest, encodeInfoRequest } from "./auth_messages.ts";
 * decodeInfoRequest(encodeInfoRequest({ name: "n", instruction: "i", prompts: [] }));
 * ```
 */
export function decodeInfoRequest(
  payload: Uint8Array,
): { name: string; instruction: string; prompts: InfoPrompt[] } {
  const r = new SshReader(payload);
  r.expectMessage(Msg.USERAUTH_INFO_REQUEST, "USERAUTH_INFO_REQUEST");
  const name = r.utf8("name");
  const instruction = r.utf8("instruction");
  r.string("language tag");
  const n = r.uint32("num-prompts");
  if (n > 256) {
    throw new WireError(`${n} prompts is more than 256`, {
      field: "num-prompts",
      offset: r.offset - 4,
    });
  }
  const prompts: InfoPrompt[] = [];
  for (let i = 0; i < n; i++) {
    prompts.push({ prompt: r.utf8(`prompt ${i}`), echo: r.boolean(`echo ${i}`) });
  }
  return { name, instruction, prompts };
}

/**
 * SSH_MSG_USERAUTH_INFO_RESPONSE (RFC 4256 §3.4).
 *
 * @example
 * ```ts
 * import { decodeInfoResponse, encodeInfoResponse } from "./auth_messages.ts";
 * console.log(decodeInfoResponse(encodeInfoResponse(["123456"]))); // ["123456"]
 * ```
 */
export function encodeInfoResponse(responses: string[]): Uint8Array {
  const w = new SshWriter(64).byte(Msg.USERAUTH_INFO_RESPONSE).uint32(responses.length);
  for (const x of responses) w.string(x);
  return w.finish();
}

/**
 * Decodes SSH_MSG_USERAUTH_INFO_RESPONSE.
 *
 * @example
 * ```ts
 * import { decodeInfoResponse, encodeInfoResponse } from "./auth_messages.ts";
 * decodeInfoResponse(encodeInfoResponse([]));
 * ```
 */
export function decodeInfoResponse(payload: Uint8Array): string[] {
  const r = new SshReader(payload);
  r.expectMessage(Msg.USERAUTH_INFO_RESPONSE, "USERAUTH_INFO_RESPONSE");
  const n = r.uint32("num-responses");
  if (n > 256) {
    throw new WireError(`${n} responses is more than 256`, { field: "num-responses", offset: 1 });
  }
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(r.utf8(`response ${i}`));
  r.end("USERAUTH_INFO_RESPONSE");
  return out;
}

/**
 * Encodes SSH_MSG_USERAUTH_BANNER (RFC 4252 §5.4).
 *
 * @example
 * ```ts
 * import { encodeAuthBanner } from "./auth_messages.ts";
 * encodeAuthBanner("Authorized use only\n");
 * ```
 */
export function encodeAuthBanner(message: string): Uint8Array {
  return new SshWriter(message.length + 16).byte(Msg.USERAUTH_BANNER).string(message).string("")
    .finish();
}
