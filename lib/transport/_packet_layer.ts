/**
 * The packet layer under a Transport (RFC 4253 §4.2, §6, §9): the
 * byte streams, the identification lines, the packet reader and writer with
 * their sequence numbers and current cipher and MAC states, the re-key
 * counters, the sends held while a key exchange is in flight, and the reply
 * backlog that pauses reading from a peer that does not read.
 *
 * It decides nothing about key exchanges: the handshake (_handshake.ts) tells
 * it when an exchange starts and when new keys are in force, and the
 * transport asks it whether a re-key limit is reached. Private to
 * lib/transport/.
 *
 * @module
 */
import type { PacketOpener, PacketSealer, RandomSource } from "../crypto/types.ts";
import { Msg } from "../wire/message_numbers.ts";
import { DisconnectError, DisconnectReason } from "../wire/errors.ts";
import { ByteReader } from "./_byte_reader.ts";
import { COMPRESSION_METHODS, Deflater, Inflater } from "./compression.ts";
import { type Deferred, deferred, withinMs } from "./_support.ts";
import {
  DEFAULT_MAX_PACKET,
  PacketReader,
  PacketWriter,
  type Payload,
  payloadLength,
} from "./packets.ts";
import type { ByteStreamPair, TransportOptions } from "./transport.ts";
import { readVersion } from "./version.ts";
import type { PeerVersion } from "./version.ts";

/**
 * How many replies to the peer's requests may wait for a peer that does not
 * read them before the transport stops reading from it (packets the writer
 * has not handed to the socket yet plus those held during a key exchange).
 * Reading resumes when the backlog is down to half of both figures.
 *
 * Replies are the messages sent because the peer asked: SERVICE_ACCEPT,
 * UNIMPLEMENTED, REQUEST_SUCCESS/FAILURE, CHANNEL_OPEN_CONFIRMATION/FAILURE,
 * CHANNEL_SUCCESS/FAILURE, and IGNORE (the connection layer answers a
 * message that asks nothing with one while it awaits a reply, so a peer can
 * provoke those too). Nothing else counts: channel data is paced by the
 * peer's window, and our own requests are the application's to pace;
 * counting them would let two peers that both send a lot stop reading each
 * other.
 *
 * @example
 * ```ts
 * import { REPLY_BACKLOG } from "./transport.ts";
 * console.log(REPLY_BACKLOG.packets, REPLY_BACKLOG.bytes); // 1024 262144
 * ```
 */
export const REPLY_BACKLOG: { readonly bytes: number; readonly packets: number } = Object.freeze({
  bytes: 256 * 1024,
  packets: 1024,
});

/**
 * The server's defaults (`acceptConnection`, `listen`, `rxssh serve`) for
 * the most a client may send before user authentication succeeds, counted
 * from its first packet (wire bytes: lengths, padding and MACs included),
 * unless `maxPreAuthBytes` / `maxPreAuthPackets` say otherwise. Over
 * either, the connection ends with PROTOCOL_ERROR. (A bare server
 * `Transport` has no cap unless given one: it cannot tell what its upper
 * layers authenticate.) Why these numbers:
 * an OpenSSH 9.2 login offering six keys, one of them RSA-4096, sends 12
 * packets, under 4 KB (tests/pre_auth_limits_test.ts measures it);
 * certificates (1-2 KB each), a post-quantum key share (1.2 KB) and
 * keyboard-interactive rounds add a few KB and packets, and MaxAuthTries
 * (6) bounds the failed attempts. 1 MiB is four maximum-size packets and
 * over 100 times the measured login, 1024 packets 80 times. What the caps
 * stop is a client that keeps the server busy unauthenticated for the
 * whole login grace time (SSH_MSG_IGNORE, repeated SERVICE_REQUESTs,
 * maximum-size packets).
 *
 * @example
 * ```ts
 * import { PRE_AUTH_LIMITS } from "./transport.ts";
 * console.log(PRE_AUTH_LIMITS.bytes, PRE_AUTH_LIMITS.packets); // 1048576 1024
 * ```
 */
export const PRE_AUTH_LIMITS: { readonly bytes: number; readonly packets: number } = Object.freeze({
  bytes: 1024 * 1024,
  packets: 1024,
});

/** Message numbers that answer a request of the peer (RFC 4253 §10-11, RFC 4254 §4, §5.1, §5.4). */
const REPLIES = new Set<number>([
  Msg.IGNORE,
  Msg.UNIMPLEMENTED,
  Msg.SERVICE_ACCEPT,
  Msg.REQUEST_SUCCESS,
  Msg.REQUEST_FAILURE,
  Msg.CHANNEL_OPEN_CONFIRMATION,
  Msg.CHANNEL_OPEN_FAILURE,
  Msg.CHANNEL_SUCCESS,
  Msg.CHANNEL_FAILURE,
]);

/**
 * Whether `payload` answers a request of the peer (it counts toward
 * {@link REPLY_BACKLOG}); its message number decides.
 *
 * @example
 * ```ts
 * import { isReply } from "./_packet_layer.ts";
 * console.log(isReply(new Uint8Array([6, 0, 0, 0, 0]))); // true: SERVICE_ACCEPT
 * ```
 */
export function isReply(payload: Payload): boolean {
  const first = payload instanceof Uint8Array ? payload[0] : payload[0]?.[0];
  return first !== undefined && REPLIES.has(first);
}

/** The message number of a payload (its first byte). */
function firstByte(payload: Payload): number | undefined {
  return payload instanceof Uint8Array ? payload[0] : payload[0]?.[0];
}

/**
 * What a {@link PacketLayer} needs from the transport that owns it.
 *
 * @example
 * ```ts
 * import type { PacketLayerHooks } from "./_packet_layer.ts";
 * const hooks: PacketLayerHooks = { fail: console.error, written: () => {}, closing: () => false };
 * ```
 */
export interface PacketLayerHooks {
  /** Ends the connection (a write failed). Called unbound. */
  fail(error: unknown): void;
  /** After each packet handed to the writer: the transport checks its re-key limits. */
  written(): void;
  /** Whether the connection is ending: held packets are then no longer released. */
  closing(): boolean;
}

/**
 * The options of a {@link PacketLayer}: the transport's, read when used
 * (as the transport always did), with the randomness and clock resolved.
 *
 * @example
 * ```ts
 * import type { PacketLayerOptions } from "./_packet_layer.ts";
 * const o: PacketLayerOptions = { options: {}, random: (n) => new Uint8Array(n), now: Date.now };
 * ```
 */
export interface PacketLayerOptions {
  /**
   * maxPacketSize, rekeyBytes and rekeyInterval of {@link TransportOptions};
   * with the role, USERAUTH_SUCCESS starts zlib@openssh.com (without, never).
   */
  options:
    & Pick<
      TransportOptions,
      "maxPacketSize" | "rekeyBytes" | "rekeyInterval" | "maxPreAuthBytes" | "maxPreAuthPackets"
    >
    & { role?: TransportOptions["role"] };
  /** Padding bytes. */
  random: RandomSource;
  /** Clock in milliseconds (the re-key interval). */
  now: () => number;
}

/** A send waiting for new keys. */
interface Held {
  payload: Payload;
  done: Deferred<void>;
  reply: boolean;
}

/**
 * Packets over a {@link ByteStreamPair} for one Transport: reads
 * ({@link in}), writes ({@link write}), holds sends during a key exchange
 * ({@link hold}, {@link release}), counts toward the re-key limits
 * ({@link rekeyDue}) and the reply backlog ({@link outputRoom}).
 *
 * @example
 * ```ts
 * import { PacketLayer } from "./_packet_layer.ts";
 * const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
 * const layer = new PacketLayer({ readable, writable }, {
 *   options: {},
 *   random: (n) => crypto.getRandomValues(new Uint8Array(n)),
 *   now: Date.now,
 * }, { fail: console.error, written: () => {}, closing: () => false });
 * layer.sendIdentification(["SSH-2.0-demo"]);
 * console.log((await layer.readIdentification("client")).line); // SSH-2.0-demo
 * ```
 */
export class PacketLayer {
  /** Incoming packets: the opener in force, sequence number, counters, read-ahead. */
  readonly in: PacketReader;
  /** Outgoing packets: the sealer in force, sequence number, counters, tracked replies. */
  readonly out: PacketWriter;
  /**
   * True while sends wait in the queue rather than go out: a key exchange is
   * in flight, or our new keys already carried a re-key limit.
   */
  holding = false;

  #input: ByteReader;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #hooks: PacketLayerHooks;
  #o: PacketLayerOptions;
  /** When the keys in force took over (the re-key interval runs from here). */
  #keysSince: number;
  /** Sends held for new keys, in order, and the replies among them. */
  #held: { queue: Held[]; packets: number; bytes: number } = { queue: [], packets: 0, bytes: 0 };
  /** Wakes {@link outputRoom} when held packets are released or the connection ends. */
  #roomWaiter?: () => void;
  /**
   * The compression negotiated for the keys in force, each way, and whether
   * user authentication has succeeded (zlib@openssh.com waits for it).
   */
  #compression = { out: "none", in: "none", authenticated: false };
  /** Server: what the client sent before authentication succeeded (wire bytes, packets). */
  readonly preAuth = { bytes: 0, packets: 0 };

  /** Reads and writes `stream`; `hooks` connect it to its transport. */
  constructor(stream: ByteStreamPair, options: PacketLayerOptions, hooks: PacketLayerHooks) {
    this.#o = options;
    this.#hooks = hooks;
    this.#keysSince = options.now();
    this.#input = new ByteReader(stream.readable);
    this.#writer = stream.writable.getWriter();
    this.out = new PacketWriter(this.#writer, options.random);
    this.in = new PacketReader(this.#input, options.options.maxPacketSize ?? DEFAULT_MAX_PACKET);
  }

  // ---------------------------------------------------------------- version exchange (RFC 4253 §4.2)

  /** Writes `lines` (CR LF each) ahead of every packet: pre-banner lines and our identification. */
  sendIdentification(lines: readonly string[]): void {
    const head = lines.map((l) => `${l}\r\n`).join("");
    this.out.writeRaw(new TextEncoder().encode(head)).catch(() => {});
  }

  /** Reads the peer's identification line (a client skips lines before it). */
  readIdentification(role: "client" | "server"): Promise<PeerVersion> {
    return readVersion(this.#input, role);
  }

  // ---------------------------------------------------------------- writing

  /**
   * Frames, seals and writes `payload` now (a `reply` counts toward the
   * backlog until the socket takes it). A failure ends the connection through
   * the `fail` hook; the returned promise rejects too.
   */
  write(payload: Payload, reply: boolean = isReply(payload)): Promise<void> {
    const p = this.out.write(payload, reply);
    p.catch(this.#hooks.fail);
    if (this.#o.options.role === "server" && firstByte(payload) === Msg.USERAUTH_SUCCESS) {
      // Server: our USERAUTH_SUCCESS went out uncompressed; what follows is not.
      this.#authenticated();
    }
    this.#hooks.written();
    return p;
  }

  // ---------------------------------------------------------------- reading

  /**
   * The next packet from the peer, opened and inflated. Client: a
   * USERAUTH_SUCCESS starts zlib@openssh.com from the next packet.
   */
  async read(): Promise<{ payload: Uint8Array; seq: number }> {
    const before = this.in.bytes;
    const packet = await this.in.read();
    const role = this.#o.options.role;
    if (role === "client" && packet.payload[0] === Msg.USERAUTH_SUCCESS) {
      this.#authenticated();
    } else if (role === "server" && !this.#compression.authenticated) {
      // Counters reset only between reads; read-ahead counts a batch at its first packet.
      this.#countPreAuth(Math.max(0, this.in.bytes - before));
    }
    return packet;
  }

  /**
   * Server: the caps on what a client may send before it is authenticated
   * (`maxPreAuthBytes`, `maxPreAuthPackets`); over one, the connection ends with
   * PROTOCOL_ERROR (RFC 4253 §11.1), as sshd's packet_disconnect ends its
   * pre-authentication aborts.
   */
  #countPreAuth(bytes: number): void {
    const p = this.preAuth;
    p.bytes += bytes;
    p.packets++;
    const o = this.#o.options;
    const maxBytes = o.maxPreAuthBytes ?? Infinity;
    const maxPackets = o.maxPreAuthPackets ?? Infinity;
    if (p.bytes > maxBytes || p.packets > maxPackets) {
      const [what, n, max, name] = p.bytes > maxBytes
        ? ["bytes", p.bytes, maxBytes, "maxPreAuthBytes"]
        : ["packets", p.packets, maxPackets, "maxPreAuthPackets"];
      throw new DisconnectError(
        DisconnectReason.PROTOCOL_ERROR,
        `client sent ${n} ${what} before authentication, over the limit of ${max} (${name})`,
        { local: true },
      );
    }
  }

  /** Writes a transport message of our own; failures end the connection, never the caller. */
  internal(payload: Uint8Array): void {
    this.write(payload).catch(() => {});
  }

  /** Queues `payload` until {@link release}; resolves when it is written. */
  hold(payload: Payload, reply: boolean): Promise<void> {
    const done = deferred<void>();
    this.#held.queue.push({ payload, done, reply });
    if (reply) {
      this.#held.packets++;
      this.#held.bytes += payloadLength(payload);
    }
    return done.promise;
  }

  /**
   * Stops holding, and writes what was held, in order, until a write
   * reaches a re-key limit: the re-key then starts at once (the `written`
   * hook) and holds the rest, so that no key protects much more than the
   * limit (RFC 4253 §9). `exchanging`: a key exchange is still in flight
   * (our NEWKEYS is out, the peer's not yet).
   */
  release(exchanging: boolean): void {
    this.holding = false;
    const held = this.#held;
    let i = 0;
    for (; i < held.queue.length && !this.holding && !this.#hooks.closing(); i++) {
      if (exchanging && this.rekeyDue(true)) {
        // Our NEWKEYS is out, the peer's not yet: keep the rest for the next keys.
        this.holding = true;
        break;
      }
      const q = held.queue[i];
      if (q.reply) {
        held.packets--;
        held.bytes -= payloadLength(q.payload);
      }
      this.write(q.payload, q.reply).then(q.done.resolve, q.done.reject);
    }
    held.queue.splice(0, i);
    this.#wakeRoom();
  }

  /** Rejects every held send with `error` (the connection has ended). */
  rejectHeld(error: unknown): void {
    for (const q of this.#held.queue.splice(0)) q.done.reject(error);
    this.#held.packets = this.#held.bytes = 0;
    this.#wakeRoom();
  }

  // ---------------------------------------------------------------- keys and re-key limits

  /** A key exchange has started: sends are held, and no packet is opened ahead across NEWKEYS. */
  exchangeStarted(): void {
    this.holding = true;
    this.in.readAhead = false;
  }

  /**
   * Our NEWKEYS is written: later packets go out under `sealer` (RFC 4253
   * §7.3), compressed with `compression` (a fresh stream, §6.2).
   */
  outboundKeys(sealer: PacketSealer, strict: boolean, compression = "none"): void {
    const old = this.out.sealer;
    this.out.sealer = sealer;
    // The old keys are done (RFC 4253 §9) once the last packet they sealed is
    // written: only then is no seal under them pending (compressed packets
    // seal after deflating).
    if (old.dispose) this.out.flushed().then(() => old.dispose!());
    this.out.bytes = this.out.packets = 0; // the new keys' volume starts here
    if (strict) this.out.seq = 0; // PROTOCOL §1.10: reset after every NEWKEYS
    this.#compression.out = compression;
    this.#startCompression("out");
  }

  /**
   * The peer's NEWKEYS is read: later packets are opened with `opener` (RFC
   * 4253 §7.3) and inflated with `compression` (a fresh stream, §6.2).
   */
  inboundKeys(opener: PacketOpener, strict: boolean, compression = "none"): void {
    // The peer's NEWKEYS was the last packet under the old keys, and no
    // read-ahead runs during an exchange: nothing is being opened with them.
    this.in.opener.dispose?.();
    this.in.opener = opener;
    this.#compression.in = compression;
    this.#startCompression("in");
    if (strict) this.in.seq = 0; // PROTOCOL §1.10: reset after every NEWKEYS
    this.in.readAhead = true;
    this.#keysSince = this.#o.now();
    this.in.bytes = this.in.packets = 0; // the outgoing counters restarted at our NEWKEYS
  }

  /**
   * Starts one direction's compression afresh, or stops it (RFC 4253 §6.2:
   * "the compression context is initialized after each key exchange"; OpenSSH
   * restarts its zlib streams at every NEWKEYS as well). zlib@openssh.com
   * starts only once user authentication has succeeded (OpenSSH PROTOCOL
   * §2.1). The previous stream finishes the packets already given to it.
   */
  #startCompression(direction: "in" | "out"): void {
    const c = this.#compression;
    const name = direction === "out" ? c.out : c.in;
    const method = COMPRESSION_METHODS.get(name);
    const on = name !== "none" && method !== undefined && (!method.delayed || c.authenticated);
    if (direction === "out") {
      this.out.deflater?.close();
      this.out.deflater = on ? new Deflater() : undefined;
    } else {
      this.in.inflater?.close();
      this.in.inflater = on ? new Inflater() : undefined;
    }
  }

  /**
   * User authentication has succeeded: the server wrote USERAUTH_SUCCESS, or
   * the client read it. zlib@openssh.com starts in both directions from the
   * next packet (OpenSSH PROTOCOL §2.1; sshd and ssh call
   * ssh_packet_enable_delayed_compress at the same two points). Once.
   */
  #authenticated(): void {
    const c = this.#compression;
    if (c.authenticated) return;
    c.authenticated = true;
    if (COMPRESSION_METHODS.get(c.out)?.delayed) this.#startCompression("out");
    if (COMPRESSION_METHODS.get(c.in)?.delayed) this.#startCompression("in");
  }

  /**
   * Whether a limit of RFC 4253 §9 is reached: `rekeyBytes` in either
   * direction, 2^31 packets, or `rekeyInterval` since the keys took over.
   * With `outbound`, only the outgoing keys' volume counts.
   */
  rekeyDue(outbound = false): boolean {
    const o = this.#o.options;
    const limit = o.rekeyBytes ?? 2 ** 30;
    if (this.out.bytes >= limit || this.out.packets >= 2 ** 31) return true;
    if (outbound) return false;
    const interval = o.rekeyInterval ?? 3_600_000;
    return this.in.bytes >= limit || this.in.packets >= 2 ** 31 ||
      (interval > 0 && this.#o.now() - this.#keysSince >= interval);
  }

  // ---------------------------------------------------------------- reply backlog

  /**
   * Replies to the peer's requests that wait for the peer to read them:
   * packets not yet taken by the socket plus those held during a key
   * exchange.
   */
  get replyBacklog(): { packets: number; bytes: number } {
    return {
      packets: this.out.trackedPackets + this.#held.packets,
      bytes: this.out.trackedBytes + this.#held.bytes,
    };
  }

  /**
   * Stops reading from a peer that does not read our replies: while the
   * {@link replyBacklog} is above {@link REPLY_BACKLOG}, no further packet
   * is read, so replies to its requests cannot pile up (sshd waits for its
   * writes before authentication the same way: ssh_packet_write_wait).
   * Resumes at half.
   */
  async outputRoom(): Promise<void> {
    const over = (f: number) => {
      const { packets, bytes } = this.replyBacklog;
      return packets > REPLY_BACKLOG.packets * f || bytes > REPLY_BACKLOG.bytes * f;
    };
    if (!over(1)) return;
    while (!this.#hooks.closing() && over(0.5)) {
      const woken = new Promise<void>((r) => (this.#roomWaiter = r));
      // Held packets leave only when the key exchange ends (release wakes us).
      const drained = this.#held.packets > 0
        ? woken
        : this.out.trackedBelow(REPLY_BACKLOG.bytes / 2, REPLY_BACKLOG.packets / 2);
      await Promise.race([woken, drained]);
    }
    this.#roomWaiter = undefined;
  }

  #wakeRoom(): void {
    const w = this.#roomWaiter;
    this.#roomWaiter = undefined;
    w?.();
  }

  // ---------------------------------------------------------------- closing

  /**
   * Closes both streams once what was written has gone out, or after 2 s: a
   * peer that does not read would otherwise hold the close forever.
   */
  async close(error: unknown): Promise<void> {
    // A peer that does not read would hold close() forever: abort after 2 s in all.
    // Once the flush timed out, close() would wait on the same stuck write: abort at once.
    const flushed = await withinMs(this.out.flushed().then(() => true), 2000);
    const closed = flushed === true &&
      await withinMs(this.#writer.close().then(() => true, () => false), 2000);
    if (closed !== true) await this.#writer.abort(error).catch(() => {});
    await this.#input.cancel(error);
    this.out.deflater?.close();
    this.in.inflater?.close();
    // The connection is over: the keys in force are done too.
    this.out.sealer.dispose?.();
    this.in.opener.dispose?.();
  }
}
