/**
 * A dynamic forward, as `ssh -D`: a local SOCKS4, SOCKS4a and SOCKS5
 * server (CONNECT only, no authentication, RFC 1928; SOCKS4/4a as
 * OpenSSH's channels.c reads them) whose every connection becomes a
 * `direct-tcpip` channel. Domain names go to the SSH server unresolved, so
 * it resolves them. A malformed request closes that one socket.
 *
 * @module
 */
import type { Connection } from "../connection/connection.ts";
import { ChannelOpenError } from "../connection/connection.ts";
import { spliceChannel } from "../connection/splice.ts";
import { plainAddress } from "../runtime/address.ts";
import type { TcpConnection } from "../runtime/types.ts";
import { OpenFailure } from "../wire/connection_messages.ts";
import { forwardOut, listenLocally, type LocalListener } from "./client.ts";

/** The longest request we read: a SOCKS4 user id or a SOCKS5 name is at most 255 bytes. */
const MAX_REQUEST = 1024;

/** Reads exactly what the handshake needs from a socket, keeping what comes after. */
class Bytes {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #buf = new Uint8Array(0);
  #used = 0;
  constructor(readable: ReadableStream<Uint8Array>) {
    this.#reader = readable.getReader();
  }
  /** The next `n` bytes. */
  async take(n: number): Promise<Uint8Array> {
    while (this.#buf.length < n) {
      if (this.#used + this.#buf.length > MAX_REQUEST) throw new Error("SOCKS request too long");
      const { value, done } = await this.#reader.read();
      if (done) throw new Error("the SOCKS client closed during the handshake");
      const next = new Uint8Array(this.#buf.length + value.length);
      next.set(this.#buf);
      next.set(value, this.#buf.length);
      this.#buf = next;
    }
    const out = this.#buf.subarray(0, n);
    this.#buf = this.#buf.subarray(n);
    this.#used += n;
    return out;
  }
  /** Bytes up to (not including) a NUL. */
  async untilNul(): Promise<Uint8Array> {
    const parts: number[] = [];
    for (;;) {
      const [b] = await this.take(1);
      if (b === 0) return new Uint8Array(parts);
      parts.push(b);
    }
  }
  /** What was read past the handshake; the socket's stream is released. */
  rest(): Uint8Array {
    this.#reader.releaseLock();
    return this.#buf;
  }
}

const td = new TextDecoder();

/** A SOCKS request: where to connect, and how to answer in the client's version. */
interface SocksRequest {
  host: string;
  port: number;
  reply(ok: boolean, code?: number): Uint8Array;
}

async function readSocks4(b: Bytes): Promise<SocksRequest> {
  const [cmd] = await b.take(1);
  const head = await b.take(6);
  const port = (head[0] << 8) | head[1];
  const ip = head.subarray(2);
  await b.untilNul(); // user id, unused
  if (cmd !== 1) throw new Error(`SOCKS4 command ${cmd} is not supported`);
  // SOCKS4a: 0.0.0.x with x != 0, the host name follows the user id.
  const host = ip[0] === 0 && ip[1] === 0 && ip[2] === 0 && ip[3] !== 0
    ? td.decode(await b.untilNul())
    : ip.join(".");
  return {
    host,
    port,
    reply: (ok) => new Uint8Array([0, ok ? 0x5a : 0x5b, 0, 0, 0, 0, 0, 0]),
  };
}

async function readSocks5(b: Bytes, socket: TcpConnection): Promise<SocksRequest> {
  const [n] = await b.take(1);
  const methods = await b.take(n);
  if (!methods.includes(0)) {
    await write(socket, new Uint8Array([5, 0xff]));
    throw new Error("the SOCKS5 client offers no method without authentication");
  }
  await write(socket, new Uint8Array([5, 0]));
  const [ver, cmd, , atyp] = await b.take(4);
  if (ver !== 5) throw new Error(`SOCKS5 request version ${ver}`);
  let host: string;
  if (atyp === 1) host = (await b.take(4)).join(".");
  else if (atyp === 3) host = td.decode(await b.take((await b.take(1))[0]));
  else if (atyp === 4) {
    const a = await b.take(16);
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(((a[i] << 8) | a[i + 1]).toString(16));
    host = groups.join(":");
  } else {
    await write(socket, socks5Reply(8));
    throw new Error(`SOCKS5 address type ${atyp} is not supported`);
  }
  const p = await b.take(2);
  if (cmd !== 1) {
    await write(socket, socks5Reply(7));
    throw new Error(`SOCKS5 command ${cmd} is not supported`);
  }
  return { host, port: (p[0] << 8) | p[1], reply: (ok, code) => socks5Reply(ok ? 0 : code ?? 1) };
}

/** RFC 1928 §6: VER REP RSV ATYP(IPv4) BND.ADDR 0.0.0.0 BND.PORT 0. */
function socks5Reply(rep: number): Uint8Array {
  return new Uint8Array([5, rep, 0, 1, 0, 0, 0, 0, 0, 0]);
}

async function write(socket: TcpConnection, bytes: Uint8Array): Promise<void> {
  const w = socket.writable.getWriter();
  try {
    await w.write(bytes);
  } finally {
    w.releaseLock();
  }
}

/** RFC 1928 §6 reply codes for a refused channel open. */
function socks5Code(e: unknown): number {
  if (!(e instanceof ChannelOpenError)) return 1; // general failure
  if (e.reason === OpenFailure.ADMINISTRATIVELY_PROHIBITED) return 2; // not allowed by ruleset
  if (e.reason === OpenFailure.CONNECT_FAILED) return 5; // connection refused
  return 1;
}

/** One SOCKS client: handshake, channel, then bytes both ways. */
async function serveSocks(
  client: { connection: Connection },
  socket: TcpConnection,
): Promise<void> {
  const b = new Bytes(socket.readable);
  let request: SocksRequest;
  try {
    const [version] = await b.take(1);
    if (version === 4) request = await readSocks4(b);
    else if (version === 5) request = await readSocks5(b, socket);
    else throw new Error(`SOCKS version ${version}`);
  } catch {
    return socket.close(); // malformed or unsupported: this socket only
  }
  let stream;
  try {
    stream = await forwardOut(client, request, {
      originator: { address: plainAddress(socket.remoteAddress), port: socket.remotePort },
    });
  } catch (e) {
    await write(socket, request.reply(false, socks5Code(e))).catch(() => {});
    return socket.close();
  }
  await write(socket, request.reply(true));
  const early = b.rest();
  if (early.length > 0) {
    const w = stream.writable.getWriter();
    await w.write(early).catch(() => {});
    w.releaseLock();
  }
  await spliceChannel(stream.channel, socket);
}

/**
 * A dynamic forward (`ssh -D [bind:]port`): a SOCKS4/4a/5 server on
 * `bind` (default 127.0.0.1, port 0: any) that tunnels each CONNECT
 * through a `direct-tcpip` channel. `unsubscribe()` closes the listener
 * and its tunnels.
 *
 * @example
 * ```ts
 * import { dynamicForward } from "./socks.ts";
 * import type { SshClient } from "../client.ts";
 * async function proxy(client: SshClient) {
 *   const socks = await dynamicForward(client, { port: 1080 });
 *   console.log(`curl --socks5-hostname 127.0.0.1:${socks.port} http://intranet/`);
 *   return socks; // socks.unsubscribe() when done
 * }
 * ```
 */
export function dynamicForward(
  client: { readonly connection: Connection },
  bind: { hostname?: string; port?: number } = {},
): Promise<LocalListener> {
  return listenLocally(client, (socket) => serveSocks(client, socket), bind);
}
