/**
 * Modular exponentiation over bigints, the one costly step of the
 * finite-field key exchanges (`kex_dh.ts`). A module of its own so that the
 * key-exchange worker (`_kex_worker.ts`) loads nothing else.
 *
 * @module
 */

const WINDOW = 5;

/**
 * `base ^ exponent mod modulus` for bigints, by left-to-right
 * square-and-multiply. A small base (such as the generator 2) multiplies
 * directly, which costs one pass over the number; any other base uses a
 * 5-bit sliding window of precomputed odd powers, so a 512-bit exponent
 * costs about 512 squarings and 90 multiplications. Not constant-time:
 * BigInt arithmetic never is.
 *
 * @example
 * ```ts
 * import { modPow } from "./_modpow.ts";
 * console.log(modPow(4n, 13n, 497n)); // 445n
 * ```
 */
export function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  if (modulus <= 0n) throw new RangeError("modPow: modulus must be positive");
  if (exponent < 0n) throw new RangeError("modPow: negative exponent");
  if (modulus === 1n) return 0n;
  let b = base % modulus;
  if (b < 0n) b += modulus;
  if (exponent === 0n) return 1n;
  const bits = exponent.toString(2);
  let r = 1n;
  if (b < 0x100000000n) {
    // Multiplying by a word-sized base is linear in the size of r.
    for (let i = 0; i < bits.length; i++) {
      r = (r * r) % modulus;
      if (bits.charCodeAt(i) === 49) r = (r * b) % modulus;
    }
    return r;
  }
  // Odd powers b^1, b^3, ..., b^(2^WINDOW - 1).
  const b2 = (b * b) % modulus;
  const odd: bigint[] = [b];
  for (let i = 1; i < 1 << (WINDOW - 1); i++) odd.push((odd[i - 1] * b2) % modulus);
  let i = 0;
  while (i < bits.length) {
    if (bits.charCodeAt(i) === 48) {
      r = (r * r) % modulus;
      i++;
      continue;
    }
    // Longest window of at most WINDOW bits starting at i and ending in a 1.
    let j = Math.min(i + WINDOW, bits.length) - 1;
    while (bits.charCodeAt(j) === 48) j--;
    const w = parseInt(bits.slice(i, j + 1), 2);
    for (let k = i; k <= j; k++) r = (r * r) % modulus;
    r = (r * odd[(w - 1) >> 1]) % modulus;
    i = j + 1;
  }
  return r;
}
