/**
 * Keepalives and dead-peer detection, as OpenSSH's ServerAliveInterval /
 * ServerAliveCountMax (client) and ClientAliveInterval / ClientAliveCountMax
 * (server) do it: every interval a `keepalive@openssh.com` global request
 * with want_reply (RFC 4254 §4; any reply, success or failure, proves the
 * peer alive); when `countMax` of them in a row got no reply by the next
 * tick, the connection ends locally with CONNECTION_LOST.
 *
 * @module
 */
import { Subscription } from "rxjs";
import { DisconnectReason } from "../wire/errors.ts";

/**
 * Options of {@link keepalive}.
 *
 * @example
 * ```ts
 * import type { KeepaliveOptions } from "./keepalive.ts";
 * const o: KeepaliveOptions = { interval: 15, countMax: 3, peer: "server example.com" };
 * ```
 */
export interface KeepaliveOptions {
  /** Seconds between probes (fractions allowed); 0 or less: off. */
  readonly interval: number;
  /** Unanswered probes tolerated (default 3, as OpenSSH). */
  readonly countMax?: number;
  /** Who the peer is, for the description: "server example.com", "client 192.0.2.7". */
  readonly peer?: string;
}

/**
 * What {@link keepalive} needs: a way to ask and a way to end.
 *
 * @example
 * ```ts
 * import type { KeepaliveTarget } from "./keepalive.ts";
 * const fake: KeepaliveTarget = {
 *   globalRequest: () => Promise.resolve({ ok: false, data: new Uint8Array(0) }),
 *   disconnect: () => Promise.resolve(),
 *   closed: new Promise(() => {}),
 * };
 * ```
 */
export interface KeepaliveTarget {
  /** Sends a global request and resolves with its reply (a `Connection` has it). */
  globalRequest(name: string): Promise<unknown>;
  /** Ends the connection (a `Transport` has it). */
  disconnect(reason?: number, description?: string): Promise<void>;
  /** Settles when the connection has ended. */
  readonly closed: Promise<unknown>;
}

/**
 * Starts keepalives on a connection; the returned subscription stops them
 * (they also stop when the connection ends). On a timeout the connection
 * is ended with `DisconnectError` reason CONNECTION_LOST, local, and the
 * description OpenSSH logs ("Timeout, server example.com not
 * responding"); the transport's `disconnect$` and `closed` report it.
 * Detection takes `interval × countMax` from the first unanswered probe,
 * at most `interval × (countMax + 1)` from the peer's last reply.
 *
 * @example
 * ```ts
 * import { keepalive } from "./keepalive.ts";
 * import type { SshClient } from "../client.ts";
 * function watch(client: SshClient) {
 *   return keepalive(
 *     {
 *       globalRequest: (n) => client.connection.globalRequest(n),
 *       disconnect: (r, d) => client.transport.disconnect(r, d),
 *       closed: client.transport.closed,
 *     },
 *     { interval: 15, countMax: 3, peer: "server example.com" },
 *   );
 * }
 * ```
 */
export function keepalive(target: KeepaliveTarget, options: KeepaliveOptions): Subscription {
  const sub = new Subscription();
  if (!(options.interval > 0)) return sub;
  const countMax = options.countMax ?? 3;
  let unanswered = 0;
  const timer = setInterval(() => {
    if (unanswered >= countMax) {
      sub.unsubscribe();
      target.disconnect(
        DisconnectReason.CONNECTION_LOST,
        `Timeout, ${options.peer ?? "peer"} not responding`,
      ).catch(() => {});
      return;
    }
    unanswered++;
    target.globalRequest("keepalive@openssh.com").then(() => (unanswered = 0), () => {});
  }, options.interval * 1000);
  sub.add(() => clearInterval(timer));
  target.closed.then(() => sub.unsubscribe(), () => sub.unsubscribe());
  return sub;
}
