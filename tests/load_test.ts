// Issue 16, part E: load, at CI size. The same code as `deno task soak`
// (bench/soak.ts, 1,000 connections and 10 GiB there): 200 concurrent
// authenticated connections to an in-process listen() server on loopback, each
// running exec (an in-process echo: the SSH library is measured, not fork),
// all open at once; then 512 MiB through one channel with the client re-keying
// every 64 MiB. Correctness and the memory-return bound are asserted, never
// timings; the figures are printed (one JSON line per phase).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  checkFigures,
  type ConnectionsFigures,
  retainedBound,
  soakConnections,
  soakTransfer,
  type TransferFigures,
} from "../bench/soak.ts";

const MIB = 1024 * 1024;

describe("load: concurrent connections and a long transfer, with memory sampled", () => {
  it(
    "200 authenticated connections open at once, each running exec; the heap returns after close",
    {
      timeout: 120_000,
    },
    async () => {
      const f = await soakConnections(200);
      console.log(JSON.stringify(f));
      assert.equal(f.connections, 200);
      assert.ok(f.before.collected, "a full garbage collection must be available");
      // The live connections hold memory at the peak: the sample is taken while they are open.
      assert.ok(f.peak.heapUsed > f.before.heapUsed, "the peak sample shows the live connections");
      assert.deepEqual(checkFigures(f), []);
    },
  );

  it("512 MiB through one channel, re-keyed every 64 MiB: count, SHA-256, 8 re-keys, flat heap", {
    timeout: 180_000,
  }, async () => {
    const f = await soakTransfer(512 * MIB, { rekeyBytes: 64 * MIB });
    console.log(JSON.stringify(f));
    assert.ok(f.verified, "the server counted and hashed exactly what the client sent");
    assert.equal(f.expectedRekeys, 8);
    assert.ok(Math.abs(f.rekeys - 8) <= 1, `re-keys: ${f.rekeys}`);
    // The client starts each re-key; the server takes part in the same exchanges.
    assert.equal(f.serverRekeys, f.rekeys);
    // Windows and the packet writer bound what is in flight: 512 MiB must not pile up.
    assert.ok(
      f.peak.heapUsed - f.before.heapUsed < 32 * MIB,
      `heap grew ${f.peak.heapUsed - f.before.heapUsed} bytes during the transfer`,
    );
    assert.deepEqual(checkFigures(f), []);
  });

  it("the memory check fails on a leak: retained heap over 10% of the peak growth + 1 MiB", () => {
    const sample = (heapUsed: number) => ({ rss: 0, heapUsed, collected: true });
    const before = 20 * MIB, peak = 120 * MIB;
    assert.equal(retainedBound(before, peak), 11 * MIB);
    const figures = (after: number): ConnectionsFigures => ({
      phase: "connections",
      runtime: "test",
      server: "in-process listen()",
      connections: 1000,
      openSeconds: 1,
      closeSeconds: 1,
      connectionsPerSecond: 1000,
      fresh: sample(before),
      before: sample(before),
      peak: sample(peak),
      after: sample(after),
      heapPerConnKiB: 100,
      rssPerConnKiB: 100,
      heapRetained: after - before,
      heapRetainedBound: retainedBound(before, peak),
      rssRetained: 0,
    });
    assert.deepEqual(checkFigures(figures(before + 11 * MIB)), []);
    const leak = checkFigures(figures(before + 12 * MIB));
    assert.equal(leak.length, 1);
    assert.match(
      leak[0],
      /connections: 12582912 bytes of heap retained after close, over the bound 11534336/,
    );
    const noGc = checkFigures({
      ...figures(before),
      before: { ...sample(before), collected: false },
    });
    assert.match(noGc[0], /no garbage collection/);
  });

  it("a transfer's figures fail on a wrong hash or a re-key count off by more than one", () => {
    const s = { rss: 0, heapUsed: MIB, collected: true };
    const ok: TransferFigures = {
      phase: "transfer",
      runtime: "test",
      cipher: "aes128-gcm@openssh.com",
      bytes: 512 * MIB,
      rekeyBytes: 64 * MIB,
      seconds: 1,
      mbPerSecond: 1,
      rekeys: 9,
      serverRekeys: 9,
      expectedRekeys: 8,
      verified: true,
      before: s,
      peak: s,
      after: s,
      heapRetained: 0,
      heapRetainedBound: MIB,
    };
    assert.deepEqual(checkFigures(ok), []);
    assert.match(checkFigures({ ...ok, verified: false })[0], /SHA-256 differs/);
    assert.match(checkFigures({ ...ok, rekeys: 10 })[0], /10 re-keys, expected 8 ±1/);
  });
});
