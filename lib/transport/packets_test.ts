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
