/**
 * The server's session policy, apart from dispatch: which client variables
 * a session keeps (sshd's AcceptEnv and its caps), whether a pty may be
 * had (PermitTTY, no-pty), what runs under a forced command (ForceCommand,
 * command=), and the order in which environments are merged. Pure
 * decisions: `server.ts` asks, then answers the client.
 *
 * @module
 */
import type { SessionRestrictions } from "./auth/server.ts";
import { matchPatternList } from "./keys/patterns.ts";

/**
 * sshd's cap on a session's client variables: session.c session_env_req
 * refuses once `num_env > 128`, so 129 are kept.
 */
export const DEFAULT_MAX_ENV = 129;
/** Our cap on the bytes (names and values, UTF-8) of a session's client variables. */
export const DEFAULT_MAX_ENV_BYTES = 64 * 1024;
/** sshd's AcceptEnv as Debian ships it. */
export const DEFAULT_ACCEPT_ENV: readonly string[] = ["LANG", "LC_*"];

/**
 * The policy options (a subset of `ServerOptions`).
 *
 * @example
 * ```ts
 * import type { PolicyOptions } from "./server_policy.ts";
 * const o: PolicyOptions = { acceptEnv: ["LANG"], permitTty: false };
 * ```
 */
export interface PolicyOptions {
  /** sshd's AcceptEnv patterns (default `["LANG", "LC_*"]`). */
  readonly acceptEnv?: readonly string[];
  /** Most client variables per session (default 129). */
  readonly maxEnv?: number;
  /** Most bytes of client variables per session (default 65536). */
  readonly maxEnvBytes?: number;
  /** false: every pty-req is refused. */
  readonly permitTty?: boolean;
  /** sshd's ForceCommand. */
  readonly forceCommand?: string;
  /** Apply the key's environment= (sshd's PermitUserEnvironment). */
  readonly permitUserEnvironment?: boolean;
}

/**
 * The variables a client set with env requests (RFC 4254 §6.4), within the caps.
 *
 * @example
 * ```ts
 * import { clientEnvironment } from "./server_policy.ts";
 * const env = clientEnvironment({ acceptEnv: ["LANG"] });
 * console.log(env.offer("LANG", "C"), env.offer("PATH", "/tmp")); // undefined "not in acceptEnv"
 * ```
 */
export interface ClientEnvironment {
  /** What was accepted. */
  readonly vars: Readonly<Record<string, string>>;
  /** Stores the variable, or returns why it is refused. */
  offer(name: string, value: string): string | undefined;
}

const te = new TextEncoder();

/**
 * A session's client environment under `options`' caps and AcceptEnv, in
 * sshd's order of checks (the count first, then AcceptEnv).
 *
 * @example
 * ```ts
 * import { clientEnvironment } from "./server_policy.ts";
 * const env = clientEnvironment({ maxEnv: 1, acceptEnv: ["*"] });
 * env.offer("A", "1");
 * console.log(env.offer("B", "2")); // "too many variables (maxEnv 1)"
 * ```
 */
export function clientEnvironment(options: PolicyOptions): ClientEnvironment {
  const maxEnv = options.maxEnv ?? DEFAULT_MAX_ENV;
  const maxBytes = options.maxEnvBytes ?? DEFAULT_MAX_ENV_BYTES;
  const accept = (options.acceptEnv ?? DEFAULT_ACCEPT_ENV).join(",");
  const vars: Record<string, string> = Object.create(null);
  const size = (name: string, value: string) => te.encode(name).length + te.encode(value).length;
  let count = 0;
  let bytes = 0;
  return {
    vars,
    offer(name, value) {
      // A name with "=" would set another variable in the child's environment (sshd's
      // child_set_env refuses it too); NUL cannot reach a process at all.
      if (name === "" || /[=\0]/.test(name) || value.includes("\0")) return "invalid variable";
      const known = Object.hasOwn(vars, name);
      if (!known && count >= maxEnv) return `too many variables (maxEnv ${maxEnv})`;
      if (matchPatternList(name, accept) !== 1) return "not in acceptEnv";
      const after = bytes - (known ? size(name, vars[name]) : 0) + size(name, value);
      if (after > maxBytes) return `over maxEnvBytes ${maxBytes}`;
      if (!known) count++;
      bytes = after;
      vars[name] = value;
      return undefined;
    },
  };
}

/**
 * Why a pty-req is refused, or undefined when it may be granted.
 *
 * @example
 * ```ts
 * import { ptyRefusal } from "./server_policy.ts";
 * console.log(ptyRefusal({ permitTty: false }, {}, false)); // "permitTty is false"
 * ```
 */
export function ptyRefusal(
  options: PolicyOptions,
  restrictions: SessionRestrictions,
  started: boolean,
): string | undefined {
  if (started) return "the session has started";
  if (options.permitTty === false) return "permitTty is false";
  if (restrictions.pty === false) return "no-pty";
  return undefined;
}

/**
 * What a session runs: the request, or the forced command in its place
 * (ForceCommand wins over the key's command=), with what was asked.
 *
 * @example
 * ```ts
 * import { sessionStart } from "./server_policy.ts";
 * const s = sessionStart({ forceCommand: "/bin/date" }, {}, { request: "exec", requested: "ls" });
 * console.log(s.kind, s.command, s.forced); // exec /bin/date true
 * ```
 */
export function sessionStart(
  options: PolicyOptions,
  restrictions: SessionRestrictions,
  asked: { request: "exec" | "shell" | "subsystem"; requested?: string },
): {
  request: "exec" | "shell" | "subsystem";
  requested?: string;
  kind: "exec" | "shell" | "subsystem";
  command?: string;
  forced: boolean;
} {
  const forced = options.forceCommand ?? restrictions.command;
  return {
    ...asked,
    kind: forced !== undefined ? "exec" : asked.request,
    command: forced ?? asked.requested,
    forced: forced !== undefined,
  };
}

/**
 * The environment a session's command gets, in sshd's order: the client's
 * variables, then those handlers added (DISPLAY, SSH_AUTH_SOCK), then the
 * key's environment= (with permitUserEnvironment), then
 * SSH_ORIGINAL_COMMAND under a forced command.
 *
 * @example
 * ```ts
 * import { sessionEnvironment } from "./server_policy.ts";
 * const env = sessionEnvironment({}, {}, {
 *   client: { LANG: "C" },
 *   added: { DISPLAY: "localhost:10.0" },
 *   start: { forced: false },
 * });
 * console.log(env.DISPLAY); // localhost:10.0
 * ```
 */
export function sessionEnvironment(
  options: PolicyOptions,
  restrictions: SessionRestrictions,
  parts: {
    client: Readonly<Record<string, string>>;
    added: Readonly<Record<string, string>>;
    start: { forced: boolean; requested?: string };
  },
): Record<string, string> {
  const { start } = parts;
  return {
    ...parts.client,
    ...parts.added,
    ...(options.permitUserEnvironment ? restrictions.environment : {}),
    ...(start.forced && start.requested !== undefined
      ? { SSH_ORIGINAL_COMMAND: start.requested }
      : {}),
  };
}
