// A program for tests/listen_workers_test.ts: listen({ workers: 2 }) on
// 127.0.0.1, every process generating a host key of its own (the workers
// must serve with the primary's). An exec answers with the pid of the
// process serving it. The primary prints one JSON line (port, fingerprint,
// worker pids) and on SIGTERM closes with a grace period, then exits 0.
import process from "node:process";
import { generatePrivateKey, listen } from "../mod.ts";

const hostKey = await generatePrivateKey("ssh-ed25519");
const server = await listen({
  hostname: "127.0.0.1",
  port: 0,
  workers: 2,
  hostKeys: [hostKey],
  auth: { handlers: { password: (u, p) => u === "demo" && p === "demo" } },
  exec: async (s) => {
    const w = s.stdout.getWriter();
    if (s.command?.startsWith("sleep ")) {
      await new Promise((r) => setTimeout(r, Number(s.command!.slice(6)) * 1000));
    }
    await w.write(new TextEncoder().encode(`${process.pid}\n`));
    w.releaseLock();
    await s.exit(0);
  },
});
if (server.workers) {
  console.log(JSON.stringify({
    port: server.port,
    fingerprint: hostKey.publicKey.fingerprint(),
    workers: server.workers,
    pid: process.pid,
  }));
  process.once("SIGTERM", async () => {
    await server.close({ graceMs: 10_000 });
    console.error("primary: closed");
    process.exit(0);
  });
}
