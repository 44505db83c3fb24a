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
 * const e = new AuthenticationError("alice", {
 *   allowed: ["publickey"],
 *   tried: ["publickey", "password"],
 * });
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
  /** Creates the error: what the server still `allowed` at the end, and what was `tried`. */
  constructor(
    username: string,
    methods: { allowed: readonly string[]; tried: readonly string[] },
  ) {
    const { allowed, tried } = methods;
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
  /** Signs `data` with the key `blob`, producing a signature blob with `options.algorithm`. */
  sign(blob: Uint8Array, data: Uint8Array, options: { algorithm: string }): Promise<Uint8Array>;
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

/** The service authentication is for. */
const SERVICE = "ssh-connection";

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
  try {
    // Ask with "none" first: success, or the list of methods that can continue.
    await t.send(encodeSimpleAuthRequest({ user, service: SERVICE, method: "none" }));
    const reply = await next();
    if (reply[0] === Msg.USERAUTH_SUCCESS) return "none";
    let allowed = decodeAuthFailure(reply).methods;
    tried.push("none");
    for (const m of options.methods) {
      const name = AUTH_METHOD_NAME[m.type];
      if (m.type === "none" || !allowed.includes(name)) continue;
      tried.push(name);
      const c: Exchange = { t, user, next, allowed };
      const attempt = m.type === "password"
        ? await tryPassword(c, m)
        : m.type === "keyboard-interactive"
        ? await tryKeyboardInteractive(c, m)
        : await tryKeys(c, await signingKeys(m));
      allowed = attempt.allowed;
      const result = attempt.reply;
      if (!result) continue;
      if (result[0] === Msg.USERAUTH_SUCCESS) return name;
      const f = decodeAuthFailure(result);
      allowed = f.methods;
      if (f.partialSuccess) options.onPartialSuccess?.(name, allowed);
    }
    throw new AuthenticationError(user, { allowed, tried });
  } finally {
    reader.releaseLock();
  }
}

/** What one method's exchange with the server needs. */
interface Exchange {
  t: Transport;
  user: string;
  /** The server's next message, banners handled. */
  next: () => Promise<Uint8Array>;
  /** The methods the server allowed before this one started. */
  allowed: string[];
}

/**
 * How one method's exchange ended: `reply` is the server's USERAUTH_SUCCESS
 * or USERAUTH_FAILURE that concludes it, absent when the method gave up
 * (then `allowed` is what the server still allows).
 */
interface Attempt {
  reply?: Uint8Array;
  allowed: string[];
}

/** "password" (RFC 4252 §8). */
async function tryPassword(
  c: Exchange,
  m: Extract<AuthMethod, { type: "password" }>,
): Promise<Attempt> {
  const { allowed } = c;
  const password = typeof m.password === "function" ? await m.password() : m.password;
  await c.t.send(
    encodeSimpleAuthRequest({ user: c.user, service: SERVICE, method: "password", password }),
  );
  const reply = await c.next();
  if (reply[0] === Msg.USERAUTH_PASSWD_CHANGEREQ) {
    // RFC 4252 §8: we do not change passwords; count as failure.
    return { allowed: allowed.filter((x) => x !== "password") };
  }
  return { reply, allowed };
}

/** "keyboard-interactive" (RFC 4256 §3): every INFO_REQUEST answered until the verdict. */
async function tryKeyboardInteractive(
  c: Exchange,
  m: Extract<AuthMethod, { type: "keyboard-interactive" }>,
): Promise<Attempt> {
  const { allowed } = c;
  await c.t.send(
    encodeSimpleAuthRequest({ user: c.user, service: SERVICE, method: "keyboard-interactive" }),
  );
  for (;;) {
    const reply = await c.next();
    if (reply[0] !== Msg.USERAUTH_INFO_REQUEST) return { reply, allowed };
    const challenge = decodeInfoRequest(reply);
    const answers = await m.respond(challenge);
    await c.t.send(encodeInfoResponse(answers));
  }
}

/** A key to try: its public blob, its signature algorithms, and how to sign with it. */
interface SigningKey {
  blob: Uint8Array;
  algorithms: readonly string[];
  sign(data: Uint8Array, algorithm: string): Promise<Uint8Array>;
}

/** The keys of a "publickey" method (one) or an "agent" method (every identity). */
async function signingKeys(
  m: Extract<AuthMethod, { type: "publickey" | "agent" }>,
): Promise<SigningKey[]> {
  if (m.type === "publickey") {
    return [{
      blob: m.key.publicKey.blob,
      algorithms: m.key.algorithms,
      sign: (d, a) => m.key.sign(a, d),
    }];
  }
  return (await m.agent.identities()).map((id) => ({
    blob: id.blob,
    algorithms: id.algorithms,
    sign: (d, a) => m.agent.sign(id.blob, d, { algorithm: a }),
  }));
}

/**
 * "publickey" (RFC 4252 §7) with each key in turn: a query first, a
 * signature only for a key the server would accept. Ends at success or
 * partial success, or when no key is left.
 */
async function tryKeys(c: Exchange, keys: SigningKey[]): Promise<Attempt> {
  const { t, user } = c;
  let { allowed } = c;
  const sigAlgs = () => {
    const v = t.peerExtensions.get("server-sig-algs");
    return v ? new TextDecoder().decode(v).split(",") : undefined;
  };
  for (const k of keys) {
    const algorithm = pickAlgorithm(k.algorithms, sigAlgs());
    const req = { user, service: SERVICE, algorithm, key: k.blob };
    // RFC 4252 §7: ask whether the key would be accepted before signing.
    await t.send(encodePublicKeyAuthRequest(req));
    const q = await c.next();
    if (q[0] !== Msg.USERAUTH_PK_OK) {
      if (q[0] === Msg.USERAUTH_SUCCESS) return { reply: q, allowed };
      allowed = decodeAuthFailure(q).methods;
      continue;
    }
    const signature = await k.sign(publicKeySignedData(t.sessionId!, req), algorithm);
    await t.send(encodePublicKeyAuthRequest({ ...req, signature }));
    const reply = await c.next();
    if (reply[0] === Msg.USERAUTH_SUCCESS) return { reply, allowed };
    const f = decodeAuthFailure(reply);
    allowed = f.methods;
    if (f.partialSuccess) return { reply, allowed };
  }
  return { allowed };
}
