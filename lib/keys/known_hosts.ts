/**
 * known_hosts files, as ssh(1) reads and writes them (sshd(8) "SSH_KNOWN_HOSTS
 * FILE FORMAT"; OpenSSH hostfile.c): `[marker] hostpatterns keytype base64
 * [comment]`, where the host field is a comma-separated pattern list
 * (wildcards, `!negation`, `[host]:port` for ports other than 22) or one
 * hashed name `|1|base64(salt)|base64(HMAC-SHA1(salt, name))`, and the
 * optional marker is `@cert-authority` or `@revoked`.
 *
 * @module
 */
import { hmac } from "@noble/hashes/hmac.js";
import { sha1 } from "@noble/hashes/legacy.js";
import { fromBase64, toBase64 } from "./_bytes.ts";
import { constantTimeEqual } from "../crypto/constant_time.ts";
import { readKey, skipSpace, splitLines, wordEnd } from "./_key_line.ts";
import { matchHostname } from "./patterns.ts";
import type { PublicKey } from "./types.ts";

export type { PublicKey } from "./types.ts";

/**
 * The marker of a known_hosts line: `@cert-authority` (the key is a CA for
 * host certificates of the matching hosts) or `@revoked` (the key must never
 * be accepted for them).
 *
 * @example
 * ```ts
 * import type { KnownHostsMarker } from "./known_hosts.ts";
 * const marker: KnownHostsMarker = "@revoked";
 * ```
 */
export type KnownHostsMarker = "@cert-authority" | "@revoked";

/**
 * A usable line of a known_hosts file.
 *
 * @example
 * ```ts
 * import type { KnownHostsEntry } from "./known_hosts.ts";
 * const describe = (e: KnownHostsEntry) =>
 *   `${e.line}: ${e.marker ?? ""} ${e.hashed ? "(hashed)" : e.hosts} ${e.keyType}`;
 * ```
 */
export interface KnownHostsEntry {
  /** 1-based line number. */
  line: number;
  /** The marker, when the line has one. */
  marker?: KnownHostsMarker;
  /** The host field as written: a pattern list, or one hashed name. */
  hosts: string;
  /** True when `hosts` is a hashed name (`|1|salt|hash`). */
  hashed: boolean;
  /** The key type name as written (equal to `key.type`). */
  keyType: string;
  /** The key. */
  key: PublicKey;
  /** Whatever follows the key, possibly empty. */
  comment: string;
}

/**
 * Why a known_hosts line was skipped: `bad-marker`, `truncated` (no key
 * type after the host field), `bad-hash` (a host field starting with `|`
 * that is not `|1|salt|hash` with a 20-byte salt), or a key problem
 * (`no-key`, `bad-base64`, `bad-key`, `key-type-mismatch`,
 * `unsupported-key-type`).
 *
 * @example
 * ```ts
 * import type { KnownHostsProblemKind } from "./known_hosts.ts";
 * const kind: KnownHostsProblemKind = "bad-hash";
 * ```
 */
export type KnownHostsProblemKind =
  | "bad-marker"
  | "truncated"
  | "bad-hash"
  | "no-key"
  | "bad-base64"
  | "bad-key"
  | "key-type-mismatch"
  | "unsupported-key-type";

/**
 * A skipped line of a known_hosts file (ssh(1) skips such lines with a debug
 * message).
 *
 * @example
 * ```ts
 * import { parseKnownHosts } from "./known_hosts.ts";
 * for (const d of parseKnownHosts("@bogus host ssh-ed25519 AAAA\n").diagnostics) {
 *   console.log(`known_hosts:${d.line}: ${d.kind}: ${d.problem}`);
 * }
 * ```
 */
export interface KnownHostsDiagnostic {
  /** 1-based line number. */
  line: number;
  /** The class of problem. */
  kind: KnownHostsProblemKind;
  /** What was wrong. */
  problem: string;
}

/**
 * The outcome of {@link parseKnownHosts}.
 *
 * @example
 * ```ts
 * import type { KnownHostsFile } from "./known_hosts.ts";
 * const count = (f: KnownHostsFile) => f.entries.length;
 * ```
 */
export interface KnownHostsFile {
  /** Usable lines, in file order. */
  entries: KnownHostsEntry[];
  /** Skipped lines (blank and `#` lines are not reported). */
  diagnostics: KnownHostsDiagnostic[];
}

const HASH_MAGIC = "|1|";
const SHA1_LEN = 20;

/** hostfile.c `extract_salt`: the salt of a hashed name, or undefined. */
function extractSalt(name: string): Uint8Array | undefined {
  if (!name.startsWith(HASH_MAGIC)) return undefined;
  const rest = name.slice(HASH_MAGIC.length);
  const bar = rest.indexOf("|");
  if (bar <= 0 || bar > 1024) return undefined;
  const b64 = rest.slice(0, bar);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return undefined;
  let salt: Uint8Array;
  try {
    salt = fromBase64(b64);
  } catch {
    return undefined;
  }
  return salt.length === SHA1_LEN ? salt : undefined;
}

/** hostfile.c `check_markers`. */
function checkMarkers(
  line: string,
  from: number,
): { marker?: KnownHostsMarker; end: number } | string {
  let cp = from;
  let marker: KnownHostsMarker | undefined;
  while (line[cp] === "@") {
    if (marker !== undefined) return "more than one marker";
    const sp = wordEnd(line, cp);
    if (sp === line.length) return "marker not followed by whitespace";
    const word = line.slice(cp, sp);
    if (word === "@cert-authority" || word === "@revoked") marker = word;
    else return `unknown marker ${JSON.stringify(word.slice(0, 32))}`;
    cp = skipSpace(line, sp);
  }
  return { ...(marker ? { marker } : {}), end: cp };
}

/**
 * Parses a known_hosts file as ssh(1) reads it (hostfile.c
 * `hostkeys_foreach_file`): leading whitespace is skipped, blank and `#`
 * lines are ignored, an optional marker comes first, then the host field,
 * then the key (`type base64`, the blob's type equal to the word), then an
 * optional comment. Lines ssh would skip are reported in `diagnostics`
 * instead of producing an entry; this never throws because of the contents.
 *
 * @example
 * ```ts
 * import { parseKnownHosts } from "./known_hosts.ts";
 * const text = "example.com,192.0.2.1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n";
 * const { entries } = parseKnownHosts(text);
 * console.log(entries[0].hosts, entries[0].keyType); // "example.com,192.0.2.1" "ssh-ed25519"
 * ```
 */
export function parseKnownHosts(text: string): KnownHostsFile {
  const entries: KnownHostsEntry[] = [];
  const diagnostics: KnownHostsDiagnostic[] = [];
  const lines = splitLines(text);
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n];
    const lineNo = n + 1;
    const bad = (kind: KnownHostsProblemKind, problem: string) =>
      diagnostics.push({ line: lineNo, kind, problem });
    const start = skipSpace(line, 0);
    if (start === line.length || line[start] === "#") continue;
    const m = checkMarkers(line, start);
    if (typeof m === "string") {
      bad("bad-marker", m);
      continue;
    }
    const hostsEnd = wordEnd(line, m.end);
    if (hostsEnd === line.length) {
      bad("truncated", "truncated line (nothing after the host field)");
      continue;
    }
    const hosts = line.slice(m.end, hostsEnd);
    const hashed = hosts.startsWith("|");
    if (hashed && extractSalt(hosts) === undefined) {
      bad("bad-hash", `bad host hash ${JSON.stringify(hosts.slice(0, 32))}`);
      continue;
    }
    const keyStart = skipSpace(line, hostsEnd);
    if (keyStart === line.length || line[keyStart] === "#") {
      bad("truncated", "truncated before key type");
      continue;
    }
    const read = readKey(line, keyStart);
    if (!read.ok) {
      bad(read.kind, read.problem);
      continue;
    }
    entries.push({
      line: lineNo,
      ...(m.marker ? { marker: m.marker } : {}),
      hosts,
      hashed,
      keyType: read.keyType,
      key: read.key,
      comment: line.slice(read.end),
    });
  }
  return { entries, diagnostics };
}

function asciiLower(s: string): string {
  return s.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

/**
 * The name ssh(1) looks up and records for a host and port (misc.c
 * `put_host_port`): the host itself for port 22 (or 0), `[host]:port`
 * otherwise; lower-cased as ssh lower-cases host names.
 *
 * @example
 * ```ts
 * import { knownHostsName } from "./known_hosts.ts";
 * console.log(knownHostsName("Example.COM", 22)); // "example.com"
 * console.log(knownHostsName("::1", 2222)); // "[::1]:2222"
 * ```
 */
export function knownHostsName(host: string, port: number): string {
  const h = asciiLower(host);
  return port === 22 || port === 0 ? h : `[${h}]:${port}`;
}

/**
 * Hashes a host name as `ssh -o HashKnownHosts=yes` and `ssh-keygen -H` do
 * (hostfile.c `host_hash`): `|1|` + base64(salt) + `|` +
 * base64(HMAC-SHA1(salt, name)). `name` is hashed as given: pass
 * `[host]:port` for a port other than 22 (see {@link knownHostsName}). The
 * salt is 20 random bytes unless given (it must then be 20 bytes).
 *
 * @example
 * ```ts
 * import { hashHostName } from "./known_hosts.ts";
 * const hashed = hashHostName("example.com", new Uint8Array(20));
 * console.log(hashed); // "|1|AAAAAAAAAAAAAAAAAAAAAAAAAAA=|..."
 * ```
 */
export function hashHostName(name: string, salt?: Uint8Array): string {
  const s = salt ?? crypto.getRandomValues(new Uint8Array(SHA1_LEN));
  if (s.length !== SHA1_LEN) {
    throw new RangeError(`known_hosts salt is ${s.length} bytes, expected ${SHA1_LEN}`);
  }
  return `${HASH_MAGIC}${toBase64(s)}|${toBase64(hostHash(name, s))}`;
}

/** hostfile.c `host_hash`: HMAC-SHA1(salt, name). */
function hostHash(name: string, salt: Uint8Array): Uint8Array {
  return hmac(sha1, salt, new TextEncoder().encode(name));
}

/** hostfile.c `match_maybe_hashed`: does the entry's host field name `name`? */
function entryMatches(entry: KnownHostsEntry, name: string): boolean {
  if (entry.hashed) {
    const salt = extractSalt(entry.hosts);
    if (salt === undefined) return false;
    // Compared as bytes, in constant time (the name is not secret, but one helper serves all).
    let stored: Uint8Array;
    try {
      stored = fromBase64(entry.hosts.slice(entry.hosts.lastIndexOf("|") + 1));
    } catch {
      return false;
    }
    return constantTimeEqual(hostHash(name, salt), stored);
  }
  return matchHostname(name, entry.hosts) === 1;
}

/**
 * The entries whose host field names `host` on `port` (any marker), in file
 * order: hashed names are compared after hashing `[host]:port` (or `host`
 * for port 22) with the entry's salt; pattern lists are matched as OpenSSH
 * `match_hostname` does, so a negated pattern that matches excludes the
 * line. This is the set of lines `ssh-keygen -F` prints.
 *
 * @example
 * ```ts
 * import { findHostEntries, parseKnownHosts } from "./known_hosts.ts";
 * const k = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
 * const { entries } = parseKnownHosts(`*.example.com,!old.example.com ${k}\n[example.com]:2222 ${k}\n`);
 * console.log(findHostEntries(entries, { host: "www.example.com", port: 22 }).length); // 1
 * console.log(findHostEntries(entries, { host: "old.example.com", port: 22 }).length); // 0
 * console.log(findHostEntries(entries, { host: "example.com", port: 2222 })[0].line); // 2
 * ```
 */
export function findHostEntries(
  entries: readonly KnownHostsEntry[],
  at: { host: string; port?: number },
): KnownHostsEntry[] {
  const name = knownHostsName(at.host, at.port ?? 22);
  return entries.filter((e) => entryMatches(e, name));
}

/**
 * The outcome of {@link checkHostKey}: `match` (a plain line for the host
 * holds this key; `entry` is it), `mismatch` (the host has plain lines but
 * none holds this key; `entry` is the offending line ssh reports, the last
 * such line), `unknown` (no plain line for the host), `revoked` (a
 * `@revoked` line for the host holds this key; `entry` is it). `line` is
 * `entry.line`. `knownKeyTypes` lists the key types of the host's plain
 * lines, in file order without repeats, e.g. to prefer those host key
 * algorithms as ssh does.
 *
 * @example
 * ```ts
 * import type { HostKeyCheck } from "./known_hosts.ts";
 * const ok = (c: HostKeyCheck) => c.status === "match";
 * ```
 */
export interface HostKeyCheck {
  /** The verdict. */
  status: "match" | "mismatch" | "unknown" | "revoked";
  /** The deciding line, when there is one. */
  entry?: KnownHostsEntry;
  /** Its line number. */
  line?: number;
  /** Key types of the host's plain (unmarked) lines. */
  knownKeyTypes: string[];
}

/**
 * Checks a server's plain host key against known_hosts entries, with
 * ssh(1)'s semantics (hostfile.c `check_hostkeys_by_key_or_type` and
 * `check_key_not_revoked`, as sshconnect.c `check_host_key` uses them):
 *
 * - only lines whose host field names the host count (see
 *   {@link findHostEntries}; `[host]:port` unless the port is 22);
 * - a `@revoked` line for the host holding the key wins over everything;
 * - otherwise the first unmarked line holding the same key (blob equality)
 *   gives `match`;
 * - otherwise, if the host has any unmarked line at all, `mismatch`: like
 *   OpenSSH, a line with a key of another type counts too (ssh reports
 *   "REMOTE HOST IDENTIFICATION HAS CHANGED" and names the last such line);
 *   callers avoid this by preferring the host key algorithms of
 *   `knownKeyTypes`, as ssh orders its proposal;
 * - otherwise `unknown`.
 *
 * `@cert-authority` lines play no part for plain keys; see
 * {@link certificateAuthoritiesFor}.
 *
 * @example
 * ```ts
 * import { checkHostKey, parseKnownHosts } from "./known_hosts.ts";
 * import { parsePublicKey } from "./public_key.ts";
 * const b64 = "AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
 * const { entries } = parseKnownHosts(`[127.0.0.1]:2222 ssh-ed25519 ${b64}\n`);
 * const key = parsePublicKey(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)));
 * console.log(checkHostKey(entries, key, { host: "127.0.0.1", port: 2222 }).status); // "match"
 * console.log(checkHostKey(entries, key, { host: "127.0.0.1", port: 22 }).status); // "unknown"
 * ```
 */
export function checkHostKey(
  entries: readonly KnownHostsEntry[],
  key: PublicKey,
  at: { host: string; port?: number },
): HostKeyCheck {
  const matching = findHostEntries(entries, at);
  const plain = matching.filter((e) => e.marker === undefined);
  const knownKeyTypes = [...new Set(plain.map((e) => e.keyType))];
  const revoked = matching.find((e) =>
    e.marker === "@revoked" && constantTimeEqual(e.key.blob, key.blob)
  );
  if (revoked) return { status: "revoked", entry: revoked, line: revoked.line, knownKeyTypes };
  const found = plain.find((e) => constantTimeEqual(e.key.blob, key.blob));
  if (found) return { status: "match", entry: found, line: found.line, knownKeyTypes };
  const offending = plain[plain.length - 1];
  if (offending) {
    return { status: "mismatch", entry: offending, line: offending.line, knownKeyTypes };
  }
  return { status: "unknown", knownKeyTypes };
}

/**
 * The `@cert-authority` entries for a host and port: CA keys trusted to sign
 * its host certificates, in file order, without those that a `@revoked`
 * line for the host also lists (ssh refuses certificates from a revoked CA).
 * Validating the certificate itself is the certificate module's job.
 *
 * @example
 * ```ts
 * import { certificateAuthoritiesFor, parseKnownHosts } from "./known_hosts.ts";
 * const ca = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
 * const { entries } = parseKnownHosts(`@cert-authority *.example.com ${ca}\n`);
 * console.log(certificateAuthoritiesFor(entries, { host: "db.example.com", port: 22 }).length); // 1
 * ```
 */
export function certificateAuthoritiesFor(
  entries: readonly KnownHostsEntry[],
  at: { host: string; port?: number },
): KnownHostsEntry[] {
  const matching = findHostEntries(entries, at);
  const revoked = matching.filter((e) => e.marker === "@revoked");
  return matching.filter((e) =>
    e.marker === "@cert-authority" &&
    !revoked.some((r) => constantTimeEqual(r.key.blob, e.key.blob))
  );
}

/**
 * Options of {@link formatKnownHostsLine}.
 *
 * @example
 * ```ts
 * import type { FormatKnownHostsOptions } from "./known_hosts.ts";
 * const options: FormatKnownHostsOptions = { host: "example.com", port: 2222, hash: true };
 * ```
 */
export interface FormatKnownHostsOptions {
  /** The host the line is for (written lower-cased). */
  host: string;
  /** Its port (default 22; another port is written as `[host]:port`). */
  port?: number;
  /** Write the host name hashed, as `HashKnownHosts yes` does (default false). */
  hash?: boolean;
  /** The 20-byte salt for hashing (default: random). */
  salt?: Uint8Array;
  /** A marker to put first. */
  marker?: KnownHostsMarker;
}

/**
 * Formats a known_hosts line as ssh(1) appends it (hostfile.c
 * `write_host_entry`): `[marker ]name keytype base64`, where name is the
 * lower-cased host, `[host]:port` when the port is not 22, or its hash.
 * The line has no comment and no trailing newline (ssh writes one after
 * it).
 *
 * @example
 * ```ts
 * import { formatKnownHostsLine } from "./known_hosts.ts";
 * import { generatePrivateKey } from "./private_key.ts";
 * const key = (await generatePrivateKey("ssh-ed25519")).publicKey;
 * console.log(formatKnownHostsLine(key, { host: "Example.com", port: 2222 })); // "[example.com]:2222 ssh-ed25519 AAAA..."
 * console.log(formatKnownHostsLine(key, { host: "example.com", port: 22, hash: true })); // "|1|...|... ssh-ed25519 AAAA..."
 * ```
 */
export function formatKnownHostsLine(key: PublicKey, options: FormatKnownHostsOptions): string {
  const name = knownHostsName(options.host, options.port ?? 22);
  const field = options.hash ? hashHostName(name, options.salt) : name;
  const marker = options.marker ? `${options.marker} ` : "";
  return `${marker}${field} ${key.type} ${toBase64(key.blob)}`;
}
