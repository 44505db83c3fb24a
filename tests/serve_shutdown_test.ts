// `rxssh serve` on SIGTERM: it stops accepting at once, a transfer that is
// running finishes within ShutdownGraceTime, and the process exits 0; a
// session still open when the grace period ends is disconnected with a
// message. Driven by OpenSSH's ssh.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import process from "node:process";
import { currentUser, findOpenSsh, runSsh, testSshArgs } from "./_openssh.ts";
import { keygen, serve, sigtermDuringTransfer, waitForLog } from "./_cli.ts";

const skip = findOpenSsh() ? false : "OpenSSH is not installed (scripts/ensure_openssh.sh)";
const user = currentUser();

describe("rxssh serve: SIGTERM is a graceful shutdown", { skip }, () => {
  let work: string;
  let keyFile: string;

  before(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-shutdown-"));
    keyFile = path.join(work, "id_ed25519");
    fs.writeFileSync(path.join(work, "authorized_keys"), (await keygen(keyFile)) + "\n");
  });
  after(() => fs.rmSync(work, { recursive: true, force: true }));

  const start = (grace: number) =>
    serve([
      "-o",
      `AuthorizedKeysFile=${path.join(work, "authorized_keys")}`,
      "-o",
      `ShutdownGraceTime=${grace}`,
    ], { HOME: work });
  /** Waits (up to 15 s) until `server` has logged `re`. */
  const logged = (server: { log(): string }, re: RegExp) => waitForLog(server, re, 15_000);
  const ssh = (port: number, command: string) =>
    runSsh(testSshArgs(port, keyFile, user, ["127.0.0.1", command]), { timeoutMs: 30_000 });

  it("a running transfer finishes, new connections are refused, exit 0", async () => {
    const server = await start(20);
    const bytes = 8 * 1024 * 1024;
    // Half the bytes before the signal, half after it.
    const { transfer, signalledAt } = await sigtermDuringTransfer(server, ssh, bytes);
    const late = await ssh(server.port, "true");
    assert.equal(late.code, 255);
    assert.match(late.stderr, /Connection refused/);
    const r = await transfer;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.length, bytes);
    assert.equal(await server.exited, 0);
    assert.ok(Date.now() - signalledAt < 15_000);
    assert.match(server.log(), /not accepting; waiting up to 20 s for 1 connections/);
    assert.doesNotMatch(server.log(), /disconnecting/);
  });

  it("a session still open after ShutdownGraceTime is disconnected with a message", async () => {
    const server = await start(1);
    const stuck = ssh(server.port, "sleep 30");
    await logged(server, /Accepted publickey/);
    await new Promise((r) => setTimeout(r, 300));
    const signalledAt = Date.now();
    process.kill(server.pid, "SIGTERM");
    const r = await stuck;
    const took = Date.now() - signalledAt;
    assert.equal(r.code, 255);
    assert.match(r.stderr, /server shutting down/);
    assert.ok(took >= 900 && took < 10_000, `${took} ms`);
    assert.equal(await server.exited, 0);
    assert.match(server.log(), /disconnecting 1 connections/);
  });
});
