/**
 * The SFTP client's errors: a status the server answered
 * ({@link SftpError}), the end of the session ({@link SftpConnectionError})
 * and a transfer that stopped part way ({@link SftpTransferError}).
 *
 * Text the server sent (its status message, names it returned) is quoted
 * with `quotePeerText` before it reaches a message.
 *
 * @example
 * ```ts
 * import { SftpError } from "./errors.ts";
 * import { FX } from "./packets.ts";
 * const e = new SftpError({ op: "stat", code: FX.NO_SUCH_FILE, path: "/nope", serverMessage: "No such file" });
 * console.log(e.codeName, e.message); // SSH_FX_NO_SUCH_FILE stat "/nope": SSH_FX_NO_SUCH_FILE ("No such file")
 * ```
 *
 * @module
 */
import { SshError } from "../wire/errors.ts";
import { quotePeerText } from "../wire/quote.ts";
import { statusName } from "./packets.ts";

/**
 * What {@link SftpError} is made of.
 *
 * @example
 * ```ts
 * import type { SftpErrorInit } from "./errors.ts";
 * const init: SftpErrorInit = { op: "remove", code: 3, path: "/etc/passwd" };
 * ```
 */
export interface SftpErrorInit {
  /** The request that failed (`open`, `stat`, `posix-rename@openssh.com`, ...). */
  op: string;
  /** The SSH_FX status code (draft-ietf-secsh-filexfer-02 §7). */
  code: number;
  /** The path the request was about, when there is one. */
  path?: string;
  /** The server's own text for the status, as it sent it. */
  serverMessage?: string;
  /** Set when the client refused without asking the server (an extension it did not advertise). */
  local?: boolean;
}

/**
 * A request the server answered with a failure status (or one this client
 * refused without sending, `local`: an extension the server did not
 * advertise is SSH_FX_OP_UNSUPPORTED). The message names the request, the
 * path, the status and the server's text (quoted).
 *
 * @example
 * ```ts
 * import { FX, SftpError } from "./mod.ts";
 * async function exists(stat: (p: string) => Promise<unknown>, path: string) {
 *   try {
 *     await stat(path);
 *     return true;
 *   } catch (e) {
 *     if (e instanceof SftpError && e.code === FX.NO_SUCH_FILE) return false;
 *     throw e;
 *   }
 * }
 * ```
 */
export class SftpError extends SshError {
  /** The request that failed. */
  readonly op: string;
  /** The SSH_FX status code. */
  readonly code: number;
  /** The status code's name, e.g. `SSH_FX_PERMISSION_DENIED`. */
  readonly codeName: string;
  /** The path the request was about, if any. */
  readonly path: string | undefined;
  /** The server's message, unquoted (peer text: quote it before printing). */
  readonly serverMessage: string;
  /** True when the client refused without sending the request. */
  readonly local: boolean;

  /** Creates the error from what the server answered. */
  constructor(init: SftpErrorInit) {
    const codeName = statusName(init.code);
    const where = init.path === undefined ? "" : ` "${quotePeerText(init.path)}"`;
    const said = init.serverMessage ? ` ("${quotePeerText(init.serverMessage)}")` : "";
    const local = init.local ? " (not sent: the server did not advertise it)" : "";
    super(`${init.op}${where}: ${codeName}${said}${local}`);
    this.op = init.op;
    this.code = init.code;
    this.codeName = codeName;
    this.path = init.path;
    this.serverMessage = init.serverMessage ?? "";
    this.local = init.local ?? false;
  }
}

/**
 * The SFTP session ended: closed by this side, the server went away, or it
 * sent something that is not SFTP (an oversized packet, an unknown request
 * id, a reply of the wrong type, a malformed reply). Every request still
 * waiting is rejected with it; `cause` holds the underlying error when
 * there is one.
 *
 * @example
 * ```ts
 * import { SftpConnectionError } from "./errors.ts";
 * const e = new SftpConnectionError("the server closed the SFTP stream");
 * console.log(e.message);
 * ```
 */
export class SftpConnectionError extends SshError {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/**
 * What {@link SftpTransferError} is made of.
 *
 * @example
 * ```ts
 * import type { SftpTransferErrorInit } from "./errors.ts";
 * const i: SftpTransferErrorInit = { direction: "get", path: "/srv/a.iso", bytesTransferred: 1024, cause: new Error("x") };
 * ```
 */
export interface SftpTransferErrorInit {
  /** `get` (download) or `put` (upload). */
  direction: "get" | "put";
  /** The file being transferred (remote path for a get, local for a put). */
  path: string;
  /** Bytes of this file written to the destination before it stopped. */
  bytesTransferred: number;
  /** For a get: where the partial data was left (never the final name). */
  partialPath?: string;
  /** What stopped it. */
  cause: unknown;
}

/**
 * A get or put that stopped part way. Says how many bytes of the file
 * reached the destination; a get names the temporary file holding them
 * (the final name never holds a truncated file), which `resume` continues
 * from.
 *
 * @example
 * ```ts
 * import { SftpTransferError } from "./errors.ts";
 * const e = new SftpTransferError({ direction: "get", path: "/srv/a", bytesTransferred: 4096, cause: new Error("gone") });
 * console.log(e.bytesTransferred, e.message);
 * ```
 */
export class SftpTransferError extends SshError {
  /** `get` or `put`. */
  readonly direction: "get" | "put";
  /** The file being transferred. */
  readonly path: string;
  /** Bytes written to the destination before the failure. */
  readonly bytesTransferred: number;
  /** For a get: the temporary file holding those bytes, if it was kept. */
  readonly partialPath: string | undefined;

  /** Creates the error. */
  constructor(init: SftpTransferErrorInit) {
    const why = init.cause instanceof Error ? init.cause.message : String(init.cause);
    const kept = init.partialPath ? `, kept in "${quotePeerText(init.partialPath)}"` : "";
    super(
      `${init.direction} "${
        quotePeerText(init.path)
      }" stopped after ${init.bytesTransferred} bytes written${kept}: ${why}`,
      { cause: init.cause },
    );
    this.direction = init.direction;
    this.path = init.path;
    this.bytesTransferred = init.bytesTransferred;
    this.partialPath = init.partialPath;
  }
}
