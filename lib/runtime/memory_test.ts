import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { memoryPair } from "./memory.ts";
import { dec, enc, readAll } from "./_test_util.ts";

/** Resolves to "pending" if `p` has not settled within a few macrotasks. */
async function settledState(p: Promise<unknown>): Promise<"resolved" | "rejected" | "pending"> {
  let state: "resolved" | "rejected" | "pending" = "pending";
  p.then(() => state = "resolved", () => state = "rejected");
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 1));
  return state;
}

describe("memoryPair", () => {
  it("both sides can write before either reads (buffered)", async () => {
    const [a, b] = memoryPair();
    const wa = a.writable.getWriter();
    const wb = b.writable.getWriter();
    // Neither write may wait for the other side's reader.
    await Promise.all([
      wa.write(enc.encode("SSH-2.0-client\r\n")),
      wb.write(enc.encode("SSH-2.0-server\r\n")),
    ]);
    const ra = a.readable.getReader();
    const rb = b.readable.getReader();
    assert.equal(dec.decode((await ra.read()).value), "SSH-2.0-server\r\n");
    assert.equal(dec.decode((await rb.read()).value), "SSH-2.0-client\r\n");
    await wa.close();
    await wb.close();
    assert.equal((await ra.read()).done, true);
    assert.equal((await rb.read()).done, true);
  });

  it("copies chunks on write, so the writer may reuse its buffer", async () => {
    const [a, b] = memoryPair();
    const w = a.writable.getWriter();
    const buf = new Uint8Array([1, 2, 3, 4]);
    await w.write(buf);
    buf.fill(9);
    await w.write(buf.subarray(1, 3)); // an offset view
    buf.fill(7);
    await w.close();
    assert.deepEqual([...await readAll(b.readable)], [1, 2, 3, 4, 9, 9]);
  });

  it("closing a's writable ends b's readable after the buffered bytes", async () => {
    const [a, b] = memoryPair();
    const w = a.writable.getWriter();
    await w.write(enc.encode("abc"));
    await w.write(enc.encode("def"));
    await w.close();
    assert.equal(dec.decode(await readAll(b.readable)), "abcdef");
    // The other direction is independent: still open.
    const wb = b.writable.getWriter();
    await wb.write(enc.encode("back"));
    await wb.close();
    assert.equal(dec.decode(await readAll(a.readable)), "back");
  });

  it("writes wait once highWaterMark bytes are unread, and resume as the reader drains", async () => {
    const [a, b] = memoryPair({ highWaterMark: 1024 });
    const w = a.writable.getWriter();
    await w.write(new Uint8Array(512)); // below the mark: resolves at once
    const blocked = w.write(new Uint8Array(1024)); // now 1536 bytes queued
    assert.equal(await settledState(blocked), "pending");
    const r = b.readable.getReader();
    assert.equal((await r.read()).value?.length, 512);
    assert.equal(await settledState(blocked), "pending"); // still 1024 >= 1024
    assert.equal((await r.read()).value?.length, 1024);
    assert.equal(await settledState(blocked), "resolved");
  });

  it("aborting a's writable errors b's readable with the reason", async () => {
    const [a, b] = memoryPair();
    const w = a.writable.getWriter();
    await w.write(enc.encode("x"));
    await w.abort(new Error("boom"));
    const r = b.readable.getReader();
    await assert.rejects(r.read(), /boom/);
  });

  it("abort releases a writer that waits for room", async () => {
    const [a] = memoryPair({ highWaterMark: 4 });
    const w = a.writable.getWriter();
    const blocked = w.write(new Uint8Array(8));
    assert.equal(await settledState(blocked), "pending");
    await w.abort(new Error("gone"));
    assert.notEqual(await settledState(blocked), "pending");
  });

  it("cancelling b's readable makes writes on a reject", async () => {
    const [a, b] = memoryPair({ highWaterMark: 4 });
    const w = a.writable.getWriter();
    const blocked = w.write(new Uint8Array(8)); // waits for room
    assert.equal(await settledState(blocked), "pending");
    await b.readable.cancel();
    await blocked; // released by the cancel
    await assert.rejects(w.write(new Uint8Array(1)), /cancelled/);
  });

  it("carries a large transfer intact in both directions at once", async () => {
    const [a, b] = memoryPair({ highWaterMark: 16 * 1024 });
    const size = 1024 * 1024;
    const data = new Uint8Array(size);
    for (let i = 0; i < size; i++) data[i] = (i * 31 + (i >> 8)) & 0xff;
    const send = async (w: WritableStream<Uint8Array>) => {
      const writer = w.getWriter();
      const scratch = new Uint8Array(7000);
      for (let off = 0; off < size; off += scratch.length) {
        const n = Math.min(scratch.length, size - off);
        scratch.set(data.subarray(off, off + n));
        await writer.write(scratch.subarray(0, n)); // buffer reused every time
      }
      await writer.close();
    };
    const [, , gotA, gotB] = await Promise.all([
      send(a.writable),
      send(b.writable),
      readAll(a.readable),
      readAll(b.readable),
    ]);
    assert.deepEqual(gotA, data);
    assert.deepEqual(gotB, data);
  });

  it("rejects a non-positive highWaterMark", () => {
    assert.throws(() => memoryPair({ highWaterMark: 0 }), RangeError);
  });
});
