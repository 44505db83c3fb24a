// Interop with Dropbear 2022.83 (Debian's dropbear-bin) on loopback, both ways:
// dbclient -> `rxssh serve` and -> listen(), and our client -> a dropbear
// server with its own host key. Dropbear's client sends a guessed
// KEX_ECDH_INIT (first_kex_packet_follows, RFC 4253 §7.1) and offers its
// algorithms in its own order; each case pins curve25519-sha256 with
// chacha20-poly1305 or aes128-ctr + hmac-sha2-256, and an ssh-ed25519 or an
// rsa-sha2-256 host key.
//
// Our client -> dropbear needs a user dropbear lets in: dropbear reads
// ~/.ssh/authorized_keys of the user's passwd home and has no option to look
// elsewhere. As root (CI), dropbear runs in a private mount namespace
// (`unshare -m`) where a temporary directory is bind-mounted over the
// current user's home: it sees a throwaway authorized_keys, nothing outside
// that process tree does, and the real ~/.ssh is never touched. Without
// root, the CI test account (RXSSH_TEST_PASSWORD_FILE, scripts/test_user.sh)
// logs in with its password. Otherwise those cases skip and say why.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import process from "node:process";
import { currentUser, freePort, runProcess, startDaemon } from "./_openssh.ts";
import { serve, type Served } from "./_cli.ts";
import { connect } from "../lib/client.ts";
import { listen, type ServerConnection } from "../lib/server.ts";
import { generatePrivateKey } from "../lib/keys/private_key.ts";
import { writePrivateKeyFile } from "../lib/keys/private_key_file.ts";
import { formatPublicKeyLine, parsePublicKeyLine } from "../lib/keys/public_key_file.ts";
import type { PrivateKey } from "../lib/keys/types.ts";

const BIN_DIRS = ["/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin", "/bin", "/sbin"];
function which(name: string): string | undefined {
  return BIN_DIRS.map((d) => path.join(d, name)).find((p) => fs.existsSync(p));
}
const bin = {
  dbclient: which("dbclient"),
  dropbear: which("dropbear"),
  dropbearkey: which("dropbearkey"),
  dropbearconvert: which("dropbearconvert"),
};
const missing = Object.entries(bin).filter(([, p]) => !p).map(([n]) => n);
const skip = missing.length
  ? `Dropbear is not installed (missing ${
    missing.join(", ")
  }; scripts/ensure_openssh.sh installs dropbear-bin)`
  : false;

/** The algorithm cases, both directions. */
const CASES = [
  { cipher: "chacha20-poly1305@openssh.com", mac: undefined, hostKey: "ssh-ed25519" },
  { cipher: "aes128-ctr", mac: "hmac-sha2-256", hostKey: "ssh-ed25519" },
  { cipher: "chacha20-poly1305@openssh.com", mac: undefined, hostKey: "rsa-sha2-256" },
  { cipher: "aes128-ctr", mac: "hmac-sha2-256", hostKey: "rsa-sha2-256" },
] as const;
type Case = (typeof CASES)[number];
const label = (c: Case) =>
  `curve25519-sha256, ${c.cipher}${c.mac ? ` + ${c.mac}` : ""}, ${c.hostKey}`;
const keyType = (hostKey: string) => hostKey === "ssh-ed25519" ? "ssh-ed25519" : "ssh-rsa";

function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Writes `key` in OpenSSH format to `file` (and `.pub`). */
async function writeKey(key: PrivateKey, file: string): Promise<void> {
  fs.writeFileSync(file, await writePrivateKeyFile(key), { mode: 0o600 });
  fs.writeFileSync(file + ".pub", formatPublicKeyLine(key.publicKey) + "\n");
}

/** dbclient with a dropbear-format identity, a known_hosts entry (checked), no tty. */
function dbclient(
  home: string,
  identity: string,
  port: number,
  c: Case,
  command: string,
) {
  const args = ["-i", identity, "-p", String(port), "-c", c.cipher];
  if (c.mac) args.push("-m", c.mac);
  args.push(`${currentUser()}@127.0.0.1`, command);
  // setsid: no controlling terminal, so an unknown host key fails at once instead of asking.
  return runProcess("setsid", ["-w", bin.dbclient!, ...args], {
    timeoutMs: 30_000,
    env: { ...process.env, HOME: home },
  });
}

describe("Dropbear dbclient -> rxssh", { skip }, () => {
  let work: string;
  let home: string;
  let identity: string;
  let userKey: PrivateKey;
  const hostKeys = new Map<string, PrivateKey>();
  const hostKeyFiles = new Map<string, string>();

  before(async () => {
    work = tempDir("rxssh-dbclient-");
    home = path.join(work, "home");
    fs.mkdirSync(path.join(home, ".ssh"), { recursive: true, mode: 0o700 });
    userKey = await generatePrivateKey("ssh-ed25519");
    await writeKey(userKey, path.join(work, "id_ed25519"));
    identity = path.join(work, "id_dropbear");
    const conv = await runProcess(
      bin.dropbearconvert!,
      ["openssh", "dropbear", path.join(work, "id_ed25519"), identity],
      { timeoutMs: 30_000 },
    );
    assert.equal(conv.code, 0, conv.stderr);
    fs.writeFileSync(path.join(work, "authorized_keys"), formatPublicKeyLine(userKey.publicKey));
    for (const t of ["ssh-ed25519", "ssh-rsa"]) {
      const k = await generatePrivateKey(t, t === "ssh-rsa" ? { bits: 2048 } : {});
      hostKeys.set(t, k);
      hostKeyFiles.set(t, path.join(work, `host_${t}`));
      await writeKey(k, hostKeyFiles.get(t)!);
    }
  });
  after(() => fs.rmSync(work, { recursive: true, force: true }));

  /** dbclient checks the host key: known_hosts holds exactly the one the server uses. */
  const trust = (t: string) =>
    fs.writeFileSync(
      path.join(home, ".ssh", "known_hosts"),
      `127.0.0.1 ${formatPublicKeyLine(hostKeys.get(t)!.publicKey)}\n`,
    );

  for (const t of ["ssh-ed25519", "ssh-rsa"]) {
    describe(`rxssh serve with an ${t} host key`, () => {
      let served: Served;
      before(async () => {
        served = await serve([
          "-h",
          hostKeyFiles.get(t)!,
          "-o",
          `AuthorizedKeysFile=${path.join(work, "authorized_keys")}`,
          "-o",
          "LogLevel=DEBUG",
          // Dropbear has no encrypt-then-MAC MAC; a server offers only those by default.
          "-o",
          "MACs=+hmac-sha2-256",
        ], { HOME: home });
      });
      after(() => served?.stop());
      for (const c of CASES.filter((c) => keyType(c.hostKey) === t)) {
        it(label(c), async () => {
          trust(t);
          const r = await dbclient(home, identity, served.port, c, "echo dropbear-ok; exit 3");
          assert.equal(r.code, 3, `${r.stderr}\n${served.log().slice(-3000)}`);
          assert.equal(r.stdout, "dropbear-ok\n");
          const kex = [...served.log().matchAll(/kex: (.*) \(SSH-2\.0-dropbear/g)].at(-1)?.[1];
          assert.match(
            kex ?? "",
            new RegExp(
              `^curve25519-sha256 host key ${c.hostKey} cipher ${c.cipher} MAC ${
                c.mac ?? "<implicit>"
              }$`,
            ),
          );
        });
      }
    });
  }

  describe("listen()", () => {
    for (const c of CASES) {
      it(label(c), async () => {
        // Offer only the host key type under test, so that it is what dbclient gets.
        trust(keyType(c.hostKey));
        const server = await listen({
          hostname: "127.0.0.1",
          port: 0,
          hostKeys: [hostKeys.get(keyType(c.hostKey))!],
          macs: "+hmac-sha2-256", // Dropbear has no encrypt-then-MAC MAC
          auth: {
            handlers: {
              publicKey: (_u, key) => key.fingerprint() === userKey.publicKey.fingerprint(),
            },
          },
          exec: async (s) => {
            const w = s.stdout.getWriter();
            await w.write(new TextEncoder().encode(`ran: ${s.command}\n`));
            w.releaseLock();
            await s.exit(5);
          },
        });
        const conn = new Promise<ServerConnection>((r) => server.connection$.subscribe(r));
        try {
          const r = await dbclient(home, identity, server.port, c, "hello dropbear");
          assert.equal(r.code, 5, r.stderr);
          assert.equal(r.stdout, "ran: hello dropbear\n");
          const a = (await conn).transport.algorithms!;
          assert.equal(a.kex, "curve25519-sha256");
          assert.equal(a.hostKey, c.hostKey);
          assert.equal(a.cipherClientToServer, c.cipher);
          assert.equal(a.macClientToServer, c.mac ?? "<implicit>");
        } finally {
          server.close();
        }
      });
    }
  });
});

/** How our client can log in to a dropbear server here, or why it cannot (see the top). */
function dropbearLogin():
  | { mode: "namespace"; user: string; home: string }
  | { mode: "password"; user: string; password: string }
  | { skip: string } {
  if (skip) return { skip };
  const user = currentUser();
  const passwd = spawnSync("getent", ["passwd", user], { encoding: "utf8", timeout: 5000 });
  const home = passwd.stdout?.trim().split(":")[5];
  const unshare = process.getuid?.() === 0 && home &&
    spawnSync("unshare", ["-m", "true"], { timeout: 5000 }).status === 0;
  if (unshare) return { mode: "namespace", user, home: home! };
  const file = process.env.RXSSH_TEST_PASSWORD_FILE;
  if (file && fs.existsSync(file)) {
    return { mode: "password", user: "rxssh-test", password: fs.readFileSync(file, "utf8").trim() };
  }
  return {
    skip:
      "no way to log in to dropbear: needs root with unshare(1) (a private authorized_keys), or RXSSH_TEST_PASSWORD_FILE (scripts/test_user.sh)",
  };
}

const login = dropbearLogin();

describe(
  "our client -> Dropbear's dropbear server",
  { skip: "skip" in login ? login.skip : false },
  () => {
    let work: string;
    let key: PrivateKey;
    let daemon: Awaited<ReturnType<typeof startDaemon>>;
    let port: number;
    const fingerprints = new Map<string, string>();

    before(async () => {
      if ("skip" in login) return;
      work = tempDir("rxssh-dropbear-");
      key = await generatePrivateKey("ssh-ed25519");
      const fakeHome = path.join(work, "home");
      fs.mkdirSync(path.join(fakeHome, ".ssh"), { recursive: true, mode: 0o700 });
      fs.writeFileSync(
        path.join(fakeHome, ".ssh", "authorized_keys"),
        formatPublicKeyLine(key.publicKey) + "\n",
        { mode: 0o600 },
      );
      const args = ["-F", "-E", "-P", path.join(work, "pid")];
      const kinds: [string, string[]][] = [
        ["ssh-ed25519", ["-t", "ed25519"]],
        ["ssh-rsa", ["-t", "rsa", "-s", "2048"]],
      ];
      for (const [t, gen] of kinds) {
        const file = path.join(work, `host_${t}`);
        const made = await runProcess(bin.dropbearkey!, [...gen, "-f", file], {
          timeoutMs: 60_000,
        });
        assert.equal(made.code, 0, made.stderr);
        const shown = await runProcess(bin.dropbearkey!, ["-y", "-f", file], { timeoutMs: 30_000 });
        const line = shown.stdout.split("\n").find((l) => l.startsWith("ssh-"))!;
        fingerprints.set(t, parsePublicKeyLine(line).key.fingerprint());
        args.push("-r", file);
      }
      port = await freePort();
      args.push("-p", `127.0.0.1:${port}`);
      if (login.mode === "namespace") {
        // -s: no password logins; the key in the bind-mounted home is the only way in.
        daemon = await startDaemon("unshare", [
          "-m",
          "sh",
          "-c",
          'mount --bind "$1" "$2" && shift 2 && exec "$@"',
          "sh",
          fakeHome,
          login.home,
          bin.dropbear!,
          "-s",
          ...args,
        ], { port });
      } else {
        daemon = await startDaemon(bin.dropbear!, args, { port });
      }
    });
    after(async () => {
      await daemon?.stop();
      if (work) fs.rmSync(work, { recursive: true, force: true });
    });

    for (const c of CASES) {
      it(label(c), async () => {
        if ("skip" in login) return;
        const client = await connect({
          host: "127.0.0.1",
          port,
          username: login.user,
          ...(login.mode === "namespace" ? { privateKeys: [key] } : { password: login.password }),
          hostKey: { fingerprint: fingerprints.get(keyType(c.hostKey))! },
          kexAlgorithms: "curve25519-sha256",
          hostKeyAlgorithms: c.hostKey,
          ciphers: c.cipher,
          macs: c.mac,
          timeout: 30_000,
        });
        try {
          const a = client.transport.algorithms!;
          assert.equal(a.kex, "curve25519-sha256");
          assert.equal(a.hostKey, c.hostKey);
          assert.equal(a.cipherServerToClient, c.cipher);
          assert.equal(a.macServerToClient, c.mac ?? "<implicit>");
          const r = await client.exec("echo from-dropbear; echo err >&2; exit 7");
          assert.equal(new TextDecoder().decode(r.stdout), "from-dropbear\n", daemon.log());
          assert.equal(new TextDecoder().decode(r.stderr), "err\n");
          assert.equal(r.code, 7);
        } finally {
          await client.close();
        }
      });
    }
  },
);
