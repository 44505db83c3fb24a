// Helpers for the property and fuzz tests (tests/fuzz_*_test.ts): run counts
// that a long run multiplies, byte mutations of valid encodings, and the
// "value or typed error, quickly, with bounded allocation" check that every
// decoder must pass.
//
// Short run (the suite): each property's base numRuns. Long run: `deno task
// fuzz` sets FUZZ_RUNS (default 50), which multiplies every numRuns.
// FUZZ_SEED replays one seed (fast-check prints the seed and path of any
// counterexample; keep it as an explicit regression case beside the property).
import fc from "fast-check";
import process from "node:process";

const env = (name: string): string | undefined => {
  try {
    return process.env[name];
  } catch {
    return undefined; // no env permission: the short run
  }
};

/** The multiplier of every property's numRuns (FUZZ_RUNS, default 1). */
export const FUZZ_SCALE = Math.max(1, Number(env("FUZZ_RUNS") ?? "1") || 1);
const SEED = env("FUZZ_SEED");

/** fast-check parameters: `numRuns` scaled by FUZZ_SCALE, FUZZ_SEED when given. */
export function params(numRuns: number): fc.Parameters<unknown> {
  return {
    numRuns: Math.ceil(numRuns * FUZZ_SCALE),
    ...(SEED === undefined ? {} : { seed: Number(SEED) }),
  };
}

/** Runs a synchronous property `numRuns` (scaled) times; throws the shrunk counterexample. */
export function check<T>(arb: fc.Arbitrary<T>, numRuns: number, body: (v: T) => unknown): void {
  // The body's return value is ignored (fast-check fails a property that returns a non-boolean).
  fc.assert(fc.property(arb, (v) => void body(v)), params(numRuns) as fc.Parameters<[T]>);
}

/** Runs an asynchronous property `numRuns` (scaled) times. */
export async function checkAsync<T>(
  arb: fc.Arbitrary<T>,
  numRuns: number,
  body: (v: T) => Promise<unknown>,
): Promise<void> {
  await fc.assert(
    fc.asyncProperty(arb, async (v) => void await body(v)),
    params(numRuns) as fc.Parameters<[T]>,
  );
}

/** One mutation of a byte string. Positions are taken modulo the length. */
export type Mutation =
  | { kind: "flip"; at: number; xor: number }
  | { kind: "truncate"; at: number }
  | { kind: "extend"; bytes: Uint8Array }
  | { kind: "duplicate"; at: number; len: number }
  | { kind: "delete"; at: number; len: number }
  | { kind: "swap"; at: number; to: number; len: number }
  | { kind: "u32"; at: number; value: number };

/** Length-like values that break decoders which trust a length field. */
const NASTY_U32 = [
  0,
  1,
  3,
  4,
  255,
  256,
  0x7fff,
  0xffff,
  0x10000,
  0x7fffffff,
  0x80000000,
  0xfffffffc,
  0xffffffff,
];

/** Arbitrary mutations: bit flips, truncation, extension, duplication, deletion, reordering, u32 overwrites. */
export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    kind: fc.constant("flip" as const),
    at: fc.nat(),
    xor: fc.integer({ min: 1, max: 255 }),
  }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant("extend" as const),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 24 }),
  }),
  fc.record({
    kind: fc.constant("duplicate" as const),
    at: fc.nat(),
    len: fc.integer({ min: 1, max: 64 }),
  }),
  fc.record({
    kind: fc.constant("delete" as const),
    at: fc.nat(),
    len: fc.integer({ min: 1, max: 16 }),
  }),
  fc.record({
    kind: fc.constant("swap" as const),
    at: fc.nat(),
    to: fc.nat(),
    len: fc.integer({ min: 1, max: 32 }),
  }),
  fc.record({
    kind: fc.constant("u32" as const),
    at: fc.nat(),
    value: fc.oneof(fc.constantFrom(...NASTY_U32), fc.nat({ max: 0xffffffff })),
  }),
);

/** Applies one mutation (a new array; the input is not changed). */
export function mutate(b: Uint8Array, m: Mutation): Uint8Array {
  const n = b.length;
  const pos = (x: number) => (n === 0 ? 0 : x % n);
  const join = (...parts: Uint8Array[]) => {
    const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
    let o = 0;
    for (const p of parts) (out.set(p, o), o += p.length);
    return out;
  };
  switch (m.kind) {
    case "flip": {
      const out = b.slice();
      if (n) out[pos(m.at)] ^= m.xor;
      return out;
    }
    case "truncate":
      return b.slice(0, pos(m.at));
    case "extend":
      return join(b, m.bytes);
    case "duplicate": {
      const at = pos(m.at);
      return join(b.subarray(0, at + m.len), b.subarray(at));
    }
    case "delete": {
      const at = pos(m.at);
      return join(b.subarray(0, at), b.subarray(at + m.len));
    }
    case "swap": {
      // Moves a slice elsewhere: reordering.
      const at = pos(m.at);
      const piece = b.subarray(at, at + m.len);
      const rest = join(b.subarray(0, at), b.subarray(at + m.len));
      const to = rest.length === 0 ? 0 : m.to % (rest.length + 1);
      return join(rest.subarray(0, to), piece, rest.subarray(to));
    }
    case "u32": {
      const out = b.slice();
      if (n >= 4) new DataView(out.buffer).setUint32(pos(m.at) % (n - 3), m.value);
      return out;
    }
  }
}

/** Valid encodings from `valid` with 1 to 4 mutations applied. */
export function mutated(valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  return fc.tuple(valid, fc.array(mutation, { minLength: 1, maxLength: 4 })).map(([b, ms]) =>
    ms.reduce(mutate, b)
  );
}

/**
 * Valid encodings, their mutations and arbitrary bytes, in proportion
 * (mostly mutations: they reach deepest).
 */
export function hostile(valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    { weight: 1, arbitrary: valid },
    { weight: 6, arbitrary: mutated(valid) },
    { weight: 2, arbitrary: fc.uint8Array({ maxLength: 96 }) },
  );
}

/** Error classes a decoder documents: the only exceptions allowed. */
// deno-lint-ignore no-explicit-any
export type ErrorClass = abstract new (...args: any[]) => Error;

/** Raised by the allocation guard: a decoder asked for more memory than its input warrants. */
export class AllocationError extends Error {
  constructor(readonly size: number, readonly limit: number) {
    super(`allocation of ${size} bytes over the limit of ${limit} (input-bounded)`);
    this.name = "AllocationError";
  }
}

/**
 * Runs `fn` with `Uint8Array`, `ArrayBuffer` and `Array` construction
 * guarded: any allocation of more than `limit` elements throws
 * {@link AllocationError}. Works because library code looks those globals
 * up at call time; `instanceof` still works through the proxies.
 */
export function withAllocationLimit<T>(limit: number, fn: () => T): T {
  const g = globalThis as Record<string, unknown>;
  const saved = { Uint8Array: g.Uint8Array, ArrayBuffer: g.ArrayBuffer, Array: g.Array };
  const guard = <C extends object>(C: C) =>
    new Proxy(C, {
      construct(target, args, newTarget) {
        const n = args[0];
        if (typeof n === "number" && n > limit) throw new AllocationError(n, limit);
        return Reflect.construct(
          target as never,
          args,
          newTarget === proxies.get(C) ? target as never : newTarget,
        );
      },
      apply(target, thisArg, args) {
        const n = args[0];
        if (args.length === 1 && typeof n === "number" && n > limit) {
          throw new AllocationError(n, limit);
        }
        return Reflect.apply(target as never, thisArg, args);
      },
    });
  const proxies = new Map<object, object>();
  for (const C of [Uint8Array, ArrayBuffer, Array]) proxies.set(C, guard(C));
  g.Uint8Array = proxies.get(Uint8Array);
  g.ArrayBuffer = proxies.get(ArrayBuffer);
  g.Array = proxies.get(Array);
  try {
    return fn();
  } finally {
    g.Uint8Array = saved.Uint8Array;
    g.ArrayBuffer = saved.ArrayBuffer;
    g.Array = saved.Array;
  }
}

/** The allocation allowed for decoding `inputLength` bytes: 64 KiB plus 16 × the input. */
export function allocationLimit(inputLength: number): number {
  return 64 * 1024 + 16 * inputLength;
}

/** How long one decode of a small input may take (generous: the machine is shared). */
export const DECODE_MS = 2000;

function describe(input: unknown): string {
  if (input instanceof Uint8Array) {
    return `${input.length} bytes: ${
      [...input.subarray(0, 256)].map((x) => x.toString(16).padStart(2, "0")).join("")
    }`;
  }
  return JSON.stringify(input)?.slice(0, 600) ?? String(input);
}

/**
 * The decoder contract: `decode(input)` returns a value or throws one of
 * `allowed`, within {@link DECODE_MS}, allocating no more than
 * {@link allocationLimit} of the input's size. Returns the value (or
 * undefined when it threw a typed error).
 */
export function expectTyped<I, T>(
  input: I,
  decode: (input: I) => T,
  allowed: readonly ErrorClass[],
): T | undefined {
  const size = input instanceof Uint8Array
    ? input.length
    : typeof input === "string"
    ? input.length
    : 1024;
  const t0 = performance.now();
  let out: T | undefined;
  try {
    out = withAllocationLimit(allocationLimit(size), () => decode(input));
  } catch (e) {
    if (e instanceof AllocationError) throw new Error(`${e.message} decoding ${describe(input)}`);
    if (!allowed.some((C) => e instanceof C)) {
      throw new Error(
        `untyped ${(e as Error)?.name ?? typeof e} (${(e as Error)?.message}) decoding ${
          describe(input)
        }`,
        { cause: e },
      );
    }
    if (!(e as Error).message) {
      throw new Error(`typed error without a message decoding ${describe(input)}`);
    }
  }
  const ms = performance.now() - t0;
  if (ms > DECODE_MS) throw new Error(`decode took ${ms.toFixed(0)} ms for ${describe(input)}`);
  return out;
}

/** {@link expectTyped} for asynchronous decoders (time-bounded; allocation guarded only up to the first await). */
export async function expectTypedAsync<I, T>(
  input: I,
  decode: (input: I) => Promise<T>,
  allowed: readonly ErrorClass[],
): Promise<T | undefined> {
  const t0 = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`decode did not settle in ${DECODE_MS} ms: ${describe(input)}`)),
      DECODE_MS,
    );
  });
  try {
    const size = input instanceof Uint8Array
      ? input.length
      : typeof input === "string"
      ? input.length
      : 1024;
    return await Promise.race([
      withAllocationLimit(allocationLimit(size), () => decode(input)),
      timeout,
    ]);
  } catch (e) {
    if (e instanceof AllocationError) throw new Error(`${e.message} decoding ${describe(input)}`);
    if ((e as Error)?.message?.startsWith("decode did not settle")) throw e;
    if (!allowed.some((C) => e instanceof C)) {
      throw new Error(
        `untyped ${(e as Error)?.name ?? typeof e} (${(e as Error)?.message}) decoding ${
          describe(input)
        }`,
        { cause: e },
      );
    }
    return undefined;
  } finally {
    clearTimeout(timer);
    void t0;
  }
}

/** Equality for decoded values: bigints, Uint8Arrays (by content), Maps, plain objects. */
export function same(a: unknown, b: unknown): boolean {
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    return a instanceof Uint8Array && b instanceof Uint8Array && a.length === b.length &&
      a.every((x, i) => x === b[i]);
  }
  if (a instanceof Map || b instanceof Map) {
    return a instanceof Map && b instanceof Map && a.size === b.size &&
      [...a].every(([k, v]) => b.has(k) && same(v, b.get(k)));
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length &&
      a.every((x, i) => same(x, b[i]));
  }
  if (a && b && typeof a === "object" && typeof b === "object") {
    const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined).sort();
    const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined).sort();
    return same(ka, kb) &&
      ka.every((k) => same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
  }
  return Object.is(a, b);
}

/** Asserts `same(actual, expected)`, printing both on failure. */
export function assertSame(actual: unknown, expected: unknown, what = "round trip"): void {
  if (!same(actual, expected)) {
    const show = (v: unknown) =>
      JSON.stringify(
        v,
        (_k, x) =>
          typeof x === "bigint"
            ? `${x}n`
            : x instanceof Uint8Array
            ? `<${[...x].join(",")}>`
            : x instanceof Map
            ? [...x]
            : x,
      );
    throw new Error(`${what}: got ${show(actual)}, expected ${show(expected)}`);
  }
}

/** Hex to bytes, for regression cases. */
export function unhex(h: string): Uint8Array {
  const s = h.replace(/\s+/g, "");
  return Uint8Array.from(
    { length: s.length / 2 },
    (_, i) => parseInt(s.slice(2 * i, 2 * i + 2), 16),
  );
}

/** Arbitrary SSH strings: short ASCII and unicode text. */
export const text: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 24 }),
  fc.string({ unit: "grapheme", maxLength: 12 }),
);
/** Arbitrary name tokens (no commas): algorithm and request names. */
export const name: fc.Arbitrary<string> = fc.stringMatching(/^[a-z0-9@.\-]{1,20}$/);
/** Arbitrary uint32. */
export const u32: fc.Arbitrary<number> = fc.nat({ max: 0xffffffff });
/** Arbitrary short byte strings. */
export const bytes: fc.Arbitrary<Uint8Array> = fc.uint8Array({ maxLength: 48 });
