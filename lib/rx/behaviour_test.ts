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
      return { state: n + 1, timeout: opts.timeout };
    },
    terminate: (reason: TerminateReason, n) => {
      log.push(`terminate(${reason.kind})@${n}`);
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
  ts.run(({ cold, flush }) => {
    cold(marbles).pipe(map(toInput), runBehaviour(behaviour, "x", {}, { onTerminate }))
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
  // channel-up at 0 re-arms 5; a at 3 resets (timer at 8); timeout at 8 re-arms; another at 13; input ends at 16.
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
    "terminate(stop)@3",
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
  assert.equal(reason?.kind, "error");
  assert.equal(log.filter((l) => l.startsWith("terminate")).length, 1);
});

test("marble: input failure is connection-lost; unsubscription is shutdown", () => {
  const log: Log = [];
  assert.deepEqual(timeline("-a-#", logging(log)), [
    "0:starting",
    "0:up",
    "3:closing",
    "3:ended",
    "3:|",
  ]);
  assert.deepEqual(log.slice(-1), ["terminate(connection-lost)@2"]);
  const log2: Log = [];
  const input = new Subject<BehaviourInput<string, string>>();
  const sub = input.pipe(runBehaviour(logging(log2), "x", {})).subscribe();
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
      runBehaviour({ init: () => r, terminate: () => void terminated++ }, "x", {}),
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
      {},
    )).subscribe({ complete: resolve })
  );
  for (const e of [1, 2, 3, 4]) input.next({ kind: "ssh", event: e });
  input.complete();
  await done;
  assert.deepEqual(order, ["1", "2", "3", "4", "sum=10"]);
});
