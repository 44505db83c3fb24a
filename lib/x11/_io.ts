/**
 * Private helpers of the X11 forwarding modules: splicing a channel to a
 * socket, binding a listener synchronously, running xauth.
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import type { Channel } from "../connection/channel.ts";
import { bunListenTcp } from "../runtime/_bun_tcp.ts";
import { denoListenTcp } from "../runtime/_deno_tcp.ts";
import type { ByteStreamPair, ListenTcpOptions, TcpListener } from "../runtime/types.ts";

/**
 * Pipes a channel and a socket into each other (EOF travels both ways);
 * once both directions are done, or either fails, closes both. `first` is
 * written to the socket before the channel's data.
 */
export async function splice(
  channel: Channel,
  socket: ByteStreamPair & { close(): void },
  first?: Uint8Array,
): Promise<void> {
  const up = socket.readable.pipeTo(channel.writable);
  const down = (async () => {
    if (first?.length) {
      const w = socket.writable.getWriter();
      try {
        await w.write(first);
      } finally {
        w.releaseLock();
      }
    }
    await channel.readable.pipeTo(socket.writable);
  })();
  await Promise.allSettled([up, down]);
  socket.close();
  await channel.close().catch(() => {});
}

/**
 * Binds a TCP listener synchronously (Deno.listen and Bun.listen are), so a
 * session request can learn its display number before the next request is
 * dispatched. `undefined` on runtimes that can only bind asynchronously
 * (Node); throws when the address is taken.
 */
export function listenTcpSync(options: ListenTcpOptions): TcpListener | undefined {
  if ("Deno" in globalThis) return denoListenTcp(options);
  if ("Bun" in globalThis) return bunListenTcp(options);
  return undefined;
}

/**
 * Runs `xauth -q [-f file] args...` synchronously with `input` on stdin (as
 * ssh and sshd do, both synchronously). `undefined` when the program is
 * missing or fails.
 */
export function runXauth(
  program: string,
  file: string | undefined,
  args: string[],
  input?: string,
): string | undefined {
  const r = spawnSync(program, ["-q", ...(file ? ["-f", file] : []), ...args], {
    input: input ?? "",
    encoding: "utf8",
    timeout: 5000,
    stdio: ["pipe", "pipe", "pipe"],
  });
  if (r.error || r.status !== 0) return undefined;
  return typeof r.stdout === "string" ? r.stdout : "";
}
