/**
 * Host key (server signature) algorithms, by wire name (RFC 4253 §6.6,
 * RFC 8709, RFC 5656 §6.2, RFC 8332 §3).
 *
 * @module
 */

/**
 * One host key algorithm: the signature algorithm name negotiated in
 * server_host_key_algorithms, and the key type whose blob carries it.
 *
 * @example
 * ```ts
 * import type { HostKeyAlgorithm } from "./host_key_algorithms.ts";
 * const a: HostKeyAlgorithm = { name: "rsa-sha2-256", keyType: "ssh-rsa" };
 * ```
 */
export interface HostKeyAlgorithm {
  /** Signature algorithm name, e.g. "rsa-sha2-512". */
  readonly name: string;
  /** Key type, e.g. "ssh-rsa". */
  readonly keyType: string;
}

/**
 * Signature algorithm name → key type, in OpenSSH's default preference
 * order (without certificates). There is no "ssh-rsa" entry: SHA-1
 * signatures are not offered nor accepted.
 *
 * @example
 * ```ts
 * import { HOST_KEY_ALGORITHMS } from "./host_key_algorithms.ts";
 * console.log([...HOST_KEY_ALGORITHMS.keys()].join(","));
 * // ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,rsa-sha2-512,rsa-sha2-256
 * console.log(HOST_KEY_ALGORITHMS.get("rsa-sha2-512")?.keyType); // "ssh-rsa"
 * ```
 */
export const HOST_KEY_ALGORITHMS: ReadonlyMap<string, HostKeyAlgorithm> = new Map(
  (
    [
      ["ssh-ed25519", "ssh-ed25519"],
      ["ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256"],
      ["ecdsa-sha2-nistp384", "ecdsa-sha2-nistp384"],
      ["ecdsa-sha2-nistp521", "ecdsa-sha2-nistp521"],
      ["rsa-sha2-512", "ssh-rsa"],
      ["rsa-sha2-256", "ssh-rsa"],
    ] as const
  ).map(([name, keyType]) => [name, Object.freeze({ name, keyType })]),
);

/**
 * The signature algorithms usable with keys of `keyType`, in preference
 * order (empty for unknown types).
 *
 * @example
 * ```ts
 * import { signatureAlgorithmsForKeyType } from "./host_key_algorithms.ts";
 * console.log(signatureAlgorithmsForKeyType("ssh-rsa")); // ["rsa-sha2-512", "rsa-sha2-256"]
 * ```
 */
export function signatureAlgorithmsForKeyType(keyType: string): string[] {
  return [...HOST_KEY_ALGORITHMS.values()].filter((a) => a.keyType === keyType).map((a) => a.name);
}
