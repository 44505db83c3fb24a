/**
 * rxssh in a web page: SSH over a WebSocket, from the browser. The page's
 * query string says where and as whom (`ws`, `user`, `password`,
 * `fingerprint`, `command`); the page connects, runs the command, and shows
 * its output in `#output` and its exit status in `#status`.
 *
 * Bundled for the browser by `deno run -A scripts/build.ts browser` (Bun's
 * bundler, `--target browser`) into `dist/browser/`; served, with the
 * WebSocket relay to `rxssh serve`, by `examples/browser/bridge.ts`.
 * It imports the client and the WebSocket adapter only: nothing here (or
 * below them) needs a `node:` builtin; the crypto is WebCrypto and the
 * noble libraries.
 *
 * @module
 */
import { connect } from "../../lib/client.ts";
import { webSocketStream } from "../../lib/runtime/websocket.ts";

/**
 * The little of the DOM this page uses, typed here: a `lib="dom"` reference
 * would change the global types of every file type-checked with this one.
 */
interface Page {
  document: { getElementById(id: string): { textContent: string | null } | null };
  location: { search: string; host: string };
}
const { document, location } = globalThis as unknown as Page;

const $ = (id: string) => document.getElementById(id)!;

/** Shows a step in `#status` (and the console, for the test's log). */
function status(text: string): void {
  $("status").textContent = text;
  console.log(`status: ${text}`);
}

async function main(): Promise<void> {
  const q = new URLSearchParams(location.search);
  const wsUrl = q.get("ws") ?? `ws://${location.host}/ssh`;
  const command = q.get("command") ?? "echo hello from the browser";
  const fingerprint = q.get("fingerprint");
  if (!fingerprint) {
    throw new Error("the page needs ?fingerprint=SHA256:... (the server's host key)");
  }
  $("command").textContent = `$ ${command}`;
  status(`connecting to ${wsUrl}`);
  const stream = await webSocketStream(new WebSocket(wsUrl));
  const client = await connect({
    stream,
    username: q.get("user") ?? "",
    password: q.get("password") ?? "",
    hostKey: { fingerprint },
    agent: false, // no SSH agent socket in a browser (the default looks at SSH_AUTH_SOCK)
  });
  status("running");
  const r = await client.exec(command);
  $("output").textContent = new TextDecoder().decode(r.stdout);
  await client.close();
  status(`exit ${r.code}`);
}

main().catch((e: Error) => status(`error: ${e.message}`));
