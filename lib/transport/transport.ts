/**
 * The SSH transport layer (RFC 4253), client and server, over any pair of
 * WHATWG byte streams: version exchange, binary packets, key exchange and
 * re-exchange, strict KEX (OpenSSH PROTOCOL §1.10), ext-info (RFC 8308), and
 * the transport's events as RxJS observables.
 *
 * {@link Transport} composes two private modules, as x/crypto/ssh splits
 * transport.go from handshake.go: _packet_layer.ts (packets, sequence
 * numbers, keys in force, re-key counters, held sends, reply backlog) and
 * _handshake.ts (the key-exchange state machine). This module dispatches
 * what the peer sends and owns the events, the services and the shutdown.
 *
 * @module
 */
import type { Observable } from "rxjs";
import { LazySubject } from "../rx/_lazy_subject.ts";
import { CIPHERS } from "../crypto/ciphers.ts";
import { KexError, MacError } from "../crypto/errors.ts";
import { defaultRandom } from "../crypto/types.ts";
import type { OpenOptions, RandomSource } from "../crypto/types.ts";
import type { PrivateKey, PublicKey } from "../keys/types.ts";
import {
  DisconnectError,
  DisconnectReason,
  disconnectReasonName,
  SshError,
  WireError,
} from "../wire/errors.ts";
import { isAboveTransport, isKexMethodMessage, Msg } from "../wire/message_numbers.ts";
import { quotePeerText } from "../wire/quote.ts";
import {
  decodeDebug,
  decodeDisconnect,
  decodeExtInfo,
  decodeIgnore,
  decodeService,
  decodeUnimplemented,
  encodeDebug,
  encodeDisconnect,
  encodeIgnore,
  encodeService,
  encodeUnimplemented,
} from "../wire/transport_messages.ts";
import type { DebugMessage, GexRequest } from "../wire/transport_messages.ts";
import { EndOfStream } from "./_byte_reader.ts";
import { Handshake, resolveAlgorithmLists } from "./_handshake.ts";
import { isReply, PacketLayer } from "./_packet_layer.ts";
import { bad, type Deferred, deferred, withinMs } from "./_support.ts";
import { type Payload, payloadLength } from "./packets.ts";
import { versionLine } from "./version.ts";
import type { PeerVersion } from "./version.ts";
import { VERSION } from "../version.ts";

export { PRE_AUTH_LIMITS, REPLY_BACKLOG } from "./_packet_layer.ts";

/**
 * A pair of byte streams: a socket, a pipe, an in-memory pair, a WebSocket.
 * `readable` carries the peer's bytes and closes on its end-of-stream;
 * closing `writable` sends end-of-stream. Every transport takes one, and
 * the runtime adapters (TCP, unix sockets, memory pairs) make them.
 *
 * @example
 * ```ts
 * import type { ByteStreamPair } from "./transport.ts";
 * const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
 * const loop: ByteStreamPair = { readable, writable };
 * ```
 */
export interface ByteStreamPair {
  /** Bytes from the peer. */
  readonly readable: ReadableStream<Uint8Array>;
  /** Bytes to the peer. */
  readonly writable: WritableStream<Uint8Array>;
}

/**
 * The transport options a client and a server pass through as given
 * (`ConnectOptions` and `ServerOptions` take them; {@link transportTuning}
 * picks them out), so neither copies them field by field.
 *
 * @example
 * ```ts
 * import { TRANSPORT_TUNING } from "./transport.ts";
 * console.log(TRANSPORT_TUNING.includes("ciphers")); // true
 * ```
 */
export const TRANSPORT_TUNING = [
  "kexAlgorithms",
  "hostKeyAlgorithms",
  "ciphers",
  "macs",
  "compression",
  "rekeyBytes",
  "rekeyInterval",
  "acceptMacError",
  "preBanner",
  "handshakeTimeout",
  "maxPreAuthBytes",
  "maxPreAuthPackets",
] as const;

/**
 * See {@link TRANSPORT_TUNING}.
 *
 * @example
 * ```ts
 * import type { TransportTuning } from "./transport.ts";
 * const t: TransportTuning = { ciphers: ["aes128-gcm@openssh.com"], rekeyBytes: 1 << 30 };
 * ```
 */
export type TransportTuning = Pick<TransportOptions, typeof TRANSPORT_TUNING[number]>;

/**
 * The {@link TransportTuning} fields of `options` (an options object with
 * more in it, such as `ServerOptions`), and nothing else.
 *
 * @example
 * ```ts
 * import { transportTuning } from "./transport.ts";
 * console.log(transportTuning({ ciphers: ["aes128-ctr"], username: "x" } as { ciphers: string[] })); // { ciphers: [ "aes128-ctr" ] }
 * ```
 */
export function transportTuning(options: TransportTuning): TransportTuning {
  const out: Record<string, unknown> = {};
  for (const k of TRANSPORT_TUNING) if (options[k] !== undefined) out[k] = options[k];
  return out as TransportTuning;
}

/**
 * What the client is told about the server's host key before trusting it.
 *
 * @example
 * ```ts
 * import type { HostKeyInfo } from "./transport.ts";
 * const show = (i: HostKeyInfo) => `${i.algorithm} ${i.fingerprint}`;
 * ```
 */
export interface HostKeyInfo {
  /** The negotiated host key signature algorithm. */
  readonly algorithm: string;
  /** SHA256 fingerprint as `ssh-keygen -l` prints it. */
  readonly fingerprint: string;
  /** The server's identification line. */
  readonly peerVersion: string;
}

/**
 * Decides whether to trust a server's host key. The signature over the
 * exchange hash has already been verified; this is the "is it the right
 * key" question (known_hosts, a pinned fingerprint, a prompt).
 *
 * @example
 * ```ts
 * import type { HostKeyVerifier } from "./transport.ts";
 * const pinned: HostKeyVerifier = (_key, info) => info.fingerprint === "SHA256:abc";
 * ```
 */
export type HostKeyVerifier = (key: PublicKey, info: HostKeyInfo) => boolean | Promise<boolean>;

/**
 * Options of {@link Transport}.
 *
 * @example
 * ```ts
 * import type { TransportOptions } from "./transport.ts";
 * const opts: TransportOptions = { role: "client", verifyHostKey: () => true, ciphers: "^aes128-gcm@openssh.com" };
 * ```
 */
export interface TransportOptions {
  /** Which end of the connection this is. */
  role: "client" | "server";
  /** Server: the host keys to offer (at least one). */
  hostKeys?: readonly PrivateKey[];
  /** Client: required; decides whether the server's host key is trusted. */
  verifyHostKey?: HostKeyVerifier;
  /** KexAlgorithms, as in ssh_config(5), with `+`, `-`, `^`; or an explicit list. */
  kexAlgorithms?: string | readonly string[];
  /** HostKeyAlgorithms (client) or the signature algorithms a server offers. */
  hostKeyAlgorithms?: string | readonly string[];
  /** Ciphers, both directions. */
  ciphers?: string | readonly string[];
  /** MACs, both directions (unused with AEAD ciphers). */
  macs?: string | readonly string[];
  /**
   * Compression methods, both directions, in preference order (RFC 4253
   * §6.2): `none`, `zlib@openssh.com` (starts once user authentication has
   * succeeded), `zlib`. Default `["none"]`, as OpenSSH's client
   * (`Compression no`); `["zlib@openssh.com", "zlib", "none"]` is `ssh -C`,
   * `["none", "zlib@openssh.com"]` what sshd offers. The same `+`, `-`, `^`
   * syntax as the other lists.
   */
  compression?: string | readonly string[];
  /** softwareversion of our identification line; default `rxssh_0.1.0`. */
  software?: string;
  /** Server: lines sent before the identification line (RFC 4253 §4.2). */
  preBanner?: readonly string[];
  /** Largest packet_length accepted; default 256 KiB, at least 35000. */
  maxPacketSize?: number;
  /**
   * Server: most bytes (on the wire) the client may send before it writes
   * USERAUTH_SUCCESS; more ends the connection with PROTOCOL_ERROR. No cap
   * by default on a bare Transport; the server (`acceptConnection`,
   * `listen`) defaults to `PRE_AUTH_LIMITS.bytes` (1 MiB).
   */
  maxPreAuthBytes?: number;
  /** Server: most packets before USERAUTH_SUCCESS (see `maxPreAuthBytes`; server default `PRE_AUTH_LIMITS.packets`, 1024). */
  maxPreAuthPackets?: number;
  /** Re-key after this many bytes in either direction; default 1 GiB. */
  rekeyBytes?: number;
  /** Re-key after this many milliseconds; default one hour, 0 for none. */
  rekeyInterval?: number;
  /** Milliseconds allowed for the version exchange and first key exchange; default 120000, 0 for none. */
  handshakeTimeout?: number;
  /** Milliseconds a key re-exchange may take before the connection is dropped; default 120000, 0 for none. */
  rekeyTimeout?: number;
  /** Server: services a client may request; default `["ssh-userauth"]`. */
  services?: readonly string[];
  /** Client: group sizes asked for in diffie-hellman-group-exchange; default OpenSSH's (2048, by cipher strength, 8192). */
  gexBits?: Partial<GexRequest>;
  /** Offer strict key exchange (Terrapin countermeasure); default true. */
  strictKex?: boolean;
  /**
   * Opt-in, off by default (libssh2's MACERROR callback: "return 0 to accept
   * the packet"). Called once for every incoming packet whose MAC does not
   * verify, before that packet is processed. Returning `true` processes the
   * packet as if its MAC had verified: with an `-etm@openssh.com` MAC it is
   * decrypted anyway, with encrypt-and-MAC the plaintext is already there.
   * Returning anything else, throwing, or leaving the option out drops the
   * packet and ends the connection with MAC_ERROR.
   *
   * Only consulted for ciphers with a separate MAC (`aes*-ctr` with
   * `hmac-sha2-*`, -etm or not). For AEAD ciphers (`chacha20-poly1305@openssh.com`,
   * `aes*-gcm@openssh.com`) accepting is meaningless, since there is no
   * plaintext without a valid tag: the option is never called and the
   * connection ends with MAC_ERROR as always. Accepting forged or corrupted
   * packets gives up the integrity SSH exists to provide; use it for
   * diagnosis, never as a default.
   */
  acceptMacError?: (event: MacErrorEvent) => boolean;
  /** Random bytes; injectable for tests. */
  random?: RandomSource;
  /** Clock in milliseconds; injectable for tests. */
  now?: () => number;
}

/**
 * The algorithms chosen by one key exchange (RFC 4253 §7.1).
 *
 * @example
 * ```ts
 * import type { NegotiatedAlgorithms } from "./transport.ts";
 * const line = (a: NegotiatedAlgorithms) => `${a.kex} ${a.hostKey} ${a.cipherClientToServer}`;
 * ```
 */
export interface NegotiatedAlgorithms {
  /** Key exchange method. */
  readonly kex: string;
  /** Host key signature algorithm. */
  readonly hostKey: string;
  /** Cipher client to server. */
  readonly cipherClientToServer: string;
  /** Cipher server to client. */
  readonly cipherServerToClient: string;
  /** MAC client to server, or "<implicit>" for AEAD ciphers (as OpenSSH prints it). */
  readonly macClientToServer: string;
  /** MAC server to client, or "<implicit>". */
  readonly macServerToClient: string;
  /** Compression client to server: "none", "zlib@openssh.com" or "zlib". */
  readonly compressionClientToServer: string;
  /** Compression server to client. */
  readonly compressionServerToClient: string;
}

/**
 * A completed key exchange, emitted on {@link Transport.kex$}.
 *
 * @example
 * ```ts
 * import type { KexEvent } from "./transport.ts";
 * const describe = (e: KexEvent) => `${e.initial ? "kex" : "re-kex"} #${e.count}: ${e.algorithms.kex}`;
 * ```
 */
export interface KexEvent {
  /** The algorithms in use from now on. */
  readonly algorithms: NegotiatedAlgorithms;
  /** The session identifier (the first exchange hash). */
  readonly sessionId: Uint8Array;
  /** This exchange's hash H. */
  readonly exchangeHash: Uint8Array;
  /** The server's host key. */
  readonly hostKey: PublicKey;
  /** True for the first key exchange of the connection. */
  readonly initial: boolean;
  /** 1 for the first exchange, 2 for the first re-key, ... */
  readonly count: number;
  /** Whether strict key exchange is in force. */
  readonly strict: boolean;
  /** Which side started this exchange. */
  readonly initiatedBy: "local" | "peer";
}

/**
 * The end of a connection, as emitted (and replayed) on {@link Transport.disconnect$}.
 *
 * @example
 * ```ts
 * import type { DisconnectEvent } from "./transport.ts";
 * const show = (d: DisconnectEvent) => `${d.local ? "we" : "peer"} ended: ${d.reasonName} ${d.description}`;
 * ```
 */
export interface DisconnectEvent {
  /** RFC 4253 §11.1 reason code. */
  readonly reason: number;
  /** Its symbolic name, e.g. "MAC_ERROR". */
  readonly reasonName: string;
  /** The description sent or received. */
  readonly description: string;
  /** The language tag received ("" for ours). */
  readonly language: string;
  /** True when this side ended the connection. */
  readonly local: boolean;
  /** The same, as an error. */
  readonly error: DisconnectError;
}

/**
 * A packet whose MAC or AEAD tag failed, emitted on {@link Transport.macError$}
 * and given to {@link TransportOptions.acceptMacError}.
 *
 * @example
 * ```ts
 * import type { MacErrorEvent } from "./transport.ts";
 * const show = (e: MacErrorEvent) =>
 *   `packet ${e.seq} failed ${e.algorithm}${e.acceptable ? "" : " (AEAD: cannot be accepted)"}`;
 * ```
 */
export interface MacErrorEvent {
  /** Sequence number of the packet. */
  readonly seq: number;
  /** The cipher or MAC that rejected it. */
  readonly algorithm: string;
  /**
   * Whether accepting the packet was possible: true for a separate MAC
   * (encrypt-and-MAC or -etm), where {@link TransportOptions.acceptMacError}
   * is consulted when given; false for AEAD ciphers, whose packets can never
   * be accepted.
   */
  readonly acceptable: boolean;
}

/**
 * One end of an SSH transport connection (RFC 4253). Construct it over a
 * byte stream pair; it sends its identification line and KEXINIT at once.
 * Messages for higher layers (numbers 50 and up) arrive on
 * {@link messages}; transport events are observables.
 *
 * @example
 * ```ts
 * import { Transport } from "./transport.ts";
 * import { generatePrivateKey } from "../keys/private_key.ts";
 * const a = new TransformStream<Uint8Array, Uint8Array>();
 * const b = new TransformStream<Uint8Array, Uint8Array>();
 * const server = new Transport({ readable: a.readable, writable: b.writable }, {
 *   role: "server",
 *   hostKeys: [await generatePrivateKey("ssh-ed25519")],
 * });
 * const client = new Transport({ readable: b.readable, writable: a.writable }, {
 *   role: "client",
 *   verifyHostKey: () => true, // accept anything: for demonstrations only
 * });
 * const { algorithms } = await client.ready;
 * console.log(algorithms.kex);
 * await client.requestService("ssh-userauth");
 * await client.disconnect();
 * await server.closed;
 * ```
 */
export class Transport {
  /** "client" or "server". */
  readonly role: "client" | "server";
  /** Our identification line (without CR LF). */
  readonly localVersion: string;

  /** SSH_MSG_IGNORE data received (RFC 4253 §11.2). Hot. */
  get ignore$(): Observable<Uint8Array> {
    return this.#events.ignore.observable;
  }
  /** SSH_MSG_DEBUG messages received (RFC 4253 §11.3). Hot. */
  get debug$(): Observable<DebugMessage> {
    return this.#events.debug.observable;
  }
  /** Sequence numbers our peer reported as unimplemented (RFC 4253 §11.4). Hot. */
  get unimplemented$(): Observable<number> {
    return this.#events.unimplemented.observable;
  }
  /**
   * Packets that failed authentication, one event each. The connection is
   * then closed with MAC_ERROR, unless {@link TransportOptions.acceptMacError}
   * accepted the packet (it is asked first; this emits after its answer).
   * Hot.
   */
  get macError$(): Observable<MacErrorEvent> {
    return this.#events.macError.observable;
  }
  /** Every completed key exchange; the latest is replayed to late subscribers. */
  get kex$(): Observable<KexEvent> {
    return this.#events.kex.observable;
  }
  /** The peer's SSH_MSG_EXT_INFO (RFC 8308); the latest is replayed. */
  get extInfo$(): Observable<ReadonlyMap<string, Uint8Array>> {
    return this.#events.extInfo.observable;
  }
  /**
   * Server: each service the client requested and we accepted, once (a
   * repeated request is answered again, as sshd does, but not emitted again);
   * replayed.
   */
  get service$(): Observable<string> {
    return this.#events.service.observable;
  }
  /** The end of the connection, once; replayed to late subscribers. */
  get disconnect$(): Observable<DisconnectEvent> {
    return this.#events.disconnect.observable;
  }
  /** Payloads of messages for higher layers (number 50 and up), in order, with backpressure. */
  readonly messages: ReadableStream<Uint8Array>;

  /** The subjects behind the observables above. */
  #events = {
    // Made on first subscription (an idle connection's memory): see LazySubject.
    ignore: new LazySubject<Uint8Array>(),
    debug: new LazySubject<DebugMessage>(),
    unimplemented: new LazySubject<number>(),
    macError: new LazySubject<MacErrorEvent>(),
    kex: new LazySubject<KexEvent>(1),
    extInfo: new LazySubject<ReadonlyMap<string, Uint8Array>>(1),
    service: new LazySubject<string>(Infinity),
    disconnect: new LazySubject<DisconnectEvent>(1),
  };
  /** The {@link messages} stream's controller, and the read loop waiting for its reader. */
  #inbox: {
    controller: ReadableStreamDefaultController<Uint8Array>;
    cancelled: boolean;
    pullWaiter?: () => void;
  } = { controller: undefined!, cancelled: false };

  #options: TransportOptions;
  /** Packets, keys in force, re-key counters, held sends, reply backlog. */
  #link: PacketLayer;
  /** The key exchanges. */
  #hs: Handshake;
  #peerVersion?: PeerVersion;
  #peerExtensions = new Map<string, Uint8Array>();
  /** Server: services accepted; client: requestService() calls awaiting SERVICE_ACCEPT. */
  #services = {
    accepted: new Set<string>(),
    waiters: [] as { name: string; done: Deferred<void> }[],
  };
  #ready = deferred<KexEvent>();
  #closedDeferred = deferred<DisconnectError>();
  #closing?: DisconnectError;
  #handshakeTimer?: ReturnType<typeof setTimeout>;

  /** Starts the connection over `stream`. */
  constructor(stream: ByteStreamPair, options: TransportOptions) {
    this.role = options.role;
    this.#options = options;
    const random = options.random ?? defaultRandom;
    const now = options.now ?? Date.now;
    if (options.role === "server" && !options.hostKeys?.length) {
      throw new TypeError("a server Transport needs at least one host key (options.hostKeys)");
    }
    if (options.role === "client" && typeof options.verifyHostKey !== "function") {
      throw new TypeError(
        "a client Transport needs options.verifyHostKey: rxssh never trusts a host key silently",
      );
    }
    const lists = resolveAlgorithmLists(options);
    this.localVersion = versionLine(options.software ?? `rxssh_${VERSION}`);

    this.messages = this.#messageStream();

    const fail = (err: unknown) => this.#fail(err);
    const closing = () => this.#closing !== undefined;
    this.#link = new PacketLayer(stream, { options, random, now }, {
      fail,
      closing,
      written: () => this.#checkRekey(),
    });
    this.#hs = new Handshake(this.#link, {
      options,
      random,
      lists,
      localVersion: this.localVersion,
      peerVersion: () => this.#peerVersion!.line,
      fail,
      closing,
      completed: (event) => {
        if (event.initial) clearTimeout(this.#handshakeTimer);
        this.#events.kex.next(event);
      },
    });
    if (options.acceptMacError) {
      this.#link.in.openOptions = this.#macErrorOptions(options.acceptMacError);
    }

    const timeout = options.handshakeTimeout ?? 120_000;
    if (timeout > 0) {
      this.#handshakeTimer = setTimeout(() => {
        this.#fail(bad(
          DisconnectReason.PROTOCOL_ERROR,
          `version exchange and key exchange not completed within ${timeout} ms`,
        ));
      }, timeout);
    }
    this.#run();
  }

  /** The {@link messages} stream: a high-water mark of 64, then the read loop waits (#run). */
  #messageStream(): ReadableStream<Uint8Array> {
    return new ReadableStream<Uint8Array>({
      start: (c) => {
        this.#inbox.controller = c;
      },
      pull: () => this.#wakeReadLoop(),
      cancel: () => {
        this.#inbox.cancelled = true;
        this.#wakeReadLoop();
      },
    }, { highWaterMark: 64 });
  }

  #wakeReadLoop(): void {
    const w = this.#inbox.pullWaiter;
    this.#inbox.pullWaiter = undefined;
    w?.();
  }

  /** {@link TransportOptions.acceptMacError} as the packet reader's open options. */
  #macErrorOptions(acceptMacError: (event: MacErrorEvent) => boolean): OpenOptions {
    // Only non-AEAD openers call this, and only when a MAC has failed.
    return {
      acceptMacError: (err) => {
        const event: MacErrorEvent = { seq: err.seq, algorithm: err.algorithm, acceptable: true };
        let accepted = false;
        try {
          accepted = !this.#closing && acceptMacError(event) === true;
        } catch {
          // a throwing callback accepts nothing
        }
        // A refused packet is reported by #fail, which the MacError reaches next.
        if (accepted) this.#events.macError.next(event);
        return accepted;
      },
    };
  }

  // ---------------------------------------------------------------- public API

  /** Resolves with the first completed key exchange; rejects with a DisconnectError if the connection ends first. */
  get ready(): Promise<KexEvent> {
    return this.#ready.promise;
  }

  /** Resolves (never rejects) with the error that ended the connection, once it has ended. */
  get closed(): Promise<DisconnectError> {
    return this.#closedDeferred.promise;
  }

  /** True once the connection has ended. */
  get isClosed(): boolean {
    return this.#closing !== undefined;
  }

  /** The peer's identification line, once received. */
  get peerVersion(): PeerVersion | undefined {
    return this.#peerVersion;
  }

  /** The session identifier (RFC 4253 §7.2), after the first key exchange. */
  get sessionId(): Uint8Array | undefined {
    return this.#hs.last?.sessionId;
  }

  /** The algorithms in use, after the first key exchange. */
  get algorithms(): NegotiatedAlgorithms | undefined {
    return this.#hs.last?.algorithms;
  }

  /** The server's host key, after the first key exchange. */
  get hostKey(): PublicKey | undefined {
    return this.#hs.last?.hostKey;
  }

  /** Extensions from the peer's SSH_MSG_EXT_INFO (RFC 8308), e.g. "server-sig-algs". */
  get peerExtensions(): ReadonlyMap<string, Uint8Array> {
    return this.#peerExtensions;
  }

  /**
   * Replies to the peer's requests that wait for the peer to read them:
   * packets not yet taken by the socket plus those held during a key
   * exchange. Above {@link REPLY_BACKLOG} the transport stops reading.
   */
  get replyBacklog(): { packets: number; bytes: number } {
    return this.#link.replyBacklog;
  }

  /**
   * Server: what the client sent before user authentication succeeded
   * (wire bytes, packets), bounded by `maxPreAuthBytes` and
   * `maxPreAuthPackets`; it stops growing at authentication.
   */
  get preAuthReceived(): { bytes: number; packets: number } {
    return { ...this.#link.preAuth };
  }

  /** Whether strict key exchange is in force. */
  get strictKex(): boolean {
    return this.#hs.strict;
  }

  /**
   * Sends one message payload (number 50 and up, or any transport message).
   * During a key exchange the message waits, in order, until new keys are
   * in force. Resolves when the bytes are handed to the stream. The payload
   * may be given as parts (a header and the data), copied once into the packet.
   */
  send(payload: Payload): Promise<void> {
    if (this.#closing) return Promise.reject(this.#closing);
    if (payloadLength(payload) === 0) return Promise.reject(new RangeError("empty payload"));
    const reply = isReply(payload);
    const link = this.#link;
    const hs = this.#hs;
    if (!link.holding && hs.exchanging && hs.firstDone && link.rekeyDue(true)) {
      // Our NEWKEYS is out and the new keys already carried their limit: the
      // rest waits for the next exchange, started when the peer's NEWKEYS comes.
      link.holding = true;
    }
    if (link.holding || !hs.firstDone) return link.hold(payload, reply);
    return link.write(payload, reply);
  }

  /** Sends SSH_MSG_IGNORE with `data` (RFC 4253 §11.2). */
  sendIgnore(data: Uint8Array | string = new Uint8Array(0)): Promise<void> {
    return this.send(encodeIgnore(data));
  }

  /** Sends SSH_MSG_DEBUG (RFC 4253 §11.3). */
  sendDebug(message: string, alwaysDisplay = false): Promise<void> {
    return this.send(encodeDebug({ alwaysDisplay, message, language: "" }));
  }

  /**
   * Starts a key re-exchange (RFC 4253 §9) and resolves when it completes.
   * If one is already running, resolves with that one.
   */
  rekey(): Promise<KexEvent> {
    if (this.#closing) return Promise.reject(this.#closing);
    if (!this.#hs.firstDone && !this.#hs.exchanging) return this.#ready.promise;
    return this.#hs.start("local");
  }

  /**
   * Client: asks for a service (RFC 4253 §10) and resolves when the server
   * accepts it. The server disconnects if it does not offer it.
   */
  async requestService(name: string): Promise<void> {
    if (this.role !== "client") throw new TypeError("only a client requests services");
    const done = deferred<void>();
    this.#services.waiters.push({ name, done });
    await this.send(encodeService(Msg.SERVICE_REQUEST, name));
    return done.promise;
  }

  /**
   * Sends SSH_MSG_DISCONNECT and closes the connection. Resolves once closed.
   * The `messages` stream closes normally.
   */
  async disconnect(
    reason: number = DisconnectReason.BY_APPLICATION,
    description = "",
  ): Promise<void> {
    this.#fail(bad(reason, description || "closed by application"));
    await this.closed;
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * The version exchange (RFC 4253 §4.2), our first KEXINIT, then the read
   * loop: one packet at a time, paused while the reply backlog is over its
   * bound or nobody reads {@link messages}.
   */
  async #run(): Promise<void> {
    const link = this.#link;
    const inbox = this.#inbox;
    try {
      const pre = this.role === "server" ? (this.#options.preBanner ?? []) : [];
      link.sendIdentification([...pre, this.localVersion]);
      this.#hs.start("local");
      this.#peerVersion = await link.readIdentification(this.role);
      for (;;) {
        // Idle, the connection waits for bytes here rather than deep inside link.read().
        const arriving = link.in.whenReadable();
        if (arriving) await arriving;
        const { payload, seq } = await link.read();
        await this.#dispatch(payload, seq);
        if (this.#closing) return;
        this.#checkRekey();
        await link.outputRoom();
        while (
          inbox.controller.desiredSize !== null && inbox.controller.desiredSize <= 0 &&
          !this.#closing
        ) {
          if (inbox.cancelled) break;
          await new Promise<void>((r) => (inbox.pullWaiter = r));
        }
      }
    } catch (e) {
      this.#fail(e);
    }
  }

  /** Every failure ends here: the RFC 4253 §11.1 reason, then {@link #shutdown}, once. */
  #fail(err: unknown): void {
    if (this.#closing) return;
    let error: DisconnectError;
    if (err instanceof DisconnectError) {
      error = err;
    } else if (err instanceof MacError) {
      this.#events.macError.next({
        seq: err.seq,
        algorithm: err.algorithm,
        acceptable: !this.#inboundAead(),
      });
      error = new DisconnectError(DisconnectReason.MAC_ERROR, err.message, {
        local: true,
        cause: err,
      });
    } else if (err instanceof KexError) {
      error = new DisconnectError(DisconnectReason.KEY_EXCHANGE_FAILED, err.message, {
        local: true,
        cause: err,
      });
    } else if (err instanceof WireError) {
      error = new DisconnectError(
        DisconnectReason.PROTOCOL_ERROR,
        `malformed message: ${err.message}`,
        {
          local: true,
          cause: err,
        },
      );
    } else if (err instanceof EndOfStream) {
      error = new DisconnectError(DisconnectReason.CONNECTION_LOST, "connection closed by peer", {
        local: false,
        cause: err,
      });
    } else {
      const what = err instanceof Error ? err.message : String(err);
      const reason = err instanceof SshError
        ? DisconnectReason.PROTOCOL_ERROR
        : DisconnectReason.CONNECTION_LOST;
      error = new DisconnectError(reason, what, { local: true, cause: err });
    }
    this.#closing = error;
    // #shutdown never rejects: each step is guarded, and `closed` resolves last.
    this.#shutdown(error).catch(() => {}).finally(() => this.#closedDeferred.resolve(error));
  }

  /** Whether packets from the peer are protected by an AEAD cipher now. */
  #inboundAead(): boolean {
    const a = this.#hs.last?.algorithms;
    if (!a) return false;
    const cipher = this.role === "client" ? a.cipherServerToClient : a.cipherClientToServer;
    return CIPHERS.get(cipher)?.aead ?? false;
  }

  async #shutdown(error: DisconnectError): Promise<void> {
    clearTimeout(this.#handshakeTimer);
    const notify = error.local && error.reason !== DisconnectReason.CONNECTION_LOST;
    if (notify) {
      // Best effort: the peer learns why (RFC 4253 §11.1), bounded in time.
      const sent = this.#link.out.write(
        encodeDisconnect({ reason: error.reason, description: error.description, language: "" }),
      );
      await withinMs(sent.catch(() => {}), 2000);
    }
    this.#link.rejectHeld(error);
    for (const w of this.#services.waiters.splice(0)) w.done.reject(error);
    this.#hs.abort(error);
    this.#ready.reject(error);
    try {
      const { controller } = this.#inbox;
      if (error.local && error.reason === DisconnectReason.BY_APPLICATION) controller.close();
      else controller.error(error);
    } catch {
      // stream already closed or cancelled
    }
    this.#wakeReadLoop();
    this.#events.disconnect.next({
      reason: error.reason,
      reasonName: disconnectReasonName(error.reason),
      description: error.description,
      language: "",
      local: error.local,
      error,
    });
    // ignore$, debug$, unimplemented$, macError$, kex$, extInfo$, service$, disconnect$.
    for (const s of Object.values(this.#events)) s.complete();
    await this.#link.close(error);
  }

  /** Starts a re-exchange when a limit of RFC 4253 §9 is reached (none runs yet). */
  #checkRekey(): void {
    if (!this.#hs.firstDone || this.#hs.exchanging || this.#closing) return;
    if (this.#link.rekeyDue()) {
      // At once: sends from now on are held for the new keys (start() holds them first).
      this.#hs.start("local").catch(() => {});
    }
  }

  // ---------------------------------------------------------------- dispatch

  /** One packet from the peer: transport generic messages and key exchange here, the rest in #deliver. */
  async #dispatch(payload: Uint8Array, seq: number): Promise<void> {
    if (payload.length === 0) {
      throw bad(DisconnectReason.PROTOCOL_ERROR, `packet ${seq} has an empty payload`);
    }
    const msg = payload[0];
    const hs = this.#hs;
    if (hs.screen(msg)) return; // strict KEX, first_kex_packet_follows
    switch (msg) {
      case Msg.DISCONNECT: {
        const d = decodeDisconnect(payload);
        this.#fail(new DisconnectError(d.reason, d.description, { local: false }));
        return;
      }
      case Msg.IGNORE:
        this.#events.ignore.next(decodeIgnore(payload));
        return;
      case Msg.DEBUG:
        this.#events.debug.next(decodeDebug(payload));
        return;
      case Msg.UNIMPLEMENTED: {
        const rejected = decodeUnimplemented(payload);
        this.#events.unimplemented.next(rejected);
        hs.onUnimplemented(rejected);
        return;
      }
      case Msg.KEXINIT:
        await hs.onKexInit(payload, seq);
        return;
      case Msg.NEWKEYS:
        this.#onNewKeys();
        return;
    }
    if (isKexMethodMessage(msg)) {
      await hs.onMethodMessage(msg, payload);
      return;
    }
    hs.admit(msg);
    this.#deliver(msg, payload, seq);
  }

  /** A message outside key exchange: EXT_INFO, services, higher layers' (50+), or unknown. */
  #deliver(msg: number, payload: Uint8Array, seq: number): void {
    switch (msg) {
      case Msg.EXT_INFO:
        // RFC 8308 §2.3
        this.#peerExtensions = decodeExtInfo(payload);
        this.#events.extInfo.next(this.#peerExtensions);
        return;
      case Msg.SERVICE_REQUEST:
        if (this.role !== "server") break;
        return this.#onServiceRequest(payload);
      case Msg.SERVICE_ACCEPT:
        if (this.role !== "client") break;
        return this.#onServiceAccept(payload);
    }
    if (isAboveTransport(msg)) {
      if (this.role === "server" && this.#services.accepted.size === 0) {
        // RFC 4253 §10: a service starts with its SERVICE_REQUEST; e.g. a
        // USERAUTH_REQUEST before it is not processed (sshd 9.2 answers it
        // with UNIMPLEMENTED and ignores it; we end the connection).
        throw bad(
          DisconnectReason.PROTOCOL_ERROR,
          `message ${msg} received before the client requested a service (RFC 4253 §10)`,
        );
      }
      if (!this.#inbox.cancelled) this.#inbox.controller.enqueue(payload);
      return;
    }
    // RFC 4253 §11.4: unrecognized message numbers get SSH_MSG_UNIMPLEMENTED.
    this.#link.internal(encodeUnimplemented(seq));
  }

  /** The peer's NEWKEYS (RFC 4253 §7.3): the exchange is complete, held sends go out. */
  #onNewKeys(): void {
    const event = this.#hs.onNewKeys();
    if (event.initial) this.#ready.resolve(event);
    // What waits for the next keys, if a limit was reached already, stays held.
    this.#checkRekey();
    if (!this.#hs.exchanging) this.#link.release(false);
  }

  /** RFC 4253 §10, server side. */
  #onServiceRequest(payload: Uint8Array): void {
    const name = decodeService(Msg.SERVICE_REQUEST, payload);
    if (!(this.#options.services ?? ["ssh-userauth"]).includes(name)) {
      throw bad(
        DisconnectReason.SERVICE_NOT_AVAILABLE,
        `service "${quotePeerText(name)}" is not available`,
      );
    }
    // A repeated request is answered again, as sshd 9.2 does before
    // authentication (auth2.c input_service_request), through the same
    // bounded path as every reply; service$ emits each name once.
    this.send(encodeService(Msg.SERVICE_ACCEPT, name)).catch(() => {});
    if (!this.#services.accepted.has(name)) {
      this.#services.accepted.add(name);
      this.#events.service.next(name);
    }
  }

  /** RFC 4253 §10, client side: answers the oldest pending requestService(). */
  #onServiceAccept(payload: Uint8Array): void {
    const name = decodeService(Msg.SERVICE_ACCEPT, payload);
    const w = this.#services.waiters.shift();
    if (!w || w.name !== name) {
      throw bad(
        DisconnectReason.PROTOCOL_ERROR,
        `unrequested SERVICE_ACCEPT for "${quotePeerText(name)}"`,
      );
    }
    w.done.resolve();
  }
}
