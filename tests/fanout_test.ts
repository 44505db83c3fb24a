// fanOut over 200 hosts (three rxssh servers in this process and one
// OpenSSH sshd) with concurrency 10, observed where the commands run: the
// rxssh exec handler counts itself, and sshd's ForceCommand reports to the
// test and waits for its answer before the command ends. Five more hosts
// fail, each as a value: refused (twice tried), silent (timeout), garbage
// (a broken connection), a wrong password and a wrong host key (tried once).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { lastValueFrom, toArray } from "rxjs";
import { fanOut, type FanOutResult, type FanOutTarget } from "../lib/fanout.ts";
import { listen, type ServerSession, type SshServer } from "../lib/server.ts";
import { generatePrivateKey } from "../lib/keys/private_key.ts";
import type { PrivateKey } from "../lib/keys/types.ts";
import {
  currentUser,
  findOpenSsh,
  freePort,
  pinnedHostKey,
  type Sshd,
  startSshd,
} from "./_openssh.ts";
import { hostKey } from "./_transport_pair.ts";

const skip = findOpenSsh() ? false : "OpenSSH is not installed (scripts/ensure_openssh.sh)";
const td = new TextDecoder();
const b64 = (b: Uint8Array) => btoa(String.fromCharCode(...b));
const CONCURRENCY = 10;

/** The commands running now, across every server, and the most seen at once. */
const running = { now: 0, max: 0 };
const full = new Set<() => void>();
const begin = () => {
  running.max = Math.max(running.max, ++running.now);
  if (running.now >= CONCURRENCY) { for (const wake of full) wake(); }
};
const end = () => void running.now--;
/** Holds a command until as many run as the bound allows (or 100 ms pass): the peak is then visible. */
const untilFull = () =>
  new Promise<void>((resolve) => {
    const wake = () => {
      full.delete(wake);
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(wake, 100);
    full.add(wake);
    if (running.now >= CONCURRENCY) wake();
  });

describe("fanOut: 200 hosts, bounded concurrency, failures as values", { skip }, () => {
  const servers: SshServer[] = [];
  const sockets: net.Server[] = [];
  let sshd: Sshd;
  let scriptDir: string | undefined;
  let userKey: PrivateKey;
  let fingerprint: string;

  /** A TCP server in this process, closed after the tests. */
  async function tcpServer(onConnection: (s: net.Socket) => void): Promise<number> {
    const server = net.createServer(onConnection);
    sockets.push(server);
    await new Promise<void>((r) => server.listen({ host: "127.0.0.1", port: 0 }, r));
    return (server.address() as net.AddressInfo).port;
  }

  before(async () => {
    userKey = await generatePrivateKey("ssh-ed25519");
    const key = await hostKey("ssh-ed25519");
    fingerprint = key.publicKey.fingerprint();
    for (let i = 0; i < 3; i++) {
      servers.push(
        await listen({
          hostname: "127.0.0.1",
          port: 0,
          hostKeys: [key],
          auth: { handlers: { password: (u, p) => u === "demo" && p === "demo" }, failureDelay: 1 },
          exec: async (s: ServerSession) => {
            begin();
            await untilFull();
            const w = s.stdout.getWriter();
            await w.write(new TextEncoder().encode(`rxssh-${i}: ${s.command}\n`));
            w.releaseLock();
            end();
            await s.exit(0);
          },
        }),
      );
    }
    // sshd's commands check in with the test: "start", then "end" and wait for "ok".
    const checkIn = await tcpServer((sock) => {
      sock.setEncoding("utf8");
      sock.on("data", (d: string) => {
        if (d.includes("start")) begin();
        if (d.includes("end")) {
          end();
          sock.write("ok\n");
        }
      });
      sock.on("error", () => {});
    });
    scriptDir = fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-fanout-"));
    const script = path.join(scriptDir, "report.sh");
    fs.writeFileSync(
      script,
      `#!/bin/bash
exec 3<>/dev/tcp/127.0.0.1/${checkIn}
echo start >&3
echo "sshd: $SSH_ORIGINAL_COMMAND"
echo end >&3
read -r ok <&3
`,
      { mode: 0o755 },
    );
    sshd = await startSshd({
      config: {
        PermitRootLogin: "yes",
        LogLevel: "INFO",
        MaxStartups: "100",
        ForceCommand: script,
      },
    });
    fs.writeFileSync(
      path.join(sshd.dir, "authorized_keys"),
      `ssh-ed25519 ${b64(userKey.publicKey.blob)}\n`,
    );
  });
  after(async () => {
    for (const s of servers) await s.close({ graceMs: 0 });
    for (const s of sockets) s.close();
    await sshd?.stop();
    if (scriptDir) fs.rmSync(scriptDir, { recursive: true, force: true });
  });

  it("200 commands run, at most 10 at once; 5 failing hosts come as values", async () => {
    const rx = (i: number): FanOutTarget => ({
      name: `rx${i}`,
      host: "127.0.0.1",
      port: servers[i % 3].port,
      username: "demo",
      password: "demo",
      hostKey: { fingerprint },
    });
    const openssh = (i: number): FanOutTarget => ({
      name: `sshd${i}`,
      host: "127.0.0.1",
      port: sshd.port,
      username: currentUser(),
      privateKeys: [userKey],
      password: undefined,
      hostKey: pinnedHostKey(sshd),
    });
    const hosts: FanOutTarget[] = [];
    for (let i = 0; i < 200; i++) hosts.push(i % 10 === 9 ? openssh(i) : rx(i));
    const silent = await tcpServer((s) => s.on("error", () => {})); // accepts, never answers
    const garbage = await tcpServer((s) => {
      s.on("error", () => {});
      s.end("HTTP/1.1 400 Bad Request\r\n\r\n");
    });
    const other = (await generatePrivateKey("ssh-ed25519")).publicKey.fingerprint();
    const failing: FanOutTarget[] = [
      { name: "refused", host: "127.0.0.1", port: await freePort(), hostKey: { fingerprint } },
      {
        name: "silent",
        host: "127.0.0.1",
        port: silent,
        timeoutMs: 1000,
        hostKey: { fingerprint },
      },
      { name: "garbage", host: "127.0.0.1", port: garbage, hostKey: { fingerprint } },
      { ...rx(0), name: "wrong-password", password: "nope" },
      { ...rx(1), name: "wrong-host-key", hostKey: { fingerprint: other } },
    ];
    // Interleave the failures with the rest.
    hosts.splice(20, 0, failing[0]);
    hosts.splice(60, 0, failing[1]);
    hosts.splice(100, 0, failing[2]);
    hosts.splice(140, 0, failing[3]);
    hosts.splice(180, 0, failing[4]);
    const started = performance.now();
    const results: FanOutResult[] = await lastValueFrom(
      fanOut(hosts, "hostname", {
        concurrency: CONCURRENCY,
        timeoutMs: 20_000, // sshd takes 0.2-0.6 s per session here, unloaded
        retries: 1,
        retryDelayMs: 50,
      }).pipe(toArray()),
    );
    const took = performance.now() - started;
    assert.equal(results.length, 205);
    const byName = new Map(results.map((r) => [r.host, r]));
    assert.equal(byName.size, 205);
    const ok = results.filter((r) => r.ok);
    assert.equal(
      ok.length,
      200,
      JSON.stringify(results.filter((r) => !r.ok).map((r) => [r.host, !r.ok && r.message])),
    );
    for (const r of ok) {
      assert.ok(r.ok);
      assert.equal(r.code, 0);
      assert.equal(r.attempts, 1);
      const want = r.host.startsWith("sshd")
        ? "sshd: hostname\n"
        : `rxssh-${Number(r.host.slice(2)) % 3}: hostname\n`;
      assert.equal(td.decode(r.stdout), want, r.host);
      assert.ok(r.timing.connectMs! > 0 && r.timing.totalMs >= r.timing.connectMs!);
    }
    assert.equal(ok.filter((r) => r.host.startsWith("sshd")).length, 20);
    // The bound held, and was reached.
    assert.equal(running.now, 0);
    assert.ok(running.max <= CONCURRENCY, `${running.max} commands ran at once`);
    console.log(`peak: ${running.max} commands at once`);
    assert.ok(running.max >= CONCURRENCY - 2, `only ${running.max} at once: no concurrency`);
    const fail = (name: string) => {
      const r = byName.get(name)!;
      assert.ok(!r.ok, name);
      return r;
    };
    assert.equal(fail("refused").failure, "refused");
    assert.equal(fail("refused").attempts, 2);
    assert.equal(fail("silent").failure, "timeout");
    assert.equal(fail("silent").attempts, 2);
    assert.match(fail("silent").message, /no result within 1000 ms/);
    assert.ok(fail("silent").timing.totalMs >= 2000);
    assert.equal(fail("garbage").failure, "error");
    assert.equal(fail("garbage").attempts, 2);
    assert.equal(fail("wrong-password").failure, "auth");
    assert.equal(fail("wrong-password").attempts, 1);
    assert.equal(fail("wrong-host-key").failure, "host-key");
    assert.equal(fail("wrong-host-key").attempts, 1);
    assert.ok(took < 120_000, `${took} ms`);
  });

  it("unsubscribing abandons the hosts in flight", async () => {
    let opened = 0;
    const live = new Set<net.Socket>();
    const counting = await tcpServer((s) => {
      opened++;
      live.add(s);
      s.resume(); // read, so that the client's FIN is seen
      s.on("close", () => live.delete(s));
      s.on("error", () => {});
    });
    const seen: FanOutResult[] = [];
    const sub = fanOut(
      [...Array(5)].map(() => ({ host: "127.0.0.1", port: counting, hostKey: { fingerprint } })),
      "true",
      { concurrency: 2, timeoutMs: 60_000 },
    ).subscribe((r) => seen.push(r));
    await new Promise((r) => setTimeout(r, 300));
    sub.unsubscribe();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(opened, 2); // the bound: the other hosts were never started
    assert.equal(seen.length, 0);
    assert.equal(live.size, 0, "the abandoned connections were closed");
  });
});
