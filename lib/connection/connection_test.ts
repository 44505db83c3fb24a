import { test } from "node:test";
import assert from "node:assert/strict";
import { Subject } from "rxjs";
import { Connection, MAX_CHANNELS, type MessageTransport } from "./connection.ts";
import { acceptChannel } from "./handlers.ts";
import { DisconnectError } from "../wire/errors.ts";
import {
  decodeChannelOpenFailure,
  encodeChannelData,
  encodeChannelOpen,
  encodeChannelOpenConfirmation,
  encodeChannelRequest,
  encodeChannelSimple,
  encodeGlobalRequest,
  encodeWindowAdjust,
  OpenFailure,
} from "../wire/connection_messages.ts";
import { Msg } from "../wire/message_numbers.ts";
import { payloadBytes } from "../transport/packets.ts";

/** A transport double: we push the peer's messages and see what the connection sends. */
function fakeTransport() {
  let ctl!: ReadableStreamDefaultController<Uint8Array>;
  const sent: Uint8Array[] = [];
  const disconnects: [number | undefined, string | undefined][] = [];
  let closeWith!: (e: DisconnectError) => void;
  const debug$ = new Subject<unknown>();
  const t: MessageTransport = {
    debug$,
    messages: new ReadableStream({ start: (c) => void (ctl = c) }),
    send: (p) => {
      sent.push(payloadBytes(p));
      return Promise.resolve();
    },
    disconnect: (reason, description) => {
      disconnects.push([reason, description]);
      return Promise.resolve();
    },
    closed: new Promise((r) => (closeWith = r)),
  };
  return {
    t,
    sent,
    disconnects,
    push: (p: Uint8Array) => ctl.enqueue(p),
    debug: () => debug$.next({}),
    end: (e: Error) => ctl.error(e),
    closeWith,
  };
}

async function openOne(window = 1000, maxPacket = 100) {
  const f = fakeTransport();
  const conn = new Connection(f.t);
  const opening = conn.openChannel("session", undefined, { window, maxPacket });
  await Promise.resolve();
  f.push(encodeChannelOpenConfirmation({ recipient: 0, sender: 7, window: 50, maxPacket: 20 }));
  return { ...f, conn, channel: await opening };
}

const tick = () => new Promise((r) => setTimeout(r, 10));

test("data beyond the window is a protocol error: disconnect, every stream errored once", async () => {
  const { push, disconnects, channel, conn } = await openOne(100, 100);
  push(encodeChannelData(0, new Uint8Array(60)));
  push(encodeChannelData(0, new Uint8Array(60)));
  await conn.done;
  assert.equal(disconnects.length, 1);
  assert.equal(disconnects[0][0], 2);
  assert.match(disconnects[0][1]!, /60 bytes of data exceed the window of 40/);
  const err = await channel.closed;
  assert.ok(err instanceof DisconnectError);
  // The 60 bytes within the window are still read, then the error.
  const r = channel.readable.getReader();
  assert.equal((await r.read()).value?.length, 60);
  await assert.rejects(r.read(), DisconnectError);
});

test("a data packet above our maximum packet size is a protocol error", async () => {
  const { push, disconnects, conn } = await openOne(10_000, 100);
  push(encodeChannelData(0, new Uint8Array(101)));
  await conn.done;
  assert.match(disconnects[0][1]!, /101 bytes exceeds the maximum of 100/);
});

test("a message for an unknown channel is a protocol error", async () => {
  const { push, disconnects, conn } = await openOne();
  push(encodeChannelSimple(Msg.CHANNEL_EOF, 99));
  await conn.done;
  assert.match(disconnects[0][1]!, /CHANNEL_EOF for unknown channel 99/);
});

test("writes wait for window and are cut at the peer's maximum packet size", async () => {
  const { push, sent, channel } = await openOne();
  const w = channel.writable.getWriter();
  const writing = w.write(new Uint8Array(70)); // peer window 50, max packet 20
  await tick();
  const dataSizes = () => sent.filter((p) => p[0] === Msg.CHANNEL_DATA).map((p) => p.length - 9);
  assert.deepEqual(dataSizes(), [20, 20, 10]);
  push(encodeWindowAdjust(0, 100));
  await writing;
  assert.deepEqual(dataSizes(), [20, 20, 10, 20]);
});

test("the window re-opens only as the application reads", async () => {
  const { push, sent, channel } = await openOne(1000, 500);
  for (let i = 0; i < 2; i++) push(encodeChannelData(0, new Uint8Array(500)));
  await tick();
  const adjusts = () => sent.filter((p) => p[0] === Msg.CHANNEL_WINDOW_ADJUST).length;
  assert.equal(adjusts(), 0);
  assert.equal(channel.localWindow, 0);
  const r = channel.readable.getReader();
  await r.read();
  await r.read();
  await tick();
  assert.ok(adjusts() >= 1);
  assert.equal(channel.localWindow, 1000);
});

test("connection loss: open streams error once, pending requests reject, observables complete", async () => {
  const { end, channel, conn } = await openOne();
  let completed = 0;
  channel.requests$.subscribe({ complete: () => completed++ });
  conn.event$.subscribe({ complete: () => completed++ });
  const pending = channel.request("exec", new Uint8Array(0));
  const lost = new DisconnectError(10, "connection lost", { local: false });
  end(lost);
  await conn.done;
  await assert.rejects(pending, (e) => e === lost);
  await assert.rejects(channel.readable.getReader().read(), (e) => e === lost);
  await assert.rejects(channel.stderr.getReader().read(), (e) => e === lost);
  await assert.rejects(channel.writable.getWriter().write(new Uint8Array(1)), (e) => e === lost);
  assert.equal(await channel.closed, lost);
  assert.equal(completed, 2);
  await assert.rejects(conn.openChannel("session"), (e) => e === lost);
});

test("peer EOF ends our readables; CLOSE is answered once and frees the channel", async () => {
  const { push, sent, channel, conn } = await openOne();
  push(encodeChannelData(0, new TextEncoder().encode("bye")));
  push(encodeChannelSimple(Msg.CHANNEL_EOF, 0));
  assert.equal(await new Response(channel.readable).text(), "bye");
  push(encodeChannelSimple(Msg.CHANNEL_CLOSE, 0));
  assert.equal(await channel.closed, undefined);
  assert.equal(sent.filter((p) => p[0] === Msg.CHANNEL_CLOSE).length, 1);
  assert.equal(conn.channels.size, 0);
});

test("an unknown channel type is refused with its name escaped and cut in the description", async () => {
  const f = fakeTransport();
  const conn = new Connection(f.t);
  // Channel types are printable US-ASCII (anything else is a WireError), but
  // may hold quotes and be as long as a packet.
  const type = 'x" Accepted publickey for root' + "y".repeat(10_000);
  f.push(
    encodeChannelOpen({ type, sender: 3, window: 100, maxPacket: 100, data: new Uint8Array(0) }),
  );
  await tick();
  const failure = decodeChannelOpenFailure(f.sent[0]);
  assert.equal(failure.recipient, 3);
  assert.equal(failure.reason, 3); // UNKNOWN_CHANNEL_TYPE
  assert.match(failure.description, /^unsupported channel type "x\\" Accepted publickey/);
  assert.ok(failure.description.length < 400, `description of ${failure.description.length}`);
  assert.ok(failure.description.endsWith(`...(${type.length} bytes)"`), failure.description);
  f.end(new Error("done"));
  await conn.done;
});

// Issue 10, item 8: a message that asks nothing of us, while we wait for a reply,
// is answered with one SSH_MSG_IGNORE so the TCP acknowledgement leaves at once.
const none = new Uint8Array(0);
const askNothing = (name = "hostkeys-00@openssh.com") =>
  encodeGlobalRequest({ name, wantReply: false, data: none });
const numbers = (sent: Uint8Array[]) => sent.map((p) => p[0]);

test("waiting for an open confirmation: each request with want_reply false gets one IGNORE", async () => {
  const f = fakeTransport();
  const conn = new Connection(f.t);
  const opening = conn.openChannel("session");
  f.push(askNothing());
  f.push(askNothing("other@example.com"));
  await tick();
  assert.deepEqual(numbers(f.sent), [Msg.CHANNEL_OPEN, Msg.IGNORE, Msg.IGNORE]);
  f.push(encodeChannelOpenConfirmation({ recipient: 0, sender: 7, window: 50, maxPacket: 20 }));
  await opening;
  f.push(askNothing()); // nothing awaited now: nothing sent
  await tick();
  assert.deepEqual(numbers(f.sent), [Msg.CHANNEL_OPEN, Msg.IGNORE, Msg.IGNORE]);
});

test("a request with want_reply true gets its reply and no IGNORE", async () => {
  const f = fakeTransport();
  const conn = new Connection(f.t);
  conn.openChannel("session").catch(() => {});
  f.push(encodeGlobalRequest({ name: "keepalive@openssh.com", wantReply: true, data: none }));
  await tick();
  assert.deepEqual(numbers(f.sent), [Msg.CHANNEL_OPEN, Msg.REQUEST_FAILURE]);
});

test("SSH_MSG_DEBUG and channel requests without reply, while a request waits: one IGNORE each", async () => {
  const { push, sent, channel, debug, conn } = await openOne();
  const pending = channel.request("exec", new Uint8Array([0, 0, 0, 0]));
  debug();
  push(
    encodeChannelRequest({ recipient: 0, type: "eow@openssh.com", wantReply: false, data: none }),
  );
  await tick();
  assert.deepEqual(numbers(sent), [Msg.CHANNEL_OPEN, Msg.CHANNEL_REQUEST, Msg.IGNORE, Msg.IGNORE]);
  push(encodeChannelSimple(Msg.CHANNEL_SUCCESS, 0));
  assert.equal(await pending, true);
  debug();
  await tick();
  assert.equal(sent.length, 4, "nothing awaited: DEBUG gets nothing");
  const reply = conn.globalRequest("tcpip-forward", none);
  debug();
  await tick();
  assert.deepEqual(numbers(sent).slice(4), [Msg.GLOBAL_REQUEST, Msg.IGNORE]);
  push(new Uint8Array([Msg.REQUEST_SUCCESS]));
  assert.equal((await reply).ok, true);
});

test("MAX_CHANNELS: the peer's open past it is refused with RESOURCE_SHORTAGE; a shared count caps several", async () => {
  const f = fakeTransport();
  const shared = { max: 5000, open: 0 };
  new Connection(f.t, {
    router: { channelOpen: () => acceptChannel(() => {}), globalRequest: () => undefined },
    sharedChannels: shared,
  });
  for (let i = 0; i <= MAX_CHANNELS; i++) {
    f.push(
      encodeChannelOpen({
        type: "x",
        sender: i,
        window: 1000,
        maxPacket: 100,
        data: new Uint8Array(0),
      }),
    );
  }
  for (let i = 0; i < 100 && f.sent.length <= MAX_CHANNELS; i++) await tick();
  assert.equal(f.sent.length, MAX_CHANNELS + 1);
  assert.equal(f.sent.filter((p) => p[0] === Msg.CHANNEL_OPEN_CONFIRMATION).length, MAX_CHANNELS);
  const failures = f.sent.filter((p) => p[0] === Msg.CHANNEL_OPEN_FAILURE);
  assert.equal(failures.length, 1);
  const refusal = decodeChannelOpenFailure(failures[0]);
  assert.equal(refusal.recipient, MAX_CHANNELS, "the last one asked");
  assert.equal(refusal.reason, OpenFailure.RESOURCE_SHORTAGE);
  assert.equal(refusal.description, "too many open channels (1024)");
  assert.equal(shared.open, MAX_CHANNELS);
  // A second connection on the same count: full at `max`.
  const g = fakeTransport();
  new Connection(g.t, {
    router: { channelOpen: () => acceptChannel(() => {}), globalRequest: () => undefined },
    sharedChannels: { max: 2, open: 1 },
  });
  g.push(
    encodeChannelOpen({
      type: "x",
      sender: 1,
      window: 1000,
      maxPacket: 100,
      data: new Uint8Array(0),
    }),
  );
  g.push(
    encodeChannelOpen({
      type: "x",
      sender: 2,
      window: 1000,
      maxPacket: 100,
      data: new Uint8Array(0),
    }),
  );
  for (let i = 0; i < 100 && g.sent.length < 2; i++) await tick();
  assert.equal(g.sent.filter((p) => p[0] === Msg.CHANNEL_OPEN_CONFIRMATION).length, 1);
  const full = decodeChannelOpenFailure(g.sent.find((p) => p[0] === Msg.CHANNEL_OPEN_FAILURE)!);
  assert.equal(full.recipient, 2);
  assert.equal(full.reason, OpenFailure.RESOURCE_SHORTAGE);
  assert.equal(full.description, "too many open channels on this server (2)");
  // Connection loss gives the count back.
  f.end(new Error("gone"));
  await tick();
  assert.equal(shared.open, 0);
});
