/**
 * Key wiping, and the test hook that proves it. Buffers that held secrets
 * and that rxssh owns (the KEX shared secret K, ephemeral private keys, the
 * six derived keys of RFC 4253 §7.2, decrypted key-file sections, bcrypt_pbkdf
 * output, passphrase bytes we encoded) are zeroed with {@link wipe} once they
 * have been used. What cannot be wiped: JavaScript strings (passwords and
 * passphrases as given), bigints (the DH private exponent), WebCrypto
 * `CryptoKey`s and the copies inside noble's and the runtime's own objects,
 * and whatever the garbage collector copied before.
 *
 * {@link secretMade} tells the test hook about a buffer as it is made, so a
 * test can check that every one of them is all zeros after use (and can
 * take a copy first, to look for it in logs). With no watcher it costs one
 * size check, once per key exchange or key file, never per packet.
 *
 * @module
 */

/** What a watcher is told: a label naming the secret, and the buffer itself. */
export type SecretWatcher = (label: string, bytes: Uint8Array) => void;

const watchers = new Set<SecretWatcher>();

/**
 * Test hook: `watcher` is called with every secret buffer as it is made,
 * until the returned function is called.
 *
 * @example
 * ```ts
 * import { secretMade, watchSecrets } from "./_secrets.ts";
 * const seen: string[] = [];
 * const stop = watchSecrets((label) => seen.push(label));
 * secretMade("demo", new Uint8Array(4));
 * stop();
 * console.log(seen); // ["demo"]
 * ```
 */
export function watchSecrets(watcher: SecretWatcher): () => void {
  watchers.add(watcher);
  return () => watchers.delete(watcher);
}

/**
 * Reports a secret buffer we own to the watchers (none outside tests);
 * returns it.
 *
 * @example
 * ```ts
 * import { secretMade } from "./_secrets.ts";
 * const k = secretMade("K", crypto.getRandomValues(new Uint8Array(32)));
 * console.log(k.length); // 32
 * ```
 */
export function secretMade<T extends Uint8Array>(label: string, bytes: T): T {
  if (watchers.size) { for (const w of watchers) w(label, bytes); }
  return bytes;
}

/**
 * Zeroes each buffer given (undefined ones are skipped).
 *
 * @example
 * ```ts
 * import { wipe } from "./_secrets.ts";
 * const k = new Uint8Array([1, 2, 3]);
 * wipe(k, undefined);
 * console.log(k); // Uint8Array(3) [0, 0, 0]
 * ```
 */
export function wipe(...buffers: (Uint8Array | undefined)[]): void {
  for (const b of buffers) b?.fill(0);
}
