/**
 * The SSH agent protocol (draft-miller-ssh-agent): message numbers, the
 * uint32 length framing (§3), and one encode/decode pair for the messages
 * rxssh speaks: REQUEST_IDENTITIES / IDENTITIES_ANSWER (§4.4), SIGN_REQUEST /
 * SIGN_RESPONSE with the RSA SHA-2 flags (§4.5), ADD_IDENTITY and
 * ADD_ID_CONSTRAINED (§4.2), REMOVE_IDENTITY and REMOVE_ALL_IDENTITIES
 * (§4.3), EXTENSION (§4.7), SUCCESS and FAILURE (§4.1).
 *
 * Decoders take views at any offset and throw {@link WireError} (naming the
 * field and offset) for truncated or malformed input, or {@link AgentError}
 * for a frame that is too large or a private key that does not check out.
 *
 * @module
 */
import { EcdsaPrivateKey, ecdsaPrivateKey } from "../keys/ecdsa.ts";
import { Ed25519PrivateKey, ed25519PrivateKey } from "../keys/ed25519.ts";
import { KeyError } from "../keys/errors.ts";
import { RsaPrivateKey, rsaPrivateKey } from "../keys/rsa.ts";
import type { PrivateKey } from "../keys/types.ts";
import { SshError, WireError } from "../wire/errors.ts";
import { SshReader } from "../wire/reader.ts";
import { SshWriter } from "../wire/writer.ts";
import { constantTimeEqual } from "../crypto/constant_time.ts";

/**
 * Agent message numbers (draft-miller-ssh-agent §6.1).
 *
 * @example
 * ```ts
 * import { AgentMsg } from "./protocol.ts";
 * console.log(AgentMsg.SIGN_REQUEST); // 13
 * ```
 */
export const AgentMsg = {
  FAILURE: 5,
  SUCCESS: 6,
  REQUEST_IDENTITIES: 11,
  IDENTITIES_ANSWER: 12,
  SIGN_REQUEST: 13,
  SIGN_RESPONSE: 14,
  ADD_IDENTITY: 17,
  REMOVE_IDENTITY: 18,
  REMOVE_ALL_IDENTITIES: 19,
  ADD_SMARTCARD_KEY: 20,
  REMOVE_SMARTCARD_KEY: 21,
  LOCK: 22,
  UNLOCK: 23,
  ADD_ID_CONSTRAINED: 25,
  ADD_SMARTCARD_KEY_CONSTRAINED: 26,
  EXTENSION: 27,
  EXTENSION_FAILURE: 28,
} as const;

/**
 * SIGN_REQUEST flags (draft-miller-ssh-agent §4.5.1): which hash an ssh-rsa
 * key signs with.
 *
 * @example
 * ```ts
 * import { SignFlag } from "./protocol.ts";
 * console.log(SignFlag.RSA_SHA2_512); // 4
 * ```
 */
export const SignFlag = {
  RSA_SHA2_256: 2,
  RSA_SHA2_512: 4,
} as const;

/**
 * Key constraint identifiers (draft-miller-ssh-agent §4.2.6).
 *
 * @example
 * ```ts
 * import { KeyConstraintType } from "./protocol.ts";
 * console.log(KeyConstraintType.LIFETIME); // 1
 * ```
 */
export const KeyConstraintType = {
  LIFETIME: 1,
  CONFIRM: 2,
  EXTENSION: 255,
} as const;

/**
 * The largest agent message accepted (OpenSSH's AGENT_MAX_LEN, 256 KiB).
 *
 * @example
 * ```ts
 * import { AGENT_MAX_MESSAGE } from "./protocol.ts";
 * console.log(AGENT_MAX_MESSAGE); // 262144
 * ```
 */
export const AGENT_MAX_MESSAGE = 256 * 1024;

/**
 * An agent exchange went wrong: the agent answered FAILURE, sent a message
 * that does not fit the request, a frame exceeded {@link AGENT_MAX_MESSAGE},
 * or the connection to the agent ended.
 *
 * @example
 * ```ts
 * import { AgentError } from "./protocol.ts";
 * const e = new AgentError("the agent refused SIGN_REQUEST");
 * console.log(e.name); // "AgentError"
 * ```
 */
export class AgentError extends SshError {}

/**
 * One key constraint of ADD_ID_CONSTRAINED (§4.2.6).
 *
 * @example
 * ```ts
 * import type { KeyConstraint } from "./protocol.ts";
 * const c: KeyConstraint[] = [{ type: "lifetime", seconds: 60 }, { type: "confirm" }];
 * ```
 */
export type KeyConstraint =
  | { type: "lifetime"; seconds: number }
  | { type: "confirm" }
  | { type: "extension"; name: string; data: Uint8Array };

/**
 * An identity as IDENTITIES_ANSWER lists it: a public key blob (RFC 4253
 * §6.6) and its comment.
 *
 * @example
 * ```ts
 * import type { AgentIdentity } from "./protocol.ts";
 * const id: AgentIdentity = { blob: new Uint8Array(0), comment: "me@host" };
 * ```
 */
export interface AgentIdentity {
  /** The public key blob. */
  blob: Uint8Array;
  /** The comment (UTF-8). */
  comment: string;
}

/**
 * Every agent message rxssh encodes or decodes; messages it does not know
 * decode as `unknown` with their raw body.
 *
 * @example
 * ```ts
 * import type { AgentMessage } from "./protocol.ts";
 * const m: AgentMessage = { type: "sign-request", blob: new Uint8Array(0), data: new Uint8Array(0), flags: 4 };
 * ```
 */
export type AgentMessage =
  | { type: "failure" }
  | { type: "success" }
  | { type: "request-identities" }
  | { type: "identities-answer"; identities: AgentIdentity[] }
  | { type: "sign-request"; blob: Uint8Array; data: Uint8Array; flags: number }
  | { type: "sign-response"; signature: Uint8Array }
  | {
    type: "add-identity";
    key: PrivateKey;
    comment: string;
    /** Present (possibly empty) for ADD_ID_CONSTRAINED. */
    constraints?: KeyConstraint[];
  }
  | { type: "remove-identity"; blob: Uint8Array }
  | { type: "remove-all-identities" }
  | { type: "extension"; name: string; data: Uint8Array }
  | { type: "extension-failure" }
  | { type: "unknown"; code: number; body: Uint8Array };

/**
 * The SIGN_REQUEST flags that ask for signature algorithm `algorithm`: 2
 * for rsa-sha2-256, 4 for rsa-sha2-512 (and their certificate names), 0
 * otherwise.
 *
 * @example
 * ```ts
 * import { signFlagsFor } from "./protocol.ts";
 * console.log(signFlagsFor("rsa-sha2-256"), signFlagsFor("ssh-ed25519")); // 2 0
 * ```
 */
export function signFlagsFor(algorithm: string): number {
  if (algorithm.startsWith("rsa-sha2-256")) return SignFlag.RSA_SHA2_256;
  if (algorithm.startsWith("rsa-sha2-512")) return SignFlag.RSA_SHA2_512;
  return 0;
}

/** The key types whose private fields ADD_IDENTITY carries (§4.2.1 – §4.2.4). */
function privateFields(key: PrivateKey): Uint8Array {
  if (
    key instanceof Ed25519PrivateKey || key instanceof EcdsaPrivateKey ||
    key instanceof RsaPrivateKey
  ) {
    return key.opensshPrivateFields();
  }
  throw new AgentError(
    `cannot send a ${key.type} key to an agent: only Ed25519PrivateKey, EcdsaPrivateKey and ` +
      "RsaPrivateKey expose their private fields",
  );
}

function writeConstraints(w: SshWriter, constraints: readonly KeyConstraint[]): void {
  for (const c of constraints) {
    if (c.type === "lifetime") w.byte(KeyConstraintType.LIFETIME).uint32(c.seconds);
    else if (c.type === "confirm") w.byte(KeyConstraintType.CONFIRM);
    else w.byte(KeyConstraintType.EXTENSION).string(c.name).raw(c.data);
  }
}

/**
 * Encodes an agent message body (message number and contents, without the
 * length prefix; see {@link frameAgentMessage}).
 *
 * @example
 * ```ts
 * import { encodeAgentMessage } from "./protocol.ts";
 * console.log(encodeAgentMessage({ type: "request-identities" })); // Uint8Array [ 11 ]
 * ```
 */
export function encodeAgentMessage(m: AgentMessage): Uint8Array {
  const w = new SshWriter(64);
  switch (m.type) {
    case "failure":
      return w.byte(AgentMsg.FAILURE).finish();
    case "success":
      return w.byte(AgentMsg.SUCCESS).finish();
    case "request-identities":
      return w.byte(AgentMsg.REQUEST_IDENTITIES).finish();
    case "identities-answer":
      w.byte(AgentMsg.IDENTITIES_ANSWER).uint32(m.identities.length);
      for (const id of m.identities) w.string(id.blob).string(id.comment);
      return w.finish();
    case "sign-request":
      return w.byte(AgentMsg.SIGN_REQUEST).string(m.blob).string(m.data).uint32(m.flags).finish();
    case "sign-response":
      return w.byte(AgentMsg.SIGN_RESPONSE).string(m.signature).finish();
    case "add-identity": {
      const fields = privateFields(m.key);
      try {
        w.byte(m.constraints ? AgentMsg.ADD_ID_CONSTRAINED : AgentMsg.ADD_IDENTITY)
          .string(m.key.type).raw(fields).string(m.comment);
      } finally {
        fields.fill(0);
      }
      if (m.constraints) writeConstraints(w, m.constraints);
      return w.finish();
    }
    case "remove-identity":
      return w.byte(AgentMsg.REMOVE_IDENTITY).string(m.blob).finish();
    case "remove-all-identities":
      return w.byte(AgentMsg.REMOVE_ALL_IDENTITIES).finish();
    case "extension":
      return w.byte(AgentMsg.EXTENSION).string(m.name).raw(m.data).finish();
    case "extension-failure":
      return w.byte(AgentMsg.EXTENSION_FAILURE).finish();
    case "unknown":
      return w.byte(m.code).raw(m.body).finish();
  }
}

/** Reads the private key of ADD_IDENTITY (§4.2): `string type` then the type's fields. */
function readPrivateKey(r: SshReader): PrivateKey {
  const type = r.ascii("key type");
  const at = r.offset;
  const what = `${type} private key in ADD_IDENTITY`;
  try {
    switch (type) {
      case "ssh-ed25519": {
        const pk = r.string("ed25519 public key");
        const sk = r.string("ed25519 private key");
        if (pk.length !== 32 || sk.length !== 64) {
          throw new WireError(
            `ed25519 key sizes are ${pk.length} and ${sk.length}, expected 32 and 64`,
            { field: "ed25519 key", offset: at },
          );
        }
        if (!constantTimeEqual(pk, sk.subarray(32))) {
          throw new AgentError(
            `${what}: the public key differs from the private key's public half`,
          );
        }
        return ed25519PrivateKey(sk);
      }
      case "ecdsa-sha2-nistp256":
      case "ecdsa-sha2-nistp384":
      case "ecdsa-sha2-nistp521": {
        const curve = r.ascii("ecdsa curve");
        if (`ecdsa-sha2-${curve}` !== type) {
          throw new WireError(`curve ${curve} does not match key type ${type}`, {
            field: "ecdsa curve",
            offset: at,
          });
        }
        const q = r.string("ecdsa Q");
        const d = r.mpintBytes("ecdsa d");
        const key = ecdsaPrivateKey(curve, d);
        const mine = key.publicKey.q;
        if (!constantTimeEqual(mine, q)) {
          throw new AgentError(`${what}: Q is not the public point of d`);
        }
        return key;
      }
      case "ssh-rsa": {
        const n = r.mpint("rsa n");
        const e = r.mpint("rsa e");
        const d = r.mpint("rsa d");
        const iqmp = r.mpint("rsa iqmp");
        const p = r.mpint("rsa p");
        const q = r.mpint("rsa q");
        if (p * q !== n) throw new AgentError(`${what}: p * q does not equal n`);
        return rsaPrivateKey({ n, e, d, p, q, iqmp });
      }
      default:
        throw new AgentError(`ADD_IDENTITY: unsupported key type ${JSON.stringify(type)}`);
    }
  } catch (e) {
    if (e instanceof KeyError) throw new AgentError(`${what}: ${e.message}`, { cause: e });
    throw e;
  }
}

function readConstraints(r: SshReader): KeyConstraint[] {
  const out: KeyConstraint[] = [];
  while (r.remaining) {
    const at = r.offset;
    const t = r.byte("constraint type");
    if (t === KeyConstraintType.LIFETIME) {
      out.push({ type: "lifetime", seconds: r.uint32("lifetime seconds") });
    } else if (t === KeyConstraintType.CONFIRM) {
      out.push({ type: "confirm" });
    } else if (t === KeyConstraintType.EXTENSION) {
      // The extension's contents are not self-delimiting: they run to the end.
      out.push({ type: "extension", name: r.ascii("constraint extension name"), data: r.rest() });
    } else {
      throw new WireError(`unknown key constraint ${t}`, { field: "constraint type", offset: at });
    }
  }
  return out;
}

/**
 * Decodes an agent message body (as {@link AgentFramer} yields it). Throws
 * {@link WireError} for truncated or malformed contents and
 * {@link AgentError} for an unusable private key in ADD_IDENTITY.
 *
 * @example
 * ```ts
 * import { decodeAgentMessage, encodeAgentMessage } from "./protocol.ts";
 * const m = decodeAgentMessage(encodeAgentMessage({ type: "remove-identity", blob: new Uint8Array([1, 2]) }));
 * console.log(m.type); // "remove-identity"
 * ```
 */
export function decodeAgentMessage(body: Uint8Array): AgentMessage {
  const r = new SshReader(body);
  const code = r.byte("agent message number");
  let m: AgentMessage;
  switch (code) {
    case AgentMsg.FAILURE:
      m = { type: "failure" };
      break;
    case AgentMsg.SUCCESS:
      m = { type: "success" };
      break;
    case AgentMsg.REQUEST_IDENTITIES:
      m = { type: "request-identities" };
      break;
    case AgentMsg.IDENTITIES_ANSWER: {
      const at = r.offset;
      const count = r.uint32("nkeys");
      // Each identity takes at least 8 bytes: refuse absurd counts before allocating.
      if (count > r.remaining / 8) {
        throw new WireError(`${count} keys cannot fit in ${r.remaining} bytes`, {
          field: "nkeys",
          offset: at,
        });
      }
      const identities: AgentIdentity[] = [];
      for (let i = 0; i < count; i++) {
        identities.push({ blob: r.string(`key ${i} blob`), comment: r.utf8(`key ${i} comment`) });
      }
      m = { type: "identities-answer", identities };
      break;
    }
    case AgentMsg.SIGN_REQUEST:
      m = {
        type: "sign-request",
        blob: r.string("key blob"),
        data: r.string("data"),
        flags: r.uint32("flags"),
      };
      break;
    case AgentMsg.SIGN_RESPONSE:
      m = { type: "sign-response", signature: r.string("signature") };
      break;
    case AgentMsg.ADD_IDENTITY:
    case AgentMsg.ADD_ID_CONSTRAINED: {
      const key = readPrivateKey(r);
      const comment = r.utf8("comment");
      m = code === AgentMsg.ADD_IDENTITY
        ? { type: "add-identity", key, comment }
        : { type: "add-identity", key, comment, constraints: readConstraints(r) };
      break;
    }
    case AgentMsg.REMOVE_IDENTITY:
      m = { type: "remove-identity", blob: r.string("key blob") };
      break;
    case AgentMsg.REMOVE_ALL_IDENTITIES:
      m = { type: "remove-all-identities" };
      break;
    case AgentMsg.EXTENSION:
      m = { type: "extension", name: r.ascii("extension name"), data: r.rest() };
      break;
    case AgentMsg.EXTENSION_FAILURE:
      m = { type: "extension-failure" };
      break;
    default:
      return { type: "unknown", code, body: r.rest() };
  }
  r.end(`agent message ${code}`);
  return m;
}

/**
 * Prefixes a message body with its uint32 length (§3).
 *
 * @example
 * ```ts
 * import { frameAgentMessage } from "./protocol.ts";
 * console.log(frameAgentMessage(new Uint8Array([11]))); // Uint8Array [ 0, 0, 0, 1, 11 ]
 * ```
 */
export function frameAgentMessage(body: Uint8Array): Uint8Array {
  if (body.length > AGENT_MAX_MESSAGE) {
    throw new AgentError(`agent message of ${body.length} bytes exceeds ${AGENT_MAX_MESSAGE}`);
  }
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, body.length);
  out.set(body, 4);
  return out;
}

/**
 * Cuts a byte stream into agent message bodies (§3): push chunks as they
 * arrive, get back every complete message. A length of 0 or over
 * {@link AGENT_MAX_MESSAGE} is an {@link AgentError}.
 *
 * @example
 * ```ts
 * import { AgentFramer } from "./protocol.ts";
 * const f = new AgentFramer();
 * console.log(f.push(new Uint8Array([0, 0, 0])).length); // 0
 * console.log(f.push(new Uint8Array([1, 11]))); // [ Uint8Array [ 11 ] ]
 * ```
 */
export class AgentFramer {
  #buf = new Uint8Array(0);

  /** Bytes held that do not make a whole message yet. */
  get pending(): number {
    return this.#buf.length;
  }

  /** Adds `chunk`; returns the complete message bodies (copies, never views of `chunk`). */
  push(chunk: Uint8Array): Uint8Array[] {
    let buf = this.#buf;
    if (buf.length === 0) buf = chunk.slice();
    else {
      const next = new Uint8Array(buf.length + chunk.length);
      next.set(buf);
      next.set(chunk, buf.length);
      buf = next;
    }
    const out: Uint8Array[] = [];
    let off = 0;
    while (buf.length - off >= 4) {
      const len = new DataView(buf.buffer, buf.byteOffset + off, 4).getUint32(0);
      if (len === 0 || len > AGENT_MAX_MESSAGE) {
        this.#buf = new Uint8Array(0);
        throw new AgentError(
          `agent message length ${len} is ${len === 0 ? "zero" : `over ${AGENT_MAX_MESSAGE}`}`,
        );
      }
      if (buf.length - off - 4 < len) break;
      out.push(buf.subarray(off + 4, off + 4 + len));
      off += 4 + len;
    }
    this.#buf = buf.subarray(off);
    return out;
  }
}
