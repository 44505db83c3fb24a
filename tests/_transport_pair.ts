// Test helpers: a client/server Transport pair over an in-memory duplex,
// and a raw "peer" that speaks unencrypted packets for hostile-input tests.
import { generatePrivateKey } from "../lib/keys/private_key.ts";
import type { PrivateKey } from "../lib/keys/types.ts";
import { memoryPair } from "../lib/runtime/memory.ts";
import type { ByteStreamPair } from "../lib/runtime/types.ts";
import { ByteReader } from "../lib/transport/_byte_reader.ts";
import { PacketReader, PacketWriter } from "../lib/transport/packets.ts";
import { Transport, type TransportOptions } from "../lib/transport/transport.ts";
import { encodeKexInit, type KexInit } from "../lib/wire/transport_messages.ts";

const keyCache = new Map<string, Promise<PrivateKey>>();

/** One host key per type, generated once per test process. */
export function hostKey(type: string): Promise<PrivateKey> {
  let k = keyCache.get(type);
  if (!k) {
    k = generatePrivateKey(type, type === "ssh-rsa" ? { bits: 2048 } : {});
    keyCache.set(type, k);
  }
  return k;
}

/**
 * A connected client and server. The client asks for the "ssh-userauth"
 * service as its first message after the key exchange (a server Transport
 * delivers messages 50 and up only after a service request, RFC 4253 §10).
 */
export async function transportPair(
  client: Partial<TransportOptions> = {},
  server: Partial<TransportOptions> = {},
  wire?: (c2s: ByteStreamPair, s2c: ByteStreamPair) => [ByteStreamPair, ByteStreamPair],
): Promise<{ client: Transport; server: Transport }> {
  let [a, b] = memoryPair();
  if (wire) [a, b] = wire(a, b);
  const hostKeys = server.hostKeys ?? [await hostKey("ssh-ed25519")];
  const s = new Transport(b, { role: "server", hostKeys, ...server });
  let c: Transport;
  try {
    c = new Transport(a, { role: "client", verifyHostKey: () => true, ...client });
  } catch (e) {
    // A client refused by its options: end the server too (its handshake timer is pending).
    await a.writable.abort(e).catch(() => {});
    await s.closed;
    throw e;
  }
  c.requestService("ssh-userauth").catch(() => {});
  return { client: c, server: s };
}

/** A raw SSH peer: writes and reads unencrypted packets, for hostile-input tests. */
export class RawPeer {
  readonly bytes: ByteReader;
  readonly out: PacketWriter;
  readonly in: PacketReader;
  readonly writer: WritableStreamDefaultWriter<Uint8Array>;
  constructor(stream: ByteStreamPair) {
    this.bytes = new ByteReader(stream.readable);
    this.writer = stream.writable.getWriter();
    this.out = new PacketWriter(this.writer);
    this.in = new PacketReader(this.bytes);
  }
  raw(text: string | Uint8Array): Promise<void> {
    return this.writer.write(typeof text === "string" ? new TextEncoder().encode(text) : text);
  }
  async line(): Promise<string> {
    const l = await this.bytes.readLine(255);
    return new TextDecoder().decode(l);
  }
  async packet(): Promise<Uint8Array> {
    return (await this.in.read()).payload;
  }
  /** Reads packets until one with message number `msg` arrives. */
  async until(msg: number): Promise<Uint8Array> {
    for (;;) {
      const p = await this.packet();
      if (p[0] === msg) return p;
    }
  }
  close(): Promise<void> {
    return this.writer.close().catch(() => {});
  }
}

/** A raw peer wired to a real Transport on the other end. */
export async function rawAgainst(
  options: Partial<TransportOptions> & { role: "client" | "server" },
): Promise<{ raw: RawPeer; transport: Transport }> {
  const [a, b] = memoryPair();
  const base = options.role === "server"
    ? { hostKeys: [await hostKey("ssh-ed25519")] }
    : { verifyHostKey: () => true };
  const transport = new Transport(a, { ...base, ...options } as TransportOptions);
  return { raw: new RawPeer(b), transport };
}

/**
 * A raw peer's KEXINIT payload: curve25519-sha256, ssh-ed25519, aes128-ctr,
 * hmac-sha2-256-etm@openssh.com, no compression, no guess, unless `overrides` says otherwise.
 *
 * @example
 * ```ts
 * import { kexInitPayload } from "./_transport_pair.ts";
 * const p = kexInitPayload({ firstKexPacketFollows: true });
 * console.log(p[0]); // 20 (SSH_MSG_KEXINIT)
 * ```
 */
export function kexInitPayload(overrides: Partial<KexInit> = {}): Uint8Array {
  return encodeKexInit({
    cookie: new Uint8Array(16),
    kexAlgorithms: ["curve25519-sha256"],
    serverHostKeyAlgorithms: ["ssh-ed25519"],
    ciphersClientToServer: ["aes128-ctr"],
    ciphersServerToClient: ["aes128-ctr"],
    macsClientToServer: ["hmac-sha2-256-etm@openssh.com"],
    macsServerToClient: ["hmac-sha2-256-etm@openssh.com"],
    compressionClientToServer: ["none"],
    compressionServerToClient: ["none"],
    languagesClientToServer: [],
    languagesServerToClient: [],
    firstKexPacketFollows: false,
    ...overrides,
  });
}
