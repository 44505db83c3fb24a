import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { LazySubject } from "./_lazy_subject.ts";

const collect = <T>(s: LazySubject<T>) => {
  const seen: (T | string)[] = [];
  s.observable.subscribe({
    next: (v) => seen.push(v),
    error: (e) => seen.push(`error ${e}`),
    complete: () => seen.push("complete"),
  });
  return seen;
};

describe("LazySubject: a Subject made on first subscription", () => {
  it("replay 0: values before the first subscriber are dropped, as a Subject drops them", () => {
    const s = new LazySubject<number>();
    s.next(1);
    const seen = collect(s);
    s.next(2);
    assert.deepEqual(seen, [2]);
  });

  it("replay 1: a late subscriber gets the latest value, then the live ones", () => {
    const s = new LazySubject<number>(1);
    s.next(1);
    s.next(2);
    const seen = collect(s);
    s.next(3);
    assert.deepEqual(seen, [2, 3]);
    assert.deepEqual(collect(s), [3]);
  });

  it("replay Infinity keeps every value; completion and errors reach late subscribers", () => {
    const all = new LazySubject<string>(Infinity);
    all.next("a");
    all.next("b");
    all.complete();
    all.next("ignored");
    assert.deepEqual(collect(all), ["a", "b", "complete"]);
    const failed = new LazySubject<number>();
    failed.error("boom");
    failed.complete();
    assert.deepEqual(collect(failed), ["error boom"]);
  });

  it("the same observable every time; nothing is made until subscribed", () => {
    const s = new LazySubject<number>();
    assert.equal(s.observable, s.observable);
    s.complete();
    assert.deepEqual(collect(s), ["complete"]);
  });
});
