// Transport interop with the real OpenSSH, both directions, over loopback:
// - our client against sshd: key exchange with each algorithm OpenSSH
//   supports, the ssh-userauth service, publickey authentication, a re-key;
// - OpenSSH's ssh against our server: key exchange with each algorithm, as
//   its -vvv output reports it, up to SERVICE_ACCEPT.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { firstValueFrom } from "rxjs";
import { currentUser, findOpenSsh, runSsh, type Sshd, startSshd } from "./_openssh.ts";
import { hostKey } from "./_transport_pair.ts";
import { authenticateWithKey } from "./_userauth.ts";
import { connectTcp, listenTcp } from "../lib/runtime/tcp.ts";
import { Transport, type TransportOptions } from "../lib/transport/transport.ts";
import { DisconnectReason } from "../lib/wire/errors.ts";
import { SUPPORTED_ALGORITHMS } from "../lib/transport/algorithms.ts";
import { generatePrivateKey } from "../lib/keys/private_key.ts";

const openssh = findOpenSsh();
const skip = openssh
  ? false
  : "OpenSSH is not installed (.ci/run installs it; apt-get install openssh-server)";

/** What OpenSSH (this version) supports, by `ssh -Q`. */
function opensshSupports(kind: "kex" | "cipher" | "mac" | "key-sig"): Set<string> {
  if (!openssh) return new Set();
  const r = spawnSync(openssh.ssh, ["-Q", kind], { encoding: "utf8", timeout: 10_000 });
  return new Set(String(r.stdout).split("\n").map((x) => x.trim()).filter(Boolean));
}

type Case = { kind: string; name: string; options: Partial<TransportOptions>; sshOption: string };

function cases(): Case[] {
  const q = {
    kex: opensshSupports("kex"),
    cipher: opensshSupports("cipher"),
    mac: opensshSupports("mac"),
    sig: opensshSupports("key-sig"),
  };
  const out: Case[] = [];
  for (const k of SUPPORTED_ALGORITHMS.KexAlgorithms) {
    if (q.kex.has(k)) {
      out.push({
        kind: "kex",
        name: k,
        options: { kexAlgorithms: [k] },
        sshOption: `KexAlgorithms=${k}`,
      });
    }
  }
  for (const h of SUPPORTED_ALGORITHMS.HostKeyAlgorithms) {
    if (q.sig.has(h)) {
      out.push({
        kind: "hostkey",
        name: h,
        options: { hostKeyAlgorithms: [h] },
        sshOption: `HostKeyAlgorithms=${h}`,
      });
    }
  }
  for (const c of SUPPORTED_ALGORITHMS.Ciphers) {
    if (q.cipher.has(c)) {
      out.push({ kind: "cipher", name: c, options: { ciphers: [c] }, sshOption: `Ciphers=${c}` });
    }
  }
  for (const m of SUPPORTED_ALGORITHMS.MACs) {
    if (q.mac.has(m)) {
      out.push({
        kind: "mac",
        name: m,
        options: { macs: [m], ciphers: ["aes128-ctr"] },
        sshOption: `MACs=${m}`,
      });
    }
  }
  return out;
}

function check(
  c: Case,
  a: { kex: string; hostKey: string; cipherClientToServer: string; macClientToServer: string },
) {
  const got =
    { kex: a.kex, hostkey: a.hostKey, cipher: a.cipherClientToServer, mac: a.macClientToServer }[
      c.kind
    ];
  assert.equal(got, c.name);
}

describe("our client against OpenSSH sshd", { skip }, () => {
  let sshd: Sshd;
  let dir: string;
  const user = currentUser();
  let clientKey: Awaited<ReturnType<typeof generatePrivateKey>>;
  before(async () => {
    clientKey = await generatePrivateKey("ssh-ed25519");
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-ak-"));
    const ak = path.join(dir, "authorized_keys");
    const b64 = btoa(String.fromCharCode(...clientKey.publicKey.blob));
    fs.writeFileSync(ak, `ssh-ed25519 ${b64} rxssh-test\n`);
    sshd = await startSshd({
      hostKeyTypes: ["ed25519", "ecdsa256", "ecdsa384", "ecdsa521", "rsa3072"],
      config: {
        AuthorizedKeysFile: ak,
        PubkeyAuthentication: "yes",
        PermitRootLogin: "yes",
        KexAlgorithms: [...opensshSupports("kex")].filter((k) => !k.includes("sha1")).join(","),
        HostKeyAlgorithms: "+rsa-sha2-256,rsa-sha2-512",
      },
    });
  });
  after(async () => {
    await sshd?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const c of cases()) {
    it(`${c.kind} ${c.name}: key exchange, ssh-userauth, publickey auth, re-key`, async () => {
      const conn = await connectTcp("127.0.0.1", sshd.port);
      const t = new Transport(conn, { role: "client", verifyHostKey: () => true, ...c.options });
      try {
        const first = await t.ready;
        check(c, first.algorithms);
        assert.equal(first.strict, true, "OpenSSH 9.2+ with our client must use strict KEX");
        assert.match(t.peerVersion!.software, /^OpenSSH_/);
        const sigAlgs = new TextDecoder().decode(
          (await firstValueFrom(t.extInfo$)).get("server-sig-algs"),
        );
        assert.match(sigAlgs, /rsa-sha2-512/);
        await authenticateWithKey(t, user, clientKey);
        const second = await t.rekey();
        assert.equal(second.count, 2);
        assert.equal(second.initial, false);
        assert.deepEqual(second.sessionId, first.sessionId);
        assert.notDeepEqual(second.exchangeHash, first.exchangeHash);
        check(c, second.algorithms);
        await t.sendIgnore("still alive after re-key");
      } finally {
        await t.disconnect();
      }
    });
  }

  it("sshd refuses a re-key before authentication; we fail fast with KEY_EXCHANGE_FAILED, not a hang", async () => {
    const conn = await connectTcp("127.0.0.1", sshd.port);
    const t = new Transport(conn, { role: "client", verifyHostKey: () => true });
    await t.ready;
    await assert.rejects(
      t.rekey(),
      (e: { reason: number }) => e.reason === DisconnectReason.KEY_EXCHANGE_FAILED,
    );
    await t.closed;
  });
});

describe("OpenSSH ssh against our server", { skip }, () => {
  let server: Awaited<ReturnType<typeof listenTcp>>;
  const results = new Map<string, Transport>();
  let serving: Promise<void>;
  let hostKeys: Awaited<ReturnType<typeof hostKey>>[];
  let nextTag = "";

  before(async () => {
    hostKeys = await Promise.all(
      [
        "ssh-ed25519",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "ssh-rsa",
      ].map(hostKey),
    );
    server = await listenTcp({ hostname: "127.0.0.1", port: 0 });
    serving = (async () => {
      for await (const conn of server) {
        const t = new Transport(conn, {
          role: "server",
          hostKeys,
          kexAlgorithms: "+ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521",
          // Every MAC is under test: a server's default leaves out the encrypt-and-MAC ones.
          macs: "+hmac-sha2-256,hmac-sha2-512",
        });
        results.set(nextTag, t);
        // The first USERAUTH_REQUEST proves SERVICE_ACCEPT got through; then end politely.
        t.messages.getReader().read().then(
          () =>
            t.disconnect(DisconnectReason.NO_MORE_AUTH_METHODS_AVAILABLE, "transport interop test"),
          () => {},
        );
      }
    })();
  });
  after(async () => {
    server?.close();
    await serving?.catch(() => {});
  });

  for (const c of cases()) {
    it(`${c.kind} ${c.name}: ssh -vvv negotiates it and reaches SERVICE_ACCEPT`, async () => {
      nextTag = c.name;
      const r = await runSsh([
        "-vvv",
        "-F",
        "/dev/null",
        "-p",
        String(server.port),
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "IdentityFile=/dev/null",
        "-o",
        c.sshOption,
        ...(c.kind === "mac" ? ["-o", "Ciphers=aes128-ctr"] : []),
        `${currentUser()}@127.0.0.1`,
        "true",
      ], { timeoutMs: 30_000 });
      const t = results.get(c.name);
      assert.ok(t, `our server saw no connection; ssh said:\n${r.stderr.slice(-2000)}`);
      const a = (await t.ready).algorithms;
      check(c, a);
      const e = r.stderr;
      assert.match(e, new RegExp(`kex: algorithm: ${a.kex}\\b`));
      assert.match(e, new RegExp(`kex: host key algorithm: ${a.hostKey}\\b`));
      assert.ok(
        e.includes(
          `kex: client->server cipher: ${a.cipherClientToServer} MAC: ${a.macClientToServer} compression: none`,
        ),
        e.slice(-3000),
      );
      assert.ok(e.includes("SSH2_MSG_SERVICE_ACCEPT received"), e.slice(-3000));
      assert.match(e, /Received disconnect from 127\.0\.0\.1 port \d+:14: transport interop test/);
      assert.equal(r.code, 255);
    });
  }
});
