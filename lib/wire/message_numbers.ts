/**
 * SSH message numbers (RFC 4250 §4.1, RFC 8308, RFC 4419, RFC 5656, RFC 4256).
 *
 * @module
 */

/**
 * Message numbers by name.
 *
 * @example
 * ```ts
 * import { Msg } from "./message_numbers.ts";
 * console.log(Msg.KEXINIT); // 20
 * ```
 */
export const Msg = {
  DISCONNECT: 1,
  IGNORE: 2,
  UNIMPLEMENTED: 3,
  DEBUG: 4,
  SERVICE_REQUEST: 5,
  SERVICE_ACCEPT: 6,
  EXT_INFO: 7,
  KEXINIT: 20,
  NEWKEYS: 21,
  /** KEXDH_INIT, KEX_ECDH_INIT, KEX_HYBRID_INIT (same number, RFC 5656 §7.1). */
  KEXDH_INIT: 30,
  /** KEXDH_REPLY, KEX_ECDH_REPLY, KEX_HYBRID_REPLY. */
  KEXDH_REPLY: 31,
  /** Diffie-Hellman group exchange (RFC 4419 §5). */
  KEX_DH_GEX_GROUP: 31,
  KEX_DH_GEX_INIT: 32,
  KEX_DH_GEX_REPLY: 33,
  KEX_DH_GEX_REQUEST: 34,
  USERAUTH_REQUEST: 50,
  USERAUTH_FAILURE: 51,
  USERAUTH_SUCCESS: 52,
  USERAUTH_BANNER: 53,
  /**
   * Numbers 60-79 belong to the authentication method in use (RFC 4252 §6),
   * so 60 has three names. "publickey" (RFC 4252 §7): the key is acceptable.
   */
  USERAUTH_PK_OK: 60,
  /** "password" (RFC 4252 §8): the server asks for a new password. */
  USERAUTH_PASSWD_CHANGEREQ: 60,
  /** "keyboard-interactive" (RFC 4256 §3.2): prompts for the user. */
  USERAUTH_INFO_REQUEST: 60,
  /** "keyboard-interactive" (RFC 4256 §3.4): the user's answers. */
  USERAUTH_INFO_RESPONSE: 61,
  GLOBAL_REQUEST: 80,
  REQUEST_SUCCESS: 81,
  REQUEST_FAILURE: 82,
  CHANNEL_OPEN: 90,
  CHANNEL_OPEN_CONFIRMATION: 91,
  CHANNEL_OPEN_FAILURE: 92,
  CHANNEL_WINDOW_ADJUST: 93,
  CHANNEL_DATA: 94,
  CHANNEL_EXTENDED_DATA: 95,
  CHANNEL_EOF: 96,
  CHANNEL_CLOSE: 97,
  CHANNEL_REQUEST: 98,
  CHANNEL_SUCCESS: 99,
  CHANNEL_FAILURE: 100,
} as const;

/**
 * Whether `msg` is in RFC 4250 §4.1.2's range for key-exchange-method
 * messages (30 to 49: KEXDH_*, KEX_ECDH_*, KEX_DH_GEX_*, whose meaning
 * depends on the method negotiated).
 *
 * @example
 * ```ts
 * import { isKexMethodMessage, Msg } from "./message_numbers.ts";
 * console.log(isKexMethodMessage(30), isKexMethodMessage(Msg.KEXINIT)); // true false
 * ```
 */
export function isKexMethodMessage(msg: number): boolean {
  return msg >= 30 && msg <= 49;
}

/**
 * Whether `msg` belongs to a layer above the transport (RFC 4250 §4.1.2:
 * 50 and up, user authentication then the connection protocol).
 *
 * @example
 * ```ts
 * import { isAboveTransport, Msg } from "./message_numbers.ts";
 * console.log(isAboveTransport(Msg.CHANNEL_DATA), isAboveTransport(Msg.IGNORE)); // true false
 * ```
 */
export function isAboveTransport(msg: number): boolean {
  return msg >= 50;
}
