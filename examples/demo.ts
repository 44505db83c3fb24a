/**
 * The rxssh demo (`deno task demo` / `npm run demo`): three SSH servers and
 * one client in one process, over real loopback TCP. The client fans
 * commands out to every host at once and merges their output, line by
 * line, into one RxJS stream, then summarises the exit statuses. Last,
 * `fanOut` runs one command on every host plus one where nothing listens:
 * one result per host, the failure as a value.
 *
 * Everything is real SSH: key exchange (ML-KEM/X25519 hybrid by default),
 * host keys pinned by fingerprint, password authentication, session
 * channels with flow control.
 *
 * @module
 */
import { defer, from, lastValueFrom, mergeMap, Observable, reduce, tap, toArray } from "rxjs";
import {
  connect,
  fanOut,
  generatePrivateKey,
  listen,
  type ServerSession,
  type SshClient,
} from "../mod.ts";

const te = new TextEncoder();

/** What each demo server can run (in-process, so the demo runs anywhere). */
async function serve(name: string, s: ServerSession): Promise<void> {
  const out = s.stdout.getWriter();
  const say = (line: string) => out.write(te.encode(line + "\n"));
  const [cmd, ...args] = (s.command ?? "").split(" ");
  if (cmd === "hostname") await say(name);
  else if (cmd === "count") {
    for (let i = 1; i <= Number(args[0]); i++) {
      await say(`tick ${i}`);
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 40));
    }
  } else if (cmd === "sha256") {
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", te.encode(args.join(" "))));
    await say([...digest.subarray(0, 8)].map((b) => b.toString(16).padStart(2, "0")).join(""));
  } else if (cmd === "fail") {
    const err = s.stderr.getWriter();
    await err.write(te.encode(`${name}: failing on purpose\n`));
    err.releaseLock();
    out.releaseLock();
    return s.exit(3);
  } else {
    await say(`unknown command ${cmd}`);
    out.releaseLock();
    return s.exit(127);
  }
  out.releaseLock();
  await s.exit(0);
}

/** The lines of a byte stream as an observable. */
function lines(stream: ReadableStream<Uint8Array>): Observable<string> {
  return new Observable<string>((sub) => {
    const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
    let rest = "";
    (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const parts = (rest + value).split("\n");
        rest = parts.pop()!;
        for (const p of parts) sub.next(p);
      }
      if (rest) sub.next(rest);
      sub.complete();
    })().catch((e) => sub.error(e));
    return () => reader.cancel().catch(() => {});
  });
}

// Three "hosts", each with its own host key.
const hosts = await Promise.all(["alpha", "bravo", "charlie"].map(async (name) => {
  const hostKey = await generatePrivateKey("ssh-ed25519");
  const server = await listen({
    hostname: "127.0.0.1",
    port: 0,
    hostKeys: [hostKey],
    auth: { handlers: { password: (user, pw) => user === "demo" && pw === "demo" } },
    exec: (s) => serve(name, s),
  });
  return { name, server, fingerprint: hostKey.publicKey.fingerprint() };
}));
console.log(
  hosts.map((h) => `${h.name} on 127.0.0.1:${h.server.port} (${h.fingerprint})`).join("\n"),
);

const clients = new Map<string, SshClient>();
const commands = ["hostname", "count 3", "sha256 hello", "fail"];

// Fan out: every command on every host, at most 6 at a time; merge the output.
const results = await lastValueFrom(
  from(hosts).pipe(
    mergeMap((h) =>
      defer(async () => {
        const client = await connect({
          host: "127.0.0.1",
          port: h.server.port,
          username: "demo",
          password: "demo",
          hostKey: { fingerprint: h.fingerprint }, // pinned: no silent trust
        });
        clients.set(h.name, client);
        console.log(
          `[${h.name}] connected: ${client.transport.algorithms!.kex}, ${
            client.transport.algorithms!.cipherClientToServer
          }`,
        );
        return commands.map((command) => ({ h, client, command }));
      }).pipe(mergeMap((jobs) => from(jobs)))
    ),
    mergeMap(({ h, client, command }) =>
      defer(() => client.spawn(command)).pipe(
        mergeMap((session) =>
          new Observable<{ host: string; command: string; line?: string; code?: number }>((sub) => {
            const out = lines(session.stdout).subscribe((line) =>
              sub.next({ host: h.name, command, line })
            );
            const err = lines(session.stderr).subscribe((line) =>
              sub.next({ host: h.name, command, line: `stderr: ${line}` })
            );
            session.exit.then((exit) => {
              sub.next({ host: h.name, command, code: exit.code });
              sub.complete();
            }, (e) => sub.error(e));
            return () => {
              out.unsubscribe();
              err.unsubscribe();
            };
          })
        ),
      ), 6),
    tap((e) => {
      if (e.line !== undefined) console.log(`[${e.host}] ${e.command}: ${e.line}`);
    }),
    reduce(
      (acc, e) => (e.code === undefined ? acc : [...acc, `${e.host}/${e.command}=${e.code}`]),
      [] as string[],
    ),
  ),
);

console.log(`\n${results.length} commands finished: ${results.sort().join(", ")}`);
for (const c of clients.values()) await c.close();

// The same job with fanOut: bounded concurrency, a time limit and retries per host, one
// result per host, and a host that fails is a value, not an error that ends the stream.
const targets = [
  ...hosts.map((h) => ({
    name: h.name,
    host: "127.0.0.1",
    port: h.server.port,
    hostKey: { fingerprint: h.fingerprint },
  })),
  { name: "delta", host: "127.0.0.1", port: 1, hostKey: { fingerprint: hosts[0].fingerprint } },
];
const fanned = await lastValueFrom(
  fanOut(targets, "sha256 fan-out", {
    concurrency: 2,
    timeoutMs: 5000,
    retries: 1,
    defaults: { username: "demo", password: "demo" },
  }).pipe(toArray()),
);
for (const r of fanned) {
  console.log(
    r.ok
      ? `fanOut [${r.host}] exit ${r.code} in ${r.timing.totalMs.toFixed(0)} ms: ${
        new TextDecoder().decode(r.stdout).trim()
      }`
      : `fanOut [${r.host}] ${r.failure} after ${r.attempts} attempts: ${r.message}`,
  );
}
for (const h of hosts) await h.server.close();
