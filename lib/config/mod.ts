/**
 * `ssh_config(5)` as OpenSSH reads it (readconf.c): `Host` and `Match`
 * blocks, `Include`, first obtained value wins, `%` tokens; the resolved
 * settings for a destination ({@link resolveSshConfig}) and the `ssh -G`
 * text ({@link formatSshConfig}). Files come through a reader
 * ({@link fileSystemReader} for the real ones).
 *
 * @example
 * ```ts
 * import { formatSshConfig, resolveSshConfig } from "./mod.ts";
 * const files: Record<string, string> = { "/cfg": "Host db\n  HostName db.internal\n  Port 2222\n" };
 * const resolved = resolveSshConfig("db", {
 *   sources: [{ path: "/cfg" }],
 *   reader: { readFile: (p) => files[p], glob: () => [] },
 *   localUser: "me",
 *   home: "/home/me",
 * });
 * console.log(formatSshConfig(resolved).split("\n").find((l) => l.startsWith("port "))); // port 2222
 * ```
 *
 * @module
 */
export * from "./ssh_config.ts";
export { defaultSshConfigSources, fileSystemReader, globFiles } from "./files.ts";
