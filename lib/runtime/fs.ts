/**
 * The few file operations the library needs (known_hosts and
 * authorized_keys files, private directories for agent sockets), all
 * synchronous. They use `node:fs`, which Deno, Bun and Node each implement
 * natively, so unlike sockets no per-runtime adapter is needed.
 *
 * @module
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as nodePath from "node:path";

/** The errno name of a node:fs error, or "". */
function code(e: unknown): string {
  const c = (e as { code?: unknown } | null)?.code;
  return typeof c === "string" ? c : "";
}

/**
 * Reads a UTF-8 text file; `undefined` when it does not exist (ENOENT, or a
 * path component that is not a directory). Other failures (EACCES, EISDIR)
 * throw the runtime's error, which names the path.
 *
 * @example
 * ```ts
 * import { readTextFileIfExists } from "./fs.ts";
 * const text = readTextFileIfExists("/home/me/.ssh/known_hosts") ?? "";
 * console.log(text.split("\n").length);
 * ```
 */
export function readTextFileIfExists(path: string): string | undefined {
  try {
    return fs.readFileSync(path, "utf8");
  } catch (e) {
    if (code(e) === "ENOENT" || code(e) === "ENOTDIR") return undefined;
    throw e;
  }
}

/**
 * Options of {@link appendTextFile}.
 *
 * @example
 * ```ts
 * import type { AppendTextFileOptions } from "./fs.ts";
 * const o: AppendTextFileOptions = { mode: 0o600, dirMode: 0o700 };
 * ```
 */
export interface AppendTextFileOptions {
  /** Permission bits of the file when it is created (default 0o600; the umask applies). */
  mode?: number;
  /**
   * When given, missing parent directories are created with these
   * permission bits (as ssh creates `~/.ssh` with 0700); otherwise a
   * missing parent directory is an error.
   */
  dirMode?: number;
}

/**
 * Appends UTF-8 `text` to the file at `path`, creating the file (mode
 * `options.mode`) and, with `options.dirMode`, its missing parent
 * directories. An existing file keeps its mode. Throws the runtime's error
 * (naming the path) when it cannot.
 *
 * @example
 * ```ts
 * import { appendTextFile } from "./fs.ts";
 * appendTextFile("/home/me/.ssh/known_hosts", "example.com ssh-ed25519 AAAA...\n", {
 *   mode: 0o600,
 *   dirMode: 0o700,
 * });
 * ```
 */
export function appendTextFile(
  path: string,
  text: string,
  options: AppendTextFileOptions = {},
): void {
  if (options.dirMode !== undefined) {
    fs.mkdirSync(nodePath.dirname(path), { recursive: true, mode: options.dirMode });
  }
  // open(2) + write(2) rather than appendFileSync: Deno's appendFileSync
  // chmods an existing file to `mode` (a user's 0644 known_hosts became 0600).
  const fd = fs.openSync(path, "a", options.mode ?? 0o600);
  try {
    const bytes = new TextEncoder().encode(text);
    for (let off = 0; off < bytes.length;) off += fs.writeSync(fd, bytes, off);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Makes a new directory only this user can use (mode 0700, whatever the
 * umask), named `prefix` plus six random characters, in `parent` (default:
 * the OS temp directory, `$TMPDIR` or `/tmp`). Returns its path. Remove it
 * with {@link removeTree}.
 *
 * @example
 * ```ts
 * import { makePrivateTempDir, removeTree } from "./fs.ts";
 * const dir = makePrivateTempDir("ssh-");
 * console.log(dir); // "/tmp/ssh-Xa81Qz"
 * removeTree(dir);
 * ```
 */
export function makePrivateTempDir(prefix: string, options: { parent?: string } = {}): string {
  const dir = fs.mkdtempSync(nodePath.join(options.parent ?? os.tmpdir(), prefix));
  try {
    fs.chmodSync(dir, 0o700);
  } catch (e) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return dir;
}

/**
 * Removes a file or a directory with everything in it, as `rm -rf`:
 * nothing happens when it does not exist. Other failures (EACCES) throw.
 *
 * @example
 * ```ts
 * import { makePrivateTempDir, removeTree } from "./fs.ts";
 * removeTree(makePrivateTempDir("scratch-"));
 * ```
 */
export function removeTree(path: string): void {
  fs.rmSync(path, { recursive: true, force: true });
}

/**
 * The names in a directory (not `.` and `..`), unsorted; `undefined` when
 * it does not exist or is not a directory. Other failures (EACCES) throw.
 *
 * @example
 * ```ts
 * import { listDirectoryIfExists } from "./fs.ts";
 * console.log(listDirectoryIfExists("/etc/ssh/ssh_config.d") ?? []);
 * ```
 */
export function listDirectoryIfExists(path: string): string[] | undefined {
  try {
    return fs.readdirSync(path);
  } catch (e) {
    if (code(e) === "ENOENT" || code(e) === "ENOTDIR") return undefined;
    throw e;
  }
}
