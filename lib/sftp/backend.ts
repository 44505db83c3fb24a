/**
 * What an SFTP server serves: the {@link SftpBackend} interface an
 * application implements (a file system, an in-memory tree, an object
 * store...), and the typed error a backend throws to answer a request with
 * an SSH_FX status code (draft-ietf-secsh-filexfer-02 §7).
 *
 * Paths given to a backend are the client's paths as sent (UTF-8 strings);
 * the backend decides what they mean (the file-system backend resolves them
 * under a root directory). OpenSSH's extensions (PROTOCOL §4) are
 * advertised in SSH_FXP_VERSION only when the backend implements the
 * method behind them.
 *
 * @module
 */
import {
  type FileAttributes,
  FileType,
  FX,
  type NameEntry,
  type StatusCode,
  type StatVfs,
} from "./packets.ts";

/**
 * The text OpenSSH's sftp-server sends with each status code
 * (sftp-server.c status_to_message).
 */
const STATUS_MESSAGES: Record<number, string> = {
  [FX.OK]: "Success",
  [FX.EOF]: "End of file",
  [FX.NO_SUCH_FILE]: "No such file",
  [FX.PERMISSION_DENIED]: "Permission denied",
  [FX.FAILURE]: "Failure",
  [FX.BAD_MESSAGE]: "Bad message",
  [FX.NO_CONNECTION]: "No connection",
  [FX.CONNECTION_LOST]: "Connection lost",
  [FX.OP_UNSUPPORTED]: "Operation unsupported",
};

/**
 * The message OpenSSH's sftp-server sends with a status code ("No such
 * file", "Permission denied", ...); "Unknown error" for other codes.
 *
 * @example
 * ```ts
 * import { statusMessage } from "./backend.ts";
 * import { FX } from "./packets.ts";
 * console.log(statusMessage(FX.EOF)); // End of file
 * ```
 */
export function statusMessage(code: number): string {
  return STATUS_MESSAGES[code] ?? "Unknown error";
}

/**
 * A backend's refusal: the SSH_FX code the server answers with, the text
 * it sends, and the path (or handle) the request named, if any.
 *
 * @example
 * ```ts
 * import { SftpStatusError } from "./backend.ts";
 * import { FX } from "./packets.ts";
 * const e = new SftpStatusError(FX.NO_SUCH_FILE, { path: "/missing" });
 * console.log(e.message); // No such file: /missing
 * ```
 */
export class SftpStatusError extends Error {
  /** The SSH_FX code. */
  readonly code: StatusCode;
  /** The path the request named, if any. */
  readonly path?: string;
  /** The text sent to the client (default: OpenSSH's for the code). */
  readonly statusText: string;
  /** Creates the error; `options.message` is sent to the client instead of the code's usual text. */
  constructor(
    code: StatusCode,
    options: { path?: string; message?: string; cause?: unknown } = {},
  ) {
    const text = options.message ?? statusMessage(code);
    super(options.path === undefined ? text : `${text}: ${options.path}`, {
      cause: options.cause,
    });
    this.name = "SftpStatusError";
    this.code = code;
    this.path = options.path;
    this.statusText = text;
  }
}

/**
 * The SSH_FX code for an error a backend threw: an {@link SftpStatusError}'s
 * own code, else the `errno` name (`code` of Node's system errors) mapped as
 * OpenSSH's sftp-server maps errno (sftp-server.c errno_to_portable):
 * ENOENT, ENOTDIR, EBADF, ELOOP → NO_SUCH_FILE; EPERM, EACCES, EFAULT, and
 * EROFS → PERMISSION_DENIED; ENAMETOOLONG, EINVAL → BAD_MESSAGE; ENOSYS,
 * ENOTSUP, EOPNOTSUPP → OP_UNSUPPORTED; anything else FAILURE.
 *
 * @example
 * ```ts
 * import { statusOf } from "./backend.ts";
 * console.log(statusOf(Object.assign(new Error("x"), { code: "EACCES" }))); // 3
 * ```
 */
export function statusOf(error: unknown): StatusCode {
  if (error instanceof SftpStatusError) return error.code;
  const code = (error as { code?: unknown } | null)?.code;
  switch (code) {
    case "ENOENT":
    case "ENOTDIR":
    case "EBADF":
    case "ELOOP":
      return FX.NO_SUCH_FILE;
    case "EPERM":
    case "EACCES":
    case "EFAULT":
    case "EROFS":
      return FX.PERMISSION_DENIED;
    case "ENAMETOOLONG":
    case "EINVAL":
      return FX.BAD_MESSAGE;
    case "ENOSYS":
    case "ENOTSUP":
    case "EOPNOTSUPP":
      return FX.OP_UNSUPPORTED;
    default:
      return FX.FAILURE;
  }
}

/**
 * An open file, from {@link SftpBackend.open}. The server serialises
 * overlapping requests on one file (draft §6.1) and may run
 * non-overlapping reads (or writes) at once.
 *
 * @example
 * ```ts
 * import type { SftpFile } from "./backend.ts";
 * const first = async (f: SftpFile) => await f.read(0, 16);
 * ```
 */
export interface SftpFile {
  /**
   * Reads up to `length` bytes at `offset`; `null` at or past the end of
   * the file (the server answers SSH_FX_EOF). A short read is fine.
   */
  read(offset: number, length: number): Promise<Uint8Array | null>;
  /**
   * Writes `data` at `offset` (at the end for a file opened with APPEND).
   * `data` is a view into the received packet: copy it to keep it.
   */
  write(offset: number, data: Uint8Array): Promise<void>;
  /** The file's attributes (SSH_FXP_FSTAT). */
  stat(): Promise<FileAttributes>;
  /** Changes the file's attributes (SSH_FXP_FSETSTAT). */
  setstat(attrs: FileAttributes): Promise<void>;
  /** Flushes to stable storage (fsync@openssh.com, PROTOCOL §4.6); advertised when present. */
  fsync?(): Promise<void>;
  /** The file system's figures (fstatvfs@openssh.com, PROTOCOL §4.4). */
  statvfs?(): Promise<StatVfs>;
  /** Releases the file (SSH_FXP_CLOSE, and when the session ends). */
  close(): Promise<void>;
}

/**
 * An open directory, from {@link SftpBackend.opendir}.
 *
 * @example
 * ```ts
 * import type { SftpDirectory } from "./backend.ts";
 * const names = async (d: SftpDirectory) => (await d.read())?.map((e) => e.filename);
 * ```
 */
export interface SftpDirectory {
  /**
   * The next entries (at most about 100, as OpenSSH sends), with their
   * `ls -l` lines ({@link longname}); `null` when none are left (SSH_FX_EOF).
   */
  read(): Promise<NameEntry[] | null>;
  /** Releases the directory. */
  close(): Promise<void>;
}

/**
 * What an SFTP server serves. Every method may throw an
 * {@link SftpStatusError} (or a Node-style error with an errno `code`,
 * mapped by {@link statusOf}); the server answers the request with that
 * code. Optional methods are OpenSSH's extensions: each is advertised in
 * SSH_FXP_VERSION only when present, and answered SSH_FX_OP_UNSUPPORTED
 * otherwise.
 *
 * Paths are the client's, as sent: relative ones are relative to the
 * session's starting directory, which {@link SftpBackend.realpath} of "."
 * names.
 *
 * @example
 * ```ts
 * import { FX } from "./packets.ts";
 * import { SftpStatusError, type SftpBackend } from "./backend.ts";
 * const nothing: SftpBackend = {
 *   open: (path) => Promise.reject(new SftpStatusError(FX.NO_SUCH_FILE, { path })),
 *   opendir: (path) => Promise.reject(new SftpStatusError(FX.NO_SUCH_FILE, { path })),
 *   stat: (path) => Promise.reject(new SftpStatusError(FX.NO_SUCH_FILE, { path })),
 *   lstat: (path) => Promise.reject(new SftpStatusError(FX.NO_SUCH_FILE, { path })),
 *   setstat: (path) => Promise.reject(new SftpStatusError(FX.NO_SUCH_FILE, { path })),
 *   remove: (path) => Promise.reject(new SftpStatusError(FX.NO_SUCH_FILE, { path })),
 *   mkdir: () => Promise.reject(new SftpStatusError(FX.PERMISSION_DENIED)),
 *   rmdir: (path) => Promise.reject(new SftpStatusError(FX.NO_SUCH_FILE, { path })),
 *   rename: (path) => Promise.reject(new SftpStatusError(FX.NO_SUCH_FILE, { path })),
 *   readlink: (path) => Promise.reject(new SftpStatusError(FX.NO_SUCH_FILE, { path })),
 *   symlink: () => Promise.reject(new SftpStatusError(FX.PERMISSION_DENIED)),
 *   realpath: (path) => Promise.resolve(path === "." ? "/" : path),
 * };
 * ```
 */
export interface SftpBackend {
  /**
   * Opens (or creates) a file. `flags` are SSH_FXP_OPEN's pflags
   * (`OpenFlags`); `attrs` the new file's attributes (its permissions
   * before the umask).
   */
  open(path: string, flags: number, attrs: FileAttributes): Promise<SftpFile>;
  /** Opens a directory for listing. */
  opendir(path: string): Promise<SftpDirectory>;
  /** Attributes, following symbolic links. */
  stat(path: string): Promise<FileAttributes>;
  /** Attributes of the link itself. */
  lstat(path: string): Promise<FileAttributes>;
  /** Changes attributes (size, owner, permissions, times), following links. */
  setstat(path: string, attrs: FileAttributes): Promise<void>;
  /** Removes a file (not a directory). */
  remove(path: string): Promise<void>;
  /** Creates a directory; `attrs.permissions` before the umask. */
  mkdir(path: string, attrs: FileAttributes): Promise<void>;
  /** Removes an empty directory. */
  rmdir(path: string): Promise<void>;
  /** SSH_FXP_RENAME: fails when `newPath` exists (as OpenSSH's sftp-server does). */
  rename(oldPath: string, newPath: string): Promise<void>;
  /** The target of a symbolic link, as stored. */
  readlink(path: string): Promise<string>;
  /** Creates a symbolic link at `linkPath` pointing to `target`. */
  symlink(target: string, linkPath: string): Promise<void>;
  /** The canonical absolute form of `path` (the last component may be missing). */
  realpath(path: string): Promise<string>;
  /** posix-rename@openssh.com (PROTOCOL §4.3): rename replacing `newPath`. */
  posixRename?(oldPath: string, newPath: string): Promise<void>;
  /** hardlink@openssh.com (PROTOCOL §4.5). */
  hardlink?(oldPath: string, newPath: string): Promise<void>;
  /** lsetstat@openssh.com (PROTOCOL §4.7): setstat without following a final link. */
  lsetstat?(path: string, attrs: FileAttributes): Promise<void>;
  /** statvfs@openssh.com (PROTOCOL §4.4). */
  statvfs?(path: string): Promise<StatVfs>;
  /** expand-path@openssh.com (PROTOCOL §4.9): realpath after `~` and `~user`. */
  expandPath?(path: string): Promise<string>;
  /** home-directory (PROTOCOL §4.10): the user's home as an absolute path. */
  homeDirectory?(username: string): Promise<string>;
  /** users-groups-by-id@openssh.com (PROTOCOL §4.11): names, "" where unknown. */
  usersGroups?(uids: number[], gids: number[]): Promise<{ users: string[]; groups: string[] }>;
  /**
   * Ends the session's use of the backend (every handle is closed first).
   * Optional.
   */
  dispose?(): Promise<void>;
}

/** What {@link longname} needs of a file besides its attributes. */
export interface LongnameInfo {
  /** Link count (1 when unknown). */
  nlink?: number;
  /** The owner's name (the uid when absent). */
  user?: string;
  /** The group's name (the gid when absent). */
  group?: string;
  /** "Now", for the recent-or-old date format (default the current time). */
  now?: number;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** strmode(3): the type letter and nine permission characters with setuid/setgid/sticky. */
function modeString(mode: number): string {
  const types: Record<number, string> = {
    [FileType.DIRECTORY]: "d",
    [FileType.CHARACTER]: "c",
    [FileType.BLOCK]: "b",
    [FileType.REGULAR]: "-",
    [FileType.SYMLINK]: "l",
    [FileType.SOCKET]: "s",
    [FileType.FIFO]: "p",
  };
  let s = types[mode & FileType.MASK] ?? "?";
  const bit = (b: number, c: string) => (mode & b ? c : "-");
  const special = (x: boolean, set: boolean, on: string, off: string) =>
    set ? (x ? on : off) : (x ? "x" : "-");
  s += bit(0o400, "r") + bit(0o200, "w") + special(!!(mode & 0o100), !!(mode & 0o4000), "s", "S");
  s += bit(0o040, "r") + bit(0o020, "w") + special(!!(mode & 0o010), !!(mode & 0o2000), "s", "S");
  s += bit(0o004, "r") + bit(0o002, "w") + special(!!(mode & 0o001), !!(mode & 0o1000), "t", "T");
  return s + " ";
}

/**
 * The `ls -l` line OpenSSH's sftp-server sends with each directory entry
 * (sftp-common.c ls_file): mode, link count, owner and group (at least 8
 * wide), size, and the modification time in local time as `%b %e %H:%M`
 * within six months, else `%b %e  %Y`.
 *
 * @example
 * ```ts
 * import { longname } from "./backend.ts";
 * const line = longname("notes.txt", { permissions: 0o100644, size: 12, uid: 1000, gid: 1000, mtime: 0 }, {
 *   user: "alice", group: "staff",
 * });
 * console.log(line.slice(0, 42)); // -rw-r--r--    1 alice    staff          12
 * ```
 */
export function longname(name: string, a: FileAttributes, info: LongnameInfo = {}): string {
  const user = info.user ?? String(a.uid ?? 0);
  const group = info.group ?? String(a.gid ?? 0);
  const mtime = a.mtime ?? 0;
  const now = Math.floor((info.now ?? Date.now()) / 1000);
  const d = new Date(mtime * 1000);
  const day = String(d.getDate()).padStart(2, " ");
  const recent = now - (365 * 24 * 60 * 60) / 2 < mtime && now >= mtime;
  const hm = `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
  const time = `${MONTHS[d.getMonth()]} ${day} ${recent ? hm : ` ${d.getFullYear()}`}`;
  return `${modeString(a.permissions ?? 0)}${String(info.nlink ?? 1).padStart(4, " ")} ` +
    `${user.padEnd(8, " ")} ${group.padEnd(8, " ")} ${String(a.size ?? 0).padStart(8, " ")} ` +
    `${time} ${name}`;
}
