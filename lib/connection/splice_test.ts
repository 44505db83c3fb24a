import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spliceChannel } from "./splice.ts";
import { memoryPair } from "../runtime/memory.ts";
import type { ByteStreamPair } from "../runtime/types.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

async function readText(r: ReadableStream<Uint8Array>): Promise<string> {
  let s = "";
  for await (const c of r) s += dec.decode(c, { stream: true });
  return s;
}

async function send(w: WritableStream<Uint8Array>, text: string, end = true): Promise<void> {
  const writer = w.getWriter();
  await writer.write(enc.encode(text));
  if (end) await writer.close();
  writer.releaseLock();
}

/** Tears down a memory pair's far side, as closing a socket does: our readable ends in error. */
const tearDown = (far: ByteStreamPair) =>
  void far.writable.abort(new Error("closed")).catch(() => {});

/**
 * A local socket and a channel, each a memory pair: the splice gets one end,
 * the test plays the local program on `program` and the SSH peer on `peer`.
 * Closing either spliced end is recorded, and tears it down.
 */
function fixture() {
  const [localEnd, program] = memoryPair();
  const [channelEnd, peer] = memoryPair();
  const closed = { local: 0, channel: 0 };
  const local = {
    ...localEnd,
    close: () => {
      closed.local++;
      tearDown(program);
    },
  };
  const channel = {
    ...channelEnd,
    close: () => {
      closed.channel++;
      tearDown(peer);
      return Promise.resolve();
    },
  };
  return { local, channel, program, peer, closed };
}

describe("spliceChannel", () => {
  it("carries both directions and EOF each way; closes both once both have ended", async () => {
    const { local, channel, program, peer, closed } = fixture();
    const done = spliceChannel(channel, local);
    await send(program.writable, "from the local program");
    assert.equal(await readText(peer.readable), "from the local program"); // EOF arrived
    assert.deepEqual(closed, { local: 0, channel: 0 }); // the other direction is still open
    await send(peer.writable, "from the peer, after the program's EOF");
    assert.equal(await readText(program.readable), "from the peer, after the program's EOF");
    await done;
    assert.deepEqual(closed, { local: 1, channel: 1 });
  });

  it("writes options.first to the local side before the channel's data", async () => {
    const { local, channel, program, peer } = fixture();
    const done = spliceChannel(channel, local, { first: enc.encode("FIRST|") });
    await send(peer.writable, "rest");
    await send(program.writable, "");
    assert.equal(await readText(program.readable), "FIRST|rest");
    await done;
  });

  it("a failing direction closes both sides at once (the other one does not hang)", async () => {
    const { local, channel, program, closed } = fixture();
    const done = spliceChannel(channel, local);
    // The local socket fails (a reset): its readable errors; the peer's
    // direction never ends by itself.
    await program.writable.abort(new Error("ECONNRESET"));
    await done;
    assert.deepEqual(closed, { local: 1, channel: 1 });
  });

  it("never rejects, even when writing `first` fails", async () => {
    const [localEnd, program] = memoryPair();
    const [channelEnd, peer] = memoryPair();
    const broken = {
      readable: localEnd.readable,
      writable: new WritableStream<Uint8Array>({
        write: () => Promise.reject(new Error("EPIPE")),
      }),
      close: () => tearDown(program),
    };
    let channelCloses = 0;
    const channel = {
      ...channelEnd,
      close: () => {
        channelCloses++;
        tearDown(peer);
        return Promise.resolve();
      },
    };
    await spliceChannel(channel, broken, { first: enc.encode("x") });
    assert.equal(channelCloses, 1);
  });
});
