import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { connectAgent } from "./client.ts";
import {
  AGENT_CHANNEL_TYPE,
  AGENT_FORWARDING_REQUEST,
  agentForwardingHandler,
  enableAgentForwarding,
} from "./forwarding.ts";
import { memoryAgent } from "./server.ts";
import { connect, type SshClient } from "../client.ts";
import type { Channel } from "../connection/channel.ts";
import type { Connection } from "../connection/connection.ts";
import { SessionRequestError } from "../connection/session.ts";
import { generatePrivateKey } from "../keys/private_key.ts";
import type { PrivateKey } from "../keys/types.ts";
import { memoryPair } from "../runtime/memory.ts";
import { serveConnection, type ServerSession } from "../server.ts";

const te = new TextEncoder();
const td = new TextDecoder();

/** Our client and our server over a memory pair; the server's exec reports what its agent holds. */
async function pair(
  restrictions: { agentForwarding?: boolean } | true,
  tmpDir: string,
): Promise<{ client: SshClient; close(): Promise<void>; paths: string[] }> {
  const [a, b] = memoryPair();
  const forwarding = agentForwardingHandler({ tmpDir });
  const paths: string[] = [];
  // No withAgentEnv: the server answers the session's requests in order, so exec
  // runs once the agent socket listens, with SSH_AUTH_SOCK in its environment.
  const exec = async (s: ServerSession) => {
    const w = s.stdout.getWriter();
    const sock = s.env.SSH_AUTH_SOCK;
    if (sock) paths.push(sock);
    if (!sock) await w.write(te.encode("no agent\n"));
    else {
      try {
        const agent = await connectAgent(sock);
        const ids = await agent.identities();
        const sig = ids.length
          ? await agent.sign(ids[0].blob, te.encode("x"), { algorithm: ids[0].algorithms[0] })
          : undefined;
        agent.close();
        await w.write(te.encode(`${ids.map((i) => i.comment).join(",")} signed=${!!sig}\n`));
      } catch (e) {
        await w.write(te.encode(`error ${(e as Error).name}\n`));
      }
    }
    w.releaseLock();
    await s.exit(0);
  };
  const served = serveConnection(a, {
    hostKeys: [await generatePrivateKey("ssh-ed25519")],
    auth: { handlers: { publicKey: () => restrictions } },
    handlers: [forwarding],
    exec,
  });
  const client = await connect({
    stream: b,
    username: "u",
    privateKeys: [await generatePrivateKey("ssh-ed25519")],
    hostKey: { verify: () => true },
  });
  await served;
  return {
    client,
    paths,
    close: async () => {
      await client.close();
      await forwarding.close();
    },
  };
}

describe("agent forwarding between our client and our server", () => {
  let keys: PrivateKey[];
  const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-fwd-unit-"));

  it("forwards the client's agent to the session's SSH_AUTH_SOCK", async () => {
    keys = [
      await generatePrivateKey("ssh-ed25519"),
      await generatePrivateKey("ecdsa-sha2-nistp256"),
    ];
    const dir = tmp();
    const p = await pair(true, dir);
    try {
      const agent = memoryAgent([{ key: keys[0], comment: "one" }, {
        key: keys[1],
        comment: "two",
      }]);
      const forward = enableAgentForwarding(p.client, agent);
      assert.equal(forward.type, AGENT_FORWARDING_REQUEST);
      const r = await p.client.exec("whatever", { requests: [{ ...forward, required: true }] });
      assert.equal(td.decode(r.stdout), "one,two signed=true\n");
      // A private 0700 directory with agent.<pid> in it, removed after the session.
      const sock = p.paths[0];
      assert.match(sock, /\/ssh-[^/]+\/agent\.\d+$/);
      assert.ok(sock.startsWith(dir));
      await new Promise((res) => setTimeout(res, 50));
      assert.ok(!fs.existsSync(path.dirname(sock)));

      // A second forwarding waits behind the first; unsubscribing the first hands over.
      // A second session gets its own socket.
      const second = enableAgentForwarding(
        p.client,
        memoryAgent([{ key: keys[1], comment: "only" }]),
      );
      const r1 = await p.client.exec("again", { requests: [forward] });
      assert.equal(td.decode(r1.stdout), "one,two signed=true\n");
      forward.unsubscribe();
      const r2 = await p.client.exec("again", { requests: [second] });
      assert.equal(td.decode(r2.stdout), "only signed=true\n");
      assert.notEqual(p.paths[2], p.paths[0]);

      // Without the request: no socket.
      const r3 = await p.client.exec("plain");
      assert.equal(td.decode(r3.stdout), "no agent\n");

      // Once unsubscribed the client refuses the server's channel opens.
      second.unsubscribe();
      const r4 = await p.client.exec("refused", { requests: [forward] });
      assert.equal(td.decode(r4.stdout), "error AgentError\n");
    } finally {
      await p.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("no-agent-forwarding restrictions refuse the request", async () => {
    const dir = tmp();
    const p = await pair({ agentForwarding: false }, dir);
    try {
      enableAgentForwarding(p.client, memoryAgent([]));
      await assert.rejects(
        p.client.exec("x", { requests: [{ type: AGENT_FORWARDING_REQUEST, required: true }] }),
        SessionRequestError,
      );
      const r = await p.client.exec("x", { requests: [{ type: AGENT_FORWARDING_REQUEST }] });
      assert.equal(td.decode(r.stdout), "no agent\n");
      assert.deepEqual(fs.readdirSync(dir), []);
    } finally {
      await p.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the handler answers auth-agent-req only, once the socket listens, and closes its sockets", async () => {
    const dir = tmp();
    const handler = agentForwardingHandler({ tmpDir: dir });
    assert.deepEqual(Object.keys(handler.sessionRequest), [AGENT_FORWARDING_REQUEST]);
    const answer = handler.sessionRequest[AGENT_FORWARDING_REQUEST];
    const request = { type: AGENT_FORWARDING_REQUEST, wantReply: true, data: new Uint8Array(0) };
    const channel = { closed: new Promise(() => {}) } as unknown as Channel;
    const opened: string[] = [];
    const connection = {
      openChannel: (type: string) => {
        opened.push(type);
        return Promise.reject(new Error("no"));
      },
    } as unknown as Connection;
    const env: Record<string, string> = {};
    const ctx = {
      channel,
      connection,
      username: "u",
      auth: { username: "u", methods: [] },
      restrictions: {},
      setEnv: (k: string, v: string) => void (env[k] = v),
    };
    const verdict = await answer(request, ctx);
    assert.equal(verdict?.accepted, true);
    const sock = handler.socketPath(channel)!;
    assert.equal(env.SSH_AUTH_SOCK, sock);
    // Accepted only once the socket listens.
    const probe = await connectAgent(sock);
    probe.close();
    const refused = await answer(request, { ...ctx, restrictions: { agentForwarding: false } });
    assert.equal(refused?.accepted, false);
    assert.equal(fs.statSync(path.dirname(sock)).mode & 0o777, 0o700);
    // A local connection opens an auth-agent@openssh.com channel; refused, the local end is closed.
    await assert.rejects((await connectAgent(sock)).identities());
    assert.deepEqual(opened, [AGENT_CHANNEL_TYPE, AGENT_CHANNEL_TYPE]); // the probe, then this one
    await handler.close();
    assert.equal(handler.socketPath(channel), undefined);
    assert.deepEqual(fs.readdirSync(dir), []);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
