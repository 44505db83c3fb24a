/**
 * The shape of a payload codec: one encode/decode pair per message or
 * request type.
 *
 * @module
 */

/**
 * Encodes a value to bytes and decodes it back; `decode` throws WireError
 * for malformed input.
 *
 * @example
 * ```ts
 * import type { Codec } from "./codec.ts";
 * const byte: Codec<number> = { encode: (n) => new Uint8Array([n]), decode: (b) => b[0] };
 * ```
 */
export interface Codec<T> {
  /** The value as bytes. */
  encode(value: T): Uint8Array;
  /** The bytes as a value. */
  decode(bytes: Uint8Array): T;
}
