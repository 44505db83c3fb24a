/**
 * rxssh: an SSH-2 toolkit for Deno and Bun. Transport events are RxJS
 * observables; the core speaks to any pair of WHATWG byte streams.
 *
 * This release holds the transport layer (RFC 4253): version exchange,
 * binary packets, key exchange and re-exchange with strict KEX, ext-info,
 * host keys, and the runtime adapters for TCP and in-memory pairs.
 *
 * @example
 * ```ts
 * import { connectTcp, Transport } from "./mod.ts";
 * async function hello(host: string, fingerprint: string) {
 *   const conn = await connectTcp(host, 22);
 *   const t = new Transport(conn, {
 *     role: "client",
 *     verifyHostKey: (_key, info) => info.fingerprint === fingerprint,
 *   });
 *   t.disconnect$.subscribe((d) => console.log("ended:", d.reasonName, d.description));
 *   const { algorithms } = await t.ready;
 *   console.log(algorithms);
 *   await t.requestService("ssh-userauth");
 *   await t.disconnect();
 * }
 * ```
 *
 * @module
 */
export {
  type ByteStream,
  type DisconnectEvent,
  type HostKeyInfo,
  type HostKeyVerifier,
  type KexEvent,
  type MacErrorEvent,
  type NegotiatedAlgorithms,
  REPLY_BACKLOG,
  Transport,
  type TransportOptions,
} from "./lib/transport/transport.ts";
export type { PeerVersion } from "./lib/transport/version.ts";
export { type Payload, payloadBytes, payloadLength } from "./lib/transport/packets.ts";
export {
  AlgorithmConfigError,
  type AlgorithmKind,
  DEFAULT_ALGORITHMS,
  negotiate,
  resolveAlgorithms,
  SUPPORTED_ALGORITHMS,
} from "./lib/transport/algorithms.ts";
export {
  DisconnectError,
  DisconnectReason,
  type DisconnectReasonCode,
  disconnectReasonName,
  SshError,
  WireError,
} from "./lib/wire/errors.ts";
export type { DebugMessage, GexRequest } from "./lib/wire/transport_messages.ts";
export { quotePeerText } from "./lib/wire/quote.ts";
export { KexError, MacError } from "./lib/crypto/errors.ts";
export type { RandomSource } from "./lib/crypto/types.ts";
export { type GenerateKeyOptions, generatePrivateKey } from "./lib/keys/private_key.ts";
export { parsePublicKey } from "./lib/keys/public_key.ts";
export { KeyError } from "./lib/keys/errors.ts";
export type { PrivateKey, PublicKey } from "./lib/keys/types.ts";
export { connectTcp, ListenerError, type ListenerWarning, listenTcp } from "./lib/runtime/tcp.ts";
export type {
  ByteStreamPair,
  ConnectTcpOptions,
  ListenTcpOptions,
  TcpConnection,
  TcpListener,
} from "./lib/runtime/types.ts";
export { memoryPair, type MemoryPairOptions } from "./lib/runtime/memory.ts";
export { webSocketStream, type WebSocketStreamOptions } from "./lib/runtime/websocket.ts";
export {
  type ClientContext,
  connect,
  type ConnectOptions,
  type ExecResult,
  SshClient,
} from "./lib/client.ts";
export {
  accept,
  type Acceptance,
  acceptChannel,
  ask,
  type ChannelAcceptance,
  type ChannelOpenHandler,
  type ChannelOpenRequest,
  ConnectionHandlers,
  type ConnectionHandlerSet,
  type GlobalRequest,
  type GlobalRequestHandler,
  type Handler,
  HandlerTable,
  type PeerRequestRouter,
  type Refusal,
  refuse,
  type Verdict,
} from "./lib/connection/handlers.ts";
export {
  type ChannelRequest,
  type ServerContext,
  ServerHandlers,
  type ServerHandlerSet,
  type SessionHandler,
  type SessionRequestContext,
  type SessionRequestHandler,
  type SubsystemHandler,
} from "./lib/server_handlers.ts";
export {
  type ClientEnvironment,
  clientEnvironment,
  DEFAULT_ACCEPT_ENV,
  DEFAULT_MAX_ENV,
  DEFAULT_MAX_ENV_BYTES,
  type PolicyOptions,
  ptyRefusal,
  sessionEnvironment,
  sessionStart,
} from "./lib/server_policy.ts";
export {
  acceptConnection,
  type ChannelLife,
  type IncomingConnection,
  listen,
  runLocalCommand,
  serveConnection,
  type ServerConnection,
  type ServerEvent,
  type ServerOptions,
  type ServerSession,
  type SshServer,
} from "./lib/server.ts";
export {
  type Agent,
  authenticate,
  AuthenticationError,
  type AuthMethod,
  type ClientAuthOptions,
} from "./lib/auth/client.ts";
export {
  type AuthResult,
  serveAuthentication,
  type ServerAuthHandlers,
  type ServerAuthOptions,
  type SessionRestrictions,
} from "./lib/auth/server.ts";
export {
  Channel,
  ChannelError,
  type ChannelHost,
  type ChannelInit,
  type ChannelOptions,
  type ChannelPort,
  type IncomingChannelRequest,
} from "./lib/connection/channel.ts";
export {
  ChannelOpenError,
  Connection,
  type ConnectionEvent,
  type ConnectionOptions,
  type MessageTransport,
} from "./lib/connection/connection.ts";
export {
  type DecodedRequest,
  decodeSessionRequest,
  type ExitInfo,
  type ExitStatus,
  openSession,
  type PtyRequest,
  sendExitStatus,
  type Session,
  type SessionOptions,
  SessionRequest,
  SessionRequestError,
  TerminalMode,
} from "./lib/connection/session.ts";
export type { InfoPrompt } from "./lib/wire/auth_messages.ts";
export {
  authorizedKeysHandler,
  type AuthorizedKeysSource,
  type PublicKeyContext,
} from "./lib/auth/authorized_keys_policy.ts";
export { knownHostsVerifier } from "./lib/client.ts";
export {
  HostKeyError,
  type HostKeyErrorDetails,
  type HostKeyErrorKind,
  type KnownHostsPolicy,
  type KnownHostVerdict,
  verifyKnownHost,
} from "./lib/host_keys.ts";
export {
  type ParsedPrivateKeyFile,
  parsePrivateKeyFile,
  type ParsePrivateKeyFileOptions,
  PassphraseRequiredError,
  type PrivateKeyFileFormat,
  writePrivateKeyFile,
  type WritePrivateKeyFileOptions,
  WrongPassphraseError,
} from "./lib/keys/private_key_file.ts";
export {
  formatPemPublicKey,
  formatPublicKeyLine,
  formatRfc4716PublicKey,
  parsePemPublicKey,
  parsePublicKeyLine,
  parsePublicKeyText,
  parseRfc4716PublicKey,
  type PemPublicKeyFormat,
  type PublicKeyTextFormat,
  type Rfc4716Options,
  type Rfc4716PublicKey,
} from "./lib/keys/public_key_file.ts";
export { fingerprintMd5, fingerprintSha256 } from "./lib/keys/fingerprint.ts";
export {
  CERT_FOREVER,
  type CertificateCheck,
  CertificateError,
  type CertificateType,
  formatCertificateLine,
  parseCertificate,
  signCertificate,
  type SignCertificateOptions,
  SshCertificate,
  verifyCertificate,
  type VerifyCertificateOptions,
} from "./lib/keys/certificate.ts";
export {
  type AuthorizedKeyContext,
  type AuthorizedKeyEntry,
  type AuthorizedKeyEvaluation,
  type AuthorizedKeyMatch,
  type AuthorizedKeyOptions,
  type AuthorizedKeyPermissions,
  type AuthorizedKeyRefusal,
  type AuthorizedKeysDiagnostic,
  type AuthorizedKeysFile,
  type AuthorizedKeysProblemKind,
  certificateAuthorities,
  evaluateAuthorizedKey,
  findAuthorizedKey,
  parseAuthorizedKeys,
  type PermitSpec,
} from "./lib/keys/authorized_keys.ts";
export {
  certificateAuthoritiesFor,
  checkHostKey,
  findHostEntries,
  formatKnownHostsLine,
  type FormatKnownHostsOptions,
  hashHostName,
  type HostKeyCheck,
  type KnownHostsDiagnostic,
  type KnownHostsEntry,
  type KnownHostsFile,
  type KnownHostsMarker,
  knownHostsName,
  type KnownHostsProblemKind,
  parseKnownHosts,
} from "./lib/keys/known_hosts.ts";
export {
  parseSshsig,
  signSshsig,
  type SignSshsigOptions,
  type SshsigCheck,
  SshsigError,
  type SshSignature,
  verifySshsig,
  type VerifySshsigOptions,
} from "./lib/keys/sshsig.ts";
export {
  type AllowedSigner,
  AllowedSignersError,
  findAllowedSigners,
  type FindAllowedSignersOptions,
  parseAllowedSigners,
  type ParseAllowedSignersOptions,
} from "./lib/keys/allowed_signers.ts";
export {
  type AddressListMatch,
  addrMatchList,
  type ClientIdentity,
  type IpAddress,
  matchHostAndIp,
  matchHostname,
  matchPattern,
  matchPatternList,
  type MatchPatternListOptions,
  parseAddress,
  type PatternListMatch,
} from "./lib/keys/patterns.ts";
export {
  type Behaviour,
  type BehaviourInput,
  type ConnectionLost,
  type HandlerResult,
  type InitResult,
  isConnectionLost,
  type Lifecycle,
  runBehaviour,
  type RunBehaviourOptions,
  type SystemMessage,
  type TerminateReason,
} from "./lib/rx/behaviour.ts";
export {
  channelBehaviour,
  type ChannelBehaviourOptions,
  type ChannelBehaviourSpec,
  type ChannelContext,
  type ChannelEvent,
  serveChannel,
} from "./lib/rx/channel_behaviour.ts";
export * from "./lib/x11/mod.ts";
export {
  AGENT_MAX_MESSAGE,
  AgentError,
  AgentFramer,
  type AgentIdentity,
  type AgentMessage,
  AgentMsg,
  decodeAgentMessage,
  encodeAgentMessage,
  frameAgentMessage,
  type KeyConstraint,
  KeyConstraintType,
  SignFlag,
  signFlagsFor,
} from "./lib/agent/protocol.ts";
export {
  type AgentClient,
  agentClient,
  type AgentKey,
  agentKey,
  agentKeyAlgorithms,
  connectAgent,
} from "./lib/agent/client.ts";
export {
  type AgentSocket,
  listenAgent,
  type MemoryAgent,
  memoryAgent,
  type MutableAgent,
  serveAgent,
} from "./lib/agent/server.ts";
export {
  AGENT_CHANNEL_TYPE,
  AGENT_FORWARDING_REQUEST,
  type AgentForwarding,
  type AgentForwardingHandler,
  agentForwardingHandler,
  type AgentForwardingOptions,
  enableAgentForwarding,
} from "./lib/agent/forwarding.ts";
export type { Codec } from "./lib/wire/codec.ts";
