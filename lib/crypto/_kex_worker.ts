/**
 * The key-exchange worker: runs the modular exponentiations of the
 * finite-field Diffie-Hellman methods (`kex_dh.ts`) on a thread of its own,
 * started by `_kex_pool.ts` as a `node:worker_threads` worker.
 *
 * Messages in: `{ id, requests: [{ base, exponent, modulus }, ...] }` with
 * bigints (structured clone carries them). Out: `{ id, results }` or
 * `{ id, error }`, where `error` is only the name of the error class: the
 * exponent is a secret and nothing derived from a request may reach a
 * message.
 *
 * @module
 */
import { parentPort } from "node:worker_threads";
import { modPow } from "./_modpow.ts";

/** One job as the pool sends it. */
interface Job {
  id: number;
  requests: { base: bigint; exponent: bigint; modulus: bigint }[];
}

parentPort?.on("message", ({ id, requests }: Job) => {
  try {
    const results = requests.map((r) => modPow(r.base, r.exponent, r.modulus));
    parentPort!.postMessage({ id, results });
  } catch (e) {
    parentPort!.postMessage({ id, error: e instanceof Error ? e.name : "non-Error value" });
  }
});
