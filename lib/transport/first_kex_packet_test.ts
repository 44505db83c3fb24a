// RFC 4253 §7.1 first_kex_packet_follows: a server must silently ignore a
// wrongly guessed key exchange packet and use a rightly guessed one. The peer
// here is synthetic: it does the curve25519-sha256 exchange by hand, so it can
// check which of its public values the server's reply was computed from.
import { test } from "node:test";
import assert from "node:assert/strict";
import { KEX_ALGORITHMS } from "../crypto/kex.ts";
import type { KexClient } from "../crypto/types.ts";
import { parsePublicKey } from "../keys/public_key.ts";
import { DisconnectReason } from "../wire/errors.ts";
import { Msg } from "../wire/message_numbers.ts";
import { decodeKexReply, encodeKexInitValue, type KexInit } from "../wire/transport_messages.ts";
import { kexInitPayload, rawAgainst, type RawPeer } from "../../tests/_transport_pair.ts";
import { encodePublicValue, encodeSharedSecret, exchangeHash } from "./exchange_hash.ts";
import type { Transport, TransportOptions } from "./transport.ts";

const METHOD = KEX_ALGORITHMS.get("curve25519-sha256")!;
const random = (n: number) => crypto.getRandomValues(new Uint8Array(n));

const clientKexInit = (overrides: Partial<KexInit>) =>
  kexInitPayload({ firstKexPacketFollows: true, ...overrides });

const ecdhInit = (c: KexClient) =>
  encodeKexInitValue(Msg.KEXDH_INIT, encodePublicValue(METHOD, c.publicValue));

/** Whether the server's KEX_ECDH_REPLY was computed from `c`'s public value. */
async function replyMatches(
  reply: Uint8Array,
  c: KexClient,
  ctx: { server: Transport; serverKexInit: Uint8Array; clientKexInit: Uint8Array },
): Promise<boolean> {
  const r = decodeKexReply(reply, { msg: Msg.KEXDH_REPLY, encoding: "string" });
  let secret: Uint8Array;
  try {
    secret = await c.finish(r.value);
  } catch {
    return false;
  }
  const h = exchangeHash(METHOD, {
    clientVersion: "SSH-2.0-guesser",
    serverVersion: ctx.server.localVersion,
    clientKexInit: ctx.clientKexInit,
    serverKexInit: ctx.serverKexInit,
    hostKey: r.hostKey,
    clientValue: encodePublicValue(METHOD, c.publicValue),
    serverValue: r.valueField,
    sharedSecret: encodeSharedSecret(METHOD, secret),
  });
  return await parsePublicKey(r.hostKey).verify(r.signature, h, { algorithm: "ssh-ed25519" });
}

/** Version exchange and KEXINITs; returns the server's KEXINIT payload. */
async function start(
  server: Partial<TransportOptions>,
  clientInit: Uint8Array,
): Promise<{ raw: RawPeer; transport: Transport; serverKexInit: Uint8Array }> {
  const { raw, transport } = await rawAgainst({ role: "server", ...server });
  await raw.raw("SSH-2.0-guesser\r\n");
  await raw.line();
  const serverKexInit = (await raw.until(Msg.KEXINIT)).slice();
  await raw.out.write(clientInit);
  return { raw, transport, serverKexInit };
}

test("first_kex_packet_follows, right guess: the server answers the guessed packet", async () => {
  const init = clientKexInit({});
  const { raw, transport, serverKexInit } = await start({
    kexAlgorithms: "curve25519-sha256,mlkem768x25519-sha256",
    hostKeyAlgorithms: "ssh-ed25519",
  }, init);
  const guessed = await METHOD.client(random);
  await raw.out.write(ecdhInit(guessed));
  const reply = await raw.until(Msg.KEXDH_REPLY);
  const ctx = { server: transport, serverKexInit, clientKexInit: init };
  assert.equal(await replyMatches(reply, guessed, ctx), true);
  assert.equal(transport.isClosed, false);
  await transport.disconnect();
});

/** A client that guessed wrong: its guessed KEX_ECDH_INIT, then the real one; the server's reply. */
async function guessThenReal(init: Uint8Array, server: Partial<TransportOptions>) {
  const { raw, transport, serverKexInit } = await start(server, init);
  const guessed = await METHOD.client(random);
  const real = await METHOD.client(random);
  await raw.out.write(ecdhInit(guessed));
  await raw.out.write(ecdhInit(real));
  const reply = await raw.until(Msg.KEXDH_REPLY);
  const ctx = { server: transport, serverKexInit, clientKexInit: init };
  return { reply, guessed, real, ctx, transport };
}

test("first_kex_packet_follows, wrong kex guess: ignored even when negotiation picks the guessed method", async () => {
  // The server prefers mlkem768x25519-sha256; the client's first choice
  // curve25519-sha256 is still the negotiated method (the client's list wins),
  // but the preferred algorithms differ, so the guess is wrong (RFC 4253 §7.1).
  // This is what Dropbear's dbclient does: it then sends its KEX init again.
  const { reply, guessed, real, ctx, transport } = await guessThenReal(
    clientKexInit({ kexAlgorithms: ["curve25519-sha256", "mlkem768x25519-sha256"] }),
    { kexAlgorithms: "mlkem768x25519-sha256,curve25519-sha256", hostKeyAlgorithms: "ssh-ed25519" },
  );
  assert.equal(await replyMatches(reply, real, ctx), true, "the reply uses the second packet");
  assert.equal(await replyMatches(reply, guessed, ctx), false);
  assert.equal(transport.isClosed, false);
  await transport.disconnect();
});

test("first_kex_packet_follows, wrong host key guess: the guessed packet is ignored", async () => {
  const { reply, real, ctx, transport } = await guessThenReal(
    clientKexInit({ serverHostKeyAlgorithms: ["rsa-sha2-256", "ssh-ed25519"] }),
    { kexAlgorithms: "curve25519-sha256", hostKeyAlgorithms: "ssh-ed25519" },
  );
  assert.equal(await replyMatches(reply, real, ctx), true);
  await transport.disconnect();
});

test("first_kex_packet_follows, wrong guess: only the next packet is skipped, a third init is an error", async () => {
  const init = clientKexInit({ kexAlgorithms: ["curve25519-sha256", "mlkem768x25519-sha256"] });
  const { raw, transport } = await start({ hostKeyAlgorithms: "ssh-ed25519" }, init);
  for (let i = 0; i < 3; i++) await raw.out.write(ecdhInit(await METHOD.client(random)));
  const e = await transport.closed;
  assert.equal(e.reason, DisconnectReason.PROTOCOL_ERROR);
  assert.match(e.message, /unexpected message 30 during curve25519-sha256 key exchange/);
});
