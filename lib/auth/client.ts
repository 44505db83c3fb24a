/**
 * Client user authentication (RFC 4252, RFC 4256): none, password,
 * publickey (query, then sign), keyboard-interactive.
 *
 * @module
 */
import type { PrivateKey } from "../keys/types.ts";
import type { Transport } from "../transport/transport.ts";
import {
  decodeAuthBanner,
  decodeAuthFailure,
  decodeInfoRequest,
  encodeInfoResponse,
  encodePublicKeyAuthRequest,
  encodeSimpleAuthRequest,
  type InfoPrompt,
  publicKeySignedData,
} from "../wire/auth_messages.ts";
import { SshError } from "../wire/errors.ts";
import { Msg } from "../wire/message_numbers.ts";

/**
 * Authentication failed: no method the server allows succeeded.
 *
 * @example
 * ```ts
 * import { AuthenticationError } from "./client.ts";
 * const e = new AuthenticationError("alice", ["publickey"], ["publickey", "password"]);
 * console.log(e.message);
 * ```
 */
export class AuthenticationError extends SshError {
  /** The user name. */
  readonly username: string;
  /** Methods the server still allowed at the end. */
  readonly allowed: readonly string[];
  /** Methods we tried. */
  readonly tried: readonly string[];
  /** Creates the error. */
  constructor(username: string, allowed: readonly string[], tried: readonly string[]) {
    super(
      `authentication as ${JSON.stringify(username)} failed: tried ${
        tried.join(", ") || "nothing"
      }; ` +
        `server allows ${allowed.join(", ") || "nothing"}`,
    );
    this.username = username;
    this.allowed = allowed;
    this.tried = tried;
  }
}

/**
 * A private key held elsewhere (an SSH agent): it lists identities and signs.
 *
 * @example
 * ```ts
 * import type { Agent } from "./client.ts";
 * const empty: Agent = { identities: async () => [], sign: async () => { throw new Error("no keys"); } };
 * ```
 */
export interface Agent {
  /** The public keys the agent holds (blobs) with their comments. */
  identities(): Promise<
    { blob: Uint8Array; comment: string; type: string; algorithms: readonly string[] }[]
  >;
  /** Signs `data` with the key `blob`, producing a signature blob with `algorithm`. */
  sign(blob: Uint8Array, data: Uint8Array, algorithm: string): Promise<Uint8Array>;
}

/**
 * One way to authenticate; tried in the order given.
 *
 * @example
 * ```ts
 * import type { AuthMethod } from "./client.ts";
 * const methods: AuthMethod[] = [{ type: "password", password: "hunter2" }];
 * ```
 */
export type AuthMethod =
  | { type: "none" }
  | { type: "password"; password: string | (() => string | Promise<string>) }
  | { type: "publickey"; key: PrivateKey }
  | { type: "agent"; agent: Agent }
  | {
    type: "keyboard-interactive";
    respond: (
      challenge: { name: string; instruction: string; prompts: InfoPrompt[] },
    ) => string[] | Promise<string[]>;
  };

/**
 * Options of {@link authenticate}.
 *
 * @example
 * ```ts
 * import type { ClientAuthOptions } from "./client.ts";
 * const o: ClientAuthOptions = { username: "alice", methods: [{ type: "none" }], onBanner: console.log };
 * ```
 */
export interface ClientAuthOptions {
  /** User name. */
  username: string;
  /** Methods, in the order to try them. */
  methods: readonly AuthMethod[];
  /** Receives SSH_MSG_USERAUTH_BANNER text. */
  onBanner?: (message: string) => void;
  /** Called on partial success (another method is required). */
  onPartialSuccess?: (method: string, remaining: readonly string[]) => void;
}

const AUTH_METHOD_NAME: Record<AuthMethod["type"], string> = {
  none: "none",
  password: "password",
  publickey: "publickey",
  agent: "publickey",
  "keyboard-interactive": "keyboard-interactive",
};

/** The signature algorithm to use for a key, honouring server-sig-algs (RFC 8308 §3.1, RFC 8332 §3.3). */
function pickAlgorithm(algorithms: readonly string[], serverSigAlgs: string[] | undefined): string {
  if (!serverSigAlgs) return algorithms[0];
  return algorithms.find((a) => serverSigAlgs.includes(a)) ?? algorithms[0];
}

/**
 * Authenticates over a transport whose key exchange is done. Resolves with
 * the method that completed; rejects with {@link AuthenticationError}.
 * On success `transport.messages` is free for the connection layer.
 *
 * @example
 * ```ts
 * import { authenticate } from "./client.ts";
 * import type { Transport } from "../transport/transport.ts";
 * async function login(t: Transport) {
 *   await authenticate(t, { username: "alice", methods: [{ type: "password", password: "s3cret" }] });
 * }
 * ```
 */
export async function authenticate(t: Transport, options: ClientAuthOptions): Promise<string> {
  await t.requestService("ssh-userauth");
  const user = options.username;
  const service = "ssh-connection";
  const reader = t.messages.getReader();
  const tried: string[] = [];
  const next = async (): Promise<Uint8Array> => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new SshError("connection closed during authentication");
      if (value[0] === Msg.USERAUTH_BANNER) {
        options.onBanner?.(decodeAuthBanner(value).message);
        continue;
      }
      return value;
    }
  };
  const sigAlgs = () => {
    const v = t.peerExtensions.get("server-sig-algs");
    return v ? new TextDecoder().decode(v).split(",") : undefined;
  };
  try {
    // Ask with "none" first: success, or the list of methods that can continue.
    await t.send(encodeSimpleAuthRequest({ user, service, method: "none" }));
    const reply = await next();
    if (reply[0] === Msg.USERAUTH_SUCCESS) return "none";
    let allowed = decodeAuthFailure(reply).methods;
    tried.push("none");
    const remaining = [...options.methods];
    while (remaining.length) {
      const m = remaining.shift()!;
      const name = AUTH_METHOD_NAME[m.type];
      if (m.type === "none" || !allowed.includes(name)) continue;
      tried.push(name);
      let result: Uint8Array | undefined;
      if (m.type === "password") {
        const password = typeof m.password === "function" ? await m.password() : m.password;
        await t.send(encodeSimpleAuthRequest({ user, service, method: "password", password }));
        result = await next();
        if (result[0] === Msg.USERAUTH_PASSWD_CHANGEREQ) {
          // RFC 4252 §8: we do not change passwords; count as failure.
          result = undefined;
          allowed = allowed.filter((x) => x !== "password");
          continue;
        }
      } else if (m.type === "publickey" || m.type === "agent") {
        const keys = m.type === "publickey"
          ? [{
            blob: m.key.publicKey.blob,
            algorithms: m.key.algorithms,
            sign: (d: Uint8Array, a: string) => m.key.sign(a, d),
          }]
          : (await m.agent.identities()).map((id) => ({
            blob: id.blob,
            algorithms: id.algorithms,
            sign: (d: Uint8Array, a: string) => m.agent.sign(id.blob, d, a),
          }));
        for (const k of keys) {
          const algorithm = pickAlgorithm(k.algorithms, sigAlgs());
          const req = { user, service, algorithm, key: k.blob };
          // RFC 4252 §7: ask whether the key would be accepted before signing.
          await t.send(encodePublicKeyAuthRequest(req));
          const q = await next();
          if (q[0] !== Msg.USERAUTH_PK_OK) {
            if (q[0] === Msg.USERAUTH_SUCCESS) return name;
            allowed = decodeAuthFailure(q).methods;
            continue;
          }
          const signature = await k.sign(publicKeySignedData(t.sessionId!, req), algorithm);
          await t.send(encodePublicKeyAuthRequest({ ...req, signature }));
          result = await next();
          if (result[0] === Msg.USERAUTH_SUCCESS) break;
          const f = decodeAuthFailure(result);
          allowed = f.methods;
          if (f.partialSuccess) break;
          result = undefined;
        }
        if (!result) continue;
      } else {
        await t.send(encodeSimpleAuthRequest({ user, service, method: "keyboard-interactive" }));
        for (;;) {
          result = await next();
          if (result[0] !== Msg.USERAUTH_INFO_REQUEST) break;
          const challenge = decodeInfoRequest(result);
          const answers = await m.respond(challenge);
          await t.send(encodeInfoResponse(answers));
        }
      }
      if (result[0] === Msg.USERAUTH_SUCCESS) return name;
      const f = decodeAuthFailure(result);
      allowed = f.methods;
      if (f.partialSuccess) options.onPartialSuccess?.(name, allowed);
    }
    throw new AuthenticationError(user, allowed, tried);
  } finally {
    reader.releaseLock();
  }
}
