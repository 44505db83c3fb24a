/**
 * OpenSSH's pattern matching, as used by authorized_keys `from=`, known_hosts
 * host fields and ssh_config/sshd_config: `match_pattern`,
 * `match_pattern_list` and `match_hostname` (OpenSSH match.c),
 * `addr_match_list` (addrmatch.c, with the CIDR parsing of addr.c) and
 * `match_host_and_ip` (match.c).
 *
 * Results use OpenSSH's numeric conventions so that the code reads like the
 * C it mirrors: `1` a positive match, `0` no match, `-1` a negated match
 * (`!pattern`), and for address lists `-2` a malformed list entry.
 *
 * Matching works on the UTF-8 bytes of both the string and the pattern, as
 * the C code does, so `?` matches one byte. Case folding is ASCII-only
 * (C `tolower` in the "C" locale).
 *
 * @module
 */

const encoder = new TextEncoder();

/** OpenSSH's `match_pattern_list` copies each subpattern into `char sub[1024]`. */
const MAX_SUBPATTERN = 1023;

/**
 * The outcome of a pattern-list match, as OpenSSH's `match_pattern_list`
 * returns it: `1` some subpattern matched, `0` none matched, `-1` a negated
 * subpattern (`!pattern`) matched, which overrides any positive match.
 *
 * @example
 * ```ts
 * import { matchPatternList, type PatternListMatch } from "./patterns.ts";
 * const r: PatternListMatch = matchPatternList("web1", "web*,!web2");
 * console.log(r); // 1
 * ```
 */
export type PatternListMatch = -1 | 0 | 1;

/**
 * The outcome of an address-list match (OpenSSH `addr_match_list`): like
 * {@link PatternListMatch}, plus `-2` when an entry of the list is malformed
 * (empty, a CIDR mask longer than the address, or host bits set under the
 * mask, e.g. `10.0.0.1/8`).
 *
 * @example
 * ```ts
 * import { addrMatchList, type AddressListMatch } from "./patterns.ts";
 * const r: AddressListMatch = addrMatchList("10.1.2.3", "10.0.0.0/8");
 * console.log(r); // 1
 * ```
 */
export type AddressListMatch = -2 | -1 | 0 | 1;

function asciiLower(s: string): string {
  return s.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

function matchBytes(s: Uint8Array, p: Uint8Array): boolean {
  const m = p.length;
  if (m === 0) return s.length === 0;
  // NFA over pattern positions (OpenSSH match.c since 2026; same language as
  // the older recursive matcher, without its exponential worst case).
  let states = new Uint8Array(m + 1);
  let next = new Uint8Array(m + 1);
  const closure = (st: Uint8Array) => {
    for (let i = 0; i < m; i++) if (st[i] && p[i] === 0x2a /* * */) st[i + 1] = 1;
  };
  states[0] = 1;
  closure(states);
  for (const c of s) {
    next.fill(0);
    let active = false;
    for (let i = 0; i < m; i++) {
      if (!states[i]) continue;
      if (p[i] === 0x2a) next[i] = 1;
      else if (p[i] === 0x3f /* ? */ || p[i] === c) next[i + 1] = 1;
    }
    closure(next);
    [states, next] = [next, states];
    for (let i = 0; i <= m; i++) {
      if (states[i]) {
        active = true;
        break;
      }
    }
    if (!active) return false;
  }
  return states[m] === 1;
}

/**
 * True when `s` matches `pattern` as a whole, where `*` matches any run of
 * bytes (including none) and `?` exactly one byte; every other character
 * matches itself, case-sensitively (OpenSSH match.c `match_pattern`). An
 * empty pattern matches only the empty string.
 *
 * @example
 * ```ts
 * import { matchPattern } from "./patterns.ts";
 * console.log(matchPattern("host7.example.com", "host?.*.com")); // true
 * console.log(matchPattern("Host7", "host?")); // false
 * ```
 */
export function matchPattern(s: string, pattern: string): boolean {
  return matchBytes(encoder.encode(s), encoder.encode(pattern));
}

/**
 * Options of {@link matchPatternList}.
 *
 * @example
 * ```ts
 * import type { MatchPatternListOptions } from "./patterns.ts";
 * const options: MatchPatternListOptions = { lowercasePatterns: true };
 * ```
 */
export interface MatchPatternListOptions {
  /**
   * Lower-case (ASCII) each subpattern before matching, as OpenSSH does for
   * host names (`dolower`). The string itself is not changed: pass it in
   * lower case (see {@link matchHostname}). Default false.
   */
  lowercasePatterns?: boolean;
}

/**
 * Matches `s` against a comma-separated list of subpatterns, each possibly
 * negated with a leading `!` (OpenSSH match.c `match_pattern_list`). Returns
 * `-1` as soon as a negated subpattern matches, `1` if some other subpattern
 * matched, `0` otherwise: a negation never produces a positive match on its
 * own (`matchPatternList("a", "!b")` is `0`). An over-long subpattern (1023
 * bytes or more) makes the whole list fail with `0`, as in OpenSSH.
 *
 * @example
 * ```ts
 * import { matchPatternList } from "./patterns.ts";
 * console.log(matchPatternList("b", "*,!a")); // 1
 * console.log(matchPatternList("a", "*,!a")); // -1
 * console.log(matchPatternList("c", "a,b")); // 0
 * ```
 */
export function matchPatternList(
  s: string,
  patterns: string,
  options: MatchPatternListOptions = {},
): PatternListMatch {
  const str = encoder.encode(s);
  const pat = encoder.encode(options.lowercasePatterns ? asciiLower(patterns) : patterns);
  let gotPositive = false;
  let i = 0;
  while (i < pat.length) {
    let negated = false;
    if (pat[i] === 0x21 /* ! */) {
      negated = true;
      i++;
    }
    const start = i;
    while (i < pat.length && i - start < MAX_SUBPATTERN && pat[i] !== 0x2c /* , */) i++;
    if (i - start >= MAX_SUBPATTERN) return 0;
    const sub = pat.subarray(start, i);
    if (i < pat.length && pat[i] === 0x2c) i++;
    if (matchBytes(str, sub)) {
      if (negated) return -1;
      gotPositive = true;
    }
  }
  return gotPositive ? 1 : 0;
}

/**
 * Matches a host name against a host pattern list, ignoring ASCII case on
 * both sides (OpenSSH match.c `match_hostname`: the host is lower-cased and
 * each subpattern too).
 *
 * @example
 * ```ts
 * import { matchHostname } from "./patterns.ts";
 * console.log(matchHostname("WWW.Example.COM", "*.example.com,!mail.example.com")); // 1
 * console.log(matchHostname("mail.example.com", "*.example.com,!mail.example.com")); // -1
 * ```
 */
export function matchHostname(host: string, patterns: string): PatternListMatch {
  return matchPatternList(asciiLower(host), patterns, { lowercasePatterns: true });
}

// ---------------------------------------------------------------------------
// Addresses (OpenSSH addr.c): getaddrinfo(AI_NUMERICHOST) accepts what
// glibc's inet_aton and inet_pton(AF_INET6) accept.

/**
 * A numeric IPv4 or IPv6 address, as {@link parseAddress} returns it.
 *
 * @example
 * ```ts
 * import { parseAddress, type IpAddress } from "./patterns.ts";
 * const a: IpAddress | undefined = parseAddress("::1");
 * console.log(a?.family, a?.bytes.length); // 6 16
 * ```
 */
export interface IpAddress {
  /** 4 or 6. */
  family: 4 | 6;
  /** 4 or 16 bytes, network order. */
  bytes: Uint8Array;
}

function parseIpv4(s: string): Uint8Array | undefined {
  // inet_aton: 1 to 4 parts, each decimal, octal (leading 0) or hex (0x);
  // the last part fills the remaining bytes ("10.1" is 10.0.0.1).
  const parts = s.split(".");
  if (parts.length > 4) return undefined;
  const values: number[] = [];
  for (const part of parts) {
    let v: number;
    if (/^0[xX][0-9a-fA-F]*$/.test(part)) v = part.length === 2 ? 0 : parseInt(part.slice(2), 16);
    else if (/^0[0-7]*$/.test(part)) v = parseInt(part, 8);
    else if (/^[1-9][0-9]*$/.test(part)) v = Number(part);
    else return undefined;
    if (!Number.isFinite(v) || v > 0xffffffff) return undefined;
    values.push(v);
  }
  const last = values.length - 1;
  for (let i = 0; i < last; i++) if (values[i] > 0xff) return undefined;
  const lastMax = [0xffffffff, 0xffffff, 0xffff, 0xff][last];
  if (values[last] > lastMax) return undefined;
  let n = values[last];
  for (let i = 0; i < last; i++) n += values[i] * 2 ** (8 * (3 - i));
  return new Uint8Array([n >>> 24 & 0xff, n >>> 16 & 0xff, n >>> 8 & 0xff, n & 0xff]);
}

function parseStrictIpv4(s: string): Uint8Array | undefined {
  // inet_pton(AF_INET), used for the tail of an IPv6 address: four decimal
  // parts, no leading zeros.
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = m[i + 1];
    if ((p.length > 1 && p[0] === "0") || Number(p) > 255) return undefined;
    out[i] = Number(p);
  }
  return out;
}

function parseIpv6(s: string): Uint8Array | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(s)) return undefined;
  const out = new Uint8Array(16);
  const halves = s.split("::");
  if (halves.length > 2) return undefined;
  const groups = (text: string): number[] | undefined => {
    if (text === "") return [];
    const words: number[] = [];
    const items = text.split(":");
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      if (i === items.length - 1 && item.includes(".")) {
        const v4 = parseStrictIpv4(item);
        if (!v4) return undefined;
        words.push(v4[0] << 8 | v4[1], v4[2] << 8 | v4[3]);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(item)) {
        words.push(parseInt(item, 16));
      } else {
        return undefined;
      }
    }
    return words;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (!head || !tail) return undefined;
  // An embedded IPv4 address may only end the address.
  if (halves.length === 2 && halves[0].includes(".")) return undefined;
  const total = head.length + tail.length;
  if (halves.length === 1 ? total !== 8 : total > 7) return undefined;
  const words = [...head, ...new Array(8 - total).fill(0), ...tail];
  for (let i = 0; i < 8; i++) {
    out[2 * i] = words[i] >> 8;
    out[2 * i + 1] = words[i] & 0xff;
  }
  return out;
}

/**
 * Parses a numeric IPv4 or IPv6 address as OpenSSH's `addr_pton` does
 * (getaddrinfo with AI_NUMERICHOST): IPv4 in any `inet_aton` form
 * (`127.0.0.1`, `127.1`, `0x7f.0.0.1`), IPv6 in RFC 4291 text form
 * (including `::ffff:1.2.3.4`). Returns `undefined` for anything else;
 * scoped IPv6 addresses (`fe80::1%eth0`) are not supported and give
 * `undefined`.
 *
 * @example
 * ```ts
 * import { parseAddress } from "./patterns.ts";
 * console.log(parseAddress("127.1")?.bytes); // Uint8Array [127, 0, 0, 1]
 * console.log(parseAddress("example.com")); // undefined
 * ```
 */
export function parseAddress(text: string): IpAddress | undefined {
  if (text.includes(":")) {
    const bytes = parseIpv6(text);
    return bytes ? { family: 6, bytes } : undefined;
  }
  const bytes = parseIpv4(text);
  return bytes ? { family: 4, bytes } : undefined;
}

/** addr.c `addr_pton_cidr`: the network, or -1 (not an address) or -2 (inconsistent mask). */
function parseCidr(text: string): { net: IpAddress; bits: number } | -1 | -2 {
  if (encoder.encode(text).length >= 64) return -1; // strlcpy into char addrbuf[64]
  const slash = text.indexOf("/");
  let bits: number | undefined;
  let addrText = text;
  if (slash >= 0) {
    const mask = text.slice(slash + 1);
    if (!/^[0-9]+$/.test(mask) || Number(mask) > 0x7fffffff) return -1;
    bits = Number(mask);
    addrText = text.slice(0, slash);
  }
  const net = parseAddress(addrText);
  if (!net) return -1;
  const max = net.family === 4 ? 32 : 128;
  bits ??= max;
  if (bits > max) return -2;
  // addr_host_is_all0s: no bits may be set below the mask.
  for (let i = 0; i < net.bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, bits - 8 * i));
    const hostMask = 0xff >> keep;
    if (net.bytes[i] & hostMask) return -2;
  }
  return { net, bits };
}

function netMatch(addr: IpAddress, net: IpAddress, bits: number): boolean {
  if (addr.family !== net.family) return false;
  for (let i = 0; i < addr.bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, bits - 8 * i));
    const mask = (0xff00 >> keep) & 0xff;
    if ((addr.bytes[i] & mask) !== net.bytes[i]) return false;
  }
  return true;
}

/**
 * Matches an address against a comma-separated list of CIDR networks,
 * addresses and wildcard patterns, each possibly negated with `!` (OpenSSH
 * addrmatch.c `addr_match_list`). An entry that parses as an address or
 * `address/bits` is compared as a network; any other entry is a
 * {@link matchPattern} wildcard against the address text. Returns `-1` at
 * the first matching negated entry, `1` if a positive entry matched, `0` if
 * none did (and when `addr` is not an address at all), `-2` at the first
 * malformed entry: an empty entry, a mask longer than the address, or host
 * bits set (`10.0.0.1/8`). With `addr` undefined the list is only checked
 * (`0` or `-2`).
 *
 * @example
 * ```ts
 * import { addrMatchList } from "./patterns.ts";
 * console.log(addrMatchList("192.168.1.9", "10.0.0.0/8,192.168.1.0/24")); // 1
 * console.log(addrMatchList("2001:db8::1", "!2001:db8::/32,*")); // -1
 * console.log(addrMatchList("10.0.0.1", "10.0.0.1/8")); // -2
 * ```
 */
export function addrMatchList(addr: string | undefined, list: string): AddressListMatch {
  let tryAddr: IpAddress | undefined;
  if (addr !== undefined) {
    tryAddr = parseAddress(addr);
    if (!tryAddr) return 0;
  }
  let ret: AddressListMatch = 0;
  for (let entry of list.split(",")) {
    const neg = entry.startsWith("!");
    if (neg) entry = entry.slice(1);
    if (entry === "") return -2;
    const cidr = parseCidr(entry);
    if (cidr === -2) return -2;
    let found = false;
    if (cidr !== -1) {
      found = tryAddr !== undefined && netMatch(tryAddr, cidr.net, cidr.bits);
    } else {
      found = addr !== undefined && matchPattern(addr, entry);
    }
    if (found) {
      if (neg) return -1;
      ret = 1;
    }
  }
  return ret;
}

/**
 * The client {@link matchHostAndIp} checks: its address and, when known, its
 * host name.
 *
 * @example
 * ```ts
 * import type { ClientIdentity } from "./patterns.ts";
 * const client: ClientIdentity = { address: "192.0.2.7", hostname: "gw.example.com" };
 * ```
 */
export interface ClientIdentity {
  /** The numeric address, e.g. `"192.0.2.7"` or `"2001:db8::7"`. */
  address?: string;
  /**
   * The host name. sshd passes the address here too unless `UseDNS yes`
   * resolved a name; undefined means "only check that the list is valid".
   */
  hostname?: string;
}

/**
 * Matches a client against a `from=`-style list that may name hosts and
 * addresses (OpenSSH match.c `match_host_and_ip`): `1` when the host name or
 * the address matches and neither matches a negated entry, `0` otherwise,
 * `-1` when the list is malformed as an address list (see
 * {@link addrMatchList}).
 *
 * @example
 * ```ts
 * import { matchHostAndIp } from "./patterns.ts";
 * const list = "*.example.com,!10.0.0.0/24";
 * console.log(matchHostAndIp(list, { hostname: "gw.example.com", address: "10.0.0.7" })); // 0
 * console.log(matchHostAndIp("10.0.0.0/24", { hostname: "10.0.0.7", address: "10.0.0.7" })); // 1
 * ```
 */
export function matchHostAndIp(patterns: string, client: ClientIdentity): -1 | 0 | 1 {
  const { hostname: host, address: ip } = client;
  const mip = addrMatchList(ip, patterns);
  if (mip === -2) return -1;
  if (host === undefined || ip === undefined || mip === -1) return 0;
  const mhost = matchHostname(host, patterns);
  if (mhost === -1) return 0;
  if (mhost === 0 && mip === 0) return 0;
  return 1;
}
