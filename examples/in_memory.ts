/**
 * SSH with no network at all: an rxssh server and client in one process,
 * connected by `memoryPair()`, two buffered in-memory byte streams back to
 * back. The same `connect({ stream })` and `serveConnection(stream, options)`
 * take a TCP socket, a WebSocket or anything else that is a pair of WHATWG
 * byte streams (libssh2's SEND/RECV callbacks, in web form).
 *
 * Run: `deno run -A examples/in_memory.ts` or `bun examples/in_memory.ts`.
 *
 * @module
 */
import { firstValueFrom } from "rxjs";
import {
  connect,
  generatePrivateKey,
  memoryPair,
  serveConnection,
  type ServerSession,
} from "../mod.ts";

const te = new TextEncoder();

/** The server's only command: counts the bytes on stdin and says how many. */
async function count(s: ServerSession): Promise<void> {
  let n = 0;
  const reader = s.stdin.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    n += value.length;
  }
  const out = s.stdout.getWriter();
  await out.write(te.encode(`${s.username} ran ${JSON.stringify(s.command)}: ${n} bytes\n`));
  out.releaseLock();
  await s.exit(0);
}

const hostKey = await generatePrivateKey("ssh-ed25519");
const [clientEnd, serverEnd] = memoryPair();
console.log("in-memory pair created: no sockets, no ports");

const serving = serveConnection(serverEnd, {
  hostKeys: [hostKey],
  auth: { handlers: { password: (user, pw) => user === "demo" && pw === "demo" } },
  exec: count,
});
const client = await connect({
  stream: clientEnd,
  username: "demo",
  password: "demo",
  hostKey: { fingerprint: hostKey.publicKey.fingerprint() },
});
const server = await serving;
const a = client.transport.algorithms!;
console.log(`client connected: ${a.kex}, ${a.hostKey}, ${a.cipherClientToServer}`);
console.log(`server authenticated ${server.username} (${server.auth.methods.join("+")})`);

const input = new Uint8Array(300_000).fill(0x61);
const r = await client.exec("count", { stdin: input });
console.log(
  `exec count with ${input.length} bytes of stdin -> ${
    new TextDecoder().decode(r.stdout).trim()
  }, exit ${r.code}`,
);

await client.close();
const end = await firstValueFrom(server.transport.disconnect$); // replayed to late subscribers
console.log(`server saw the disconnect: ${end.reasonName} (${end.local ? "sent" : "received"})`);
console.log("in-memory example done");
