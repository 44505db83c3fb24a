/**
 * Whole-file and recursive transfers, as OpenSSH's sftp `get`/`put`
 * (`-r`, `-p`, `reget`/`reput`): many requests in flight per file (64 by
 * default, as OpenSSH), READs and WRITEs of the session's block size
 * (limits@openssh.com: 261,120 bytes on OpenSSH 9), several files at once
 * in a tree, progress as an Observable.
 *
 * A get writes to `<name>.rxssh-part` in the target directory and renames
 * it to the final name once the whole file is there: the final name never
 * holds a truncated file. A transfer that stops part way rejects with an
 * {@link SftpTransferError} saying how many bytes were written (and, for a
 * get, where they were kept, which `resume` continues from).
 *
 * @example
 * ```ts
 * import type { SftpClient } from "./client.ts";
 * declare const s: SftpClient;
 * const t = s.get("/srv/big.iso", "/tmp/big.iso", { preserve: true });
 * t.progress$.subscribe((p) => console.log(p.path, p.bytes, p.total, Math.round(p.rate)));
 * console.log(await t);
 * ```
 *
 * @module
 */
import { type Observable, ReplaySubject } from "rxjs";
import {
  type LocalFile,
  localJoin,
  localLstat,
  localMkdir,
  localReaddir,
  localRename,
  localSetAttributes,
  localSplit,
  localStat,
  localUnlink,
  openLocalFile,
} from "../runtime/local_files.ts";
import type { SftpClient, SftpHandle } from "./client.ts";
import { SftpError, SftpTransferError } from "./errors.ts";
import { type FileAttributes, FileType, FX, OpenFlags } from "./packets.ts";
import { DEFAULT_REQUESTS, ReadAhead } from "./streams.ts";

/**
 * Options of `get` and `put`.
 *
 * @example
 * ```ts
 * import type { TransferOptions } from "./transfer.ts";
 * const o: TransferOptions = { recursive: true, preserve: true, resume: false, requests: 64 };
 * ```
 */
export interface TransferOptions {
  /** Copy a directory and everything under it (`-r`). */
  recursive?: boolean;
  /** Keep modification and access times and permission bits (`-p`). */
  preserve?: boolean;
  /**
   * Continue from what the destination already holds (`reget`/`reput`):
   * a get continues its `.rxssh-part` file, or the file under the final
   * name; a put appends to the remote file from its length. A destination
   * longer than the source is an error.
   */
  resume?: boolean;
  /** Requests in flight per file (default 64). */
  requests?: number;
  /** Files transferred at once in a recursive transfer (default 8). */
  files?: number;
}

/**
 * A progress report: `bytes` of `total` of the file at `path` (the
 * source) are done; `rate` is the whole transfer's average in bytes per
 * second so far.
 *
 * @example
 * ```ts
 * import type { TransferProgress } from "./transfer.ts";
 * const pct = (p: TransferProgress) => (p.total ? (100 * p.bytes) / p.total : 100);
 * ```
 */
export interface TransferProgress {
  /** The source file. */
  path: string;
  /** Bytes of it done (a resumed file starts at what was there). */
  bytes: number;
  /** Its size. */
  total: number;
  /** Bytes per second over the whole transfer so far. */
  rate: number;
}

/**
 * What a finished transfer did.
 *
 * @example
 * ```ts
 * import type { TransferSummary } from "./transfer.ts";
 * const line = (s: TransferSummary) => `${s.files} files, ${s.bytes} bytes`;
 * ```
 */
export interface TransferSummary {
  /** Files copied. */
  files: number;
  /** Directories created or reused. */
  directories: number;
  /** Bytes moved over the connection. */
  bytes: number;
  /** Sources skipped because they are neither files nor directories (symlinks, sockets, ...). */
  skipped: string[];
}

/**
 * A transfer under way: await it for its {@link TransferSummary};
 * `progress$` reports each file's progress (hot; the latest report is
 * replayed to a late subscriber; it completes when the transfer ends, and
 * errors with the transfer's error).
 *
 * @example
 * ```ts
 * import type { Transfer } from "./transfer.ts";
 * async function quiet(t: Transfer) {
 *   return (await t).bytes;
 * }
 * ```
 */
export interface Transfer extends PromiseLike<TransferSummary> {
  /** Progress reports, at most about ten a second per file, and one when each file ends. */
  readonly progress$: Observable<TransferProgress>;
  /** The transfer as a plain promise. */
  readonly done: Promise<TransferSummary>;
}

/** Shared state of one get or put. */
class Run {
  readonly client: SftpClient;
  readonly options: TransferOptions;
  readonly requests: number;
  readonly summary: TransferSummary = { files: 0, directories: 0, bytes: 0, skipped: [] };
  readonly progress = new ReplaySubject<TransferProgress>(1);
  readonly started = Date.now();

  constructor(client: SftpClient, options: TransferOptions) {
    this.client = client;
    this.options = options;
    this.requests = Math.max(1, options.requests ?? DEFAULT_REQUESTS);
  }

  /** A progress reporter for one file: throttled to ~10/s, always the last one. */
  reporter(path: string, total: number): (bytes: number, last?: boolean) => void {
    let at = 0;
    return (bytes, last = false) => {
      const now = Date.now();
      if (!last && now - at < 100) return;
      at = now;
      const secs = Math.max(0.001, (now - this.started) / 1000);
      this.progress.next({ path, bytes, total, rate: this.summary.bytes / secs });
    };
  }
}

function start(run: Run, body: () => Promise<void>): Transfer {
  const done = body().then(
    () => {
      run.progress.complete();
      return run.summary;
    },
    (e) => {
      run.progress.error(e);
      throw e;
    },
  );
  done.catch(() => {}); // the caller sees it through `then`; progress$ errors too
  return {
    progress$: run.progress.asObservable(),
    done,
    // deno-lint-ignore no-explicit-any
    then: (ok?: any, bad?: any) => done.then(ok, bad),
  };
}

const isDir = (mode: number | undefined) =>
  mode !== undefined && (mode & FileType.MASK) === FileType.DIRECTORY;
const isFile = (mode: number | undefined) =>
  mode === undefined || (mode & FileType.MASK) === FileType.REGULAR;

/** Remote paths are POSIX: joined with "/". */
function remoteJoin(dir: string, name: string): string {
  return dir.endsWith("/") ? dir + name : `${dir}/${name}`;
}

function remoteBase(path: string): string {
  const trimmed = path.replace(/\/+$/, "");
  return trimmed.slice(trimmed.lastIndexOf("/") + 1) || trimmed;
}

/** Runs `jobs` with at most `limit` at once; the first failure stops new ones and is thrown. */
async function pool(jobs: (() => Promise<void>)[], limit: number): Promise<void> {
  let next = 0;
  let failure: { e: unknown } | undefined;
  const worker = async () => {
    while (!failure && next < jobs.length) {
      const job = jobs[next++];
      try {
        await job();
      } catch (e) {
        failure ??= { e };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
  if (failure) throw failure.e;
}

async function remoteStatOrUndefined(
  client: SftpClient,
  path: string,
): Promise<FileAttributes | undefined> {
  try {
    return await client.stat(path);
  } catch (e) {
    if (e instanceof SftpError && e.code === FX.NO_SUCH_FILE) return undefined;
    throw e;
  }
}

// --- get -----------------------------------------------------------------------

/**
 * Downloads `remote` to `local` (into it when `local` is a directory).
 * See {@link TransferOptions}; a directory needs `recursive`.
 *
 * @example
 * ```ts
 * import type { SftpClient } from "./client.ts";
 * import { get } from "./transfer.ts";
 * declare const s: SftpClient;
 * await get(s, "/var/log", { local: "/tmp/logs", recursive: true, preserve: true });
 * ```
 */
export function get(
  client: SftpClient,
  remote: string,
  options: TransferOptions & { local: string },
): Transfer {
  const run = new Run(client, options);
  return start(run, async () => {
    const attrs = await client.stat(remote);
    let local = options.local;
    const there = await localStat(local);
    if (there?.type === "directory") local = localJoin(local, remoteBase(remote));
    if (isDir(attrs.permissions)) {
      if (!options.recursive) {
        throw new SftpError({
          op: "get",
          code: FX.FAILURE,
          path: remote,
          serverMessage: "is a directory (use recursive)",
          local: false,
        });
      }
      await getTree(run, remote, local);
    } else {
      await getFile(run, { remote, local, attrs });
    }
  });
}

/** Collects the tree under `remote`, creates the local directories, then fetches the files. */
async function getTree(run: Run, remote: string, local: string): Promise<void> {
  const dirs: { remote: string; local: string; attrs: FileAttributes }[] = [];
  const files: (() => Promise<void>)[] = [];
  const walk = async (r: string, l: string, attrs: FileAttributes) => {
    await localMkdir(l, { mode: ((attrs.permissions ?? 0o755) & 0o777) | 0o700 });
    run.summary.directories++;
    dirs.push({ remote: r, local: l, attrs });
    const children: { name: string; attrs: FileAttributes }[] = [];
    for await (const e of run.client.list(r)) {
      if (e.filename !== "." && e.filename !== "..") {
        children.push({ name: e.filename, attrs: e.attrs });
      }
    }
    for (const c of children) {
      if (c.name.includes("/")) continue; // not a name a directory can hold
      const rc = remoteJoin(r, c.name);
      const lc = localJoin(l, c.name);
      if (isDir(c.attrs.permissions)) await walk(rc, lc, c.attrs);
      else if (isFile(c.attrs.permissions)) {
        files.push(() => getFile(run, { remote: rc, local: lc, attrs: c.attrs }));
      } else run.summary.skipped.push(rc);
    }
  };
  await walk(remote, local, await run.client.stat(remote));
  await pool(files, run.options.files ?? 8);
  // Directory times last (writing into a directory changes its mtime), deepest first.
  for (const d of dirs.reverse()) {
    const mode = (d.attrs.permissions ?? 0o755) & 0o7777;
    await localSetAttributes(
      d.local,
      run.options.preserve ? { mode, atime: d.attrs.atime, mtime: d.attrs.mtime } : {},
    );
  }
}

/**
 * The name a get writes to before the final rename (and `resume`
 * continues from): `<local>.rxssh-part`, in the same directory.
 *
 * @example
 * ```ts
 * import { partialName } from "./transfer.ts";
 * console.log(partialName("/tmp/big.iso")); // /tmp/big.iso.rxssh-part
 * ```
 */
export function partialName(local: string): string {
  return `${local}.rxssh-part`;
}

/**
 * Where a get starts: 0, or with `resume` what the partial file (or the
 * file under the final name, moved to the partial name) already holds.
 */
async function resumePoint(
  run: Run,
  job: { remote: string; local: string; partial: string; size: number },
): Promise<number> {
  if (!run.options.resume) return 0;
  let have = await localStat(job.partial);
  if (!have) {
    const final = await localStat(job.local);
    if (!final) return 0;
    // The final name must not hold a partial file while it grows: move it aside first.
    await localRename(job.local, job.partial);
    have = final;
  }
  if (have.size > job.size) {
    throw new SftpError({
      op: "get",
      code: FX.FAILURE,
      path: job.remote,
      serverMessage:
        `cannot resume: the local file holds ${have.size} bytes, the remote ${job.size}`,
    });
  }
  return have.size;
}

/** A partial file worth keeping for `resume` (one with bytes in it); an empty one is removed. */
async function keepPartial(partial: string): Promise<string | undefined> {
  const st = await localStat(partial).catch(() => undefined);
  if (st === undefined) return undefined;
  if (st.size > 0) return partial;
  await localUnlink(partial).catch(() => {});
  return undefined;
}

async function getFile(
  run: Run,
  job: { remote: string; local: string; attrs: FileAttributes },
): Promise<void> {
  const { client } = run;
  const h = await client.open(job.remote);
  let out: LocalFile | undefined;
  let written = 0;
  const partial = partialName(job.local);
  try {
    const attrs = await client.fstat(h);
    const size = attrs.size ?? job.attrs.size ?? 0;
    const from = await resumePoint(run, { ...job, partial, size });
    const mode = ((attrs.permissions ?? 0o644) & 0o777) | 0o200;
    out = await openLocalFile(partial, from > 0 ? "r+" : "w", { mode });
    const report = run.reporter(job.remote, size);
    const reader = new ReadAhead(client, h, { start: from, size, requests: run.requests });
    try {
      for (let d = await reader.next(); d !== null; d = await reader.next()) {
        await out.write(d, from + written);
        written += d.length;
        run.summary.bytes += d.length;
        report(from + written);
      }
    } finally {
      reader.stop();
    }
    report(from + written, true);
    if (run.options.preserve) {
      await out.chmod((attrs.permissions ?? 0o644) & 0o7777);
      if (attrs.atime !== undefined) await out.utimes(attrs.atime, attrs.mtime ?? attrs.atime);
    }
    await out.close();
    await localRename(partial, job.local);
    run.summary.files++;
  } catch (e) {
    await out?.close().catch(() => {});
    throw new SftpTransferError({
      direction: "get",
      path: job.remote,
      bytesTransferred: written,
      partialPath: await keepPartial(partial),
      cause: e,
    });
  } finally {
    if (!client.isEnded) await client.closeHandle(h).catch(() => {});
  }
}

// --- put -----------------------------------------------------------------------

/**
 * Uploads `local` to `remote` (into it when `remote` is a directory). See
 * {@link TransferOptions}; a directory needs `recursive`.
 *
 * @example
 * ```ts
 * import type { SftpClient } from "./client.ts";
 * import { put } from "./transfer.ts";
 * declare const s: SftpClient;
 * await put(s, "/tmp/site", { remote: "/srv/www", recursive: true });
 * ```
 */
export function put(
  client: SftpClient,
  local: string,
  options: TransferOptions & { remote: string },
): Transfer {
  const run = new Run(client, options);
  return start(run, async () => {
    const stat = await localStat(local);
    if (!stat) {
      throw new SftpTransferError({
        direction: "put",
        path: local,
        bytesTransferred: 0,
        cause: new Error("no such local file"),
      });
    }
    let remote = options.remote;
    const there = await remoteStatOrUndefined(client, remote);
    if (isDir(there?.permissions)) remote = remoteJoin(remote, localSplit(local).base);
    if (stat.type === "directory") {
      if (!options.recursive) {
        throw new SftpTransferError({
          direction: "put",
          path: local,
          bytesTransferred: 0,
          cause: new Error("is a directory (use recursive)"),
        });
      }
      await putTree(run, local, remote);
    } else {
      await putFile(run, { local, remote, size: stat.size, mode: stat.mode, stat });
    }
  });
}

async function putTree(run: Run, local: string, remote: string): Promise<void> {
  const { client } = run;
  const dirs: { remote: string; mode: number; atime: number; mtime: number }[] = [];
  const files: (() => Promise<void>)[] = [];
  const walk = async (l: string, r: string, mode: number, times: [number, number]) => {
    try {
      await client.mkdir(r, { permissions: (mode & 0o777) | 0o700 });
    } catch (e) {
      const existing = await remoteStatOrUndefined(client, r);
      if (!isDir(existing?.permissions)) throw e;
    }
    run.summary.directories++;
    dirs.push({ remote: r, mode, atime: times[0], mtime: times[1] });
    for (const name of (await localReaddir(l)).sort()) {
      const lc = localJoin(l, name);
      const rc = remoteJoin(r, name);
      const s = await localLstat(lc);
      if (!s) continue;
      if (s.type === "directory") await walk(lc, rc, s.mode, [s.atime, s.mtime]);
      else if (s.type === "file") {
        files.push(() =>
          putFile(run, { local: lc, remote: rc, size: s.size, mode: s.mode, stat: s })
        );
      } else run.summary.skipped.push(lc);
    }
  };
  const top = (await localStat(local))!;
  await walk(local, remote, top.mode, [top.atime, top.mtime]);
  await pool(files, run.options.files ?? 8);
  for (const d of dirs.reverse()) {
    if (run.options.preserve) {
      await client.setstat(d.remote, {
        permissions: d.mode & 0o7777,
        atime: d.atime,
        mtime: d.mtime,
      });
    }
  }
}

/** Where a put starts: 0, or with `resume` the remote file's length. */
async function remoteResumePoint(
  run: Run,
  job: { local: string; remote: string; size: number },
): Promise<number> {
  if (!run.options.resume) return 0;
  const there = await remoteStatOrUndefined(run.client, job.remote);
  const have = there?.size ?? 0;
  if (have > job.size) {
    throw new SftpError({
      op: "put",
      code: FX.FAILURE,
      path: job.remote,
      serverMessage: `cannot resume: the remote file holds ${have} bytes, the local ${job.size}`,
    });
  }
  return have;
}

async function putFile(
  run: Run,
  job: {
    local: string;
    remote: string;
    size: number;
    mode: number;
    stat: { atime: number; mtime: number };
  },
): Promise<void> {
  const { client } = run;
  const done = { acked: 0 };
  let h: SftpHandle | undefined;
  let input: LocalFile | undefined;
  try {
    const from = await remoteResumePoint(run, job);
    const flags = OpenFlags.WRITE | OpenFlags.CREAT | (from > 0 ? 0 : OpenFlags.TRUNC);
    input = await openLocalFile(job.local, "r");
    h = await client.open(job.remote, { flags, attrs: { permissions: job.mode & 0o777 } });
    const report = run.reporter(job.local, job.size);
    await writeAll(run, { input, handle: h, from, report, done });
    report(from + done.acked, true);
    if (run.options.preserve) {
      await client.fsetstat(h, {
        permissions: job.mode & 0o7777,
        atime: job.stat.atime,
        mtime: job.stat.mtime,
      });
    }
    const handle = h;
    h = undefined;
    await client.closeHandle(handle);
    run.summary.files++;
  } catch (e) {
    throw new SftpTransferError({
      direction: "put",
      path: job.local,
      bytesTransferred: done.acked,
      cause: e,
    });
  } finally {
    await input?.close().catch(() => {});
    if (h && !client.isEnded) await client.closeHandle(h).catch(() => {});
  }
}

/**
 * The put data path: reads the local file block by block and keeps up to
 * `run.requests` WRITEs in flight. The block is copied once, into the
 * WRITE packet, so one read buffer serves every request. `io.done.acked`
 * counts the bytes the server acknowledged, also when it throws.
 */
async function writeAll(
  run: Run,
  io: {
    input: LocalFile;
    handle: SftpHandle;
    from: number;
    report: (bytes: number) => void;
    done: { acked: number };
  },
): Promise<void> {
  const { client } = run;
  const buf = new Uint8Array(client.writeBlockSize);
  const inflight: Promise<void>[] = [];
  const done = io.done;
  let offset = io.from;
  let failure: { e: unknown } | undefined;
  try {
    for (;;) {
      const n = await io.input.read(buf, offset);
      if (n === 0) break;
      while (inflight.length >= run.requests) await inflight.shift();
      if (failure) throw failure.e;
      const p = client.write(io.handle, buf.subarray(0, n), { offset }).then(() => {
        done.acked += n;
        run.summary.bytes += n;
        io.report(io.from + done.acked);
      });
      p.catch((e) => void (failure ??= { e }));
      inflight.push(p);
      offset += n;
    }
    while (inflight.length) await inflight.shift();
  } catch (e) {
    await Promise.allSettled(inflight);
    throw failure?.e ?? e;
  }
}
