/**
 * An {@link SftpBackend} over the runtime's file system (node:fs/promises,
 * on Deno and Bun alike), rooted at a directory the way sshd's
 * `ChrootDirectory` confines `internal-sftp`.
 *
 * The client sees the root as `/`. Every path is resolved here, component
 * by component, as the kernel would inside a chroot: `..` at the root stays
 * at the root, an absolute path starts at the root, and a symbolic link is
 * followed by reading it and resolving its target the same way (an
 * absolute target starts at the root, `..` stops there; at most 40 links,
 * then ELOOP). What reaches the file system is therefore always a path
 * under the root with no symbolic link in it but possibly the last
 * component, and the last is opened with O_NOFOLLOW. Nothing outside the
 * root can be read, written, listed, renamed, linked or linked to, which is
 * the effect of OpenSSH's internal-sftp under ChrootDirectory; links are
 * stored as the client wrote them (as there, a link to `/etc/passwd` names
 * the root's `etc/passwd`).
 *
 * What path-based calls cannot exclude is a race: another process (or this
 * client in a second session) replacing a directory inside the root by a
 * link between the resolution and the call. Opened files are therefore
 * checked after opening (on Linux, through `/proc/self/fd`) and closed
 * unread when they lie outside the root; for the other calls the window is
 * the time between one `lstat` and the call.
 *
 * @module
 */
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import * as nodePath from "node:path";
import {
  longname,
  type LongnameInfo,
  type SftpBackend,
  type SftpDirectory,
  type SftpFile,
  SftpStatusError,
} from "./backend.ts";
import { type FileAttributes, FX, type NameEntry, OpenFlags, type StatVfs } from "./packets.ts";

/**
 * Options of {@link FsBackend}.
 *
 * @example
 * ```ts
 * import type { FsBackendOptions } from "./fs_backend.ts";
 * const o: FsBackendOptions = { root: "/srv/sftp/alice", start: "/upload", umask: 0o022 };
 * ```
 */
export interface FsBackendOptions {
  /** The directory the client sees as `/` (default `/`: the whole file system). */
  root?: string;
  /**
   * Where relative paths start, as the client sees it (sshd: the home
   * directory, or `/` when it does not exist under the root). Default `/`.
   */
  start?: string;
  /** The home directory as the client sees it (home-directory, `~`); default `start`. */
  home?: string;
  /** The user's name (home-directory and `~user` answer for it only). */
  username?: string;
  /**
   * Bits cleared from the permissions of created files and directories
   * (sftp-server's -u): applied exactly, whatever the process's umask.
   * Unset: the process's umask applies.
   */
  umask?: number;
}

const C = fs.constants;
const MAX_SYMLINKS = 40;
const DIR_BATCH = 100;

/** Node's stats as SFTP attributes (draft §5), with the file type in the permissions. */
function attrsOf(st: fs.Stats): FileAttributes {
  return {
    size: st.size,
    uid: st.uid,
    gid: st.gid,
    permissions: st.mode,
    atime: Math.floor(st.atimeMs / 1000),
    mtime: Math.floor(st.mtimeMs / 1000),
  };
}

const errno = (code: string, message: string) => Object.assign(new Error(message), { code });

/** Names of users and groups from /etc/passwd and /etc/group, read once. */
class Names {
  #users?: Map<number, string>;
  #groups?: Map<number, string>;

  #load(file: string): Map<number, string> {
    const m = new Map<number, string>();
    try {
      for (const line of fs.readFileSync(file, "utf8").split("\n")) {
        const f = line.split(":");
        if (f.length >= 3 && /^\d+$/.test(f[2]) && !m.has(Number(f[2]))) m.set(Number(f[2]), f[0]);
      }
    } catch {
      // no such file: numeric ids are shown
    }
    return m;
  }

  user(uid: number): string | undefined {
    return (this.#users ??= this.#load("/etc/passwd")).get(uid);
  }

  group(gid: number): string | undefined {
    return (this.#groups ??= this.#load("/etc/group")).get(gid);
  }
}

const names = new Names();

/** The longname fields of `st`. */
function info(st: fs.Stats): LongnameInfo {
  return { nlink: st.nlink, user: names.user(st.uid), group: names.group(st.gid) };
}

/** Applies `a` (draft §5 order: size, owner, permissions, times) through `ops`. */
async function applyAttrs(
  a: FileAttributes,
  ops: {
    truncate(size: number): Promise<void>;
    chown(uid: number, gid: number): Promise<void>;
    chmod(mode: number): Promise<void>;
    utimes(atime: number, mtime: number): Promise<void>;
  },
): Promise<void> {
  if (a.size !== undefined) await ops.truncate(a.size);
  if (a.uid !== undefined || a.gid !== undefined) await ops.chown(a.uid ?? -1, a.gid ?? -1);
  if (a.permissions !== undefined) await ops.chmod(a.permissions & 0o7777);
  if (a.atime !== undefined || a.mtime !== undefined) {
    await ops.utimes(a.atime ?? a.mtime ?? 0, a.mtime ?? a.atime ?? 0);
  }
}

/** A resolved client path: its components under the root and the real path. */
interface Resolved {
  parts: string[];
  real: string;
  /** False when the last component does not exist. */
  exists: boolean;
}

/**
 * Serves a directory of the local file system; see the module doc for the
 * confinement.
 *
 * @example
 * ```ts
 * import { FsBackend } from "./fs_backend.ts";
 * const backend = new FsBackend({ root: "/tmp", umask: 0o022 });
 * console.log(await backend.realpath("a/../..")); // /
 * ```
 */
export class FsBackend implements SftpBackend {
  /** The root's real path (symbolic links in it resolved once, at construction). */
  readonly root: string;
  readonly #start: string[];
  /** The start directory as a path. */
  readonly #startPath: string;
  readonly #home: string;
  readonly #username?: string;
  readonly #umask?: number;

  /** A backend for `options.root` (which must be an existing directory). */
  constructor(options: FsBackendOptions = {}) {
    const root = fs.realpathSync(options.root ?? "/");
    if (!fs.statSync(root).isDirectory()) {
      throw new SftpStatusError(FX.NO_SUCH_FILE, {
        path: root,
        message: "root is not a directory",
      });
    }
    this.root = root;
    this.#start = split(options.start ?? "/", []);
    this.#startPath = "/" + this.#start.join("/");
    this.#home = options.home ?? "/" + this.#start.join("/");
    this.#username = options.username;
    this.#umask = options.umask;
  }

  #real(parts: readonly string[]): string {
    return parts.length === 0 ? this.root : nodePath.join(this.root, ...parts);
  }

  /**
   * Resolves `path` as a chroot would (module doc). `followLast`: a link
   * in the last place is followed too. A missing last component is
   * allowed (`exists` false); a missing directory on the way is ENOENT.
   */
  async #resolve(path: string, followLast: boolean): Promise<Resolved> {
    // A relative path is resolved from the start directory's own path: its
    // components are checked like the client's.
    const todo = split(path, path.startsWith("/") ? [] : [...this.#start]).reverse();
    const parts: string[] = [];
    let links = 0;
    let exists = true;
    while (todo.length > 0) {
      const name = todo.pop()!;
      if (!exists) throw errno("ENOENT", "no such directory");
      if (name === "..") {
        parts.pop(); // the root's parent is the root
        continue;
      }
      parts.push(name);
      const last = todo.length === 0;
      if (last && !followLast) {
        exists = await lexists(this.#real(parts));
        break;
      }
      let st: fs.Stats;
      try {
        st = await fsp.lstat(this.#real(parts));
      } catch (e) {
        if ((e as { code?: string }).code !== "ENOENT") throw e;
        exists = false;
        continue;
      }
      if (st.isSymbolicLink()) {
        if (++links > MAX_SYMLINKS) throw errno("ELOOP", "too many symbolic links");
        const target = await fsp.readlink(this.#real(parts));
        parts.pop();
        if (target.startsWith("/")) parts.length = 0;
        todo.push(...split(target, []).reverse());
      } else if (!last && !st.isDirectory()) {
        throw errno("ENOTDIR", "not a directory");
      }
    }
    return { parts, real: this.#real(parts), exists };
  }

  async #path(path: string, followLast = true): Promise<string> {
    // Without a root to keep, the kernel resolves (one syscall, not one per component).
    if (this.root === "/") return path.startsWith("/") ? path : `${this.#startPath}/${path}`;
    return (await this.#resolve(path, followLast)).real;
  }

  /** Throws unless the open descriptor `fd` lies under the root (Linux; elsewhere a no-op). */
  async #checkOpened(fd: number): Promise<void> {
    if (this.root === "/") return;
    let where: string;
    try {
      where = await fsp.readlink(`/proc/self/fd/${fd}`);
    } catch {
      return; // no /proc: the resolution alone confines
    }
    if (where !== this.root && !where.startsWith(this.root + "/")) {
      throw new SftpStatusError(FX.PERMISSION_DENIED, { message: "Path outside the root" });
    }
  }

  /** SSH_FXP_OPEN (draft §6.3): pflags as open(2) flags, never following a final link. */
  async open(path: string, flags: number, attrs: FileAttributes): Promise<SftpFile> {
    const real = await this.#path(path);
    const read = flags & OpenFlags.READ;
    const write = flags & (OpenFlags.WRITE | OpenFlags.APPEND);
    // Under a root the last component is resolved already: O_NOFOLLOW closes the race.
    let f = (read && write ? C.O_RDWR : write ? C.O_WRONLY : C.O_RDONLY) |
      (this.root === "/" ? 0 : C.O_NOFOLLOW);
    if (flags & OpenFlags.APPEND) f |= C.O_APPEND;
    if (flags & OpenFlags.TRUNC) f |= C.O_TRUNC;
    const mode = attrs.permissions !== undefined ? attrs.permissions & 0o7777 : 0o666;
    let fh: fsp.FileHandle;
    let st: fs.Stats;
    let created = false;
    if (flags & OpenFlags.CREAT) {
      // Create exclusively first, so that the umask is applied to new files only.
      try {
        fh = await fsp.open(real, f | C.O_CREAT | C.O_EXCL, mode);
        created = true;
      } catch (e) {
        if ((e as { code?: string }).code !== "EEXIST" || flags & OpenFlags.EXCL) throw e;
        fh = await fsp.open(real, f, mode);
      }
    } else fh = await fsp.open(real, f);
    try {
      await this.#checkOpened(fh.fd);
      if (created && this.#umask !== undefined) await fh.chmod(mode & ~this.#umask);
      st = await fh.stat();
      if (st.isDirectory() && write) throw errno("EISDIR", "is a directory");
    } catch (e) {
      await fh.close().catch(() => {});
      throw e;
    }
    return new FsFile(fh, this.root, st.size);
  }

  /** SSH_FXP_OPENDIR: entries come with lstat attributes and `ls -l` lines, 100 at a time. */
  async opendir(path: string): Promise<SftpDirectory> {
    const real = await this.#path(path);
    const dir = await fsp.opendir(real);
    const root = this.root;
    let first = true;
    return {
      async read(): Promise<NameEntry[] | null> {
        const out: NameEntry[] = [];
        if (first) {
          first = false;
          for (const name of [".", ".."]) {
            const st = await fsp.lstat(
              nodePath.join(real, name === ".." && real === root ? "." : name),
            );
            out.push({
              filename: name,
              longname: longname(name, attrsOf(st), info(st)),
              attrs: attrsOf(st),
            });
          }
        }
        const names: string[] = [];
        while (names.length + out.length < DIR_BATCH) {
          const e = await dir.read();
          if (e === null) break;
          names.push(e.name);
        }
        // One batch's lstat calls at once: listing speed is round trips, not bytes.
        const stats = await Promise.all(
          names.map((n) => fsp.lstat(nodePath.join(real, n)).catch(() => undefined)),
        );
        names.forEach((name, i) => {
          const st = stats[i];
          if (!st) return; // removed meanwhile
          out.push({
            filename: name,
            longname: longname(name, attrsOf(st), info(st)),
            attrs: attrsOf(st),
          });
        });
        return out.length ? out : null;
      },
      close: () => dir.close().catch(() => {}),
    };
  }

  /** SSH_FXP_STAT: follows links (inside the root). */
  async stat(path: string): Promise<FileAttributes> {
    const real = await this.#path(path);
    // Under a root, `real` has no link left to follow; without one the kernel follows.
    return attrsOf(await (this.root === "/" ? fsp.stat(real) : fsp.lstat(real)));
  }

  /** SSH_FXP_LSTAT. */
  async lstat(path: string): Promise<FileAttributes> {
    return attrsOf(await fsp.lstat(await this.#path(path, false)));
  }

  /** SSH_FXP_SETSTAT. */
  async setstat(path: string, attrs: FileAttributes): Promise<void> {
    const real = await this.#path(path);
    const follow = this.root === "/"; // under a root, `real` has no link left to follow
    await applyAttrs(attrs, {
      truncate: (n) => fsp.truncate(real, n),
      chown: (u, g) => follow ? fsp.chown(real, u, g) : fsp.lchown(real, u, g),
      chmod: (m) => fsp.chmod(real, m),
      utimes: (a, m) => follow ? fsp.utimes(real, a, m) : fsp.lutimes(real, a, m),
    });
  }

  /** lsetstat@openssh.com: as setstat, on the link itself (no permissions on a link). */
  async lsetstat(path: string, attrs: FileAttributes): Promise<void> {
    const real = await this.#path(path, false);
    const st = await fsp.lstat(real);
    await applyAttrs(attrs, {
      truncate: (n) => fsp.truncate(real, n),
      chown: (u, g) => fsp.lchown(real, u, g),
      chmod: (m) => st.isSymbolicLink() ? Promise.resolve() : fsp.chmod(real, m),
      utimes: (a, m) => fsp.lutimes(real, a, m),
    });
  }

  /** SSH_FXP_REMOVE: unlink(2); a link itself, never its target. */
  async remove(path: string): Promise<void> {
    await fsp.unlink(await this.#path(path, false));
  }

  /** SSH_FXP_MKDIR: permissions default 0777, less the umask. */
  async mkdir(path: string, attrs: FileAttributes): Promise<void> {
    const real = await this.#path(path, false);
    const mode = attrs.permissions !== undefined ? attrs.permissions & 0o7777 : 0o777;
    await fsp.mkdir(real, mode);
    if (this.#umask !== undefined) await fsp.chmod(real, mode & ~this.#umask);
  }

  /** SSH_FXP_RMDIR. */
  async rmdir(path: string): Promise<void> {
    await fsp.rmdir(await this.#path(path, false));
  }

  /** SSH_FXP_RENAME: refuses to replace an existing `newPath` (FAILURE), as sftp-server. */
  async rename(oldPath: string, newPath: string): Promise<void> {
    const from = await this.#path(oldPath, false);
    const to = await this.#path(newPath, false);
    if (await lexists(to)) throw new SftpStatusError(FX.FAILURE, { path: newPath });
    await fsp.rename(from, to);
  }

  /** posix-rename@openssh.com: rename(2), replacing `newPath`. */
  async posixRename(oldPath: string, newPath: string): Promise<void> {
    await fsp.rename(await this.#path(oldPath, false), await this.#path(newPath, false));
  }

  /** hardlink@openssh.com: link(2) of the entry itself (a link stays a link). */
  async hardlink(oldPath: string, newPath: string): Promise<void> {
    await fsp.link(await this.#path(oldPath, false), await this.#path(newPath, false));
  }

  /** SSH_FXP_READLINK: the target as stored. */
  async readlink(path: string): Promise<string> {
    return await fsp.readlink(await this.#path(path, false));
  }

  /** SSH_FXP_SYMLINK: the target is stored as given and resolved inside the root when used. */
  async symlink(target: string, linkPath: string): Promise<void> {
    await fsp.symlink(target, await this.#path(linkPath, false));
  }

  /** SSH_FXP_REALPATH: the resolved path as the client sees it. */
  async realpath(path: string): Promise<string> {
    if (this.root === "/") {
      const real = await this.#path(path === "" ? "." : path);
      try {
        return await fsp.realpath(real);
      } catch (e) {
        if ((e as { code?: string }).code !== "ENOENT") throw e;
        // The last component may be missing (OpenSSH's sftp_realpath allows it).
        return nodePath.join(await fsp.realpath(nodePath.dirname(real)), nodePath.basename(real));
      }
    }
    const r = await this.#resolve(path === "" ? "." : path, true);
    return "/" + r.parts.join("/");
  }

  /** expand-path@openssh.com: `~` and `~user` (this user only) are the home directory. */
  async expandPath(path: string): Promise<string> {
    const m = /^~([^/]*)(\/.*)?$/.exec(path);
    if (m) {
      if (m[1] !== "" && m[1] !== this.#username) {
        throw new SftpStatusError(FX.NO_SUCH_FILE, { path, message: "No such user" });
      }
      path = this.#home + (m[2] ?? "");
    }
    return await this.realpath(path);
  }

  /** home-directory: the home directory of this backend's user. */
  homeDirectory(username: string): Promise<string> {
    if (username !== "" && username !== this.#username) {
      return Promise.reject(new SftpStatusError(FX.FAILURE, { message: "No such user" }));
    }
    return Promise.resolve(this.#home);
  }

  /** users-groups-by-id@openssh.com from /etc/passwd and /etc/group. */
  usersGroups(uids: number[], gids: number[]): Promise<{ users: string[]; groups: string[] }> {
    return Promise.resolve({
      users: uids.map((u) => names.user(u) ?? ""),
      groups: gids.map((g) => names.group(g) ?? ""),
    });
  }

  /** statvfs@openssh.com (fsid and flags are not available through node:fs: 0). */
  async statvfs(path: string): Promise<StatVfs> {
    return statvfsOf(await this.#path(path));
  }
}

async function statvfsOf(real: string): Promise<StatVfs> {
  const s = await fsp.statfs(real);
  return {
    bsize: s.bsize,
    frsize: s.bsize,
    blocks: s.blocks,
    bfree: s.bfree,
    bavail: s.bavail,
    files: s.files,
    ffree: s.ffree,
    favail: s.ffree,
    fsid: 0n,
    flag: 0,
    namemax: 255,
  };
}

async function lexists(real: string): Promise<boolean> {
  try {
    await fsp.lstat(real);
    return true;
  } catch (e) {
    if ((e as { code?: string }).code === "ENOENT") return false;
    throw e;
  }
}

/** `path`'s components without empty ones and `.`, appended to `into`. */
function split(path: string, into: string[]): string[] {
  for (const p of path.split("/")) if (p !== "" && p !== ".") into.push(p);
  return into;
}

/** The smallest buffer a READ at or past the size known to {@link FsFile} gets. */
const READ_PAST_SIZE = 4096;

/** An open file: positioned reads and writes on one descriptor. */
class FsFile implements SftpFile {
  readonly #fh: fsp.FileHandle;
  readonly #root: string;
  /**
   * The file's size as far as this handle knows (from the stat at open,
   * grown by its own writes); Infinity once a read found more than that.
   */
  #size: number;

  constructor(fh: fsp.FileHandle, root: string, size: number) {
    this.#fh = fh;
    this.#root = root;
    this.#size = size;
  }

  /**
   * A READ (draft §6.4) of up to `length` bytes. Clients ask their block
   * size (OpenSSH: 255 KiB) near and at the end of a file too, so the
   * buffer is sized by what the file holds: a 4 KiB file costs 4 KiB, not
   * a zeroed 255 KiB buffer per READ. A read past the known size gets
   * {@link READ_PAST_SIZE} bytes; if the file grew, the reply may be short
   * (which is not end of file: the client asks for the rest) and the size
   * is no longer trusted.
   */
  async read(offset: number, length: number): Promise<Uint8Array | null> {
    const left = this.#size - offset;
    const n = left >= length ? length : Math.min(length, Math.max(left, READ_PAST_SIZE));
    const buf = new Uint8Array(n);
    const { bytesRead } = await this.#fh.read(buf, 0, n, offset);
    if (offset + bytesRead > this.#size) this.#size = Infinity; // it grew since it was opened
    return bytesRead === 0 ? null : bytesRead === n ? buf : buf.subarray(0, bytesRead);
  }

  async write(offset: number, data: Uint8Array): Promise<void> {
    this.#size = Math.max(this.#size, offset + data.length);
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await this.#fh.write(data, done, data.length - done, offset + done);
      done += bytesWritten;
    }
  }

  async stat(): Promise<FileAttributes> {
    return attrsOf(await this.#fh.stat());
  }

  async setstat(attrs: FileAttributes): Promise<void> {
    const fh = this.#fh;
    await applyAttrs(attrs, {
      truncate: (n) => {
        this.#size = n;
        return fh.truncate(n);
      },
      chown: (u, g) => fh.chown(u, g),
      chmod: (m) => fh.chmod(m),
      utimes: (a, m) => fh.utimes(a, m),
    });
  }

  async fsync(): Promise<void> {
    await this.#fh.sync();
  }

  statvfs(): Promise<StatVfs> {
    // No fstatfs in node:fs: the root's file system (the file lies under it).
    return statvfsOf(this.#root);
  }

  async close(): Promise<void> {
    await this.#fh.close();
  }
}
