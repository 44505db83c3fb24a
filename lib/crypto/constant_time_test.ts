import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { constantTimeEqual } from "./constant_time.ts";
import { hex } from "./_test_util.ts";

test("constantTimeEqual: equal bytes, differing bytes, lengths, offset views", () => {
  assert.equal(constantTimeEqual(hex("00ff10"), hex("00ff10")), true);
  assert.equal(constantTimeEqual(hex("00ff10"), hex("00ff11")), false);
  assert.equal(constantTimeEqual(hex("80ff10"), hex("00ff10")), false);
  assert.equal(constantTimeEqual(hex("00ff"), hex("00ff10")), false);
  assert.equal(constantTimeEqual(new Uint8Array(0), new Uint8Array(0)), true);
  const big = hex("aa00ff10bb");
  assert.equal(constantTimeEqual(big.subarray(1, 4), hex("00ff10")), true);
});

test("constantTimeEqual agrees with byte-by-byte equality (property)", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), fc.nat(63), fc.nat(255), (a, at, v) => {
      const b = a.slice();
      if (a.length > 0) b[at % a.length] = v;
      const same = a.every((x, i) => x === b[i]);
      assert.equal(constantTimeEqual(a, b), same);
      assert.equal(constantTimeEqual(b, a), same);
    }),
    { numRuns: 500 },
  );
});

test("constantTimeEqual reads every byte even when the first one differs (no early exit)", () => {
  const reads = { a: 0, b: 0 };
  const counted = (bytes: Uint8Array, side: "a" | "b") =>
    new Proxy(bytes, {
      get(target, key) {
        if (typeof key === "string" && /^\d+$/.test(key)) reads[side]++;
        const v = Reflect.get(target, key, target);
        return typeof v === "function" ? v.bind(target) : v;
      },
    });
  const a = new Uint8Array(32).fill(1);
  const b = new Uint8Array(32).fill(2);
  assert.equal(constantTimeEqual(counted(a, "a"), counted(b, "b")), false);
  assert.deepEqual(reads, { a: 32, b: 32 });
});
