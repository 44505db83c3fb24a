/**
 * The SFTP server as the `sftp` subsystem of an rxssh server (RFC 4254
 * §6.5): the adapter between the server's sessions and {@link serveSftp}.
 *
 * @module
 */
import type { SftpBackend } from "./backend.ts";
import { FsBackend, type FsBackendOptions } from "./fs_backend.ts";
import { serveSftp, type SftpServerOptions } from "./server.ts";

/**
 * What {@link sftpSubsystem} uses of a server session (a `ServerSession`
 * from `../server.ts` is one).
 *
 * @example
 * ```ts
 * import type { SftpSession } from "./subsystem.ts";
 * const who = (s: SftpSession) => s.username;
 * ```
 */
export interface SftpSession {
  /** The authenticated user. */
  readonly username: string;
  /** Data from the client. */
  readonly stdin: ReadableStream<Uint8Array>;
  /** Data to the client. */
  readonly stdout: WritableStream<Uint8Array>;
  /** Ends the session with an exit status. */
  exit(code: number): Promise<void>;
}

/**
 * Options of {@link sftpSubsystem}: the server's options, and where each
 * user's files come from.
 *
 * @example
 * ```ts
 * import type { SftpSubsystemOptions } from "./subsystem.ts";
 * const o: SftpSubsystemOptions = { root: (user) => `/srv/sftp/${user}`, readOnly: true };
 * ```
 */
export interface SftpSubsystemOptions extends SftpServerOptions {
  /**
   * A backend per session (by the authenticated user); wins over `root`.
   */
  backend?: (session: SftpSession) => SftpBackend | Promise<SftpBackend>;
  /**
   * The directory each user sees as `/` (an {@link FsBackend} with
   * `fs`'s other options); default `/`.
   */
  root?: (username: string) => string;
  /** The FsBackend's other options (start directory, home, umask) per user. */
  fs?: (username: string) => Omit<FsBackendOptions, "root">;
}

/**
 * A subsystem handler serving SFTP: register it as `subsystems: { sftp:
 * sftpSubsystem(...) }` in the server's options. Each session gets its own
 * backend; the session exits 0 when the client ends it, 1 when it broke
 * the protocol or the backend could not be made (the reason is logged).
 *
 * @example
 * ```ts
 * import { listen } from "../server.ts";
 * import { generatePrivateKey } from "../keys/private_key.ts";
 * import { sftpSubsystem } from "./subsystem.ts";
 * const server = await listen({
 *   hostname: "127.0.0.1",
 *   port: 0,
 *   hostKeys: [await generatePrivateKey("ssh-ed25519")],
 *   auth: { handlers: { password: (u, p) => u === "demo" && p === "demo" } },
 *   subsystems: { sftp: sftpSubsystem({ root: (user) => `/srv/sftp/${user}` }) },
 * });
 * server.close();
 * ```
 */
export function sftpSubsystem(
  options: SftpSubsystemOptions = {},
): (session: SftpSession) => Promise<void> {
  return async (session) => {
    const log = options.log ?? (() => {});
    let backend: SftpBackend;
    try {
      backend = options.backend ? await options.backend(session) : new FsBackend({
        ...options.fs?.(session.username),
        root: options.root?.(session.username) ?? "/",
        username: session.username,
      });
    } catch (e) {
      log(`sftp: no backend for this session: ${e instanceof Error ? e.message : String(e)}`);
      await session.exit(1);
      return;
    }
    const end = await serveSftp({ readable: session.stdin, writable: session.stdout }, backend, {
      ...options,
      log,
    });
    await session.exit(end.reason === "eof" ? 0 : 1);
  };
}
