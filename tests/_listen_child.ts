// A `listen()` server for tests/listener_failure_test.ts, run in a child
// process (under prlimit): password "demo" for any user, exec prints
// "hello <command>". Prints "PORT <n> <host key fingerprint>" once bound, then every
// listenerWarning$ event as "WARNING <json>", and "ERROR <message>" /
// "COMPLETE" when connection$ ends.
import process from "node:process";
import { generatePrivateKey } from "../lib/keys/private_key.ts";
import { listen } from "../lib/server.ts";

const key = await generatePrivateKey("ssh-ed25519");
const server = await listen({
  hostname: "127.0.0.1",
  port: 0,
  hostKeys: [key],
  auth: { handlers: { password: (_u, p) => p === "demo" } },
  // Descriptors, not MaxStartups, are under test: the flood (160) must not be dropped early.
  maxStartups: "1000",
  exec: async (s) => {
    const w = s.stdout.getWriter();
    await w.write(new TextEncoder().encode(`hello ${s.command}\n`));
    w.releaseLock();
    await s.exit(0);
  },
});
const say = (line: string) => process.stdout.write(line + "\n");
// As a server does: Deno 2.9.5 panics (ext/signals/lib.rs:58) when its first signal listener
// is set up while the process is out of descriptors (see DESIGN.md).
process.on("SIGTERM", () => process.exit(0));
server.listenerWarning$.subscribe((w) => say(`WARNING ${JSON.stringify(w)}`));
server.connection$.subscribe({
  error: (e) => say(`ERROR ${e instanceof Error ? e.message : String(e)}`),
  complete: () => say("COMPLETE"),
});
say(`PORT ${server.port} ${key.publicKey.fingerprint()}`);
