/**
 * readconf.c `parse_forward` and the `-G` form of a forward
 * (`dump_cfg_forwards`). Internal to `ssh_config.ts`.
 *
 * @module
 */
import { fwdPort } from "./_tokens.ts";

/**
 * A port forwarding specification (LocalForward, RemoteForward,
 * DynamicForward, or `-L`/`-R`/`-D`), as OpenSSH's `struct Forward`.
 *
 * @example
 * ```ts
 * import type { ForwardSpec } from "./ssh_config.ts";
 * const f: ForwardSpec = { listenPort: 8080, connectHost: "localhost", connectPort: 80 };
 * ```
 */
export interface ForwardSpec {
  /** The address to bind (undefined: the default, loopback unless GatewayPorts). */
  listenHost?: string;
  /** The port to bind (0: any, for remote forwards); absent for a Unix socket. */
  listenPort?: number;
  /** The Unix socket path to bind instead of a port. */
  listenPath?: string;
  /** Where connections go: a host, or `"socks"` for a dynamic (SOCKS) forward. */
  connectHost?: string;
  /** The port connections go to. */
  connectPort?: number;
  /** The Unix socket connections go to. */
  connectPath?: string;
}

interface Field {
  arg: string;
  isPath: boolean;
}

/** parse_fwd_field: a `[...]` field taken literally, or up to an unescaped `:`. */
function fields(spec: string): Field[] | undefined {
  const out: Field[] = [];
  let s = spec.replace(/^\s+/, "");
  while (s !== "" && out.length < 4) {
    if (s[0] === "[") {
      const end = s.indexOf("]");
      if (end < 0 || (s[end + 1] !== ":" && s[end + 1] !== undefined)) return undefined;
      const arg = s.slice(1, end);
      out.push({ arg, isPath: arg.includes("/") });
      s = s.slice(end + 2);
      continue;
    }
    let arg = "";
    let i = 0;
    let isPath = false;
    for (; i < s.length && s[i] !== ":"; i++) {
      if (s[i] === "\\") {
        if (++i >= s.length) return undefined;
      } else if (s[i] === "/") isPath = true;
      arg += s[i];
    }
    out.push({ arg, isPath });
    s = i < s.length ? s.slice(i + 1) : "";
  }
  if (s !== "") return undefined;
  return out;
}

/**
 * Parses a forward as readconf.c `parse_forward` does: `[host:]port:host:port`,
 * Unix socket paths, `[host:]port` for dynamic forwards. Returns undefined
 * when the specification is bad.
 *
 * @example
 * ```ts
 * import { parseForward } from "./ssh_config.ts";
 * console.log(parseForward("8080:localhost:80", { dynamic: false, remote: false })?.connectPort); // 80
 * ```
 */
export function parseForward(
  spec: string,
  kind: { dynamic: boolean; remote: boolean },
): ForwardSpec | undefined {
  const f = fields(spec);
  if (!f) return undefined;
  const n = f.length;
  let fwd: ForwardSpec;
  if (n === 1) {
    fwd = f[0].isPath
      ? { listenPath: f[0].arg, connectHost: "socks" }
      : { listenPort: fwdPort(f[0].arg), connectHost: "socks" };
  } else if (n === 2) {
    if (f[0].isPath && f[1].isPath) fwd = { listenPath: f[0].arg, connectPath: f[1].arg };
    else if (f[1].isPath) fwd = { listenPort: fwdPort(f[0].arg), connectPath: f[1].arg };
    else fwd = { listenHost: f[0].arg, listenPort: fwdPort(f[1].arg), connectHost: "socks" };
  } else if (n === 3) {
    if (f[0].isPath) {
      fwd = { listenPath: f[0].arg, connectHost: f[1].arg, connectPort: fwdPort(f[2].arg) };
    } else if (f[2].isPath) {
      fwd = { listenHost: f[0].arg, listenPort: fwdPort(f[1].arg), connectPath: f[2].arg };
    } else {
      fwd = {
        listenPort: fwdPort(f[0].arg),
        connectHost: f[1].arg,
        connectPort: fwdPort(f[2].arg),
      };
    }
  } else if (n === 4) {
    fwd = {
      listenHost: f[0].arg,
      listenPort: fwdPort(f[1].arg),
      connectHost: f[2].arg,
      connectPort: fwdPort(f[3].arg),
    };
  } else {
    return undefined;
  }
  if (kind.dynamic) {
    if (n !== 1 && n !== 2) return undefined;
  } else {
    if (n !== 3 && n !== 4 && fwd.connectPath === undefined && fwd.listenPath === undefined) {
      return undefined;
    }
    if ((fwd.connectPort ?? 0) <= 0 && fwd.connectPath === undefined) return undefined;
  }
  if (fwd.listenPath === undefined && (fwd.listenPort ?? -1) < 0) return undefined;
  if (!kind.remote && fwd.listenPath === undefined && fwd.listenPort === 0) return undefined;
  if ((fwd.connectHost?.length ?? 0) >= 1025 || (fwd.listenHost?.length ?? 0) >= 1025) {
    return undefined;
  }
  return fwd;
}

/** One side of a forward as `ssh -G` prints it. */
function side(
  path: string | undefined,
  host: string | undefined,
  port: number | undefined,
): string {
  if (path !== undefined) return path;
  if (host === undefined) return String(port ?? 0);
  return `[${host}]:${port ?? 0}`;
}

/** A forward as `ssh -G` prints it after its keyword (readconf.c `dump_cfg_forwards`). */
export function formatForward(f: ForwardSpec, dynamic: boolean): string {
  const listen = side(f.listenPath, f.listenHost, f.listenPort);
  return dynamic ? listen : `${listen} ${side(f.connectPath, f.connectHost, f.connectPort)}`;
}
