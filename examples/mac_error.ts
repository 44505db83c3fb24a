/**
 * libssh2's MACERROR callback, reactively: `transport.macError$` reports
 * every packet whose MAC (or AEAD tag) did not verify, and the opt-in
 * `acceptMacError` option is the callback's "return 0 to accept the packet
 * nonetheless".
 *
 * A client and a server in one process over `memoryPair()`, with a
 * TransformStream on the server-to-client bytes that flips the last byte
 * (the MAC) of one packet once armed. Three runs:
 *
 * (a) aes128-ctr + hmac-sha2-256, default: macError$ fires and the
 *     session ends with MAC_ERROR (the server is told so).
 * (b) the same with `acceptMacError: () => true`: the packet is accepted,
 *     macError$ still reports it, and the session carries on.
 * (c) aes128-gcm@openssh.com with `acceptMacError: () => true`: an AEAD
 *     cipher has no plaintext without a valid tag, so the callback is
 *     never consulted and the session ends with MAC_ERROR.
 *
 * Run: `deno run -A examples/mac_error.ts` or `bun examples/mac_error.ts`.
 *
 * @module
 */
import { firstValueFrom } from "rxjs";
import {
  type ByteStreamPair,
  connect,
  generatePrivateKey,
  type MacErrorEvent,
  memoryPair,
  serveConnection,
  type ServerSession,
} from "../mod.ts";

const td = new TextDecoder();
const hostKey = await generatePrivateKey("ssh-ed25519");

/** Wraps `s.writable` so that, once armed, the next packet has its last byte (the MAC) flipped. */
function macFlipper(s: ByteStreamPair): { stream: ByteStreamPair; arm(): void } {
  let armed = false;
  const t = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, c) {
      // The transport writes one packet per chunk, so the last byte is the MAC's (or the tag's).
      if (armed && chunk.length > 20) {
        chunk = chunk.slice();
        chunk[chunk.length - 1] ^= 0x01;
        armed = false;
      }
      c.enqueue(chunk);
    },
  });
  t.readable.pipeTo(s.writable).catch(() => {});
  return { stream: { readable: s.readable, writable: t.writable }, arm: () => (armed = true) };
}

async function run(
  label: string,
  ciphers: string,
  acceptMacError?: (e: MacErrorEvent) => boolean,
): Promise<void> {
  console.log(`\n(${label}) ${ciphers}${acceptMacError ? " with acceptMacError" : ", default"}`);
  const [clientEnd, serverEnd] = memoryPair();
  const wire = macFlipper(serverEnd); // server -> client bytes go through the flipper
  const serving = serveConnection(wire.stream, {
    hostKeys: [hostKey],
    macs: "+hmac-sha2-256", // a server offers only encrypt-then-MAC MACs unless told

    auth: { handlers: { password: (u, p) => u === "demo" && p === "demo" } },
    exec: async (s: ServerSession) => {
      const w = s.stdout.getWriter();
      await w.write(new TextEncoder().encode(`ran ${s.command}\n`));
      w.releaseLock();
      await s.exit(0);
    },
  });
  let consulted = 0;
  const client = await connect({
    stream: clientEnd,
    username: "demo",
    password: "demo",
    hostKey: { fingerprint: hostKey.publicKey.fingerprint() },
    ciphers,
    macs: "hmac-sha2-256",
    acceptMacError: acceptMacError &&
      ((e) => {
        consulted++;
        console.log(`  acceptMacError consulted for packet ${e.seq} (${e.algorithm})`);
        return acceptMacError(e);
      }),
  });
  const server = await serving;
  const a = client.transport.algorithms!;
  console.log(`  negotiated: cipher ${a.cipherServerToClient}, MAC ${a.macServerToClient}`);
  client.transport.macError$.subscribe((e) =>
    console.log(
      `  macError$: packet ${e.seq} failed ${e.algorithm} (acceptable: ${e.acceptable})`,
    )
  );

  wire.arm();
  try {
    const r = await client.exec("hostname");
    console.log(
      `  exec after the corrupted packet -> ${JSON.stringify(td.decode(r.stdout))}, exit ${r.code}`,
    );
    const again = await client.exec("uptime");
    console.log(`  and again -> ${JSON.stringify(td.decode(again.stdout))}, exit ${again.code}`);
    console.log("  the session continues");
    await client.close();
  } catch (e) {
    console.log(`  exec failed: ${e instanceof Error ? e.message : e}`);
  }
  const c = await client.transport.closed;
  const s = await firstValueFrom(server.transport.disconnect$);
  console.log(`  client: session ended with ${c.reasonName} (${c.local ? "sent" : "received"})`);
  console.log(`  server: session ended with ${s.reasonName} (${s.local ? "sent" : "received"})`);
  console.log(`  acceptMacError was consulted ${consulted} time(s)`);
}

await run("a", "aes128-ctr");
await run("b", "aes128-ctr", () => true);
await run("c", "aes128-gcm@openssh.com", () => true);
console.log("\nmac_error example done");
