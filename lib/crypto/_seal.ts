/**
 * The buffer a sealer works in (see `PacketSealer.seal`).
 *
 * @module
 */

/**
 * `packet` plus `overhead` bytes of room: the packet's own buffer when the
 * caller gave it as `spare` (no copy), else a new buffer holding a copy.
 * Sealers then encrypt in place and append the tag or MAC.
 *
 * @example
 * ```ts
 * import { sealTarget } from "./_seal.ts";
 * const buf = new Uint8Array(20 + 16);
 * const packet = buf.subarray(0, 20);
 * console.log(sealTarget(packet, 16, true).buffer === buf.buffer); // true
 * console.log(sealTarget(packet, 16).length); // 36
 * ```
 */
export function sealTarget(packet: Uint8Array, overhead: number, spare = false): Uint8Array {
  if (spare) return new Uint8Array(packet.buffer, packet.byteOffset, packet.length + overhead);
  const out = new Uint8Array(packet.length + overhead);
  out.set(packet);
  return out;
}
