/**
 * Payload compression (RFC 4253 §6.2): `zlib` and OpenSSH's delayed
 * `zlib@openssh.com` (PROTOCOL §2.1: compression starts after the server's
 * SSH_MSG_USERAUTH_SUCCESS, in both directions, from the packet after it).
 *
 * One zlib stream per direction (with its 2-byte zlib header, as `zlib`
 * means), a partial flush at the end of every packet, the context passed
 * from one packet to the next and initialized after each key exchange
 * (RFC 4253 §6.2; OpenSSH restarts its streams at every NEWKEYS too).
 *
 * Built on the runtime's `node:zlib` streams (Deno and Bun), chosen by
 * measurement over `fflate` (see bench/compression_bench.ts and DESIGN.md):
 * node:zlib has no synchronous call that keeps a context, so compressing and
 * inflating are asynchronous, one packet at a time in order.
 *
 * @module
 */
import * as zlib from "node:zlib";
import { DisconnectError, DisconnectReason, SshError } from "../wire/errors.ts";

/**
 * The compression methods rxssh implements, by name; `delayed` ones start
 * only once user authentication has succeeded.
 *
 * @example
 * ```ts
 * import { COMPRESSION_METHODS } from "./compression.ts";
 * console.log(COMPRESSION_METHODS.get("zlib@openssh.com")?.delayed); // true
 * ```
 */
export const COMPRESSION_METHODS: ReadonlyMap<string, { readonly delayed: boolean }> = new Map([
  ["none", { delayed: false }],
  ["zlib@openssh.com", { delayed: true }],
  ["zlib", { delayed: false }],
]);

/**
 * A compressed packet could not be inflated: the stream is corrupt, or one
 * packet inflates past the largest packet accepted (a decompression bomb).
 * The transport ends the connection with COMPRESSION_ERROR (RFC 4253 §11.1)
 * and this as the DisconnectError's cause.
 *
 * @example
 * ```ts
 * import { CompressionError } from "./compression.ts";
 * const e = new CompressionError("packet 7 inflates past 262144 bytes", { seq: 7 });
 * console.log(e.seq, e.message);
 * ```
 */
export class CompressionError extends SshError {
  /** Sequence number of the packet that failed. */
  readonly seq: number;
  /** Creates the error. */
  constructor(message: string, options: { seq: number; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.seq = options.seq;
  }
}

/** The chunks as one plain Uint8Array (node:zlib hands out Buffers). */
function concat(parts: Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return new Uint8Array(parts[0].buffer, parts[0].byteOffset, total);
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) out.set(p, at), at += p.length;
  return out;
}

/** What one packet's write and flush produced, collected from the stream's `data` events. */
interface Pending {
  parts: Uint8Array[];
  bytes: number;
  limit: number;
  resolve(out: Uint8Array): void;
  reject(error: unknown): void;
}

/**
 * One direction's zlib stream, used packet by packet: write, flush
 * (RFC 4253 §6.2: Z_PARTIAL_FLUSH when compressing, Z_SYNC_FLUSH when
 * inflating), collect the output. Calls run one at a time, in call order.
 */
class ZlibStream {
  #stream: zlib.Deflate | zlib.Inflate;
  #flush: number;
  #queue: Promise<unknown> = Promise.resolve();
  #pending?: Pending;
  #error?: unknown;

  constructor(stream: zlib.Deflate | zlib.Inflate, flush: number) {
    this.#stream = stream;
    this.#flush = flush;
    stream.on("data", (chunk: Uint8Array) => {
      const p = this.#pending;
      if (!p) return;
      p.parts.push(chunk);
      p.bytes += chunk.length;
      // Stop inflating at once: the rest of the packet is never produced.
      if (p.bytes > p.limit) this.#abort(new RangeError(`more than ${p.limit} bytes`));
    });
    stream.on("error", (e: unknown) => this.#abort(e));
  }

  #abort(error: unknown): void {
    this.#error ??= error;
    const p = this.#pending;
    this.#pending = undefined;
    p?.reject(this.#error);
    this.#stream.destroy();
  }

  /** `data` through the stream, then a flush; rejects when more than `limit` bytes come out. */
  run(data: Uint8Array, limit: number): Promise<Uint8Array> {
    const result = this.#queue.then(() =>
      new Promise<Uint8Array>((resolve, reject) => {
        if (this.#error !== undefined) return reject(this.#error);
        const p: Pending = { parts: [], bytes: 0, limit, resolve, reject };
        this.#pending = p;
        this.#stream.write(data);
        this.#stream.flush(this.#flush, () => {
          if (this.#pending !== p) return; // aborted meanwhile
          // Deno calls back before it emits "error": the stream is destroyed already.
          if (this.#stream.destroyed) {
            return this.#abort(this.#stream.errored ?? new Error("zlib stream destroyed"));
          }
          this.#pending = undefined;
          resolve(concat(p.parts, p.bytes));
        });
      })
    );
    this.#queue = result.catch(() => {});
    return result;
  }

  /** Destroys the stream once the calls made so far are served. */
  close(): void {
    this.#queue = this.#queue.then(() => {
      this.#error ??= new Error("compression stream closed");
      this.#stream.destroy();
    });
  }
}

/**
 * Compresses the payloads of one direction (RFC 4253 §6.2), level 6 as
 * OpenSSH; each packet ends with a partial flush, so the peer can inflate it
 * alone. Calls are served in order.
 *
 * @example
 * ```ts
 * import { Deflater, Inflater } from "./compression.ts";
 * const out = new Deflater();
 * const back = new Inflater();
 * const hello = new TextEncoder().encode("hello hello hello");
 * const z = await out.compress(hello);
 * console.log(new TextDecoder().decode(await back.inflate(z, { seq: 3, limit: 1024 })));
 * out.close();
 * back.close();
 * ```
 */
export class Deflater {
  #z = new ZlibStream(zlib.createDeflate({ level: 6 }), zlib.constants.Z_PARTIAL_FLUSH);

  /** The compressed form of `payload`, after every earlier call's. */
  compress(payload: Uint8Array): Promise<Uint8Array> {
    // A flush adds a few bytes; deflate never grows data by more than ~0.1% + 12.
    return this.#z.run(payload, payload.length + (payload.length >> 6) + 64);
  }

  /** Frees the stream once the calls made so far are served. */
  close(): void {
    this.#z.close();
  }
}

/**
 * Inflates the payloads of one direction (RFC 4253 §6.2), bounded per
 * packet: inflating stops as soon as one packet's output passes `limit`
 * (never more than one zlib output chunk, 16 KiB, beyond it), and a corrupt
 * stream fails too; both reject with a DisconnectError COMPRESSION_ERROR
 * whose cause is a {@link CompressionError}.
 *
 * @example
 * ```ts
 * import { Inflater } from "./compression.ts";
 * const back = new Inflater();
 * await back.inflate(new Uint8Array([1, 2, 3]), { seq: 5, limit: 1024 })
 *   .catch((e) => console.log(e.reasonName ?? e.message)); // not a zlib stream
 * back.close();
 * ```
 */
export class Inflater {
  #z = new ZlibStream(zlib.createInflate(), zlib.constants.Z_SYNC_FLUSH);

  /** The payload packet `seq` carried, compressed in `data`; at most `limit` bytes. */
  async inflate(data: Uint8Array, where: { seq: number; limit: number }): Promise<Uint8Array> {
    try {
      return await this.#z.run(data, where.limit);
    } catch (e) {
      const why = e instanceof RangeError
        ? `inflates to more than ${where.limit} bytes (the largest packet accepted)`
        : `cannot be inflated: ${e instanceof Error ? e.message : String(e)}`;
      const error = new CompressionError(`packet ${where.seq}: compressed payload ${why}`, {
        seq: where.seq,
        cause: e,
      });
      throw new DisconnectError(DisconnectReason.COMPRESSION_ERROR, error.message, {
        local: true,
        cause: error,
      });
    }
  }

  /** Frees the stream once the calls made so far are served. */
  close(): void {
    this.#z.close();
  }
}
