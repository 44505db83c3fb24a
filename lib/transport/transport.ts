/**
 * The SSH transport layer (RFC 4253), client and server, over any pair of
 * WHATWG byte streams: version exchange, binary packets, key exchange and
 * re-exchange, strict KEX (OpenSSH PROTOCOL §1.10), ext-info (RFC 8308), and
 * the transport's events as RxJS observables.
 *
 * @module
 */
import { type Observable, ReplaySubject, Subject } from "rxjs";
import { CIPHERS, MACS } from "../crypto/ciphers.ts";
import { chooseGexGroup } from "../crypto/dh_groups.ts";
import { KexError, MacError } from "../crypto/errors.ts";
import { constantTimeEqual } from "../crypto/mac.ts";
import { deriveKeys } from "../crypto/kdf.ts";
import { KEX_ALGORITHMS } from "../crypto/kex.ts";
import { defaultRandom } from "../crypto/types.ts";
import type { DhGroup, KexAlgorithm, KexClient, RandomSource } from "../crypto/types.ts";
import { parsePublicKey } from "../keys/public_key.ts";
import type { PrivateKey, PublicKey } from "../keys/types.ts";
import {
  DisconnectError,
  DisconnectReason,
  disconnectReasonName,
  SshError,
  WireError,
} from "../wire/errors.ts";
import { Msg } from "../wire/message_numbers.ts";
import { quotePeerText } from "../wire/quote.ts";
import {
  decodeDebug,
  decodeDisconnect,
  decodeExtInfo,
  decodeGexGroup,
  decodeGexRequest,
  decodeIgnore,
  decodeKexInit,
  decodeKexInitValue,
  decodeKexReply,
  decodeService,
  decodeUnimplemented,
  encodeDebug,
  encodeDisconnect,
  encodeExtInfo,
  encodeGexGroup,
  encodeGexRequest,
  encodeIgnore,
  encodeKexInit,
  encodeKexInitValue,
  encodeKexReply,
  encodeService,
  encodeUnimplemented,
} from "../wire/transport_messages.ts";
import type { DebugMessage, GexRequest, KexInit } from "../wire/transport_messages.ts";
import { ByteReader, EndOfStream } from "./_byte_reader.ts";
import { negotiate, resolveAlgorithms } from "./algorithms.ts";
import { encodePublicValue, encodeSharedSecret, exchangeHash } from "./exchange_hash.ts";
import {
  DEFAULT_MAX_PACKET,
  PacketReader,
  PacketWriter,
  type Payload,
  payloadLength,
} from "./packets.ts";
import { readVersion, versionLine } from "./version.ts";
import type { PeerVersion } from "./version.ts";

const STRICT_C = "kex-strict-c-v00@openssh.com";
const STRICT_S = "kex-strict-s-v00@openssh.com";
const EXT_INFO_C = "ext-info-c";
const EXT_INFO_S = "ext-info-s";
const VERSION = "0.1.0";

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

function isReply(payload: Payload): boolean {
  const first = payload instanceof Uint8Array ? payload[0] : payload[0]?.[0];
  return first !== undefined && REPLIES.has(first);
}

/**
 * A pair of byte streams: a socket, a pipe, an in-memory pair, a WebSocket.
 *
 * @example
 * ```ts
 * import type { ByteStream } from "./transport.ts";
 * const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
 * const loop: ByteStream = { readable, writable };
 * ```
 */
export interface ByteStream {
  /** Bytes from the peer. */
  readonly readable: ReadableStream<Uint8Array>;
  /** Bytes to the peer. */
  readonly writable: WritableStream<Uint8Array>;
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
  /** softwareversion of our identification line; default `rxssh_0.1.0`. */
  software?: string;
  /** Server: lines sent before the identification line (RFC 4253 §4.2). */
  preBanner?: readonly string[];
  /** Largest packet_length accepted; default 256 KiB, at least 35000. */
  maxPacketSize?: number;
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
  /** Compression client to server (always "none"). */
  readonly compressionClientToServer: string;
  /** Compression server to client (always "none"). */
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

interface Deferred<T> {
  promise: Promise<T>;
  resolve(v: T): void;
  reject(e: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Rejections are also delivered to whoever awaits; never unhandled.
  promise.catch(() => {});
  return { promise, resolve, reject };
}

interface KexState {
  initiatedBy: "local" | "peer";
  ours: KexInit;
  ourPayload: Uint8Array;
  peerPayload?: Uint8Array;
  peer?: KexInit;
  algorithms?: NegotiatedAlgorithms;
  method?: KexAlgorithm;
  hostKey?: PrivateKey;
  client?: KexClient;
  gexRequest?: GexRequest;
  gexGroup?: DhGroup;
  ignoreNext: boolean;
  pendingOpener?: PacketReader["opener"];
  exchangeHash?: Uint8Array;
  serverKey?: PublicKey;
  sentNewKeys: boolean;
  /** Sequence number of our KEXINIT, to recognise an UNIMPLEMENTED reply to it. */
  ourSeq: number;
  timer?: ReturnType<typeof setTimeout>;
  done: Deferred<KexEvent>;
}

/** `p`'s value, or undefined when `ms` pass first (the timer never outlives it). */
async function withinMs<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const bad = (reason: number, description: string) =>
  new DisconnectError(reason, description, { local: true });

/**
 * Picks every algorithm of a key exchange from both KEXINITs (RFC 4253 §7.1:
 * the client's first name the server also offers, per category); a category
 * without a common name is KEY_EXCHANGE_FAILED naming both lists (quoted).
 */
function negotiateAlgorithms(c: KexInit, s: KexInit): NegotiatedAlgorithms {
  const pick = (
    what: string,
    cl: string[],
    sl: string[],
    known?: ReadonlyMap<string, unknown>,
  ) => {
    const chosen = negotiate(known ? cl.filter((n) => known.has(n)) : cl, sl);
    if (chosen === undefined) {
      throw bad(
        DisconnectReason.KEY_EXCHANGE_FAILED,
        `no matching ${what}: client offered [${quotePeerText(cl.join(","))}], server offered [${
          quotePeerText(sl.join(","))
        }]`,
      );
    }
    return chosen;
  };
  const kexName = pick("key exchange method", c.kexAlgorithms, s.kexAlgorithms, KEX_ALGORITHMS);
  const hostKey = pick(
    "host key algorithm",
    c.serverHostKeyAlgorithms,
    s.serverHostKeyAlgorithms,
  );
  const cipherCS = pick(
    "cipher (client to server)",
    c.ciphersClientToServer,
    s.ciphersClientToServer,
    CIPHERS,
  );
  const cipherSC = pick(
    "cipher (server to client)",
    c.ciphersServerToClient,
    s.ciphersServerToClient,
    CIPHERS,
  );
  const macFor = (cipher: string, what: string, cl: string[], sl: string[]) =>
    CIPHERS.get(cipher)!.aead ? "<implicit>" : pick(what, cl, sl, MACS);
  const macCS = macFor(
    cipherCS,
    "MAC (client to server)",
    c.macsClientToServer,
    s.macsClientToServer,
  );
  const macSC = macFor(
    cipherSC,
    "MAC (server to client)",
    c.macsServerToClient,
    s.macsServerToClient,
  );
  const compCS = pick(
    "compression (client to server)",
    c.compressionClientToServer,
    s.compressionClientToServer,
  );
  const compSC = pick(
    "compression (server to client)",
    c.compressionServerToClient,
    s.compressionServerToClient,
  );
  if (compCS !== "none" || compSC !== "none") {
    throw bad(
      DisconnectReason.KEY_EXCHANGE_FAILED,
      `compression ${compCS}/${compSC} is not supported`,
    );
  }
  return {
    kex: kexName,
    hostKey,
    cipherClientToServer: cipherCS,
    cipherServerToClient: cipherSC,
    macClientToServer: macCS,
    macServerToClient: macSC,
    compressionClientToServer: compCS,
    compressionServerToClient: compSC,
  };
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
  readonly ignore$: Observable<Uint8Array>;
  /** SSH_MSG_DEBUG messages received (RFC 4253 §11.3). Hot. */
  readonly debug$: Observable<DebugMessage>;
  /** Sequence numbers our peer reported as unimplemented (RFC 4253 §11.4). Hot. */
  readonly unimplemented$: Observable<number>;
  /**
   * Packets that failed authentication, one event each. The connection is
   * then closed with MAC_ERROR, unless {@link TransportOptions.acceptMacError}
   * accepted the packet (it is asked first; this emits after its answer).
   * Hot.
   */
  readonly macError$: Observable<MacErrorEvent>;
  /** Every completed key exchange; the latest is replayed to late subscribers. */
  readonly kex$: Observable<KexEvent>;
  /** The peer's SSH_MSG_EXT_INFO (RFC 8308); the latest is replayed. */
  readonly extInfo$: Observable<ReadonlyMap<string, Uint8Array>>;
  /**
   * Server: each service the client requested and we accepted, once (a
   * repeated request is answered again, as sshd does, but not emitted again);
   * replayed.
   */
  readonly service$: Observable<string>;
  /** The end of the connection, once; replayed to late subscribers. */
  readonly disconnect$: Observable<DisconnectEvent>;
  /** Payloads of messages for higher layers (number 50 and up), in order, with backpressure. */
  readonly messages: ReadableStream<Uint8Array>;

  #ignore = new Subject<Uint8Array>();
  #debug = new Subject<DebugMessage>();
  #unimplemented = new Subject<number>();
  #macError = new Subject<MacErrorEvent>();
  #kexSubject = new ReplaySubject<KexEvent>(1);
  #extInfo = new ReplaySubject<ReadonlyMap<string, Uint8Array>>(1);
  #service = new ReplaySubject<string>();
  #disconnect = new ReplaySubject<DisconnectEvent>(1);

  #options: TransportOptions;
  #random: RandomSource;
  #now: () => number;
  #lists: { kex: string[]; hostKey: string[]; ciphers: string[]; macs: string[] };
  #stream: ByteStream;
  #input: ByteReader;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #out: PacketWriter;
  #in: PacketReader;
  #peerVersion?: PeerVersion;

  #kex?: KexState;
  #kexCount = 0;
  #lastKexAt: number;
  #lastEvent?: KexEvent;
  #strict = false;
  #peerExtInfo = false;
  #firstKexDone = false;
  #holding = false;
  #queue: { payload: Payload; done: Deferred<void>; reply: boolean }[] = [];
  /** Replies in #queue (held during a key exchange). */
  #held = { packets: 0, bytes: 0 };
  /** Wakes #outputRoom when held packets are flushed or the connection ends. */
  #roomWaiter?: () => void;
  #acceptedServices = new Set<string>();
  #ready = deferred<KexEvent>();
  #closedDeferred = deferred<DisconnectError>();
  #closing?: DisconnectError;
  #serviceWaiters: { name: string; done: Deferred<void> }[] = [];
  #peerExtensions = new Map<string, Uint8Array>();
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #messagesCancelled = false;
  #pullWaiter?: () => void;
  #handshakeTimer?: ReturnType<typeof setTimeout>;

  /** Starts the connection over `stream`. */
  constructor(stream: ByteStream, options: TransportOptions) {
    this.role = options.role;
    this.#options = options;
    this.#random = options.random ?? defaultRandom;
    this.#now = options.now ?? Date.now;
    this.#stream = stream;
    if (options.role === "server" && !options.hostKeys?.length) {
      throw new TypeError("a server Transport needs at least one host key (options.hostKeys)");
    }
    if (options.role === "client" && typeof options.verifyHostKey !== "function") {
      throw new TypeError(
        "a client Transport needs options.verifyHostKey: rxssh never trusts a host key silently",
      );
    }
    this.#lists = this.#resolveLists(options);
    this.localVersion = versionLine(options.software ?? `rxssh_${VERSION}`);
    this.#lastKexAt = this.#now();

    this.ignore$ = this.#ignore.asObservable();
    this.debug$ = this.#debug.asObservable();
    this.unimplemented$ = this.#unimplemented.asObservable();
    this.macError$ = this.#macError.asObservable();
    this.kex$ = this.#kexSubject.asObservable();
    this.extInfo$ = this.#extInfo.asObservable();
    this.service$ = this.#service.asObservable();
    this.disconnect$ = this.#disconnect.asObservable();
    this.messages = new ReadableStream<Uint8Array>({
      start: (c) => {
        this.#controller = c;
      },
      pull: () => {
        const w = this.#pullWaiter;
        this.#pullWaiter = undefined;
        w?.();
      },
      cancel: () => {
        this.#messagesCancelled = true;
        const w = this.#pullWaiter;
        this.#pullWaiter = undefined;
        w?.();
      },
    }, { highWaterMark: 64 });

    this.#input = new ByteReader(stream.readable);
    this.#writer = stream.writable.getWriter();
    this.#out = new PacketWriter(this.#writer, this.#random);
    this.#in = new PacketReader(this.#input, options.maxPacketSize ?? DEFAULT_MAX_PACKET);
    const acceptMacError = options.acceptMacError;
    if (acceptMacError) {
      // Only non-AEAD openers call this, and only when a MAC has failed.
      this.#in.openOptions = {
        acceptMacError: (err) => {
          const event: MacErrorEvent = { seq: err.seq, algorithm: err.algorithm, acceptable: true };
          let accepted = false;
          try {
            accepted = !this.#closing && acceptMacError(event) === true;
          } catch {
            // a throwing callback accepts nothing
          }
          // A refused packet is reported by #fail, which the MacError reaches next.
          if (accepted) this.#macError.next(event);
          return accepted;
        },
      };
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

  #resolveLists(o: TransportOptions) {
    const hostKey = resolveAlgorithms("HostKeyAlgorithms", o.hostKeyAlgorithms);
    const lists = {
      kex: resolveAlgorithms("KexAlgorithms", o.kexAlgorithms),
      // A server offers only the signature algorithms its keys can make.
      hostKey: o.role === "server"
        ? hostKey.filter((alg) => o.hostKeys!.some((k) => k.algorithms.includes(alg)))
        : hostKey,
      ciphers: resolveAlgorithms("Ciphers", o.ciphers),
      macs: resolveAlgorithms("MACs", o.macs),
    };
    if (lists.hostKey.length === 0) {
      throw new TypeError(
        `none of the host keys (${o.hostKeys!.map((k) => k.type).join(", ")}) can sign with ${
          hostKey.join(",")
        }`,
      );
    }
    return lists;
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
    return this.#lastEvent?.sessionId;
  }

  /** The algorithms in use, after the first key exchange. */
  get algorithms(): NegotiatedAlgorithms | undefined {
    return this.#lastEvent?.algorithms;
  }

  /** The server's host key, after the first key exchange. */
  get hostKey(): PublicKey | undefined {
    return this.#lastEvent?.hostKey;
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
    return {
      packets: this.#out.trackedPackets + this.#held.packets,
      bytes: this.#out.trackedBytes + this.#held.bytes,
    };
  }

  /** Whether strict key exchange is in force. */
  get strictKex(): boolean {
    return this.#strict;
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
    if (!this.#holding && this.#kex && this.#firstKexDone && this.#rekeyDue(true)) {
      // Our NEWKEYS is out and the new keys already carried their limit: the
      // rest waits for the next exchange, started when the peer's NEWKEYS comes.
      this.#holding = true;
    }
    if (this.#holding || !this.#firstKexDone) {
      const done = deferred<void>();
      this.#queue.push({ payload, done, reply });
      if (reply) {
        this.#held.packets++;
        this.#held.bytes += payloadLength(payload);
      }
      return done.promise;
    }
    return this.#write(payload, reply);
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
    if (!this.#firstKexDone && !this.#kex) return this.#ready.promise;
    return this.#startKex("local");
  }

  /**
   * Client: asks for a service (RFC 4253 §10) and resolves when the server
   * accepts it. The server disconnects if it does not offer it.
   */
  async requestService(name: string): Promise<void> {
    if (this.role !== "client") throw new TypeError("only a client requests services");
    const done = deferred<void>();
    this.#serviceWaiters.push({ name, done });
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

  async #run(): Promise<void> {
    try {
      const pre = this.role === "server" ? (this.#options.preBanner ?? []) : [];
      const head = [...pre, this.localVersion].map((l) => `${l}\r\n`).join("");
      this.#out.writeRaw(new TextEncoder().encode(head)).catch(() => {});
      this.#startKex("local");
      this.#peerVersion = await readVersion(this.#input, this.role);
      for (;;) {
        const { payload, seq } = await this.#in.read();
        await this.#dispatch(payload, seq);
        if (this.#closing) return;
        this.#checkRekey();
        await this.#outputRoom();
        while (
          this.#controller.desiredSize !== null && this.#controller.desiredSize <= 0 &&
          !this.#closing
        ) {
          if (this.#messagesCancelled) break;
          await new Promise<void>((r) => (this.#pullWaiter = r));
        }
      }
    } catch (e) {
      this.#fail(e);
    }
  }

  /**
   * Stops reading from a peer that does not read our replies: while the
   * {@link replyBacklog} is above {@link REPLY_BACKLOG}, no further packet
   * is read, so replies to its requests cannot pile up (sshd waits for its
   * writes before authentication the same way: ssh_packet_write_wait).
   * Resumes at half.
   */
  async #outputRoom(): Promise<void> {
    const over = (f: number) => {
      const { packets, bytes } = this.replyBacklog;
      return packets > REPLY_BACKLOG.packets * f || bytes > REPLY_BACKLOG.bytes * f;
    };
    if (!over(1)) return;
    while (!this.#closing && over(0.5)) {
      const woken = new Promise<void>((r) => (this.#roomWaiter = r));
      // Held packets leave only when the key exchange ends (#flushQueue wakes us).
      const drained = this.#held.packets > 0
        ? woken
        : this.#out.trackedBelow(REPLY_BACKLOG.bytes / 2, REPLY_BACKLOG.packets / 2);
      await Promise.race([woken, drained]);
    }
    this.#roomWaiter = undefined;
  }

  #wakeRoom(): void {
    const w = this.#roomWaiter;
    this.#roomWaiter = undefined;
    w?.();
  }

  #fail(err: unknown): void {
    if (this.#closing) return;
    let error: DisconnectError;
    if (err instanceof DisconnectError) {
      error = err;
    } else if (err instanceof MacError) {
      this.#macError.next({
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
    const a = this.#lastEvent?.algorithms;
    if (!a) return false;
    const cipher = this.role === "client" ? a.cipherServerToClient : a.cipherClientToServer;
    return CIPHERS.get(cipher)?.aead ?? false;
  }

  async #shutdown(error: DisconnectError): Promise<void> {
    clearTimeout(this.#handshakeTimer);
    const notify = error.local && error.reason !== DisconnectReason.CONNECTION_LOST;
    if (notify) {
      // Best effort: the peer learns why (RFC 4253 §11.1), bounded in time.
      const sent = this.#out.write(
        encodeDisconnect({ reason: error.reason, description: error.description, language: "" }),
      );
      await withinMs(sent.catch(() => {}), 2000);
    }
    for (const q of this.#queue.splice(0)) q.done.reject(error);
    this.#held = { packets: 0, bytes: 0 };
    this.#wakeRoom();
    for (const w of this.#serviceWaiters.splice(0)) w.done.reject(error);
    clearTimeout(this.#kex?.timer);
    this.#kex?.done.reject(error);
    this.#kex = undefined;
    this.#ready.reject(error);
    try {
      if (error.local && error.reason === DisconnectReason.BY_APPLICATION) this.#controller.close();
      else this.#controller.error(error);
    } catch {
      // stream already closed or cancelled
    }
    const w = this.#pullWaiter;
    this.#pullWaiter = undefined;
    w?.();
    this.#disconnect.next({
      reason: error.reason,
      reasonName: disconnectReasonName(error.reason),
      description: error.description,
      language: "",
      local: error.local,
      error,
    });
    for (
      const s of [this.#ignore, this.#debug, this.#unimplemented, this.#macError, this.#kexSubject]
    ) s.complete();
    this.#extInfo.complete();
    this.#service.complete();
    this.#disconnect.complete();
    await withinMs(this.#out.flushed(), 2000);
    // A peer that does not read would hold close() forever: abort after 2 s.
    const closed = await withinMs(this.#writer.close().then(() => true, () => false), 2000);
    if (closed !== true) await this.#writer.abort(error).catch(() => {});
    await this.#input.cancel(error);
  }

  #write(payload: Payload, reply = isReply(payload)): Promise<void> {
    const p = this.#out.write(payload, reply);
    p.catch((e) => this.#fail(e));
    if (this.#firstKexDone) this.#checkRekey();
    return p;
  }

  /** Writes a transport message of our own; failures end the connection, never the caller. */
  #internal(payload: Uint8Array): void {
    this.#write(payload).catch(() => {});
  }

  /**
   * Writes what was held, in order, until a write reaches a re-key limit:
   * the re-key then starts at once and holds the rest, so that no key
   * protects much more than the limit (RFC 4253 §9).
   */
  #flushQueue(): void {
    let i = 0;
    for (; i < this.#queue.length && !this.#holding && !this.#closing; i++) {
      if (this.#kex && this.#rekeyDue(true)) {
        // Our NEWKEYS is out, the peer's not yet: keep the rest for the next keys (#onNewKeys).
        this.#holding = true;
        break;
      }
      const q = this.#queue[i];
      if (q.reply) {
        this.#held.packets--;
        this.#held.bytes -= payloadLength(q.payload);
      }
      this.#write(q.payload, q.reply).then(q.done.resolve, q.done.reject);
    }
    this.#queue.splice(0, i);
    this.#wakeRoom();
  }

  /** Whether a limit of RFC 4253 §9 is reached (by the outgoing keys only, when `outbound`). */
  #rekeyDue(outbound = false): boolean {
    const limit = this.#options.rekeyBytes ?? 2 ** 30;
    if (this.#out.bytes >= limit || this.#out.packets >= 2 ** 31) return true;
    if (outbound) return false;
    const interval = this.#options.rekeyInterval ?? 3_600_000;
    return this.#in.bytes >= limit || this.#in.packets >= 2 ** 31 ||
      (interval > 0 && this.#now() - this.#lastKexAt >= interval);
  }

  #checkRekey(): void {
    if (!this.#firstKexDone || this.#kex || this.#closing) return;
    if (this.#rekeyDue()) {
      // At once: sends from now on are held for the new keys (#startKex sets #kex first).
      this.#startKex("local").catch(() => {});
    }
  }

  // ---------------------------------------------------------------- dispatch

  async #dispatch(payload: Uint8Array, seq: number): Promise<void> {
    if (payload.length === 0) {
      throw bad(DisconnectReason.PROTOCOL_ERROR, `packet ${seq} has an empty payload`);
    }
    const msg = payload[0];
    const kex = this.#kex;
    const isKexMessage = msg === Msg.KEXINIT || msg === Msg.NEWKEYS || (msg >= 30 && msg <= 49);
    if (!this.#firstKexDone && this.#strict && !isKexMessage && msg !== Msg.DISCONNECT) {
      throw bad(
        DisconnectReason.PROTOCOL_ERROR,
        `strict KEX: message ${msg} is not allowed during the initial key exchange`,
      );
    }
    if (kex?.ignoreNext) {
      // RFC 4253 §7.1: first_kex_packet_follows with a wrong guess: "the next
      // packet MUST be silently ignored" (whatever it is, as OpenSSH's
      // dispatch_skip_packets does).
      kex.ignoreNext = false;
      return;
    }
    switch (msg) {
      case Msg.DISCONNECT: {
        const d = decodeDisconnect(payload);
        this.#fail(new DisconnectError(d.reason, d.description, { local: false }));
        return;
      }
      case Msg.IGNORE:
        this.#ignore.next(decodeIgnore(payload));
        return;
      case Msg.DEBUG:
        this.#debug.next(decodeDebug(payload));
        return;
      case Msg.UNIMPLEMENTED: {
        const rejected = decodeUnimplemented(payload);
        this.#unimplemented.next(rejected);
        if (kex && !kex.peer && rejected === kex.ourSeq) {
          // e.g. OpenSSH's sshd refuses re-keying before user authentication.
          throw bad(
            DisconnectReason.KEY_EXCHANGE_FAILED,
            "peer rejected our KEXINIT as unimplemented",
          );
        }
        return;
      }
      case Msg.KEXINIT:
        await this.#onKexInit(payload, seq);
        return;
      case Msg.NEWKEYS:
        this.#onNewKeys();
        return;
    }
    if (msg >= 30 && msg <= 49) {
      if (!kex?.peer) {
        throw bad(
          DisconnectReason.PROTOCOL_ERROR,
          `key exchange message ${msg} outside a key exchange`,
        );
      }
      await this.#onKexMethodMessage(msg, payload);
      return;
    }
    if (!this.#firstKexDone) {
      throw bad(
        DisconnectReason.PROTOCOL_ERROR,
        `message ${msg} received before the key exchange completed`,
      );
    }
    if (kex?.peer) {
      // RFC 4253 §7.1: after KEXINIT only transport messages until NEWKEYS.
      throw bad(DisconnectReason.PROTOCOL_ERROR, `message ${msg} received during key exchange`);
    }
    switch (msg) {
      case Msg.EXT_INFO:
        this.#peerExtensions = decodeExtInfo(payload);
        this.#extInfo.next(this.#peerExtensions);
        return;
      case Msg.SERVICE_REQUEST:
        if (this.role !== "server") break;
        return this.#onServiceRequest(payload);
      case Msg.SERVICE_ACCEPT:
        if (this.role !== "client") break;
        return this.#onServiceAccept(payload);
    }
    if (msg >= 50) {
      if (this.role === "server" && this.#acceptedServices.size === 0) {
        // RFC 4253 §10: a service starts with its SERVICE_REQUEST; e.g. a
        // USERAUTH_REQUEST before it is not processed (sshd 9.2 answers it
        // with UNIMPLEMENTED and ignores it; we end the connection).
        throw bad(
          DisconnectReason.PROTOCOL_ERROR,
          `message ${msg} received before the client requested a service (RFC 4253 §10)`,
        );
      }
      if (!this.#messagesCancelled) this.#controller.enqueue(payload);
      return;
    }
    // RFC 4253 §11.4: unrecognized message numbers get SSH_MSG_UNIMPLEMENTED.
    this.#internal(encodeUnimplemented(seq));
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
    if (!this.#acceptedServices.has(name)) {
      this.#acceptedServices.add(name);
      this.#service.next(name);
    }
  }

  /** RFC 4253 §10, client side: answers the oldest pending requestService(). */
  #onServiceAccept(payload: Uint8Array): void {
    const name = decodeService(Msg.SERVICE_ACCEPT, payload);
    const w = this.#serviceWaiters.shift();
    if (!w || w.name !== name) {
      throw bad(
        DisconnectReason.PROTOCOL_ERROR,
        `unrequested SERVICE_ACCEPT for "${quotePeerText(name)}"`,
      );
    }
    w.done.resolve();
  }

  // ---------------------------------------------------------------- key exchange

  #startKex(initiatedBy: "local" | "peer"): Promise<KexEvent> {
    if (this.#kex) return this.#kex.done.promise;
    const first = !this.#firstKexDone && this.#kexCount === 0;
    const l = this.#lists;
    const kexNames = [...l.kex];
    if (first) {
      // Pseudo-algorithms go in the first KEXINIT only (RFC 8308 §2.1, PROTOCOL §1.10).
      if (this.role === "client") kexNames.push(EXT_INFO_C);
      else kexNames.push(EXT_INFO_S);
      if (this.#options.strictKex ?? true) {
        kexNames.push(this.role === "client" ? STRICT_C : STRICT_S);
      }
    }
    const ours: KexInit = {
      cookie: this.#random(16),
      kexAlgorithms: kexNames,
      serverHostKeyAlgorithms: l.hostKey,
      ciphersClientToServer: l.ciphers,
      ciphersServerToClient: l.ciphers,
      macsClientToServer: l.macs,
      macsServerToClient: l.macs,
      compressionClientToServer: ["none"],
      compressionServerToClient: ["none"],
      languagesClientToServer: [],
      languagesServerToClient: [],
      firstKexPacketFollows: false,
    };
    const ourPayload = encodeKexInit(ours);
    this.#kex = {
      initiatedBy,
      ours,
      ourPayload: ourPayload.slice(),
      ignoreNext: false,
      sentNewKeys: false,
      ourSeq: this.#out.seq,
      done: deferred<KexEvent>(),
    };
    const timeout = this.#options.rekeyTimeout ?? 120_000;
    if (!first && timeout > 0) {
      this.#kex.timer = setTimeout(() => {
        this.#fail(
          bad(
            DisconnectReason.KEY_EXCHANGE_FAILED,
            `key re-exchange not completed within ${timeout} ms`,
          ),
        );
      }, timeout);
    }
    this.#kexCount++;
    this.#holding = true;
    this.#in.readAhead = false; // no packet may be opened ahead across NEWKEYS
    this.#internal(ourPayload);
    return this.#kex.done.promise;
  }

  async #onKexInit(payload: Uint8Array, seq: number): Promise<void> {
    if (this.#kex?.peer) {
      throw bad(DisconnectReason.PROTOCOL_ERROR, "KEXINIT received twice in one key exchange");
    }
    const peer = decodeKexInit(payload);
    if (!this.#kex) this.#startKex("peer");
    const kex = this.#kex!;
    kex.peer = peer;
    kex.peerPayload = payload.slice();
    const first = !this.#firstKexDone;
    if (first) {
      const peerStrict = peer.kexAlgorithms.includes(this.role === "client" ? STRICT_S : STRICT_C);
      this.#strict = (this.#options.strictKex ?? true) && peerStrict;
      if (this.#strict && seq !== 0) {
        throw bad(
          DisconnectReason.PROTOCOL_ERROR,
          `strict KEX: KEXINIT was packet ${seq}, not the first packet (possible prefix truncation)`,
        );
      }
      this.#peerExtInfo = peer.kexAlgorithms.includes(
        this.role === "client" ? EXT_INFO_S : EXT_INFO_C,
      );
    }
    const [c, s] = this.role === "client" ? [kex.ours, peer] : [peer, kex.ours];
    kex.algorithms = negotiateAlgorithms(c, s);
    const { kex: kexName, hostKey } = kex.algorithms;
    kex.method = KEX_ALGORITHMS.get(kexName)!;
    if (peer.firstKexPacketFollows) {
      // RFC 4253 §7.1: the guess is wrong when "the kex algorithm and/or the
      // host key algorithm is guessed wrong (server and client have different
      // preferred algorithm)": the first names of both sides' lists differ,
      // even if negotiation picks the peer's first anyway (OpenSSH's
      // proposals_match; Dropbear re-sends its KEX init in that case).
      kex.ignoreNext = peer.kexAlgorithms[0] !== kex.ours.kexAlgorithms[0] ||
        peer.serverHostKeyAlgorithms[0] !== kex.ours.serverHostKeyAlgorithms[0];
    }
    if (this.role === "server") {
      kex.hostKey = this.#options.hostKeys!.find((k) => k.algorithms.includes(hostKey))!;
      return;
    }
    if (kex.method.kind === "gex") {
      kex.gexRequest = this.#gexRequest(kex.algorithms);
      this.#internal(encodeGexRequest(kex.gexRequest));
    } else {
      kex.client = await kex.method.client(this.#random);
      this.#internal(
        encodeKexInitValue(Msg.KEXDH_INIT, encodePublicValue(kex.method, kex.client.publicValue)),
      );
    }
  }

  #gexRequest(a: NegotiatedAlgorithms): GexRequest {
    // OpenSSH: need = the largest key, block, IV or MAC key size; bits by NIST SP 800-57 strength.
    let need = 0;
    for (
      const [cipher, mac] of [[a.cipherClientToServer, a.macClientToServer], [
        a.cipherServerToClient,
        a.macServerToClient,
      ]]
    ) {
      const c = CIPHERS.get(cipher)!;
      need = Math.max(need, c.keyLength, c.blockSize, c.ivLength, MACS.get(mac)?.keyLength ?? 0);
    }
    const bits = need * 8;
    const n = bits <= 112 ? 2048 : bits <= 128 ? 3072 : bits <= 192 ? 7680 : 8192;
    const g = this.#options.gexBits ?? {};
    return { min: g.min ?? 2048, n: g.n ?? n, max: g.max ?? 8192 };
  }

  #exchangeHash(
    kex: KexState,
    hostKey: Uint8Array,
    clientValue: Uint8Array,
    serverValue: Uint8Array,
    k: Uint8Array,
  ) {
    const [ours, peer] = [this.localVersion, this.#peerVersion!.line];
    const client = this.role === "client";
    return exchangeHash(kex.method!, {
      clientVersion: client ? ours : peer,
      serverVersion: client ? peer : ours,
      clientKexInit: client ? kex.ourPayload : kex.peerPayload!,
      serverKexInit: client ? kex.peerPayload! : kex.ourPayload,
      hostKey,
      gex: kex.gexGroup ? { request: kex.gexRequest!, group: kex.gexGroup } : undefined,
      clientValue,
      serverValue,
      sharedSecret: k,
    });
  }

  async #onKexMethodMessage(msg: number, payload: Uint8Array): Promise<void> {
    const kex = this.#kex!;
    const method = kex.method!;
    const unexpected = () =>
      bad(
        DisconnectReason.PROTOCOL_ERROR,
        `unexpected message ${msg} during ${method.name} key exchange`,
      );
    if (kex.exchangeHash) throw unexpected();
    if (this.role === "server") await this.#onServerKexMessage(kex, msg, payload, unexpected);
    else await this.#onClientKexMessage(kex, msg, payload, unexpected);
  }

  /** The server's side of the key exchange method's messages (RFC 4253 §8, RFC 4419 §3). */
  async #onServerKexMessage(
    kex: KexState,
    msg: number,
    payload: Uint8Array,
    unexpected: () => DisconnectError,
  ): Promise<void> {
    const method = kex.method!;
    if (method.kind === "gex" && msg === Msg.KEX_DH_GEX_REQUEST && !kex.gexRequest) {
      const req = decodeGexRequest(payload);
      if (!(req.min <= req.n && req.n <= req.max)) {
        throw bad(
          DisconnectReason.KEY_EXCHANGE_FAILED,
          `invalid GEX request min ${req.min} n ${req.n} max ${req.max}`,
        );
      }
      const group = chooseGexGroup(req.min, req.n, req.max);
      if (!group) {
        throw bad(
          DisconnectReason.KEY_EXCHANGE_FAILED,
          `no DH group between ${req.min} and ${req.max} bits`,
        );
      }
      kex.gexRequest = req;
      kex.gexGroup = group;
      this.#internal(encodeGexGroup(group.p, group.g));
      return;
    }
    const initMsg = method.kind === "gex" ? Msg.KEX_DH_GEX_INIT : Msg.KEXDH_INIT;
    if (msg !== initMsg || (method.kind === "gex" && !kex.gexGroup)) throw unexpected();
    const [value, cField] = decodeKexInitValue(msg, method.publicEncoding, payload);
    const { publicValue, secret } = await method.server(value, this.#random, kex.gexGroup);
    const sField = encodePublicValue(method, publicValue);
    const kEnc = encodeSharedSecret(method, secret);
    const hostKey = kex.hostKey!;
    const h = this.#exchangeHash(kex, hostKey.publicKey.blob, cField, sField, kEnc);
    kex.exchangeHash = h;
    kex.serverKey = hostKey.publicKey;
    const signature = await hostKey.sign(kex.algorithms!.hostKey, h);
    const replyMsg = method.kind === "gex" ? Msg.KEX_DH_GEX_REPLY : Msg.KEXDH_REPLY;
    this.#internal(encodeKexReply(replyMsg, hostKey.publicKey.blob, sField, signature));
    await this.#sendNewKeys(kEnc, h);
  }

  /** The client's side of the key exchange method's messages (RFC 4253 §8, RFC 4419 §3). */
  async #onClientKexMessage(
    kex: KexState,
    msg: number,
    payload: Uint8Array,
    unexpected: () => DisconnectError,
  ): Promise<void> {
    const method = kex.method!;
    if (method.kind === "gex" && msg === Msg.KEX_DH_GEX_GROUP && !kex.client) {
      const group = decodeGexGroup(payload);
      const req = kex.gexRequest!;
      const bits = group.p.toString(2).length;
      if (bits < req.min || bits > req.max) {
        throw bad(
          DisconnectReason.KEY_EXCHANGE_FAILED,
          `server's DH group has ${bits} bits, outside the requested ${req.min}..${req.max}`,
        );
      }
      if (group.g <= 1n || group.g >= group.p - 1n) {
        throw bad(DisconnectReason.KEY_EXCHANGE_FAILED, "server's DH generator is out of range");
      }
      kex.gexGroup = group;
      kex.client = await method.client(this.#random, group);
      this.#internal(
        encodeKexInitValue(Msg.KEX_DH_GEX_INIT, encodePublicValue(method, kex.client.publicValue)),
      );
      return;
    }
    const replyMsg = method.kind === "gex" ? Msg.KEX_DH_GEX_REPLY : Msg.KEXDH_REPLY;
    if (msg !== replyMsg || !kex.client) throw unexpected();
    const reply = decodeKexReply(msg, method.publicEncoding, payload);
    let key: PublicKey;
    try {
      key = parsePublicKey(reply.hostKey);
    } catch (e) {
      throw bad(
        DisconnectReason.KEY_EXCHANGE_FAILED,
        `server host key: ${quotePeerText((e as Error).message, 512)}`,
      );
    }
    const alg = kex.algorithms!.hostKey;
    if (!this.#hostKeyMatches(key.type, alg)) {
      throw bad(
        DisconnectReason.KEY_EXCHANGE_FAILED,
        `server sent a ${quotePeerText(key.type)} host key for algorithm ${alg}`,
      );
    }
    const secret = await kex.client.finish(reply.value);
    const kEnc = encodeSharedSecret(method, secret);
    const cField = encodePublicValue(method, kex.client.publicValue);
    const h = this.#exchangeHash(kex, reply.hostKey, cField, reply.valueField, kEnc);
    if (!(await key.verify(alg, reply.signature, h))) {
      throw bad(
        DisconnectReason.KEY_EXCHANGE_FAILED,
        `${alg} signature of the exchange hash does not verify`,
      );
    }
    if (!(await this.#acceptServerHostKey(key, alg))) return;
    kex.exchangeHash = h;
    kex.serverKey = key;
    await this.#sendNewKeys(kEnc, h);
  }

  /**
   * The first key exchange asks `verifyHostKey`; a re-exchange must present the
   * same key. Throws HOST_KEY_NOT_VERIFIABLE; false when closing meanwhile.
   */
  async #acceptServerHostKey(key: PublicKey, alg: string): Promise<boolean> {
    if (this.#lastEvent) {
      if (!constantTimeEqual(this.#lastEvent.hostKey.blob, key.blob)) {
        throw bad(
          DisconnectReason.HOST_KEY_NOT_VERIFIABLE,
          "server host key changed during key re-exchange",
        );
      }
    } else {
      let ok: boolean;
      try {
        ok = await this.#options.verifyHostKey!(key, {
          algorithm: alg,
          fingerprint: key.fingerprint(),
          peerVersion: this.#peerVersion!.line,
        });
      } catch (e) {
        // A verifier may explain its refusal (a changed key, a revoked key) by throwing;
        // its error stays reachable as the cause (a HostKeyError for known_hosts).
        throw new DisconnectError(
          DisconnectReason.HOST_KEY_NOT_VERIFIABLE,
          e instanceof Error ? e.message : String(e),
          { local: true, cause: e },
        );
      }
      if (this.#closing) return false;
      if (ok !== true) {
        throw bad(
          DisconnectReason.HOST_KEY_NOT_VERIFIABLE,
          `host key ${key.type} ${key.fingerprint()} was not accepted by verifyHostKey`,
        );
      }
    }
    return true;
  }

  #hostKeyMatches(keyType: string, alg: string): boolean {
    return keyType === alg ||
      (keyType === "ssh-rsa" && (alg === "rsa-sha2-256" || alg === "rsa-sha2-512"));
  }

  async #sendNewKeys(kEnc: Uint8Array, h: Uint8Array): Promise<void> {
    const kex = this.#kex!;
    const a = kex.algorithms!;
    const sessionId = this.#lastEvent?.sessionId ?? h;
    const cCS = CIPHERS.get(a.cipherClientToServer)!;
    const cSC = CIPHERS.get(a.cipherServerToClient)!;
    const mCS = cCS.aead ? undefined : MACS.get(a.macClientToServer)!;
    const mSC = cSC.aead ? undefined : MACS.get(a.macServerToClient)!;
    // RFC 4253 §7.2
    const keys = deriveKeys(kex.method!.hash, { kEncoded: kEnc, h, sessionId }, {
      ivCs: cCS.ivLength,
      ivSc: cSC.ivLength,
      encCs: cCS.keyLength,
      encSc: cSC.keyLength,
      macCs: mCS?.keyLength ?? 0,
      macSc: mSC?.keyLength ?? 0,
    });
    const client = this.role === "client";
    const sealer = client
      ? await cCS.sealer(keys.encCs, keys.ivCs, mCS?.create(keys.macCs))
      : await cSC.sealer(keys.encSc, keys.ivSc, mSC?.create(keys.macSc));
    kex.pendingOpener = client
      ? await cSC.opener(keys.encSc, keys.ivSc, mSC?.create(keys.macSc))
      : await cCS.opener(keys.encCs, keys.ivCs, mCS?.create(keys.macCs));
    kEnc.fill(0);
    if (this.#closing) return;
    this.#internal(new Uint8Array([Msg.NEWKEYS]));
    this.#out.sealer = sealer;
    this.#out.bytes = this.#out.packets = 0; // the new keys' volume starts here
    if (this.#strict) this.#out.seq = 0; // PROTOCOL §1.10: reset after every NEWKEYS
    kex.sentNewKeys = true;
    if (!this.#firstKexDone && this.role === "server" && this.#peerExtInfo) {
      // RFC 8308 §2.4: EXT_INFO right after the server's first NEWKEYS.
      const sigAlgs = new TextEncoder().encode(
        resolveAlgorithms("HostKeyAlgorithms", undefined).join(","),
      );
      this.#internal(encodeExtInfo(new Map([["server-sig-algs", sigAlgs]])));
    }
    this.#holding = false;
    this.#flushQueue();
  }

  #onNewKeys(): void {
    const kex = this.#kex;
    if (!kex?.pendingOpener) {
      throw bad(DisconnectReason.PROTOCOL_ERROR, "NEWKEYS received before the key exchange reply");
    }
    this.#in.opener = kex.pendingOpener;
    if (this.#strict) this.#in.seq = 0;
    this.#in.readAhead = true;
    const first = !this.#firstKexDone;
    const event: KexEvent = {
      algorithms: kex.algorithms!,
      sessionId: this.#lastEvent?.sessionId ?? kex.exchangeHash!,
      exchangeHash: kex.exchangeHash!,
      hostKey: kex.serverKey!,
      initial: first,
      count: (this.#lastEvent?.count ?? 0) + 1,
      strict: this.#strict,
      initiatedBy: kex.initiatedBy,
    };
    this.#lastEvent = event;
    clearTimeout(kex.timer);
    this.#kex = undefined;
    this.#firstKexDone = true;
    this.#lastKexAt = this.#now();
    this.#in.bytes = this.#in.packets = 0; // the outgoing counters restarted at our NEWKEYS
    if (first) clearTimeout(this.#handshakeTimer);
    this.#kexSubject.next(event);
    kex.done.resolve(event);
    if (first) this.#ready.resolve(event);
    // What waits for the next keys, if a limit was reached already, stays held.
    this.#checkRekey();
    if (!this.#kex) {
      this.#holding = false;
      this.#flushQueue();
    }
  }
}
