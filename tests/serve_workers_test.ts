// `rxssh serve -W N`: worker processes sharing one port (SO_REUSEPORT),
// driven by OpenSSH's ssh. Logins land on every worker (the session's
// `$PPID` is the worker that runs it); SIGTERM to the parent lets a running
// transfer finish, refuses new connections and exits 0; SIGHUP makes new
// connections use a changed configuration (a new AuthorizedKeysFile)
// while an open session keeps going, with -W 2 and with -W 1.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import process from "node:process";
import { currentUser, findOpenSsh, runSsh, testSshArgs } from "./_openssh.ts";
import { keygen, serve, sigtermDuringTransfer, waitForLog } from "./_cli.ts";
import { takeWorkersOption } from "../lib/cli/serve_workers.ts";

const skip = findOpenSsh() ? false : "OpenSSH is not installed (scripts/ensure_openssh.sh)";
const user = currentUser();

describe("rxssh serve -W: the option", () => {
  it("takes -W N and -WN out of the arguments; without it, the fallback", () => {
    assert.deepEqual(takeWorkersOption(["-W", "3", "-p", "22"]), {
      workers: 3,
      args: ["-p", "22"],
    });
    assert.deepEqual(takeWorkersOption(["-q", "-W2"]), { workers: 2, args: ["-q"] });
    assert.deepEqual(takeWorkersOption(["-q"], 5), { workers: 5, args: ["-q"] });
    assert.ok(takeWorkersOption([]).workers >= 1);
    assert.throws(() => takeWorkersOption(["-W", "0"]), /-W: expected a number/);
    assert.throws(() => takeWorkersOption(["-W", "two"]), /-W: expected a number/);
    assert.throws(() => takeWorkersOption(["-W"]), /requires an argument -- W/);
  });
});

describe("rxssh serve -W: worker processes", { skip }, () => {
  let work: string;
  let key1: string;
  let key2: string;
  let pub2: string;

  before(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-workers-"));
    key1 = path.join(work, "id_one");
    key2 = path.join(work, "id_two");
    fs.writeFileSync(path.join(work, "authorized_keys"), (await keygen(key1)) + "\n");
    pub2 = await keygen(key2);
  });
  after(() => fs.rmSync(work, { recursive: true, force: true }));

  /** Waits (up to 20 s) until `server` has logged `re`. */
  const logged = (server: { log(): string }, re: RegExp) => waitForLog(server, re, 20_000);
  const ssh = (port: number, command: string, key = key1) =>
    runSsh(testSshArgs(port, key, user, ["127.0.0.1", command]), { timeoutMs: 40_000 });
  /** The worker pids the server logged ("pid N accepting on"). */
  const workerPids = (log: string) =>
    new Set([...log.matchAll(/\] pid (\d+) accepting on/g)].map((m) => Number(m[1])));

  it("-W 2: 20 logins land on both workers, each session a child of its worker", async () => {
    const server = await serve(
      ["-W", "2", "-o", `AuthorizedKeysFile=${path.join(work, "authorized_keys")}`],
      { HOME: work },
    );
    try {
      const workers = workerPids(server.log());
      assert.equal(workers.size, 2, server.log());
      assert.ok(!workers.has(server.pid), "the parent accepts nothing itself");
      assert.match(server.log(), /listening on 127\.0\.0\.1:\d+ \(2 workers: pids \d+ \d+\)/);
      const seen = new Map<number, number>();
      // Four at a time: the kernel picks the listener by the connection's addresses and ports.
      for (let round = 0; round < 5; round++) {
        const results = await Promise.all([0, 1, 2, 3].map(() => ssh(server.port, "echo $PPID")));
        for (const r of results) {
          assert.equal(r.code, 0, r.stderr);
          const pid = Number(r.stdout.trim());
          seen.set(pid, (seen.get(pid) ?? 0) + 1);
        }
      }
      console.log(`logins per worker pid: ${JSON.stringify(Object.fromEntries(seen))}`);
      assert.deepEqual(new Set(seen.keys()), workers);
      assert.equal([...seen.values()].reduce((a, b) => a + b), 20);
      // Both workers serve with the host key the parent read: one fingerprint, logged once.
      assert.equal(server.log().match(/^host key: /gm)?.length, 1, server.log());
    } finally {
      await server.stop();
    }
  });

  it("-W 2: SIGTERM during a transfer: it finishes, new connections are refused, exit 0", async () => {
    const server = await serve([
      "-W",
      "2",
      "-o",
      `AuthorizedKeysFile=${path.join(work, "authorized_keys")}`,
      "-o",
      "ShutdownGraceTime=20",
    ], { HOME: work });
    const bytes = 8 * 1024 * 1024;
    // Half the bytes before the signal, half after it.
    const { transfer, signalledAt } = await sigtermDuringTransfer(server, ssh, bytes);
    // The idle worker has closed its listener and exited: nothing accepts any more.
    await logged(server, /worker \d \(pid \d+\) exited \(0\)/);
    const late = await ssh(server.port, "true");
    assert.equal(late.code, 255);
    assert.match(late.stderr, /Connection refused/);
    const r = await transfer;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.length, bytes);
    assert.equal(await server.exited, 0);
    assert.ok(Date.now() - signalledAt < 20_000);
    assert.doesNotMatch(server.log(), /disconnecting/);
    for (const pid of workerPids(server.log())) {
      assert.throws(() => process.kill(pid, 0), "every worker has exited");
    }
  });

  it("-W 2: a worker that dies is started again; logins go on", async () => {
    const server = await serve(
      ["-W", "2", "-o", `AuthorizedKeysFile=${path.join(work, "authorized_keys")}`],
      { HOME: work },
    );
    try {
      const [first] = workerPids(server.log());
      process.kill(first, "SIGKILL");
      await logged(
        server,
        new RegExp(`worker \\d \\(pid ${first}\\) exited \\(null\\); starting another`),
      );
      await logged(
        server,
        /worker \d \(pid \d+\) started[^]*worker \d \(pid \d+\) started[^]*started/,
      );
      const now = workerPids(server.log());
      assert.equal(now.size, 3, server.log());
      const pids = new Set<number>();
      for (const r of await Promise.all([0, 1, 2, 3].map(() => ssh(server.port, "echo $PPID")))) {
        assert.equal(r.code, 0, r.stderr);
        pids.add(Number(r.stdout.trim()));
      }
      assert.ok(!pids.has(first), "the dead worker serves nothing");
      process.kill(server.pid, "SIGTERM");
      assert.equal(await server.exited, 0, server.log());
    } finally {
      await server.stop();
    }
  });

  for (const workers of ["2", "1"]) {
    it(`-W ${workers}: SIGHUP picks up a new AuthorizedKeysFile; an open session keeps going`, async () => {
      const config = path.join(work, `sshd_config_${workers}`);
      const second = path.join(work, `authorized_keys_${workers}`);
      fs.rmSync(second, { force: true });
      fs.writeFileSync(config, `AuthorizedKeysFile ${path.join(work, "authorized_keys")}\n`);
      const server = await serve(["-W", workers, "-f", config], { HOME: work });
      try {
        const open = ssh(server.port, "sleep 3; echo still-here");
        await logged(server, /Accepted publickey/);
        // The new key, in a file that the running configuration does not name yet.
        fs.writeFileSync(second, pub2 + "\n");
        fs.writeFileSync(config, `AuthorizedKeysFile ${second}\n`);
        const before = await ssh(server.port, "echo in", key2);
        assert.equal(before.code, 255, "not before SIGHUP");
        assert.match(before.stderr, /Permission denied/);
        process.kill(server.pid, "SIGHUP");
        await logged(
          server,
          workers === "1" ? /reloaded configuration/ : /SIGHUP: 2 workers reloaded/,
        );
        // Several logins, so that with -W 2 both workers are very likely tried.
        for (
          const r of await Promise.all([0, 1, 2, 3].map(() => ssh(server.port, "echo in", key2)))
        ) {
          assert.equal(r.code, 0, r.stderr);
          assert.equal(r.stdout, "in\n");
        }
        const old = await ssh(server.port, "true");
        assert.equal(old.code, 255, "the first key's file is no longer named");
        const kept = await open;
        assert.equal(kept.code, 0, kept.stderr);
        assert.equal(kept.stdout, "still-here\n");
        process.kill(server.pid, "SIGTERM");
        assert.equal(await server.exited, 0, server.log());
      } finally {
        await server.stop();
      }
    });
  }
});
