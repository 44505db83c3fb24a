/**
 * A Subject made on first subscription: an idle connection holds one small
 * object per event stream instead of a Subject, its Observable and their
 * arrays (the memory target of an idle connection; see DESIGN.md,
 * "Memory").
 *
 * @module
 */
import { Observable, ReplaySubject, Subject } from "rxjs";

/**
 * Stands for a `Subject` (`replay` 0, the default), or a `ReplaySubject`
 * replaying the last `replay` values (`Infinity`: all). Until something
 * subscribes, values a plain Subject would drop are dropped and those a
 * ReplaySubject would replay are kept in an array; completion is
 * remembered either way, so late subscribers see what they would have seen
 * with the real thing.
 *
 * @example
 * ```ts
 * import { LazySubject } from "./_lazy_subject.ts";
 * const s = new LazySubject<number>(1);
 * s.next(1);
 * s.next(2);
 * s.observable.subscribe((v) => console.log(v)); // 2
 * ```
 */
export class LazySubject<T> {
  #subject?: Subject<T>;
  #observable?: Observable<T>;
  #kept?: T[];
  #end?: { error?: unknown; failed: boolean };

  /** `replay`: how many of the latest values late subscribers get (0: none). */
  constructor(readonly replay: number = 0) {}

  /** The stream; the Subject behind it is made when this is first subscribed. */
  get observable(): Observable<T> {
    return this.#observable ??= new Observable<T>((subscriber) =>
      this.#materialize().subscribe(subscriber)
    );
  }

  /** Emits `value` (kept for replay while nobody listens). */
  next(value: T): void {
    if (this.#end) return;
    if (this.#subject) return this.#subject.next(value);
    if (this.replay <= 0) return;
    const kept = this.#kept ??= [];
    kept.push(value);
    if (kept.length > this.replay) kept.shift();
  }

  /** Completes the stream. */
  complete(): void {
    if (this.#end) return;
    this.#end = { failed: false };
    this.#subject?.complete();
  }

  /** Ends the stream with `error`. */
  error(error: unknown): void {
    if (this.#end) return;
    this.#end = { error, failed: true };
    this.#subject?.error(error);
  }

  #materialize(): Subject<T> {
    if (this.#subject) return this.#subject;
    const s = this.replay > 0 ? new ReplaySubject<T>(this.replay) : new Subject<T>();
    for (const v of this.#kept ?? []) s.next(v);
    this.#kept = undefined;
    if (this.#end?.failed) s.error(this.#end.error);
    else if (this.#end) s.complete();
    return this.#subject = s;
  }
}
