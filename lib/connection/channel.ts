/**
 * One SSH channel (RFC 4254 §5): its data as WHATWG streams with flow
 * control by the channel window, its requests, EOF and the close handshake.
 *
 * @module
 */
import { type Observable, Subject } from "rxjs";
import { SshError } from "../wire/errors.ts";
import {
  encodeChannelDataHeader,
  encodeChannelRequest,
  encodeChannelSimple,
  encodeWindowAdjust,
  EXTENDED_DATA_STDERR,
} from "../wire/connection_messages.ts";
import { Msg } from "../wire/message_numbers.ts";
import type { Payload } from "../transport/packets.ts";

/**
 * A channel-level failure: the peer refused to open it, or it was used after
 * it closed.
 *
 * @example
 * ```ts
 * import { ChannelError } from "./channel.ts";
 * const e = new ChannelError("channel 3 (session) is closed");
 * ```
 */
export class ChannelError extends SshError {}

/**
 * A request the peer made on a channel (RFC 4254 §5.4). Reply synchronously
 * with {@link accept} or {@link reject}, or call {@link defer} and reply
 * later; a request nobody answers synchronously is rejected for you.
 *
 * @example
 * ```ts
 * import type { IncomingChannelRequest } from "./channel.ts";
 * const onRequest = (r: IncomingChannelRequest) => r.type === "env" ? r.accept() : r.reject();
 * ```
 */
export interface IncomingChannelRequest {
  /** Request type, e.g. "exec", "pty-req", "exit-status". */
  readonly type: string;
  /** Whether the peer waits for a reply. */
  readonly wantReply: boolean;
  /** Type-specific data, raw. */
  readonly data: Uint8Array;
  /** Replies SSH_MSG_CHANNEL_SUCCESS (if a reply is wanted). */
  accept(): void;
  /** Replies SSH_MSG_CHANNEL_FAILURE (if a reply is wanted). */
  reject(): void;
  /** Keeps the request open for a later accept()/reject(). */
  defer(): void;
}

/**
 * How a connection drives one channel with the peer's messages for it
 * (RFC 4254 §5.2-§5.4). Data and window violations throw `SshError`.
 *
 * @example
 * ```ts
 * import type { ChannelPort } from "./channel.ts";
 * const eof = (p: ChannelPort) => p.eof();
 * ```
 */
export interface ChannelPort {
  /** SSH_MSG_CHANNEL_DATA (0) / EXTENDED_DATA (1 = stderr, undefined = unknown type). */
  data(data: Uint8Array, stream: 0 | 1 | undefined): void;
  /** SSH_MSG_CHANNEL_WINDOW_ADJUST. */
  windowAdjust(bytes: number): void;
  /** SSH_MSG_CHANNEL_EOF. */
  eof(): void;
  /** SSH_MSG_CHANNEL_CLOSE. */
  close(): void;
  /** SSH_MSG_CHANNEL_REQUEST. */
  request(type: string, wantReply: boolean, data: Uint8Array): void;
  /** SSH_MSG_CHANNEL_SUCCESS / FAILURE. */
  reply(ok: boolean): void;
  /** The connection ended. */
  fail(error: Error): void;
}

/**
 * What a channel needs from its connection (a {@link Connection} is one).
 *
 * @example
 * ```ts
 * import type { ChannelHost } from "./channel.ts";
 * const host: ChannelHost = { send: async () => {}, release: () => {} };
 * ```
 */
export interface ChannelHost {
  /** Sends one message to the peer. */
  send(payload: Payload): Promise<void>;
  /** Forgets a channel whose close handshake is complete. */
  release(channel: Channel): void;
  /** A request of the peer waits for its answer; the returned function marks it answered. */
  hold?(): () => void;
}

/**
 * Options for a channel's local side.
 *
 * @example
 * ```ts
 * import type { ChannelOptions } from "./channel.ts";
 * const o: ChannelOptions = { window: 2 * 1024 * 1024, maxPacket: 32768 };
 * ```
 */
export interface ChannelOptions {
  /** The window we grant the peer (default 2 MiB, as OpenSSH). */
  window?: number;
  /** Largest data packet we accept (default 32 KiB, as OpenSSH). */
  maxPacket?: number;
}

/** OpenSSH's defaults (channels.h CHAN_SES_WINDOW_DEFAULT, CHAN_SES_PACKET_DEFAULT). */
export const DEFAULT_WINDOW = 2 * 1024 * 1024;
/** See {@link DEFAULT_WINDOW}. Not the transport's packet limit (`DEFAULT_MAX_PACKET`, 256 KiB, in packets.ts). */
export const DEFAULT_CHANNEL_MAX_PACKET = 32 * 1024;

/**
 * What a channel is made with: its type, both ends' numbers, the peer's
 * window and packet size, and our side's options.
 *
 * @example
 * ```ts
 * import type { ChannelInit } from "./channel.ts";
 * const init: ChannelInit = { type: "session", localId: 0, remoteId: 5, remoteWindow: 2097152, remoteMaxPacket: 32768 };
 * ```
 */
export interface ChannelInit extends ChannelOptions {
  /** The channel type. */
  readonly type: string;
  /** Our channel number. */
  readonly localId: number;
  /** The peer's channel number. */
  readonly remoteId: number;
  /** The peer's initial window. */
  readonly remoteWindow: number;
  /** The peer's largest data packet. */
  readonly remoteMaxPacket: number;
}

interface Waiter {
  resolve(): void;
}

/**
 * A channel. `readable` and `stderr` carry what the peer sends, with
 * backpressure: the window is only re-opened as the application reads.
 * `writable` (and `stderrWritable`) send, waiting for window; closing
 * `writable` sends EOF. `close()` runs the close handshake.
 *
 * @example
 * ```ts
 * import type { Channel } from "./channel.ts";
 * async function echo(ch: Channel) {
 *   await ch.readable.pipeTo(ch.writable); // EOF from the peer ends the pipe and sends our EOF
 *   await ch.close();
 * }
 * ```
 */
export class Channel {
  /** Channel type ("session", "direct-tcpip", ...). */
  readonly type: string;
  /** Our channel number. */
  readonly localId: number;
  /** The peer's channel number. */
  readonly remoteId: number;
  /** Data from the peer. */
  readonly readable: ReadableStream<Uint8Array>;
  /** Extended data type 1 (stderr) from the peer. */
  readonly stderr: ReadableStream<Uint8Array>;
  /** Data to the peer; `close()` sends EOF. */
  readonly writable: WritableStream<Uint8Array>;
  /** Extended data type 1 (stderr) to the peer. */
  readonly stderrWritable: WritableStream<Uint8Array>;
  /** Requests from the peer on this channel. */
  readonly requests$: Observable<IncomingChannelRequest>;

  #host: ChannelHost;
  #window: number;
  #maxPacket: number;
  #localWindow: number;
  #remoteWindow: number;
  #remoteMaxPacket: number;
  #out!: ReadableStreamDefaultController<Uint8Array>;
  #err!: ReadableStreamDefaultController<Uint8Array>;
  #requests = new Subject<IncomingChannelRequest>();
  #replies: { resolve(ok: boolean): void; reject(e: unknown): void }[] = [];
  /** Our replies to the peer's requests, in the order asked (RFC 4254 §5.4: no request ids). */
  #answers: { ok?: boolean; wantReply: boolean; decided?: () => void }[] = [];
  #windowWaiters: Waiter[] = [];
  #writeChain: Promise<void> = Promise.resolve();
  #eofSent = false;
  #eofReceived = false;
  #closeSent = false;
  #closeReceived = false;
  #error?: Error;
  #closed: { promise: Promise<Error | undefined>; resolve(e?: Error): void };
  #readDone = [false, false];

  /** Use {@link Channel.create}: the connection needs the channel's port. */
  private constructor(
    host: ChannelHost,
    init: ChannelInit,
  ) {
    this.#host = host;
    this.type = init.type;
    this.localId = init.localId;
    this.remoteId = init.remoteId;
    this.#window = this.#localWindow = init.window ?? DEFAULT_WINDOW;
    this.#maxPacket = init.maxPacket ?? DEFAULT_CHANNEL_MAX_PACKET;
    this.#remoteWindow = init.remoteWindow;
    this.#remoteMaxPacket = Math.max(1, init.remoteMaxPacket);
    let resolveClosed!: (e?: Error) => void;
    this.#closed = {
      promise: new Promise((r) => (resolveClosed = r)),
      resolve: (e) => resolveClosed(e),
    };
    const strategy = new ByteLengthQueuingStrategy({ highWaterMark: this.#window });
    this.readable = new ReadableStream<Uint8Array>({
      start: (c) => void (this.#out = c),
      pull: () => this.#pulled(0),
      cancel: () => this.#cancelled(0),
    }, strategy);
    this.stderr = new ReadableStream<Uint8Array>({
      start: (c) => void (this.#err = c),
      pull: () => this.#pulled(1),
      cancel: () => this.#cancelled(1),
    }, strategy);
    this.writable = new WritableStream<Uint8Array>({
      write: (chunk) => this.#write(chunk),
      close: () => this.#sendEof(),
      abort: () => this.close(),
    });
    this.stderrWritable = new WritableStream<Uint8Array>({
      write: (chunk) => this.#write(chunk, EXTENDED_DATA_STDERR),
    });
    this.requests$ = this.#requests.asObservable();
  }

  /** Resolves when the channel is gone: undefined after a normal close, the error otherwise. */
  get closed(): Promise<Error | undefined> {
    return this.#closed.promise;
  }

  /** True once we received the peer's EOF. */
  get eofReceived(): boolean {
    return this.#eofReceived;
  }

  /** Bytes the peer may still send before we grant more. */
  get localWindow(): number {
    return this.#localWindow;
  }

  /** Resolves when every write accepted so far has been handed to the transport (never rejects). */
  drained(): Promise<void> {
    return this.#writeChain.catch(() => {});
  }

  /** Bytes we may still send. */
  get remoteWindow(): number {
    return this.#remoteWindow;
  }

  /** True while a request of ours with want_reply waits for SUCCESS or FAILURE. */
  get awaitingReply(): boolean {
    return this.#replies.length > 0;
  }

  /**
   * Sends a channel request (RFC 4254 §5.4). With `wantReply`, resolves
   * true on SSH_MSG_CHANNEL_SUCCESS and false on FAILURE.
   */
  request(
    type: string,
    data: Uint8Array = new Uint8Array(0),
    options: { wantReply?: boolean } = {},
  ): Promise<boolean> {
    if (this.#closeSent || this.#closeReceived || this.#error) {
      return Promise.reject(
        this.#error ?? new ChannelError(`channel ${this.localId} (${this.type}) is closed`),
      );
    }
    const wantReply = options.wantReply ?? true;
    const reply = wantReply
      ? new Promise<boolean>((resolve, reject) => this.#replies.push({ resolve, reject }))
      : Promise.resolve(true);
    reply.catch(() => {});
    return this.#host.send(
      encodeChannelRequest({ recipient: this.remoteId, type, wantReply, data }),
    ).then(
      () => reply,
    );
  }

  /** Sends EOF if not sent yet, then CLOSE, and waits for the peer's CLOSE (RFC 4254 §5.3). */
  async close(): Promise<void> {
    if (!this.#closeSent && !this.#error) {
      this.#closeSent = true;
      await this.#writeChain.catch(() => {});
      if (!this.#eofSent && !this.#closeReceived) {
        this.#eofSent = true;
        await this.#host.send(encodeChannelSimple(Msg.CHANNEL_EOF, this.remoteId)).catch(() => {});
      }
      await this.#host.send(encodeChannelSimple(Msg.CHANNEL_CLOSE, this.remoteId)).catch(() => {});
      this.#maybeRelease();
    }
    await this.closed;
  }

  // -------------------------------------------------------------- from the connection

  /**
   * Makes a channel and the port its connection drives it through (the
   * peer's messages for it); the port is not part of the channel's public
   * surface.
   */
  static create(
    host: ChannelHost,
    init: ChannelInit,
  ): { channel: Channel; port: ChannelPort } {
    const c = new Channel(host, init);
    return {
      channel: c,
      port: {
        data: (data, stream) => c.#onData(data, stream),
        windowAdjust: (bytes) => c.#onWindowAdjust(bytes),
        eof: () => c.#onEof(),
        close: () => c.#onClose(),
        request: (type, wantReply, data) => c.#onRequest(type, wantReply, data),
        reply: (ok) => c.#onReply(ok),
        fail: (error) => c.#fail(error),
      },
    };
  }

  /**
   * SSH_MSG_CHANNEL_DATA (stream 0) / EXTENDED_DATA (1 = stderr,
   * undefined = an unknown type: counted against the window, then dropped).
   * Throws SshError for a window or packet violation.
   */
  #onData(data: Uint8Array, stream: 0 | 1 | undefined): void {
    if (this.#eofReceived || this.#closeReceived) {
      throw new SshError(`channel ${this.localId}: data after EOF`);
    }
    if (data.length > this.#maxPacket) {
      throw new SshError(
        `channel ${this.localId}: data packet of ${data.length} bytes exceeds the maximum of ${this.#maxPacket}`,
      );
    }
    if (data.length > this.#localWindow) {
      throw new SshError(
        `channel ${this.localId}: ${data.length} bytes of data exceed the window of ${this.#localWindow}`,
      );
    }
    this.#localWindow -= data.length;
    if (stream === undefined || this.#readDone[stream]) {
      // The application cancelled this stream: discard, but keep the window open.
      this.#maybeAdjust();
      return;
    }
    (stream === 0 ? this.#out : this.#err).enqueue(data);
    this.#maybeAdjust();
  }

  /** SSH_MSG_CHANNEL_WINDOW_ADJUST. */
  #onWindowAdjust(bytes: number): void {
    if (this.#remoteWindow + bytes > 0xffffffff) {
      throw new SshError(`channel ${this.localId}: window adjust overflows 2^32-1`);
    }
    this.#remoteWindow += bytes;
    for (const w of this.#windowWaiters.splice(0)) w.resolve();
  }

  /** SSH_MSG_CHANNEL_EOF. */
  #onEof(): void {
    if (this.#eofReceived) return;
    this.#eofReceived = true;
    this.#endReadables();
  }

  /** SSH_MSG_CHANNEL_CLOSE. */
  #onClose(): void {
    if (this.#closeReceived) throw new SshError(`channel ${this.localId}: CLOSE received twice`);
    this.#closeReceived = true;
    this.#endReadables();
    for (const w of this.#windowWaiters.splice(0)) w.resolve();
    if (!this.#closeSent) {
      this.#closeSent = true;
      this.#host.send(encodeChannelSimple(Msg.CHANNEL_CLOSE, this.remoteId)).catch(() => {});
    }
    this.#maybeRelease();
  }

  /**
   * SSH_MSG_CHANNEL_REQUEST. Replies go out in the order the
   * requests came, whenever each is answered.
   */
  #onRequest(type: string, wantReply: boolean, data: Uint8Array): void {
    const slot: { ok?: boolean; wantReply: boolean; decided?: () => void } = {
      wantReply,
      decided: this.#host.hold?.(),
    };
    this.#answers.push(slot);
    let deferred = false;
    const reply = (ok: boolean) => {
      if (slot.ok !== undefined) return;
      slot.ok = ok;
      this.#flushAnswers();
    };
    this.#requests.next({
      type,
      wantReply,
      data,
      accept: () => reply(true),
      reject: () => reply(false),
      defer: () => void (deferred = true),
    });
    if (slot.ok === undefined && !deferred) reply(false);
  }

  #flushAnswers(): void {
    while (this.#answers.length && this.#answers[0].ok !== undefined) {
      const { ok, wantReply, decided } = this.#answers.shift()!;
      if (wantReply && !this.#closeSent && !this.#error) {
        this.#host.send(
          encodeChannelSimple(ok ? Msg.CHANNEL_SUCCESS : Msg.CHANNEL_FAILURE, this.remoteId),
        ).catch(() => {});
      }
      decided?.(); // held until its reply has left (a reply behind a slow one still counts)
    }
  }

  /** SSH_MSG_CHANNEL_SUCCESS / FAILURE. */
  #onReply(ok: boolean): void {
    const r = this.#replies.shift();
    if (!r) throw new SshError(`channel ${this.localId}: reply without a pending request`);
    r.resolve(ok);
  }

  /** The connection ended. */
  #fail(error: Error): void {
    if (this.#error || (this.#closeSent && this.#closeReceived)) return;
    this.#error = error;
    this.#errorWhenRead(0);
    this.#errorWhenRead(1);
    for (const r of this.#replies.splice(0)) r.reject(error);
    for (const a of this.#answers.splice(0)) a.decided?.();
    for (const w of this.#windowWaiters.splice(0)) w.resolve();
    this.#requests.complete();
    this.#closed.resolve(error);
  }

  // -------------------------------------------------------------- internals

  #queued(c: ReadableStreamDefaultController<Uint8Array>, i: number): number {
    return this.#readDone[i] ? 0 : Math.max(0, this.#window - (c.desiredSize ?? this.#window));
  }

  #maybeAdjust(): void {
    if (this.#eofReceived || this.#closeReceived || this.#error) return;
    // Outstanding = what the peer may still send + what waits unread; keep it at the window size.
    const outstanding = this.#localWindow + this.#queued(this.#out, 0) + this.#queued(this.#err, 1);
    const grant = this.#window - outstanding;
    if (grant >= Math.min(this.#window / 2, 4 * this.#maxPacket)) {
      this.#localWindow += grant;
      this.#host.send(encodeWindowAdjust(this.remoteId, grant)).catch(() => {});
    }
  }

  #pulled(i: number): void {
    if (this.#error) this.#errorWhenRead(i);
    else this.#maybeAdjust();
  }

  /**
   * After the connection failed: errors readable `i` once the data already
   * received is read. Those bytes took window the peer spent on them
   * (RFC 4254 §5.2): a FIN after data must not lose the data.
   */
  #errorWhenRead(i: number): void {
    const c = i === 0 ? this.#out : this.#err;
    if ((c.desiredSize ?? 0) < this.#window) return; // still queued (or closed, or errored)
    try {
      c.error(this.#error);
    } catch {
      // already closed
    }
  }

  #cancelled(i: number): void {
    this.#readDone[i] = true;
    this.#maybeAdjust();
  }

  #endReadables(): void {
    for (const [i, c] of [this.#out, this.#err].entries()) {
      if (this.#readDone[i]) continue;
      try {
        c.close();
      } catch {
        // already closed
      }
    }
  }

  #write(chunk: Uint8Array, dataType?: number): Promise<void> {
    const run = async () => {
      let off = 0;
      // Packets within the window go out without waiting for each other, so the
      // transport can seal several at once; the write resolves when all are sent.
      const sends: Promise<void>[] = [];
      while (off < chunk.length) {
        if (this.#error) throw this.#error;
        if (this.#eofSent || this.#closeSent || this.#closeReceived) {
          throw new ChannelError(
            `channel ${this.localId} (${this.type}): write after EOF or close`,
          );
        }
        if (this.#remoteWindow === 0) {
          await new Promise<void>((resolve) => this.#windowWaiters.push({ resolve }));
          continue;
        }
        const n = Math.min(chunk.length - off, this.#remoteWindow, this.#remoteMaxPacket);
        this.#remoteWindow -= n;
        // Header and data as parts: the data is copied once, into the packet.
        const sent = this.#host.send([
          encodeChannelDataHeader(this.remoteId, n, { dataType }),
          chunk.subarray(off, off + n),
        ]);
        sent.catch(() => {});
        sends.push(sent);
        off += n;
      }
      await Promise.all(sends);
    };
    const p = this.#writeChain.then(run);
    this.#writeChain = p.catch(() => {});
    return p;
  }

  async #sendEof(): Promise<void> {
    await this.#writeChain.catch(() => {});
    if (this.#eofSent || this.#closeSent || this.#error) return;
    this.#eofSent = true;
    await this.#host.send(encodeChannelSimple(Msg.CHANNEL_EOF, this.remoteId));
  }

  #maybeRelease(): void {
    if (!(this.#closeSent && this.#closeReceived)) return;
    for (const r of this.#replies.splice(0)) {
      r.reject(new ChannelError(`channel ${this.localId} closed`));
    }
    for (const a of this.#answers.splice(0)) a.decided?.();
    this.#requests.complete();
    this.#host.release(this);
    this.#closed.resolve(undefined);
  }
}
