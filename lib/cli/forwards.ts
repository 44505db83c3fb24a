/**
 * The client CLI's forwards, as ssh sets them up after authentication:
 * `-L`/LocalForward, `-R`/RemoteForward, `-D`/DynamicForward, and `-W`
 * (stdio), each side a port or a Unix-socket path as ssh allows (`-L
 * /path:host:port`, `-L port:/path`, `-R /path:host:port`, `-R
 * port:/path`, `/path:/path`). Messages and exit codes follow OpenSSH's: a forward that
 * cannot be set up is a warning, or with ExitOnForwardFailure an error
 * that ends the session (255).
 *
 * @module
 */
import process from "node:process";
import type { Observable } from "rxjs";
import type { SshClient } from "../client.ts";
import type { ForwardSpec } from "../config/ssh_config.ts";
import { spliceChannel } from "../connection/splice.ts";
import {
  type ForwardedStream,
  forwardIn,
  forwardInUnix,
  forwardOut,
  localForward,
  type LocalListener,
  type RemoteForwardEvent,
  type RemoteUnixForwardEvent,
} from "../forward/client.ts";
import { dynamicForward } from "../forward/socks.ts";
import { connectTcp } from "../runtime/tcp.ts";
import { connectUnix } from "../runtime/unix.ts";
import type { Logger } from "./options.ts";

/**
 * What {@link startForwards} sets up: the forwards from the command line
 * (first, as ssh adds them) and from the configuration.
 *
 * @example
 * ```ts
 * import type { ForwardPlan } from "./forwards.ts";
 * const plan: ForwardPlan = { local: [{ listenPort: 8080, connectHost: "localhost", connectPort: 80 }], remote: [], dynamic: [], exitOnFailure: false };
 * ```
 */
export interface ForwardPlan {
  /** `-L` / LocalForward. */
  readonly local: readonly ForwardSpec[];
  /** `-R` / RemoteForward. */
  readonly remote: readonly ForwardSpec[];
  /** `-D` / DynamicForward. */
  readonly dynamic: readonly ForwardSpec[];
  /** ExitOnForwardFailure. */
  readonly exitOnFailure: boolean;
}

const bindOf = (f: ForwardSpec) => ({
  hostname: f.listenHost === undefined || f.listenHost === "localhost" ? "127.0.0.1" : f.listenHost,
  port: f.listenPort ?? 0,
});

/**
 * Sets up every forward of `plan` on `client`; resolves with false when one
 * failed and ExitOnForwardFailure is set (the caller exits 255), else true.
 * `stop()` closes them all.
 *
 * @example
 * ```ts
 * import { startForwards } from "./forwards.ts";
 * import type { SshClient } from "../client.ts";
 * import { Logger } from "./options.ts";
 * async function run(client: SshClient) {
 *   const f = await startForwards(client, {
 *     plan: { local: [{ listenPort: 8080, connectHost: "localhost", connectPort: 80 }], remote: [], dynamic: [], exitOnFailure: true },
 *     log: new Logger("INFO", console.error),
 *   });
 *   if (!f.ok) f.stop();
 * }
 * ```
 */
export async function startForwards(
  client: SshClient,
  options: { plan: ForwardPlan; log: Logger },
): Promise<{ ok: boolean; stop(): void }> {
  const { plan, log } = options;
  const listeners: { unsubscribe(): void }[] = [];
  let ok = true;
  const failed = (text: string) => {
    ok = false;
    log.error(plan.exitOnFailure ? `Error: ${text}` : `Warning: ${text}`);
  };
  const local = async (f: ForwardSpec, start: () => Promise<LocalListener>, what: string) => {
    try {
      const l = await start();
      listeners.push(l);
      log.debug(
        l.path === undefined
          ? `${what} forwarding listening on ${l.hostname} port ${l.port}.`
          : `${what} forwarding listening on path ${l.path}.`,
      );
    } catch (e) {
      const why = e instanceof Error ? e.message : e;
      // ssh's messages: channel_setup_fwd_listener_tcpip's and unix_listener's.
      log.error(
        f.listenPath === undefined
          ? `bind [${bindOf(f).hostname}]:${f.listenPort}: ${why}`
          : `unix_listener: cannot bind to path ${f.listenPath}: ${why}`,
      );
      failed(`Could not request ${what.toLowerCase()} forwarding.`);
    }
  };
  for (const f of plan.local) {
    const target = f.connectPath !== undefined
      ? { path: f.connectPath }
      : { host: f.connectHost ?? "localhost", port: f.connectPort ?? 0 };
    const bind = f.listenPath !== undefined ? { path: f.listenPath } : bindOf(f);
    await local(f, () => localForward(client, target, bind), "Local");
  }
  for (const f of plan.dynamic) {
    if (f.listenPath !== undefined) {
      failed("Dynamic forwarding on a Unix socket is not supported by rxssh.");
      continue;
    }
    await local(f, () => dynamicForward(client, bindOf(f)), "Dynamic");
  }
  for (const f of plan.remote) {
    const r = await remoteForward(client, { f, log });
    if (r) listeners.push(r);
    else if (f.listenPath !== undefined) {
      failed(`remote port forwarding failed for listen path ${f.listenPath}`);
    } else failed(`remote port forwarding failed for listen port ${f.listenPort ?? 0}`);
  }
  const stop = () => {
    for (const l of listeners) l.unsubscribe();
  };
  return { ok: ok || !plan.exitOnFailure, stop };
}

/**
 * One `-R`: resolves with its subscription once the server listens,
 * undefined when refused. The server listens on a port
 * (`tcpip-forward`) or a socket path (`streamlocal-forward@openssh.com`);
 * each connection goes to a local host and port or a local socket path.
 */
function remoteForward(
  client: SshClient,
  on: { f: ForwardSpec; log: Logger },
): Promise<{ unsubscribe(): void } | undefined> {
  const { f, log } = on;
  const connectHost = f.connectHost ?? "localhost";
  const connectPort = f.connectPort ?? 0;
  const to = f.connectPath ?? `${connectHost}:${connectPort}`;
  const deliver = (e: ForwardedStream) => {
    const signal = AbortSignal.timeout(10_000);
    const socket = f.connectPath !== undefined
      ? connectUnix(f.connectPath, { signal })
      : connectTcp(connectHost, connectPort, { signal });
    socket.then(
      (s) => spliceChannel(e.channel, s),
      (err) => {
        log.debug(`connect to ${to} failed: ${err}`);
        e.close().catch(() => {});
      },
    );
  };
  const events: Observable<RemoteForwardEvent | RemoteUnixForwardEvent> = f.listenPath !== undefined
    ? forwardInUnix(client, f.listenPath)
    : forwardIn(client, { address: f.listenHost ?? "localhost", port: f.listenPort ?? 0 });
  return new Promise((resolve) => {
    const sub = events.subscribe({
      next: (e) => {
        if (e.type === "connection") return deliver(e);
        // ssh prints this whenever the server chose the port.
        if ("port" in e && (f.listenPort ?? 0) === 0) {
          log.info(`Allocated port ${e.port} for remote forward to ${to}`);
        }
        resolve(sub);
      },
      error: () => resolve(undefined),
    });
  });
}

/**
 * `-W host:port`: standard input and output joined to a `direct-tcpip`
 * channel; 0 when it ends, 255 with ssh's "stdio forwarding failed" when
 * the server refuses.
 *
 * @example
 * ```ts
 * import { stdioForward } from "./forwards.ts";
 * import type { SshClient } from "../client.ts";
 * import { Logger } from "./options.ts";
 * const relay = (client: SshClient) =>
 *   stdioForward(client, { target: { host: "db.internal", port: 5432 }, log: new Logger("INFO", console.error) });
 * ```
 */
export async function stdioForward(
  client: SshClient,
  options: { target: { host: string; port: number }; log: Logger },
): Promise<number> {
  let stream;
  try {
    stream = await forwardOut(client, options.target);
  } catch (e) {
    options.log.debug(`channel open failed: ${e instanceof Error ? e.message : e}`);
    options.log.error("stdio forwarding failed");
    return 255;
  }
  const stdin = new ReadableStream<Uint8Array>({
    start(controller) {
      process.stdin.on("data", (d: Uint8Array) => controller.enqueue(new Uint8Array(d)));
      process.stdin.on("end", () => controller.close());
      process.stdin.on("error", (e) => controller.error(e));
    },
    cancel: () => void process.stdin.destroy(),
  });
  const stdout = new WritableStream<Uint8Array>({
    write: (chunk) =>
      new Promise<void>((resolve, reject) =>
        process.stdout.write(chunk, (e) => (e ? reject(e) : resolve()))
      ),
  });
  const stopInput = new AbortController();
  const upload = stdin.pipeTo(stream.writable, { signal: stopInput.signal, preventAbort: true })
    .catch(() => {});
  // The far end closing ends the forward, as ssh -W does, even if our input is still open.
  await stream.readable.pipeTo(stdout).catch(() => {});
  stopInput.abort();
  await upload;
  await stream.close().catch(() => {});
  return 0;
}
