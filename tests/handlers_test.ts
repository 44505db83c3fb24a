// Issue 11: one shape for everything a peer asks. Handlers given in options
// answer a direct-tcpip open and a tcpip-forward request sent right after
// authentication (by our client, and by OpenSSH's `ssh -R`); two
// session-request handlers compose; an unclaimed open or request is
// refused at once; a handler added at run time stops being consulted after
// unsubscribe; a subscriber attached at accept sees the client's IGNORE
// sent before authentication; a subsystem behaviour receives application
// messages.
import { after, before, describe, it, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { filter, firstValueFrom, Subject } from "rxjs";
import { connect } from "../lib/client.ts";
import type { Behaviour } from "../lib/rx/behaviour.ts";
import {
  channelBehaviour,
  type ChannelContext,
  type ChannelEvent,
} from "../lib/rx/channel_behaviour.ts";
import type { ChannelOpenError } from "../lib/connection/connection.ts";
import { accept, acceptChannel, refuse } from "../lib/connection/handlers.ts";
import { parsePublicKeyLine } from "../lib/keys/public_key_file.ts";
import { memoryPair } from "../lib/runtime/memory.ts";
import {
  acceptConnection,
  type IncomingConnection,
  listen,
  type ServerEvent,
  type ServerOptions,
  type SshServer,
} from "../lib/server.ts";
import { SessionRequestError } from "../lib/connection/session.ts";
import { OpenFailure } from "../lib/wire/connection_messages.ts";
import { findOpenSsh, runProcess, runSsh, testSshArgs } from "./_openssh.ts";
import { hostKey } from "./_transport_pair.ts";

const te = new TextEncoder();
const td = new TextDecoder();

/** RFC 4254 §7.1 tcpip-forward data: address to bind, port to bind. */
function forwardRequest(address: string, port: number): Uint8Array {
  const a = te.encode(address);
  const out = new Uint8Array(4 + a.length + 4);
  const v = new DataView(out.buffer);
  v.setUint32(0, a.length);
  out.set(a, 4);
  v.setUint32(4 + a.length, port);
  return out;
}

/** RFC 4254 §7.2 direct-tcpip data: host, port, originator address, originator port. */
function directTcpip(host: string, port: number): Uint8Array {
  const h = te.encode(host);
  const o = te.encode("127.0.0.1");
  const out = new Uint8Array(4 + h.length + 4 + 4 + o.length + 4);
  const v = new DataView(out.buffer);
  let i = 0;
  v.setUint32(i, h.length);
  out.set(h, i += 4);
  v.setUint32(i += h.length, port);
  v.setUint32(i += 4, o.length);
  out.set(o, i += 4);
  v.setUint32(i + o.length, 5555);
  return out;
}

const portReply = (port: number) => {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, port);
  return out;
};

async function pair(options: Partial<ServerOptions>, events: ServerEvent[] = []) {
  const [a, b] = memoryPair();
  const key = await hostKey("ssh-ed25519");
  const incoming: IncomingConnection = acceptConnection(b, {
    hostKeys: [key],
    auth: { handlers: { password: () => true }, failureDelay: 1 },
    ...options,
  });
  incoming.event$.subscribe((e) => events.push(e));
  const client = await connect({
    stream: a,
    username: "u",
    password: "p",
    hostKey: { fingerprint: key.publicKey.fingerprint() },
  });
  return { client, incoming, server: await incoming.authenticated, events };
}

test("a direct-tcpip open and a tcpip-forward sent right after authentication reach the handlers in options", async () => {
  const seen: string[] = [];
  const { client, events } = await pair({
    handlers: {
      channelOpen: {
        "direct-tcpip": (open, ctx) => {
          seen.push(`open ${ctx.username}`);
          return acceptChannel(async (ch) => {
            await ch.writable.getWriter().write(te.encode(`hello ${open.data.length}`));
            await ch.close();
          });
        },
      },
      globalRequest: {
        "tcpip-forward": async (r) => {
          seen.push(`forward ${r.data.length}`);
          await new Promise((res) => setTimeout(res, 5)); // async handlers are awaited
          return accept(portReply(40_000));
        },
      },
    },
  });
  // Both go out before anything else: no chance to subscribe late.
  const [forward, channel] = await Promise.all([
    client.connection.globalRequest("tcpip-forward", forwardRequest("127.0.0.1", 0)),
    client.openChannel("direct-tcpip", directTcpip("example.org", 80)),
  ]);
  assert.equal(forward.ok, true);
  assert.equal(new DataView(forward.data.buffer, forward.data.byteOffset).getUint32(0), 40_000);
  assert.equal(await new Response(channel.readable).text(), "hello 36");
  assert.deepEqual(seen.sort(), ["forward 17", "open u"]);
  assert.ok(events.some((e) => e.type === "global-request" && e.accepted));
  assert.ok(events.some((e) => e.type === "channel-open" && e.accepted));
  await client.close();
});

test("unclaimed opens and requests are refused at once with their reason", async () => {
  const { client, events } = await pair({});
  await assert.rejects(
    client.openChannel("direct-tcpip", directTcpip("example.org", 80)),
    (e: ChannelOpenError) => e.reason === OpenFailure.UNKNOWN_CHANNEL_TYPE,
  );
  assert.equal(
    (await client.connection.globalRequest("tcpip-forward", forwardRequest("", 0))).ok,
    false,
  );
  await assert.rejects(
    client.exec("x", { requests: [{ type: "x11-req", required: true }] }),
    SessionRequestError,
  );
  const refusals = events.filter((e) =>
    (e.type === "channel-open" || e.type === "global-request" || e.type === "channel-request") &&
    !e.accepted
  );
  assert.deepEqual(
    refusals.map((e) =>
      e.type === "channel-open"
        ? e.channelType
        : e.type === "global-request"
        ? e.name
        : e.type === "channel-request"
        ? e.request
        : e.type
    ),
    ["direct-tcpip", "tcpip-forward", "x11-req"],
  );
  await client.close();
});

test("two session-request handlers compose: the first to claim wins", async () => {
  const order: string[] = [];
  const { client } = await pair({
    handlers: [
      {
        sessionRequest: {
          "x-demo@example.com": (r) => {
            order.push("first");
            return td.decode(r.data) === "mine" ? accept() : undefined;
          },
        },
      },
      {
        sessionRequest: {
          "x-demo@example.com": (_r, s) => {
            order.push("second");
            s.setEnv("DEMO", "second");
            return accept();
          },
        },
        exec: async (s) => {
          const w = s.stdout.getWriter();
          await w.write(te.encode(s.env.DEMO ?? "unset"));
          w.releaseLock();
          await s.exit(0);
        },
      },
    ],
  });
  const mine = await client.exec("x", {
    requests: [{ type: "x-demo@example.com", data: te.encode("mine"), required: true }],
  });
  assert.equal(td.decode(mine.stdout), "unset");
  const theirs = await client.exec("x", {
    requests: [{ type: "x-demo@example.com", data: te.encode("other"), required: true }],
  });
  assert.equal(td.decode(theirs.stdout), "second");
  assert.deepEqual(order, ["first", "first", "second"]);
  await client.close();
});

test("a handler added at run time answers until it is unsubscribed", async () => {
  const { client, server } = await pair({});
  let asked = 0;
  const sub = server.handlers.globalRequest("ping@example.com", () => (asked++, accept()));
  assert.equal((await client.connection.globalRequest("ping@example.com")).ok, true);
  sub.unsubscribe();
  assert.equal((await client.connection.globalRequest("ping@example.com")).ok, false);
  assert.equal(asked, 1);
  // Refusals from a handler carry the reason code to the peer.
  const open = server.handlers.channelOpen(
    "direct-tcpip",
    () => refuse("not to there", OpenFailure.CONNECT_FAILED),
  );
  await assert.rejects(
    client.openChannel("direct-tcpip", directTcpip("10.0.0.1", 22)),
    (e: ChannelOpenError) =>
      e.reason === OpenFailure.CONNECT_FAILED && /not to there/.test(e.message),
  );
  open.unsubscribe();
  await client.close();
});

describe("server events from accept", () => {
  let server: SshServer;
  const ignores: string[] = [];
  const kinds: string[] = [];
  before(async () => {
    server = await listen({
      hostname: "127.0.0.1",
      port: 0,
      hostKeys: [await hostKey("ssh-ed25519")],
      auth: { handlers: { password: (u) => u === "u" }, failureDelay: 1 },
      exec: (s) => s.exit(0),
    });
    server.accept$.subscribe((c) => {
      c.transport.ignore$.subscribe((m) => ignores.push(td.decode(m)));
      c.event$.subscribe((e) => kinds.push(e.type));
    });
  });
  after(() => server.close());

  it("a subscriber attached at accept sees the client's IGNORE sent before authentication", async () => {
    const client = await connect({
      host: "127.0.0.1",
      port: server.port,
      username: "u",
      password: "p",
      hostKey: { verify: () => true },
      // After the key exchange, before the first authentication request.
      onTransport: (t) => void t.ready.then(() => t.sendIgnore("before auth")),
    });
    await client.exec("true");
    await client.close();
    assert.deepEqual(ignores, ["before auth"]);
    assert.deepEqual(kinds.slice(0, 2), ["kex", "userauth"]);
  });
});

const openssh = findOpenSsh();

describe("OpenSSH's ssh -R: tcpip-forward right after authentication", { skip: !openssh }, () => {
  let work: string;
  let keyFile: string;
  let server: SshServer;
  const binds: string[] = [];
  before(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-handlers-"));
    keyFile = path.join(work, "id");
    const made = await runProcess(
      openssh!.sshKeygen,
      ["-q", "-t", "ed25519", "-N", "", "-f", keyFile],
      { timeoutMs: 10_000 },
    );
    assert.equal(made.code, 0, made.stderr);
    const userKey = parsePublicKeyLine(fs.readFileSync(`${keyFile}.pub`, "utf8").trim()).key;
    server = await listen({
      hostname: "127.0.0.1",
      port: 0,
      hostKeys: [await hostKey("ssh-ed25519")],
      auth: {
        handlers: { publicKey: (_u, k) => k.fingerprint() === userKey.fingerprint() },
      },
      exec: (s) => s.exit(0),
      handlers: {
        globalRequest: {
          "tcpip-forward": (r) => {
            const v = new DataView(r.data.buffer, r.data.byteOffset, r.data.length);
            const len = v.getUint32(0);
            binds.push(`${td.decode(r.data.subarray(4, 4 + len))}:${v.getUint32(4 + len)}`);
            return accept(portReply(43_210));
          },
        },
      },
    });
  });
  after(() => {
    server.close();
    fs.rmSync(work, { recursive: true, force: true });
  });

  it("the handler in options answers; ssh reports the port it allocated", async () => {
    const r = await runSsh(
      testSshArgs(server.port, keyFile, "me", [
        "-o",
        "ExitOnForwardFailure=yes",
        "-R",
        "0:127.0.0.1:9",
        "127.0.0.1",
        "true",
      ]),
      { timeoutMs: 30_000 },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Allocated port 43210 for remote forward to 127\.0\.0\.1:9/);
    assert.deepEqual(binds, ["localhost:0"]);
  });
});

test("a subsystem behaviour receives the messages the application sends it", async () => {
  const fromRegistration = new Subject<string>();
  type Say = string;
  const behaviour: Behaviour<number, { greeting: string }, ChannelEvent, Say, ChannelContext> = {
    init: (args) => ({ state: args.greeting.length }),
    handleMsg: async (m, n, ctx) => {
      if (typeof m !== "string") return { state: n };
      await ctx.send(`${m}\n`);
      if (m === "bye") return (await ctx.exitStatus(0), { stop: "normal", state: n });
      return { state: n + 1 };
    },
  };
  const spec = channelBehaviour(behaviour, { greeting: "hi" }, { messages: fromRegistration });
  const { client, server } = await pair({ subsystems: { talk: spec } });
  const ups = firstValueFrom(
    server.channelLife$.pipe(filter((l) => l.lifecycle.phase === "up")),
  );
  const session = await client.subsystem("talk");
  await ups;
  const [channel] = spec.channels;
  assert.ok(channel, "the behaviour runs on the subsystem's channel");
  fromRegistration.next("from the registration");
  assert.equal(spec.send(channel, "from the inbox"), true);
  spec.send(channel, "bye");
  assert.equal(
    await new Response(session.stdout).text(),
    "from the registration\nfrom the inbox\nbye\n",
  );
  assert.equal((await session.exit).code, 0);
  await client.close();
});
