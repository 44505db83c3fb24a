/**
 * One file or one tree, downloaded or uploaded as OpenSSH's sftp-client.c
 * does it (do_download, download_dir, do_upload, upload_dir) with its
 * messages, on top of the library's `get`/`put` (which keep many requests
 * in flight): shared by `rxssh sftp` and `rxssh scp`.
 *
 * @module
 */
import * as fsp from "node:fs/promises";
import process from "node:process";
import type { SftpClient } from "../sftp/client.ts";
import { SftpError, SftpTransferError } from "../sftp/errors.ts";
import { type FileAttributes, FileType, type NameEntry } from "../sftp/packets.ts";
import { ProgressMeter } from "./progress_meter.ts";
import { fx2txt, pathAppend, safeText, strerror } from "./sftp_text.ts";

/**
 * A remote directory's entries, as OpenSSH's do_lsreaddir reads them: a
 * name holding `/` is left out and reported through `warn`. No directory
 * can hold such a name; a hostile server sends one (`../../.bashrc`) to make
 * a recursive download, a glob or a copy write outside its target (the
 * CVE-2019-6111 pattern). Errors of the listing itself are thrown.
 *
 * @example
 * ```ts
 * import { readRemoteDir } from "./sftp_transfer.ts";
 * import type { SftpClient } from "../sftp/client.ts";
 * async function names(client: SftpClient) {
 *   return (await readRemoteDir(client, "/tmp", console.error)).map((e) => e.filename);
 * }
 * ```
 */
export async function readRemoteDir(
  client: SftpClient,
  dir: string,
  warn: (line: string) => void,
): Promise<NameEntry[]> {
  const out: NameEntry[] = [];
  for await (const e of client.list(dir)) {
    if (e.filename.includes("/")) {
      warn(
        `Server sent suspect path "${safeText(e.filename)}" during readdir of "${safeText(dir)}"`,
      );
    } else out.push(e);
  }
  return out;
}

/**
 * How a transfer runs and reports.
 *
 * @example
 * ```ts
 * import type { TransferSettings } from "./sftp_transfer.ts";
 * const s: TransferSettings = {
 *   preserve: true,
 *   resume: false,
 *   progress: false,
 *   print: (l) => console.log(l),
 *   error: (l) => console.error(l),
 * };
 * ```
 */
export interface TransferSettings {
  /** `-p`: keep modes and times. */
  preserve: boolean;
  /** `reget`/`reput`/`-a`: continue from what the destination holds. */
  resume: boolean;
  /** Draw a progress meter for each file. */
  progress: boolean;
  /** Print "Retrieving"/"Entering" for each directory (sftp; not scp). */
  printDirs?: boolean;
  /** Requests in flight per file (`-R`). */
  requests?: number;
  /** Standard output lines. */
  print(line: string): void;
  /** Error lines (standard error). */
  error(line: string): void;
}

const isDir = (a: FileAttributes | undefined) =>
  a?.permissions !== undefined && (a.permissions & FileType.MASK) === FileType.DIRECTORY;
const isReg = (a: FileAttributes | undefined) =>
  a?.permissions === undefined || (a.permissions & FileType.MASK) === FileType.REGULAR;

/** OpenSSH's message for a failed transfer of one file. */
function transferMessage(e: unknown, job: { dir: "get" | "put"; remote: string; local: string }) {
  const cause = e instanceof SftpTransferError ? e.cause : e;
  if (cause instanceof SftpError) {
    const fx = fx2txt(cause.code);
    if (cause.serverMessage.startsWith("cannot resume")) {
      return job.dir === "get"
        ? `Unable to resume download of "${job.local}": local file is larger than remote`
        : `resume "${job.local}": destination file same size or larger`;
    }
    switch (cause.op) {
      case "open":
        return `${job.dir === "get" ? "remote" : "dest"} open "${job.remote}": ${fx}`;
      case "stat":
      case "lstat":
        return `stat remote: ${fx}`;
      case "read":
        return `read remote "${job.remote}" : ${fx}`;
      case "write":
        return `write remote "${job.remote}": ${fx}`;
      case "fsetstat":
      case "setstat":
        return `remote fsetstat: ${fx}`;
      default:
        return `${cause.op} "${job.remote}": ${fx}`;
    }
  }
  if (typeof (cause as { code?: unknown })?.code === "string") {
    return `open local "${job.local}": ${strerror(cause)}`;
  }
  return `${job.dir === "get" ? "download" : "upload"} "${job.remote}": ${
    cause instanceof Error ? cause.message : String(cause)
  }`;
}

/**
 * Downloads one regular file `remote` to `local` (do_download): its
 * attributes first (`stat remote: ...` when it is not there), a progress
 * meter when asked. Resolves false after printing OpenSSH's message.
 *
 * @example
 * ```ts
 * import type { SftpClient } from "../sftp/client.ts";
 * import { downloadFile } from "./sftp_transfer.ts";
 * declare const s: SftpClient;
 * const ok = await downloadFile(s, { remote: "/etc/hostname", local: "/tmp/h" }, {
 *   preserve: false, resume: false, progress: false, print: console.log, error: console.error,
 * });
 * ```
 */
export async function downloadFile(
  client: SftpClient,
  job: { remote: string; local: string; attrs?: FileAttributes },
  set: TransferSettings,
): Promise<boolean> {
  let attrs = job.attrs;
  if (!attrs) {
    try {
      attrs = await client.stat(job.remote);
    } catch (e) {
      set.error(`stat remote: ${e instanceof SftpError ? fx2txt(e.code) : String(e)}`);
      return false;
    }
  }
  if (!isReg(attrs)) {
    set.error(`download ${job.remote}: not a regular file`);
    return false;
  }
  if (set.resume && await localSize(job.local) === (attrs.size ?? 0)) {
    // Nothing to fetch: do_download's logit(), on standard error.
    set.error(`File "${job.local}" was not modified`);
    return true;
  }
  const t = client.get(job.remote, job.local, {
    preserve: set.preserve,
    resume: set.resume,
    requests: set.requests,
  });
  const meter = { set, name: meterName(job.remote), size: attrs.size ?? 0 };
  return await finish(t, meter, (e) => transferMessage(e, { dir: "get", ...job }));
}

/** sftp-client.c progress_meter_path: the name after the last `/` (unless that is empty). */
function meterName(path: string): string {
  const base = path.slice(path.lastIndexOf("/") + 1);
  return base === "" ? path : base;
}

/** Awaits a transfer with its meter; prints the error and resolves false when it fails. */
async function finish(
  t: ReturnType<SftpClient["get"]>,
  m: { set: TransferSettings; name: string; size: number },
  message: (e: unknown) => string,
): Promise<boolean> {
  let meter: ProgressMeter | undefined;
  let done = 0;
  const sub = m.set.progress && m.size > 0
    ? t.progress$.subscribe({
      next: (p) => {
        meter ??= new ProgressMeter(m.name, { total: p.total });
        done = p.bytes;
        meter.update(p.bytes, p.rate);
      },
      error: () => {},
    })
    : undefined;
  try {
    await t;
    meter?.stop(done);
    return true;
  } catch (e) {
    if (meter) process.stdout.write("\n");
    m.set.error(message(e));
    return false;
  } finally {
    sub?.unsubscribe();
  }
}

async function localSize(path: string): Promise<number | undefined> {
  try {
    return Number((await fsp.stat(path)).size);
  } catch {
    return undefined;
  }
}

/**
 * Uploads one local file (do_upload): `open local "...": ...` when it
 * cannot be read, `local "..." is not a regular file`, `reput` refused
 * when the remote file is as long already. Resolves false after printing
 * OpenSSH's message.
 *
 * @example
 * ```ts
 * import type { SftpClient } from "../sftp/client.ts";
 * import { uploadFile } from "./sftp_transfer.ts";
 * declare const s: SftpClient;
 * await uploadFile(s, { local: "/etc/hostname", remote: "/tmp/h" }, {
 *   preserve: true, resume: false, progress: false, print: console.log, error: console.error,
 * });
 * ```
 */
export async function uploadFile(
  client: SftpClient,
  job: { local: string; remote: string },
  set: TransferSettings,
): Promise<boolean> {
  let size: number;
  try {
    const st = await fsp.stat(job.local);
    if (!st.isFile()) {
      set.error(`local "${job.local}" is not a regular file`);
      return false;
    }
    size = Number(st.size);
  } catch (e) {
    set.error(`open local "${job.local}": ${strerror(e)}`);
    return false;
  }
  if (set.resume) {
    try {
      const there = await client.stat(job.remote);
      if ((there.size ?? 0) >= size) {
        set.error(`resume "${job.local}": destination file same size or larger`);
        return false;
      }
    } catch (e) {
      set.error(`stat remote: ${e instanceof SftpError ? fx2txt(e.code) : String(e)}`);
      return false;
    }
  }
  const t = client.put(job.local, job.remote, {
    preserve: set.preserve,
    resume: set.resume,
    requests: set.requests,
  });
  return await finish(
    t,
    { set, name: job.local, size },
    (e) => transferMessage(e, { dir: "put", ...job }),
  );
}

/**
 * Downloads directory `remote` into `local` (download_dir): its canonical
 * name asked first (REALPATH), then the local
 * directory made, each regular file fetched, subdirectories followed,
 * anything else skipped with a message; modes and times set last with
 * `preserve`.
 *
 * @example
 * ```ts
 * import type { SftpClient } from "../sftp/client.ts";
 * import { downloadDir } from "./sftp_transfer.ts";
 * declare const s: SftpClient;
 * await downloadDir(s, { remote: "/srv/www", local: "/tmp/www" }, {
 *   preserve: true, resume: false, progress: false, print: console.log, error: console.error,
 * });
 * ```
 */
export async function downloadDir(
  client: SftpClient,
  job: { remote: string; local: string },
  set: TransferSettings,
): Promise<boolean> {
  let remote: string;
  try {
    remote = await client.realpath(job.remote);
  } catch {
    set.error(`download "${job.remote}": path canonicalization failed`);
    return false;
  }
  return await downloadTree(client, { remote, local: job.local }, set);
}

/** download_dir_internal: the directory `remote` (canonical) into `local`, recursively. */
async function downloadTree(
  client: SftpClient,
  job: { remote: string; local: string; attrs?: FileAttributes },
  set: TransferSettings,
): Promise<boolean> {
  let attrs = job.attrs;
  try {
    attrs ??= await client.stat(job.remote);
  } catch {
    set.error(`stat remote "${job.remote}" directory failed`);
    return false;
  }
  if (!isDir(attrs)) {
    set.error(`"${job.remote}" is not a directory`);
    return false;
  }
  if (set.printDirs) set.print(`Retrieving ${job.remote}`);
  const mode = (attrs.permissions ?? 0o777) & 0o1777;
  try {
    await fsp.mkdir(job.local, { mode: mode | 0o300 });
  } catch (e) {
    if ((e as { code?: string }).code !== "EEXIST") {
      set.error(`mkdir ${job.local}: ${strerror(e)}`);
      return false;
    }
  }
  let entries: { name: string; attrs: FileAttributes }[];
  try {
    entries = (await readRemoteDir(client, job.remote, (l) => set.error(l)))
      .map((e) => ({ name: e.filename, attrs: e.attrs }));
  } catch {
    set.error(`remote readdir "${job.remote}" failed`);
    return false;
  }
  let ok = true;
  for (const e of entries) {
    const remote = pathAppend(job.remote, e.name);
    const local = pathAppend(job.local, e.name);
    if (isDir(e.attrs)) {
      if (e.name === "." || e.name === "..") continue;
      if (!await downloadTree(client, { remote, local, attrs: e.attrs }, set)) ok = false;
    } else if (isReg(e.attrs)) {
      if (!await downloadFile(client, { remote, local, attrs: e.attrs }, set)) {
        set.error(`Download of file ${remote} to ${local} failed`);
        ok = false;
      }
    } else set.print(`download "${remote}": not a regular file`);
  }
  try {
    if (set.preserve && attrs.mtime !== undefined) {
      await fsp.utimes(job.local, attrs.atime ?? attrs.mtime, attrs.mtime);
    }
    if (set.preserve) await fsp.chmod(job.local, mode);
  } catch (e) {
    set.error(`local chmod directory "${job.local}": ${strerror(e)}`);
  }
  return ok;
}

/**
 * Uploads local directory `local` to `remote` (upload_dir): the remote
 * directory made (or reused), files and subdirectories in the order the
 * directory lists them; with `preserve`, each directory's mode and times
 * set last.
 *
 * @example
 * ```ts
 * import type { SftpClient } from "../sftp/client.ts";
 * import { uploadDir } from "./sftp_transfer.ts";
 * declare const s: SftpClient;
 * await uploadDir(s, { local: "/tmp/site", remote: "/srv/www" }, {
 *   preserve: true, resume: false, progress: false, print: console.log, error: console.error,
 * });
 * ```
 */
export async function uploadDir(
  client: SftpClient,
  job: { local: string; remote: string },
  set: TransferSettings,
): Promise<boolean> {
  let st;
  try {
    st = await fsp.stat(job.local);
  } catch (e) {
    set.error(`stat local "${job.local}": ${strerror(e)}`);
    return false;
  }
  if (!st.isDirectory()) {
    set.error(`"${job.local}" is not a directory`);
    return false;
  }
  if (set.printDirs) set.print(`Entering ${job.local}`);
  const mode = Number(st.mode) & 0o1777;
  if (!await remoteMkdirOrReuse(client, { path: job.remote, mode }, set)) return false;
  let names: string[];
  try {
    names = await fsp.readdir(job.local);
  } catch (e) {
    set.error(`local opendir "${job.local}": ${strerror(e)}`);
    return false;
  }
  let ok = true;
  for (const name of names) {
    const local = pathAppend(job.local, name);
    const remote = pathAppend(job.remote, name);
    const l = await fsp.lstat(local).catch(() => undefined);
    if (!l) ok = false;
    else if (l.isDirectory()) {
      if (!await uploadDir(client, { local, remote }, set)) ok = false;
    } else if (l.isFile()) {
      if (!await uploadFile(client, { local, remote }, set)) {
        set.error(`upload "${local}" to "${remote}" failed`);
        ok = false;
      }
    } else set.print(`${name}: not a regular file`);
  }
  const times = set.preserve
    ? { atime: Math.floor(Number(st.atimeMs) / 1000), mtime: Math.floor(Number(st.mtimeMs) / 1000) }
    : {};
  try {
    await client.setstat(job.remote, { permissions: mode, ...times });
  } catch (e) {
    set.error(`remote setstat "${job.remote}": ${e instanceof SftpError ? fx2txt(e.code) : e}`);
    ok = false;
  }
  return ok;
}

async function remoteMkdirOrReuse(
  client: SftpClient,
  dir: { path: string; mode: number },
  set: TransferSettings,
): Promise<boolean> {
  try {
    await client.mkdir(dir.path, { permissions: dir.mode | 0o300 });
    return true;
  } catch {
    try {
      const there = await client.stat(dir.path);
      if (isDir(there)) return true;
      set.error(`"${dir.path}" exists but is not a directory`);
    } catch (e) {
      set.error(`stat remote: ${e instanceof SftpError ? fx2txt(e.code) : String(e)}`);
    }
    return false;
  }
}
