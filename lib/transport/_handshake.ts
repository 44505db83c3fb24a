/**
 * The key-exchange state machine of a Transport, as x/crypto/ssh
 * keeps handshake.go beside transport.go: building KEXINIT (RFC 4253 §7),
 * negotiating the algorithms (§7.1), the key exchange methods' messages for
 * either role (§8, RFC 4419 group exchange), the client's host key
 * acceptance, taking the new keys into use (§7.2, §7.3), key re-exchange
 * (§9), OpenSSH's strict KEX (PROTOCOL §1.10), ext-info (RFC 8308) and
 * first_kex_packet_follows (§7.1).
 *
 * The transport hands it the messages of a key exchange; it writes its own
 * through the {@link PacketLayer}, which it also tells when an exchange
 * starts (sends are held) and when new keys are in force. Private to
 * lib/transport/.
 *
 * @module
 */
import { CIPHERS, MACS } from "../crypto/ciphers.ts";
import { chooseGexGroup } from "../crypto/dh_groups.ts";
import { deriveKeys } from "../crypto/kdf.ts";
import { secretMade, wipe } from "../crypto/_secrets.ts";
import { KEX_ALGORITHMS } from "../crypto/kex.ts";
import { constantTimeEqual } from "../crypto/constant_time.ts";
import type {
  DhGroup,
  KexAlgorithm,
  KexClient,
  PacketOpener,
  PacketSealer,
  RandomSource,
} from "../crypto/types.ts";
import { parsePublicKey } from "../keys/public_key.ts";
import type { PrivateKey, PublicKey } from "../keys/types.ts";
import { DisconnectError, DisconnectReason } from "../wire/errors.ts";
import { isKexMethodMessage, Msg } from "../wire/message_numbers.ts";
import { quotePeerText } from "../wire/quote.ts";
import {
  decodeGexGroup,
  decodeGexRequest,
  decodeKexInit,
  decodeKexInitValue,
  decodeKexReply,
  encodeExtInfo,
  encodeGexGroup,
  encodeGexRequest,
  encodeKexInit,
  encodeKexInitValue,
  encodeKexReply,
} from "../wire/transport_messages.ts";
import type { GexRequest, KexInit } from "../wire/transport_messages.ts";
import type { PacketLayer } from "./_packet_layer.ts";
import { bad, type Deferred, deferred } from "./_support.ts";
import {
  type AlgorithmKind,
  DEFAULT_ALGORITHMS,
  DEFAULT_SERVER_ALGORITHMS,
  negotiate,
  resolveAlgorithms,
} from "./algorithms.ts";
import { COMPRESSION_METHODS } from "./compression.ts";
import { encodePublicValue, encodeSharedSecret, exchangeHash } from "./exchange_hash.ts";
import type { KexEvent, NegotiatedAlgorithms, TransportOptions } from "./transport.ts";

const STRICT_C = "kex-strict-c-v00@openssh.com";
const STRICT_S = "kex-strict-s-v00@openssh.com";
const EXT_INFO_C = "ext-info-c";
const EXT_INFO_S = "ext-info-s";

/**
 * The algorithm lists a transport offers in its KEXINITs, from its options.
 *
 * @example
 * ```ts
 * import { resolveAlgorithmLists } from "./_handshake.ts";
 * const lists = resolveAlgorithmLists({ role: "client", ciphers: "^aes128-gcm@openssh.com" });
 * console.log(lists.ciphers[0]); // aes128-gcm@openssh.com
 * ```
 */
export interface AlgorithmLists {
  /** KexAlgorithms, without the pseudo-algorithms of the first KEXINIT. */
  readonly kex: string[];
  /** HostKeyAlgorithms; a server's only those its keys can sign with. */
  readonly hostKey: string[];
  /** Ciphers, both directions. */
  readonly ciphers: string[];
  /** MACs, both directions. */
  readonly macs: string[];
  /** Compression methods, both directions (RFC 4253 §6.2). */
  readonly compression: string[];
}

/**
 * Resolves the algorithm options of `o` (ssh_config(5) syntax) into the
 * lists a KEXINIT offers. Throws an AlgorithmConfigError for a bad list, and
 * a TypeError when a server's host keys can sign with none of the host key
 * algorithms.
 *
 * @example
 * ```ts
 * import { resolveAlgorithmLists } from "./_handshake.ts";
 * console.log(resolveAlgorithmLists({ role: "client", kexAlgorithms: "^curve25519-sha256" }).kex[0]);
 * ```
 */
export function resolveAlgorithmLists(o: TransportOptions): AlgorithmLists {
  const table = o.role === "server" ? DEFAULT_SERVER_ALGORITHMS : DEFAULT_ALGORITHMS;
  const resolve = (kind: AlgorithmKind, spec: string | readonly string[] | undefined) =>
    resolveAlgorithms(kind, spec, { defaults: table[kind] });
  const hostKey = resolve("HostKeyAlgorithms", o.hostKeyAlgorithms);
  const lists = {
    kex: resolve("KexAlgorithms", o.kexAlgorithms),
    // A server offers only the signature algorithms its keys can make.
    hostKey: o.role === "server"
      ? hostKey.filter((alg) => o.hostKeys!.some((k) => k.algorithms.includes(alg)))
      : hostKey,
    ciphers: resolve("Ciphers", o.ciphers),
    macs: resolve("MACs", o.macs),
    compression: resolve("Compression", o.compression),
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
  // RFC 4253 §6.2: each direction on its own.
  const compCS = pick(
    "compression (client to server)",
    c.compressionClientToServer,
    s.compressionClientToServer,
    COMPRESSION_METHODS,
  );
  const compSC = pick(
    "compression (server to client)",
    c.compressionServerToClient,
    s.compressionServerToClient,
    COMPRESSION_METHODS,
  );
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
 * The group sizes a client asks for in diffie-hellman-group-exchange (RFC
 * 4419 §3), as OpenSSH: need = the largest key, block, IV or MAC key size of
 * the negotiated ciphers; bits by NIST SP 800-57 strength; `gexBits`
 * overrides.
 */
function gexRequestFor(a: NegotiatedAlgorithms, gexBits: Partial<GexRequest> = {}): GexRequest {
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
  return { min: gexBits.min ?? 2048, n: gexBits.n ?? n, max: gexBits.max ?? 8192 };
}

/** The negotiated compression of our outgoing or incoming packets. */
function compressionOf(a: NegotiatedAlgorithms, ctx: HandshakeContext, dir: "in" | "out"): string {
  const clientToServer = (ctx.options.role === "client") === (dir === "out");
  return clientToServer ? a.compressionClientToServer : a.compressionServerToClient;
}

/** Whether a host key of `keyType` can make signatures of algorithm `alg`. */
function hostKeyMatches(keyType: string, alg: string): boolean {
  return keyType === alg ||
    (keyType === "ssh-rsa" && (alg === "rsa-sha2-256" || alg === "rsa-sha2-512"));
}

/** One key exchange, from our KEXINIT to the peer's NEWKEYS. */
interface KexState {
  initiatedBy: "local" | "peer";
  ours: KexInit;
  ourPayload: Uint8Array;
  /** Sequence number of our KEXINIT, to recognise an UNIMPLEMENTED reply to it. */
  ourSeq: number;
  peerPayload?: Uint8Array;
  peer?: KexInit;
  algorithms?: NegotiatedAlgorithms;
  method?: KexAlgorithm;
  /** Server: the host key that signs. */
  hostKey?: PrivateKey;
  /** Client: our half of the method. */
  client?: KexClient;
  gexRequest?: GexRequest;
  gexGroup?: DhGroup;
  /** RFC 4253 §7.1: the peer guessed wrong; its next packet is skipped. */
  ignoreNext: boolean;
  /** The peer's keys, in force from its NEWKEYS. */
  pendingOpener?: PacketOpener;
  exchangeHash?: Uint8Array;
  serverKey?: PublicKey;
  /** Re-exchange: rekeyTimeout. */
  timer?: ReturnType<typeof setTimeout>;
  done: Deferred<KexEvent>;
}

/**
 * What a {@link Handshake} needs from its transport besides the packet layer.
 *
 * @example
 * ```ts
 * import { type HandshakeContext, resolveAlgorithmLists } from "./_handshake.ts";
 * const options = { role: "client" as const, verifyHostKey: () => true };
 * const ctx: HandshakeContext = {
 *   options,
 *   random: (n) => crypto.getRandomValues(new Uint8Array(n)),
 *   lists: resolveAlgorithmLists(options),
 *   localVersion: "SSH-2.0-demo",
 *   peerVersion: () => "SSH-2.0-peer",
 *   fail: console.error,
 *   closing: () => false,
 *   completed: (e) => console.log(e.count),
 * };
 * ```
 */
export interface HandshakeContext {
  /** The transport's options (role, host keys, verifier, strictKex, gexBits, rekeyTimeout). */
  readonly options: TransportOptions;
  /** Random bytes (cookies, ephemeral keys). */
  readonly random: RandomSource;
  /** What our KEXINITs offer. */
  readonly lists: AlgorithmLists;
  /** Our identification line (V_C or V_S of the exchange hash). */
  readonly localVersion: string;
  /** The peer's identification line; read before the peer's KEXINIT. */
  peerVersion(): string;
  /** Ends the connection (a re-exchange timed out). */
  fail(error: unknown): void;
  /** Whether the connection is ending. */
  closing(): boolean;
  /** A key exchange completed (called before the promise of {@link Handshake.start} resolves). */
  completed(event: KexEvent): void;
}

/**
 * Runs a transport's key exchanges, one at a time, for either role: the
 * first and every re-exchange (RFC 4253 §7-§9). It keeps what outlives one
 * exchange: the latest {@link KexEvent} (its session identifier), whether
 * strict KEX is in force, whether the peer wants EXT_INFO.
 *
 * @example
 * ```ts
 * import { Handshake, resolveAlgorithmLists } from "./_handshake.ts";
 * import { PacketLayer } from "./_packet_layer.ts";
 * const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
 * const random = (n: number) => crypto.getRandomValues(new Uint8Array(n));
 * const hooks = { fail: console.error, written: () => {}, closing: () => false };
 * const link = new PacketLayer({ readable, writable }, { options: {}, random, now: Date.now }, hooks);
 * const options = { role: "client" as const, verifyHostKey: () => true };
 * const hs = new Handshake(link, {
 *   ...hooks,
 *   options,
 *   random,
 *   lists: resolveAlgorithmLists(options),
 *   localVersion: "SSH-2.0-demo",
 *   peerVersion: () => "SSH-2.0-peer",
 *   completed: () => {},
 * });
 * hs.start("local"); // writes our KEXINIT and holds other sends
 * console.log(hs.exchanging, link.holding); // true true
 * ```
 */
export class Handshake {
  #link: PacketLayer;
  #ctx: HandshakeContext;
  /** The exchange in flight. */
  #current?: KexState;
  /** The latest completed exchange. */
  #last?: KexEvent;
  /** Exchanges started. */
  #count = 0;
  #firstDone = false;
  #strict = false;
  #peerExtInfo = false;

  /** Runs key exchanges over `link`. */
  constructor(link: PacketLayer, ctx: HandshakeContext) {
    this.#link = link;
    this.#ctx = ctx;
  }

  /** Whether a key exchange is in flight. */
  get exchanging(): boolean {
    return this.#current !== undefined;
  }

  /** Whether the first key exchange has completed. */
  get firstDone(): boolean {
    return this.#firstDone;
  }

  /** Whether strict KEX (OpenSSH PROTOCOL §1.10) is in force; decided by the first KEXINITs. */
  get strict(): boolean {
    return this.#strict;
  }

  /** The latest completed key exchange. */
  get last(): KexEvent | undefined {
    return this.#last;
  }

  // ---------------------------------------------------------------- KEXINIT (RFC 4253 §7, §9)

  /**
   * Starts a key exchange by sending our KEXINIT, unless one is in flight;
   * resolves when it completes. Sends are held until our NEWKEYS.
   */
  start(initiatedBy: "local" | "peer"): Promise<KexEvent> {
    if (this.#current) return this.#current.done.promise;
    const first = !this.#firstDone && this.#count === 0;
    const ours = this.#ourKexInit(first);
    const ourPayload = encodeKexInit(ours);
    const kex: KexState = {
      initiatedBy,
      ours,
      ourPayload: ourPayload.slice(),
      ignoreNext: false,
      ourSeq: this.#link.out.seq,
      done: deferred<KexEvent>(),
    };
    this.#current = kex;
    const timeout = this.#ctx.options.rekeyTimeout ?? 120_000;
    // Not when closing: a KEXINIT read while the transport shuts down would
    // arm a timer that nothing clears (abort() has already run).
    if (!first && timeout > 0 && !this.#ctx.closing()) {
      kex.timer = setTimeout(() => {
        this.#ctx.fail(
          bad(
            DisconnectReason.KEY_EXCHANGE_FAILED,
            `key re-exchange not completed within ${timeout} ms`,
          ),
        );
      }, timeout);
    }
    this.#count++;
    this.#link.exchangeStarted();
    this.#link.internal(ourPayload);
    return kex.done.promise;
  }

  #ourKexInit(first: boolean): KexInit {
    const l = this.#ctx.lists;
    const client = this.#ctx.options.role === "client";
    const kexNames = [...l.kex];
    if (first) {
      // Pseudo-algorithms go in the first KEXINIT only (RFC 8308 §2.1, PROTOCOL §1.10).
      kexNames.push(client ? EXT_INFO_C : EXT_INFO_S);
      if (this.#ctx.options.strictKex ?? true) kexNames.push(client ? STRICT_C : STRICT_S);
    }
    return {
      cookie: this.#ctx.random(16),
      kexAlgorithms: kexNames,
      serverHostKeyAlgorithms: l.hostKey,
      ciphersClientToServer: l.ciphers,
      ciphersServerToClient: l.ciphers,
      macsClientToServer: l.macs,
      macsServerToClient: l.macs,
      compressionClientToServer: l.compression,
      compressionServerToClient: l.compression,
      languagesClientToServer: [],
      languagesServerToClient: [],
      firstKexPacketFollows: false,
    };
  }

  /**
   * The peer's KEXINIT (RFC 4253 §7.1): starts an exchange if it is the
   * peer's idea, decides strict KEX and ext-info on the first one, negotiates
   * the algorithms, and sends the client's first method message.
   */
  async onKexInit(payload: Uint8Array, seq: number): Promise<void> {
    if (this.#current?.peer) {
      throw bad(DisconnectReason.PROTOCOL_ERROR, "KEXINIT received twice in one key exchange");
    }
    const peer = decodeKexInit(payload);
    if (!this.#current) this.start("peer");
    const kex = this.#current!;
    kex.peer = peer;
    kex.peerPayload = payload.slice();
    if (!this.#firstDone) this.#firstPeerKexInit(peer, seq);
    const client = this.#ctx.options.role === "client";
    const [c, s] = client ? [kex.ours, peer] : [peer, kex.ours];
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
    if (!client) {
      kex.hostKey = this.#ctx.options.hostKeys!.find((k) => k.algorithms.includes(hostKey))!;
      return;
    }
    if (kex.method.kind === "gex") {
      kex.gexRequest = gexRequestFor(kex.algorithms, this.#ctx.options.gexBits);
      this.#link.internal(encodeGexRequest(kex.gexRequest));
    } else {
      kex.client = await kex.method.client(this.#ctx.random);
      this.#link.internal(
        encodeKexInitValue(Msg.KEXDH_INIT, encodePublicValue(kex.method, kex.client.publicValue)),
      );
    }
  }

  /** The peer's first KEXINIT decides strict KEX (PROTOCOL §1.10) and ext-info (RFC 8308 §2.1). */
  #firstPeerKexInit(peer: KexInit, seq: number): void {
    const client = this.#ctx.options.role === "client";
    const peerStrict = peer.kexAlgorithms.includes(client ? STRICT_S : STRICT_C);
    this.#strict = (this.#ctx.options.strictKex ?? true) && peerStrict;
    if (this.#strict && seq !== 0) {
      throw bad(
        DisconnectReason.PROTOCOL_ERROR,
        `strict KEX: KEXINIT was packet ${seq}, not the first packet (possible prefix truncation)`,
      );
    }
    this.#peerExtInfo = peer.kexAlgorithms.includes(client ? EXT_INFO_S : EXT_INFO_C);
  }

  // ---------------------------------------------------------------- what may arrive when

  /**
   * Screens every packet from the peer before it is dispatched. Strict KEX
   * (PROTOCOL §1.10): during the initial exchange only KEXINIT, NEWKEYS,
   * the method's messages (30-49) and DISCONNECT may arrive. Returns true
   * for the packet after a wrongly guessed first_kex_packet_follows, which
   * is to be skipped.
   */
  screen(msg: number): boolean {
    if (!this.#firstDone && this.#strict) {
      const isKexMessage = msg === Msg.KEXINIT || msg === Msg.NEWKEYS ||
        isKexMethodMessage(msg);
      if (!isKexMessage && msg !== Msg.DISCONNECT) {
        throw bad(
          DisconnectReason.PROTOCOL_ERROR,
          `strict KEX: message ${msg} is not allowed during the initial key exchange`,
        );
      }
    }
    const kex = this.#current;
    if (kex?.ignoreNext) {
      // RFC 4253 §7.1: first_kex_packet_follows with a wrong guess: "the next
      // packet MUST be silently ignored" (whatever it is, as OpenSSH's
      // dispatch_skip_packets does).
      kex.ignoreNext = false;
      return true;
    }
    return false;
  }

  /**
   * Checks that message `msg`, neither a transport generic (1-4) nor a key
   * exchange message, may arrive now: not before the first exchange has
   * completed, nor between the peer's KEXINIT and NEWKEYS (RFC 4253 §7.1).
   */
  admit(msg: number): void {
    if (!this.#firstDone) {
      throw bad(
        DisconnectReason.PROTOCOL_ERROR,
        `message ${msg} received before the key exchange completed`,
      );
    }
    if (this.#current?.peer) {
      // RFC 4253 §7.1: after KEXINIT only transport messages until NEWKEYS.
      throw bad(DisconnectReason.PROTOCOL_ERROR, `message ${msg} received during key exchange`);
    }
  }

  /** The peer answered `rejected` with UNIMPLEMENTED (RFC 4253 §11.4): fatal if it was our KEXINIT. */
  onUnimplemented(rejected: number): void {
    const kex = this.#current;
    if (kex && !kex.peer && rejected === kex.ourSeq) {
      // e.g. OpenSSH's sshd refuses re-keying before user authentication.
      throw bad(
        DisconnectReason.KEY_EXCHANGE_FAILED,
        "peer rejected our KEXINIT as unimplemented",
      );
    }
  }

  // ---------------------------------------------------------------- the method's messages (RFC 4253 §8, RFC 4419)

  /** A message 30-49: the negotiated key exchange method's. */
  async onMethodMessage(msg: number, payload: Uint8Array): Promise<void> {
    const kex = this.#current;
    if (!kex?.peer) {
      throw bad(
        DisconnectReason.PROTOCOL_ERROR,
        `key exchange message ${msg} outside a key exchange`,
      );
    }
    const method = kex.method!;
    const unexpected = () =>
      bad(
        DisconnectReason.PROTOCOL_ERROR,
        `unexpected message ${msg} during ${method.name} key exchange`,
      );
    if (kex.exchangeHash) throw unexpected();
    if (this.#ctx.options.role === "server") {
      await this.#onServerKexMessage(kex, msg, payload, unexpected);
    } else await this.#onClientKexMessage(kex, msg, payload, unexpected);
  }

  /** The exchange hash H (RFC 4253 §8, RFC 4419 §3, RFC 5656 §4, RFC 8731). */
  #exchangeHash(
    kex: KexState,
    hostKey: Uint8Array,
    clientValue: Uint8Array,
    serverValue: Uint8Array,
    k: Uint8Array,
  ) {
    const [ours, peer] = [this.#ctx.localVersion, this.#ctx.peerVersion()];
    const client = this.#ctx.options.role === "client";
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
      this.#link.internal(encodeGexGroup(group.p, group.g));
      return;
    }
    const initMsg = method.kind === "gex" ? Msg.KEX_DH_GEX_INIT : Msg.KEXDH_INIT;
    if (msg !== initMsg || (method.kind === "gex" && !kex.gexGroup)) throw unexpected();
    const [value, cField] = decodeKexInitValue(payload, { msg, encoding: method.publicEncoding });
    const { publicValue, secret } = await method.server(value, this.#ctx.random, kex.gexGroup);
    const sField = encodePublicValue(method, publicValue);
    const kEnc = sharedSecretOnce(method, secret);
    try {
      await this.#serverReply(kex, { cField, sField, kEnc });
    } finally {
      wipe(kEnc);
    }
  }

  /** The server's KEXDH_REPLY (RFC 4253 §8) and NEWKEYS, once K is known. */
  async #serverReply(
    kex: KexState,
    v: { cField: Uint8Array; sField: Uint8Array; kEnc: Uint8Array },
  ): Promise<void> {
    const { cField, sField, kEnc } = v;
    const method = kex.method!;
    const hostKey = kex.hostKey!;
    const h = this.#exchangeHash(kex, hostKey.publicKey.blob, cField, sField, kEnc);
    kex.exchangeHash = h;
    kex.serverKey = hostKey.publicKey;
    const signature = await hostKey.sign(kex.algorithms!.hostKey, h);
    const replyMsg = method.kind === "gex" ? Msg.KEX_DH_GEX_REPLY : Msg.KEXDH_REPLY;
    this.#link.internal(
      encodeKexReply(replyMsg, { hostKey: hostKey.publicKey.blob, valueField: sField, signature }),
    );
    await this.#sendNewKeys(kex, kEnc, h);
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
      await this.#onGexGroup(kex, payload);
      return;
    }
    const replyMsg = method.kind === "gex" ? Msg.KEX_DH_GEX_REPLY : Msg.KEXDH_REPLY;
    if (msg !== replyMsg || !kex.client) throw unexpected();
    const reply = decodeKexReply(payload, { msg, encoding: method.publicEncoding });
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
    if (!hostKeyMatches(key.type, alg)) {
      throw bad(
        DisconnectReason.KEY_EXCHANGE_FAILED,
        `server sent a ${quotePeerText(key.type)} host key for algorithm ${alg}`,
      );
    }
    const kEnc = sharedSecretOnce(method, await kex.client.finish(reply.value));
    try {
      const cField = encodePublicValue(method, kex.client.publicValue);
      const h = this.#exchangeHash(kex, reply.hostKey, cField, reply.valueField, kEnc);
      if (!(await key.verify(reply.signature, h, { algorithm: alg }))) {
        throw bad(
          DisconnectReason.KEY_EXCHANGE_FAILED,
          `${alg} signature of the exchange hash does not verify`,
        );
      }
      if (!(await this.#acceptServerHostKey(key, alg))) return;
      kex.exchangeHash = h;
      kex.serverKey = key;
      await this.#sendNewKeys(kex, kEnc, h);
    } finally {
      wipe(kEnc);
    }
  }

  /** Client: the server's SSH_MSG_KEX_DH_GEX_GROUP (RFC 4419 §3), checked, then our e. */
  async #onGexGroup(kex: KexState, payload: Uint8Array): Promise<void> {
    const method = kex.method!;
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
    kex.client = await method.client(this.#ctx.random, group);
    this.#link.internal(
      encodeKexInitValue(Msg.KEX_DH_GEX_INIT, encodePublicValue(method, kex.client.publicValue)),
    );
  }

  /**
   * Client: the first key exchange asks `verifyHostKey`; a re-exchange must
   * present the same key. Throws HOST_KEY_NOT_VERIFIABLE; false when closing
   * meanwhile.
   */
  async #acceptServerHostKey(key: PublicKey, alg: string): Promise<boolean> {
    if (this.#last) {
      if (!constantTimeEqual(this.#last.hostKey.blob, key.blob)) {
        throw bad(
          DisconnectReason.HOST_KEY_NOT_VERIFIABLE,
          "server host key changed during key re-exchange",
        );
      }
    } else {
      let ok: boolean;
      try {
        ok = await this.#ctx.options.verifyHostKey!(key, {
          algorithm: alg,
          fingerprint: key.fingerprint(),
          peerVersion: this.#ctx.peerVersion(),
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
      if (this.#ctx.closing()) return false;
      if (ok !== true) {
        throw bad(
          DisconnectReason.HOST_KEY_NOT_VERIFIABLE,
          `host key ${key.type} ${key.fingerprint()} was not accepted by verifyHostKey`,
        );
      }
    }
    return true;
  }

  // ---------------------------------------------------------------- new keys (RFC 4253 §7.2, §7.3)

  /**
   * Sends our NEWKEYS and takes our new keys into use for what follows it
   * (RFC 4253 §7.3); the server's first one is followed by EXT_INFO (RFC
   * 8308 §2.4). Held sends are then released.
   */
  async #sendNewKeys(kex: KexState, kEnc: Uint8Array, h: Uint8Array): Promise<void> {
    const { sealer, opener } = await this.#newKeys(kex, kEnc, h);
    kex.pendingOpener = opener;
    wipe(kEnc);
    if (this.#ctx.closing()) return;
    const link = this.#link;
    link.internal(new Uint8Array([Msg.NEWKEYS]));
    link.outboundKeys(sealer, this.#strict, compressionOf(kex.algorithms!, this.#ctx, "out"));
    if (!this.#firstDone && this.#ctx.options.role === "server" && this.#peerExtInfo) {
      // RFC 8308 §2.4: EXT_INFO right after the server's first NEWKEYS.
      const sigAlgs = new TextEncoder().encode(
        resolveAlgorithms("HostKeyAlgorithms", undefined).join(","),
      );
      link.internal(encodeExtInfo(new Map([["server-sig-algs", sigAlgs]])));
    }
    link.release(true);
  }

  /** Derives the keys (RFC 4253 §7.2) and makes our sealer and the peer's opener. */
  async #newKeys(
    kex: KexState,
    kEnc: Uint8Array,
    h: Uint8Array,
  ): Promise<{ sealer: PacketSealer; opener: PacketOpener }> {
    const a = kex.algorithms!;
    const sessionId = this.#last?.sessionId ?? h;
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
    const all = Object.entries(keys).map(([name, key]) => secretMade(`derived ${name}`, key));
    const client = this.#ctx.options.role === "client";
    try {
      const sealer = client
        ? await cCS.sealer(keys.encCs, keys.ivCs, mCS?.create(keys.macCs))
        : await cSC.sealer(keys.encSc, keys.ivSc, mSC?.create(keys.macSc));
      const opener = client
        ? await cSC.opener(keys.encSc, keys.ivSc, mSC?.create(keys.macSc))
        : await cCS.opener(keys.encCs, keys.ivCs, mCS?.create(keys.macCs));
      return { sealer, opener };
    } finally {
      // The sealer, the opener and the MACs keep their own copies (or CryptoKeys).
      wipe(...all);
    }
  }

  /**
   * The peer's NEWKEYS (RFC 4253 §7.3): its new keys open what follows, the
   * exchange is complete. Returns its event (already passed to `completed`
   * and resolved on {@link start}'s promise).
   */
  onNewKeys(): KexEvent {
    const kex = this.#current;
    if (!kex?.pendingOpener) {
      throw bad(DisconnectReason.PROTOCOL_ERROR, "NEWKEYS received before the key exchange reply");
    }
    this.#link.inboundKeys(
      kex.pendingOpener,
      this.#strict,
      compressionOf(kex.algorithms!, this.#ctx, "in"),
    );
    const event: KexEvent = {
      algorithms: kex.algorithms!,
      sessionId: this.#last?.sessionId ?? kex.exchangeHash!,
      exchangeHash: kex.exchangeHash!,
      hostKey: kex.serverKey!,
      initial: !this.#firstDone,
      count: (this.#last?.count ?? 0) + 1,
      strict: this.#strict,
      initiatedBy: kex.initiatedBy,
    };
    this.#last = event;
    clearTimeout(kex.timer);
    this.#current = undefined;
    this.#firstDone = true;
    this.#ctx.completed(event);
    kex.done.resolve(event);
    return event;
  }

  /** The connection has ended: the exchange in flight, if any, fails with `error`. */
  abort(error: unknown): void {
    clearTimeout(this.#current?.timer);
    this.#current?.done.reject(error);
    this.#current = undefined;
  }
}

/**
 * K as the exchange hash and the KDF take it (RFC 4253 §7.2, §8), from the
 * method's raw K, which is wiped here: only the encoding lives on, until
 * NEWKEYS or the exchange's failure wipes it.
 */
function sharedSecretOnce(method: KexAlgorithm, secret: Uint8Array): Uint8Array {
  secretMade("K", secret);
  try {
    return secretMade("K encoded", encodeSharedSecret(method, secret));
  } finally {
    wipe(secret);
  }
}
