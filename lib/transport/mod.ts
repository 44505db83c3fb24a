/**
 * The transport layer (RFC 4253), client and server, over any pair of
 * WHATWG byte streams: version exchange, binary packets, key exchange and
 * re-exchange with strict KEX (OpenSSH PROTOCOL §1.10), ext-info (RFC 8308),
 * host key checking, the algorithm lists in OpenSSH's syntax, and the
 * transport's events as RxJS observables.
 *
 * @example
 * ```ts
 * import { generatePrivateKey } from "../keys/mod.ts";
 * import { memoryPair } from "../runtime/mod.ts";
 * import { Transport } from "./mod.ts";
 * const [a, b] = memoryPair();
 * const hostKey = await generatePrivateKey("ssh-ed25519");
 * const server = new Transport(b, { role: "server", hostKeys: [hostKey] });
 * const client = new Transport(a, {
 *   role: "client",
 *   verifyHostKey: (_key, info) => info.fingerprint === hostKey.publicKey.fingerprint(),
 * });
 * const { algorithms } = await client.ready;
 * console.log(algorithms.kex); // "mlkem768x25519-sha256"
 * await client.disconnect();
 * await server.closed.catch(() => {});
 * ```
 *
 * @module
 */
export {
  type ByteStreamPair,
  type DisconnectEvent,
  type HostKeyInfo,
  type HostKeyVerifier,
  type KexEvent,
  type MacErrorEvent,
  type NegotiatedAlgorithms,
  PRE_AUTH_LIMITS,
  REPLY_BACKLOG,
  Transport,
  TRANSPORT_TUNING,
  type TransportOptions,
  type TransportTuning,
  transportTuning,
} from "./transport.ts";
export type { PeerVersion } from "./version.ts";
export { type Payload, payloadBytes, payloadLength } from "./packets.ts";
export {
  AlgorithmConfigError,
  type AlgorithmKind,
  DEFAULT_ALGORITHMS,
  DEFAULT_SERVER_ALGORITHMS,
  negotiate,
  resolveAlgorithms,
  SUPPORTED_ALGORITHMS,
} from "./algorithms.ts";
export { COMPRESSION_METHODS, CompressionError } from "./compression.ts";
// What this layer's API mentions from the layers below.
export { DisconnectError, DisconnectReason, SshError } from "../wire/errors.ts";
export type { DebugMessage, GexRequest } from "../wire/transport_messages.ts";
export type { PrivateKey, PublicKey } from "../keys/types.ts";
export type { RandomSource } from "../crypto/types.ts";
