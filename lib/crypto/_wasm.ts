/**
 * A minimal WebAssembly binary encoder (WebAssembly spec §5, binary format)
 * for the few small modules rxssh builds at run time from TypeScript
 * (`_poly1305_wasm.ts`, `_chacha20_wasm.ts`): no binary blobs in the
 * repository, nothing to download, every byte reviewable.
 *
 * @module
 */

/**
 * Unsigned LEB128 (WebAssembly spec §5.2.2).
 *
 * @example
 * ```ts
 * import { uleb } from "./_wasm.ts";
 * console.log(uleb(624485)); // [229, 142, 38]
 * ```
 */
export const uleb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
};
/**
 * Signed LEB128 (WebAssembly spec §5.2.2).
 *
 * @example
 * ```ts
 * import { sleb } from "./_wasm.ts";
 * console.log(sleb(-123456)); // [192, 187, 120]
 * ```
 */
export const sleb = (n: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
};
/**
 * The parts, one after the other, in one new array. Array spread and
 * `flat()` walk the iteration protocol element by element (about 100 ns per
 * element on Deno): with function bodies of 12,000 bytes they were most of
 * the time spent assembling a module.
 *
 * @example
 * ```ts
 * import { concat } from "./_wasm.ts";
 * console.log(concat([1, 2], [], [3])); // [1, 2, 3]
 * ```
 */
export function concat(...parts: readonly (readonly number[])[]): number[] {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Array<number>(n);
  let o = 0;
  for (const p of parts) for (let i = 0; i < p.length; i++) out[o++] = p[i];
  return out;
}
const section = (id: number, body: number[]) => concat([id], uleb(body.length), body);
const vec = (items: number[][]) => concat(uleb(items.length), ...items);
const str = (s: string) => [...uleb(s.length), ...[...s].map((c) => c.charCodeAt(0))];

/**
 * Value types: i32 and i64.
 *
 * @example
 * ```ts
 * import { I32, I64 } from "./_wasm.ts";
 * console.log(I32.toString(16), I64.toString(16)); // "7f" "7e"
 * ```
 */
export const I32 = 0x7f, I64 = 0x7e, V128 = 0x7b;
/**
 * The opcodes used here (WebAssembly spec §5.4).
 *
 * @example
 * ```ts
 * import { op } from "./_wasm.ts";
 * const addTwoParams = [op.localGet, 0, op.localGet, 1, op.i32Add];
 * ```
 */
export const op = {
  block: 0x02,
  loop: 0x03,
  br: 0x0c,
  brIf: 0x0d,
  ret: 0x0f,
  end: 0x0b,
  localGet: 0x20,
  localSet: 0x21,
  globalGet: 0x23,
  globalSet: 0x24,
  i64Load32u: 0x35,
  i32Const: 0x41,
  i64Const: 0x42,
  i32Load: 0x28,
  i32Store: 0x36,
  i32Eqz: 0x45,
  i32LtU: 0x49,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32Xor: 0x73,
  i32Rotl: 0x77,
  i64Add: 0x7c,
  i64Mul: 0x7e,
  i64And: 0x83,
  i64Or: 0x84,
  i64Shl: 0x86,
  i64ShrU: 0x88,
  i32WrapI64: 0xa7,
  i64ExtendI32u: 0xad,
};

/**
 * SIMD opcodes (WebAssembly 2.0 §5.4.8): the 0xfd prefix, then the number as unsigned LEB128.
 *
 * @example
 * ```ts
 * import { simd } from "./_wasm.ts";
 * console.log(simd.i32x4Add); // [253, 174, 1]
 * ```
 */
export const simd = {
  v128Load: [0xfd, 0x00],
  v128Store: [0xfd, 0x0b],
  v128Const: [0xfd, 0x0c],
  i32x4Splat: [0xfd, 0x11],
  i32x4LtU: [0xfd, 0x3a],
  v128Or: [0xfd, 0x50],
  v128Xor: [0xfd, 0x51],
  i32x4Shl: [0xfd, 0xab, 0x01],
  i32x4ShrU: [0xfd, 0xad, 0x01],
  i32x4Add: [0xfd, 0xae, 0x01],
  i32x4Sub: [0xfd, 0xb1, 0x01],
};

/**
 * A function body's local declarations: [count, type] runs.
 *
 * @example
 * ```ts
 * import { I32, I64, localDecls } from "./_wasm.ts";
 * console.log(localDecls([[2, I32], [1, I64]])); // [2, 2, 127, 1, 126]
 * ```
 */
export function localDecls(runs: [number, number][]): number[] {
  return vec(runs.map(([n, t]) => [...uleb(n), t]));
}

/**
 * What {@link moduleBytes} assembles.
 *
 * @example
 * ```ts
 * import type { ModuleSpec } from "./_wasm.ts";
 * const empty: ModuleSpec = { types: [], functions: [] };
 * ```
 */
export interface ModuleSpec {
  /** Function types. */
  types: { params: number[]; results: number[] }[];
  /** Mutable globals of these types, zero-initialized (i32 or i64). */
  globals?: number[];
  /** Functions (exported under `name`), bodies starting with {@link localDecls}, ending with `end`. */
  functions: { type: number; name: string; body: number[] }[];
  /** Pages of the exported memory "memory" (64 KiB each; it may grow). */
  memoryPages?: number;
}

/**
 * The bytes of a module: types, functions, one exported memory, globals,
 * exports, code (sections 1, 3, 5, 6, 7, 10).
 *
 * @example
 * ```ts
 * import { I32, localDecls, moduleBytes, op } from "./_wasm.ts";
 * const add = [...localDecls([]), op.localGet, 0, op.localGet, 1, op.i32Add, op.end];
 * const bytes = moduleBytes({ types: [{ params: [I32, I32], results: [I32] }], functions: [{ type: 0, name: "add", body: add }] });
 * const { add: f } = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports as { add(a: number, b: number): number };
 * console.log(f(2, 3)); // 5
 * ```
 */
export function moduleBytes(spec: ModuleSpec): Uint8Array<ArrayBuffer> {
  const types = vec(
    spec.types.map((
      t,
    ) => [0x60, ...vec(t.params.map((p) => [p])), ...vec(t.results.map((r) => [r]))]),
  );
  const zero = (t: number) => t === I64 ? [op.i64Const, 0] : [op.i32Const, 0];
  const globals = vec((spec.globals ?? []).map((t) => [t, 0x01, ...zero(t), op.end]));
  const exports = vec([
    ...spec.functions.map((f, i) => [...str(f.name), 0x00, ...uleb(i)]),
    [...str("memory"), 0x02, 0],
  ]);
  return new Uint8Array(concat(
    [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    section(1, types),
    section(3, vec(spec.functions.map((f) => uleb(f.type)))),
    section(5, vec([[0x00, ...uleb(spec.memoryPages ?? 1)]])),
    section(6, globals),
    section(7, exports),
    section(10, vec(spec.functions.map((f) => concat(uleb(f.body.length), f.body)))),
  ));
}
