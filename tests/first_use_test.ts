// What a fresh process sets up, and when (issue 10, item 8): importing rxssh
// runs no self-test and builds no WebAssembly module; verifying an Ed25519
// signature (all a client does with the host key) signs nothing; the ChaCha20
// and Poly1305 modules are built for a session that negotiated
// chacha20-poly1305 and for no other. Each phase is counted in a fresh child
// process of the same runtime (tests/_first_use_child.ts), through the
// runtime's own entry points (WebAssembly.Module, crypto.subtle).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

type Counts = Record<"wasmModules" | "importKey" | "sign" | "verify" | "deriveBits", number>;

function runChild(ciphers: string[], mode = ""): Record<string, Counts> {
  const child = path.join(path.dirname(fileURLToPath(import.meta.url)), "_first_use_child.ts");
  const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";
  const rest = [child, ciphers.join(","), mode];
  const args = isDeno ? ["run", "-A", ...rest] : rest;
  const r = spawnSync(process.execPath, args, { encoding: "utf8", timeout: 60_000 });
  assert.equal(r.status, 0, `child failed (${r.status ?? r.signal}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!);
}

const GCM = "aes256-gcm@openssh.com";
const CHACHA = "chacha20-poly1305@openssh.com";

test("a fresh process: nothing at import, each backend set up when its algorithm is first used", () => {
  const phases = runChild([GCM, CHACHA]);
  const none: Counts = { wasmModules: 0, importKey: 0, sign: 0, verify: 0, deriveBits: 0 };
  assert.deepEqual(
    phases.import,
    none,
    "importing mod.ts must not run self-tests or build modules",
  );
  const v = phases.verify;
  assert.equal(v.sign, 0, "verifying an Ed25519 signature must not sign (no signing self-test)");
  assert.equal(v.wasmModules, 0);
  // Known answer (RFC 8032 TEST 1 and the same with a bit flipped), then the real verification.
  assert.equal(v.verify, 3);
  assert.equal(phases[GCM].wasmModules, 0, "an AES-GCM session builds no ChaCha20/Poly1305 module");
  const built = phases[CHACHA].wasmModules - phases[GCM].wasmModules;
  assert.ok(built >= 2, `a chacha20-poly1305 session builds its modules (built ${built})`);
});

test("a WebCrypto Ed25519 verify that accepts everything fails its known answer: noble verifies", () => {
  // The child throws if the forged signature verifies, so status 0 is the assertion.
  const phases = runChild([], "broken-verify");
  assert.equal(
    phases.verify.verify,
    2,
    "the two known-answer calls, then no more WebCrypto verify",
  );
});
