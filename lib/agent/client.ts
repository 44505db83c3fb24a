/**
 * An SSH agent client (draft-miller-ssh-agent): lists identities, signs,
 * adds and removes keys, over any byte stream (a unix socket to
 * `ssh-agent`, or a forwarded `auth-agent@openssh.com` channel). It
 * implements the {@link Agent} interface used by `{ type: "agent" }`
 * authentication.
 *
 * @module
 */
import process from "node:process";
import type { Agent } from "../auth/client.ts";
import { signatureAlgorithmsForKeyType } from "../keys/host_key_algorithms.ts";
import type { PrivateKey } from "../keys/types.ts";
import type { ByteStreamPair } from "../runtime/types.ts";
import { connectUnix } from "../runtime/unix.ts";
import { SshReader } from "../wire/reader.ts";
import {
  AgentError,
  AgentFramer,
  type AgentMessage,
  decodeAgentMessage,
  encodeAgentMessage,
  frameAgentMessage,
  type KeyConstraint,
  signFlagsFor,
} from "./protocol.ts";

/**
 * One identity an agent holds, as {@link Agent.identities} returns it.
 *
 * @example
 * ```ts
 * import type { AgentKey } from "./client.ts";
 * const describe = (k: AgentKey) => `${k.type} ${k.comment} (${k.algorithms.join(",")})`;
 * ```
 */
export interface AgentKey {
  /** The public key blob (RFC 4253 §6.6). */
  blob: Uint8Array;
  /** The agent's comment for it. */
  comment: string;
  /** The key type named in the blob, e.g. "ssh-ed25519". */
  type: string;
  /** Signature algorithms usable with it, preferred first. */
  algorithms: readonly string[];
}

/**
 * The signature algorithms for a key type, preferred first: the RSA SHA-2
 * pair for ssh-rsa (and its certificate), otherwise the type itself.
 *
 * @example
 * ```ts
 * import { agentKeyAlgorithms } from "./client.ts";
 * console.log(agentKeyAlgorithms("ssh-rsa")); // ["rsa-sha2-512", "rsa-sha2-256"]
 * ```
 */
export function agentKeyAlgorithms(type: string): string[] {
  const cert = "-cert-v01@openssh.com";
  if (type.endsWith(cert)) {
    const plain = type.slice(0, -cert.length);
    const algs = signatureAlgorithmsForKeyType(plain);
    return algs.length ? algs.map((a) => a + cert) : [type];
  }
  const algs = signatureAlgorithmsForKeyType(type);
  return algs.length ? algs : [type];
}

/**
 * Describes an identity from its blob and comment: the key type and the
 * algorithms it signs with.
 *
 * @example
 * ```ts
 * import { agentKey } from "./client.ts";
 * import { generatePrivateKey } from "../keys/private_key.ts";
 * const k = await generatePrivateKey("ssh-ed25519");
 * console.log(agentKey(k.publicKey.blob, "me").type); // "ssh-ed25519"
 * ```
 */
export function agentKey(blob: Uint8Array, comment: string): AgentKey {
  const type = new SshReader(blob).ascii("key type");
  return { blob, comment, type, algorithms: agentKeyAlgorithms(type) };
}

/**
 * A connection to an SSH agent. Requests are sent one at a time, in call
 * order; each resolves with the agent's answer or rejects with
 * {@link AgentError} (the agent said FAILURE, answered something else, or
 * the connection ended).
 *
 * @example
 * ```ts
 * import { connectAgent } from "./client.ts";
 * async function list() {
 *   const agent = await connectAgent();
 *   for (const k of await agent.identities()) console.log(k.type, k.comment);
 *   agent.close();
 * }
 * ```
 */
export interface AgentClient extends Agent {
  /** The identities the agent holds. */
  identities(): Promise<AgentKey[]>;
  /**
   * Signs `data` with the key `blob` for signature algorithm
   * `options.algorithm` (the RSA SHA-2 flags are chosen from it); resolves
   * with the signature blob (`string algorithm || string signature`).
   * Rejects when the agent refuses or signs with another algorithm.
   */
  sign(blob: Uint8Array, data: Uint8Array, options: { algorithm: string }): Promise<Uint8Array>;
  /** Adds a private key (ADD_IDENTITY, or ADD_ID_CONSTRAINED with `constraints`). */
  addIdentity(
    key: PrivateKey,
    comment?: string,
    options?: { constraints?: KeyConstraint[] },
  ): Promise<void>;
  /** Removes one key by its public blob. */
  removeIdentity(blob: Uint8Array): Promise<void>;
  /** Removes every key. */
  removeAllIdentities(): Promise<void>;
  /** Sends any message and resolves with the agent's answer, whatever it is. */
  request(message: AgentMessage): Promise<AgentMessage>;
  /** Closes the connection; pending requests reject. */
  close(): void;
}

/**
 * Speaks the agent protocol over `stream` (a socket to an agent, a
 * forwarded `auth-agent@openssh.com` channel, one end of a memory pair).
 *
 * @example
 * ```ts
 * import { agentClient } from "./client.ts";
 * import type { ByteStreamPair } from "../runtime/types.ts";
 * async function count(stream: ByteStreamPair) {
 *   const agent = agentClient(stream);
 *   const n = (await agent.identities()).length;
 *   agent.close();
 *   return n;
 * }
 * ```
 */
export function agentClient(
  stream: ByteStreamPair,
  options: { onClose?: () => void } = {},
): AgentClient {
  const { request, end } = agentRequests(stream, options.onClose);
  const expectSuccess = async (what: string, m: AgentMessage) => {
    const r = await request(m);
    if (r.type !== "success") {
      throw new AgentError(`the agent refused ${what} (answered ${r.type})`);
    }
  };
  return {
    request,
    async identities() {
      const r = await request({ type: "request-identities" });
      if (r.type !== "identities-answer") {
        throw new AgentError(`the agent answered REQUEST_IDENTITIES with ${r.type}`);
      }
      return r.identities.map((id) => agentKey(id.blob, id.comment));
    },
    async sign(blob, data, { algorithm }) {
      const r = await request({ type: "sign-request", blob, data, flags: signFlagsFor(algorithm) });
      if (r.type !== "sign-response") {
        throw new AgentError(`the agent refused to sign with ${algorithm} (answered ${r.type})`);
      }
      const got = new SshReader(r.signature).ascii("signature algorithm");
      const want = algorithm.replace(/-cert-v01@openssh\.com$/, "");
      if (got !== want) {
        throw new AgentError(`asked the agent for a ${want} signature, got ${got}`);
      }
      return r.signature;
    },
    addIdentity(key, comment = "", o = {}) {
      return expectSuccess("ADD_IDENTITY", {
        type: "add-identity",
        key,
        comment,
        constraints: o.constraints,
      });
    },
    removeIdentity(blob) {
      return expectSuccess("REMOVE_IDENTITY", { type: "remove-identity", blob });
    },
    removeAllIdentities() {
      return expectSuccess("REMOVE_ALL_IDENTITIES", { type: "remove-all-identities" });
    },
    close() {
      end(new AgentError("the agent connection was closed"));
    },
  };
}

/**
 * The request/answer channel to an agent over `stream`: `request` sends
 * one message at a time, in call order, and resolves with the agent's
 * answer (the protocol answers in order); `end` closes the connection and
 * rejects what is pending, once, then calls `onClose`. A read loop matches
 * each framed answer to the oldest waiting request; an answer nobody asked
 * for, a failed write or the connection's end ends it.
 */
function agentRequests(
  stream: ByteStreamPair,
  onClose: (() => void) | undefined,
): { request(message: AgentMessage): Promise<AgentMessage>; end(e: Error): void } {
  const waiting: { resolve(m: AgentMessage): void; reject(e: unknown): void }[] = [];
  let ended: Error | undefined;
  const writer = stream.writable.getWriter();
  const reader = stream.readable.getReader();
  const framer = new AgentFramer();
  const end = (e: Error) => {
    if (ended) return;
    ended = e;
    for (const w of waiting.splice(0)) w.reject(e);
    reader.cancel().catch(() => {});
    writer.close().catch(() => {});
    onClose?.();
  };
  (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      for (const body of framer.push(value)) {
        const w = waiting.shift();
        if (!w) throw new AgentError("the agent sent a message nobody asked for");
        try {
          w.resolve(decodeAgentMessage(body));
        } catch (e) {
          w.reject(e);
        }
      }
    }
    end(new AgentError("the agent closed the connection"));
  })().catch((e) =>
    end(e instanceof AgentError ? e : new AgentError(`agent connection failed: ${e}`, { cause: e }))
  );
  let chain: Promise<unknown> = Promise.resolve();
  const request = (message: AgentMessage): Promise<AgentMessage> => {
    const run = async () => {
      if (ended) throw ended;
      const frame = frameAgentMessage(encodeAgentMessage(message));
      const answer = new Promise<AgentMessage>((resolve, reject) =>
        waiting.push({ resolve, reject })
      );
      answer.catch(() => {});
      await writer.write(frame).catch((e) => {
        end(new AgentError(`could not write to the agent: ${e}`, { cause: e }));
      });
      return await answer;
    };
    const p = chain.then(run, run);
    chain = p.catch(() => {});
    return p;
  };
  return { request, end };
}

/**
 * Connects to the agent listening on the unix socket `path` (default:
 * `$SSH_AUTH_SOCK`), e.g. OpenSSH's `ssh-agent`. Works on Deno, Bun and
 * Node (see `connectUnix`). Rejects with {@link AgentError} when there is no path
 * or nothing listens there.
 *
 * @example
 * ```ts
 * import { connectAgent } from "./client.ts";
 * import { connect } from "../client.ts";
 * async function login() {
 *   const agent = await connectAgent();
 *   const c = await connect({
 *     host: "example.com", username: "me", hostKey: { knownHosts: "/home/me/.ssh/known_hosts" },
 *     authMethods: [{ type: "agent", agent }],
 *   });
 *   agent.close();
 *   return c;
 * }
 * ```
 */
export function connectAgent(
  path: string | undefined = process.env.SSH_AUTH_SOCK,
): Promise<AgentClient> {
  if (!path) {
    return Promise.reject(new AgentError("no agent: SSH_AUTH_SOCK is not set"));
  }
  return connectUnix(path).then(
    (conn) => agentClient(conn, { onClose: () => conn.close() }),
    (e) => {
      const why = e instanceof Error ? e.message : String(e);
      throw new AgentError(`cannot connect to the agent at ${path}: ${why}`, { cause: e });
    },
  );
}
