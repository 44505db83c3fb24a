// Exchange-hash vectors recorded from OpenSSH 9.2p1's sshd
// (tests/fixtures/record_kex_vectors.ts): the cleartext key exchange of both
// directions, and the random bytes our client drew. Replaying them must
// reproduce our client's KEX init message byte for byte, and the H we
// compute must be the one sshd signed: its signature (made by OpenSSH over
// its own H) verifies. A single changed input byte must break it.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { KEX_ALGORITHMS } from "../lib/crypto/kex.ts";
import type { DhGroup } from "../lib/crypto/types.ts";
import { parsePublicKey } from "../lib/keys/public_key.ts";
import { ByteReader } from "../lib/transport/_byte_reader.ts";
import {
  encodePublicValue,
  encodeSharedSecret,
  exchangeHash,
} from "../lib/transport/exchange_hash.ts";
import { PacketReader } from "../lib/transport/packets.ts";
import { readVersion } from "../lib/transport/version.ts";
import { Msg } from "../lib/wire/message_numbers.ts";
import {
  decodeGexGroup,
  decodeGexRequest,
  decodeKexInitValue,
  decodeKexReply,
  type GexRequest,
} from "../lib/wire/transport_messages.ts";

interface Vector {
  kex: string;
  hostKey: string;
  source: string;
  clientToServer: string;
  serverToClient: string;
  kexRandom: string[];
}
const vectors: Vector[] = JSON.parse(
  fs.readFileSync(new URL("./fixtures/openssh_kex_vectors.json", import.meta.url), "utf8"),
);
const unhex = (s: string) => Uint8Array.from(s.match(/../g)!, (h) => parseInt(h, 16));

/** The version line and the cleartext packets up to NEWKEYS. */
async function transcript(hex: string, role: "client" | "server") {
  const bytes = unhex(hex);
  const input = new ByteReader(new ReadableStream({ start: (c) => (c.enqueue(bytes), c.close()) }));
  const version = (await readVersion(input, role)).line;
  const packets = new PacketReader(input);
  const out: Uint8Array[] = [];
  for (;;) {
    const { payload } = await packets.read();
    if (payload[0] === Msg.NEWKEYS) return { version, packets: out };
    out.push(payload);
  }
}

for (const v of vectors) {
  test(`OpenSSH-signed exchange hash: ${v.kex} with ${v.hostKey} (${v.source})`, async () => {
    const method = KEX_ALGORITHMS.get(v.kex)!;
    const c = await transcript(v.clientToServer, "server"); // what the server read
    const s = await transcript(v.serverToClient, "client");
    const [clientKexInit, ...clientRest] = c.packets;
    const [serverKexInit, ...serverRest] = s.packets;
    let gex: { request: GexRequest; group: DhGroup } | undefined;
    if (method.kind === "gex") {
      gex = {
        request: decodeGexRequest(clientRest.shift()!),
        group: decodeGexGroup(serverRest.shift()!),
      };
    }
    const initMsg = method.kind === "gex" ? Msg.KEX_DH_GEX_INIT : Msg.KEXDH_INIT;
    const replyMsg = method.kind === "gex" ? Msg.KEX_DH_GEX_REPLY : Msg.KEXDH_REPLY;
    const [, clientValue] = decodeKexInitValue(clientRest[0], {
      msg: initMsg,
      encoding: method.publicEncoding,
    });
    const reply = decodeKexReply(serverRest[0], { msg: replyMsg, encoding: method.publicEncoding });

    // Replaying the recorded randomness reproduces our client's public value.
    const draws = v.kexRandom.map(unhex);
    const client = await method.client((n) => {
      const d = draws.shift()!;
      assert.equal(d.length, n, "replayed draw length");
      return d;
    }, gex?.group);
    assert.deepEqual(encodePublicValue(method, client.publicValue), clientValue);

    const input = {
      clientVersion: c.version,
      serverVersion: s.version,
      clientKexInit,
      serverKexInit,
      hostKey: reply.hostKey,
      gex,
      clientValue,
      serverValue: reply.valueField,
      sharedSecret: encodeSharedSecret(method, await client.finish(reply.value)),
    };
    const h = exchangeHash(method, input);
    assert.equal(h.length, method.hash.outputLength);
    const key = parsePublicKey(reply.hostKey);
    assert.equal(
      await key.verify(reply.signature, h, { algorithm: v.hostKey }),
      true,
      "sshd's signature over H",
    );

    // Any single changed input gives a different H, which the signature rejects.
    const flipped = serverKexInit.slice();
    flipped[5] ^= 1;
    assert.equal(
      await key.verify(
        reply.signature,
        exchangeHash(method, { ...input, serverKexInit: flipped }),
        { algorithm: v.hostKey },
      ),
      false,
    );
    const k = input.sharedSecret.slice();
    k[k.length - 1] ^= 1;
    assert.equal(
      await key.verify(reply.signature, exchangeHash(method, { ...input, sharedSecret: k }), {
        algorithm: v.hostKey,
      }),
      false,
    );
  });
}

test("the fixture holds every method family OpenSSH 9.2 can sign for us", () => {
  const kinds = new Set(
    vectors.map((v) =>
      KEX_ALGORITHMS.get(v.kex)!.kind + "/" + KEX_ALGORITHMS.get(v.kex)!.publicEncoding
    ),
  );
  assert.deepEqual([...kinds].sort(), ["gex/mpint", "single/mpint", "single/string"]);
});
