/**
 * OpenSSH's ProxyCommand: the transport's byte stream is a local command's
 * standard output and input (sshconnect.c `ssh_proxy_connect`). The
 * command runs as `$SHELL -c "exec <command>"` (`/bin/sh` when SHELL is
 * unset), in this process's directory and environment, with `%h %p %r %n
 * %k %%` expanded as ssh expands them (`expand_proxy_command`); its
 * standard error goes to ours, as ssh leaves it; it gets SIGHUP when the
 * connection ends, as ssh's `ssh_kill_proxy_command` sends.
 *
 * @module
 */
import process from "node:process";
import { setTimeout as setNodeTimeout } from "node:timers";
import { expandSshConfigValue } from "./config/ssh_config.ts";
import { runCommand } from "./runtime/process.ts";
import type { ByteStreamPair } from "./transport/transport.ts";

/**
 * A ProxyCommand with its options (see `ConnectOptions.proxyCommand`).
 *
 * @example
 * ```ts
 * import type { ProxyCommandOptions } from "./proxy_command.ts";
 * const viaNc: ProxyCommandOptions = { command: "nc %h %p", stderr: "ignore" };
 * ```
 */
export interface ProxyCommandOptions {
  /** The command, with ssh's ProxyCommand `%`-tokens: %h host, %p port, %r user, %n the host as given, %k HostKeyAlias (else %n), %% a percent sign. */
  command: string;
  /** Tokens that replace the connection's (a configuration gives %n, the alias, and %k). */
  tokens?: Readonly<Record<string, string>>;
  /** Where its standard error goes: this process's (default, as ssh), nowhere, or a stream. */
  stderr?: "inherit" | "ignore" | WritableStream<Uint8Array>;
}

/**
 * A ProxyCommand that ended before the SSH handshake did: which command
 * (expanded) and how it ended. The transport's error is the `cause`.
 *
 * @example
 * ```ts
 * import { ProxyCommandError } from "./proxy_command.ts";
 * const e = new ProxyCommandError("nc 10.0.0.1 22", { code: 1 });
 * console.log(e.message); // proxy command "nc 10.0.0.1 22" exited with status 1 before the SSH handshake completed
 * ```
 */
export class ProxyCommandError extends Error {
  /** The command as it was run (tokens expanded, without the `exec`). */
  readonly command: string;
  /** Its exit status, or the signal (without "SIG") that ended it. */
  readonly status: { code: number } | { signal: string };
  /** Creates the error. */
  constructor(
    command: string,
    status: { code: number } | { signal: string },
    options: { cause?: unknown } = {},
  ) {
    const how = "code" in status
      ? `exited with status ${status.code}`
      : `was killed by signal ${status.signal}`;
    super(`proxy command "${command}" ${how} before the SSH handshake completed`, options);
    this.name = "ProxyCommandError";
    this.command = command;
    this.status = status;
  }
}

/**
 * A running ProxyCommand: the byte stream to hand to the transport, and how
 * to end it.
 *
 * @example
 * ```ts
 * import type { ProxyCommandProcess } from "./proxy_command.ts";
 * const stop = (p: ProxyCommandProcess) => p.kill();
 * ```
 */
export interface ProxyCommandProcess {
  /** Its standard output (readable) and input (writable). */
  readonly stream: ByteStreamPair;
  /** The command as run (tokens expanded, without the `exec`). */
  readonly command: string;
  /** Resolves when it has exited. */
  readonly exit: Promise<{ code: number } | { signal: string }>;
  /** Sends SIGHUP (as ssh), then SIGKILL if it is still running 5 s later. */
  kill(): void;
  /**
   * What to throw for `error`, a failed handshake: a
   * {@link ProxyCommandError} when the command has exited (or exits
   * within a second), else `error` itself.
   */
  failure(error: unknown): Promise<unknown>;
}

/**
 * Starts a ProxyCommand for `target`. The `%`-tokens are expanded first;
 * an unknown one throws an `SshConfigError` naming ProxyCommand, as ssh
 * refuses it. A command that cannot start exits 127 with the shell's
 * message on its standard error.
 *
 * @example
 * ```ts
 * import { startProxyCommand } from "./proxy_command.ts";
 * const p = startProxyCommand("nc %h %p", { host: "db.internal", port: 22, user: "me" });
 * console.log(p.command); // nc db.internal 22
 * p.kill();
 * ```
 */
export function startProxyCommand(
  proxy: string | ProxyCommandOptions,
  target: { host: string; port: number; user: string },
): ProxyCommandProcess {
  const o = typeof proxy === "string" ? { command: proxy } : proxy;
  const tokens = {
    h: target.host,
    p: String(target.port),
    r: target.user,
    n: target.host,
    k: o.tokens?.n ?? target.host,
    ...o.tokens,
  };
  const command = expandSshConfigValue(o.command, { keyword: "ProxyCommand", tokens });
  const child = runCommand(`exec ${command}`, {
    shell: process.env.SHELL || "/bin/sh",
    cwd: process.cwd(),
  });
  let exited: { code: number } | { signal: string } | undefined;
  const exit = child.exit.then((s) => (exited = s));
  drainStderr(child.stderr, o.stderr ?? "inherit");
  let killing = false;
  const kill = () => {
    if (exited !== undefined || killing) return;
    killing = true;
    child.kill("HUP");
    const t = setNodeTimeout(() => exited === undefined && child.kill("KILL"), 5000);
    t.unref?.();
    exit.then(() => clearTimeout(t));
  };
  const failure = async (error: unknown) => {
    let timer: ReturnType<typeof setNodeTimeout> | undefined;
    const late = new Promise<undefined>((r) => (timer = setNodeTimeout(() => r(undefined), 1000)));
    const status = exited ?? await Promise.race([exit, late]);
    clearTimeout(timer);
    return status === undefined ? error : new ProxyCommandError(command, status, { cause: error });
  };
  return {
    stream: { readable: child.stdout, writable: child.stdin },
    command,
    exit,
    kill,
    failure,
  };
}

/** Copies the command's standard error where it was asked to go, to its end. */
function drainStderr(
  stderr: ReadableStream<Uint8Array>,
  to: NonNullable<ProxyCommandOptions["stderr"]>,
): void {
  if (to instanceof WritableStream) {
    stderr.pipeTo(to).catch(() => {});
    return;
  }
  (async () => {
    for await (const chunk of stderr) if (to === "inherit") process.stderr.write(chunk);
  })().catch(() => {});
}
