/**
 * `rxssh scp [options] source ... target`: OpenSSH 9.2's scp(1) in its
 * default mode, which speaks SFTP.
 *
 * ```sh
 * rxssh scp [-346ABCpqrv] [-c cipher] [-F ssh_config] [-i identity_file]
 *           [-J destination] [-o ssh_option] [-P port] source ... target
 * ```
 *
 * Sources and the target are local paths, `[user@]host:[path]` or
 * `scp://[user@]host[:port][/path]`. Local to remote, remote to local, and
 * remote to remote through this host (what OpenSSH 9's scp does by
 * default, `-3`; `-R`, the copy run on the origin host, is not
 * supported, nor is `-O`, the legacy protocol). Remote paths are globbed on
 * the server; `~/` and `~user` (expand-path@openssh.com) are understood.
 * Each connection is made as `rxssh` makes one ({@link connectAsSsh}).
 * Messages are scp's, prefixed `scp: `; the exit status is 0, 1 when a
 * file could not be copied, 255 when a connection failed or a local
 * source is missing.
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import process from "node:process";
import { sftp as openSftp, type SftpClient } from "../sftp/client.ts";
import { SftpError } from "../sftp/errors.ts";
import { type FileAttributes, FileType } from "../sftp/packets.ts";
import { canShowProgress } from "./progress_meter.ts";
import { parseRemote } from "./sftp.ts";
import { remoteGlob } from "./sftp_glob.ts";
import { baseName, fx2txt, pathAppend, strerror } from "./sftp_text.ts";
import {
  downloadDir,
  downloadFile,
  readRemoteDir,
  type TransferSettings,
  uploadDir,
  uploadFile,
} from "./sftp_transfer.ts";
import { connectAsSsh, type SshConnection } from "./ssh.ts";
import { getopt } from "./options.ts";

/**
 * The usage text of `rxssh scp`.
 *
 * @example
 * ```ts
 * import { SCP_USAGE } from "./scp.ts";
 * console.error(SCP_USAGE);
 * ```
 */
export const SCP_USAGE =
  `usage: rxssh scp [-346ABCpqrv] [-c cipher] [-F ssh_config] [-i identity_file]
            [-J destination] [-o ssh_option] [-P port] source ... target`;

/** Thrown to end the run with scp's fatal() status (255). */
class Fatal extends Error {}

interface ScpOptions {
  ssh: string[];
  port?: number;
  recursive: boolean;
  preserve: boolean;
  quiet: boolean;
  operands: string[];
}

type Remote = NonNullable<ReturnType<typeof parseRemote>>;

function parseScpArgs(args: readonly string[]): ScpOptions {
  const o: ScpOptions = { ssh: [], recursive: false, preserve: false, quiet: false, operands: [] };
  const i = getopt(args, {
    withValue: "FJcioP",
    onOption: (f, v) => {
      if (v === undefined) return scpFlag(o, f);
      if (f !== "P") return void o.ssh.push(`-${f}`, v);
      const n = /^\d+$/.test(v) ? Number(v) : 0;
      if (n < 1 || n > 65535) throw new Fatal(`bad port "${v}"`);
      o.port = n;
    },
  });
  o.operands = args.slice(i);
  if (o.operands.length < 2) throw new Error("");
  return o;
}

function scpFlag(o: ScpOptions, f: string): void {
  if ("46AC".includes(f)) o.ssh.push(`-${f}`);
  else if (f === "B") o.ssh.push("-oBatchMode=yes");
  else if (f === "r") o.recursive = true;
  else if (f === "p") o.preserve = true;
  else if (f === "q") {
    o.quiet = true;
    o.ssh.push("-q");
  } else if (f === "v") o.ssh.push("-v");
  else if (f === "3" || f === "2" || f === "s" || f === "T") return;
  else if (f === "R" || f === "O") throw new Error(`-${f} is not supported by rxssh scp`);
  else throw new Error(`unknown option -- ${f}`);
}

/** One run: its options, its connections, its error count. */
class Scp {
  readonly o: ScpOptions;
  readonly targetShouldBeDir: boolean;
  errs = 0;
  readonly #open: { conn: SshConnection; sftp: SftpClient }[] = [];

  constructor(o: ScpOptions) {
    this.o = o;
    this.targetShouldBeDir = o.operands.length > 2;
  }

  error(line: string): void {
    // log.c: the program's name first, "\r\n" last.
    process.stderr.write(`scp: ${line}\r\n`);
  }

  settings(): TransferSettings {
    return {
      preserve: this.o.preserve,
      resume: false,
      progress: !this.o.quiet && canShowProgress({ stderr: false }),
      print: (l) => this.error(l),
      error: (l) => this.error(l),
    };
  }

  /** Connects to `r` as ssh would and starts SFTP; Fatal when it cannot. */
  async connect(r: Remote): Promise<SftpClient> {
    const port = r.port ?? this.o.port;
    const conn = await connectAsSsh([
      "-oForwardX11=no",
      "-oRequestTTY=no",
      ...this.o.ssh,
      "-oForwardAgent=no",
      ...(port !== undefined ? [`-oPort=${port}`] : []),
      ...(r.user !== undefined ? ["-l", r.user] : []),
      "--",
      r.host,
    ], (l) => process.stderr.write(l + "\n"));
    if (typeof conn === "number") throw new Fatal("Connection closed");
    try {
      const s = await openSftp(conn.client);
      this.#open.push({ conn, sftp: s });
      return s;
    } catch (e) {
      await conn.close();
      throw new Fatal(`Couldn't initialise connection: ${(e as Error).message}`);
    }
  }

  async closeAll(): Promise<void> {
    for (const { conn, sftp } of this.#open.splice(0)) {
      await sftp.close().catch(() => {});
      await conn.close();
    }
  }
}

/** scp.c prepare_remote_path: `~` and `~/x` are relative to the login directory. */
async function remotePath(s: SftpClient, path: string): Promise<string> {
  if (path === "" || path === "~") return ".";
  if (!path.startsWith("~")) return path;
  if (path.startsWith("~/")) return path.slice(2).replace(/^\/+/, "") || ".";
  if (s.supports("expand-path@openssh.com")) return await s.expandPath(path);
  throw new Fatal("server expand-path extension is required for ~user paths in SFTP mode");
}

async function remoteIsDir(s: SftpClient, path: string): Promise<boolean> {
  try {
    return isDir(await s.stat(path));
  } catch {
    return false;
  }
}

const isDir = (a: FileAttributes | undefined) =>
  a?.permissions !== undefined && (a.permissions & FileType.MASK) === FileType.DIRECTORY;

/** scp.c source_sftp: one local source to the target. */
async function sourceSftp(
  run: Scp,
  job: { src: string; targ: string; to: SftpClient },
): Promise<void> {
  let st: fs.Stats;
  try {
    st = fs.statSync(job.src);
  } catch (e) {
    throw new Fatal(`stat local "${job.src}": ${strerror(e)}`);
  }
  const target = await remotePath(job.to, job.targ);
  let targetIsDir = await remoteIsDir(job.to, target);
  if (run.targetShouldBeDir && !targetIsDir) {
    try {
      await job.to.mkdir(target, { permissions: (Number(st.mode) | 0o700) & 0o7777 });
    } catch (e) {
      throw new Fatal(`remote mkdir "${target}": ${e instanceof SftpError ? fx2txt(e.code) : e}`);
    }
    targetIsDir = true;
  }
  const dst = targetIsDir ? pathAppend(target, baseName(job.src)) : target;
  const set = run.settings();
  if (st.isDirectory() && run.o.recursive) {
    if (!await uploadDir(job.to, { local: job.src, remote: dst }, set)) {
      run.error(`failed to upload directory ${job.src} to ${job.targ}`);
      run.errs++;
    }
  } else if (!await uploadFile(job.to, { local: job.src, remote: dst }, set)) {
    run.error(`failed to upload file ${job.src} to ${job.targ}`);
    run.errs++;
  }
}

/** The remote glob of `src`, or undefined after scp's message when nothing is there. */
async function globSource(
  run: Scp,
  from: SftpClient,
  src: string,
): Promise<{ paths: string[]; matches: number } | undefined> {
  const g = await remoteGlob(from, await remotePath(from, src), {
    mark: true,
    nocheck: true,
    warn: (l) => run.error(l),
  });
  if (g.matches === 0) {
    try {
      await from.stat(g.paths[0]);
    } catch {
      run.error(`${src}: No such file or directory`);
      run.errs++;
      return undefined;
    }
  }
  return g;
}

/** scp.c sink_sftp: one remote source to the local target. */
async function sinkSftp(
  run: Scp,
  job: { dst: string; src: string; from: SftpClient },
): Promise<void> {
  const g = await globSource(run, job.from, job.src);
  if (!g) return;
  let dstIsDir = false;
  let exists = false;
  try {
    dstIsDir = fs.statSync(job.dst).isDirectory();
    exists = true;
  } catch {
    // not there
  }
  if (g.matches > 1 && !dstIsDir) {
    if (exists) {
      run.error(`Multiple files match pattern, but destination "${job.dst}" is not a directory`);
      run.errs++;
      return;
    }
    fs.mkdirSync(job.dst, { mode: 0o777 });
    dstIsDir = true;
  }
  const set = run.settings();
  for (const path of g.paths) {
    const local = dstIsDir ? pathAppend(job.dst, baseName(path)) : job.dst;
    const ok = path.endsWith("/") && run.o.recursive
      ? await downloadDir(job.from, { remote: path, local }, set)
      : await downloadFile(job.from, { remote: path, local }, set);
    if (!ok) run.errs++;
  }
}

/** scp.c throughlocal_sftp: a remote source copied to a remote target through this host. */
async function throughLocal(
  run: Scp,
  job: { from: SftpClient; to: SftpClient; src: string; targ: string },
): Promise<void> {
  const target = await remotePath(job.to, job.targ);
  const targetIsDir = await remoteIsDir(job.to, target);
  if (!targetIsDir && run.targetShouldBeDir) {
    run.error(`${job.targ}: destination is not a directory`);
    run.errs++;
    return;
  }
  const g = await globSource(run, job.from, job.src);
  if (!g) return;
  for (const path of g.paths) {
    const dst = targetIsDir ? pathAppend(target, baseName(path)) : target;
    const ok = path.endsWith("/") && run.o.recursive
      ? await crossloadDir(run, { from: job.from, to: job.to, src: path, dst })
      : await crossload(run, { from: job.from, to: job.to, src: path, dst });
    if (!ok) run.errs++;
  }
}

/** One file from one server to the other, streamed (sftp-client.c do_crossload). */
async function crossload(
  run: Scp,
  job: { from: SftpClient; to: SftpClient; src: string; dst: string; attrs?: FileAttributes },
): Promise<boolean> {
  let attrs = job.attrs;
  try {
    attrs ??= await job.from.stat(job.src);
  } catch (e) {
    run.error(`stat remote: ${e instanceof SftpError ? fx2txt(e.code) : e}`);
    return false;
  }
  if (attrs.permissions !== undefined && (attrs.permissions & FileType.MASK) !== FileType.REGULAR) {
    run.error(`download "${job.src}": not a regular file`);
    return false;
  }
  const mode = (attrs.permissions ?? 0o644) & 0o777;
  try {
    await job.from.createReadStream(job.src).pipeTo(job.to.createWriteStream(job.dst, { mode }));
    if (run.o.preserve) {
      await job.to.setstat(job.dst, {
        permissions: mode,
        ...(attrs.mtime !== undefined
          ? { atime: attrs.atime ?? attrs.mtime, mtime: attrs.mtime }
          : {}),
      });
    }
    return true;
  } catch (e) {
    const what = e instanceof SftpError
      ? `${e.op} "${e.path ?? job.dst}": ${fx2txt(e.code)}`
      : String(e);
    run.error(what);
    return false;
  }
}

/** A directory from one server to the other (sftp-client.c crossload_dir). */
async function crossloadDir(
  run: Scp,
  job: { from: SftpClient; to: SftpClient; src: string; dst: string },
): Promise<boolean> {
  let attrs: FileAttributes;
  const entries: { name: string; attrs: FileAttributes }[] = [];
  try {
    attrs = await job.from.stat(job.src);
    for (const e of await readRemoteDir(job.from, job.src, (l) => run.error(l))) {
      entries.push({ name: e.filename, attrs: e.attrs });
    }
  } catch {
    run.error(`origin readdir "${job.src}" failed`);
    return false;
  }
  const mode = (attrs.permissions ?? 0o755) & 0o1777;
  try {
    await job.to.mkdir(job.dst, { permissions: mode | 0o300 });
  } catch {
    if (!await remoteIsDir(job.to, job.dst)) {
      run.error(`"${job.dst}" exists but is not a directory`);
      return false;
    }
  }
  let ok = true;
  for (const e of entries) {
    if (e.name === "." || e.name === "..") continue;
    const src = pathAppend(job.src, e.name);
    const dst = pathAppend(job.dst, e.name);
    if (isDir(e.attrs)) ok = await crossloadDir(run, { ...job, src, dst }) && ok;
    else if (((e.attrs.permissions ?? FileType.REGULAR) & FileType.MASK) === FileType.REGULAR) {
      ok = await crossload(run, { ...job, src, dst, attrs: e.attrs }) && ok;
    } else run.error(`origin "${src}": not a regular file`);
  }
  // As crossload_dir: the directory's times are copied with or without -p.
  const times = attrs.mtime !== undefined
    ? { atime: attrs.atime ?? attrs.mtime, mtime: attrs.mtime }
    : {};
  await job.to.setstat(job.dst, { permissions: mode, ...times }).catch(() => {});
  return ok;
}

/** The sources to a remote target (scp.c toremote). */
async function toRemote(run: Scp, target: Remote): Promise<void> {
  let to: SftpClient | undefined;
  const targ = target.path ?? ".";
  for (const arg of run.o.operands.slice(0, -1)) {
    const src = parseRemote(arg, "scp");
    to ??= await run.connect(target);
    if (src) {
      const from = await run.connect(src);
      await throughLocal(run, { from, to, src: src.path ?? ".", targ });
    } else {
      await sourceSftp(run, { src: arg, targ, to });
    }
  }
}

/** The sources to a local target (scp.c tolocal); local sources are copied with cp(1). */
async function toLocal(run: Scp, dst: string): Promise<void> {
  if (run.targetShouldBeDir) {
    let ok = false;
    try {
      ok = fs.statSync(dst).isDirectory();
    } catch (e) {
      run.error(`${dst}: ${strerror(e)}`);
      run.errs++;
      return;
    }
    if (!ok) {
      run.error(`${dst}: Not a directory`);
      run.errs++;
      return;
    }
  }
  for (const arg of run.o.operands.slice(0, -1)) {
    const src = parseRemote(arg, "scp");
    if (!src) {
      const flags = [...(run.o.recursive ? ["-r"] : []), ...(run.o.preserve ? ["-p"] : [])];
      const r = spawnSync("cp", [...flags, "--", arg, dst], { stdio: "inherit" });
      if (r.status !== 0) run.errs++;
      continue;
    }
    const from = await run.connect(src);
    await sinkSftp(run, { dst, src: src.path ?? ".", from });
  }
}

/**
 * Runs `rxssh scp` with `args` (without `scp`) and returns the exit
 * status: 0, 1 when something could not be copied, 255 on a connection
 * failure or a missing local source (scp's fatal errors).
 *
 * @example
 * ```ts
 * import { scpMain } from "./scp.ts";
 * async function run() {
 *   return await scpMain(["-P", "2222", "-r", "site", "me@127.0.0.1:/srv/www"]);
 * }
 * ```
 */
export async function scpMain(args: readonly string[]): Promise<number> {
  let run: Scp;
  let target: Remote | undefined;
  try {
    run = new Scp(parseScpArgs(args));
    target = parseRemote(run.o.operands.at(-1)!, "scp");
  } catch (e) {
    if (e instanceof Fatal) {
      process.stderr.write(`scp: ${e.message}\r\n`);
      return 255;
    }
    if ((e as Error).message) process.stderr.write(`rxssh scp: ${(e as Error).message}\n`);
    process.stderr.write(SCP_USAGE + "\n");
    return 1;
  }
  try {
    if (target) await toRemote(run, target);
    else await toLocal(run, run.o.operands.at(-1)!);
    return run.errs ? 1 : 0;
  } catch (e) {
    if (!(e instanceof Fatal)) throw e;
    run.error(e.message);
    return 255;
  } finally {
    await run.closeAll();
  }
}
