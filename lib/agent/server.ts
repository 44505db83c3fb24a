/**
 * The agent side of the SSH agent protocol (draft-miller-ssh-agent):
 * answers REQUEST_IDENTITIES and SIGN_REQUEST (and, for an agent that can
 * change, ADD_IDENTITY, REMOVE_IDENTITY and REMOVE_ALL_IDENTITIES) on any
 * byte stream: a forwarded `auth-agent@openssh.com` channel, or a unix
 * socket that OpenSSH's `ssh` and `ssh-add` talk to. This is libssh2's
 * AUTHAGENT_IDENTITIES / AUTHAGENT_SIGN callbacks as one function.
 *
 * @module
 */
import type { Agent } from "../auth/client.ts";
import type { PrivateKey } from "../keys/types.ts";
import type { ByteStreamPair } from "../runtime/types.ts";
import { listenUnix } from "../runtime/unix.ts";
import { type AgentKey, agentKey } from "./client.ts";
import {
  AgentFramer,
  type AgentMessage,
  decodeAgentMessage,
  encodeAgentMessage,
  frameAgentMessage,
  SignFlag,
} from "./protocol.ts";
import { constantTimeEqual } from "../crypto/constant_time.ts";

/**
 * An {@link Agent} whose keys can also be added and removed (what
 * `ssh-add`, `ssh-add -d` and `ssh-add -D` ask for). {@link serveAgent}
 * answers those requests with FAILURE for agents without these methods.
 *
 * @example
 * ```ts
 * import type { MutableAgent } from "./server.ts";
 * const canAdd = (a: MutableAgent) => typeof a.add === "function";
 * ```
 */
export interface MutableAgent extends Agent {
  /** Adds a key (ADD_IDENTITY); a key already held gets the new comment. */
  add?(key: PrivateKey, comment: string): void | Promise<void>;
  /** Removes a key by its public blob; false when it was not held. */
  remove?(blob: Uint8Array): boolean | Promise<boolean>;
  /** Removes every key. */
  removeAll?(): void | Promise<void>;
}

/**
 * An agent that keeps private keys in memory, from {@link memoryAgent}.
 *
 * @example
 * ```ts
 * import { memoryAgent } from "./server.ts";
 * import { generatePrivateKey } from "../keys/private_key.ts";
 * const agent = memoryAgent([await generatePrivateKey("ssh-ed25519")]);
 * console.log(agent.keys.length); // 1
 * ```
 */
export interface MemoryAgent extends MutableAgent {
  /** The identities held, in the order added. */
  identities(): Promise<AgentKey[]>;
  /** Adds a key; a key already held gets the new comment. */
  add(key: PrivateKey, comment?: string): void;
  /** Removes a key by its public blob; false when it was not held. */
  remove(blob: Uint8Array): boolean;
  /** Removes every key. */
  removeAll(): void;
  /** The keys held, in the order added. */
  readonly keys: readonly PrivateKey[];
}

/**
 * An in-memory agent holding `keys` (each a key, or a key with its
 * comment). `sign` refuses keys it does not hold and algorithms the key
 * cannot produce.
 *
 * @example
 * ```ts
 * import { memoryAgent } from "./server.ts";
 * import { generatePrivateKey } from "../keys/private_key.ts";
 * const key = await generatePrivateKey("ssh-ed25519");
 * const agent = memoryAgent([{ key, comment: "me@laptop" }]);
 * const [id] = await agent.identities();
 * const sig = await agent.sign(id.blob, new Uint8Array([1, 2, 3]), { algorithm: "ssh-ed25519" });
 * console.log(await key.publicKey.verify(sig, new Uint8Array([1, 2, 3]), { algorithm: "ssh-ed25519" })); // true
 * ```
 */
export function memoryAgent(
  keys: readonly (PrivateKey | { key: PrivateKey; comment: string })[] = [],
): MemoryAgent {
  const held: { key: PrivateKey; comment: string }[] = [];
  const find = (blob: Uint8Array) =>
    held.findIndex((h) => constantTimeEqual(h.key.publicKey.blob, blob));
  const agent: MemoryAgent = {
    get keys() {
      return held.map((h) => h.key);
    },
    identities: () => Promise.resolve(held.map((h) => agentKey(h.key.publicKey.blob, h.comment))),
    async sign(blob, data, { algorithm }) {
      const i = find(blob);
      if (i < 0) throw new Error("the agent does not hold this key");
      return await held[i].key.sign(algorithm, data);
    },
    add(key, comment = "") {
      const i = find(key.publicKey.blob);
      if (i >= 0) held[i] = { key, comment };
      else held.push({ key, comment });
    },
    remove(blob) {
      const i = find(blob);
      if (i < 0) return false;
      held.splice(i, 1);
      return true;
    },
    removeAll() {
      held.length = 0;
    },
  };
  for (const k of keys) {
    if ("key" in k && "comment" in k) agent.add(k.key, k.comment);
    else agent.add(k as PrivateKey, "");
  }
  return agent;
}

/** The signature algorithm a SIGN_REQUEST asks for (§4.5.1). */
function requestedAlgorithm(id: AgentKey, flags: number): string {
  const isRsa = id.type === "ssh-rsa" || id.type === "ssh-rsa-cert-v01@openssh.com";
  if (!isRsa) return id.algorithms[0];
  const suffix = id.type === "ssh-rsa" ? "" : "-cert-v01@openssh.com";
  if (flags & SignFlag.RSA_SHA2_512) return "rsa-sha2-512" + suffix;
  if (flags & SignFlag.RSA_SHA2_256) return "rsa-sha2-256" + suffix;
  return "ssh-rsa" + suffix; // SHA-1: our keys refuse it, so the request fails.
}

/** Answers one request; any error becomes FAILURE. */
async function answer(agent: MutableAgent, m: AgentMessage): Promise<AgentMessage> {
  const failure: AgentMessage = { type: "failure" };
  try {
    switch (m.type) {
      case "request-identities": {
        const ids = await agent.identities();
        return {
          type: "identities-answer",
          identities: ids.map((i) => ({ blob: i.blob, comment: i.comment })),
        };
      }
      case "sign-request": {
        const ids = await agent.identities();
        const id = ids.find((i) => constantTimeEqual(i.blob, m.blob));
        if (!id) return failure;
        const full = id.type ? id : agentKey(id.blob, id.comment);
        const algorithm = requestedAlgorithm(full, m.flags);
        return {
          type: "sign-response",
          signature: await agent.sign(m.blob, m.data, { algorithm }),
        };
      }
      case "add-identity":
        // Constraints we cannot honour (lifetime, confirm) must not be ignored silently.
        if (!agent.add || (m.constraints && m.constraints.length)) return failure;
        await agent.add(m.key, m.comment);
        return { type: "success" };
      case "remove-identity":
        if (!agent.remove) return failure;
        return (await agent.remove(m.blob)) ? { type: "success" } : failure;
      case "remove-all-identities":
        if (!agent.removeAll) return failure;
        await agent.removeAll();
        return { type: "success" };
      default:
        // LOCK/UNLOCK, smartcards, extensions (session-bind@openssh.com, query): not offered.
        return failure;
    }
  } catch {
    return failure;
  }
}

/**
 * Serves the agent protocol on `stream` until the peer closes it: each
 * request is answered in order. `agent` is any {@link Agent} (add and
 * remove work when it is a {@link MutableAgent}), or `{ keys }` for an
 * in-memory agent. Resolves when the stream ends; a framing error (a
 * message over 256 KiB, a zero length) closes the stream and resolves too.
 * A message that does not decode is answered with FAILURE.
 *
 * @example
 * ```ts
 * import { memoryAgent, serveAgent } from "./server.ts";
 * import { agentClient } from "./client.ts";
 * import { memoryPair } from "../runtime/memory.ts";
 * import { generatePrivateKey } from "../keys/private_key.ts";
 * const [a, b] = memoryPair();
 * const served = serveAgent(a, memoryAgent([await generatePrivateKey("ssh-ed25519")]));
 * const client = agentClient(b);
 * console.log((await client.identities()).length); // 1
 * client.close();
 * await served;
 * ```
 */
export async function serveAgent(
  stream: ByteStreamPair,
  agent: MutableAgent | { keys: readonly PrivateKey[] },
): Promise<void> {
  const a: MutableAgent = "identities" in agent ? agent : memoryAgent(agent.keys);
  const reader = stream.readable.getReader();
  const writer = stream.writable.getWriter();
  const framer = new AgentFramer();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      for (const body of framer.push(value)) {
        let m: AgentMessage;
        try {
          m = decodeAgentMessage(body);
        } catch {
          m = { type: "unknown", code: body[0], body: new Uint8Array(0) };
        }
        await writer.write(frameAgentMessage(encodeAgentMessage(await answer(a, m))));
      }
    }
  } catch {
    // A framing error or a write to a closed stream: the conversation is over.
    reader.cancel().catch(() => {});
  } finally {
    reader.releaseLock();
    await writer.close().catch(() => {});
  }
}

/**
 * A unix socket serving an agent, from {@link listenAgent}.
 *
 * @example
 * ```ts
 * import type { AgentSocket } from "./server.ts";
 * const env = (s: AgentSocket) => ({ SSH_AUTH_SOCK: s.path });
 * ```
 */
export interface AgentSocket {
  /** The socket's path (for SSH_AUTH_SOCK). */
  readonly path: string;
  /** Stops listening and removes the socket file; open connections end too. */
  close(): Promise<void>;
}

/**
 * Serves `agent` on a unix socket at `path` (mode 0600), so that OpenSSH's
 * `ssh` and `ssh-add` can use it with `SSH_AUTH_SOCK=path`. Works on Deno,
 * Bun and Node (see `listenUnix`). Rejects when the path is taken.
 *
 * @example
 * ```ts
 * import { listenAgent, memoryAgent } from "./server.ts";
 * import { generatePrivateKey } from "../keys/private_key.ts";
 * import * as os from "node:os";
 * import * as path from "node:path";
 * const socket = await listenAgent(
 *   path.join(os.tmpdir(), `agent-${Date.now()}.sock`),
 *   memoryAgent([await generatePrivateKey("ssh-ed25519")]),
 * );
 * console.log(`SSH_AUTH_SOCK=${socket.path}`);
 * await socket.close();
 * ```
 */
export async function listenAgent(
  path: string,
  agent: MutableAgent | { keys: readonly PrivateKey[] },
): Promise<AgentSocket> {
  const served: MutableAgent = "identities" in agent ? agent : memoryAgent(agent.keys);
  const listener = await listenUnix(path, { mode: 0o600 });
  const open = new Set<{ close(): void }>();
  const serving = (async () => {
    for await (const conn of listener) {
      open.add(conn);
      serveAgent(conn, served).finally(() => {
        open.delete(conn);
        conn.close();
      });
    }
  })().catch(() => {}); // a failed listener ends like a closed one
  let closing: Promise<void> | undefined;
  return {
    path,
    close: () =>
      closing ??= (async () => {
        listener.close(); // removes the socket file
        for (const c of open) c.close();
        open.clear();
        await serving;
      })(),
  };
}
