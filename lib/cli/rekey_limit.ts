/**
 * `RekeyLimit`, as sshd_config(5) and ssh_config(5) spell it.
 *
 * @module
 */
import { OptionError } from "./options.ts";

/**
 * A parsed `RekeyLimit`: bytes before re-keying (`undefined` for
 * `default`: the transport's default) and milliseconds (`undefined` when no
 * time-based re-key is asked for: `none` or no second value, as in sshd).
 *
 * @example
 * ```ts
 * import type { RekeyLimit } from "./rekey_limit.ts";
 * const limit: RekeyLimit = { bytes: 1 << 30, intervalMs: 3_600_000 };
 * ```
 */
export interface RekeyLimit {
  /** Bytes in either direction before a re-key; undefined: the default. */
  bytes?: number;
  /** Milliseconds before a re-key; undefined: none. */
  intervalMs?: number;
}

const SCALE: Record<string, number> = {
  "": 1,
  B: 1,
  K: 2 ** 10,
  M: 2 ** 20,
  G: 2 ** 30,
  T: 2 ** 40,
};

/**
 * Parses `RekeyLimit` (`"default none"`, `"1G 1h"`, `"512M"`, `"64K 30m"`):
 * the first value is bytes with an optional `K`, `M`, `G` (or `T`, `B`)
 * suffix in powers of 1024, fractions allowed (OpenSSH's scan_scaled), or
 * `default`; values from 1 to 15 are refused as too small, as sshd does. The
 * optional second value is `none` or a time in sshd_config(5)'s TIME
 * FORMATS: seconds, or numbers with `s`, `m`, `h`, `d`, `w` suffixes,
 * concatenated (`1h30m`). 0 means no time-based re-key, as in sshd.
 *
 * @example
 * ```ts
 * import { parseRekeyLimit } from "./rekey_limit.ts";
 * console.log(parseRekeyLimit("1G 1h")); // { bytes: 1073741824, intervalMs: 3600000 }
 * console.log(parseRekeyLimit("default none")); // { bytes: undefined, intervalMs: undefined }
 * ```
 */
export function parseRekeyLimit(value: string): RekeyLimit {
  const [size, time, ...extra] = value.trim().split(/\s+/);
  if (!size) throw new OptionError("RekeyLimit: missing argument");
  if (extra.length) throw new OptionError(`RekeyLimit: unexpected "${extra.join(" ")}"`);
  return { bytes: parseBytes(size), intervalMs: time === undefined ? undefined : parseTime(time) };
}

function parseBytes(s: string): number | undefined {
  if (s === "default") return undefined;
  const m = /^(\d+(?:\.\d*)?|\.\d+)([bkmgt]?)$/i.exec(s);
  if (!m) throw new OptionError(`RekeyLimit: bad number "${s}" (bytes, with K, M or G)`);
  const n = Math.floor(Number(m[1]) * SCALE[m[2].toUpperCase()]);
  if (!Number.isSafeInteger(n)) throw new OptionError(`RekeyLimit: "${s}" is too large`);
  if (n !== 0 && n < 16) throw new OptionError(`RekeyLimit: "${s}" is too small`);
  return n === 0 ? undefined : n; // sshd: 0 is the default
}

const UNITS: Record<string, number> = { "": 1, s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** sshd_config(5) TIME FORMATS (OpenSSH convtime), in milliseconds; undefined for none. */
function parseTime(s: string): number | undefined {
  if (s === "none") return undefined;
  if (!/^(\d+[smhdw]?)+$/i.test(s)) {
    throw new OptionError(`RekeyLimit: bad time "${s}" (seconds, or with s, m, h, d, w)`);
  }
  let seconds = 0;
  for (const [, n, unit] of s.matchAll(/(\d+)([smhdw]?)/gi)) {
    seconds += Number(n) * UNITS[unit.toLowerCase()];
  }
  if (seconds > 2 ** 31 - 1) throw new OptionError(`RekeyLimit: time "${s}" is too large`);
  return seconds === 0 ? undefined : seconds * 1000;
}
