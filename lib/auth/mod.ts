/**
 * User authentication (RFC 4252, RFC 4256): the client side
 * ({@link authenticate} with none, password, publickey, agent and
 * keyboard-interactive methods) and the server side
 * ({@link serveAuthentication} with a handler per method, and
 * {@link authorizedKeysHandler} for OpenSSH's authorized_keys files).
 *
 * @example
 * ```ts
 * import { authorizedKeysHandler, type ServerAuthHandlers } from "./mod.ts";
 * const handlers: ServerAuthHandlers = {
 *   publicKey: authorizedKeysHandler({ path: "%h/.ssh/authorized_keys" }),
 * };
 * console.log(typeof handlers.publicKey); // "function"
 * ```
 *
 * @module
 */
export {
  type Agent,
  authenticate,
  AuthenticationError,
  type AuthMethod,
  type ClientAuthOptions,
} from "./client.ts";
export {
  type AuthResult,
  serveAuthentication,
  type ServerAuthHandlers,
  type ServerAuthOptions,
  type SessionRestrictions,
} from "./server.ts";
export {
  authorizedKeysHandler,
  type AuthorizedKeysSource,
  type PublicKeyContext,
} from "./authorized_keys_policy.ts";
export type { InfoPrompt } from "../wire/auth_messages.ts";
// What this layer's API mentions from the layers below.
export { SshError } from "../wire/errors.ts";
export { DisconnectError } from "../wire/errors.ts";
export type { DebugMessage, GexRequest } from "../wire/transport_messages.ts";
export type { PrivateKey, PublicKey } from "../keys/types.ts";
export type { AuthorizedKeyPermissions, PermitSpec } from "../keys/authorized_keys.ts";
export type { RandomSource } from "../crypto/types.ts";
export type {
  ByteStreamPair,
  DisconnectEvent,
  HostKeyInfo,
  HostKeyVerifier,
  KexEvent,
  MacErrorEvent,
  NegotiatedAlgorithms,
  Transport,
  TransportOptions,
} from "../transport/transport.ts";
export type { PeerVersion } from "../transport/version.ts";
export type { Payload } from "../transport/packets.ts";
