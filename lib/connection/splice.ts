/**
 * Splicing a channel to a local byte stream (a forwarded agent or X11
 * connection): bytes flow both ways, end-of-stream travels both ways
 * (RFC 4254 §5.3: EOF is sent when the local side half-closes), and both
 * sides are closed once both directions are done. No I/O of its own: it
 * takes streams.
 *
 * @module
 */

/**
 * The parts of a channel that {@link spliceChannel} uses (a `Channel` has
 * them).
 *
 * @example
 * ```ts
 * import type { SpliceableChannel } from "./splice.ts";
 * import type { Channel } from "./channel.ts";
 * const asSpliceable = (c: Channel): SpliceableChannel => c;
 * ```
 */
export interface SpliceableChannel {
  /** The peer's data; closes on its EOF. */
  readonly readable: ReadableStream<Uint8Array>;
  /** Data to the peer; closing it sends EOF. */
  readonly writable: WritableStream<Uint8Array>;
  /** Closes the channel (CHANNEL_CLOSE). */
  close(): Promise<void>;
}

/**
 * The local end of a splice: a socket's streams and a way to close it
 * (`UnixConnection` and `TcpConnection` have them).
 *
 * @example
 * ```ts
 * import type { SpliceableStream } from "./splice.ts";
 * const local: SpliceableStream = { ...new TransformStream<Uint8Array, Uint8Array>(), close() {} };
 * ```
 */
export interface SpliceableStream {
  /** Bytes from the local peer. */
  readonly readable: ReadableStream<Uint8Array>;
  /** Bytes to the local peer; closing it half-closes. */
  readonly writable: WritableStream<Uint8Array>;
  /** Closes both directions at once. */
  close(): void;
}

/**
 * Options of {@link spliceChannel}.
 *
 * @example
 * ```ts
 * import type { SpliceOptions } from "./splice.ts";
 * const o: SpliceOptions = { first: new Uint8Array([0x6c, 0, 11, 0]) };
 * ```
 */
export interface SpliceOptions {
  /**
   * Bytes written to the local side before the channel's data (what was
   * already read from the channel, e.g. an X11 setup with its cookie
   * replaced).
   */
  first?: Uint8Array;
}

/**
 * Pipes `channel` and `local` into each other: the local side's bytes go
 * to the channel and its end-of-stream becomes the channel's EOF; the
 * channel's data (after `options.first`) goes to the local side and its EOF
 * half-closes it. Resolves once both directions have ended, after closing
 * the local side and the channel. When either direction fails (a reset
 * socket, a channel closed under it), both sides are closed at once, so
 * the other direction ends too. Never rejects.
 *
 * @example
 * ```ts
 * import { spliceChannel } from "./splice.ts";
 * import type { Channel } from "./channel.ts";
 * import { connectUnix } from "../runtime/unix.ts";
 * async function forward(channel: Channel) {
 *   const local = await connectUnix("/run/user/1000/ssh-agent.sock");
 *   await spliceChannel(channel, local);
 * }
 * ```
 */
export async function spliceChannel(
  channel: SpliceableChannel,
  local: SpliceableStream,
  options: SpliceOptions = {},
): Promise<void> {
  let closed: Promise<void> | undefined;
  const closeBoth = () =>
    closed ??= (async () => {
      local.close();
      await channel.close().catch(() => {});
    })();
  const { first } = options;
  const up = local.readable.pipeTo(channel.writable);
  const down = (async () => {
    if (first?.length) {
      const w = local.writable.getWriter();
      try {
        await w.write(first);
      } finally {
        w.releaseLock();
      }
    }
    await channel.readable.pipeTo(local.writable);
  })();
  await Promise.all([up, down].map((p) => p.catch(() => void closeBoth())));
  await closeBoth();
}
