/**
 * Channel behaviours as operators, with the semantics of Erlang's
 * `ssh_server_channel` / `ssh_client_channel`: `init(args)` then
 * `handleSshMsg` for connection-protocol events and `handleMsg` for
 * everything else (the first message is `channel-up`; an idle timeout
 * arrives as `timeout`), and `terminate(reason, state)` exactly once on
 * every path. Events are handled one at a time, in order (a mailbox); a
 * handler that returns a promise holds the mailbox until it settles, which
 * also paces reading from the channel (backpressure).
 *
 * @module
 */
import {
  asyncScheduler,
  Observable,
  type SchedulerLike,
  type Subscriber,
  type Subscription,
} from "rxjs";

/**
 * Why a behaviour ended, as `terminate` receives it: Erlang's exit reasons.
 *
 * - `"normal"`: the peer closed the channel (or the input ended), or a
 *   handler stopped with `{ stop: "normal" }`.
 * - `"shutdown"`: unsubscribed from outside (the server or the
 *   application shut the channel down).
 * - `{ shutdown: reason }`: an orderly end with a cause, e.g. a handler's
 *   `{ stop: { shutdown: "idle" } }`; connection loss is
 *   {@link ConnectionLost}, `{ shutdown: "connection lost", error }`.
 * - `{ error }`: a callback threw (or its promise rejected) with `error`.
 * - any other string: a handler's own stop reason, e.g. `{ stop: "eof" }`
 *   ends with `"eof"`, as `{stop, Reason, State}` does in Erlang.
 *
 * Whatever a handler gives as `stop` is passed on unchanged.
 *
 * @example
 * ```ts
 * import type { TerminateReason } from "./behaviour.ts";
 * const describe = (r: TerminateReason): string =>
 *   typeof r === "string" ? r : "shutdown" in r ? `shutdown: ${String(r.shutdown)}` : `error: ${String(r.error)}`;
 * console.log(describe({ shutdown: "idle" })); // "shutdown: idle"
 * ```
 */
export type TerminateReason =
  | "normal"
  | "shutdown"
  | ConnectionLost
  | { readonly shutdown: unknown }
  | { readonly error: unknown }
  | (string & Record<never, never>);

/**
 * The reason a behaviour ends with when its input fails (for a channel: the
 * connection was lost): an Erlang `{shutdown, Reason}` whose `error` is the
 * failure. A channel behaviour does not try to close the channel then.
 *
 * @example
 * ```ts
 * import { isConnectionLost, type TerminateReason } from "./behaviour.ts";
 * const r: TerminateReason = { shutdown: "connection lost", error: new Error("reset") };
 * console.log(isConnectionLost(r)); // true
 * ```
 */
export type ConnectionLost = { readonly shutdown: "connection lost"; readonly error: unknown };

/**
 * Tells {@link ConnectionLost} apart from the other reasons.
 *
 * @example
 * ```ts
 * import { isConnectionLost } from "./behaviour.ts";
 * console.log(isConnectionLost("normal"), isConnectionLost({ shutdown: "idle" })); // false false
 * ```
 */
export function isConnectionLost(reason: TerminateReason): reason is ConnectionLost {
  return typeof reason === "object" && reason !== null && "shutdown" in reason &&
    reason.shutdown === "connection lost" && "error" in reason;
}

/**
 * What `init` returns: a state, optionally with an idle timeout in ms
 * (gen_server's: a finite number ≥ 0 arms it, `Infinity` or none arms
 * none); `{ stop }` to refuse; or `"ignore"`.
 *
 * The timeout from `init` stays armed through `channel-up`: it fires unless
 * a real input arrives first or the `channel-up` handler returns a timeout
 * of its own, which replaces it.
 *
 * @example
 * ```ts
 * import type { InitResult } from "./behaviour.ts";
 * const r: InitResult<number> = { state: 0, timeout: 30_000 };
 * ```
 */
export type InitResult<S> = { state: S; timeout?: number } | { stop: TerminateReason } | "ignore";

/**
 * What a handler returns: the next state, optionally with an idle timeout
 * in ms, or `{ stop, state }` to end the channel with that reason (passed
 * to `terminate` as is). As in gen_server, every real input (an SSH event,
 * an application message, the `timeout` itself) cancels the pending
 * timeout, and the handler's result arms the next one: returning no
 * `timeout` leaves none. Only the synthetic `channel-up` keeps `init`'s.
 *
 * @example
 * ```ts
 * import type { HandlerResult } from "./behaviour.ts";
 * const r: HandlerResult<number> = { stop: { shutdown: "idle" }, state: 3 };
 * ```
 */
export type HandlerResult<S> = { state: S; timeout?: number } | {
  stop: TerminateReason;
  state: S;
};

/**
 * The messages `handleMsg` receives besides the application's own.
 *
 * @example
 * ```ts
 * import type { SystemMessage } from "./behaviour.ts";
 * const up: SystemMessage = { type: "channel-up" };
 * ```
 */
export type SystemMessage = { type: "channel-up" } | { type: "timeout" };

/**
 * A behaviour: the four callbacks. `E` is the connection-protocol event
 * type (see {@link ChannelEvent}), `M` the application's messages, `C` the
 * context handed to every callback (for a channel: its streams and close).
 *
 * @example
 * ```ts
 * import type { Behaviour } from "./behaviour.ts";
 * const counter: Behaviour<number, { start: number }, { type: "data"; data: Uint8Array }, never, unknown> = {
 *   init: (args) => ({ state: args.start }),
 *   handleSshMsg: (e, n) => ({ state: n + e.data.length }),
 * };
 * ```
 */
export interface Behaviour<S, A, E, M, C> {
  /** Makes the initial state, or refuses. */
  init(args: A, context: C): InitResult<S> | Promise<InitResult<S>>;
  /** Handles a connection-protocol event. */
  handleSshMsg?(event: E, state: S, context: C): HandlerResult<S> | Promise<HandlerResult<S>>;
  /** Handles `channel-up`, `timeout`, and the application's messages. */
  handleMsg?(
    message: M | SystemMessage,
    state: S,
    context: C,
  ): HandlerResult<S> | Promise<HandlerResult<S>>;
  /** Runs exactly once, whatever ended the behaviour. */
  terminate?(reason: TerminateReason, state: S | undefined, context: C): void | Promise<void>;
}

/**
 * The inputs a behaviour's mailbox takes: a connection-protocol event (with
 * `ack`, called once it was handled, to pace the source), an application
 * message, the peer's close (ends with `"normal"`), or the failure of an
 * application's message source (ends with `{ error }`; a failure of the
 * input stream itself is {@link ConnectionLost}).
 *
 * @example
 * ```ts
 * import type { BehaviourInput } from "./behaviour.ts";
 * const i: BehaviourInput<string, never> = { kind: "ssh", event: "eof" };
 * ```
 */
export type BehaviourInput<E, M> =
  | { kind: "ssh"; event: E; ack?: () => void }
  | { kind: "msg"; message: M }
  | { kind: "closed" }
  | { kind: "failed"; error: unknown };

/**
 * What the operator emits: the behaviour's life as seen from outside, like
 * a supervisor sees its children.
 *
 * @example
 * ```ts
 * import type { Lifecycle } from "./behaviour.ts";
 * const show = (l: Lifecycle<number>) => l.phase === "ended" ? JSON.stringify(l.reason) : l.phase;
 * ```
 */
export type Lifecycle<S> =
  | { phase: "starting" }
  | { phase: "up"; state: S }
  | { phase: "refused"; reason: TerminateReason }
  | { phase: "ignored" }
  | { phase: "closing"; reason: TerminateReason; state: S | undefined }
  | { phase: "ended"; reason: TerminateReason; state: S | undefined };

const isPromise = <T>(v: T | Promise<T>): v is Promise<T> =>
  typeof (v as Promise<T>)?.then === "function";

/** The one `channel-up` message: told apart from application messages by identity. */
const CHANNEL_UP: SystemMessage = Object.freeze({ type: "channel-up" });
const TIMEOUT: SystemMessage = Object.freeze({ type: "timeout" });

type Item<E, M> = BehaviourInput<E, M | SystemMessage>;
type Result<S> = HandlerResult<S> | Promise<HandlerResult<S>> | undefined;

/**
 * Options of {@link runBehaviour}: the context every callback receives,
 * and how the run is scheduled and ends.
 *
 * @example
 * ```ts
 * import type { RunBehaviourOptions } from "./behaviour.ts";
 * const o: RunBehaviourOptions<{ user: string }> = {
 *   context: { user: "alice" },
 *   onTerminate: (r) => console.log("ending", r),
 * };
 * ```
 */
export interface RunBehaviourOptions<C = unknown> {
  /** Handed to every callback (for a channel: its streams and close). */
  context: C;
  /** Where the idle timeout is scheduled (default `asyncScheduler`; a `TestScheduler` in marble tests). */
  scheduler?: SchedulerLike;
  /** Runs with `terminate`, before it completes (for a channel: closing it). */
  onTerminate?: (reason: TerminateReason) => void | Promise<void>;
}

/** One running behaviour: its mailbox, state, idle timer and lifecycle output. */
class Mailbox<S, A, E, M, C> {
  state: S | undefined;
  phase: "starting" | "up" | "ending" | "ended" = "starting";
  readonly queue: Item<E, M>[] = [];
  /** An asynchronous handler holds the mailbox. */
  busy = false;
  /** pump() is on the stack: a message delivered from inside a handler waits for the loop. */
  pumping = false;
  timer: Subscription | undefined;
  initTimeout: number | undefined;
  input: Subscription | undefined;

  readonly context: C;

  constructor(
    readonly behaviour: Behaviour<S, A, E, M, C>,
    readonly out: Subscriber<Lifecycle<S>>,
    readonly options: RunBehaviourOptions<C>,
  ) {
    this.context = options.context;
  }

  start(args: A, input$: Observable<BehaviourInput<E, M>>): void {
    this.out.next({ phase: "starting" });
    // Inputs that arrive while init runs wait in the queue.
    this.input = input$.subscribe({
      next: (i) => this.deliver(i),
      error: (error) => this.lost(error),
      complete: () => this.deliver({ kind: "closed" }),
    });
    try {
      const r = this.behaviour.init(args, this.context);
      if (isPromise(r)) r.then((v) => this.started(v), (error) => this.end({ error }));
      else this.started(r);
    } catch (error) {
      if (this.phase !== "starting") return; // the input already failed and ended it
      this.phase = "up"; // so that end() runs terminate with the error
      this.end({ error });
    }
  }

  /** Unsubscribed from outside: Erlang's `shutdown`. */
  shutdown(): void {
    if (this.phase !== "ended") this.end("shutdown");
    this.input?.unsubscribe();
    this.disarm();
  }

  deliver(item: Item<E, M>): void {
    if (this.phase === "ending" || this.phase === "ended") return;
    this.queue.push(item);
    this.pump();
  }

  private lost(error: unknown): void {
    const reason: ConnectionLost = { shutdown: "connection lost", error };
    if (this.phase !== "starting") return this.end(reason);
    this.phase = "ended";
    this.out.next({ phase: "ended", reason, state: this.state });
    this.out.complete();
  }

  private started(r: InitResult<S>): void {
    if (this.phase !== "starting") return;
    if (r === "ignore" || "stop" in r) {
      this.phase = "ended";
      this.out.next(r === "ignore" ? { phase: "ignored" } : { phase: "refused", reason: r.stop });
      this.out.complete();
      this.input?.unsubscribe();
      return;
    }
    this.phase = "up";
    this.state = r.state;
    // Armed once channel-up is handled (the timeout counts while the mailbox waits, as
    // gen_server's does), unless the channel-up handler returns a timeout of its own.
    this.initTimeout = r.timeout;
    this.out.next({ phase: "up", state: r.state });
    this.queue.unshift({ kind: "msg", message: CHANNEL_UP });
    this.pump();
  }

  private arm(ms: number | undefined): void {
    this.disarm();
    if (ms === undefined || !Number.isFinite(ms) || ms < 0) return;
    const scheduler = this.options.scheduler ?? asyncScheduler;
    this.timer = scheduler.schedule(() => {
      this.timer = undefined;
      this.deliver({ kind: "msg", message: TIMEOUT });
    }, ms);
  }

  private disarm(): void {
    this.timer?.unsubscribe();
    this.timer = undefined;
  }

  /** Takes a handler's result; `synthetic` for channel-up, which keeps init's timeout. */
  private apply(r: HandlerResult<S> | undefined, synthetic: boolean): void {
    if (r !== undefined && "stop" in r) {
      this.state = r.state;
      return this.end(r.stop);
    }
    if (r !== undefined) this.state = r.state;
    const timeout = r?.timeout ?? (synthetic ? this.initTimeout : undefined);
    if (timeout !== undefined) this.arm(timeout);
  }

  private handle(item: Item<E, M>): Result<S> {
    if (item.kind === "closed") {
      // Erlang: the behaviour answers the peer's close and terminates with reason normal.
      this.end("normal");
      return undefined;
    }
    if (item.kind === "failed") {
      this.end({ error: item.error });
      return undefined;
    }
    const { behaviour, context } = this;
    if (item.kind === "ssh") return behaviour.handleSshMsg?.(item.event, this.state as S, context);
    return behaviour.handleMsg?.(item.message, this.state as S, context);
  }

  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (!this.busy && this.queue.length && this.phase === "up") this.step(this.queue.shift()!);
    } finally {
      this.pumping = false;
    }
  }

  /** Handles one input: synchronously, or holding the mailbox until its promise settles. */
  private step(item: Item<E, M>): void {
    const synthetic = item.kind === "msg" && item.message === CHANNEL_UP;
    // gen_server: a real input cancels the pending timeout; the handler's result arms the next.
    if (!synthetic) this.disarm();
    let r: Result<S>;
    try {
      r = this.handle(item);
    } catch (error) {
      return this.end({ error });
    }
    const ack = item.kind === "ssh" ? item.ack : undefined;
    if (!isPromise(r)) {
      ack?.();
      if (this.phase === "up") this.apply(r, synthetic);
      return;
    }
    this.busy = true;
    r.then((v) => {
      this.busy = false;
      ack?.(); // the source may read the next chunk: handling paces reading
      if (this.phase !== "up") return;
      this.apply(v, synthetic);
      this.pump();
    }, (error) => {
      this.busy = false;
      this.end({ error });
    });
  }

  /** Ends the behaviour: `closing`, then `terminate` (and `onTerminate`) once, then `ended`. */
  end(reason: TerminateReason): void {
    if (this.phase === "ending" || this.phase === "ended") return;
    this.phase = "ending";
    this.disarm();
    this.queue.length = 0;
    this.out.next({ phase: "closing", reason, state: this.state });
    const finish = () => {
      this.phase = "ended";
      this.input?.unsubscribe();
      this.out.next({ phase: "ended", reason, state: this.state });
      this.out.complete();
    };
    let t: void | Promise<void>;
    try {
      const hook = this.options.onTerminate?.(reason);
      const user = this.behaviour.terminate?.(reason, this.state, this.context);
      t = isPromise(hook) || isPromise(user) ? Promise.all([hook, user]).then(() => {}) : undefined;
    } catch {
      t = undefined; // terminate's own failure cannot stop termination
    }
    if (isPromise(t)) t.then(finish, finish);
    else finish();
  }
}

/**
 * Runs a behaviour over a stream of inputs. Emits its lifecycle; completes
 * after `terminate`. Synchronous handlers run synchronously (so marble tests
 * with RxJS's TestScheduler see exact timing); asynchronous ones hold the
 * mailbox. The idle timeout uses `options.scheduler` (default
 * `asyncScheduler`). Reasons: the input completing is `"normal"`, its
 * failure {@link ConnectionLost}, unsubscribing `"shutdown"`, a throw
 * `{ error }`, a handler's `{ stop }` its reason (see {@link TerminateReason}).
 *
 * @example
 * ```ts
 * import { of } from "rxjs";
 * import { runBehaviour } from "./behaviour.ts";
 * of({ kind: "ssh" as const, event: 5 }, { kind: "closed" as const })
 *   .pipe(runBehaviour({ init: () => ({ state: 0 }), handleSshMsg: (e: number, s: number) => ({ state: s + e }) }, {}, { context: undefined }))
 *   .subscribe((l) => console.log(l.phase));
 * ```
 */
export function runBehaviour<S, A, E, M, C>(
  behaviour: Behaviour<S, A, E, M, C>,
  args: A,
  options: RunBehaviourOptions<C>,
): (input$: Observable<BehaviourInput<E, M>>) => Observable<Lifecycle<S>> {
  return (input$) =>
    new Observable<Lifecycle<S>>((out) => {
      const mailbox = new Mailbox(behaviour, out, options);
      mailbox.start(args, input$);
      return () => mailbox.shutdown();
    });
}
