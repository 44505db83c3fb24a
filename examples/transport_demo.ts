/**
 * Transport demo: an rxssh server and client in one process over real
 * loopback TCP. It prints the negotiated algorithms and one merged, ordered
 * stream of both ends' transport events (key exchanges, IGNORE, DEBUG, the
 * disconnect), built as an RxJS pipeline.
 *
 * Run: `deno task demo` (or `npm run demo`, or `bun examples/transport_demo.ts`).
 *
 * @module
 */
import { count, lastValueFrom, map, merge, type Observable, tap } from "rxjs";
import { connectTcp, generatePrivateKey, listenTcp, Transport } from "../mod.ts";

const hex = (b: Uint8Array) =>
  [...b.subarray(0, 8)].map((x) => x.toString(16).padStart(2, "0")).join("");

/** Every transport event of one end, tagged with that end's name. */
function events(name: string, t: Transport): Observable<string> {
  return merge(
    t.kex$.pipe(
      map((k) =>
        `${
          k.initial ? "key exchange" : "re-key"
        } #${k.count} (${k.initiatedBy}): ${k.algorithms.kex}, ` +
        `${k.algorithms.hostKey}, ${k.algorithms.cipherClientToServer}, strict=${k.strict}, H=${
          hex(k.exchangeHash)
        }…`
      ),
    ),
    t.extInfo$.pipe(map((e) => `ext-info: ${[...e.keys()].join(", ")}`)),
    t.ignore$.pipe(map((d) => `IGNORE ${d.length} bytes`)),
    t.debug$.pipe(
      map((d) => `DEBUG ${JSON.stringify(d.message)} always_display=${d.alwaysDisplay}`),
    ),
    t.disconnect$.pipe(
      map((d) =>
        `disconnect ${d.local ? "sent" : "received"}: ${d.reasonName} ${
          JSON.stringify(d.description)
        }`
      ),
    ),
  ).pipe(map((line) => `[${name.padEnd(6)}] ${line}`));
}

const hostKeys = await Promise.all([
  generatePrivateKey("ssh-ed25519"),
  generatePrivateKey("ecdsa-sha2-nistp256"),
]);
const pinned = hostKeys[0].publicKey.fingerprint();
const listener = await listenTcp({ hostname: "127.0.0.1", port: 0 });
console.log(`server listening on 127.0.0.1:${listener.port}, host key ${pinned}`);

const serverSide = (async () => {
  const conn = await listener.accept();
  listener.close();
  return new Transport(conn, { role: "server", hostKeys });
})();

const client = new Transport(await connectTcp("127.0.0.1", listener.port), {
  role: "client",
  // Trust exactly the key we generated: rxssh never accepts host keys silently.
  verifyHostKey: (_key, info) => info.fingerprint === pinned,
});
const server = await serverSide;

// One reactive pipeline over both ends; it completes when both connections have ended.
const observed = lastValueFrom(
  merge(events("client", client), events("server", server)).pipe(
    tap((line) => console.log(line)),
    count(),
  ),
);

const first = await client.ready;
console.log("negotiated:", first.algorithms);
console.log(`session id ${hex(first.sessionId)}…, server software ${client.peerVersion?.software}`);

await client.requestService("ssh-userauth");
console.log("service ssh-userauth accepted");
await client.sendIgnore("keystroke padding");
await server.sendDebug("hello from the server", true);
const second = await server.rekey();
console.log(`re-key done: same session id: ${hex(second.sessionId) === hex(first.sessionId)}`);
await client.disconnect();
await server.closed;
console.log(`${await observed} events observed; both ends closed cleanly.`);
