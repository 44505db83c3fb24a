// The transport (RFC 4253) fed with random and mutated valid traffic. A
// real in-memory handshake is recorded (the client's bytes to the server,
// with deterministic randomness on both sides so that a replay against a
// server with the same seed is the same conversation, encrypted packets
// included). Replays with bytes flipped, truncated, duplicated, reordered,
// overwritten, and arbitrary bytes after a valid identification line, must
// end the server with a DisconnectError whose reason fits (or complete),
// within a bounded time, with no exception anywhere else.
import { test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import fc from "fast-check";
import { checkAsync, mutated } from "./_fuzz.ts";
import { hostKey } from "./_transport_pair.ts";
import { memoryPair } from "../lib/runtime/memory.ts";
import type { ByteStreamPair } from "../lib/runtime/types.ts";
import { Transport, type TransportOptions } from "../lib/transport/transport.ts";
import { DisconnectError, DisconnectReason } from "../lib/wire/errors.ts";
import { encodeSimpleAuthRequest } from "../lib/wire/auth_messages.ts";

const RUNS = 40;
/** How long one replay may take before the server is said to hang (the machine is shared). */
const REPLAY_MS = 10_000;

/** A deterministic RandomSource (xorshift32): the same seed, the same bytes. */
function seeded(seed: number): (n: number) => Uint8Array {
  let x = seed >>> 0 || 1;
  return (n) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      out[i] = x & 0xff;
    }
    return out;
  };
}

const ALGORITHMS: Partial<TransportOptions> = {
  kexAlgorithms: ["curve25519-sha256"],
  ciphers: ["chacha20-poly1305@openssh.com", "aes128-ctr"],
  macs: ["hmac-sha2-256-etm@openssh.com"],
  handshakeTimeout: REPLAY_MS,
};

async function serverOptions(): Promise<TransportOptions> {
  return {
    role: "server",
    hostKeys: [await hostKey("ssh-ed25519")],
    random: seeded(0x5eed5),
    ...ALGORITHMS,
  };
}

/** Reads a stream to its end, discarding (so that the writer is never held up). */
async function drain(readable: ReadableStream<Uint8Array>): Promise<void> {
  const r = readable.getReader();
  try {
    while (!(await r.read()).done) { /* discard */ }
  } catch {
    // the other side errored the stream: nothing more to read
  }
}

/**
 * Records the client's bytes of a whole conversation: key exchange, the
 * ssh-userauth service request, a "none" USERAUTH_REQUEST, a re-key, and
 * a DISCONNECT.
 */
async function record(): Promise<{ chunks: Uint8Array[]; serverEnd: DisconnectError }> {
  const [a, b] = memoryPair();
  const chunks: Uint8Array[] = [];
  const tap = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, c) {
      chunks.push(chunk.slice());
      c.enqueue(chunk);
    },
  });
  void tap.readable.pipeTo(a.writable).catch(() => {});
  const clientSide: ByteStreamPair = { readable: a.readable, writable: tap.writable };
  const server = new Transport(b, await serverOptions());
  const client = new Transport(clientSide, {
    role: "client",
    verifyHostKey: () => true,
    random: seeded(0xc11e7),
    ...ALGORITHMS,
  });
  void drain(server.messages);
  const got = client.requestService("ssh-userauth");
  await client.ready;
  await got;
  await client.send(
    encodeSimpleAuthRequest({ user: "me", service: "ssh-connection", method: "none" }),
  );
  await client.rekey();
  await client.disconnect(DisconnectReason.BY_APPLICATION, "bye");
  const serverEnd = await server.closed;
  await client.closed;
  return { chunks, serverEnd };
}

/**
 * Replays `bytes` (in chunks of the given sizes) to a fresh server, then
 * closes; returns how the server ended. Fails on a hang, or on an
 * unhandled rejection or uncaught exception during the replay.
 */
async function replay(
  bytes: Uint8Array,
  cuts: number[],
): Promise<{ end: DisconnectError; ready: boolean }> {
  const [peer, b] = memoryPair();
  const server = new Transport(b, await serverOptions());
  let ready = false;
  server.ready.then(
    () => (ready = true),
    (e) => assert.ok(e instanceof DisconnectError, String(e)),
  );
  void drain(server.messages);
  void drain(peer.readable);
  const w = peer.writable.getWriter();
  let at = 0;
  for (const n of [...cuts, bytes.length]) {
    if (at >= bytes.length) break;
    const end = Math.min(bytes.length, at + Math.max(1, n));
    await w.write(bytes.slice(at, end)).catch(() => {});
    at = end;
  }
  await w.close().catch(() => {});
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`server did not end within ${REPLAY_MS} ms`)),
      REPLAY_MS,
    );
  });
  try {
    return { end: await Promise.race([server.closed, hang]), ready };
  } finally {
    clearTimeout(timer);
  }
}

/** Reasons a server may give for traffic that is not a valid client's. */
const HOSTILE_REASONS = new Set<number>([
  DisconnectReason.PROTOCOL_ERROR,
  DisconnectReason.KEY_EXCHANGE_FAILED,
  DisconnectReason.MAC_ERROR,
  DisconnectReason.COMPRESSION_ERROR,
  DisconnectReason.SERVICE_NOT_AVAILABLE,
  DisconnectReason.PROTOCOL_VERSION_NOT_SUPPORTED,
  DisconnectReason.CONNECTION_LOST,
]);

/**
 * The right reason: one of {@link HOSTILE_REASONS} when the server ended
 * the connection itself; any when the peer's (mutated) DISCONNECT arrived
 * intact, which then names the peer's reason.
 */
function assertRightReason(end: DisconnectError): void {
  assert.ok(end instanceof DisconnectError);
  if (end.local) assert.ok(HOSTILE_REASONS.has(end.reason), end.message);
  assert.ok(end.description.length > 0, `the reason is described: ${end.message}`);
}

/** Collects unhandled rejections and uncaught exceptions while `f` runs. */
async function noStrayErrors<T>(f: () => Promise<T>): Promise<T> {
  const stray: unknown[] = [];
  const onError = (e: unknown) => stray.push(e);
  process.on("unhandledRejection", onError);
  process.on("uncaughtException", onError);
  try {
    const out = await f();
    await new Promise((r) => setTimeout(r, 0));
    assert.deepEqual(stray.map(String), [], "no unhandled rejection or uncaught exception");
    return out;
  } finally {
    process.off("unhandledRejection", onError);
    process.off("uncaughtException", onError);
  }
}

const recording = await record();
const whole = concat(recording.chunks);

test("fuzz transport: the recorded conversation replays to the same end", async () => {
  assert.equal(recording.serverEnd.reason, DisconnectReason.BY_APPLICATION);
  assert.equal(recording.serverEnd.local, false);
  // Chunked as recorded, and as one chunk: the deterministic server completes the same way.
  const { end, ready } = await noStrayErrors(() =>
    replay(whole, recording.chunks.map((c) => c.length))
  );
  assert.ok(ready, "the key exchange completed");
  assert.equal(end.reason, DisconnectReason.BY_APPLICATION, end.message);
  assert.equal(end.local, false);
  assert.equal((await replay(whole, [])).end.reason, DisconnectReason.BY_APPLICATION);
});

test("fuzz transport: mutated replays end in a DisconnectError, never a hang or a stray exception", async () => {
  await checkAsync(
    fc.tuple(
      mutated(fc.constant(whole)),
      fc.array(fc.integer({ min: 1, max: 600 }), { maxLength: 6 }),
    ),
    RUNS,
    async ([bytes, cuts]) => {
      const { end } = await noStrayErrors(() => replay(bytes, cuts));
      assertRightReason(end);
    },
  );
});

test("fuzz transport: packets reordered, duplicated or dropped as whole chunks end in a DisconnectError", async () => {
  const n = recording.chunks.length;
  const order = fc.array(fc.nat({ max: n - 1 }), { minLength: 1, maxLength: n + 3 });
  await checkAsync(order, RUNS / 2, async (idx) => {
    const bytes = concat([recording.chunks[0], ...idx.map((i) => recording.chunks[i])]);
    const { end } = await noStrayErrors(() => replay(bytes, []));
    assertRightReason(end);
  });
});

test("fuzz transport: a valid identification line then arbitrary bytes end in a DisconnectError", async () => {
  const hello = new TextEncoder().encode("SSH-2.0-fuzz\r\n");
  await checkAsync(fc.uint8Array({ maxLength: 2000 }), RUNS, async (junk) => {
    const { end, ready } = await noStrayErrors(() => replay(concat([hello, junk]), []));
    assert.equal(ready, false);
    // The server's own verdict, or the end of the bytes (the peer's close).
    const eof = end.reason === DisconnectReason.CONNECTION_LOST;
    assert.ok((end.local || eof) && HOSTILE_REASONS.has(end.reason), end.message);
  });
});

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) (out.set(p, o), o += p.length);
  return out;
}
