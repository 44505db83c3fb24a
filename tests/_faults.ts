// Test helpers for fault scenarios (issue 16, part C): a relay between a
// client and a server byte stream that can cut, stall, half-close or
// throttle either direction after N bytes; an open-handle counter; and
// guards for "every observable ends once, every promise settles, no
// unhandled rejection".
//
// What the runtimes report (measured on Deno 2.9 and Bun 1.4, Linux):
// - `process.getActiveResourcesInfo()` (node:process): Deno lists Node-style
//   resources only ("Timeout" for every timer, "TCPSocketWrap" /
//   "TCPServerWrap" for node:net sockets) and nothing for `Deno.connect` /
//   `Deno.listen`, which our Deno adapter uses; Bun implements it but always
//   returns []. Neither runtime has another public means (Deno 2 removed
//   `Deno.resources()`).
// - So the counter counts what both runtimes share: open file descriptors
//   (`/proc/self/fd`: every socket and listener, whoever opened it), and
//   live timers, by wrapping the global setTimeout/setInterval and their
//   clear functions (a timeout leaves the count when it fires or is
//   cleared, an interval when cleared). lib/ uses the global timers
//   (lib/proxy_command.ts alone imports node:timers, not used here).
import { readdirSync, readlinkSync } from "node:fs";
import process from "node:process";
import { memoryPair } from "../lib/runtime/memory.ts";
import { connectTcp, listenTcp, type TcpListener } from "../lib/runtime/tcp.ts";
import type { ByteStreamPair } from "../lib/runtime/types.ts";

/** c2s: what the client writes; s2c: what the server writes. */
export type Direction = "c2s" | "s2c";

/**
 * What happens once `after` bytes went through `direction`:
 * - `reset`: both directions are aborted at once (the streams error, as a
 *   socket that got an RST);
 * - `fin`: both directions end cleanly (each side reads EOF; its later
 *   writes fail, as writing to a socket the peer closed);
 * - `half-close`: only this direction ends cleanly (its reader sees EOF),
 *   the other keeps flowing (a peer that called shutdown(SHUT_WR));
 * - `stall`: this direction stops moving, nothing is closed (a peer that
 *   stops reading, or a cable pulled without an RST).
 */
export type Fault = "reset" | "fin" | "half-close" | "stall";

/** A fault armed on one direction. */
export interface FaultPlan {
  direction: Direction;
  after: number;
  fault: Fault;
}

/** The relay's controls and figures. */
export interface FaultyLink {
  /** Bytes forwarded so far in each direction. */
  readonly bytes: Record<Direction, number>;
  /** The fault that fired, if any. */
  readonly fired: FaultPlan | undefined;
  /** Arms a fault (replacing one not yet fired). */
  arm(plan: FaultPlan): void;
  /** Fires `fault` now on `direction`. */
  now(direction: Direction, fault: Fault): void;
  /** Forwards `direction` in pieces of `chunk` bytes, `delayMs` apart (a slow reader). */
  throttle(direction: Direction, o: { chunk: number; delayMs: number }): void;
  /** Resolves once both directions stopped forwarding (a stalled direction never stops). */
  readonly done: Promise<void>;
  /** Ends everything (for a test's clean-up). */
  close(): void;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** One direction of the relay. */
class Pump {
  bytes = 0;
  plan?: FaultPlan;
  stalled = false;
  throttle?: { chunk: number; delayMs: number };
  reader: ReadableStreamDefaultReader<Uint8Array>;
  writer: WritableStreamDefaultWriter<Uint8Array>;
  ended = false;
  done: Promise<void>;
  #wake?: () => void;
  constructor(
    readonly direction: Direction,
    from: ByteStreamPair,
    to: ByteStreamPair,
    readonly onFault: (p: FaultPlan) => void,
  ) {
    this.reader = from.readable.getReader();
    this.writer = to.writable.getWriter();
    this.done = this.#run().catch(() => {}).finally(() => void (this.ended = true));
  }
  wake() {
    this.#wake?.();
  }
  async #run() {
    for (;;) {
      const { value, done } = await this.reader.read();
      if (done) return void await this.writer.close().catch(() => {});
      let chunk = value;
      const p = this.plan;
      if (p && this.bytes + chunk.length >= p.after) {
        await this.#forward(chunk.subarray(0, p.after - this.bytes));
        this.plan = undefined;
        this.onFault(p);
        if (p.fault !== "stall") return;
        chunk = chunk.subarray(0, 0);
      }
      while (this.stalled) await new Promise<void>((r) => (this.#wake = r));
      if (this.ended) return;
      await this.#forward(chunk);
    }
  }
  async #forward(chunk: Uint8Array) {
    const t = this.throttle;
    for (let i = 0; i < chunk.length;) {
      const n = t ? Math.min(t.chunk, chunk.length - i) : chunk.length - i;
      if (t) await sleep(t.delayMs);
      await this.writer.write(chunk.subarray(i, i + n));
      this.bytes += n;
      i += n;
    }
  }
  /** Stops this direction: its reader is cancelled, its writer closed or aborted. */
  end(how: "close" | "abort") {
    this.ended = true;
    this.stalled = false;
    this.wake();
    const reason = new Error(`fault: ${how === "abort" ? "reset" : "fin"} on ${this.direction}`);
    this.reader.cancel(reason).catch(() => {});
    if (how === "abort") this.writer.abort(reason).catch(() => {});
    else this.writer.close().catch(() => {});
  }
}

/**
 * A relay between `client` (the relay's end of the client's stream) and
 * `server` (its end of the server's), with faults.
 *
 * @example
 * ```ts
 * import { memoryPair } from "../lib/runtime/memory.ts";
 * import { faultyLink } from "./_faults.ts";
 * const [c, cr] = memoryPair();
 * const [sr, s] = memoryPair();
 * const link = faultyLink(cr, sr);
 * link.arm({ direction: "s2c", after: 100, fault: "reset" });
 * ```
 */
export function faultyLink(client: ByteStreamPair, server: ByteStreamPair): FaultyLink {
  let fired: FaultPlan | undefined;
  const apply = (p: FaultPlan) => {
    fired ??= p;
    const self = p.direction === "c2s" ? c2s : s2c;
    const other = p.direction === "c2s" ? s2c : c2s;
    if (p.fault === "stall") return void (self.stalled = true);
    if (p.fault === "half-close") return self.end("close");
    self.end(p.fault === "reset" ? "abort" : "close");
    other.end(p.fault === "reset" ? "abort" : "close");
  };
  const c2s: Pump = new Pump("c2s", client, server, apply);
  const s2c: Pump = new Pump("s2c", server, client, apply);
  const pump = (d: Direction) => (d === "c2s" ? c2s : s2c);
  return {
    bytes: {
      get c2s() {
        return c2s.bytes;
      },
      get s2c() {
        return s2c.bytes;
      },
    },
    get fired() {
      return fired;
    },
    arm: (plan) => void (pump(plan.direction).plan = plan),
    now: (direction, fault) => apply({ direction, after: pump(direction).bytes, fault }),
    throttle: (d, o) => void (pump(d).throttle = o),
    done: Promise.all([c2s.done, s2c.done]).then(() => {}),
    close: () => {
      c2s.end("abort");
      s2c.end("abort");
    },
  };
}

/**
 * A client stream and a server stream over in-memory pairs, joined by a
 * {@link faultyLink}.
 *
 * @example
 * ```ts
 * import { faultyMemory } from "./_faults.ts";
 * const { client, server, link } = faultyMemory();
 * link.arm({ direction: "c2s", after: 10, fault: "fin" });
 * ```
 */
export function faultyMemory(o: { highWaterMark?: number } = {}): {
  client: ByteStreamPair;
  server: ByteStreamPair;
  link: FaultyLink;
} {
  const [client, cr] = memoryPair(o);
  const [sr, server] = memoryPair(o);
  return { client, server, link: faultyLink(cr, sr) };
}

/**
 * A loopback TCP relay in front of `serverPort`: connect the client to
 * `port`; each accepted connection is relayed (over a second real socket)
 * to the server, and its link handed to `onLink`. Close `listener` after.
 *
 * @example
 * ```ts
 * import { faultyTcp } from "./_faults.ts";
 * const relay = await faultyTcp(2222, (link) => link.arm({ direction: "s2c", after: 500, fault: "reset" }));
 * relay.listener.close();
 * ```
 */
export async function faultyTcp(
  serverPort: number,
  onLink: (link: FaultyLink) => void,
): Promise<{ port: number; listener: TcpListener; links: FaultyLink[] }> {
  const listener = await listenTcp({ hostname: "127.0.0.1", port: 0 });
  const links: FaultyLink[] = [];
  (async () => {
    for await (const conn of listener) {
      const upstream = await connectTcp("127.0.0.1", serverPort);
      const link = faultyLink(conn, upstream);
      link.done.finally(() => {
        conn.close();
        upstream.close();
      });
      links.push(link);
      onLink(link);
    }
  })().catch(() => {});
  return { port: listener.port, listener, links };
}

// ---------------------------------------------------------------- handles

type TimerHandle = unknown;
const liveTimers = new Map<TimerHandle, string>();
let installed = false;
/** Timeouts that fired since {@link trackTimers}, by label ("timeout 2000ms"); clear it to start counting. */
export const fired: Map<string, number> = new Map();

/** Wraps the global timers so that live ones can be counted (idempotent). */
export function trackTimers(): void {
  if (installed) return;
  installed = true;
  const g = globalThis as unknown as Record<string, (...a: unknown[]) => unknown>;
  const [st, si, ct, ci] = [g.setTimeout, g.setInterval, g.clearTimeout, g.clearInterval];
  g.setTimeout = (fn: unknown, ms?: unknown, ...args: unknown[]) => {
    const h: TimerHandle = st(
      (...a: unknown[]) => {
        liveTimers.delete(h);
        const label = `timeout ${ms}ms`;
        fired.set(label, (fired.get(label) ?? 0) + 1);
        if (typeof fn === "function") fn(...a);
      },
      ms,
      ...args,
    );
    liveTimers.set(h, `timeout ${ms}ms`);
    return h;
  };
  g.setInterval = (fn: unknown, ms?: unknown, ...args: unknown[]) => {
    const h = si(fn, ms, ...args);
    liveTimers.set(h, `interval ${ms}ms`);
    return h;
  };
  g.clearTimeout = (h: unknown) => {
    liveTimers.delete(h);
    return ct(h);
  };
  g.clearInterval = (h: unknown) => {
    liveTimers.delete(h);
    return ci(h);
  };
}

/** Open handles now: file descriptors, live timers (by kind) and, on Deno, Node-style resources. */
export interface Handles {
  fds: number;
  /** What each descriptor is ("socket", "anon_inode:[eventpoll]", a path), sorted. */
  fdKinds: string[];
  timers: string[];
  resources: string[];
}

/**
 * Counts open handles (see the comment at the top of this file for what
 * each runtime can report). Call {@link trackTimers} first.
 *
 * @example
 * ```ts
 * import { handles, trackTimers } from "./_faults.ts";
 * trackTimers();
 * console.log(handles());
 * ```
 */
export function handles(): Handles {
  const info = (process as unknown as { getActiveResourcesInfo?: () => string[] })
    .getActiveResourcesInfo?.() ?? [];
  const fds = readdirSync("/proc/self/fd");
  const kind = (fd: string) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).replace(/:\[\d+\]$/, "");
    } catch {
      return "gone"; // the directory's own descriptor, closed once read
    }
  };
  return {
    fds: fds.length,
    fdKinds: fds.map(kind).sort(),
    timers: [...liveTimers.values()].sort(),
    resources: [...info].sort(),
  };
}

/**
 * Waits until the handles are back to `base` (checking every 50 ms, for at
 * most `settleMs`, a generous settle wait, not a timed assertion) and
 * returns what is left over; `[]` when everything was released.
 */
export async function leftOver(base: Handles, settleMs = 5000): Promise<string[]> {
  const diff = () => {
    const now = handles();
    const out: string[] = [];
    if (now.fds > base.fds) {
      const kinds = extra(now.fdKinds, base.fdKinds).join(", ");
      out.push(`${now.fds - base.fds} file descriptor(s): ${kinds}`);
    }
    out.push(...extra(now.timers, base.timers), ...extra(now.resources, base.resources));
    return out;
  };
  const until = Date.now() + settleMs;
  let d = diff();
  while (d.length > 0 && Date.now() < until) {
    await sleep(50);
    d = diff();
  }
  return d;
}

function extra(now: string[], base: string[]): string[] {
  const left = [...base];
  const out: string[] = [];
  for (const x of now) {
    const i = left.indexOf(x);
    if (i >= 0) left.splice(i, 1);
    else out.push(x);
  }
  return out;
}

// ---------------------------------------------------------------- guards

/**
 * Counts how an observable ends: `complete` + `error` must be exactly 1.
 *
 * @example
 * ```ts
 * import { of } from "rxjs";
 * import { endings } from "./_faults.ts";
 * const e = endings({ t: of(1) });
 * console.log(e.counts()); // { t: "complete" }
 * ```
 */
export function endings(
  observables: Record<string, { subscribe: (o: object) => unknown }>,
): { counts(): Record<string, string>; wrong(): string[] } {
  const seen: Record<string, string[]> = {};
  for (const [name, o] of Object.entries(observables)) {
    seen[name] = [];
    o.subscribe({
      error: () => seen[name].push("error"),
      complete: () => seen[name].push("complete"),
    });
  }
  return {
    counts: () => Object.fromEntries(Object.entries(seen).map(([k, v]) => [k, v.join("+")])),
    wrong: () =>
      Object.entries(seen).filter(([, v]) => v.length !== 1).map(([k, v]) =>
        `${k} ended ${v.length} times (${v.join("+") || "never"})`
      ),
  };
}

/** Rejections nobody handled, while {@link catchUnhandled} is on. */
export const unhandled: unknown[] = [];
let catching = false;

/**
 * Records unhandled rejections seen through node:process's event. Both test
 * runners also fail a test on an unhandled rejection by themselves (checked
 * on Deno 2.9 and Bun 1.4 with a deliberate one), so a test fails either way.
 */
export function catchUnhandled(): void {
  if (catching) return;
  catching = true;
  process.on("unhandledRejection", (reason) => void unhandled.push(reason));
}

/**
 * Settles `p` (resolved or rejected) or throws after `ms` (a hang guard,
 * generous, not a timing claim), naming `what`.
 */
export async function settled<T>(
  what: string,
  p: Promise<T>,
  ms = 10_000,
): Promise<PromiseSettledResult<T>> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  try {
    const [r] = await Promise.race([Promise.allSettled([p]), hang]);
    return r;
  } finally {
    clearTimeout(timer);
  }
}
