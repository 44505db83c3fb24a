// Issue 10, item 3: a peer that floods requests and never reads our replies
// must not make the server's memory grow. The server stops reading from it
// once REPLY_BACKLOG replies wait (as sshd waits for its writes), and reads
// again, answering everything, once the peer reads.
//
// The wire is an in-memory pair with 64 KiB of buffer each way (a socket's
// worth); the peer's reading side has a gate, and the server's reading side
// counts the bytes the server accepted.
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "../lib/client.ts";
import { serveConnection, type ServerConnection } from "../lib/server.ts";
import { memoryPair } from "../lib/runtime/memory.ts";
import type { ByteStreamPair } from "../lib/runtime/types.ts";
import { REPLY_BACKLOG, Transport } from "../lib/transport/transport.ts";
import { SessionRequest } from "../lib/connection/session.ts";
import { hostKey } from "./_transport_pair.ts";
import { counted, gated, settles } from "./_flow.ts";

const FLOOD = 50_000; // ~2.2 MB or more sent: twice READ_BOUND even for the smallest request
/** What the server may read before it stops: far below what the peer sends (FLOOD × ~50 bytes). */
const READ_BOUND = 1024 * 1024;

/** The peer's side (gated reads) and the server's side (counted reads). */
function wire() {
  const [a, b] = memoryPair({ highWaterMark: 64 * 1024 });
  const gate = gated(a.readable);
  const count = counted(b.readable);
  const peer: ByteStreamPair = { readable: gate.readable, writable: a.writable };
  const server: ByteStreamPair = { readable: count.readable, writable: b.writable };
  return { peer, server, gate, read: count.count };
}

/** Messages the transport may have handed up (its `messages` high-water mark) before replies to them exist. */
const IN_FLIGHT = 64;

function assertStopped(read: number, backlog: { packets: number; bytes: number }) {
  assert.ok(read < READ_BOUND, `the server read ${read} bytes of the flood; bound ${READ_BOUND}`);
  assert.ok(
    backlog.packets <= REPLY_BACKLOG.packets + IN_FLIGHT + 1 &&
      backlog.bytes <= REPLY_BACKLOG.bytes + (IN_FLIGHT + 1) * 128,
    `reply backlog ${backlog.packets} packets, ${backlog.bytes} bytes`,
  );
}

test("50,000 SERVICE_REQUESTs from a peer that never reads: the server stops reading, then answers all", async () => {
  const w = wire();
  const server = new Transport(w.server, {
    role: "server",
    hostKeys: [await hostKey("ssh-ed25519")],
  });
  const client = new Transport(w.peer, { role: "client", verifyHostKey: () => true });
  await Promise.all([client.ready, server.ready]);
  const services: string[] = [];
  server.service$.subscribe((s) => services.push(s));
  w.gate.shut();
  const accepted = Array.from({ length: FLOOD }, () => client.requestService("ssh-userauth"));
  const read = await settles(() => w.read.bytes);
  assertStopped(read, server.replyBacklog);
  assert.equal(server.isClosed, false);
  w.gate.open();
  await Promise.all(accepted); // every request answered once the peer reads
  assert.deepEqual(services, ["ssh-userauth"], "service$ emits a service once, not per request");
  assert.equal(server.replyBacklog.packets, 0);
  await client.disconnect();
  await server.closed;
});

async function authenticated(): Promise<
  {
    w: ReturnType<typeof wire>;
    server: ServerConnection;
    client: Awaited<ReturnType<typeof connect>>;
  }
> {
  const w = wire();
  const key = await hostKey("ssh-ed25519");
  const serving = serveConnection(w.server, {
    hostKeys: [key],
    auth: { handlers: { password: (u, p) => u === "alice" && p === "pw" } },
    exec: (s) => s.exit(0),
  });
  serving.catch(() => {});
  const client = await connect({
    stream: w.peer,
    username: "alice",
    password: "pw",
    hostKey: { fingerprint: key.publicKey.fingerprint() },
  });
  return { w, server: await serving, client };
}

test("50,000 keepalive@openssh.com requests with want-reply, never reading: bounded, then all answered", async () => {
  const { w, server, client } = await authenticated();
  w.gate.shut();
  const replies = Array.from(
    { length: FLOOD },
    () => client.connection.globalRequest("keepalive@openssh.com", undefined, { wantReply: true }),
  );
  const read = await settles(() => w.read.bytes);
  assertStopped(read, server.transport.replyBacklog);
  w.gate.open();
  const answers = await Promise.all(replies);
  assert.equal(answers.length, FLOOD);
  assert.ok(answers.every((a) => a.ok === false), "keepalive gets REQUEST_FAILURE, as from sshd");
  await client.close();
});

test("50,000 env requests on one channel, never reading: bounded, then all answered", async () => {
  const { w, server, client } = await authenticated();
  const channel = await client.openChannel("session");
  w.gate.shut();
  const env = SessionRequest.env.encode("LC_FLOOD", "x");
  const replies = Array.from({ length: FLOOD }, () => channel.request("env", env));
  const read = await settles(() => w.read.bytes);
  assertStopped(read, server.transport.replyBacklog);
  w.gate.open();
  const answers = await Promise.all(replies);
  assert.equal(answers.length, FLOOD);
  await client.close();
});

test("50,000 want_reply=false requests while the server awaits a reply: its IGNOREs count as replies, bounded", async () => {
  // The connection layer answers a message that asks nothing with one IGNORE
  // while it waits for a reply (the delayed-ACK fix of item 8); those IGNOREs
  // are output a peer provokes, so they count toward the backlog too.
  const { w, server, client } = await authenticated();
  w.gate.shut();
  const opening = server.connection.openChannel("x11"); // the peer will not answer while it does not read
  opening.catch(() => {});
  const sent = Array.from(
    { length: FLOOD },
    () => client.connection.globalRequest("flood@example.com", undefined, { wantReply: false }),
  );
  const read = await settles(() => w.read.bytes);
  assertStopped(read, server.transport.replyBacklog);
  w.gate.open();
  await Promise.all(sent);
  await client.close();
});
