// The per-user part of the failure delay is keyed with a secret (sshd's
// user_specific_delay(), auth2.c): stable for one server, different between
// servers, not computable from the user name alone.
import { test } from "node:test";
import assert from "node:assert/strict";
import { SHA256 } from "../crypto/hash.ts";
import { userFailureJitter } from "./server.ts";

const names = Array.from({ length: 32 }, (_, i) => `user${i}`);
const secret = () => crypto.getRandomValues(new Uint8Array(32));

test("two timing secrets give different per-user delays; one secret gives stable ones", () => {
  const a = secret();
  const b = secret();
  const first = names.map((n) => userFailureJitter(n, a));
  // All 32 equal by chance: probability 8^-32.
  assert.notDeepEqual(first, names.map((n) => userFailureJitter(n, b)));
  assert.deepEqual(first, names.map((n) => userFailureJitter(n, a)));
  assert.ok(first.every((j) => Number.isInteger(j) && j >= 0 && j < 8), String(first));
});

test("the default secret is this process's, not the public hash of the name", () => {
  const byDefault = names.map((n) => userFailureJitter(n));
  assert.deepEqual(byDefault, names.map((n) => userFailureJitter(n)));
  const publicHash = names.map((n) => SHA256.digest(new TextEncoder().encode(n))[0] % 8);
  assert.notDeepEqual(byDefault, publicHash);
});
