/**
 * SFTP (draft-ietf-secsh-filexfer-02, version 3, with OpenSSH's
 * extensions) as its own layer over any byte-stream pair: the packet codec,
 * and the server with its backends.
 *
 * @example
 * ```ts
 * import { MemoryBackend, serveSftp } from "./mod.ts";
 * import { memoryPair } from "../runtime/memory.ts";
 * const [, server] = memoryPair();
 * const served = serveSftp(server, new MemoryBackend());
 * ```
 *
 * @module
 */
export * from "./packets.ts";

// server
export {
  longname,
  type LongnameInfo,
  type SftpBackend,
  type SftpDirectory,
  type SftpFile,
  SftpStatusError,
  statusMessage,
  statusOf,
} from "./backend.ts";
export { MemoryBackend, type MemoryBackendOptions } from "./memory_backend.ts";
export { FsBackend, type FsBackendOptions } from "./fs_backend.ts";
export {
  DEFAULT_MAX_READ_LENGTH,
  serveSftp,
  type SftpServerOptions,
  type SftpSessionEnd,
} from "./server.ts";
export { type SftpSession, sftpSubsystem, type SftpSubsystemOptions } from "./subsystem.ts";
// What this layer's API mentions from the layers below.
export type { SshReader } from "../wire/reader.ts";
export type { SshWriter } from "../wire/writer.ts";
export type { ByteStreamPair } from "../transport/transport.ts";
