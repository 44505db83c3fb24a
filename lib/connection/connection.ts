/**
 * The connection protocol (RFC 4254): the channel multiplexer and global
 * requests, over an authenticated transport.
 *
 * @module
 */
import type { Observable } from "rxjs";
import { LazySubject } from "../rx/_lazy_subject.ts";
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
  EXTENDED_DATA_STDERR,
  OpenFailure,
} from "../wire/connection_messages.ts";
import { encodeIgnore } from "../wire/transport_messages.ts";
import { Msg } from "../wire/message_numbers.ts";
import { quotePeerText } from "../wire/quote.ts";
import type { Payload } from "../transport/packets.ts";
import { SshReader } from "../wire/reader.ts";
import {
  Channel,
  ChannelError,
  type ChannelHost,
  type ChannelOptions,
  type ChannelPort,
  DEFAULT_CHANNEL_MAX_PACKET,
  DEFAULT_WINDOW,
} from "./channel.ts";
import type { ChannelAcceptance, PeerRequestRouter, Refusal, Verdict } from "./handlers.ts";

/**
 * The peer refused to open a channel (RFC 4254 §5.1).
 *
 * @example
 * ```ts
 * import { ChannelOpenError } from "./connection.ts";
 * const e = new ChannelOpenError("session", { reason: 1, description: "administratively prohibited" });
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
  constructor(channelType: string, refusal: { reason: number; description: string }) {
    const { reason, description } = refusal;
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
 * What a connection decided about something the peer asked: a channel open
 * or a global request, accepted or refused (with why), in the order the
 * peer asked. A handler that threw is reported with its error (the peer
 * only learns of a refusal).
 *
 * @example
 * ```ts
 * import type { ConnectionEvent } from "./connection.ts";
 * const line = (e: ConnectionEvent) =>
 *   `${e.type} ${e.type === "channel-open" ? e.channelType : e.name}: ${e.accepted ? "accepted" : e.description}`;
 * ```
 */
export type ConnectionEvent =
  | {
    readonly type: "channel-open";
    /** The channel type the peer asked for. */
    readonly channelType: string;
    readonly accepted: boolean;
    /** Our channel number, when accepted. */
    readonly channelId?: number;
    /** RFC 4254 §5.1 reason code sent, when refused. */
    readonly reason?: number;
    /** Why it was refused. */
    readonly description?: string;
    /** The handler's exception, when one threw. */
    readonly error?: unknown;
  }
  | {
    readonly type: "global-request";
    /** The request name. */
    readonly name: string;
    readonly wantReply: boolean;
    readonly accepted: boolean;
    /** Why it was refused. */
    readonly description?: string;
    /** The handler's exception, when one threw. */
    readonly error?: unknown;
  };

/**
 * Options of {@link Connection}.
 *
 * @example
 * ```ts
 * import { ConnectionHandlers } from "./handlers.ts";
 * import type { ConnectionOptions } from "./connection.ts";
 * const handlers = new ConnectionHandlers<unknown>();
 * const o: ConnectionOptions = { router: handlers.router(() => ({})) };
 * ```
 */
export interface ConnectionOptions {
  /** Answers the peer's channel opens and global requests; without it all are refused. */
  router?: PeerRequestRouter<Connection>;
  /**
   * Most channels open at once on this connection, all types, opened by
   * either side (default {@link MAX_CHANNELS}). A peer's open past it is
   * refused with RESOURCE_SHORTAGE (RFC 4254 §5.1); our own `openChannel`
   * throws a ChannelError.
   */
  maxChannels?: number;
  /**
   * A channel count shared by several connections (a server's), with its
   * cap: every channel of this connection counts while it is open, and a
   * peer's open is refused with RESOURCE_SHORTAGE while `open >= max`
   * (checked when the open arrives; it is counted from then on).
   */
  sharedChannels?: SharedChannelCount;
}

/**
 * Channels open across several connections and their cap (see
 * {@link ConnectionOptions.sharedChannels}).
 *
 * @example
 * ```ts
 * import type { SharedChannelCount } from "./connection.ts";
 * const serverWide: SharedChannelCount = { max: 16384, open: 0 };
 * ```
 */
export interface SharedChannelCount {
  /** The cap. */
  readonly max: number;
  /** Channels open now (and peer opens being decided). */
  open: number;
}

/**
 * Default largest number of channels open at once on one connection, all
 * types (OpenSSH's default MaxSessions is 10; this bounds the rest).
 *
 * @example
 * ```ts
 * import { MAX_CHANNELS } from "./connection.ts";
 * console.log(MAX_CHANNELS); // 1024
 * ```
 */
export const MAX_CHANNELS = 1024;
/**
 * Most requests of the peer (channel opens, global and channel requests)
 * not answered yet, because their handler has not decided or because an
 * earlier request's reply, which must go first, is still pending; above it
 * the connection stops reading until one is answered, so a slow handler
 * paces the peer instead of queueing its requests without bound.
 *
 * @example
 * ```ts
 * import { MAX_UNANSWERED } from "./connection.ts";
 * console.log(MAX_UNANSWERED); // 64
 * ```
 */
export const MAX_UNANSWERED = 64;

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
export class Connection {
  /**
   * Every decision on what the peer asked (channel opens, global
   * requests), in order. Hot: subscribe before the peer can ask (the
   * server's connection events start at accept).
   */
  get event$(): Observable<ConnectionEvent> {
    return this.#events.observable;
  }

  #t: MessageTransport;
  #router?: PeerRequestRouter<Connection>;
  #channels = new Map<number, Channel>();
  /** How each live channel is driven (its peer messages), by local id. */
  #ports = new Map<number, ChannelPort>();
  /** What channels get of this connection (kept off its public surface). */
  #host: ChannelHost = {
    send: (payload) => this.#send(payload),
    release: (channel) => this.#release(channel),
    hold: () => this.#hold(),
  };
  #pendingOpens = new Map<
    number,
    { type: string; options: ChannelOptions; resolve(c: Channel): void; reject(e: unknown): void }
  >();
  #globalReplies: {
    resolve(v: { ok: boolean; data: Uint8Array }): void;
    reject(e: unknown): void;
  }[] = [];
  /** Our replies to the peer's global requests, in the order asked (RFC 4254 §4). */
  #globalAnswers: { payload?: Payload; ready: boolean; release: () => void }[] = [];
  /** Made on first subscription (an idle connection's memory). */
  #events = new LazySubject<ConnectionEvent>();
  #nextId = 0;
  #error?: Error;
  #done: Promise<void>;
  #noMoreSessions = false;
  /** Packets this layer has sent (see {@link #nudge}). */
  #sends = 0;
  /** Requests of the peer waiting for a verdict; see MAX_UNANSWERED. */
  #unanswered = 0;
  /** Peer channel opens accepted or being decided (they count toward MAX_CHANNELS). */
  #incomingOpens = 0;
  #maxChannels: number;
  #shared?: SharedChannelCount;
  #room?: () => void;

  /** Starts reading `transport.messages`. */
  constructor(transport: MessageTransport, options: ConnectionOptions = {}) {
    this.#maxChannels = options.maxChannels ?? MAX_CHANNELS;
    this.#shared = options.sharedChannels;
    this.#t = transport;
    this.#router = options.router;
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

  /**
   * A request of the peer waits for its answer; call the returned function
   * once the answer is out. Reading pauses while MAX_UNANSWERED wait.
   */
  #hold(): () => void {
    this.#unanswered++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.#unanswered--;
      if (this.#unanswered < MAX_UNANSWERED) this.#room?.();
    };
  }

  /** A confirmed channel, live from now on (`counted`: the shared count has it already). */
  #add(init: Parameters<typeof Channel.create>[1], counted = false): Channel {
    const { channel, port } = Channel.create(this.#host, init);
    this.#channels.set(channel.localId, channel);
    this.#ports.set(channel.localId, port);
    if (this.#shared && !counted) this.#shared.open++;
    return channel;
  }

  #release(channel: Channel): void {
    if (this.#channels.delete(channel.localId) && this.#shared) this.#shared.open--;
    this.#ports.delete(channel.localId);
  }

  #allocate(): number {
    if (this.#channels.size + this.#pendingOpens.size >= this.#maxChannels) {
      throw new ChannelError(`too many open channels (${this.#maxChannels})`);
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
      window: options.window ?? DEFAULT_WINDOW,
      maxPacket: options.maxPacket ?? DEFAULT_CHANNEL_MAX_PACKET,
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
        if (this.#unanswered >= MAX_UNANSWERED && !this.#error) {
          await new Promise<void>((resolve) => (this.#room = resolve));
          this.#room = undefined;
        }
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
    for (const p of this.#ports.values()) p.fail(error);
    if (this.#shared) this.#shared.open -= this.#channels.size;
    this.#channels.clear();
    this.#ports.clear();
    for (const p of this.#pendingOpens.values()) p.reject(error);
    this.#pendingOpens.clear();
    for (const g of this.#globalReplies.splice(0)) g.reject(error);
    this.#globalAnswers.length = 0;
    this.#events.complete();
    this.#room?.();
  }

  #channel(id: number, what: string): ChannelPort {
    const c = this.#ports.get(id);
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
        c.data(data, 0);
        return;
      }
      case Msg.CHANNEL_EXTENDED_DATA: {
        const c = this.#channel(r.uint32("recipient channel"), "CHANNEL_EXTENDED_DATA");
        const type = r.uint32("data type code");
        const data = r.string("data");
        r.end("CHANNEL_EXTENDED_DATA");
        c.data(data, type === EXTENDED_DATA_STDERR ? 1 : undefined); // RFC 4254 §5.2: only stderr is defined
        return;
      }
      case Msg.CHANNEL_WINDOW_ADJUST: {
        const c = this.#channel(r.uint32("recipient channel"), "CHANNEL_WINDOW_ADJUST");
        c.windowAdjust(r.uint32("bytes to add"));
        return;
      }
      case Msg.CHANNEL_EOF:
        this.#channel(r.uint32("recipient channel"), "CHANNEL_EOF").eof();
        return;
      case Msg.CHANNEL_CLOSE:
        this.#channel(r.uint32("recipient channel"), "CHANNEL_CLOSE").close();
        return;
      case Msg.CHANNEL_REQUEST: {
        const m = decodeChannelRequest(p);
        const sends = this.#sends;
        this.#channel(m.recipient, "CHANNEL_REQUEST").request(m.type, m.wantReply, m.data);
        if (!m.wantReply) this.#nudge(sends);
        return;
      }
      case Msg.CHANNEL_SUCCESS:
      case Msg.CHANNEL_FAILURE:
        this.#channel(r.uint32("recipient channel"), "CHANNEL_SUCCESS/FAILURE").reply(
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
        pending.reject(new ChannelOpenError(pending.type, m));
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
    const c = this.#add({
      type: pending.type,
      localId: m.recipient,
      remoteId: m.sender,
      remoteWindow: m.window,
      remoteMaxPacket: m.maxPacket,
      ...pending.options,
    });
    pending.resolve(c);
  }

  /** RFC 4254 §5.1: the peer asks to open a channel; the router's handlers decide. */
  #onOpen(p: Uint8Array): void {
    const m = decodeChannelOpen(p);
    if (this.#error) return;
    const refused = (r: Refusal, error?: unknown) => {
      const reason = r.reason ?? OpenFailure.ADMINISTRATIVELY_PROHIBITED;
      this.#events.next({
        type: "channel-open",
        channelType: m.type,
        accepted: false,
        reason,
        description: r.description,
        error,
      });
      this.#send(encodeChannelOpenFailure({
        recipient: m.sender,
        reason,
        description: r.description,
        language: "",
      })).catch(() => {});
    };
    if (m.type === "session" && this.#noMoreSessions) {
      return refused({
        accepted: false,
        description: "no-more-sessions@openssh.com was requested",
      });
    }
    const over = this.#overChannelLimit();
    if (over) {
      return refused({ accepted: false, description: over, reason: OpenFailure.RESOURCE_SHORTAGE });
    }
    const request = { type: m.type, data: m.data, window: m.window, maxPacket: m.maxPacket };
    this.#incomingOpens++;
    if (this.#shared) this.#shared.open++; // counted while it is decided, then while it is open
    const decided = this.#hold();
    this.#decide(() => this.#router?.channelOpen(request, this)).then(({ verdict, error }) => {
      decided();
      if (this.#error || !verdict?.accepted) {
        this.#incomingOpens--;
        if (this.#shared) this.#shared.open--;
      }
      if (this.#error) return;
      if (verdict?.accepted) return this.#confirm(m, verdict);
      refused(
        verdict ?? {
          accepted: false,
          reason: OpenFailure.UNKNOWN_CHANNEL_TYPE,
          description: error
            ? `the ${quotePeerText(m.type)} channel handler failed`
            : `unsupported channel type "${quotePeerText(m.type)}"`,
        },
        error,
      );
    });
  }

  /** Why a peer's channel open is refused now (RFC 4254 §5.1 RESOURCE_SHORTAGE), if it is. */
  #overChannelLimit(): string | undefined {
    if (this.#channels.size + this.#pendingOpens.size + this.#incomingOpens >= this.#maxChannels) {
      return `too many open channels (${this.#maxChannels})`;
    }
    if (this.#shared && this.#shared.open >= this.#shared.max) {
      return `too many open channels on this server (${this.#shared.max})`;
    }
  }

  /** Confirms an accepted open (RFC 4254 §5.1) and hands the channel to the handler. */
  #confirm(
    m: { type: string; sender: number; window: number; maxPacket: number },
    accepted: ChannelAcceptance,
  ): void {
    this.#incomingOpens--;
    const localId = this.#allocate();
    const window = accepted.window ?? DEFAULT_WINDOW;
    const maxPacket = accepted.maxPacket ?? DEFAULT_CHANNEL_MAX_PACKET;
    const c = this.#add({
      type: m.type,
      localId,
      remoteId: m.sender,
      remoteWindow: m.window,
      remoteMaxPacket: m.maxPacket,
      window,
      maxPacket,
    }, true);
    this.#events.next({
      type: "channel-open",
      channelType: m.type,
      accepted: true,
      channelId: localId,
    });
    this.#send(
      encodeChannelOpenConfirmation({ recipient: m.sender, sender: localId, window, maxPacket }),
    )
      .catch(() => {});
    // Synchronously, so that the handler sees the channel's first requests; what it sends
    // goes out after the confirmation.
    const failed = () => void c.close().catch(() => {});
    try {
      Promise.resolve(accepted.use(c)).catch(failed);
    } catch {
      failed();
    }
  }

  /** Runs a router question; a throwing handler is a refusal with its error. */
  async #decide<A>(
    question: () => Verdict<A> | Promise<Verdict<A>>,
  ): Promise<{ verdict: Verdict<A>; error?: unknown }> {
    try {
      return { verdict: await question() };
    } catch (error) {
      return { verdict: undefined, error: error ?? new Error("handler failed") };
    }
  }

  /** RFC 4254 §4: a global request; replies go out in the order the requests came. */
  #onGlobalRequest(p: Uint8Array): void {
    const m = decodeGlobalRequest(p);
    const sends = this.#sends;
    if (m.name === "no-more-sessions@openssh.com") this.#noMoreSessions = true;
    // Held until its reply has left: a reply behind a slow one still counts.
    const slot: { payload?: Payload; ready: boolean; release: () => void } = {
      ready: false,
      release: this.#hold(),
    };
    this.#globalAnswers.push(slot);
    const request = { name: m.name, data: m.data, wantReply: m.wantReply };
    const answer = (
      { verdict, error }: {
        verdict: Verdict<{ accepted: true; data?: Uint8Array; after?: () => void }>;
        error?: unknown;
      },
    ) => {
      // OpenSSH answers no-more-sessions itself; keepalive@openssh.com and unknown requests fail.
      const ok = verdict ? verdict.accepted : m.name === "no-more-sessions@openssh.com" && !error;
      const description = verdict && !verdict.accepted
        ? verdict.description
        : ok
        ? undefined
        : error
        ? "the handler failed"
        : "no handler";
      this.#events.next({
        type: "global-request",
        name: m.name,
        wantReply: m.wantReply,
        accepted: ok,
        description,
        error,
      });
      if (m.wantReply) {
        const data = verdict?.accepted ? verdict.data ?? new Uint8Array(0) : new Uint8Array(0);
        const out = new Uint8Array(1 + data.length);
        out[0] = ok ? Msg.REQUEST_SUCCESS : Msg.REQUEST_FAILURE;
        out.set(data, 1);
        slot.payload = out;
      }
      slot.ready = true;
      this.#flushGlobalAnswers();
      if (verdict?.accepted) verdict.after?.();
    };
    if (m.name === "no-more-sessions@openssh.com" && !this.#router) {
      answer({ verdict: undefined });
    } else {
      const question = this.#decide(() => this.#router?.globalRequest(request, this));
      question.then(answer);
    }
    // e.g. OpenSSH's hostkeys-00@openssh.com, sent right after authentication.
    if (!m.wantReply) this.#nudge(sends);
  }

  #flushGlobalAnswers(): void {
    while (this.#globalAnswers.length && this.#globalAnswers[0].ready) {
      const { payload, release } = this.#globalAnswers.shift()!;
      if (payload && !this.#error) this.#send(payload).catch(() => {});
      release();
    }
  }
}
