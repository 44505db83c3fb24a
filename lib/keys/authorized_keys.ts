/**
 * authorized_keys files, as sshd(8) reads them ("AUTHORIZED_KEYS FILE
 * FORMAT"): one key per line, optionally preceded by comma-separated
 * options, and the evaluation sshd performs when a client offers a key
 * (OpenSSH auth2-pubkeyfile.c `auth_check_authkeys_file`,
 * `auth_check_authkey_line`, `auth_authorise_keyopts`; options parsed as
 * auth-options.c `sshauthopt_parse` does).
 *
 * Like sshd, a line that cannot be used is skipped, never half-used; unlike
 * sshd, which only logs it, {@link parseAuthorizedKeys} returns a typed
 * diagnostic for it.
 *
 * @module
 */
import { constantTimeEqual } from "../crypto/constant_time.ts";
import { readKey, skipSpace, splitLines } from "./_key_line.ts";
import { matchHostAndIp } from "./patterns.ts";
import { parseAbsoluteTime } from "./time.ts";
import type { PublicKey } from "./types.ts";

export type { PublicKey } from "./types.ts";

/**
 * One `permitopen` / `permitlisten` permission: `host:port`, where the port
 * may be `*` and an IPv6 host is written in brackets (`[::1]:22`).
 *
 * @example
 * ```ts
 * import type { PermitSpec } from "./authorized_keys.ts";
 * const p: PermitSpec = { spec: "[::1]:8080", host: "::1", port: 8080 };
 * ```
 */
export interface PermitSpec {
  /**
   * The text as sshd records it; for `permitlisten` a bare port `N` is
   * recorded as `*:N` (auth-options.c `handle_permit`).
   */
  spec: string;
  /** The host (brackets removed); may contain `*` wildcards for permitlisten. */
  host: string;
  /** The port, or `"*"` for any port. */
  port: number | "*";
}

/**
 * The options of an authorized_keys line, after sshd's left-to-right
 * evaluation (auth-options.c `sshauthopt_parse`): the five permission flags
 * start as true, `restrict` clears them all, and a later `pty`,
 * `port-forwarding`, ... sets one again (`no-pty` etc. clear one).
 *
 * @example
 * ```ts
 * import { parseAuthorizedKeys } from "./authorized_keys.ts";
 * const text = 'restrict,pty,command="uptime" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
 * const { entries } = parseAuthorizedKeys(text);
 * console.log(entries[0].options.pty, entries[0].options.portForwarding, entries[0].options.command); // true false "uptime"
 * ```
 */
export interface AuthorizedKeyOptions {
  /** `restrict` was given. */
  restrict: boolean;
  /** `cert-authority`: the key is a CA trusted for user certificates. */
  certAuthority: boolean;
  /** Port forwarding allowed (`port-forwarding` / `no-port-forwarding`). */
  portForwarding: boolean;
  /** Agent forwarding allowed (`agent-forwarding` / `no-agent-forwarding`). */
  agentForwarding: boolean;
  /** X11 forwarding allowed (`X11-forwarding` / `no-X11-forwarding`). */
  x11Forwarding: boolean;
  /** A pty may be allocated (`pty` / `no-pty`). */
  pty: boolean;
  /** ~/.ssh/rc may run (`user-rc` / `no-user-rc`). */
  userRc: boolean;
  /** `no-touch-required`: FIDO keys need not assert user presence. */
  noTouchRequired: boolean;
  /** `verify-required`: FIDO keys must assert user verification. */
  verifyRequired: boolean;
  /** `command="..."`, with `\"` unescaped. */
  command?: string;
  /** `principals="a,b"` (only valid with cert-authority). */
  principals?: string;
  /** `from="pattern-list"`. */
  from?: string;
  /** `environment="NAME=value"`, in order; for a repeated NAME the first wins and later ones are dropped. */
  environment: string[];
  /** `expiry-time=...` as seconds since the epoch; the earliest when repeated. */
  expiryTime?: number;
  /** `permitopen="host:port"`, in order. */
  permitOpen: PermitSpec[];
  /** `permitlisten="[host:]port"`, in order. */
  permitListen: PermitSpec[];
  /** `tunnel="n"`: the forced tun device number, or `"any"`; the last one wins. */
  tunnel?: number | "any";
}

/**
 * A usable line of an authorized_keys file.
 *
 * @example
 * ```ts
 * import type { AuthorizedKeyEntry } from "./authorized_keys.ts";
 * const describe = (e: AuthorizedKeyEntry) => `line ${e.line}: ${e.keyType} ${e.key.fingerprint()} ${e.comment}`;
 * ```
 */
export interface AuthorizedKeyEntry {
  /** 1-based line number in the file. */
  line: number;
  /** The options, evaluated. */
  options: AuthorizedKeyOptions;
  /** The options text as written (undefined when the line has none). */
  rawOptions?: string;
  /** The key type name as written on the line (equal to `key.type`). */
  keyType: string;
  /** The key. */
  key: PublicKey;
  /** Whatever follows the key, possibly empty. */
  comment: string;
}

/**
 * Why a line was skipped: `bad-options` (sshauthopt_parse failed, or an
 * unterminated quote), `no-key` (no key where one was expected),
 * `bad-base64`, `bad-key` (the blob does not decode), `key-type-mismatch`
 * (the blob is of another type than the line says), `unsupported-key-type`
 * (a type OpenSSH knows but rxssh cannot use, e.g. `sk-ssh-ed25519@openssh.com`
 * or certificates; sshd would accept the line).
 *
 * @example
 * ```ts
 * import type { AuthorizedKeysProblemKind } from "./authorized_keys.ts";
 * const fatal = (k: AuthorizedKeysProblemKind) => k !== "unsupported-key-type";
 * ```
 */
export type AuthorizedKeysProblemKind =
  | "bad-options"
  | "no-key"
  | "bad-base64"
  | "bad-key"
  | "key-type-mismatch"
  | "unsupported-key-type";

/**
 * A skipped line of an authorized_keys file.
 *
 * @example
 * ```ts
 * import { parseAuthorizedKeys } from "./authorized_keys.ts";
 * const { diagnostics } = parseAuthorizedKeys('no-pty,bogus ssh-ed25519 AAAA\n');
 * for (const d of diagnostics) console.log(`authorized_keys:${d.line}: ${d.problem}`);
 * ```
 */
export interface AuthorizedKeysDiagnostic {
  /** 1-based line number. */
  line: number;
  /** The class of problem. */
  kind: AuthorizedKeysProblemKind;
  /** What was wrong, in sshd's words where it has them (e.g. `bad key options: unknown key option`). */
  problem: string;
}

/**
 * The outcome of {@link parseAuthorizedKeys}.
 *
 * @example
 * ```ts
 * import type { AuthorizedKeysFile } from "./authorized_keys.ts";
 * const ok = (f: AuthorizedKeysFile) => f.diagnostics.length === 0;
 * ```
 */
export interface AuthorizedKeysFile {
  /** Usable lines, in file order. */
  entries: AuthorizedKeyEntry[];
  /** Skipped lines (blank and `#` lines are not reported). */
  diagnostics: AuthorizedKeysDiagnostic[];
}

// auth-options.h
const SSH_AUTHOPT_PERMIT_MAX = 4096;
const SSH_AUTHOPT_ENV_MAX = 1024;
// misc.h: SSH_TUNID_ANY 0x7fffffff, SSH_TUNID_MAX = SSH_TUNID_ANY - 2
const SSH_TUNID_MAX = 0x7fffffff - 2;
const NI_MAXHOST = 1025;

function defaultOptions(): AuthorizedKeyOptions {
  // sshauthopt_new_with_keys_defaults
  return {
    restrict: false,
    certAuthority: false,
    portForwarding: true,
    agentForwarding: true,
    x11Forwarding: true,
    pty: true,
    userRc: true,
    noTouchRequired: false,
    verifyRequired: false,
    environment: [],
    permitOpen: [],
    permitListen: [],
  };
}

/** misc.c `a2port` for numeric ports (service names are not looked up). */
function a2port(s: string): number {
  if (!/^[0-9]+$/.test(s)) return -1;
  const n = Number(s);
  return n <= 65535 ? n : -1;
}

/** auth-options.c `handle_permit` after the value was dequoted. */
function parsePermit(value: string, allowBarePort: boolean): PermitSpec | string {
  const spec = allowBarePort && !value.includes(":") ? `*:${value}` : value;
  // misc.c hpdelim2
  let host: string;
  let rest: string | undefined;
  let i: number;
  if (spec.startsWith("[")) {
    const close = spec.indexOf("]");
    if (close < 0) return "invalid permission hostname";
    i = close + 1;
  } else {
    const m = /[:/]/.exec(spec);
    i = m ? m.index : spec.length;
  }
  if (i === spec.length) {
    host = spec;
    rest = undefined;
  } else if (spec[i] === ":" || spec[i] === "/") {
    host = spec.slice(0, i);
    rest = spec.slice(i + 1);
  } else {
    return "invalid permission hostname";
  }
  if (new TextEncoder().encode(host).length >= NI_MAXHOST) return "invalid permission hostname";
  if (rest === undefined || (rest !== "*" && a2port(rest) <= 0)) return "invalid permission port";
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  return { spec, host: bare, port: rest === "*" ? "*" : a2port(rest) };
}

/** auth-options.c `sshauthopt_parse`: the options at the start of `s`, up to the first unquoted space. */
function parseOptions(s: string): AuthorizedKeyOptions | string {
  const o = defaultOptions();
  const c = new OptionScanner(s);
  while (!c.atEnd) {
    const error = flagOption(c, o) ? undefined : valueOption(c, o);
    if (error !== undefined) return error;
    // Skip the comma, and move to the next option (or stop at the end).
    if (c.atEnd) break;
    if (s[c.i] !== ",") return "unknown key option";
    c.i++;
    if (c.i >= s.length) return "unexpected end-of-options";
  }
  return o;
}

/** misc.c's scanner over an options string: opt_flag, opt_match, opt_dequote, from `i` on. */
class OptionScanner {
  i = 0;
  constructor(readonly s: string) {}

  #lower(from: number, len: number): string {
    return this.s.slice(from, from + len).toLowerCase();
  }

  /** misc.c opt_flag: case-insensitive prefix match, optional "no-"; 1, 0 (negated) or -1 (not this flag). */
  flag(name: string, allowNegate: boolean): -1 | 0 | 1 {
    let j = this.i;
    let negate = false;
    if (allowNegate && this.#lower(j, 3) === "no-") {
      j += 3;
      negate = true;
    }
    if (this.#lower(j, name.length) === name) {
      this.i = j + name.length;
      return negate ? 0 : 1;
    }
    return -1;
  }

  /** misc.c opt_match: `name=`, case-insensitive. */
  match(name: string): boolean {
    if (this.#lower(this.i, name.length) === name && this.s[this.i + name.length] === "=") {
      this.i += name.length + 1;
      return true;
    }
    return false;
  }

  /** misc.c opt_dequote: "..." with \" standing for ". */
  dequote(): string | { error: string } {
    const s = this.s;
    if (s[this.i] !== '"') return { error: "missing start quote" };
    let j = this.i + 1;
    let out = "";
    while (j < s.length && s[j] !== '"') {
      if (s[j] === "\\" && s[j + 1] === '"') j++;
      out += s[j++];
    }
    if (j >= s.length) return { error: "missing end quote" };
    this.i = j + 1;
    return out;
  }

  /** At the end of the options: the string's end, a space or a tab. */
  get atEnd(): boolean {
    return this.i >= this.s.length || this.s[this.i] === " " || this.s[this.i] === "\t";
  }
}

/** The flag options (`restrict`, `[no-]pty`, ...); false when the option is not one. */
function flagOption(c: OptionScanner, o: AuthorizedKeyOptions): boolean {
  let r: -1 | 0 | 1;
  if ((r = c.flag("restrict", false)) !== -1) {
    o.restrict = true;
    o.portForwarding =
      o.agentForwarding =
      o.x11Forwarding =
      o.pty =
      o.userRc =
        false;
  } else if ((r = c.flag("cert-authority", false)) !== -1) {
    o.certAuthority = r === 1;
  } else if ((r = c.flag("port-forwarding", true)) !== -1) {
    o.portForwarding = r === 1;
  } else if ((r = c.flag("agent-forwarding", true)) !== -1) {
    o.agentForwarding = r === 1;
  } else if ((r = c.flag("x11-forwarding", true)) !== -1) {
    o.x11Forwarding = r === 1;
  } else if ((r = c.flag("touch-required", true)) !== -1) {
    o.noTouchRequired = r !== 1; // NB. flip
  } else if ((r = c.flag("verify-required", true)) !== -1) {
    o.verifyRequired = r === 1;
  } else if ((r = c.flag("pty", true)) !== -1) {
    o.pty = r === 1;
  } else if ((r = c.flag("user-rc", true)) !== -1) {
    o.userRc = r === 1;
  } else {
    return false;
  }
  return true;
}

/**
 * The `name="value"` options; the problem as sshd words it, or undefined
 * (also when the option is none of them: the caller then finds no comma).
 */
function valueOption(c: OptionScanner, o: AuthorizedKeyOptions): string | undefined {
  for (const name of ["command", "principals", "from"] as const) {
    if (!c.match(name)) continue;
    if (o[name] !== undefined) return `multiple "${name}" clauses`;
    const v = c.dequote();
    if (typeof v !== "string") return v.error;
    o[name] = v;
    return undefined;
  }
  if (c.match("expiry-time")) {
    const v = c.dequote();
    if (typeof v !== "string") return v.error;
    const t = parseAbsoluteTime(v);
    if (t === undefined || t === 0) return "invalid expires time";
    if (o.expiryTime === undefined || t < o.expiryTime) o.expiryTime = t;
  } else if (c.match("environment")) {
    return environmentOption(c, o.environment);
  } else if (c.match("permitopen")) {
    return permitOption(c, { list: o.permitOpen, listen: false });
  } else if (c.match("permitlisten")) {
    return permitOption(c, { list: o.permitListen, listen: true });
  } else if (c.match("tunnel")) {
    const v = c.dequote();
    if (typeof v !== "string") return v.error;
    // misc.c a2tun
    if (v.toLowerCase() === "any") o.tunnel = "any";
    else if (/^[0-9]+$/.test(v) && Number(v) <= SSH_TUNID_MAX) o.tunnel = Number(v);
    else return "invalid tun device";
  }
  return undefined;
}

/** `environment="NAME=value"`: the first setting of a name wins. */
function environmentOption(c: OptionScanner, environment: string[]): string | undefined {
  if (environment.length > SSH_AUTHOPT_ENV_MAX) return "too many environment strings";
  const v = c.dequote();
  if (typeof v !== "string") return v.error;
  const eq = v.indexOf("=");
  if (eq < 0) return "invalid environment string";
  const name = v.slice(0, eq);
  if (!/^[A-Za-z0-9_]+$/.test(name)) return "invalid environment string";
  // First match wins.
  if (!environment.some((e) => e.startsWith(name + "="))) environment.push(v);
  return undefined;
}

/** `permitopen="host:port"` or `permitlisten="[host:]port"` (auth-options.c handle_permit). */
function permitOption(
  c: OptionScanner,
  to: { list: PermitSpec[]; listen: boolean },
): string | undefined {
  if (to.list.length > SSH_AUTHOPT_PERMIT_MAX) return "too many permission directives";
  const v = c.dequote();
  if (typeof v !== "string") return v.error;
  const p = parsePermit(v, to.listen);
  if (typeof p === "string") return p;
  to.list.push(p);
  return undefined;
}

/**
 * Parses an authorized_keys file. Each line is handled as sshd does
 * (auth2-pubkeyfile.c): leading spaces and tabs are skipped, blank lines and
 * `#` lines ignored; a line starting with a key type is a key without
 * options; otherwise everything up to the first unquoted space or tab is the
 * options (authfile.c `sshkey_advance_past_options`), then comes the key.
 * The key's type word must equal the type inside its blob. Options are
 * parsed with sshd's rules (auth-options.c `sshauthopt_parse`): names are
 * case-insensitive, values are quoted with `\"` escapes, unknown options
 * and malformed values make the whole line unusable. Such lines are
 * reported in `diagnostics` and produce no entry; this function never throws
 * because of the file's contents.
 *
 * Differences from sshd: numeric ports only in permitopen/permitlisten
 * (sshd also accepts /etc/services names); key types rxssh does not
 * implement are reported as `unsupported-key-type`.
 *
 * @example
 * ```ts
 * import { parseAuthorizedKeys } from "./authorized_keys.ts";
 * const file = [
 *   "# admins",
 *   'from="10.0.0.0/8",no-pty ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA alice@laptop',
 *   "garbage",
 * ].join("\n");
 * const { entries, diagnostics } = parseAuthorizedKeys(file);
 * console.log(entries[0].line, entries[0].options.from, entries[0].comment); // 2 "10.0.0.0/8" "alice@laptop"
 * console.log(diagnostics[0].line, diagnostics[0].kind); // 3 "no-key"
 * ```
 */
export function parseAuthorizedKeys(text: string): AuthorizedKeysFile {
  const entries: AuthorizedKeyEntry[] = [];
  const diagnostics: AuthorizedKeysDiagnostic[] = [];
  const lines = splitLines(text);
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n];
    const lineNo = n + 1;
    const cp = skipSpace(line, 0);
    if (cp === line.length || line[cp] === "#") continue;
    let read = readKey(line, cp);
    let rawOptions: string | undefined;
    if (!read.ok) {
      const first = read;
      // sshkey_advance_past_options
      let j = cp;
      let quoted = false;
      for (; j < line.length && (quoted || (line[j] !== " " && line[j] !== "\t")); j++) {
        if (line[j] === "\\" && line[j + 1] === '"') j++;
        else if (line[j] === '"') quoted = !quoted;
      }
      if (j >= line.length && quoted) {
        diagnostics.push({
          line: lineNo,
          kind: "bad-options",
          problem: "invalid key option string (unterminated quote)",
        });
        continue;
      }
      read = readKey(line, skipSpace(line, j));
      if (!read.ok) {
        // A known type word first: that key was the problem; otherwise the
        // problem is with what follows the options.
        const p = first.knownType ? first : read;
        diagnostics.push({
          line: lineNo,
          kind: p.kind,
          problem: p.kind === "no-key" && !p.knownType ? "no key found" : p.problem,
        });
        continue;
      }
      rawOptions = line.slice(cp, j);
    }
    let options: AuthorizedKeyOptions;
    if (rawOptions === undefined) {
      options = defaultOptions();
    } else {
      const parsed = parseOptions(line.slice(cp));
      if (typeof parsed === "string") {
        diagnostics.push({
          line: lineNo,
          kind: "bad-options",
          problem: `bad key options: ${parsed}`,
        });
        continue;
      }
      options = parsed;
    }
    entries.push({
      line: lineNo,
      options,
      ...(rawOptions === undefined ? {} : { rawOptions }),
      keyType: read.keyType,
      key: read.key,
      comment: line.slice(read.end),
    });
  }
  return { entries, diagnostics };
}

/**
 * What a matched authorized_keys entry allows: the options of the line, as
 * the server should apply them. The server's own configuration still has
 * the last word (`AllowTcpForwarding`, `PermitUserEnvironment`, ...).
 *
 * @example
 * ```ts
 * import type { AuthorizedKeyPermissions } from "./authorized_keys.ts";
 * const mayOpenPty = (p: AuthorizedKeyPermissions) => p.pty && !p.expired;
 * ```
 */
export interface AuthorizedKeyPermissions {
  /** A pty may be allocated. */
  pty: boolean;
  /** Port forwarding (local and remote) allowed; further limited by permitOpen / permitListen when non-empty. */
  portForwarding: boolean;
  /** Agent forwarding allowed. */
  agentForwarding: boolean;
  /** X11 forwarding allowed. */
  x11Forwarding: boolean;
  /** ~/.ssh/rc may run. */
  userRc: boolean;
  /** The forced command, if any. */
  command?: string;
  /** Environment to set (`NAME` to value; first occurrence wins). sshd applies it only with `PermitUserEnvironment`. */
  environment: Record<string, string>;
  /** Allowed `direct-tcpip` destinations; empty means no restriction from this file. */
  permitOpen: PermitSpec[];
  /** Allowed `tcpip-forward` listen addresses; empty means no restriction from this file. */
  permitListen: PermitSpec[];
  /** The principals a certificate must contain (cert-authority lines only). */
  principals?: string[];
  /** The entry is a CA for user certificates. */
  certAuthority: boolean;
  /** The forced tun device (`tunnel="n"`), if any. */
  tunnel?: number | "any";
  /** `no-touch-required`. */
  noTouchRequired: boolean;
  /** `verify-required`. */
  verifyRequired: boolean;
  /** The `expiry-time` has passed. */
  expired: boolean;
}

/**
 * Why a listed key was refused (auth2-pubkeyfile.c `auth_authorise_keyopts`,
 * checked in this order): `expired` (expiry-time has passed),
 * `principals-without-cert-authority` (sshd refuses such lines),
 * `from-invalid` (the from= list is malformed as an address list, e.g.
 * `10.0.0.1/8`), `from-refused` (the client does not match from=).
 *
 * @example
 * ```ts
 * import type { AuthorizedKeyRefusal } from "./authorized_keys.ts";
 * const message = (r: AuthorizedKeyRefusal) => r === "from-refused" ? "not from a permitted host" : r;
 * ```
 */
export type AuthorizedKeyRefusal =
  | "expired"
  | "principals-without-cert-authority"
  | "from-invalid"
  | "from-refused";

/**
 * Where and when a key is being used, for {@link findAuthorizedKey} and
 * {@link evaluateAuthorizedKey}.
 *
 * @example
 * ```ts
 * import type { AuthorizedKeyContext } from "./authorized_keys.ts";
 * const context: AuthorizedKeyContext = { clientAddress: "192.0.2.7", now: Date.now() };
 * ```
 */
export interface AuthorizedKeyContext {
  /** The client's numeric address, e.g. `"192.0.2.7"` (IPv4-mapped IPv6 addresses should be given as IPv4, as sshd does). */
  clientAddress: string;
  /** The client's host name when resolved (sshd `UseDNS yes`); defaults to the address, as sshd with `UseDNS no`. */
  clientHostname?: string;
  /** The current time, as a Date or milliseconds since the epoch (default: now). */
  now?: Date | number;
}

/**
 * The outcome of {@link evaluateAuthorizedKey}.
 *
 * @example
 * ```ts
 * import type { AuthorizedKeyEvaluation } from "./authorized_keys.ts";
 * const allowed = (e: AuthorizedKeyEvaluation) => e.ok ? "ok" : e.reason;
 * ```
 */
export type AuthorizedKeyEvaluation =
  | { ok: true; permissions: AuthorizedKeyPermissions }
  | { ok: false; reason: AuthorizedKeyRefusal; permissions: AuthorizedKeyPermissions };

/**
 * The outcome of {@link findAuthorizedKey}: the entry that lets the key in
 * with its permissions, or why not. `refusals` lists every line that held
 * the key but refused it, in file order; `reason` is the first refusal's,
 * or `not-listed` when no usable line holds the key.
 *
 * @example
 * ```ts
 * import type { AuthorizedKeyMatch } from "./authorized_keys.ts";
 * const log = (m: AuthorizedKeyMatch) =>
 *   m.ok ? `accepted by line ${m.entry.line}` : `refused: ${m.reason}`;
 * ```
 */
export type AuthorizedKeyMatch =
  | { ok: true; entry: AuthorizedKeyEntry; permissions: AuthorizedKeyPermissions }
  | {
    ok: false;
    reason: "not-listed" | AuthorizedKeyRefusal;
    refusals: { entry: AuthorizedKeyEntry; reason: AuthorizedKeyRefusal }[];
  };

function permissionsOf(o: AuthorizedKeyOptions, expired: boolean): AuthorizedKeyPermissions {
  const environment: Record<string, string> = {};
  for (const e of o.environment) {
    const eq = e.indexOf("=");
    const name = e.slice(0, eq);
    if (!(name in environment)) environment[name] = e.slice(eq + 1);
  }
  return {
    pty: o.pty,
    portForwarding: o.portForwarding,
    agentForwarding: o.agentForwarding,
    x11Forwarding: o.x11Forwarding,
    userRc: o.userRc,
    ...(o.command === undefined ? {} : { command: o.command }),
    environment,
    permitOpen: [...o.permitOpen],
    permitListen: [...o.permitListen],
    // auth2-pubkeyfile.c match_principals_option: comma-separated, stops at an empty item.
    ...(o.principals === undefined ? {} : {
      principals: (() => {
        const out: string[] = [];
        for (const p of o.principals.split(",")) {
          if (p === "") break;
          out.push(p);
        }
        return out;
      })(),
    }),
    certAuthority: o.certAuthority,
    ...(o.tunnel === undefined ? {} : { tunnel: o.tunnel }),
    noTouchRequired: o.noTouchRequired,
    verifyRequired: o.verifyRequired,
    expired,
  };
}

function nowSeconds(now: Date | number | undefined): number {
  const ms = now === undefined ? Date.now() : typeof now === "number" ? now : now.getTime();
  return Math.floor(ms / 1000);
}

/**
 * Applies an entry's conditions for a client, as sshd does once the key
 * matched (auth2-pubkeyfile.c `auth_authorise_keyopts`): refused when the
 * expiry-time is before now, when `principals=` appears without
 * `cert-authority`, or when `from=` does not match the client (OpenSSH
 * `match_host_and_ip`: the host name or the address must match, and neither
 * may match a negated pattern). Use it for the CA entry that signed a user
 * certificate (see {@link certificateAuthorities}).
 *
 * @example
 * ```ts
 * import { evaluateAuthorizedKey, parseAuthorizedKeys } from "./authorized_keys.ts";
 * const { entries } = parseAuthorizedKeys(
 *   'from="10.0.0.0/8" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
 * );
 * const r = evaluateAuthorizedKey(entries[0], { clientAddress: "192.0.2.1" });
 * console.log(r.ok ? "allowed" : r.reason); // "from-refused"
 * ```
 */
export function evaluateAuthorizedKey(
  entry: AuthorizedKeyEntry,
  context: AuthorizedKeyContext,
): AuthorizedKeyEvaluation {
  const o = entry.options;
  const expired = o.expiryTime !== undefined && o.expiryTime < nowSeconds(context.now);
  const permissions = permissionsOf(o, expired);
  if (expired) return { ok: false, reason: "expired", permissions };
  if (o.principals !== undefined && !o.certAuthority) {
    return { ok: false, reason: "principals-without-cert-authority", permissions };
  }
  if (o.from !== undefined) {
    const m = matchHostAndIp(o.from, {
      address: context.clientAddress,
      hostname: context.clientHostname ?? context.clientAddress,
    });
    if (m !== 1) {
      return { ok: false, reason: m === -1 ? "from-invalid" : "from-refused", permissions };
    }
  }
  return { ok: true, permissions };
}

/**
 * Finds the entry that authorizes a plain (non-certificate) public key, as
 * sshd does (auth2-pubkeyfile.c `auth_check_authkeys_file`): lines are tried
 * in order; a line matches when its key has the same blob and it is not a
 * `cert-authority` line; a matching line whose conditions refuse the client
 * (see {@link evaluateAuthorizedKey}) does not end the search, so a later
 * line with the same key may still accept it.
 *
 * @example
 * ```ts
 * import { findAuthorizedKey, parseAuthorizedKeys } from "./authorized_keys.ts";
 * const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
 * const { entries } = parseAuthorizedKeys(`from="127.0.0.2" ${key}\nrestrict,pty ${key}\n`);
 * const m = findAuthorizedKey(entries, entries[0].key, { clientAddress: "127.0.0.1" });
 * if (m.ok) console.log(m.entry.line, m.permissions.pty, m.permissions.portForwarding); // 2 true false
 * ```
 */
export function findAuthorizedKey(
  entries: readonly AuthorizedKeyEntry[],
  key: PublicKey,
  context: AuthorizedKeyContext,
): AuthorizedKeyMatch {
  const refusals: { entry: AuthorizedKeyEntry; reason: AuthorizedKeyRefusal }[] = [];
  for (const entry of entries) {
    if (entry.options.certAuthority || !constantTimeEqual(entry.key.blob, key.blob)) continue;
    const r = evaluateAuthorizedKey(entry, context);
    if (r.ok) return { ok: true, entry, permissions: r.permissions };
    refusals.push({ entry, reason: r.reason });
  }
  return { ok: false, reason: refusals[0]?.reason ?? "not-listed", refusals };
}

/**
 * The `cert-authority` entries: CA keys trusted to sign user certificates,
 * with their options. Validating a certificate against them (signature,
 * validity, principals) is the certificate module's job; after that, apply
 * the entry with {@link evaluateAuthorizedKey}.
 *
 * @example
 * ```ts
 * import { certificateAuthorities, parseAuthorizedKeys } from "./authorized_keys.ts";
 * const { entries } = parseAuthorizedKeys(
 *   'cert-authority,principals="alice" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA ca',
 * );
 * for (const ca of certificateAuthorities(entries)) console.log(ca.key.fingerprint(), ca.options.principals);
 * ```
 */
export function certificateAuthorities(
  entries: readonly AuthorizedKeyEntry[],
): AuthorizedKeyEntry[] {
  return entries.filter((e) => e.options.certAuthority);
}
