// MaxStartups and PerSourceMaxStartups through both accept loops, listen()
// and rxssh serve (startServe in process), over real loopback sockets: a
// connection past the limit gets sshd's "Exceeded MaxStartups" line and no
// SSH banner, is reported (rejected$ / the log), and a startup ends at
// authentication. Behind a PROXY header the carried client is the source.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { connect } from "../lib/client.ts";
import { listen, type SshServer } from "../lib/server.ts";
import { STARTUP_DROP_NOTICE, StartupDroppedError } from "../lib/server_limits.ts";
import { startServe } from "../lib/cli/serve.ts";
import { OptionError } from "../lib/cli/options.ts";
import { hostKey } from "./_transport_pair.ts";

/** A raw socket: resolves `first` with the first bytes (or "" when closed first). */
function raw(port: number, send?: string) {
  const sock = net.connect({ host: "127.0.0.1", port });
  sock.on("error", () => {});
  if (send !== undefined) sock.write(send);
  let text = "";
  const first = new Promise<string>((resolve) => {
    sock.on("data", (d) => {
      text += d.toString("latin1");
      if (text.includes("\n")) resolve(text);
    });
    sock.on("close", () => resolve(text));
  });
  const closed = new Promise<void>((resolve) => sock.on("close", () => resolve()));
  return { sock, first, closed };
}

let fingerprint = "";
async function server(o: Partial<Parameters<typeof listen>[0]>): Promise<SshServer> {
  const key = await hostKey("ssh-ed25519");
  fingerprint = key.publicKey.fingerprint();
  return await listen({
    hostname: "127.0.0.1",
    port: 0,
    hostKeys: [key],
    auth: { handlers: { password: (u, p) => u === "u" && p === "pw" }, failureDelay: 1 },
    exec: (s) => s.exit(0),
    ...o,
  });
}

test("listen({ maxStartups }): past full, no banner, rejected$; a startup ends at authentication", async () => {
  const s = await server({ maxStartups: "2" });
  const dropped: unknown[] = [];
  s.rejected$.subscribe((e) => dropped.push(e));
  const opened: ReturnType<typeof raw>[] = [];
  try {
    for (let i = 0; i < 2; i++) {
      opened.push(raw(s.port));
      assert.match(await opened[i].first, /^SSH-2\.0-/);
    }
    const third = raw(s.port);
    assert.equal(await third.first, STARTUP_DROP_NOTICE);
    await third.closed;
    assert.equal(dropped.length, 1);
    const e = dropped[0] as StartupDroppedError;
    assert.ok(e instanceof StartupDroppedError);
    assert.equal(e.limit, "MaxStartups");
    assert.equal(e.startups, 2);
    assert.match(
      e.message,
      /^drop connection #2 from \[127\.0\.0\.1\]:\d+ on \[127\.0\.0\.1\]:\d+ past MaxStartups$/,
    );
    // One silent connection goes: a client gets in, and once authenticated it is no startup.
    opened[0].sock.destroy();
    await opened[0].closed;
    let client;
    for (let i = 0; i < 50 && !client; i++) { // the server sees the close a moment later
      client = await connect({
        host: "127.0.0.1",
        port: s.port,
        username: "u",
        password: "pw",
        hostKey: { fingerprint },
      }).catch(() => undefined);
      if (!client) await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(client, "a client logs in once a startup slot is free");
    opened.push(raw(s.port));
    assert.match(await opened[2].first, /^SSH-2\.0-/, "the authenticated client no longer counts");
    assert.equal(await raw(s.port).first, STARTUP_DROP_NOTICE);
    await client.close();
  } finally {
    for (const o of opened) o.sock.destroy();
    await s.close({ graceMs: 0 });
  }
});

test("listen({ proxyProtocol, perSourceMaxStartups }): the carried client is the source", async () => {
  const s = await server({
    proxyProtocol: { trusted: ["127.0.0.0/8"], timeoutMs: 2000 },
    perSourceMaxStartups: 1,
  });
  const dropped: unknown[] = [];
  s.rejected$.subscribe((e) => dropped.push(e));
  const header = (client: string, port: number) =>
    `PROXY TCP4 ${client} 198.51.100.1 ${port} 22\r\n`;
  const opened: ReturnType<typeof raw>[] = [];
  try {
    opened.push(raw(s.port, header("192.0.2.7", 50001)));
    assert.match(await opened[0].first, /^SSH-2\.0-/);
    const again = raw(s.port, header("192.0.2.7", 50002));
    opened.push(again);
    assert.equal(await again.first, STARTUP_DROP_NOTICE);
    opened.push(raw(s.port, header("192.0.2.8", 50003)));
    assert.match(await opened[2].first, /^SSH-2\.0-/, "another client behind the same proxy");
    await new Promise((r) => setTimeout(r, 50));
    const e = dropped.find((x) => x instanceof StartupDroppedError) as StartupDroppedError;
    assert.ok(e, `dropped: ${dropped}`);
    assert.equal(e.limit, "PerSourceMaxStartups");
    assert.match(
      e.message,
      /from \[192\.0\.2\.7\]:50002 on \[198\.51\.100\.1\]:22 past PerSourceMaxStartups/,
    );
  } finally {
    for (const o of opened) o.sock.destroy();
    await s.close({ graceMs: 0 });
  }
});

test("bad limits are refused up front: listen throws a TypeError, serve an OptionError naming it", async () => {
  await assert.rejects(
    server({ maxStartups: "10:30" }),
    /^TypeError: MaxStartups: invalid spec "10:30"/,
  );
  await assert.rejects(server({ perSourceMaxStartups: -2 }), /PerSourceMaxStartups: -2/);
  await assert.rejects(
    server({ perSourceNetBlockSize: "33" }),
    /PerSourceNetBlockSize: invalid spec "33"/,
  );
  const bad = async (opt: string, re: RegExp) =>
    await assert.rejects(
      startServe(["-p", "0", "-o", "ListenAddress=127.0.0.1", "-o", opt], {
        hostKeys: [await hostKey("ssh-ed25519")],
        writeLog: () => {},
      }),
      (e) => e instanceof OptionError && re.test(e.message),
    );
  await bad("MaxStartups=20:30:10", /^MaxStartups: invalid spec "20:30:10"/);
  await bad("MaxStartups=10:0:100", /^MaxStartups: invalid spec/);
  await bad(
    "PerSourceMaxStartups=many",
    /^PerSourceMaxStartups: expected a number or none, got "many"/,
  );
  await bad("PerSourceNetBlockSize=24:129", /^PerSourceNetBlockSize: invalid spec "24:129"/);
});

test("rxssh serve -o MaxStartups: sshd's drop line in the log, the notice on the socket", async () => {
  const lines: string[] = [];
  const served = await startServe(
    ["-p", "0", "-o", "ListenAddress=127.0.0.1", "-o", "MaxStartups=1", "-o", "LogLevel=VERBOSE"],
    { hostKeys: [await hostKey("ssh-ed25519")], writeLog: (l) => lines.push(l) },
  );
  const port = served.addresses[0].port;
  const opened: ReturnType<typeof raw>[] = [];
  try {
    opened.push(raw(port));
    assert.match(await opened[0].first, /^SSH-2\.0-/);
    for (let i = 0; i < 2; i++) {
      opened.push(raw(port));
      assert.equal(await opened[i + 1].first, STARTUP_DROP_NOTICE);
    }
    const drops = lines.filter((l) => / past MaxStartups$/.test(l));
    assert.equal(drops.length, 2, lines.join("\n"));
    assert.match(
      drops[0],
      /drop connection #1 from \[127\.0\.0\.1\]:\d+ on \[127\.0\.0\.1\]:\d+ past MaxStartups/,
    );
    assert.equal(lines.filter((l) => /beginning MaxStartups throttling/.test(l)).length, 1);
  } finally {
    for (const o of opened) o.sock.destroy();
    await served.close();
  }
});

test("rxssh serve -o ProxyProtocol -o PerSourceMaxStartups=1: the carried client is the source", async () => {
  const lines: string[] = [];
  const served = await startServe(
    [
      "-p",
      "0",
      "-o",
      "ListenAddress=127.0.0.1",
      "-o",
      "ProxyProtocol=127.0.0.0/8",
      "-o",
      "PerSourceMaxStartups=1",
    ],
    { hostKeys: [await hostKey("ssh-ed25519")], writeLog: (l) => lines.push(l) },
  );
  const port = served.addresses[0].port;
  const header = (client: string, p: number) => `PROXY TCP4 ${client} 198.51.100.1 ${p} 22\r\n`;
  const opened = [raw(port, header("192.0.2.7", 50001))];
  try {
    assert.match(await opened[0].first, /^SSH-2\.0-/);
    opened.push(raw(port, header("192.0.2.7", 50002)));
    assert.equal(await opened[1].first, STARTUP_DROP_NOTICE);
    opened.push(raw(port, header("192.0.2.8", 50003)));
    assert.match(await opened[2].first, /^SSH-2\.0-/);
    assert.ok(
      lines.some((l) =>
        /drop connection #1 from \[192\.0\.2\.7\]:50002 on \[198\.51\.100\.1\]:22 past PerSourceMaxStartups/
          .test(l)
      ),
      lines.join("\n"),
    );
  } finally {
    for (const o of opened) o.sock.destroy();
    await served.close();
  }
});
