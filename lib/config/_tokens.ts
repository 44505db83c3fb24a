/**
 * Line splitting and value parsers of ssh_config(5), as OpenSSH's
 * readconf.c and misc.c do them (`strdelim`, `argv_split`, `convtime`,
 * `atoi_err`, `a2port`, `percent_expand`, `dollar_expand`). Internal to
 * `ssh_config.ts`.
 *
 * @module
 */

/** One configuration line split as readconf.c splits it. */
export interface SplitLine {
  /** The keyword, lower-cased. */
  keyword: string;
  /** The keyword as written. */
  written: string;
  /** The text after the keyword and its separator (`=` or blanks), as ProxyCommand takes it. */
  rest: string;
}

/**
 * Splits off the keyword (misc.c `strdelim`: blanks or one `=` end it).
 * Returns undefined for blank and comment lines, a string for an error.
 */
export function splitKeyword(line: string): SplitLine | undefined | string {
  const s = line.replace(/[ \t\r\n\f]+$/, "").replace(/^[ \t\r\n]+/, "");
  if (s === "" || s.startsWith("#")) return undefined;
  const m = /^([^ \t\r\n=]*)[ \t\r\n]*(?:=[ \t\r\n]*)?(.*)$/s.exec(s)!;
  const written = m[1];
  if (written === "") return undefined;
  const rest = m[2];
  if (rest === "") return `no argument after keyword "${written.toLowerCase()}"`;
  return { keyword: written.toLowerCase(), written, rest };
}

/**
 * misc.c `argv_split` with comment termination: blank-separated words,
 * `"` and `'` quoting, backslash escapes of quotes, backslash and (outside
 * quotes) space; a word starting with `#` ends the line. Returns undefined
 * for an unterminated quote.
 */
export function splitArgs(s: string): string[] | undefined {
  const out: string[] = [];
  let i = 0;
  while (i < s.length) {
    if (s[i] === " " || s[i] === "\t") {
      i++;
      continue;
    }
    if (s[i] === "#") break;
    let quote = "";
    let arg = "";
    for (; i < s.length; i++) {
      const c = s[i];
      if (c === "\\") {
        const n = s[i + 1];
        if (n === "'" || n === '"' || n === "\\" || (quote === "" && n === " ")) {
          arg += n;
          i++;
        } else {
          arg += c;
        }
      } else if (quote === "" && (c === " " || c === "\t")) break;
      else if (quote === "" && (c === '"' || c === "'")) quote = c;
      else if (quote !== "" && c === quote) quote = "";
      else arg += c;
    }
    if (i >= s.length && quote !== "") return undefined;
    out.push(arg);
  }
  return out;
}

/**
 * misc.c `convtime`: a time like `90`, `10m`, `1h30m` in seconds, or -1
 * when malformed (units s, m, h, d, w, either case).
 */
export function convtime(text: string): number {
  if (text === "") return -1;
  const units: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
  let total = 0;
  const re = /(\d+)([smhdwSMHDW]?)/y;
  let pos = 0;
  while (pos < text.length) {
    re.lastIndex = pos;
    const m = re.exec(text);
    if (!m) return -1;
    const n = Number(m[1]) * (m[2] ? units[m[2].toLowerCase()] : 1);
    total += n;
    if (!Number.isSafeInteger(total) || total > 0x7fffffff) return -1;
    pos = re.lastIndex;
    if (m[2] === "" && pos < text.length) return -1;
  }
  return total;
}

/** misc.c `atoi_err` (strtonum 0..INT_MAX): the number, or the error word. */
export function atoiErr(text: string | undefined): number | string {
  if (text === undefined || text === "") return "missing";
  if (!/^[ \t]*[-+]?\d+$/.test(text)) return "invalid";
  const n = Number(text);
  if (n < 0) return "too small";
  if (n > 0x7fffffff) return "too large";
  return n;
}

/** misc.c `a2port` for numbers: 1 to 65535, else undefined (service names are not looked up). */
export function a2port(text: string): number | undefined {
  if (!/^\d+$/.test(text)) return undefined;
  const n = Number(text);
  return n >= 1 && n <= 65535 ? n : undefined;
}

/** A port number as parse_forward reads it: 0 allowed, -1 for bad. */
export function fwdPort(text: string): number {
  if (!/^\d+$/.test(text)) return -1;
  const n = Number(text);
  return n <= 65535 ? n : -1;
}

/**
 * misc.c `percent_expand`: replaces `%x` with `tokens[x]` and `%%` with
 * `%`. Throws an Error naming the unknown token or a trailing `%`.
 */
export function percentExpand(text: string, tokens: Readonly<Record<string, string>>): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c !== "%") {
      out += c;
      continue;
    }
    const k = text[++i];
    if (k === undefined) throw new Error(`invalid format "${text}": "%" at the end`);
    if (k === "%") out += "%";
    else if (Object.hasOwn(tokens, k)) out += tokens[k];
    else throw new Error(`unknown key %${k} in "${text}"`);
  }
  return out;
}

/**
 * misc.c `dollar_expand`: `${NAME}` replaced from `env`. Throws for an
 * unset variable or an unterminated or invalid reference.
 */
export function dollarExpand(
  text: string,
  env: Readonly<Record<string, string | undefined>>,
): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    if (text[i] !== "$" || text[i + 1] !== "{") {
      out += text[i];
      continue;
    }
    const end = text.indexOf("}", i + 2);
    if (end < 0) throw new Error(`unterminated environment variable in "${text}"`);
    const name = text.slice(i + 2, end);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      throw new Error(`invalid environment variable name "${name}"`);
    }
    const v = env[name];
    if (v === undefined) throw new Error(`environment variable "${name}" is not set`);
    out += v;
    i = end;
  }
  return out;
}

/** misc.c `tilde_expand_filename` for the current user: `~` and `~/...`. */
export function tildeExpand(path: string, home: string): string {
  if (!path.startsWith("~")) return path;
  if (path === "~") return home;
  if (path.startsWith("~/")) return home.replace(/\/$/, "") + path.slice(1);
  throw new Error(`cannot expand "${path}": only ~ and ~/ are supported`);
}
