/**
 * Channel behaviours on real channels: a {@link Channel}'s data, EOF,
 * requests and close become the behaviour's connection-protocol events;
 * the context writes (paced by the peer's window) and closes. The close
 * handshake and flow control are the behaviour's job, not the application's.
 *
 * @module
 */
import { merge, Observable, type SchedulerLike } from "rxjs";
import type { Channel, IncomingChannelRequest } from "../connection/channel.ts";
import { type PtyRequest, SessionRequest } from "../connection/session.ts";
import { type Behaviour, type BehaviourInput, type Lifecycle, runBehaviour } from "./behaviour.ts";

/**
 * The connection-protocol events a channel behaviour receives
 * (Erlang's `ssh_connection:event()`), with session requests decoded.
 *
 * @example
 * ```ts
 * import type { ChannelEvent } from "./channel_behaviour.ts";
 * const isInput = (e: ChannelEvent) => e.type === "data" && e.dataType === 0;
 * ```
 */
export type ChannelEvent =
  | { type: "data"; data: Uint8Array; dataType: 0 | 1 }
  | { type: "eof" }
  | ({ type: "request"; request: IncomingChannelRequest } & DecodedRequest);

/**
 * A channel request with its payload decoded when the type is known.
 *
 * @example
 * ```ts
 * import type { DecodedRequest } from "./channel_behaviour.ts";
 * const d: DecodedRequest = { name: "exec", command: "ls" };
 * ```
 */
export type DecodedRequest =
  | { name: "exec"; command: string }
  | { name: "shell" }
  | { name: "subsystem"; subsystem: string }
  | { name: "pty-req"; pty: PtyRequest }
  | { name: "env"; variable: string; value: string }
  | { name: "window-change"; cols: number; rows: number; widthPx: number; heightPx: number }
  | { name: "signal"; signal: string }
  | { name: "exit-status"; code: number }
  | { name: "exit-signal"; signal: string; coreDumped: boolean; message: string }
  | { name: string };

function decode(r: IncomingChannelRequest): DecodedRequest {
  try {
    switch (r.type) {
      case "exec":
        return { name: "exec", command: SessionRequest.exec.decode(r.data) };
      case "subsystem":
        return { name: "subsystem", subsystem: SessionRequest.subsystem.decode(r.data) };
      case "pty-req":
        return { name: "pty-req", pty: SessionRequest.pty.decode(r.data) };
      case "env": {
        const e = SessionRequest.env.decode(r.data);
        return { name: "env", variable: e.name, value: e.value };
      }
      case "window-change":
        return { name: "window-change", ...SessionRequest.windowChange.decode(r.data) };
      case "signal":
        return { name: "signal", signal: SessionRequest.signal.decode(r.data) };
      case "exit-status":
        return { name: "exit-status", code: SessionRequest.exitStatus.decode(r.data) };
      case "exit-signal":
        return { name: "exit-signal", ...SessionRequest.exitSignal.decode(r.data) };
    }
  } catch {
    // malformed payload: hand over the raw request
  }
  return { name: r.type };
}

/**
 * What every callback of a channel behaviour gets.
 *
 * @example
 * ```ts
 * import type { ChannelContext } from "./channel_behaviour.ts";
 * const greet = (ctx: ChannelContext) => ctx.send("hello\n");
 * ```
 */
export interface ChannelContext {
  /** The channel. */
  readonly channel: Channel;
  /** Writes data (or stderr), waiting for the peer's window. */
  send(data: Uint8Array | string, options?: { stderr?: boolean }): Promise<void>;
  /** Sends EOF. */
  eof(): Promise<void>;
  /** Sends exit-status (or exit-signal), then EOF. The behaviour then stops itself with `{ stop: "normal" }` to close. */
  exitStatus(code: number): Promise<void>;
}

const te = new TextEncoder();

/** Reads a stream chunk by chunk, reading the next only when the previous was handled. */
function paced(
  stream: ReadableStream<Uint8Array>,
  toEvent: (chunk: Uint8Array) => ChannelEvent,
  end: ChannelEvent | undefined,
  onDone: () => void,
): Observable<BehaviourInput<ChannelEvent, never>> {
  return new Observable<BehaviourInput<ChannelEvent, never>>((sub) => {
    const reader = stream.getReader();
    let stopped = false;
    const next = () => {
      reader.read().then(({ value, done }) => {
        if (stopped) return;
        if (done) {
          if (end) sub.next({ kind: "ssh", event: end });
          onDone();
          return sub.complete();
        }
        sub.next({ kind: "ssh", event: toEvent(value), ack: next });
      }, () => {
        onDone();
        sub.complete(); // stream errors surface through the channel's closed promise
      });
    };
    next();
    return () => {
      stopped = true;
      reader.cancel().catch(() => {});
    };
  });
}

/**
 * Runs `behaviour` on `channel`: emits its lifecycle and completes after
 * `terminate`. When the behaviour ends for any reason but connection loss,
 * the channel is closed (CLOSE sent if not yet sent) before `terminate`
 * runs, as Erlang's behaviour does. Application messages come from
 * `messages`.
 *
 * @example
 * ```ts
 * import { serveChannel } from "./channel_behaviour.ts";
 * import type { Channel } from "../connection/channel.ts";
 * const echo = {
 *   init: () => ({ state: 0 }),
 *   handleSshMsg: async (e, n, ctx) => {
 *     if (e.type === "data") await ctx.send(e.data);
 *     if (e.type === "eof") return { stop: "normal", state: n };
 *     return { state: n + 1 };
 *   },
 * };
 * function run(channel: Channel) {
 *   serveChannel(channel, echo, undefined).subscribe((l) => console.log(l.phase));
 * }
 * ```
 */
export function serveChannel<S, A, M = never>(
  channel: Channel,
  behaviour: Behaviour<S, A, ChannelEvent, M, ChannelContext>,
  args: A,
  options: { messages?: Observable<M>; scheduler?: SchedulerLike } = {},
): Observable<Lifecycle<S>> {
  const context: ChannelContext = {
    channel,
    async send(data, o = {}) {
      const w = (o.stderr ? channel.stderrWritable : channel.writable).getWriter();
      try {
        await w.write(typeof data === "string" ? te.encode(data) : data);
      } finally {
        w.releaseLock();
      }
    },
    eof: () => channel.writable.close().catch(() => {}),
    async exitStatus(code) {
      // The status before EOF: some clients close the channel as soon as they see EOF.
      await channel.drained();
      await channel.request("exit-status", SessionRequest.exitStatus.encode(code), {
        wantReply: false,
      });
      await channel.writable.close().catch(() => {});
    },
  };
  const requests = new Observable<BehaviourInput<ChannelEvent, never>>((sub) => {
    const s = channel.requests$.subscribe({
      next: (request) => {
        request.defer(); // the behaviour answers; unanswered requests are refused after handling
        let answered = false;
        const wrapped: IncomingChannelRequest = {
          ...request,
          accept: () => ((answered = true), request.accept()),
          reject: () => ((answered = true), request.reject()),
        };
        sub.next({
          kind: "ssh",
          event: { type: "request", request: wrapped, ...decode(request) } as ChannelEvent,
          ack: () => answered || request.reject(),
        });
      },
      complete: () => sub.complete(),
    });
    return () => s.unsubscribe();
  });
  // "closed" goes into the mailbox only after the last data and the EOF did, so a slow
  // handler still sees everything the peer sent before it closed.
  let outDone!: () => void;
  let errDone!: () => void;
  const drained = Promise.all([
    new Promise<void>((r) => (outDone = r)),
    new Promise<void>((r) => (errDone = r)),
  ]);
  const closed = new Observable<BehaviourInput<ChannelEvent, M>>((sub) => {
    channel.closed.then((error) => {
      if (error) return sub.error(error);
      drained.then(() => sub.next({ kind: "closed" }));
    });
  });
  const input = merge(
    paced(
      channel.readable,
      (data) => ({ type: "data", data, dataType: 0 }),
      { type: "eof" },
      () => outDone(),
    ),
    paced(
      channel.stderr,
      (data) => ({ type: "data", data, dataType: 1 }),
      undefined,
      () => errDone(),
    ),
    requests,
    closed,
    options.messages
      ? new Observable<BehaviourInput<ChannelEvent, M>>((sub) => {
        const s = options.messages!.subscribe((message) => sub.next({ kind: "msg", message }));
        return () => s.unsubscribe();
      })
      : new Observable<never>(),
  );
  return input.pipe(
    runBehaviour(behaviour, args, context, {
      scheduler: options.scheduler,
      onTerminate: (reason) =>
        reason.kind === "connection-lost" ? undefined : channel.close().catch(() => {}),
    }),
  );
}
