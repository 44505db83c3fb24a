/**
 * sshd's limits on unauthenticated connections ("startups"): MaxStartups
 * with random early drop, PerSourceMaxStartups and PerSourceNetBlockSize
 * (sshd_config(5); OpenSSH 9.2 sshd.c `should_drop_connection`,
 * `drop_connection`, srclimit.c). Pure logic: `listen()` and `rxssh serve`
 * share one {@link StartupGate} per server.
 *
 * @module
 */
import { parseAddress } from "./keys/patterns.ts";
import { plainAddress } from "./runtime/address.ts";

/**
 * sshd's MaxStartups `start:rate:full`: from `start` unauthenticated
 * connections on, a new one is dropped with probability `rate`% rising
 * linearly to 100% at `full`.
 *
 * @example
 * ```ts
 * import type { MaxStartups } from "./server_limits.ts";
 * const sshdDefault: MaxStartups = { start: 10, rate: 30, full: 100 };
 * ```
 */
export interface MaxStartups {
  /** Unauthenticated connections from which random early drop starts. */
  readonly start: number;
  /** Drop probability (percent, 1-100) at `start`. */
  readonly rate: number;
  /** Unauthenticated connections at which every new one is dropped. */
  readonly full: number;
}

/** sshd's default MaxStartups, 10:30:100. */
export const DEFAULT_MAX_STARTUPS: MaxStartups = Object.freeze({ start: 10, rate: 30, full: 100 });

/**
 * Parses MaxStartups as sshd's servconf.c does: `start:rate:full` (start
 * at most full, rate 1-100) or one number `n` (start = full = n, every
 * connection past n dropped). Both at least 1. Unlike sshd's sscanf, text
 * after the numbers is an error too. Throws a TypeError naming the option.
 *
 * @example
 * ```ts
 * import { parseMaxStartups } from "./server_limits.ts";
 * console.log(parseMaxStartups("10:30:60")); // { start: 10, rate: 30, full: 60 }
 * ```
 */
export function parseMaxStartups(spec: string | MaxStartups): MaxStartups {
  let m: MaxStartups;
  if (typeof spec === "string") {
    const three = /^(\d+):(\d+):(\d+)$/.exec(spec);
    const one = /^(\d+)$/.exec(spec);
    if (three) m = { start: +three[1], rate: +three[2], full: +three[3] };
    else if (one) m = { start: +one[1], rate: 100, full: +one[1] };
    else {throw new TypeError(
        `MaxStartups: invalid spec "${spec}" (expected start:rate:full or a number)`,
      );}
  } else m = spec;
  const int = (n: number) => Number.isSafeInteger(n) && n >= 1;
  if (
    !int(m.start) || !int(m.full) || !int(m.rate) || m.rate > 100 || m.start > m.full
  ) {
    throw new TypeError(
      `MaxStartups: invalid spec ${typeof spec === "string" ? `"${spec}"` : JSON.stringify(spec)}` +
        " (start and full at least 1, start at most full, rate 1-100)",
    );
  }
  return { start: m.start, rate: m.rate, full: m.full };
}

/**
 * PerSourceNetBlockSize: the prefix lengths that group client addresses
 * into one source for PerSourceMaxStartups (default 32 and 128: one
 * address is one source).
 *
 * @example
 * ```ts
 * import type { NetBlockSize } from "./server_limits.ts";
 * const slash24: NetBlockSize = { ipv4: 24, ipv6: 56 };
 * ```
 */
export interface NetBlockSize {
  /** IPv4 prefix length, 0-32. */
  readonly ipv4: number;
  /** IPv6 prefix length, 0-128. */
  readonly ipv6: number;
}

/**
 * Parses PerSourceNetBlockSize as sshd does: `v4` or `v4:v6`, 0-32 and
 * 0-128. With one number, sshd 9.2 leaves the IPv6 length at 0 (its
 * sscanf fills only the first); so does this. Throws a TypeError naming
 * the option.
 *
 * @example
 * ```ts
 * import { parseNetBlockSize } from "./server_limits.ts";
 * console.log(parseNetBlockSize("24:56")); // { ipv4: 24, ipv6: 56 }
 * ```
 */
export function parseNetBlockSize(spec: string | NetBlockSize): NetBlockSize {
  let v: NetBlockSize | undefined;
  if (typeof spec === "string") {
    const m = /^(\d+)(?::(\d+))?$/.exec(spec);
    if (m) v = { ipv4: +m[1], ipv6: m[2] === undefined ? 0 : +m[2] };
  } else v = spec;
  const ok = (n: number, max: number) => Number.isInteger(n) && n >= 0 && n <= max;
  if (!v || !ok(v.ipv4, 32) || !ok(v.ipv6, 128)) {
    throw new TypeError(
      `PerSourceNetBlockSize: invalid spec ${
        typeof spec === "string" ? `"${spec}"` : JSON.stringify(spec)
      } (expected v4[:v6], 0-32 and 0-128)`,
    );
  }
  return { ipv4: v.ipv4, ipv6: v.ipv6 };
}

/**
 * The limits of a {@link StartupGate} (also `listen()` options).
 *
 * @example
 * ```ts
 * import type { StartupLimits } from "./server_limits.ts";
 * const o: StartupLimits = { maxStartups: "10:30:100", perSourceMaxStartups: 10, perSourceNetBlockSize: "32:128" };
 * ```
 */
export interface StartupLimits {
  /** sshd's MaxStartups (default 10:30:100). */
  maxStartups?: MaxStartups | string;
  /** Unauthenticated connections per source net block (sshd's PerSourceMaxStartups; default none). */
  perSourceMaxStartups?: number;
  /** How addresses group into sources (sshd's PerSourceNetBlockSize, default "32:128"). */
  perSourceNetBlockSize?: NetBlockSize | string;
}

/**
 * The addresses of a connection, as a socket or a PROXY header gives them.
 *
 * @example
 * ```ts
 * import type { Endpoints } from "./server_limits.ts";
 * const e: Endpoints = { remoteAddress: "192.0.2.1", remotePort: 40000, localAddress: "127.0.0.1", localPort: 22 };
 * ```
 */
export interface Endpoints {
  /** The client's address. */
  readonly remoteAddress?: string;
  /** The client's port. */
  readonly remotePort?: number;
  /** The address it connected to. */
  readonly localAddress?: string;
  /** The port it connected to. */
  readonly localPort?: number;
}

/**
 * A connection refused before its SSH banner because of MaxStartups or
 * PerSourceMaxStartups. `message` is sshd's log line ("drop connection #N
 * from [addr]:port on [addr]:port past MaxStartups"); `startups` is how
 * many unauthenticated connections the server had (this one not
 * counted, as sshd's "#N"). `listen()` reports it on `rejected$`.
 *
 * @example
 * ```ts
 * import { StartupDroppedError } from "./server_limits.ts";
 * const why = (e: unknown) => e instanceof StartupDroppedError ? e.limit : "other";
 * ```
 */
export class StartupDroppedError extends Error {
  /** Which limit dropped it. */
  readonly limit: "MaxStartups" | "PerSourceMaxStartups";
  /** Unauthenticated connections counted when it was dropped. */
  readonly startups: number;
  /** The connection's addresses (the client's from a PROXY header when there is one). */
  readonly endpoints: Endpoints;
  /** Creates the error. */
  constructor(
    limit: "MaxStartups" | "PerSourceMaxStartups",
    at: { startups: number; endpoints: Endpoints },
  ) {
    const e = at.endpoints;
    const where = (a?: string, p?: number) => `[${plainAddress(a) ?? "?"}]:${p ?? "?"}`;
    super(
      `drop connection #${at.startups} from ${where(e.remoteAddress, e.remotePort)} on ${
        where(e.localAddress, e.localPort)
      } past ${limit}`,
    );
    this.name = "StartupDroppedError";
    this.limit = limit;
    this.startups = at.startups;
    this.endpoints = e;
  }
}

/**
 * One admitted unauthenticated connection. `checkSource` applies
 * PerSourceMaxStartups to an address known later (a PROXY header's);
 * `release` ends the startup (authenticated or closed). Idempotent.
 *
 * @example
 * ```ts
 * import type { StartupTicket } from "./server_limits.ts";
 * const done = (t: StartupTicket) => t.release();
 * ```
 */
export interface StartupTicket {
  /** Throws {@link StartupDroppedError} (and releases) when the source is over its limit. */
  checkSource(peer: Endpoints): void;
  /** Ends this startup. */
  release(): void;
}

/**
 * Counts unauthenticated connections and decides which new ones to drop,
 * as sshd's accept loop: MaxStartups first (`should_drop_connection`),
 * then PerSourceMaxStartups (`srclimit_check_allow`). `random` returns a
 * number in [0, 1) (default: WebCrypto); sshd draws `arc4random_uniform(100)`.
 *
 * @example
 * ```ts
 * import { StartupGate } from "./server_limits.ts";
 * const gate = new StartupGate({ maxStartups: "2:50:3", perSourceMaxStartups: 1 });
 * const t = gate.admit({ remoteAddress: "192.0.2.1", remotePort: 40000 });
 * console.log(gate.startups); // 1
 * t.release();
 * ```
 */
export class StartupGate {
  /** MaxStartups in force. */
  readonly maxStartups: MaxStartups;
  /** PerSourceMaxStartups in force (Infinity: none). */
  readonly perSource: number;
  /** PerSourceNetBlockSize in force. */
  readonly netBlock: NetBlockSize;
  #random: () => number;
  #startups = 0;
  #sources = new Map<string, number>();

  /** Checks the limits now: a TypeError names a bad one. */
  constructor(limits: StartupLimits = {}, options: { random?: () => number } = {}) {
    this.maxStartups = parseMaxStartups(limits.maxStartups ?? DEFAULT_MAX_STARTUPS);
    const p = limits.perSourceMaxStartups ?? Infinity;
    if (!(p === Infinity || (Number.isSafeInteger(p) && p >= 0))) {
      throw new TypeError(`PerSourceMaxStartups: ${p} is not a count (0 or more) or none`);
    }
    this.perSource = p;
    this.netBlock = parseNetBlockSize(limits.perSourceNetBlockSize ?? { ipv4: 32, ipv6: 128 });
    this.#random = options.random ??
      (() => crypto.getRandomValues(new Uint32Array(1))[0] / 2 ** 32);
  }

  /** Unauthenticated connections now. */
  get startups(): number {
    return this.#startups;
  }

  /**
   * A new connection: throws {@link StartupDroppedError} when it must be
   * dropped. `source: false` skips PerSourceMaxStartups until
   * `checkSource` (the client's address comes in a PROXY header).
   */
  admit(peer: Endpoints, options: { source?: boolean } = {}): StartupTicket {
    if (this.shouldDrop(this.#startups)) {
      throw new StartupDroppedError("MaxStartups", { startups: this.#startups, endpoints: peer });
    }
    this.#startups++;
    let key: string | undefined;
    let released = false;
    const ticket: StartupTicket = {
      checkSource: (p) => {
        if (released || key !== undefined) return;
        const k = this.#sourceKey(p.remoteAddress);
        const n = this.#sources.get(k) ?? 0;
        if (n >= this.perSource) {
          ticket.release();
          // sshd logs the server's count (without this connection) for either limit.
          throw new StartupDroppedError("PerSourceMaxStartups", {
            startups: this.#startups,
            endpoints: p,
          });
        }
        key = k;
        this.#sources.set(k, n + 1);
      },
      release: () => {
        if (released) return;
        released = true;
        this.#startups--;
        if (key === undefined) return;
        const n = (this.#sources.get(key) ?? 1) - 1;
        if (n === 0) this.#sources.delete(key);
        else this.#sources.set(key, n);
      },
    };
    if (options.source !== false) ticket.checkSource(peer);
    return ticket;
  }

  /** sshd's should_drop_connection (sshd.c, OpenSSH 9.2), integer arithmetic included. */
  shouldDrop(startups: number): boolean {
    const { start, rate, full } = this.maxStartups;
    if (startups < start) return false;
    if (startups >= full) return true;
    if (rate === 100) return true;
    const p = rate + Math.trunc((100 - rate) * (startups - start) / (full - start));
    const r = Math.floor(this.#random() * 100);
    return r < p;
  }

  /** The source net block of `address` (srclimit.c masks it to PerSourceNetBlockSize). */
  #sourceKey(address: string | undefined): string {
    if (this.perSource === Infinity) return "";
    const a = address === undefined ? undefined : parseAddress(plainAddress(address));
    if (!a) return `?${address}`;
    const bits = a.family === 4 ? this.netBlock.ipv4 : this.netBlock.ipv6;
    const out = a.bytes.map((b, i) => {
      const keep = Math.max(0, Math.min(8, bits - 8 * i));
      return b & (0xff << (8 - keep));
    });
    return `${a.family}:${out.join(".")}`;
  }
}

/** What sshd writes to a dropped connection before closing it ("best-effort notification"). */
export const STARTUP_DROP_NOTICE = "Exceeded MaxStartups\r\n";

/**
 * Writes {@link STARTUP_DROP_NOTICE} (no SSH banner) and closes the
 * connection, as sshd's drop_connection; never rejects, gives up after 1 s.
 *
 * @example
 * ```ts
 * import { closeDropped } from "./server_limits.ts";
 * import { memoryPair } from "./runtime/memory.ts";
 * const [a] = memoryPair();
 * await closeDropped(a);
 * ```
 */
export async function closeDropped(
  conn: {
    writable: WritableStream<Uint8Array>;
    readable?: ReadableStream<Uint8Array>;
    close?(): void;
  },
): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const w = conn.writable.getWriter();
    await Promise.race([
      w.write(new TextEncoder().encode(STARTUP_DROP_NOTICE)).then(() => w.close()),
      new Promise((resolve) => timer = setTimeout(resolve, 1000)),
    ]);
  } catch {
    // best effort
  } finally {
    clearTimeout(timer);
    if (conn.close) conn.close();
    else conn.readable?.cancel().catch(() => {});
  }
}
