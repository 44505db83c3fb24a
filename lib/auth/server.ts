/**
 * Server user authentication (RFC 4252, RFC 4256). Deny by default: every
 * attempt goes to the application's handlers; multi-step requirements
 * (OpenSSH's AuthenticationMethods), MaxAuthTries, LoginGraceTime, a banner,
 * and a minimum failure time so that unknown users and wrong secrets look
 * alike.
 *
 * @module
 */
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { parsePublicKey } from "../keys/public_key.ts";
import { SshCertificate } from "../keys/certificate.ts";
import type { PublicKey } from "../keys/types.ts";
import type { Transport } from "../transport/transport.ts";
import {
  decodeAuthRequestHead,
  decodeInfoResponse,
  encodeAuthBanner,
  encodeAuthFailure,
  encodeInfoRequest,
  encodePkOk,
  type InfoPrompt,
  publicKeySignedData,
} from "../wire/auth_messages.ts";
import { DisconnectError, DisconnectReason } from "../wire/errors.ts";
import { signatureAlgorithmsForKeyType } from "../keys/host_key_algorithms.ts";
import { Msg } from "../wire/message_numbers.ts";
import { quotePeerText } from "../wire/quote.ts";

/**
 * The application's answers. A missing handler means the method is not
 * offered. Handlers must not leak, through their return time, whether the
 * user exists: rxssh pads every failure to {@link ServerAuthOptions.failureDelay}.
 *
 * @example
 * ```ts
 * import type { ServerAuthHandlers } from "./server.ts";
 * const handlers: ServerAuthHandlers = {
 *   password: (user, password) => user === "demo" && password === "demo",
 * };
 * ```
 */
export interface ServerAuthHandlers {
  /** "none": return true to let the user in without credentials. */
  none?: (user: string) => boolean | Promise<boolean>;
  /** "password" */
  password?: (user: string, password: string) => boolean | Promise<boolean>;
  /**
   * "publickey": is this key allowed for this user, with the signature
   * algorithm `context.algorithm`, from `context.clientAddress`? (The
   * signature is checked by rxssh.) Return restrictions instead of `true`
   * to accept the key with limits (as authorized_keys options do).
   */
  publicKey?: (
    user: string,
    key: PublicKey,
    context: { algorithm: string; clientAddress?: string },
  ) => boolean | SessionRestrictions | Promise<boolean | SessionRestrictions>;
  /** "keyboard-interactive": the prompts to show, then whether the answers are right. */
  keyboardInteractive?: (user: string) =>
    | {
      name?: string;
      instruction?: string;
      prompts: InfoPrompt[];
      check(answers: string[]): boolean | Promise<boolean>;
    }
    | Promise<
      {
        name?: string;
        instruction?: string;
        prompts: InfoPrompt[];
        check(answers: string[]): boolean | Promise<boolean>;
      }
    >;
}

/**
 * Limits attached to an accepted key (authorized_keys options), enforced by
 * the server for the connection.
 *
 * @example
 * ```ts
 * import type { SessionRestrictions } from "./server.ts";
 * const r: SessionRestrictions = { pty: false, command: "/usr/bin/backup" };
 * ```
 */
export interface SessionRestrictions {
  /** false: pty-req is refused (no-pty). */
  pty?: boolean;
  /** A forced command: every exec, shell or subsystem runs this instead. */
  command?: string;
  /** Environment to set (applied only with the server's permitUserEnvironment). */
  environment?: Record<string, string>;
  /** false: no port forwarding. */
  portForwarding?: boolean;
  /** false: no agent forwarding. */
  agentForwarding?: boolean;
  /** false: no X11 forwarding. */
  x11Forwarding?: boolean;
  /** authorized_keys `permitopen`: where direct-tcpip may connect (empty or absent: no limit from the key). */
  permitOpen?: readonly { readonly host: string; readonly port: number | "*" }[];
  /** authorized_keys `permitlisten`: where tcpip-forward may listen (empty or absent: no limit from the key). */
  permitListen?: readonly { readonly host: string; readonly port: number | "*" }[];
}

/**
 * Options of {@link serveAuthentication}.
 *
 * @example
 * ```ts
 * import type { ServerAuthOptions } from "./server.ts";
 * const o: ServerAuthOptions = { handlers: { password: () => false }, maxAuthTries: 3, banner: "hi\n" };
 * ```
 */
export interface ServerAuthOptions {
  /** Decisions per method. */
  handlers: ServerAuthHandlers;
  /**
   * OpenSSH's AuthenticationMethods: lists of methods that must all succeed,
   * e.g. `[["publickey", "password"]]`. Default: any one offered method.
   */
  authenticationMethods?: readonly (readonly string[])[];
  /** Failed attempts before disconnecting (OpenSSH MaxAuthTries, default 6). */
  maxAuthTries?: number;
  /**
   * Milliseconds to finish authenticating (OpenSSH LoginGraceTime, default
   * 120000; 0 = none). `serveAuthentication` alone counts from its call;
   * `serveConnection` and `listen` count from the accepted connection, one
   * deadline covering version exchange, key exchange and authentication,
   * as sshd's grace alarm does.
   */
  loginGraceTime?: number;
  /** Sent as SSH_MSG_USERAUTH_BANNER before the first reply. */
  banner?: string;
  /**
   * Minimum milliseconds before any failure reply (default 25), plus 0-7 ms
   * that depend on the user name through {@link userFailureJitter}.
   */
  failureDelay?: number;
  /**
   * The secret keying the per-user part of the failure delay (32 bytes).
   * Default: one secret per process, drawn from `crypto.getRandomValues`
   * when this module loads (sshd's per-server timing secret).
   */
  timingSecret?: Uint8Array;
  /** The client's address, passed to the publicKey handler (the server fills it in). */
  clientAddress?: string;
}

/**
 * The result of a successful authentication.
 *
 * @example
 * ```ts
 * import type { AuthResult } from "./server.ts";
 * const who = (r: AuthResult) => `${r.username} via ${r.methods.join("+")}`;
 * ```
 */
export interface AuthResult {
  /** The authenticated user. */
  username: string;
  /** The methods that succeeded, in order. */
  methods: string[];
  /** The public key used, if any. */
  publicKey?: PublicKey;
  /** Restrictions the publicKey handler attached to that key. */
  restrictions?: SessionRestrictions;
}

/** Signature algorithms a key may use: a certificate's are its key's, with the -cert-v01 suffix (PROTOCOL.certkeys). */
function keyAlgorithms(key: PublicKey): string[] {
  if (key instanceof SshCertificate) {
    return signatureAlgorithmsForKeyType(key.key.type).map((a) => `${a}-cert-v01@openssh.com`);
  }
  return signatureAlgorithmsForKeyType(key.type);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** This process's timing secret (sshd: options.timing_secret, drawn once per server). */
const PROCESS_TIMING_SECRET = crypto.getRandomValues(new Uint8Array(32));

/**
 * The per-user part of the failure delay, 0-7 ms: HMAC-SHA-256 of the user
 * name keyed with a secret, so that it is stable for a name on one server
 * but cannot be computed by a client (sshd's user_specific_delay() keys
 * SHA-512 with a per-server random secret, auth2.c). Without `secret`,
 * this process's random secret is used.
 *
 * @example
 * ```ts
 * import { userFailureJitter } from "./server.ts";
 * const secret = crypto.getRandomValues(new Uint8Array(32));
 * console.log(userFailureJitter("alice", secret) === userFailureJitter("alice", secret)); // true
 * ```
 */
export function userFailureJitter(
  user: string,
  secret: Uint8Array = PROCESS_TIMING_SECRET,
): number {
  return hmac(sha256, secret, new TextEncoder().encode(user))[0] % 8;
}

/** What one authentication request came to. */
interface MethodOutcome {
  ok: boolean;
  /** An answer (PK_OK) was sent instead of success or failure. */
  replied?: boolean;
  key?: PublicKey;
  restrictions?: SessionRestrictions;
}

type AuthRequestHead = ReturnType<typeof decodeAuthRequestHead>;

/** What checking one request needs from the authentication loop. */
interface MethodContext {
  t: Transport;
  options: ServerAuthOptions;
  user: string;
  /** The next message of the connection. */
  next: () => Promise<Uint8Array>;
  /** Ends the connection with `reason` and throws. */
  fail: (reason: number, description: string) => Promise<never>;
}

/** Checks one request for a method the user may try (RFC 4252 §7, §8; RFC 4256 §3). */
async function tryMethod(c: MethodContext, req: AuthRequestHead): Promise<MethodOutcome> {
  const { t, user, next, fail } = c;
  const h = c.options.handlers;
  const r = req.reader;
  if (req.method === "password") {
    const change = r.boolean("password change flag");
    const password = r.utf8("password");
    return { ok: !change && await h.password!(user, password) };
  }
  if (req.method === "publickey") return await tryPublicKey(c, req);
  if (req.method === "keyboard-interactive") {
    const challenge = await h.keyboardInteractive!(user);
    await t.send(encodeInfoRequest({
      name: challenge.name ?? "",
      instruction: challenge.instruction ?? "",
      prompts: challenge.prompts,
    }));
    const answer = await next();
    if (answer[0] !== Msg.USERAUTH_INFO_RESPONSE) {
      await fail(
        DisconnectReason.PROTOCOL_ERROR,
        `expected USERAUTH_INFO_RESPONSE, got message ${answer[0]}`,
      );
    }
    const answers = decodeInfoResponse(answer);
    return { ok: answers.length === challenge.prompts.length && await challenge.check(answers) };
  }
  return { ok: false };
}

/** A publickey request: a query answered with PK_OK, or a signature checked (RFC 4252 §7). */
async function tryPublicKey(c: MethodContext, req: AuthRequestHead): Promise<MethodOutcome> {
  const { t, user } = c;
  const r = req.reader;
  const signed = r.boolean("has signature");
  const algorithm = r.ascii("public key algorithm");
  const blob = r.string("public key blob");
  let key: PublicKey | undefined;
  try {
    key = parsePublicKey(blob);
  } catch {
    key = undefined;
  }
  const decision = key !== undefined && keyAlgorithms(key).includes(algorithm)
    ? await c.options.handlers.publicKey!(user, key, {
      algorithm,
      clientAddress: c.options.clientAddress,
    })
    : false;
  if (decision === false) return { ok: false };
  if (!signed) {
    await t.send(encodePkOk(algorithm, blob));
    return { ok: false, replied: true };
  }
  const signature = r.string("signature");
  const data = publicKeySignedData(t.sessionId!, {
    user,
    service: req.service,
    algorithm,
    key: blob,
  });
  const ok = await key!.verify(signature, data, { algorithm });
  return ok
    ? { ok, key, restrictions: typeof decision === "object" ? decision : undefined }
    : { ok: false };
}

/** The method chains a user must complete (OpenSSH's AuthenticationMethods). */
function methodChains(options: ServerAuthOptions) {
  const h = options.handlers;
  const offered = [
    ...(h.publicKey ? ["publickey"] : []),
    ...(h.password ? ["password"] : []),
    ...(h.keyboardInteractive ? ["keyboard-interactive"] : []),
  ];
  const chains = (options.authenticationMethods ?? offered.map((m) => [m])).map((c) => [...c]);
  return {
    /** No chain at all: only a `none` handler can let a user in. */
    none: chains.length === 0,
    /** The next method of every chain whose prefix matches what is done. */
    canContinue(done: readonly string[]): string[] {
      const out = new Set<string>();
      for (const c of chains) {
        if (done.every((m, i) => c[i] === m) && c.length > done.length) out.add(c[done.length]);
      }
      return [...out];
    },
    /** Whether `done` completes a chain. */
    complete: (done: readonly string[]) =>
      chains.some((c) => c.length === done.length && c.every((m, i) => done[i] === m)),
  };
}

/** The next message of the connection, or CONNECTION_LOST. */
async function nextMessage(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<Uint8Array> {
  const { value, done } = await reader.read();
  if (done) {
    throw new DisconnectError(
      DisconnectReason.CONNECTION_LOST,
      "connection closed during authentication",
      { local: false },
    );
  }
  return value;
}

/**
 * Runs the server side of "ssh-userauth" until a user is authenticated.
 * Disconnects with NO_MORE_AUTH_METHODS_AVAILABLE after too many failures
 * and with PROTOCOL_ERROR on malformed requests; rejects in those cases.
 *
 * @example
 * ```ts
 * import { serveAuthentication } from "./server.ts";
 * import type { Transport } from "../transport/transport.ts";
 * async function gate(t: Transport) {
 *   const { username } = await serveAuthentication(t, { handlers: { password: (u, p) => u === "demo" && p === "demo" } });
 *   return username;
 * }
 * ```
 */
export async function serveAuthentication(
  t: Transport,
  options: ServerAuthOptions,
): Promise<AuthResult> {
  const h = options.handlers;
  const chains = methodChains(options);
  const reader = t.messages.getReader();
  const grace = armLoginGrace(t, options.loginGraceTime ?? 120_000);
  let bannerSent = options.banner === undefined;
  let failures = 0;
  let attempts = 0;
  let user: string | undefined;
  const done: string[] = [];
  let usedKey: PublicKey | undefined;
  let restrictions: SessionRestrictions | undefined;
  const next = () => nextMessage(reader);
  /** Ends the connection with `reason` and throws the matching error. */
  const fail = async (reason: number, description: string): Promise<never> => {
    await t.disconnect(reason, description);
    throw new DisconnectError(reason, description, { local: true });
  };
  try {
    for (;;) {
      const payload = await next();
      const started = Date.now();
      if (!bannerSent) {
        bannerSent = true;
        await t.send(encodeAuthBanner(options.banner!));
      }
      const req = await requestHead(payload, fail);
      attempts++;
      if (user !== undefined && req.user !== user) {
        // RFC 4252 §5: a change of user name may reset state; we refuse to mix users.
        done.length = 0;
      }
      user = req.user;
      const c: MethodContext = { t, options, user, next, fail };
      let outcome: MethodOutcome = { ok: false };
      if (chains.canContinue(done).includes(req.method)) {
        outcome = await tryMethod(c, req);
      } else if (req.method === "none" && h.none && chains.none) {
        outcome = { ok: await h.none(user) };
      }
      const { ok, replied } = outcome;
      if (ok && outcome.key) {
        usedKey = outcome.key;
        restrictions = outcome.restrictions ?? restrictions;
      }
      if (replied) continue;
      if (ok) {
        done.push(req.method);
        if (chains.complete(done)) {
          await t.send(new Uint8Array([Msg.USERAUTH_SUCCESS]));
          return { username: user, methods: [...done], publicKey: usedKey, restrictions };
        }
        await t.send(encodeAuthFailure(chains.canContinue(done), true));
        continue;
      }
      // sshd (auth2.c userauth_finish): every failure counts except a first request "none".
      if (req.method !== "none" || attempts > 1) failures++;
      await answerFailure(c, { started, failures, canContinue: chains.canContinue(done) });
    }
  } finally {
    clearTimeout(grace);
    reader.releaseLock();
  }
}

/**
 * Disconnects `t` with PROTOCOL_ERROR once `ms` milliseconds have passed
 * (OpenSSH's LoginGraceTime; 0 = never). Returns the timer to clear.
 */
function armLoginGrace(t: Transport, ms: number): ReturnType<typeof setTimeout> | undefined {
  if (ms <= 0) return undefined;
  return setTimeout(() => {
    t.disconnect(DisconnectReason.PROTOCOL_ERROR, "authentication timeout").catch(() => {});
  }, ms);
}

/**
 * The head of a USERAUTH_REQUEST for the "ssh-connection" service (RFC 4252
 * §5); any other message or service ends the connection.
 */
async function requestHead(
  payload: Uint8Array,
  fail: MethodContext["fail"],
): Promise<AuthRequestHead> {
  if (payload[0] !== Msg.USERAUTH_REQUEST) {
    await fail(
      DisconnectReason.PROTOCOL_ERROR,
      `message ${payload[0]} received during authentication`,
    );
  }
  const req = decodeAuthRequestHead(payload);
  if (req.service !== "ssh-connection") {
    await fail(
      DisconnectReason.SERVICE_NOT_AVAILABLE,
      `service ${quotePeerText(req.service)} is not available`,
    );
  }
  return req;
}

/**
 * Answers a failed attempt (RFC 4252 §5.1): waits out the minimum failure
 * time counted from `started` (the same for every failure, so that unknown
 * users and wrong secrets look alike), then disconnects after MaxAuthTries
 * failures or sends USERAUTH_FAILURE listing `canContinue`.
 */
async function answerFailure(
  c: MethodContext,
  attempt: { started: number; failures: number; canContinue: string[] },
): Promise<void> {
  const { options, user } = c;
  const jitter = userFailureJitter(user, options.timingSecret);
  const wait = (options.failureDelay ?? 25) + jitter - (Date.now() - attempt.started);
  if (wait > 0) await sleep(wait);
  if (attempt.failures >= (options.maxAuthTries ?? 6)) {
    await c.fail(
      DisconnectReason.NO_MORE_AUTH_METHODS_AVAILABLE,
      `too many authentication failures for ${quotePeerText(user, 100)}`,
    );
  }
  await c.t.send(encodeAuthFailure(attempt.canContinue, false));
}
