/**
 * `rxssh serve`: an SSH server with sshd-like flags that runs the clients'
 * commands and shells as local processes of the user running it.
 *
 * ```sh
 * rxssh serve [-p port] [-W workers] [-h host_key_file]... [-f config_file] [-o Option=value]... [-D] [-d] [-q]
 * ```
 *
 * - Processes: `-W N` runs N worker processes sharing the listening port
 *   (SO_REUSEPORT; default one per core; `-W 1` serves in this process),
 *   with the configuration and host keys read once by the parent (see
 *   `serve_workers.ts`).
 * - SIGHUP: the configuration files (and host keys) are read again; new
 *   connections use them, open connections keep going unchanged.
 *
 * - Users: only the user running `rxssh serve` can log in (as with a
 *   non-root sshd); every command runs as that user.
 * - Host keys: `-h file` / `-o HostKey=file` (repeatable, unencrypted, mode
 *   0600 or stricter). Without any, `~/.rxssh/ssh_host_ed25519_key` is used,
 *   and generated (ed25519, OpenSSH format, mode 0600, with a `.pub` beside
 *   it) on the first run; its fingerprint is printed at every start.
 * - Public keys: `AuthorizedKeysFile` (default `.ssh/authorized_keys`,
 *   relative to the home directory; `%h`, `%u`, `%%` tokens; several files
 *   separated by spaces), re-read at every attempt, with the key options
 *   `from=` (the client's address), `expiry-time=`, `command=` (forced;
 *   the original goes to `SSH_ORIGINAL_COMMAND`), `environment=` (unless
 *   `PermitUserEnvironment no`), `no-pty`/`restrict`/`pty` (pty-req
 *   refused), `no-port-forwarding`, `permitopen`, `permitlisten`.
 * - Port forwarding as sshd: `AllowTcpForwarding` (yes, the default; no,
 *   local, remote), `GatewayPorts` (no, the default; yes;
 *   clientspecified), `PermitOpen` and `PermitListen` (`host:port` lists,
 *   `any`, `none`). Unix-socket forwarding as sshd:
 *   `AllowStreamLocalForwarding` (yes, the default, or all; no; local;
 *   remote; sockets bound with mode 0600, never over an existing file).
 *   `ClientAliveInterval` (seconds, 0 = off) and
 *   `ClientAliveCountMax` (default 3) end connections whose client stops
 *   answering. `AllowAgentForwarding` (yes, the default; no): `ssh -A`
 *   gets an agent socket and SSH_AUTH_SOCK. `X11Forwarding` (no, the
 *   default; yes): `ssh -X`/`-Y` gets `DISPLAY=localhost:n` (a listener on
 *   127.0.0.1:6000+n, n from `X11DisplayOffset`, default 10) and its cookie
 *   in the authority file through `XAuthLocation` (default
 *   /usr/bin/xauth; missing: refused); `X11UseLocalhost` yes only;
 *   authorized_keys `no-X11-forwarding` and `restrict` refuse it.
 *   `Compression` (yes, the default, and delayed: zlib@openssh.com after
 *   authentication; no).
 * - SFTP: the `sftp` subsystem is served internally (sshd's `Subsystem
 *   sftp internal-sftp`, with its `-R` read-only and `-u umask` options)
 *   unless `Subsystem sftp /path/to/server` names a command.
 *   `ChrootDirectory` (`%u`, `%h`, `%%` tokens; `none`) confines it to a
 *   directory the way sshd's chroot confines internal-sftp (paths resolved
 *   under it, no `..`, absolute path or link leading out; no chroot(2),
 *   so no root-owned directory is needed, and commands are not confined).
 *   `ForceCommand internal-sftp` allows SFTP sessions only.
 * - Passwords: `PasswordAuthentication yes` (default no) checks against the
 *   file named by `-o PasswordFile=path` (its first line; the file must not
 *   be readable by group or others), else the environment variable
 *   `RXSSH_PASSWORD`, which is removed from the environment so that sessions
 *   never see it. System passwords are never consulted.
 * - Also: `ListenAddress` (repeatable, `host` or `host:port`), `Port`,
 *   `Ciphers`, `KexAlgorithms`, `MACs`, `HostKeyAlgorithms` (OpenSSH list
 *   syntax), `MaxAuthTries`, `MaxSessions`, `LoginGraceTime` (seconds),
 *   `Banner` (a file, or `none`), `PubkeyAuthentication`, `PermitTTY`,
 *   `AcceptEnv` (default `LANG LC_*`), `ForceCommand`, `Subsystem name
 *   command`, `LogLevel` (QUIET, FATAL, ERROR, INFO, VERBOSE, DEBUG),
 *   `RekeyLimit` (`default none`, `1G 1h`: bytes with K, M, G and an
 *   optional time; unset, the library's 1 GiB and one hour apply).
 * - Unauthenticated connections: `MaxStartups` (`start:rate:full`, default
 *   10:30:100, random early drop), `PerSourceMaxStartups` (default none)
 *   and `PerSourceNetBlockSize` (default 32:128), as sshd; a dropped
 *   connection gets "Exceeded MaxStartups" and no banner. Behind
 *   `ProxyProtocol`, the per-source count uses the client address the
 *   header carries. Each worker (`-W`) counts its own connections.
 * - Behind a load balancer: `ProxyProtocol CIDR[,CIDR...]` (rxssh's own;
 *   repeatable) makes every connection start with a PROXY protocol header
 *   (v1 or v2, HAProxy's `send-proxy`/`send-proxy-v2`) from one of those
 *   addresses, read before anything is sent; the client's address it
 *   carries is the one logged, matched by `from=` and set in
 *   `SSH_CONNECTION`/`SSH_CLIENT`. Other peers, and headers missing after
 *   `ProxyProtocolTimeout` seconds (default 5), are closed without a banner.
 * - SIGTERM or SIGINT: stop accepting, let open connections finish for up
 *   to `ShutdownGraceTime` seconds (rxssh's own; default 30), then
 *   disconnect the rest ("server shutting down") and exit 0. `-D`
 *   and `-e` are accepted for sshd compatibility (the server always stays in
 *   the foreground and logs to standard error); `-d` means `LogLevel DEBUG`,
 *   `-q` means `LogLevel QUIET`.
 *
 * Prints `listening on host:port` to standard error once bound (with the
 * real port when `-p 0` asked the OS to pick one).
 *
 * @module
 */
import * as fs from "node:fs";
import * as path from "node:path";
import process from "node:process";
import { authorizedKeysHandler } from "../auth/authorized_keys_policy.ts";
import type { ServerAuthHandlers, ServerAuthOptions } from "../auth/server.ts";
import { SHA256 } from "../crypto/hash.ts";
import { constantTimeEqual } from "../crypto/constant_time.ts";
import { generatePrivateKey } from "../keys/private_key.ts";
import { parsePrivateKeyFile, writePrivateKeyFile } from "../keys/private_key_file.ts";
import { formatPublicKeyLine } from "../keys/public_key_file.ts";
import type { PrivateKey, PublicKey } from "../keys/types.ts";
import { plainAddress } from "../runtime/address.ts";
import type { ListenerWarning } from "../runtime/accept.ts";
import { listenTcp } from "../runtime/tcp.ts";
import {
  type ProxiedConnection,
  type ProxyProtocolOptions,
  readProxyHeader,
  trustedProxies,
} from "../runtime/proxy_protocol.ts";
import type { Transport } from "../transport/transport.ts";
import { DisconnectReason } from "../wire/errors.ts";
import type { ListenTcpOptions, TcpConnection, TcpListener } from "../runtime/types.ts";
import { quotePeerText } from "../wire/quote.ts";
import type { SharedChannelCount } from "../connection/connection.ts";
import {
  acceptConnection,
  MAX_SERVER_CHANNELS,
  runLocalCommand,
  type ServerEvent,
  type ServerOptions,
  type ServerSession,
} from "../server.ts";
import {
  expandTilde,
  homeDirectory,
  localUserName,
  Logger,
  OptionError,
  OptionSet,
  type OptionSpec,
  parseLogLevel,
} from "./options.ts";
import { parseRekeyLimit } from "./rekey_limit.ts";
import {
  closeDropped,
  StartupDroppedError,
  StartupGate,
  type StartupTicket,
} from "../server_limits.ts";
import { portForwardingHandler, type PortForwardingOptions } from "../forward/server.ts";
import { agentForwardingHandler } from "../agent/forwarding.ts";
import { x11ForwardingHandler } from "../x11/server.ts";
import { sftpSubsystem } from "../sftp/subsystem.ts";
import {
  SERVE_WORKER_ENV,
  serveWorker,
  superviseWorkers,
  takeWorkersOption,
} from "./serve_workers.ts";

/**
 * The usage text of `rxssh serve`.
 *
 * @example
 * ```ts
 * import { SERVE_USAGE } from "./serve.ts";
 * console.error(SERVE_USAGE);
 * ```
 */
export const SERVE_USAGE =
  "usage: rxssh serve [-p port] [-W workers] [-h host_key_file]... [-f config_file] [-o Option=value]... [-D] [-d] [-q]";

/**
 * The sshd_config keywords `rxssh serve` understands.
 *
 * @example
 * ```ts
 * import { SERVE_OPTIONS } from "./serve.ts";
 * console.log(SERVE_OPTIONS.map((o) => o.name).join(", "));
 * ```
 */
export const SERVE_OPTIONS: readonly OptionSpec[] = [
  { name: "Port" },
  { name: "ListenAddress", multi: true },
  { name: "HostKey", multi: true },
  { name: "AuthorizedKeysFile" },
  { name: "PubkeyAuthentication" },
  { name: "PasswordAuthentication" },
  { name: "PasswordFile" },
  { name: "Ciphers" },
  { name: "KexAlgorithms" },
  { name: "MACs" },
  { name: "HostKeyAlgorithms" },
  { name: "MaxAuthTries" },
  { name: "MaxSessions" },
  { name: "LoginGraceTime" },
  { name: "MaxStartups" },
  { name: "PerSourceMaxStartups" },
  { name: "PerSourceNetBlockSize" },
  { name: "Banner" },
  { name: "LogLevel" },
  { name: "PermitTTY" },
  { name: "PermitUserEnvironment" },
  { name: "AcceptEnv", multi: true },
  { name: "ForceCommand" },
  { name: "Subsystem", multi: true },
  { name: "RekeyLimit" },
  { name: "AllowTcpForwarding" },
  { name: "AllowStreamLocalForwarding" },
  { name: "GatewayPorts" },
  { name: "PermitOpen", multi: true },
  { name: "PermitListen", multi: true },
  { name: "ClientAliveInterval" },
  { name: "ClientAliveCountMax" },
  { name: "Compression" },
  { name: "AllowAgentForwarding" },
  { name: "X11Forwarding" },
  { name: "X11DisplayOffset" },
  { name: "X11UseLocalhost" },
  { name: "XAuthLocation" },
  { name: "ProxyProtocol", multi: true },
  { name: "ProxyProtocolTimeout" },
  { name: "ShutdownGraceTime" },
  { name: "ChrootDirectory" },
];

/**
 * A running `rxssh serve`, from {@link startServe}.
 *
 * @example
 * ```ts
 * import type { ServeHandle } from "./serve.ts";
 * const where = (h: ServeHandle) => h.addresses.map((a) => `${a.hostname}:${a.port}`).join(" ");
 * ```
 */
export interface ServeHandle {
  /** The bound addresses (with the ports the OS picked for port 0). */
  readonly addresses: readonly { hostname: string; port: number }[];
  /** SHA256 fingerprints of the host keys in use. */
  readonly hostKeyFingerprints: readonly string[];
  /**
   * Resolves with the error when a listener fails for good (a `ListenerError`:
   * not the transient accept failures, which are logged and retried); stays
   * pending otherwise. `serveMain` then exits 1.
   */
  readonly failed: Promise<unknown>;
  /** `ShutdownGraceTime` in milliseconds (what `serveMain` gives `close` on SIGTERM). */
  readonly shutdownGraceMs: number;
  /**
   * Stops listening; with `graceMs`, waits up to that long for open
   * connections to end; then disconnects the rest (BY_APPLICATION, "server
   * shutting down"). Resolves once they are closed.
   */
  close(options?: { graceMs?: number }): Promise<void>;
  /**
   * Reads the arguments' configuration files (and the host keys, unless
   * `hostKeys` are given) again, as sshd does on SIGHUP: connections
   * accepted from then on use the new configuration, open ones keep the
   * one they started with. ListenAddress and Port changes need a restart.
   * Rejects (and changes nothing) when the new configuration is bad.
   */
  reload(options?: Pick<StartServeOptions, "hostKeys" | "readConfig">): Promise<void>;
}

/**
 * Options of {@link startServe}.
 *
 * @example
 * ```ts
 * import type { StartServeOptions } from "./serve.ts";
 * const o: StartServeOptions = { writeLog: (line) => console.error(line) };
 * ```
 */
export interface StartServeOptions {
  /** Where log lines go (default: standard error). */
  writeLog?: (line: string) => void;
  /** Binds a listen address (default `listenTcp`; injectable for tests). */
  listenTcp?: (options: ListenTcpOptions) => Promise<TcpListener>;
  /**
   * The host keys to use instead of loading the HostKey files (a worker of
   * `-W` gets them from its parent, which read them once).
   */
  hostKeys?: readonly PrivateKey[];
  /** Reads a `-f` configuration file (default: from disk). */
  readConfig?: (file: string) => string;
  /** The password `RXSSH_PASSWORD` gave (default: the variable, then removed from the environment). */
  envPassword?: string;
  /** Binds these addresses instead of ListenAddress and Port (a worker: those its first sibling bound). */
  bind?: readonly { hostname: string; port: number }[];
  /** Binds with SO_REUSEPORT (the workers of `-W` share their port). */
  reusePort?: boolean;
  /** Says "accepting on" instead of "listening on" (a worker: its parent says "listening on"). */
  worker?: boolean;
}

const te = new TextEncoder();

/**
 * `-p`, `-h`, `-o`, `-f`, `-D`, `-e`, `-d`, `-q` into an {@link OptionSet};
 * `read` reads the `-f` files (a worker gets their text from its parent).
 */
function parseServeArgs(
  args: readonly string[],
  read: (file: string) => string = (f) => fs.readFileSync(f, "utf8"),
): OptionSet {
  const o = new OptionSet(SERVE_OPTIONS);
  const files: string[] = [];
  const need = (i: number, flag: string) => {
    if (i >= args.length) throw new OptionError(`option requires an argument -- ${flag}`);
    return args[i];
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "-p") o.set("Port", need(++i, "p"));
    else if (a === "-h") o.set("HostKey", need(++i, "h"));
    else if (a === "-o") o.addArgument(need(++i, "o"));
    else if (a === "-f") files.push(need(++i, "f"));
    else if (a === "-d") o.set("LogLevel", "DEBUG1");
    else if (a === "-q") o.set("LogLevel", "QUIET");
    else if (a === "-D" || a === "-e") continue;
    else if (/^-[phof]./.test(a)) {
      // -p2222 style
      args = [...args.slice(0, i), a.slice(0, 2), a.slice(2), ...args.slice(i + 1)];
      i--;
    } else throw new OptionError(`unknown argument ${JSON.stringify(a)}\n${SERVE_USAGE}`);
  }
  for (const f of files) o.addText(read(f));
  return o;
}

/** `host`, `host:port`, `[v6]` or `[v6]:port`. */
function parseListenAddress(s: string, port: number): { hostname: string; port: number } {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (v6) return { hostname: v6[1], port: v6[2] ? Number(v6[2]) : port };
  const colons = s.split(":").length - 1;
  if (colons === 1) {
    const [h, p] = s.split(":");
    return { hostname: h, port: parsePort(p) };
  }
  return { hostname: s, port };
}

function parsePort(p: string): number {
  const n = Number(p);
  if (!/^\d+$/.test(p) || n > 65535) throw new OptionError(`Bad port "${p}"`);
  return n;
}

/** Refuses a secret file that group or others may read (as sshd refuses host keys). */
function checkPrivateMode(file: string, what: string): void {
  const st = fs.statSync(file);
  if ((st.mode & 0o077) !== 0) {
    throw new OptionError(
      `permissions 0${(st.mode & 0o777).toString(8)} for ${what} ${file} are too open ` +
        `(it must not be accessible by others; chmod 600 it)`,
    );
  }
}

/** The HostKey files, or ~/.rxssh/ssh_host_ed25519_key (made on first use); each logged. */
async function loadHostKeys(
  o: OptionSet,
  where: { log: Logger; home: string },
): Promise<PrivateKey[]> {
  const { log, home } = where;
  const files = o.all("HostKey").map((f) => expandTilde(f, home));
  const keys: PrivateKey[] = [];
  if (files.length === 0) {
    const dir = path.join(home, ".rxssh");
    const file = path.join(dir, "ssh_host_ed25519_key");
    if (!fs.existsSync(file)) {
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      const key = await generatePrivateKey("ssh-ed25519");
      const comment = `rxssh host key`;
      fs.writeFileSync(file, await writePrivateKeyFile(key, { comment }), {
        mode: 0o600,
        flag: "wx",
      });
      fs.writeFileSync(file + ".pub", formatPublicKeyLine(key.publicKey, comment), {
        mode: 0o644,
      });
      log.info(`generated host key ${file}: ${key.publicKey.fingerprint()}`);
    }
    files.push(file);
  }
  for (const file of files) {
    checkPrivateMode(file, "host key");
    const parsed = await parsePrivateKeyFile(fs.readFileSync(file));
    keys.push(parsed.key);
    log.info(`host key: ${parsed.key.type} ${parsed.key.publicKey.fingerprint()} (${file})`);
  }
  return keys;
}

/** sshd's percent tokens in AuthorizedKeysFile; a relative path is under the home directory. */
function authorizedKeysPaths(spec: string, account: { user: string; home: string }): string[] {
  const { user, home } = account;
  return spec.split(/\s+/).filter((s) => s !== "" && s.toLowerCase() !== "none").map((p) => {
    const expanded = expandTilde(
      p.replace(/%(.)/g, (m, c) => c === "h" ? home : c === "u" ? user : c === "%" ? "%" : m),
      home,
    );
    return path.isAbsolute(expanded) ? expanded : path.join(home, expanded);
  });
}

const sha = (s: string) => SHA256.digest(te.encode(s));
const describeKey = (key: PublicKey) => `${quotePeerText(key.type, 64)} ${key.fingerprint()}`;
/**
 * A user name as it goes into a log line: escaped, and cut at 100
 * characters as sshd's "%.100s" does (auth.c auth_log).
 */
const quoteUser = (user: string) => quotePeerText(user, 100);
/** An error's message for a log line: it may carry peer-controlled text (names, lists, descriptions). */
const quoteMessage = (e: unknown) => quotePeerText(e instanceof Error ? e.message : String(e), 512);

/** What every connection shares. */
interface Policy {
  user: string;
  home: string;
  log: Logger;
  /** The library options, except what depends on the connection. */
  server: Omit<ServerOptions, "auth"> & { auth: Omit<ServerAuthOptions, "handlers"> };
  pubkey: boolean;
  authorizedKeys: string;
  password?: () => string;
  subsystems: Map<string, string>;
  proxyProtocol?: ProxyProtocolOptions;
  /** ChrootDirectory, tokens unexpanded (undefined: none). */
  chroot?: string;
  /** ForceCommand internal-sftp's options (the library's forceCommand is then unset). */
  forcedSftp?: InternalSftp;
  /** MaxStartups, PerSourceMaxStartups (a reload starts a new count, as sshd's re-exec). */
  startups: StartupGate;
  /** sshd's MaxStartups throttling log state (drop_connection). */
  throttle: { since?: number; dropped: number };
  /** Channels open across this policy's connections, capped at MAX_SERVER_CHANNELS. */
  channels: SharedChannelCount;
}

/**
 * Starts the server described by `args` (the arguments after `serve`):
 * loads or creates the host key, binds every listen address and serves
 * connections until {@link ServeHandle.close}. Throws {@link OptionError}
 * for bad arguments.
 *
 * @example
 * ```ts
 * import { startServe } from "./serve.ts";
 * async function demo() {
 *   const server = await startServe(["-p", "0", "-o", "ListenAddress=127.0.0.1"]);
 *   console.log(server.addresses[0].port);
 *   await server.close();
 * }
 * ```
 */
export async function startServe(
  args: readonly string[],
  options: StartServeOptions = {},
): Promise<ServeHandle> {
  const envPassword = options.envPassword ?? process.env.RXSSH_PASSWORD;
  // Sessions inherit this process's environment: never hand them the password.
  delete process.env.RXSSH_PASSWORD;
  const config = await configure(args, { ...options, envPassword });
  const { log } = config.policy;
  const listeners = await bindAll(options.bind ?? config.addresses, {
    bind: options.listenTcp ?? listenTcp,
    log,
    reusePort: options.reusePort ?? false,
  });
  const open: OpenConnections = new Map();
  const bound = listeners.map((l, i) => ({
    hostname: (options.bind ?? config.addresses)[i].hostname,
    port: l.port,
  }));
  const says = options.worker ? `pid ${process.pid} accepting on` : "listening on";
  for (const b of bound) log.info(`${says} ${hostPort(b.hostname, b.port)}`);
  // Connections take the policy current when they are accepted (SIGHUP replaces it).
  const current = { policy: config.policy };
  let hostKeys = config.hostKeys;
  return {
    addresses: bound,
    get hostKeyFingerprints() {
      return hostKeys.map((k) => k.publicKey.fingerprint());
    },
    failed: Promise.race(listeners.map((l) => acceptLoop(l, { current, open }))),
    shutdownGraceMs: config.shutdownGraceMs,
    close: (c = {}) => closeAll({ listeners, open, log: current.policy.log }, c.graceMs ?? 0),
    async reload(r = {}) {
      const next = await configure(args, { ...options, ...r, envPassword });
      const moved =
        next.addresses.some((a, i) =>
          a.hostname !== config.addresses[i]?.hostname || a.port !== config.addresses[i]?.port
        ) || next.addresses.length !== config.addresses.length;
      if (moved && !options.bind) {
        next.policy.log.error("ListenAddress and Port changes take effect at the next start only");
      }
      current.policy = next.policy;
      hostKeys = next.hostKeys;
      next.policy.log.info(
        `reloaded configuration (${open.size} open connections keep the previous one)`,
      );
    },
  };
}

/**
 * What the parent of `rxssh serve -W N` reads once and hands to its
 * workers: the text of every `-f` file and the host keys (generated on the
 * first run as {@link startServe} does), after checking the whole
 * configuration. From {@link loadServeSetup}.
 *
 * @example
 * ```ts
 * import type { ServeSetup } from "./serve.ts";
 * const count = (s: ServeSetup) => `${s.hostKeys.length} host keys, ${Object.keys(s.files).length} files`;
 * ```
 */
export interface ServeSetup {
  /** The `-f` files' text, by the path given. */
  readonly files: Readonly<Record<string, string>>;
  readonly hostKeys: readonly PrivateKey[];
  /** A logger with the configured LogLevel. */
  readonly log: Logger;
  /** ShutdownGraceTime in milliseconds. */
  readonly shutdownGraceMs: number;
}

/**
 * Reads and checks the configuration that `args` (the arguments after
 * `serve`) describe, without binding anything: the `-f` files' text and
 * the host keys. Throws {@link OptionError} for bad arguments.
 *
 * @example
 * ```ts
 * import { loadServeSetup } from "./serve.ts";
 * async function check() {
 *   const setup = await loadServeSetup(["-o", "ListenAddress=127.0.0.1"]);
 *   console.log(setup.hostKeys.map((k) => k.publicKey.fingerprint()));
 * }
 * ```
 */
export async function loadServeSetup(
  args: readonly string[],
  options: Pick<StartServeOptions, "writeLog" | "envPassword"> = {},
): Promise<ServeSetup> {
  const files: Record<string, string> = {};
  const c = await configure(args, {
    ...options,
    readConfig: (f) => files[f] = fs.readFileSync(f, "utf8"),
  });
  return { files, hostKeys: c.hostKeys, log: c.policy.log, shutdownGraceMs: c.shutdownGraceMs };
}

/** What {@link configure} makes of the arguments and the files they name. */
interface Configured {
  policy: Policy;
  hostKeys: readonly PrivateKey[];
  addresses: { hostname: string; port: number }[];
  shutdownGraceMs: number;
}

/**
 * Reads the arguments, the configuration files and the host keys (unless
 * given) into what every connection shares; at start and at each reload.
 */
async function configure(
  args: readonly string[],
  options: StartServeOptions,
): Promise<Configured> {
  const o = parseServeArgs(args, options.readConfig);
  const proxyProtocol = proxyProtocolOption(o); // a bad network fails before anything is read or made
  const log = new Logger(
    parseLogLevel(o.get("LogLevel", "INFO")),
    options.writeLog ?? ((line) => process.stderr.write(line + "\n")),
  );
  const user = localUserName();
  const home = homeDirectory();
  const password = passwordSource(o, { home, envPassword: options.envPassword });
  const bannerFile = o.get("Banner");
  const subsystems = new Map<string, string>();
  for (const s of o.all("Subsystem")) {
    const m = /^(\S+)\s+(.+)$/.exec(s.trim());
    if (!m) throw new OptionError(`Subsystem: expected "name command", got "${s}"`);
    if (!subsystems.has(m[1])) subsystems.set(m[1], m[2]);
  }
  const hostKeys = options.hostKeys ? [...options.hostKeys] : await loadHostKeys(o, { log, home });
  const { forceCommand, forcedSftp, chroot } = sftpSettings(o, subsystems);
  const loginGraceTime = o.integer("LoginGraceTime", 120) * 1000;
  const rekey = o.has("RekeyLimit") ? parseRekeyLimit(o.get("RekeyLimit")!) : undefined;
  const policy: Policy = {
    user,
    home,
    log,
    server: {
      hostKeys,
      ciphers: o.get("Ciphers"),
      kexAlgorithms: o.get("KexAlgorithms"),
      macs: o.get("MACs"),
      hostKeyAlgorithms: o.get("HostKeyAlgorithms"),
      rekeyBytes: rekey?.bytes,
      rekeyInterval: rekey && (rekey.intervalMs ?? 0), // sshd: no time limit unless given
      auth: {
        maxAuthTries: o.integer("MaxAuthTries", 6),
        loginGraceTime,
        banner: bannerFile === undefined || bannerFile.toLowerCase() === "none"
          ? undefined
          : fs.readFileSync(expandTilde(bannerFile, home), "utf8"),
      },
      maxSessions: o.integer("MaxSessions", 10),
      permitTty: o.flag("PermitTTY", true),
      permitUserEnvironment: o.flag("PermitUserEnvironment", true),
      acceptEnv: (o.all("AcceptEnv").length ? o.all("AcceptEnv") : ["LANG", "LC_*"])
        .join(" ").split(/[\s,]+/).filter((s) => s !== ""),
      forceCommand: forcedSftp ? undefined : forceCommand,
      compression: compressionOption(o.get("Compression", "yes")),
      clientAliveInterval: o.integer("ClientAliveInterval", 0),
      clientAliveCountMax: o.integer("ClientAliveCountMax", 3),
      handlers: forwardingHandlers(o, log),
    },
    pubkey: o.flag("PubkeyAuthentication", true),
    authorizedKeys: o.get("AuthorizedKeysFile", ".ssh/authorized_keys"),
    password,
    subsystems,
    proxyProtocol,
    chroot,
    forcedSftp,
    startups: startupGate(o),
    throttle: { dropped: 0 },
    channels: { max: MAX_SERVER_CHANNELS, open: 0 },
  };
  const port = parsePort(o.get("Port", "22"));
  const addresses = (o.all("ListenAddress").length ? o.all("ListenAddress") : ["0.0.0.0"])
    .map((a) => parseListenAddress(a, port));
  return {
    policy,
    hostKeys,
    addresses,
    shutdownGraceMs: o.integer("ShutdownGraceTime", 30) * 1000,
  };
}

/** The connections being served, each with its transport once it has one, and its end. */
type OpenConnections = Map<TcpConnection, { transport?: Transport; done?: Promise<void> }>;

/**
 * Stops listening, waits up to `graceMs` for the open connections to end,
 * disconnects those left (BY_APPLICATION) and closes their sockets.
 */
async function closeAll(
  s: { listeners: TcpListener[]; open: OpenConnections; log: Logger },
  graceMs: number,
): Promise<void> {
  for (const l of s.listeners) l.close();
  const ended = () => Promise.all([...s.open.values()].map((c) => c.done));
  const within = (ms: number) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    return Promise.race([
      ended().then(() => true),
      new Promise<false>((r) => timer = setTimeout(() => r(false), ms)),
    ]).finally(() => clearTimeout(timer));
  };
  if (s.open.size > 0 && graceMs > 0) {
    s.log.info(`not accepting; waiting up to ${graceMs / 1000} s for ${s.open.size} connections`);
    if (await within(graceMs)) return;
  }
  if (s.open.size > 0) s.log.info(`disconnecting ${s.open.size} connections`);
  for (const c of s.open.values()) {
    c.transport?.disconnect(DisconnectReason.BY_APPLICATION, "server shutting down").catch(
      () => {},
    );
  }
  await within(3000); // the transport aborts a writer that does not drain after 2 s
  for (const conn of s.open.keys()) conn.close();
}

/**
 * MaxStartups (default 10:30:100), PerSourceMaxStartups (a number or
 * `none`, the default) and PerSourceNetBlockSize (default 32:128), parsed
 * as sshd's servconf.c does; a bad value is an OptionError naming it.
 */
function startupGate(o: OptionSet): StartupGate {
  const per = o.get("PerSourceMaxStartups", "none");
  if (per !== "none" && !/^\d+$/.test(per)) {
    throw new OptionError(`PerSourceMaxStartups: expected a number or none, got "${per}"`);
  }
  try {
    return new StartupGate({
      maxStartups: o.get("MaxStartups", "10:30:100"),
      perSourceMaxStartups: per === "none" ? undefined : Number(per),
      perSourceNetBlockSize: o.get("PerSourceNetBlockSize", "32:128"),
    });
  } catch (e) {
    throw new OptionError((e as Error).message);
  }
}

/** `-o ProxyProtocol=CIDR[,CIDR...]` (repeatable) and `ProxyProtocolTimeout` (seconds). */
function proxyProtocolOption(o: OptionSet): ProxyProtocolOptions | undefined {
  const trusted = o.all("ProxyProtocol").join(",").split(/[\s,]+/).filter((s) => s !== "");
  if (trusted.length === 0) return undefined;
  try {
    trustedProxies(trusted);
  } catch (e) {
    throw new OptionError(`ProxyProtocol: ${(e as Error).message.replace(/^.*?: /, "")}`);
  }
  return { trusted, timeoutMs: o.integer("ProxyProtocolTimeout", 5) * 1000 };
}

/** Where PasswordAuthentication checks passwords: -o PasswordFile= or RXSSH_PASSWORD, never the system's. */
function passwordSource(
  o: ReturnType<typeof parseServeArgs>,
  from: { home: string; envPassword: string | undefined },
): (() => string) | undefined {
  const { home, envPassword } = from;
  if (!o.flag("PasswordAuthentication", false)) return undefined;
  const file = o.get("PasswordFile");
  if (file !== undefined) {
    const p = expandTilde(file, home);
    checkPrivateMode(p, "PasswordFile");
    fs.readFileSync(p); // fail now rather than at the first login
    return () => fs.readFileSync(p, "utf8").split(/\r?\n/)[0];
  }
  if (envPassword !== undefined && envPassword !== "") return () => envPassword;
  throw new OptionError(
    "PasswordAuthentication yes needs -o PasswordFile=path or the RXSSH_PASSWORD environment variable",
  );
}

/** Binds every address, or none: a failure closes the ones already bound. */
async function bindAll(
  addresses: readonly { hostname: string; port: number }[],
  how: { bind: (o: ListenTcpOptions) => Promise<TcpListener>; log: Logger; reusePort: boolean },
): Promise<TcpListener[]> {
  const { bind, log, reusePort } = how;
  const listeners: TcpListener[] = [];
  try {
    for (const a of addresses) {
      let where = hostPort(a.hostname, a.port);
      const onWarning = (w: ListenerWarning) => logListenerWarning(w, { log, where });
      const l = await bind({ hostname: a.hostname, port: a.port, onWarning, reusePort });
      where = hostPort(a.hostname, l.port); // the port the OS picked for port 0
      listeners.push(l);
    }
  } catch (e) {
    for (const l of listeners) l.close();
    throw e;
  }
  return listeners;
}

const hostPort = (host: string, port: number) =>
  `${host.includes(":") ? `[${host}]` : host}:${port}`;

/**
 * Serves `l`'s connections with `to.policy`, each in `to.open` while it
 * lasts. Resolves with the error that ended it when the listener failed for
 * good (logged here); stays pending after a normal close.
 */
function acceptLoop(
  l: TcpListener,
  to: { current: { policy: Policy }; open: OpenConnections },
): Promise<unknown> {
  const { current, open } = to;
  return (async () => {
    try {
      for await (const conn of l) {
        const p = current.policy;
        const startup = admitStartup(conn, p);
        if (!startup) continue;
        const slot: { transport?: Transport; done?: Promise<void> } = {};
        open.set(conn, slot);
        slot.done = handleConnection(conn, { policy: p, slot, startup }).catch((e) => {
          p.log.error(`error: ${quoteMessage(e)}`);
        }).finally(() => {
          startup.release();
          open.delete(conn);
          conn.close();
        });
      }
    } catch (e) {
      current.policy.log.error(`fatal: ${e instanceof Error ? e.message : String(e)}`);
      return e;
    }
    return new Promise<never>(() => {});
  })();
}

/**
 * sshd's drop_connection: MaxStartups at accept, PerSourceMaxStartups too
 * unless the client's address comes in a PROXY header (checked in
 * {@link handleConnection}). A dropped connection gets "Exceeded
 * MaxStartups" and no banner.
 */
function admitStartup(conn: TcpConnection, p: Policy): StartupTicket | undefined {
  try {
    const before = p.startups.startups;
    const t = p.startups.admit(conn, { source: !p.proxyProtocol });
    endThrottle(p, before);
    return t;
  } catch (e) {
    if (!(e instanceof StartupDroppedError)) throw e;
    logDrop(e, p);
    closeDropped(conn);
    return undefined;
  }
}

/** sshd's drop log: the first drop of a burst at INFO after "beginning MaxStartups throttling", then VERBOSE. */
function logDrop(e: StartupDroppedError, p: Policy): void {
  const t = p.throttle;
  t.dropped++;
  if (t.since === undefined) {
    t.since = Date.now();
    t.dropped = 1;
    p.log.error("beginning MaxStartups throttling");
    return p.log.info(e.message);
  }
  p.log.verbose(e.message);
}

/** sshd's "exited MaxStartups throttling" once the count is back below start - 1. */
function endThrottle(p: Policy, startups: number): void {
  const t = p.throttle;
  if (t.since === undefined || startups >= p.startups.maxStartups.start - 1) return;
  p.log.info(
    `exited MaxStartups throttling after ${Math.round((Date.now() - t.since) / 1000)}s, ` +
      `${t.dropped} connections dropped`,
  );
  t.since = undefined;
}

/** One line when a burst of failed accepts starts, one when it ends (never one per failure). */
function logListenerWarning(w: ListenerWarning, to: { log: Logger; where: string }): void {
  const { log, where } = to;
  if (w.type === "accept-failing") {
    return log.error(
      `error: accept on ${where}: ${w.message} (${w.code}); ` +
        `backing off and retrying (${w.retryInMs ?? 0} ms, doubling up to 1 s)`,
    );
  }
  log.error(
    `accept on ${where} works again after ${w.errors} failed accepts in ${w.durationMs} ms (${w.code})`,
  );
}

/** Only the local user may log in: authorized_keys files (re-read at every attempt) and the password. */
function authHandlers(p: Policy, from: string): ServerAuthHandlers {
  const { log } = p;
  const userOk = (u: string, method: string) => {
    if (u === p.user) return true;
    log.info(`Invalid user ${quoteUser(u)} from ${from} (${method})`);
    return false;
  };
  const read = (file: string) => {
    try {
      return fs.readFileSync(file, "utf8");
    } catch {
      log.debug(`authorized keys file ${file} not readable`);
      return undefined;
    }
  };
  const files = authorizedKeysPaths(p.authorizedKeys, { user: p.user, home: p.home });
  const handlers = files.map((file) => ({
    file,
    decide: authorizedKeysHandler({ load: () => read(file) }),
  }));
  const password = p.password;
  return {
    ...(p.pubkey && {
      publicKey: async (u, key, context) => {
        if (!userOk(u, "publickey")) return false;
        for (const { file, decide } of handlers) {
          const permissions = await decide(u, key, context);
          if (permissions) {
            log.debug(`${describeKey(key)} matches ${file}`);
            return permissions;
          }
        }
        return false;
      },
    }),
    ...(password && {
      // Compare digests: constant time whatever the lengths.
      password: (u, pw) => userOk(u, "password") && constantTimeEqual(sha(pw), sha(password())),
    }),
  };
}

/** sshd's Compression: yes and delayed offer zlib@openssh.com after authentication; no, none. */
function compressionOption(value: string): string[] {
  const v = value.toLowerCase();
  if (v === "yes" || v === "delayed") return ["none", "zlib@openssh.com"];
  if (v === "no") return ["none"];
  throw new OptionError(`Compression: expected yes, delayed or no, got "${value}"`);
}

/** sshd_config's forwarding keywords as the library's options. */
function forwardingOptions(o: OptionSet): PortForwardingOptions {
  const choice = <const T extends string>(
    keyword: string,
    allowed: readonly T[],
    fallback: T,
  ): T => {
    const v = (o.get(keyword) ?? fallback).toLowerCase();
    if (!(allowed as readonly string[]).includes(v)) {
      throw new OptionError(`${keyword}: expected ${allowed.join(", ")}, got "${v}"`);
    }
    return v as T;
  };
  const list = (keyword: string) => {
    const all = o.all(keyword).join(" ").split(/\s+/).filter((s) => s !== "");
    return all.length === 0 || all.includes("any") ? undefined : all;
  };
  return {
    allowTcpForwarding: choice("AllowTcpForwarding", ["yes", "no", "local", "remote"], "yes"),
    allowStreamLocalForwarding: choice(
      "AllowStreamLocalForwarding",
      ["yes", "all", "no", "local", "remote"],
      "yes",
    ),
    gatewayPorts: choice("GatewayPorts", ["no", "yes", "clientspecified"], "no"),
    permitOpen: list("PermitOpen"),
    permitListen: list("PermitListen"),
  };
}

/** Port, agent and X11 forwarding, as the options allow. */
function forwardingHandlers(o: OptionSet, log: Logger): ServerOptions["handlers"] {
  return [
    portForwardingHandler(forwardingOptions(o)),
    ...(o.flag("AllowAgentForwarding", true) ? [agentForwardingHandler()] : []),
    ...x11Handlers(o, log),
  ];
}

/**
 * sshd's X11Forwarding (default no), X11DisplayOffset (default 10),
 * X11UseLocalhost (yes only: displays listen on 127.0.0.1) and
 * XAuthLocation (default /usr/bin/xauth; without it x11-req is refused,
 * as sshd's "No xauth program; cannot forward X11.").
 */
function x11Handlers(o: OptionSet, log: Logger): ReturnType<typeof x11ForwardingHandler>[] {
  const offset = o.integer("X11DisplayOffset", 10);
  if (!o.flag("X11UseLocalhost", true)) {
    throw new OptionError(
      "X11UseLocalhost no is not supported by rxssh serve (forwarded displays listen on 127.0.0.1 only)",
    );
  }
  const xauth = o.get("XAuthLocation", "/usr/bin/xauth");
  if (!o.flag("X11Forwarding", false)) return [];
  if (!fs.existsSync(xauth)) {
    log.error(`No xauth program at ${xauth}; X11 forwarding is refused.`);
    return [];
  }
  const x11 = x11ForwardingHandler({ displayOffset: offset, xauth });
  x11.display$.subscribe((d) => log.debug(`X11 display ${d.displayName} for ${d.username}`));
  x11.refused$.subscribe((r) => log.debug(`X11 forwarding refused for ${r.username}: ${r.reason}`));
  return [x11];
}

/** sshd-style log lines from the library's events. */
function logEvent(e: ServerEvent, to: { log: Logger; from: string }): void {
  const { log, from } = to;
  switch (e.type) {
    case "kex": {
      const a = e.kex.algorithms;
      return log.debug(
        `kex: ${a.kex} host key ${a.hostKey} cipher ${a.cipherClientToServer} MAC ${a.macClientToServer} (${
          quotePeerText(e.peerVersion ?? "")
        })`,
      );
    }
    case "userauth":
      if (e.accepted) return;
      if (e.method === "password") {
        return log.info(`Failed password for ${quoteUser(e.username)} from ${from}`);
      }
      return log.verbose(
        `Failed ${e.method} for ${quoteUser(e.username)} from ${from}` +
          (e.publicKey ? `: ${describeKey(e.publicKey)}` : ""),
      );
    case "session":
      return log.debug(
        `session ${e.request}${
          e.requested === undefined ? "" : ` "${quotePeerText(e.requested)}"`
        }` +
          (e.forced ? ` (forced command)` : "") + (e.pty ? ` with pty` : ""),
      );
    case "channel-request":
      if (e.accepted) return;
      return (e.request === "env" ? log.debug : log.verbose).call(
        log,
        `${quotePeerText(e.request, 64)}${
          e.name === undefined ? "" : ` ${quotePeerText(e.name)}`
        } from ${from} refused (${e.reason})`,
      );
    case "channel-open":
      if (e.accepted) return;
      return log.verbose(`refused ${quotePeerText(e.channelType)} channel from ${from}`);
    case "global-request":
      if (e.accepted) return;
      return log.debug(`global request ${quotePeerText(e.name, 64)} from ${from} refused`);
  }
}

/**
 * Behind a load balancer, the client is the one its PROXY header names, and
 * PerSourceMaxStartups counts it. Undefined when the connection was refused.
 */
async function proxiedClient(
  socket: TcpConnection,
  to: { policy: Policy; startup: StartupTicket },
): Promise<TcpConnection | ProxiedConnection | undefined> {
  const { policy: p } = to;
  if (!p.proxyProtocol) return socket;
  let conn: ProxiedConnection | undefined;
  try {
    conn = await readProxyHeader(socket, p.proxyProtocol);
    to.startup.checkSource(conn);
    return conn;
  } catch (e) {
    if (!(e instanceof StartupDroppedError)) p.log.info(`refused connection: ${quoteMessage(e)}`);
    else {
      logDrop(e, p);
      await closeDropped(conn!);
    }
    return undefined;
  }
}

async function handleConnection(
  socket: TcpConnection,
  to: { policy: Policy; slot: { transport?: Transport }; startup: StartupTicket },
): Promise<void> {
  const { policy: p } = to;
  const { log } = p;
  const conn = await proxiedClient(socket, to);
  if (!conn) return;
  const addr = plainAddress(conn.remoteAddress);
  const from = `${addr} port ${conn.remotePort}`;
  log.info(
    `Connection from ${from} on ${plainAddress(conn.localAddress)} port ${conn.localPort}` +
      ("proxyAddress" in conn
        ? ` via proxy ${conn.proxyAddress} (PROXY v${conn.header.version})`
        : ""),
  );
  // What sshd sets for every session, over the client's and the key's variables.
  const baseEnv: Record<string, string> = {
    USER: p.user,
    LOGNAME: p.user,
    HOME: p.home,
    SSH_CLIENT: `${addr} ${conn.remotePort} ${conn.localPort}`,
    SSH_CONNECTION: `${addr} ${conn.remotePort} ${
      plainAddress(conn.localAddress)
    } ${conn.localPort}`,
  };
  const run = (s: ServerSession, command = s.command) =>
    isInternalSftp(command ?? "")
      ? internalSftp(s, { policy: p, options: parseInternalSftp(command!) })
      : runLocalCommand({ ...s, command, env: { ...s.env, ...baseEnv } });
  const sftpOnly = async (s: ServerSession) => {
    // sshd (session.c): a forced internal-sftp refuses anything but a subsystem.
    const w = s.stderr.getWriter();
    await w.write(te.encode("This service allows sftp connections only.\n")).catch(() => {});
    w.releaseLock();
    await s.exit(1);
  };
  const forced = p.forcedSftp;
  let keysExchanged = false;
  let c;
  const incoming = acceptConnection(conn, {
    ...p.server,
    startup: to.startup,
    sharedChannels: p.channels,
    auth: { ...p.server.auth, handlers: authHandlers(p, from) },
    exec: forced ? sftpOnly : (s) => run(s),
    shell: forced ? sftpOnly : (s) => run(s),
    subsystems: forced
      ? { sftp: (s: ServerSession) => internalSftp(s, { policy: p, options: forced }) }
      : Object.fromEntries(
        [...p.subsystems].map(([name, command]) => [name, (s: ServerSession) => run(s, command)]),
      ),
  });
  to.slot.transport = incoming.transport;
  incoming.event$.subscribe((e) => {
    if (e.type === "kex") keysExchanged = true;
    logEvent(e, { log, from });
  });
  try {
    c = await incoming.authenticated;
  } catch (e) {
    const why = quoteMessage(e);
    log.info(
      keysExchanged
        ? `authentication from ${from} ended: ${why}`
        : `key exchange with ${from} failed: ${why}`,
    );
    return;
  }
  log.info(
    `Accepted ${c.auth.methods.join("+")} for ${quoteUser(c.username)} from ${from}` +
      (c.auth.publicKey ? `: ${describeKey(c.auth.publicKey)}` : ""),
  );
  const end = await c.transport.closed;
  log.info(`Disconnected from user ${quoteUser(c.username)} ${from}`);
  log.debug(`connection ended: ${quoteMessage(end)}`);
}

/**
 * The SFTP keywords: `sftp` is internal unless a Subsystem names a command
 * (every internal-sftp's options checked now), ForceCommand internal-sftp,
 * ChrootDirectory (`none` is none).
 */
function sftpSettings(o: OptionSet, subsystems: Map<string, string>): {
  forceCommand?: string;
  forcedSftp?: InternalSftp;
  chroot?: string;
} {
  if (!subsystems.has("sftp")) subsystems.set("sftp", "internal-sftp");
  for (const command of subsystems.values()) {
    if (isInternalSftp(command)) parseInternalSftp(command);
  }
  const forceCommand = o.get("ForceCommand");
  const chroot = o.get("ChrootDirectory");
  return {
    forceCommand,
    forcedSftp: forceCommand !== undefined && isInternalSftp(forceCommand)
      ? parseInternalSftp(forceCommand)
      : undefined,
    chroot: chroot === undefined || chroot.toLowerCase() === "none" ? undefined : chroot,
  };
}

/** internal-sftp's options (sftp-server's -R and -u; -e, -f, -l, -d... are not taken). */
interface InternalSftp {
  readOnly: boolean;
  umask?: number;
}

const isInternalSftp = (command: string) => /^internal-sftp(\s|$)/.test(command.trim());

/** `internal-sftp [-R] [-u umask]`; other flags are an {@link OptionError}. */
function parseInternalSftp(command: string): InternalSftp {
  const args = command.trim().split(/\s+/).slice(1);
  const out: InternalSftp = { readOnly: false };
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "-R") out.readOnly = true;
    else if (args[i] === "-u" && /^[0-7]{1,4}$/.test(args[i + 1] ?? "")) {
      out.umask = parseInt(args[++i], 8);
    } else {
      throw new OptionError(
        `internal-sftp: unsupported option "${args[i]}" (rxssh serve takes -R and -u umask)`,
      );
    }
  }
  return out;
}

/**
 * Serves SFTP in-process for `s`: under ChrootDirectory (tokens expanded)
 * when set, starting in the home directory when it exists there, as sshd
 * does after chroot(2).
 */
function internalSftp(
  s: ServerSession,
  how: { policy: Policy; options: InternalSftp },
): Promise<void> {
  const { policy: p, options } = how;
  const root = p.chroot === undefined ? "/" : p.chroot.replace(
    /%(.)/g,
    (m, c) => c === "h" ? p.home : c === "u" ? p.user : c === "%" ? "%" : m,
  );
  let start = p.home;
  try {
    if (!fs.statSync(path.join(root, p.home)).isDirectory()) start = "/";
  } catch {
    start = "/";
  }
  return sftpSubsystem({
    readOnly: options.readOnly,
    root: () => root,
    fs: () => ({ start, home: start, umask: options.umask }),
    log: (line) => p.log.verbose(`sftp (${quoteUser(s.username)}): ${line}`),
  })(s);
}

/**
 * Runs `rxssh serve` with `args` (the arguments after `serve`) until
 * SIGINT or SIGTERM (exit code 0); returns 1 when it cannot start or when a
 * listener fails for good, 2 for bad arguments.
 *
 * @example
 * ```ts
 * import { serveMain } from "./serve.ts";
 * async function run() {
 *   process.exitCode = await serveMain(["-p", "2222", "-o", "ListenAddress=127.0.0.1"]);
 * }
 * ```
 */
export async function serveMain(
  args: readonly string[] | string[],
  options: StartServeOptions = {},
): Promise<number> {
  let workers: number;
  try {
    // An injected listener cannot reach other processes: one process then, unless -W says otherwise.
    ({ workers, args } = takeWorkersOption(args, options.listenTcp ? 1 : undefined));
  } catch (e) {
    process.stderr.write(`rxssh serve: ${(e as Error).message}\n`);
    return 2;
  }
  if (process.env[SERVE_WORKER_ENV] !== undefined) return await serveWorker(args, options);
  if (workers > 1) return await superviseWorkers(args, { workers, writeLog: options.writeLog });
  let handle: ServeHandle;
  try {
    handle = await startServe(args, options);
  } catch (e) {
    process.stderr.write(`rxssh serve: ${e instanceof Error ? e.message : String(e)}\n`);
    return e instanceof OptionError ? 2 : 1;
  }
  // One broken connection must not take the server down with it.
  const onUncaught = (e: unknown) => {
    process.stderr.write(
      `rxssh serve: internal error (server continues): ${
        e instanceof Error ? e.stack ?? e.message : String(e)
      }\n`,
    );
  };
  process.on("uncaughtException", onUncaught);
  process.on("unhandledRejection", onUncaught);
  // SIGHUP: new connections get the configuration read again; open ones keep theirs.
  const onHangup = () => {
    handle.reload().catch((e) => {
      process.stderr.write(
        `rxssh serve: SIGHUP: ${(e as Error).message}; keeping the previous configuration\n`,
      );
    });
  };
  process.on("SIGHUP", onHangup);
  let onSignal!: () => void;
  const signalled = new Promise<number>((resolve) => onSignal = () => resolve(0));
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  // A listener that failed for good (logged by startServe) ends the server: exit 1.
  const code = await Promise.race([signalled, handle.failed.then(() => 1)]);
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  // On a signal, open connections may finish within ShutdownGraceTime; a second signal cuts it short.
  const again = new Promise<void>((resolve) => onSignal = () => resolve());
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  await Promise.race([
    handle.close({ graceMs: code === 0 ? handle.shutdownGraceMs : 0 }),
    again.then(() => handle.close({ graceMs: 0 })),
  ]);
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  process.off("uncaughtException", onUncaught);
  process.off("unhandledRejection", onUncaught);
  process.off("SIGHUP", onHangup);
  return code;
}
