import { test } from "node:test";
import assert from "node:assert/strict";
import { map, Subject } from "rxjs";
import { TestScheduler } from "rxjs/testing";
import {
  type Behaviour,
  type BehaviourInput,
  runBehaviour,
  type TerminateReason,
} from "./behaviour.ts";

type Log = string[];

/** The virtual clock of the running marble test (0 outside one). */
let now = () => 0;

/** A terminate reason as one short word or term, for logs. */
const show = (r: TerminateReason): string =>
  typeof r === "string"
    ? r
    : "shutdown" in r
    ? `{shutdown:${String(r.shutdown)}}`
    : `{error:${(r.error as Error)?.message ?? String(r.error)}}`;

/** A behaviour that logs every callback; ssh events are strings, messages are strings. */
function logging(
  log: Log,
  opts: { timeout?: number; stopOn?: string; throwOn?: string } = {},
): Behaviour<
  number,
  string,
  string,
  string,
  unknown
> {
  return {
    init: (args) => {
      log.push(`init(${args})`);
      return { state: 0, timeout: opts.timeout };
    },
    handleSshMsg: (e, n) => {
      log.push(`ssh(${e})@${n}`);
      if (e === opts.throwOn) throw new Error("boom");
      if (e === opts.stopOn) return { stop: "asked", state: n + 1 };
      return { state: n + 1, timeout: opts.timeout };
    },
    handleMsg: (m, n) => {
      log.push(`msg(${typeof m === "string" ? m : m.type})@${n}`);
      // channel-up does not re-arm: init's timeout stays armed through it.
      if (typeof m !== "string" && m.type === "channel-up") return { state: n + 1 };
      return { state: n + 1, timeout: opts.timeout };
    },
    terminate: (reason: TerminateReason, n) => {
      log.push(`terminate(${show(reason)})@${n}`);
    },
  };
}

const scheduler = () => new TestScheduler((a, b) => assert.deepEqual(a, b));

/** Runs `input` marbles through a behaviour in virtual time; returns "frame:phase" for each emission. */
function timeline(
  marbles: string,
  behaviour: Behaviour<number, string, string, string, unknown>,
  onTerminate?: (r: TerminateReason) => void,
): string[] {
  const seen: string[] = [];
  const ts = scheduler();
  now = () => ts.now();
  ts.run(({ cold, flush }) => {
    cold(marbles).pipe(map(toInput), runBehaviour(behaviour, "x", { context: {}, onTerminate }))
      .subscribe({
        next: (l) => seen.push(`${ts.now()}:${l.phase}`),
        complete: () => seen.push(`${ts.now()}:|`),
      });
    flush();
  });
  return seen;
}
const toInput = (c: string): BehaviourInput<string, string> =>
  c === "C"
    ? { kind: "closed" }
    : c === c.toUpperCase()
    ? { kind: "msg", message: c }
    : { kind: "ssh", event: c };

test("marble: channel-up comes first, events in order, peer close ends with normal and terminate once", () => {
  const log: Log = [];
  assert.deepEqual(timeline("-a-B-c-C", logging(log)), [
    "0:starting",
    "0:up",
    "7:closing",
    "7:ended",
    "7:|",
  ]);
  assert.deepEqual(log, [
    "init(x)",
    "msg(channel-up)@0",
    "ssh(a)@1",
    "msg(B)@2",
    "ssh(c)@3",
    "terminate(normal)@4",
  ]);
});

test("marble: the idle timeout fires after `timeout` frames of silence, and any event resets it", () => {
  const log: Log = [];
  assert.deepEqual(timeline("---a------------|", logging(log, { timeout: 5 })), [
    "0:starting",
    "0:up",
    "16:closing",
    "16:ended",
    "16:|",
  ]);
  // init arms 5 (channel-up at 0 keeps it); a at 3 resets (timer at 8); timeout at 8 re-arms; another at 13; input ends at 16.
  assert.deepEqual(log, [
    "init(x)",
    "msg(channel-up)@0",
    "ssh(a)@1",
    "msg(timeout)@2",
    "msg(timeout)@3",
    "terminate(normal)@4",
  ]);
});

test("marble: a handler's stop ends the channel with that reason; later input is not handled", () => {
  const log: Log = [];
  assert.deepEqual(timeline("-a-b-c-|", logging(log, { stopOn: "b" })), [
    "0:starting",
    "0:up",
    "3:closing",
    "3:ended",
    "3:|",
  ]);
  assert.deepEqual(log, [
    "init(x)",
    "msg(channel-up)@0",
    "ssh(a)@1",
    "ssh(b)@2",
    "terminate(asked)@3",
  ]);
});

test("marble: an exception in a handler ends that behaviour with the error; terminate runs once", () => {
  const log: Log = [];
  let reason: TerminateReason | undefined;
  assert.deepEqual(timeline("-a-b-c", logging(log, { throwOn: "b" }), (r) => void (reason = r)), [
    "0:starting",
    "0:up",
    "3:closing",
    "3:ended",
    "3:|",
  ]);
  assert.ok(reason !== undefined && typeof reason === "object" && "error" in reason);
  assert.equal((reason.error as Error).message, "boom");
  assert.equal(log.filter((l) => l.startsWith("terminate")).length, 1);
});

test("marble: input failure is { shutdown: connection lost }; unsubscription is shutdown", () => {
  const log: Log = [];
  assert.deepEqual(timeline("-a-#", logging(log)), [
    "0:starting",
    "0:up",
    "3:closing",
    "3:ended",
    "3:|",
  ]);
  assert.deepEqual(log.slice(-1), ["terminate({shutdown:connection lost})@2"]);
  const log2: Log = [];
  const input = new Subject<BehaviourInput<string, string>>();
  const sub = input.pipe(runBehaviour(logging(log2), "x", { context: {} })).subscribe();
  input.next({ kind: "ssh", event: "a" });
  sub.unsubscribe();
  input.next({ kind: "ssh", event: "b" });
  assert.deepEqual(log2, ["init(x)", "msg(channel-up)@0", "ssh(a)@1", "terminate(shutdown)@2"]);
});

test("init may refuse ({ stop }) or ignore; terminate is not called for a channel that never started", () => {
  for (const r of [{ stop: "no" }, "ignore"] as const) {
    const phases: string[] = [];
    let terminated = 0;
    new Subject<BehaviourInput<string, string>>().pipe(
      runBehaviour({ init: () => r, terminate: () => void terminated++ }, "x", { context: {} }),
    ).subscribe((l) => phases.push(l.phase));
    assert.deepEqual(phases, ["starting", r === "ignore" ? "ignored" : "refused"]);
    assert.equal(terminated, 0);
  }
});

test("an asynchronous handler holds the mailbox: events are handled strictly one at a time, in order", async () => {
  const order: string[] = [];
  let inFlight = 0;
  const input = new Subject<BehaviourInput<number, never>>();
  const done = new Promise<void>((resolve) =>
    input.pipe(runBehaviour<number, null, number, never, unknown>(
      {
        init: () => ({ state: 0 }),
        handleSshMsg: async (e, n) => {
          inFlight++;
          assert.equal(inFlight, 1);
          await new Promise((r) => setTimeout(r, 5 - e));
          order.push(`${e}`);
          inFlight--;
          return { state: n + e };
        },
        terminate: (_r, n) => void order.push(`sum=${n}`),
      },
      null,
      { context: {} },
    )).subscribe({ complete: resolve })
  );
  for (const e of [1, 2, 3, 4]) input.next({ kind: "ssh", event: e });
  input.complete();
  await done;
  assert.deepEqual(order, ["1", "2", "3", "4", "sum=10"]);
});

/**
 * A behaviour whose callbacks log "frame:what"; `up` is what the channel-up
 * handler returns as timeout (`"none"`: no timeout field), `init` init's
 * timeout, `onSsh` what an ssh event's handler returns as timeout.
 */
function timed(
  log: Log,
  t: { init?: number; up?: number | "none"; onSsh?: number | "none"; onTimeout?: number },
): Behaviour<number, string, string, string, unknown> {
  const next = (n: number, timeout: number | "none" | undefined) =>
    timeout === "none" || timeout === undefined ? { state: n + 1 } : { state: n + 1, timeout };
  return {
    init: () => ({ state: 0, timeout: t.init }),
    handleSshMsg: (e, n) => (log.push(`${now()}:ssh(${e})`), next(n, t.onSsh)),
    handleMsg: (m, n) => {
      const what = typeof m === "string" ? m : m.type;
      log.push(`${now()}:${what}`);
      return next(n, what === "channel-up" ? t.up : what === "timeout" ? t.onTimeout : undefined);
    },
    terminate: (r) => void log.push(`${now()}:terminate(${show(r)})`),
  };
}

test("marble: a timeout from init fires though the channel-up handler returns none", () => {
  const log: Log = [];
  timeline("-----------|", timed(log, { init: 5, up: "none" }));
  assert.deepEqual(log, ["0:channel-up", "5:timeout", "11:terminate(normal)"]);
});

test("marble: a timeout from the channel-up handler replaces init's (Infinity cancels it)", () => {
  const log: Log = [];
  timeline("-----------|", timed(log, { init: 5, up: 2 }));
  assert.deepEqual(log, ["0:channel-up", "2:timeout", "11:terminate(normal)"]);
  const log2: Log = [];
  timeline("-----------|", timed(log2, { init: 5, up: Infinity }));
  assert.deepEqual(log2, ["0:channel-up", "11:terminate(normal)"]);
});

test("marble: a real message resets the timeout: its handler's timeout re-arms it, none clears it", () => {
  const log: Log = [];
  timeline("---a--------|", timed(log, { init: 5, onSsh: 5 }));
  assert.deepEqual(log, ["0:channel-up", "3:ssh(a)", "8:timeout", "12:terminate(normal)"]);
  const log2: Log = [];
  timeline("---a--------|", timed(log2, { init: 5, onSsh: "none" }));
  assert.deepEqual(log2, ["0:channel-up", "3:ssh(a)", "12:terminate(normal)"]);
  // The timeout is a real message too: returning a timeout from it re-arms, as gen_server does.
  const log3: Log = [];
  timeline("-----------|", timed(log3, { init: 4, onTimeout: 3 }));
  assert.deepEqual(log3, [
    "0:channel-up",
    "4:timeout",
    "7:timeout",
    "10:timeout",
    "11:terminate(normal)",
  ]);
});

test("terminate gets Erlang's reasons: a handler's stop term as is, `normal`, `shutdown`, `{ error }`", () => {
  const reasons: TerminateReason[] = [];
  const stopWith = (stop: TerminateReason): Behaviour<null, null, string, never, unknown> => ({
    init: () => ({ state: null }),
    handleSshMsg: (e) => e === "stop" ? { stop, state: null } : { state: null },
    terminate: (r) => void reasons.push(r),
  });
  const cause = { why: "idle" };
  for (const stop of ["normal", "shutdown", { shutdown: cause }, "my-reason"] as const) {
    const input = new Subject<BehaviourInput<string, never>>();
    const ended: TerminateReason[] = [];
    input.pipe(runBehaviour(stopWith(stop), null, { context: {} })).subscribe((l) => {
      if (l.phase === "ended") ended.push(l.reason);
    });
    input.next({ kind: "ssh", event: "stop" });
    assert.equal(reasons.at(-1), stop, "terminate gets the stop term itself");
    assert.equal(ended[0], stop, "so does the lifecycle");
  }
  // A rejected promise is { error } with the rejection.
  const failure = new Error("async boom");
  const input = new Subject<BehaviourInput<string, never>>();
  const done = new Promise<void>((resolve) =>
    input.pipe(runBehaviour<null, null, string, never, unknown>(
      {
        init: () => ({ state: null }),
        handleSshMsg: () => Promise.reject(failure),
        terminate: (r) => void reasons.push(r),
      },
      null,
      { context: {} },
    )).subscribe({ complete: resolve })
  );
  input.next({ kind: "ssh", event: "x" });
  return done.then(() => assert.deepEqual(reasons.at(-1), { error: failure }));
});

test("a message sent from inside a handler waits its turn (no re-entrant handling)", () => {
  const input = new Subject<BehaviourInput<string, string>>();
  const order: string[] = [];
  input.pipe(runBehaviour<number, null, string, string, unknown>(
    {
      init: () => ({ state: 0 }),
      handleSshMsg: (e, n) => {
        order.push(`ssh ${e} start`);
        input.next({ kind: "msg", message: `from ${e}` });
        order.push(`ssh ${e} end`);
        return { state: n + 1 };
      },
      handleMsg: (m, n) => {
        order.push(typeof m === "string" ? m : m.type);
        return { state: n + 1 };
      },
    },
    null,
    { context: {} },
  )).subscribe();
  input.next({ kind: "ssh", event: "a" });
  assert.deepEqual(order, ["channel-up", "ssh a start", "ssh a end", "from a"]);
});

test("a failed application message source ends the behaviour with { error }", () => {
  const input = new Subject<BehaviourInput<string, string>>();
  const reasons: TerminateReason[] = [];
  input.pipe(runBehaviour<null, null, string, string, unknown>(
    {
      init: () => ({ state: null }),
      terminate: (r) => void reasons.push(r),
    },
    null,
    { context: {} },
  )).subscribe();
  const error = new Error("source failed");
  input.next({ kind: "failed", error });
  assert.deepEqual(reasons, [{ error }]);
});

test("init's timeout counts from when an asynchronous channel-up handler is done, not from init", async () => {
  const input = new Subject<BehaviourInput<string, never>>();
  const seen: string[] = [];
  const t0 = Date.now();
  await new Promise<void>((resolve) =>
    input.pipe(runBehaviour<null, null, string, never, unknown>(
      {
        init: () => ({ state: null, timeout: 30 }),
        handleMsg: async (m, s) => {
          if (m.type === "channel-up") {
            await new Promise((r) => setTimeout(r, 60)); // longer than init's timeout
            seen.push("up done");
            return { state: s };
          }
          seen.push(`${m.type} after ${Date.now() - t0} ms`);
          return { stop: "normal", state: s };
        },
      },
      null,
      { context: {} },
    )).subscribe({ complete: resolve })
  );
  assert.equal(seen.length, 2, seen.join(", "));
  assert.equal(seen[0], "up done");
  const ms = Number(/timeout after (\d+) ms/.exec(seen[1])?.[1]);
  assert.ok(ms >= 85, `the timeout fired ${ms} ms after init, before 60 + 30`);
});
