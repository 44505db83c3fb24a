import { test } from "node:test";
import assert from "node:assert/strict";
import { NONE_CIPHER, NONE_OPENER, NONE_SEALER } from "./cipher_none.ts";
import { at } from "./_test_util.ts";

// SSH_MSG_SERVICE_REQUEST "ssh-userauth" framed for 8-byte blocks (RFC 4253 §6):
// packet_length 28, padding_length 10, 17 bytes of payload, 10 of padding.
const PACKET = Uint8Array.from([
  0,
  0,
  0,
  28,
  10,
  5,
  0,
  0,
  0,
  12,
  ...new TextEncoder().encode("ssh-userauth"),
  ...new Array(10).fill(0),
]);

test("none: sealer passes the packet through untouched", async () => {
  assert.equal(NONE_SEALER.blockSize, 8);
  assert.equal(NONE_SEALER.lengthApart, false);
  assert.equal(NONE_SEALER.overhead, 0);
  const p = at(PACKET, 3);
  const out = await NONE_SEALER.seal(0xffffffff, p);
  assert.equal(out, p);
  assert.deepEqual(out, PACKET);
});

test("none: opener reads the length from the first block and returns a view", async () => {
  assert.equal(NONE_OPENER.blockSize, 8);
  assert.equal(NONE_OPENER.lengthApart, false);
  assert.equal(NONE_OPENER.firstBlockSize, 8);
  assert.equal(NONE_OPENER.macLength, 0);
  for (const offset of [0, 1, 5]) {
    const stream = at(Uint8Array.from([...PACKET, 0, 0, 0, 12]), offset);
    const n = await NONE_OPENER.decryptLength(3, stream.subarray(0, 8));
    assert.equal(n, 28);
    const body = await NONE_OPENER.open(3, stream.subarray(0, 4 + n));
    assert.deepEqual(body, PACKET.subarray(4));
    assert.equal(body.buffer, stream.buffer);
    assert.equal(body.byteOffset, stream.byteOffset + 4);
  }
  const big = Uint8Array.from([0x80, 0, 0, 1, 0, 0, 0, 0]);
  assert.equal(await NONE_OPENER.decryptLength(0, big), 0x80000001);
});

test("none: as a CipherAlgorithm", async () => {
  assert.equal(NONE_CIPHER.name, "none");
  assert.equal(NONE_CIPHER.keyLength, 0);
  assert.equal(NONE_CIPHER.ivLength, 0);
  assert.equal(NONE_CIPHER.blockSize, 8);
  assert.equal(await NONE_CIPHER.sealer(new Uint8Array(0), new Uint8Array(0)), NONE_SEALER);
  assert.equal(await NONE_CIPHER.opener(new Uint8Array(0), new Uint8Array(0)), NONE_OPENER);
});
