// Compression (RFC 4253 §6.2, OpenSSH PROTOCOL §2.1): negotiation, zlib from
// the first NEWKEYS, zlib@openssh.com from USERAUTH_SUCCESS, fresh streams at
// every re-key, and the per-packet bound on inflated size.
import { test } from "node:test";
import assert from "node:assert/strict";
import { transportPair } from "../../tests/_transport_pair.ts";
import type { ByteStreamPair } from "../runtime/types.ts";
import { DisconnectError, DisconnectReason } from "../wire/errors.ts";
import { CompressionError, Deflater, Inflater } from "./compression.ts";
import type { Transport, TransportOptions } from "./transport.ts";

const ALL = ["zlib@openssh.com", "zlib", "none"];

/** Counts the bytes each way under a transport pair. */
function counted() {
  const bytes = { c2s: 0, s2c: 0 };
  const tap = (dir: "c2s" | "s2c") =>
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, c) {
        bytes[dir] += chunk.length;
        c.enqueue(chunk);
      },
    });
  // a: the client's end (its writable reaches b.readable), b: the server's end.
  const wire = (a: ByteStreamPair, b: ByteStreamPair): [ByteStreamPair, ByteStreamPair] => {
    const up = tap("c2s");
    const down = tap("s2c");
    up.readable.pipeTo(a.writable).catch(() => {});
    a.readable.pipeTo(down.writable).catch(() => {});
    return [{ readable: down.readable, writable: up.writable }, b];
  };
  return { bytes, wire };
}

/** A compressible connection-layer message (number 94, as channel data), `size` bytes. */
function message(i: number, size = 4096): Uint8Array {
  const text = new TextEncoder().encode(`line ${i}: the quick brown fox jumps over the lazy dog\n`);
  const m = new Uint8Array(size);
  m[0] = 94;
  for (let at = 1; at < size; at += text.length) m.set(text.subarray(0, size - at), at);
  return m;
}

async function expectMessages(t: Transport, from: number, n: number, size = 4096) {
  const reader = t.messages.getReader();
  for (let i = from; i < from + n; i++) {
    const { value } = await reader.read();
    assert.deepEqual(value, message(i, size), `message ${i}`);
  }
  reader.releaseLock();
}

/** Sends `n` messages each way, checks them, and returns the bytes that crossed each way. */
async function exchange(
  pair: { client: Transport; server: Transport },
  bytes: { c2s: number; s2c: number },
  from: number,
  n = 20,
) {
  const before = { ...bytes };
  const got = Promise.all([
    expectMessages(pair.server, from, n),
    expectMessages(pair.client, from, n),
  ]);
  for (let i = from; i < from + n; i++) {
    pair.client.send(message(i));
    pair.server.send(message(i));
  }
  await got;
  return { c2s: bytes.c2s - before.c2s, s2c: bytes.s2c - before.s2c };
}

async function connected(client: Partial<TransportOptions>, server: Partial<TransportOptions>) {
  const { bytes, wire } = counted();
  const pair = await transportPair(client, server, wire);
  await Promise.all([pair.client.ready, pair.server.ready]);
  // The server delivers messages only once the service request has arrived.
  await new Promise<void>((r) => pair.server.service$.subscribe(() => r()));
  return { ...pair, bytes };
}

test("negotiation: none by default; the client's first the server also offers, each way", async () => {
  const cases: [string[] | undefined, string[] | undefined, string][] = [
    [undefined, undefined, "none"],
    [ALL, undefined, "none"], // ssh -C against a server that offers none only
    [ALL, ["none", "zlib@openssh.com"], "zlib@openssh.com"], // ssh -C against sshd's default
    [["zlib", "none"], ["zlib@openssh.com", "zlib"], "zlib"],
  ];
  for (const [c, s, want] of cases) {
    const { client, server } = await connected({ compression: c }, { compression: s });
    const a = (await client.ready).algorithms;
    assert.equal(a.compressionClientToServer, want, `${c} / ${s}`);
    assert.equal(a.compressionServerToClient, want);
    assert.deepEqual((await server.ready).algorithms, a);
    await client.disconnect();
    await server.closed;
  }
});

test("negotiation: no common compression method fails the key exchange, naming both lists", async () => {
  const { client, server } = await transportPair({ compression: ["zlib"] }, {});
  const e = await client.closed;
  assert.equal(e.reason, DisconnectReason.KEY_EXCHANGE_FAILED);
  assert.match(e.message, /no matching compression \(client to server\).*\[zlib\].*\[none\]/);
  await server.closed;
});

test("an unknown compression name is a configuration error", async () => {
  await assert.rejects(
    transportPair({ compression: ["lz4"] }),
    /Compression: unsupported algorithm "lz4"/,
  );
});

test("zlib: compressed from the first NEWKEYS on, both ways, intact", async () => {
  const pair = await connected({ compression: ["zlib"] }, { compression: ["zlib"] });
  const plain = 20 * 4096;
  const sent = await exchange(pair, pair.bytes, 0);
  assert.ok(sent.c2s < plain / 4, `client to server: ${sent.c2s} bytes for ${plain}`);
  assert.ok(sent.s2c < plain / 4, `server to client: ${sent.s2c} bytes for ${plain}`);
  await pair.client.disconnect();
  assert.equal((await pair.server.closed).reason, DisconnectReason.BY_APPLICATION);
});

test("zlib@openssh.com: uncompressed until USERAUTH_SUCCESS, compressed from the packet after it", async () => {
  const pair = await connected({ compression: ALL }, { compression: ["none", "zlib@openssh.com"] });
  const plain = 20 * 4096;
  const before = await exchange(pair, pair.bytes, 0);
  assert.ok(before.c2s > plain && before.s2c > plain, `before: ${JSON.stringify(before)}`);
  // The server's USERAUTH_SUCCESS (RFC 4252 §5.1) goes out uncompressed; then both directions are.
  const reader = pair.client.messages.getReader();
  await pair.server.send(new Uint8Array([52]));
  assert.deepEqual((await reader.read()).value, new Uint8Array([52]));
  reader.releaseLock();
  const after = await exchange(pair, pair.bytes, 100);
  assert.ok(after.c2s < plain / 4 && after.s2c < plain / 4, `after: ${JSON.stringify(after)}`);
  await pair.client.disconnect();
  await pair.server.closed;
});

test("re-keys restart the streams (RFC 4253 §6.2); data stays intact, delayed compression stays on", async () => {
  for (const method of ["zlib", "zlib@openssh.com"]) {
    const pair = await connected({ compression: [method] }, { compression: [method] });
    if (method === "zlib@openssh.com") {
      const reader = pair.client.messages.getReader();
      await pair.server.send(new Uint8Array([52]));
      await reader.read();
      reader.releaseLock();
    }
    let n = 0;
    for (const rekey of [() => pair.client.rekey(), () => pair.server.rekey(), undefined]) {
      const sent = await exchange(pair, pair.bytes, n);
      assert.ok(sent.c2s < 20 * 4096 / 4, `${method} round ${n}: ${sent.c2s} bytes`);
      n += 20;
      if (rekey) await rekey();
    }
    assert.equal((await pair.client.ready).count, 1);
    await pair.client.disconnect();
    await pair.server.closed;
  }
});

test("a packet that inflates past the largest packet accepted ends the connection: COMPRESSION_ERROR", async () => {
  const pair = await connected({ compression: ["zlib"] }, {
    compression: ["zlib"],
    maxPacketSize: 40000,
  });
  // At the bound: accepted. One byte more, compressed to a few hundred bytes: refused.
  const reader = pair.server.messages.getReader();
  const fits = new Uint8Array(40000);
  fits[0] = 94;
  await pair.client.send(fits);
  assert.equal((await reader.read()).value?.length, 40000);
  const bomb = new Uint8Array(40001);
  bomb[0] = 94;
  await pair.client.send(bomb);
  const e = await pair.server.closed;
  assert.equal(e.reason, DisconnectReason.COMPRESSION_ERROR);
  assert.ok(e.cause instanceof CompressionError);
  assert.match(e.message, /inflates to more than 40000 bytes/);
  const seen = await pair.client.closed;
  assert.equal(seen.reason, DisconnectReason.COMPRESSION_ERROR);
  assert.equal(seen.local, false);
});

test("a 200 MiB decompression bomb is refused after inflating at most one chunk past the bound", async () => {
  const pair = await connected({ compression: ["zlib"] }, { compression: ["zlib"] });
  const bomb = new Uint8Array(200 * 1024 * 1024);
  bomb[0] = 94;
  const t = performance.now();
  await pair.client.send(bomb);
  const e = await pair.server.closed;
  assert.equal(e.reason, DisconnectReason.COMPRESSION_ERROR);
  assert.match(e.message, /more than 262144 bytes/);
  assert.ok(performance.now() - t < 20_000);
});

test("Inflater: a corrupt stream is COMPRESSION_ERROR naming the packet; a good one round-trips", async () => {
  const d = new Deflater();
  const i = new Inflater();
  const text = new TextEncoder().encode("hello ".repeat(100));
  for (let n = 0; n < 3; n++) {
    assert.deepEqual(await i.inflate(await d.compress(text), { seq: n, limit: 1000 }), text);
  }
  const bad = new Inflater();
  const e = await bad.inflate(new Uint8Array([1, 2, 3, 4, 5]), { seq: 9, limit: 1000 }).then(
    () => undefined,
    (err) => err,
  );
  assert.ok(e instanceof DisconnectError);
  assert.equal(e.reason, DisconnectReason.COMPRESSION_ERROR);
  assert.ok(e.cause instanceof CompressionError && e.cause.seq === 9);
  assert.match(e.message, /packet 9: compressed payload cannot be inflated/);
  await assert.rejects(bad.inflate(new Uint8Array([0x78, 0x9c]), { seq: 10, limit: 1000 }));
  d.close();
  i.close();
  bad.close();
});
