// Issue 16 (D): no key material, passphrase or password in any error
// message, log line or event. One run exercises every path secrets take,
// with the most verbose logging and every event subscribed:
//
// - `rxssh keygen` makes the keys (the client's encrypted with a passphrase);
// - `rxssh serve -o LogLevel=DEBUG3` with RXSSH_PASSWORD and publickey;
// - `rxssh -vvv` with the encrypted key (SSH_ASKPASS: a wrong passphrase,
//   then the right one) and with a password (a wrong one, then the right one);
// - the library: a wrong password, a key that is not authorized, a host key
//   mismatch, a wrong passphrase, then a login with agent forwarding (our
//   memory agent, its key listed and used by ssh-add on the server), exec,
//   SFTP and a re-key, with every transport and connection event subscribed;
// - our server in this process: keyboard-interactive (a wrong answer, then
//   the right one) and X11 forwarding with a real cookie that reaches a
//   display, server and client events subscribed.
//
// Then everything produced (the processes' output, every event serialized
// with its bytes as hex and base64, every error with stack, causes and
// properties) is searched for every secret in every spelling (tests/_leaks.ts):
// passwords, passphrases and answers (plain, UTF-8 hex, base64, base64url at
// every alignment), every private key's seed (ed25519, as 32-byte seed and as
// seed||pk), the openssh-key-v1 text bodies, the X11 cookie, and the session
// keys, shared secrets and ephemeral keys of the connections made in this
// process (from the key-wiping test hook, lib/crypto/_secrets.ts; those of
// the child processes cannot be had, and are not searched for).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import process from "node:process";
import { memoryAgent } from "../lib/agent/server.ts";
import { connect, type ConnectOptions, type SshClient } from "../lib/client.ts";
import { watchSecrets } from "../lib/crypto/_secrets.ts";
import { generateEd25519 } from "../lib/keys/ed25519.ts";
import { encodeOpensshPrivateKey } from "../lib/keys/openssh_private_key.ts";
import { parsePrivateKeyFile } from "../lib/keys/private_key_file.ts";
import type { PrivateKey } from "../lib/keys/types.ts";
import { memoryPair } from "../lib/runtime/memory.ts";
import { acceptConnection, type ServerSession } from "../lib/server.ts";
import { sftp } from "../lib/sftp/client.ts";
import type { Transport } from "../lib/transport/transport.ts";
import { SshReader } from "../lib/wire/reader.ts";
import { enableX11Forwarding } from "../lib/x11/client.ts";
import { x11ForwardingHandler } from "../lib/x11/server.ts";
import { fromHex } from "../lib/x11/wire.ts";
import { cliCommand, ROOT, serve, type Served } from "./_cli.ts";
import { currentUser, findOpenSsh, runProcess, type RunResult } from "./_openssh.ts";
import { describeError, findLeaks, type Produced, type Secret, serialize } from "./_leaks.ts";
import { fakeDisplay, xClient } from "./_x11.ts";

const openssh = findOpenSsh();
const skip = openssh ? false : "OpenSSH (ssh-add) is not installed";
const te = new TextEncoder();
const td = new TextDecoder();
const randomHex = (n: number) =>
  Array.from(crypto.getRandomValues(new Uint8Array(n)), (b) => b.toString(16).padStart(2, "0"))
    .join("");

// Random per run, so that no fixed text can match by chance.
const PASSWORD = `pw-${randomHex(12)}`;
const WRONG_PASSWORD = `wrongpw-${randomHex(12)}`;
const PASSPHRASE = `pass ${randomHex(12)}`;
const WRONG_PASSPHRASE = `wrongpass ${randomHex(12)}`;
const KI_ANSWER = `ki-${randomHex(12)}`;
const WRONG_KI_ANSWER = `wrongki-${randomHex(12)}`;
const X11_COOKIE = randomHex(16);

const produced: Produced[] = [];
const secrets: Secret[] = [
  { name: "password", value: PASSWORD },
  { name: "wrong password", value: WRONG_PASSWORD },
  { name: "passphrase", value: PASSPHRASE },
  { name: "wrong passphrase", value: WRONG_PASSPHRASE },
  { name: "keyboard-interactive answer", value: KI_ANSWER },
  { name: "wrong keyboard-interactive answer", value: WRONG_KI_ANSWER },
  { name: "X11 real cookie", value: fromHex(X11_COOKIE) },
];
/** Secret buffers made in this process (session keys, K, ephemeral keys), copied when made. */
const made: { label: string; bytes: Uint8Array }[] = [];
let errors = 0;
let events = 0;

function keep(where: string, text: string): void {
  produced.push({ where, text });
}
function keepRun(where: string, r: RunResult): void {
  keep(`${where} stdout`, r.stdout);
  keep(`${where} stderr`, r.stderr);
}
function keepError(where: string, e: unknown): void {
  errors++;
  keep(`error: ${where}`, describeError(e));
}
function keepEvent(where: string, e: unknown): void {
  events++;
  keep(`event: ${where}`, serialize(e));
}

/** Every observable of a transport, subscribed (its events and its end). */
function watchTransport(where: string, t: Transport): void {
  const streams = {
    ignore$: t.ignore$,
    debug$: t.debug$,
    unimplemented$: t.unimplemented$,
    macError$: t.macError$,
    kex$: t.kex$,
    extInfo$: t.extInfo$,
    service$: t.service$,
    disconnect$: t.disconnect$,
  };
  for (const [name, o] of Object.entries(streams)) {
    (o as import("rxjs").Observable<unknown>).subscribe({
      next: (e) => keepEvent(`${where} ${name}`, e),
      error: (e) => keepError(`${where} ${name}`, e),
    });
  }
  t.closed.then((e) => keepError(`${where} closed`, e));
}

/** The ed25519 secrets of an openssh-key-v1 private section: the seed, and seed||pk. */
function ed25519Secrets(name: string, section: Uint8Array): Secret[] {
  const r = new SshReader(section);
  r.uint32("check");
  r.uint32("check");
  assert.equal(r.ascii("type"), "ssh-ed25519");
  r.string("pk");
  const sk = r.string("sk").slice();
  return [{ name: `${name} seed`, value: sk.subarray(0, 32) }, {
    name: `${name} seed||pk`,
    value: sk,
  }];
}

/** Reads a key file (watching the hook for its decrypted section) and names its secrets. */
async function keyFileSecrets(
  name: string,
  file: string,
  passphrase?: string,
): Promise<{ key: PrivateKey; secrets: Secret[] }> {
  const text = fs.readFileSync(file, "utf8");
  let section: Uint8Array | undefined;
  const stop = watchSecrets((label, bytes) => {
    if (label === "openssh-key-v1 private section") section = bytes.slice();
  });
  let key: PrivateKey;
  try {
    key = (await parsePrivateKeyFile(text, passphrase ? { passphrase } : {})).key;
  } finally {
    stop();
  }
  assert.ok(section, `${name}: no private section seen`);
  // The file's body, joined, and each line after the public part (the first three).
  const body = text.split("\n").filter((l) => l && !l.startsWith("-----"));
  const lines = body.slice(3).filter((l) => l.length >= 40)
    .map((l, i) => ({ name: `${name} file body line ${i + 4}`, value: l }));
  return {
    key,
    secrets: [
      ...ed25519Secrets(name, section),
      { name: `${name} file body`, value: body.join("") },
      ...lines,
    ],
  };
}

/** A key made in this process, with its secrets. */
async function generatedKey(name: string): Promise<{ key: PrivateKey; secrets: Secret[] }> {
  const key = generateEd25519();
  let section: Uint8Array | undefined;
  const text = await encodeOpensshPrivateKey(key);
  const stop = watchSecrets((label, bytes) => {
    if (label === "openssh-key-v1 private section") section = bytes.slice();
  });
  try {
    await parsePrivateKeyFile(text);
  } finally {
    stop();
  }
  return { key, secrets: ed25519Secrets(name, section!) };
}

const CONSOLE = ["log", "error", "warn", "info", "debug"] as const;
const consoleRestore: (() => void)[] = [];

describe("secrets never appear in errors, logs or events", { skip }, () => {
  let dir: string;
  let home: string;
  let server: Served | undefined;
  let stopWatching: () => void;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-secrets-"));
    home = path.join(dir, "home");
    fs.mkdirSync(path.join(home, ".ssh"), { recursive: true, mode: 0o700 });
    stopWatching = watchSecrets((label, bytes) => made.push({ label, bytes: bytes.slice() }));
    // This process's own console too (the library never writes to it; this keeps it so).
    for (const name of CONSOLE) {
      const original = console[name];
      consoleRestore.push(() => console[name] = original);
      console[name] = (...args: unknown[]) => {
        keep(
          `console.${name}`,
          args.map((a) => typeof a === "string" ? a : serialize(a)).join(" "),
        );
        original.apply(console, args);
      };
    }
  });
  after(async () => {
    for (const restore of consoleRestore) restore();
    stopWatching?.();
    await server?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Runs `rxssh args...` to completion and keeps its output. */
  async function rxssh(
    where: string,
    args: string[],
    env: Record<string, string> = {},
    input?: string,
  ): Promise<RunResult> {
    const [file, argv] = cliCommand(args);
    const r = await runProcess(file, argv, {
      timeoutMs: 120_000,
      cwd: ROOT,
      env: { ...process.env, HOME: home, ...env },
      ...(input === undefined ? {} : { input }),
    });
    keepRun(where, r);
    return r;
  }

  /** An SSH_ASKPASS program that answers `first`, then `then` on every later call. */
  function askpass(name: string, first: string, then: string): string {
    const file = path.join(dir, `${name}.sh`);
    const count = path.join(dir, `${name}.count`);
    fs.writeFileSync(
      file,
      `#!/bin/sh\nif [ -e '${count}' ]; then printf '%s\\n' '${then}'; ` +
        `else : > '${count}'; printf '%s\\n' '${first}'; fi\n`,
      { mode: 0o700 },
    );
    return file;
  }

  let hostKeyFile: string;
  const clientKeyFile = () => path.join(dir, "id_ed25519");

  it("rxssh keygen makes the keys; rxssh serve starts at LogLevel DEBUG3", async () => {
    hostKeyFile = path.join(dir, "host_ed25519");
    const k1 = await rxssh("keygen (client, with passphrase)", [
      "keygen",
      "-q",
      "-t",
      "ed25519",
      "-a",
      "4",
      "-N",
      PASSPHRASE,
      "-C",
      "",
      "-f",
      clientKeyFile(),
    ]);
    assert.equal(k1.code, 0, k1.stderr);
    const k2 = await rxssh("keygen (host)", [
      "keygen",
      "-q",
      "-t",
      "ed25519",
      "-N",
      "",
      "-C",
      "",
      "-f",
      hostKeyFile,
    ]);
    assert.equal(k2.code, 0, k2.stderr);
    // -y with the passphrase on standard input (the prompt path): wrong, then right.
    const bad = await rxssh(
      "keygen -y (wrong)",
      ["keygen", "-y", "-f", clientKeyFile()],
      {},
      `${WRONG_PASSPHRASE}\n`,
    );
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /incorrect passphrase/);
    const good = await rxssh(
      "keygen -y",
      ["keygen", "-y", "-f", clientKeyFile()],
      {},
      `${PASSPHRASE}\n`,
    );
    assert.equal(good.code, 0, good.stderr);
    assert.match(good.stdout, /^ssh-ed25519 /);
    const client = await keyFileSecrets("client key", clientKeyFile(), PASSPHRASE);
    const host = await keyFileSecrets("rxssh serve host key", hostKeyFile);
    secrets.push(...client.secrets, ...host.secrets);
    const authorized = path.join(dir, "authorized_keys");
    fs.writeFileSync(authorized, fs.readFileSync(clientKeyFile() + ".pub", "utf8"));
    server = await serve(
      [
        "-o",
        "LogLevel=DEBUG3",
        "-o",
        `HostKey=${hostKeyFile}`,
        "-o",
        `AuthorizedKeysFile=${authorized}`,
        "-o",
        "PasswordAuthentication=yes",
      ],
      { HOME: home, RXSSH_PASSWORD: PASSWORD },
    );
  });

  const common = () => [
    "-vvv",
    "-F",
    "none",
    "-p",
    String(server!.port),
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
    "-l",
    currentUser(),
  ];

  it("rxssh -vvv with the encrypted key: a wrong passphrase, then the right one", async () => {
    const ask = askpass("askpass-key", WRONG_PASSPHRASE, PASSPHRASE);
    const r = await rxssh(
      "rxssh -vvv (encrypted key)",
      [
        ...common(),
        "-i",
        clientKeyFile(),
        "-o",
        "PasswordAuthentication=no",
        "127.0.0.1",
        "echo key-ok",
      ],
      { SSH_ASKPASS: ask, SSH_ASKPASS_REQUIRE: "force" },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "key-ok\n");
    assert.match(r.stderr, /Bad passphrase/);
    assert.match(r.stderr, /debug1: /);
  });

  it("rxssh -vvv with a password: a wrong one, then the right one", async () => {
    const ask = askpass("askpass-password", WRONG_PASSWORD, PASSWORD);
    const r = await rxssh(
      "rxssh -vvv (password)",
      [...common(), "-o", "PubkeyAuthentication=no", "127.0.0.1", "echo password-ok"],
      { SSH_ASKPASS: ask, SSH_ASKPASS_REQUIRE: "force" },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "password-ok\n");
    assert.match(r.stderr, /debug1: Authenticated/);
  });

  /** connect() to rxssh serve with every event watched; errors kept. */
  async function libConnect(where: string, o: Partial<ConnectOptions>): Promise<SshClient> {
    try {
      const c = await connect({
        host: "127.0.0.1",
        port: server!.port,
        username: currentUser(),
        config: false,
        agent: false,
        hostKey: { verify: () => true },
        onTransport: (t) => watchTransport(where, t),
        ...o,
      });
      c.connection.event$.subscribe({
        next: (e) => keepEvent(`${where} connection`, e),
        error: (e) => keepError(`${where} connection`, e),
      });
      return c;
    } catch (e) {
      keepError(where, e);
      throw e;
    }
  }

  it("the library: wrong password, unauthorized key, host key mismatch, wrong passphrase", async () => {
    await assert.rejects(libConnect("wrong password", { password: WRONG_PASSWORD }));
    const stranger = await generatedKey("unauthorized key");
    secrets.push(...stranger.secrets);
    await assert.rejects(libConnect("unauthorized key", { privateKeys: [stranger.key] }));
    const other = generateEd25519();
    await assert.rejects(
      libConnect("host key mismatch", {
        password: PASSWORD,
        hostKey: { fingerprint: other.publicKey.fingerprint() },
      }),
    );
    await assert.rejects(
      parsePrivateKeyFile(fs.readFileSync(clientKeyFile(), "utf8"), {
        passphrase: WRONG_PASSPHRASE,
      })
        .catch((e) => {
          keepError("wrong passphrase", e);
          throw e;
        }),
    );
  });

  it("the library: password login with agent forwarding, exec, SFTP and a re-key", async () => {
    const agentKey = await generatedKey("forwarded agent key");
    secrets.push(...agentKey.secrets);
    const agent = memoryAgent([{ key: agentKey.key, comment: "secrets-test" }]);
    const pub = path.join(dir, "agent_key.pub");
    fs.writeFileSync(
      pub,
      `${agentKey.key.publicKey.type} ${
        btoa(String.fromCharCode(...agentKey.key.publicKey.blob))
      }\n`,
    );
    const c = await libConnect("login", { password: PASSWORD, forwardAgent: agent });
    try {
      const add = path.join(path.dirname(openssh!.ssh), "ssh-add");
      const r = await c.exec(`'${add}' -l && '${add}' -T '${pub}' && echo signed`);
      keep("exec ssh-add stderr", td.decode(r.stderr));
      assert.equal(r.code, 0, td.decode(r.stderr));
      assert.match(
        td.decode(r.stdout),
        new RegExp(agentKey.key.publicKey.fingerprint().replace(/[+/]/g, "\\$&")),
      );
      assert.match(td.decode(r.stdout), /signed/);
      await c.transport.rekey();
      const s = await sftp(c);
      try {
        const target = path.join(dir, "sftp-file");
        const h = await s.open(target, { flags: "w" });
        await s.write(h, te.encode("through sftp\n"), { offset: 0 });
        await s.closeHandle(h);
        assert.equal(fs.readFileSync(target, "utf8"), "through sftp\n");
        await s.stat(path.join(dir, "missing")).catch((e) => keepError("sftp stat missing", e));
      } finally {
        await s.close();
      }
    } finally {
      await c.close();
    }
  });

  it("our server: keyboard-interactive (wrong, then right) and X11 with the real cookie", async () => {
    const hostKey = await generatedKey("in-process host key");
    secrets.push(...hostKey.secrets);
    const display = await fakeDisplay(dir);
    const x11 = x11ForwardingHandler({ xauth: false, displayOffset: 30 });
    const displays: string[] = [];
    x11.display$.subscribe((d) => displays.push(d.request.authCookie));
    const run = async (answers: string[]) => {
      const [a, b] = memoryPair();
      const incoming = acceptConnection(b, {
        hostKeys: [hostKey.key],
        handlers: [x11],
        auth: {
          failureDelay: 1,
          handlers: {
            keyboardInteractive: () => ({
              prompts: [{ prompt: "Answer: ", echo: false }],
              check: (got) => got.length === 1 && got[0] === KI_ANSWER,
            }),
          },
        },
        exec: async (s: ServerSession) => {
          const reply = await xClient(s.env.DISPLAY!, "MIT-MAGIC-COOKIE-1", displays.at(-1)!);
          const w = s.stdout.getWriter();
          await w.write(te.encode(reply));
          w.releaseLock();
          await s.exit(0);
        },
      });
      watchTransport("in-process server", incoming.transport);
      incoming.event$.subscribe({
        next: (e) => keepEvent("in-process server", e),
        error: (e) => keepError("in-process server", e),
      });
      incoming.authenticated.catch((e) => keepError("in-process server authenticated", e));
      let round = 0;
      return await connect({
        stream: a,
        username: "alice",
        hostKey: { fingerprint: hostKey.key.publicKey.fingerprint() },
        onTransport: (t) => watchTransport("in-process client", t),
        authMethods: [{
          type: "keyboard-interactive",
          respond: () => [answers[Math.min(round++, answers.length - 1)]],
        }],
      }).catch((e) => {
        keepError("in-process connect", e);
        throw e;
      });
    };
    await assert.rejects(run([WRONG_KI_ANSWER]));
    const c = await run([KI_ANSWER]);
    try {
      c.connection.event$.subscribe((e) => keepEvent("in-process client connection", e));
      const fwd = enableX11Forwarding(c, { display: display.display, cookie: X11_COOKIE });
      fwd.x11$.subscribe((e) => keepEvent("x11$", e));
      fwd.refused$.subscribe((e) => keepEvent("x11 refused$", e));
      const r = await c.exec("xclient", { requests: [fwd.request] });
      assert.equal(r.code, 0);
      assert.equal(td.decode(r.stdout), `OK:MIT-MAGIC-COOKIE-1:${X11_COOKIE}:hello X\n`);
      // The display got the real cookie: the secret did travel.
      assert.deepEqual(display.seen.map((x) => x.cookie), [X11_COOKIE]);
    } finally {
      await c.close();
      display.close();
    }
  });

  it("no secret shows anywhere in what the run produced", async () => {
    await server?.stop();
    keep("rxssh serve log", server!.log());
    server = undefined;
    // The session keys, K and ephemeral keys of this process's connections.
    const keys = made.filter((m) => m.bytes.length >= 12);
    assert.ok(keys.some((m) => m.label.startsWith("derived")), "no session keys were seen");
    for (const [i, m] of keys.entries()) secrets.push({ name: `${m.label} #${i}`, value: m.bytes });
    const log = server === undefined
      ? produced.find((p) => p.where === "rxssh serve log")!.text
      : "";
    // DEBUG3 is the most verbose level; rxssh serve's most detailed lines are debug1 ones.
    assert.match(log, /debug1: /, "rxssh serve did not log debug lines");
    assert.match(log, /Failed password/);
    assert.match(log, /Accepted password/);
    assert.match(log, /Accepted publickey/);
    const total = produced.reduce((n, p) => n + p.text.length, 0);
    console.log(
      `secrets scan: ${secrets.length} secrets, ${produced.length} pieces (${total} chars), ` +
        `${events} events, ${errors} errors, ${keys.length} in-process key buffers`,
    );
    assert.ok(errors >= 6, `only ${errors} errors collected`);
    assert.deepEqual(findLeaks(secrets, produced), []);
  });
});

/** The scanner finds a planted secret in each spelling (so a clean result means something). */
describe("the leak scanner", () => {
  it("finds a secret as text, hex, base64 at any alignment (line-wrapped too) and decimal", () => {
    const seed = crypto.getRandomValues(new Uint8Array(32));
    const word = `pw-${randomHex(10)}`;
    const wrapped = (s: string) => s.match(/.{1,10}/g)!.join("\n");
    for (const k of [0, 1, 2]) {
      const blob = new Uint8Array(k + 32 + 5);
      blob.set(seed, k);
      const b64 = btoa(String.fromCharCode(...blob));
      assert.equal(
        findLeaks([{ name: "seed", value: seed }], [{ where: "x", text: `a ${b64} b` }]).length > 0,
        true,
      );
      assert.ok(
        findLeaks([{ name: "seed", value: seed }], [{ where: "x", text: wrapped(b64) }]).length > 0,
      );
      const url = b64.replace(/\+/g, "-").replace(/\//g, "_");
      assert.ok(findLeaks([{ name: "seed", value: seed }], [{ where: "x", text: url }]).length > 0);
    }
    const hexText = Array.from(seed, (b) => b.toString(16).padStart(2, "0")).join("");
    assert.ok(
      findLeaks([{ name: "seed", value: seed }], [{ where: "x", text: hexText.toUpperCase() }])
        .length > 0,
    );
    assert.ok(
      findLeaks([{ name: "seed", value: seed }], [{
        where: "x",
        text: `Uint8Array(32) [ ${Array.from(seed).join(", ")} ]`,
      }]).length > 0,
    );
    assert.ok(
      findLeaks([{ name: "pw", value: word }], [{
        where: "x",
        text: serialize({ e: new Error(`bad ${word}`) }),
      }]).length > 0,
    );
    assert.ok(
      findLeaks([{ name: "pw", value: word }], [{
        where: "x",
        text: serialize({ b: te.encode(word) }),
      }]).length > 0,
    );
    assert.deepEqual(
      findLeaks([{ name: "seed", value: seed }, { name: "pw", value: word }], [{
        where: "x",
        text: "nothing here",
      }]),
      [],
    );
  });
});
