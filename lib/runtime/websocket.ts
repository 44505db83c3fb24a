/**
 * SSH over a WebSocket: the standard `WebSocket` class (browsers, Deno, Bun,
 * Node 22+, and the server-side socket of `Deno.upgradeWebSocket`) wrapped
 * into a {@link ByteStreamPair}, libssh2's SEND/RECV callbacks in web form.
 * Bytes travel as binary messages; message boundaries carry no meaning.
 *
 * Backpressure, honestly:
 *
 * - **Sending is paced, not pulled.** `WebSocket.send()` never blocks; it
 *   queues and reports the queue in `bufferedAmount`, with no event when the
 *   queue drains. A write here sends at once and then, while `bufferedAmount`
 *   is above `sendHighWaterMark` (default 1 MiB), waits by polling
 *   `bufferedAmount` (every 1 ms, backing off to 50 ms). So the writer sees
 *   backpressure, with up to a poll interval of latency and up to
 *   `sendHighWaterMark` plus one chunk held by the socket.
 * - **Receiving is unbounded.** A WebSocket cannot be paused: every message
 *   that arrives is queued in `readable` whether or not anyone reads. rxssh's
 *   transport stops reading when its own consumers stop, but the bytes keep
 *   arriving and this queue keeps growing. The peer's SSH channel windows
 *   (RFC 4254 §5.2) are what bounds it in practice; a peer that ignores them
 *   can make it grow without limit.
 * - **No half-close.** A WebSocket closes both ways at once: closing
 *   `writable` closes the socket (code 1000, after the bytes already sent),
 *   and `readable` ends. SSH does not need half-close (SSH_MSG_CHANNEL_EOF
 *   does that job inside the connection).
 *
 * @module
 */
import type { ByteStreamPair } from "./types.ts";

/**
 * Options of {@link webSocketStream}.
 *
 * @example
 * ```ts
 * import type { WebSocketStreamOptions } from "./websocket.ts";
 * const options: WebSocketStreamOptions = { sendHighWaterMark: 256 * 1024 };
 * ```
 */
export interface WebSocketStreamOptions {
  /**
   * Writes wait while the socket's `bufferedAmount` is above this many
   * bytes (default 1 MiB).
   */
  sendHighWaterMark?: number;
}

const DEFAULT_SEND_HIGH_WATER_MARK = 1024 * 1024;
const OPEN = 1;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Waits until `ws` is open; rejects if it closes or fails first. */
function opened(ws: WebSocket): Promise<void> {
  if (ws.readyState === OPEN) return Promise.resolve();
  if (ws.readyState !== 0) {
    return Promise.reject(
      new Error(`webSocketStream: the WebSocket is already closing or closed (${ws.url})`),
    );
  }
  return new Promise<void>((resolve, reject) => {
    const done = () => {
      ws.removeEventListener("open", onOpen);
      ws.removeEventListener("error", onFail);
      ws.removeEventListener("close", onFail);
    };
    const onOpen = () => {
      done();
      resolve();
    };
    const onFail = (e: Event) => {
      done();
      const code = (e as CloseEvent).code;
      reject(
        new Error(
          `webSocketStream: the WebSocket ${ws.url} failed to open` +
            (code !== undefined ? ` (close code ${code})` : ""),
        ),
      );
    };
    ws.addEventListener("open", onOpen);
    ws.addEventListener("error", onFail);
    ws.addEventListener("close", onFail);
  });
}

/**
 * Wraps a `WebSocket` (connecting or open) into a {@link ByteStreamPair}
 * for `connect({ stream })` or `serveConnection(stream, options)`. Resolves
 * once the socket is open; rejects if it fails to open. Sets `binaryType`
 * to `"arraybuffer"`. See the module documentation for how backpressure
 * works (paced sends, an unbounded receive queue) and for closing.
 *
 * `readable` ends when the socket closes cleanly and errors when it closes
 * uncleanly or a text message arrives; cancelling it closes the socket.
 * Writes reject once the socket is closing or closed.
 *
 * @example
 * ```ts
 * import { webSocketStream } from "./websocket.ts";
 * async function tunnel(url: string) {
 *   const stream = await webSocketStream(new WebSocket(url));
 *   // e.g. connect({ stream, username: "me", password: "pw", hostKey: { fingerprint: "SHA256:..." } })
 *   return stream;
 * }
 * ```
 */
export async function webSocketStream(
  ws: WebSocket,
  options: WebSocketStreamOptions = {},
): Promise<ByteStreamPair> {
  const hwm = options.sendHighWaterMark ?? DEFAULT_SEND_HIGH_WATER_MARK;
  if (!(hwm >= 0)) {
    throw new RangeError(`webSocketStream: sendHighWaterMark must be >= 0, got ${hwm}`);
  }
  ws.binaryType = "arraybuffer";
  // Listen before awaiting `open`, so nothing sent right after opening is missed.
  const readable = receiving(ws);
  await opened(ws);
  return { readable, writable: sending(ws, hwm) };
}

/**
 * The receiving half: every binary message queued as it arrives (a
 * WebSocket cannot be paused), ending on a clean close and erroring on an
 * unclean one or a text message. Cancelling it closes the socket.
 */
function receiving(ws: WebSocket): ReadableStream<Uint8Array> {
  let rc!: ReadableStreamDefaultController<Uint8Array>;
  let ended = false;
  const end = (error?: Error) => {
    if (ended) return;
    ended = true;
    try {
      if (error) rc.error(error);
      else rc.close();
    } catch {
      // already closed or cancelled
    }
  };
  const readable = new ReadableStream<Uint8Array>({
    start(c) {
      rc = c;
    },
    cancel() {
      ended = true;
      if (ws.readyState <= OPEN) ws.close(1000);
    },
  });
  ws.addEventListener("message", (e: MessageEvent) => {
    if (ended) return;
    const data = e.data;
    if (data instanceof ArrayBuffer) rc.enqueue(new Uint8Array(data));
    else if (ArrayBuffer.isView(data)) {
      rc.enqueue(new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice());
    } else {
      const kind = typeof data === "string" ? "a text message" : `a ${typeof data} message`;
      end(new Error(`webSocketStream: ${kind} arrived; SSH travels in binary messages`));
      ws.close(1003, "binary messages only");
    }
  });
  ws.addEventListener("close", (e: CloseEvent) => {
    end(
      e.wasClean ? undefined : new Error(
        `webSocketStream: the WebSocket closed uncleanly (code ${e.code}${
          e.reason ? `, ${e.reason}` : ""
        })`,
      ),
    );
  });
  return readable;
}

/**
 * The sending half of an open socket: each write sends at once, then waits
 * while more than `hwm` bytes are buffered (polled: there is no drain
 * event). Closing closes the socket (code 1000); aborting closes it with
 * code 4000 and the reason.
 */
function sending(ws: WebSocket, hwm: number): WritableStream<Uint8Array> {
  return new WritableStream<Uint8Array>({
    async write(chunk) {
      if (ws.readyState !== OPEN) {
        throw new Error("webSocketStream: the WebSocket is closing or closed");
      }
      ws.send(chunk);
      // No drain event exists: poll bufferedAmount, backing off.
      let wait = 1;
      while (ws.readyState === OPEN && ws.bufferedAmount > hwm) {
        await sleep(wait);
        wait = Math.min(50, wait * 2);
      }
    },
    close() {
      // Bytes already given to send() go out before the close frame.
      if (ws.readyState <= OPEN) ws.close(1000);
    },
    abort(reason) {
      if (ws.readyState <= OPEN) {
        const text = reason instanceof Error ? reason.message : String(reason ?? "aborted");
        // Close reasons are limited to 123 bytes of UTF-8: 30 code points fit.
        ws.close(4000, [...text].slice(0, 30).join(""));
      }
    },
  });
}
