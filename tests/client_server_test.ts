// Our client against our server over an in-memory pair: authentication,
// exec with stdout/stderr/exit status, stdin, flow control, session requests.
import { test } from "node:test";
import assert from "node:assert/strict";
import { firstValueFrom } from "rxjs";
import { connect } from "../lib/client.ts";
import { AuthenticationError } from "../lib/auth/client.ts";
import { serveConnection, type ServerOptions, type ServerSession } from "../lib/server.ts";
import { memoryPair } from "../lib/runtime/memory.ts";
import { hostKey } from "./_transport_pair.ts";
import type { ChannelOpenError } from "../lib/connection/connection.ts";
import { DisconnectError } from "../lib/wire/errors.ts";
import { generatePrivateKey } from "../lib/keys/private_key.ts";

const te = new TextEncoder();
const td = new TextDecoder();

async function write(s: WritableStream<Uint8Array>, text: string | Uint8Array) {
  const w = s.getWriter();
  await w.write(typeof text === "string" ? te.encode(text) : text);
  w.releaseLock();
}

/** Echo-ish exec handler used by most tests. */
async function handler(s: ServerSession) {
  const cmd = s.command ?? "";
  if (cmd === "cat") {
    await s.stdin.pipeTo(s.stdout, { preventClose: true });
    return s.exit(0);
  }
  if (cmd.startsWith("exit ")) {
    await write(s.stderr, "bye\n");
    return s.exit(Number(cmd.slice(5)));
  }
  if (cmd === "env") {
    await write(s.stdout, JSON.stringify({ env: s.env, pty: s.pty }));
    return s.exit(0);
  }
  if (cmd === "kill") return s.exit({ signal: "TERM", message: "terminated" });
  if (cmd === "throw") throw new Error("handler blew up");
  await write(s.stdout, `ran: ${cmd}\n`);
  await s.exit(0);
}

async function pair(server: Partial<ServerOptions> = {}, client: Record<string, unknown> = {}) {
  const [a, b] = memoryPair();
  const key = await hostKey("ssh-ed25519");
  const serving = serveConnection(b, {
    hostKeys: [key],
    auth: {
      handlers: { password: (u, p) => u === "alice" && p === "wonderland" },
      failureDelay: 1,
    },
    exec: handler,
    ...server,
  });
  serving.catch(() => {});
  const c = connect({
    stream: a,
    username: "alice",
    password: "wonderland",
    hostKey: { fingerprint: key.publicKey.fingerprint() },
    ...client,
  });
  return { client: await c, server: serving };
}

test("exec: stdout, stderr and exit codes 0 and 42, exit-signal", async () => {
  const { client, server } = await pair();
  assert.equal((await server).username, "alice");
  const r = await client.exec("hello world");
  assert.equal(td.decode(r.stdout), "ran: hello world\n");
  assert.equal(r.code, 0);
  const e = await client.exec("exit 42");
  assert.equal(e.code, 42);
  assert.equal(td.decode(e.stderr), "bye\n");
  const k = await client.exec("kill");
  assert.equal(k.signal, "TERM");
  assert.equal(k.message, "terminated");
  const t = await client.exec("throw");
  assert.equal(t.code, 255);
  assert.match(td.decode(t.stderr), /handler blew up/);
  // The connection survives a failing handler.
  assert.equal((await client.exec("again")).code, 0);
  await client.close();
});

test("stdin through cat: 8 MiB with end-to-end flow control, byte-exact", async () => {
  const { client } = await pair();
  const data = new Uint8Array(8 * 1024 * 1024);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >> 13)) & 0xff;
  const r = await client.exec("cat", { stdin: data });
  assert.equal(r.code, 0);
  assert.equal(r.stdout.length, data.length);
  assert.deepEqual(r.stdout, data);
  await client.close();
});

test("a reader that stops reading stops the writer (the window closes), then resumes", async () => {
  const { client } = await pair();
  const s = await client.spawn("cat");
  const w = s.stdin.getWriter();
  let written = 0;
  const chunk = new Uint8Array(64 * 1024);
  const writing = (async () => {
    for (let i = 0; i < 256; i++) {
      await w.write(chunk);
      written += chunk.length;
    }
    await w.close();
  })();
  await new Promise((r) => setTimeout(r, 300));
  // Nobody reads stdout: at most our window (2 MiB) + the server's buffered window (2 MiB) + a few packets in flight.
  assert.ok(written <= 6 * 1024 * 1024, `writer ran ahead: ${written} bytes`);
  assert.ok(written < chunk.length * 256);
  const out = await new Response(s.stdout).arrayBuffer();
  await writing;
  assert.equal(out.byteLength, chunk.length * 256);
  assert.equal((await s.exit).code, 0);
  await client.close();
});

test("env and pty-req reach the server; window-change and signal arrive as observables", async () => {
  const seen: ServerSession[] = [];
  const { client, server } = await pair({
    shell: async (s) => {
      seen.push(s);
      const size = await firstValueFrom(s.windowChange$);
      const sig = await firstValueFrom(s.signal$);
      await write(s.stdout, `${size.cols}x${size.rows} ${sig}`);
      await s.exit(0);
    },
  });
  await server;
  const r = await client.exec("env", {
    env: { LANG: "C.UTF-8" },
    pty: {
      term: "xterm-256color",
      cols: 120,
      rows: 40,
      widthPx: 0,
      heightPx: 0,
      modes: { ECHO: 0, TTY_OP_ISPEED: 38400 },
    },
  });
  const info = JSON.parse(td.decode(r.stdout));
  assert.deepEqual(info.env, { LANG: "C.UTF-8" });
  assert.equal(info.pty.term, "xterm-256color");
  assert.deepEqual(info.pty.modes, { ECHO: 0, TTY_OP_ISPEED: 38400 });
  const sh = await client.shell({
    pty: { term: "vt100", cols: 80, rows: 24, widthPx: 0, heightPx: 0, modes: {} },
  });
  await sh.resize({ cols: 100, rows: 30 });
  await sh.signal("INT");
  assert.equal(await new Response(sh.stdout).text(), "100x30 INT");
  assert.equal(seen[0].pty?.term, "vt100");
  await client.close();
});

test("refusals: unknown subsystem, unknown channel type; the connection carries on", async () => {
  const { client } = await pair({ subsystems: { echo: async (s) => void await s.exit(7) } });
  await assert.rejects(client.subsystem("sftp"), /server refused subsystem \(sftp\)/);
  const ok = await client.subsystem("echo");
  assert.equal((await ok.exit).code, 7);
  await assert.rejects(client.openChannel("x11-nonsense"), (e: ChannelOpenError) => e.reason === 3);
  assert.equal((await client.exec("still here")).code, 0);
  await client.close();
});

test("wrong password: AuthenticationError on the client; MaxAuthTries ends the connection", async () => {
  const [a, b] = memoryPair();
  const key = await hostKey("ssh-ed25519");
  const serving = serveConnection(b, {
    hostKeys: [key],
    auth: { handlers: { password: () => false }, maxAuthTries: 2, failureDelay: 1 },
  });
  let asked = 0;
  const c = connect({
    stream: a,
    username: "mallory",
    password: () => `guess${asked++}`,
    authMethods: [{ type: "password", password: "again" }, { type: "password", password: "third" }],
    hostKey: { fingerprint: key.publicKey.fingerprint() },
  });
  await assert.rejects(
    c,
    (e: Error) => e instanceof AuthenticationError || e instanceof DisconnectError,
  );
  await assert.rejects(serving, (e: DisconnectError) => e.reason === 14);
});

test("publickey authentication with every key type; the server sees the key", async () => {
  for (const type of ["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp521", "ssh-rsa"]) {
    const userKey = await generatePrivateKey(type, type === "ssh-rsa" ? { bits: 2048 } : {});
    const { client, server } = await pair(
      {
        auth: {
          handlers: { publicKey: (_u, k) => k.fingerprint() === userKey.publicKey.fingerprint() },
          failureDelay: 1,
        },
      },
      { password: undefined, privateKeys: [userKey] },
    );
    const s = await server;
    assert.deepEqual(s.auth.methods, ["publickey"], type);
    assert.equal(s.auth.publicKey?.fingerprint(), userKey.publicKey.fingerprint());
    await client.close();
  }
});

test("AuthenticationMethods publickey,password needs both (partial success)", async () => {
  const userKey = await generatePrivateKey("ssh-ed25519");
  const partial: string[] = [];
  const { client, server } = await pair(
    {
      auth: {
        handlers: { publicKey: () => true, password: (_u, p) => p === "wonderland" },
        authenticationMethods: [["publickey", "password"]],
        failureDelay: 1,
      },
    },
    { privateKeys: [userKey] },
  );
  assert.deepEqual((await server).auth.methods, ["publickey", "password"]);
  void partial;
  await client.close();
});

test("a host key that does not match the pinned fingerprint is refused", async () => {
  const [a, b] = memoryPair();
  serveConnection(b, { hostKeys: [await hostKey("ssh-ed25519")], auth: { handlers: {} } }).catch(
    () => {},
  );
  await assert.rejects(
    connect({
      stream: a,
      username: "x",
      password: "y",
      hostKey: { fingerprint: "SHA256:not-this-one" },
    }),
    (e: DisconnectError) => e.reason === 9,
  );
});

test("keyboard-interactive prompts reach the client; the banner is delivered", async () => {
  const banners: string[] = [];
  const seen: string[] = [];
  const { client, server } = await pair(
    {
      auth: {
        banner: "Authorized use only\n",
        handlers: {
          keyboardInteractive: () => ({
            instruction: "two questions",
            prompts: [{ prompt: "Code: ", echo: true }, { prompt: "PIN: ", echo: false }],
            check: (a) => a[0] === "123456" && a[1] === "0000",
          }),
        },
        failureDelay: 1,
      },
    },
    {
      password: undefined,
      onBanner: (m: string) => banners.push(m),
      keyboardInteractive: (c: { instruction: string; prompts: { prompt: string }[] }) => {
        seen.push(c.instruction, ...c.prompts.map((p) => p.prompt));
        return ["123456", "0000"];
      },
    },
  );
  assert.deepEqual((await server).auth.methods, ["keyboard-interactive"]);
  assert.deepEqual(banners, ["Authorized use only\n"]);
  assert.deepEqual(seen, ["two questions", "Code: ", "PIN: "]);
  await client.close();
});

test("failures take the same minimum time for unknown users and wrong passwords", async () => {
  const times: number[] = [];
  for (const user of ["alice", "nobody-here"]) {
    const [a, b] = memoryPair();
    const key = await hostKey("ssh-ed25519");
    serveConnection(b, {
      hostKeys: [key],
      auth: {
        handlers: { password: (u, p) => u === "alice" && p === "right" },
        maxAuthTries: 1,
        failureDelay: 60,
      },
    }).catch(() => {});
    const started = Date.now();
    await connect({
      stream: a,
      username: user,
      password: "wrong",
      hostKey: { fingerprint: key.publicKey.fingerprint() },
    })
      .catch(() => {});
    times.push(Date.now() - started);
  }
  for (const t of times) assert.ok(t >= 60, `a failure answered after ${t} ms`);
});

test("global requests: keepalive@openssh.com gets a reply; no-more-sessions@openssh.com refuses new sessions", async () => {
  const { client } = await pair();
  const r = await client.connection.globalRequest("keepalive@openssh.com");
  assert.equal(r.ok, false); // answered REQUEST_FAILURE, as OpenSSH does: the point is the reply
  assert.equal((await client.exec("first")).code, 0);
  await client.connection.noMoreSessions();
  await assert.rejects(client.exec("second"), (e: ChannelOpenError) => e.reason === 1);
  await client.close();
});

test("exit-status is sent after the output and before EOF (clients that close on EOF still see it)", async () => {
  const { client } = await pair();
  const channel = await client.openChannel("session");
  const order: string[] = [];
  channel.requests$.subscribe((r) => {
    order.push(`${r.type} eof=${channel.eofReceived}`);
    r.reject();
  });
  const reading = new Response(channel.readable).text();
  assert.equal(
    await channel.request(
      "exec",
      new Uint8Array([0, 0, 0, 6, ...new TextEncoder().encode("exit 3")]),
    ),
    true,
  );
  await reading;
  await channel.closed;
  assert.deepEqual(order, ["exit-status eof=false"]);
  await client.close();
});
