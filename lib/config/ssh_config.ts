/**
 * `~/.ssh/config` as OpenSSH's ssh reads it (ssh_config(5), readconf.c):
 * parsing, `Host` and `Match` blocks, `Include`, the final pass, `%`-tokens,
 * and the `ssh -G` form of the result.
 *
 * The resolver does no I/O: files come through a {@link SshConfigReader}
 * (`fileSystemReader()` in `./files.ts` reads the real ones).
 *
 * Rules, as in OpenSSH:
 * - the first value obtained for a keyword wins; IdentityFile,
 *   CertificateFile, LocalForward, RemoteForward, DynamicForward and SendEnv
 *   accumulate; SetEnv, UserKnownHostsFile and GlobalKnownHostsFile take the
 *   whole first line that sets them;
 * - keywords are case-insensitive; `keyword value` or `keyword=value`;
 *   `"` and `'` quoting; `#` comments;
 * - `Host` patterns (`*`, `?`, `!` negation) are matched case-sensitively
 *   against the host as given; `Match` supports `all`, `host`,
 *   `originalhost`, `user`, `localuser`, `canonical`, `final` (each with
 *   `!`); `Match exec` is refused with an error;
 * - `Include` takes globs, relative to `~/.ssh` (user files) or `/etc/ssh`
 *   (the system file), nested up to 16 levels;
 * - with `Match final` the files are read a second time with the resolved
 *   host name (and `canonical`/`final` true).
 *
 * Keywords of OpenSSH's ssh that rxssh does not implement (see
 * `IGNORED_KEYWORDS`: ControlMaster, CanonicalizeHostname, ...) are accepted
 * and their values ignored; anything else is a {@link SshConfigError}
 * naming the file and line. Not implemented: `Match exec`, host name
 * canonicalization, `~user/` paths, port service names, file permission
 * checks on included files.
 *
 * @module
 */
import { sha1 } from "@noble/hashes/legacy.js";
import { matchHostname, matchPattern, matchPatternList, parseAddress } from "../keys/patterns.ts";
import {
  type AlgorithmKind,
  DEFAULT_ALGORITHMS,
  SUPPORTED_ALGORITHMS,
} from "../transport/algorithms.ts";
import { formatForward, type ForwardSpec, parseForward } from "./_forward.ts";
import { IGNORED_KEYWORDS, OTHER_OPENSSH_ALGORITHMS } from "./_keywords.ts";
import {
  a2port,
  atoiErr,
  convtime,
  dollarExpand,
  percentExpand,
  splitArgs,
  splitKeyword,
  tildeExpand,
} from "./_tokens.ts";

export type { ForwardSpec } from "./_forward.ts";
export { parseForward } from "./_forward.ts";

/**
 * Where the resolver gets file contents from.
 *
 * @example
 * ```ts
 * import type { SshConfigReader } from "./ssh_config.ts";
 * const files: Record<string, string> = { "/home/me/.ssh/config": "Host *\n  User me\n" };
 * const reader: SshConfigReader = {
 *   readFile: (path) => files[path],
 *   glob: (pattern) => Object.keys(files).filter((p) => p === pattern),
 * };
 * ```
 */
export interface SshConfigReader {
  /** The text of the file, or undefined when it does not exist. */
  readFile(path: string): string | undefined;
  /** The existing paths matching an absolute glob pattern (`*`, `?`, `[...]`), sorted. */
  glob(pattern: string): string[];
}

/**
 * A configuration error, with the file and line as ssh reports them
 * (`/home/me/.ssh/config line 3: Bad port 'x'.`).
 *
 * @example
 * ```ts
 * import { SshConfigError } from "./ssh_config.ts";
 * const e = new SshConfigError("Bad port 'x'.", { file: "/home/me/.ssh/config", line: 3 });
 * console.log(e.message, e.file, e.line);
 * ```
 */
export class SshConfigError extends Error {
  /** The file (or `command-line`), when the error is in one. */
  readonly file?: string;
  /** The 1-based line number, when the error is in a file. */
  readonly line?: number;
  /** What was wrong, without the place. */
  readonly problem: string;
  /** Creates the error; the message is `file line N: problem`. */
  constructor(problem: string, where: { file?: string; line?: number } = {}) {
    super(where.file !== undefined ? `${where.file} line ${where.line}: ${problem}` : problem);
    this.name = "SshConfigError";
    this.file = where.file;
    this.line = where.line;
    this.problem = problem;
  }
}

/**
 * One configuration file to read, in order (ssh reads the user's, then the
 * system's).
 *
 * @example
 * ```ts
 * import type { SshConfigSource } from "./ssh_config.ts";
 * const sources: SshConfigSource[] = [
 *   { path: "/home/me/.ssh/config", user: true },
 *   { path: "/etc/ssh/ssh_config" },
 * ];
 * ```
 */
export interface SshConfigSource {
  /** Absolute path. */
  path: string;
  /** A user file (`Include` is relative to `~/.ssh` and may use `~`) rather than the system one. */
  user?: boolean;
  /** A missing file is an error (as for `ssh -F`), not an empty configuration. */
  required?: boolean;
}

/**
 * What {@link resolveSshConfig} needs to know.
 *
 * @example
 * ```ts
 * import type { ResolveSshConfigOptions } from "./ssh_config.ts";
 * const o: ResolveSshConfigOptions = {
 *   sources: [{ path: "/home/me/.ssh/config", user: true }],
 *   reader: { readFile: () => "Host web\n  Port 2222\n", glob: () => [] },
 *   localUser: "me",
 *   home: "/home/me",
 * };
 * ```
 */
export interface ResolveSshConfigOptions {
  /** The files, in order. */
  sources: readonly SshConfigSource[];
  /** Reads them. */
  reader: SshConfigReader;
  /**
   * Command-line options, applied first (so they win): `-o` arguments
   * (`Keyword=value` or `Keyword value`), and `-p`, `-i`, `-c`, `-m` as
   * `Port=`, `IdentityFile=`, `Ciphers=`, `MACs=`.
   */
  commandLine?: readonly string[];
  /** The user from `user@host` or `-l`: wins over `User`. */
  user?: string;
  /** The local login name (`%u`, `Match localuser`, the default User). */
  localUser: string;
  /** The local home directory (`~`, `%d`). */
  home: string;
  /** The local user id (`%i`); default 0. */
  uid?: number;
  /** This machine's host name (`%l`, `%L`, `%C`); default "localhost". */
  localHostname?: string;
  /** Environment for `${VAR}` in IdentityAgent, UserKnownHostsFile and forwards; default none. */
  env?: Readonly<Record<string, string | undefined>>;
}

/**
 * The configuration that applies to one destination, defaults filled in,
 * as ssh has it after reading its files (`ssh -G`).
 *
 * Paths are as written except where ssh expands them before `-G`
 * (UserKnownHostsFile, IdentityAgent, forward socket paths): expand
 * IdentityFile, CertificateFile and ProxyCommand with
 * {@link expandSshConfigValue} when using them.
 *
 * @example
 * ```ts
 * import { resolveSshConfig } from "./ssh_config.ts";
 * const c = resolveSshConfig("web", {
 *   sources: [{ path: "/c", user: true }],
 *   reader: { readFile: () => "Host web\n  HostName web.example.com\n  Port 2222\n", glob: () => [] },
 *   localUser: "me",
 *   home: "/home/me",
 * });
 * console.log(c.hostname, c.port, c.user); // "web.example.com" 2222 "me"
 * ```
 */
export interface ResolvedSshConfig {
  /** The destination host as given. */
  host: string;
  /** The host to connect to (HostName with `%h`, lower-cased unless an address). */
  hostname: string;
  /** The remote user. */
  user: string;
  /** The port. */
  port: number;
  /** IdentityFile values, as written; ssh's defaults when none were given. */
  identityFiles: string[];
  /** True when {@link identityFiles} are the defaults (missing files are then not worth a warning). */
  identityFilesDefaulted: boolean;
  /** IdentitiesOnly. */
  identitiesOnly: boolean;
  /** IdentityAgent, expanded (`none`, `SSH_AUTH_SOCK` or a path); undefined when unset. */
  identityAgent?: string;
  /** CertificateFile values, as written. */
  certificateFiles: string[];
  /** ProxyJump, as `ssh -G` prints it; undefined when unset or `none`. */
  proxyJump?: string;
  /** ProxyCommand, as written; undefined when unset, `none`, or overridden by ProxyJump. */
  proxyCommand?: string;
  /** StrictHostKeyChecking. */
  strictHostKeyChecking: "yes" | "no" | "ask" | "accept-new";
  /** UserKnownHostsFile, expanded; empty for `none`. */
  userKnownHostsFiles: string[];
  /** GlobalKnownHostsFile; empty for `none`. */
  globalKnownHostsFiles: string[];
  /** HashKnownHosts. */
  hashKnownHosts: boolean;
  /** HostKeyAlias, lower-cased. */
  hostKeyAlias?: string;
  /** ServerAliveInterval in seconds (0: off). */
  serverAliveInterval: number;
  /** ServerAliveCountMax. */
  serverAliveCountMax: number;
  /** ConnectTimeout in seconds; undefined for none. */
  connectTimeout?: number;
  /** ForwardAgent: true, false, or an agent socket path (expanded). */
  forwardAgent: boolean | string;
  /** ForwardX11. */
  forwardX11: boolean;
  /** ForwardX11Trusted (default no, as upstream OpenSSH; Debian's ssh defaults to yes). */
  forwardX11Trusted: boolean;
  /** ForwardX11Timeout in seconds (default 1200; 0: none). */
  forwardX11Timeout: number;
  /** XAuthLocation (default /usr/bin/xauth). */
  xauthLocation: string;
  /** LocalForward values, in order. */
  localForwards: ForwardSpec[];
  /** RemoteForward values (a dynamic remote forward has connectHost "socks"). */
  remoteForwards: ForwardSpec[];
  /** DynamicForward values. */
  dynamicForwards: ForwardSpec[];
  /** ExitOnForwardFailure. */
  exitOnForwardFailure: boolean;
  /** Compression. */
  compression: boolean;
  /** Ciphers, resolved (`+`, `-`, `^` against rxssh's defaults). */
  ciphers: string[];
  /** KexAlgorithms, resolved. */
  kexAlgorithms: string[];
  /** MACs, resolved. */
  macs: string[];
  /** HostKeyAlgorithms, resolved. */
  hostKeyAlgorithms: string[];
  /**
   * The algorithm lists as written (`+`, `-`, `^` not yet applied), for
   * giving to `connect()`; a list not set is absent (HostKeyAlgorithms: so
   * the key types known for the host may be preferred, as ssh does).
   */
  algorithmSpecs: {
    ciphers?: string;
    kexAlgorithms?: string;
    macs?: string;
    hostKeyAlgorithms?: string;
    pubkeyAcceptedAlgorithms?: string;
  };
  /** PubkeyAcceptedAlgorithms, resolved. */
  pubkeyAcceptedAlgorithms: string[];
  /** SendEnv patterns. */
  sendEnv: string[];
  /** SetEnv `NAME=value` pairs. */
  setEnv: string[];
  /** RequestTTY. */
  requestTty: "yes" | "no" | "force" | "auto";
  /** BatchMode. */
  batchMode: boolean;
  /** LogLevel (DEBUG is DEBUG1). */
  logLevel: string;
  /** Whether LogLevel was set (the CLI's -v applies otherwise). */
  logLevelSet: boolean;
  /** NumberOfPasswordPrompts. */
  numberOfPasswordPrompts: number;
  /** PasswordAuthentication. */
  passwordAuthentication: boolean;
  /** PubkeyAuthentication (`unbound` and `host-bound` count as yes). */
  pubkeyAuthentication: boolean;
  /** KbdInteractiveAuthentication. */
  kbdInteractiveAuthentication: boolean;
  /** The `%`-token values for this destination (see {@link expandSshConfigValue}). */
  tokens: Readonly<Record<string, string>>;
}

// ---------------------------------------------------------------------------
// Parsing state.

interface State {
  /** Scalars, first wins: canonical keyword → normalised value. */
  s: Map<string, string>;
  identityFiles: { path: string; user: boolean }[];
  certificateFiles: { path: string; user: boolean }[];
  localForwards: ForwardSpec[];
  remoteForwards: ForwardSpec[];
  sendEnv: string[];
  setEnv: string[];
  userKnownHosts?: string[];
  globalKnownHosts?: string[];
  jump?: { user?: string; host: string; port?: number; extra?: string };
  forwardAgentPath?: string;
}

interface Pass {
  o: State;
  opts: ResolveSshConfigOptions;
  /** The host `Host` lines match (the host as given; the resolved name in the final pass). */
  host: string;
  /** The host as given. */
  originalHost: string;
  final: boolean;
  wantFinal: boolean;
}

interface Line {
  pass: Pass;
  file: string;
  line: number;
  keyword: string;
  rest: string;
  args: string[];
  active: boolean;
  /** From a user configuration file or the command line. */
  user: boolean;
  /** In an included file whose Include was in an inactive block: Host/Match never match. */
  neverMatch: boolean;
  depth: number;
  cmdline: boolean;
}

const MAX_INCLUDE_DEPTH = 16;

function fail(l: Line, problem: string): never {
  throw new SshConfigError(problem, { file: l.file, line: l.line });
}

function setFirst(l: Line, key: string, value: string): void {
  if (l.active && !l.pass.o.s.has(key)) l.pass.o.s.set(key, value);
}

/** The next argument, or the "Missing argument." error. */
function arg1(l: Line): string {
  const a = l.args.shift();
  if (a === undefined || a === "") fail(l, "Missing argument.");
  return a;
}

const FLAG: Record<string, string> = { yes: "yes", true: "yes", no: "no", false: "no" };

function multistate(l: Line, key: string, table: Record<string, string>): void {
  const a = l.args.shift();
  if (a === undefined || a === "") fail(l, "missing argument.");
  const v = table[a.toLowerCase()];
  if (v === undefined) fail(l, `unsupported option "${a}".`);
  setFirst(l, key, v);
}

const flag = (key: string) => (l: Line) => multistate(l, key, FLAG);

function time(key: string) {
  return (l: Line) => {
    const a = l.args.shift();
    if (a === undefined || a === "") fail(l, "missing time value.");
    const v = a === "none" ? -1 : convtime(a);
    if (a !== "none" && v < 0) fail(l, "invalid time value.");
    setFirst(l, key, String(v));
  };
}

function integer(key: string) {
  return (l: Line) => {
    const v = atoiErr(l.args.shift());
    if (typeof v === "string") fail(l, `integer value ${v}.`);
    setFirst(l, key, String(v));
  };
}

function str(key: string) {
  return (l: Line) => setFirst(l, key, arg1(l));
}

/** Algorithm lists: names checked against what rxssh or OpenSSH knows (ssh's `*_valid`). */
function algorithms(key: string, kind: AlgorithmKind, what: (a: string) => string) {
  return (l: Line) => {
    const a = arg1(l);
    if (!a.startsWith("-")) {
      const names = (/^[+^]/.test(a) ? a.slice(1) : a).split(",");
      const ok = names.every((n) =>
        n !== "" && (SUPPORTED_ALGORITHMS[kind].includes(n) || OTHER_OPENSSH_ALGORITHMS.has(n))
      );
      if (!ok) fail(l, what(a));
    }
    setFirst(l, key, a);
  };
}

/** UserKnownHostsFile, GlobalKnownHostsFile: the first line that sets them, whole. */
function fileList(which: "userKnownHosts" | "globalKnownHosts") {
  return (l: Line) => {
    const empty = l.pass.o[which] === undefined;
    const list: string[] = [];
    for (const [i, a] of l.args.entries()) {
      if (a === "") fail(l, `keyword ${l.keyword} empty argument`);
      if (a.toLowerCase() === "none" && (i > 0 || l.args.length > 1)) {
        fail(l, `keyword ${l.keyword} "none" argument must appear alone.`);
      }
      list.push(a);
    }
    if (list.length > 32) fail(l, `too many ${l.keyword} entries.`);
    l.args.length = 0;
    if (l.active && empty && list.length) l.pass.o[which] = list;
  };
}

function addFile(l: Line, which: "identityFiles" | "certificateFiles", max: number): void {
  const a = arg1(l);
  if (!l.active) return;
  const list = l.pass.o[which];
  if (list.length >= max) {
    fail(
      l,
      `Too many ${
        which === "identityFiles" ? "identity" : "certificate"
      } files specified (max ${max}).`,
    );
  }
  if (!list.some((f) => f.path === a && f.user === l.user)) list.push({ path: a, user: l.user });
}

function forward(kind: "local" | "remote" | "dynamic") {
  return (l: Line) => {
    const a = arg1(l);
    let dynamic = kind === "dynamic";
    let spec = a;
    if (!dynamic) {
      const b = l.args.shift();
      if (b === undefined || b === "") {
        if (kind === "remote") dynamic = true;
        else fail(l, "Missing target argument.");
      } else {
        spec = `${a}:${b}`;
      }
    }
    let expanded: string;
    try {
      expanded = dollarExpand(spec, l.pass.opts.env ?? {});
    } catch {
      fail(l, "Bad forwarding specification.");
    }
    const f = parseForward(expanded, { dynamic, remote: kind === "remote" });
    if (!f) fail(l, "Bad forwarding specification.");
    if (!l.active) return;
    const list = kind === "remote" ? l.pass.o.remoteForwards : l.pass.o.localForwards;
    // readconf.c add_local_forward / add_remote_forward: no duplicates.
    const same = (g: ForwardSpec) =>
      ([
        "listenHost",
        "listenPort",
        "listenPath",
        "connectHost",
        "connectPort",
        "connectPath",
      ] as const)
        .every((k) => f[k] === g[k]);
    if (!list.some(same)) list.push(f);
  };
}

function sendEnv(l: Line): void {
  for (const a of l.args.splice(0)) {
    if (a === "" || a.includes("=")) fail(l, "Invalid environment name.");
    if (!l.active) continue;
    const o = l.pass.o;
    if (a.startsWith("-")) o.sendEnv = o.sendEnv.filter((e) => !matchPattern(e, a.slice(1)));
    else o.sendEnv.push(a);
  }
}

function setEnv(l: Line): void {
  const o = l.pass.o;
  const first = o.setEnv.length === 0;
  for (const a of l.args.splice(0)) {
    if (!a.includes("=")) fail(l, "Invalid SetEnv.");
    if (!l.active || !first) continue;
    const name = a.slice(0, a.indexOf("=") + 1);
    if (!o.setEnv.some((e) => e.startsWith(name))) o.setEnv.push(a);
  }
}

/** `[user@]host[:port]` or `ssh://[user@]host[:port]` (misc.c parse_user_host_port / parse_ssh_uri). */
function parseJumpHost(text: string): { user?: string; host: string; port?: number } | undefined {
  let s = text;
  if (s.startsWith("ssh://")) s = s.slice(6).replace(/\/$/, "");
  let user: string | undefined;
  const at = s.lastIndexOf("@");
  if (at >= 0) {
    user = s.slice(0, at);
    s = s.slice(at + 1);
  }
  const m = /^(?:\[([^\]]+)\]|([^:\[\]]+))(?::(.*))?$/.exec(s);
  if (!m) return undefined;
  const host = m[1] ?? m[2];
  let port: number | undefined;
  if (m[3] !== undefined) {
    port = a2port(m[3]);
    if (port === undefined) return undefined;
  }
  return { user: user || undefined, host, port };
}

/** readconf.c parse_jump: syntax-checks every hop; the last one is the jump host. */
function proxyJump(l: Line): void {
  const text = l.rest.replace(/#.*$/, "").replace(/\s+$/, "");
  l.args.length = 0;
  const o = l.pass.o;
  const active = l.active && !o.s.has("proxycommand") && o.jump === undefined;
  if (text.toLowerCase() === "none") {
    if (active) o.jump = { host: "none" };
    return;
  }
  const hops = text.split(",");
  const parsed = hops.map(parseJumpHost);
  if (parsed.some((h) => h === undefined)) fail(l, `Invalid ProxyJump "${text}"`);
  if (!active) return;
  const last = parsed[parsed.length - 1]!;
  o.jump = { ...last, extra: hops.length > 1 ? hops.slice(0, -1).join(",") : undefined };
  o.s.set("proxycommand", "none");
}

function proxyCommand(l: Line): void {
  l.args.length = 0;
  if (l.pass.o.jump !== undefined) return;
  setFirst(l, "proxycommand", l.rest);
}

function agentPath(l: Line, a: string): void {
  try {
    dollarExpand(a, new Proxy({}, { get: () => "" }));
  } catch {
    fail(l, `Invalid environment expansion ${a}.`);
  }
  if (a.startsWith("$") && a[1] !== "{" && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(a.slice(1))) {
    fail(l, `Invalid environment name ${a}.`);
  }
}

function forwardAgent(l: Line): void {
  const a = arg1(l);
  const v = FLAG[a.toLowerCase()];
  if (v !== undefined) return setFirst(l, "forwardagent", v);
  agentPath(l, a);
  if (l.active && !l.pass.o.s.has("forwardagent")) {
    l.pass.o.s.set("forwardagent", "yes");
    l.pass.o.forwardAgentPath = a;
  }
}

function identityAgent(l: Line): void {
  const a = arg1(l);
  agentPath(l, a);
  setFirst(l, "identityagent", a);
}

const LOG_LEVELS: Record<string, string> = {
  quiet: "QUIET",
  fatal: "FATAL",
  error: "ERROR",
  info: "INFO",
  verbose: "VERBOSE",
  debug: "DEBUG1",
  debug1: "DEBUG1",
  debug2: "DEBUG2",
  debug3: "DEBUG3",
};

function logLevel(l: Line): void {
  const a = l.args.shift();
  const v = a === undefined ? undefined : LOG_LEVELS[a.toLowerCase()];
  if (v === undefined) fail(l, `unsupported log level '${a ?? "<NONE>"}'`);
  setFirst(l, "loglevel", v);
}

function port(l: Line): void {
  const a = arg1(l);
  const p = a2port(a);
  if (p === undefined) fail(l, `Bad port '${a}'.`);
  setFirst(l, "port", String(p));
}

function ignoreUnknown(l: Line): void {
  setFirst(l, "ignoreunknown", arg1(l));
}

const STRICT = {
  ...FLAG,
  yes: "yes",
  true: "yes",
  off: "no",
  ask: "ask",
  "accept-new": "accept-new",
};
const TTY = { ...FLAG, force: "force", auto: "auto" };
const PUBKEY = { ...FLAG, unbound: "unbound", "host-bound": "host-bound" };

type Handler = (l: Line) => void;

const pubkeyAlgos = algorithms(
  "pubkeyacceptedalgorithms",
  "HostKeyAlgorithms",
  (a) => `Bad key types '${a}'.`,
);

/** The keywords rxssh implements, lower-cased, with OpenSSH's aliases. */
const HANDLERS: Record<string, Handler> = {
  hostname: str("hostname"),
  user: str("user"),
  port,
  identityfile: (l) => addFile(l, "identityFiles", 100),
  identityfile2: (l) => addFile(l, "identityFiles", 100),
  identitiesonly: flag("identitiesonly"),
  identityagent: identityAgent,
  certificatefile: (l) => addFile(l, "certificateFiles", 100),
  proxyjump: proxyJump,
  proxycommand: proxyCommand,
  stricthostkeychecking: (l) => multistate(l, "stricthostkeychecking", STRICT),
  userknownhostsfile: fileList("userKnownHosts"),
  globalknownhostsfile: fileList("globalKnownHosts"),
  hashknownhosts: flag("hashknownhosts"),
  hostkeyalias: str("hostkeyalias"),
  serveraliveinterval: time("serveraliveinterval"),
  serveralivecountmax: integer("serveralivecountmax"),
  connecttimeout: time("connecttimeout"),
  forwardagent: forwardAgent,
  forwardx11: flag("forwardx11"),
  forwardx11trusted: flag("forwardx11trusted"),
  forwardx11timeout: time("forwardx11timeout"),
  xauthlocation: str("xauthlocation"),
  localforward: forward("local"),
  remoteforward: forward("remote"),
  dynamicforward: forward("dynamic"),
  exitonforwardfailure: flag("exitonforwardfailure"),
  compression: flag("compression"),
  ciphers: algorithms("ciphers", "Ciphers", (a) => `Bad SSH2 cipher spec '${a}'.`),
  kexalgorithms: algorithms(
    "kexalgorithms",
    "KexAlgorithms",
    (a) => `Bad SSH2 KexAlgorithms '${a}'.`,
  ),
  macs: algorithms("macs", "MACs", (a) => `Bad SSH2 MAC spec '${a}'.`),
  hostkeyalgorithms: algorithms(
    "hostkeyalgorithms",
    "HostKeyAlgorithms",
    (a) => `Bad key types '${a}'.`,
  ),
  pubkeyacceptedalgorithms: pubkeyAlgos,
  pubkeyacceptedkeytypes: pubkeyAlgos,
  sendenv: sendEnv,
  setenv: setEnv,
  requesttty: (l) => multistate(l, "requesttty", TTY),
  batchmode: flag("batchmode"),
  loglevel: logLevel,
  numberofpasswordprompts: integer("numberofpasswordprompts"),
  passwordauthentication: flag("passwordauthentication"),
  kbdinteractiveauthentication: flag("kbdinteractiveauthentication"),
  challengeresponseauthentication: flag("kbdinteractiveauthentication"),
  skeyauthentication: flag("kbdinteractiveauthentication"),
  tisauthentication: flag("kbdinteractiveauthentication"),
  pubkeyauthentication: (l) => multistate(l, "pubkeyauthentication", PUBKEY),
  dsaauthentication: (l) => multistate(l, "pubkeyauthentication", PUBKEY),
  ignoreunknown: ignoreUnknown,
};

// ---------------------------------------------------------------------------
// Host, Match, Include.

function hostLine(l: Line): void {
  if (l.cmdline) fail(l, "Host directive not supported as a command-line option");
  let active = false;
  for (const a of l.args.splice(0)) {
    if (a === "") fail(l, `keyword ${l.keyword} empty argument`);
    if (l.neverMatch) break;
    const negated = a.startsWith("!");
    if (matchPattern(l.pass.host, negated ? a.slice(1) : a)) {
      if (negated) {
        active = false;
        break;
      }
      active = true;
    }
  }
  l.active = active;
}

/**
 * The host `Match host` on line `l` checks (readconf.c match_cfg_line): a
 * HostName with a token other than %h or %% fails there, as ssh does.
 */
function matchHost(l: Line): string {
  const p = l.pass;
  const hostname = p.o.s.get("hostname");
  if (p.final) return hostname ?? p.host;
  if (hostname === undefined) return p.host;
  try {
    return percentExpand(hostname, { h: p.host });
  } catch (e) {
    return fail(l, `Match host: HostName ${(e as Error).message}`);
  }
}

/** readconf.c match_cfg_line: true, false; throws for a bad condition. */
function matchCondition(l: Line): boolean {
  const p = l.pass;
  const args = l.args.splice(0);
  let result = true;
  let attributes = 0;
  for (let i = 0; i < args.length; i++) {
    const raw = args[i];
    const negate = raw.startsWith("!");
    const attr = (negate ? raw.slice(1) : raw).toLowerCase();
    if (attr === "all") {
      if (attributes > 1 || i + 1 < args.length) {
        fail(l, `'${raw}' cannot be combined with other Match attributes`);
      }
      return result && !negate;
    }
    attributes++;
    let r: boolean;
    if (attr === "canonical" || attr === "final") {
      if (attr === "final") p.wantFinal = true;
      r = p.final;
    } else {
      const criteria = args[++i];
      if (criteria === undefined || criteria === "") fail(l, `Missing Match criteria for ${attr}`);
      const user = p.opts.user ?? p.o.s.get("user") ?? p.opts.localUser;
      if (attr === "host") r = matchHostname(matchHost(l), criteria) === 1;
      else if (attr === "originalhost") r = matchHostname(p.originalHost, criteria) === 1;
      else if (attr === "user") r = matchPatternList(user, criteria) === 1;
      else if (attr === "localuser") r = matchPatternList(p.opts.localUser, criteria) === 1;
      else if (attr === "exec") fail(l, "Match exec is not supported by rxssh");
      else fail(l, `Unsupported Match attribute ${attr}`);
    }
    if (r === negate) result = false;
  }
  if (attributes === 0) fail(l, "One or more attributes required for Match");
  return result;
}

function matchLine(l: Line): void {
  if (l.cmdline) fail(l, "Host directive not supported as a command-line option");
  const r = matchCondition(l);
  l.active = l.neverMatch ? false : r;
}

function includeLine(l: Line): void {
  if (l.cmdline) fail(l, "Include directive not supported as a command-line option");
  const outerActive = l.active;
  for (const a of l.args.splice(0)) {
    if (a === "") fail(l, `keyword ${l.keyword} empty argument`);
    if (a.startsWith("~") && !l.user) fail(l, `bad include path ${a}.`);
    let pattern = a.startsWith("/") || a.startsWith("~")
      ? a
      : `${l.user ? "~/.ssh" : "/etc/ssh"}/${a}`;
    try {
      pattern = tildeExpand(pattern, l.pass.opts.home);
    } catch (e) {
      fail(l, (e as Error).message);
    }
    for (const path of l.pass.opts.reader.glob(pattern)) {
      const text = l.pass.opts.reader.readFile(path);
      if (text === undefined) continue;
      readText(l.pass, text, {
        file: path,
        user: l.user,
        active: outerActive,
        neverMatch: l.neverMatch || !outerActive,
        depth: l.depth + 1,
      });
    }
  }
  // An included file's Host and Match lines do not change the including file's state.
  l.active = outerActive;
}

// ---------------------------------------------------------------------------
// Reading.

function processLine(l: Line): void {
  const k = l.keyword;
  if (k === "host") return hostLine(l);
  if (k === "match") return matchLine(l);
  if (k === "include") return includeLine(l);
  const h = HANDLERS[k];
  if (h) {
    h(l);
  } else if (IGNORED_KEYWORDS.has(k)) {
    l.args.length = 0;
  } else {
    const ignore = l.pass.o.s.get("ignoreunknown");
    if (ignore !== undefined && matchPatternList(k, ignore, { lowercasePatterns: true }) === 1) {
      l.args.length = 0;
      return;
    }
    throw new SshConfigError(`Bad configuration option: ${k}`, {
      file: `${l.file}:`,
      line: l.line,
    });
  }
  if (l.args.length > 0) fail(l, `keyword ${k} extra arguments at end of line`);
}

interface ReadFrame {
  file: string;
  user: boolean;
  active: boolean;
  neverMatch: boolean;
  depth: number;
  cmdline?: boolean;
}

/** Reads one file's text; returns whether the last block was active. */
function readText(p: Pass, text: string, frame: ReadFrame): boolean {
  if (frame.depth > MAX_INCLUDE_DEPTH) {
    throw new SshConfigError("Too many recursive configuration includes", { file: frame.file });
  }
  let active = frame.active;
  const lines = text.split("\n");
  for (let n = 0; n < lines.length; n++) {
    const split = splitKeyword(lines[n]);
    if (split === undefined) continue;
    const where = { file: frame.file, line: n + 1 };
    if (typeof split === "string") throw new SshConfigError(split, where);
    const args = splitArgs(split.rest);
    if (args === undefined) throw new SshConfigError("invalid quotes", where);
    const l: Line = {
      pass: p,
      ...where,
      keyword: split.keyword,
      rest: split.rest,
      args,
      active,
      user: frame.user,
      neverMatch: frame.neverMatch,
      depth: frame.depth,
      cmdline: frame.cmdline ?? false,
    };
    processLine(l);
    active = l.active;
  }
  return active;
}

function readAll(p: Pass): void {
  for (const arg of p.opts.commandLine ?? []) {
    readText(p, arg, {
      file: "command-line",
      user: true,
      active: true,
      neverMatch: false,
      depth: 0,
      cmdline: true,
    });
  }
  for (const src of p.opts.sources) {
    const text = p.opts.reader.readFile(src.path);
    if (text === undefined) {
      if (src.required) {
        throw new SshConfigError(
          `Can't open user config file ${src.path}: No such file or directory`,
        );
      }
      continue;
    }
    readText(p, text, {
      file: src.path,
      user: src.user ?? false,
      active: true,
      neverMatch: false,
      depth: 0,
    });
  }
}

function emptyState(): State {
  return {
    s: new Map(),
    identityFiles: [],
    certificateFiles: [],
    localForwards: [],
    remoteForwards: [],
    sendEnv: [],
    setEnv: [],
  };
}

/**
 * Reads the configuration files (and command-line options) for
 * destination `host` as ssh does, and fills in the defaults. Throws
 * {@link SshConfigError} for a bad file, line or value.
 *
 * @example
 * ```ts
 * import { resolveSshConfig } from "./ssh_config.ts";
 * const files: Record<string, string> = {
 *   "/home/me/.ssh/config": "Host bastion\n  User jump\nMatch host *.internal\n  ProxyJump bastion\n",
 * };
 * const c = resolveSshConfig("db.internal", {
 *   sources: [{ path: "/home/me/.ssh/config", user: true }],
 *   reader: { readFile: (p) => files[p], glob: () => [] },
 *   commandLine: ["Port=2200"],
 *   localUser: "me",
 *   home: "/home/me",
 * });
 * console.log(c.proxyJump, c.port); // "bastion" 2200
 * ```
 */
export function resolveSshConfig(
  host: string,
  options: ResolveSshConfigOptions,
): ResolvedSshConfig {
  const o = emptyState();
  if (options.user !== undefined) o.s.set("user", options.user);
  const first: Pass = {
    o,
    opts: options,
    host,
    originalHost: host,
    final: false,
    wantFinal: false,
  };
  readAll(first);
  let hostname = o.s.has("hostname") ? expandHostname(o.s.get("hostname")!, host) : host;
  if (!parseAddress(hostname)) hostname = hostname.toLowerCase();
  if (first.wantFinal) {
    o.s.set("hostname", hostname);
    readAll({ o, opts: options, host: hostname, originalHost: host, final: true, wantFinal: true });
  }
  return finish(o, options, host, hostname);
}

function expandHostname(value: string, host: string): string {
  try {
    return percentExpand(value, { h: host });
  } catch (e) {
    throw new SshConfigError(`HostName: ${(e as Error).message}`);
  }
}

// ---------------------------------------------------------------------------
// Defaults and expansion (ssh.c after reading the files, readconf.c
// fill_default_options).

/** rxssh's default identities, in the order it tries them. */
const DEFAULT_IDENTITY_FILES = ["~/.ssh/id_ed25519", "~/.ssh/id_ecdsa", "~/.ssh/id_rsa"];

/**
 * OpenSSH's `kex_assemble_names` for `ssh -G`: a list replaces the default,
 * `+list` appends, `-patterns` removes, `^list` moves to the front.
 */
function assemble(spec: string | undefined, defaults: readonly string[]): string[] {
  const split = (s: string) => s.split(",").filter((n) => n !== "");
  let out: string[];
  if (spec === undefined) out = [...defaults];
  else if (spec.startsWith("+")) out = [...defaults, ...split(spec.slice(1))];
  else if (spec.startsWith("-")) {
    out = defaults.filter((n) => matchPatternList(n, spec.slice(1)) !== 1);
  } else if (spec.startsWith("^")) out = [...split(spec.slice(1)), ...defaults];
  else out = split(spec);
  return out.filter((n, i) => out.indexOf(n) === i);
}

function hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The `%`-tokens of ssh.c's DEFAULT_CLIENT_PERCENT_EXPAND_ARGS. */
function tokensFor(
  o: State,
  opts: ResolveSshConfigOptions,
  v: { host: string; hostname: string; user: string; port: number },
): Record<string, string> {
  const thisHost = opts.localHostname ?? "localhost";
  const portStr = String(v.port);
  return {
    C: hex(sha1(new TextEncoder().encode(thisHost + v.hostname + portStr + v.user))),
    L: thisHost.split(".")[0],
    i: String(opts.uid ?? 0),
    k: o.s.get("hostkeyalias")?.toLowerCase() ?? v.host,
    l: thisHost,
    n: v.host,
    p: portStr,
    d: opts.home,
    h: v.hostname,
    r: v.user,
    u: opts.localUser,
  };
}

/**
 * Expands a path-like value as ssh does before using it: `~` (when
 * `tilde`), then `%`-tokens, then `${VAR}` (when `env` is given). Throws
 * {@link SshConfigError} naming `keyword` for an unknown token or variable.
 *
 * @example
 * ```ts
 * import { expandSshConfigValue } from "./ssh_config.ts";
 * const tokens = { h: "web", d: "/home/me", r: "me", p: "22" };
 * console.log(expandSshConfigValue("~/.ssh/%r@%h", { keyword: "IdentityFile", tokens, home: "/home/me" }));
 * // "/home/me/.ssh/me@web"
 * ```
 */
export function expandSshConfigValue(
  value: string,
  options: {
    keyword: string;
    tokens: Readonly<Record<string, string>>;
    home?: string;
    env?: Readonly<Record<string, string | undefined>>;
  },
): string {
  try {
    let v = options.home !== undefined ? tildeExpand(value, options.home) : value;
    v = percentExpand(v, options.tokens);
    return options.env ? dollarExpand(v, options.env) : v;
  } catch (e) {
    throw new SshConfigError(`${options.keyword}: ${(e as Error).message}`);
  }
}

function jumpText(o: State): string | undefined {
  const j = o.jump;
  if (!j || (j.host === "none" && j.user === undefined && j.port === undefined)) return undefined;
  const numeric = j.host.includes(":") || /^[0-9.]*$/.test(j.host);
  return (j.extra !== undefined ? j.extra + "," : "") + (j.user !== undefined ? j.user + "@" : "") +
    (numeric ? `[${j.host}]` : j.host) + (j.port !== undefined ? `:${j.port}` : "");
}

const yes = (o: State, key: string, dflt = false) =>
  (o.s.get(key) ?? (dflt ? "yes" : "no")) === "yes";

/** The algorithm lists, as negotiated (assembled from `+`/`-`/`^` specs) and as written. */
function algorithmFields(o: State): Pick<
  ResolvedSshConfig,
  | "ciphers"
  | "kexAlgorithms"
  | "macs"
  | "hostKeyAlgorithms"
  | "algorithmSpecs"
  | "pubkeyAcceptedAlgorithms"
> {
  return {
    ciphers: assemble(o.s.get("ciphers"), DEFAULT_ALGORITHMS.Ciphers),
    kexAlgorithms: assemble(o.s.get("kexalgorithms"), DEFAULT_ALGORITHMS.KexAlgorithms),
    macs: assemble(o.s.get("macs"), DEFAULT_ALGORITHMS.MACs),
    hostKeyAlgorithms: assemble(o.s.get("hostkeyalgorithms"), DEFAULT_ALGORITHMS.HostKeyAlgorithms),
    algorithmSpecs: Object.fromEntries(
      ([
        ["ciphers", "ciphers"],
        ["kexAlgorithms", "kexalgorithms"],
        ["macs", "macs"],
        ["hostKeyAlgorithms", "hostkeyalgorithms"],
        ["pubkeyAcceptedAlgorithms", "pubkeyacceptedalgorithms"],
      ] as const).filter(([, k]) => o.s.has(k)).map(([n, k]) => [n, o.s.get(k)!]),
    ),
    pubkeyAcceptedAlgorithms: assemble(
      o.s.get("pubkeyacceptedalgorithms"),
      DEFAULT_ALGORITHMS.HostKeyAlgorithms,
    ),
  };
}

/** The agent, X11 and port forwarding fields of {@link ResolvedSshConfig}, with ssh's defaults. */
function forwardingFields(
  o: State,
  expand: (keyword: string, v: string, tilde?: boolean) => string,
) {
  const paths = (f: ForwardSpec): ForwardSpec => ({
    ...f,
    ...(f.listenPath !== undefined ? { listenPath: expand("Forward", f.listenPath, false) } : {}),
    ...(f.connectPath !== undefined
      ? { connectPath: expand("Forward", f.connectPath, false) }
      : {}),
  });
  return {
    forwardAgent: o.forwardAgentPath !== undefined
      ? expand("ForwardAgent", o.forwardAgentPath)
      : yes(o, "forwardagent"),
    forwardX11: yes(o, "forwardx11"),
    forwardX11Trusted: yes(o, "forwardx11trusted"),
    // "none" (-1) leaves ssh's default, as in readconf.c's fill_default_options.
    forwardX11Timeout: Number(o.s.get("forwardx11timeout") ?? -1) < 0
      ? 1200
      : Number(o.s.get("forwardx11timeout")),
    xauthLocation: o.s.get("xauthlocation") ?? "/usr/bin/xauth",
    localForwards: o.localForwards.filter((f) => f.connectHost !== "socks").map(paths),
    remoteForwards: o.remoteForwards.map(paths),
    dynamicForwards: o.localForwards.filter((f) => f.connectHost === "socks").map(paths),
    exitOnForwardFailure: yes(o, "exitonforwardfailure"),
  };
}

/** Fills the defaults in and expands what ssh expands before `-G`: one line per field. */
function finish(
  o: State,
  opts: ResolveSshConfigOptions,
  host: string,
  hostname: string,
): ResolvedSshConfig {
  const user = o.s.get("user") ?? opts.localUser;
  const portNumber = Number(o.s.get("port") ?? 22);
  const tokens = tokensFor(o, opts, { host, hostname, user, port: portNumber });
  const env = opts.env ?? {};
  const expand = (keyword: string, v: string, tilde = true) =>
    expandSshConfigValue(v, { keyword, tokens, home: tilde ? opts.home : undefined, env });
  const none = (list: string[] | undefined, dflt: string[]) => {
    const l = list ?? dflt;
    return l.length === 1 && l[0].toLowerCase() === "none" ? [] : l;
  };
  const timeout = Number(o.s.get("connecttimeout") ?? -1);
  const proxyCommand = o.s.get("proxycommand");
  const agent = o.s.get("identityagent");
  const pubkey = o.s.get("pubkeyauthentication") ?? "yes";
  return {
    host,
    hostname,
    user,
    port: portNumber,
    identityFiles: o.identityFiles.length
      ? o.identityFiles.map((f) => f.path)
      : [...DEFAULT_IDENTITY_FILES],
    identityFilesDefaulted: o.identityFiles.length === 0,
    identitiesOnly: yes(o, "identitiesonly"),
    ...(agent !== undefined ? { identityAgent: expand("IdentityAgent", agent) } : {}),
    certificateFiles: o.certificateFiles.map((f) => f.path),
    ...(jumpText(o) !== undefined ? { proxyJump: jumpText(o) } : {}),
    ...(proxyCommand !== undefined && proxyCommand.toLowerCase() !== "none" && !jumpText(o)
      ? { proxyCommand }
      : {}),
    strictHostKeyChecking: (o.s.get("stricthostkeychecking") ?? "ask") as ResolvedSshConfig[
      "strictHostKeyChecking"
    ],
    userKnownHostsFiles: none(o.userKnownHosts, ["~/.ssh/known_hosts", "~/.ssh/known_hosts2"])
      .map((f) => expand("UserKnownHostsFile", f)),
    globalKnownHostsFiles: none(o.globalKnownHosts, [
      "/etc/ssh/ssh_known_hosts",
      "/etc/ssh/ssh_known_hosts2",
    ]),
    hashKnownHosts: yes(o, "hashknownhosts"),
    ...(o.s.has("hostkeyalias") ? { hostKeyAlias: o.s.get("hostkeyalias")!.toLowerCase() } : {}),
    serverAliveInterval: Math.max(0, Number(o.s.get("serveraliveinterval") ?? 0)),
    serverAliveCountMax: Number(o.s.get("serveralivecountmax") ?? 3),
    ...(timeout >= 0 ? { connectTimeout: timeout } : {}),
    ...forwardingFields(o, expand),
    compression: yes(o, "compression"),
    ...algorithmFields(o),
    sendEnv: [...o.sendEnv],
    setEnv: [...o.setEnv],
    requestTty: (o.s.get("requesttty") ?? "auto") as ResolvedSshConfig["requestTty"],
    batchMode: yes(o, "batchmode"),
    logLevel: o.s.get("loglevel") ?? "INFO",
    logLevelSet: o.s.has("loglevel"),
    numberOfPasswordPrompts: Number(o.s.get("numberofpasswordprompts") ?? 3),
    passwordAuthentication: yes(o, "passwordauthentication", true),
    pubkeyAuthentication: pubkey !== "no",
    kbdInteractiveAuthentication: yes(o, "kbdinteractiveauthentication", true),
    tokens,
  };
}

// ---------------------------------------------------------------------------
// ssh -G.

/**
 * The keywords {@link formatSshConfig} prints, in `ssh -G`'s order
 * (readconf.c `dump_client_config`).
 *
 * @example
 * ```ts
 * import { SSH_G_KEYWORDS } from "./ssh_config.ts";
 * console.log(SSH_G_KEYWORDS.slice(0, 4)); // ["host", "user", "hostname", "port"]
 * ```
 */
export const SSH_G_KEYWORDS: readonly string[] = [
  "host",
  "user",
  "hostname",
  "port",
  "batchmode",
  "compression",
  "exitonforwardfailure",
  "forwardx11",
  "forwardx11trusted",
  "hashknownhosts",
  "identitiesonly",
  "kbdinteractiveauthentication",
  "passwordauthentication",
  "pubkeyauthentication",
  "requesttty",
  "stricthostkeychecking",
  "forwardx11timeout",
  "numberofpasswordprompts",
  "serveralivecountmax",
  "serveraliveinterval",
  "ciphers",
  "hostkeyalgorithms",
  "hostkeyalias",
  "identityagent",
  "kexalgorithms",
  "loglevel",
  "macs",
  "pubkeyacceptedalgorithms",
  "xauthlocation",
  "dynamicforward",
  "localforward",
  "remoteforward",
  "identityfile",
  "certificatefile",
  "globalknownhostsfile",
  "userknownhostsfile",
  "sendenv",
  "setenv",
  "forwardagent",
  "connecttimeout",
  "proxycommand",
  "proxyjump",
];

const TRUE_FALSE: Record<string, string> = { yes: "true", no: "false" };

/**
 * The resolved configuration as `ssh -G` prints it: lower-case keywords,
 * one per line (repeated for lists), in OpenSSH's order, for the keywords
 * rxssh implements ({@link SSH_G_KEYWORDS}).
 *
 * @example
 * ```ts
 * import { formatSshConfig, resolveSshConfig } from "./ssh_config.ts";
 * const c = resolveSshConfig("example.com", {
 *   sources: [],
 *   reader: { readFile: () => undefined, glob: () => [] },
 *   localUser: "me",
 *   home: "/home/me",
 * });
 * console.log(formatSshConfig(c).split("\n").slice(0, 4).join(" | "));
 * // "host example.com | user me | hostname example.com | port 22"
 * ```
 */
export function formatSshConfig(c: ResolvedSshConfig): string {
  const lines: string[] = [];
  const put = (k: string, v: string | number | boolean | undefined) => {
    if (v === undefined) return;
    lines.push(`${k} ${typeof v === "boolean" ? (v ? "yes" : "no") : v}`);
  };
  const oneLine = (k: string, list: string[]) => put(k, list.length ? list.join(" ") : "none");
  put("host", c.host);
  put("user", c.user);
  put("hostname", c.hostname);
  put("port", c.port);
  put("batchmode", c.batchMode);
  put("compression", c.compression);
  put("exitonforwardfailure", c.exitOnForwardFailure);
  put("forwardx11", c.forwardX11);
  put("forwardx11trusted", c.forwardX11Trusted);
  put("hashknownhosts", c.hashKnownHosts);
  put("identitiesonly", c.identitiesOnly);
  put("kbdinteractiveauthentication", c.kbdInteractiveAuthentication);
  put("passwordauthentication", c.passwordAuthentication);
  put("pubkeyauthentication", c.pubkeyAuthentication ? "true" : "false");
  put("requesttty", TRUE_FALSE[c.requestTty] ?? c.requestTty);
  put("stricthostkeychecking", TRUE_FALSE[c.strictHostKeyChecking] ?? c.strictHostKeyChecking);
  put("forwardx11timeout", c.forwardX11Timeout);
  put("numberofpasswordprompts", c.numberOfPasswordPrompts);
  put("serveralivecountmax", c.serverAliveCountMax);
  put("serveraliveinterval", c.serverAliveInterval);
  put("ciphers", c.ciphers.join(","));
  put("hostkeyalgorithms", c.hostKeyAlgorithms.join(","));
  put("hostkeyalias", c.hostKeyAlias);
  put("identityagent", c.identityAgent);
  put("kexalgorithms", c.kexAlgorithms.join(","));
  put("loglevel", c.logLevel);
  put("macs", c.macs.join(","));
  put("pubkeyacceptedalgorithms", c.pubkeyAcceptedAlgorithms.join(","));
  put("xauthlocation", c.xauthLocation);
  for (const f of c.dynamicForwards) put("dynamicforward", formatForward(f, true));
  for (const f of c.localForwards) put("localforward", formatForward(f, false));
  for (const f of c.remoteForwards) put("remoteforward", formatForward(f, false));
  for (const f of c.identityFiles) put("identityfile", f);
  for (const f of c.certificateFiles) put("certificatefile", f);
  oneLine("globalknownhostsfile", c.globalKnownHostsFiles);
  oneLine("userknownhostsfile", c.userKnownHostsFiles);
  for (const e of c.sendEnv) put("sendenv", e);
  for (const e of c.setEnv) put("setenv", e);
  put("forwardagent", c.forwardAgent);
  put("connecttimeout", c.connectTimeout ?? "none");
  put("proxycommand", c.proxyCommand);
  put("proxyjump", c.proxyJump);
  return lines.join("\n") + "\n";
}
