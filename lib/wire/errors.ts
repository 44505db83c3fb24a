/**
 * Typed errors shared by every layer of rxssh.
 *
 * @module
 */
import { quotePeerText } from "./quote.ts";

/**
 * SSH_MSG_DISCONNECT reason codes (RFC 4253 §11.1).
 *
 * @example
 * ```ts
 * import { DisconnectReason } from "./errors.ts";
 * console.log(DisconnectReason.MAC_ERROR); // 5
 * ```
 */
export const DisconnectReason = {
  HOST_NOT_ALLOWED_TO_CONNECT: 1,
  PROTOCOL_ERROR: 2,
  KEY_EXCHANGE_FAILED: 3,
  RESERVED: 4,
  MAC_ERROR: 5,
  COMPRESSION_ERROR: 6,
  SERVICE_NOT_AVAILABLE: 7,
  PROTOCOL_VERSION_NOT_SUPPORTED: 8,
  HOST_KEY_NOT_VERIFIABLE: 9,
  CONNECTION_LOST: 10,
  BY_APPLICATION: 11,
  TOO_MANY_CONNECTIONS: 12,
  AUTH_CANCELLED_BY_USER: 13,
  NO_MORE_AUTH_METHODS_AVAILABLE: 14,
  ILLEGAL_USER_NAME: 15,
} as const;

/**
 * A disconnect reason code; see {@link DisconnectReason}.
 *
 * @example
 * ```ts
 * import type { DisconnectReasonCode } from "./errors.ts";
 * const code: DisconnectReasonCode = 2;
 * ```
 */
export type DisconnectReasonCode = (typeof DisconnectReason)[keyof typeof DisconnectReason];

/**
 * The symbolic name of a disconnect reason code, e.g. `"MAC_ERROR"` for 5.
 *
 * @example
 * ```ts
 * import { disconnectReasonName } from "./errors.ts";
 * console.log(disconnectReasonName(3)); // "KEY_EXCHANGE_FAILED"
 * ```
 */
export function disconnectReasonName(code: number): string {
  for (const [name, value] of Object.entries(DisconnectReason)) {
    if (value === code) return name;
  }
  return `UNKNOWN_${code}`;
}

/**
 * Base class of every error rxssh throws on purpose.
 *
 * @example
 * ```ts
 * import { SshError } from "./errors.ts";
 * try { throw new SshError("boom"); } catch (e) { console.log(e instanceof SshError); }
 * ```
 */
export class SshError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * Bytes that do not decode as the SSH wire format says they must (RFC 4251 §5).
 * Names the field that failed and the byte offset within the message.
 *
 * @example
 * ```ts
 * import { WireError } from "./errors.ts";
 * const e = new WireError("string length 9 exceeds the 3 bytes left", { field: "host key", offset: 4 });
 * console.log(e.field, e.offset);
 * ```
 */
export class WireError extends SshError {
  /** Which field was being decoded. */
  readonly field: string;
  /** Offset of the field within the decoded buffer. */
  readonly offset: number;
  /** Creates the error: `problem` with the field `at.field` at byte `at.offset`. */
  constructor(problem: string, at: { field: string; offset: number }) {
    super(`${at.field} at offset ${at.offset}: ${problem}`);
    this.field = at.field;
    this.offset = at.offset;
  }
}

/**
 * The SSH connection ended: either side sent SSH_MSG_DISCONNECT, or rxssh
 * detected a condition that ends it. `reason` is the RFC 4253 §11.1 code,
 * `local` tells whether this side decided it.
 *
 * @example
 * ```ts
 * import { DisconnectError, DisconnectReason } from "./errors.ts";
 * const e = new DisconnectError(DisconnectReason.PROTOCOL_ERROR, "unexpected message 42", { local: true });
 * console.log(e.reasonName); // "PROTOCOL_ERROR"
 * ```
 */
export class DisconnectError extends SshError {
  /** RFC 4253 §11.1 reason code. */
  readonly reason: number;
  /**
   * Human readable description (ours or the peer's). The peer's is kept as
   * received, so it is peer-controlled text: {@link Error.message} quotes it
   * (control characters escaped, cut at 400 characters, as sshd logs it).
   */
  readonly description: string;
  /** True when this side ended the connection, false when the peer did. */
  readonly local: boolean;
  /** Creates the error. */
  constructor(
    reason: number,
    description: string,
    options: { local: boolean; cause?: unknown },
  ) {
    super(
      `${options.local ? "disconnected" : "peer disconnected"}: ${
        disconnectReasonName(reason)
      } (${reason}): ${options.local ? description : quotePeerText(description, 400)}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.reason = reason;
    this.description = description;
    this.local = options.local;
  }
  /** Symbolic name of {@link reason}. */
  get reasonName(): string {
    return disconnectReasonName(this.reason);
  }
}
