import { test } from "node:test";
import assert from "node:assert/strict";
import { plainAddress } from "./address.ts";

test("plainAddress: IPv4-mapped IPv6 becomes IPv4; anything else is unchanged", () => {
  assert.equal(plainAddress("::ffff:192.0.2.7"), "192.0.2.7");
  assert.equal(plainAddress("::FFFF:127.0.0.1"), "127.0.0.1");
  assert.equal(plainAddress("192.0.2.7"), "192.0.2.7");
  assert.equal(plainAddress("2001:db8::1"), "2001:db8::1");
  assert.equal(plainAddress("::ffff:c000:207"), "::ffff:c000:207"); // hex form: not rewritten
  assert.equal(plainAddress("::ffff:192.0.2.7x"), "::ffff:192.0.2.7x");
  assert.equal(plainAddress(""), "");
  assert.equal(plainAddress(undefined), undefined);
});
