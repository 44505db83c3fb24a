/**
 * libssh2's AUTHAGENT, AUTHAGENT_IDENTITIES and AUTHAGENT_SIGN callbacks,
 * as one interface: an application implements `Agent` (`identities()` and
 * `sign()`), and rxssh uses it
 *
 * (a) for publickey authentication (`authMethods: [{ type: "agent", agent }]`):
 *     the private key never leaves the application's agent; and
 * (b) as the forwarded agent (`enableAgentForwarding` on the client,
 *     `agentForwardingHandler` on the server): the server's command finds
 *     `SSH_AUTH_SOCK`, connects to it with `connectAgent`, lists the
 *     identities and has a challenge signed, all over an
 *     `auth-agent@openssh.com` channel back to the client's agent.
 *
 * Pure library use: one process, an in-memory SSH connection, a unix
 * socket for the forwarded agent; no OpenSSH needed.
 *
 * Run: `deno run -A examples/agent.ts` or `bun examples/agent.ts`.
 *
 * @module
 */
import {
  type Agent,
  agentForwardingHandler,
  agentKey,
  connect,
  connectAgent,
  enableAgentForwarding,
  generatePrivateKey,
  memoryPair,
  type PrivateKey,
  serveConnection,
  type ServerSession,
} from "../mod.ts";

const te = new TextEncoder();
const td = new TextDecoder();

/**
 * The application's own agent: it holds one key and logs every call (the
 * libssh2 callbacks). Served on a forwarded channel, a SIGN_REQUEST calls
 * `identities()` too, to learn which algorithms the requested key signs with.
 */
function appAgent(key: PrivateKey, comment: string): Agent & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    identities() {
      calls.push("identities");
      console.log("  [app agent] identities() called");
      // type and algorithms come from the key blob; agentKey() works them out.
      return Promise.resolve([agentKey(key.publicKey.blob, comment)]);
    },
    async sign(blob, data, { algorithm }) {
      calls.push("sign");
      console.log(`  [app agent] sign() called: ${data.length} bytes, ${algorithm}`);
      const mine = key.publicKey.blob;
      if (blob.length !== mine.length || blob.some((b, i) => b !== mine[i])) {
        throw new Error("this agent does not hold that key");
      }
      return await key.sign(algorithm, data);
    },
  };
}

const userKey = await generatePrivateKey("ssh-ed25519");
const agent = appAgent(userKey, "alice@app-agent");
const hostKey = await generatePrivateKey("ssh-ed25519");
console.log(`user key ${userKey.publicKey.fingerprint()} lives only in the application's agent`);

// The server: publickey for exactly this key, agent forwarding as sshd does it.
const forwarding = agentForwardingHandler();
/** A command that uses the forwarded agent, purely through the library. */
async function useForwardedAgent(s: ServerSession): Promise<void> {
  const out = s.stdout.getWriter();
  const say = (line: string) => out.write(te.encode(line + "\n"));
  const sock = s.env.SSH_AUTH_SOCK;
  await say(`SSH_AUTH_SOCK=${sock ? "set" : "missing"}`);
  const remote = await connectAgent(sock);
  const ids = await remote.identities();
  for (const id of ids) {
    await say(`identity: ${id.type} ${id.comment} (${id.algorithms.join(",")})`);
  }
  const challenge = crypto.getRandomValues(new Uint8Array(32));
  const sig = await remote.sign(ids[0].blob, challenge, { algorithm: ids[0].algorithms[0] });
  const ok = await userKey.publicKey.verify(sig, challenge, { algorithm: ids[0].algorithms[0] });
  await say(`challenge signed through the forwarded agent: signature valid ${ok}`);
  remote.close();
  out.releaseLock();
  await s.exit(0);
}

const [clientEnd, serverEnd] = memoryPair();
const serving = serveConnection(serverEnd, {
  hostKeys: [hostKey],
  auth: {
    handlers: {
      publicKey: (user, key) =>
        user === "alice" && key.fingerprint() === userKey.publicKey.fingerprint(),
    },
  },
  handlers: [forwarding],
  exec: useForwardedAgent,
});

console.log("\n(a) publickey authentication through the Agent");
const client = await connect({
  stream: clientEnd,
  username: "alice",
  hostKey: { fingerprint: hostKey.publicKey.fingerprint() },
  authMethods: [{ type: "agent", agent }],
});
const server = await serving;
console.log(
  `  server: ${server.username} authenticated with ${server.auth.methods.join("+")}; ` +
    `agent calls so far: ${agent.calls.join(", ")}`,
);

console.log("\n(b) the same Agent served on forwarded auth-agent@openssh.com channels");
let channels = 0;
client.connection.event$.subscribe((e) => {
  if (e.type === "channel-open" && e.channelType === "auth-agent@openssh.com" && e.accepted) {
    channels++;
    console.log(`  client: the server opened ${e.channelType} channel #${channels}`);
  }
});
const before = agent.calls.length;
const forward = enableAgentForwarding(client, agent);
const r = await client.exec("use-agent", { requests: [forward] });
for (const line of td.decode(r.stdout).trimEnd().split("\n")) console.log(`  server says: ${line}`);
console.log(
  `  exit ${r.code}; agent calls through forwarding: ${agent.calls.slice(before).join(", ")}`,
);

await client.close();
await forwarding.close();
console.log("\nagent example done");
