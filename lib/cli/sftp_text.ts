/**
 * The text side of `rxssh sftp` and `rxssh scp`, as OpenSSH 9.2 writes
 * it: the command-line splitter of sftp's prompt (sftp.c makeargv), path
 * joining (`path_append`, `make_absolute`, `path_strip`), status and errno
 * texts (`fx2txt`, strerror), `ls -l` lines (sftp-common.c ls_file with
 * strmode), `fmt_scaled`, the `df` table and the progress meter line
 * (progressmeter.c).
 *
 * @module
 */
import { FileType, FX, type StatVfs } from "../sftp/packets.ts";

/**
 * OpenSSH's text for an SSH_FX status (sftp-common.c fx2txt).
 *
 * @example
 * ```ts
 * import { fx2txt } from "./sftp_text.ts";
 * console.log(fx2txt(2)); // No such file or directory
 * ```
 */
export function fx2txt(code: number): string {
  switch (code) {
    case FX.OK:
      return "No error";
    case FX.EOF:
      return "End of file";
    case FX.NO_SUCH_FILE:
      return "No such file or directory";
    case FX.PERMISSION_DENIED:
      return "Permission denied";
    case FX.FAILURE:
      return "Failure";
    case FX.BAD_MESSAGE:
      return "Bad message";
    case FX.NO_CONNECTION:
      return "No connection";
    case FX.CONNECTION_LOST:
      return "Connection lost";
    case FX.OP_UNSUPPORTED:
      return "Operation unsupported";
    default:
      return "Unknown status";
  }
}

const ERRNO_TEXT: Record<string, string> = {
  ENOENT: "No such file or directory",
  EACCES: "Permission denied",
  EPERM: "Operation not permitted",
  EEXIST: "File exists",
  EISDIR: "Is a directory",
  ENOTDIR: "Not a directory",
  ENOTEMPTY: "Directory not empty",
  ENOSPC: "No space left on device",
  EROFS: "Read-only file system",
  EINVAL: "Invalid argument",
  ELOOP: "Too many levels of symbolic links",
  ENAMETOOLONG: "File name too long",
  EBUSY: "Device or resource busy",
  EXDEV: "Invalid cross-device link",
  EMFILE: "Too many open files",
};

/**
 * The C library's text for a runtime error's errno code (`ENOENT` → "No
 * such file or directory"), or the error's own message.
 *
 * @example
 * ```ts
 * import { strerror } from "./sftp_text.ts";
 * console.log(strerror({ code: "EACCES" })); // Permission denied
 * ```
 */
export function strerror(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === "string" && ERRNO_TEXT[code]) return ERRNO_TEXT[code];
  if (e instanceof Error) return e.message;
  return String(e);
}

/**
 * Text a peer sent, made safe for the terminal as OpenSSH's mprintf does
 * (vis(3) VIS_SAFE|VIS_OCTAL): controls other than tab and newline become
 * `\ooo`.
 *
 * @example
 * ```ts
 * import { safeText } from "./sftp_text.ts";
 * console.log(safeText("a\x1bb")); // a\033b
 * ```
 */
export function safeText(s: string): string {
  // deno-lint-ignore no-control-regex
  return s.replace(/[\x00-\x08\x0b-\x1f\x7f]/g, (c) => {
    return "\\" + c.charCodeAt(0).toString(8).padStart(3, "0");
  });
}

/**
 * `p2` appended to directory `p1` with one `/` between (sftp.c path_append).
 *
 * @example
 * ```ts
 * import { pathAppend } from "./sftp_text.ts";
 * console.log(pathAppend("/tmp/", "a"), pathAppend("/tmp", "a")); // /tmp/a /tmp/a
 * ```
 */
export function pathAppend(p1: string, p2: string): string {
  return p1 !== "" && !p1.endsWith("/") ? `${p1}/${p2}` : `${p1}${p2}`;
}

/**
 * `p` made absolute against the remote working directory (sftp.c make_absolute).
 *
 * @example
 * ```ts
 * import { makeAbsolute } from "./sftp_text.ts";
 * console.log(makeAbsolute("a", "/home/me")); // /home/me/a
 * ```
 */
export function makeAbsolute(p: string, pwd: string): string {
  return p.startsWith("/") ? p : pathAppend(pwd, p);
}

/**
 * `path` without the leading `strip` directory (sftp.c path_strip), as
 * `ls` prints names under the working directory.
 *
 * @example
 * ```ts
 * import { pathStrip } from "./sftp_text.ts";
 * console.log(pathStrip("/home/me/d/a", "/home/me")); // d/a
 * ```
 */
export function pathStrip(path: string, strip: string | undefined): string {
  if (strip === undefined || !path.startsWith(strip)) return path;
  let len = strip.length;
  if (!strip.endsWith("/") && path[len] === "/") len++;
  return path.slice(len);
}

/**
 * The last component of a path, trailing slashes ignored (basename(3)).
 *
 * @example
 * ```ts
 * import { baseName } from "./sftp_text.ts";
 * console.log(baseName("/tmp/d/")); // d
 * ```
 */
export function baseName(p: string): string {
  const t = p.replace(/\/+$/, "");
  if (t === "") return p === "" ? "." : "/";
  return t.slice(t.lastIndexOf("/") + 1);
}

/**
 * Escapes glob characters in a literal path (sftp.c escape_glob).
 *
 * @example
 * ```ts
 * import { escapeGlob } from "./sftp_text.ts";
 * console.log(escapeGlob("/a*b")); // /a\*b
 * ```
 */
export function escapeGlob(s: string): string {
  return s.replace(/[[\]?*\\]/g, (c) => "\\" + c);
}

/**
 * Removes the glob escaping that {@link splitCommandLine} leaves for the
 * glob, for paths that are not globbed (sftp.c undo_glob_escape).
 *
 * @example
 * ```ts
 * import { undoGlobEscape } from "./sftp_text.ts";
 * console.log(undoGlobEscape("a\\*b")); // a*b
 * ```
 */
export function undoGlobEscape(s: string): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    if (s[i] !== "\\") {
      out += s[i];
      continue;
    }
    const n = s[i + 1];
    if (n === undefined) return out + "\\";
    out += "?[*\\".includes(n) ? n : "\\" + n;
    i++;
  }
  return out;
}

/**
 * Splits a command line as sftp's prompt does (sftp.c makeargv): words
 * separated by blanks, `'...'` and `"..."` quoting, backslash escapes,
 * `#` starting a comment; glob characters that were quoted or escaped stay
 * escaped (`\*`) for the glob. Throws an Error with sftp's message on an
 * unterminated quote.
 *
 * @example
 * ```ts
 * import { splitCommandLine } from "./sftp_text.ts";
 * console.log(splitCommandLine(`put "my file" 'x*' # copy`)); // ["put", "my file", "x\\*"]
 * ```
 */
export function splitCommandLine(line: string): string[] {
  const argv: string[] = [];
  let cur: string | undefined;
  let q: "'" | '"' | undefined;
  const isGlob = (c: string | undefined) => c === "?" || c === "[" || c === "*";
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (q === undefined && /\s/.test(c)) {
      if (cur !== undefined) argv.push(cur);
      cur = undefined;
    } else if (c === '"' || c === "'") {
      if (q === undefined) q = c;
      else if (q === c) q = undefined;
      else cur = (cur ?? "") + c;
      cur ??= "";
    } else if (c === "\\") {
      const n = line[i + 1];
      cur ??= "";
      if (q !== undefined) {
        if (n === q) (cur += n, i++);
        else if (isGlob(n)) (cur += "\\" + n, i++);
        else if (n !== undefined) (cur += "\\" + n, i++);
        else cur += "\\";
      } else if (isGlob(n) || n === "\\") (cur += "\\" + n, i++);
      else if (n !== undefined) (cur += n, i++);
    } else if (c === "#" && q === undefined) {
      break;
    } else {
      cur = (cur ?? "") + (q !== undefined && isGlob(c) ? "\\" + c : c);
    }
  }
  if (q !== undefined) throw new Error("Unterminated quoted argument");
  if (cur !== undefined) argv.push(cur);
  return argv;
}

/**
 * The mode string of `ls -l` (strmode(3)): type, nine permission letters
 * with setuid/setgid/sticky, then a space.
 *
 * @example
 * ```ts
 * import { strmode } from "./sftp_text.ts";
 * console.log(JSON.stringify(strmode(0o100644))); // "-rw-r--r-- "
 * ```
 */
export function strmode(mode: number): string {
  const type = ({
    [FileType.DIRECTORY]: "d",
    [FileType.SYMLINK]: "l",
    [FileType.CHARACTER]: "c",
    [FileType.BLOCK]: "b",
    [FileType.FIFO]: "p",
    [FileType.SOCKET]: "s",
  } as Record<number, string>)[mode & FileType.MASK] ?? "-";
  const bit = (b: number, c: string) => (mode & b ? c : "-");
  const special = (x: number, s: number, on: string, off: string) =>
    mode & s ? (mode & x ? on : off) : (mode & x ? "x" : "-");
  return type + bit(0o400, "r") + bit(0o200, "w") + special(0o100, 0o4000, "s", "S") +
    bit(0o040, "r") + bit(0o020, "w") + special(0o010, 0o2000, "s", "S") +
    bit(0o004, "r") + bit(0o002, "w") + special(0o001, 0o1000, "t", "T") + " ";
}

const SCALE = "BKMGTPE";

/**
 * A size with a unit as OpenBSD's fmt_scaled(3) writes it: `0B`, `512B`,
 * `1.5K`, `12M`, `100G`.
 *
 * @example
 * ```ts
 * import { fmtScaled } from "./sftp_text.ts";
 * console.log(fmtScaled(1536), fmtScaled(123456789)); // 1.5K 118M
 * ```
 */
export function fmtScaled(n: number): string {
  let unit = 0;
  let number = Math.trunc(n);
  let fract = 0;
  for (let i = 0; i < SCALE.length; i++) {
    const f = 1024 ** i;
    if (Math.abs(n) / 1024 < f) {
      unit = i;
      fract = i === 0 ? 0 : Math.abs(n) % f;
      number = Math.trunc(n / f);
      if (i > 0) fract = Math.trunc(fract / 1024 ** (i - 1));
      break;
    }
  }
  fract = Math.trunc((10 * fract + 512) / 1024);
  if (fract >= 10) {
    number += number >= 0 ? 1 : -1;
    fract = 0;
  }
  if (number === 0) return "0B";
  if (unit === 0 || number >= 100 || number <= -100) {
    if (fract >= 5) number += number >= 0 ? 1 : -1;
    return `${number}${SCALE[unit]}`;
  }
  return `${number}.${fract}${SCALE[unit]}`;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** strftime's `%b %e %H:%M` within the last six months, else `%b %e  %Y`. */
function lsTime(mtime: number, now: number): string {
  const d = new Date(mtime * 1000);
  const e = String(d.getDate()).padStart(2, " ");
  const recent = now - (365 * 24 * 60 * 60) / 2 < mtime && now >= mtime;
  if (recent) {
    const hh = String(d.getHours()).padStart(2, "0");
    const mm = String(d.getMinutes()).padStart(2, "0");
    return `${MONTHS[d.getMonth()]} ${e} ${hh}:${mm}`;
  }
  return `${MONTHS[d.getMonth()]} ${e}  ${d.getFullYear()}`;
}

/**
 * One `ls -l` line for a remote file as sftp prints it when it makes the
 * line itself (sftp-common.c ls_file: link count `?`, names or numeric
 * ids, `-h` sizes with {@link fmtScaled}).
 *
 * @example
 * ```ts
 * import { lsLine } from "./sftp_text.ts";
 * const line = lsLine("a.txt", {
 *   attrs: { permissions: 0o100644, size: 6, uid: 0, gid: 0, mtime: 0 },
 *   user: "root",
 *   group: "root",
 *   si: false,
 * });
 * console.log(line); // -rw-r--r--    ? root     root            6 Jan  1  1970 a.txt
 * ```
 */
export function lsLine(
  name: string,
  f: {
    attrs: { permissions?: number; size?: number; uid?: number; gid?: number; mtime?: number };
    user?: string;
    group?: string;
    si: boolean;
  },
): string {
  const a = f.attrs;
  const user = f.user || String(a.uid ?? 0);
  const group = f.group || String(a.gid ?? 0);
  const time = lsTime(a.mtime ?? 0, Math.floor(Date.now() / 1000));
  const size = f.si ? fmtScaled(a.size ?? 0).padStart(8) : String(a.size ?? 0).padStart(8);
  return `${strmode(a.permissions ?? 0)} ${"?".padStart(3)} ${user.padEnd(8)} ${
    group.padEnd(8)
  } ${size} ${time} ${name}`;
}

/**
 * The table of sftp's `df` (`-h` human sizes, `-i` inodes), two lines.
 *
 * @example
 * ```ts
 * import { dfTable } from "./sftp_text.ts";
 * const st = { bsize: 4096, frsize: 4096, blocks: 1000, bfree: 500, bavail: 400, files: 100, ffree: 50, favail: 50, fsid: 0n, flag: 0, namemax: 255 };
 * console.log(dfTable(st, { human: false, inodes: false }).join("\n"));
 * ```
 */
export function dfTable(st: StatVfs, how: { human: boolean; inodes: boolean }): string[] {
  const pct = (total: number, free: number) =>
    total === 0 ? "ERR" : `${String(Math.floor((100 * (total - free)) / total)).padStart(3)}%`;
  if (how.inodes) {
    return [
      "     Inodes        Used       Avail      (root)    %Capacity",
      [st.files, st.files - st.ffree, st.favail, st.ffree].map((n) => String(n).padStart(11))
        .join(" ") + `         ${pct(st.files, st.ffree)}`,
    ];
  }
  const cap = pct(st.blocks, st.bfree);
  if (how.human) {
    const s = [st.blocks, st.blocks - st.bfree, st.bavail, st.bfree].map((n) =>
      fmtScaled(n * st.frsize).padStart(7) + "B"
    );
    return ["    Size     Used    Avail   (root)    %Capacity", `${s.join(" ")}         ${cap}`];
  }
  const k = [st.blocks, st.blocks - st.bfree, st.bavail, st.bfree].map((n) =>
    String(Math.floor((st.frsize * n) / 1024)).padStart(12)
  );
  return [
    "        Size         Used        Avail       (root)    %Capacity",
    `${k.join(" ")}         ${cap}`,
  ];
}

const UNIT = " KMGT";

function formatRate(bytes: number): string {
  let b = Math.trunc(bytes) * 100;
  let i = 0;
  for (; b >= 100 * 1000 && UNIT[i] !== "T"; i++) b = Math.trunc((b + 512) / 1024);
  if (i === 0) {
    i++;
    b = Math.trunc((b + 512) / 1024);
  }
  const whole = String(Math.trunc((b + 5) / 100)).padStart(3);
  return `${whole}.${Math.trunc((b + 5) / 10) % 10}${UNIT[i]}${i ? "B" : " "}`;
}

function formatSize(bytes: number): string {
  let b = bytes;
  let i = 0;
  for (; b >= 10000 && UNIT[i] !== "T"; i++) b = Math.trunc((b + 512) / 1024);
  return `${String(b).padStart(4)}${UNIT[i]}${i ? "B" : " "}`;
}

/**
 * One frame of OpenSSH's progress meter (progressmeter.c) for a terminal
 * `width` columns wide: `\r`, the name, percent, bytes, rate and ETA (or
 * the elapsed time once done), `width` characters after the `\r`.
 *
 * @example
 * ```ts
 * import { progressLine } from "./sftp_text.ts";
 * const l = progressLine({ name: "big.iso", bytes: 512, total: 1024, rate: 100, elapsed: 1, width: 80 });
 * console.log(JSON.stringify(l));
 * ```
 */
export function progressLine(
  p: { name: string; bytes: number; total: number; rate: number; elapsed: number; width: number },
): string {
  // progressmeter.c: win_size is the columns plus one (its trailing NUL).
  const fileLen = Math.min(Math.max(p.width, 1), 512) + 1 - 36;
  let buf = fileLen > 0 ? "\r" + p.name.slice(0, fileLen).padEnd(fileLen) : "";
  const pct = p.total === 0 || p.bytes === p.total ? 100 : Math.trunc((p.bytes / p.total) * 100);
  buf += ` ${String(pct).padStart(3)}% ${formatSize(p.bytes)} ${formatRate(p.rate)}/s `;
  const left = p.total - p.bytes;
  if (p.rate === 0 && left > 0) buf += "  --:-- ETA";
  else {
    let secs = Math.trunc(left > 0 ? left / p.rate : p.elapsed);
    const h = Math.trunc(secs / 3600);
    secs -= h * 3600;
    const m = Math.trunc(secs / 60);
    secs -= m * 60;
    const two = (n: number) => String(n).padStart(2, "0");
    buf += h ? `${h}:${two(m)}:${two(secs)}` : `  ${two(m)}:${two(secs)}`;
    buf += left > 0 ? " ETA" : "    ";
  }
  return buf;
}
