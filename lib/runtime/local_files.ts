/**
 * Local files for transfers (the SFTP client's get and put): positioned
 * reads and writes on an open file, and the few tree operations a
 * recursive copy needs. `node:fs/promises`, which Deno, Bun and Node each
 * implement natively.
 *
 * @example
 * ```ts
 * import { openLocalFile } from "./local_files.ts";
 * const f = await openLocalFile("/tmp/x", "w", { mode: 0o600 });
 * await f.write(new TextEncoder().encode("hi"), 0);
 * await f.close();
 * ```
 *
 * @module
 */
import * as fsp from "node:fs/promises";
import * as nodePath from "node:path";

/**
 * An open local file.
 *
 * @example
 * ```ts
 * import { openLocalFile, type LocalFile } from "./local_files.ts";
 * const f: LocalFile = await openLocalFile("/etc/hostname", "r");
 * const buf = new Uint8Array(64);
 * console.log(await f.read(buf, 0), (await f.stat()).size);
 * await f.close();
 * ```
 */
export interface LocalFile {
  /** Reads into `buf` at file offset `position`; returns the bytes read (0 at end of file). */
  read(buf: Uint8Array, position: number): Promise<number>;
  /** Writes all of `data` at file offset `position`. */
  write(data: Uint8Array, position: number): Promise<void>;
  /** The file's attributes. */
  stat(): Promise<LocalStat>;
  /** Sets access and modification times (seconds since the epoch). */
  utimes(atime: number, mtime: number): Promise<void>;
  /** Sets the permission bits. */
  chmod(mode: number): Promise<void>;
  /** Closes it (idempotent). */
  close(): Promise<void>;
}

/**
 * What a transfer needs of a local file's attributes.
 *
 * @example
 * ```ts
 * import { localStat } from "./local_files.ts";
 * const s = await localStat("/etc");
 * console.log(s?.type); // "directory"
 * ```
 */
export interface LocalStat {
  /** The kind of file (a symlink only from {@link localLstat}). */
  type: "file" | "directory" | "symlink" | "other";
  /** Size in bytes. */
  size: number;
  /** Permission bits with the file type (`st_mode`). */
  mode: number;
  /** Access time, whole seconds since the epoch. */
  atime: number;
  /** Modification time, whole seconds since the epoch. */
  mtime: number;
}

type Stats = Awaited<ReturnType<typeof fsp.stat>>;

function toStat(s: Stats): LocalStat {
  const type = s.isFile()
    ? "file"
    : s.isDirectory()
    ? "directory"
    : s.isSymbolicLink()
    ? "symlink"
    : "other";
  return {
    type,
    size: Number(s.size),
    mode: Number(s.mode),
    atime: Math.floor(Number(s.atimeMs) / 1000),
    mtime: Math.floor(Number(s.mtimeMs) / 1000),
  };
}

function errno(e: unknown): string {
  const c = (e as { code?: unknown } | null)?.code;
  return typeof c === "string" ? c : "";
}

/**
 * Opens `path`: `r` to read, `r+` to read and write an existing file, `w`
 * to create or truncate, `wx` to create a file that must not exist.
 * `mode` applies to a file it creates (the umask applies too). Throws the
 * runtime's error, which names the path.
 *
 * @example
 * ```ts
 * import { openLocalFile } from "./local_files.ts";
 * const f = await openLocalFile("/tmp/new", "wx", { mode: 0o644 });
 * await f.close();
 * ```
 */
export async function openLocalFile(
  path: string,
  flags: "r" | "r+" | "w" | "wx",
  options: { mode?: number } = {},
): Promise<LocalFile> {
  const fh = await fsp.open(path, flags, options.mode ?? 0o666);
  let closed = false;
  return {
    read: async (buf, position) => (await fh.read(buf, 0, buf.length, position)).bytesRead,
    write: async (data, position) => {
      let done = 0;
      while (done < data.length) {
        const { bytesWritten } = await fh.write(
          data,
          done,
          data.length - done,
          position + done,
        );
        done += bytesWritten;
      }
    },
    stat: async () => toStat(await fh.stat()),
    utimes: (atime, mtime) => fh.utimes(atime, mtime),
    chmod: (mode) => fh.chmod(mode),
    close: async () => {
      if (closed) return;
      closed = true;
      await fh.close();
    },
  };
}

/**
 * `stat` of `path` (symlinks followed); `undefined` when it does not exist.
 *
 * @example
 * ```ts
 * import { localStat } from "./local_files.ts";
 * console.log((await localStat("/nonexistent")) === undefined); // true
 * ```
 */
export async function localStat(path: string): Promise<LocalStat | undefined> {
  try {
    return toStat(await fsp.stat(path));
  } catch (e) {
    if (errno(e) === "ENOENT" || errno(e) === "ENOTDIR") return undefined;
    throw e;
  }
}

/**
 * `lstat` of `path` (a symlink's own attributes); `undefined` when it does
 * not exist.
 *
 * @example
 * ```ts
 * import { localLstat } from "./local_files.ts";
 * console.log((await localLstat("/etc"))?.type); // "directory"
 * ```
 */
export async function localLstat(path: string): Promise<LocalStat | undefined> {
  try {
    return toStat(await fsp.lstat(path));
  } catch (e) {
    if (errno(e) === "ENOENT" || errno(e) === "ENOTDIR") return undefined;
    throw e;
  }
}

/**
 * The names in directory `path` (without `.` and `..`).
 *
 * @example
 * ```ts
 * import { localReaddir } from "./local_files.ts";
 * console.log((await localReaddir("/etc")).length > 0); // true
 * ```
 */
export async function localReaddir(path: string): Promise<string[]> {
  return await fsp.readdir(path);
}

/**
 * Creates directory `path` with `mode` (the umask applies); an existing
 * directory is fine, anything else in the way is an error.
 *
 * @example
 * ```ts
 * import { localMkdir } from "./local_files.ts";
 * await localMkdir("/tmp/a-dir", { mode: 0o755 });
 * ```
 */
export async function localMkdir(path: string, options: { mode?: number } = {}): Promise<void> {
  try {
    await fsp.mkdir(path, { mode: options.mode ?? 0o777 });
  } catch (e) {
    if (errno(e) === "EEXIST" && (await localStat(path))?.type === "directory") return;
    throw e;
  }
}

/**
 * Renames `from` to `to`, replacing `to` (rename(2)).
 *
 * @example
 * ```ts
 * import { localRename } from "./local_files.ts";
 * await localRename("/tmp/a.part", "/tmp/a");
 * ```
 */
export async function localRename(from: string, to: string): Promise<void> {
  await fsp.rename(from, to);
}

/**
 * Removes file `path`; a missing file is fine.
 *
 * @example
 * ```ts
 * import { localUnlink } from "./local_files.ts";
 * await localUnlink("/tmp/a.part");
 * ```
 */
export async function localUnlink(path: string): Promise<void> {
  await fsp.rm(path, { force: true });
}

/**
 * Sets the times (seconds since the epoch) and, when given, the
 * permission bits of `path`.
 *
 * @example
 * ```ts
 * import { localSetAttributes } from "./local_files.ts";
 * await localSetAttributes("/tmp/a", { atime: 0, mtime: 0, mode: 0o644 });
 * ```
 */
export async function localSetAttributes(
  path: string,
  attrs: { atime?: number; mtime?: number; mode?: number },
): Promise<void> {
  if (attrs.mode !== undefined) await fsp.chmod(path, attrs.mode & 0o7777);
  if (attrs.atime !== undefined && attrs.mtime !== undefined) {
    await fsp.utimes(path, attrs.atime, attrs.mtime);
  }
}

/**
 * `path`'s directory and last component, as `node:path` splits it.
 *
 * @example
 * ```ts
 * import { localSplit } from "./local_files.ts";
 * console.log(localSplit("/tmp/a.txt")); // { dir: "/tmp", base: "a.txt" }
 * ```
 */
export function localSplit(path: string): { dir: string; base: string } {
  return { dir: nodePath.dirname(path), base: nodePath.basename(path) };
}

/**
 * Joins local path parts.
 *
 * @example
 * ```ts
 * import { localJoin } from "./local_files.ts";
 * console.log(localJoin("/tmp", "a")); // /tmp/a
 * ```
 */
export function localJoin(...parts: string[]): string {
  return nodePath.join(...parts);
}
