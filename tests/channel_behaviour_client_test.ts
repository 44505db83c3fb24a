// Client-side channel behaviours (Erlang's ssh_client_channel): the same
// serveChannel operator runs a behaviour on a channel the CLIENT opened.
// Only the public API (mod.ts) is used, as an application would.
import { test } from "node:test";
import assert from "node:assert/strict";
import { lastValueFrom, toArray } from "rxjs";
import {
  type Behaviour,
  type ChannelContext,
  type ChannelEvent,
  connect,
  generatePrivateKey,
  isConnectionLost,
  memoryPair,
  serveChannel,
  serveConnection,
  type TerminateReason,
} from "../mod.ts";

const te = new TextEncoder();
const td = new TextDecoder();

/** An SSH `string` (RFC 4251 §5): the payload of exec and subsystem requests. */
function sshString(s: string): Uint8Array {
  const b = te.encode(s);
  const out = new Uint8Array(4 + b.length);
  new DataView(out.buffer).setUint32(0, b.length);
  out.set(b, 4);
  return out;
}

async function pair() {
  const [a, b] = memoryPair();
  const key = await generatePrivateKey("ssh-ed25519");
  const server = serveConnection(b, {
    hostKeys: [key],
    auth: { handlers: { password: () => true }, failureDelay: 1 },
    exec: async (s) => {
      const out = s.stdout.getWriter();
      await out.write(te.encode(`out:${s.command}\n`));
      out.releaseLock();
      const err = s.stderr.getWriter();
      await err.write(te.encode("err\n"));
      err.releaseLock();
      if (s.command === "hang") return; // never exits
      await s.exit(s.command === "fail" ? 3 : 0);
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

interface ExecState {
  command: string;
  stdout: string;
  stderr: string;
  events: string[];
  code?: number;
}

/** Runs `command` via exec on channel-up, records every event, stops at EOF. */
function execBehaviour(
  terminated: { reason: TerminateReason; state: ExecState | undefined }[],
): Behaviour<ExecState, string, ChannelEvent, never, ChannelContext> {
  return {
    init: (command) => ({ state: { command, stdout: "", stderr: "", events: [] } }),
    handleMsg: async (m, s, ctx) => {
      if (m.type !== "channel-up") return { state: s };
      const ok = await ctx.channel.request("exec", sshString(s.command), { wantReply: true });
      if (!ok) return { stop: "exec refused", state: s };
      await ctx.eof(); // no stdin
      return { state: { ...s, events: [...s.events, "channel-up"] } };
    },
    handleSshMsg: (e, s) => {
      if (e.type === "data") {
        const text = td.decode(e.data);
        return {
          state: e.dataType === 0
            ? { ...s, stdout: s.stdout + text, events: [...s.events, "data"] }
            : { ...s, stderr: s.stderr + text, events: [...s.events, "stderr"] },
        };
      }
      if (e.type === "request" && "code" in e) {
        return { state: { ...s, code: e.code, events: [...s.events, `exit-status ${e.code}`] } };
      }
      if (e.type === "eof") return { stop: "done", state: { ...s, events: [...s.events, "eof"] } };
      return { state: s };
    },
    terminate: (reason, state) => void terminated.push({ reason, state }),
  };
}

test("a client-side behaviour runs exec: output, exit-status as an event, terminate once", async () => {
  const { client } = await pair();
  for (const [command, code] of [["hello", 0], ["fail", 3]] as const) {
    const terminated: { reason: TerminateReason; state: ExecState | undefined }[] = [];
    const channel = await client.openChannel("session");
    const life = await lastValueFrom(
      serveChannel(channel, execBehaviour(terminated), { args: command }).pipe(toArray()),
    );
    assert.deepEqual(life.map((l) => l.phase), ["starting", "up", "closing", "ended"]);
    const end = life.at(-1)!;
    assert.ok(end.phase === "ended");
    assert.equal(end.reason, "done", "a handler's stop reason is passed on as is");
    assert.equal(terminated.length, 1, "terminate runs exactly once");
    const s = terminated[0].state!;
    assert.equal(s.stdout, `out:${command}\n`);
    assert.equal(s.stderr, "err\n");
    assert.equal(s.code, code);
    assert.ok(s.events.includes(`exit-status ${code}`), s.events.join(","));
    assert.equal(s.events[0], "channel-up");
    assert.equal(s.events.at(-1), "eof");
    // The behaviour closed the channel on its way out.
    assert.equal(await channel.closed, undefined);
  }
  await client.close();
});

test("a client-side behaviour: connection loss and unsubscription each terminate exactly once", async () => {
  {
    const { client } = await pair();
    const terminated: { reason: TerminateReason; state: ExecState | undefined }[] = [];
    const channel = await client.openChannel("session");
    const done = lastValueFrom(serveChannel(channel, execBehaviour(terminated), { args: "hang" }));
    await new Promise((r) => setTimeout(r, 50));
    await client.transport.disconnect();
    const end = await done;
    assert.ok(end.phase === "ended");
    // The peer's CLOSE can win the race with the transport noticing the loss.
    assert.ok(
      isConnectionLost(end.reason) || end.reason === "normal",
      `ended with ${JSON.stringify(end.reason)}`,
    );
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(terminated.length, 1);
    assert.equal(terminated[0].state?.stdout, "out:hang\n");
  }
  {
    const { client } = await pair();
    const terminated: { reason: TerminateReason; state: ExecState | undefined }[] = [];
    const channel = await client.openChannel("session");
    const seen: string[] = [];
    const sub = serveChannel(channel, execBehaviour(terminated), { args: "hang" }).subscribe((l) =>
      seen.push(l.phase)
    );
    await new Promise((r) => setTimeout(r, 50));
    sub.unsubscribe();
    sub.unsubscribe();
    assert.equal(terminated.length, 1);
    assert.equal(terminated[0].reason, "shutdown");
    assert.equal(await channel.closed, undefined, "the channel was closed on shutdown");
    assert.deepEqual(seen, ["starting", "up"], "an unsubscribed observer sees nothing more");
    await client.close();
  }
});
