// Channel behaviours (lib/rx/channel_behaviour.ts) registered as server
// subsystems, driven by our client: echo, speaking first on channel-up,
// the idle timeout, a crash that ends one channel only, window pacing,
// and the lifecycle the server exposes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { filter, firstValueFrom, toArray } from "rxjs";
import { connect } from "../lib/client.ts";
import { serveConnection, type ServerConnection } from "../lib/server.ts";
import {
  channelBehaviour,
  type ChannelContext,
  type ChannelEvent,
} from "../lib/rx/channel_behaviour.ts";
import { type Behaviour, isConnectionLost } from "../lib/rx/behaviour.ts";
import { memoryPair } from "../lib/runtime/memory.ts";
import { hostKey } from "./_transport_pair.ts";

type B<S, A = unknown> = Behaviour<S, A, ChannelEvent, never, ChannelContext>;
const td = new TextDecoder();

/** Echoes data; on EOF sends exit-status 0 and stops normally. */
const echo: B<number> = {
  init: () => ({ state: 0 }),
  handleSshMsg: async (e, n, ctx) => {
    if (e.type === "data") {
      await ctx.send(e.data);
      return { state: n + e.data.length };
    }
    if (e.type === "eof") {
      await ctx.exitStatus(0);
      return { stop: "normal", state: n };
    }
    return { state: n };
  },
};

/** Speaks first, then waits; ends itself after `idle` ms of silence (init's timeout, not re-armed). */
const greeter: B<string, { idle: number }> = {
  init: (args) => ({ state: "new", timeout: args.idle }),
  handleMsg: async (m, s, ctx) => {
    if (m.type === "channel-up") {
      await ctx.send("hello first\n");
      return { state: "greeted" };
    }
    if (m.type === "timeout") {
      await ctx.send(`idle after ${s}\n`);
      await ctx.exitStatus(7);
      return { stop: "idle", state: s };
    }
    return { state: s };
  },
};

const crasher: B<null> = {
  init: () => ({ state: null }),
  handleSshMsg: (e) => {
    if (e.type === "data") throw new Error("behaviour crashed");
    return { state: null };
  },
};

/** Writes 8 MiB as fast as the window allows, counting what it got through. */
let flooded = 0;
const flood: B<null> = {
  init: () => ({ state: null }),
  handleMsg: async (m, s, ctx) => {
    if (m.type === "channel-up") {
      const chunk = new Uint8Array(64 * 1024);
      for (let i = 0; i < 128; i++) {
        await ctx.send(chunk);
        flooded += chunk.length;
      }
      await ctx.exitStatus(0);
      return { stop: "normal", state: s };
    }
    return { state: s };
  },
};

/** Handles data slowly and records what it saw. */
const slowSeen: string[] = [];
const slow: B<null> = {
  init: () => ({ state: null }),
  handleSshMsg: async (e, s) => {
    await new Promise((r) => setTimeout(r, 30));
    slowSeen.push(e.type === "data" ? td.decode(e.data) : e.type);
    return { state: s };
  },
  terminate: (reason) =>
    void slowSeen.push(`terminate:${typeof reason === "string" ? reason : JSON.stringify(reason)}`),
};

async function pair() {
  const [a, b] = memoryPair();
  const key = await hostKey("ssh-ed25519");
  const server = serveConnection(b, {
    hostKeys: [key],
    auth: { handlers: { password: () => true }, failureDelay: 1 },
    exec: async (s) => void await s.exit(0),
    subsystems: {
      echo: channelBehaviour(echo, undefined),
      greeter: channelBehaviour(greeter, { idle: 50 }),
      crasher: channelBehaviour(crasher, undefined),
      flood: channelBehaviour(flood, undefined),
      slow: channelBehaviour(slow, undefined),
    },
  });
  const client = await connect({
    stream: a,
    username: "u",
    password: "p",
    hostKey: { fingerprint: key.publicKey.fingerprint() },
  });
  return { client, server: await server as ServerConnection };
}

test("an echo behaviour: data back, EOF → exit-status and close; the lifecycle is observable", async () => {
  const { client, server } = await pair();
  const life = firstValueFrom(server.channelLife$.pipe(toArray()));
  const s = await client.subsystem("echo");
  assert.equal([...server.liveChannels.values()][0]?.lifecycle.phase, "up");
  const w = s.stdin.getWriter();
  await w.write(new TextEncoder().encode("ping"));
  await w.close();
  assert.equal(await new Response(s.stdout).text(), "ping");
  assert.equal((await s.exit).code, 0);
  await firstValueFrom(server.channelLife$.pipe(filter((l) => l.lifecycle.phase === "ended")));
  assert.equal(server.liveChannels.size, 0);
  await client.close();
  const phases = (await life).map((l) => l.lifecycle.phase);
  assert.deepEqual(phases, ["starting", "up", "closing", "ended"]);
  const ended = (await life).at(-1)!.lifecycle;
  assert.ok(ended.phase === "ended" && ended.reason === "normal", JSON.stringify(ended));
});

test("channel-up lets the server speak first; the idle timeout arrives as a message", async () => {
  const { client } = await pair();
  const s = await client.subsystem("greeter");
  assert.equal(await new Response(s.stdout).text(), "hello first\nidle after greeted\n");
  assert.equal((await s.exit).code, 7);
  await client.close();
});

test("a crashing behaviour ends its channel only; the connection and other channels carry on", async () => {
  const { client, server } = await pair();
  const ended = firstValueFrom(
    server.channelLife$.pipe(filter((l) => l.name === "crasher" && l.lifecycle.phase === "ended")),
  );
  const s = await client.subsystem("crasher");
  const w = s.stdin.getWriter();
  await w.write(new Uint8Array([1]));
  const info = await s.exit;
  assert.equal(info.code, undefined);
  const l = (await ended).lifecycle;
  assert.ok(l.phase === "ended" && typeof l.reason === "object" && "error" in l.reason);
  assert.match(String(l.reason.error), /behaviour crashed/);
  assert.equal((await client.exec("still fine")).code, 0);
  await client.close();
});

test("output faster than the peer reads is paced by the window, not buffered", async () => {
  const { client } = await pair();
  flooded = 0;
  const s = await client.subsystem("flood");
  await new Promise((r) => setTimeout(r, 300));
  assert.ok(flooded <= 5 * 1024 * 1024, `behaviour ran ahead of the window: ${flooded} bytes`);
  const got = await new Response(s.stdout).arrayBuffer();
  assert.equal(got.byteLength, 8 * 1024 * 1024);
  assert.equal((await s.exit).code, 0);
  await client.close();
});

test("connection loss terminates live behaviours with { shutdown: connection lost }", async () => {
  const { client, server } = await pair();
  const ended = firstValueFrom(
    server.channelLife$.pipe(filter((l) => l.lifecycle.phase === "ended")),
  );
  await client.subsystem("echo");
  await new Promise((r) => setTimeout(r, 20));
  await client.transport.disconnect();
  const l = (await ended).lifecycle;
  assert.ok(l.phase === "ended");
  // The peer's CLOSE can win the race with the transport noticing the loss.
  assert.ok(isConnectionLost(l.reason) || l.reason === "normal", JSON.stringify(l.reason));
});

void td;

test("a slow behaviour still sees every chunk and the EOF when the peer closes right away", async () => {
  const { client, server } = await pair();
  slowSeen.length = 0;
  const ended = firstValueFrom(
    server.channelLife$.pipe(filter((l) => l.lifecycle.phase === "ended")),
  );
  const s = await client.subsystem("slow");
  const w = s.stdin.getWriter();
  for (let i = 0; i < 5; i++) await w.write(new TextEncoder().encode(`c${i}`));
  await w.close();
  s.channel.close().catch(() => {}); // CLOSE right behind the data and EOF
  await ended;
  assert.deepEqual(slowSeen, ["c0", "c1", "c2", "c3", "c4", "eof", "terminate:normal"]);
  await client.close();
});
