/**
 * "Replacing a callback": libssh2_session_callback_set2() installs one
 * callback per type and returns the previous one, so two parts of a
 * program that both want IGNORE messages silently displace each other.
 * In rxssh a callback is a subscription: subscribing adds a listener,
 * the returned `Subscription` is the handle that removes exactly that
 * listener, and nothing is ever replaced behind anyone's back.
 *
 * Two subscribers on the server's `transport.ignore$`; the client sends
 * SSH_MSG_IGNORE three times; after the first, subscriber A unsubscribes
 * and B keeps receiving. A third subscriber added later does not displace
 * B either.
 *
 * Run: `deno run -A examples/callbacks.ts` or `bun examples/callbacks.ts`.
 *
 * @module
 */
import { firstValueFrom, type Observable, take, toArray } from "rxjs";
import { connect, generatePrivateKey, memoryPair, serveConnection } from "../mod.ts";

const td = new TextDecoder();
const hostKey = await generatePrivateKey("ssh-ed25519");
const [clientEnd, serverEnd] = memoryPair();
const serving = serveConnection(serverEnd, {
  hostKeys: [hostKey],
  auth: { handlers: { password: (u, p) => u === "demo" && p === "demo" } },
});
const client = await connect({
  stream: clientEnd,
  username: "demo",
  password: "demo",
  hostKey: { fingerprint: hostKey.publicKey.fingerprint() },
});
const server = await serving;
const ignore$: Observable<Uint8Array> = server.transport.ignore$;

const got: Record<string, string[]> = { A: [], B: [], C: [] };
const listener = (name: string) => (data: Uint8Array) => {
  got[name].push(td.decode(data));
  console.log(`  ${name} received IGNORE ${JSON.stringify(td.decode(data))}`);
};

/** Sends one IGNORE and waits until the server has seen it. */
async function send(text: string): Promise<void> {
  console.log(`client sends IGNORE ${JSON.stringify(text)}`);
  const seen = firstValueFrom(ignore$); // a listener of our own, gone after one message
  await client.transport.sendIgnore(text);
  await seen;
}

const a = ignore$.subscribe(listener("A"));
const b = ignore$.subscribe(listener("B"));
console.log("A and B subscribed to ignore$");
await send("one");

a.unsubscribe(); // libssh2: set the callback to NULL (or to another one), for everybody
console.log(`A unsubscribed (A closed: ${a.closed}, B closed: ${b.closed})`);
await send("two");

const c = ignore$.subscribe(listener("C"));
console.log("C subscribed: adding a listener replaces nobody");
await send("three");

// The same, declaratively: take(n) unsubscribes by itself.
const nextTwo = firstValueFrom(ignore$.pipe(take(2), toArray()));
await send("four");
await send("five");
console.log(`a take(2) subscriber got ${JSON.stringify((await nextTwo).map((d) => td.decode(d)))}`);

b.unsubscribe();
c.unsubscribe();
console.log(`A got ${JSON.stringify(got.A)}`);
console.log(`B got ${JSON.stringify(got.B)}`);
console.log(`C got ${JSON.stringify(got.C)}`);
await client.close();
console.log("callbacks example done");
