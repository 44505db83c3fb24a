/**
 * Key derivation after a key exchange (RFC 4253 §7.2).
 *
 * @module
 */
import type { Hash } from "./types.ts";

/**
 * The six keys of RFC 4253 §7.2, by the letter that derives them.
 *
 * | letter | key |
 * |---|---|
 * | A | initial IV, client to server |
 * | B | initial IV, server to client |
 * | C | encryption key, client to server |
 * | D | encryption key, server to client |
 * | E | integrity key, client to server |
 * | F | integrity key, server to client |
 *
 * @example
 * ```ts
 * import type { KeyLetter } from "./kdf.ts";
 * const ivClientToServer: KeyLetter = "A";
 * ```
 */
export type KeyLetter = "A" | "B" | "C" | "D" | "E" | "F";

/**
 * What a key exchange hands the KDF (RFC 4253 §7.2).
 *
 * @example
 * ```ts
 * import type { KdfInput } from "./kdf.ts";
 * const first = (k: Uint8Array, h: Uint8Array): KdfInput => ({ kEncoded: k, h, sessionId: h });
 * ```
 */
export interface KdfInput {
  /**
   * The shared secret K exactly as it appears in the exchange hash: an
   * `mpint` (or, for mlkem768x25519-sha256, a `string`) including its
   * uint32 length prefix. The caller encodes it.
   */
  readonly kEncoded: Uint8Array;
  /** The exchange hash H of this key exchange. */
  readonly h: Uint8Array;
  /** The exchange hash of the first key exchange of the connection. */
  readonly sessionId: Uint8Array;
}

/**
 * Derives one key (RFC 4253 §7.2):
 *
 * ```text
 * K1 = HASH(K || H || X || session_id)   X is the single byte "A".."F"
 * K2 = HASH(K || H || K1)
 * K3 = HASH(K || H || K1 || K2)
 * key = first `length` bytes of K1 || K2 || K3 || ...
 * ```
 *
 * @example
 * ```ts
 * import { deriveKey } from "./kdf.ts";
 * import { SHA256 } from "./hash.ts";
 * import { encodeMpintBytes } from "../wire/writer.ts";
 * const kEncoded = encodeMpintBytes(new Uint8Array([0x12, 0x34]));
 * const h = SHA256.digest(new Uint8Array([1]));
 * const key = deriveKey(SHA256, { kEncoded, h, sessionId: h }, { letter: "C", length: 64 });
 * console.log(key.length); // 64
 * ```
 */
export function deriveKey(
  hash: Hash,
  input: KdfInput,
  options: { letter: KeyLetter; length: number },
): Uint8Array {
  const { kEncoded, h, sessionId } = input;
  const { letter, length } = options;
  if (!Number.isInteger(length) || length < 0) {
    throw new RangeError(`deriveKey: key length ${length} is not a non-negative integer`);
  }
  if (length === 0) return new Uint8Array(0);
  const x = new Uint8Array([letter.charCodeAt(0)]);
  const size = hash.outputLength;
  const all = new Uint8Array(Math.ceil(length / size) * size);
  all.set(hash.digest(kEncoded, h, x, sessionId), 0);
  // K_n = HASH(K || H || K_1 || ... || K_(n-1)): the previous blocks are a
  // prefix of `all`, passed as a view, never re-concatenated.
  for (let have = size; have < length; have += size) {
    all.set(hash.digest(kEncoded, h, all.subarray(0, have)), have);
  }
  if (all.length === length) return all;
  const out = all.slice(0, length);
  all.fill(0);
  return out;
}

/**
 * Lengths, in bytes, of the six keys one key exchange produces.
 *
 * @example
 * ```ts
 * import type { KeyLengths } from "./kdf.ts";
 * // aes256-ctr + hmac-sha2-256 in both directions
 * const l: KeyLengths = { ivCs: 16, ivSc: 16, encCs: 32, encSc: 32, macCs: 32, macSc: 32 };
 * ```
 */
export interface KeyLengths {
  /** A: IV client to server. */
  readonly ivCs: number;
  /** B: IV server to client. */
  readonly ivSc: number;
  /** C: encryption key client to server. */
  readonly encCs: number;
  /** D: encryption key server to client. */
  readonly encSc: number;
  /** E: MAC key client to server. */
  readonly macCs: number;
  /** F: MAC key server to client. */
  readonly macSc: number;
}

/**
 * The six keys of one key exchange (RFC 4253 §7.2).
 *
 * @example
 * ```ts
 * import type { DerivedKeys } from "./kdf.ts";
 * const ivFor = (k: DerivedKeys, client: boolean) => client ? k.ivCs : k.ivSc;
 * ```
 */
export interface DerivedKeys {
  /** A: IV client to server. */
  readonly ivCs: Uint8Array;
  /** B: IV server to client. */
  readonly ivSc: Uint8Array;
  /** C: encryption key client to server. */
  readonly encCs: Uint8Array;
  /** D: encryption key server to client. */
  readonly encSc: Uint8Array;
  /** E: MAC key client to server. */
  readonly macCs: Uint8Array;
  /** F: MAC key server to client. */
  readonly macSc: Uint8Array;
}

/**
 * Derives all six keys (RFC 4253 §7.2); see {@link deriveKey}.
 *
 * @example
 * ```ts
 * import { deriveKeys } from "./kdf.ts";
 * import { SHA512 } from "./hash.ts";
 * import { encodeMpintBytes } from "../wire/writer.ts";
 * const kEncoded = encodeMpintBytes(new Uint8Array(32).fill(7));
 * const h = SHA512.digest(kEncoded);
 * const keys = deriveKeys(SHA512, { kEncoded, h, sessionId: h }, {
 *   ivCs: 12, ivSc: 12, encCs: 32, encSc: 32, macCs: 0, macSc: 0,
 * });
 * console.log(keys.encSc.length); // 32
 * ```
 */
export function deriveKeys(hash: Hash, input: KdfInput, lengths: KeyLengths): DerivedKeys {
  const one = (letter: KeyLetter, length: number) => deriveKey(hash, input, { letter, length });
  return {
    ivCs: one("A", lengths.ivCs),
    ivSc: one("B", lengths.ivSc),
    encCs: one("C", lengths.encCs),
    encSc: one("D", lengths.encSc),
    macCs: one("E", lengths.macCs),
    macSc: one("F", lengths.macSc),
  };
}
