// Shared by the distribution tests (tests/dist/*.ts, run by scripts/test.sh's
// "dist" section): a probe script that a user of an artifact would write —
// it imports rxssh by the specifier given, runs an in-memory client–server
// exec and, when PROBE_SSHD_PORT is set, an exec against OpenSSH's sshd —
// and an sshd for it, with a client key in a file.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { keygen } from "../_cli.ts";
import { currentUser, findOpenSsh, type RunResult, type Sshd, startSshd } from "../_openssh.ts";

/** Why the sshd half of the probes is skipped, or false when OpenSSH is there. */
export const noSshd: string | false = findOpenSsh()
  ? false
  : "OpenSSH is not installed (apt-get install openssh-server)";

/**
 * The probe's source (JavaScript, also valid TypeScript), importing rxssh from
 * `specifier`. It prints `memory: <stdout> <code>` and `sshd: <stdout> <code>`.
 */
export function probeSource(specifier: string): string {
  return `import * as fs from "node:fs";
import process from "node:process";
import { connect, generatePrivateKey, memoryPair, parsePrivateKeyFile, serveConnection } from ${
    JSON.stringify(specifier)
  };

const text = (b) => new TextDecoder().decode(b).trim();
const hostKey = await generatePrivateKey("ssh-ed25519");
const [clientEnd, serverEnd] = memoryPair();
const serving = serveConnection(serverEnd, {
  hostKeys: [hostKey],
  auth: { handlers: { password: (user, pw) => user === "demo" && pw === "demo" } },
  exec: async (session) => {
    const w = session.stdout.getWriter();
    await w.write(new TextEncoder().encode("ran " + session.command));
    w.releaseLock();
    await session.exit(3);
  },
});
const client = await connect({
  stream: clientEnd,
  username: "demo",
  password: "demo",
  hostKey: { fingerprint: hostKey.publicKey.fingerprint() },
});
await serving;
const mem = await client.exec("in memory");
console.log("memory:", text(mem.stdout), mem.code);
await client.close();

const env = process.env;
if (env.PROBE_SSHD_PORT) {
  const { key } = await parsePrivateKeyFile(fs.readFileSync(env.PROBE_KEY, "utf8"));
  const b64 = (b) => btoa(String.fromCharCode(...b));
  const remote = await connect({
    host: "127.0.0.1",
    port: Number(env.PROBE_SSHD_PORT),
    username: env.PROBE_USER,
    privateKeys: [key],
    hostKey: { verify: (k) => b64(k.blob) === env.PROBE_HOST_KEY },
  });
  const r = await remote.exec("echo sshd $((6 * 7))");
  console.log("sshd:", text(r.stdout), r.code);
  await remote.close();
}
`;
}

/** An sshd that lets the current user in with a fresh key, and the probe's environment for it. */
export interface ProbeSshd {
  sshd: Sshd;
  /** PROBE_* variables: port, key file, user, host key. */
  env: Record<string, string>;
  /** The client key file (OpenSSH format, from ssh-keygen). */
  keyFile: string;
}

/** Starts an sshd for the probes (the caller stops `sshd`). */
export async function startProbeSshd(): Promise<ProbeSshd> {
  const sshd = await startSshd({ config: { PermitRootLogin: "yes", LogLevel: "INFO" } });
  const keyFile = path.join(sshd.dir, "client_key");
  const pub = await keygen(keyFile);
  fs.writeFileSync(path.join(sshd.dir, "authorized_keys"), pub + "\n");
  return {
    sshd,
    keyFile,
    env: {
      PROBE_SSHD_PORT: String(sshd.port),
      PROBE_KEY: keyFile,
      PROBE_USER: currentUser(),
      PROBE_HOST_KEY: sshd.hostKeys[0].pubLine.split(" ")[1],
    },
  };
}

/** Asserts the probe's output: the in-memory exec, and the sshd one when `sshd` is true. */
export function assertProbe(what: string, r: RunResult, sshd: boolean): void {
  const all = `${what}: exit ${r.code}${r.timedOut ? " (timed out)" : ""}\n${r.stdout}${r.stderr}`;
  assert.equal(r.code, 0, all);
  assert.match(r.stdout, /^memory: ran in memory 3$/m, all);
  if (sshd) assert.match(r.stdout, /^sshd: sshd 42 0$/m, all);
}

/** A fresh directory outside the repository (removed by the caller). */
export function scratchDir(name: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `rxssh-${name}-`));
}
