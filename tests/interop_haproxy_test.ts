// HAProxy (mode tcp, send-proxy-v2 and send-proxy) in front of two
// `rxssh serve -o ProxyProtocol=127.0.0.1` backends sharing one host key,
// driven by OpenSSH's ssh: round robin lands on both, the client's real
// address and port (as HAProxy logged them) are in the server's log and in
// SSH_CONNECTION, authorized_keys from= is matched on that address, and a
// header from an untrusted address, a connection without one, and a late
// header are closed without an SSH banner.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import {
  currentUser,
  findOpenSsh,
  freePort,
  runSsh,
  startDaemon,
  testSshArgs,
} from "./_openssh.ts";
import { keygen, serve, type Served } from "./_cli.ts";

const HAPROXY = ["/usr/sbin/haproxy", "/usr/bin/haproxy"].find((f) => fs.existsSync(f));
const openssh = findOpenSsh();
const skip = !openssh
  ? "OpenSSH is not installed (scripts/ensure_openssh.sh installs it)"
  : !HAPROXY
  ? "HAProxy is not installed (scripts/ensure_openssh.sh installs it: apt-get install haproxy)"
  : false;
const user = currentUser();

/** What a raw socket from `localAddress` received before the server closed it, and when. */
function probe(port: number, opts: { localAddress: string; send?: string | Uint8Array }) {
  return new Promise<{ bytes: number; ms: number }>((resolve) => {
    const started = Date.now();
    let bytes = 0;
    const sock = net.connect({ host: "127.0.0.1", port, localAddress: opts.localAddress });
    sock.on("connect", () => opts.send && sock.write(opts.send));
    sock.on("data", (d) => bytes += d.length);
    sock.on("error", () => {});
    sock.on("close", () => resolve({ bytes, ms: Date.now() - started }));
    setTimeout(() => sock.destroy(), 15_000);
  });
}

describe("HAProxy (PROXY protocol) -> two rxssh serve backends", { skip }, () => {
  let work: string;
  let keyFile: string;
  const backends: Served[] = [];
  let haproxy: Awaited<ReturnType<typeof startDaemon>>;
  let v2Port: number;
  let v1Port: number;

  before(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-haproxy-"));
    keyFile = path.join(work, "id_ed25519");
    const pub = await keygen(keyFile);
    // Only the client at 127.0.0.2 may use this key; HAProxy itself connects from 127.0.0.1.
    fs.writeFileSync(path.join(work, "authorized_keys"), `from="127.0.0.2" ${pub}\n`);
    const hostKeyFile = path.join(work, "ssh_host_ed25519_key");
    await keygen(hostKeyFile); // one host key for both backends, as behind any balancer
    for (let i = 0; i < 2; i++) {
      backends.push(
        await serve([
          "-h",
          hostKeyFile,
          "-o",
          `AuthorizedKeysFile=${path.join(work, "authorized_keys")}`,
          "-o",
          "ProxyProtocol=127.0.0.1/32",
          "-o",
          "ProxyProtocolTimeout=3", // short for the silent probe below; slack for a loaded machine
          "-o",
          "LogLevel=VERBOSE",
        ], { HOME: work }),
      );
    }
    v2Port = await freePort();
    v1Port = await freePort();
    const [a, b] = backends.map((s) => s.port);
    const cfg = path.join(work, "haproxy.cfg");
    fs.writeFileSync(
      cfg,
      `global
  log stdout format raw local0
  maxconn 200
defaults
  mode tcp
  log global
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  # A check waits this long for the banner (the default is inter, 2 s: too short on a loaded
  # CI machine, where a slow check marks both backends DOWN and HAProxy refuses clients).
  timeout check 20s
frontend ssh_v2
  bind 127.0.0.1:${v2Port}
  log-format "client %ci:%cp -> %b/%s"
  default_backend rxssh_v2
backend rxssh_v2
  balance roundrobin
  # Health check: a PROXY v2 LOCAL header, then rxssh's identification line must follow.
  option tcp-check
  tcp-check connect
  tcp-check expect rstring ^SSH-2\\.0-
  server a 127.0.0.1:${a} send-proxy-v2 check check-send-proxy inter 2s fall 5
  server b 127.0.0.1:${b} send-proxy-v2 check check-send-proxy inter 2s fall 5
frontend ssh_v1
  bind 127.0.0.1:${v1Port}
  log-format "client %ci:%cp -> %b/%s"
  default_backend rxssh_v1
backend rxssh_v1
  server a 127.0.0.1:${a} send-proxy
`,
    );
    haproxy = await startDaemon(HAPROXY!, ["-db", "-f", cfg], { port: v2Port });
  });
  after(async () => {
    await haproxy?.stop();
    for (const b of backends) await b.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  const ssh = (port: number, extra: string[]) =>
    runSsh(testSshArgs(port, keyFile, user, ["-o", "LogLevel=ERROR", ...extra]), {
      timeoutMs: 30_000,
    });

  it("send-proxy-v2: round robin over both; SSH_CONNECTION and the log carry the client's address and port", async () => {
    const seen: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await ssh(v2Port, ["-b", "127.0.0.2", "127.0.0.1", "echo $SSH_CONNECTION"]);
      assert.equal(r.code, 0, r.stderr);
      const [addr, port, localAddr, localPort] = r.stdout.trim().split(" ");
      assert.equal(addr, "127.0.0.2");
      assert.equal(localAddr, "127.0.0.1");
      assert.equal(localPort, String(v2Port)); // the address the client connected to: HAProxy's
      seen.push(port);
    }
    // HAProxy logs each client when its session ends.
    const until = Date.now() + 10_000;
    while (seen.some((p) => !haproxy.log().includes(`client 127.0.0.2:${p} ->`))) {
      assert.ok(Date.now() < until, `HAProxy did not log the clients ${seen}:\n${haproxy.log()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const [i, b] of backends.entries()) {
      const ports = seen.filter((p) =>
        b.log().includes(
          `Connection from 127.0.0.2 port ${p} on 127.0.0.1 port ${v2Port} via proxy 127.0.0.1 (PROXY v2)`,
        )
      );
      assert.equal(ports.length, 2, `backend ${i} served ${ports.length} of 4:\n${b.log()}`);
      for (const p of ports) {
        const server = i === 0 ? "a" : "b";
        assert.match(
          haproxy.log(),
          new RegExp(`client 127\\.0\\.0\\.2:${p} -> rxssh_v2/${server}`),
        );
        assert.match(
          b.log(),
          new RegExp(`Accepted publickey for \\S+ from 127\\.0\\.0\\.2 port ${p}`),
        );
      }
    }
    // HAProxy's health checks (a LOCAL header) got rxssh's banner: the source is the proxy itself.
    // Checks run every 2 s and the first may not have come yet (or, on Bun, may have been
    // accepted with no peer address and refused): wait for one.
    const check = /Connection from 127\.0\.0\.1 port \d+ .*via proxy 127\.0\.0\.1 \(PROXY v2\)/;
    const checkBy = Date.now() + 30_000;
    while (!check.test(backends[0].log())) {
      assert.ok(
        Date.now() < checkBy,
        `no health check seen:\n${backends[0].log()}\nHAProxy:\n${haproxy.log()}`,
      );
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  it("from= is matched on the carried address: 127.0.0.1 is refused, 127.0.0.2 accepted", async () => {
    const refused = await ssh(v2Port, ["-b", "127.0.0.1", "127.0.0.1", "true"]);
    assert.equal(refused.code, 255);
    assert.match(refused.stderr, /Permission denied/, `HAProxy:\n${haproxy.log()}`);
    const ok = await ssh(v2Port, ["-b", "127.0.0.2", "127.0.0.1", "true"]);
    assert.equal(ok.code, 0, ok.stderr);
  });

  it("send-proxy (v1) works too", async () => {
    const r = await ssh(v1Port, ["-b", "127.0.0.2", "127.0.0.1", "echo $SSH_CLIENT"]);
    assert.equal(r.code, 0, r.stderr);
    const [addr, port, localPort] = r.stdout.trim().split(" ");
    assert.equal(addr, "127.0.0.2");
    assert.equal(localPort, String(v1Port));
    assert.match(
      backends[0].log(),
      new RegExp(`Connection from 127\\.0\\.0\\.2 port ${port} .*\\(PROXY v1\\)`),
    );
  });

  it("refused without a banner: untrusted header, ssh straight to a backend, no header in time", async () => {
    const [a] = backends;
    /** Waits for `re` in what `a` logged after offset `from`. */
    const logged = async (re: RegExp, from: number) => {
      const until = Date.now() + 10_000;
      while (!re.test(a.log().slice(from))) {
        assert.ok(Date.now() < until, `${re} not in:\n${a.log().slice(from)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const header = "PROXY TCP4 192.0.2.7 127.0.0.1 50123 22\r\n";
    let mark = a.log().length;
    const untrusted = await probe(a.port, { localAddress: "127.0.0.2", send: header });
    assert.equal(untrusted.bytes, 0);
    await logged(
      /refused connection: PROXY protocol from 127\.0\.0\.2: not a trusted proxy address/,
      mark,
    );
    mark = a.log().length;
    const silent = await probe(a.port, { localAddress: "127.0.0.1" });
    assert.equal(silent.bytes, 0);
    assert.ok(silent.ms >= 2900 && silent.ms < 15_000, `closed after ${silent.ms} ms`);
    await logged(
      /refused connection: PROXY protocol from 127\.0\.0\.1: no complete PROXY header within 3000 ms/,
      mark,
    );
    mark = a.log().length;
    const direct = await ssh(a.port, ["-b", "127.0.0.1", "127.0.0.1", "true"]);
    assert.equal(direct.code, 255);
    assert.doesNotMatch(direct.stderr, /Permission denied/); // no SSH at all
    // ssh writes its identification line at once, unless it is slow to start (a loaded machine).
    await logged(
      /refused connection: PROXY protocol from 127\.0\.0\.1: (expected a PROXY header, got \\"SSH-2\.0-OpenSSH_|no complete PROXY header)/,
      mark,
    );
    assert.doesNotMatch(a.log(), /192\.0\.2\.7/);
  });
});
