// A key exchange started while the transport is closing arms no re-key
// timer: a KEXINIT read during shutdown (after abort() ran) once left a
// 120 s timer that nothing cleared, holding Node's event loop open.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Handshake, resolveAlgorithmLists } from "./_handshake.ts";
import { PacketLayer } from "./_packet_layer.ts";
import { memoryPair } from "../runtime/memory.ts";

function handshake(closing: () => boolean): Handshake {
  const [ours, peer] = memoryPair();
  peer.readable.pipeTo(new WritableStream()).catch(() => {}); // drain what it writes
  const random = (n: number) => crypto.getRandomValues(new Uint8Array(n));
  const hooks = { fail: () => {}, written: () => {}, closing };
  const link = new PacketLayer(ours, { options: {}, random, now: Date.now }, hooks);
  const options = { role: "client" as const, verifyHostKey: () => true, rekeyTimeout: 60_000 };
  return new Handshake(link, {
    ...hooks,
    options,
    random,
    lists: resolveAlgorithmLists(options),
    localVersion: "SSH-2.0-test",
    peerVersion: () => "SSH-2.0-peer",
    completed: () => {},
  });
}

/** The delays of the timers `f` arms (and leaves armed). */
function timersArmedBy(f: () => void): number[] {
  const real = globalThis.setTimeout;
  const armed: number[] = [];
  globalThis.setTimeout = ((fn: () => void, ms?: number) => {
    armed.push(ms ?? 0);
    return real(fn, ms);
  }) as typeof setTimeout;
  try {
    f();
  } finally {
    globalThis.setTimeout = real;
  }
  return armed;
}

test("a re-exchange started while open arms the rekeyTimeout timer; while closing, none", () => {
  for (const closingNow of [false, true]) {
    let closing = false;
    const hs = handshake(() => closing);
    hs.start("local").catch(() => {}); // the first exchange: no re-key timer
    hs.abort(new Error("connection lost")); // as shutdown does
    closing = closingNow;
    const armed = timersArmedBy(() => hs.start("peer").catch(() => {}));
    assert.deepEqual(armed, closingNow ? [] : [60_000], `closing: ${closingNow}`);
    hs.abort(new Error("end of test")); // clears the timer armed when open
  }
});
