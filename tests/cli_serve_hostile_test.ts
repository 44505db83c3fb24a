// `rxssh serve` under hostile clients, beside OpenSSH's sshd with the same
// inputs: LoginGraceTime is one deadline from accept (a silent client, and
// one that finishes a late key exchange then stalls, are both closed at it).
// The CLI runs as a child process of the runtime running this test.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { connectTcp } from "../lib/runtime/tcp.ts";
import { Transport } from "../lib/transport/transport.ts";
import { findOpenSsh, startSshd } from "./_openssh.ts";
import { serve } from "./_cli.ts";

const skip = findOpenSsh() ? false : "OpenSSH is not installed";
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Milliseconds until the server closes a TCP connection that never sends a byte (at most `limit`). */
function silentLifetime(port: number, limit: number): Promise<number> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = net.createConnection({ host: "127.0.0.1", port });
    const timer = setTimeout(() => socket.destroy(), limit);
    socket.on("data", () => {});
    socket.on("error", () => {});
    socket.once("close", () => {
      clearTimeout(timer);
      resolve(Date.now() - started);
    });
  });
}

/**
 * Connects, stays silent for `delay` ms, runs the key exchange, requests
 * ssh-userauth, then sends nothing: when did the key exchange finish and
 * when did the server close the connection (ms from connect; at most `limit`)?
 */
async function lateKexLifetime(port: number, delay: number, limit: number) {
  const started = Date.now();
  const stream = await connectTcp("127.0.0.1", port);
  await sleep(delay);
  const t = new Transport(stream, { role: "client", verifyHostKey: () => true });
  await t.ready;
  const kexDone = Date.now() - started;
  await t.requestService("ssh-userauth");
  const timer = setTimeout(() => t.disconnect().catch(() => {}), limit);
  await t.closed;
  clearTimeout(timer);
  return { kexDone, lifetime: Date.now() - started };
}

describe("LoginGraceTime 2: rxssh serve beside sshd", { skip }, () => {
  let home: string;
  before(() => home = fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-serve-hostile-")));
  after(() => fs.rmSync(home, { recursive: true, force: true }));

  const grace = 2000;
  const measure = async (port: number) => ({
    silent: await silentLifetime(port, 3 * grace),
    late: await lateKexLifetime(port, 0.5 * grace, 3 * grace),
  });
  const check = (who: string, m: Awaited<ReturnType<typeof measure>>) => {
    const what = `${who}: ${JSON.stringify(m)}`;
    assert.ok(m.silent >= grace - 50 && m.silent < 1.5 * grace, what);
    assert.ok(m.late.kexDone < grace, what);
    assert.ok(m.late.lifetime < 1.5 * grace, what);
  };

  it("a silent client and one stalled after a late key exchange are closed at one deadline", async () => {
    const server = await serve(["-o", "LoginGraceTime=2"], { HOME: home });
    let ours;
    try {
      ours = await measure(server.port);
    } finally {
      await server.stop();
    }
    const sshd = await startSshd({ config: { LoginGraceTime: "2" } });
    let theirs;
    try {
      theirs = await measure(sshd.port);
    } finally {
      await sshd.stop();
    }
    console.log(
      `LoginGraceTime 2 s, lifetimes in ms: rxssh serve ${JSON.stringify(ours)}, sshd ${
        JSON.stringify(theirs)
      }`,
    );
    check("sshd", theirs);
    check("rxssh serve", ours);
  });
});
