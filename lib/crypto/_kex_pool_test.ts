import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import process from "node:process";
import { kexPoolState, MAX_QUEUED_SERVER_EXCHANGES, powAll } from "./_kex_pool.ts";
import { modPow } from "./_modpow.ts";
import { MODP_GROUP14, MODP_GROUP16, MODP_GROUP18 } from "./dh_groups.ts";
import { bigintToBytes, bytesToBigint, DH_GROUP14_SHA256 } from "./kex_dh.ts";
import { DisconnectError, DisconnectReason } from "../wire/errors.ts";
import { defaultRandom } from "./types.ts";

const randomBelow = (m: bigint) => bytesToBigint(defaultRandom(bigintToBytes(m).length)) % m;

/**
 * Runs tests/fixtures/dh_exchange_once.ts with `runtime args...`: it must exit
 * by itself, with status 0, within 60 s (else it is killed and this fails).
 */
async function exchangeOnce(runtime: string, args: string[]): Promise<unknown> {
  const script = new URL("../../tests/fixtures/dh_exchange_once.ts", import.meta.url).pathname;
  const child = spawn(runtime, [...args, script], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "", err = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (err += d));
  const killer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const [code, signal] = await new Promise<[number | null, string | null]>((r) =>
    child.on("exit", (c, s) => r([c, s]))
  );
  clearTimeout(killer);
  assert.equal(signal, null, `the child did not exit by itself (killed); stderr: ${err}`);
  assert.equal(code, 0, `exit code; stderr: ${err}`);
  return JSON.parse(out.trim());
}

describe("key-exchange worker pool", () => {
  it("gives the same results as modPow on this thread, computed in a worker", async () => {
    const before = kexPoolState().jobsInWorkers;
    const requests = [];
    for (const p of [2039n, MODP_GROUP14.p, MODP_GROUP16.p, MODP_GROUP18.p]) {
      for (const exponentBits of [1, 64, 640]) {
        const exponent = bytesToBigint(defaultRandom(Math.ceil(exponentBits / 8)));
        requests.push({ base: 2n, exponent, modulus: p });
        requests.push({ base: randomBelow(p), exponent, modulus: p });
      }
    }
    // One job with all of them, and one job each, concurrently.
    const [all, ...each] = await Promise.all([
      powAll(requests),
      ...requests.map((r) => powAll([r]).then(([v]) => v)),
    ]);
    const expected = requests.map((r) => modPow(r.base, r.exponent, r.modulus));
    assert.deepEqual(all, expected);
    assert.deepEqual(each, expected);
    const state = kexPoolState();
    assert.equal(state.fallback, undefined, "no fallback to the main thread");
    assert.equal(state.jobsInWorkers - before, 1 + requests.length, "every job ran in a worker");
    assert.ok(state.workers >= 1);
  });

  it("reports a failed exponentiation without any value from the request", async () => {
    const exponent = 0x1234567890abcdef1234567890abcdefn;
    const err = await powAll([{ base: 5n, exponent, modulus: 0n }]).then(
      () => assert.fail("modulus 0 must fail"),
      (e: Error) => e,
    );
    assert.ok(err instanceof RangeError);
    assert.match(err.message, /modular exponentiation failed in the worker \(RangeError\)/);
    for (const secret of [exponent.toString(10), exponent.toString(16), "1234567890"]) {
      assert.ok(!err.message.includes(secret), `no exponent digits in ${err.message}`);
    }
    assert.equal(kexPoolState().fallback, undefined, "an error answer is not a dead worker");
  });

  it(`refuses server exchanges past ${MAX_QUEUED_SERVER_EXCHANGES} waiting (TOO_MANY_CONNECTIONS)`, async () => {
    const alg = DH_GROUP14_SHA256;
    const c = await alg.client(defaultRandom);
    const calls = Array.from(
      { length: MAX_QUEUED_SERVER_EXCHANGES + 1 },
      () => alg.server(c.publicValue, defaultRandom).then((s) => s, (e: unknown) => e),
    );
    assert.equal(kexPoolState().queuedServer, MAX_QUEUED_SERVER_EXCHANGES);
    const results = await Promise.all(calls);
    const refused = results.filter((r) => r instanceof Error);
    assert.equal(refused.length, 1);
    const e = refused[0] as DisconnectError;
    assert.ok(e instanceof DisconnectError);
    assert.equal(e.reason, DisconnectReason.TOO_MANY_CONNECTIONS);
    assert.match(e.description, /diffie-hellman-group14-sha256: 64 finite-field key exchanges/);
    for (const s of results.filter((r) => !(r instanceof Error))) {
      const ok = s as { publicValue: Uint8Array; secret: Uint8Array };
      assert.deepEqual(await c.finish(ok.publicValue), ok.secret);
    }
    assert.equal(kexPoolState().queuedServer, 0, "the count returns to zero");
  });

  it("a process that did one DH exchange exits by itself", async () => {
    const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";
    const result = await exchangeOnce(process.execPath, isDeno ? ["run", "-A"] : []);
    assert.deepEqual(result, { agreed: true, workers: 1, jobsInWorkers: 3, fallback: null });
  });

  it("falls back to this thread where no worker may start (Deno without read permission)", async () => {
    const deno = new URL("../../node_modules/.bin/deno", import.meta.url).pathname;
    const result = await exchangeOnce(deno, ["run"]);
    assert.deepEqual(result, {
      agreed: true,
      workers: 0,
      jobsInWorkers: 0,
      fallback: "cannot start a worker: NotCapable",
    });
  });
});
