// The caps on what a client sends before it is authenticated (PRE_AUTH_LIMITS,
// maxPreAuthBytes / maxPreAuthPackets): over one, the server ends the
// connection with PROTOCOL_ERROR and says which limit; after authentication
// nothing is counted; a real OpenSSH login with many keys stays far below
// the defaults (measured and printed).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { connect } from "../lib/client.ts";
import { acceptConnection, type IncomingConnection, listen } from "../lib/server.ts";
import { authorizedKeysHandler } from "../lib/auth/authorized_keys_policy.ts";
import { memoryPair } from "../lib/runtime/memory.ts";
import { PRE_AUTH_LIMITS, Transport } from "../lib/transport/transport.ts";
import { DisconnectError, DisconnectReason } from "../lib/wire/errors.ts";
import { hostKey } from "./_transport_pair.ts";
import { currentUser, findOpenSsh, runProcess, runSsh, testSshArgs } from "./_openssh.ts";
import { keygen } from "./_cli.ts";

const runtime = "Deno" in globalThis ? "deno" : "bun";

/** A server connection and a bare client transport that finished key exchange. */
async function unauthenticated(limits: { maxPreAuthBytes?: number; maxPreAuthPackets?: number }) {
  const [a, b] = memoryPair();
  const server = acceptConnection(b, {
    hostKeys: [await hostKey("ssh-ed25519")],
    auth: { handlers: { password: () => false } },
    ...limits,
  });
  const client = new Transport(a, { role: "client", verifyHostKey: () => true });
  await client.ready;
  return { server, client };
}

/** Sends IGNOREs of `size` bytes until the connection ends (at most `max`); how many went out. */
async function flood(client: Transport, size: number, max: number): Promise<number> {
  let sent = 0;
  const data = new Uint8Array(size);
  while (sent < max && !client.isClosed) {
    await client.sendIgnore(data).catch(() => {});
    sent++;
  }
  return sent;
}

async function refused(server: IncomingConnection, client: Transport, limit: RegExp) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const end = await Promise.race([
    client.closed,
    new Promise<never>((_, reject) =>
      timer = setTimeout(
        () => reject(new Error("hang guard: the server did not disconnect")),
        15_000,
      )
    ),
  ]).finally(() => clearTimeout(timer));
  assert.equal(end.reason, DisconnectReason.PROTOCOL_ERROR);
  assert.equal(end.local, false, "the server sent the DISCONNECT");
  assert.match(end.description, limit);
  const e = await server.authenticated.then(() => undefined, (e) => e);
  assert.ok(e instanceof DisconnectError, String(e));
  assert.match(e.message, limit);
  assert.equal(server.transport.preAuthReceived.packets > 0, true);
}

test("maxPreAuthPackets: the packet past it ends the connection, PROTOCOL_ERROR naming the limit", async () => {
  const { server, client } = await unauthenticated({ maxPreAuthPackets: 50 });
  const sent = await flood(client, 0, 10_000);
  assert.ok(sent < 10_000);
  await refused(
    server,
    client,
    /client sent 51 packets before authentication, over the limit of 50 \(maxPreAuthPackets\)/,
  );
});

test("maxPreAuthBytes: wire bytes count, PROTOCOL_ERROR naming the limit", async () => {
  const { server, client } = await unauthenticated({ maxPreAuthBytes: 100_000 });
  assert.ok(await flood(client, 10_000, 1000) < 1000);
  await refused(
    server,
    client,
    /client sent \d+ bytes before authentication, over the limit of 100000 \(maxPreAuthBytes\)/,
  );
  const got = server.transport.preAuthReceived;
  assert.ok(got.bytes > 100_000 && got.bytes < 100_000 + 2 * 10_100, JSON.stringify(got));
});

test("the defaults are in force: PRE_AUTH_LIMITS.packets IGNOREs pass, the next does not", async () => {
  const { server, client } = await unauthenticated({});
  await client.requestService("ssh-userauth"); // answered: the server has read all the client sent
  const before = server.transport.preAuthReceived.packets; // KEXINIT, ECDH_INIT, NEWKEYS, SERVICE_REQUEST
  await flood(client, 0, PRE_AUTH_LIMITS.packets - before - 1);
  await client.requestService("ssh-userauth"); // the limit-th packet, answered
  assert.equal(server.transport.isClosed, false);
  assert.equal(server.transport.preAuthReceived.packets, PRE_AUTH_LIMITS.packets);
  await client.sendIgnore().catch(() => {});
  await refused(server, client, /over the limit of 1024 \(maxPreAuthPackets\)/);
});

test("after authentication nothing is counted", async () => {
  const [a, b] = memoryPair();
  const key = await hostKey("ssh-ed25519");
  const server = acceptConnection(b, {
    hostKeys: [key],
    auth: { handlers: { password: (u, p) => u === "u" && p === "pw" } },
    exec: (s) => s.exit(3),
    maxPreAuthPackets: 40,
  });
  const client = await connect({
    stream: a,
    username: "u",
    password: "pw",
    hostKey: { fingerprint: key.publicKey.fingerprint() },
  });
  const at = server.transport.preAuthReceived;
  assert.ok(at.packets <= 40, JSON.stringify(at));
  await flood(client.transport, 0, 200);
  assert.equal((await client.exec("x")).code, 3, "still served after 200 more packets");
  assert.deepEqual(server.transport.preAuthReceived, at);
  await client.close();
});

const openssh = findOpenSsh();
let work = "";
before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-preauth-"));
});
after(() => fs.rmSync(work, { recursive: true, force: true }));

test("an OpenSSH login offering six keys (one RSA-4096) stays far below the defaults", {
  skip: openssh ? false : "OpenSSH is not installed",
  timeout: 120_000,
}, async () => {
  const keys: string[] = [];
  for (const [i, type] of ["rsa", "ecdsa", "ed25519", "ecdsa", "ed25519", "ed25519"].entries()) {
    const file = path.join(work, `id_${i}`);
    if (type === "rsa") await rsa4096(file);
    else await keygen(file, type);
    keys.push(file);
  }
  const authorized = fs.readFileSync(keys[5] + ".pub", "utf8");
  const accepted: IncomingConnection[] = [];
  const s = await listen({
    hostname: "127.0.0.1",
    port: 0,
    hostKeys: [await hostKey("ssh-ed25519")],
    auth: { handlers: { publicKey: authorizedKeysHandler({ load: () => authorized }) } },
    exec: (session) => session.exit(0),
  });
  s.accept$.subscribe((c) => accepted.push(c));
  try {
    const ids = keys.flatMap((k) => ["-i", k]);
    const r = await runSsh(
      testSshArgs(s.port, keys[0], currentUser(), [
        ...ids,
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "KexAlgorithms=sntrup761x25519-sha512@openssh.com,curve25519-sha256",
        "127.0.0.1",
        "true",
      ]),
      { timeoutMs: 30_000 },
    );
    assert.equal(r.code, 0, r.stderr);
    const got = accepted[0].transport.preAuthReceived;
    console.log(
      `pre-auth figures (${runtime}): OpenSSH ssh, 6 keys offered (one RSA-4096, the last accepted), ` +
        `${got.packets} packets, ${got.bytes} bytes before authentication; ` +
        `limits ${PRE_AUTH_LIMITS.packets} packets, ${PRE_AUTH_LIMITS.bytes} bytes`,
    );
    assert.ok(got.bytes * 10 < PRE_AUTH_LIMITS.bytes && got.packets * 10 < PRE_AUTH_LIMITS.packets);
  } finally {
    await s.close({ graceMs: 0 });
  }
});

async function rsa4096(file: string) {
  const r = await runProcess(
    openssh!.sshKeygen,
    ["-q", "-t", "rsa", "-b", "4096", "-N", "", "-C", "", "-f", file],
    { timeoutMs: 120_000 },
  );
  assert.equal(r.code, 0, r.stderr);
}
