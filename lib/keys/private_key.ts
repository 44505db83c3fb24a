/**
 * Private keys: generation of every supported type.
 *
 * @module
 */
import type { RandomSource } from "../crypto/types.ts";
import { describeName } from "./_bytes.ts";
import { generateEcdsa } from "./ecdsa.ts";
import { generateEd25519 } from "./ed25519.ts";
import { KeyError } from "./errors.ts";
import { generateRsa } from "./rsa.ts";
import type { PrivateKey } from "./types.ts";

export type { PrivateKey } from "./types.ts";

const EC_BITS: Readonly<Record<string, number>> = {
  "ecdsa-sha2-nistp256": 256,
  "ecdsa-sha2-nistp384": 384,
  "ecdsa-sha2-nistp521": 521,
};

/**
 * Options of {@link generatePrivateKey}.
 *
 * @example
 * ```ts
 * import type { GenerateKeyOptions } from "./private_key.ts";
 * const options: GenerateKeyOptions = { bits: 4096 };
 * ```
 */
export interface GenerateKeyOptions {
  /**
   * ssh-rsa: modulus size, default 3072, a multiple of 8 in [2048, 16384].
   * ECDSA: optional, must then equal the curve size (256, 384, 521).
   * ssh-ed25519: ignored, as by ssh-keygen.
   */
  bits?: number;
  /**
   * Randomness for ssh-ed25519 and ECDSA keys (default WebCrypto). RSA keys
   * come from WebCrypto's generateKey, which draws its own.
   */
  random?: RandomSource;
}

/**
 * Generates a private key of `type`: "ssh-ed25519", "ecdsa-sha2-nistp256",
 * "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521" or "ssh-rsa". Throws
 * {@link KeyError} for other types or unusable `bits`.
 *
 * @example
 * ```ts
 * import { generatePrivateKey } from "./private_key.ts";
 * const key = await generatePrivateKey("ecdsa-sha2-nistp256");
 * const sig = await key.sign(key.algorithms[0], new Uint8Array([42]));
 * console.log(await key.publicKey.verify(sig, new Uint8Array([42]), { algorithm: key.algorithms[0] })); // true
 * ```
 */
export async function generatePrivateKey(
  type: string,
  options: GenerateKeyOptions = {},
): Promise<PrivateKey> {
  const { bits, random } = options;
  switch (type) {
    case "ssh-ed25519":
      return generateEd25519(random);
    case "ecdsa-sha2-nistp256":
    case "ecdsa-sha2-nistp384":
    case "ecdsa-sha2-nistp521":
      if (bits !== undefined && bits !== EC_BITS[type]) {
        throw new KeyError(
          `${type} private key`,
          `bits is ${bits}, but the curve has ${EC_BITS[type]}`,
        );
      }
      return generateEcdsa(type, random);
    case "ssh-rsa":
      return await generateRsa(bits);
    default:
      throw new KeyError(
        "private key",
        `cannot generate keys of unsupported type ${describeName(type)}`,
      );
  }
}
