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
import { asyncScheduler, Observable, type SchedulerLike, type Subscription } from "rxjs";

/**
 * What `init` returns: a state (optionally with an idle timeout in ms),
 * `{ stop }` to refuse, or `"ignore"`.
 *
 * @example
 * ```ts
 * import type { InitResult } from "./behaviour.ts";
 * const r: InitResult<number> = { state: 0, timeout: 30_000 };
 * ```
 */
export type InitResult<S> = { state: S; timeout?: number } | { stop: unknown } | "ignore";

/**
 * What a handler returns: the next state (optionally with an idle timeout),
 * or `{ stop, state }` to end the channel with that reason.
 *
 * @example
 * ```ts
 * import type { HandlerResult } from "./behaviour.ts";
 * const r: HandlerResult<number> = { stop: "normal", state: 3 };
 * ```
 */
export type HandlerResult<S> = { state: S; timeout?: number } | { stop: unknown; state: S };

/**
 * Why a behaviour ended, as passed to `terminate`.
 *
 * @example
 * ```ts
 * import type { TerminateReason } from "./behaviour.ts";
 * const r: TerminateReason = { kind: "normal" };
 * ```
 */
export type TerminateReason =
  | { kind: "normal" } // the peer closed, or the input ended
  | { kind: "stop"; reason: unknown } // a handler or init asked to stop
  | { kind: "error"; error: unknown } // a handler threw
  | { kind: "shutdown" } // unsubscribed from outside
  | { kind: "connection-lost"; error: unknown }; // the input failed

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
 * The inputs a behaviour's mailbox takes.
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
  | { kind: "closed" };

/**
 * What the operator emits: the behaviour's life as seen from outside, like
 * a supervisor sees its children.
 *
 * @example
 * ```ts
 * import type { Lifecycle } from "./behaviour.ts";
 * const show = (l: Lifecycle<number>) => l.phase === "ended" ? l.reason.kind : l.phase;
 * ```
 */
export type Lifecycle<S> =
  | { phase: "starting" }
  | { phase: "up"; state: S }
  | { phase: "refused"; reason: unknown }
  | { phase: "ignored" }
  | { phase: "closing"; reason: TerminateReason; state: S | undefined }
  | { phase: "ended"; reason: TerminateReason; state: S | undefined };

const isPromise = <T>(v: T | Promise<T>): v is Promise<T> =>
  typeof (v as Promise<T>)?.then === "function";

/**
 * Runs a behaviour over a stream of inputs. Emits its lifecycle; completes
 * after `terminate`. Synchronous handlers run synchronously (so marble tests
 * with RxJS's TestScheduler see exact timing); asynchronous ones hold the
 * mailbox. The idle timeout uses `scheduler` (default `asyncScheduler`).
 *
 * @example
 * ```ts
 * import { of } from "rxjs";
 * import { runBehaviour } from "./behaviour.ts";
 * of({ kind: "ssh" as const, event: 5 }, { kind: "closed" as const })
 *   .pipe(runBehaviour({ init: () => ({ state: 0 }), handleSshMsg: (e: number, s: number) => ({ state: s + e }) }, {}, undefined))
 *   .subscribe((l) => console.log(l.phase));
 * ```
 */
export function runBehaviour<S, A, E, M, C>(
  behaviour: Behaviour<S, A, E, M, C>,
  args: A,
  context: C,
  options: {
    scheduler?: SchedulerLike;
    onTerminate?: (reason: TerminateReason) => void | Promise<void>;
  } = {},
): (input$: Observable<BehaviourInput<E, M>>) => Observable<Lifecycle<S>> {
  const scheduler = options.scheduler ?? asyncScheduler;
  return (input$) =>
    new Observable<Lifecycle<S>>((out) => {
      let state: S | undefined;
      let phase: "starting" | "up" | "ending" | "ended" = "starting";
      const queue: BehaviourInput<E, M | SystemMessage>[] = [];
      let busy = false;
      let timer: Subscription | undefined;
      const subs: { input?: Subscription } = {};

      const end = (reason: TerminateReason) => {
        if (phase === "ending" || phase === "ended") return;
        phase = "ending";
        timer?.unsubscribe();
        queue.length = 0;
        out.next({ phase: "closing", reason, state });
        const finish = () => {
          phase = "ended";
          subs.input?.unsubscribe();
          out.next({ phase: "ended", reason, state });
          out.complete();
        };
        let t: void | Promise<void>;
        try {
          const hook = options.onTerminate?.(reason);
          const user = behaviour.terminate?.(reason, state, context);
          t = isPromise(hook) || isPromise(user)
            ? Promise.all([hook, user]).then(() => {})
            : undefined;
        } catch {
          t = undefined; // terminate's own failure cannot stop termination
        }
        if (isPromise(t)) t.then(finish, finish);
        else finish();
      };

      const apply = (r: HandlerResult<S> | InitResult<S>) => {
        if (r === "ignore") return;
        if ("stop" in r) {
          if ("state" in r) state = r.state;
          return end({ kind: "stop", reason: r.stop });
        }
        state = r.state;
        timer?.unsubscribe();
        timer = undefined;
        if (r.timeout !== undefined && r.timeout >= 0) {
          timer = scheduler.schedule(
            () => deliver({ kind: "msg", message: { type: "timeout" } }),
            r.timeout,
          );
        }
      };

      const handle = (
        item: BehaviourInput<E, M | SystemMessage>,
      ): HandlerResult<S> | Promise<HandlerResult<S>> | undefined => {
        if (item.kind === "closed") {
          // Erlang: the behaviour answers the peer's close and terminates with reason normal.
          end({ kind: "normal" });
          return undefined;
        }
        if (item.kind === "ssh") return behaviour.handleSshMsg?.(item.event, state as S, context);
        return behaviour.handleMsg?.(item.message, state as S, context);
      };

      const pump = () => {
        while (!busy && queue.length && phase === "up") {
          const item = queue.shift()!;
          timer?.unsubscribe(); // any event resets the idle timeout (gen_server semantics)
          timer = undefined;
          let r: ReturnType<typeof handle>;
          try {
            r = handle(item);
          } catch (error) {
            return end({ kind: "error", error });
          }
          const ack = item.kind === "ssh" ? item.ack : undefined;
          if (r === undefined) {
            ack?.();
            continue;
          }
          if (isPromise(r)) {
            busy = true;
            r.then((v) => {
              busy = false;
              ack?.(); // the source may read the next chunk: handling paces reading
              if (phase !== "up") return;
              apply(v);
              pump();
            }, (error) => {
              busy = false;
              end({ kind: "error", error });
            });
            return;
          }
          ack?.();
          apply(r);
        }
      };

      const deliver = (item: BehaviourInput<E, M | SystemMessage>) => {
        if (phase === "ending" || phase === "ended") return;
        queue.push(item);
        pump();
      };

      out.next({ phase: "starting" });
      const started = (r: InitResult<S>) => {
        if (phase !== "starting") return;
        if (r === "ignore") {
          phase = "ended";
          out.next({ phase: "ignored" });
          out.complete();
          subs.input?.unsubscribe();
          return;
        }
        if ("stop" in r) {
          phase = "ended";
          out.next({ phase: "refused", reason: r.stop });
          out.complete();
          subs.input?.unsubscribe();
          return;
        }
        phase = "up";
        apply(r);
        out.next({ phase: "up", state: state as S });
        queue.unshift({ kind: "msg", message: { type: "channel-up" } });
        pump();
      };
      // Inputs that arrive while init runs wait in the queue.
      subs.input = input$.subscribe({
        next: (i) => deliver(i),
        error: (error) => {
          if (phase === "starting") {
            phase = "ended";
            out.next({ phase: "ended", reason: { kind: "connection-lost", error }, state });
            return out.complete();
          }
          end({ kind: "connection-lost", error });
        },
        complete: () => deliver({ kind: "closed" }),
      });
      try {
        const r = behaviour.init(args, context);
        if (isPromise(r)) r.then(started, (error) => end({ kind: "error", error }));
        else started(r);
      } catch (error) {
        phase = "up"; // so that end() runs terminate with the error
        end({ kind: "error", error });
      }
      return () => {
        if (phase !== "ended") end({ kind: "shutdown" });
        subs.input?.unsubscribe();
        timer?.unsubscribe();
      };
    });
}
