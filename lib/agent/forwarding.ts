/**
 * Agent forwarding (OpenSSH's extension, "auth-agent@openssh.com"): the
 * client asks for it with the `auth-agent-req@openssh.com` session request;
 * the server then opens one `auth-agent@openssh.com` channel back to the
 * client for every program that connects to the agent socket it made for
 * the session, and the client answers agent requests on that channel.
 * This is libssh2's AUTHAGENT callback, both ways.
 *
 * @module
 */
import process from "node:process";
import type { Channel, IncomingChannelRequest } from "../connection/channel.ts";
import type { Connection } from "../connection/connection.ts";
import { spliceChannel } from "../connection/splice.ts";
import { makePrivateTempDir, removeTree } from "../runtime/fs.ts";
import type { UnixListener } from "../runtime/types.ts";
import { listenUnix } from "../runtime/unix.ts";
import { type MutableAgent, serveAgent } from "./server.ts";

/**
 * The session request that asks for agent forwarding.
 *
 * @example
 * ```ts
 * import { AGENT_FORWARDING_REQUEST } from "./forwarding.ts";
 * console.log(AGENT_FORWARDING_REQUEST); // "auth-agent-req@openssh.com"
 * ```
 */
export const AGENT_FORWARDING_REQUEST = "auth-agent-req@openssh.com";

/**
 * The channel type the server opens to reach the client's agent.
 *
 * @example
 * ```ts
 * import { AGENT_CHANNEL_TYPE } from "./forwarding.ts";
 * console.log(AGENT_CHANNEL_TYPE); // "auth-agent@openssh.com"
 * ```
 */
export const AGENT_CHANNEL_TYPE = "auth-agent@openssh.com";

const forwarded = new WeakMap<Connection, { agent: MutableAgent; stop(): void }>();

/**
 * Client side: serves `agent` on every `auth-agent@openssh.com` channel the
 * server opens on `client`'s connection (other channel types are left to
 * other subscribers), and returns the `SessionOptions.requests` entry that
 * asks for forwarding on a session. Calling it again for the same client
 * replaces the agent. See {@link disableAgentForwarding}.
 *
 * @example
 * ```ts
 * import { enableAgentForwarding } from "./forwarding.ts";
 * import { memoryAgent } from "./server.ts";
 * import type { SshClient } from "../client.ts";
 * import { generatePrivateKey } from "../keys/private_key.ts";
 * async function run(client: SshClient) {
 *   const agent = memoryAgent([await generatePrivateKey("ssh-ed25519")]);
 *   const forward = enableAgentForwarding(client, agent);
 *   const r = await client.exec("ssh-add -l", { requests: [forward] });
 *   console.log(new TextDecoder().decode(r.stdout));
 * }
 * ```
 */
export function enableAgentForwarding(
  client: { readonly connection: Connection },
  agent: MutableAgent,
): { type: string; data?: Uint8Array; required?: boolean } {
  const conn = client.connection;
  const known = forwarded.get(conn);
  if (known) known.agent = agent;
  else {
    const state = { agent, stop: () => sub.unsubscribe() };
    const sub = conn.channelOpen$.subscribe((open) => {
      if (open.type !== AGENT_CHANNEL_TYPE) return;
      const served = state.agent;
      open.accept().then(async (channel) => {
        await serveAgent(channel, served);
        await channel.close().catch(() => {});
      }).catch(() => {});
    });
    forwarded.set(conn, state);
  }
  return { type: AGENT_FORWARDING_REQUEST };
}

/**
 * Client side: stops answering `auth-agent@openssh.com` channel opens on
 * `client` (later ones are refused); channels already open keep working.
 *
 * @example
 * ```ts
 * import { disableAgentForwarding } from "./forwarding.ts";
 * import type { SshClient } from "../client.ts";
 * const off = (c: SshClient) => disableAgentForwarding(c);
 * ```
 */
export function disableAgentForwarding(client: { readonly connection: Connection }): void {
  const state = forwarded.get(client.connection);
  if (!state) return;
  state.stop();
  forwarded.delete(client.connection);
}

/**
 * What {@link agentForwardingHandler} needs of `onSessionRequest`'s second
 * argument (a server's session context has it all).
 *
 * @example
 * ```ts
 * import type { AgentForwardingContext } from "./forwarding.ts";
 * const allowed = (s: AgentForwardingContext) => s.restrictions.agentForwarding !== false;
 * ```
 */
export interface AgentForwardingContext {
  /** The session channel the request came on. */
  channel: Channel;
  /** The connection, to open `auth-agent@openssh.com` channels on. */
  connection: Connection;
  /** Restrictions from authentication; `agentForwarding: false` refuses. */
  restrictions: { agentForwarding?: boolean };
  /** When the server offers it: adds a variable to the session's environment. */
  setEnv?(name: string, value: string): void;
}

/**
 * The server-side handler from {@link agentForwardingHandler}: call it from
 * `ServerOptions.onSessionRequest` (or pass it as that option), and wrap
 * the session handlers with {@link AgentForwardingHandler.withAgentEnv} so
 * that the command's environment gets `SSH_AUTH_SOCK`.
 *
 * @example
 * ```ts
 * import type { AgentForwardingHandler } from "./forwarding.ts";
 * import type { Channel } from "../connection/channel.ts";
 * const sock = (h: AgentForwardingHandler, ch: Channel) => h.socketPath(ch) ?? "(none)";
 * ```
 */
export interface AgentForwardingHandler {
  /**
   * Answers `auth-agent-req@openssh.com` and returns true; returns false
   * for any other request (leave it to other handlers).
   */
  (request: IncomingChannelRequest, session: AgentForwardingContext): boolean;
  /** The agent socket made for a session channel, if forwarding was accepted on it. */
  socketPath(channel: Channel): string | undefined;
  /** Like {@link socketPath}, once the socket accepts connections. */
  ready(channel: Channel): Promise<string | undefined>;
  /**
   * Wraps a session handler (such as `runLocalCommand`): when the session
   * asked for agent forwarding, the handler sees `SSH_AUTH_SOCK` in
   * `session.env`, and runs only once the socket listens.
   */
  withAgentEnv<
    S extends { readonly channel: Channel; readonly env: Readonly<Record<string, string>> },
  >(
    handler: (session: S) => void | Promise<void>,
  ): (session: S) => Promise<void>;
  /** Closes every agent socket this handler made and removes its directory. */
  close(): Promise<void>;
}

/**
 * Options of {@link agentForwardingHandler}.
 *
 * @example
 * ```ts
 * import type { AgentForwardingOptions } from "./forwarding.ts";
 * const o: AgentForwardingOptions = { tmpDir: "/run/user/1000" };
 * ```
 */
export interface AgentForwardingOptions {
  /** Where the private `ssh-XXXXXX` directories are made (default: the OS temp dir). */
  tmpDir?: string;
}

interface ForwardSocket {
  path: string;
  dir: string;
  ready: Promise<string | undefined>;
  close(): Promise<void>;
}

/**
 * Server side of agent forwarding, as sshd does it: on
 * `auth-agent-req@openssh.com` (refused when the key's restrictions say
 * `no-agent-forwarding`), makes a private directory (mode 0700) with a unix
 * socket `agent.<pid>` in it; every program that connects there gets an
 * `auth-agent@openssh.com` channel to the client, bytes piped both ways.
 * The socket and its directory go away when the session channel closes.
 * `SSH_AUTH_SOCK` reaches the session's environment through the
 * `setEnv` that `serveConnection` passes to `onSessionRequest`, so
 * `exec: runLocalCommand` works as is; wrapping the handler with
 * {@link AgentForwardingHandler.withAgentEnv} also makes the command wait
 * until the socket listens (binding it is asynchronous, and OpenSSH sends
 * the request without waiting for a reply), and works with servers that
 * offer no `setEnv`.
 *
 * @example
 * ```ts
 * import { agentForwardingHandler } from "./forwarding.ts";
 * import { listen, runLocalCommand } from "../server.ts";
 * import { generatePrivateKey } from "../keys/private_key.ts";
 * const agentForwarding = agentForwardingHandler();
 * const server = await listen({
 *   port: 0,
 *   hostKeys: [await generatePrivateKey("ssh-ed25519")],
 *   auth: { handlers: { password: () => false } },
 *   onSessionRequest: agentForwarding,
 *   exec: agentForwarding.withAgentEnv(runLocalCommand),
 *   shell: agentForwarding.withAgentEnv(runLocalCommand),
 * });
 * server.close();
 * await agentForwarding.close();
 * ```
 */
export function agentForwardingHandler(
  options: AgentForwardingOptions = {},
): AgentForwardingHandler {
  const sockets = new Map<Channel, ForwardSocket>();

  const open = (channel: Channel, connection: Connection): ForwardSocket => {
    const dir = makePrivateTempDir("ssh-", { parent: options.tmpDir });
    const path = `${dir}/agent.${process.pid}`;
    const locals = new Set<{ close(): void }>();
    const bound = listenUnix(path);
    const serving = bound.then(async (listener) => {
      for await (const local of listener) {
        locals.add(local);
        connection.openChannel(AGENT_CHANNEL_TYPE).then(
          (ch) => spliceChannel(ch, local),
          () => local.close(),
        ).finally(() => locals.delete(local));
      }
    }).catch(() => {}); // not bound, or the listener failed: no more agent connections
    const ready = bound.then(() => path, () => undefined);
    let closing: Promise<void> | undefined;
    const s: ForwardSocket = {
      path,
      dir,
      ready,
      close: () =>
        closing ??= (async () => {
          sockets.delete(channel);
          const listener: UnixListener | undefined = await bound.catch(() => undefined);
          listener?.close();
          await serving;
          for (const l of locals) l.close();
          removeTree(dir);
        })(),
    };
    channel.closed.then(() => s.close());
    return s;
  };

  const handler = ((request: IncomingChannelRequest, session: AgentForwardingContext) => {
    if (request.type !== AGENT_FORWARDING_REQUEST) return false;
    if (session.restrictions.agentForwarding === false) {
      request.reject();
      return true;
    }
    let s = sockets.get(session.channel);
    if (!s) {
      try {
        s = open(session.channel, session.connection);
      } catch {
        request.reject();
        return true;
      }
      sockets.set(session.channel, s);
    }
    session.setEnv?.("SSH_AUTH_SOCK", s.path);
    request.accept();
    return true;
  }) as AgentForwardingHandler;
  handler.socketPath = (channel) => sockets.get(channel)?.path;
  handler.ready = (channel) => sockets.get(channel)?.ready ?? Promise.resolve(undefined);
  handler.withAgentEnv = (h) => async (session) => {
    const path = await handler.ready(session.channel);
    if (path === undefined) return await h(session);
    return await h({ ...session, env: { ...session.env, SSH_AUTH_SOCK: path } });
  };
  handler.close = async () => {
    await Promise.all([...sockets.values()].map((s) => s.close()));
  };
  return handler;
}
