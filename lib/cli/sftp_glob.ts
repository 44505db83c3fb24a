/**
 * glob(3) as sftp and scp use it, over the remote side (SFTP OPENDIR,
 * READDIR, LSTAT, STAT: sftp-glob.c remote_glob) or the local file system:
 * `*`, `?`, `[...]` (`!` negates, ranges) and backslash escapes, one path
 * component at a time; a leading dot matched only literally; `mark`
 * appends `/` to directories (GLOB_MARK), `nocheck` returns the pattern
 * itself when nothing matches (GLOB_NOCHECK).
 *
 * @module
 */
import * as fsp from "node:fs/promises";
import type { SftpClient } from "../sftp/client.ts";
import { type FileAttributes, FileType } from "../sftp/packets.ts";
import { undoGlobEscape } from "./sftp_text.ts";
import { readRemoteDir } from "./sftp_transfer.ts";

/**
 * What a glob found: the paths (sorted), their attributes when known
 * (lstat's, or stat's for a symlink to a directory), and how many were
 * real matches (0 when `nocheck` returned the pattern).
 *
 * @example
 * ```ts
 * import type { GlobResult } from "./sftp_glob.ts";
 * const one = (g: GlobResult) => g.matches === 1 ? g.paths[0] : undefined;
 * ```
 */
export interface GlobResult {
  /** The matched paths, directories with a trailing `/` under `mark`. */
  paths: string[];
  /** The attributes of each path (undefined for the `nocheck` pattern). */
  attrs: (FileAttributes | undefined)[];
  /** The number of paths that matched (0: none; `paths` may hold the pattern under `nocheck`). */
  matches: number;
}

/** The file system a glob walks. */
interface GlobFs {
  readdir(dir: string): Promise<{ name: string; attrs?: FileAttributes }[] | undefined>;
  lstat(path: string): Promise<FileAttributes | undefined>;
  stat(path: string): Promise<FileAttributes | undefined>;
}

const MAGIC = /(^|[^\\])(\\\\)*[*?[]/;

/** The regular expression for one pattern component (fnmatch without FNM_PATHNAME subtleties). */
function componentRegExp(p: string): RegExp {
  let re = "";
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === "\\" && i + 1 < p.length) {
      re += escapeRe(p[++i]);
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const end = p.indexOf("]", i + 2);
      if (end < 0) {
        re += "\\[";
        continue;
      }
      let body = p.slice(i + 1, end);
      const negate = body.startsWith("!");
      if (negate) body = body.slice(1);
      re += `[${negate ? "^" : ""}${body.replace(/[\\\]^]/g, (x) => "\\" + x)}]`;
      i = end;
    } else re += escapeRe(c);
  }
  return new RegExp(`^${re}$`, "s");
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

const isDir = (a: FileAttributes | undefined) =>
  a?.permissions !== undefined && (a.permissions & FileType.MASK) === FileType.DIRECTORY;
const isLink = (a: FileAttributes | undefined) =>
  a?.permissions !== undefined && (a.permissions & FileType.MASK) === FileType.SYMLINK;

async function globWith(
  fs: GlobFs,
  pattern: string,
  flags: { mark?: boolean; nocheck?: boolean },
): Promise<GlobResult> {
  const found: { path: string; attrs: FileAttributes }[] = [];
  const parts = pattern.split("/");
  const finish = async (path: string, known?: FileAttributes) => {
    let attrs = known ?? await fs.lstat(path);
    if (!attrs) return;
    if (flags.mark && !path.endsWith("/")) {
      if (isLink(attrs)) {
        const target = await fs.stat(path);
        if (isDir(target)) attrs = target!;
      }
      if (isDir(attrs)) path += "/";
    }
    found.push({ path, attrs });
  };
  const walk = async (prefix: string, i: number, known?: FileAttributes): Promise<void> => {
    if (i >= parts.length) return await finish(prefix, known);
    const part = parts[i];
    const sep = i < parts.length - 1 ? "/" : "";
    if (!MAGIC.test(part)) return await walk(prefix + undoGlobEscape(part) + sep, i + 1);
    const dir = prefix === "" ? "." : prefix;
    const entries = await fs.readdir(dir);
    if (!entries) return;
    const re = componentRegExp(part);
    const names = entries.filter((e) =>
      (!e.name.startsWith(".") || part.startsWith(".")) && re.test(e.name)
    ).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of names) {
      await walk(prefix + e.name + sep, i + 1, sep === "" ? e.attrs : undefined);
    }
  };
  await walk("", 0);
  if (found.length === 0) {
    return flags.nocheck
      ? { paths: [pattern], attrs: [undefined], matches: 0 }
      : { paths: [], attrs: [], matches: 0 };
  }
  found.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return {
    paths: found.map((f) => f.path),
    attrs: found.map((f) => f.attrs),
    matches: found.length,
  };
}

/**
 * Expands `pattern` on the server (sftp-glob.c remote_glob): directories
 * read with OPENDIR/READDIR, the result checked with LSTAT (and STAT for
 * `mark` on a symlink).
 *
 * @example
 * ```ts
 * import type { SftpClient } from "../sftp/client.ts";
 * import { remoteGlob } from "./sftp_glob.ts";
 * declare const s: SftpClient;
 * const g = await remoteGlob(s, "/var/log/*.log", { mark: true });
 * console.log(g.paths);
 * ```
 */
export function remoteGlob(
  client: SftpClient,
  pattern: string,
  flags: { mark?: boolean; nocheck?: boolean; warn?: (line: string) => void } = {},
): Promise<GlobResult> {
  const quiet = <T>(p: Promise<T>) => p.catch(() => undefined);
  // A name holding '/' is left out of every listing and reported (readRemoteDir).
  const warn = flags.warn ?? ((line: string) => console.error(line));
  return globWith(
    {
      readdir: async (dir) => {
        try {
          const entries = await readRemoteDir(client, dir, warn);
          return entries.map((e) => ({ name: e.filename, attrs: e.attrs }));
        } catch {
          return undefined;
        }
      },
      lstat: (p) => quiet(client.lstat(p)),
      stat: (p) => quiet(client.stat(p)),
    },
    pattern,
    flags,
  );
}

function localAttrs(s: Awaited<ReturnType<typeof fsp.lstat>>): FileAttributes {
  return {
    permissions: Number(s.mode),
    size: Number(s.size),
    uid: Number(s.uid),
    gid: Number(s.gid),
    atime: Math.floor(Number(s.atimeMs) / 1000),
    mtime: Math.floor(Number(s.mtimeMs) / 1000),
  };
}

/**
 * Expands `pattern` on the local file system as glob(3) does.
 *
 * @example
 * ```ts
 * import { localGlob } from "./sftp_glob.ts";
 * const g = await localGlob("/etc/*.conf", { nocheck: true });
 * console.log(g.matches, g.paths.length);
 * ```
 */
export function localGlob(
  pattern: string,
  flags: { mark?: boolean; nocheck?: boolean } = {},
): Promise<GlobResult> {
  return globWith(
    {
      readdir: async (dir) => {
        try {
          return (await fsp.readdir(dir)).map((name) => ({ name }));
        } catch {
          return undefined;
        }
      },
      lstat: async (p) => {
        try {
          return localAttrs(await fsp.lstat(p));
        } catch {
          return undefined;
        }
      },
      stat: async (p) => {
        try {
          return localAttrs(await fsp.stat(p));
        } catch {
          return undefined;
        }
      },
    },
    pattern,
    flags,
  );
}
