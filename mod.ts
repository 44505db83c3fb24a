/**
 * rxssh: an SSH-2 toolkit in TypeScript for Deno and Bun, client and server,
 * with no native addons. The protocol core speaks to any pair of WHATWG byte
 * streams (a TCP socket, an in-memory pair, a WebSocket); events are RxJS
 * observables and channel data are WHATWG streams with flow control.
 *
 * {@link connect} gives an authenticated {@link SshClient} that runs
 * commands, shells and subsystems; {@link listen} (or
 * {@link serveConnection} on a stream of your own) runs a server that
 * accepts connections, authenticates users through handlers (deny by
 * default; {@link authorizedKeysHandler} reads OpenSSH's authorized_keys
 * with its options) and hands sessions to a simple handler, such as
 * {@link runLocalCommand}, or to a reactive one. Underneath are the layers:
 * the transport (RFC 4253: key exchange and re-exchange with strict KEX,
 * ext-info, host key checking), user authentication (RFC 4252, RFC 4256),
 * the connection protocol (RFC 4254: channels, sessions, pseudo-terminals),
 * the key formats OpenSSH keeps in `~/.ssh` (private and public keys,
 * certificates, known_hosts, authorized_keys, SSHSIG and allowed_signers),
 * the SSH agent and agent forwarding, X11 forwarding, and channel behaviours
 * in the style of Erlang's `ssh_server_channel`. {@link sftp} starts an
 * SFTP session (promise requests, streams, get and put) on a connection.
 *
 * This module exports the whole public API. Each layer is also an entry
 * point of its own, with its lower-level parts:
 * `@rxssh/rxssh/wire` (data types, message numbers, reason codes, message
 * codecs), `/crypto` (errors, random source, hashes), `/keys`,
 * `/transport`, `/auth`, `/connection`, `/runtime` (TCP, in-memory pairs,
 * WebSockets, local commands), `/rx` (behaviours), `/agent`, `/x11`, `/forward`, `/config` and `/sftp`.
 *
 * @example
 * ```ts
 * import { connect, generatePrivateKey, listen } from "./mod.ts";
 *
 * // A server that answers every command with a line; runLocalCommand would run it.
 * const hostKey = await generatePrivateKey("ssh-ed25519");
 * const server = await listen({
 *   hostname: "127.0.0.1",
 *   port: 0,
 *   hostKeys: [hostKey],
 *   auth: { handlers: { password: (user, password) => user === "demo" && password === "demo" } },
 *   exec: async (session) => {
 *     const w = session.stdout.getWriter();
 *     await w.write(new TextEncoder().encode(`you ran: ${session.command}\n`));
 *     w.releaseLock();
 *     await session.exit(0);
 *   },
 * });
 *
 * // A client: the host key is pinned, checked against known_hosts, or decided by you.
 * const client = await connect({
 *   host: "127.0.0.1",
 *   port: server.port,
 *   username: "demo",
 *   password: "demo",
 *   hostKey: { fingerprint: hostKey.publicKey.fingerprint() },
 * });
 * const { stdout, code } = await client.exec("uname -a");
 * console.log(new TextDecoder().decode(stdout), code); // "you ran: uname -a\n" 0
 * await client.close();
 * server.close();
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
} from "./lib/transport/transport.ts";
export type { PeerVersion } from "./lib/transport/version.ts";
export { type Payload, payloadBytes, payloadLength } from "./lib/transport/packets.ts";
export {
  AlgorithmConfigError,
  type AlgorithmKind,
  DEFAULT_ALGORITHMS,
  DEFAULT_SERVER_ALGORITHMS,
  negotiate,
  resolveAlgorithms,
  SUPPORTED_ALGORITHMS,
} from "./lib/transport/algorithms.ts";
export { COMPRESSION_METHODS, CompressionError } from "./lib/transport/compression.ts";
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
  ConnectTcpOptions,
  ListenTcpOptions,
  TcpConnection,
  TcpListener,
} from "./lib/runtime/types.ts";
export { memoryPair, type MemoryPairOptions } from "./lib/runtime/memory.ts";
export {
  crc32c,
  decodeProxyHeader,
  type ProxiedConnection,
  type ProxyEndpoint,
  type ProxyHeader,
  ProxyProtocolError,
  type ProxyProtocolOptions,
  type ProxySocket,
  readProxyHeader,
  trustedProxies,
} from "./lib/runtime/proxy_protocol.ts";
export { webSocketStream, type WebSocketStreamOptions } from "./lib/runtime/websocket.ts";
export {
  type ClientContext,
  connect,
  type ConnectOptions,
  type ExecResult,
  JumpHostError,
  SshClient,
} from "./lib/client.ts";
export {
  ProxyCommandError,
  type ProxyCommandOptions,
  type ProxyCommandProcess,
  startProxyCommand,
} from "./lib/proxy_command.ts";
export {
  accept,
  type Acceptance,
  acceptChannel,
  ask,
  type ChannelAcceptance,
  type ChannelOpenHandler,
  type ChannelOpenRequest,
  type ChannelRequest,
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
  keepalive,
  type KeepaliveOptions,
  type KeepaliveTarget,
} from "./lib/connection/keepalive.ts";
export {
  type ServerContext,
  ServerHandlers,
  type ServerHandlerSet,
  type ServerSessionRequestHandler,
  type SessionHandler,
  type SessionRequestContext,
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
  fanOut,
  type FanOutFailure,
  type FanOutOptions,
  type FanOutResult,
  type FanOutTarget,
  type FanOutTiming,
} from "./lib/fanout.ts";
export {
  acceptConnection,
  type ChannelLife,
  type CloseOptions,
  type IncomingConnection,
  listen,
  type ListenOptions,
  MAX_SERVER_CHANNELS,
  runLocalCommand,
  serveConnection,
  type ServerConnection,
  type ServerEvent,
  type ServerOptions,
  type ServerSession,
  type SshServer,
} from "./lib/server.ts";
export {
  closeDropped,
  DEFAULT_MAX_STARTUPS,
  type Endpoints,
  type MaxStartups,
  type NetBlockSize,
  parseMaxStartups,
  parseNetBlockSize,
  STARTUP_DROP_NOTICE,
  StartupDroppedError,
  StartupGate,
  type StartupLimits,
  type StartupTicket,
} from "./lib/server_limits.ts";
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
  MAX_CHANNELS,
  MAX_UNANSWERED,
  type MessageTransport,
  type SharedChannelCount,
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
export * from "./lib/forward/mod.ts";
export * from "./lib/config/mod.ts";
export {
  agentFromConfig,
  type ConfigConnectOptions,
  connectOptionsFromConfig,
  IdentityFileError,
  resolveConnectConfig,
  withSshConfig,
} from "./lib/client_config.ts";

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
  type AgentForwardingContext,
  type AgentForwardingHandler,
  agentForwardingHandler,
  type AgentForwardingOptions,
  enableAgentForwarding,
} from "./lib/agent/forwarding.ts";
export type { Codec } from "./lib/wire/codec.ts";
// SFTP client (lib/sftp)
export {
  type FileAttributes,
  FX,
  type NameEntry,
  type OpenMode,
  openSftp,
  type ReadStreamOptions,
  sftp,
  SftpClient,
  type SftpClientOptions,
  SftpConnectionError,
  SftpError,
  SftpHandle,
  type SftpLimits,
  SftpTransferError,
  type StatusCode,
  type StatVfs,
  type SubsystemSession,
  type SubsystemStarter,
  type Transfer,
  type TransferOptions,
  type TransferProgress,
  type TransferSummary,
  type WriteStreamOptions,
} from "./lib/sftp/mod.ts";
// SFTP server (lib/sftp)
export {
  FsBackend,
  type FsBackendOptions,
  MemoryBackend,
  type MemoryBackendOptions,
  serveSftp,
  type SftpBackend,
  type SftpDirectory,
  type SftpFile,
  type SftpServerOptions,
  type SftpSession,
  type SftpSessionEnd,
  SftpStatusError,
  sftpSubsystem,
  type SftpSubsystemOptions,
} from "./lib/sftp/mod.ts";
