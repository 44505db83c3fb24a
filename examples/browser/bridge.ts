/**
 * The browser example's server side: serves the bundled page (from
 * `dist/browser/`, written by `deno run -A scripts/build.ts browser`) and
 * relays WebSocket connections on `/ssh` to an SSH server over TCP, such
 * as `rxssh serve`. The relay only moves bytes: SSH runs end to end
 * between the page and the server, so the bridge never sees a key or a
 * password in the clear. Both ends use rxssh's runtime adapters
 * (`webSocketStream`, `connectTcp`). Runs on Deno (`Deno.serve` and
 * `Deno.upgradeWebSocket`).
 *
 * ```sh
 * rxssh serve -p 2222 -o PasswordAuthentication=yes &   # RXSSH_PASSWORD=... in its environment
 * deno run -A examples/browser/bridge.ts --target 127.0.0.1:2222 --listen 127.0.0.1:8022
 * # then open http://127.0.0.1:8022/?user=me&password=...&fingerprint=SHA256:...
 * ```
 *
 * Prints `bridge listening on http://host:port/` once bound (`--listen
 * 127.0.0.1:0` picks a free port).
 *
 * @module
 */
import * as path from "node:path";
import { connectTcp } from "../../lib/runtime/tcp.ts";
import { webSocketStream } from "../../lib/runtime/websocket.ts";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".png": "image/png",
};

/** `host:port` split, with what was wrong and where on failure. */
function hostPort(flag: string, text: string | undefined): [string, number] {
  const m = /^(.+):(\d+)$/.exec(text ?? "");
  if (!m) throw new Error(`bridge: ${flag} wants host:port, got ${JSON.stringify(text)}`);
  return [m[1], Number(m[2])];
}

/** Relays one WebSocket to a new TCP connection to `target`, both ways, until either ends. */
async function relay(socket: WebSocket, target: [string, number]): Promise<void> {
  const ws = await webSocketStream(socket);
  let tcp;
  try {
    tcp = await connectTcp(target[0], target[1]);
  } catch (e) {
    console.error(`bridge: ${target.join(":")}: ${(e as Error).message}`);
    await ws.writable.abort(e);
    return;
  }
  await Promise.allSettled([
    ws.readable.pipeTo(tcp.writable),
    tcp.readable.pipeTo(ws.writable),
  ]);
  tcp.close();
}

function main(args: string[]): void {
  const flag = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const target = hostPort("--target", flag("--target"));
  const [host, port] = hostPort("--listen", flag("--listen") ?? "127.0.0.1:8022");
  const root = path.resolve(
    flag("--root") ??
      path.join(path.dirname(new URL(import.meta.url).pathname), "../../dist/browser"),
  );
  Deno.serve({
    hostname: host,
    port,
    onListen: (a) => console.error(`bridge listening on http://${a.hostname}:${a.port}/`),
  }, async (req) => {
    const url = new URL(req.url);
    if (url.pathname === "/ssh") {
      if (req.headers.get("upgrade") !== "websocket") {
        return new Response("/ssh is a WebSocket\n", { status: 426 });
      }
      const { socket, response } = Deno.upgradeWebSocket(req);
      relay(socket, target).catch((e) => console.error(`bridge: ${e.message}`));
      return response;
    }
    const name = url.pathname === "/" ? "index.html" : url.pathname.slice(1);
    if (!/^[\w.-]+$/.test(name)) return new Response("not found\n", { status: 404 });
    try {
      const body = await Deno.readFile(path.join(root, name));
      const type = TYPES[path.extname(name)] ?? "application/octet-stream";
      return new Response(body, { headers: { "content-type": type } });
    } catch {
      return new Response(`${name}: not found (built? deno run -A scripts/build.ts browser)\n`, {
        status: 404,
      });
    }
  });
}

if (import.meta.main) main(Deno.args);
