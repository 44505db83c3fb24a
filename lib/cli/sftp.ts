/**
 * `rxssh sftp [options] destination [local]`: OpenSSH 9.2's sftp(1) over
 * rxssh.
 *
 * ```sh
 * rxssh sftp [-46ACNafpqrv] [-B buffer_size] [-b batchfile] [-c cipher] [-F ssh_config]
 *            [-i identity_file] [-J destination] [-o ssh_option] [-P port]
 *            [-R num_requests] destination [local]
 * ```
 *
 * `destination` is `[user@]host[:path]` or `sftp://[user@]host[:port][/path]`.
 * The connection is made as `rxssh` makes one ({@link connectAsSsh}:
 * configuration files, `-F`, `-o`, `-i`, `-J`, known_hosts, prompts, the
 * agent); `-P` is the port. With a path that is a file, sftp fetches it
 * (to `local` or the current directory) and exits; with a directory it
 * starts there. `-b batchfile` (`-` for standard input) runs its commands,
 * each echoed as `sftp> command`, and stops with exit status 1 at the first
 * that fails unless it starts with `-`; it implies BatchMode. Otherwise
 * commands are read from standard input, with a `sftp> ` prompt on a
 * terminal. The commands, their flags, output and messages are sftp's (see
 * `lib/cli/sftp_shell.ts`); a progress meter is drawn on a terminal
 * unless `-q` or batch mode.
 *
 * @module
 */
import * as fs from "node:fs";
import process from "node:process";
import { sftp as openSftp } from "../sftp/client.ts";
import { canShowProgress } from "./progress_meter.ts";
import { SftpShell } from "./sftp_shell.ts";
import { strerror } from "./sftp_text.ts";
import { connectAsSsh } from "./ssh.ts";
import { getopt } from "./options.ts";

/**
 * The usage text of `rxssh sftp`.
 *
 * @example
 * ```ts
 * import { SFTP_USAGE } from "./sftp.ts";
 * console.error(SFTP_USAGE);
 * ```
 */
export const SFTP_USAGE =
  `usage: rxssh sftp [-46ACNafpqrv] [-B buffer_size] [-b batchfile] [-c cipher]
          [-F ssh_config] [-i identity_file] [-J destination] [-o ssh_option]
          [-P port] [-R num_requests] destination [local]`;

const PASS_FLAG = new Set([..."46AC"]);
const PASS_VALUE = new Set([..."FJcio"]);
const UNSUPPORTED = new Set([..."DlsSX"]);

/** What sftp's command line asks for. */
interface SftpArgs {
  ssh: string[];
  batch?: string;
  quiet: boolean;
  noisy: boolean;
  global: { a: boolean; f: boolean; p: boolean; r: boolean };
  blockSize?: number;
  requests?: number;
  port?: number;
  operands: string[];
}

class UsageError extends Error {}

/** getopt over sftp's options ("1246AafhNpqrvCc:D:i:l:o:s:S:b:B:F:J:P:R:X:"). */
function parseSftpArgs(args: readonly string[]): SftpArgs {
  const r: SftpArgs = {
    ssh: [],
    quiet: false,
    noisy: false,
    global: { a: false, f: false, p: false, r: false },
    operands: [],
  };
  const i = getopt(args, {
    withValue: [...PASS_VALUE, ...UNSUPPORTED].join("") + "bBPR",
    onOption: (f, v) => v === undefined ? sftpFlag(r, f) : sftpValue(r, { flag: f, value: v }),
  });
  r.operands = args.slice(i);
  if (r.operands.length < 1 || r.operands.length > 2) throw new UsageError("");
  return r;
}

function sftpFlag(r: SftpArgs, f: string): void {
  if (PASS_FLAG.has(f)) r.ssh.push(`-${f}`);
  else if (f === "a") r.global.a = true;
  else if (f === "f") r.global.f = true;
  else if (f === "p") r.global.p = true;
  else if (f === "r") r.global.r = true;
  else if (f === "N") r.noisy = true;
  else if (f === "2") return;
  else if (f === "q") {
    r.quiet = true;
    r.ssh.push("-q");
  } else if (f === "v") r.ssh.push("-v");
  else if (f === "1") throw new UsageError("SSH protocol v.1 is no longer supported");
  else throw new UsageError(`unknown option -- ${f}`);
}

function sftpValue(r: SftpArgs, o: { flag: string; value: string }): void {
  const { flag, value } = o;
  if (PASS_VALUE.has(flag)) r.ssh.push(`-${flag}`, value);
  else if (flag === "b") {
    if (r.batch !== undefined) throw new UsageError("Batch file already specified.");
    r.batch = value;
  } else if (flag === "B") {
    const n = /^\d+$/.test(value) ? Number(value) : 0;
    if (n === 0) throw new UsageError(`Invalid buffer size "${value}"`);
    r.blockSize = n;
  } else if (flag === "R") {
    const n = /^\d+$/.test(value) ? Number(value) : 0;
    if (n === 0) throw new UsageError(`Invalid number of requests "${value}"`);
    r.requests = n;
  } else if (flag === "P") {
    const n = /^\d+$/.test(value) ? Number(value) : 0;
    if (n < 1 || n > 65535) throw new UsageError(`Bad port "${value}"`);
    r.port = n;
  } else throw new UsageError(`-${flag} is not supported by rxssh sftp`);
}

/**
 * A destination of sftp or scp: `sftp://[user@]host[:port][/path]`
 * (`scheme` `sftp` or `scp`; the path is relative to the login directory,
 * as OpenSSH's parse_uri gives it) or `[user@]host:[path]` (an empty path
 * is `.`). Undefined when `s` names no host (a local path); throws an
 * Error for a malformed URI.
 *
 * @example
 * ```ts
 * import { parseRemote } from "./sftp.ts";
 * console.log(parseRemote("me@host:/tmp/a", "sftp")); // { user: "me", host: "host", path: "/tmp/a" }
 * console.log(parseRemote("sftp://host:2222/tmp", "sftp")); // { host: "host", port: 2222, path: "tmp" }
 * ```
 */
export function parseRemote(
  s: string,
  scheme: "sftp" | "scp",
): { user?: string; host: string; port?: number; path?: string } | undefined {
  const prefix = `${scheme}://`;
  if (s.startsWith(prefix)) {
    const m = /^(?:([^@/;]+)(?:;[^@]*)?@)?(\[[^\]]+\]|[^:/]+)(?::(\d+))?(?:\/(.*))?$/.exec(
      s.slice(prefix.length),
    );
    if (!m) throw new Error(`${s}: invalid uri`);
    const port = m[3] === undefined ? undefined : Number(m[3]);
    if (port !== undefined && (port < 1 || port > 65535)) throw new Error(`${s}: invalid uri`);
    return {
      ...(m[1] ? { user: decodeURIComponent(m[1]) } : {}),
      host: m[2].replace(/^\[|\]$/g, ""),
      ...(port !== undefined ? { port } : {}),
      ...(m[4] ? { path: decodeURIComponent(m[4]) } : {}),
    };
  }
  const colon = colonIndex(s);
  if (colon < 0) return undefined;
  const path = s.slice(colon + 1) || ".";
  const left = s.slice(0, colon);
  const at = left.lastIndexOf("@");
  const host = (at >= 0 ? left.slice(at + 1) : left).replace(/^\[|\]$/g, "");
  const user = at > 0 ? left.slice(0, at) : undefined;
  return { ...(user ? { user } : {}), host, path };
}

/** `[user@]host` without a path (misc.c parse_user_host_port, cleanhostname). */
function userAndHost(s: string): { user?: string; host: string } {
  const at = s.lastIndexOf("@");
  const host = s.slice(at + 1).replace(/^\[|\]$/g, "");
  if (host === "") throw new Error("Missing hostname");
  return at > 0 ? { user: s.slice(0, at), host } : { host };
}

/** misc.c colon(): the `:` after the host, or -1 (a `/` first means a local path). */
function colonIndex(s: string): number {
  if (s.startsWith(":")) return -1;
  let bracket = s.startsWith("[");
  for (let i = 0; i < s.length; i++) {
    if (s[i] === "@" && s[i + 1] === "[") bracket = true;
    if (s[i] === "]" && s[i + 1] === ":" && bracket) return i + 1;
    if (s[i] === ":" && !bracket) return i;
    if (s[i] === "/") return -1;
  }
  return -1;
}

/** Reads lines from a file descriptor, one at a time (no buffering past what is needed for a line). */
async function* lines(fd: number): AsyncGenerator<string> {
  const buf = new Uint8Array(4096);
  let pending = "";
  const decoder = new TextDecoder();
  for (;;) {
    const nl = pending.indexOf("\n");
    if (nl >= 0) {
      yield pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      continue;
    }
    let n: number;
    try {
      n = fs.readSync(fd, buf);
    } catch (e) {
      if ((e as { code?: string }).code === "EAGAIN") {
        await new Promise((r) => setTimeout(r, 10));
        continue;
      }
      if ((e as { code?: string }).code === "EOF") n = 0;
      else throw e;
    }
    if (n === 0) {
      if (pending !== "") yield pending;
      return;
    }
    pending += decoder.decode(buf.subarray(0, n), { stream: true });
  }
}

function stdinIsTty(): boolean {
  const deno = (globalThis as { Deno?: { stdin: { isTerminal(): boolean } } }).Deno;
  return deno ? deno.stdin.isTerminal() : Boolean(process.stdin.isTTY);
}

/**
 * Runs `rxssh sftp` with `args` (without `sftp`) and returns the exit
 * status: 0, 1 when a command failed (batch mode, or the one-file fetch),
 * 255 when the connection could not be made.
 *
 * @example
 * ```ts
 * import { sftpMain } from "./sftp.ts";
 * async function run() {
 *   return await sftpMain(["-b", "-", "-P", "2222", "me@127.0.0.1"]);
 * }
 * ```
 */
export async function sftpMain(args: readonly string[]): Promise<number> {
  const errLine = (s: string) => process.stderr.write(s + "\n");
  let a: SftpArgs;
  let dest: ReturnType<typeof parseRemote>;
  try {
    a = parseSftpArgs(args);
    dest = parseRemote(a.operands[0], "sftp") ?? userAndHost(a.operands[0]);
  } catch (e) {
    if ((e as Error).message) errLine(`rxssh sftp: ${(e as Error).message}`);
    errLine(SFTP_USAGE);
    return 1;
  }
  let batchFd: number | undefined;
  if (a.batch !== undefined && a.batch !== "-") {
    try {
      batchFd = fs.openSync(a.batch, "r");
    } catch (e) {
      errLine(`${strerror(e)} (${a.batch}).\r`);
      return 1;
    }
  }
  const sshArgs = [
    "-oForwardX11=no",
    ...(a.batch !== undefined ? ["-oBatchMode=yes"] : []),
    ...a.ssh,
    "-oForwardAgent=no",
    ...(a.port !== undefined || dest.port !== undefined ? [`-oPort=${dest.port ?? a.port}`] : []),
    ...(dest.user !== undefined ? ["-l", dest.user] : []),
    "--",
    dest.host,
  ];
  const conn = await connectAsSsh(sshArgs, errLine);
  if (typeof conn === "number") {
    errLine("Connection closed\r");
    return 255;
  }
  try {
    return await session(conn.client, { a, dest, batchFd, errLine });
  } finally {
    if (batchFd !== undefined) fs.closeSync(batchFd);
    await conn.close();
  }
}

/** The SFTP session: the one-file fetch, or the command loop. */
async function session(
  client: Parameters<typeof openSftp>[0],
  run: {
    a: SftpArgs;
    dest: NonNullable<ReturnType<typeof parseRemote>>;
    batchFd: number | undefined;
    errLine: (s: string) => void;
  },
): Promise<number> {
  const { a, dest, errLine } = run;
  const batch = a.batch !== undefined;
  const quiet = (a.quiet || batch) && !a.noisy;
  let s;
  try {
    s = await openSftp(client, { blockSize: a.blockSize });
  } catch (e) {
    errLine(`Couldn't initialise connection to server: ${(e as Error).message}`);
    return 255;
  }
  try {
    if (!quiet) errLine(`Connected to ${dest.host}.`);
    const shell = await SftpShell.start(s, {
      quiet,
      progress: !a.quiet && !batch && canShowProgress(),
      global: a.global,
      requests: a.requests,
    });
    if (dest.path !== undefined) {
      const local = a.operands[1];
      const first = await firstCommand(shell, {
        path: dest.path,
        local,
        quiet,
        resume: a.global.a,
      });
      if (first !== undefined) return first;
    }
    const interactive = !batch && stdinIsTty();
    const input = lines(run.batchFd ?? 0);
    for (;;) {
      if (interactive) process.stdout.write("sftp> ");
      const next = await input.next();
      if (next.done) {
        if (interactive) process.stdout.write("\n");
        return 0;
      }
      const r = await shell.run(next.value.replace(/\r$/, ""), {
        abortOnError: batch,
        echo: !interactive,
      });
      if (s.isEnded) {
        // sftp-client.c: a session that went away is fatal.
        errLine("Connection closed\r");
        return 255;
      }
      if (r === "abort") return 1;
      if (r === "quit") return 0;
    }
  } finally {
    await s.close().catch(() => {});
  }
}

/**
 * `sftp host:path [local]`: a directory is where the session starts
 * (undefined: go on with the loop); anything else is fetched and the exit
 * status returned.
 */
async function firstCommand(
  shell: SftpShell,
  o: { path: string; local: string | undefined; quiet: boolean; resume: boolean },
): Promise<number | undefined> {
  const dir = o.path.startsWith("/") ? o.path : `${shell.pwd.replace(/\/$/, "")}/${o.path}`;
  let isDir = false;
  try {
    const st = await shell.client.stat(dir);
    isDir = ((st.permissions ?? 0) & 0o170000) === 0o040000;
  } catch {
    isDir = false;
  }
  if (isDir && o.local === undefined) {
    if (!o.quiet) process.stdout.write(`Changing to: ${dir}\n`);
    const r = await shell.run(`cd "${dir}"`, { abortOnError: true, echo: false });
    return r === "abort" ? 1 : undefined;
  }
  const cmd = `get${o.resume ? " -a" : ""} ${dir}${o.local === undefined ? "" : " " + o.local}`;
  const r = await shell.run(cmd, { abortOnError: true, echo: false });
  return r === "abort" ? 1 : 0;
}
