import { test } from "node:test";
import assert from "node:assert/strict";
import { CIPHERS, MACS } from "../crypto/ciphers.ts";
import { memoryPair } from "../runtime/memory.ts";
import { ByteReader } from "./_byte_reader.ts";
import { PacketReader, PacketWriter } from "./packets.ts";

async function keyed(cipherName: string, macName?: string) {
  const c = CIPHERS.get(cipherName)!;
  const m = macName ? MACS.get(macName)! : undefined;
  const key = new Uint8Array(c.keyLength).fill(7);
  const iv = new Uint8Array(c.ivLength).fill(9);
  const mk = new Uint8Array(m?.keyLength ?? 0).fill(5);
  return {
    sealer: await c.sealer(key, iv, m?.create(mk)),
    opener: await c.opener(key, iv, m?.create(mk)),
  };
}

test("sequence numbers wrap at 2^32 (RFC 4253 §6.4) and packets still verify, for every packet mode", async () => {
  for (
    const [cipher, mac] of [
      ["chacha20-poly1305@openssh.com"],
      ["aes128-gcm@openssh.com"],
      ["aes256-ctr", "hmac-sha2-512"],
      ["aes128-ctr", "hmac-sha2-256-etm@openssh.com"],
    ]
  ) {
    const [a, b] = memoryPair();
    const w = new PacketWriter(a.writable.getWriter());
    const r = new PacketReader(new ByteReader(b.readable));
    const k = await keyed(cipher, mac);
    w.sealer = k.sealer;
    r.opener = k.opener;
    w.seq = r.seq = 0xfffffffd;
    const seen: number[] = [];
    for (let i = 0; i < 6; i++) {
      const payload = new Uint8Array(20 + i * 100).fill(i);
      payload[0] = 94;
      w.write(payload);
      const got = await r.read();
      seen.push(got.seq);
      assert.deepEqual(got.payload, payload, `${cipher} packet ${i}`);
    }
    assert.deepEqual(seen, [0xfffffffd, 0xfffffffe, 0xffffffff, 0, 1, 2], cipher);
  }
});

test("framing: padding of 4..255 bytes, block alignment, a 16-byte minimum packet", async () => {
  const framer = new PacketWriter(new WritableStream<Uint8Array>().getWriter());
  for (
    const [cipher, mac] of [["aes128-ctr", "hmac-sha2-256"], [
      "aes128-ctr",
      "hmac-sha2-256-etm@openssh.com",
    ]]
  ) {
    const { sealer } = await keyed(cipher, mac);
    for (let n = 1; n < 70; n++) {
      const p = framer.frame(new Uint8Array(n), sealer);
      const len = new DataView(p.buffer).getUint32(0);
      assert.equal(p.length, 4 + len);
      assert.ok(p[4] >= 4 && p[4] < 4 + 16, `padding ${p[4]}`);
      assert.equal((sealer.lengthApart ? len : len + 4) % 16, 0);
      assert.ok(p.length >= 16);
    }
  }
});

test("writer: packets sealed by the time their turn comes go out in one write, in order", async () => {
  const writes: Uint8Array[] = [];
  let failNext = false;
  const sink = new WritableStream<Uint8Array>({
    write: async (c) => {
      await new Promise((r) => setTimeout(r, 1));
      if (failNext) throw new Error("sink broke");
      writes.push(c.slice());
    },
  });
  const w = new PacketWriter(sink.getWriter());
  const payloads = Array.from({ length: 6 }, (_, i) => new Uint8Array(100).fill(i + 1));
  const done = payloads.map((p) => w.write(p));
  await Promise.all(done);
  await w.flushed();
  // The first goes alone (the pump starts at once); the rest queue up behind it and coalesce.
  assert.ok(writes.length < payloads.length, `${writes.length} writes for 6 packets`);
  const all = new Uint8Array(writes.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of writes) (all.set(c, at), at += c.length);
  // Unsealed ("none") packets: uint32 length, padding length, payload; read them back in order.
  let off = 0;
  for (let i = 0; i < payloads.length; i++) {
    const len = new DataView(all.buffer, off).getUint32(0);
    assert.equal(all[off + 5], i + 1, `packet ${i} in place`);
    off += 4 + len;
  }
  assert.equal(off, all.length);
  // A sink error rejects every packet of the failed write, and later ones, never silently.
  failNext = true;
  const failing = [w.write(payloads[0]), w.write(payloads[1])];
  for (const p of failing) await assert.rejects(p, /sink broke/);
  await w.flushed(); // never rejects
});

test("tracked packets count until the sink takes them; trackedBelow waits for the drain, and for a dead sink", async () => {
  let release!: () => void;
  const taken: number[] = [];
  const gate = new Promise<void>((r) => (release = r));
  const w = new PacketWriter(
    new WritableStream<Uint8Array>({
      async write(c) {
        await gate;
        taken.push(c.length);
      },
    }, { highWaterMark: 1 }).getWriter(),
  );
  const sends = [
    w.write(new Uint8Array([82])), // untracked: the writer does not read message numbers
    w.write(new Uint8Array([94, 0, 0, 0, 0, 0, 0, 0, 1, 7])), // untracked
    w.write(new Uint8Array([82]), true),
    w.write(new Uint8Array([82]), true),
  ];
  assert.equal(w.trackedPackets, 2);
  assert.equal(w.trackedBytes, 2 * 16); // a 1-byte payload makes a 16-byte packet
  let drained = false;
  const below = w.trackedBelow(0, 0).then(() => (drained = true));
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(drained, false, "nothing was taken yet");
  release();
  await Promise.all(sends);
  await below;
  assert.equal(w.trackedPackets, 0);
  assert.equal(w.trackedBytes, 0);
  assert.ok(taken.length >= 1);

  const dead = new PacketWriter(
    new WritableStream<Uint8Array>({ write: () => Promise.reject(new Error("EPIPE")) }).getWriter(),
  );
  await assert.rejects(dead.write(new Uint8Array([82]), true), /EPIPE/);
  await dead.trackedBelow(0, 0); // resolves: a failed write is no longer waiting
  assert.equal(dead.trackedPackets, 0);
});
