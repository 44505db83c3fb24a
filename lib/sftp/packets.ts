/**
 * SFTP version 3 packets (draft-ietf-secsh-filexfer-02) with OpenSSH's
 * extensions (OpenSSH PROTOCOL §4): the numbers, file attributes, a framer
 * for the length-prefixed stream, and one codec for every request and
 * response, shared by the client and the server.
 *
 * Every packet is `uint32 length, byte type, uint32 request-id, ...`
 * (§3); INIT and VERSION carry a version instead of an id.
 *
 * @example
 * ```ts
 * import { decodeRequest, encodeRequest } from "./packets.ts";
 * const bytes = encodeRequest(7, { type: "stat", path: "/etc/hostname" });
 * const back = decodeRequest(bytes.subarray(4));
 * console.log(back.id, back.request.type); // 7 "stat"
 * ```
 *
 * @module
 */
import { SshReader } from "../wire/reader.ts";
import { SshWriter } from "../wire/writer.ts";
import { WireError } from "../wire/errors.ts";

/**
 * SFTP packet types (draft-ietf-secsh-filexfer-02 §3).
 *
 * @example
 * ```ts
 * import { FXP } from "./packets.ts";
 * console.log(FXP.OPEN, FXP.STATUS); // 3 101
 * ```
 */
export const FXP = {
  INIT: 1,
  VERSION: 2,
  OPEN: 3,
  CLOSE: 4,
  READ: 5,
  WRITE: 6,
  LSTAT: 7,
  FSTAT: 8,
  SETSTAT: 9,
  FSETSTAT: 10,
  OPENDIR: 11,
  READDIR: 12,
  REMOVE: 13,
  MKDIR: 14,
  RMDIR: 15,
  REALPATH: 16,
  STAT: 17,
  RENAME: 18,
  READLINK: 19,
  SYMLINK: 20,
  STATUS: 101,
  HANDLE: 102,
  DATA: 103,
  NAME: 104,
  ATTRS: 105,
  EXTENDED: 200,
  EXTENDED_REPLY: 201,
} as const;

/**
 * SSH_FX status codes (draft-ietf-secsh-filexfer-02 §7).
 *
 * @example
 * ```ts
 * import { FX } from "./packets.ts";
 * console.log(FX.NO_SUCH_FILE); // 2
 * ```
 */
export const FX = {
  OK: 0,
  EOF: 1,
  NO_SUCH_FILE: 2,
  PERMISSION_DENIED: 3,
  FAILURE: 4,
  BAD_MESSAGE: 5,
  NO_CONNECTION: 6,
  CONNECTION_LOST: 7,
  OP_UNSUPPORTED: 8,
} as const;

/**
 * An SSH_FX status code.
 *
 * @example
 * ```ts
 * import { FX, type StatusCode } from "./packets.ts";
 * const c: StatusCode = FX.EOF;
 * ```
 */
export type StatusCode = (typeof FX)[keyof typeof FX];

const FX_NAMES = Object.fromEntries(Object.entries(FX).map(([k, v]) => [v, `SSH_FX_${k}`]));

/**
 * The name of a status code as the draft spells it (`SSH_FX_EOF`); an
 * unknown code is shown as a number.
 *
 * @example
 * ```ts
 * import { statusName } from "./packets.ts";
 * console.log(statusName(3), statusName(99)); // SSH_FX_PERMISSION_DENIED SSH_FX_99
 * ```
 */
export function statusName(code: number): string {
  return FX_NAMES[code] ?? `SSH_FX_${code}`;
}

/**
 * `pflags` of SSH_FXP_OPEN (draft-ietf-secsh-filexfer-02 §6.3).
 *
 * @example
 * ```ts
 * import { OpenFlags } from "./packets.ts";
 * const create = OpenFlags.WRITE | OpenFlags.CREAT | OpenFlags.TRUNC;
 * ```
 */
export const OpenFlags = {
  READ: 0x01,
  WRITE: 0x02,
  APPEND: 0x04,
  CREAT: 0x08,
  TRUNC: 0x10,
  EXCL: 0x20,
} as const;

/**
 * Which attribute fields are present (draft-ietf-secsh-filexfer-02 §5).
 *
 * @example
 * ```ts
 * import { AttrFlags } from "./packets.ts";
 * console.log(AttrFlags.ACMODTIME); // 8
 * ```
 */
export const AttrFlags = {
  SIZE: 0x00000001,
  UIDGID: 0x00000002,
  PERMISSIONS: 0x00000004,
  ACMODTIME: 0x00000008,
  EXTENDED: 0x80000000,
} as const;

/**
 * File attributes (draft-ietf-secsh-filexfer-02 §5). Absent fields were not
 * sent. `uid` and `gid` travel together, as `atime` and `mtime` do (in whole
 * seconds since the epoch); encoding one of a pair without the other sends
 * the missing one as 0. `permissions` holds the file type bits too
 * (`S_IFDIR` 0o040000 and so on), as OpenSSH sends them.
 *
 * @example
 * ```ts
 * import type { FileAttributes } from "./packets.ts";
 * const a: FileAttributes = { permissions: 0o100644, size: 12, mtime: 1_700_000_000, atime: 1_700_000_000 };
 * ```
 */
export interface FileAttributes {
  /** Size in bytes. */
  size?: number;
  /** Owner's numeric id. */
  uid?: number;
  /** Group's numeric id. */
  gid?: number;
  /** Mode bits, with the file type. */
  permissions?: number;
  /** Access time, seconds since the epoch. */
  atime?: number;
  /** Modification time, seconds since the epoch. */
  mtime?: number;
  /** Extended attributes (`extended_type`, `extended_data` pairs). */
  extended?: ReadonlyArray<readonly [string, Uint8Array]>;
}

/**
 * File type bits of `permissions` (POSIX `S_IFMT` and its types).
 *
 * @example
 * ```ts
 * import { FileType } from "./packets.ts";
 * const isDir = (mode: number) => (mode & FileType.MASK) === FileType.DIRECTORY;
 * console.log(isDir(0o040755)); // true
 * ```
 */
export const FileType = {
  MASK: 0o170000,
  SOCKET: 0o140000,
  SYMLINK: 0o120000,
  REGULAR: 0o100000,
  BLOCK: 0o060000,
  DIRECTORY: 0o040000,
  CHARACTER: 0o020000,
  FIFO: 0o010000,
} as const;

/**
 * Writes `attrs` (§5) to `w`.
 *
 * @example
 * ```ts
 * import { writeAttrs } from "./packets.ts";
 * import { SshWriter } from "../wire/writer.ts";
 * const bytes = writeAttrs(new SshWriter(), { permissions: 0o644 }).finish();
 * console.log(bytes.length); // 8
 * ```
 */
export function writeAttrs(w: SshWriter, a: FileAttributes): SshWriter {
  let flags = 0;
  if (a.size !== undefined) flags |= AttrFlags.SIZE;
  if (a.uid !== undefined || a.gid !== undefined) flags |= AttrFlags.UIDGID;
  if (a.permissions !== undefined) flags |= AttrFlags.PERMISSIONS;
  if (a.atime !== undefined || a.mtime !== undefined) flags |= AttrFlags.ACMODTIME;
  if (a.extended?.length) flags |= AttrFlags.EXTENDED;
  w.uint32(flags >>> 0);
  if (a.size !== undefined) w.uint64(BigInt(a.size));
  if (flags & AttrFlags.UIDGID) w.uint32(a.uid ?? 0).uint32(a.gid ?? 0);
  if (a.permissions !== undefined) w.uint32(a.permissions >>> 0);
  if (flags & AttrFlags.ACMODTIME) w.uint32(a.atime ?? 0).uint32(a.mtime ?? 0);
  if (a.extended?.length) {
    w.uint32(a.extended.length);
    for (const [type, data] of a.extended) w.string(type).string(data);
  }
  return w;
}

/** At most this many extended attribute pairs are accepted in one ATTRS. */
const MAX_EXTENDED_ATTRS = 1024;

/**
 * Reads `attrs` (§5). Unknown flag bits are a {@link WireError}: their
 * fields could not be skipped.
 *
 * @example
 * ```ts
 * import { readAttrs } from "./packets.ts";
 * import { SshReader } from "../wire/reader.ts";
 * const a = readAttrs(new SshReader(new Uint8Array([0, 0, 0, 4, 0, 0, 1, 0xa4])));
 * console.log(a.permissions?.toString(8)); // 644
 * ```
 */
export function readAttrs(r: SshReader): FileAttributes {
  const at = r.offset;
  const flags = r.uint32("attrs flags");
  const known = AttrFlags.SIZE | AttrFlags.UIDGID | AttrFlags.PERMISSIONS | AttrFlags.ACMODTIME |
    AttrFlags.EXTENDED;
  if ((flags & ~known) !== 0) {
    throw new WireError(`unknown attribute flags 0x${(flags >>> 0).toString(16)}`, {
      field: "attrs flags",
      offset: at,
    });
  }
  const a: FileAttributes = {};
  if (flags & AttrFlags.SIZE) a.size = safeNumber(r, "attrs size");
  if (flags & AttrFlags.UIDGID) {
    a.uid = r.uint32("attrs uid");
    a.gid = r.uint32("attrs gid");
  }
  if (flags & AttrFlags.PERMISSIONS) a.permissions = r.uint32("attrs permissions");
  if (flags & AttrFlags.ACMODTIME) {
    a.atime = r.uint32("attrs atime");
    a.mtime = r.uint32("attrs mtime");
  }
  if (flags & AttrFlags.EXTENDED) {
    const countAt = r.offset;
    const count = r.uint32("attrs extended count");
    if (count > MAX_EXTENDED_ATTRS) {
      throw new WireError(`${count} extended attributes (at most ${MAX_EXTENDED_ATTRS})`, {
        field: "attrs extended count",
        offset: countAt,
      });
    }
    const ext: [string, Uint8Array][] = [];
    for (let i = 0; i < count; i++) {
      ext.push([r.utf8("attrs extended type"), r.string("attrs extended data").slice()]);
    }
    a.extended = ext;
  }
  return a;
}

/** A uint64 as a number; past 2^53 − 1 it is a {@link WireError}. */
function safeNumber(r: SshReader, field: string): number {
  const at = r.offset;
  const v = r.uint64(field);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new WireError(`${v} is past 2^53 - 1`, { field, offset: at });
  }
  return Number(v);
}

/**
 * One entry of SSH_FXP_NAME (§7): a name, the `ls -l` line the server
 * made for it (empty in realpath replies and in servers that send none),
 * and its attributes.
 *
 * @example
 * ```ts
 * import type { NameEntry } from "./packets.ts";
 * const e: NameEntry = { filename: "a.txt", longname: "-rw-r--r-- 1 u u 3 Jan 1 00:00 a.txt", attrs: {} };
 * ```
 */
export interface NameEntry {
  /** The file name (a directory entry's name, or a full path for realpath). */
  filename: string;
  /** `ls -l` style line. */
  longname: string;
  /** What the server sent of its attributes. */
  attrs: FileAttributes;
}

/**
 * statvfs@openssh.com's reply (PROTOCOL §4.4): `struct statvfs` as
 * numbers.
 *
 * @example
 * ```ts
 * import type { StatVfs } from "./packets.ts";
 * const free = (s: StatVfs) => s.frsize * s.bavail;
 * ```
 */
export interface StatVfs {
  /** File system block size. */
  bsize: number;
  /** Fundamental block size. */
  frsize: number;
  /** Blocks, in `frsize` units. */
  blocks: number;
  /** Free blocks. */
  bfree: number;
  /** Free blocks for unprivileged users. */
  bavail: number;
  /** Inodes. */
  files: number;
  /** Free inodes. */
  ffree: number;
  /** Free inodes for unprivileged users. */
  favail: number;
  /** File system id (a full 64-bit value, hence a bigint). */
  fsid: bigint;
  /** ST_RDONLY 1, ST_NOSUID 2. */
  flag: number;
  /** Longest file name. */
  namemax: number;
}

const STATVFS_FIELDS = [
  "bsize",
  "frsize",
  "blocks",
  "bfree",
  "bavail",
  "files",
  "ffree",
  "favail",
  "fsid",
  "flag",
  "namemax",
] as const;

/**
 * limits@openssh.com's reply (PROTOCOL §4.8); 0 means "no limit".
 *
 * @example
 * ```ts
 * import type { SftpLimits } from "./packets.ts";
 * const l: SftpLimits = { maxPacketLength: 262144, maxReadLength: 261120, maxWriteLength: 261120, maxOpenHandles: 0 };
 * ```
 */
export interface SftpLimits {
  /** Longest packet the server accepts, length field included. */
  maxPacketLength: number;
  /** Largest READ the server answers in full. */
  maxReadLength: number;
  /** Largest WRITE it accepts. */
  maxWriteLength: number;
  /** Most handles open at once. */
  maxOpenHandles: number;
}

/**
 * A client's request: the v3 requests, and OpenSSH's extensions decoded
 * into their own shapes. An extension this codec does not know is
 * `{ type: "extended", name, data }`.
 *
 * @example
 * ```ts
 * import type { SftpRequest } from "./packets.ts";
 * const r: SftpRequest = { type: "read", handle: new Uint8Array([1]), offset: 0, length: 32768 };
 * ```
 */
export type SftpRequest =
  | { type: "open"; path: string; flags: number; attrs: FileAttributes }
  | { type: "close"; handle: Uint8Array }
  | { type: "read"; handle: Uint8Array; offset: number; length: number }
  | { type: "write"; handle: Uint8Array; offset: number; data: Uint8Array }
  | { type: "lstat"; path: string }
  | { type: "fstat"; handle: Uint8Array }
  | { type: "setstat"; path: string; attrs: FileAttributes }
  | { type: "fsetstat"; handle: Uint8Array; attrs: FileAttributes }
  | { type: "opendir"; path: string }
  | { type: "readdir"; handle: Uint8Array }
  | { type: "remove"; path: string }
  | { type: "mkdir"; path: string; attrs: FileAttributes }
  | { type: "rmdir"; path: string }
  | { type: "realpath"; path: string }
  | { type: "stat"; path: string }
  | { type: "rename"; oldPath: string; newPath: string }
  | { type: "readlink"; path: string }
  /** `target` is what the new link at `linkPath` points to (OpenSSH's order on the wire, PROTOCOL §4.1). */
  | { type: "symlink"; target: string; linkPath: string }
  | { type: "posix-rename@openssh.com"; oldPath: string; newPath: string }
  | { type: "statvfs@openssh.com"; path: string }
  | { type: "fstatvfs@openssh.com"; handle: Uint8Array }
  | { type: "hardlink@openssh.com"; oldPath: string; newPath: string }
  | { type: "fsync@openssh.com"; handle: Uint8Array }
  | { type: "lsetstat@openssh.com"; path: string; attrs: FileAttributes }
  | { type: "limits@openssh.com" }
  | { type: "expand-path@openssh.com"; path: string }
  | {
    type: "copy-data";
    readHandle: Uint8Array;
    readOffset: number;
    length: number;
    writeHandle: Uint8Array;
    writeOffset: number;
  }
  | { type: "home-directory"; username: string }
  | { type: "users-groups-by-id@openssh.com"; uids: number[]; gids: number[] }
  | { type: "extended"; name: string; data: Uint8Array };

/**
 * A server's reply.
 *
 * @example
 * ```ts
 * import type { SftpResponse } from "./packets.ts";
 * const ok: SftpResponse = { type: "status", code: 0, message: "Success", language: "" };
 * ```
 */
export type SftpResponse =
  | { type: "status"; code: number; message: string; language: string }
  | { type: "handle"; handle: Uint8Array }
  | { type: "data"; data: Uint8Array }
  | { type: "name"; entries: NameEntry[] }
  | { type: "attrs"; attrs: FileAttributes }
  | { type: "extended-reply"; data: Uint8Array };

/**
 * The packet types of the v3 requests that carry one path or one handle
 * and nothing else, by request type.
 */
const PATH_ONLY = {
  lstat: FXP.LSTAT,
  opendir: FXP.OPENDIR,
  remove: FXP.REMOVE,
  rmdir: FXP.RMDIR,
  realpath: FXP.REALPATH,
  stat: FXP.STAT,
  readlink: FXP.READLINK,
} as const;
const HANDLE_ONLY = { close: FXP.CLOSE, fstat: FXP.FSTAT, readdir: FXP.READDIR } as const;
const BY_NUMBER: Record<number, string> = Object.fromEntries(
  [...Object.entries(PATH_ONLY), ...Object.entries(HANDLE_ONLY)].map(([k, v]) => [v, k]),
);

/**
 * Handles are at most 256 bytes (draft-ietf-secsh-filexfer-02 §6.2).
 *
 * @example
 * ```ts
 * import { MAX_HANDLE_LENGTH } from "./packets.ts";
 * console.log(MAX_HANDLE_LENGTH); // 256
 * ```
 */
export const MAX_HANDLE_LENGTH = 256;

/**
 * The largest packet either side accepts by default, length field
 * excluded: OpenSSH's SFTP_MAX_MSG_LENGTH (256 KiB), which holds a 255 KiB
 * read or write with its header.
 *
 * @example
 * ```ts
 * import { MAX_PACKET_LENGTH } from "./packets.ts";
 * console.log(MAX_PACKET_LENGTH); // 262144
 * ```
 */
export const MAX_PACKET_LENGTH = 256 * 1024;

/** Starts a packet: length placeholder, type, id. */
function start(type: number, id: number, size = 64): SshWriter {
  return new SshWriter(size + 9, 4).byte(type).uint32(id >>> 0);
}

/** Fills in the length field and returns the whole packet. */
function done(w: SshWriter): Uint8Array {
  const p = w.finish();
  new DataView(p.buffer, p.byteOffset, 4).setUint32(0, p.length - 4);
  return p;
}

/** Writes an extension request's body after its name. */
function writeExtension(w: SshWriter, r: SftpRequest): void {
  switch (r.type) {
    case "posix-rename@openssh.com":
    case "hardlink@openssh.com":
      w.string(r.oldPath).string(r.newPath);
      return;
    case "statvfs@openssh.com":
    case "expand-path@openssh.com":
      w.string(r.path);
      return;
    case "fstatvfs@openssh.com":
    case "fsync@openssh.com":
      w.string(r.handle);
      return;
    case "lsetstat@openssh.com":
      writeAttrs(w.string(r.path), r.attrs);
      return;
    case "limits@openssh.com":
      return;
    case "copy-data":
      w.string(r.readHandle).uint64(r.readOffset).uint64(r.length).string(r.writeHandle)
        .uint64(r.writeOffset);
      return;
    case "home-directory":
      w.string(r.username);
      return;
    case "users-groups-by-id@openssh.com":
      w.string(packIds(r.uids)).string(packIds(r.gids));
      return;
    case "extended":
      w.raw(r.data);
      return;
  }
}

function packIds(ids: readonly number[]): Uint8Array {
  const w = new SshWriter(ids.length * 4 + 16);
  for (const id of ids) w.uint32(id);
  return w.finish();
}

/**
 * Encodes request `r` with id `id` as a whole packet, length field
 * included.
 *
 * @example
 * ```ts
 * import { encodeRequest } from "./packets.ts";
 * const p = encodeRequest(1, { type: "realpath", path: "." });
 * console.log(p[4]); // 16 (SSH_FXP_REALPATH)
 * ```
 */
export function encodeRequest(id: number, r: SftpRequest): Uint8Array {
  if (r.type in PATH_ONLY) {
    const p = r as { type: keyof typeof PATH_ONLY; path: string };
    return done(start(PATH_ONLY[p.type], id, p.path.length * 3 + 4).string(p.path));
  }
  if (r.type in HANDLE_ONLY) {
    const h = r as { type: keyof typeof HANDLE_ONLY; handle: Uint8Array };
    return done(start(HANDLE_ONLY[h.type], id, h.handle.length + 4).string(h.handle));
  }
  switch (r.type) {
    case "open":
      return done(writeAttrs(start(FXP.OPEN, id).string(r.path).uint32(r.flags), r.attrs));
    case "read":
      return done(start(FXP.READ, id).string(r.handle).uint64(r.offset).uint32(r.length));
    case "write":
      return done(
        start(FXP.WRITE, id, r.handle.length + r.data.length + 16).string(r.handle)
          .uint64(r.offset).string(r.data),
      );
    case "setstat":
      return done(writeAttrs(start(FXP.SETSTAT, id).string(r.path), r.attrs));
    case "fsetstat":
      return done(writeAttrs(start(FXP.FSETSTAT, id).string(r.handle), r.attrs));
    case "mkdir":
      return done(writeAttrs(start(FXP.MKDIR, id).string(r.path), r.attrs));
    case "rename":
      return done(start(FXP.RENAME, id).string(r.oldPath).string(r.newPath));
    case "symlink":
      // OpenSSH sends the target first (PROTOCOL §4.1), the draft the link.
      return done(start(FXP.SYMLINK, id).string(r.target).string(r.linkPath));
    default: {
      const name = r.type === "extended" ? r.name : r.type;
      const w = start(FXP.EXTENDED, id).string(name);
      writeExtension(w, r);
      return done(w);
    }
  }
}

/**
 * Decodes a request packet (type byte onward, without the length field).
 * A malformed packet is a {@link WireError}; an unknown packet type is a
 * {@link SftpUnknownRequest} carrying the id so that the server can answer
 * SSH_FX_OP_UNSUPPORTED.
 *
 * @example
 * ```ts
 * import { decodeRequest, encodeRequest } from "./packets.ts";
 * const p = encodeRequest(9, { type: "rename", oldPath: "a", newPath: "b" });
 * console.log(decodeRequest(p.subarray(4)).request); // { type: "rename", oldPath: "a", newPath: "b" }
 * ```
 */
export function decodeRequest(packet: Uint8Array): { id: number; request: SftpRequest } {
  const r = new SshReader(packet);
  const type = r.byte("sftp packet type");
  const id = r.uint32("sftp request id");
  const request = decodeRequestBody(type, id, r);
  r.end(`SSH_FXP ${type}`);
  return { id, request };
}

function decodeRequestBody(type: number, id: number, r: SshReader): SftpRequest {
  const path = (f = "path") => r.utf8(f);
  const handle = () => readHandle(r);
  const named = BY_NUMBER[type];
  if (named !== undefined) {
    return (named in PATH_ONLY
      ? { type: named, path: path() }
      : { type: named, handle: handle() }) as SftpRequest;
  }
  switch (type) {
    case FXP.OPEN:
      return { type: "open", path: path(), flags: r.uint32("pflags"), attrs: readAttrs(r) };
    case FXP.READ:
      return {
        type: "read",
        handle: handle(),
        offset: safeNumber(r, "offset"),
        length: r.uint32("length"),
      };
    case FXP.WRITE:
      return {
        type: "write",
        handle: handle(),
        offset: safeNumber(r, "offset"),
        data: r.string("data"),
      };
    case FXP.SETSTAT:
      return { type: "setstat", path: path(), attrs: readAttrs(r) };
    case FXP.FSETSTAT:
      return { type: "fsetstat", handle: handle(), attrs: readAttrs(r) };
    case FXP.MKDIR:
      return { type: "mkdir", path: path(), attrs: readAttrs(r) };
    case FXP.RENAME:
      return { type: "rename", oldPath: path("oldpath"), newPath: path("newpath") };
    case FXP.SYMLINK:
      return { type: "symlink", target: path("targetpath"), linkPath: path("linkpath") };
    case FXP.EXTENDED:
      return decodeExtension(r);
    default:
      throw new SftpUnknownRequest(type, id);
  }
}

function readHandle(r: SshReader): Uint8Array {
  const at = r.offset;
  const h = r.string("handle");
  if (h.length > MAX_HANDLE_LENGTH) {
    throw new WireError(`handle of ${h.length} bytes (at most ${MAX_HANDLE_LENGTH})`, {
      field: "handle",
      offset: at,
    });
  }
  return h;
}

/** At most this many ids in one users-groups-by-id request. */
const MAX_IDS = 65536;

function unpackIds(r: SshReader, field: string): number[] {
  const at = r.offset;
  const b = r.string(field);
  if (b.length % 4 !== 0 || b.length / 4 > MAX_IDS) {
    throw new WireError(`${b.length} bytes is not a list of at most ${MAX_IDS} uint32`, {
      field,
      offset: at,
    });
  }
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  return Array.from({ length: b.length / 4 }, (_, i) => v.getUint32(i * 4));
}

function decodeExtension(r: SshReader): SftpRequest {
  const name = r.utf8("extended-request");
  const path = (f = "path") => r.utf8(f);
  switch (name) {
    case "posix-rename@openssh.com":
    case "hardlink@openssh.com":
      return { type: name, oldPath: path("oldpath"), newPath: path("newpath") };
    case "statvfs@openssh.com":
    case "expand-path@openssh.com":
      return { type: name, path: path() };
    case "fstatvfs@openssh.com":
    case "fsync@openssh.com":
      return { type: name, handle: readHandle(r) };
    case "lsetstat@openssh.com":
      return { type: name, path: path(), attrs: readAttrs(r) };
    case "limits@openssh.com":
      return { type: name };
    case "copy-data":
      return {
        type: name,
        readHandle: readHandle(r),
        readOffset: safeNumber(r, "read-from-offset"),
        length: safeNumber(r, "read-data-length"),
        writeHandle: readHandle(r),
        writeOffset: safeNumber(r, "write-to-offset"),
      };
    case "home-directory":
      return { type: name, username: r.utf8("username") };
    case "users-groups-by-id@openssh.com":
      return { type: name, uids: unpackIds(r, "uids"), gids: unpackIds(r, "gids") };
    default:
      return { type: "extended", name, data: r.rest() };
  }
}

/**
 * A request packet of a type this codec does not know: the server answers
 * its `id` with SSH_FX_OP_UNSUPPORTED and goes on.
 *
 * @example
 * ```ts
 * import { SftpUnknownRequest } from "./packets.ts";
 * const e = new SftpUnknownRequest(42, 7);
 * console.log(e.message); // unknown SFTP packet type 42 (request 7)
 * ```
 */
export class SftpUnknownRequest extends Error {
  /** The packet type. */
  readonly packetType: number;
  /** Its request id. */
  readonly id: number;
  /** Creates the error. */
  constructor(packetType: number, id: number) {
    super(`unknown SFTP packet type ${packetType} (request ${id})`);
    this.name = "SftpUnknownRequest";
    this.packetType = packetType;
    this.id = id;
  }
}

/**
 * Encodes a reply with id `id`, length field included.
 *
 * @example
 * ```ts
 * import { encodeResponse, FX } from "./packets.ts";
 * const p = encodeResponse(3, { type: "status", code: FX.EOF, message: "End of file", language: "" });
 * console.log(p[4]); // 101
 * ```
 */
export function encodeResponse(id: number, r: SftpResponse): Uint8Array {
  switch (r.type) {
    case "status":
      return done(
        start(FXP.STATUS, id).uint32(r.code).string(r.message).string(r.language),
      );
    case "handle":
      return done(start(FXP.HANDLE, id).string(r.handle));
    case "data":
      return done(start(FXP.DATA, id, r.data.length + 4).string(r.data));
    case "name": {
      const w = start(FXP.NAME, id, 64 * r.entries.length).uint32(r.entries.length);
      for (const e of r.entries) writeAttrs(w.string(e.filename).string(e.longname), e.attrs);
      return done(w);
    }
    case "attrs":
      return done(writeAttrs(start(FXP.ATTRS, id), r.attrs));
    case "extended-reply":
      return done(start(FXP.EXTENDED_REPLY, id, r.data.length).raw(r.data));
  }
}

/** At most this many entries in one SSH_FXP_NAME (OpenSSH sends 100 per READDIR). */
const MAX_NAME_ENTRIES = 100_000;

const lossy = new TextDecoder();

/**
 * Decodes a reply packet (type byte onward, without the length field).
 * `data` and `handle` are views into `packet`, not copies. File names that
 * are not UTF-8 are decoded with U+FFFD in place of the bad bytes.
 *
 * @example
 * ```ts
 * import { decodeResponse, encodeResponse } from "./packets.ts";
 * const p = encodeResponse(4, { type: "handle", handle: new Uint8Array([0, 0, 0, 1]) });
 * console.log(decodeResponse(p.subarray(4)).response.type); // "handle"
 * ```
 */
export function decodeResponse(packet: Uint8Array): { id: number; response: SftpResponse } {
  const r = new SshReader(packet);
  const type = r.byte("sftp packet type");
  const id = r.uint32("sftp request id");
  const response = decodeResponseBody(type, r);
  if (response.type !== "extended-reply") r.end(`SSH_FXP ${type}`);
  return { id, response };
}

function decodeResponseBody(type: number, r: SshReader): SftpResponse {
  switch (type) {
    case FXP.STATUS: {
      const code = r.uint32("status code");
      // Some servers end the packet after the code (v3 before -02 had no text).
      const message = r.remaining ? lossy.decode(r.string("status message")) : "";
      const language = r.remaining ? lossy.decode(r.string("language tag")) : "";
      return { type: "status", code, message, language };
    }
    case FXP.HANDLE:
      return { type: "handle", handle: readHandle(r) };
    case FXP.DATA:
      return { type: "data", data: r.string("data") };
    case FXP.NAME: {
      const at = r.offset;
      const count = r.uint32("name count");
      if (count > MAX_NAME_ENTRIES || count * 12 > r.remaining) {
        throw new WireError(`${count} names do not fit in ${r.remaining} bytes`, {
          field: "name count",
          offset: at,
        });
      }
      const entries: NameEntry[] = [];
      for (let i = 0; i < count; i++) {
        entries.push({
          filename: lossy.decode(r.string("filename")),
          longname: lossy.decode(r.string("longname")),
          attrs: readAttrs(r),
        });
      }
      return { type: "name", entries };
    }
    case FXP.ATTRS:
      return { type: "attrs", attrs: readAttrs(r) };
    case FXP.EXTENDED_REPLY:
      return { type: "extended-reply", data: r.rest() };
    default:
      throw new WireError(`unknown SFTP reply type ${type}`, {
        field: "sftp packet type",
        offset: 0,
      });
  }
}

/**
 * Decodes a statvfs@openssh.com / fstatvfs@openssh.com reply body.
 *
 * @example
 * ```ts
 * import { decodeStatVfs, encodeStatVfs } from "./packets.ts";
 * const s = { bsize: 4096, frsize: 4096, blocks: 10, bfree: 5, bavail: 5, files: 1, ffree: 1, favail: 1, fsid: 0n, flag: 0, namemax: 255 };
 * console.log(decodeStatVfs(encodeStatVfs(s)).namemax); // 255
 * ```
 */
export function decodeStatVfs(data: Uint8Array): StatVfs {
  const r = new SshReader(data);
  const s = Object.fromEntries(
    STATVFS_FIELDS.map((
      f,
    ) => [f, f === "fsid" ? r.uint64("statvfs fsid") : safeNumber(r, `statvfs ${f}`)]),
  );
  r.end("statvfs reply");
  return s as unknown as StatVfs;
}

/**
 * Encodes a statvfs reply body (PROTOCOL §4.4).
 *
 * @example
 * ```ts
 * import { encodeStatVfs } from "./packets.ts";
 * const s = { bsize: 4096, frsize: 4096, blocks: 10, bfree: 5, bavail: 5, files: 1, ffree: 1, favail: 1, fsid: 0n, flag: 0, namemax: 255 };
 * console.log(encodeStatVfs(s).length); // 88
 * ```
 */
export function encodeStatVfs(s: StatVfs): Uint8Array {
  const w = new SshWriter(88);
  for (const f of STATVFS_FIELDS) w.uint64(s[f]);
  return w.finish();
}

/**
 * Decodes a limits@openssh.com reply body (PROTOCOL §4.8).
 *
 * @example
 * ```ts
 * import { decodeLimits, encodeLimits } from "./packets.ts";
 * const l = { maxPacketLength: 262144, maxReadLength: 261120, maxWriteLength: 261120, maxOpenHandles: 0 };
 * console.log(decodeLimits(encodeLimits(l)).maxReadLength); // 261120
 * ```
 */
export function decodeLimits(data: Uint8Array): SftpLimits {
  const r = new SshReader(data);
  const l = {
    maxPacketLength: safeNumber(r, "max-packet-length"),
    maxReadLength: safeNumber(r, "max-read-length"),
    maxWriteLength: safeNumber(r, "max-write-length"),
    maxOpenHandles: safeNumber(r, "max-open-handles"),
  };
  r.end("limits reply");
  return l;
}

/**
 * Encodes a limits@openssh.com reply body.
 *
 * @example
 * ```ts
 * import { encodeLimits } from "./packets.ts";
 * console.log(encodeLimits({ maxPacketLength: 1, maxReadLength: 1, maxWriteLength: 1, maxOpenHandles: 1 }).length); // 32
 * ```
 */
export function encodeLimits(l: SftpLimits): Uint8Array {
  return new SshWriter(32).uint64(l.maxPacketLength).uint64(l.maxReadLength)
    .uint64(l.maxWriteLength).uint64(l.maxOpenHandles).finish();
}

/**
 * Decodes a users-groups-by-id@openssh.com reply body (PROTOCOL §4.11):
 * one name per id asked, in order; an empty name when the id is unknown.
 *
 * @example
 * ```ts
 * import { decodeUsersGroups, encodeUsersGroups } from "./packets.ts";
 * console.log(decodeUsersGroups(encodeUsersGroups({ users: ["root"], groups: ["wheel", ""] })));
 * ```
 */
export function decodeUsersGroups(data: Uint8Array): { users: string[]; groups: string[] } {
  const r = new SshReader(data);
  const list = (field: string) => {
    const inner = new SshReader(r.string(field));
    const names: string[] = [];
    while (inner.remaining) names.push(lossy.decode(inner.string(`${field} name`)));
    return names;
  };
  const out = { users: list("usernames"), groups: list("groupnames") };
  r.end("users-groups-by-id reply");
  return out;
}

/**
 * Encodes a users-groups-by-id@openssh.com reply body.
 *
 * @example
 * ```ts
 * import { encodeUsersGroups } from "./packets.ts";
 * console.log(encodeUsersGroups({ users: [], groups: [] }).length); // 8
 * ```
 */
export function encodeUsersGroups(names: { users: string[]; groups: string[] }): Uint8Array {
  const pack = (list: string[]) => {
    const w = new SshWriter();
    for (const n of list) w.string(n);
    return w.finish();
  };
  return new SshWriter().string(pack(names.users)).string(pack(names.groups)).finish();
}

/**
 * Encodes SSH_FXP_INIT (client, §4) or SSH_FXP_VERSION (server) with
 * extension name/data pairs (the server's extensions, PROTOCOL §4).
 *
 * @example
 * ```ts
 * import { encodeHello } from "./packets.ts";
 * const init = encodeHello("init", 3);
 * console.log(init); // Uint8Array [0, 0, 0, 5, 1, 0, 0, 0, 3]
 * ```
 */
export function encodeHello(
  kind: "init" | "version",
  version: number,
  extensions: ReadonlyArray<readonly [string, string]> = [],
): Uint8Array {
  const w = new SshWriter(64, 4).byte(kind === "init" ? FXP.INIT : FXP.VERSION).uint32(version);
  for (const [name, data] of extensions) w.string(name).string(data);
  return done(w);
}

/**
 * Decodes SSH_FXP_INIT or SSH_FXP_VERSION (type byte onward).
 *
 * @example
 * ```ts
 * import { decodeHello, encodeHello } from "./packets.ts";
 * const v = decodeHello(encodeHello("version", 3, [["limits@openssh.com", "1"]]).subarray(4));
 * console.log(v.kind, v.version, v.extensions.get("limits@openssh.com")); // version 3 1
 * ```
 */
export function decodeHello(
  packet: Uint8Array,
): { kind: "init" | "version"; version: number; extensions: Map<string, string> } {
  const r = new SshReader(packet);
  const at = r.offset;
  const type = r.byte("sftp packet type");
  if (type !== FXP.INIT && type !== FXP.VERSION) {
    throw new WireError(`expected SSH_FXP_INIT or SSH_FXP_VERSION, got ${type}`, {
      field: "sftp packet type",
      offset: at,
    });
  }
  const version = r.uint32("version");
  const extensions = new Map<string, string>();
  while (r.remaining) {
    extensions.set(
      lossy.decode(r.string("extension name")),
      lossy.decode(r.string("extension data")),
    );
  }
  return { kind: type === FXP.INIT ? "init" : "version", version, extensions };
}

/**
 * Splits a byte stream into SFTP packets (`uint32 length` then the
 * packet). A length over `maxLength` is a {@link WireError}: the peer is
 * not speaking SFTP, or is hostile, and nothing more is buffered.
 * Complete packets are handed out as views of the received chunk when a
 * chunk holds them whole (no copy), else of one joined buffer.
 *
 * @example
 * ```ts
 * import { encodeHello, SftpFramer } from "./packets.ts";
 * const f = new SftpFramer();
 * const got: Uint8Array[] = [];
 * f.push(encodeHello("init", 3), (p) => got.push(p));
 * console.log(got.length, got[0][0]); // 1 1
 * ```
 */
export class SftpFramer {
  readonly #max: number;
  /** Chunks of an incomplete packet, joined once it is whole. */
  #held: Uint8Array[] = [];
  #heldBytes = 0;
  /** Bytes consumed so far (for error offsets). */
  #offset = 0;

  /** A framer accepting packets up to `maxLength` bytes (default {@link MAX_PACKET_LENGTH}). */
  constructor(maxLength: number = MAX_PACKET_LENGTH) {
    this.#max = maxLength;
  }

  /** Bytes held for an incomplete packet. */
  get buffered(): number {
    return this.#heldBytes;
  }

  /**
   * Feeds `chunk` (which the framer may keep: the caller must not reuse
   * it); calls `onPacket` for each complete packet (type byte onward).
   */
  push(chunk: Uint8Array, onPacket: (packet: Uint8Array) => void): void {
    let buf = chunk;
    if (this.#heldBytes) {
      this.#held.push(chunk);
      this.#heldBytes += chunk.length;
      // Join only once the held packet is whole: a 256 KiB packet arriving
      // in 32 KiB chunks is copied once, not once per chunk.
      if (this.#heldBytes < 4 || this.#heldBytes < 4 + this.#check(this.#peekLength())) return;
      buf = new Uint8Array(this.#heldBytes);
      let o = 0;
      for (const c of this.#held) {
        buf.set(c, o);
        o += c.length;
      }
      this.#held = [];
      this.#heldBytes = 0;
    }
    let at = 0;
    while (buf.length - at >= 4) {
      const len = this.#check(readLength(buf, at), at);
      if (buf.length - at - 4 < len) break;
      const packet = buf.subarray(at + 4, at + 4 + len);
      at += 4 + len;
      this.#offset += 4 + len;
      onPacket(packet);
    }
    if (at < buf.length) {
      this.#held = [buf.subarray(at)];
      this.#heldBytes = buf.length - at;
      if (this.#heldBytes >= 4) this.#check(this.#peekLength());
    }
  }

  #peekLength(): number {
    const first = this.#held[0];
    if (first.length >= 4) return readLength(first, 0);
    const four = new Uint8Array(4);
    let o = 0;
    for (const c of this.#held) {
      const n = Math.min(4 - o, c.length);
      four.set(c.subarray(0, n), o);
      o += n;
      if (o === 4) break;
    }
    return readLength(four, 0);
  }

  #check(len: number, at = 0): number {
    if (len > this.#max || len === 0) {
      this.#held = [];
      this.#heldBytes = 0;
      throw new WireError(`packet length ${len} (must be 1 to ${this.#max})`, {
        field: "sftp packet length",
        offset: this.#offset + at,
      });
    }
    return len;
  }
}

function readLength(b: Uint8Array, at: number): number {
  return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
}
