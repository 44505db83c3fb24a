/**
 * The connection protocol (RFC 4254): the channel multiplexer and global
 * requests, over an authenticated transport.
 *
 * @module
 */
import { type Observable, Subject } from "rxjs";
import { DisconnectError, DisconnectReason, SshError } from "../wire/errors.ts";
import {
  decodeChannelOpen,
  decodeChannelOpenConfirmation,
  decodeChannelOpenFailure,
  decodeChannelRequest,
  decodeGlobalRequest,
  encodeChannelOpen,
  encodeChannelOpenConfirmation,
  encodeChannelOpenFailure,
  encodeGlobalRequest,
  OpenFailure,
} from "../wire/connection_messages.ts";
import { encodeIgnore } from "../wire/transport_messages.ts";
import { Msg } from "../wire/message_numbers.ts";
import { quotePeerText } from "../wire/quote.ts";
import type { Payload } from "../transport/packets.ts";
import { SshReader } from "../wire/reader.ts";
import { Channel, ChannelError, type ChannelHost, type ChannelOptions } from "./channel.ts";

/**
 * The peer refused to open a channel (RFC 4254 §5.1).
 *
 * @example
 * ```ts
 * import { ChannelOpenError } from "./connection.ts";
 * const e = new ChannelOpenError("session", 1, "administratively prohibited");
 * console.log(e.reason); // 1
 * ```
 */
export class ChannelOpenError extends SshError {
  /** The channel type asked for. */
  readonly channelType: string;
  /** RFC 4254 §5.1 reason code. */
  readonly reason: number;
  /** The peer's description, as received (peer-controlled; the message quotes it). */
  readonly description: string;
  /** Creates the error. */
  constructor(channelType: string, reason: number, description: string) {
    super(
      `peer refused to open a ${channelType} channel (reason ${reason}): ${
        quotePeerText(description)
      }`,
    );
    this.channelType = channelType;
    this.reason = reason;
    this.description = description;
  }
}

/**
 * The transport surface a connection needs; a {@link Transport} has it.
 *
 * @example
 * ```ts
 * import type { MessageTransport } from "./connection.ts";
 * const fake = (t: MessageTransport) => t.send(new Uint8Array([80]));
 * ```
 */
export interface MessageTransport {
  /** Messages from the peer (numbers 50 and up). */
  readonly messages: ReadableStream<Uint8Array>;
  /** Sends one message. */
  send(payload: Payload): Promise<void>;
  /** Ends the connection. */
  disconnect(reason?: number, description?: string): Promise<void>;
  /** Resolves with the error that ended the connection. */
  readonly closed: Promise<DisconnectError>;
  /** SSH_MSG_DEBUG from the peer (a Transport has it): a message that asks nothing of us. */
  readonly debug$?: Observable<unknown>;
}

/**
 * A channel the peer wants to open. Accept or reject synchronously, or call
 * `defer()`; unanswered opens are refused with UNKNOWN_CHANNEL_TYPE.
 *
 * @example
 * ```ts
 * import type { IncomingChannelOpen } from "./connection.ts";
 * const onOpen = (o: IncomingChannelOpen) => o.type === "session" ? void o.accept() : o.reject(3, "no");
 * ```
 */
export interface IncomingChannelOpen {
  /** Channel type. */
  readonly type: string;
  /** Type-specific data, raw (e.g. direct-tcpip's host and port). */
  readonly data: Uint8Array;
  /** Confirms the open; resolves with the channel. */
  accept(options?: ChannelOptions): Promise<Channel>;
  /** Refuses it with an RFC 4254 §5.1 reason. */
  reject(reason?: number, description?: string): void;
  /** Keeps it pending for a later accept()/reject(). */
  defer(): void;
}

/**
 * A global request from the peer (RFC 4254 §4).
 *
 * @example
 * ```ts
 * import type { IncomingGlobalRequest } from "./connection.ts";
 * const onRequest = (r: IncomingGlobalRequest) => r.reject();
 * ```
 */
export interface IncomingGlobalRequest {
  /** Request name. */
  readonly name: string;
  /** Whether the peer waits for the reply. */
  readonly wantReply: boolean;
  /** Request data, raw. */
  readonly data: Uint8Array;
  /** Replies REQUEST_SUCCESS with optional response data. */
  accept(response?: Uint8Array): void;
  /** Replies REQUEST_FAILURE. */
  reject(): void;
  /** Keeps it pending. */
  defer(): void;
}

/** Largest number of channels open at once (OpenSSH's default MaxSessions is 10; this bounds all types). */
const MAX_CHANNELS = 1024;

/**
 * The channel multiplexer. Construct it once the transport is
 * authenticated; it takes over `transport.messages`.
 *
 * @example
 * ```ts
 * import { Connection } from "./connection.ts";
 * import type { MessageTransport } from "./connection.ts";
 * async function run(t: MessageTransport) {
 *   const conn = new Connection(t);
 *   const ch = await conn.openChannel("session");
 *   await ch.request("exec", new Uint8Array([0, 0, 0, 4, ...new TextEncoder().encode("true")]));
 * }
 * ```
 */
export class Connection implements ChannelHost {
  /** Channels the peer opens. */
  readonly channelOpen$: Observable<IncomingChannelOpen>;
  /** Global requests from the peer. */
  readonly globalRequest$: Observable<IncomingGlobalRequest>;

  #t: MessageTransport;
  #channels = new Map<number, Channel>();
  #pendingOpens = new Map<
    number,
    { type: string; options: ChannelOptions; resolve(c: Channel): void; reject(e: unknown): void }
  >();
  #globalReplies: {
    resolve(v: { ok: boolean; data: Uint8Array }): void;
    reject(e: unknown): void;
  }[] = [];
  #opens = new Subject<IncomingChannelOpen>();
  #globals = new Subject<IncomingGlobalRequest>();
  #nextId = 0;
  #error?: Error;
  #done: Promise<void>;
  #noMoreSessions = false;
  /** Packets this layer has sent (see {@link #nudge}). */
  #sends = 0;

  /** Starts reading `transport.messages`. */
  constructor(transport: MessageTransport) {
    this.#t = transport;
    this.channelOpen$ = this.#opens.asObservable();
    this.globalRequest$ = this.#globals.asObservable();
    transport.debug$?.subscribe(() => this.#nudge(this.#sends));
    this.#done = this.#run();
  }

  /** Live channels by local id. */
  get channels(): ReadonlyMap<number, Channel> {
    return this.#channels;
  }

  /** Resolves when the connection has ended and every channel was failed or closed. */
  get done(): Promise<void> {
    return this.#done;
  }

  /** @internal */
  send(payload: Payload): Promise<void> {
    return this.#send(payload);
  }

  /** Every packet of this layer goes out here (counted for {@link #nudge}). */
  #send(payload: Payload): Promise<void> {
    this.#sends++;
    return this.#t.send(payload);
  }

  /**
   * The peer sent a message that asks nothing of us (a request with
   * want_reply false, SSH_MSG_DEBUG). If we wait for a reply and sent
   * nothing in reaction (`#sends` still equals `sendsBefore`), we send one
   * SSH_MSG_IGNORE (RFC 4253 §11.2): it carries the TCP acknowledgement at
   * once. A peer that runs Nagle's algorithm (OpenSSH's sshd outside pty
   * sessions) holds the reply we wait for until its previous segment is
   * acknowledged, and with nothing to send our stack acknowledges it only
   * when its delayed-ACK timer fires (40 ms on Linux). One IGNORE per such
   * message at most: the peer gets no more from us than a want_reply
   * request would get, and an IGNORE never answers an IGNORE.
   */
  #nudge(sendsBefore: number): void {
    if (this.#error || this.#sends !== sendsBefore || !this.#awaitingReply()) return;
    this.#t.send(encodeIgnore(new Uint8Array(0))).catch(() => {});
  }

  /** Whether we wait for a channel open, global request or channel request reply. */
  #awaitingReply(): boolean {
    if (this.#pendingOpens.size > 0 || this.#globalReplies.length > 0) return true;
    for (const c of this.#channels.values()) if (c.awaitingReply) return true;
    return false;
  }

  /** @internal */
  release(channel: Channel): void {
    this.#channels.delete(channel.localId);
  }

  #allocate(): number {
    if (this.#channels.size + this.#pendingOpens.size >= MAX_CHANNELS) {
      throw new ChannelError(`too many open channels (${MAX_CHANNELS})`);
    }
    while (this.#channels.has(this.#nextId) || this.#pendingOpens.has(this.#nextId)) {
      this.#nextId = (this.#nextId + 1) >>> 0;
    }
    const id = this.#nextId;
    this.#nextId = (id + 1) >>> 0;
    return id;
  }

  /**
   * Opens a channel (RFC 4254 §5.1); rejects with {@link ChannelOpenError}
   * when the peer refuses.
   */
  openChannel(
    type: string,
    data: Uint8Array = new Uint8Array(0),
    options: ChannelOptions = {},
  ): Promise<Channel> {
    if (this.#error) return Promise.reject(this.#error);
    const id = this.#allocate();
    const p = new Promise<Channel>((resolve, reject) => {
      this.#pendingOpens.set(id, { type, options, resolve, reject });
    });
    this.#send(encodeChannelOpen({
      type,
      sender: id,
      window: options.window ?? 2 * 1024 * 1024,
      maxPacket: options.maxPacket ?? 32 * 1024,
      data,
    })).catch((e) => {
      this.#pendingOpens.get(id)?.reject(e);
      this.#pendingOpens.delete(id);
    });
    return p;
  }

  /** Sends a global request; with `wantReply`, resolves with the reply. */
  globalRequest(
    name: string,
    data: Uint8Array = new Uint8Array(0),
    options: { wantReply?: boolean } = {},
  ): Promise<{ ok: boolean; data: Uint8Array }> {
    if (this.#error) return Promise.reject(this.#error);
    const wantReply = options.wantReply ?? true;
    const reply = wantReply
      ? new Promise<{ ok: boolean; data: Uint8Array }>((resolve, reject) =>
        this.#globalReplies.push({ resolve, reject })
      )
      : Promise.resolve({ ok: true, data: new Uint8Array(0) });
    reply.catch(() => {});
    return this.#send(encodeGlobalRequest({ name, wantReply, data })).then(() => reply);
  }

  /** Tells the server no further session channels will be opened (OpenSSH PROTOCOL §2.2). */
  noMoreSessions(): Promise<unknown> {
    return this.globalRequest("no-more-sessions@openssh.com", undefined, { wantReply: false });
  }

  async #run(): Promise<void> {
    const reader = this.#t.messages.getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        this.#dispatch(value);
      }
      this.#fail(new ChannelError("connection closed"));
    } catch (e) {
      if (e instanceof DisconnectError) {
        this.#fail(e);
      } else {
        // A protocol violation detected here: tell the peer, end everything.
        const description = e instanceof Error ? e.message : String(e);
        this.#fail(
          new DisconnectError(DisconnectReason.PROTOCOL_ERROR, description, {
            local: true,
            cause: e,
          }),
        );
        await this.#t.disconnect(DisconnectReason.PROTOCOL_ERROR, description).catch(() => {});
      }
    } finally {
      reader.releaseLock();
    }
  }

  #fail(error: Error): void {
    if (this.#error) return;
    this.#error = error;
    for (const c of this.#channels.values()) c.fail(error);
    this.#channels.clear();
    for (const p of this.#pendingOpens.values()) p.reject(error);
    this.#pendingOpens.clear();
    for (const g of this.#globalReplies.splice(0)) g.reject(error);
    this.#opens.complete();
    this.#globals.complete();
  }

  #channel(id: number, what: string): Channel {
    const c = this.#channels.get(id);
    if (!c) throw new SshError(`${what} for unknown channel ${id}`);
    return c;
  }

  #dispatch(p: Uint8Array): void {
    const r = new SshReader(p);
    const msg = r.byte("message number");
    switch (msg) {
      case Msg.CHANNEL_DATA: {
        const c = this.#channel(r.uint32("recipient channel"), "CHANNEL_DATA");
        const data = r.string("data");
        r.end("CHANNEL_DATA");
        c.onData(data, 0);
        return;
      }
      case Msg.CHANNEL_EXTENDED_DATA: {
        const c = this.#channel(r.uint32("recipient channel"), "CHANNEL_EXTENDED_DATA");
        const type = r.uint32("data type code");
        const data = r.string("data");
        r.end("CHANNEL_EXTENDED_DATA");
        c.onData(data, type === 1 ? 1 : undefined); // RFC 4254 §5.2: only type 1 (stderr) is defined
        return;
      }
      case Msg.CHANNEL_WINDOW_ADJUST: {
        const c = this.#channel(r.uint32("recipient channel"), "CHANNEL_WINDOW_ADJUST");
        c.onWindowAdjust(r.uint32("bytes to add"));
        return;
      }
      case Msg.CHANNEL_EOF:
        this.#channel(r.uint32("recipient channel"), "CHANNEL_EOF").onEof();
        return;
      case Msg.CHANNEL_CLOSE:
        this.#channel(r.uint32("recipient channel"), "CHANNEL_CLOSE").onClose();
        return;
      case Msg.CHANNEL_REQUEST: {
        const m = decodeChannelRequest(p);
        const sends = this.#sends;
        this.#channel(m.recipient, "CHANNEL_REQUEST").onRequest(m.type, m.wantReply, m.data);
        if (!m.wantReply) this.#nudge(sends);
        return;
      }
      case Msg.CHANNEL_SUCCESS:
      case Msg.CHANNEL_FAILURE:
        this.#channel(r.uint32("recipient channel"), "CHANNEL_SUCCESS/FAILURE").onReply(
          msg === Msg.CHANNEL_SUCCESS,
        );
        return;
      case Msg.CHANNEL_OPEN:
        this.#onOpen(p);
        return;
      case Msg.CHANNEL_OPEN_CONFIRMATION:
        this.#onOpenConfirmation(p);
        return;
      case Msg.CHANNEL_OPEN_FAILURE: {
        const m = decodeChannelOpenFailure(p);
        const pending = this.#pendingOpens.get(m.recipient);
        if (!pending) throw new SshError(`CHANNEL_OPEN_FAILURE for unknown channel ${m.recipient}`);
        this.#pendingOpens.delete(m.recipient);
        pending.reject(new ChannelOpenError(pending.type, m.reason, m.description));
        return;
      }
      case Msg.GLOBAL_REQUEST:
        this.#onGlobalRequest(p);
        return;
      case Msg.REQUEST_SUCCESS:
      case Msg.REQUEST_FAILURE: {
        const g = this.#globalReplies.shift();
        if (!g) throw new SshError("global request reply without a pending request");
        g.resolve({ ok: msg === Msg.REQUEST_SUCCESS, data: r.rest() });
        return;
      }
      default:
        throw new SshError(`unexpected message ${msg} on the connection layer`);
    }
  }

  /** RFC 4254 §5.1: the peer confirmed a channel we opened. */
  #onOpenConfirmation(p: Uint8Array): void {
    const m = decodeChannelOpenConfirmation(p);
    const pending = this.#pendingOpens.get(m.recipient);
    if (!pending) {
      throw new SshError(`CHANNEL_OPEN_CONFIRMATION for unknown channel ${m.recipient}`);
    }
    this.#pendingOpens.delete(m.recipient);
    const c = new Channel(this, {
      type: pending.type,
      localId: m.recipient,
      remoteId: m.sender,
      remoteWindow: m.window,
      remoteMaxPacket: m.maxPacket,
      ...pending.options,
    });
    this.#channels.set(c.localId, c);
    pending.resolve(c);
  }

  #onOpen(p: Uint8Array): void {
    const m = decodeChannelOpen(p);
    let answered = false;
    let deferred = false;
    const refuse = (reason: number, description: string) => {
      if (answered) return;
      answered = true;
      this.#send(
        encodeChannelOpenFailure({ recipient: m.sender, reason, description, language: "" }),
      )
        .catch(() => {});
    };
    if (this.#error) return;
    if (m.type === "session" && this.#noMoreSessions) {
      return refuse(
        OpenFailure.ADMINISTRATIVELY_PROHIBITED,
        "no-more-sessions@openssh.com was requested",
      );
    }
    this.#opens.next({
      type: m.type,
      data: m.data,
      accept: async (options: ChannelOptions = {}) => {
        if (answered) {
          throw new ChannelError(`channel open from peer channel ${m.sender} was already answered`);
        }
        answered = true;
        const localId = this.#allocate();
        const c = new Channel(this, {
          type: m.type,
          localId,
          remoteId: m.sender,
          remoteWindow: m.window,
          remoteMaxPacket: m.maxPacket,
          ...options,
        });
        this.#channels.set(localId, c);
        await this.#send(encodeChannelOpenConfirmation({
          recipient: m.sender,
          sender: localId,
          window: options.window ?? 2 * 1024 * 1024,
          maxPacket: options.maxPacket ?? 32 * 1024,
        }));
        return c;
      },
      reject: (reason: number = OpenFailure.ADMINISTRATIVELY_PROHIBITED, description = "refused") =>
        refuse(reason, description),
      defer: () => void (deferred = true),
    });
    if (!answered && !deferred) {
      refuse(
        OpenFailure.UNKNOWN_CHANNEL_TYPE,
        `unsupported channel type "${quotePeerText(m.type)}"`,
      );
    }
  }

  #onGlobalRequest(p: Uint8Array): void {
    const m = decodeGlobalRequest(p);
    const sends = this.#sends;
    if (m.name === "no-more-sessions@openssh.com") this.#noMoreSessions = true;
    let answered = false;
    let deferred = false;
    const reply = (ok: boolean, data: Uint8Array = new Uint8Array(0)) => {
      if (answered) return;
      answered = true;
      if (!m.wantReply) return;
      const out = new Uint8Array(1 + data.length);
      out[0] = ok ? Msg.REQUEST_SUCCESS : Msg.REQUEST_FAILURE;
      out.set(data, 1);
      this.#send(out).catch(() => {});
    };
    this.#globals.next({
      name: m.name,
      wantReply: m.wantReply,
      data: m.data,
      accept: (response) => reply(true, response),
      reject: () => reply(false),
      defer: () => void (deferred = true),
    });
    // keepalive@openssh.com and unknown requests: REQUEST_FAILURE, as OpenSSH answers.
    if (!answered && !deferred) reply(m.name === "no-more-sessions@openssh.com");
    // e.g. OpenSSH's hostkeys-00@openssh.com, sent right after authentication.
    if (!m.wantReply) this.#nudge(sends);
  }
}
