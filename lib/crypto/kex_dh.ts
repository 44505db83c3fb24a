/**
 * Finite-field Diffie-Hellman key exchange: RFC 4253 §8 with the RFC 8268
 * methods over RFC 3526 groups, and RFC 4419 group exchange with SHA-256.
 *
 * @module
 */
import { SshError } from "../wire/errors.ts";
import { KexError } from "./errors.ts";
import { powAll } from "./_kex_pool.ts";
import { SHA256, SHA512 } from "./hash.ts";
import { MODP_GROUP14, MODP_GROUP16, MODP_GROUP18 } from "./dh_groups.ts";
import type { DhGroup, Hash, KexAlgorithm, KexClient, RandomSource } from "./types.ts";

/**
 * Reads an unsigned big-endian magnitude (leading zeros allowed).
 *
 * @example
 * ```ts
 * import { bytesToBigint } from "./kex_dh.ts";
 * console.log(bytesToBigint(new Uint8Array([1, 0]))); // 256n
 * ```
 */
export function bytesToBigint(bytes: Uint8Array): bigint {
  let hex = "";
  for (let i = 0; i < bytes.length; i++) hex += bytes[i].toString(16).padStart(2, "0");
  return hex === "" ? 0n : BigInt("0x" + hex);
}

/**
 * Writes a non-negative bigint as its unsigned big-endian magnitude with no
 * leading zero bytes (0 becomes an empty array), or left-padded to `length`
 * bytes when given.
 *
 * @example
 * ```ts
 * import { bigintToBytes } from "./kex_dh.ts";
 * console.log(bigintToBytes(256n)); // Uint8Array [1, 0]
 * console.log(bigintToBytes(1n, 4)); // Uint8Array [0, 0, 0, 1]
 * ```
 */
export function bigintToBytes(value: bigint, length?: number): Uint8Array {
  if (value < 0n) throw new RangeError("bigintToBytes: negative value");
  let hex = value === 0n ? "" : value.toString(16);
  if (hex.length % 2) hex = "0" + hex;
  const n = hex.length / 2;
  if (length !== undefined && n > length) {
    throw new RangeError(`bigintToBytes: value needs ${n} bytes, more than ${length}`);
  }
  const out = new Uint8Array(length ?? n);
  const off = out.length - n;
  for (let i = 0; i < n; i++) out[off + i] = parseInt(hex.substr(2 * i, 2), 16);
  return out;
}

export { modPow } from "./_modpow.ts";

/**
 * Bits of private exponent used with a modulus of `pBits` bits: twice the
 * higher strength estimate of RFC 3526 §8, rounded up to whole 64-bit
 * words (2048 → 320, 3072 → 448, 4096 → 512, 6144 → 576, 8192 → 640; at
 * least 256), never more than `pBits - 2`. RFC 3526 §1 asks for at least
 * twice the strength; OpenSSH uses 2 × 256 = 512 bits for group 18.
 *
 * @example
 * ```ts
 * import { privateExponentBits } from "./kex_dh.ts";
 * console.log(privateExponentBits(8192)); // 640
 * ```
 */
export function privateExponentBits(pBits: number): number {
  // RFC 3526 §8, "Strength Estimate 2", exponent size column.
  const table: [number, number][] = [
    [2048, 320],
    [3072, 420],
    [4096, 480],
    [6144, 540],
    [8192, 620],
  ];
  let want = 256;
  for (const [bits, exp] of table) {
    if (pBits >= bits) want = exp;
  }
  if (pBits > 8192) want = Math.ceil(620 * pBits / 8192);
  want = Math.ceil(want / 64) * 64;
  return Math.max(1, Math.min(want, pBits - 2));
}

function bitLength(v: bigint): number {
  return v === 0n ? 0 : v.toString(2).length;
}

function checkGroup(name: string, group: DhGroup | undefined): DhGroup {
  if (group === undefined) throw new KexError(`${name}: no group given`);
  const { p, g } = group;
  if (p < 7n || (p & 1n) === 0n) throw new KexError(`${name}: modulus p is not an odd prime > 5`);
  if (g <= 1n || g >= p - 1n) throw new KexError(`${name}: generator g=${g} is not in (1, p-1)`);
  return group;
}

/** x uniform over [2^(bits-1), 2^bits), top bit set, from `random`. */
function privateExponent(random: RandomSource, bits: number): bigint {
  const bytes = random(Math.ceil(bits / 8));
  let x = bytesToBigint(bytes);
  bytes.fill(0);
  x &= (1n << BigInt(bits)) - 1n;
  x |= 1n << BigInt(bits - 1);
  return x < 2n ? 2n : x;
}

/**
 * Validates a peer's public value f or e (RFC 4253 §8: "Values of 'e' or
 * 'f' that are not in the range [1, p-1] MUST NOT be sent or accepted";
 * OpenSSH `dh_pub_is_valid` tightens this to 1 < y < p-1 with at least 4
 * bits set, since y = 1, p-1 or a power of g = 2 give the secret away).
 */
function checkPeer(name: string, what: string, y: bigint, p: bigint): void {
  if (y <= 1n) throw new KexError(`${name}: peer's ${what} = ${y} is not greater than 1`);
  if (y >= p - 1n) {
    throw new KexError(
      `${name}: peer's ${what} (${bitLength(y)} bits) is not less than p-1 (${bitLength(p)} bits)`,
    );
  }
  let set = 0;
  for (let v = y; v > 0n && set < 4; v &= v - 1n) set++;
  if (set < 4) throw new KexError(`${name}: peer's ${what} has only ${set} bits set`);
}

/** The pool's errors carry no values; say which method failed (never the exponent). */
function powFailed(name: string) {
  return (e: unknown): never => {
    if (e instanceof SshError) throw e;
    throw new KexError(`${name}: ${(e as Error)?.message ?? "modular exponentiation failed"}`);
  };
}

/** K = y^x mod p for the peer's y (validated first), off the main thread. */
async function agree(
  name: string,
  what: string,
  peerRaw: Uint8Array,
  x: bigint,
  p: bigint,
): Promise<Uint8Array> {
  const y = bytesToBigint(peerRaw);
  checkPeer(name, what, y, p);
  const [k] = await powAll([{ base: y, exponent: x, modulus: p }]).catch(powFailed(name));
  // Cannot happen for a valid y in a prime-order setting, but a GEX server
  // may send a bad group.
  if (k <= 1n) throw new KexError(`${name}: shared secret K is ${k}`);
  return bigintToBytes(k);
}

function dhAlgorithm(
  name: string,
  hash: Hash,
  kind: "single" | "gex",
  fixed?: DhGroup,
): KexAlgorithm {
  const groupFor = (group?: DhGroup) => checkGroup(name, kind === "single" ? fixed : group);
  return Object.freeze({
    name,
    hash,
    kind,
    publicEncoding: "mpint" as const,
    secretEncoding: "mpint" as const,
    async client(random: RandomSource, group?: DhGroup): Promise<KexClient> {
      const { p, g } = groupFor(group);
      const x = privateExponent(random, privateExponentBits(bitLength(p)));
      const [e] = await powAll([{ base: g, exponent: x, modulus: p }]).catch(powFailed(name));
      return {
        publicValue: bigintToBytes(e),
        finish: (serverPublic: Uint8Array) => agree(name, "f", serverPublic, x, p),
      };
    },
    async server(clientPublic: Uint8Array, random: RandomSource, group?: DhGroup) {
      const { p, g } = groupFor(group);
      // RFC 4253 §8: validate e before spending a modular exponentiation on f.
      const e = bytesToBigint(clientPublic);
      checkPeer(name, "e", e, p);
      const y = privateExponent(random, privateExponentBits(bitLength(p)));
      // f = g^y and K = e^y in one trip to the pool; a server exchange may be
      // refused there when too many are waiting (DisconnectError).
      const [f, k] = await powAll(
        [{ base: g, exponent: y, modulus: p }, { base: e, exponent: y, modulus: p }],
        { server: true, what: name },
      ).catch(powFailed(name));
      if (k <= 1n) throw new KexError(`${name}: shared secret K is ${k}`);
      return { publicValue: bigintToBytes(f), secret: bigintToBytes(k) };
    },
  });
}

/**
 * diffie-hellman-group14-sha256 (RFC 8268 §3): 2048-bit MODP group 14.
 *
 * @example
 * ```ts
 * import { DH_GROUP14_SHA256 } from "./kex_dh.ts";
 * import { defaultRandom } from "./types.ts";
 * const c = await DH_GROUP14_SHA256.client(defaultRandom);
 * const s = await DH_GROUP14_SHA256.server(c.publicValue, defaultRandom);
 * console.log((await c.finish(s.publicValue)).join() === s.secret.join()); // true
 * ```
 */
export const DH_GROUP14_SHA256: KexAlgorithm = dhAlgorithm(
  "diffie-hellman-group14-sha256",
  SHA256,
  "single",
  MODP_GROUP14,
);

/**
 * diffie-hellman-group16-sha512 (RFC 8268 §3): 4096-bit MODP group 16.
 *
 * @example
 * ```ts
 * import { DH_GROUP16_SHA512 } from "./kex_dh.ts";
 * console.log(DH_GROUP16_SHA512.hash.name); // "sha512"
 * ```
 */
export const DH_GROUP16_SHA512: KexAlgorithm = dhAlgorithm(
  "diffie-hellman-group16-sha512",
  SHA512,
  "single",
  MODP_GROUP16,
);

/**
 * diffie-hellman-group18-sha512 (RFC 8268 §3): 8192-bit MODP group 18.
 *
 * @example
 * ```ts
 * import { DH_GROUP18_SHA512 } from "./kex_dh.ts";
 * console.log(DH_GROUP18_SHA512.kind); // "single"
 * ```
 */
export const DH_GROUP18_SHA512: KexAlgorithm = dhAlgorithm(
  "diffie-hellman-group18-sha512",
  SHA512,
  "single",
  MODP_GROUP18,
);

/**
 * diffie-hellman-group-exchange-sha256 (RFC 4419): the server picks the
 * group (see `chooseGexGroup` in dh_groups.ts) and both sides pass it to
 * `client` / `server`. Checking that the group's size is acceptable to the
 * client (RFC 4419 §3, §6.1) is the transport's job; here p must merely be
 * an odd number above 5 and 1 < g < p-1.
 *
 * @example
 * ```ts
 * import { DH_GEX_SHA256 } from "./kex_dh.ts";
 * import { chooseGexGroup } from "./dh_groups.ts";
 * import { defaultRandom } from "./types.ts";
 * const group = chooseGexGroup(2048, 2048, 8192)!;
 * const c = await DH_GEX_SHA256.client(defaultRandom, group);
 * const s = await DH_GEX_SHA256.server(c.publicValue, defaultRandom, group);
 * console.log((await c.finish(s.publicValue)).length); // 256
 * ```
 */
export const DH_GEX_SHA256: KexAlgorithm = dhAlgorithm(
  "diffie-hellman-group-exchange-sha256",
  SHA256,
  "gex",
);
