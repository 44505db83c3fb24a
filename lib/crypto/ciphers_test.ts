import { test } from "node:test";
import assert from "node:assert/strict";
import { CIPHERS, MACS } from "./ciphers.ts";
import { MacError } from "./errors.ts";
import type { CipherAlgorithm, MacAlgorithm, PacketSealer } from "./types.ts";
import { framePacket, receive } from "./_test_util.ts";

test("CIPHERS: OpenSSH's default order, keyed by wire name", () => {
  assert.deepEqual([...CIPHERS.keys()], [
    "chacha20-poly1305@openssh.com",
    "aes128-ctr",
    "aes192-ctr",
    "aes256-ctr",
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
  ]);
  for (const [name, c] of CIPHERS) assert.equal(c.name, name);
  assert.equal(CIPHERS.has("none"), false);
});

test("MACS: OpenSSH's default order, keyed by wire name", () => {
  assert.deepEqual([...MACS.keys()], [
    "hmac-sha2-256-etm@openssh.com",
    "hmac-sha2-512-etm@openssh.com",
    "hmac-sha2-256",
    "hmac-sha2-512",
  ]);
  for (const [name, m] of MACS) assert.equal(m.name, name);
});

/** An RFC 4253 §6 packet for the sealer's block size and framing, at `offset`, random padding. */
const packet = (s: PacketSealer, payload: Uint8Array, offset: number): Uint8Array =>
  framePacket(payload, {
    blockSize: s.blockSize,
    lengthApart: s.lengthApart,
    offset,
    fill: "random",
  });

const combos: [CipherAlgorithm, MacAlgorithm | undefined][] = [];
for (const c of CIPHERS.values()) {
  if (c.aead) combos.push([c, undefined]);
  else for (const m of MACS.values()) combos.push([c, m]);
}

for (const [cipher, macAlg] of combos) {
  test(`${cipher.name}${macAlg ? " + " + macAlg.name : ""}: both directions, 60 packets`, async () => {
    const key = crypto.getRandomValues(new Uint8Array(cipher.keyLength));
    const iv = crypto.getRandomValues(new Uint8Array(cipher.ivLength));
    const macKey = macAlg ? crypto.getRandomValues(new Uint8Array(macAlg.keyLength)) : undefined;
    const sealer = await cipher.sealer(key, iv, macAlg?.create(macKey!));
    const opener = await cipher.opener(key, iv, macAlg?.create(macKey!));
    assert.equal(opener.macLength, sealer.overhead);
    assert.equal(opener.lengthApart, sealer.lengthApart);
    const sent: Uint8Array[] = [];
    const chunks: Uint8Array[] = [];
    const start = 2 ** 32 - 30;
    for (let i = 0; i < 60; i++) {
      const payload = crypto.getRandomValues(new Uint8Array((i * 97) % 1200));
      const p = packet(sealer, payload, i % 7);
      assert.equal((sealer.lengthApart ? p.length - 4 : p.length) % sealer.blockSize, 0);
      sent.push(p.slice(4));
      chunks.push(await sealer.seal((start + i) % 2 ** 32, p));
    }
    const stream = new Uint8Array(chunks.reduce((n, c) => n + c.length, 3));
    let off = 3;
    for (const c of chunks) {
      stream.set(c, off);
      off += c.length;
    }
    let rest: Uint8Array = stream.subarray(3);
    for (let i = 0; i < 60; i++) {
      const r = await receive(opener, (start + i) % 2 ** 32, rest);
      assert.deepEqual(r.body, sent[i], `packet ${i}`);
      rest = r.rest;
    }
    assert.equal(rest.length, 0);
  });

  test(`${cipher.name}${macAlg ? " + " + macAlg.name : ""}: a flipped last byte is a MacError`, async () => {
    const key = new Uint8Array(cipher.keyLength).fill(1);
    const iv = new Uint8Array(cipher.ivLength).fill(2);
    const macKey = new Uint8Array(macAlg?.keyLength ?? 0).fill(3);
    const sealer = await cipher.sealer(key, iv, macAlg?.create(macKey));
    const opener = await cipher.opener(key, iv, macAlg?.create(macKey));
    const wire = await sealer.seal(5, packet(sealer, new Uint8Array(50), 0));
    wire[wire.length - 1] ^= 1;
    await assert.rejects(receive(opener, 5, wire), MacError);
  });
}
