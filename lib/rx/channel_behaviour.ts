/**
 * Channel behaviours on real channels: a {@link Channel}'s data, EOF,
 * requests and close become the behaviour's connection-protocol events;
 * the context writes (paced by the peer's window) and closes. The close
 * handshake and flow control are the behaviour's job, not the application's.
 * {@link channelBehaviour} registers a behaviour with its arguments (typed
 * against the behaviour's) and its application messages, e.g. as a server
 * subsystem.
 *
 * @module
 */
import { merge, Observable, type SchedulerLike, Subject } from "rxjs";
import type { Channel, IncomingChannelRequest } from "../connection/channel.ts";
import {
  type DecodedRequest,
  decodeSessionRequest,
  type ExitStatus,
  sendExitStatus,
} from "../connection/session.ts";
import {
  type Behaviour,
  type BehaviourInput,
  isConnectionLost,
  type Lifecycle,
  runBehaviour,
} from "./behaviour.ts";

export type { DecodedRequest } from "../connection/session.ts";

/**
 * The connection-protocol events a channel behaviour receives
 * (Erlang's `ssh_connection:event()`), with session requests decoded by
 * `decodeSessionRequest` (a malformed one comes as `{ name }` alone).
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

function decode(r: IncomingChannelRequest): DecodedRequest {
  try {
    return decodeSessionRequest(r.type, r.data);
  } catch {
    return { name: r.type }; // malformed payload: hand over the raw request
  }
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
  /**
   * Sends exit-status (or exit-signal) after the output, then EOF
   * (`sendExitStatus`). The behaviour then stops itself, e.g. with
   * `{ stop: "normal" }`, which closes the channel.
   */
  exitStatus(status: ExitStatus): Promise<void>;
}

const te = new TextEncoder();

function channelContext(channel: Channel): ChannelContext {
  return {
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
    exitStatus: (status) => sendExitStatus(channel, status),
  };
}

/**
 * Reads a stream chunk by chunk, reading the next only when the previous
 * was handled: each chunk becomes `as.toEvent(chunk)`, the stream's end
 * `as.end` (if any); `as.onDone` runs when it ends or fails.
 */
function paced(
  stream: ReadableStream<Uint8Array>,
  as: {
    toEvent: (chunk: Uint8Array) => ChannelEvent;
    end?: ChannelEvent;
    onDone: () => void;
  },
): Observable<BehaviourInput<ChannelEvent, never>> {
  const { toEvent, end, onDone } = as;
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

/** The channel's requests as events; the behaviour answers them, unanswered ones are refused. */
function requestEvents(channel: Channel): Observable<BehaviourInput<ChannelEvent, never>> {
  return new Observable<BehaviourInput<ChannelEvent, never>>((sub) => {
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
}

/** Everything that goes into a channel behaviour's mailbox, in the order it happened. */
function channelInputs<M>(
  channel: Channel,
  messages: Observable<M> | undefined,
): Observable<BehaviourInput<ChannelEvent, M>> {
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
  const application = new Observable<BehaviourInput<ChannelEvent, M>>((sub) => {
    const s = messages?.subscribe({
      next: (message) => sub.next({ kind: "msg", message }),
      error: (error) => sub.next({ kind: "failed", error }),
    });
    return () => s?.unsubscribe();
  });
  return merge(
    paced(channel.readable, {
      toEvent: (data) => ({ type: "data", data, dataType: 0 }),
      end: { type: "eof" },
      onDone: () => outDone(),
    }),
    paced(channel.stderr, {
      toEvent: (data) => ({ type: "data", data, dataType: 1 }),
      onDone: () => errDone(),
    }),
    requestEvents(channel),
    closed,
    application,
  );
}

/**
 * Runs `behaviour` on `channel`: emits its lifecycle and completes after
 * `terminate`. When the behaviour ends for any reason but connection loss,
 * the channel is closed (CLOSE sent if not yet sent) before `terminate`
 * runs, as Erlang's behaviour does. `options.args` go to `init`;
 * application messages come from `options.messages` (its failure ends the
 * behaviour with `{ error }`). Reasons:
 * the peer's close is `"normal"`, unsubscribing `"shutdown"`, connection
 * loss `{ shutdown: "connection lost", error }`, a throw `{ error }`, and a
 * handler's `{ stop }` its own reason.
 *
 * @example
 * ```ts
 * import { type ChannelContext, type ChannelEvent, serveChannel } from "./channel_behaviour.ts";
 * import type { Behaviour } from "./behaviour.ts";
 * import type { Channel } from "../connection/channel.ts";
 * const echo: Behaviour<number, undefined, ChannelEvent, never, ChannelContext> = {
 *   init: () => ({ state: 0 }),
 *   handleSshMsg: async (e, n, ctx) => {
 *     if (e.type === "data") await ctx.send(e.data);
 *     if (e.type === "eof") return { stop: "normal", state: n };
 *     return { state: n + 1 };
 *   },
 * };
 * function run(channel: Channel) {
 *   serveChannel(channel, echo, { args: undefined }).subscribe((l) => console.log(l.phase));
 * }
 * ```
 */
export function serveChannel<S, A, M = never>(
  channel: Channel,
  behaviour: Behaviour<S, A, ChannelEvent, M, ChannelContext>,
  options: { args: A; messages?: Observable<M>; scheduler?: SchedulerLike },
): Observable<Lifecycle<S>> {
  return channelInputs(channel, options.messages).pipe(
    runBehaviour(behaviour, options.args, {
      context: channelContext(channel),
      scheduler: options.scheduler,
      onTerminate: (reason) =>
        isConnectionLost(reason) ? undefined : channel.close().catch(() => {}),
    }),
  );
}

/**
 * A channel behaviour registered with its arguments and application
 * messages, ready to run on any number of channels (e.g. as a server
 * subsystem: the server calls `run` for each channel that asks for it).
 * Made by {@link channelBehaviour}. `S` is the behaviour's state, `M` its
 * application messages; every spec is assignable to the default
 * `ChannelBehaviourSpec` (so a registry can hold specs of many behaviours).
 *
 * @example
 * ```ts
 * import type { ChannelBehaviourSpec } from "./channel_behaviour.ts";
 * const broadcast = (spec: ChannelBehaviourSpec<unknown, string>, line: string) => {
 *   for (const channel of spec.channels) spec.send(channel, line);
 * };
 * ```
 */
export interface ChannelBehaviourSpec<S = unknown, M = unknown> {
  /**
   * Runs the behaviour on `channel` with the registered arguments: emits its
   * lifecycle, completes after `terminate`; unsubscribing shuts it down
   * (`terminate` gets `"shutdown"`).
   */
  run(channel: Channel): Observable<Lifecycle<S>>;
  /**
   * Puts `message` in the mailbox of the behaviour running on `channel`
   * (its `handleMsg` gets it, after everything sent before). False when it
   * does not run there (not yet, or not any more); a message sent while it
   * is closing (`terminate` running) is dropped.
   */
  send(channel: Channel, message: M): boolean;
  /** The channels the behaviour runs on now (until each one's lifecycle ends); a snapshot. */
  readonly channels: ReadonlySet<Channel>;
}

/**
 * Options of {@link channelBehaviour}.
 *
 * @example
 * ```ts
 * import { interval, map } from "rxjs";
 * import type { ChannelBehaviourOptions } from "./channel_behaviour.ts";
 * const o: ChannelBehaviourOptions<{ tick: number }> = { messages: interval(1000).pipe(map((tick) => ({ tick }))) };
 * ```
 */
export interface ChannelBehaviourOptions<M> {
  /**
   * Application messages for `handleMsg`: one stream for every channel the
   * behaviour runs on, or a function that makes one per channel.
   */
  messages?: Observable<M> | ((channel: Channel) => Observable<M>);
}

/**
 * Registers a channel behaviour with its `init` arguments (checked against
 * the behaviour's `A`) and its application messages (`M`, any type): what
 * Erlang's daemon `subsystems` option holds as `{Name, {Module, Args}}`.
 * Messages reach `handleMsg` from `options.messages` and from
 * `spec.send(channel, message)`, the per-channel inbox (Erlang's
 * `Pid ! Msg` to the channel process).
 *
 * @example
 * ```ts
 * import { Subject } from "rxjs";
 * import { type Behaviour } from "./behaviour.ts";
 * import { type ChannelContext, type ChannelEvent, channelBehaviour } from "./channel_behaviour.ts";
 *
 * type Notice = { notice: string };
 * const notifier: Behaviour<string, { prefix: string }, ChannelEvent, Notice, ChannelContext> = {
 *   init: (args) => ({ state: args.prefix }),
 *   handleMsg: async (m, prefix, ctx) => {
 *     if ("notice" in m) await ctx.send(`${prefix}${m.notice}\n`);
 *     return { state: prefix };
 *   },
 * };
 * const news = new Subject<Notice>();
 * const spec = channelBehaviour(notifier, { prefix: "> " }, { messages: news });
 * // The server runs it: spec.run(channel).subscribe(...); the application then talks to it:
 * news.next({ notice: "to every channel" });
 * for (const channel of spec.channels) spec.send(channel, { notice: "to this one" });
 * ```
 */
export function channelBehaviour<S, A, M = never>(
  behaviour: Behaviour<S, A, ChannelEvent, M, ChannelContext>,
  args: NoInfer<A>,
  options: ChannelBehaviourOptions<M> = {},
): ChannelBehaviourSpec<S, M> {
  const inboxes = new Map<Channel, Set<Subject<M>>>();
  return {
    get channels() {
      return new Set(inboxes.keys()); // a snapshot: sending may end behaviours while iterating
    },
    send(channel, message) {
      const set = inboxes.get(channel);
      set?.forEach((inbox) => inbox.next(message));
      return set !== undefined;
    },
    run(channel) {
      return new Observable<Lifecycle<S>>((sub) => {
        const inbox = new Subject<M>();
        const set = inboxes.get(channel) ?? new Set();
        inboxes.set(channel, set.add(inbox));
        const m = options.messages;
        const registered = typeof m === "function" ? m(channel) : m;
        const s = serveChannel(channel, behaviour, {
          args,
          messages: registered ? merge(registered, inbox) : inbox,
        }).subscribe({
          next: (l) => sub.next(l),
          error: (e) => sub.error(e),
          complete: () => sub.complete(),
        });
        return () => {
          s.unsubscribe();
          set.delete(inbox);
          if (!set.size && inboxes.get(channel) === set) inboxes.delete(channel);
        };
      });
    },
  };
}
