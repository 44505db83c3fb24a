import { test } from "node:test";
import assert from "node:assert/strict";
import {
  AlgorithmConfigError,
  DEFAULT_ALGORITHMS,
  negotiate,
  resolveAlgorithms,
} from "./algorithms.ts";

test("OpenSSH list syntax: replace, +append, -remove with wildcards, ^prefer", () => {
  assert.deepEqual(resolveAlgorithms("Ciphers", undefined), [...DEFAULT_ALGORITHMS.Ciphers]);
  assert.deepEqual(resolveAlgorithms("Ciphers", "aes256-ctr,aes128-ctr"), [
    "aes256-ctr",
    "aes128-ctr",
  ]);
  assert.deepEqual(resolveAlgorithms("Ciphers", ["aes256-gcm@openssh.com"]), [
    "aes256-gcm@openssh.com",
  ]);
  assert.deepEqual(
    resolveAlgorithms("KexAlgorithms", "+ecdh-sha2-nistp256").slice(-1),
    ["ecdh-sha2-nistp256"],
  );
  assert.deepEqual(resolveAlgorithms("Ciphers", "-aes*-ctr"), [
    "chacha20-poly1305@openssh.com",
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
  ]);
  assert.deepEqual(resolveAlgorithms("MACs", "-hmac-sha2-???"), [
    "hmac-sha2-256-etm@openssh.com",
    "hmac-sha2-512-etm@openssh.com",
  ]);
  const pref = resolveAlgorithms("KexAlgorithms", "^ecdh-sha2-nistp384,curve25519-sha256");
  assert.deepEqual(pref.slice(0, 2), ["ecdh-sha2-nistp384", "curve25519-sha256"]);
  assert.equal(pref.filter((n) => n === "curve25519-sha256").length, 1);
  assert.equal(pref.length, DEFAULT_ALGORITHMS.KexAlgorithms.length + 1);
});

test("unknown names and empty results are typed errors that name the list and the value", () => {
  assert.throws(() => resolveAlgorithms("Ciphers", "3des-cbc"), (e: AlgorithmConfigError) => {
    assert.ok(e instanceof AlgorithmConfigError);
    assert.equal(e.kind, "Ciphers");
    assert.match(e.message, /unsupported algorithm "3des-cbc"/);
    return true;
  });
  assert.throws(
    () => resolveAlgorithms("KexAlgorithms", "+diffie-hellman-group1-sha1"),
    /group1-sha1/,
  );
  assert.throws(() => resolveAlgorithms("MACs", "-*"), /leaves no algorithm/);
  assert.throws(
    () => resolveAlgorithms("HostKeyAlgorithms", "ssh-rsa"),
    /unsupported algorithm "ssh-rsa"/,
  );
});

test("negotiation picks the client's first choice the server also has (RFC 4253 §7.1)", () => {
  assert.equal(negotiate(["b", "a"], ["a", "b"]), "b");
  assert.equal(negotiate(["x"], ["y"]), undefined);
});
