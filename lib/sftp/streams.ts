/**
 * A remote file as WHATWG streams: a `ReadableStream` with read-ahead
 * (many READs in flight, reassembled by offset) and a `WritableStream`
 * with write-behind (many WRITEs in flight, backpressure through the
 * sink's promise), so `pipeTo` between a local file, a remote file and
 * another connection keeps the pipe full.
 *
 * @example
 * ```ts
 * import type { SftpClient } from "./client.ts";
 * declare const s: SftpClient;
 * // Copy a remote file to another name through this process.
 * await s.createReadStream("/srv/a.iso").pipeTo(s.createWriteStream("/srv/b.iso"));
 * ```
 *
 * @module
 */
import type { SftpClient, SftpHandle } from "./client.ts";
import { SftpError } from "./errors.ts";
import { FX } from "./packets.ts";

/**
 * Requests in flight per stream and per transferred file by default
 * (OpenSSH's sftp keeps 64).
 *
 * @example
 * ```ts
 * import { DEFAULT_REQUESTS } from "./streams.ts";
 * console.log(DEFAULT_REQUESTS); // 64
 * ```
 */
export const DEFAULT_REQUESTS = 64;

interface Slot {
  offset: number;
  length: number;
  reply: Promise<Uint8Array | null>;
}

const ignore = () => {};

/**
 * Read-ahead over an open file (draft-ietf-secsh-filexfer-02 §6.4):
 * keeps up to `requests` READs in flight, hands the data out in file
 * order whatever order the replies arrive in, re-asks the rest of a short
 * read from where it stopped (a short read is not end of file), and stops
 * at SSH_FX_EOF. With a known size it asks nothing past it, then one READ
 * at the size to learn whether the file grew.
 *
 * @example
 * ```ts
 * import type { SftpClient } from "./client.ts";
 * import { ReadAhead } from "./streams.ts";
 * declare const s: SftpClient;
 * const h = await s.open("/etc/hostname");
 * const r = new ReadAhead(s, h, { size: (await s.fstat(h)).size });
 * for (let d = await r.next(); d; d = await r.next()) console.log(d.length);
 * await s.closeHandle(h);
 * ```
 */
export class ReadAhead {
  readonly #client: SftpClient;
  readonly #handle: SftpHandle;
  readonly #requests: number;
  readonly #block: number;
  /** Exclusive end asked by the caller (Infinity: to end of file). */
  readonly #end: number;
  /** The size the file is believed to have; undefined once it is unknown. */
  #size: number | undefined;
  #next: number;
  #slots: Slot[] = [];
  #done = false;

  /** Reads `handle` from `start` (default 0) to `end` (exclusive; default end of file). */
  constructor(
    client: SftpClient,
    handle: SftpHandle,
    options: {
      start?: number;
      end?: number;
      size?: number;
      requests?: number;
      blockSize?: number;
    } = {},
  ) {
    this.#client = client;
    this.#handle = handle;
    this.#next = options.start ?? 0;
    this.#end = options.end ?? Infinity;
    this.#size = options.size;
    this.#requests = Math.max(1, options.requests ?? DEFAULT_REQUESTS);
    this.#block = Math.max(1, Math.min(options.blockSize ?? Infinity, client.readBlockSize));
  }

  /** The offset of the next byte {@link ReadAhead.next} hands out. */
  get position(): number {
    return this.#slots.length ? this.#slots[0].offset : this.#next;
  }

  /** The next bytes in file order; `null` at the end. */
  async next(): Promise<Uint8Array | null> {
    for (;;) {
      if (this.#done) return null;
      this.#fill();
      const slot = this.#slots[0];
      if (slot === undefined) {
        this.#done = true;
        return null;
      }
      const data = await slot.reply;
      this.#slots.shift();
      if (data === null) {
        this.stop();
        return null;
      }
      if (data.length === 0) {
        this.stop();
        throw new SftpError({
          op: "read",
          code: FX.BAD_MESSAGE,
          path: this.#handle.path,
          serverMessage: `empty DATA reply at offset ${slot.offset}`,
        });
      }
      if (data.length < slot.length) {
        // A short read: ask for the rest from where it stopped, before anything else.
        this.#slots.unshift(this.#issue(slot.offset + data.length, slot.length - data.length));
      }
      return data;
    }
  }

  /** Stops asking; replies still in flight are dropped. */
  stop(): void {
    this.#done = true;
    this.#slots = [];
  }

  #fill(): void {
    while (this.#slots.length < this.#requests) {
      const limit = Math.min(this.#end, this.#size ?? Infinity);
      if (this.#next < limit) {
        const n = Math.min(this.#block, limit - this.#next);
        this.#slots.push(this.#issue(this.#next, n));
        this.#next += n;
        continue;
      }
      if (this.#size !== undefined && this.#next < this.#end && this.#slots.length === 0) {
        // Everything up to the known size arrived: one READ there says whether it grew
        // (if it did, the size is unknown from now on and reads go ahead until EOF).
        this.#size = undefined;
        const n = Math.min(this.#block, this.#end - this.#next);
        this.#slots.push(this.#issue(this.#next, n));
        this.#next += n;
      }
      return;
    }
  }

  #issue(offset: number, length: number): Slot {
    const reply = this.#client.read(this.#handle, { offset, length });
    reply.catch(ignore); // a dropped slot must not be an unhandled rejection
    return { offset, length, reply };
  }
}

/**
 * Options of {@link createReadStream}.
 *
 * @example
 * ```ts
 * import type { ReadStreamOptions } from "./streams.ts";
 * const o: ReadStreamOptions = { start: 1024, end: 2047, requests: 16 };
 * ```
 */
export interface ReadStreamOptions {
  /** First byte to read (default 0). */
  start?: number;
  /** Last byte to read, inclusive, as in Node's `fs.createReadStream` (default: end of file). */
  end?: number;
  /** READs in flight (default 64). */
  requests?: number;
  /** Largest READ (default and maximum: the session's read block size). */
  blockSize?: number;
  /**
   * Close the handle when the stream ends (default: true for a path, which
   * the stream opens; false for a handle the caller passed).
   */
  autoClose?: boolean;
}

/**
 * A remote file (a path, or a handle opened for reading) as a
 * `ReadableStream` with read-ahead. A path is opened and its size taken
 * with FSTAT so that nothing is asked past it. Cancelling the stream
 * closes the handle it opened.
 *
 * @example
 * ```ts
 * import type { SftpClient } from "./client.ts";
 * import { createReadStream } from "./streams.ts";
 * declare const s: SftpClient;
 * const text = await new Response(createReadStream(s, "/etc/os-release")).text();
 * ```
 */
export function createReadStream(
  client: SftpClient,
  file: string | SftpHandle,
  options: ReadStreamOptions = {},
): ReadableStream<Uint8Array> {
  let handle: SftpHandle | undefined;
  let reader: ReadAhead | undefined;
  const owned = typeof file === "string" ? options.autoClose ?? true : options.autoClose ?? false;
  const release = async () => {
    reader?.stop();
    const h = handle;
    handle = undefined;
    if (h && owned && !client.isEnded) await client.closeHandle(h);
  };
  return new ReadableStream<Uint8Array>({
    start: async () => {
      handle = typeof file === "string" ? await client.open(file) : file;
      const end = options.end === undefined ? undefined : options.end + 1;
      let size: number | undefined;
      try {
        if (end === undefined) size = (await client.fstat(handle)).size;
      } catch (e) {
        await release().catch(ignore);
        throw e;
      }
      reader = new ReadAhead(client, handle, {
        start: options.start,
        end,
        size,
        requests: options.requests,
        blockSize: options.blockSize,
      });
    },
    pull: async (controller) => {
      let data: Uint8Array | null;
      try {
        data = await reader!.next();
      } catch (e) {
        await release().catch(ignore);
        throw e;
      }
      if (data === null) {
        await release();
        controller.close();
      } else {
        controller.enqueue(data);
      }
    },
    cancel: () => release().catch(ignore),
  }, { highWaterMark: 0 });
}

/**
 * Options of {@link createWriteStream}.
 *
 * @example
 * ```ts
 * import type { WriteStreamOptions } from "./streams.ts";
 * const o: WriteStreamOptions = { flags: "wx", mode: 0o600, requests: 32 };
 * ```
 */
export interface WriteStreamOptions {
  /** How the file is opened (default `w`: create or truncate); see `OpenMode`. */
  flags?: "w" | "wx" | "r+" | "a" | number;
  /** Offset of the first byte written (default 0). */
  start?: number;
  /** Permission bits of a file it creates. */
  mode?: number;
  /** WRITEs in flight (default 64). */
  requests?: number;
  /** Close the handle at the end (default true for a path, false for a handle). */
  autoClose?: boolean;
}

/**
 * A remote file (a path, or a handle opened for writing) as a
 * `WritableStream` with write-behind: each chunk is cut into WRITEs of the
 * session's write block size and up to `requests` are in flight; the
 * sink's promise waits when that many are, which is the stream's
 * backpressure. A WRITE that fails errors the stream (later writes and
 * `close()` reject with that error); `close()` waits for every
 * acknowledgement, then closes the handle.
 *
 * @example
 * ```ts
 * import type { SftpClient } from "./client.ts";
 * import { createWriteStream } from "./streams.ts";
 * declare const s: SftpClient;
 * const w = createWriteStream(s, "/tmp/hello.txt", { mode: 0o644 }).getWriter();
 * await w.write(new TextEncoder().encode("hello\n"));
 * await w.close();
 * ```
 */
export function createWriteStream(
  client: SftpClient,
  file: string | SftpHandle,
  options: WriteStreamOptions = {},
): WritableStream<Uint8Array> {
  const owned = typeof file === "string" ? options.autoClose ?? true : options.autoClose ?? false;
  const limit = Math.max(1, options.requests ?? DEFAULT_REQUESTS);
  const block = client.writeBlockSize;
  let handle: SftpHandle | undefined;
  let offset = options.start ?? 0;
  let failure: unknown;
  const inflight: Promise<void>[] = [];
  const drain = async () => {
    while (inflight.length) await inflight.shift();
  };
  const release = async () => {
    const h = handle;
    handle = undefined;
    if (h && owned && !client.isEnded) await client.closeHandle(h);
  };
  const failed = async (e: unknown) => {
    failure ??= e;
    await Promise.allSettled(inflight.splice(0));
    await release().catch(ignore);
    throw failure;
  };
  return new WritableStream<Uint8Array>({
    start: async () => {
      handle = typeof file === "string"
        ? await client.open(file, {
          flags: options.flags ?? "w",
          attrs: options.mode === undefined ? {} : { permissions: options.mode },
        })
        : file;
    },
    write: async (chunk) => {
      try {
        for (let at = 0; at < chunk.length; at += block) {
          if (failure) throw failure;
          while (inflight.length >= limit) await inflight.shift();
          const piece = chunk.subarray(at, Math.min(chunk.length, at + block));
          const p = client.write(handle!, piece, { offset });
          p.catch((e) => void (failure ??= e));
          inflight.push(p);
          offset += piece.length;
        }
      } catch (e) {
        await failed(e);
      }
    },
    close: async () => {
      try {
        await drain();
      } catch (e) {
        await failed(e);
      }
      await release();
    },
    abort: async () => {
      await Promise.allSettled(inflight.splice(0));
      await release().catch(ignore);
    },
  });
}
