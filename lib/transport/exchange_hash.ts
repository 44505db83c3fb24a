/**
 * The exchange hash H (RFC 4253 §8, RFC 5656 §4, RFC 4419 §3, RFC 8731 §3,
 * draft-ietf-sshm-mlkem-hybrid-kex) and the wire encodings of the values it
 * covers. One function for every method: the methods differ only in how the
 * public values and K are encoded, and in GEX's extra group fields.
 *
 * @module
 */
import type { DhGroup, KexAlgorithm } from "../crypto/types.ts";
import type { GexRequest } from "../wire/transport_messages.ts";
import { encodeMpintBytes, encodeString, SshWriter } from "../wire/writer.ts";

/**
 * Encodes a raw public value (e, f, Q_C, Q_S, C_INIT, S_REPLY) as the method says.
 *
 * @example
 * ```ts
 * import { encodePublicValue } from "./exchange_hash.ts";
 * import { KEX_ALGORITHMS } from "../crypto/kex.ts";
 * console.log(encodePublicValue(KEX_ALGORITHMS.get("curve25519-sha256")!, new Uint8Array(32)).length); // 36
 * ```
 */
export function encodePublicValue(method: KexAlgorithm, raw: Uint8Array): Uint8Array {
  return method.publicEncoding === "mpint" ? encodeMpintBytes(raw) : encodeString(raw);
}

/**
 * Encodes the shared secret K as the method says (mpint, or string for the
 * post-quantum hybrids).
 *
 * @example
 * ```ts
 * import { encodeSharedSecret } from "./exchange_hash.ts";
 * import { KEX_ALGORITHMS } from "../crypto/kex.ts";
 * console.log(encodeSharedSecret(KEX_ALGORITHMS.get("mlkem768x25519-sha256")!, new Uint8Array(32)).length); // 36
 * ```
 */
export function encodeSharedSecret(method: KexAlgorithm, secret: Uint8Array): Uint8Array {
  return method.secretEncoding === "mpint" ? encodeMpintBytes(secret) : encodeString(secret);
}

/**
 * The inputs of the exchange hash. `clientValue`, `serverValue` and
 * `sharedSecret` are already wire-encoded (as they were on the wire).
 *
 * @example
 * ```ts
 * import type { ExchangeHashInput } from "./exchange_hash.ts";
 * const describe = (i: ExchangeHashInput) => `${i.clientVersion} -> ${i.serverVersion}`;
 * ```
 */
export interface ExchangeHashInput {
  /** V_C, without CR LF. */
  clientVersion: string;
  /** V_S, without CR LF. */
  serverVersion: string;
  /** I_C: the client's KEXINIT payload. */
  clientKexInit: Uint8Array;
  /** I_S: the server's KEXINIT payload. */
  serverKexInit: Uint8Array;
  /** K_S: the server's host key blob. */
  hostKey: Uint8Array;
  /** For diffie-hellman-group-exchange: the request and the group. */
  gex?: { request: GexRequest; group: DhGroup };
  /** e / Q_C / C_INIT, encoded. */
  clientValue: Uint8Array;
  /** f / Q_S / S_REPLY, encoded. */
  serverValue: Uint8Array;
  /** K, encoded. */
  sharedSecret: Uint8Array;
}

/**
 * Computes H with the method's hash.
 *
 * @example
 * ```ts
 * import { exchangeHash } from "./exchange_hash.ts";
 * import { KEX_ALGORITHMS } from "../crypto/kex.ts";
 * const h = exchangeHash(KEX_ALGORITHMS.get("curve25519-sha256")!, {
 *   clientVersion: "SSH-2.0-a", serverVersion: "SSH-2.0-b", clientKexInit: new Uint8Array([20]),
 *   serverKexInit: new Uint8Array([20]), hostKey: new Uint8Array(51), clientValue: new Uint8Array(36),
 *   serverValue: new Uint8Array(36), sharedSecret: new Uint8Array(37),
 * });
 * console.log(h.length); // 32
 * ```
 */
export function exchangeHash(method: KexAlgorithm, i: ExchangeHashInput): Uint8Array {
  const parts = [
    encodeString(i.clientVersion),
    encodeString(i.serverVersion),
    encodeString(i.clientKexInit),
    encodeString(i.serverKexInit),
    encodeString(i.hostKey),
  ];
  if (method.kind === "gex") {
    if (!i.gex) {
      throw new TypeError(`${method.name}: the exchange hash needs the GEX request and group`);
    }
    // RFC 4419 §3: min, n, max, p, g come between K_S and e.
    const { request: r, group: g } = i.gex;
    parts.push(
      new SshWriter(1100).uint32(r.min).uint32(r.n).uint32(r.max).mpint(g.p).mpint(g.g).finish(),
    );
  }
  parts.push(i.clientValue, i.serverValue, i.sharedSecret);
  return method.hash.digest(...parts);
}
