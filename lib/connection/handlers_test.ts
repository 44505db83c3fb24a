// The handler registry at the connection layer (issue 11): opens and global
// requests answered by handlers that may be async, in the order asked;
// unclaimed ones refused at once with the RFC reason; unsubscribed handlers
// no longer consulted; a throwing handler refuses; a slow handler paces
// reading instead of queueing without bound.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Connection, type ConnectionEvent, type MessageTransport } from "./connection.ts";
import {
  accept,
  acceptChannel,
  type ChannelOpenRequest,
  ConnectionHandlers,
  refuse,
} from "./handlers.ts";
import {
  decodeChannelOpenConfirmation,
  decodeChannelOpenFailure,
  encodeChannelOpen,
  encodeGlobalRequest,
  OpenFailure,
} from "../wire/connection_messages.ts";
import { Msg } from "../wire/message_numbers.ts";
import { payloadBytes } from "../transport/packets.ts";

function fakeTransport() {
  let ctl!: ReadableStreamDefaultController<Uint8Array>;
  const sent: Uint8Array[] = [];
  const t: MessageTransport = {
    messages: new ReadableStream({ start: (c) => void (ctl = c) }, { highWaterMark: 0 }),
    send: (p) => {
      sent.push(payloadBytes(p));
      return Promise.resolve();
    },
    disconnect: () => Promise.resolve(),
    closed: new Promise(() => {}),
  };
  return {
    t,
    sent,
    push: (p: Uint8Array) => ctl.enqueue(p),
    end: () => ctl.error(new Error("end")),
  };
}

const none = new Uint8Array(0);
const tick = (ms = 10) => new Promise((r) => setTimeout(r, ms));
const open = (type: string, sender: number) =>
  encodeChannelOpen({ type, sender, window: 1000, maxPacket: 100, data: none });
const global = (name: string, wantReply = true) =>
  encodeGlobalRequest({ name, wantReply, data: none });

function connection(handlers: ConnectionHandlers<{ connection: Connection }>) {
  const f = fakeTransport();
  const events: ConnectionEvent[] = [];
  const conn = new Connection(f.t, { router: handlers.router((connection) => ({ connection })) });
  conn.event$.subscribe((e) => events.push(e));
  return { ...f, conn, events };
}

test("an unclaimed open and global request are refused at once with the RFC reason", async () => {
  const c = connection(new ConnectionHandlers());
  c.push(open("direct-tcpip", 5));
  c.push(global("tcpip-forward"));
  await tick();
  assert.equal(c.sent.length, 2);
  const failure = decodeChannelOpenFailure(c.sent[0]);
  assert.equal(failure.recipient, 5);
  assert.equal(failure.reason, OpenFailure.UNKNOWN_CHANNEL_TYPE);
  assert.deepEqual(Array.from(c.sent[1]), [Msg.REQUEST_FAILURE]);
  assert.deepEqual(c.events.map((e) => `${e.type} ${e.accepted}`), [
    "channel-open false",
    "global-request false",
  ]);
  c.end();
});

test("async handlers: global replies go out in the order asked, with reply data", async () => {
  const handlers = new ConnectionHandlers<{ connection: Connection }>();
  handlers.globalRequest("slow", async () => {
    await tick(30);
    return accept(new Uint8Array([1]));
  });
  handlers.globalRequest("fast", () => accept(new Uint8Array([2])));
  const c = connection(handlers);
  c.push(global("slow"));
  c.push(global("fast"));
  c.push(global("nobody"));
  await tick(80);
  assert.deepEqual(c.sent.map((p) => Array.from(p)), [
    [Msg.REQUEST_SUCCESS, 1],
    [Msg.REQUEST_SUCCESS, 2],
    [Msg.REQUEST_FAILURE],
  ]);
  c.end();
});

test("the first handler to claim wins; undefined passes; unsubscribed handlers are not consulted", async () => {
  const handlers = new ConnectionHandlers<{ connection: Connection }>();
  const seen: string[] = [];
  handlers.channelOpen("echo", () => void seen.push("pass"));
  const first = handlers.channelOpen("echo", (r: ChannelOpenRequest) => {
    seen.push(`first ${r.window}`);
    return acceptChannel(() => {}, { window: 4096 });
  });
  handlers.channelOpen("echo", () => {
    seen.push("second");
    return refuse("second", OpenFailure.CONNECT_FAILED);
  });
  const c = connection(handlers);
  c.push(open("echo", 1));
  await tick();
  const ok = decodeChannelOpenConfirmation(c.sent[0]);
  assert.equal(ok.recipient, 1);
  assert.equal(ok.window, 4096);
  first.unsubscribe();
  c.push(open("echo", 2));
  await tick();
  const failure = decodeChannelOpenFailure(c.sent[1]);
  assert.equal(failure.reason, OpenFailure.CONNECT_FAILED);
  assert.equal(failure.description, "second");
  assert.deepEqual(seen, ["pass", "first 1000", "pass", "second"]);
  c.end();
});

test("a handler that throws refuses; the event carries the error, the peer only a refusal", async () => {
  const handlers = new ConnectionHandlers<{ connection: Connection }>();
  handlers.channelOpen("boom", () => {
    throw new Error("secret internal detail");
  });
  handlers.globalRequest("boom", () => Promise.reject(new Error("secret")));
  const c = connection(handlers);
  c.push(open("boom", 9));
  c.push(global("boom"));
  await tick();
  const failure = decodeChannelOpenFailure(c.sent[0]);
  assert.doesNotMatch(failure.description, /secret/);
  assert.deepEqual(Array.from(c.sent[1]), [Msg.REQUEST_FAILURE]);
  assert.ok(c.events.every((e) => !e.accepted && e.error instanceof Error));
  c.end();
});

test("a handler that never answers: reading pauses after 64 unanswered requests", async () => {
  const handlers = new ConnectionHandlers<{ connection: Connection }>();
  let asked = 0;
  const hang = new Promise<never>(() => {});
  handlers.globalRequest("hang", () => (asked++, hang));
  const c = connection(handlers);
  for (let i = 0; i < 1000; i++) c.push(global("hang"));
  await tick(50);
  assert.equal(asked, 64);
  assert.equal(c.sent.length, 0);
  c.end();
});

test("replies queued behind a slow one count too: reading pauses, nothing piles up", async () => {
  const handlers = new ConnectionHandlers<{ connection: Connection }>();
  let release!: () => void;
  const slow = new Promise<void>((r) => (release = r));
  handlers.globalRequest("slow", async () => (await slow, accept()));
  let fast = 0;
  handlers.globalRequest("fast", () => (fast++, accept()));
  const c = connection(handlers);
  c.push(global("slow"));
  for (let i = 0; i < 10_000; i++) c.push(global("fast"));
  await tick(50);
  assert.equal(fast, 63, "the slow one and 63 answered behind it");
  assert.equal(c.sent.length, 0, "nothing goes out before the slow reply");
  release();
  await tick(200);
  assert.equal(fast, 10_000);
  assert.equal(c.sent.length, 10_001);
  assert.deepEqual(Array.from(c.sent[0]), [Msg.REQUEST_SUCCESS]);
  c.end();
});
