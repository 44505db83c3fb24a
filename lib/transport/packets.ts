/**
 * The binary packet protocol (RFC 4253 §6): framing, padding, sequence
 * numbers, and the hand-off to the negotiated cipher and MAC.
 *
 * @module
 */
import { NONE_OPENER, NONE_SEALER } from "../crypto/cipher_none.ts";
import type { OpenOptions, PacketOpener, PacketSealer, RandomSource } from "../crypto/types.ts";
import { DisconnectError, DisconnectReason } from "../wire/errors.ts";
import type { ByteReader } from "./_byte_reader.ts";
import type { Deflater, Inflater } from "./compression.ts";

/** RFC 4253 §6.1: implementations must handle packets of at least 35000 bytes. */
export const MIN_MAX_PACKET = 35000;
/** Packets decrypted concurrently at most when read-ahead is on. */
export const READ_AHEAD = 8;
/** Default largest packet_length accepted: 256 KiB, as OpenSSH (PACKET_MAX_SIZE). */
export const DEFAULT_MAX_PACKET = 256 * 1024;

/**
 * A message payload: one buffer, or parts that are its concatenation (a
 * channel's data goes out as header and data, copied once, into the packet).
 *
 * @example
 * ```ts
 * import type { Payload } from "./packets.ts";
 * const parts: Payload = [new Uint8Array([94, 0, 0, 0, 0, 0, 0, 0, 2]), new Uint8Array([104, 105])];
 * ```
 */
export type Payload = Uint8Array | readonly Uint8Array[];

/**
 * The length of a {@link Payload}.
 *
 * @example
 * ```ts
 * import { payloadLength } from "./packets.ts";
 * console.log(payloadLength([new Uint8Array(3), new Uint8Array(2)])); // 5
 * ```
 */
export function payloadLength(payload: Payload): number {
  if (payload instanceof Uint8Array) return payload.length;
  let n = 0;
  for (const part of payload) n += part.length;
  return n;
}

/**
 * A {@link Payload} as one new buffer (a copy even when it is one part), for
 * message transports that keep what they are given.
 *
 * @example
 * ```ts
 * import { payloadBytes } from "./packets.ts";
 * console.log(payloadBytes([new Uint8Array([1]), new Uint8Array([2, 3])])); // Uint8Array(3) [1, 2, 3]
 * ```
 */
export function payloadBytes(payload: Payload): Uint8Array {
  if (payload instanceof Uint8Array) return payload.slice();
  const out = new Uint8Array(payloadLength(payload));
  let at = 0;
  for (const part of payload) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** Bytes written to the sink at once at most when sealed packets are coalesced. */
const COALESCE = 128 * 1024;

/** A packet (or raw bytes) waiting its turn to be written. */
interface Outgoing {
  sealed: Promise<Uint8Array>;
  /** Bytes it counts in {@link PacketWriter.trackedBytes}; 0 when not tracked. */
  tracked: number;
  /** The sealed bytes, once known. */
  ready?: Uint8Array;
  done: { promise: Promise<void>; resolve(): void; reject(e: unknown): void };
}

function deferred(): Outgoing["done"] {
  let resolve!: () => void, reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => (resolve = res, reject = rej));
  promise.catch(() => {});
  return { promise, resolve, reject };
}

/** Random bytes for padding, by random source, shared by the writers that use it. */
const PADDING_POOLS = new WeakMap<RandomSource, { bytes: Uint8Array; offset: number }>();

/** The default random source (one function, so that its writers share one padding pool). */
const cryptoRandom: RandomSource = (n) => crypto.getRandomValues(new Uint8Array(n));

/**
 * Frames payloads into packets and protects them with the current sealer.
 * Sequence numbers are assigned synchronously in call order and wrap at 2^32
 * (RFC 4253 §6.4); sealed packets are written strictly in that order.
 *
 * @example
 * ```ts
 * import { PacketWriter } from "./packets.ts";
 * const chunks: Uint8Array[] = [];
 * const w = new PacketWriter(new WritableStream({ write: (c) => { chunks.push(c); } }).getWriter());
 * await w.write(new Uint8Array([2, 0, 0, 0, 0]));
 * console.log(chunks[0].length % 8); // 0
 * ```
 */
export class PacketWriter {
  /** The sealer for the next packet. */
  sealer: PacketSealer = NONE_SEALER;
  /** Sequence number of the next packet. */
  seq = 0;
  /** Bytes written since the counter was last reset. */
  bytes = 0;
  /** Packets written since the counter was last reset. */
  packets = 0;
  /** Compresses every payload before framing while compression is in force (RFC 4253 §6.2). */
  deflater?: Deflater;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #random: RandomSource;
  #queue: Outgoing[] = [];
  #pumping = false;
  /** The latest entry's completion (its promise already has a no-op catch). */
  #last: Outgoing["done"] | undefined;
  #trackedBytes = 0;
  #trackedPackets = 0;
  #drainWaiters: { bytes: number; packets: number; resolve(): void }[] = [];

  /** Writes to `writer`; padding comes from `random`. */
  constructor(writer: WritableStreamDefaultWriter<Uint8Array>, random?: RandomSource) {
    this.#writer = writer;
    this.#random = random ?? cryptoRandom;
  }

  /**
   * `n` random padding bytes, cut from a 4 KiB pool that every writer with
   * the same random source shares (an idle connection then holds no pool
   * of its own); no byte is handed out twice.
   */
  #padding(n: number): Uint8Array {
    let pool = PADDING_POOLS.get(this.#random);
    if (!pool || pool.offset + n > pool.bytes.length) {
      pool = { bytes: this.#random(Math.max(4096, n)), offset: 0 };
      PADDING_POOLS.set(this.#random, pool);
    }
    const v = pool.bytes.subarray(pool.offset, pool.offset + n);
    pool.offset += n;
    return v;
  }

  /**
   * Builds the plaintext packet for `payload` under `sealer`: uint32
   * packet_length, byte padding_length, payload, at least 4 bytes of random
   * padding so that the aligned part is a multiple of the block size and
   * the packet is at least 16 bytes (RFC 4253 §6). The packet is the start
   * of a buffer with `sealer.overhead` bytes of room after it.
   */
  frame(payload: Payload, sealer: PacketSealer = this.sealer): Uint8Array {
    const size = payloadLength(payload);
    const bs = Math.max(8, sealer.blockSize);
    const aligned = (sealer.lengthApart ? 1 : 5) + size;
    let pad = bs - (aligned % bs);
    if (pad < 4) pad += bs;
    while (5 + size + pad < 16) pad += bs;
    const packetLength = 1 + size + pad;
    // Room for the sealer's tag or MAC after the packet: it seals in place.
    const buffer = new Uint8Array(4 + packetLength + sealer.overhead);
    const packet = buffer.subarray(0, 4 + packetLength);
    packet[0] = packetLength >>> 24;
    packet[1] = (packetLength >>> 16) & 0xff;
    packet[2] = (packetLength >>> 8) & 0xff;
    packet[3] = packetLength & 0xff;
    packet[4] = pad;
    if (payload instanceof Uint8Array) packet.set(payload, 5);
    else {
      let at = 5;
      for (const part of payload) {
        packet.set(part, at);
        at += part.length;
      }
    }
    packet.set(this.#padding(pad), 5 + size);
    return packet;
  }

  /** Writes raw bytes (the identification line) in order with packets. */
  writeRaw(bytes: Uint8Array): Promise<void> {
    return this.#enqueue(Promise.resolve(bytes), 0, bytes);
  }

  /**
   * Bytes of packets written with `tracked` set that the sink has not taken
   * yet (the transport tracks its replies to the peer's requests).
   */
  get trackedBytes(): number {
    return this.#trackedBytes;
  }

  /** Packets written with `tracked` set that the sink has not taken yet. */
  get trackedPackets(): number {
    return this.#trackedPackets;
  }

  /**
   * Resolves once at most `bytes` and `packets` of tracked packets wait (at
   * once if that is already so). Failed writes count as gone, so this never
   * waits on a dead sink.
   */
  trackedBelow(bytes: number, packets: number): Promise<void> {
    if (this.#trackedBytes <= bytes && this.#trackedPackets <= packets) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push({ bytes, packets, resolve }));
  }

  #settled(entries: readonly Outgoing[]): void {
    for (const e of entries) {
      if (e.tracked === 0) continue;
      this.#trackedBytes -= e.tracked;
      this.#trackedPackets--;
    }
    if (this.#drainWaiters.length === 0) return;
    this.#drainWaiters = this.#drainWaiters.filter((w) => {
      if (this.#trackedBytes > w.bytes || this.#trackedPackets > w.packets) return true;
      w.resolve();
      return false;
    });
  }

  /**
   * Frames, seals and writes one payload. Resolves when the sink has taken
   * the bytes (backpressure), rejects if writing fails. A `tracked` packet
   * counts in {@link trackedBytes} and {@link trackedPackets} until then.
   */
  write(payload: Payload, tracked = false): Promise<void> {
    const sealer = this.sealer;
    const seq = this.seq;
    this.seq = (seq + 1) >>> 0;
    if (this.deflater) return this.#writeCompressed(this.deflater, payload, seq, tracked);
    const packet = this.frame(payload, sealer);
    this.bytes += packet.length + sealer.overhead;
    this.packets++;
    // Sealing starts now (sealers take their nonce or counter synchronously, in
    // call order), so several packets can be in WebCrypto at once; writes stay in order.
    const size = tracked ? packet.length + sealer.overhead : 0;
    return this.#enqueue(sealer.seal(seq, packet, true), size); // frame left the sealer its room
  }

  /**
   * RFC 4253 §6.2: the payload is compressed, then framed and sealed.
   * Compressing is asynchronous (node:zlib streams), so sealing waits for
   * it; the deflater serves its calls in order, and every packet under this
   * sealer from the first compressed one on goes through it, so the sealer
   * still sees its packets in sequence order. The payload is copied first:
   * the caller may reuse its buffers once this returns. The re-key counter
   * and the reply backlog count the uncompressed size (at least what goes
   * out, so the limits of RFC 4253 §9 hold).
   */
  #writeCompressed(deflater: Deflater, payload: Payload, seq: number, tracked: boolean) {
    const sealer = this.sealer;
    const size = 5 + payloadLength(payload) + Math.max(8, sealer.blockSize) + sealer.overhead;
    this.bytes += size;
    this.packets++;
    const sealed = deflater.compress(payloadBytes(payload))
      .then((z) => sealer.seal(seq, this.frame(z, sealer), true));
    return this.#enqueue(sealed, tracked ? size : 0);
  }

  #enqueue(sealed: Promise<Uint8Array>, tracked: number, ready?: Uint8Array): Promise<void> {
    const entry: Outgoing = { sealed, ready, tracked, done: deferred() };
    if (tracked > 0) {
      this.#trackedBytes += tracked;
      this.#trackedPackets++;
    }
    if (!ready) sealed.then((b) => (entry.ready = b), () => {});
    this.#queue.push(entry);
    this.#last = entry.done;
    if (!this.#pumping) this.#pump();
    return entry.done.promise;
  }

  /**
   * Writes the queue in order. Packets already sealed behind the first one
   * go out with it in one write of up to {@link COALESCE} bytes: one copy
   * instead of one socket write (a system call) per packet.
   */
  async #pump(): Promise<void> {
    this.#pumping = true;
    while (this.#queue.length) {
      const head = this.#queue[0];
      let first: Uint8Array;
      try {
        first = head.ready ?? await head.sealed;
      } catch (e) {
        this.#queue.shift();
        head.done.reject(e);
        this.#settled([head]);
        continue;
      }
      let n = 1, total = first.length;
      while (n < this.#queue.length) {
        const next = this.#queue[n].ready;
        if (!next || total + next.length > COALESCE) break;
        total += next.length;
        n++;
      }
      const batch = this.#queue.splice(0, n);
      let chunk = first;
      if (n > 1) {
        chunk = new Uint8Array(total);
        let at = 0;
        for (const e of batch) {
          const b = e === head ? first : e.ready!;
          chunk.set(b, at);
          at += b.length;
        }
      }
      try {
        await this.#writer.write(chunk);
        for (const e of batch) e.done.resolve();
      } catch (err) {
        for (const e of batch) e.done.reject(err);
      }
      this.#settled(batch);
    }
    this.#pumping = false;
  }

  /** Resolves when everything written so far has reached the sink (never rejects). */
  flushed(): Promise<void> {
    return this.#last ? this.#last.promise.catch(() => {}) : Promise.resolve();
  }
}

/**
 * Reads packets, checks their length, padding and MAC, and returns payloads.
 *
 * @example
 * ```ts
 * import { PacketReader } from "./packets.ts";
 * import type { ByteReader } from "./_byte_reader.ts";
 * async function next(br: ByteReader) {
 *   const { payload } = await new PacketReader(br).read();
 *   return payload[0];
 * }
 * ```
 */
export class PacketReader {
  /** The opener for the next packet. */
  opener: PacketOpener = NONE_OPENER;
  /** Sequence number of the next packet. */
  seq = 0;
  /** Bytes read since the counter was last reset. */
  bytes = 0;
  /** Packets read since the counter was last reset. */
  packets = 0;
  /** Largest packet_length accepted. */
  maxPacket: number;
  /**
   * Passed to every {@link PacketOpener.open}; undefined unless the
   * application opted in to accepting packets whose MAC fails (see
   * {@link OpenOptions.acceptMacError}).
   */
  openOptions?: OpenOptions;
  /**
   * Inflates every payload while compression is in force (RFC 4253 §6.2),
   * at most {@link maxPacket} bytes per packet (more is COMPRESSION_ERROR).
   */
  inflater?: Inflater;
  #in: ByteReader;

  /** Reads from `input`, accepting packets up to `maxPacket` bytes. */
  constructor(input: ByteReader, maxPacket = DEFAULT_MAX_PACKET) {
    if (maxPacket < MIN_MAX_PACKET) {
      throw new RangeError(
        `maxPacketSize ${maxPacket} is below the RFC 4253 minimum of ${MIN_MAX_PACKET}`,
      );
    }
    this.#in = input;
    this.maxPacket = maxPacket;
  }

  /**
   * Read-ahead: when true and the opener is {@link PacketOpener.parallel},
   * packets that are already complete in the input buffer are taken with
   * the one being read and decrypted concurrently (up to
   * {@link READ_AHEAD}). The transport turns it on only outside key
   * exchanges: a peer's NEWKEYS always follows a message of ours in the same
   * exchange, so no batch can hold packets under two sets of keys.
   */
  readAhead = false;
  #queue: Promise<{ payload: Uint8Array; seq: number }>[] = [];

  /**
   * Reads one packet. Throws {@link DisconnectError} (PROTOCOL_ERROR) for a
   * bad length or padding, MacError for a bad MAC (unless
   * {@link openOptions} accepts it), EndOfStream when the connection ends,
   * DisconnectError COMPRESSION_ERROR when the payload does not inflate or
   * inflates past {@link maxPacket}.
   */
  /**
   * Resolves when bytes for the next packet start to arrive, or
   * `undefined` when some are here already (see `ByteReader.whenReadable`).
   */
  whenReadable(): Promise<unknown> | undefined {
    return this.#queue.length > 0 ? undefined : this.#in.whenReadable();
  }

  async read(): Promise<{ payload: Uint8Array; seq: number }> {
    const packet = await this.#read();
    // Inflated here, in order, not when opened: read-ahead opens packets
    // before the transport has seen the ones ahead of them (USERAUTH_SUCCESS,
    // NEWKEYS), which decide whether and how these are compressed.
    const inflater = this.inflater;
    if (!inflater) return packet;
    const payload = await inflater.inflate(packet.payload, {
      seq: packet.seq,
      limit: this.maxPacket,
    });
    return { payload, seq: packet.seq };
  }

  async #read(): Promise<{ payload: Uint8Array; seq: number }> {
    const queued = this.#queue.shift();
    if (queued) return await queued;
    const o = this.opener;
    const seq = this.seq;
    await this.#in.ensure(o.firstBlockSize);
    const length = this.#check(seq, await o.decryptLength(seq, this.#in.peek(o.firstBlockSize)));
    const whole = await this.#in.read(4 + length + o.macLength);
    const result = this.#open(o, seq, whole, length);
    // Take the packets that are already here, so that several decrypt at once.
    while (this.readAhead && o.parallel && this.opener === o && this.#queue.length < READ_AHEAD) {
      if (this.#in.buffered < 4) break;
      const n = new DataView(this.#in.peek(4).buffer, this.#in.peek(4).byteOffset).getUint32(0);
      if (n > this.maxPacket || n < 5 || n % Math.max(8, o.blockSize) !== 0) break; // the next read reports it
      if (this.#in.buffered < 4 + n + o.macLength) break;
      const p = this.#open(o, this.seq, this.#in.take(4 + n + o.macLength), n);
      p.catch(() => {});
      this.#queue.push(p);
    }
    return await result;
  }

  #check(seq: number, length: number): number {
    const o = this.opener;
    const bad = (why: string) =>
      new DisconnectError(DisconnectReason.PROTOCOL_ERROR, `packet ${seq}: ${why}`, {
        local: true,
      });
    if (length > this.maxPacket) {
      throw bad(`packet length ${length} exceeds the maximum of ${this.maxPacket}`);
    }
    if (length < 5) throw bad(`packet length ${length} is below the minimum of 5`);
    const bs = Math.max(8, o.blockSize);
    if ((o.lengthApart ? length : length + 4) % bs !== 0) {
      throw bad(`packet length ${length} is not a multiple of the ${bs}-byte block size`);
    }
    return length;
  }

  /** Counts the packet and starts opening it (sequence numbers are taken in order). */
  #open(o: PacketOpener, seq: number, whole: Uint8Array, length: number) {
    this.seq = (seq + 1) >>> 0;
    this.bytes += whole.length;
    this.packets++;
    return o.open(seq, whole, this.openOptions).then((plain) => {
      const pad = plain[0];
      if (pad < 4 || pad > length - 2) {
        throw new DisconnectError(
          DisconnectReason.PROTOCOL_ERROR,
          `packet ${seq}: padding length ${pad} is invalid for packet length ${length}`,
          { local: true },
        );
      }
      return { payload: plain.subarray(1, length - pad), seq };
    });
  }
}
