import { test } from "node:test";
import assert from "node:assert/strict";
import { parseRekeyLimit } from "./rekey_limit.ts";
import { OptionError } from "./options.ts";

test("RekeyLimit: sshd_config(5) byte sizes and time formats", () => {
  assert.deepEqual(parseRekeyLimit("default none"), { bytes: undefined, intervalMs: undefined });
  assert.deepEqual(parseRekeyLimit("default"), { bytes: undefined, intervalMs: undefined });
  assert.deepEqual(parseRekeyLimit("1G 1h"), { bytes: 2 ** 30, intervalMs: 3_600_000 });
  assert.deepEqual(parseRekeyLimit("512M"), { bytes: 512 * 2 ** 20, intervalMs: undefined });
  assert.deepEqual(parseRekeyLimit("64k 30m"), { bytes: 65536, intervalMs: 1_800_000 });
  assert.deepEqual(parseRekeyLimit("1.5K 90"), { bytes: 1536, intervalMs: 90_000 });
  assert.deepEqual(parseRekeyLimit("100000 1h30m"), { bytes: 100000, intervalMs: 5_400_000 });
  assert.deepEqual(parseRekeyLimit("16 1w2d"), { bytes: 16, intervalMs: (7 + 2) * 86_400_000 });
  assert.deepEqual(parseRekeyLimit("0 0"), { bytes: undefined, intervalMs: undefined });
  assert.deepEqual(parseRekeyLimit("  2M   10S "), { bytes: 2 * 2 ** 20, intervalMs: 10_000 });
});

test("RekeyLimit: bad values are OptionErrors that name the value", () => {
  for (
    const [value, message] of [
      ["", /missing argument/],
      ["15", /"15" is too small/],
      ["1X", /bad number "1X"/],
      ["-5", /bad number "-5"/],
      ["1G 1y", /bad time "1y"/],
      ["1G h", /bad time "h"/],
      ["1G 1h extra", /unexpected "extra"/],
      ["99999999999T", /too large/],
      ["1G 99999999w", /too large/],
    ] as const
  ) {
    assert.throws(() => parseRekeyLimit(value), (e: unknown) => {
      assert.ok(e instanceof OptionError, String(e));
      assert.match(e.message, message);
      return true;
    }, value);
  }
});
