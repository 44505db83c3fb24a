/**
 * The SFTP client (draft-ietf-secsh-filexfer-02, version 3, with
 * OpenSSH's extensions, PROTOCOL §4) over any byte-stream pair: the `sftp`
 * subsystem of an SSH session ({@link sftp}), a local `sftp-server` on
 * stdio, or anything else that carries the packets ({@link openSftp}).
 *
 * Every request is a promise; many may be outstanding at once, each with
 * its own id, and replies are matched by id in whatever order they come.
 * A failure status is an {@link SftpError}; the end of the session, or a
 * server that sends something that is not SFTP, rejects every waiting
 * request with an {@link SftpConnectionError}.
 *
 * @example
 * ```ts
 * import { connect } from "../../mod.ts";
 * import { sftp } from "./client.ts";
 * declare const client: Awaited<ReturnType<typeof connect>>;
 * const s = await sftp(client);
 * console.log(await s.realpath("."), (await s.stat("/etc/hostname")).size);
 * await s.close();
 * ```
 *
 * @module
 */
import { Observable } from "rxjs";
import type { ByteStreamPair } from "../transport/transport.ts";
import { WireError } from "../wire/errors.ts";
import {
  decodeHello,
  decodeLimits,
  decodeResponse,
  decodeStatVfs,
  decodeUsersGroups,
  encodeHello,
  encodeRequest,
  type FileAttributes,
  FX,
  FXP,
  MAX_PACKET_LENGTH,
  type NameEntry,
  OpenFlags,
  SftpFramer,
  type SftpLimits,
  type SftpRequest,
  type SftpResponse,
  type StatVfs,
} from "./packets.ts";
import { SftpConnectionError, SftpError } from "./errors.ts";
import {
  createReadStream,
  createWriteStream,
  type ReadStreamOptions,
  type WriteStreamOptions,
} from "./streams.ts";
import {
  get as getFiles,
  put as putFiles,
  type Transfer,
  type TransferOptions,
} from "./transfer.ts";

/** Read and write size without limits@openssh.com (the draft's 32 KiB). */
const DEFAULT_BLOCK = 32 * 1024;
/** Room left in a packet for the header of a READ reply or a WRITE (handle up to 256 bytes). */
const PACKET_OVERHEAD = 1024;

/**
 * Options of {@link openSftp} and {@link sftp}.
 *
 * @example
 * ```ts
 * import type { SftpClientOptions } from "./client.ts";
 * const o: SftpClientOptions = { blockSize: 65536, handshakeTimeoutMs: 5000 };
 * ```
 */
export interface SftpClientOptions {
  /**
   * Largest READ and WRITE to send. Default: what the server's
   * limits@openssh.com allows (OpenSSH 9: 261,120 bytes), else 32 KiB;
   * never more than the server's limits nor what fits in a packet.
   */
  blockSize?: number;
  /** How long to wait for the server's SSH_FXP_VERSION (default 30 s). */
  handshakeTimeoutMs?: number;
  /** Longest packet accepted from the server (default 256 KiB, OpenSSH's). */
  maxPacketLength?: number;
  /** Called once when the session ends, however it ends (e.g. to close the channel). */
  onEnd?: (error: SftpConnectionError) => void | Promise<void>;
}

/**
 * `open` flags as Node's `fs.open` spells them, or a number of
 * {@link OpenFlags} bits: `r` read; `r+` read and write; `w` write, create,
 * truncate; `wx` the same but the file must not exist; `w+` `w` and read;
 * `a` append (create); `a+` append and read.
 *
 * @example
 * ```ts
 * import type { OpenMode } from "./client.ts";
 * const m: OpenMode = "wx";
 * ```
 */
export type OpenMode = "r" | "r+" | "w" | "wx" | "w+" | "a" | "a+" | number;

const { READ, WRITE, APPEND, CREAT, TRUNC, EXCL } = OpenFlags;
const MODES: Record<string, number> = {
  "r": READ,
  "r+": READ | WRITE,
  "w": WRITE | CREAT | TRUNC,
  "wx": WRITE | CREAT | TRUNC | EXCL,
  "w+": READ | WRITE | CREAT | TRUNC,
  "a": WRITE | CREAT | APPEND,
  "a+": READ | WRITE | CREAT | APPEND,
};

/**
 * An open file or directory on the server: the server's opaque handle
 * bytes and the path it was opened with (for error messages).
 *
 * @example
 * ```ts
 * import type { SftpClient } from "./client.ts";
 * async function size(s: SftpClient, path: string) {
 *   const h = await s.open(path);
 *   try {
 *     return (await s.fstat(h)).size;
 *   } finally {
 *     await s.closeHandle(h);
 *   }
 * }
 * ```
 */
export class SftpHandle {
  /** The handle as the server sent it (at most 256 bytes). */
  readonly bytes: Uint8Array;
  /** The path it was opened with. */
  readonly path: string;
  /** `file` (open) or `directory` (opendir). */
  readonly kind: "file" | "directory";

  /** Wraps handle bytes the server returned for `path`. */
  constructor(bytes: Uint8Array, path: string, kind: "file" | "directory") {
    this.bytes = bytes;
    this.path = path;
    this.kind = kind;
  }
}

interface ClientInit {
  version: number;
  extensions: Map<string, string>;
  limits: SftpLimits | undefined;
  readBlockSize: number;
  writeBlockSize: number;
}

let makeClient: (core: SftpCore, init: ClientInit) => SftpClient;

interface Pending {
  resolve(r: SftpResponse): void;
  reject(e: unknown): void;
}

/** Extensions and the version they must be advertised with (PROTOCOL §4). */
const EXTENSION_VERSION: Record<string, string> = {
  "posix-rename@openssh.com": "1",
  "statvfs@openssh.com": "2",
  "fstatvfs@openssh.com": "2",
  "hardlink@openssh.com": "1",
  "fsync@openssh.com": "1",
  "lsetstat@openssh.com": "1",
  "limits@openssh.com": "1",
  "expand-path@openssh.com": "1",
  "copy-data": "1",
  "home-directory": "1",
  "users-groups-by-id@openssh.com": "1",
};

/** A uint32 at `at` in `b`, big-endian. */
function u32(b: Uint8Array, at: number): number {
  return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
}

/**
 * An SFTP session from {@link openSftp} or {@link sftp}. Methods map one to
 * one onto the protocol's requests; `list`, `list$`, `createReadStream`,
 * `createWriteStream`, `get` and `put` (lib/sftp/transfer.ts) build on
 * them.
 *
 * @example
 * ```ts
 * import type { SftpClient } from "./client.ts";
 * async function touch(s: SftpClient, path: string) {
 *   const h = await s.open(path, { flags: "a" });
 *   await s.closeHandle(h);
 * }
 * ```
 */
export class SftpClient {
  /** The protocol version the server answered (3 for OpenSSH). */
  readonly version: number;
  /** The extensions the server advertised in SSH_FXP_VERSION, name to version string. */
  readonly extensions: ReadonlyMap<string, string>;
  /** The server's limits@openssh.com answer, when it advertised the extension. */
  readonly limits: SftpLimits | undefined;
  /** Length of the READs this client sends. */
  readonly readBlockSize: number;
  /** Length of the WRITEs this client sends. */
  readonly writeBlockSize: number;

  #core: SftpCore;

  static {
    makeClient = (core, init) => new SftpClient(core, init);
  }

  /** Use {@link openSftp} or {@link sftp}. */
  private constructor(core: SftpCore, init: ClientInit) {
    this.#core = core;
    this.version = init.version;
    this.extensions = init.extensions;
    this.limits = init.limits;
    this.readBlockSize = init.readBlockSize;
    this.writeBlockSize = init.writeBlockSize;
  }

  /** Resolves (never rejects) with the error that ended the session, once it ends. */
  get ended(): Promise<SftpConnectionError> {
    return this.#core.ended;
  }

  /** True once the session ended. */
  get isEnded(): boolean {
    return this.#core.failure !== undefined;
  }

  /**
   * Ends the session: requests still waiting reject with an
   * {@link SftpConnectionError}, the stream to the server is closed (EOF),
   * and over SSH the channel is closed. Idempotent.
   */
  async close(): Promise<void> {
    await this.#core.close();
  }

  /** `await using s = await sftp(client)` closes the session at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // --- v3 requests (draft-ietf-secsh-filexfer-02 §6) ------------------------

  /**
   * SSH_FXP_OPEN (§6.3). `flags` default `r`; `attrs` apply to a file it
   * creates (e.g. `{ permissions: 0o600 }`).
   */
  async open(
    path: string,
    options: { flags?: OpenMode; attrs?: FileAttributes } = {},
  ): Promise<SftpHandle> {
    const flags = typeof options.flags === "number" ? options.flags : MODES[options.flags ?? "r"];
    if (flags === undefined) throw new TypeError(`unknown open flags ${String(options.flags)}`);
    const r = await this.#call({ type: "open", path, flags, attrs: options.attrs ?? {} }, path);
    return new SftpHandle(this.#handle(r, "open", path), path, "file");
  }

  /** SSH_FXP_CLOSE (§6.3) of a file or directory handle. */
  async closeHandle(handle: SftpHandle): Promise<void> {
    this.#ok(
      await this.#call({ type: "close", handle: handle.bytes }, handle.path),
      "close",
      handle.path,
    );
  }

  /**
   * SSH_FXP_READ (§6.4): up to `length` bytes (default the read block size)
   * at `offset`; `null` at end of file. Fewer bytes than asked is not end of
   * file. The result is a view of the received packet, not a copy.
   */
  async read(
    handle: SftpHandle,
    options: { offset: number; length?: number },
  ): Promise<Uint8Array | null> {
    const length = options.length ?? this.readBlockSize;
    const r = await this.#call(
      { type: "read", handle: handle.bytes, offset: options.offset, length },
      handle.path,
    );
    if (r.type === "data") {
      if (r.data.length > length) {
        throw this.#core.protocol(`READ of ${length} bytes answered with ${r.data.length}`);
      }
      return r.data;
    }
    return this.#eofOrThrow(r, "read", handle.path);
  }

  /** SSH_FXP_WRITE (§6.4) of `data` at `offset`. */
  async write(handle: SftpHandle, data: Uint8Array, options: { offset: number }): Promise<void> {
    const r = await this.#call(
      { type: "write", handle: handle.bytes, offset: options.offset, data },
      handle.path,
    );
    this.#ok(r, "write", handle.path);
  }

  /** SSH_FXP_STAT (§6.8): follows symlinks. */
  async stat(path: string): Promise<FileAttributes> {
    return this.#attrs(await this.#call({ type: "stat", path }, path), "stat", path);
  }

  /** SSH_FXP_LSTAT (§6.8): a symlink's own attributes. */
  async lstat(path: string): Promise<FileAttributes> {
    return this.#attrs(await this.#call({ type: "lstat", path }, path), "lstat", path);
  }

  /** SSH_FXP_FSTAT (§6.8). */
  async fstat(handle: SftpHandle): Promise<FileAttributes> {
    const r = await this.#call({ type: "fstat", handle: handle.bytes }, handle.path);
    return this.#attrs(r, "fstat", handle.path);
  }

  /** SSH_FXP_SETSTAT (§6.9): size truncates, permissions chmod, times utimes, uid/gid chown. */
  async setstat(path: string, attrs: FileAttributes): Promise<void> {
    this.#ok(await this.#call({ type: "setstat", path, attrs }, path), "setstat", path);
  }

  /** SSH_FXP_FSETSTAT (§6.9). */
  async fsetstat(handle: SftpHandle, attrs: FileAttributes): Promise<void> {
    const r = await this.#call({ type: "fsetstat", handle: handle.bytes, attrs }, handle.path);
    this.#ok(r, "fsetstat", handle.path);
  }

  /** SSH_FXP_OPENDIR (§6.7). */
  async opendir(path: string): Promise<SftpHandle> {
    const r = await this.#call({ type: "opendir", path }, path);
    return new SftpHandle(this.#handle(r, "opendir", path), path, "directory");
  }

  /** SSH_FXP_READDIR (§6.7): the next batch of entries, `null` at the end. */
  async readdir(handle: SftpHandle): Promise<NameEntry[] | null> {
    const r = await this.#call({ type: "readdir", handle: handle.bytes }, handle.path);
    if (r.type === "name") return r.entries;
    return this.#eofOrThrow(r, "readdir", handle.path);
  }

  /** SSH_FXP_REMOVE (§6.5): a file. */
  async remove(path: string): Promise<void> {
    this.#ok(await this.#call({ type: "remove", path }, path), "remove", path);
  }

  /** SSH_FXP_MKDIR (§6.6). */
  async mkdir(path: string, attrs: FileAttributes = {}): Promise<void> {
    this.#ok(await this.#call({ type: "mkdir", path, attrs }, path), "mkdir", path);
  }

  /** SSH_FXP_RMDIR (§6.6). */
  async rmdir(path: string): Promise<void> {
    this.#ok(await this.#call({ type: "rmdir", path }, path), "rmdir", path);
  }

  /**
   * SSH_FXP_RENAME (§6.5): the draft's rename, which OpenSSH's server
   * refuses when `newPath` exists (see {@link SftpClient.posixRename}).
   */
  async rename(oldPath: string, newPath: string): Promise<void> {
    this.#ok(await this.#call({ type: "rename", oldPath, newPath }, oldPath), "rename", oldPath);
  }

  /** SSH_FXP_READLINK (§6.10): what the symlink at `path` points to. */
  async readlink(path: string): Promise<string> {
    return this.#oneName(await this.#call({ type: "readlink", path }, path), "readlink", path);
  }

  /**
   * SSH_FXP_SYMLINK (§6.10): makes `linkPath` a symlink to `target`
   * (arguments in `ln -s` order; OpenSSH's order on the wire, PROTOCOL §4.1).
   */
  async symlink(target: string, linkPath: string): Promise<void> {
    this.#ok(
      await this.#call({ type: "symlink", target, linkPath }, linkPath),
      "symlink",
      linkPath,
    );
  }

  /** SSH_FXP_REALPATH (§6.11): the absolute, canonical form of `path`. */
  async realpath(path: string): Promise<string> {
    return this.#oneName(await this.#call({ type: "realpath", path }, path), "realpath", path);
  }

  // --- OpenSSH's extensions (PROTOCOL §4) --------------------------------

  /** True when the server advertised extension `name` (at the version this client speaks). */
  supports(name: string): boolean {
    const v = this.extensions.get(name);
    return v !== undefined &&
      (EXTENSION_VERSION[name] === undefined || v === EXTENSION_VERSION[name]);
  }

  /** posix-rename@openssh.com (§4.3): rename(2), replacing `newPath` if it exists. */
  async posixRename(oldPath: string, newPath: string): Promise<void> {
    const r = await this.#ext({ type: "posix-rename@openssh.com", oldPath, newPath }, oldPath);
    this.#ok(r, "posix-rename@openssh.com", oldPath);
  }

  /** statvfs@openssh.com (§4.4): the file system holding `path`. */
  async statvfs(path: string): Promise<StatVfs> {
    const r = await this.#ext({ type: "statvfs@openssh.com", path }, path);
    return decodeStatVfs(this.#extReply(r, "statvfs@openssh.com", path));
  }

  /** fstatvfs@openssh.com (§4.4). */
  async fstatvfs(handle: SftpHandle): Promise<StatVfs> {
    const r = await this.#ext({ type: "fstatvfs@openssh.com", handle: handle.bytes }, handle.path);
    return decodeStatVfs(this.#extReply(r, "fstatvfs@openssh.com", handle.path));
  }

  /** hardlink@openssh.com (§4.5): link(2), `newPath` becomes another name of `oldPath`. */
  async hardlink(oldPath: string, newPath: string): Promise<void> {
    const r = await this.#ext({ type: "hardlink@openssh.com", oldPath, newPath }, oldPath);
    this.#ok(r, "hardlink@openssh.com", oldPath);
  }

  /** fsync@openssh.com (§4.6): fsync(2) of an open file. */
  async fsync(handle: SftpHandle): Promise<void> {
    const r = await this.#ext({ type: "fsync@openssh.com", handle: handle.bytes }, handle.path);
    this.#ok(r, "fsync@openssh.com", handle.path);
  }

  /** lsetstat@openssh.com (§4.7): setstat that does not follow a symlink. */
  async lsetstat(path: string, attrs: FileAttributes): Promise<void> {
    this.#ok(
      await this.#ext({ type: "lsetstat@openssh.com", path, attrs }, path),
      "lsetstat",
      path,
    );
  }

  /** limits@openssh.com (§4.8), asked again (the session asked it once at start: {@link SftpClient.limits}). */
  async fetchLimits(): Promise<SftpLimits> {
    const r = await this.#ext({ type: "limits@openssh.com" }, undefined);
    return decodeLimits(this.#extReply(r, "limits@openssh.com", undefined));
  }

  /** expand-path@openssh.com (§4.9): realpath that also expands `~` and `~user`. */
  async expandPath(path: string): Promise<string> {
    const r = await this.#ext({ type: "expand-path@openssh.com", path }, path);
    return this.#oneName(r, "expand-path@openssh.com", path);
  }

  /**
   * copy-data (§4.10): the server copies `length` bytes (0: up to end of
   * file) from `from` at `fromOffset` to `to` at `toOffset`, without the
   * data crossing the connection.
   */
  async copyData(
    from: SftpHandle,
    to: SftpHandle,
    options: { fromOffset?: number; length?: number; toOffset?: number } = {},
  ): Promise<void> {
    const r = await this.#ext({
      type: "copy-data",
      readHandle: from.bytes,
      readOffset: options.fromOffset ?? 0,
      length: options.length ?? 0,
      writeHandle: to.bytes,
      writeOffset: options.toOffset ?? 0,
    }, from.path);
    this.#ok(r, "copy-data", from.path);
  }

  /** home-directory (§4.11): the home directory of user `username` (OpenSSH needs a name). */
  async homeDirectory(username: string): Promise<string> {
    const r = await this.#ext({ type: "home-directory", username }, undefined);
    return this.#oneName(r, "home-directory", undefined);
  }

  /**
   * users-groups-by-id@openssh.com (§4.12): the names of user and group
   * ids, in order; `""` for an id the server does not know.
   */
  async usersGroupsById(
    uids: readonly number[],
    gids: readonly number[],
  ): Promise<{ users: string[]; groups: string[] }> {
    const r = await this.#ext(
      { type: "users-groups-by-id@openssh.com", uids: [...uids], gids: [...gids] },
      undefined,
    );
    const out = decodeUsersGroups(this.#extReply(r, "users-groups-by-id@openssh.com", undefined));
    if (out.users.length !== uids.length || out.groups.length !== gids.length) {
      throw this.#core.protocol(
        `users-groups-by-id answered ${out.users.length}/${out.groups.length} names for ${uids.length}/${gids.length} ids`,
      );
    }
    return out;
  }

  // --- directory listings ------------------------------------------------------

  /**
   * The entries of directory `path` (`.` and `..` included, as the server
   * sends them), READDIR after READDIR until the end. The handle is closed
   * however the iteration ends, `break` included.
   *
   * @example
   * ```ts
   * import type { SftpClient } from "./client.ts";
   * async function names(s: SftpClient) {
   *   const out: string[] = [];
   *   for await (const e of s.list("/tmp")) out.push(e.filename);
   *   return out;
   * }
   * ```
   */
  async *list(path: string): AsyncGenerator<NameEntry, void, undefined> {
    const h = await this.opendir(path);
    try {
      for (;;) {
        const batch = await this.readdir(h);
        if (batch === null) return;
        yield* batch;
      }
    } finally {
      if (!this.isEnded) await this.closeHandle(h).catch(() => {});
    }
  }

  /**
   * {@link SftpClient.list} as an Observable (cold: each subscription lists
   * again); unsubscribing stops and closes the handle.
   *
   * @example
   * ```ts
   * import { toArray } from "rxjs";
   * import type { SftpClient } from "./client.ts";
   * declare const s: SftpClient;
   * s.list$("/tmp").pipe(toArray()).subscribe((all) => console.log(all.length));
   * ```
   */
  list$(path: string): Observable<NameEntry> {
    return new Observable<NameEntry>((sub) => {
      const it = this.list(path);
      let stopped = false;
      (async () => {
        for await (const e of it) {
          if (stopped) return;
          sub.next(e);
        }
        sub.complete();
      })().catch((e) => sub.error(e));
      return () => {
        stopped = true;
      };
    });
  }

  // --- streams and transfers (lib/sftp/streams.ts, lib/sftp/transfer.ts) ------

  /**
   * A remote file as a `ReadableStream` with read-ahead: see
   * {@link createReadStream}.
   *
   * @example
   * ```ts
   * import type { SftpClient } from "./client.ts";
   * declare const s: SftpClient;
   * const text = await new Response(s.createReadStream("/etc/hostname")).text();
   * ```
   */
  createReadStream(
    file: string | SftpHandle,
    options: ReadStreamOptions = {},
  ): ReadableStream<Uint8Array> {
    return createReadStream(this, file, options);
  }

  /**
   * A remote file as a `WritableStream` with write-behind: see
   * {@link createWriteStream}.
   *
   * @example
   * ```ts
   * import type { SftpClient } from "./client.ts";
   * declare const s: SftpClient;
   * await new Blob(["hello\n"]).stream().pipeTo(s.createWriteStream("/tmp/hello"));
   * ```
   */
  createWriteStream(
    file: string | SftpHandle,
    options: WriteStreamOptions = {},
  ): WritableStream<Uint8Array> {
    return createWriteStream(this, file, options);
  }

  /**
   * Downloads `remote` to `local` (`get`, `get -r`, `reget` with
   * `resume`): see {@link TransferOptions}. Await the result, or watch its
   * `progress$`.
   *
   * @example
   * ```ts
   * import type { SftpClient } from "./client.ts";
   * declare const s: SftpClient;
   * const { bytes } = await s.get("/etc/hostname", "/tmp/hostname", { preserve: true });
   * ```
   */
  get(remote: string, local: string, options: TransferOptions = {}): Transfer {
    return getFiles(this, remote, { ...options, local });
  }

  /**
   * Uploads `local` to `remote` (`put`, `put -r`, `reput` with `resume`):
   * see {@link TransferOptions}.
   *
   * @example
   * ```ts
   * import type { SftpClient } from "./client.ts";
   * declare const s: SftpClient;
   * await s.put("/tmp/site", "/srv/www", { recursive: true, preserve: true });
   * ```
   */
  put(local: string, remote: string, options: TransferOptions = {}): Transfer {
    return putFiles(this, local, { ...options, remote });
  }

  // --- internals ----------------------------------------------------------------

  #call(req: SftpRequest, path: string | undefined): Promise<SftpResponse> {
    return this.#core.request(req, path);
  }

  #ext(req: SftpRequest, path: string | undefined): Promise<SftpResponse> {
    if (!this.supports(req.type)) {
      return Promise.reject(
        new SftpError({ op: req.type, code: FX.OP_UNSUPPORTED, path, local: true }),
      );
    }
    return this.#core.request(req, path);
  }

  #statusError(r: SftpResponse & { type: "status" }, op: string, path?: string): SftpError {
    return new SftpError({ op, code: r.code, path, serverMessage: r.message });
  }

  #unexpected(r: SftpResponse, op: string): SftpConnectionError {
    return this.#core.protocol(`${op} answered with an unexpected ${r.type} reply`);
  }

  #ok(r: SftpResponse, op: string, path: string | undefined): void {
    if (r.type !== "status") throw this.#unexpected(r, op);
    if (r.code !== FX.OK) throw this.#statusError(r, op, path);
  }

  #eofOrThrow(r: SftpResponse, op: string, path: string): null {
    if (r.type !== "status") throw this.#unexpected(r, op);
    if (r.code === FX.EOF) return null;
    throw this.#statusError(r, op, path);
  }

  #handle(r: SftpResponse, op: string, path: string): Uint8Array {
    if (r.type === "handle") return r.handle;
    if (r.type === "status" && r.code !== FX.OK) throw this.#statusError(r, op, path);
    throw this.#unexpected(r, op);
  }

  #attrs(r: SftpResponse, op: string, path: string): FileAttributes {
    if (r.type === "attrs") return r.attrs;
    if (r.type === "status" && r.code !== FX.OK) throw this.#statusError(r, op, path);
    throw this.#unexpected(r, op);
  }

  #oneName(r: SftpResponse, op: string, path: string | undefined): string {
    if (r.type === "name") {
      if (r.entries.length !== 1) {
        throw this.#core.protocol(`${op} answered with ${r.entries.length} names instead of 1`);
      }
      return r.entries[0].filename;
    }
    if (r.type === "status" && r.code !== FX.OK) throw this.#statusError(r, op, path);
    throw this.#unexpected(r, op);
  }

  #extReply(r: SftpResponse, op: string, path: string | undefined): Uint8Array {
    if (r.type === "extended-reply") return r.data;
    if (r.type === "status" && r.code !== FX.OK) throw this.#statusError(r, op, path);
    throw this.#unexpected(r, op);
  }
}

/**
 * The session's engine: ids, the table of waiting requests, the reader
 * loop, the framer and the single failure path. Private to this module.
 */
class SftpCore {
  failure: SftpConnectionError | undefined;
  readonly ended: Promise<SftpConnectionError>;
  #endedResolve!: (e: SftpConnectionError) => void;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #framer: SftpFramer;
  #pending = new Map<number, Pending>();
  #nextId = 1;
  #hello: { resolve(p: Uint8Array): void } | undefined;
  #onEnd: SftpClientOptions["onEnd"];
  #loopDone: Promise<void>;

  constructor(stream: ByteStreamPair, options: { maxPacketLength: number } & SftpClientOptions) {
    this.ended = new Promise((r) => (this.#endedResolve = r));
    this.#writer = stream.writable.getWriter();
    this.#reader = stream.readable.getReader();
    this.#framer = new SftpFramer(options.maxPacketLength);
    this.#onEnd = options.onEnd;
    this.#writer.closed.catch(() => {});
    this.#loopDone = this.#readLoop();
  }

  /** Sends INIT and waits for VERSION (draft §4). */
  hello(timeoutMs: number): Promise<Uint8Array> {
    return new Promise<Uint8Array>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(
          new SftpConnectionError(`no SSH_FXP_VERSION from the server within ${timeoutMs} ms`),
        );
      }, timeoutMs);
      this.ended.then((e) => (clearTimeout(timer), reject(e)));
      this.#hello = {
        resolve: (p) => {
          clearTimeout(timer);
          resolve(p);
        },
      };
      this.#send(encodeHello("init", 3));
    });
  }

  request(req: SftpRequest, _path: string | undefined): Promise<SftpResponse> {
    if (this.failure) return Promise.reject(this.failure);
    let id = this.#nextId;
    while (this.#pending.has(id)) id = (id + 1) >>> 0;
    this.#nextId = (id + 1) >>> 0;
    const packet = encodeRequest(id, req);
    return new Promise<SftpResponse>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#send(packet);
    });
  }

  /** A reply that breaks the protocol: ends the session and returns the error to throw. */
  protocol(problem: string): SftpConnectionError {
    const e = new SftpConnectionError(`SFTP protocol error from the server: ${problem}`);
    this.fail(e);
    return this.failure ?? e;
  }

  async close(): Promise<void> {
    if (!this.failure) {
      this.fail(new SftpConnectionError("the SFTP session was closed by this side"), true);
    }
    // Bounded: a server that does not go away after EOF is not waited for.
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.#loopDone,
      new Promise<void>((r) => (timer = setTimeout(r, 2000))),
    ]);
    clearTimeout(timer);
    this.#reader.cancel().catch(() => {});
  }

  /** The one failure path: every waiting request rejects with `e`, the streams end. */
  fail(e: SftpConnectionError, graceful = false): void {
    if (this.failure) return;
    this.failure = e;
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) p.reject(e);
    if (graceful) {
      this.#writer.close().catch(() => {});
    } else {
      this.#writer.abort(e).catch(() => {});
      this.#reader.cancel(e).catch(() => {});
    }
    this.#endedResolve(e);
    if (this.#onEnd) {
      Promise.resolve().then(() => this.#onEnd!(e)).catch(() => {});
    }
  }

  #send(packet: Uint8Array): void {
    this.#writer.write(packet).catch((err) => {
      this.fail(new SftpConnectionError("cannot send to the SFTP server", { cause: err }));
    });
  }

  async #readLoop(): Promise<void> {
    try {
      for (;;) {
        const { value, done } = await this.#reader.read();
        if (done) break;
        if (this.failure) continue; // draining after close(): replies are no longer wanted
        this.#framer.push(value, this.#onPacket);
      }
      this.fail(new SftpConnectionError("the server closed the SFTP stream"));
    } catch (e) {
      const why = e instanceof WireError
        ? `SFTP protocol error from the server: ${e.message}`
        : "the SFTP stream failed";
      this.fail(new SftpConnectionError(why, { cause: e }));
    }
  }

  #onPacket = (packet: Uint8Array): void => {
    if (this.#hello) {
      const h = this.#hello;
      this.#hello = undefined;
      h.resolve(packet);
      return;
    }
    if (packet.length < 5) throw new WireError("packet too short", { field: "id", offset: 1 });
    const id = u32(packet, 1);
    const p = this.#pending.get(id);
    if (p === undefined) {
      throw new WireError(`reply to request ${id}, which is not outstanding`, {
        field: "sftp request id",
        offset: 1,
      });
    }
    let response: SftpResponse;
    // The data path: a DATA reply is sliced here, without the generic decoder.
    if (packet[0] === FXP.DATA && packet.length >= 9 && u32(packet, 5) === packet.length - 9) {
      response = { type: "data", data: packet.subarray(9) };
    } else {
      response = decodeResponse(packet).response;
    }
    this.#pending.delete(id);
    p.resolve(response);
  };
}

/**
 * READ and WRITE lengths: the server's limits@openssh.com (0: no limit)
 * or, without it, 32 KiB; never more than `blockSize` nor what fits in a
 * packet either side accepts.
 */
function blockSizes(
  limits: SftpLimits | undefined,
  options: { blockSize?: number; maxPacketLength: number },
): { readBlockSize: number; writeBlockSize: number } {
  const room = (max: number) => (max > 0 ? max - PACKET_OVERHEAD : Infinity);
  const cap = Math.min(
    room(options.maxPacketLength),
    room(limits?.maxPacketLength ?? 0),
    options.blockSize ?? Infinity,
  );
  const pick = (serverMax: number | undefined) => {
    const base = limits ? (serverMax && serverMax > 0 ? serverMax : Infinity) : DEFAULT_BLOCK;
    return Math.max(1, Math.floor(Math.min(base, cap)));
  };
  return {
    readBlockSize: pick(limits?.maxReadLength),
    writeBlockSize: pick(limits?.maxWriteLength),
  };
}

/**
 * Starts an SFTP session over `stream`: sends SSH_FXP_INIT (version 3),
 * reads the server's SSH_FXP_VERSION and its extensions, and asks
 * limits@openssh.com when the server advertises it, to size reads and
 * writes.
 *
 * @example
 * ```ts
 * import { runCommand } from "../runtime/process.ts";
 * import { openSftp } from "./client.ts";
 * const p = runCommand("exec /usr/lib/openssh/sftp-server", {});
 * const s = await openSftp({ readable: p.stdout, writable: p.stdin });
 * console.log(s.extensions.has("limits@openssh.com"), s.readBlockSize);
 * await s.close();
 * ```
 */
export async function openSftp(
  stream: ByteStreamPair,
  options: SftpClientOptions = {},
): Promise<SftpClient> {
  const maxPacketLength = options.maxPacketLength ?? MAX_PACKET_LENGTH;
  const core = new SftpCore(stream, { ...options, maxPacketLength });
  let hello;
  try {
    hello = decodeHello(await core.hello(options.handshakeTimeoutMs ?? 30_000));
  } catch (e) {
    const err = e instanceof SftpConnectionError
      ? e
      : new SftpConnectionError(`bad SSH_FXP_VERSION: ${(e as Error).message}`, { cause: e });
    core.fail(err);
    throw err;
  }
  if (hello.kind !== "version" || hello.version < 3) {
    const e = new SftpConnectionError(
      `the server speaks SFTP version ${hello.version}; this client needs version 3`,
    );
    core.fail(e);
    throw e;
  }
  const extensions = hello.extensions;
  const probe = makeClient(core, {
    version: hello.version,
    extensions,
    limits: undefined,
    readBlockSize: DEFAULT_BLOCK,
    writeBlockSize: DEFAULT_BLOCK,
  });
  let limits: SftpLimits | undefined;
  if (probe.supports("limits@openssh.com")) {
    // A server that advertises limits but refuses them gets the draft's sizes, as OpenSSH does.
    limits = await probe.fetchLimits().catch((e) => {
      if (e instanceof SftpError) return undefined;
      throw e;
    });
  }
  const client = makeClient(core, {
    version: hello.version,
    extensions,
    limits,
    ...blockSizes(limits, { blockSize: options.blockSize, maxPacketLength }),
  });
  return client;
}

/**
 * The session side of {@link sftp}: anything that starts a subsystem the
 * way `SshClient.subsystem` does.
 *
 * @example
 * ```ts
 * import type { SubsystemStarter } from "./client.ts";
 * import type { SshClient } from "../../mod.ts";
 * const ok = (c: SshClient): SubsystemStarter => c;
 * ```
 */
export interface SubsystemStarter {
  /** Opens a session channel and starts subsystem `name` on it. */
  subsystem(name: string): Promise<SubsystemSession>;
}

/**
 * What {@link sftp} uses of a started subsystem (a `Session` has it all).
 *
 * @example
 * ```ts
 * import type { SubsystemSession } from "./client.ts";
 * const drop = (s: SubsystemSession) => s.stderr.cancel();
 * ```
 */
export interface SubsystemSession {
  /** Bytes to the subsystem. */
  readonly stdin: WritableStream<Uint8Array>;
  /** Bytes from it. */
  readonly stdout: ReadableStream<Uint8Array>;
  /** Its extended data (stderr). */
  readonly stderr: ReadableStream<Uint8Array>;
  /** The channel, closed when the SFTP session ends. */
  readonly channel: { close(): Promise<void> };
}

/**
 * Starts the `sftp` subsystem on an SSH connection and opens an SFTP
 * session over it. `close()` ends the session and closes the channel; the
 * server's stderr is read and dropped.
 *
 * @example
 * ```ts
 * import { connect } from "../../mod.ts";
 * import { sftp } from "./client.ts";
 * declare const client: Awaited<ReturnType<typeof connect>>;
 * await using s = await sftp(client);
 * for await (const e of s.list(".")) console.log(e.longname);
 * ```
 */
export async function sftp(
  client: SubsystemStarter,
  options: SftpClientOptions = {},
): Promise<SftpClient> {
  const session = await client.subsystem("sftp");
  session.stderr.pipeTo(new WritableStream()).catch(() => {});
  const onEnd = options.onEnd;
  try {
    return await openSftp({ readable: session.stdout, writable: session.stdin }, {
      ...options,
      onEnd: async (e) => {
        await session.channel.close().catch(() => {});
        await onEnd?.(e);
      },
    });
  } catch (e) {
    await session.channel.close().catch(() => {});
    throw e;
  }
}
