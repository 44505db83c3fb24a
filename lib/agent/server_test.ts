import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { agentClient, agentKeyAlgorithms } from "./client.ts";
import { AgentError, AgentMsg, frameAgentMessage } from "./protocol.ts";
import { memoryAgent, serveAgent } from "./server.ts";
import { generatePrivateKey } from "../keys/private_key.ts";
import { decodeSignature } from "../keys/signature.ts";
import { memoryPair } from "../runtime/memory.ts";

const data = new TextEncoder().encode("sign me");

describe("agentClient <-> serveAgent over a memory pair", () => {
  it("lists, signs (rsa with SHA-2 flags), adds and removes", async () => {
    const ed = await generatePrivateKey("ssh-ed25519");
    const ec = await generatePrivateKey("ecdsa-sha2-nistp384");
    const rsa = await generatePrivateKey("ssh-rsa", { bits: 2048 });
    const agent = memoryAgent([{ key: ed, comment: "ed" }, ec]);
    const [a, b] = memoryPair();
    const served = serveAgent(a, agent);
    const client = agentClient(b);

    let ids = await client.identities();
    assert.deepEqual(ids.map((i) => [i.type, i.comment]), [
      ["ssh-ed25519", "ed"],
      ["ecdsa-sha2-nistp384", ""],
    ]);
    assert.deepEqual(ids[0].blob, ed.publicKey.blob);

    await client.addIdentity(rsa, "rsa key");
    ids = await client.identities();
    assert.equal(ids.length, 3);
    assert.deepEqual(ids[2].algorithms, ["rsa-sha2-512", "rsa-sha2-256"]);

    for (
      const [key, algorithm] of [
        [ed, "ssh-ed25519"],
        [ec, "ecdsa-sha2-nistp384"],
        [rsa, "rsa-sha2-256"],
        [rsa, "rsa-sha2-512"],
      ] as const
    ) {
      const sig = await client.sign(key.publicKey.blob, data, { algorithm });
      assert.equal(decodeSignature(sig).algorithm, algorithm);
      assert.ok(await key.publicKey.verify(sig, data, { algorithm }), algorithm);
    }
    // No flags for an RSA key means SHA-1 "ssh-rsa", which rxssh keys refuse.
    const raw = await client.request({
      type: "sign-request",
      blob: rsa.publicKey.blob,
      data,
      flags: 0,
    });
    assert.equal(raw.type, "failure");

    // A key the agent does not hold.
    const other = await generatePrivateKey("ssh-ed25519");
    await assert.rejects(
      client.sign(other.publicKey.blob, data, { algorithm: "ssh-ed25519" }),
      AgentError,
    );
    await assert.rejects(client.removeIdentity(other.publicKey.blob), AgentError);

    // Constraints the agent cannot honour are refused, not ignored.
    await assert.rejects(
      client.addIdentity(other, "", { constraints: [{ type: "lifetime", seconds: 1 }] }),
      AgentError,
    );
    // Unknown requests (extensions, lock) get FAILURE.
    assert.equal(
      (await client.request({ type: "extension", name: "query", data: new Uint8Array(0) })).type,
      "failure",
    );
    assert.equal(
      (await client.request({ type: "unknown", code: AgentMsg.LOCK, body: new Uint8Array(4) }))
        .type,
      "failure",
    );

    await client.removeIdentity(ec.publicKey.blob);
    assert.equal((await client.identities()).length, 2);
    await client.removeAllIdentities();
    assert.deepEqual(await client.identities(), []);
    assert.equal(agent.keys.length, 0);

    client.close();
    await served;
    await assert.rejects(client.identities(), AgentError);
  });

  it("concurrent requests are answered in order", async () => {
    const keys = await Promise.all([1, 2, 3].map(() => generatePrivateKey("ssh-ed25519")));
    const [a, b] = memoryPair();
    const served = serveAgent(a, { keys });
    const client = agentClient(b);
    const sigs = await Promise.all(
      keys.map((k) => client.sign(k.publicKey.blob, data, { algorithm: "ssh-ed25519" })),
    );
    for (let i = 0; i < keys.length; i++) {
      assert.ok(await keys[i].publicKey.verify(sigs[i], data, { algorithm: "ssh-ed25519" }));
    }
    client.close();
    await served;
  });

  it("a plain Agent refuses add and remove; a read-only Agent works", async () => {
    const key = await generatePrivateKey("ssh-ed25519");
    const inner = memoryAgent([key]);
    const readOnly = { identities: () => inner.identities(), sign: inner.sign };
    const [a, b] = memoryPair();
    const served = serveAgent(a, readOnly);
    const client = agentClient(b);
    assert.equal((await client.identities()).length, 1);
    await assert.rejects(client.removeAllIdentities(), AgentError);
    await assert.rejects(client.addIdentity(key), AgentError);
    client.close();
    await served;
  });

  it("a malformed message gets FAILURE; a bad frame ends the conversation", async () => {
    const [a, b] = memoryPair();
    const served = serveAgent(a, { keys: [] });
    const w = b.writable.getWriter();
    const r = b.readable.getReader();
    await w.write(frameAgentMessage(new Uint8Array([AgentMsg.SIGN_REQUEST, 0, 0])));
    const { value } = await r.read();
    assert.deepEqual(value, new Uint8Array([0, 0, 0, 1, AgentMsg.FAILURE]));
    await w.write(new Uint8Array([0, 0, 0, 0]));
    await served;
    assert.equal((await r.read()).done, true);
  });

  it("the client rejects pending requests when the agent goes away", async () => {
    const [a, b] = memoryPair();
    const client = agentClient(b);
    const pending = client.identities();
    const r = a.readable.getReader();
    await r.read(); // the request arrived
    await a.writable.close();
    await assert.rejects(pending, AgentError);
  });

  it("agentKeyAlgorithms covers certificates", () => {
    assert.deepEqual(agentKeyAlgorithms("ssh-rsa-cert-v01@openssh.com"), [
      "rsa-sha2-512-cert-v01@openssh.com",
      "rsa-sha2-256-cert-v01@openssh.com",
    ]);
    assert.deepEqual(agentKeyAlgorithms("ssh-ed25519-cert-v01@openssh.com"), [
      "ssh-ed25519-cert-v01@openssh.com",
    ]);
    assert.deepEqual(agentKeyAlgorithms("sk-ssh-ed25519@openssh.com"), [
      "sk-ssh-ed25519@openssh.com",
    ]);
  });
});
