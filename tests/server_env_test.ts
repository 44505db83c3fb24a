// Client `env` requests (RFC 4254 §6.4) are bounded per session: at most
// maxEnv variables (129 by default, as sshd's session.c) and maxEnvBytes
// bytes of names and values (64 KiB); later ones are refused with a FAILURE
// reply and the command still runs with the accepted ones. AcceptEnv still
// applies. The flood is also sent to OpenSSH's sshd and to `rxssh serve`
// (running the command as a process), which must agree on the count.
import { after, before, describe, it, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { connect, type SshClient } from "../lib/client.ts";
import type { Channel } from "../lib/connection/channel.ts";
import { Connection } from "../lib/connection/connection.ts";
import { SessionRequest } from "../lib/connection/session.ts";
import { generatePrivateKey } from "../lib/keys/private_key.ts";
import { formatPublicKeyLine } from "../lib/keys/public_key_file.ts";
import type { PrivateKey } from "../lib/keys/types.ts";
import { memoryPair } from "../lib/runtime/memory.ts";
import { connectTcp } from "../lib/runtime/tcp.ts";
import {
  acceptConnection,
  type ServerEvent,
  type ServerOptions,
  type ServerSession,
} from "../lib/server.ts";
import { Transport } from "../lib/transport/transport.ts";
import { serve } from "./_cli.ts";
import { currentUser, findOpenSsh, startSshd } from "./_openssh.ts";
import { hostKey } from "./_transport_pair.ts";
import { authenticateWithKey } from "./_userauth.ts";

const te = new TextEncoder();

/** Reports the session's environment. */
async function report(s: ServerSession) {
  const w = s.stdout.getWriter();
  await w.write(te.encode(JSON.stringify(s.env)));
  w.releaseLock();
  await s.exit(0);
}

async function pair(
  server: Partial<ServerOptions> = {},
  events?: ServerEvent[],
): Promise<SshClient> {
  const [a, b] = memoryPair();
  const key = await hostKey("ssh-ed25519");
  const incoming = acceptConnection(b, {
    hostKeys: [key],
    auth: { handlers: { password: () => true }, failureDelay: 1 },
    exec: report,
    ...server,
  });
  if (events) incoming.event$.subscribe((e) => events.push(e));
  return connect({
    stream: a,
    username: "u",
    password: "p",
    hostKey: { fingerprint: key.publicKey.fingerprint() },
  });
}

/** Sends every env request (want-reply, pipelined); returns the replies in order. */
function sendEnv(channel: Channel, vars: [string, string][]): Promise<boolean[]> {
  return Promise.all(
    vars.map(([n, v]) => channel.request("env", SessionRequest.env.encode(n, v))),
  );
}

/** Starts `command` on the channel and returns its output. */
async function execOutput(channel: Channel, command: string): Promise<string> {
  assert.equal(await channel.request("exec", SessionRequest.exec.encode(command)), true);
  return await new Response(channel.readable).text();
}

const bytesOf = (env: Record<string, string>) =>
  Object.entries(env).reduce((n, [k, v]) => n + te.encode(k).length + te.encode(v).length, 0);

test("10,000 env requests: the first 129 are accepted, the rest refused; the command runs with those", async () => {
  const events: ServerEvent[] = [];
  const client = await pair({}, events);
  const channel = await client.openChannel("session");
  const vars = Array.from({ length: 10_000 }, (_, i) => [`LC_${i}`, "v"] as [string, string]);
  const replies = await sendEnv(channel, vars);
  assert.equal(replies.indexOf(false), 129);
  assert.equal(replies.filter(Boolean).length, 129);
  const env = JSON.parse(await execOutput(channel, "report"));
  assert.deepEqual(Object.keys(env), vars.slice(0, 129).map(([n]) => n));
  const refused = events.filter((e) =>
    e.type === "channel-request" && e.request === "env" && !e.accepted
  );
  assert.equal(refused.length, 10_000 - 129);
  assert.ok(refused.every((e) => e.type === "channel-request" && /maxEnv 129/.test(e.reason!)));
  await client.close();
});

test("64 KiB of names and values per session: a larger value is refused, then the total is capped", async () => {
  const client = await pair({ acceptEnv: ["*"] });
  const channel = await client.openChannel("session");
  const big = "x".repeat(64 * 1024);
  const value = "y".repeat(1000);
  const vars = Array.from({ length: 100 }, (_, i) => [`V${String(i).padStart(2, "0")}`, value]);
  const replies = await sendEnv(channel, [["BIG", big], ...vars as [string, string][]]);
  assert.equal(replies[0], false, "a 64 KiB value is over the cap with its name");
  const fits = Math.floor(65536 / (3 + 1000));
  assert.equal(replies.slice(1).indexOf(false), fits);
  assert.equal(replies.filter(Boolean).length, fits);
  const env = JSON.parse(await execOutput(channel, "report"));
  assert.equal(Object.keys(env).length, fits);
  assert.ok(bytesOf(env) <= 65536, String(bytesOf(env)));
  assert.equal(env.BIG, undefined);
  await client.close();
});

test("by default only LANG and LC_* are accepted: LD_PRELOAD, BASH_ENV, PATH cannot reach a forced command", async () => {
  const client = await pair({ forceCommand: "report" });
  const channel = await client.openChannel("session");
  const replies = await sendEnv(channel, [
    ["LD_PRELOAD", "/tmp/evil.so"],
    ["BASH_ENV", "/tmp/evil.sh"],
    ["PATH", "/tmp"],
    ["ENV", "/tmp/evil.sh"],
    ["LANG", "C.UTF-8"],
    ["LC_ALL", "C"],
  ]);
  assert.deepEqual(replies, [false, false, false, false, true, true]);
  const env = JSON.parse(await execOutput(channel, "anything"));
  assert.deepEqual(env, { LANG: "C.UTF-8", LC_ALL: "C", SSH_ORIGINAL_COMMAND: "anything" });
  await client.close();
});

test("acceptEnv still applies under the caps; names with '=' or NUL are refused", async () => {
  const client = await pair({ acceptEnv: ["LC_*"], maxEnv: 3, maxEnvBytes: 100 });
  const channel = await client.openChannel("session");
  const replies = await sendEnv(channel, [
    ["HOME", "/tmp"], // not in acceptEnv: does not use up the count
    ["LC_X=1 PATH", "/evil"],
    ["LC_NUL\0", "v"],
    ["LC_A", "1"],
    ["LC_B", "2"],
    ["LC_A", "again"], // a known name is replaced, not counted twice
    ["LC_C", "3"],
    ["LC_D", "4"], // the fourth variable
    ["LC_C", "z".repeat(100)], // over 100 bytes in all
  ]);
  assert.deepEqual(replies, [false, false, false, true, true, true, true, false, false]);
  const env = JSON.parse(await execOutput(channel, "report"));
  assert.deepEqual(env, { LC_A: "again", LC_B: "2", LC_C: "3" });
  await client.close();
});

const openssh = findOpenSsh();
const skip = openssh ? false : "OpenSSH is not installed";

/** Logs in with `key`, sends `count` env requests LC_RX<i>=v, runs a command counting them. */
async function envFlood(port: number, key: PrivateKey, count: number) {
  const t = new Transport(await connectTcp("127.0.0.1", port), {
    role: "client",
    verifyHostKey: () => true,
  });
  await t.ready;
  await authenticateWithKey(t, currentUser(), key);
  const channel = await new Connection(t).openChannel("session");
  const vars = Array.from({ length: count }, (_, i) => [`LC_RX${i}`, "v"] as [string, string]);
  const replies = await sendEnv(channel, vars);
  const big = await channel.request("env", SessionRequest.env.encode("LC_RXBIG", "x".repeat(1e5)));
  const output = await execOutput(channel, "env | grep -c '^LC_RX'");
  await t.disconnect();
  return {
    accepted: replies.filter(Boolean).length,
    firstRefused: replies.indexOf(false),
    big,
    output,
  };
}

describe("the same env flood against sshd and rxssh serve", { skip }, () => {
  let work: string;
  let key: PrivateKey;
  let line: string;
  before(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-env-"));
    key = await generatePrivateKey("ssh-ed25519");
    line = formatPublicKeyLine(key.publicKey, "env-test") + "\n";
  });
  after(() => fs.rmSync(work, { recursive: true, force: true }));

  it("both keep 129 variables of 10,000 and run the command", async () => {
    const sshd = await startSshd({ config: { AcceptEnv: "LC_*", LogLevel: "VERBOSE" } });
    let theirs;
    try {
      fs.writeFileSync(path.join(sshd.dir, "authorized_keys"), line);
      theirs = await envFlood(sshd.port, key, 10_000);
    } finally {
      await sshd.stop();
    }
    const keys = path.join(work, "authorized_keys");
    fs.writeFileSync(keys, line);
    const server = await serve(["-o", `AuthorizedKeysFile=${keys}`], { HOME: work });
    let ours;
    try {
      ours = await envFlood(server.port, key, 10_000);
    } finally {
      await server.stop();
    }
    console.log(`env flood: sshd ${JSON.stringify(theirs)}, rxssh serve ${JSON.stringify(ours)}`);
    // The 100 kB value comes after the flood: both refuse it for the count (sshd would take it
    // while it has room, as only its packet size bounds a value).
    assert.deepEqual(theirs, { accepted: 129, firstRefused: 129, big: false, output: "129\n" });
    assert.deepEqual(ours, { accepted: 129, firstRefused: 129, big: false, output: "129\n" });
  });
});
