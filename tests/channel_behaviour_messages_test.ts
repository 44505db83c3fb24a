// Application messages to channel behaviours registered with channelBehaviour()
// (Erlang's handle_msg for anything sent to the channel process): from the
// registration's observable and from the per-channel inbox, spec.send().
// The spec runs on any channel; here on session channels our client opened
// to a server whose "chat" command echoes its input. Public API only.
import { test } from "node:test";
import assert from "node:assert/strict";
import { lastValueFrom, Subject, toArray } from "rxjs";
import {
  type Behaviour,
  type Channel,
  channelBehaviour,
  type ChannelBehaviourSpec,
  type ChannelContext,
  type ChannelEvent,
  connect,
  generatePrivateKey,
  memoryPair,
  serveConnection,
  type TerminateReason,
} from "../mod.ts";

const te = new TextEncoder();
const td = new TextDecoder();

async function pair() {
  const [a, b] = memoryPair();
  const key = await generatePrivateKey("ssh-ed25519");
  const server = serveConnection(b, {
    hostKeys: [key],
    auth: { handlers: { password: () => true }, failureDelay: 1 },
    exec: async (s) => {
      // "chat": echoes stdin until EOF, then exits 0.
      await s.stdin.pipeTo(s.stdout, { preventClose: true }).catch(() => {});
      await s.exit(0);
    },
  });
  const client = await connect({
    stream: a,
    username: "u",
    password: "p",
    hostKey: { fingerprint: key.publicKey.fingerprint() },
  });
  return { client, server: await server };
}

type Msg = { say: string } | { eof: true } | { bye: TerminateReason };
interface Args {
  command: string;
  /** Called with everything the channel received so far. */
  heard: (channel: Channel, text: string) => void;
}

/** Runs `command` on channel-up; says what it is told to, reports what it hears. */
function chatter(
  terminated: { channel: Channel; reason: TerminateReason }[],
): Behaviour<{ args: Args; heard: string }, Args, ChannelEvent, Msg, ChannelContext> {
  return {
    init: (args) => ({ state: { args, heard: "" } }),
    handleMsg: async (m, s, ctx) => {
      if ("say" in m) await ctx.send(m.say);
      else if ("eof" in m) await ctx.eof();
      else if ("bye" in m) return { stop: m.bye, state: s };
      else if (m.type === "channel-up") {
        const ok = await ctx.channel.request("exec", sshString(s.args.command));
        if (!ok) return { stop: "exec refused", state: s };
      }
      return { state: s };
    },
    handleSshMsg: (e, s, ctx) => {
      if (e.type !== "data") return { state: s };
      const heard = s.heard + td.decode(e.data);
      s.args.heard(ctx.channel, heard);
      return { state: { ...s, heard } };
    },
    terminate: (reason, _s, ctx) => void terminated.push({ channel: ctx.channel, reason }),
  };
}

function sshString(s: string): Uint8Array {
  const b = te.encode(s);
  const out = new Uint8Array(4 + b.length);
  new DataView(out.buffer).setUint32(0, b.length);
  out.set(b, 4);
  return out;
}

/** Resolves once `channel` has heard `text`, through the behaviour's `heard` hook. */
function hearing() {
  const heard = new Map<Channel, string>();
  const waiters: { channel: Channel; text: string; resolve: () => void }[] = [];
  return {
    hook: (channel: Channel, text: string) => {
      heard.set(channel, text);
      for (const w of waiters.filter((w) => w.channel === channel && w.text === text)) w.resolve();
    },
    until: (channel: Channel, text: string) =>
      heard.get(channel) === text
        ? Promise.resolve()
        : new Promise<void>((resolve) => waiters.push({ channel, text, resolve })),
  };
}

test("a registered behaviour gets messages from its registration observable and its inbox", async () => {
  const { client } = await pair();
  const terminated: { channel: Channel; reason: TerminateReason }[] = [];
  const ears = hearing();
  const broadcast = new Subject<Msg>();
  const spec = channelBehaviour(chatter(terminated), { command: "chat", heard: ears.hook }, {
    messages: broadcast,
  });
  const channel = await client.openChannel("session");
  const life = lastValueFrom(spec.run(channel).pipe(toArray()));
  assert.deepEqual([...spec.channels], [channel]);
  // Both wait in the mailbox behind channel-up (which runs exec first), in the order sent.
  broadcast.next({ say: "to all\n" });
  assert.equal(spec.send(channel, { say: "to you\n" }), true);
  await ears.until(channel, "to all\nto you\n");
  // A stop term from a message reaches terminate as is; the behaviour closes the channel.
  spec.send(channel, { bye: { shutdown: "told to" } });
  const phases = await life;
  assert.deepEqual(phases.map((l) => l.phase), ["starting", "up", "closing", "ended"]);
  assert.deepEqual(terminated, [{ channel, reason: { shutdown: "told to" } }]);
  assert.equal(await channel.closed, undefined);
  assert.equal(spec.channels.size, 0);
  assert.equal(spec.send(channel, { say: "too late" }), false, "no behaviour runs there now");
  await client.close();
});

test("each channel has its own inbox and per-channel message stream; peer close is normal, unsubscribe shutdown", async () => {
  const { client } = await pair();
  const terminated: { channel: Channel; reason: TerminateReason }[] = [];
  const ears = hearing();
  const streams = new Map<Channel, Subject<Msg>>();
  const spec = channelBehaviour(chatter(terminated), { command: "chat", heard: ears.hook }, {
    messages: (channel) => {
      const s = new Subject<Msg>();
      streams.set(channel, s);
      return s;
    },
  });
  const one = await client.openChannel("session");
  const two = await client.openChannel("session");
  const lifeOne = lastValueFrom(spec.run(one));
  const subTwo = spec.run(two).subscribe();
  assert.equal(spec.channels.size, 2);
  spec.send(one, { say: "inbox one\n" });
  streams.get(two)!.next({ say: "stream two\n" });
  streams.get(one)!.next({ say: "stream one\n" });
  await ears.until(one, "inbox one\nstream one\n");
  await ears.until(two, "stream two\n");
  // EOF makes the server's chat exit and close: the peer's close ends the behaviour with normal.
  spec.send(one, { eof: true });
  const end = await lifeOne;
  assert.ok(end.phase === "ended" && end.reason === "normal", JSON.stringify(end));
  // Unsubscribing from outside is shutdown, and the channel is closed.
  subTwo.unsubscribe();
  assert.deepEqual(terminated, [{ channel: one, reason: "normal" }, {
    channel: two,
    reason: "shutdown",
  }]);
  assert.equal(await two.closed, undefined);
  assert.equal(spec.send(two, { say: "gone" }), false);
  assert.equal(spec.channels.size, 0);
  await client.close();
});

test("registration is typed: args against the behaviour's, messages against its M", () => {
  const behaviour = chatter([]);
  const heard = () => {};
  // @ts-expect-error: `command` must be a string, as the behaviour's init takes it
  channelBehaviour(behaviour, { command: 42, heard });
  // @ts-expect-error: `heard` is missing
  channelBehaviour(behaviour, { command: "chat" });
  const spec = channelBehaviour(behaviour, { command: "chat", heard });
  const channel = {} as Channel;
  // @ts-expect-error: not one of the behaviour's messages
  spec.send(channel, { shout: "x" });
  // Any registration fits a registry of specs, as the server's subsystems hold them.
  const registry: Record<string, ChannelBehaviourSpec> = { chat: spec };
  assert.equal(registry.chat.send(channel, { say: "nobody runs here" }), false);
});
