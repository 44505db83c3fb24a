/**
 * The known_hosts policy of an SSH client, as ssh(1) applies it
 * (sshconnect.c `check_host_key`): a revoked key is refused, a listed key
 * is trusted, a changed key is refused whatever else is configured, and an
 * unknown host is refused unless the caller accepts it (accept-new, a
 * prompt), in which case its key is appended to a file. Used by
 * `knownHostsVerifier` (`connect({ hostKey: { knownHosts } })`) and by the
 * `rxssh` command line. It composes the known_hosts format (`keys/`) with
 * file access (`runtime/fs.ts`).
 *
 * @module
 */
import {
  checkHostKey,
  formatKnownHostsLine,
  type HostKeyCheck,
  type KnownHostsDiagnostic,
  knownHostsName,
  parseKnownHosts,
} from "./keys/known_hosts.ts";
import type { PublicKey } from "./keys/types.ts";
import { appendTextFile, readTextFileIfExists } from "./runtime/fs.ts";
import { SshError } from "./wire/errors.ts";

/**
 * Why a host key was refused: `changed` (the host is listed with another
 * key: "REMOTE HOST IDENTIFICATION HAS CHANGED"), `revoked` (a `@revoked`
 * line lists this key), `unknown` (the host is not listed, and the new key
 * was not accepted).
 *
 * @example
 * ```ts
 * import type { HostKeyErrorKind } from "./host_keys.ts";
 * const kind: HostKeyErrorKind = "changed";
 * ```
 */
export type HostKeyErrorKind = "changed" | "revoked" | "unknown";

/**
 * What a {@link HostKeyError} is about.
 *
 * @example
 * ```ts
 * import type { HostKeyErrorDetails } from "./host_keys.ts";
 * const d: HostKeyErrorDetails = {
 *   host: "[example.com]:2222",
 *   keyType: "ssh-ed25519",
 *   fingerprint: "SHA256:...",
 *   files: ["/home/me/.ssh/known_hosts"],
 * };
 * ```
 */
export interface HostKeyErrorDetails {
  /** The host as known_hosts names it: `example.com`, or `[example.com]:2222`. */
  host: string;
  /** The offered key's type, e.g. "ssh-ed25519". */
  keyType: string;
  /** The offered key's SHA256 fingerprint. */
  fingerprint: string;
  /** The deciding file (changed, revoked). */
  file?: string;
  /** The deciding line in `file`, 1-based (changed, revoked). */
  line?: number;
  /** The key type of that line (changed: the key the host is known by). */
  knownKeyType?: string;
  /** The known_hosts files that were read. */
  files?: readonly string[];
}

/**
 * A host key refused by the known_hosts policy ({@link verifyKnownHost}),
 * with the host, the key, and the file and line that decided. A client
 * connection refused this way ends with a `DisconnectError`
 * (HOST_KEY_NOT_VERIFIABLE) whose `cause` is this error.
 *
 * @example
 * ```ts
 * import { HostKeyError } from "./host_keys.ts";
 * const e = new HostKeyError("changed", {
 *   host: "example.com",
 *   keyType: "ssh-ed25519",
 *   fingerprint: "SHA256:abc",
 *   file: "/home/me/.ssh/known_hosts",
 *   line: 3,
 *   knownKeyType: "ssh-rsa",
 * });
 * console.log(e.kind, `${e.file}:${e.line}`); // "changed" "/home/me/.ssh/known_hosts:3"
 * ```
 */
export class HostKeyError extends SshError {
  /** Why the key was refused. */
  readonly kind: HostKeyErrorKind;
  /** The host as known_hosts names it: `example.com`, or `[example.com]:2222`. */
  readonly host: string;
  /** The offered key's type. */
  readonly keyType: string;
  /** The offered key's SHA256 fingerprint. */
  readonly fingerprint: string;
  /** The deciding file (changed, revoked). */
  readonly file?: string;
  /** The deciding line in `file`, 1-based (changed, revoked). */
  readonly line?: number;
  /** The key type of that line (changed). */
  readonly knownKeyType?: string;
  /** The known_hosts files that were read. */
  readonly files: readonly string[];

  /** Creates the error; the message says what and where. */
  constructor(kind: HostKeyErrorKind, details: HostKeyErrorDetails) {
    const { host, keyType, fingerprint, file, line } = details;
    const files = details.files ?? [];
    const where = `${file}:${line}`;
    super(
      kind === "revoked"
        ? `host key ${keyType} ${fingerprint} for ${host} is marked as revoked in ${where}`
        : kind === "changed"
        ? `REMOTE HOST IDENTIFICATION HAS CHANGED: ${host} offered ${keyType} ${fingerprint}, ` +
          `which does not match ${where}`
        : `no host key is known for ${host} in ${
          files.length ? files.join(", ") : "(no known_hosts file)"
        }`,
    );
    this.kind = kind;
    this.host = host;
    this.keyType = keyType;
    this.fingerprint = fingerprint;
    if (file !== undefined) this.file = file;
    if (line !== undefined) this.line = line;
    if (details.knownKeyType !== undefined) this.knownKeyType = details.knownKeyType;
    this.files = files;
  }
}

/**
 * Options of {@link verifyKnownHost}.
 *
 * @example
 * ```ts
 * import type { KnownHostsPolicy } from "./host_keys.ts";
 * const policy: KnownHostsPolicy = {
 *   host: "example.com",
 *   port: 2222,
 *   files: ["/home/me/.ssh/known_hosts", "/etc/ssh/ssh_known_hosts"],
 *   acceptNew: true,
 *   addTo: "/home/me/.ssh/known_hosts",
 * };
 * ```
 */
export interface KnownHostsPolicy {
  /** The host name (or `HostKeyAlias`) to look up. */
  host: string;
  /** Its port (default 22; other ports are listed as `[host]:port`). */
  port?: number;
  /** The known_hosts files to read, in order; missing or unreadable ones are skipped, as ssh does. */
  files: readonly string[];
  /**
   * Whether to accept the key of a host that no file lists
   * (`StrictHostKeyChecking=accept-new` is `true`); a function decides per
   * key (a prompt), with the host as known_hosts names it. Default false:
   * refused with a {@link HostKeyError} of kind `unknown`.
   */
  acceptNew?: boolean | ((key: PublicKey, host: string) => boolean | Promise<boolean>);
  /** Where an accepted new key is appended (default: nowhere, it is accepted for this connection only). */
  addTo?: string;
  /** Write the host name of an added line hashed (`HashKnownHosts yes`). */
  hashNew?: boolean;
  /**
   * The mode of `addTo` when it is created (default 0o600); a missing
   * parent directory is created with mode 0700, as ssh creates `~/.ssh`.
   */
  fileMode?: number;
  /** Called for each skipped (malformed) line of a file read. */
  onDiagnostic?: (file: string, diagnostic: KnownHostsDiagnostic) => void;
}

/**
 * What {@link verifyKnownHost} decided, when it trusts the key: `known`
 * (listed at `file`:`line`), `added` (a new host, its key appended to
 * `file`), or `accepted` (a new host, its key not written: no `addTo`, or
 * appending failed with `error`).
 *
 * @example
 * ```ts
 * import type { KnownHostVerdict } from "./host_keys.ts";
 * const describe = (v: KnownHostVerdict) => v.status === "known" ? `${v.file}:${v.line}` : v.status;
 * ```
 */
export type KnownHostVerdict =
  | { readonly status: "known"; readonly file: string; readonly line: number }
  | { readonly status: "added"; readonly file: string }
  | { readonly status: "accepted"; readonly file?: string; readonly error?: unknown };

/** Appends `line` to `file`, after a newline when the file does not end with one. */
function appendLine(file: string, line: string, options: { mode: number }): void {
  const { mode } = options;
  let old = "";
  try {
    old = readTextFileIfExists(file) ?? "";
  } catch {
    // unreadable: appending says whether it is writable
  }
  const sep = old === "" || old.endsWith("\n") ? "" : "\n";
  appendTextFile(file, `${sep}${line}\n`, { mode, dirMode: 0o700 });
}

/**
 * Checks a server's host key against known_hosts files with ssh(1)'s
 * policy: a `@revoked` line for the host listing the key refuses it (kind
 * `revoked`), whatever the other lines say; a plain line listing it trusts
 * it (`known`); a host listed only with other keys is refused (kind
 * `changed`, the first file's offending line; never accepted, whatever
 * `acceptNew` says); an unlisted host is refused (kind `unknown`) unless
 * `policy.acceptNew` accepts it, and then its line (hashed with `hashNew`)
 * is appended to `policy.addTo`. Refusals throw a {@link HostKeyError}.
 * Files are read on every call.
 *
 * @example
 * ```ts
 * import { HostKeyError, verifyKnownHost } from "./host_keys.ts";
 * import type { PublicKey } from "./keys/types.ts";
 * async function check(key: PublicKey): Promise<boolean> {
 *   try {
 *     const v = await verifyKnownHost(key, {
 *       host: "example.com",
 *       files: ["/home/me/.ssh/known_hosts"],
 *       acceptNew: true,
 *       addTo: "/home/me/.ssh/known_hosts",
 *     });
 *     console.log(v.status); // "known", "added" or "accepted"
 *     return true;
 *   } catch (e) {
 *     if (e instanceof HostKeyError) console.error(e.kind, e.file, e.line);
 *     return false;
 *   }
 * }
 * ```
 */
export async function verifyKnownHost(
  key: PublicKey,
  policy: KnownHostsPolicy,
): Promise<KnownHostVerdict> {
  const port = policy.port ?? 22;
  const checks: (HostKeyCheck & { file: string })[] = [];
  for (const file of policy.files) {
    let text: string | undefined;
    try {
      text = readTextFileIfExists(file);
    } catch {
      continue; // unreadable: skipped, as ssh does
    }
    if (text === undefined) continue;
    const parsed = parseKnownHosts(text);
    for (const d of parsed.diagnostics) policy.onDiagnostic?.(file, d);
    checks.push({ ...checkHostKey(parsed.entries, key, { host: policy.host, port }), file });
  }
  const details = {
    host: knownHostsName(policy.host, port),
    keyType: key.type,
    fingerprint: key.fingerprint(),
    files: policy.files,
  };
  const revoked = checks.find((c) => c.status === "revoked");
  if (revoked) {
    throw new HostKeyError("revoked", { ...details, file: revoked.file, line: revoked.line });
  }
  const matched = checks.find((c) => c.status === "match");
  if (matched) return { status: "known", file: matched.file, line: matched.line! };
  const changed = checks.find((c) => c.status === "mismatch");
  if (changed) {
    throw new HostKeyError("changed", {
      ...details,
      file: changed.file,
      line: changed.line,
      knownKeyType: changed.entry?.keyType,
    });
  }
  const accept = policy.acceptNew ?? false;
  const accepted = typeof accept === "function" ? await accept(key, details.host) : accept;
  if (accepted !== true) throw new HostKeyError("unknown", details);
  const file = policy.addTo;
  if (file === undefined) return { status: "accepted" };
  try {
    const line = formatKnownHostsLine(key, { host: policy.host, port, hash: policy.hashNew });
    appendLine(file, line, { mode: policy.fileMode ?? 0o600 });
  } catch (error) {
    return { status: "accepted", file, error };
  }
  return { status: "added", file };
}
