/**
 * The SFTP server (draft-ietf-secsh-filexfer-02, version 3, with OpenSSH's
 * extensions, PROTOCOL §4) over any byte-stream pair: {@link serveSftp}
 * answers one client's requests from an {@link SftpBackend}.
 *
 * - SSH_FXP_VERSION lists `limits@openssh.com` and `copy-data` always, and
 *   each other extension only when the backend implements it.
 * - Open handles are bounded (`maxHandles`, advertised in the limits);
 *   an open beyond it fails with SSH_FX_FAILURE, as sftp-server's does.
 * - Requests run with bounded concurrency (`maxInFlight`): reads run
 *   alongside reads, writes alongside writes that do not overlap on the
 *   same handle, and any other request runs alone, in arrival order, so the
 *   results are those of one-at-a-time processing (draft §6.1). Replies go
 *   out in arrival order, as from OpenSSH's sequential sftp-server (its
 *   9.2 client truncates downloads whose replies came reordered). Beyond
 *   `maxInFlight` queued requests the server stops reading the stream.
 * - READ lengths are capped at `maxReadLength` (261,120 bytes, as OpenSSH
 *   9.2's sftp-server).
 * - A malformed packet is answered SSH_FX_BAD_MESSAGE when its id could be
 *   read; a packet whose id cannot be read, or a length beyond 256 KiB,
 *   ends the session. Unknown packet types and extensions are answered
 *   SSH_FX_OP_UNSUPPORTED. A handle never opened or already closed is
 *   SSH_FX_FAILURE (SSH_FX_NO_SUCH_FILE for CLOSE), as sftp-server answers.
 *
 * @module
 */
import type { ByteStreamPair } from "../transport/transport.ts";
import { WireError } from "../wire/errors.ts";
import { quotePeerText } from "../wire/quote.ts";
import {
  type SftpBackend,
  type SftpDirectory,
  type SftpFile,
  SftpStatusError,
  statusMessage,
  statusOf,
} from "./backend.ts";
import {
  decodeHello,
  decodeRequest,
  encodeHello,
  encodeLimits,
  encodeResponse,
  encodeStatVfs,
  encodeUsersGroups,
  FX,
  FXP,
  MAX_PACKET_LENGTH,
  OpenFlags,
  SftpFramer,
  type SftpRequest,
  type SftpResponse,
  SftpUnknownRequest,
} from "./packets.ts";

/**
 * OpenSSH 9.2's largest READ answered in full (SFTP_MAX_MSG_LENGTH − 1024).
 *
 * @example
 * ```ts
 * import { DEFAULT_MAX_READ_LENGTH } from "./server.ts";
 * console.log(DEFAULT_MAX_READ_LENGTH); // 261120
 * ```
 */
export const DEFAULT_MAX_READ_LENGTH = 261_120;

/**
 * Options of {@link serveSftp}.
 *
 * @example
 * ```ts
 * import type { SftpServerOptions } from "./server.ts";
 * const o: SftpServerOptions = { readOnly: true, maxHandles: 64, log: (l) => console.error(l) };
 * ```
 */
export interface SftpServerOptions {
  /**
   * Refuses every request that would change anything with
   * SSH_FX_PERMISSION_DENIED (sftp-server's -R): opens for writing,
   * creating or truncating, setstat, remove, mkdir, rmdir, rename,
   * symlink, hardlink, copy-data.
   */
  readOnly?: boolean;
  /** Most handles open at once (default 256). */
  maxHandles?: number;
  /** Most requests queued or running at once before reading pauses (default 64). */
  maxInFlight?: number;
  /** READ lengths are cut to this (default {@link DEFAULT_MAX_READ_LENGTH}). */
  maxReadLength?: number;
  /** Where refusals and protocol errors are reported; peer text in them is quoted. */
  log?: (line: string) => void;
}

/**
 * How a session ended: `eof` when the client closed its side, `error`
 * when it broke the protocol (a packet whose id cannot be read, a length
 * over 256 KiB, no INIT first) or the stream failed.
 *
 * @example
 * ```ts
 * import type { SftpSessionEnd } from "./server.ts";
 * const ok = (e: SftpSessionEnd) => e.reason === "eof";
 * ```
 */
export interface SftpSessionEnd {
  /** Why it ended. */
  reason: "eof" | "error";
  /** The protocol or stream error, for `error`. */
  error?: unknown;
  /** Requests answered. */
  requests: number;
}

type Open =
  | { kind: "file"; file: SftpFile; flags: number; path: string }
  | { kind: "dir"; dir: SftpDirectory; path: string };

/** How a request may share time with others (draft §6.1). */
const enum Lane {
  Read,
  Write,
  Alone,
}

interface Queued {
  id: number;
  request: SftpRequest;
  lane: Lane;
  /** For writes: the handle number and the byte range. */
  handle: number;
  start: number;
  end: number;
  /** Answered with this code at its turn (a request that could not be decoded). */
  refuse?: number;
}

const UNSUPPORTED = new SftpStatusError(FX.OP_UNSUPPORTED);

/** Requests refused in read-only mode (sftp-server's does_write handlers). */
const WRITES = new Set<SftpRequest["type"]>([
  "write",
  "setstat",
  "fsetstat",
  "remove",
  "mkdir",
  "rmdir",
  "rename",
  "symlink",
  "posix-rename@openssh.com",
  "hardlink@openssh.com",
  "lsetstat@openssh.com",
  "copy-data",
]);

/** The handle bytes for handle number `n` (4 bytes, big-endian). */
function handleBytes(n: number): Uint8Array {
  return new Uint8Array([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
}

/** The handle number of `h`, or -1 when it is not one of ours. */
function handleNumber(h: Uint8Array): number {
  return h.length === 4 ? ((h[0] << 24) | (h[1] << 16) | (h[2] << 8) | h[3]) >>> 0 : -1;
}

/** The extensions to advertise for `backend` (PROTOCOL §4), in sftp-server's order. */
function extensionsOf(backend: SftpBackend): [string, string][] {
  const ext: [string, string][] = [];
  if (backend.posixRename) ext.push(["posix-rename@openssh.com", "1"]);
  if (backend.statvfs) ext.push(["statvfs@openssh.com", "2"], ["fstatvfs@openssh.com", "2"]);
  if (backend.hardlink) ext.push(["hardlink@openssh.com", "1"]);
  ext.push(["fsync@openssh.com", "1"]);
  if (backend.lsetstat) ext.push(["lsetstat@openssh.com", "1"]);
  ext.push(["limits@openssh.com", "1"]);
  if (backend.expandPath) ext.push(["expand-path@openssh.com", "1"]);
  ext.push(["copy-data", "1"]);
  if (backend.homeDirectory) ext.push(["home-directory", "1"]);
  if (backend.usersGroups) ext.push(["users-groups-by-id@openssh.com", "1"]);
  return ext;
}

/**
 * The session state of one {@link serveSftp} call: the handle table and
 * the request scheduler.
 */
class Session {
  readonly #backend: SftpBackend;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #readOnly: boolean;
  readonly #maxHandles: number;
  readonly #maxInFlight: number;
  readonly #maxRead: number;
  readonly #log: (line: string) => void;
  readonly #handles = new Map<number, Open>();
  #nextHandle = 1;
  /** Requests waiting, in arrival order, from `#head`. */
  #queue: Queued[] = [];
  #head = 0;
  #running = 0;
  #lane: Lane = Lane.Alone;
  /** In-flight writes' ranges (to keep overlapping writes in order). */
  readonly #writing = new Set<Queued>();
  #wake: (() => void) | undefined;
  /** The last reply in arrival order (each waits for the one before). */
  #replies: Promise<void> = Promise.resolve();
  #failed: unknown;
  answered = 0;

  constructor(
    backend: SftpBackend,
    writer: WritableStreamDefaultWriter<Uint8Array>,
    options: SftpServerOptions,
  ) {
    this.#backend = backend;
    this.#writer = writer;
    this.#readOnly = options.readOnly ?? false;
    this.#maxHandles = options.maxHandles ?? 256;
    this.#maxInFlight = Math.max(1, options.maxInFlight ?? 64);
    this.#maxRead = options.maxReadLength ?? DEFAULT_MAX_READ_LENGTH;
    this.#log = options.log ?? (() => {});
  }

  /** The error that broke the output stream, if any. */
  get failed(): unknown {
    return this.#failed;
  }

  get limits() {
    return {
      maxPacketLength: MAX_PACKET_LENGTH,
      maxReadLength: this.#maxRead,
      maxWriteLength: this.#maxRead,
      maxOpenHandles: this.#maxHandles,
    };
  }

  /** Queued plus running requests. */
  get load(): number {
    return this.#queue.length - this.#head + this.#running;
  }

  /** Resolves once the load is below `maxInFlight` (at once if it is). */
  room(): Promise<void> | undefined {
    if (this.load < this.#maxInFlight && this.#failed === undefined) return undefined;
    if (this.#failed !== undefined) return Promise.resolve();
    return new Promise((resolve) => this.#wake = resolve);
  }

  /** Resolves when nothing is queued or running. */
  async drained(): Promise<void> {
    while (this.load > 0 && this.#failed === undefined) {
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
  }

  /** One packet (type byte onward) from the client, after INIT. */
  packet(packet: Uint8Array): void {
    let id: number;
    let request: SftpRequest;
    try {
      ({ id, request } = decodeRequest(packet));
    } catch (e) {
      if (packet.length < 5) throw e; // no id to answer: the session ends
      if (packet[0] === FXP.INIT) {
        throw new WireError("SSH_FXP_INIT after the handshake", {
          field: "sftp packet type",
          offset: 0,
        });
      }
      const pid = ((packet[1] << 24) | (packet[2] << 16) | (packet[3] << 8) | packet[4]) >>> 0;
      const code = e instanceof SftpUnknownRequest ? FX.OP_UNSUPPORTED : FX.BAD_MESSAGE;
      this.#log(`request ${pid}: ${quotePeerText(e instanceof Error ? e.message : String(e))}`);
      const request: SftpRequest = { type: "extended", name: "", data: packet };
      this.#enqueue({
        id: pid,
        request,
        lane: Lane.Alone,
        handle: -1,
        start: 0,
        end: 0,
        refuse: code,
      });
      return;
    }
    const q: Queued = { id, request, lane: Lane.Alone, handle: -1, start: 0, end: 0 };
    if (request.type === "read") q.lane = Lane.Read;
    else if (request.type === "write") {
      q.lane = Lane.Write;
      q.handle = handleNumber(request.handle);
      q.start = request.offset;
      q.end = request.offset + request.data.length;
    }
    this.#enqueue(q);
  }

  /** Queues `q` and starts what may start. */
  #enqueue(q: Queued): void {
    this.#queue.push(q);
    this.#pump();
  }

  /** Starts queued requests in order while the lanes allow (draft §6.1). */
  #pump(): void {
    if (this.#failed !== undefined) {
      // Nobody can get the replies: what has not started never runs.
      this.#queue = [];
      this.#head = 0;
      return;
    }
    while (this.#head < this.#queue.length && this.#running < this.#maxInFlight) {
      const q = this.#queue[this.#head];
      if (this.#running > 0) {
        if (q.lane === Lane.Alone || q.lane !== this.#lane) break;
        if (q.lane === Lane.Write && this.#overlaps(q)) break;
      }
      this.#queue[this.#head++] = undefined as unknown as Queued;
      if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
        this.#queue = this.#queue.slice(this.#head);
        this.#head = 0;
      }
      this.#running++;
      this.#lane = q.lane;
      if (q.lane === Lane.Write) this.#writing.add(q);
      // Requests run at once, but their replies go out in arrival order:
      // OpenSSH's sftp and scp (9.2) truncate a download whose replies were
      // reordered (sftp-client.c keeps "highwater" contiguous only).
      const result = this.#result(q);
      this.#replies = this.#replies.then(() => this.#reply(q, result));
    }
  }

  #overlaps(q: Queued): boolean {
    for (const w of this.#writing) {
      if (w.handle === q.handle && w.start < q.end && q.start < w.end) return true;
    }
    return false;
  }

  #done(q: Queued): void {
    this.#running--;
    if (q.lane === Lane.Write) this.#writing.delete(q);
    this.#pump();
    if (this.#wake && (this.load < this.#maxInFlight || this.load === 0)) {
      const w = this.#wake;
      this.#wake = undefined;
      w();
    }
  }

  /** Runs one request; resolves with its reply (never rejects). */
  async #result(q: Queued): Promise<SftpResponse> {
    if (q.refuse !== undefined) return status(q.refuse);
    try {
      return await this.#answer(q.request);
    } catch (e) {
      const code = statusOf(e);
      if (!(e instanceof SftpStatusError) && code === FX.FAILURE) {
        const why = quotePeerText(e instanceof Error ? e.message : String(e));
        this.#log(`${q.request.type} failed: ${why}`);
      }
      return e instanceof SftpStatusError ? status(code, e.statusText) : status(code);
    }
  }

  /**
   * Queues `q`'s reply on the stream once `result` resolves (so that
   * replies keep their order) and returns without waiting for the write:
   * the stream may encrypt and send one reply while the next is queued.
   * `q` counts as in flight until its write is done. Never rejects.
   */
  async #reply(q: Queued, result: Promise<SftpResponse>): Promise<void> {
    const reply = await result;
    if (this.#failed !== undefined) return this.#done(q);
    this.#writer.write(encodeResponse(q.id, reply)).then(() => {
      this.answered++;
      this.#done(q);
    }, (e) => {
      this.#failed ??= e;
      this.#done(q);
      const w = this.#wake;
      this.#wake = undefined;
      w?.();
    });
  }

  #file(h: Uint8Array): Open & { kind: "file" } {
    const o = this.#handles.get(handleNumber(h));
    if (o?.kind !== "file") throw new SftpStatusError(FX.FAILURE, { message: "Invalid handle" });
    return o;
  }

  #dir(h: Uint8Array): Open & { kind: "dir" } {
    const o = this.#handles.get(handleNumber(h));
    if (o?.kind !== "dir") throw new SftpStatusError(FX.FAILURE, { message: "Invalid handle" });
    return o;
  }

  /** A new handle for `o`; FAILURE (after closing `o`) when the table is full. */
  async #add(o: Open): Promise<SftpResponse> {
    if (this.#handles.size >= this.#maxHandles) {
      await (o.kind === "file" ? o.file.close() : o.dir.close()).catch(() => {});
      this.#log(`too many open handles (${this.#maxHandles}): refusing ${quotePeerText(o.path)}`);
      return status(FX.FAILURE, "Too many open handles");
    }
    let n = this.#nextHandle;
    while (this.#handles.has(n) || n === 0) n = (n + 1) >>> 0;
    this.#nextHandle = (n + 1) >>> 0;
    this.#handles.set(n, o);
    return { type: "handle", handle: handleBytes(n) };
  }

  /** The reply to one request (throws an error that {@link statusOf} maps). */
  async #answer(r: SftpRequest): Promise<SftpResponse> {
    if (this.#readOnly && this.#writes(r)) {
      this.#log(`refusing ${r.type} request in read-only mode`);
      return status(FX.PERMISSION_DENIED);
    }
    const b = this.#backend;
    switch (r.type) {
      case "read": {
        const f = this.#file(r.handle).file;
        const data = await f.read(r.offset, Math.min(r.length, this.#maxRead));
        return data === null || data.length === 0 ? status(FX.EOF) : { type: "data", data };
      }
      case "write":
        await this.#file(r.handle).file.write(r.offset, r.data);
        return OK;
      case "open": {
        const file = await b.open(r.path, r.flags, r.attrs);
        return this.#add({ kind: "file", file, flags: r.flags, path: r.path });
      }
      case "opendir":
        return this.#add({ kind: "dir", dir: await b.opendir(r.path), path: r.path });
      case "close": {
        const n = handleNumber(r.handle);
        const o = this.#handles.get(n);
        if (!o) return status(FX.NO_SUCH_FILE); // sftp-server: EBADF
        this.#handles.delete(n);
        await (o.kind === "file" ? o.file.close() : o.dir.close());
        return OK;
      }
      case "readdir": {
        const entries = await this.#dir(r.handle).dir.read();
        return entries === null || entries.length === 0
          ? status(FX.EOF)
          : { type: "name", entries };
      }
      case "fstat":
        return { type: "attrs", attrs: await this.#file(r.handle).file.stat() };
      case "fsetstat":
        await this.#file(r.handle).file.setstat(r.attrs);
        return OK;
      case "stat":
        return { type: "attrs", attrs: await b.stat(r.path) };
      case "lstat":
        return { type: "attrs", attrs: await b.lstat(r.path) };
      case "setstat":
        await b.setstat(r.path, r.attrs);
        return OK;
      case "remove":
        await b.remove(r.path);
        return OK;
      case "mkdir":
        await b.mkdir(r.path, r.attrs);
        return OK;
      case "rmdir":
        await b.rmdir(r.path);
        return OK;
      case "rename":
        await b.rename(r.oldPath, r.newPath);
        return OK;
      case "readlink":
        return oneName(await b.readlink(r.path));
      case "symlink":
        await b.symlink(r.target, r.linkPath);
        return OK;
      case "realpath":
        return oneName(await b.realpath(r.path));
      default:
        return this.#extension(r);
    }
  }

  #writes(r: SftpRequest): boolean {
    if (r.type === "open") {
      return (r.flags &
        (OpenFlags.WRITE | OpenFlags.APPEND | OpenFlags.CREAT | OpenFlags.TRUNC)) !== 0;
    }
    return WRITES.has(r.type);
  }

  /** OpenSSH's extensions (PROTOCOL §4); what the backend lacks is OP_UNSUPPORTED. */
  async #extension(r: SftpRequest): Promise<SftpResponse> {
    const b = this.#backend;
    const need = <T>(m: T | undefined): T => {
      if (m === undefined) throw UNSUPPORTED;
      return m;
    };
    switch (r.type) {
      case "limits@openssh.com":
        return { type: "extended-reply", data: encodeLimits(this.limits) };
      case "posix-rename@openssh.com":
        await need(b.posixRename).call(b, r.oldPath, r.newPath);
        return OK;
      case "hardlink@openssh.com":
        await need(b.hardlink).call(b, r.oldPath, r.newPath);
        return OK;
      case "lsetstat@openssh.com":
        await need(b.lsetstat).call(b, r.path, r.attrs);
        return OK;
      case "statvfs@openssh.com":
        return {
          type: "extended-reply",
          data: encodeStatVfs(await need(b.statvfs).call(b, r.path)),
        };
      case "fstatvfs@openssh.com": {
        const f = this.#file(r.handle).file;
        return { type: "extended-reply", data: encodeStatVfs(await need(f.statvfs).call(f)) };
      }
      case "fsync@openssh.com": {
        const f = this.#file(r.handle).file;
        await f.fsync?.();
        return OK;
      }
      case "expand-path@openssh.com":
        return oneName(await need(b.expandPath).call(b, r.path));
      case "home-directory":
        return oneName(await need(b.homeDirectory).call(b, r.username));
      case "users-groups-by-id@openssh.com":
        return {
          type: "extended-reply",
          data: encodeUsersGroups(await need(b.usersGroups).call(b, r.uids, r.gids)),
        };
      case "copy-data":
        await this.#copyData(r);
        return OK;
      default:
        this.#log(
          `unsupported extended request ${
            quotePeerText(r.type === "extended" ? r.name : r.type, 64)
          }`,
        );
        throw UNSUPPORTED;
    }
  }

  /**
   * copy-data (draft-ietf-secsh-filexfer-extensions-00 §7): copies `length`
   * bytes (0: to the end of the file) between two open files, 64 KiB at a
   * time. As sftp-server, the write handle must be open for writing and a
   * copy within one file must not overlap.
   */
  async #copyData(r: Extract<SftpRequest, { type: "copy-data" }>): Promise<void> {
    const from = this.#file(r.readHandle);
    const to = this.#file(r.writeHandle);
    if (!(to.flags & (OpenFlags.WRITE | OpenFlags.APPEND)) || !(from.flags & OpenFlags.READ)) {
      throw new SftpStatusError(FX.FAILURE, { message: "Handle not open for reading or writing" });
    }
    if (
      from === to && r.length !== 0 &&
      r.readOffset < r.writeOffset + r.length && r.writeOffset < r.readOffset + r.length
    ) throw new SftpStatusError(FX.FAILURE, { message: "Overlapping copy" });
    let done = 0;
    while (r.length === 0 || done < r.length) {
      const want = r.length === 0 ? 65536 : Math.min(65536, r.length - done);
      const chunk = await from.file.read(r.readOffset + done, want);
      if (chunk === null || chunk.length === 0) {
        if (r.length !== 0) throw new SftpStatusError(FX.EOF);
        return;
      }
      await to.file.write(r.writeOffset + done, chunk);
      done += chunk.length;
    }
  }

  /** Closes every open handle, then the backend. */
  async dispose(): Promise<void> {
    const open = [...this.#handles.values()];
    this.#handles.clear();
    for (const o of open) {
      await (o.kind === "file" ? o.file.close() : o.dir.close()).catch(() => {});
    }
    await this.#backend.dispose?.().catch(() => {});
  }
}

const OK: SftpResponse = { type: "status", code: FX.OK, message: "Success", language: "" };

function status(code: number, message = statusMessage(code)): SftpResponse {
  return { type: "status", code, message, language: "" };
}

function oneName(filename: string): SftpResponse {
  return { type: "name", entries: [{ filename, longname: "", attrs: {} }] };
}

/**
 * Serves one SFTP session on `stream` from `backend` until the client
 * closes its side (or breaks the protocol): reads SSH_FXP_INIT, answers
 * SSH_FXP_VERSION 3 with the extensions the backend supports, then answers
 * requests (see the module doc for ordering, limits and bad input). At the
 * end every handle still open is closed, `backend.dispose()` runs, and the
 * writable side is closed. Resolves with how it ended; never rejects.
 *
 * @example
 * ```ts
 * import { serveSftp } from "./server.ts";
 * import { MemoryBackend } from "./memory_backend.ts";
 * import { memoryPair } from "../runtime/memory.ts";
 * import { encodeHello } from "./packets.ts";
 * const [client, server] = memoryPair();
 * const done = serveSftp(server, new MemoryBackend());
 * const w = client.writable.getWriter();
 * await w.write(encodeHello("init", 3));
 * await w.close();
 * console.log((await done).reason); // eof
 * ```
 */
export async function serveSftp(
  stream: ByteStreamPair,
  backend: SftpBackend,
  options: SftpServerOptions = {},
): Promise<SftpSessionEnd> {
  const log = options.log ?? (() => {});
  const reader = stream.readable.getReader();
  const writer = stream.writable.getWriter();
  const session = new Session(backend, writer, options);
  const framer = new SftpFramer(MAX_PACKET_LENGTH);
  let hello = false;
  let end: SftpSessionEnd = { reason: "eof", requests: 0 };
  const onPacket = (p: Uint8Array) => {
    if (hello) return session.packet(p);
    const h = decodeHello(p); // throws on anything but INIT/VERSION
    if (h.kind !== "init") {
      throw new WireError("expected SSH_FXP_INIT", { field: "sftp packet type", offset: 0 });
    }
    hello = true;
    // draft §4: the server answers with its own version (3) and extensions.
    writer.write(encodeHello("version", 3, extensionsOf(backend))).catch(() => {});
  };
  try {
    for (;;) {
      const wait = session.room();
      if (wait) await wait;
      if (session.failed !== undefined) throw session.failed;
      const { value, done } = await reader.read();
      if (done) break;
      framer.push(value, onPacket);
    }
    await session.drained();
    if (session.failed !== undefined) throw session.failed;
  } catch (error) {
    log(
      `sftp session ended: ${
        quotePeerText(error instanceof Error ? error.message : String(error), 512)
      }`,
    );
    end = { reason: "error", error, requests: 0 };
    await reader.cancel().catch(() => {});
    await session.drained();
  }
  await session.dispose();
  end.requests = session.answered;
  reader.releaseLock();
  await writer.close().catch(() => {});
  return end;
}
