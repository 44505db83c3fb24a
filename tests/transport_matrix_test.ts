// Every KEX × cipher × MAC × host key combination, client and server both
// ours, over an in-memory pair: handshake, one message each way, a re-key
// for a sample, and the negotiated names checked on both ends.
import { test } from "node:test";
import assert from "node:assert/strict";
import { CIPHERS, MACS } from "../lib/crypto/ciphers.ts";
import { KEX_ALGORITHMS } from "../lib/crypto/kex.ts";
import { HOST_KEY_ALGORITHMS } from "../lib/keys/host_key_algorithms.ts";
import { hostKey, transportPair } from "./_transport_pair.ts";

const keyTypeOf = (alg: string) => HOST_KEY_ALGORITHMS.get(alg)!.keyType;

type Combo = { kex: string; cipher: string; mac: string; hostKey: string };
const combos: Combo[] = [];
for (const kex of KEX_ALGORITHMS.keys()) {
  for (const hk of HOST_KEY_ALGORITHMS.keys()) {
    for (const [cipher, c] of CIPHERS) {
      for (const mac of c.aead ? ["<implicit>"] : MACS.keys()) {
        combos.push({ kex, cipher, mac, hostKey: hk });
      }
    }
  }
}

async function run(c: Combo, i: number): Promise<void> {
  const options = {
    kexAlgorithms: [c.kex],
    hostKeyAlgorithms: [c.hostKey],
    ciphers: [c.cipher],
    ...(c.mac === "<implicit>" ? {} : { macs: [c.mac] }),
  };
  const { client, server } = await transportPair(options, {
    ...options,
    hostKeys: [await hostKey(keyTypeOf(c.hostKey))],
  });
  const label = `${c.kex} / ${c.hostKey} / ${c.cipher} / ${c.mac}`;
  try {
    const [a, b] = await Promise.all([client.ready, server.ready]);
    for (const e of [a, b]) {
      assert.equal(e.algorithms.kex, c.kex, label);
      assert.equal(e.algorithms.hostKey, c.hostKey, label);
      assert.equal(e.algorithms.cipherClientToServer, c.cipher, label);
      assert.equal(e.algorithms.cipherServerToClient, c.cipher, label);
      assert.equal(e.algorithms.macServerToClient, c.mac, label);
    }
    assert.deepEqual(a.sessionId, b.sessionId, label);
    const payload = new Uint8Array(1000 + i).fill(i & 0xff);
    payload[0] = 94;
    const cr = client.messages.getReader();
    const sr = server.messages.getReader();
    await client.send(payload);
    assert.deepEqual((await sr.read()).value, payload, label);
    await server.send(payload);
    assert.deepEqual((await cr.read()).value, payload, label);
    if (i % 7 === 0) {
      const r = await (i % 2 ? server : client).rekey();
      assert.equal(r.count, 2, label);
      await client.send(payload);
      assert.deepEqual((await sr.read()).value, payload, label);
    }
    cr.releaseLock();
    sr.releaseLock();
  } finally {
    await client.disconnect();
  }
}

test(`all ${combos.length} KEX × host key × cipher × MAC combinations complete a handshake and carry data`, async () => {
  // Generate the host keys before the clock starts.
  await Promise.all([...new Set([...HOST_KEY_ALGORITHMS.keys()].map(keyTypeOf))].map(hostKey));
  const failures: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < combos.length) {
      const i = next++;
      await run(combos[i], i).catch((e) => failures.push(`${JSON.stringify(combos[i])}: ${e}`));
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  assert.deepEqual(failures, []);
  assert.ok(combos.length >= 10 * 6 * 15, `expected the full matrix, got ${combos.length}`);
});
