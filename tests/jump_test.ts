// Issue 12: jump hosts in the library. connect({ via }) reaches a target
// through a direct-tcpip channel of the hop before it, each hop with its
// own host-key check: our server then OpenSSH's sshd, sshd then our
// server, a client given as a hop; a loop is refused; a failing hop is
// named.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { connect, type ConnectOptions, JumpHostError } from "../lib/client.ts";
import { portForwardingHandler } from "../lib/forward/server.ts";
import { generatePrivateKey } from "../lib/keys/private_key.ts";
import type { PrivateKey } from "../lib/keys/types.ts";
import { listen, type SshServer } from "../lib/server.ts";
import { currentUser, findOpenSsh, pinnedHostKey, type Sshd, startSshd } from "./_openssh.ts";
import { hostKey } from "./_transport_pair.ts";

const skip = !findOpenSsh();

describe("jump hosts: connect({ via })", { skip }, () => {
  let sshd: Sshd;
  let server: SshServer;
  let key: PrivateKey;
  let serverKeyFingerprint: string;
  const seen: string[] = [];
  before(async () => {
    key = await generatePrivateKey("ssh-ed25519");
    sshd = await startSshd({ config: { PermitRootLogin: "yes", LogLevel: "INFO" } });
    const b64 = btoa(String.fromCharCode(...key.publicKey.blob));
    fs.writeFileSync(path.join(sshd.dir, "authorized_keys"), `ssh-ed25519 ${b64}\n`);
    const hk = await hostKey("ssh-ed25519");
    serverKeyFingerprint = hk.publicKey.fingerprint();
    server = await listen({
      hostname: "127.0.0.1",
      port: 0,
      hostKeys: [hk],
      auth: { handlers: { password: () => true }, failureDelay: 1 },
      exec: async (s) => {
        seen.push(s.command ?? "");
        const w = s.stdout.getWriter();
        await w.write(new TextEncoder().encode("rxssh here\n"));
        w.releaseLock();
        await s.exit(0);
      },
      handlers: [portForwardingHandler()],
    });
  });
  after(async () => {
    server?.close();
    await sshd?.stop();
  });

  const toSshd = (): ConnectOptions => ({
    host: "127.0.0.1",
    port: sshd.port,
    username: currentUser(),
    privateKeys: [key],
    hostKey: pinnedHostKey(sshd),
  });
  const toOurs = (): ConnectOptions => ({
    host: "127.0.0.1",
    port: server.port,
    username: "u",
    password: "p",
    hostKey: { fingerprint: serverKeyFingerprint },
  });

  it("through our server to sshd, and through sshd to our server", async () => {
    const a = await connect({ ...toSshd(), via: [toOurs()] });
    assert.equal((await a.exec("echo sshd here")).code, 0);
    await a.close();
    const b = await connect({ ...toOurs(), via: [toSshd()] });
    const r = await b.exec("hello");
    assert.equal(new TextDecoder().decode(r.stdout), "rxssh here\n");
    await b.close();
  });

  it("a connected client as the hop; its host key is still checked for the target", async () => {
    const hop = await connect(toOurs());
    try {
      const target = await connect({ ...toSshd(), via: hop });
      assert.equal((await target.exec("true")).code, 0);
      await target.close();
      // The hop is the caller's: it stays open.
      assert.equal((await hop.exec("still")).code, 0);
      await assert.rejects(
        connect({ ...toSshd(), hostKey: { fingerprint: "SHA256:wrong" }, via: hop }),
        /host key/i,
      );
    } finally {
      await hop.close();
    }
  });

  it("a loop is refused; a failing hop is named", async () => {
    await assert.rejects(
      connect({ ...toSshd(), via: [toOurs(), toSshd()] }),
      /reaches 127\.0\.0\.1:\d+ twice/,
    );
    await assert.rejects(
      connect({
        ...toSshd(),
        via: [{ ...toOurs(), password: "x", hostKey: { fingerprint: "SHA256:no" } }],
      }),
      (e: JumpHostError) =>
        e instanceof JumpHostError && e.hop === 0 && /jump host 1/.test(e.message),
    );
  });
});
