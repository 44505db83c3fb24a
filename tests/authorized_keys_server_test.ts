// The server's authorized_keys policy (lib/auth/authorized_keys_policy.ts)
// end to end with our client: options enforced, from= by client address,
// user certificates through cert-authority lines.
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "../lib/client.ts";
import { serveConnection, type ServerSession } from "../lib/server.ts";
import { authorizedKeysHandler } from "../lib/auth/authorized_keys_policy.ts";
import { memoryPair } from "../lib/runtime/memory.ts";
import { generatePrivateKey } from "../lib/keys/private_key.ts";
import type { PrivateKey } from "../lib/keys/types.ts";
import { plainAlgorithm, signCertificate } from "../lib/keys/certificate.ts";
import { formatPublicKeyLine } from "../lib/keys/public_key_file.ts";
import { hostKey } from "./_transport_pair.ts";

const td = new TextDecoder();

async function run(authorizedKeys: string, userKey: PrivateKey, clientAddress = "127.0.0.1") {
  const [a, b] = memoryPair();
  const key = await hostKey("ssh-ed25519");
  const server = serveConnection({ ...b, remoteAddress: clientAddress } as typeof b, {
    hostKeys: [key],
    auth: {
      handlers: { publicKey: authorizedKeysHandler({ load: () => authorizedKeys }) },
      failureDelay: 1,
    },
    exec: async (s: ServerSession) => {
      const w = s.stdout.getWriter();
      await w.write(
        new TextEncoder().encode(
          `${s.command}|${s.env.SSH_ORIGINAL_COMMAND ?? ""}|${s.pty ? "pty" : "nopty"}`,
        ),
      );
      w.releaseLock();
      await s.exit(0);
    },
  });
  server.catch(() => {});
  const client = await connect({
    stream: a,
    username: "alice",
    privateKeys: [userKey],
    hostKey: { fingerprint: key.publicKey.fingerprint() },
  });
  return { client, server };
}

test("command= forces the command (SSH_ORIGINAL_COMMAND set); no-pty refuses pty-req", async () => {
  const k = await generatePrivateKey("ssh-ed25519");
  const { client } = await run(
    `command="echo forced",no-pty ${formatPublicKeyLine(k.publicKey)}`,
    k,
  );
  const r = await client.exec("rm -rf /");
  assert.equal(td.decode(r.stdout), "echo forced|rm -rf /|nopty");
  await assert.rejects(
    client.exec("x", {
      pty: { term: "xterm", cols: 80, rows: 24, widthPx: 0, heightPx: 0, modes: {} },
    }),
    /server refused pty-req/,
  );
  await client.close();
});

test("from= refuses other addresses; an unlisted key is refused", async () => {
  const k = await generatePrivateKey("ssh-ed25519");
  const line = `from="10.0.0.0/8,!10.9.9.9" ${formatPublicKeyLine(k.publicKey)}`;
  const ok = await run(line, k, "10.1.2.3");
  assert.equal((await ok.client.exec("id")).code, 0);
  await ok.client.close();
  await assert.rejects(run(line, k, "10.9.9.9"), /authentication as "alice" failed/);
  await assert.rejects(run(line, k, "192.0.2.1"), /authentication as "alice" failed/);
  const other = await generatePrivateKey("ssh-ed25519");
  await assert.rejects(run(line, other, "10.1.2.3"), /failed/);
});

test("a user certificate is accepted through a cert-authority line, with principals checked", async () => {
  const ca = await generatePrivateKey("ecdsa-sha2-nistp256");
  const userKey = await generatePrivateKey("ssh-ed25519");
  const certFor = async (principals: string[]) => {
    const cert = await signCertificate({
      key: userKey.publicKey,
      ca,
      type: "user",
      keyId: "test",
      principals,
    });
    const asKey: PrivateKey = {
      type: cert.type,
      publicKey: cert,
      algorithms: userKey.algorithms.map((a) => `${a}-cert-v01@openssh.com`),
      sign: (alg, data) => userKey.sign(plainAlgorithm(alg), data),
    };
    return asKey;
  };
  const caLine = `cert-authority ${formatPublicKeyLine(ca.publicKey)}`;
  const good = await run(caLine, await certFor(["alice"]));
  assert.equal((await good.server).auth.publicKey?.type, "ssh-ed25519-cert-v01@openssh.com");
  await good.client.close();
  await assert.rejects(run(caLine, await certFor(["bob"])), /failed/);
  const otherCa = await generatePrivateKey("ssh-ed25519");
  await assert.rejects(
    run(`cert-authority ${formatPublicKeyLine(otherCa.publicKey)}`, await certFor(["alice"])),
    /failed/,
  );
});
