/**
 * Socket address helpers.
 *
 * @module
 */

/**
 * An IPv4-mapped IPv6 address as plain IPv4, as sshd reports it:
 * `"::ffff:192.0.2.7"` → `"192.0.2.7"` (what a dual-stack listener sees for
 * an IPv4 client). Any other address is returned unchanged, `undefined`
 * included.
 *
 * @example
 * ```ts
 * import { plainAddress } from "./address.ts";
 * console.log(plainAddress("::ffff:192.0.2.7")); // "192.0.2.7"
 * console.log(plainAddress("2001:db8::1")); // "2001:db8::1"
 * ```
 */
export function plainAddress(address: string): string;
/**
 * {@link plainAddress} for an address that may be missing (a stream that
 * is not a socket): `undefined` stays `undefined`.
 *
 * @example
 * ```ts
 * import { plainAddress } from "./address.ts";
 * const stream: { remoteAddress?: string } = {};
 * console.log(plainAddress(stream.remoteAddress)); // undefined
 * ```
 */
export function plainAddress(address: string | undefined): string | undefined;
export function plainAddress(address: string | undefined): string | undefined {
  const m = address === undefined ? null : /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m ? m[1] : address;
}
