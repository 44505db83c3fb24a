/**
 * OpenSSH-style configuration options for the command line: `-o
 * Keyword=value` arguments and `ssh_config` / `sshd_config` lines, shared by
 * `rxssh` (the client) and `rxssh serve`.
 *
 * As in OpenSSH, keywords are case-insensitive, a value follows `=` or
 * whitespace, values may be double-quoted, and for most keywords the
 * **first** value obtained wins (command-line `-o` before the configuration
 * file). Keywords that accumulate (e.g. `IdentityFile`, `SendEnv`,
 * `HostKey`) are declared `multi`.
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import * as os from "node:os";
import process from "node:process";
import { matchHostname } from "../keys/patterns.ts";

/**
 * A keyword a command understands: its canonical spelling and whether
 * repeated values accumulate instead of the first one winning.
 *
 * @example
 * ```ts
 * import type { OptionSpec } from "./options.ts";
 * const specs: OptionSpec[] = [{ name: "Port" }, { name: "IdentityFile", multi: true }];
 * ```
 */
export interface OptionSpec {
  /** Canonical spelling, e.g. `StrictHostKeyChecking`. */
  name: string;
  /** Repeated values accumulate (in order) instead of the first winning. */
  multi?: boolean;
}

/**
 * Thrown for an unknown keyword, a missing value or a value of the wrong
 * shape; the message names the keyword and the value, as OpenSSH's do.
 *
 * @example
 * ```ts
 * import { OptionError } from "./options.ts";
 * const e = new OptionError('Bad configuration option: "Prot"');
 * console.log(e.message);
 * ```
 */
export class OptionError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "OptionError";
  }
}

/**
 * getopt(3) over `args`, from `start` (default 0): flags may be clustered
 * (`-rp`), a flag listed in `withValue` takes the rest of its argument or
 * the next one (`-P22`, `-P 22`), `--` ends the options and so does the
 * first operand (or a lone `-`). Each option goes to `onOption` in order
 * (which throws for one it refuses); returns the index of the first
 * operand. A missing value is an {@link OptionError} as getopt words it.
 *
 * @example
 * ```ts
 * import { getopt } from "./options.ts";
 * const seen: string[] = [];
 * const at = getopt(["-rpP", "2222", "a", "b"], { withValue: "P", onOption: (f, v) => seen.push(f + (v ?? "")) });
 * console.log(seen, at); // ["r", "p", "P2222"] 2
 * ```
 */
export function getopt(
  args: readonly string[],
  spec: { withValue: string; start?: number; onOption(flag: string, value?: string): void },
): number {
  let i = spec.start ?? 0;
  for (; i < args.length; i++) {
    const a = args[i];
    if (a === "--") return i + 1;
    if (!a.startsWith("-") || a === "-") return i;
    for (let j = 1; j < a.length; j++) {
      const f = a[j];
      if (!spec.withValue.includes(f)) {
        spec.onOption(f);
        continue;
      }
      let v = a.slice(j + 1);
      if (v === "") {
        if (++i >= args.length) throw new OptionError(`option requires an argument -- ${f}`);
        v = args[i];
      }
      spec.onOption(f, v);
      break;
    }
  }
  return i;
}

/**
 * Splits one option (`Keyword=value`, `Keyword value` or `Keyword = value`)
 * into keyword and value; surrounding double quotes are removed from the
 * value. Returns `undefined` for blank and `#` comment lines.
 *
 * @example
 * ```ts
 * import { splitOption } from "./options.ts";
 * console.log(splitOption("StrictHostKeyChecking=accept-new")); // { keyword: "StrictHostKeyChecking", value: "accept-new" }
 * console.log(splitOption('Banner "/etc/issue net"')); // { keyword: "Banner", value: "/etc/issue net" }
 * ```
 */
export function splitOption(text: string): { keyword: string; value: string } | undefined {
  const s = text.trim();
  if (s === "" || s.startsWith("#")) return undefined;
  const m = /^([A-Za-z0-9_-]+)\s*(?:=\s*|\s+)(.*)$/s.exec(s);
  if (!m) return { keyword: s, value: "" };
  let value = m[2].trim();
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
    value = value.slice(1, -1);
  }
  return { keyword: m[1], value };
}

/**
 * Options collected from `-o` arguments and configuration files, with
 * OpenSSH's "first value wins" rule. Lookups are case-insensitive.
 *
 * @example
 * ```ts
 * import { OptionSet } from "./options.ts";
 * const o = new OptionSet([{ name: "Port" }, { name: "IdentityFile", multi: true }]);
 * o.addArgument("Port=2222");
 * o.addArgument("port=22"); // ignored: the first value wins
 * o.addArgument("IdentityFile=~/.ssh/a");
 * o.addArgument("IdentityFile ~/.ssh/b");
 * console.log(o.get("Port"), o.all("identityfile")); // "2222" ["~/.ssh/a", "~/.ssh/b"]
 * ```
 */
export class OptionSet {
  #specs = new Map<string, OptionSpec>();
  #values = new Map<string, string[]>();

  /** An empty set that accepts the keywords in `specs`. */
  constructor(specs: readonly OptionSpec[]) {
    for (const s of specs) this.#specs.set(s.name.toLowerCase(), s);
  }

  /** The spec of `keyword`, if it is known. */
  spec(keyword: string): OptionSpec | undefined {
    return this.#specs.get(keyword.toLowerCase());
  }

  /**
   * Records `value` for `keyword` (first wins unless the keyword is
   * `multi`). Throws {@link OptionError} for an unknown keyword or an empty
   * value.
   */
  set(keyword: string, value: string): void {
    const spec = this.spec(keyword);
    if (!spec) throw new OptionError(`Bad configuration option: "${keyword}"`);
    if (value === "") throw new OptionError(`${spec.name}: missing argument`);
    const key = spec.name.toLowerCase();
    const list = this.#values.get(key);
    if (!list) this.#values.set(key, [value]);
    else if (spec.multi) list.push(value);
  }

  /** Parses and records one `-o` argument (see {@link splitOption}). */
  addArgument(text: string): void {
    const kv = splitOption(text);
    if (!kv) throw new OptionError(`empty -o option`);
    this.set(kv.keyword, kv.value);
  }

  /** True when `keyword` has a value. */
  has(keyword: string): boolean {
    return this.#values.has(keyword.toLowerCase());
  }

  /** The winning value of `keyword`, or `fallback`. */
  get(keyword: string): string | undefined;
  /** The winning value of `keyword`, or `fallback`. */
  get(keyword: string, fallback: string): string;
  get(keyword: string, fallback?: string): string | undefined {
    return this.#values.get(keyword.toLowerCase())?.[0] ?? fallback;
  }

  /** Every value of a `multi` keyword, in order (empty when unset). */
  all(keyword: string): string[] {
    return [...(this.#values.get(keyword.toLowerCase()) ?? [])];
  }

  /** A yes/no keyword as a boolean (`fallback` when unset). */
  flag(keyword: string, fallback: boolean): boolean {
    const v = this.get(keyword);
    return v === undefined ? fallback : parseYesNo(this.spec(keyword)?.name ?? keyword, v);
  }

  /** A non-negative integer keyword (`fallback` when unset). */
  integer(keyword: string, fallback: number): number {
    const v = this.get(keyword);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!/^\d+$/.test(v) || !Number.isSafeInteger(n)) {
      throw new OptionError(`${this.spec(keyword)?.name ?? keyword}: bad number "${v}"`);
    }
    return n;
  }

  /** A keyword restricted to `of.choices` (case-insensitive), lower-cased; `of.fallback` when unset. */
  choice<T extends string>(keyword: string, of: { choices: readonly T[]; fallback: T }): T {
    const { choices, fallback } = of;
    const v = this.get(keyword);
    if (v === undefined) return fallback;
    const found = choices.find((c) => c.toLowerCase() === v.toLowerCase());
    if (!found) {
      throw new OptionError(
        `${this.spec(keyword)?.name ?? keyword}: unsupported value "${v}" (one of ${
          choices.join(", ")
        })`,
      );
    }
    return found;
  }

  /**
   * Reads configuration text: one option per line. For a client
   * (`host` given), `Host pattern...` blocks apply only when a pattern
   * matches `host` (OpenSSH `match_hostname`, `!` negation); `Match` blocks
   * are not supported and are skipped. Unknown keywords throw unless
   * `ignoreUnknown` is set, in which case they are passed to `onIgnored`.
   */
  addText(
    text: string,
    options: { host?: string; ignoreUnknown?: boolean; onIgnored?: (keyword: string) => void } = {},
  ): void {
    let active = true;
    for (const line of text.split(/\r?\n/)) {
      const kv = splitOption(line);
      if (!kv) continue;
      const k = kv.keyword.toLowerCase();
      if (k === "host") {
        const patterns = kv.value.split(/\s+/).filter((p) => p !== "");
        active = options.host === undefined ? false : hostBlockMatches(options.host, patterns);
        continue;
      }
      if (k === "match") {
        active = false;
        options.onIgnored?.("Match");
        continue;
      }
      if (!active) continue;
      if (!this.spec(k)) {
        if (options.ignoreUnknown) {
          options.onIgnored?.(kv.keyword);
          continue;
        }
        throw new OptionError(`Bad configuration option: "${kv.keyword}"`);
      }
      this.set(kv.keyword, kv.value);
    }
  }
}

/** ssh_config `Host` semantics: some pattern matches and no negated one does. */
function hostBlockMatches(host: string, patterns: string[]): boolean {
  let matched = false;
  for (const p of patterns) {
    const r = matchHostname(host, p);
    if (r === -1) return false;
    if (r === 1) matched = true;
  }
  return matched;
}

/**
 * Parses an OpenSSH yes/no value (`yes`, `no`, also `true`/`false`).
 *
 * @example
 * ```ts
 * import { parseYesNo } from "./options.ts";
 * console.log(parseYesNo("BatchMode", "yes")); // true
 * ```
 */
export function parseYesNo(keyword: string, value: string): boolean {
  const v = value.toLowerCase();
  if (v === "yes" || v === "true") return true;
  if (v === "no" || v === "false") return false;
  throw new OptionError(`${keyword}: unsupported value "${value}" (yes or no)`);
}

/**
 * Log levels as OpenSSH names them, from quietest to loudest; DEBUG is
 * DEBUG1.
 *
 * @example
 * ```ts
 * import { LOG_LEVELS } from "./options.ts";
 * console.log(LOG_LEVELS.indexOf("INFO") < LOG_LEVELS.indexOf("VERBOSE")); // true
 * ```
 */
export const LOG_LEVELS = [
  "QUIET",
  "FATAL",
  "ERROR",
  "INFO",
  "VERBOSE",
  "DEBUG1",
  "DEBUG2",
  "DEBUG3",
] as const;

/**
 * One of {@link LOG_LEVELS}.
 *
 * @example
 * ```ts
 * import type { LogLevel } from "./options.ts";
 * const level: LogLevel = "VERBOSE";
 * ```
 */
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * Parses a LogLevel value (case-insensitive; `DEBUG` means `DEBUG1`).
 *
 * @example
 * ```ts
 * import { parseLogLevel } from "./options.ts";
 * console.log(parseLogLevel("debug")); // "DEBUG1"
 * ```
 */
export function parseLogLevel(value: string): LogLevel {
  const v = value.toUpperCase() === "DEBUG" ? "DEBUG1" : value.toUpperCase();
  const found = LOG_LEVELS.find((l) => l === v);
  if (!found) {
    throw new OptionError(
      `LogLevel: unsupported value "${value}" (one of ${LOG_LEVELS.join(", ")}, DEBUG)`,
    );
  }
  return found;
}

/**
 * A logger writing to standard error at or below a level.
 *
 * @example
 * ```ts
 * import { Logger } from "./options.ts";
 * const log = new Logger("VERBOSE", (line) => console.error(line));
 * log.info("shown");
 * log.debug("not shown");
 * ```
 */
export class Logger {
  /** The level. */
  readonly level: LogLevel;
  #write: (line: string) => void;

  /** A logger at `level` writing lines with `write`. */
  constructor(level: LogLevel, write: (line: string) => void) {
    this.level = level;
    this.#write = write;
  }

  /** True when messages of `level` are shown. */
  enabled(level: LogLevel): boolean {
    return this.level !== "QUIET" && LOG_LEVELS.indexOf(level) <= LOG_LEVELS.indexOf(this.level);
  }

  /** Logs at `level`. */
  log(level: LogLevel, message: string): void {
    if (this.enabled(level)) this.#write(message);
  }

  /** Errors (shown unless QUIET). */
  error(message: string): void {
    this.log("ERROR", message);
  }

  /** INFO messages. */
  info(message: string): void {
    this.log("INFO", message);
  }

  /** VERBOSE messages. */
  verbose(message: string): void {
    this.log("VERBOSE", message);
  }

  /** DEBUG1 messages, prefixed `debug1: ` as OpenSSH does. */
  debug(message: string): void {
    this.log("DEBUG1", `debug1: ${message}`);
  }
}

/**
 * Expands `~` / `~/...` to `home`.
 *
 * @example
 * ```ts
 * import { expandTilde } from "./options.ts";
 * console.log(expandTilde("~/.ssh/id_ed25519", "/home/me")); // "/home/me/.ssh/id_ed25519"
 * ```
 */
export function expandTilde(path: string, home: string): string {
  if (path === "~") return home;
  if (path.startsWith("~/")) return home + path.slice(1);
  return path;
}

/**
 * The login name of the user running this process (`id -un`, then `$USER`,
 * `$LOGNAME`, then the runtime's idea of it).
 *
 * @example
 * ```ts
 * import { localUserName } from "./options.ts";
 * console.log(localUserName());
 * ```
 */
export function localUserName(): string {
  try {
    const r = spawnSync("id", ["-un"], { encoding: "utf8", timeout: 5000 });
    const name = typeof r.stdout === "string" ? r.stdout.trim() : "";
    if (r.status === 0 && name) return name;
  } catch {
    // no id(1)
  }
  return process.env.USER ?? process.env.LOGNAME ?? os.userInfo().username;
}

/**
 * The home directory of the user running this process (`$HOME`, else the
 * runtime's idea of it).
 *
 * @example
 * ```ts
 * import { homeDirectory } from "./options.ts";
 * console.log(homeDirectory());
 * ```
 */
export function homeDirectory(): string {
  return process.env.HOME || os.homedir();
}
