/**
 * The file-system side of `ssh_config.ts`: a {@link SshConfigReader} over
 * the real files (through `runtime/fs.ts`), with glob(3) for `Include`, and
 * the files ssh reads by default.
 *
 * @module
 */
import { listDirectoryIfExists, readTextFileIfExists } from "../runtime/fs.ts";
import type { SshConfigReader, SshConfigSource } from "./ssh_config.ts";

/** glob(3) pattern of one path component (`*`, `?`, `[...]`, `[!...]`) as a RegExp. */
function componentRegExp(p: string): RegExp {
  let re = "^";
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "[" && p.indexOf("]", i + 2) > i) {
      const end = p.indexOf("]", i + 2);
      let body = p.slice(i + 1, end);
      const neg = body.startsWith("!");
      if (neg) body = body.slice(1);
      re += `[${neg ? "^" : ""}${body.replace(/[\\\]^]/g, "\\$&")}]`;
      i = end;
    } else if (c === "\\" && i + 1 < p.length) {
      re += p[++i].replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  }
  return new RegExp(re + "$");
}

const isPattern = (s: string) => /[*?[]/.test(s);

/**
 * glob(3) for an absolute pattern: the existing paths that match, sorted
 * (names starting with `.` only match a pattern starting with `.`).
 *
 * @example
 * ```ts
 * import { globFiles } from "./files.ts";
 * console.log(globFiles("/etc/ssh/ssh_config.d/*.conf"));
 * ```
 */
export function globFiles(pattern: string): string[] {
  const parts = pattern.split("/").filter((p) => p !== "");
  let found = [""];
  for (const part of parts) {
    const next: string[] = [];
    for (const dir of found) {
      if (!isPattern(part)) {
        next.push(`${dir}/${part.replace(/\\(.)/g, "$1")}`);
        continue;
      }
      const re = componentRegExp(part);
      const names = listDirectoryIfExists(dir === "" ? "/" : dir) ?? [];
      for (const n of names.sort()) {
        if (n.startsWith(".") && !part.startsWith(".")) continue;
        if (re.test(n)) next.push(`${dir}/${n}`);
      }
    }
    found = next;
  }
  return found.filter((p) => readableOrDir(p)).sort();
}

function readableOrDir(p: string): boolean {
  if (listDirectoryIfExists(p) !== undefined) return true;
  try {
    return readTextFileIfExists(p) !== undefined;
  } catch {
    return true; // exists but cannot be read: reading it reports the error
  }
}

/**
 * A {@link SshConfigReader} over the file system.
 *
 * @example
 * ```ts
 * import { fileSystemReader } from "./files.ts";
 * const text = fileSystemReader().readFile("/etc/ssh/ssh_config");
 * console.log(text === undefined ? "none" : "found");
 * ```
 */
export function fileSystemReader(): SshConfigReader {
  return { readFile: readTextFileIfExists, glob: globFiles };
}

/**
 * The configuration files ssh reads: the `-F` file alone (none for
 * `-F none`), else `~/.ssh/config` then `/etc/ssh/ssh_config`.
 *
 * @example
 * ```ts
 * import { defaultSshConfigSources } from "./files.ts";
 * console.log(defaultSshConfigSources({ home: "/home/me" }).map((s) => s.path));
 * // ["/home/me/.ssh/config", "/etc/ssh/ssh_config"]
 * ```
 */
export function defaultSshConfigSources(
  options: { home: string; configFile?: string },
): SshConfigSource[] {
  if (options.configFile !== undefined) {
    return options.configFile.toLowerCase() === "none"
      ? []
      : [{ path: options.configFile, user: true, required: true }];
  }
  return [
    { path: `${options.home.replace(/\/$/, "")}/.ssh/config`, user: true },
    { path: "/etc/ssh/ssh_config" },
  ];
}
