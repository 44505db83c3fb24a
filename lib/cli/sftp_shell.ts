/**
 * The commands of sftp's prompt (sftp.c parse_args and
 * parse_dispatch_command, OpenSSH 9.2) over an {@link SftpClient}: the
 * same flags, the same output on standard output and the same error
 * messages on standard error, so a batch file gives what OpenSSH's sftp
 * gives.
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import process from "node:process";
import type { SftpClient } from "../sftp/client.ts";
import { SftpError } from "../sftp/errors.ts";
import { type FileAttributes, FileType } from "../sftp/packets.ts";
import { canShowProgress } from "./progress_meter.ts";
import { getopt } from "./options.ts";
import { localGlob, remoteGlob } from "./sftp_glob.ts";
import {
  baseName,
  dfTable,
  escapeGlob,
  fx2txt,
  lsLine,
  makeAbsolute,
  pathAppend,
  pathStrip,
  safeText,
  splitCommandLine,
  strerror,
  undoGlobEscape,
} from "./sftp_text.ts";
import {
  downloadDir,
  downloadFile,
  readRemoteDir,
  type TransferSettings,
  uploadDir,
  uploadFile,
} from "./sftp_transfer.ts";

/** sftp's `help` text. */
const HELP = `Available commands:
bye                                Quit sftp
cd path                            Change remote directory to 'path'
chgrp [-h] grp path                Change group of file 'path' to 'grp'
chmod [-h] mode path               Change permissions of file 'path' to 'mode'
chown [-h] own path                Change owner of file 'path' to 'own'
copy oldpath newpath               Copy remote file
cp oldpath newpath                 Copy remote file
df [-hi] [path]                    Display statistics for current directory or
                                   filesystem containing 'path'
exit                               Quit sftp
get [-afpR] remote [local]         Download file
help                               Display this help text
lcd path                           Change local directory to 'path'
lls [ls-options [path]]            Display local directory listing
lmkdir path                        Create local directory
ln [-s] oldpath newpath            Link remote file (-s for symlink)
lpwd                               Print local working directory
ls [-1afhlnrSt] [path]             Display remote directory listing
lumask umask                       Set local umask to 'umask'
mkdir path                         Create remote directory
progress                           Toggle display of progress meter
put [-afpR] local [remote]         Upload file
pwd                                Display remote working directory
quit                               Quit sftp
reget [-fpR] remote [local]        Resume download file
rename oldpath newpath             Rename remote file
reput [-fpR] local [remote]        Resume upload file
rm path                            Delete remote file
rmdir path                         Remove remote directory
symlink oldpath newpath            Symlink remote file
version                            Show SFTP version
!command                           Execute 'command' in local shell
!                                  Escape to local shell
?                                  Synonym for help`;

/** Command names (case-insensitive, as sftp) and the getopt flags each takes. */
const COMMANDS: Record<string, { id: string; flags: string }> = {
  bye: { id: "quit", flags: "" },
  exit: { id: "quit", flags: "" },
  quit: { id: "quit", flags: "" },
  cd: { id: "cd", flags: "" },
  chdir: { id: "cd", flags: "" },
  chgrp: { id: "chgrp", flags: "h" },
  chmod: { id: "chmod", flags: "h" },
  chown: { id: "chown", flags: "h" },
  copy: { id: "copy", flags: "" },
  cp: { id: "copy", flags: "" },
  df: { id: "df", flags: "hi" },
  dir: { id: "ls", flags: "1Safhlnrt" },
  ls: { id: "ls", flags: "1Safhlnrt" },
  get: { id: "get", flags: "afPpRr" },
  mget: { id: "get", flags: "afPpRr" },
  reget: { id: "reget", flags: "afPpRr" },
  put: { id: "put", flags: "afPpRr" },
  mput: { id: "put", flags: "afPpRr" },
  reput: { id: "reput", flags: "afPpRr" },
  help: { id: "help", flags: "" },
  "?": { id: "help", flags: "" },
  lcd: { id: "lcd", flags: "" },
  lchdir: { id: "lcd", flags: "" },
  lls: { id: "lls", flags: "" },
  lmkdir: { id: "lmkdir", flags: "" },
  ln: { id: "ln", flags: "s" },
  symlink: { id: "symlink", flags: "" },
  lpwd: { id: "lpwd", flags: "" },
  lumask: { id: "lumask", flags: "" },
  mkdir: { id: "mkdir", flags: "" },
  progress: { id: "progress", flags: "" },
  pwd: { id: "pwd", flags: "" },
  rename: { id: "rename", flags: "l" },
  rm: { id: "rm", flags: "" },
  rmdir: { id: "rmdir", flags: "" },
  version: { id: "version", flags: "" },
};

/** A parsed command line: the command, its flags and its operands. */
interface Parsed {
  id: string;
  name: string;
  flags: Set<string>;
  args: string[];
  /** The rest of the line (`!command`, `lls` options). */
  rest: string;
}

/**
 * A command's flags (argv[0] being the command): flags out of `allowed`,
 * `--` ends them. Returns the flags and the operands, or the first flag
 * not allowed.
 */
function commandFlags(
  argv: string[],
  allowed: string,
): { flags: Set<string>; args: string[] } | { bad: string } {
  const flags = new Set<string>();
  let bad: string | undefined;
  const i = getopt(argv, {
    withValue: "",
    start: 1,
    onOption: (f) => {
      if (bad === undefined && !allowed.includes(f)) bad = f;
      flags.add(f);
    },
  });
  return bad !== undefined ? { bad } : { flags, args: argv.slice(i) };
}

/**
 * Options of an {@link SftpShell}.
 *
 * @example
 * ```ts
 * import type { SftpShellOptions } from "./sftp_shell.ts";
 * const o: SftpShellOptions = { quiet: false, progress: true, global: { a: false, f: false, p: false, r: false } };
 * ```
 */
export interface SftpShellOptions {
  /** `-q` or batch mode: no "Fetching"/"Uploading"/"Removing"/"Changing" lines. */
  quiet: boolean;
  /** Draw progress meters (a terminal and not `-q` or batch mode). */
  progress: boolean;
  /** sftp's `-a`, `-f`, `-p`, `-r`: apply to every get and put. */
  global: { a: boolean; f: boolean; p: boolean; r: boolean };
  /** `-R`: requests in flight per file. */
  requests?: number;
  /** Standard output (default: process.stdout). */
  out?: (s: string) => void;
  /** Standard error (default: process.stderr). */
  err?: (s: string) => void;
}

/**
 * sftp's command interpreter over an open SFTP session. {@link
 * SftpShell.run} runs one command line and says whether to go on.
 *
 * @example
 * ```ts
 * import type { SftpClient } from "../sftp/client.ts";
 * import { SftpShell } from "./sftp_shell.ts";
 * declare const s: SftpClient;
 * const shell = await SftpShell.start(s, { quiet: true, progress: false, global: { a: false, f: false, p: false, r: false } });
 * await shell.run("ls -l", { abortOnError: true, echo: true });
 * ```
 */
export class SftpShell {
  /** The SFTP session. */
  readonly client: SftpClient;
  /** The remote working directory. */
  pwd: string;
  /** Where `cd` without a path goes. */
  readonly startDir: string;
  readonly #o: SftpShellOptions;
  #progress: boolean;
  readonly #users = new Map<number, string>();
  readonly #groups = new Map<number, string>();

  private constructor(client: SftpClient, pwd: string, o: SftpShellOptions) {
    this.client = client;
    this.pwd = pwd;
    this.startDir = pwd;
    this.#o = o;
    this.#progress = o.progress;
  }

  /** Opens the interpreter: the working directory is the server's `.` (REALPATH). */
  static async start(client: SftpClient, options: SftpShellOptions): Promise<SftpShell> {
    return new SftpShell(client, await client.realpath("."), options);
  }

  #print(line: string): void {
    (this.#o.out ?? ((s) => process.stdout.write(s)))(line + "\n");
  }

  /** Reports a listing's suspect name (readRemoteDir) as an error line. */
  #warn = (line: string): void => this.#error(line);

  #error(line: string): void {
    // OpenSSH's log.c ends each line on standard error with "\r\n".
    (this.#o.err ?? ((s) => process.stderr.write(s)))(line + "\r\n");
  }

  /**
   * Runs one command line. `-` before the command ignores its failure, `@`
   * suppresses the echo; `echo` prints `sftp> line` first (batch mode);
   * with `abortOnError` a failure returns "abort". "quit" after bye, exit,
   * quit.
   */
  async run(
    line: string,
    mode: { abortOnError: boolean; echo: boolean },
  ): Promise<"ok" | "abort" | "quit"> {
    const prefix = /^\s*([-@]*)\s*/.exec(line)!;
    const abortOnError = mode.abortOnError && !prefix[1].includes("-");
    if (mode.echo && !prefix[1].includes("@")) this.#print(`sftp> ${safeText(line)}`);
    const body = line.slice(prefix[0].length);
    if (body === "" || body.startsWith("#")) return "ok";
    const parsed = this.#parse(body);
    let failed: boolean;
    if (parsed === undefined) failed = true;
    else {
      try {
        failed = !await this.#dispatch(parsed, abortOnError);
      } catch (e) {
        this.#error(e instanceof SftpError ? fx2txt(e.code) : String((e as Error)?.message ?? e));
        failed = true;
      }
    }
    if (abortOnError && failed) return "abort";
    return parsed?.id === "quit" ? "quit" : "ok";
  }

  /** The command and its operands, or undefined after printing sftp's complaint. */
  #parse(body: string): Parsed | undefined {
    if (body.startsWith("!")) {
      return { id: "shell", name: "!", flags: new Set(), args: [], rest: body.slice(1) };
    }
    let argv: string[];
    try {
      argv = splitCommandLine(body);
    } catch (e) {
      this.#error((e as Error).message);
      return undefined;
    }
    const name = argv[0] ?? "";
    const cmd = COMMANDS[name.toLowerCase()];
    if (!cmd) {
      this.#error("Invalid command.");
      return undefined;
    }
    if (cmd.id === "lls") {
      return { id: "lls", name, flags: new Set(), args: [], rest: body.slice(name.length).trim() };
    }
    const o = commandFlags(argv, cmd.flags);
    if ("bad" in o) {
      this.#error(`${cmd.id === "ls" ? "ls" : name}: Invalid flag -${o.bad}`);
      return undefined;
    }
    const p: Parsed = { id: cmd.id, name, flags: o.flags, args: o.args, rest: "" };
    return this.#checkArgs(p) ? p : undefined;
  }

  /** sftp's operand checks (counts, numeric arguments), with its messages. */
  #checkArgs(p: Parsed): boolean {
    const need = (n: number, msg: string) => {
      if (p.args.length >= n) return true;
      this.#error(msg);
      return false;
    };
    switch (p.id) {
      case "get":
      case "reget":
      case "put":
      case "reput":
        return need(1, `You must specify at least one path after a ${p.name} command.`);
      case "ln":
      case "symlink":
      case "rename":
      case "copy":
        return need(2, `You must specify two paths after a ${p.name} command.`);
      case "rm":
      case "mkdir":
      case "rmdir":
      case "lmkdir":
        return need(1, `You must specify a path after a ${p.name} command.`);
      case "chmod":
      case "chown":
      case "chgrp":
      case "lumask": {
        const base = p.id === "chmod" || p.id === "lumask" ? 8 : 10;
        const v = p.args[0];
        const ok = v !== undefined && (base === 8 ? /^[0-7]+$/ : /^\d+$/).test(v) &&
          parseInt(v, base) <= 0xffffffff;
        if (!ok) {
          this.#error(`You must supply a numeric argument to the ${p.name} command.`);
          return false;
        }
        return p.id === "lumask" || need(2, `You must specify a path after a ${p.name} command.`);
      }
      default:
        return true;
    }
  }

  /** Runs a parsed command; false when it failed (its message printed). */
  async #dispatch(p: Parsed, abortOnError: boolean): Promise<boolean> {
    const a = p.args;
    switch (p.id) {
      case "quit":
        return true;
      case "get":
      case "reget":
        return await this.#get(p, p.id === "reget");
      case "put":
      case "reput":
        return await this.#put(p, p.id === "reput");
      case "ls":
        return await this.#ls(p);
      case "cd":
        return await this.#cd(a[0]);
      case "pwd":
        this.#print(`Remote working directory: ${safeText(this.pwd)}`);
        return true;
      case "lpwd":
        this.#print(`Local working directory: ${process.cwd()}`);
        return true;
      case "rm":
        return await this.#eachGlob(a[0], abortOnError, async (path) => {
          if (!this.#o.quiet) this.#print(`Removing ${safeText(path)}`);
          return await this.#remote(() => this.client.remove(path), `remote delete ${path}`);
        });
      case "chmod":
      case "chown":
      case "chgrp":
        return await this.#chattr(p, abortOnError);
      default:
        return await this.#simple(p);
    }
  }

  /** The commands of one request or none. */
  async #simple(p: Parsed): Promise<boolean> {
    const a = p.args;
    const abs = (x: string) => makeAbsolute(undoGlobEscape(x), this.pwd);
    switch (p.id) {
      case "mkdir": {
        const path = abs(a[0]);
        return await this.#remote(
          () => this.client.mkdir(path, { permissions: 0o777 }),
          `remote mkdir "${path}"`,
        );
      }
      case "rmdir": {
        const path = abs(a[0]);
        return await this.#remote(() => this.client.rmdir(path), `remote rmdir "${path}"`);
      }
      case "rename":
        return await this.#rename(abs(a[0]), { to: abs(a[1]), legacy: p.flags.has("l") });
      case "ln":
      case "symlink":
        return await this.#link(a, p.id === "symlink" || p.flags.has("s"));
      case "copy":
        return await this.#copy(abs(a[0]), abs(a[1]));
      case "df":
        return await this.#df(a[0] === undefined ? this.pwd : abs(a[0]), p.flags);
      default:
        return this.#local(p);
    }
  }

  /** Local commands: lcd, lmkdir, lls, !, lumask, help, version, progress. */
  #local(p: Parsed): boolean {
    const a = p.args;
    switch (p.id) {
      case "lcd": {
        let path = a[0] === undefined || a[0] === "" ? "~" : undoGlobEscape(a[0]);
        if (path === "~" || path.startsWith("~/")) path = os.homedir() + path.slice(1);
        try {
          process.chdir(path);
          return true;
        } catch (e) {
          this.#error(`Couldn't change local directory to "${path}": ${strerror(e)}`);
          return false;
        }
      }
      case "lmkdir": {
        const path = undoGlobEscape(a[0]);
        try {
          fs.mkdirSync(path, { mode: 0o777 });
          return true;
        } catch (e) {
          this.#error(`Couldn't create local directory "${path}": ${strerror(e)}`);
          return false;
        }
      }
      case "lls":
        this.#system(`ls ${p.rest}`);
        return true;
      case "shell":
        this.#system(p.rest);
        return true;
      case "lumask": {
        const n = parseInt(a[0], 8);
        process.umask(n);
        this.#print(`Local umask: ${n.toString(8).padStart(3, "0")}`);
        return true;
      }
      case "help":
        this.#print(HELP);
        return true;
      case "version":
        this.#print(`SFTP protocol version ${this.client.version}`);
        return true;
      case "progress":
        this.#progress = !this.#progress;
        this.#print(`Progress meter ${this.#progress ? "enabled" : "disabled"}`);
        return true;
    }
    return false;
  }

  /** Runs `command` with the local shell, its output ours (an empty command: an interactive shell). */
  #system(command: string): void {
    const shell = process.env.SHELL || "/bin/sh";
    const args = command.trim() === "" ? [] : ["-c", command];
    const r = spawnSync(shell, args, { stdio: "inherit" });
    if (r.error) {
      this.#error(`Couldn't execute "${shell}": ${strerror(r.error)}`);
    } else if (r.status !== 0 && r.status !== null) {
      this.#error(`Shell exited with status ${r.status}`);
    } else if (r.status === null) this.#error("Shell exited abnormally");
  }

  /** A remote request; on failure prints `what: <status text>` and resolves false. */
  async #remote(op: () => Promise<unknown>, what: string): Promise<boolean> {
    try {
      await op();
      return true;
    } catch (e) {
      if (!(e instanceof SftpError)) throw e;
      this.#error(`${what}: ${fx2txt(e.code)}`);
      return false;
    }
  }

  /** Runs `each` for every path the remote glob `pattern` gives (GLOB_NOCHECK). */
  async #eachGlob(
    pattern: string,
    abortOnError: boolean,
    each: (path: string) => Promise<boolean>,
  ): Promise<boolean> {
    const g = await remoteGlob(this.client, this.#absGlob(pattern), {
      nocheck: true,
      warn: this.#warn,
    });
    let ok = true;
    for (const path of g.paths) {
      ok = await each(path);
      if (!ok && abortOnError) break;
    }
    return ok;
  }

  /** `p` made absolute for the glob (sftp.c make_absolute_pwd_glob). */
  #absGlob(p: string): string {
    return makeAbsolute(p, escapeGlob(this.pwd));
  }

  async #cd(arg: string | undefined): Promise<boolean> {
    const path = makeAbsolute(
      arg === undefined || arg === "" ? this.startDir : undoGlobEscape(arg),
      this.pwd,
    );
    let real: string;
    try {
      real = await this.client.realpath(path);
    } catch (e) {
      if (!(e instanceof SftpError)) throw e;
      this.#error(`realpath ${path}: ${e.serverMessage || fx2txt(e.code)}`);
      return false;
    }
    let attrs: FileAttributes;
    try {
      attrs = await this.client.stat(real);
    } catch (e) {
      if (!(e instanceof SftpError)) throw e;
      this.#error(`stat remote: ${fx2txt(e.code)}`);
      return false;
    }
    if (attrs.permissions === undefined) {
      this.#error("Can't change directory: Can't check target");
      return false;
    }
    if ((attrs.permissions & FileType.MASK) !== FileType.DIRECTORY) {
      this.#error(`Can't change directory: "${real}" is not a directory`);
      return false;
    }
    this.pwd = real;
    return true;
  }

  #settings(p: Parsed, resume: boolean): TransferSettings {
    const g = this.#o.global;
    return {
      preserve: p.flags.has("p") || p.flags.has("P") || g.p,
      resume: resume || p.flags.has("a") || g.a,
      progress: this.#progress && canShowProgress(),
      printDirs: true,
      requests: this.#o.requests,
      print: (l) => this.#print(safeText(l)),
      error: (l) => this.#error(safeText(l)),
    };
  }

  /** get/reget (sftp.c process_get). */
  async #get(p: Parsed, resume: boolean): Promise<boolean> {
    const src = this.#absGlob(p.args[0]);
    const dst = p.args[1] === undefined ? undefined : undoGlobEscape(p.args[1]);
    const g = await remoteGlob(this.client, src, { mark: true, warn: this.#warn });
    if (g.matches === 0) {
      this.#error(`File "${safeText(src)}" not found.`);
      return false;
    }
    const dstIsDir = dst !== undefined && localIsDir(dst);
    if (g.matches > 1 && dst !== undefined && !dstIsDir) {
      this.#error(`Multiple source paths, but destination "${dst}" is not a directory`);
      return false;
    }
    const set = this.#settings(p, resume);
    const recursive = p.flags.has("r") || p.flags.has("R") || this.#o.global.r;
    let ok = true;
    for (const path of g.paths) {
      const name = baseName(path);
      const local = dst === undefined
        ? name
        : g.matches === 1 && !dstIsDir
        ? dst
        : pathAppend(dst, name);
      if (!this.#o.quiet) {
        this.#print(
          `${set.resume ? "Resuming" : "Fetching"} ${safeText(path)} to ${safeText(local)}`,
        );
      }
      const done = path.endsWith("/") && recursive
        ? await downloadDir(this.client, { remote: path, local }, set)
        : await downloadFile(this.client, { remote: path, local }, set);
      if (!done) ok = false;
    }
    return ok;
  }

  /** put/reput (sftp.c process_put). */
  async #put(p: Parsed, resume: boolean): Promise<boolean> {
    const src = p.args[0];
    const dst = p.args[1] === undefined
      ? undefined
      : makeAbsolute(undoGlobEscape(p.args[1]), this.pwd);
    const g = await localGlob(src, { mark: true, nocheck: true });
    const dstIsDir = dst === undefined ? true : await this.#remoteIsDir(dst);
    if (g.matches > 1 && dst !== undefined && !dstIsDir) {
      this.#error(`Multiple paths match, but destination "${dst}" is not a directory`);
      return false;
    }
    const set = this.#settings(p, resume);
    const recursive = p.flags.has("r") || p.flags.has("R") || this.#o.global.r;
    let ok = true;
    for (const path of g.paths) {
      const local = path; // as glob(3) gave it (GLOB_NOCHECK: the pattern as typed)
      try {
        fs.statSync(local);
      } catch (e) {
        this.#error(`stat ${local}: ${strerror(e)}`);
        ok = false;
        continue;
      }
      const name = baseName(local);
      const remote = g.paths.length === 1 && dst !== undefined
        ? (dstIsDir ? pathAppend(dst, name) : dst)
        : dst !== undefined
        ? pathAppend(dst, name)
        : makeAbsolute(name, this.pwd);
      if (!this.#o.quiet) {
        this.#print(
          `${set.resume ? "Resuming upload of" : "Uploading"} ${local} to ${safeText(remote)}`,
        );
      }
      const done = path.endsWith("/") && recursive
        ? await uploadDir(this.client, { local, remote }, set)
        : await uploadFile(this.client, { local, remote }, set);
      if (!done) ok = false;
    }
    return ok;
  }

  async #remoteIsDir(path: string): Promise<boolean> {
    try {
      const a = await this.client.stat(path);
      return a.permissions !== undefined && (a.permissions & FileType.MASK) === FileType.DIRECTORY;
    } catch {
      return false;
    }
  }

  async #rename(from: string, how: { to: string; legacy: boolean }): Promise<boolean> {
    const posix = !how.legacy && this.client.supports("posix-rename@openssh.com");
    return await this.#remote(
      () => posix ? this.client.posixRename(from, how.to) : this.client.rename(from, how.to),
      `remote rename "${from}" to "${how.to}"`,
    );
  }

  async #link(a: string[], symbolic: boolean): Promise<boolean> {
    const target = symbolic ? undoGlobEscape(a[0]) : makeAbsolute(undoGlobEscape(a[0]), this.pwd);
    const link = makeAbsolute(undoGlobEscape(a[1]), this.pwd);
    if (symbolic) {
      return await this.#remote(
        () => this.client.symlink(target, link),
        `remote symlink file "${target}" to "${link}"`,
      );
    }
    if (!this.client.supports("hardlink@openssh.com")) {
      this.#error("Server does not support hardlink@openssh.com extension");
      return false;
    }
    return await this.#remote(
      () => this.client.hardlink(target, link),
      `remote link "${target}" to "${link}"`,
    );
  }

  /** cp (copy-data@openssh.com, sftp-client.c do_copy). */
  async #copy(from: string, to: string): Promise<boolean> {
    if (!this.client.supports("copy-data")) {
      this.#error("Server does not support copy-data extension");
      return false;
    }
    let attrs: FileAttributes;
    try {
      attrs = await this.client.stat(from);
    } catch (e) {
      if (!(e instanceof SftpError)) throw e;
      this.#error(`stat remote: ${fx2txt(e.code)}`);
      return false;
    }
    if (
      attrs.permissions !== undefined && (attrs.permissions & FileType.MASK) !== FileType.REGULAR
    ) {
      this.#error(`Cannot copy non-regular file: ${from}`);
      return false;
    }
    return await this.#remote(async () => {
      const src = await this.client.open(from);
      try {
        const permissions = (attrs.permissions ?? 0o644) & 0o777;
        const dst = await this.client.open(to, { flags: "w", attrs: { permissions } });
        try {
          await this.client.copyData(src, dst);
        } finally {
          await this.client.closeHandle(dst);
        }
      } finally {
        await this.client.closeHandle(src);
      }
    }, `Couldn't copy file "${from}" to "${to}"`);
  }

  async #df(path: string, flags: Set<string>): Promise<boolean> {
    if (!this.client.supports("statvfs@openssh.com")) {
      this.#error("Server does not support statvfs@openssh.com extension");
      return false;
    }
    try {
      const st = await this.client.statvfs(path);
      for (const l of dfTable(st, { human: flags.has("h"), inodes: flags.has("i") })) {
        this.#print(l);
      }
      return true;
    } catch (e) {
      if (!(e instanceof SftpError)) throw e;
      this.#error(`remote statvfs: ${fx2txt(e.code)}`);
      return false;
    }
  }

  /** chmod, chown, chgrp over a remote glob (`-h`: lsetstat, not following symlinks). */
  async #chattr(p: Parsed, abortOnError: boolean): Promise<boolean> {
    const n = parseInt(p.args[0], p.id === "chmod" ? 8 : 10);
    const lset = p.flags.has("h");
    return await this.#eachGlob(p.args[1], abortOnError, async (path) => {
      let attrs: FileAttributes = { permissions: n };
      if (p.id !== "chmod") {
        let cur: FileAttributes;
        try {
          cur = await (lset ? this.client.lstat(path) : this.client.stat(path));
        } catch (e) {
          if (!(e instanceof SftpError)) throw e;
          this.#error(`stat remote: ${fx2txt(e.code)}`);
          return false;
        }
        if (cur.uid === undefined || cur.gid === undefined) {
          this.#error(`Can't get current ownership of remote file "${path}"`);
          return false;
        }
        attrs = p.id === "chown" ? { uid: n, gid: cur.gid } : { uid: cur.uid, gid: n };
      }
      if (!this.#o.quiet) {
        const what = p.id === "chmod" ? "mode" : p.id === "chown" ? "owner" : "group";
        this.#print(`Changing ${what} on ${safeText(path)}`);
      }
      const op = lset ? "lsetstat" : "setstat";
      return await this.#remote(
        () => lset ? this.client.lsetstat(path, attrs) : this.client.setstat(path, attrs),
        `remote ${op} "${path}"`,
      );
    });
  }

  /** ls (sftp.c do_ls_dir and do_globbed_ls). */
  async #ls(p: Parsed): Promise<boolean> {
    const view = lsView(p.flags);
    if (p.args[0] === undefined) return await this.#lsDir(this.pwd, { strip: this.pwd, view });
    const strip = p.args[0].startsWith("/") ? undefined : this.pwd;
    const pattern = this.#absGlob(p.args[0]);
    const g = await remoteGlob(this.client, pattern, {
      mark: true,
      nocheck: true,
      warn: this.#warn,
    });
    if (g.matches === 0) {
      this.#error(`Can't ls: "${safeText(pattern)}" not found`);
      return false;
    }
    if (g.matches === 1 && isDirAttrs(g.attrs[0])) {
      return await this.#lsDir(g.paths[0], { strip, view });
    }
    const entries = g.paths.map((path, i) => ({
      name: pathStrip(path, strip),
      attrs: g.attrs[i]!,
    }));
    await this.#lsPrint(sortEntries(entries, view), { view, extra: 0 });
    return true;
  }

  async #lsDir(dir: string, how: { strip: string | undefined; view: LsView }): Promise<boolean> {
    const all: { name: string; attrs: FileAttributes; longname: string }[] = [];
    try {
      for (const e of await readRemoteDir(this.client, dir, this.#warn)) {
        all.push({ name: e.filename, attrs: e.attrs, longname: e.longname });
      }
    } catch (e) {
      if (!(e instanceof SftpError)) throw e;
      this.#error(`Couldn't read directory: ${fx2txt(e.code)}`);
      return false;
    }
    const shown = all.filter((e) => how.view.all || !e.name.startsWith("."));
    const entries = sortEntries(
      shown.map((e) => ({ ...e, name: pathStrip(pathAppend(dir, e.name), how.strip) })),
      how.view,
    );
    const extra = pathStrip(dir, how.strip).length;
    const names = shown.map((e) => e.name.length);
    await this.#lsPrint(entries, { view: how.view, extra, width: Math.max(0, ...names) + extra });
    return true;
  }

  /** Prints `ls` entries: long lines, one per line (-1), or columns 80 wide. */
  async #lsPrint(
    entries: { name: string; attrs: FileAttributes; longname?: string }[],
    how: { view: LsView; extra: number; width?: number },
  ): Promise<void> {
    const v = how.view;
    if (v.long) {
      const names = this.client.supports("users-groups-by-id@openssh.com");
      if (names) await this.#lookupIds(entries.map((e) => e.attrs));
      for (const e of entries) {
        if (!names && !v.numeric && !v.si && e.longname !== undefined) {
          this.#print(safeText(e.longname));
          continue;
        }
        const user = names ? this.#users.get(e.attrs.uid ?? -1) : undefined;
        const group = names ? this.#groups.get(e.attrs.gid ?? -1) : undefined;
        this.#print(safeText(lsLine(e.name, { attrs: e.attrs, user, group, si: v.si })));
      }
      return;
    }
    if (v.short) {
      for (const e of entries) this.#print(safeText(e.name));
      return;
    }
    const width = 80;
    const m = how.width ?? Math.max(0, ...entries.map((e) => e.name.length));
    const columns = Math.max(1, Math.floor(width / (m + 2)));
    const colspace = Math.min(Math.floor(width / columns), width);
    let line = "";
    let c = 1;
    for (const e of entries) {
      line += safeText(e.name).padEnd(colspace);
      if (c >= columns) {
        this.#print(line);
        line = "";
        c = 1;
      } else c++;
    }
    if (c !== 1) this.#print(line);
  }

  /** users-groups-by-id@openssh.com for the ids not looked up yet. */
  async #lookupIds(attrs: FileAttributes[]): Promise<void> {
    const uids = [...new Set(attrs.map((a) => a.uid).filter((u) => u !== undefined))]
      .filter((u) => !this.#users.has(u!)) as number[];
    const gids = [...new Set(attrs.map((a) => a.gid).filter((g) => g !== undefined))]
      .filter((g) => !this.#groups.has(g!)) as number[];
    if (uids.length === 0 && gids.length === 0) return;
    try {
      const r = await this.client.usersGroupsById(uids, gids);
      uids.forEach((u, i) => this.#users.set(u, r.users[i]));
      gids.forEach((g, i) => this.#groups.set(g, r.groups[i]));
    } catch (e) {
      if (!(e instanceof SftpError)) throw e;
      this.#error(`users-groups-by-id: ${fx2txt(e.code)}`);
    }
  }
}

interface LsView {
  long: boolean;
  short: boolean;
  all: boolean;
  numeric: boolean;
  si: boolean;
  sort: "name" | "time" | "size" | "none";
  reverse: boolean;
}

/** The `ls` flags as sftp.c parse_ls_flags combines them. */
function lsView(flags: Set<string>): LsView {
  const v: LsView = {
    long: flags.has("l") || flags.has("n"),
    short: flags.has("1"),
    all: flags.has("a"),
    numeric: flags.has("n"),
    si: flags.has("h"),
    sort: "name",
    reverse: flags.has("r"),
  };
  if (flags.has("f")) v.sort = "none";
  if (flags.has("S")) v.sort = "size";
  if (flags.has("t")) v.sort = "time";
  if (v.long) v.short = false;
  return v;
}

function sortEntries<T extends { name: string; attrs: FileAttributes }>(
  entries: T[],
  v: LsView,
): T[] {
  if (v.sort === "none") return entries;
  const r = v.reverse ? -1 : 1;
  const ncmp = (a: number, b: number) => (a === b ? 0 : a < b ? 1 : -1);
  return [...entries].sort((a, b) => {
    if (v.sort === "time") return r * ncmp(a.attrs.mtime ?? 0, b.attrs.mtime ?? 0);
    if (v.sort === "size") return r * ncmp(a.attrs.size ?? 0, b.attrs.size ?? 0);
    return r * (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  });
}

function isDirAttrs(a: FileAttributes | undefined): boolean {
  return a?.permissions !== undefined && (a.permissions & FileType.MASK) === FileType.DIRECTORY;
}

function localIsDir(path: string): boolean {
  try {
    return fs.statSync(path).isDirectory();
  } catch {
    return false;
  }
}
