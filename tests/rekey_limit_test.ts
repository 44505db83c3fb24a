// Issue 10, item 7: the server re-keys after ServerOptions.rekeyBytes and
// after `rxssh serve -o RekeyLimit=...`, against OpenSSH's ssh on loopback.
// The OpenSSH client re-keys on its own limits too (1 GiB and more here, so
// not in these transfers); that the server started each re-key shows in its
// kex$ events (initiatedBy "local") and in `ssh -vvv`, where a re-key the
// server starts logs "SSH2_MSG_KEXINIT received" before "... sent".
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { currentUser, findOpenSsh, runSsh, testSshArgs } from "./_openssh.ts";
import { keygen, serve } from "./_cli.ts";
import { listen, type ServerConnection } from "../lib/server.ts";
import { generatePrivateKey } from "../lib/keys/private_key.ts";
import type { KexEvent } from "../lib/transport/transport.ts";

const skip = findOpenSsh()
  ? false
  : "OpenSSH is not installed (.ci/run installs it; apt-get install openssh-client)";
const MIB = 1024 * 1024;

const sshArgs = (port: number, key: string, extra: string[]) =>
  testSshArgs(port, key, currentUser(), extra);

/** The KEXINIT lines of `ssh -vvv`, grouped per key exchange: "sent"/"received" in order. */
function kexinitOrder(log: string): string[][] {
  const lines = [...log.matchAll(/SSH2_MSG_KEXINIT (sent|received)/g)].map((m) => m[1]);
  const out: string[][] = [];
  for (let i = 0; i + 1 < lines.length; i += 2) out.push([lines[i], lines[i + 1]]);
  return out;
}

describe("re-key limits of the server, against OpenSSH's ssh", { skip }, () => {
  let work: string;
  let keyFile: string;
  let pubBase64: string;

  before(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-rekey-"));
    keyFile = path.join(work, "id_ed25519");
    pubBase64 = (await keygen(keyFile)).split(/\s+/)[1];
    fs.writeFileSync(path.join(work, "authorized_keys"), `ssh-ed25519 ${pubBase64}\n`);
  });
  after(() => fs.rmSync(work, { recursive: true, force: true }));

  it("listen({ rekeyBytes }): the server starts a re-key after the byte limit", async () => {
    const server = await listen({
      hostname: "127.0.0.1",
      port: 0,
      hostKeys: [await generatePrivateKey("ssh-ed25519")],
      rekeyBytes: 256 * 1024,
      auth: {
        handlers: {
          publicKey: (_u, key) => btoa(String.fromCharCode(...key.blob)) === pubBase64,
        },
      },
      exec: async (s) => {
        const w = s.stdout.getWriter();
        for (let i = 0; i < 16; i++) await w.write(new Uint8Array(64 * 1024));
        w.releaseLock();
        await s.exit(0);
      },
    });
    const events: KexEvent[] = [];
    const conn = new Promise<ServerConnection>((resolve) =>
      server.connection$.subscribe((c) => {
        c.transport.kex$.subscribe((e) => events.push(e));
        resolve(c);
      })
    );
    try {
      const r = await runSsh(sshArgs(server.port, keyFile, ["127.0.0.1", "x"]), {
        timeoutMs: 60_000,
      });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.length, MIB);
      await conn;
      const rekeys = events.filter((e) => !e.initial);
      assert.ok(rekeys.length >= 2, `re-keys seen: ${rekeys.length}`);
      assert.ok(rekeys.every((e) => e.initiatedBy === "local"), JSON.stringify(rekeys));
    } finally {
      server.close();
    }
  });

  it("rxssh serve -o RekeyLimit=64K: re-keys started by the server, as ssh -vvv shows", async () => {
    const served = await serve([
      "-o",
      `AuthorizedKeysFile=${path.join(work, "authorized_keys")}`,
      "-o",
      "RekeyLimit=64K none",
    ], { HOME: work });
    try {
      const r = await runSsh(
        sshArgs(served.port, keyFile, ["-vvv", "127.0.0.1", `head -c ${MIB} /dev/zero`]),
        { timeoutMs: 60_000 },
      );
      assert.equal(r.code, 0, r.stderr.slice(-2000));
      assert.equal(r.stdout.length, MIB);
      const order = kexinitOrder(r.stderr);
      assert.deepEqual(order[0], ["sent", "received"], "the initial exchange");
      const rekeys = order.slice(1);
      assert.ok(rekeys.length >= 4, `re-keys in ssh -vvv: ${rekeys.length}`);
      for (const pair of rekeys) assert.deepEqual(pair, ["received", "sent"], "server-initiated");
    } finally {
      await served.stop();
    }
  });

  it("rxssh serve rejects a bad RekeyLimit and names it", async () => {
    await assert.rejects(
      serve(["-o", "RekeyLimit=12"], { HOME: work }),
      /RekeyLimit: "12" is too small/,
    );
  });
});
