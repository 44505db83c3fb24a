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
import type { Channel } from "../connection/channel.ts";
import type { Connection } from "../connection/connection.ts";
import {
  accept,
  acceptChannel,
  type ConnectionHandlers,
  refuse,
  type SessionRequestHandler,
} from "../connection/handlers.ts";
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

/**
 * Agent forwarding on a client: the request entry for
 * `SessionOptions.requests` (it is one), and `unsubscribe()` to stop
 * answering `auth-agent@openssh.com` channel opens (channels already open
 * keep working).
 *
 * @example
 * ```ts
 * import type { AgentForwarding } from "./forwarding.ts";
 * const stop = (f: AgentForwarding) => f.unsubscribe();
 * ```
 */
export interface AgentForwarding {
  /** `auth-agent-req@openssh.com`. */
  readonly type: string;
  /** Stops serving the agent to the server. */
  unsubscribe(): void;
}

/**
 * Client side: serves `agent` on every `auth-agent@openssh.com` channel the
 * server opens on `client`'s connection, through its handler registry, and
 * returns the `SessionOptions.requests` entry that asks for forwarding on a
 * session. While an earlier forwarding is registered it keeps answering;
 * unsubscribe it to hand over.
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
 *   forward.unsubscribe();
 * }
 * ```
 */
export function enableAgentForwarding<C>(
  client: { readonly handlers: ConnectionHandlers<C> },
  agent: MutableAgent,
): AgentForwarding {
  const sub = client.handlers.channelOpen(
    AGENT_CHANNEL_TYPE,
    () =>
      acceptChannel(async (channel) => {
        await serveAgent(channel, agent);
        await channel.close().catch(() => {});
      }),
  );
  return { type: AGENT_FORWARDING_REQUEST, unsubscribe: () => sub.unsubscribe() };
}

/**
 * What the `auth-agent-req@openssh.com` handler needs of the session (a
 * server's session-request context has it all).
 *
 * @example
 * ```ts
 * import type { AgentForwardingContext } from "./forwarding.ts";
 * const allowed = (s: AgentForwardingContext) => s.restrictions.agentForwarding !== false;
 * ```
 */
export interface AgentForwardingContext {
  /** The session channel the request came on. */
  readonly channel: Channel;
  /** The connection, to open `auth-agent@openssh.com` channels on. */
  readonly connection: Connection;
  /** Restrictions from authentication; `agentForwarding: false` refuses. */
  readonly restrictions: { readonly agentForwarding?: boolean };
  /** Adds a variable to the session's environment. */
  setEnv(name: string, value: string): void;
}

/**
 * The server-side agent forwarding from {@link agentForwardingHandler}: a
 * handler set for `ServerOptions.handlers`, with the sockets it made.
 *
 * @example
 * ```ts
 * import type { AgentForwardingHandler } from "./forwarding.ts";
 * import type { Channel } from "../connection/channel.ts";
 * const sock = (h: AgentForwardingHandler, ch: Channel) => h.socketPath(ch) ?? "(none)";
 * ```
 */
export interface AgentForwardingHandler {
  /** The `auth-agent-req@openssh.com` handler. */
  readonly sessionRequest: Readonly<Record<string, SessionRequestHandler<AgentForwardingContext>>>;
  /** The agent socket made for a session channel, if forwarding was accepted on it. */
  socketPath(channel: Channel): string | undefined;
  /** Like {@link socketPath}, once the socket accepts connections. */
  ready(channel: Channel): Promise<string | undefined>;
  /**
   * Wraps a session handler: when the session asked for agent forwarding,
   * the handler sees `SSH_AUTH_SOCK` in `session.env` (the server already
   * puts it there; this also serves handlers run outside `serveConnection`).
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
 * The request is accepted once the socket listens, and `SSH_AUTH_SOCK`
 * goes into the session's environment; the server answers a session's
 * requests in order, so an exec that follows (OpenSSH does not wait for the
 * reply) runs with the socket ready and `exec: runLocalCommand` works as is.
 * Give the returned object in `ServerOptions.handlers`.
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
 *   handlers: [agentForwarding],
 *   exec: runLocalCommand,
 *   shell: runLocalCommand,
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

  const answer: SessionRequestHandler<AgentForwardingContext> = async (_request, session) => {
    if (session.restrictions.agentForwarding === false) return refuse("no-agent-forwarding");
    let s = sockets.get(session.channel);
    if (!s) {
      try {
        s = open(session.channel, session.connection);
      } catch (e) {
        return refuse(`cannot make the agent socket: ${e instanceof Error ? e.message : e}`);
      }
      sockets.set(session.channel, s);
    }
    // The session's requests are answered in order: exec waits until the socket listens.
    if (await s.ready === undefined) return refuse("the agent socket does not listen");
    session.setEnv("SSH_AUTH_SOCK", s.path);
    return accept();
  };
  const socketPath = (channel: Channel) => sockets.get(channel)?.path;
  const ready = (channel: Channel) => sockets.get(channel)?.ready ?? Promise.resolve(undefined);
  return {
    sessionRequest: { [AGENT_FORWARDING_REQUEST]: answer },
    socketPath,
    ready,
    withAgentEnv: (h) => async (session) => {
      const path = await ready(session.channel);
      if (path === undefined) return await h(session);
      return await h({ ...session, env: { ...session.env, SSH_AUTH_SOCK: path } });
    },
    close: async () => {
      await Promise.all([...sockets.values()].map((s) => s.close()));
    },
  };
}
