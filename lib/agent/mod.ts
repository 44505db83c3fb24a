/**
 * The SSH agent (draft-miller-ssh-agent): its wire protocol, a client for
 * an agent socket ({@link connectAgent}, e.g. `$SSH_AUTH_SOCK`), an agent of
 * our own ({@link memoryAgent}, served on a socket by {@link listenAgent}),
 * and agent forwarding over SSH (OpenSSH PROTOCOL.agent) on both sides.
 *
 * @example
 * ```ts
 * import { generatePrivateKey } from "../keys/mod.ts";
 * import { memoryAgent } from "./mod.ts";
 * const agent = memoryAgent();
 * agent.add(await generatePrivateKey("ssh-ed25519"), "alice@example");
 * const [id] = await agent.identities();
 * console.log(id.comment); // "alice@example"
 * ```
 *
 * @module
 */
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
} from "./protocol.ts";
export {
  type AgentClient,
  agentClient,
  type AgentKey,
  agentKey,
  agentKeyAlgorithms,
  connectAgent,
} from "./client.ts";
export {
  type AgentSocket,
  listenAgent,
  type MemoryAgent,
  memoryAgent,
  type MutableAgent,
  serveAgent,
} from "./server.ts";
export {
  AGENT_CHANNEL_TYPE,
  AGENT_FORWARDING_REQUEST,
  type AgentForwarding,
  type AgentForwardingContext,
  type AgentForwardingHandler,
  agentForwardingHandler,
  type AgentForwardingOptions,
  enableAgentForwarding,
} from "./forwarding.ts";
// What this layer's API mentions from the layers below.
export { SshError } from "../wire/errors.ts";
export type { PrivateKey, PublicKey } from "../keys/types.ts";
export type { ByteStreamPair } from "../runtime/types.ts";
export type { Payload } from "../transport/packets.ts";
export type { Agent } from "../auth/client.ts";
export type {
  Channel,
  ChannelHost,
  ChannelOptions,
  IncomingChannelRequest,
} from "../connection/channel.ts";
export type {
  Connection,
  ConnectionEvent,
  ConnectionOptions,
  SharedChannelCount,
} from "../connection/connection.ts";
export type {
  Acceptance,
  ChannelAcceptance,
  ChannelOpenHandler,
  ChannelOpenRequest,
  ChannelRequest,
  ConnectionHandlers,
  ConnectionHandlerSet,
  GlobalRequest,
  GlobalRequestHandler,
  Handler,
  HandlerTable,
  PeerRequestRouter,
  Refusal,
  SessionRequestHandler,
  Verdict,
} from "../connection/handlers.ts";
