/**
 * The PROXY protocol (HAProxy's "proxy-protocol.txt", versions 1 and 2), as
 * a receiver: an L4 load balancer (HAProxy `send-proxy`/`send-proxy-v2`,
 * nginx `proxy_protocol on`, cloud NLBs) writes one header in front of the
 * client's bytes that says where the client connected from. A server reads
 * it before sending anything, and then uses the carried address as the
 * client's.
 *
 * - Version 1 (spec §2.1): one text line, `PROXY TCP4|TCP6|UNKNOWN src dst
 *   sport dport\r\n`, at most 107 bytes with its CRLF.
 * - Version 2 (spec §2.2): the 12-byte signature, version and command,
 *   family and protocol, the length of what follows (16 bits), the
 *   addresses, then type-length-value extensions (§2.2.7). A LOCAL command
 *   (a health check by the proxy itself) carries no client: the socket's own
 *   addresses are used.
 *
 * Only peers in `trusted` may send a header, and every connection from one
 * must start with one (§4 "the receiver must not try to guess"); any other
 * peer is closed before a byte is read. Headers are bounded in size and in
 * time.
 *
 * @module
 */
import { addrMatchList, parseAddress } from "../keys/patterns.ts";
import type { ByteStreamPair } from "../transport/transport.ts";
import { plainAddress } from "./address.ts";

/**
 * Where the server takes PROXY protocol headers from.
 *
 * @example
 * ```ts
 * import type { ProxyProtocolOptions } from "./proxy_protocol.ts";
 * const o: ProxyProtocolOptions = { trusted: ["10.0.0.0/8", "::1"], timeoutMs: 3000 };
 * ```
 */
export interface ProxyProtocolOptions {
  /**
   * The proxies' addresses or networks (`10.0.0.0/8`, `192.0.2.7`,
   * `2001:db8::/32`). A connection from any other address is closed at once.
   */
  readonly trusted: readonly string[];
  /** How long the header may take to arrive, from accept (default 5000 ms). */
  readonly timeoutMs?: number;
  /**
   * The largest header accepted, in bytes (default 4096; at most 65551,
   * what version 2's 16-bit length allows). Version 1 lines are at most 107
   * bytes whatever this says.
   */
  readonly maxHeaderBytes?: number;
}

/**
 * A host and port the header carries.
 *
 * @example
 * ```ts
 * import type { ProxyEndpoint } from "./proxy_protocol.ts";
 * const e: ProxyEndpoint = { address: "192.0.2.7", port: 50123 };
 * ```
 */
export interface ProxyEndpoint {
  /** IPv4 dotted quad or IPv6 text (RFC 5952 form), or a unix socket path. */
  readonly address: string;
  /** 0 for unix sockets. */
  readonly port: number;
}

/**
 * A decoded PROXY protocol header.
 *
 * @example
 * ```ts
 * import type { ProxyHeader } from "./proxy_protocol.ts";
 * const client = (h: ProxyHeader) => h.source ? `${h.source.address}:${h.source.port}` : "(the proxy itself)";
 * ```
 */
export interface ProxyHeader {
  /** 1 (text) or 2 (binary). */
  readonly version: 1 | 2;
  /** "proxy": relayed for a client; "local": the proxy's own connection (v2 LOCAL). */
  readonly command: "proxy" | "local";
  /** The address family: v1's TCP4, TCP6, UNKNOWN; v2's INET, INET6, UNIX, UNSPEC. */
  readonly family: "tcp4" | "tcp6" | "unix" | "unknown";
  /** The client (only for "proxy" over tcp4, tcp6 and unix). */
  readonly source?: ProxyEndpoint;
  /** The address the client connected to (the proxy's). */
  readonly destination?: ProxyEndpoint;
  /** v2 extensions (type, value), in order; the CRC32C one is checked when present. */
  readonly tlvs: readonly { readonly type: number; readonly value: Uint8Array }[];
  /** The header's length in bytes (what the client's data follows). */
  readonly length: number;
}

/**
 * A connection, or a PROXY header on it, was refused: an untrusted peer,
 * a malformed or oversized header, no header in time. The connection has
 * been closed.
 *
 * @example
 * ```ts
 * import { ProxyProtocolError } from "./proxy_protocol.ts";
 * const e = new ProxyProtocolError("no PROXY header within 5000 ms", { peer: "192.0.2.1" });
 * console.log(e.message); // "PROXY protocol from 192.0.2.1: no PROXY header within 5000 ms"
 * ```
 */
export class ProxyProtocolError extends Error {
  /** The peer that sent (or failed to send) the header, when known. */
  readonly peer?: string;
  /** Creates the error: `detail` says what was wrong, `at.peer` with whom. */
  constructor(detail: string, at: { peer?: string } = {}) {
    super(
      at.peer === undefined
        ? `PROXY protocol: ${detail}`
        // A socket closed before it was read may report no address (Bun): say so.
        : `PROXY protocol from ${at.peer || "an unknown address"}: ${detail}`,
    );
    this.name = "ProxyProtocolError";
    this.peer = at.peer;
  }
}

/** Spec §2.2: the version 2 signature. */
const V2_SIGNATURE = new Uint8Array([
  0x0d,
  0x0a,
  0x0d,
  0x0a,
  0x00,
  0x0d,
  0x0a,
  0x51,
  0x55,
  0x49,
  0x54,
  0x0a,
]);
/** Spec §2.1: "PROXY " starts every version 1 line. */
const V1_PREFIX = new Uint8Array([0x50, 0x52, 0x4f, 0x58, 0x59, 0x20]);
/** Spec §2.1: 107 bytes is the longest line, CRLF included. */
const V1_MAX = 107;
/** Spec §2.2: 16 fixed bytes and a 16-bit length. */
const V2_MAX = 16 + 0xffff;
const PP2_TYPE_CRC32C = 0x03;

/**
 * Decodes the PROXY header at the start of `bytes`: `undefined` while
 * `bytes` are a correct but incomplete start of one (read more and call
 * again with everything so far), the header once complete (its `length`
 * says where the client's bytes start). Throws {@link ProxyProtocolError}
 * as soon as the bytes cannot be a header: neither signature, a bad line or
 * field, a v2 length over `maxBytes` (default 4096), a wrong CRC32C.
 *
 * @example
 * ```ts
 * import { decodeProxyHeader } from "./proxy_protocol.ts";
 * const line = new TextEncoder().encode("PROXY TCP4 192.0.2.7 198.51.100.1 50123 22\r\nSSH-2.0-x\r\n");
 * const h = decodeProxyHeader(line);
 * console.log(h?.source, h?.length); // { address: "192.0.2.7", port: 50123 } 44
 * console.log(decodeProxyHeader(line.subarray(0, 10))); // undefined: need more
 * ```
 */
export function decodeProxyHeader(
  bytes: Uint8Array,
  options: { maxBytes?: number } = {},
): ProxyHeader | undefined {
  const maxBytes = Math.min(options.maxBytes ?? 4096, V2_MAX);
  if (startsLike(bytes, V1_PREFIX)) {
    return bytes.length < V1_PREFIX.length ? undefined : decodeV1(bytes);
  }
  if (startsLike(bytes, V2_SIGNATURE)) {
    return bytes.length < 16 ? undefined : decodeV2(bytes, maxBytes);
  }
  throw new ProxyProtocolError(
    `expected a PROXY header, got ${JSON.stringify(latin1(bytes.subarray(0, 16)))}`,
  );
}

/** Whether `bytes` and `prefix` agree over their common length. */
function startsLike(bytes: Uint8Array, prefix: Uint8Array): boolean {
  const n = Math.min(bytes.length, prefix.length);
  for (let i = 0; i < n; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}

function latin1(bytes: Uint8Array): string {
  return String.fromCharCode(...bytes);
}

/** Spec §2.1: the human-readable header. */
function decodeV1(bytes: Uint8Array): ProxyHeader | undefined {
  let end = -1;
  for (let i = 0; i + 1 < Math.min(bytes.length, V1_MAX); i++) {
    if (bytes[i] === 0x0d && bytes[i + 1] === 0x0a) {
      end = i;
      break;
    }
  }
  // Printable ASCII until CRLF: a stray control byte fails now, not at the time limit.
  const upTo = end < 0 ? Math.min(bytes.length, V1_MAX) : end;
  for (let i = 0; i < upTo; i++) {
    const b = bytes[i];
    if ((b < 0x20 || b > 0x7e) && !(b === 0x0d && i === bytes.length - 1)) {
      throw new ProxyProtocolError(`byte 0x${b.toString(16)} at ${i} in a version 1 header`);
    }
  }
  if (end < 0) {
    if (bytes.length < V1_MAX) return undefined;
    throw new ProxyProtocolError(`no CRLF within ${V1_MAX} bytes of a version 1 header`);
  }
  const line = latin1(bytes.subarray(0, end));
  const bad = (what: string) =>
    new ProxyProtocolError(`${what} in version 1 header ${JSON.stringify(line)}`);
  const parts = line.split(" ");
  const length = end + 2;
  // "UNKNOWN": the receiver must ignore the rest of the line and use the socket's addresses.
  if (parts[1] === "UNKNOWN") {
    return { version: 1, command: "proxy", family: "unknown", tlvs: [], length };
  }
  if (parts[1] !== "TCP4" && parts[1] !== "TCP6") {
    throw bad(`protocol ${JSON.stringify(parts[1] ?? "")} (expected TCP4, TCP6 or UNKNOWN)`);
  }
  if (parts.length !== 6) throw bad("expected 6 fields separated by single spaces");
  const family = parts[1] === "TCP4" ? "tcp4" : "tcp6";
  const address = (text: string) => {
    const a = family === "tcp4" ? v4Text(text) : v6Text(text);
    if (a === undefined) throw bad(`bad ${parts[1]} address ${JSON.stringify(text)}`);
    return a;
  };
  const port = (text: string) => {
    if (!/^(0|[1-9][0-9]{0,4})$/.test(text) || Number(text) > 65535) {
      throw bad(`bad port ${JSON.stringify(text)}`);
    }
    return Number(text);
  };
  return {
    version: 1,
    command: "proxy",
    family,
    source: { address: address(parts[2]), port: port(parts[4]) },
    destination: { address: address(parts[3]), port: port(parts[5]) },
    tlvs: [],
    length,
  };
}

/** A dotted quad with decimal parts, no leading zeros (spec §2.1), or undefined. */
function v4Text(text: string): string | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  for (const p of m.slice(1)) {
    if ((p.length > 1 && p[0] === "0") || Number(p) > 255) return undefined;
  }
  return text;
}

/** An IPv6 address in its RFC 5952 form, or undefined. */
function v6Text(text: string): string | undefined {
  if (!text.includes(":")) return undefined;
  const a = parseAddress(text);
  return a?.family === 6 ? formatV6(a.bytes) : undefined;
}

/** RFC 5952: lower case, no leading zeros, the longest run of two or more zero groups as "::". */
function formatV6(b: Uint8Array): string {
  const words = Array.from({ length: 8 }, (_, i) => b[2 * i] << 8 | b[2 * i + 1]);
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) {
    return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  }
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(":");
  if (best < 0) return hex(words);
  return `${hex(words.slice(0, best))}::${hex(words.slice(best + bestLen))}`;
}

/**
 * Spec §2.2: the binary header. Why over 50 lines: the fixed part, the
 * three address blocks and the TLV walk read best as one pass over the bytes.
 */
function decodeV2(bytes: Uint8Array, maxBytes: number): ProxyHeader | undefined {
  const bad = (what: string) => new ProxyProtocolError(`${what} in version 2 header`);
  const version = bytes[12] >> 4, cmd = bytes[12] & 0x0f;
  if (version !== 2) throw bad(`version ${version} (expected 2)`);
  if (cmd > 1) throw bad(`command ${cmd} (expected 0 LOCAL or 1 PROXY)`);
  const af = bytes[13] >> 4, proto = bytes[13] & 0x0f;
  const length = 16 + (bytes[14] << 8 | bytes[15]);
  if (length > maxBytes) throw bad(`length ${length} over the limit of ${maxBytes} bytes`);
  if (bytes.length < length) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, length);
  // §2.2: LOCAL carries no client: skip the block whatever it holds.
  if (cmd === 0) return { version: 2, command: "local", family: "unknown", tlvs: [], length };
  if (af > 3) throw bad(`address family ${af}`);
  if (proto > 2) throw bad(`transport protocol ${proto}`);
  if (af !== 0 && proto !== 1) throw bad(`transport protocol ${proto} (a stream is expected)`);
  const addrLen = [0, 12, 36, 216][af];
  if (length - 16 < addrLen) {
    throw bad(
      `length ${length - 16} too short for the ${
        ["", "INET", "INET6", "UNIX"][af]
      } addresses (${addrLen})`,
    );
  }
  let source: ProxyEndpoint | undefined, destination: ProxyEndpoint | undefined;
  if (af === 1) {
    const ip = (o: number) => Array.from(bytes.subarray(o, o + 4)).join(".");
    source = { address: ip(16), port: view.getUint16(24) };
    destination = { address: ip(20), port: view.getUint16(26) };
  } else if (af === 2) {
    source = { address: formatV6(bytes.subarray(16, 32)), port: view.getUint16(48) };
    destination = { address: formatV6(bytes.subarray(32, 48)), port: view.getUint16(50) };
  } else if (af === 3) {
    const path = (o: number) => {
      const raw = bytes.subarray(o, o + 108);
      const nul = raw.indexOf(0);
      return new TextDecoder().decode(nul < 0 ? raw : raw.subarray(0, nul));
    };
    source = { address: path(16), port: 0 };
    destination = { address: path(124), port: 0 };
  }
  const tlvs: { type: number; value: Uint8Array }[] = [];
  for (let o = 16 + addrLen; o < length;) {
    if (length - o < 3) throw bad(`${length - o} stray bytes after the last TLV`);
    const type = bytes[o], len = view.getUint16(o + 1);
    if (o + 3 + len > length) {
      throw bad(`TLV 0x${type.toString(16)} of ${len} bytes overruns the header`);
    }
    tlvs.push({ type, value: bytes.slice(o + 3, o + 3 + len) });
    if (type === PP2_TYPE_CRC32C) checkCrc(bytes.subarray(0, length), { at: o + 3, len, bad });
    o += 3 + len;
  }
  const family = (["unknown", "tcp4", "tcp6", "unix"] as const)[af];
  return { version: 2, command: "proxy", family, source, destination, tlvs, length };
}

/** Spec §2.2.5: CRC32C of the whole header with the checksum field as zeros. */
function checkCrc(
  header: Uint8Array,
  at: { at: number; len: number; bad: (what: string) => Error },
): void {
  if (at.len !== 4) throw at.bad(`CRC32C TLV of ${at.len} bytes (expected 4)`);
  const copy = header.slice();
  copy.fill(0, at.at, at.at + 4);
  const want = new DataView(header.buffer, header.byteOffset + at.at, 4).getUint32(0);
  const got = crc32c(copy);
  if (got !== want) {
    throw at.bad(`CRC32C 0x${want.toString(16)} does not match the header's 0x${got.toString(16)}`);
  }
}

let crcTable: Uint32Array | undefined;

/**
 * CRC32C (Castagnoli, reflected polynomial 0x82F63B78), as the PROXY
 * protocol's PP2_TYPE_CRC32C uses it.
 *
 * @example
 * ```ts
 * import { crc32c } from "./proxy_protocol.ts";
 * console.log(crc32c(new TextEncoder().encode("123456789")).toString(16)); // "e3069283"
 * ```
 */
export function crc32c(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (const b of bytes) crc = crcTable[(crc ^ b) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/**
 * A connection whose PROXY header has been read: the carried client
 * address and port are `remoteAddress`/`remotePort` (the socket's own when
 * the header carried none: LOCAL, UNKNOWN, UNSPEC, UNIX), the proxy's
 * address is `proxyAddress`, and `readable` starts with the client's first
 * byte.
 *
 * @example
 * ```ts
 * import type { ProxiedConnection } from "./proxy_protocol.ts";
 * const line = (c: ProxiedConnection) => `${c.remoteAddress} port ${c.remotePort} via ${c.proxyAddress}`;
 * ```
 */
export interface ProxiedConnection extends ByteStreamPair {
  /** The client's address (IPv4-mapped IPv6 written as IPv4). */
  readonly remoteAddress?: string;
  /** The client's port. */
  readonly remotePort?: number;
  /** The address the client connected to (the proxy's, from the header). */
  readonly localAddress?: string;
  /** The port the client connected to. */
  readonly localPort?: number;
  /** The proxy: the socket's peer. */
  readonly proxyAddress?: string;
  /** The header as decoded. */
  readonly header: ProxyHeader;
  /** Closes the socket (when the stream had a `close`). */
  close(): void;
}

/**
 * What {@link readProxyHeader} reads from: a byte stream pair, with a
 * socket's address fields and `close` when it has them (a `TcpConnection`
 * has all of them).
 *
 * @example
 * ```ts
 * import type { ProxySocket } from "./proxy_protocol.ts";
 * import { memoryPair } from "./memory.ts";
 * const [a] = memoryPair();
 * const s: ProxySocket = { ...a, remoteAddress: "10.0.0.2", remotePort: 40000 };
 * ```
 */
export interface ProxySocket extends ByteStreamPair {
  /** The peer (the proxy). */
  readonly remoteAddress?: string;
  /** The peer's port. */
  readonly remotePort?: number;
  /** The local address. */
  readonly localAddress?: string;
  /** The local port. */
  readonly localPort?: number;
  /** Closes the socket. */
  close?(): void;
}

/**
 * Checks `trusted` (each an address or a CIDR network) and returns the test
 * of a peer address against it. Throws a TypeError naming the bad entry.
 *
 * @example
 * ```ts
 * import { trustedProxies } from "./proxy_protocol.ts";
 * const isTrusted = trustedProxies(["10.0.0.0/8", "::1"]);
 * console.log(isTrusted("10.1.2.3"), isTrusted("::ffff:10.1.2.3"), isTrusted("192.0.2.1")); // true true false
 * ```
 */
export function trustedProxies(
  trusted: readonly string[],
): (address: string | undefined) => boolean {
  for (const entry of trusted) {
    const net = entry.split("/")[0];
    if (parseAddress(net) === undefined || addrMatchList(undefined, entry) !== 0) {
      throw new TypeError(
        `proxyProtocol.trusted: ${JSON.stringify(entry)} is not an address or a CIDR network`,
      );
    }
  }
  const list = trusted.join(",");
  return (address) => {
    const a = plainAddress(address);
    return a !== undefined && list !== "" && addrMatchList(a, list) === 1;
  };
}

/**
 * Reads and checks the PROXY header at the start of `conn`, before anything
 * is written to it. The peer must be in `options.trusted` (otherwise the
 * connection is closed unread) and the whole header must arrive within
 * `options.timeoutMs`. Rejects with {@link ProxyProtocolError} after
 * closing the connection; resolves with the connection as the client's.
 *
 * @example
 * ```ts
 * import { readProxyHeader } from "./proxy_protocol.ts";
 * import type { TcpConnection } from "./types.ts";
 * async function serve(conn: TcpConnection) {
 *   const c = await readProxyHeader(conn, { trusted: ["127.0.0.1"] });
 *   console.log(`client ${c.remoteAddress} port ${c.remotePort} via ${c.proxyAddress}`);
 * }
 * ```
 */
export async function readProxyHeader(
  conn: ProxySocket,
  options: ProxyProtocolOptions,
): Promise<ProxiedConnection> {
  const isTrusted = trustedProxies(options.trusted);
  const peer = plainAddress(conn.remoteAddress);
  const timeoutMs = options.timeoutMs ?? 5000;
  const closeWith = (reader?: ReadableStreamDefaultReader<Uint8Array>) => {
    try {
      conn.close?.();
    } catch { /* closed already */ }
    (reader ? reader.cancel() : conn.readable.cancel()).catch(() => {});
    conn.writable.abort().catch(() => {});
  };
  if (!isTrusted(peer)) {
    closeWith(); // unread: an untrusted peer gets nothing, not even an error line
    throw new ProxyProtocolError("not a trusted proxy address", { peer });
  }
  const reader = conn.readable.getReader();
  const close = () => closeWith(reader);
  const fail = (detail: string): never => {
    close();
    throw new ProxyProtocolError(detail, { peer });
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((resolve) =>
    timer = setTimeout(() => resolve("late"), timeoutMs)
  );
  let buf = new Uint8Array(0);
  let header: ProxyHeader | undefined;
  try {
    for (;;) {
      try {
        header = decodeProxyHeader(buf, { maxBytes: options.maxHeaderBytes });
      } catch (e) {
        fail((e as Error).message.replace(/^PROXY protocol: /, ""));
      }
      if (header) break;
      const r = await Promise.race([reader.read(), late]);
      if (r === "late") fail(`no complete PROXY header within ${timeoutMs} ms`);
      const { done, value } = r as ReadableStreamReadResult<Uint8Array>;
      if (done) fail(`the connection ended after ${buf.length} bytes of a PROXY header`);
      const next = new Uint8Array(buf.length + value!.length);
      next.set(buf);
      next.set(value!, buf.length);
      buf = next;
    }
  } finally {
    clearTimeout(timer);
  }
  const h = header!;
  const rest = buf.subarray(h.length);
  const carried = h.command === "proxy" && (h.family === "tcp4" || h.family === "tcp6");
  return {
    readable: new ReadableStream<Uint8Array>({
      start: (c) => void (rest.length > 0 && c.enqueue(rest)),
      pull: async (c) => {
        const { done, value } = await reader.read();
        if (done) c.close();
        else c.enqueue(value);
      },
      cancel: (reason) => reader.cancel(reason),
    }),
    writable: conn.writable,
    remoteAddress: carried ? plainAddress(h.source!.address) : peer,
    remotePort: carried ? h.source!.port : conn.remotePort,
    localAddress: carried ? plainAddress(h.destination!.address) : plainAddress(conn.localAddress),
    localPort: carried ? h.destination!.port : conn.localPort,
    proxyAddress: peer,
    header: h,
    close,
  };
}
