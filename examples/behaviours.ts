/**
 * Erlang's `ssh_server_channel` and `ssh_client_channel` behaviours as
 * rxssh operators: `init`, `handleSshMsg` (data, EOF, requests such as
 * exit-status), `handleMsg` (`channel-up` first, `timeout` for the idle
 * timeout, and the application's own messages) and `terminate`, called
 * exactly once with Erlang's reason (`normal`, `shutdown`,
 * `{ shutdown: reason }`, `{ error }`, or a handler's own).
 *
 * - Server side: an "echo" subsystem registered as a behaviour, with an
 *   idle timeout from `init`: after 300 ms without input it says goodbye,
 *   sends exit-status 0 and stops with `{ shutdown: "idle" }` (the
 *   behaviour closes the channel).
 * - Client side: `channelBehaviour(behaviour, args, { messages })` on a
 *   session channel the client opened: on `channel-up` it asks for the
 *   "subsystem"; the application hands it the lines to send as messages,
 *   one through the registration's stream and one through the channel's
 *   inbox (`spec.send`); it collects the echoes, sees exit-status arrive
 *   as an event, and stops with `normal` at EOF.
 *
 * Both lifecycles (starting, up, closing, ended with the reason) are
 * printed, and the server's `liveChannels` before, during and after.
 *
 * Run: `deno run -A examples/behaviours.ts` or `bun examples/behaviours.ts`.
 *
 * @module
 */
import { filter, firstValueFrom, lastValueFrom, of, tap } from "rxjs";
import {
  type Behaviour,
  channelBehaviour,
  type ChannelContext,
  type ChannelEvent,
  connect,
  generatePrivateKey,
  isConnectionLost,
  type Lifecycle,
  memoryPair,
  serveConnection,
  type TerminateReason,
} from "../mod.ts";

const te = new TextEncoder();
const td = new TextDecoder();
const IDLE_MS = 300;

/** An SSH `string` (RFC 4251 §5), the payload of a "subsystem" request. */
function sshString(s: string): Uint8Array {
  const b = te.encode(s);
  const out = new Uint8Array(4 + b.length);
  new DataView(out.buffer).setUint32(0, b.length);
  out.set(b, 4);
  return out;
}

const reasonText = (r: TerminateReason) =>
  typeof r === "string"
    ? r
    : isConnectionLost(r)
    ? `connection lost: ${String(r.error)}`
    : "shutdown" in r
    ? `{shutdown: ${JSON.stringify(r.shutdown)}}`
    : `{error: ${String(r.error)}}`;
const phaseText = (l: Lifecycle<unknown>) =>
  l.phase === "ended" || l.phase === "closing" ? `${l.phase} (${reasonText(l.reason)})` : l.phase;

// ---------------------------------------------------------------- server side

/** Echo with an idle timeout; the state counts echoed bytes. */
const echo: Behaviour<number, { idle: number }, ChannelEvent, never, ChannelContext> = {
  init: (args) => ({ state: 0, timeout: args.idle }),
  handleSshMsg: async (e, n, ctx) => {
    if (e.type === "data") {
      await ctx.send(e.data);
      return { state: n + e.data.length, timeout: IDLE_MS }; // each event re-arms the timeout
    }
    if (e.type === "eof") {
      await ctx.exitStatus(0);
      return { stop: "eof", state: n };
    }
    return { state: n, timeout: IDLE_MS };
  },
  handleMsg: async (m, n, ctx) => {
    if (m.type === "timeout") {
      await ctx.send(`bye after ${IDLE_MS} ms idle (${n} bytes echoed)\n`);
      await ctx.exitStatus(0);
      return { stop: { shutdown: "idle" }, state: n };
    }
    return { state: n }; // channel-up: init's timeout stays armed
  },
  terminate: (reason, n) =>
    console.log(`[server] terminate(${reasonText(reason)}) after ${n} bytes echoed`),
};

// ---------------------------------------------------------------- client side

interface ClientState {
  subsystem: string;
  received: string;
  exitCode?: number;
}
/** The application's messages to the client behaviour: lines to send. */
type Line = { line: string };
/** Asks for a subsystem on channel-up, sends the lines it is given, collects output; stops at EOF. */
const client$: Behaviour<ClientState, { subsystem: string }, ChannelEvent, Line, ChannelContext> = {
  init: (args) => ({ state: { ...args, received: "" } }),
  handleMsg: async (m, s, ctx) => {
    if ("line" in m) {
      // Messages sent before channel-up was handled waited in the mailbox until now.
      await ctx.send(`${m.line}\n`);
      return { state: s };
    }
    if (m.type !== "channel-up") return { state: s };
    // Client channels have no session helpers here: the behaviour sends the request itself.
    const ok = await ctx.channel.request("subsystem", sshString(s.subsystem), { wantReply: true });
    console.log(`[client] channel-up: subsystem "${s.subsystem}" ${ok ? "accepted" : "refused"}`);
    if (!ok) return { stop: "subsystem refused", state: s };
    return { state: s };
  },
  handleSshMsg: (e, s) => {
    if (e.type === "data") {
      console.log(`[client] data: ${JSON.stringify(td.decode(e.data))}`);
      return { state: { ...s, received: s.received + td.decode(e.data) } };
    }
    if (e.type === "request" && "code" in e) {
      console.log(`[client] exit-status event: ${e.code}`);
      return { state: { ...s, exitCode: e.code } };
    }
    if (e.type === "eof") {
      console.log("[client] eof");
      return { stop: "normal", state: s };
    }
    return { state: s };
  },
  terminate: (reason, s) =>
    console.log(
      `[client] terminate(${reasonText(reason)}): received ${
        JSON.stringify(s?.received)
      }, exit ${s?.exitCode}`,
    ),
};

// ---------------------------------------------------------------- wiring

const hostKey = await generatePrivateKey("ssh-ed25519");
const [clientEnd, serverEnd] = memoryPair();
const serving = serveConnection(serverEnd, {
  hostKeys: [hostKey],
  auth: { handlers: { password: (u, p) => u === "demo" && p === "demo" } },
  subsystems: {
    echo: channelBehaviour(echo, { idle: IDLE_MS }),
  },
});
const client = await connect({
  stream: clientEnd,
  username: "demo",
  password: "demo",
  hostKey: { fingerprint: hostKey.publicKey.fingerprint() },
});
const server = await serving;
const live = () =>
  `${server.liveChannels.size} [${
    [...server.liveChannels.values()].map((c) => `${c.channelId}:${c.name}:${c.lifecycle.phase}`)
      .join(", ")
  }]`;

server.channelLife$.subscribe((l) =>
  console.log(`[server] lifecycle of channel ${l.channelId} (${l.name}): ${phaseText(l.lifecycle)}`)
);
const serverEnded = firstValueFrom(
  server.channelLife$.pipe(filter((l) => l.lifecycle.phase === "ended")),
);
console.log(`server liveChannels before: ${live()}`);
server.channelLife$.pipe(filter((l) => l.lifecycle.phase === "up")).subscribe(() =>
  setTimeout(() => console.log(`server liveChannels while up: ${live()}`), 0)
);

const channel = await client.openChannel("session");
console.log(`[client] opened session channel ${channel.localId}`);
// The registration checks args against the behaviour's; its messages stream reaches handleMsg.
const spec = channelBehaviour(client$, { subsystem: "echo" }, { messages: of({ line: "hello" }) });
const running = lastValueFrom(
  spec.run(channel).pipe(tap((l) => console.log(`[client] lifecycle: ${phaseText(l)}`))),
);
// The channel's own inbox: what the application sends reaches this channel's behaviour only.
console.log(`[client] inbox send: ${spec.send(channel, { line: "world" })}`);
const clientLife = await running;
await serverEnded;
console.log(`server liveChannels after: ${live()}`);
console.log(`client behaviour ended: ${phaseText(clientLife)}`);
await client.close();
console.log("behaviours example done");
