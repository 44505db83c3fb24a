/**
 * Interfaces every algorithm table of the crypto layer implements. The
 * transport negotiates by wire name and then only talks to these shapes.
 *
 * @module
 */
import type { MacError } from "./errors.ts";

/**
 * Source of cryptographically secure random bytes; injectable for
 * deterministic tests.
 *
 * @example
 * ```ts
 * import type { RandomSource } from "./types.ts";
 * const random: RandomSource = (n) => crypto.getRandomValues(new Uint8Array(n));
 * ```
 */
export type RandomSource = (length: number) => Uint8Array;

/**
 * The default {@link RandomSource}: WebCrypto's getRandomValues.
 *
 * @example
 * ```ts
 * import { defaultRandom } from "./types.ts";
 * console.log(defaultRandom(16).length); // 16
 * ```
 */
export const defaultRandom: RandomSource = (n: number): Uint8Array => {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) {
    crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65536)));
  }
  return out;
};

/**
 * A hash function as the KEX and the KDF use it (RFC 4253 §7.2, §8).
 *
 * @example
 * ```ts
 * import type { Hash } from "./types.ts";
 * function show(h: Hash) { console.log(h.name, h.outputLength); }
 * ```
 */
export interface Hash {
  /** "sha256", "sha384" or "sha512". */
  readonly name: "sha256" | "sha384" | "sha512";
  /** Digest size in bytes. */
  readonly outputLength: number;
  /** One-shot digest of the concatenation of `parts`. */
  digest(...parts: Uint8Array[]): Uint8Array;
}

/**
 * Outgoing packet protection for one direction: the negotiated cipher and
 * MAC (or an AEAD cipher alone) with their keys (RFC 4253 §6).
 *
 * @example
 * ```ts
 * import type { PacketSealer } from "./types.ts";
 * async function send(s: PacketSealer, seq: number, packet: Uint8Array) {
 *   return await s.seal(seq, packet);
 * }
 * ```
 */
export interface PacketSealer {
  /** Padding makes the encrypted part a multiple of this (at least 8). */
  readonly blockSize: number;
  /**
   * True when packet_length is sent outside the block-aligned encrypted part
   * (AES-GCM, -etm MACs, and chacha20-poly1305, which encrypts it apart): then
   * padding aligns `packet_length` itself, otherwise `4 + packet_length`.
   */
  readonly lengthApart: boolean;
  /** Bytes the sealed packet gains (MAC or tag). */
  readonly overhead: number;
  /**
   * Protects one packet. `packet` is the whole plaintext packet: uint32
   * packet_length, byte padding_length, payload, random padding. `seal` may
   * overwrite `packet` in place. With `spare`, the `overhead` bytes that
   * follow `packet` in its buffer are the sealer's too, so it can seal in
   * place and return a view of that buffer (the writer frames packets that
   * way: no copy, no second allocation). Returns exactly the bytes to send.
   */
  seal(seq: number, packet: Uint8Array, spare?: boolean): Promise<Uint8Array>;
  /**
   * Zeroes the key material this instance owns (its key copies, key
   * schedules, hash states); called once it is retired after a re-key (RFC
   * 4253 §9) or the connection ended, and never used after. What it cannot
   * reach (WebCrypto keys, runtime copies) is left to the garbage collector.
   */
  dispose?(): void;
}

/**
 * Options of {@link PacketOpener.open}. Absent on the normal path: the
 * transport passes an object only when the application opted in with
 * `TransportOptions.acceptMacError`.
 *
 * @example
 * ```ts
 * import type { OpenOptions } from "./types.ts";
 * const lenient: OpenOptions = { acceptMacError: (e) => e.seq < 10 };
 * ```
 */
export interface OpenOptions {
  /**
   * Called when a packet's MAC does not verify, by openers with a separate
   * MAC only (encrypt-and-MAC and -etm); returning true processes the packet
   * as if the MAC had verified (-etm decrypts anyway; encrypt-and-MAC returns
   * the plaintext it already has). AEAD openers (AES-GCM,
   * chacha20-poly1305) never call it: without a valid tag they have no
   * plaintext to give, so they always throw.
   */
  readonly acceptMacError?: (error: MacError) => boolean;
}

/**
 * Incoming packet protection for one direction.
 *
 * @example
 * ```ts
 * import type { PacketOpener } from "./types.ts";
 * async function lengthOf(o: PacketOpener, seq: number, first: Uint8Array) {
 *   return await o.decryptLength(seq, first.subarray(0, o.firstBlockSize));
 * }
 * ```
 */
export interface PacketOpener {
  /** Block size of the cipher (8 for "none"). */
  readonly blockSize: number;
  /** See {@link PacketSealer.lengthApart}. */
  readonly lengthApart: boolean;
  /** Bytes needed before the packet length is known (4 when the length is apart, else one block). */
  readonly firstBlockSize: number;
  /** MAC or tag bytes that follow the packet. */
  readonly macLength: number;
  /**
   * True when `decryptLength` is stateless and `open` calls may overlap
   * (made in sequence order): the reader may then decrypt several buffered
   * packets at once (AES-GCM, and AES-CTR with an -etm MAC: their lengths are
   * in clear).
   */
  readonly parallel?: boolean;
  /**
   * Returns packet_length from the first {@link firstBlockSize} bytes of a
   * packet. Must be called once per packet, before {@link open}.
   */
  decryptLength(seq: number, first: Uint8Array): Promise<number>;
  /**
   * Authenticates and decrypts one whole packet as received:
   * `4 + packet_length + macLength` bytes, starting with the same first
   * block given to {@link decryptLength}. Returns the plaintext from
   * padding_length to the end of the padding (packet_length bytes). May
   * decrypt in place. Throws {@link MacError} when the MAC or tag is wrong,
   * unless `options.acceptMacError` (non-AEAD openers only) accepts it.
   */
  open(seq: number, whole: Uint8Array, options?: OpenOptions): Promise<Uint8Array>;
  /**
   * Zeroes the key material this instance owns (its key copies, key
   * schedules, hash states); called once it is retired after a re-key (RFC
   * 4253 §9) or the connection ended, and never used after. What it cannot
   * reach (WebCrypto keys, runtime copies) is left to the garbage collector.
   */
  dispose?(): void;
}

/**
 * A cipher as negotiated by name (RFC 4253 §6.3).
 *
 * @example
 * ```ts
 * import type { CipherAlgorithm } from "./types.ts";
 * function describe(c: CipherAlgorithm) { return `${c.name}: ${c.keyLength * 8}-bit key`; }
 * ```
 */
export interface CipherAlgorithm {
  /** Wire name, e.g. "aes128-gcm@openssh.com". */
  readonly name: string;
  /** Key bytes taken from the KDF. */
  readonly keyLength: number;
  /** IV bytes taken from the KDF (0 for chacha20-poly1305). */
  readonly ivLength: number;
  /** Cipher block size (8 for chacha20-poly1305, as OpenSSH uses). */
  readonly blockSize: number;
  /** True when the cipher authenticates itself and the negotiated MAC is unused ("<implicit>"). */
  readonly aead: boolean;
  /** Builds the sealer; `mac` is undefined for AEAD ciphers. */
  sealer(key: Uint8Array, iv: Uint8Array, mac?: MacInstance): Promise<PacketSealer>;
  /** Builds the opener; `mac` is undefined for AEAD ciphers. */
  opener(key: Uint8Array, iv: Uint8Array, mac?: MacInstance): Promise<PacketOpener>;
}

/**
 * A MAC as negotiated by name (RFC 4253 §6.4, OpenSSH PROTOCOL §1.5 for -etm).
 *
 * @example
 * ```ts
 * import type { MacAlgorithm } from "./types.ts";
 * const isEtm = (m: MacAlgorithm) => m.etm;
 * ```
 */
export interface MacAlgorithm {
  /** Wire name, e.g. "hmac-sha2-256-etm@openssh.com". */
  readonly name: string;
  /** Key bytes taken from the KDF. */
  readonly keyLength: number;
  /** MAC bytes appended to each packet. */
  readonly macLength: number;
  /** Encrypt-then-MAC: packet_length in clear, MAC over the ciphertext. */
  readonly etm: boolean;
  /** Binds the key. */
  create(key: Uint8Array): MacInstance;
}

/**
 * A keyed MAC: `compute(seq, data)` = MAC(key, uint32 seq || data...).
 *
 * @example
 * ```ts
 * import type { MacInstance } from "./types.ts";
 * const tag = (m: MacInstance, body: Uint8Array) => m.compute(0, body);
 * const later = (m: MacInstance, body: Uint8Array) =>
 *   m.computeAsync?.(0, body) ?? Promise.resolve(m.compute(0, body));
 * ```
 */
export interface MacInstance {
  /** The algorithm this instance belongs to. */
  readonly algorithm: MacAlgorithm;
  /** MAC over uint32(seq) followed by `parts`. */
  compute(seq: number, ...parts: Uint8Array[]): Uint8Array;
  /**
   * The same MAC as {@link compute}, possibly computed off the JavaScript
   * thread (the HMACs use WebCrypto). The bytes of `parts` are read before
   * it returns, so the caller may reuse them at once. Optional: packet
   * code falls back to {@link compute} when it is absent.
   */
  computeAsync?(seq: number, ...parts: Uint8Array[]): Promise<Uint8Array>;
  /**
   * Zeroes the key material this instance owns (its key copies, key
   * schedules, hash states); called once it is retired after a re-key (RFC
   * 4253 §9) or the connection ended, and never used after. What it cannot
   * reach (WebCrypto keys, runtime copies) is left to the garbage collector.
   */
  dispose?(): void;
}

/**
 * A group for finite-field Diffie-Hellman: a safe prime and a generator.
 *
 * @example
 * ```ts
 * import type { DhGroup } from "./types.ts";
 * const tiny: DhGroup = { p: 23n, g: 5n };
 * ```
 */
export interface DhGroup {
  /** The prime modulus. */
  readonly p: bigint;
  /** The generator. */
  readonly g: bigint;
}

/**
 * The client half of a key exchange in progress.
 *
 * @example
 * ```ts
 * import type { KexClient } from "./types.ts";
 * const send = (k: KexClient) => k.publicValue;
 * ```
 */
export interface KexClient {
  /** Q_C, e or C_INIT, raw: the magnitude for mpint encodings, the bytes for string encodings. */
  readonly publicValue: Uint8Array;
  /** Computes the shared secret K (raw, see {@link KexAlgorithm.secretEncoding}) from the server's value; rejects with KexError when that value is invalid. */
  finish(serverPublic: Uint8Array): Promise<Uint8Array>;
}

/**
 * A key exchange method (RFC 4253 §8, RFC 5656 §4, RFC 8731, RFC 4419,
 * draft-ietf-sshm-mlkem-hybrid-kex).
 *
 * @example
 * ```ts
 * import type { KexAlgorithm } from "./types.ts";
 * const isGex = (k: KexAlgorithm) => k.kind === "gex";
 * ```
 */
export interface KexAlgorithm {
  /** Wire name. */
  readonly name: string;
  /** The exchange hash and the KDF hash. */
  readonly hash: Hash;
  /** "single": one INIT/REPLY round trip (messages 30/31); "gex": RFC 4419 group exchange. */
  readonly kind: "single" | "gex";
  /** How the public values appear in the messages and the exchange hash. */
  readonly publicEncoding: "mpint" | "string";
  /** How K appears in the exchange hash and the KDF. */
  readonly secretEncoding: "mpint" | "string";
  /**
   * Starts the client side; `group` is required for "gex". Asynchronous
   * because X25519 runs in the runtime's WebCrypto where it has it.
   */
  client(random: RandomSource, group?: DhGroup): Promise<KexClient>;
  /** Answers a client; rejects with KexError when the client's value is invalid. */
  server(
    clientPublic: Uint8Array,
    random: RandomSource,
    group?: DhGroup,
  ): Promise<{ publicValue: Uint8Array; secret: Uint8Array }>;
}
