/**
 * Errors of the keys layer.
 *
 * @module
 */
import { SshError, WireError } from "../wire/errors.ts";

/**
 * A key or key operation was rejected: a malformed or unsupported public key
 * blob (RFC 4253 §6.6), unusable key material, or a signature algorithm the
 * key cannot produce. `what` names the thing being handled (e.g. `"ssh-rsa
 * public key"`), `where` the field (and offset) at fault when there is one.
 * Messages never contain secret material.
 *
 * @example
 * ```ts
 * import { KeyError } from "./errors.ts";
 * const e = new KeyError("ssh-ed25519 public key", "key is 31 bytes, expected 32", { where: "pk at offset 15" });
 * console.log(e.message); // "ssh-ed25519 public key: pk at offset 15: key is 31 bytes, expected 32"
 * ```
 */
export class KeyError extends SshError {
  /** What was being parsed or used, e.g. `"public key"` or `"ecdsa-sha2-nistp256 private key"`. */
  readonly what: string;
  /** The field at fault, with its offset when known; undefined when the problem is not one field's. */
  readonly where: string | undefined;
  /**
   * Creates the error: `problem` went wrong with `what`, in the field
   * `options.where` when there is one; `options.cause` is the underlying error.
   */
  constructor(what: string, problem: string, options: ErrorOptions & { where?: string } = {}) {
    const { where, ...errorOptions } = options;
    super(
      where === undefined ? `${what}: ${problem}` : `${what}: ${where}: ${problem}`,
      errorOptions,
    );
    this.what = what;
    this.where = where;
  }

  /**
   * Converts a {@link WireError} raised while decoding `what` into a
   * KeyError that keeps the field and offset; other errors are returned as is.
   *
   * @example
   * ```ts
   * import { KeyError } from "./errors.ts";
   * import { WireError } from "../wire/errors.ts";
   * const e = KeyError.fromWire("public key", new WireError("uint32 needs 4 bytes but only 2 remain", { field: "key type", offset: 0 }));
   * console.log(e instanceof KeyError && e.where); // "key type at offset 0"
   * ```
   */
  static fromWire(what: string, error: unknown): unknown {
    if (!(error instanceof WireError)) return error;
    const where = `${error.field} at offset ${error.offset}`;
    const prefix = `${where}: `;
    const problem = error.message.startsWith(prefix)
      ? error.message.slice(prefix.length)
      : error.message;
    return new KeyError(what, problem, { where, cause: error });
  }
}
