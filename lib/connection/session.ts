/**
 * Session channels (RFC 4254 §6): the request payloads (pty-req with
 * terminal modes per §8, env, exec, shell, subsystem, window-change,
 * signal, exit-status, exit-signal, break) and the client's view of a
 * running command.
 *
 * @module
 */
import { SshReader } from "../wire/reader.ts";
import { SshWriter } from "../wire/writer.ts";
import type { Channel, IncomingChannelRequest } from "./channel.ts";
import type { Connection } from "./connection.ts";

/**
 * Terminal mode opcodes (RFC 4254 §8), by name.
 *
 * @example
 * ```ts
 * import { TerminalMode } from "./session.ts";
 * console.log(TerminalMode.ECHO); // 53
 * ```
 */
export const TerminalMode = {
  VINTR: 1,
  VQUIT: 2,
  VERASE: 3,
  VKILL: 4,
  VEOF: 5,
  VEOL: 6,
  VEOL2: 7,
  VSTART: 8,
  VSTOP: 9,
  VSUSP: 10,
  VDSUSP: 11,
  VREPRINT: 12,
  VWERASE: 13,
  VLNEXT: 14,
  VFLUSH: 15,
  VSWTCH: 16,
  VSTATUS: 17,
  VDISCARD: 18,
  IGNPAR: 30,
  PARMRK: 31,
  INPCK: 32,
  ISTRIP: 33,
  INLCR: 34,
  IGNCR: 35,
  ICRNL: 36,
  IUCLC: 37,
  IXON: 38,
  IXANY: 39,
  IXOFF: 40,
  IMAXBEL: 41,
  IUTF8: 42,
  ISIG: 50,
  ICANON: 51,
  XCASE: 52,
  ECHO: 53,
  ECHOE: 54,
  ECHOK: 55,
  ECHONL: 56,
  NOFLSH: 57,
  TOSTOP: 58,
  IEXTEN: 59,
  ECHOCTL: 60,
  ECHOKE: 61,
  PENDIN: 62,
  OPOST: 70,
  OLCUC: 71,
  ONLCR: 72,
  OCRNL: 73,
  ONOCR: 74,
  ONLRET: 75,
  CS7: 90,
  CS8: 91,
  PARENB: 92,
  PARODD: 93,
  TTY_OP_ISPEED: 128,
  TTY_OP_OSPEED: 129,
} as const;

/** RFC 4254 §8: the opcode that ends the encoded terminal modes. */
const TTY_OP_END = 0;
/** RFC 4254 §8: opcodes from 160 on are "not yet defined" (no known argument format). */
const TTY_OP_UNDEFINED_FROM = 160;

/**
 * Encodes terminal modes (RFC 4254 §8): opcode byte, uint32 argument, ending
 * with TTY_OP_END. Unknown names are an error.
 *
 * @example
 * ```ts
 * import { encodeTerminalModes } from "./session.ts";
 * encodeTerminalModes({ ECHO: 0, TTY_OP_ISPEED: 38400 });
 * ```
 */
export function encodeTerminalModes(modes: Readonly<Record<string, number>>): Uint8Array {
  const w = new SshWriter(5 * Object.keys(modes).length + 1);
  for (const [name, value] of Object.entries(modes)) {
    const op = (TerminalMode as Record<string, number>)[name];
    if (op === undefined) throw new RangeError(`unknown terminal mode ${JSON.stringify(name)}`);
    w.byte(op).uint32(value);
  }
  return w.byte(TTY_OP_END).finish();
}

/**
 * Decodes terminal modes into name → value; opcodes rxssh does not know are
 * kept as `"op<N>"`. Stops at TTY_OP_END or at the first opcode 160..255
 * (whose argument format is undefined, RFC 4254 §8).
 *
 * @example
 * ```ts
 * import { decodeTerminalModes, encodeTerminalModes } from "./session.ts";
 * console.log(decodeTerminalModes(encodeTerminalModes({ ECHO: 1 }))); // { ECHO: 1 }
 * ```
 */
export function decodeTerminalModes(bytes: Uint8Array): Record<string, number> {
  const names = new Map(Object.entries(TerminalMode).map(([k, v]) => [v as number, k]));
  const r = new SshReader(bytes);
  const out: Record<string, number> = {};
  while (r.remaining) {
    const op = r.byte("terminal mode opcode");
    if (op === TTY_OP_END || op >= TTY_OP_UNDEFINED_FROM) break;
    out[names.get(op) ?? `op${op}`] = r.uint32(`terminal mode ${op} argument`);
  }
  return out;
}

/**
 * A pty-req (RFC 4254 §6.2).
 *
 * @example
 * ```ts
 * import type { PtyRequest } from "./session.ts";
 * const pty: PtyRequest = { term: "xterm-256color", cols: 80, rows: 24, widthPx: 0, heightPx: 0, modes: {} };
 * ```
 */
export interface PtyRequest {
  /** TERM environment variable value. */
  term: string;
  /** Width in characters. */
  cols: number;
  /** Height in rows. */
  rows: number;
  /** Width in pixels. */
  widthPx: number;
  /** Height in pixels. */
  heightPx: number;
  /** Terminal modes by name (see {@link TerminalMode}). */
  modes: Record<string, number>;
}

/**
 * Request payload encoders and decoders by request type (RFC 4254 §6).
 *
 * @example
 * ```ts
 * import { SessionRequest } from "./session.ts";
 * const data = SessionRequest.exec.encode("uname -a");
 * console.log(SessionRequest.exec.decode(data)); // "uname -a"
 * ```
 */
export const SessionRequest = {
  /** pty-req */
  pty: {
    encode: (p: PtyRequest): Uint8Array =>
      new SshWriter(64).string(p.term).uint32(p.cols).uint32(p.rows).uint32(p.widthPx).uint32(
        p.heightPx,
      )
        .string(encodeTerminalModes(p.modes)).finish(),
    decode: (b: Uint8Array): PtyRequest => {
      const r = new SshReader(b);
      const p = {
        term: r.utf8("TERM"),
        cols: r.uint32("terminal width, characters"),
        rows: r.uint32("terminal height, rows"),
        widthPx: r.uint32("terminal width, pixels"),
        heightPx: r.uint32("terminal height, pixels"),
        modes: decodeTerminalModes(r.string("encoded terminal modes")),
      };
      r.end("pty-req");
      return p;
    },
  },
  /** env */
  env: {
    encode: (name: string, value: string): Uint8Array =>
      new SshWriter(32).string(name).string(value).finish(),
    decode: (b: Uint8Array): { name: string; value: string } => {
      const r = new SshReader(b);
      const v = { name: r.utf8("variable name"), value: r.utf8("variable value") };
      r.end("env");
      return v;
    },
  },
  /** exec */
  exec: {
    encode: (command: string): Uint8Array =>
      new SshWriter(command.length + 8).string(command).finish(),
    decode: (b: Uint8Array): string => {
      const r = new SshReader(b);
      const v = r.utf8("command");
      r.end("exec");
      return v;
    },
  },
  /** subsystem */
  subsystem: {
    encode: (name: string): Uint8Array => new SshWriter(32).string(name).finish(),
    decode: (b: Uint8Array): string => {
      const r = new SshReader(b);
      const v = r.utf8("subsystem name");
      r.end("subsystem");
      return v;
    },
  },
  /** window-change */
  windowChange: {
    encode: (s: { cols: number; rows: number; widthPx?: number; heightPx?: number }): Uint8Array =>
      new SshWriter(16).uint32(s.cols).uint32(s.rows).uint32(s.widthPx ?? 0).uint32(s.heightPx ?? 0)
        .finish(),
    decode: (b: Uint8Array): { cols: number; rows: number; widthPx: number; heightPx: number } => {
      const r = new SshReader(b);
      const v = {
        cols: r.uint32("terminal width, columns"),
        rows: r.uint32("terminal height, rows"),
        widthPx: r.uint32("terminal width, pixels"),
        heightPx: r.uint32("terminal height, pixels"),
      };
      r.end("window-change");
      return v;
    },
  },
  /** signal (name without "SIG") */
  signal: {
    encode: (name: string): Uint8Array => new SshWriter(16).string(name).finish(),
    decode: (b: Uint8Array): string => {
      const r = new SshReader(b);
      const v = r.ascii("signal name");
      r.end("signal");
      return v;
    },
  },
  /** exit-status */
  exitStatus: {
    encode: (code: number): Uint8Array => new SshWriter(4).uint32(code).finish(),
    decode: (b: Uint8Array): number => {
      const r = new SshReader(b);
      const v = r.uint32("exit status");
      r.end("exit-status");
      return v;
    },
  },
  /** exit-signal */
  exitSignal: {
    encode: (s: { signal: string; coreDumped: boolean; message: string }): Uint8Array =>
      new SshWriter(32).string(s.signal).boolean(s.coreDumped).string(s.message).string("")
        .finish(),
    decode: (b: Uint8Array): { signal: string; coreDumped: boolean; message: string } => {
      const r = new SshReader(b);
      const v = {
        signal: r.ascii("signal name"),
        coreDumped: r.boolean("core dumped"),
        message: r.utf8("error message"),
      };
      if (r.remaining) r.string("language tag");
      return v;
    },
  },
  /** break (RFC 4335) */
  break: {
    encode: (ms: number): Uint8Array => new SshWriter(4).uint32(ms).finish(),
    decode: (b: Uint8Array): number => new SshReader(b).uint32("break length"),
  },
} as const;

/**
 * How a remote command ended (RFC 4254 §6.10).
 *
 * @example
 * ```ts
 * import type { ExitInfo } from "./session.ts";
 * const ok = (e: ExitInfo) => e.code === 0;
 * ```
 */
export interface ExitInfo {
  /** exit-status, when sent. */
  code?: number;
  /** exit-signal name without "SIG", when sent. */
  signal?: string;
  /** exit-signal's core-dumped flag. */
  coreDumped?: boolean;
  /** exit-signal's message. */
  message?: string;
}

/**
 * A session channel as the client sees it: stdin, stdout, stderr streams
 * and the exit status.
 *
 * @example
 * ```ts
 * import type { Session } from "./session.ts";
 * async function output(s: Session) {
 *   const text = await new Response(s.stdout).text();
 *   return { text, exit: await s.exit };
 * }
 * ```
 */
export interface Session {
  /** The underlying channel. */
  readonly channel: Channel;
  /** Standard input of the remote side; closing it sends EOF. */
  readonly stdin: WritableStream<Uint8Array>;
  /** Standard output. */
  readonly stdout: ReadableStream<Uint8Array>;
  /** Standard error (extended data type 1). */
  readonly stderr: ReadableStream<Uint8Array>;
  /** Resolves when the channel closes, with exit-status / exit-signal if sent. */
  readonly exit: Promise<ExitInfo>;
  /** Sends a signal (RFC 4254 §6.9), e.g. "TERM". */
  signal(name: string): Promise<void>;
  /** Reports a new terminal size (RFC 4254 §6.7). */
  resize(size: { cols: number; rows: number; widthPx?: number; heightPx?: number }): Promise<void>;
}

/**
 * Options of {@link openSession}.
 *
 * @example
 * ```ts
 * import type { SessionOptions } from "./session.ts";
 * const o: SessionOptions = { env: { LANG: "C.UTF-8" }, pty: { term: "xterm", cols: 80, rows: 24, widthPx: 0, heightPx: 0, modes: {} } };
 * ```
 */
export interface SessionOptions {
  /** Environment variables (the server may refuse them; refusals are ignored as OpenSSH does). */
  env?: Record<string, string>;
  /** Allocate a pseudo-terminal. */
  pty?: PtyRequest;
  /**
   * Further requests sent after pty-req and before the command starts, e.g.
   * x11-req or auth-agent-req@openssh.com; a refusal of one with
   * `required` fails the session, others are ignored as OpenSSH does.
   * `onReply` hears the server's answer (ssh's "X11 forwarding request
   * failed on channel N").
   */
  requests?: readonly {
    type: string;
    data?: Uint8Array;
    required?: boolean;
    onReply?: (accepted: boolean, channel: Channel) => void;
  }[];
}

/** Thrown when the server refuses exec, shell, subsystem or pty-req. */
export class SessionRequestError extends Error {
  /** Creates the error. */
  constructor(readonly request: string, detail: string) {
    super(`server refused ${request}${detail ? ` (${detail})` : ""}`);
    this.name = "SessionRequestError";
  }
}

/**
 * Opens a session channel and starts `start`: a command (exec), a shell, or
 * a subsystem.
 *
 * @example
 * ```ts
 * import { openSession } from "./session.ts";
 * import type { Connection } from "./connection.ts";
 * async function uname(conn: Connection) {
 *   const s = await openSession(conn, { exec: "uname -a" });
 *   return await new Response(s.stdout).text();
 * }
 * ```
 */
export async function openSession(
  conn: Connection,
  start: { exec: string } | { shell: true } | { subsystem: string },
  options: SessionOptions = {},
): Promise<Session> {
  const channel = await conn.openChannel("session");
  const exit: ExitInfo = {};
  channel.requests$.subscribe((r: IncomingChannelRequest) => {
    if (r.type === "exit-status") {
      exit.code = SessionRequest.exitStatus.decode(r.data);
    } else if (r.type === "exit-signal") {
      Object.assign(exit, SessionRequest.exitSignal.decode(r.data));
    } else if (r.type === "keepalive@openssh.com") {
      return r.reject(); // as OpenSSH's client answers
    }
    r.reject();
  });
  try {
    for (const [name, value] of Object.entries(options.env ?? {})) {
      await channel.request("env", SessionRequest.env.encode(name, value), { wantReply: false });
    }
    if (
      options.pty && !(await channel.request("pty-req", SessionRequest.pty.encode(options.pty)))
    ) {
      throw new SessionRequestError("pty-req", options.pty.term);
    }
    for (const extra of options.requests ?? []) {
      const ok = await channel.request(extra.type, extra.data ?? new Uint8Array(0));
      extra.onReply?.(ok, channel);
      if (!ok && extra.required) throw new SessionRequestError(extra.type, "");
    }
    let ok: boolean;
    let what: string;
    if ("exec" in start) {
      what = "exec";
      ok = await channel.request("exec", SessionRequest.exec.encode(start.exec));
    } else if ("subsystem" in start) {
      what = "subsystem";
      ok = await channel.request("subsystem", SessionRequest.subsystem.encode(start.subsystem));
    } else {
      what = "shell";
      ok = await channel.request("shell");
    }
    if (!ok) {
      throw new SessionRequestError(
        what,
        "exec" in start ? start.exec : "subsystem" in start ? start.subsystem : "",
      );
    }
  } catch (e) {
    channel.close().catch(() => {});
    throw e;
  }
  const done = channel.closed.then((error) => {
    if (error && exit.code === undefined && exit.signal === undefined) throw error;
    return exit;
  });
  done.catch(() => {});
  return {
    channel,
    stdin: channel.writable,
    stdout: channel.readable,
    stderr: channel.stderr,
    exit: done,
    signal: (name) =>
      channel.request("signal", SessionRequest.signal.encode(name), { wantReply: false }).then(
        () => {},
      ),
    resize: (size) =>
      channel.request("window-change", SessionRequest.windowChange.encode(size), {
        wantReply: false,
      }).then(() => {}),
  };
}

/**
 * A session channel request with its payload decoded (RFC 4254 §6), as
 * {@link decodeSessionRequest} returns it; `{ name }` alone for request
 * types it does not decode.
 *
 * @example
 * ```ts
 * import type { DecodedRequest } from "./session.ts";
 * const d: DecodedRequest = { name: "exec", command: "ls" };
 * ```
 */
export type DecodedRequest =
  | { name: "exec"; command: string }
  | { name: "shell" }
  | { name: "subsystem"; subsystem: string }
  | { name: "pty-req"; pty: PtyRequest }
  | { name: "env"; variable: string; value: string }
  | { name: "window-change"; cols: number; rows: number; widthPx: number; heightPx: number }
  | { name: "signal"; signal: string }
  | { name: "exit-status"; code: number }
  | { name: "exit-signal"; signal: string; coreDumped: boolean; message: string }
  | { name: string };

/**
 * Decodes a session channel request's type-specific data (RFC 4254 §6.2
 * pty-req, §6.4 env, §6.5 exec/shell/subsystem, §6.7 window-change,
 * §6.9 signal, §6.10 exit-status/exit-signal). Request types it does not
 * know come back as `{ name: type }`; a known type with malformed data
 * throws the `WireError` that names the field and offset.
 *
 * @example
 * ```ts
 * import { decodeSessionRequest, SessionRequest } from "./session.ts";
 * const d = decodeSessionRequest("exec", SessionRequest.exec.encode("uname -a"));
 * console.log(d); // { name: "exec", command: "uname -a" }
 * ```
 */
export function decodeSessionRequest(type: string, data: Uint8Array): DecodedRequest {
  switch (type) {
    case "exec":
      return { name: "exec", command: SessionRequest.exec.decode(data) };
    case "shell":
      return { name: "shell" };
    case "subsystem":
      return { name: "subsystem", subsystem: SessionRequest.subsystem.decode(data) };
    case "pty-req":
      return { name: "pty-req", pty: SessionRequest.pty.decode(data) };
    case "env": {
      const e = SessionRequest.env.decode(data);
      return { name: "env", variable: e.name, value: e.value };
    }
    case "window-change":
      return { name: "window-change", ...SessionRequest.windowChange.decode(data) };
    case "signal":
      return { name: "signal", signal: SessionRequest.signal.decode(data) };
    case "exit-status":
      return { name: "exit-status", code: SessionRequest.exitStatus.decode(data) };
    case "exit-signal":
      return { name: "exit-signal", ...SessionRequest.exitSignal.decode(data) };
  }
  return { name: type };
}

/**
 * How a command ended, as {@link sendExitStatus} reports it: an exit code
 * (exit-status), or the signal that killed it (exit-signal, name without
 * "SIG").
 *
 * @example
 * ```ts
 * import type { ExitStatus } from "./session.ts";
 * const killed: ExitStatus = { signal: "TERM", message: "terminated" };
 * ```
 */
export type ExitStatus = number | { signal: string; coreDumped?: boolean; message?: string };

/**
 * Reports how a command ended (RFC 4254 §6.10): waits until every write
 * so far has left, sends exit-status (or exit-signal), then EOF, and with
 * `close` also CLOSE (waiting for the peer's). The status goes before EOF
 * because some clients (ssh2) close the channel as soon as they see EOF.
 * A channel that is already closed makes the status a no-op, not an error;
 * an exit code that is not a uint32 rejects with a `RangeError` before
 * anything is sent.
 *
 * @example
 * ```ts
 * import { sendExitStatus } from "./session.ts";
 * import type { Channel } from "./channel.ts";
 * async function done(channel: Channel, failed: boolean) {
 *   await sendExitStatus(channel, failed ? 1 : 0, { close: true });
 * }
 * ```
 */
export async function sendExitStatus(
  channel: Channel,
  status: ExitStatus,
  options: { close?: boolean } = {},
): Promise<void> {
  if (
    typeof status === "number" && !(Number.isInteger(status) && status >= 0 && status <= 0xffffffff)
  ) {
    throw new RangeError(
      `exit status ${status} on channel ${channel.localId} is not a uint32 (RFC 4254 §6.10)`,
    );
  }
  const [type, data] = typeof status === "number"
    ? ["exit-status", SessionRequest.exitStatus.encode(status)]
    : [
      "exit-signal",
      SessionRequest.exitSignal.encode({
        signal: status.signal,
        coreDumped: status.coreDumped ?? false,
        message: status.message ?? "",
      }),
    ];
  await channel.drained();
  await channel.request(type, data, { wantReply: false }).catch(() => {});
  await channel.writable.close().catch(() => {});
  if (options.close) await channel.close().catch(() => {});
}
