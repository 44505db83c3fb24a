/**
 * The SSH client: connect, verify the host key, authenticate, then run
 * commands, shells and subsystems over session channels.
 *
 * @module
 */
import { type Agent, authenticate, type AuthMethod } from "./auth/client.ts";
import { openAgentOption } from "./agent/option.ts";
import { enableAgentForwarding } from "./agent/forwarding.ts";
import { forwardX11ForConnection, type ForwardX11Options } from "./x11/connection.ts";
import { localUser, withSshConfig } from "./client_config.ts";
import type { ResolvedSshConfig } from "./config/ssh_config.ts";
import type { Channel } from "./connection/channel.ts";
import { Subscription } from "rxjs";
import { Connection } from "./connection/connection.ts";
import { keepalive } from "./connection/keepalive.ts";
import { forwardOut } from "./forward/client.ts";
import { ConnectionHandlers, type ConnectionHandlerSet } from "./connection/handlers.ts";
import {
  type ExitInfo,
  openSession,
  type Session,
  type SessionOptions,
} from "./connection/session.ts";
import type { PrivateKey, PublicKey } from "./keys/types.ts";
import { connectTcp } from "./runtime/tcp.ts";
import {
  type ProxyCommandOptions,
  type ProxyCommandProcess,
  startProxyCommand,
} from "./proxy_command.ts";
import { knownHostsName } from "./keys/known_hosts.ts";
import { verifyKnownHost } from "./host_keys.ts";
import {
  type ByteStreamPair,
  type HostKeyInfo,
  Transport,
  type TransportTuning,
  transportTuning,
} from "./transport/transport.ts";

/**
 * What a client-side handler gets: the connection the server asked on and
 * the client.
 *
 * @example
 * ```ts
 * import type { ClientContext } from "./client.ts";
 * const openBack = (c: ClientContext) => c.connection.openChannel("session");
 * ```
 */
export interface ClientContext {
  /** The connection. */
  readonly connection: Connection;
  /** The client. */
  readonly client: SshClient;
}

/**
 * Options of {@link connect}.
 *
 * @example
 * ```ts
 * import type { ConnectOptions } from "./client.ts";
 * const o: ConnectOptions = {
 *   host: "example.com",
 *   username: "alice",
 *   password: "s3cret",
 *   hostKey: { fingerprint: "SHA256:..." },
 * };
 * ```
 */
export interface ConnectOptions extends Omit<TransportTuning, "preBanner" | "handshakeTimeout"> {
  /** Host name or address (ignored when `stream` is given). */
  host?: string;
  /** Port (default 22). */
  port?: number;
  /**
   * Jump hosts (OpenSSH's ProxyJump): reach `host`:`port` through a
   * `direct-tcpip` channel of this client, or through a chain, first hop
   * first. A hop given as options is connected (over the hop before it)
   * with its own host-key check and closed with this connection; a hop
   * given as an `SshClient` is used as is. A chain that names the same
   * `host:port` twice is refused; a failing hop is named in a
   * {@link JumpHostError}.
   *
   * @example
   * ```ts
   * import { connect, type ConnectOptions } from "./client.ts";
   * const bastion: ConnectOptions = { host: "bastion.example.com", username: "me", hostKey: { knownHosts: "/home/me/.ssh/known_hosts" } };
   * const viaBastion = (target: string) =>
   *   connect({ host: target, username: "me", hostKey: { knownHosts: "/home/me/.ssh/known_hosts" }, via: [bastion] });
   * ```
   */
  via?: SshClient | readonly (SshClient | ConnectOptions)[];
  /**
   * Agent forwarding for the whole connection (OpenSSH's ForwardAgent,
   * `ssh -A`): `true` forwards the agent at `SSH_AUTH_SOCK`, a path or an
   * `Agent` that one; every session then asks for `auth-agent-req@openssh.com`.
   * Off by default.
   *
   * @example
   * ```ts
   * import type { ConnectOptions } from "./client.ts";
   * const o: Pick<ConnectOptions, "forwardAgent"> = { forwardAgent: true };
   * ```
   */
  forwardAgent?: boolean | string | Agent;
  /**
   * OpenSSH's ProxyCommand: the connection runs over this command's
   * standard input and output, started as `$SHELL -c "exec <command>"`
   * with `%h %p %r %n %k %%` expanded (see `startProxyCommand`); its
   * standard error goes to ours unless `stderr` says otherwise, and it gets
   * SIGHUP when the connection ends. A command that exits before the
   * handshake completes rejects with a `ProxyCommandError` (the command and
   * its exit status). Not together with `via`.
   *
   * @example
   * ```ts
   * import { connect } from "./client.ts";
   * const throughBastion = () =>
   *   connect({ host: "db.internal", username: "me", hostKey: { knownHosts: "/home/me/.ssh/known_hosts" }, proxyCommand: "ssh -W %h:%p bastion" });
   * ```
   */
  proxyCommand?: string | ProxyCommandOptions;
  /**
   * X11 forwarding for the whole connection (OpenSSH's ForwardX11):
   * `true` or options forward `$DISPLAY` (or `display`) on every session,
   * untrusted by default as `ssh -X` (`trusted: true` is `ssh -Y`). Off by
   * default. It never fails the connection: no display, an untrusted cookie
   * that cannot be generated, or a server that refuses x11-req only give
   * ssh's messages to `onLog` (see `forwardX11ForConnection`).
   *
   * @example
   * ```ts
   * import type { ConnectOptions } from "./client.ts";
   * const o: Pick<ConnectOptions, "forwardX11"> = {
   *   forwardX11: { trusted: false, onLog: (level, m) => level === "error" && console.error(m) },
   * };
   * ```
   */
  forwardX11?: boolean | ForwardX11Options;
  /** Bring your own byte stream (libssh2's SEND/RECV): a socket, a WebSocket, an in-memory pair. */
  stream?: ByteStreamPair;
  /** User name (default: the config's User, else the local user, as ssh). */
  username?: string;
  /**
   * Read `ssh_config(5)` for `host` (an alias): `true` reads
   * `~/.ssh/config` then `/etc/ssh/ssh_config`, a path only that file, or
   * an already resolved configuration. HostName, User, Port, IdentityFile,
   * IdentitiesOnly, IdentityAgent, the known_hosts files with
   * StrictHostKeyChecking, ProxyJump, ServerAlive*, ConnectTimeout,
   * Compression and the algorithm lists apply (see
   * `connectOptionsFromConfig`); every option given here wins, and
   * `hostKey` may then be left out (the configuration's known_hosts check).
   *
   * @example
   * ```ts
   * import { connect } from "./client.ts";
   * const toDb = () => connect({ host: "db", config: true });
   * ```
   */
  config?: boolean | string | ResolvedSshConfig;
  /** Passphrase of encrypted IdentityFiles read through `config` (a function is asked per file). */
  passphrase?: string | ((file: string) => string | undefined | Promise<string | undefined>);
  /** Private keys to try, in order. */
  privateKeys?: readonly PrivateKey[];
  /**
   * The SSH agent whose identities are tried after `privateKeys`: by
   * default the one at `SSH_AUTH_SOCK` (as OpenSSH), `false` none, a path
   * another socket, or an `Agent`. A socket that is missing or does not
   * answer is skipped silently.
   *
   * @example
   * ```ts
   * import type { ConnectOptions } from "./client.ts";
   * const noAgent: Pick<ConnectOptions, "agent"> = { agent: false };
   * ```
   */
  agent?: boolean | string | Agent;
  /** Which of the agent's identities to offer (default all; the config's IdentitiesOnly: its IdentityFiles' keys). */
  agentFilter?: (identity: { blob: Uint8Array; type: string }) => boolean;
  /** A password (or a function that asks for it). */
  password?: string | (() => string | Promise<string>);
  /** Answers keyboard-interactive prompts. */
  keyboardInteractive?: Extract<AuthMethod, { type: "keyboard-interactive" }>["respond"];
  /** Extra authentication methods, tried after the ones above. */
  authMethods?: readonly AuthMethod[];
  /**
   * Required: how to trust the server's host key. `fingerprint` pins one
   * SHA256 fingerprint; `knownHosts` checks an OpenSSH known_hosts file
   * (see {@link knownHostsVerifier}); `verify` decides (a prompt, a database).
   */
  hostKey?:
    | { fingerprint: string }
    | { verify: (key: PublicKey, info: HostKeyInfo) => boolean | Promise<boolean> }
    | { knownHosts: string; acceptNew?: boolean; hashNew?: boolean };
  /** Receives the server's authentication banner. */
  onBanner?: (message: string) => void;
  /**
   * Seconds between keepalive@openssh.com requests (0 = off, the default;
   * OpenSSH's ServerAliveInterval); see `keepaliveCountMax`.
   */
  keepaliveInterval?: number;
  /**
   * Keepalives left unanswered before the server counts as gone (default
   * 3, OpenSSH's ServerAliveCountMax): the connection then ends with a
   * `DisconnectError` (CONNECTION_LOST, "Timeout, server ... not
   * responding") on `transport.closed` and `disconnect$`.
   *
   * @example
   * ```ts
   * import type { ConnectOptions } from "./client.ts";
   * const o: Pick<ConnectOptions, "keepaliveInterval" | "keepaliveCountMax"> = { keepaliveInterval: 15, keepaliveCountMax: 3 };
   * ```
   */
  keepaliveCountMax?: number;
  /**
   * Handlers for what the server may ask (channel opens by type, global
   * requests by name), in place before the first message after
   * authentication is read; more can be added on `SshClient.handlers`.
   *
   * @example
   * ```ts
   * import type { ConnectOptions } from "./client.ts";
   * import { accept } from "./connection/handlers.ts";
   * const o: Pick<ConnectOptions, "handlers"> = {
   *   handlers: { globalRequest: { "hostkeys-00@openssh.com": () => accept() } },
   * };
   * ```
   */
  handlers?: ConnectionHandlerSet<ClientContext>;
  /**
   * Called with the transport as soon as it exists, before the handshake:
   * subscribe here to see everything (SSH_MSG_DEBUG that a server sends
   * right after authentication, the first key exchange, a disconnect
   * during authentication).
   */
  onTransport?: (transport: Transport) => void;
  /** Milliseconds allowed for TCP connect + handshake (default 30000). */
  timeout?: number;
}

/**
 * What {@link SshClient.exec} collects.
 *
 * @example
 * ```ts
 * import type { ExecResult } from "./client.ts";
 * const ok = (r: ExecResult) => r.code === 0;
 * ```
 */
export interface ExecResult extends ExitInfo {
  /** Standard output as bytes. */
  stdout: Uint8Array;
  /** Standard error as bytes. */
  stderr: Uint8Array;
}

async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * An authenticated SSH client connection.
 *
 * @example
 * ```ts
 * import { connect } from "./client.ts";
 * async function demo() {
 *   const client = await connect({ host: "example.com", username: "alice", password: "x", hostKey: { fingerprint: "SHA256:..." } });
 *   const r = await client.exec("uname -a");
 *   console.log(new TextDecoder().decode(r.stdout), r.code);
 *   await client.close();
 * }
 * ```
 */
export class SshClient {
  /** The transport (events: `transport.kex$`, `debug$`, `disconnect$`, ...). */
  readonly transport: Transport;
  /** The channel multiplexer (its `event$` reports every decision on what the server asked). */
  readonly connection: Connection;
  /**
   * What this client answers when the server opens a channel
   * (forwarded-tcpip, x11, auth-agent@openssh.com, ...) or sends a global
   * request: register a handler by type or name; unsubscribe to remove it.
   * What no handler claims is refused.
   */
  readonly handlers: ConnectionHandlers<ClientContext>;
  #keepalive = new Subscription();
  #sessionRequests: NonNullable<SessionOptions["requests"]>[number][] = [];

  /** Wraps an authenticated transport; `handlers` are in place before the first message is read. */
  constructor(
    transport: Transport,
    options: {
      keepaliveInterval?: number;
      keepaliveCountMax?: number;
      handlers?: ConnectionHandlerSet<ClientContext>;
      /** Who the server is, for the keepalive timeout's description. */
      peer?: string;
    } = {},
  ) {
    this.transport = transport;
    this.handlers = new ConnectionHandlers<ClientContext>();
    if (options.handlers) this.handlers.add(options.handlers);
    this.connection = new Connection(transport, {
      router: this.handlers.router((connection: Connection) => ({ connection, client: this })),
    });
    this.#keepalive = keepalive({
      globalRequest: (name) => this.connection.globalRequest(name),
      disconnect: (reason, description) => transport.disconnect(reason, description),
      closed: transport.closed,
    }, {
      interval: options.keepaliveInterval ?? 0,
      countMax: options.keepaliveCountMax,
      peer: `server ${options.peer ?? "(unknown)"}`,
    });
  }

  /** Runs `command` and collects its output and exit status. `stdin` is sent, then EOF. */
  async exec(
    command: string,
    options: SessionOptions & { stdin?: Uint8Array | string } = {},
  ): Promise<ExecResult> {
    const s = await this.spawn(command, options);
    const input = options.stdin;
    const writing = (async () => {
      const w = s.stdin.getWriter();
      if (input !== undefined) {
        await w.write(typeof input === "string" ? new TextEncoder().encode(input) : input);
      }
      await w.close();
    })().catch(() => {});
    const [stdout, stderr] = await Promise.all([collect(s.stdout), collect(s.stderr)]);
    await writing;
    const exit = await s.exit;
    return { stdout, stderr, ...exit };
  }

  /** Starts `command` with streams for stdin, stdout and stderr. */
  spawn(command: string, options: SessionOptions = {}): Promise<Session> {
    return openSession(this.connection, { exec: command }, this.#withDefaults(options));
  }

  /** Starts an interactive shell (add `pty` to get a terminal). */
  shell(options: SessionOptions = {}): Promise<Session> {
    return openSession(this.connection, { shell: true }, this.#withDefaults(options));
  }

  /** Starts a subsystem such as "sftp". */
  subsystem(name: string, options: SessionOptions = {}): Promise<Session> {
    return openSession(this.connection, { subsystem: name }, this.#withDefaults(options));
  }

  /**
   * Asks for `request` on every session this client starts from now on
   * (agent forwarding for the whole connection, as `ssh -A`); the returned
   * function stops it.
   *
   * @example
   * ```ts
   * import type { SshClient } from "./client.ts";
   * const everywhere = (c: SshClient) => c.requestOnEverySession({ type: "auth-agent-req@openssh.com" });
   * ```
   */
  requestOnEverySession(request: NonNullable<SessionOptions["requests"]>[number]): () => void {
    this.#sessionRequests.push(request);
    return () => {
      const i = this.#sessionRequests.indexOf(request);
      if (i >= 0) this.#sessionRequests.splice(i, 1);
    };
  }

  #withDefaults(options: SessionOptions): SessionOptions {
    if (this.#sessionRequests.length === 0) return options;
    return { ...options, requests: [...this.#sessionRequests, ...(options.requests ?? [])] };
  }

  /** Opens a raw channel of any type. */
  openChannel(type: string, data?: Uint8Array): Promise<Channel> {
    return this.connection.openChannel(type, data);
  }

  /** Disconnects (BY_APPLICATION). */
  async close(): Promise<void> {
    this.#keepalive.unsubscribe();
    await this.transport.disconnect();
  }
}

/**
 * A host key verifier backed by an OpenSSH known_hosts file (the policy of
 * `verifyKnownHost`): a listed key is trusted; a changed or revoked key is
 * refused with a `HostKeyError` that says so and where; an unknown host is
 * refused (a `HostKeyError` of kind `unknown`), or with `acceptNew` added
 * to the file (mode 0600, hashed with `hashNew`), as
 * `StrictHostKeyChecking=accept-new` does. A new key that cannot be written
 * to the file is refused too, with an `Error` naming the file. The
 * connection then ends with a `DisconnectError` (HOST_KEY_NOT_VERIFIABLE)
 * whose `cause` is that error.
 *
 * @example
 * ```ts
 * import { knownHostsVerifier } from "./client.ts";
 * const verify = knownHostsVerifier("/home/me/.ssh/known_hosts", { host: "example.com", acceptNew: true });
 * ```
 */
export function knownHostsVerifier(
  file: string,
  options: { host: string; port?: number; acceptNew?: boolean; hashNew?: boolean },
): (key: PublicKey) => Promise<boolean> {
  const { host, port = 22 } = options;
  return async (key) => {
    const verdict = await verifyKnownHost(key, {
      host,
      port,
      files: [file],
      acceptNew: options.acceptNew,
      addTo: file,
      hashNew: options.hashNew,
    });
    if (verdict.status === "accepted" && verdict.error !== undefined) {
      const why = verdict.error instanceof Error ? verdict.error.message : String(verdict.error);
      throw new Error(
        `cannot add the host key of ${knownHostsName(host, port)} to ${file}: ${why}`,
        { cause: verdict.error },
      );
    }
    return true;
  };
}

/**
 * Connects, verifies the host key, and authenticates with the given
 * credentials (keys first, then keyboard-interactive, then password, as
 * OpenSSH orders them).
 *
 * @example
 * ```ts
 * import { connect } from "./client.ts";
 * async function run() {
 *   const c = await connect({ host: "127.0.0.1", port: 2222, username: "me", password: "pw", hostKey: { fingerprint: "SHA256:..." } });
 *   await c.close();
 * }
 * ```
 */
export async function connect(options: ConnectOptions): Promise<SshClient> {
  options = await withSshConfig(options);
  if (options.via !== undefined && options.proxyCommand !== undefined) {
    throw new TypeError(
      "connect: options.via and options.proxyCommand both say how to reach the host: give one",
    );
  }
  if (options.via !== undefined && options.stream === undefined) return await connectVia(options);
  const hk = options.hostKey;
  if (!hk || (!("fingerprint" in hk) && !("verify" in hk) && !("knownHosts" in hk))) {
    throw new TypeError(
      "connect: options.hostKey is required ({ fingerprint }, { knownHosts } or { verify }) unless options.config gives the known_hosts files: rxssh never trusts a host key silently",
    );
  }
  const verifyHostKey = "fingerprint" in hk
    ? ((pinned: string) => (_k: PublicKey, info: HostKeyInfo) => info.fingerprint === pinned)(
      hk.fingerprint,
    )
    : "knownHosts" in hk
    ? knownHostsVerifier(hk.knownHosts, {
      ...hk,
      host: options.host ?? "localhost",
      port: options.port ?? 22,
    })
    : hk.verify;
  const tuning = transportTuning(options);
  const { stream, proxy } = await openStream(options);
  const transport = new Transport(stream, {
    role: "client",
    verifyHostKey,
    ...tuning,
    handshakeTimeout: options.timeout ?? 30_000,
  });
  if (proxy) transport.closed.then(() => proxy.kill());
  options.onTransport?.(transport);
  let handshaken = false;
  try {
    await transport.ready;
    handshaken = true;
    const opened = await openAgentOption(options.agent, { filter: options.agentFilter });
    const methods: AuthMethod[] = [
      ...(options.privateKeys ?? []).map((key) => ({ type: "publickey" as const, key })),
      ...(opened.agent ? [{ type: "agent" as const, agent: opened.agent }] : []),
      ...(options.keyboardInteractive
        ? [{ type: "keyboard-interactive" as const, respond: options.keyboardInteractive }]
        : []),
      ...(options.password !== undefined
        ? [{ type: "password" as const, password: options.password }]
        : []),
      ...(options.authMethods ?? []),
    ];
    await authenticate(transport, {
      username: options.username ?? localUser(),
      methods,
      onBanner: options.onBanner,
    }).finally(() => opened.close());
    const client = new SshClient(transport, {
      keepaliveInterval: options.keepaliveInterval,
      keepaliveCountMax: options.keepaliveCountMax,
      handlers: options.handlers,
      peer: options.host ?? "localhost",
    });
    await forwardAgentForConnection(client, options.forwardAgent);
    forwardX11ForConnection(client, options.forwardX11);
    return client;
  } catch (e) {
    // Before the handshake, a proxy command that exited is the reason (its status).
    const why = proxy && !handshaken ? await proxy.failure(e) : e;
    await transport.disconnect().catch(() => {});
    throw why;
  }
}

/** The transport's byte stream: `stream`, a ProxyCommand, or a TCP connection. */
async function openStream(
  options: ConnectOptions,
): Promise<{ stream: ByteStreamPair; proxy?: ProxyCommandProcess }> {
  if (options.stream) return { stream: options.stream };
  const host = options.host ?? "localhost";
  const port = options.port ?? 22;
  if (options.proxyCommand !== undefined) {
    const user = options.username ?? localUser();
    const proxy = startProxyCommand(options.proxyCommand, { host, port, user });
    return { stream: proxy.stream, proxy };
  }
  const signal = AbortSignal.timeout(options.timeout ?? 30_000);
  return { stream: await connectTcp(host, port, { signal }) };
}

/**
 * `forwardAgent`: serves the agent on the server's auth-agent@openssh.com
 * channels and asks for forwarding on every session (ssh -A). An agent
 * that cannot be reached forwards nothing, as ssh.
 */
async function forwardAgentForConnection(
  client: SshClient,
  option: ConnectOptions["forwardAgent"],
): Promise<void> {
  if (option === undefined || option === false) return;
  const opened = await openAgentOption(option === true ? undefined : option);
  if (!opened.agent) return;
  const forwarding = enableAgentForwarding(client, opened.agent);
  client.requestOnEverySession({ type: forwarding.type });
  client.transport.closed.then(() => opened.close(), () => opened.close());
}

/**
 * A jump host that failed: which hop (0 is the first), what it was, and why.
 *
 * @example
 * ```ts
 * import { JumpHostError } from "./client.ts";
 * const e = new JumpHostError(1, "bastion2:22", new Error("connection refused"));
 * console.log(e.message); // jump host 2 (bastion2:22) failed: connection refused
 * ```
 */
export class JumpHostError extends Error {
  /** The hop's index in the chain (0: the first). */
  readonly hop: number;
  /** `host:port` of the hop. */
  readonly target: string;
  /** Creates the error. */
  constructor(hop: number, target: string, cause: unknown) {
    super(
      `jump host ${hop + 1} (${target}) failed: ${cause instanceof Error ? cause.message : cause}`,
      { cause },
    );
    this.name = "JumpHostError";
    this.hop = hop;
    this.target = target;
  }
}

const endpoint = (o: { host?: string; port?: number }) =>
  `${o.host ?? "localhost"}:${o.port ?? 22}`;

/** connect() through jump hosts: each hop over the one before, then the target. */
async function connectVia(options: ConnectOptions): Promise<SshClient> {
  const hops = options.via instanceof SshClient ? [options.via] : [...options.via!];
  const names = [...hops.filter((h) => !(h instanceof SshClient)), options].map((h) =>
    endpoint(h as ConnectOptions)
  );
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice) throw new TypeError(`connect: the jump chain reaches ${twice} twice (a loop)`);
  const opened: SshClient[] = [];
  const closeOpened = () => Promise.all(opened.reverse().map((c) => c.close().catch(() => {})));
  let previous: SshClient | undefined;
  try {
    for (const [i, hop] of hops.entries()) {
      if (hop instanceof SshClient) {
        previous = hop;
        continue;
      }
      try {
        previous = await connect({ ...hop, via: previous });
      } catch (e) {
        throw new JumpHostError(i, endpoint(hop), e);
      }
      opened.push(previous);
    }
    const target = { host: options.host ?? "localhost", port: options.port ?? 22 };
    const stream = await forwardOut(previous!, target);
    const client = await connect({ ...options, via: undefined, stream });
    client.transport.closed.then(closeOpened, closeOpened);
    return client;
  } catch (e) {
    await closeOpened();
    throw e;
  }
}
