/**
 * An in-memory {@link SftpBackend}: a tree of directories, files and
 * symbolic links held in the process, bounded in bytes and in entries. The
 * test double of the server, and a backend for applications that serve
 * generated or scratch files.
 *
 * Paths resolve as in a file system: `..` at `/` stays at `/`, links are
 * followed (at most 40, then SSH_FX_NO_SUCH_FILE as ELOOP), relative paths
 * start at `/`.
 *
 * @module
 */
import {
  longname,
  type SftpBackend,
  type SftpDirectory,
  type SftpFile,
  SftpStatusError,
} from "./backend.ts";
import {
  type FileAttributes,
  FileType,
  FX,
  type NameEntry,
  OpenFlags,
  type StatusCode,
  type StatVfs,
} from "./packets.ts";

/**
 * Options of {@link MemoryBackend}.
 *
 * @example
 * ```ts
 * import type { MemoryBackendOptions } from "./memory_backend.ts";
 * const o: MemoryBackendOptions = { maxBytes: 16 * 1024 * 1024, maxEntries: 1000 };
 * ```
 */
export interface MemoryBackendOptions {
  /** Total bytes of file contents (default 64 MiB); a write beyond fails with FAILURE. */
  maxBytes?: number;
  /** Files, directories and links (default 10,000). */
  maxEntries?: number;
  /** Owner and group ids of new entries (default 0). */
  uid?: number;
  /** Group id of new entries (default 0). */
  gid?: number;
  /** Bits cleared from new files' and directories' permissions (default 0o022). */
  umask?: number;
}

type Node = {
  mode: number;
  uid: number;
  gid: number;
  atime: number;
  mtime: number;
  nlink: number;
  data?: Uint8Array;
  size?: number;
  children?: Map<string, Node>;
  target?: string;
};

const MAX_SYMLINKS = 40;
const now = () => Math.floor(Date.now() / 1000);
const fail = (code: StatusCode, path?: string, message?: string) =>
  new SftpStatusError(code, { path, message });

/**
 * The in-memory tree. Synchronous inside, so every request is atomic.
 *
 * @example
 * ```ts
 * import { MemoryBackend } from "./memory_backend.ts";
 * const m = new MemoryBackend();
 * m.writeFile("/hello.txt", new TextEncoder().encode("hi\n"));
 * console.log((await m.stat("/hello.txt")).size); // 3
 * ```
 */
export class MemoryBackend implements SftpBackend {
  readonly #root: Node;
  readonly #maxBytes: number;
  readonly #maxEntries: number;
  readonly #uid: number;
  readonly #gid: number;
  readonly #umask: number;
  #bytes = 0;
  #entries = 1;

  /** An empty tree (just `/`, mode 0755). */
  constructor(options: MemoryBackendOptions = {}) {
    this.#maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
    this.#maxEntries = options.maxEntries ?? 10_000;
    this.#uid = options.uid ?? 0;
    this.#gid = options.gid ?? 0;
    this.#umask = options.umask ?? 0o022;
    this.#root = this.#node(FileType.DIRECTORY | 0o755);
    this.#root.children = new Map();
    this.#root.nlink = 2;
  }

  /** Bytes of file contents held. */
  get bytes(): number {
    return this.#bytes;
  }

  #node(mode: number): Node {
    const t = now();
    return { mode, uid: this.#uid, gid: this.#gid, atime: t, mtime: t, nlink: 1 };
  }

  /** Creates (or replaces) a file with `data`, making missing directories; for setting up trees. */
  writeFile(path: string, data: Uint8Array, mode = 0o644): void {
    const parts = split(path);
    let dir = this.#root;
    for (const p of parts.slice(0, -1)) {
      let next = dir.children!.get(p);
      if (!next) {
        next = this.#node(FileType.DIRECTORY | 0o755);
        next.children = new Map();
        this.#link(dir, p, next);
      }
      dir = next;
    }
    const f = this.#node(FileType.REGULAR | mode);
    f.data = new Uint8Array(0);
    f.size = 0;
    dir.children!.delete(parts[parts.length - 1]);
    this.#link(dir, parts[parts.length - 1], f);
    this.#resize(f, data.length);
    f.data!.set(data);
  }

  /** A file's contents (a copy), for checking trees. */
  readFile(path: string): Uint8Array {
    const n = this.#lookup(path, true).node;
    if (!n?.data) throw fail(FX.NO_SUCH_FILE, path);
    return n.data.slice(0, n.size);
  }

  #link(dir: Node, name: string, n: Node): void {
    if (this.#entries >= this.#maxEntries) throw fail(FX.FAILURE, name, "Too many entries");
    this.#entries++;
    dir.children!.set(name, n);
    if (n.children) dir.nlink++;
  }

  #unlink(dir: Node, name: string): void {
    const n = dir.children!.get(name)!;
    dir.children!.delete(name);
    this.#entries--;
    if (n.children) dir.nlink--;
    if (--n.nlink <= 0 && n.data) {
      this.#bytes -= n.size!;
      n.data = new Uint8Array(0);
    }
  }

  /** Grows or shrinks `f` to `size` within the byte budget. */
  #resize(f: Node, size: number): void {
    const old = f.size ?? 0;
    if (this.#bytes - old + size > this.#maxBytes) {
      throw fail(FX.FAILURE, undefined, "No space left");
    }
    if (size > f.data!.length) {
      const grown = new Uint8Array(
        Math.min(Math.max(size, f.data!.length * 2), Math.max(size, this.#maxBytes)),
      );
      grown.set(f.data!.subarray(0, old));
      f.data = grown;
    } else if (size < old) f.data!.fill(0, size, old);
    this.#bytes += size - old;
    f.size = size;
  }

  /**
   * Finds `path`: its parent directory, last name and node (undefined
   * when missing), and the names leading to it. `follow`: a link in the
   * last place is followed. A missing or non-directory component on the
   * way is NO_SUCH_FILE.
   */
  #lookup(
    path: string,
    follow: boolean,
  ): { parent: Node; name: string; node?: Node; names: string[] } {
    const todo = split(path).reverse();
    const stack: Node[] = [this.#root];
    const names: string[] = [];
    let links = 0;
    while (todo.length > 0) {
      const p = todo.pop()!;
      const dir = stack[stack.length - 1];
      if (p === "..") {
        if (stack.length > 1) stack.pop(), names.pop(); // the root's parent is the root
        continue;
      }
      const next = dir.children!.get(p);
      const last = todo.length === 0;
      if (next?.target !== undefined && (!last || follow)) {
        if (++links > MAX_SYMLINKS) throw fail(FX.NO_SUCH_FILE, path, "Too many links");
        if (next.target.startsWith("/")) stack.length = 1, names.length = 0;
        todo.push(...split(next.target).reverse());
        continue;
      }
      if (last) return { parent: dir, name: p, node: next, names: [...names, p] };
      if (!next?.children) throw fail(FX.NO_SUCH_FILE, path);
      stack.push(next);
      names.push(p);
    }
    const node = stack[stack.length - 1];
    return { parent: stack[stack.length - 2] ?? node, name: "", node, names };
  }

  #existing(path: string, follow: boolean): Node {
    const n = this.#lookup(path, follow).node;
    if (!n) throw fail(FX.NO_SUCH_FILE, path);
    return n;
  }

  /** A missing entry's parent and name (FAILURE when it exists, as sftp-server's EEXIST). */
  #fresh(path: string): { parent: Node; name: string } {
    const r = this.#lookup(path, false);
    if (r.node) throw fail(FX.FAILURE, path);
    if (r.name === "") throw fail(FX.NO_SUCH_FILE, path);
    return r;
  }

  #attrs(n: Node): FileAttributes {
    return {
      size: n.data ? n.size : n.target !== undefined ? n.target.length : 0,
      uid: n.uid,
      gid: n.gid,
      permissions: n.mode,
      atime: n.atime,
      mtime: n.mtime,
    };
  }

  #setattrs(n: Node, a: FileAttributes): void {
    if (a.size !== undefined) {
      if (!n.data) throw fail(FX.FAILURE, undefined, "Not a regular file");
      this.#resize(n, a.size);
    }
    if (a.uid !== undefined) n.uid = a.uid;
    if (a.gid !== undefined) n.gid = a.gid;
    if (a.permissions !== undefined) n.mode = (n.mode & FileType.MASK) | (a.permissions & 0o7777);
    if (a.atime !== undefined) n.atime = a.atime;
    if (a.mtime !== undefined) n.mtime = a.mtime;
  }

  /** SSH_FXP_OPEN. */
  open(path: string, flags: number, attrs: FileAttributes): Promise<SftpFile> {
    return run(() => {
      const r = this.#lookup(path, true);
      let n = r.node;
      if (n && flags & OpenFlags.CREAT && flags & OpenFlags.EXCL) throw fail(FX.FAILURE, path);
      if (!n) {
        if (!(flags & OpenFlags.CREAT) || r.name === "") throw fail(FX.NO_SUCH_FILE, path);
        n = this.#node(FileType.REGULAR | ((attrs.permissions ?? 0o666) & 0o7777 & ~this.#umask));
        n.data = new Uint8Array(0);
        n.size = 0;
        this.#link(r.parent, r.name, n);
      }
      if (!n.data) throw fail(FX.FAILURE, path, "Not a regular file");
      const write = (flags & (OpenFlags.WRITE | OpenFlags.APPEND)) !== 0;
      if (flags & OpenFlags.TRUNC && write) this.#resize(n, 0);
      return this.#file(n, { write, append: (flags & OpenFlags.APPEND) !== 0 });
    });
  }

  #file(n: Node, mode: { write: boolean; append: boolean }): SftpFile {
    let open = true;
    const check = () => {
      if (!open) throw fail(FX.FAILURE, undefined, "Closed");
    };
    return {
      read: (offset, length) =>
        run(() => {
          check();
          if (offset >= n.size!) return null;
          return n.data!.slice(offset, Math.min(n.size!, offset + length));
        }),
      write: (offset, data) =>
        run(() => {
          check();
          if (!mode.write) throw fail(FX.PERMISSION_DENIED, undefined, "Not open for writing");
          const at = mode.append ? n.size! : offset;
          if (at + data.length > n.size!) this.#resize(n, at + data.length);
          n.data!.set(data, at);
          n.mtime = now();
        }),
      stat: () => run(() => this.#attrs(n)),
      setstat: (a) => run(() => this.#setattrs(n, a)),
      statvfs: () => this.statvfs("/"),
      close: () => run(() => void (open = false)),
    };
  }

  /** SSH_FXP_OPENDIR: a snapshot of the entries, with `.` and `..`. */
  opendir(path: string): Promise<SftpDirectory> {
    return run(() => {
      const r = this.#lookup(path, true);
      const n = r.node;
      if (!n) throw fail(FX.NO_SUCH_FILE, path);
      if (!n.children) throw fail(FX.FAILURE, path, "Not a directory");
      const entry = (name: string, e: Node): NameEntry => {
        const attrs = this.#attrs(e);
        return { filename: name, longname: longname(name, attrs, { nlink: e.nlink }), attrs };
      };
      const all = [entry(".", n), entry("..", r.name === "" ? n : r.parent)];
      for (const [name, e] of n.children) all.push(entry(name, e));
      let at = 0;
      return {
        read: () => run(() => at >= all.length ? null : all.slice(at, at += 100)),
        close: () => Promise.resolve(),
      };
    });
  }

  /** SSH_FXP_STAT. */
  stat(path: string): Promise<FileAttributes> {
    return run(() => this.#attrs(this.#existing(path, true)));
  }

  /** SSH_FXP_LSTAT. */
  lstat(path: string): Promise<FileAttributes> {
    return run(() => this.#attrs(this.#existing(path, false)));
  }

  /** SSH_FXP_SETSTAT. */
  setstat(path: string, attrs: FileAttributes): Promise<void> {
    return run(() => this.#setattrs(this.#existing(path, true), attrs));
  }

  /** lsetstat@openssh.com. */
  lsetstat(path: string, attrs: FileAttributes): Promise<void> {
    return run(() => this.#setattrs(this.#existing(path, false), attrs));
  }

  /** SSH_FXP_REMOVE. */
  remove(path: string): Promise<void> {
    return run(() => {
      const r = this.#lookup(path, false);
      if (!r.node) throw fail(FX.NO_SUCH_FILE, path);
      if (r.node.children) throw fail(FX.FAILURE, path, "Is a directory");
      this.#unlink(r.parent, r.name);
    });
  }

  /** SSH_FXP_MKDIR. */
  mkdir(path: string, attrs: FileAttributes): Promise<void> {
    return run(() => {
      const r = this.#fresh(path);
      const d = this.#node(
        FileType.DIRECTORY | ((attrs.permissions ?? 0o777) & 0o7777 & ~this.#umask),
      );
      d.children = new Map();
      d.nlink = 2;
      this.#link(r.parent, r.name, d);
    });
  }

  /** SSH_FXP_RMDIR. */
  rmdir(path: string): Promise<void> {
    return run(() => {
      const r = this.#lookup(path, false);
      if (!r.node) throw fail(FX.NO_SUCH_FILE, path);
      if (!r.node.children) throw fail(FX.FAILURE, path, "Not a directory");
      if (r.node === this.#root || r.node.children.size > 0) throw fail(FX.FAILURE, path);
      this.#unlink(r.parent, r.name);
    });
  }

  #move(oldPath: string, newPath: string, replace: boolean): void {
    const from = this.#lookup(oldPath, false);
    if (!from.node || from.name === "") throw fail(FX.NO_SUCH_FILE, oldPath);
    const to = this.#lookup(newPath, false);
    if (to.name === "") throw fail(FX.FAILURE, newPath);
    if (to.node && !replace) throw fail(FX.FAILURE, newPath); // sftp-server: link(2) EEXIST
    if (to.node === from.node) return; // rename(2): the same file, nothing to do
    if (to.node?.children) throw fail(FX.FAILURE, newPath);
    if (from.node.children && this.#contains(from.node, to.parent)) {
      throw fail(FX.FAILURE, newPath, "Cannot move a directory into itself");
    }
    if (to.node) this.#unlink(to.parent, to.name);
    from.parent.children!.delete(from.name);
    if (from.node.children) from.parent.nlink--;
    to.parent.children!.set(to.name, from.node);
    if (from.node.children) to.parent.nlink++;
  }

  #contains(dir: Node, n: Node): boolean {
    if (dir === n) return true;
    for (const c of dir.children?.values() ?? []) {
      if (c.children && this.#contains(c, n)) return true;
    }
    return false;
  }

  /** SSH_FXP_RENAME (fails when `newPath` exists). */
  rename(oldPath: string, newPath: string): Promise<void> {
    return run(() => this.#move(oldPath, newPath, false));
  }

  /** posix-rename@openssh.com (replaces a file at `newPath`). */
  posixRename(oldPath: string, newPath: string): Promise<void> {
    return run(() => this.#move(oldPath, newPath, true));
  }

  /** hardlink@openssh.com. */
  hardlink(oldPath: string, newPath: string): Promise<void> {
    return run(() => {
      const n = this.#existing(oldPath, false);
      if (n.children) throw fail(FX.PERMISSION_DENIED, oldPath);
      const r = this.#fresh(newPath);
      this.#link(r.parent, r.name, n);
      n.nlink++;
    });
  }

  /** SSH_FXP_READLINK. */
  readlink(path: string): Promise<string> {
    return run(() => {
      const n = this.#existing(path, false);
      if (n.target === undefined) throw fail(FX.FAILURE, path, "Not a link");
      return n.target;
    });
  }

  /** SSH_FXP_SYMLINK. */
  symlink(target: string, linkPath: string): Promise<void> {
    return run(() => {
      const r = this.#fresh(linkPath);
      const l = this.#node(FileType.SYMLINK | 0o777);
      l.target = target;
      this.#link(r.parent, r.name, l);
    });
  }

  /** SSH_FXP_REALPATH (the last component may be missing). */
  realpath(path: string): Promise<string> {
    return run(() => "/" + this.#lookup(path, true).names.join("/"));
  }

  /** statvfs@openssh.com: the budgets as a file system of 1 KiB blocks. */
  statvfs(_path: string): Promise<StatVfs> {
    const blocks = Math.ceil(this.#maxBytes / 1024);
    const free = Math.floor((this.#maxBytes - this.#bytes) / 1024);
    const files = this.#maxEntries;
    const ffree = this.#maxEntries - this.#entries;
    return Promise.resolve({
      bsize: 1024,
      frsize: 1024,
      blocks,
      bfree: free,
      bavail: free,
      files,
      ffree,
      favail: ffree,
      fsid: 0n,
      flag: 0,
      namemax: 255,
    });
  }

  /** home-directory: `/` for everyone. */
  homeDirectory(_username: string): Promise<string> {
    return Promise.resolve("/");
  }
}

/** Runs `f` as a promise (a thrown error becomes a rejection). */
function run<T>(f: () => T): Promise<T> {
  try {
    return Promise.resolve(f());
  } catch (e) {
    return Promise.reject(e);
  }
}

function split(path: string): string[] {
  return path.split("/").filter((p) => p !== "" && p !== ".");
}
