/**
 * The client CLI's forwards, as ssh sets them up after authentication:
 * `-L`/LocalForward, `-R`/RemoteForward, `-D`/DynamicForward, and `-W`
 * (stdio). Messages and exit codes follow OpenSSH's: a forward that
 * cannot be set up is a warning, or with ExitOnForwardFailure an error
 * that ends the session (255).
 *
 * @module
 */
import process from "node:process";
import type { SshClient } from "../client.ts";
import type { ForwardSpec } from "../config/ssh_config.ts";
import { spliceChannel } from "../connection/splice.ts";
import { forwardIn, forwardOut, localForward, type LocalListener } from "../forward/client.ts";
import { dynamicForward } from "../forward/socks.ts";
import { connectTcp } from "../runtime/tcp.ts";
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
      log.debug(`${what} forwarding listening on ${l.hostname} port ${l.port}.`);
    } catch (e) {
      log.error(
        `bind [${bindOf(f).hostname}]:${f.listenPort}: ${e instanceof Error ? e.message : e}`,
      );
      failed(`Could not request ${what.toLowerCase()} forwarding.`);
    }
  };
  for (const f of plan.local) {
    if (f.connectHost === undefined || f.listenPath || f.connectPath) {
      failed("Unix socket forwarding is not supported by rxssh.");
      continue;
    }
    const target = { host: f.connectHost, port: f.connectPort ?? 0 };
    await local(f, () => localForward(client, target, bindOf(f)), "Local");
  }
  for (const f of plan.dynamic) await local(f, () => dynamicForward(client, bindOf(f)), "Dynamic");
  for (const f of plan.remote) {
    const r = await remoteForward(client, { f, log });
    if (r) listeners.push(r);
    else failed(`remote port forwarding failed for listen port ${f.listenPort ?? 0}`);
  }
  const stop = () => {
    for (const l of listeners) l.unsubscribe();
  };
  return { ok: ok || !plan.exitOnFailure, stop };
}

/** One `-R`: resolves with its subscription once the server listens, undefined when refused. */
function remoteForward(
  client: SshClient,
  on: { f: ForwardSpec; log: Logger },
): Promise<{ unsubscribe(): void } | undefined> {
  const { f, log } = on;
  const connectHost = f.connectHost ?? "localhost";
  const connectPort = f.connectPort ?? 0;
  return new Promise((resolve) => {
    const sub = forwardIn(client, { address: f.listenHost ?? "localhost", port: f.listenPort ?? 0 })
      .subscribe({
        next: (e) => {
          if (e.type === "listening") {
            // ssh prints this whenever the server chose the port.
            if ((f.listenPort ?? 0) === 0) {
              log.info(
                `Allocated port ${e.port} for remote forward to ${connectHost}:${connectPort}`,
              );
            }
            return resolve(sub);
          }
          connectTcp(connectHost, connectPort, { signal: AbortSignal.timeout(10_000) }).then(
            (socket) => spliceChannel(e.channel, socket),
            (err) => {
              log.debug(`connect to ${connectHost} port ${connectPort} failed: ${err}`);
              e.close().catch(() => {});
            },
          );
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
