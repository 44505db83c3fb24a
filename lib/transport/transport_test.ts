import { test } from "node:test";
import assert from "node:assert/strict";
import { firstValueFrom, take, toArray } from "rxjs";
import { decodeDisconnect } from "../wire/transport_messages.ts";
import { DisconnectError, DisconnectReason } from "../wire/errors.ts";
import { Msg } from "../wire/message_numbers.ts";
import { hostKey, kexInitPayload, rawAgainst, transportPair } from "../../tests/_transport_pair.ts";
import { memoryPair } from "../runtime/memory.ts";
import { encodeSimpleAuthRequest } from "../wire/auth_messages.ts";
import { Transport } from "./transport.ts";
import type { ByteStreamPair } from "../runtime/types.ts";
import type { MacErrorEvent } from "./transport.ts";

const enc = new TextEncoder();

function appMessage(i: number, size = 16): Uint8Array {
  const m = new Uint8Array(size);
  m[0] = 200; // a connection-layer-range message number
  new DataView(m.buffer).setUint32(1, i);
  return m;
}

async function collect(stream: ReadableStream<Uint8Array>, n: number): Promise<Uint8Array[]> {
  const reader = stream.getReader();
  const out: Uint8Array[] = [];
  while (out.length < n) {
    const { value, done } = await reader.read();
    if (done) break;
    out.push(value);
  }
  reader.releaseLock();
  return out;
}

const kexInit = kexInitPayload;

test("default handshake: both ends agree on algorithms and session id; strict KEX and ext-info in force", async () => {
  const { client, server } = await transportPair();
  const [c, s] = await Promise.all([client.ready, server.ready]);
  assert.deepEqual(c.algorithms, s.algorithms);
  assert.equal(c.algorithms.kex, "mlkem768x25519-sha256");
  assert.equal(c.algorithms.cipherClientToServer, "chacha20-poly1305@openssh.com");
  assert.equal(c.algorithms.macClientToServer, "<implicit>");
  assert.deepEqual(c.sessionId, s.sessionId);
  assert.equal(c.sessionId.length, 32);
  assert.equal(c.strict, true);
  assert.equal(s.strict, true);
  assert.equal(c.hostKey.fingerprint(), s.hostKey.fingerprint());
  const ext = await firstValueFrom(client.extInfo$);
  assert.match(new TextDecoder().decode(ext.get("server-sig-algs")), /ssh-ed25519/);
  assert.equal(server.peerVersion?.software, "rxssh_0.1.0");
  await client.requestService("ssh-userauth");
  assert.equal(await firstValueFrom(server.service$), "ssh-userauth");
  await client.disconnect();
  const e = await server.closed;
  assert.equal(e.reason, DisconnectReason.BY_APPLICATION);
  assert.equal(e.local, false);
});

test("messages flow both ways in order, up to the largest packet the peer accepts", async () => {
  const { client, server } = await transportPair();
  await client.ready;
  const sizes = [5, 100, 35000, 200_000];
  for (const [i, n] of sizes.entries()) client.send(appMessage(i, n));
  const got = await collect(server.messages, sizes.length);
  assert.deepEqual(got.map((m) => m.length), sizes);
  server.send(appMessage(9, 5000));
  const [back] = await collect(client.messages, 1);
  assert.equal(new DataView(back.buffer, back.byteOffset).getUint32(1), 9);
  await client.disconnect();
});

test("re-key started by either side while data flows: nothing lost, nothing reordered", async () => {
  const { client, server } = await transportPair();
  await client.ready;
  const n = 600;
  const sending = (async () => {
    for (let i = 0; i < n; i++) {
      await client.send(appMessage(i, 64 + (i % 300)));
      if (i === 100) client.rekey();
      if (i === 300) server.rekey();
      if (i === 500) await client.rekey();
    }
  })();
  const got = await collect(server.messages, n);
  await sending;
  assert.deepEqual(got.map((m) => new DataView(m.buffer, m.byteOffset).getUint32(1)), [
    ...Array(n).keys(),
  ]);
  const last = await firstValueFrom(client.kex$);
  assert.ok(last.count >= 3, `expected at least 3 key exchanges, saw ${last.count}`);
  assert.deepEqual(last.sessionId, (await client.ready).sessionId);
  await client.disconnect();
});

test("automatic re-key after the configured byte count and after the configured time", async () => {
  let clock = 0;
  const { client, server } = await transportPair({ rekeyBytes: 64 * 1024, now: () => clock });
  await client.ready;
  const kexes = client.kex$.pipe(take(3), toArray());
  const done = firstValueFrom(kexes);
  for (let i = 0; i < 20; i++) await client.send(appMessage(i, 8192)); // 160 KiB > 64 KiB
  await collect(server.messages, 20);
  clock = 4_000_000; // past the one-hour default
  await client.send(appMessage(99));
  await collect(server.messages, 1);
  const events = await done;
  assert.deepEqual(events.map((e) => e.count), [1, 2, 3]);
  assert.equal(events[1].initiatedBy, "local");
  await client.disconnect();
});

test("IGNORE, DEBUG and UNIMPLEMENTED reach subscribers; an unsubscribed listener hears nothing more", async () => {
  const { client, server } = await transportPair();
  await client.ready;
  await server.ready;
  const a: string[] = [];
  const b: string[] = [];
  const subA = server.ignore$.subscribe((d) => a.push(new TextDecoder().decode(d)));
  server.ignore$.subscribe((d) => b.push(new TextDecoder().decode(d)));
  const debug = firstValueFrom(server.debug$);
  await client.sendIgnore("one");
  await client.sendDebug("hello", true);
  assert.deepEqual(await debug, { alwaysDisplay: true, message: "hello", language: "" });
  subA.unsubscribe();
  await client.sendIgnore("two");
  const unimpl = firstValueFrom(client.unimplemented$);
  await client.send(new Uint8Array([15])); // 15: an unassigned transport-range number
  assert.equal(typeof await unimpl, "number");
  assert.deepEqual(a, ["one"]);
  assert.deepEqual(b, ["one", "two"]);
  await client.disconnect();
});

test("disconnect$ replays the reason to late subscribers on both ends", async () => {
  const { client, server } = await transportPair();
  await client.ready;
  await server.disconnect(DisconnectReason.TOO_MANY_CONNECTIONS, "full");
  const d = await firstValueFrom(client.disconnect$);
  assert.equal(d.reason, 12);
  assert.equal(d.reasonName, "TOO_MANY_CONNECTIONS");
  assert.equal(d.description, "full");
  assert.equal(d.local, false);
  const late = await firstValueFrom(server.disconnect$);
  assert.equal(late.local, true);
  await assert.rejects(client.send(appMessage(1)), DisconnectError);
  await assert.rejects(client.messages.getReader().read(), DisconnectError);
});

test("a rejected host key ends the handshake with HOST_KEY_NOT_VERIFIABLE on both ends", async () => {
  const { client, server } = await transportPair({ verifyHostKey: () => false });
  const e = await client.closed;
  assert.equal(e.reason, DisconnectReason.HOST_KEY_NOT_VERIFIABLE);
  assert.match(e.message, /SHA256:/);
  await assert.rejects(client.ready, DisconnectError);
  const s = await server.closed;
  assert.equal(s.reason, DisconnectReason.HOST_KEY_NOT_VERIFIABLE);
  assert.equal(s.local, false);
});

test("no common cipher: KEY_EXCHANGE_FAILED naming the category and both lists", async () => {
  const { client, server } = await transportPair({ ciphers: "aes128-ctr" }, {
    ciphers: "aes256-gcm@openssh.com",
  });
  const e = await client.closed;
  assert.equal(e.reason, DisconnectReason.KEY_EXCHANGE_FAILED);
  assert.match(e.message, /no matching cipher \(client to server\).*aes128-ctr.*aes256-gcm/);
  assert.equal((await server.closed).reason, DisconnectReason.KEY_EXCHANGE_FAILED);
});

test("a bit flipped on the wire after key exchange: macError$ fires and the session ends with MAC_ERROR", async () => {
  let armed = false;
  const tamper = (s: ByteStreamPair): ByteStreamPair => {
    const t = new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, c) {
        if (armed && chunk.length > 20) {
          chunk = chunk.slice();
          chunk[chunk.length - 1] ^= 1;
          armed = false;
        }
        c.enqueue(chunk);
      },
    });
    t.readable.pipeTo(s.writable).catch(() => {});
    return { readable: s.readable, writable: t.writable };
  };
  for (const ciphers of ["aes128-gcm@openssh.com", "chacha20-poly1305@openssh.com", "aes256-ctr"]) {
    const { client, server } = await transportPair({ ciphers }, {}, (a, b) => [tamper(a), b]);
    await client.ready;
    await server.ready;
    const macErr = firstValueFrom(server.macError$);
    armed = true;
    client.send(appMessage(1, 100)).catch(() => {});
    const ev = await macErr;
    assert.equal(
      ev.algorithm,
      ciphers === "aes256-ctr" ? "hmac-sha2-256-etm@openssh.com" : ciphers,
    );
    const e = await server.closed;
    assert.equal(e.reason, DisconnectReason.MAC_ERROR, ciphers);
    await client.closed;
  }
});

/** Flips the last byte (the MAC or tag) of the next packet of more than 20 bytes once armed. */
function macFlipper() {
  const state = { armed: false };
  const wire = (a: ByteStreamPair, b: ByteStreamPair): [ByteStreamPair, ByteStreamPair] => {
    const t = new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, c) {
        if (state.armed && chunk.length > 20) {
          chunk = chunk.slice();
          chunk[chunk.length - 1] ^= 1;
          state.armed = false;
        }
        c.enqueue(chunk);
      },
    });
    t.readable.pipeTo(a.writable).catch(() => {});
    return [{ readable: a.readable, writable: t.writable }, b];
  };
  return { state, wire };
}

const seqOf = (m: Uint8Array) => new DataView(m.buffer, m.byteOffset).getUint32(1);

for (const macs of ["hmac-sha2-256", "hmac-sha2-256-etm@openssh.com"]) {
  test(`acceptMacError (aes128-ctr + ${macs}): returning true delivers the packet and the connection continues`, async () => {
    const { state, wire } = macFlipper();
    const seen: MacErrorEvent[] = [];
    const { client, server } = await transportPair({ ciphers: "aes128-ctr", macs }, {
      macs, // a server offers no encrypt-and-MAC MAC by default
      acceptMacError: (e) => {
        seen.push(e);
        return true;
      },
    }, wire);
    await Promise.all([client.ready, server.ready]);
    await firstValueFrom(server.service$); // the SERVICE_REQUEST has passed the flipper
    assert.equal(server.algorithms?.macClientToServer, macs);
    const events: MacErrorEvent[] = [];
    server.macError$.subscribe((e) => events.push(e));
    const reader = server.messages.getReader();
    state.armed = true;
    await client.send(appMessage(1, 100));
    const first = await reader.read();
    assert.equal(first.value?.length, 100);
    assert.equal(seqOf(first.value!), 1);
    state.armed = true;
    await client.send(appMessage(2, 100));
    assert.equal(seqOf((await reader.read()).value!), 2);
    await client.send(appMessage(3, 100)); // intact
    assert.equal(seqOf((await reader.read()).value!), 3);
    // Strict KEX resets sequence numbers at NEWKEYS: the client's SERVICE_REQUEST
    // (tests/_transport_pair.ts) is packet 0, our messages are packets 1, 2, 3.
    assert.deepEqual(seen, [
      { seq: 1, algorithm: macs, acceptable: true },
      { seq: 2, algorithm: macs, acceptable: true },
    ]);
    assert.deepEqual(events, seen);
    assert.equal(server.isClosed, false);
    reader.releaseLock();
    await client.disconnect();
    assert.equal((await server.closed).reason, DisconnectReason.BY_APPLICATION);
  });

  test(`acceptMacError (aes128-ctr + ${macs}): returning false, or no option, ends the connection with MAC_ERROR`, async () => {
    for (const accept of [() => false, undefined]) {
      const { state, wire } = macFlipper();
      let calls = 0;
      const { client, server } = await transportPair({ ciphers: "aes128-ctr", macs }, {
        macs,
        acceptMacError: accept && (() => (calls++, accept())),
      }, wire);
      await Promise.all([client.ready, server.ready]);
      const ev = firstValueFrom(server.macError$);
      state.armed = true;
      client.send(appMessage(1, 100)).catch(() => {});
      assert.equal((await ev).acceptable, true);
      assert.equal((await ev).algorithm, macs);
      const e = await server.closed;
      assert.equal(e.reason, DisconnectReason.MAC_ERROR);
      assert.equal(calls, accept ? 1 : 0);
      assert.equal((await client.closed).reason, DisconnectReason.MAC_ERROR);
    }
  });
}

test("acceptMacError is never consulted for AEAD ciphers: aes128-gcm ends with MAC_ERROR", async () => {
  const { state, wire } = macFlipper();
  let calls = 0;
  const { client, server } = await transportPair({ ciphers: "aes128-gcm@openssh.com" }, {
    acceptMacError: () => (calls++, true),
  }, wire);
  await Promise.all([client.ready, server.ready]);
  const ev = firstValueFrom(server.macError$);
  state.armed = true;
  client.send(appMessage(1, 100)).catch(() => {});
  assert.deepEqual({ ...(await ev), seq: 0 }, {
    seq: 0,
    algorithm: "aes128-gcm@openssh.com",
    acceptable: false,
  });
  assert.equal((await server.closed).reason, DisconnectReason.MAC_ERROR);
  assert.equal(calls, 0);
});

test("a version that is not SSH-2.0 gets DISCONNECT PROTOCOL_VERSION_NOT_SUPPORTED", async () => {
  const { raw, transport } = await rawAgainst({ role: "server" });
  await raw.raw("SSH-1.5-ancient\r\n");
  assert.match(await raw.line(), /^SSH-2\.0-rxssh_/);
  const d = decodeDisconnect(await raw.until(Msg.DISCONNECT));
  assert.equal(d.reason, DisconnectReason.PROTOCOL_VERSION_NOT_SUPPORTED);
  const e = await transport.closed;
  assert.equal(e.reason, DisconnectReason.PROTOCOL_VERSION_NOT_SUPPORTED);
  assert.match(e.message, /"1\.5"/);
});

test("garbage instead of a version line, and an over-long line, are protocol errors", async () => {
  {
    const { raw, transport } = await rawAgainst({ role: "server" });
    await raw.raw("GET / HTTP/1.1\r\n\r\n");
    const e = await transport.closed;
    assert.equal(e.reason, DisconnectReason.PROTOCOL_ERROR);
    assert.match(e.message, /GET/);
    await raw.line();
    assert.equal(
      decodeDisconnect(await raw.until(Msg.DISCONNECT)).reason,
      DisconnectReason.PROTOCOL_ERROR,
    );
  }
  {
    const { raw, transport } = await rawAgainst({ role: "client" });
    await raw.raw("x".repeat(300) + "\r\n");
    const e = await transport.closed;
    assert.equal(e.reason, DisconnectReason.PROTOCOL_ERROR);
    assert.match(e.message, /longer than 255/);
  }
});

test("a client accepts lines before the server's identification", async () => {
  const { client } = await transportPair({}, { preBanner: ["Welcome", "to the test"] });
  await client.ready;
  await client.disconnect();
});

test("an oversize packet length is a protocol error, and the peer is told", async () => {
  const { raw, transport } = await rawAgainst({ role: "server", maxPacketSize: 40000 });
  await raw.raw("SSH-2.0-raw\r\n");
  await raw.raw(new Uint8Array([0x00, 0x10, 0x00, 0x00, 0, 0, 0, 0])); // 1 MiB
  const e = await transport.closed;
  assert.equal(e.reason, DisconnectReason.PROTOCOL_ERROR);
  assert.match(e.message, /1048576 exceeds the maximum of 40000/);
  await raw.line();
  assert.equal(
    decodeDisconnect(await raw.until(Msg.DISCONNECT)).reason,
    DisconnectReason.PROTOCOL_ERROR,
  );
});

test("a higher-layer message before key exchange completes is a protocol error", async () => {
  const { raw, transport } = await rawAgainst({ role: "server" });
  await raw.raw("SSH-2.0-raw\r\n");
  await raw.out.write(new Uint8Array([Msg.USERAUTH_REQUEST, 0, 0, 0, 0]));
  const e = await transport.closed;
  assert.equal(e.reason, DisconnectReason.PROTOCOL_ERROR);
  assert.match(e.message, /message 50 received before the key exchange completed/);
});

test("strict KEX: a message before KEXINIT (Terrapin-style injection) ends the connection", async () => {
  const { raw, transport } = await rawAgainst({ role: "server" });
  await raw.raw("SSH-2.0-raw\r\n");
  await raw.out.write(new Uint8Array([Msg.IGNORE, 0, 0, 0, 0]));
  await raw.out.write(
    kexInit({ kexAlgorithms: ["curve25519-sha256", "kex-strict-c-v00@openssh.com"] }),
  );
  const e = await transport.closed;
  assert.equal(e.reason, DisconnectReason.PROTOCOL_ERROR);
  assert.match(e.message, /strict KEX: KEXINIT was packet 1/);
});

test("strict KEX: IGNORE during the initial key exchange ends the connection", async () => {
  const { raw, transport } = await rawAgainst({ role: "server" });
  await raw.raw("SSH-2.0-raw\r\n");
  await raw.out.write(
    kexInit({ kexAlgorithms: ["curve25519-sha256", "kex-strict-c-v00@openssh.com"] }),
  );
  await raw.out.write(new Uint8Array([Msg.IGNORE, 0, 0, 0, 0]));
  const e = await transport.closed;
  assert.match(e.message, /strict KEX: message 2 is not allowed/);
});

test("without strict KEX the same IGNORE is accepted (and reaches ignore$)", async () => {
  const { raw, transport } = await rawAgainst({ role: "server" });
  const ignored = firstValueFrom(transport.ignore$);
  await raw.raw("SSH-2.0-raw\r\n");
  await raw.out.write(new Uint8Array([Msg.IGNORE, 0, 0, 0, 1, 7]));
  await raw.out.write(kexInit());
  assert.deepEqual([...await ignored], [7]);
  assert.equal(transport.isClosed, false);
  await transport.disconnect();
});

test("a KEXINIT with no common key exchange gets KEY_EXCHANGE_FAILED", async () => {
  const { raw, transport } = await rawAgainst({ role: "server" });
  await raw.raw("SSH-2.0-raw\r\n");
  await raw.out.write(kexInit({ kexAlgorithms: ["diffie-hellman-group1-sha1"] }));
  const e = await transport.closed;
  assert.equal(e.reason, DisconnectReason.KEY_EXCHANGE_FAILED);
  assert.match(e.message, /no matching key exchange method/);
  await raw.line();
  assert.equal(
    decodeDisconnect(await raw.until(Msg.DISCONNECT)).reason,
    DisconnectReason.KEY_EXCHANGE_FAILED,
  );
});

test("a malformed KEXINIT is a protocol error naming the field", async () => {
  const { raw, transport } = await rawAgainst({ role: "server" });
  await raw.raw("SSH-2.0-raw\r\n");
  await raw.out.write(kexInit().subarray(0, 40));
  const e = await transport.closed;
  assert.equal(e.reason, DisconnectReason.PROTOCOL_ERROR);
  assert.match(e.message, /server_host_key_algorithms|kex_algorithms/);
});

test("the peer vanishing mid-handshake ends the session with CONNECTION_LOST, not a hang", async () => {
  const { raw, transport } = await rawAgainst({ role: "client" });
  await raw.raw("SSH-2.0-raw\r\n");
  await raw.close();
  const e = await transport.closed;
  assert.equal(e.reason, DisconnectReason.CONNECTION_LOST);
  await assert.rejects(transport.ready, DisconnectError);
});

test("a silent peer hits the handshake timeout", async () => {
  const { transport } = await rawAgainst({ role: "server", handshakeTimeout: 200 });
  const e = await transport.closed;
  assert.match(e.message, /not completed within 200 ms/);
});

test("a client Transport refuses to start without a host key verifier", async () => {
  const { memoryPair } = await import("../runtime/memory.ts");
  const { Transport } = await import("./transport.ts");
  const [a] = memoryPair();
  assert.throws(() => new Transport(a, { role: "client" }), /verifyHostKey/);
});

test("service requests: unknown services get SERVICE_NOT_AVAILABLE", async () => {
  const { client, server } = await transportPair();
  await client.ready;
  await assert.rejects(client.requestService("ssh-nonsense"), (e: DisconnectError) => {
    assert.equal(e.reason, DisconnectReason.SERVICE_NOT_AVAILABLE);
    return true;
  });
  assert.equal((await server.closed).reason, DisconnectReason.SERVICE_NOT_AVAILABLE);
});

test("a USERAUTH_REQUEST before any SERVICE_REQUEST ends the connection with PROTOCOL_ERROR", async () => {
  const [a, b] = memoryPair();
  const server = new Transport(b, { role: "server", hostKeys: [await hostKey("ssh-ed25519")] });
  const client = new Transport(a, { role: "client", verifyHostKey: () => true });
  await client.ready;
  await client.send(
    encodeSimpleAuthRequest({ user: "root", service: "ssh-connection", method: "none" }),
  );
  const e = await server.closed;
  assert.equal(e.reason, DisconnectReason.PROTOCOL_ERROR);
  assert.match(e.message, /message 50 received before the client requested a service/);
  const peer = await client.closed;
  assert.equal(peer.local, false);
  assert.equal(peer.reason, DisconnectReason.PROTOCOL_ERROR);
});

test("a repeated SERVICE_REQUEST is answered again (as sshd does) and service$ emits the name once", async () => {
  const { client, server } = await transportPair();
  const names: string[] = [];
  server.service$.subscribe((n) => names.push(n));
  await client.requestService("ssh-userauth");
  await client.requestService("ssh-userauth");
  await client.requestService("ssh-userauth");
  assert.deepEqual(names, ["ssh-userauth"]);
  assert.equal(server.isClosed, false);
  await client.disconnect();
});

void enc;

test("AES-GCM read-ahead with frequent re-keys by both sides: nothing lost, nothing reordered", async () => {
  const { client, server } = await transportPair(
    { ciphers: "aes128-gcm@openssh.com", rekeyBytes: 48 * 1024 },
    { ciphers: "aes128-gcm@openssh.com", rekeyBytes: 40 * 1024 },
  );
  await client.ready;
  const n = 3000;
  const sending = (async () => {
    for (let i = 0; i < n; i++) {
      const sent = client.send(appMessage(i, 200 + (i % 700))); // mostly not awaited: packets pile up
      if (i % 50 === 49) await sent;
      if (i % 500 === 0) await server.send(appMessage(i, 3000));
    }
  })();
  const got = await collect(server.messages, n);
  await sending;
  assert.deepEqual(got.map((m) => new DataView(m.buffer, m.byteOffset).getUint32(1)), [
    ...Array(n).keys(),
  ]);
  const k = await firstValueFrom(client.kex$);
  assert.ok(k.count > 5, `expected many re-keys, saw ${k.count}`);
  await client.disconnect();
});
