/**
 * SFTP (draft-ietf-secsh-filexfer-02, version 3, with OpenSSH's
 * extensions, PROTOCOL §4) as its own layer over any byte-stream pair: the
 * packet codec; the client ({@link sftp} on an SSH connection,
 * {@link openSftp} on any stream) with promise requests, directory
 * listings, read-ahead and write-behind streams, and get/put transfers;
 * and the server ({@link serveSftp}, {@link sftpSubsystem}) with its
 * backends ({@link FsBackend} rooted like ChrootDirectory,
 * {@link MemoryBackend}).
 *
 * @example
 * ```ts
 * import { connect } from "../../mod.ts";
 * import { sftp } from "./mod.ts";
 * declare const client: Awaited<ReturnType<typeof connect>>;
 * const s = await sftp(client);
 * await s.put("./site", "/srv/www", { recursive: true, preserve: true });
 * await s.close();
 * ```
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
export {
  AttrFlags,
  decodeHello,
  decodeLimits,
  decodeRequest,
  decodeResponse,
  decodeStatVfs,
  decodeUsersGroups,
  encodeHello,
  encodeLimits,
  encodeRequest,
  encodeResponse,
  encodeStatVfs,
  encodeUsersGroups,
  type FileAttributes,
  FileType,
  FX,
  FXP,
  MAX_HANDLE_LENGTH,
  MAX_PACKET_LENGTH,
  type NameEntry,
  OpenFlags,
  readAttrs,
  SftpFramer,
  type SftpLimits,
  type SftpRequest,
  type SftpResponse,
  SftpUnknownRequest,
  type StatusCode,
  statusName,
  type StatVfs,
  writeAttrs,
} from "./packets.ts";

// client
export {
  type OpenMode,
  openSftp,
  sftp,
  SftpClient,
  type SftpClientOptions,
  SftpHandle,
  type SubsystemSession,
  type SubsystemStarter,
} from "./client.ts";
export {
  SftpConnectionError,
  SftpError,
  type SftpErrorInit,
  SftpTransferError,
  type SftpTransferErrorInit,
} from "./errors.ts";
export {
  createReadStream,
  createWriteStream,
  DEFAULT_REQUESTS,
  ReadAhead,
  type ReadStreamOptions,
  type WriteStreamOptions,
} from "./streams.ts";
export {
  partialName,
  type Transfer,
  type TransferOptions,
  type TransferProgress,
  type TransferSummary,
} from "./transfer.ts";

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
export { SshError } from "../wire/errors.ts";
export type { SshReader } from "../wire/reader.ts";
export type { SshWriter } from "../wire/writer.ts";
export type { ByteStreamPair } from "../transport/transport.ts";
