/**
 * OpenSSH's absolute times, as `ssh-keygen -V`, the `expiry-time` option of
 * authorized_keys and the `valid-after` / `valid-before` options of
 * allowed_signers write them: `YYYYMMDD`, `YYYYMMDDHHMM` or
 * `YYYYMMDDHHMMSS`, local time unless suffixed `Z` or `UTC` (OpenSSH misc.c
 * parse_absolute_time and format_absolute_time).
 *
 * @module
 */

/**
 * Parses an OpenSSH absolute time (misc.c parse_absolute_time) into seconds
 * since the epoch, or `undefined` when OpenSSH would refuse it.
 *
 * The text is `YYYYMMDD`, `YYYYMMDDHHMM` or `YYYYMMDDHHMMSS`, read as local
 * time, or as UTC when suffixed `Z` or `UTC` (either case). As with OpenSSH
 * (strptime, then mktime or timegm):
 * - each field is range-checked alone: month 1-12, day 1-31, hour 0-23,
 *   minute 0-59, second 0-61 (glibc's %S allows two leap seconds);
 * - a day past the end of its month, or a leap second, rolls over:
 *   `20230230` is 2 March 2023 and `20231231235960Z` is 2024-01-01T00:00:00Z;
 * - a time before the epoch is refused; the epoch itself (0) is returned,
 *   and callers that treat 0 as unset refuse it themselves (authorized_keys
 *   `expiry-time`, allowed_signers `valid-after` / `valid-before`).
 *
 * Differences from OpenSSH, where glibc is lax or surprising: only ASCII
 * digits are accepted (glibc's strptime would skip spaces inside a field),
 * and a local time falls in whatever offset the time zone has at that
 * moment, whereas OpenSSH's mktime, called with tm_isdst = 0, reads a
 * summer-time date as standard time (an hour later).
 *
 * @example
 * ```ts
 * import { parseAbsoluteTime } from "./time.ts";
 * console.log(parseAbsoluteTime("20240101Z")); // 1704067200
 * console.log(parseAbsoluteTime("202401011230UTC")); // 1704112200
 * console.log(parseAbsoluteTime("20231301")); // undefined (month 13)
 * ```
 */
export function parseAbsoluteTime(text: string): number | undefined {
  let l = text.length;
  let utc = false;
  if (l > 1 && text.slice(l - 1).toLowerCase() === "z") {
    utc = true;
    l -= 1;
  } else if (l > 3 && text.slice(l - 3).toLowerCase() === "utc") {
    utc = true;
    l -= 3;
  }
  const body = text.slice(0, l);
  if ((l !== 8 && l !== 12 && l !== 14) || !/^[0-9]+$/.test(body)) return undefined;
  const field = (from: number) => from < l ? Number(body.slice(from, from + 2)) : 0;
  const year = Number(body.slice(0, 4));
  const [month, day, hour, minute, second] = [4, 6, 8, 10, 12].map(field);
  if (month < 1 || month > 12 || day < 1 || day > 31) return undefined;
  if (hour > 23 || minute > 59 || second > 61) return undefined;
  // setFullYear rather than the Date constructor: that one reads years 0-99
  // as 1900-1999.
  const d = new Date(0);
  if (utc) {
    d.setUTCFullYear(year, month - 1, day);
    d.setUTCHours(hour, minute, second, 0);
  } else {
    d.setFullYear(year, month - 1, day);
    d.setHours(hour, minute, second, 0);
  }
  const t = d.getTime() / 1000;
  return Number.isFinite(t) && t >= 0 ? t : undefined;
}

/**
 * Formats seconds since the epoch as OpenSSH's format_absolute_time does
 * (what `ssh-keygen -L` prints for a certificate's validity): local time as
 * `YYYY-MM-DDTHH:MM:SS`. A time past what a `Date` can hold (e.g. a
 * certificate's "forever", 2^64-1) is printed as its number of seconds.
 *
 * @example
 * ```ts
 * import { formatAbsoluteTime } from "./time.ts";
 * // The output depends on the local time zone; with TZ=UTC:
 * console.log(formatAbsoluteTime(1704112200)); // "2024-01-01T12:30:00"
 * ```
 */
export function formatAbsoluteTime(seconds: number | bigint): string {
  const d = new Date(Number(seconds) * 1000);
  if (Number.isNaN(d.getTime())) return String(seconds);
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${p(d.getFullYear(), 4)}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${
    p(d.getMinutes())
  }:${p(d.getSeconds())}`;
}
