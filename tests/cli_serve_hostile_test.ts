// `rxssh serve` under hostile clients, beside OpenSSH's sshd with the same
// inputs: LoginGraceTime is one deadline from accept (a silent client, and
// one that finishes a late key exchange then stalls, are both closed at it);
// what the peer controls (user names, KEX name lists, commands, request,
// channel and variable names) cannot forge a log line or make one longer
// than 1 KiB. The CLI runs as a child process of the runtime running this test.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { connect } from "../lib/client.ts";
import { SessionRequest } from "../lib/connection/session.ts";
import { generatePrivateKey } from "../lib/keys/private_key.ts";
import { formatPublicKeyLine } from "../lib/keys/public_key_file.ts";
import type { PrivateKey } from "../lib/keys/types.ts";
import { connectTcp } from "../lib/runtime/tcp.ts";
import { Transport } from "../lib/transport/transport.ts";
import { encodeKexInit } from "../lib/wire/transport_messages.ts";
import { currentUser, findOpenSsh, startSshd } from "./_openssh.ts";
import { serve } from "./_cli.ts";
import { RawPeer } from "./_transport_pair.ts";

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

const FORGED = "x\nAccepted publickey for root from 6.6.6.6 port 1 ssh2";
const lines = (log: string) => log.split(/\r?\n/).filter((l) => l !== "");
const longest = (log: string) => Math.max(...lines(log).map((l) => l.length));

/** Waits until `log()` matches `re` (the server logs a moment after the client sees the end). */
async function logged(log: () => string, re: RegExp) {
  for (let i = 0; i < 200 && !re.test(log()); i++) await sleep(25);
  assert.match(log(), re);
}

/** Tries publickey as `username` with a key the server does not know; resolves once refused. */
async function tryLogin(port: number, username: string) {
  await connect({
    host: "127.0.0.1",
    port,
    username,
    privateKeys: [await generatePrivateKey("ssh-ed25519")],
    hostKey: { verify: () => true },
  }).then((c) => c.close(), () => {});
}

/** Sends SSH_MSG_KEXINIT with `names` as its KEX algorithms; resolves when the server hangs up. */
async function unknownKex(port: number, names: string[]) {
  const raw = new RawPeer(await connectTcp("127.0.0.1", port));
  await raw.raw("SSH-2.0-hostile\r\n");
  const list = (a: string) => [a];
  await raw.out.write(encodeKexInit({
    cookie: new Uint8Array(16),
    kexAlgorithms: names,
    serverHostKeyAlgorithms: list("ssh-ed25519"),
    ciphersClientToServer: list("aes128-ctr"),
    ciphersServerToClient: list("aes128-ctr"),
    macsClientToServer: list("hmac-sha2-256"),
    macsServerToClient: list("hmac-sha2-256"),
    compressionClientToServer: list("none"),
    compressionServerToClient: list("none"),
    languagesClientToServer: [],
    languagesServerToClient: [],
    firstKexPacketFollows: false,
  }));
  try {
    for (;;) await raw.packet();
  } catch {
    // closed
  }
  await raw.close();
}

describe("peer-controlled text in the log, beside sshd (LogLevel VERBOSE)", { skip }, () => {
  let home: string;
  before(() => home = fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-serve-log-")));
  after(() => fs.rmSync(home, { recursive: true, force: true }));

  it("a user name with a newline forges no 'Accepted' line", async () => {
    const server = await serve(["-o", "LogLevel=VERBOSE"], { HOME: home });
    try {
      await tryLogin(server.port, FORGED);
      await logged(server.log, /authentication from .* ended/);
    } finally {
      await server.stop();
    }
    const sshd = await startSshd({ config: { LogLevel: "VERBOSE" } });
    let theirs: string[];
    try {
      await tryLogin(sshd.port, FORGED);
      await logged(sshd.log, /Disconnected from invalid user/);
      theirs = lines(sshd.log()).filter((l) => l.startsWith("Accepted"));
    } finally {
      await sshd.stop();
    }
    const ours = lines(server.log()).filter((l) => l.startsWith("Accepted"));
    // sshd escapes newlines for syslog only: on stderr (-e, -E file) log.c uses VIS_SAFE.
    console.log(`lines starting "Accepted": rxssh serve ${ours.length}, sshd -e ${theirs.length}`);
    assert.deepEqual(ours, []);
    assert.match(server.log(), /Invalid user x\\x0aAccepted publickey for root from 6\.6\.6\.6/);
  });

  it("a 250 KB user name and 208 KB of unknown KEX names: every line under 1 KiB", async () => {
    const user = "u".repeat(250_000);
    const kex = Array.from({ length: 13_000 }, (_, i) => `unknown-kex-${i}@x`); // ~208 KB
    const server = await serve(["-o", "LogLevel=VERBOSE"], { HOME: home });
    try {
      await tryLogin(server.port, user);
      await logged(server.log, /authentication from .* ended/);
      await unknownKex(server.port, kex);
      await logged(server.log, /key exchange with .* failed/);
    } finally {
      await server.stop();
    }
    const sshd = await startSshd({ config: { LogLevel: "VERBOSE" } });
    let theirs: number;
    try {
      await tryLogin(sshd.port, user);
      await unknownKex(sshd.port, kex);
      await logged(sshd.log, /no matching key exchange method/);
      theirs = longest(sshd.log());
    } finally {
      await sshd.stop();
    }
    console.log(`longest log line: rxssh serve ${longest(server.log())}, sshd ${theirs}`);
    assert.ok(longest(server.log()) < 1024, `a line of ${longest(server.log())} characters`);
    // sshd's auth_maxtries_exceeded and auth_log use "%.100s" for the user name.
    assert.match(server.log(), /Invalid user u{100}\.\.\.\(250000 bytes\) from/);
  });
});

describe("peer-controlled text in the log after login (LogLevel DEBUG)", { skip }, () => {
  let home: string;
  let key: PrivateKey;
  before(async () => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-serve-log-"));
    key = await generatePrivateKey("ssh-ed25519");
    fs.writeFileSync(path.join(home, "keys"), formatPublicKeyLine(key.publicKey, "k") + "\n");
  });
  after(() => fs.rmSync(home, { recursive: true, force: true }));

  it("commands, subsystem, channel and variable names are quoted and cut", async () => {
    const keys = path.join(home, "keys");
    const server = await serve(["-d", "-o", `AuthorizedKeysFile=${keys}`], { HOME: home });
    const huge = "y".repeat(250_000);
    try {
      const client = await connect({
        host: "127.0.0.1",
        port: server.port,
        username: currentUser(),
        privateKeys: [key],
        hostKey: { verify: () => true },
      });
      // A channel type is US-ASCII without controls on the wire: only its length can hurt.
      await client.openChannel(`evil-${huge}`).catch(() => {});
      const channel = await client.openChannel("session");
      await channel.request("env", SessionRequest.env.encode(FORGED + huge, "v"));
      await channel.request("subsystem", SessionRequest.subsystem.encode(FORGED + huge));
      // 100 kB: one argument of sh -c may not exceed 128 KiB (Linux MAX_ARG_STRLEN).
      const r = await client.exec(`exit 0\n${FORGED} ${huge.slice(0, 100_000)}`);
      assert.equal(r.code, 0);
      await client.close();
      await logged(server.log, /Disconnected from user/);
    } finally {
      await server.stop();
    }
    const log = server.log();
    assert.ok(longest(log) < 1024, `a line of ${longest(log)} characters`);
    assert.deepEqual(lines(log).filter((l) => /^(debug1: )?Accepted .*6\.6\.6\.6/.test(l)), []);
    assert.equal(lines(log).filter((l) => l.startsWith("Accepted")).length, 1);
    assert.match(log, /refused evil-y+\.\.\.\(250005 bytes\) channel/);
    assert.match(log, /env x\\x0aAccepted .* refused \(not in acceptEnv\)/);
    assert.match(log, /subsystem x\\x0aAccepted .* refused \(no subsystem handler\)/);
    assert.match(log, /session exec "exit 0\\x0ax\\x0aAccepted publickey for root from 6\.6\.6\.6/);
  });
});
