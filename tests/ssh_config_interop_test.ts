// `rxssh -G` against OpenSSH's `ssh -G` (no network: -G only resolves the
// configuration): one configuration of more than 30 directives across Host,
// Match (host, originalhost, user, localuser, final) and nested Include, for
// several destinations; every keyword rxssh implements must print the same.
//
// Normalised: nothing. The configuration sets every algorithm list and an
// IdentityFile for all hosts, because those are the two places where rxssh's
// defaults differ from OpenSSH's by design (rxssh offers only what it
// implements, and tries id_ed25519, id_ecdsa, id_rsa); and it sets
// ServerAliveInterval for all hosts, because Debian's ssh (a Debian patch,
// not upstream OpenSSH) defaults it to 300 under BatchMode; ForwardX11Trusted
// likewise (Debian defaults it to yes, upstream and rxssh to no).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import process from "node:process";
import { cliCommand, ROOT } from "./_cli.ts";
import { findOpenSsh, runProcess } from "./_openssh.ts";
import { SSH_G_KEYWORDS } from "../lib/config/ssh_config.ts";

const openssh = findOpenSsh();
const skip = openssh
  ? false
  : "OpenSSH is not installed (.ci/run installs it; apt-get install openssh-client)";

function mainConfig(dir: string): string {
  return `# rxssh interop fixture
IgnoreUnknown NotARealOption
NotARealOption whatever
Include ${dir}/conf.d/*.conf

Host web web-*
  HostName %h.example.com
  User webadmin
  Port 2201
  IdentityFile ~/.ssh/web_%r
  IdentitiesOnly yes
  LocalForward 8080 localhost:80
  LocalForward 127.0.0.1:8443 [::1]:443
  DynamicForward 1080
  RemoteForward 9000 /tmp/rx-%h.sock
  RemoteForward 9001
  ServerAliveInterval 1m
  ServerAliveCountMax 5
  SendEnv LANG LC_*
  SetEnv DEPLOY=blue COLOR="dark red"

Host db* !db-legacy
  ProxyJump admin@bastion.example.com:2222,jump2
  User dba
  ConnectTimeout 15
  StrictHostKeyChecking accept-new
  UserKnownHostsFile ~/.ssh/known_hosts.d/%h ~/.ssh/kh-%r-%p
  HashKnownHosts yes

Host db-legacy
  ProxyCommand nc -X connect -x proxy:3128 %h %p
  KexAlgorithms curve25519-sha256,diffie-hellman-group14-sha256
  HostKeyAlgorithms ssh-ed25519,rsa-sha2-512
  RequestTTY no

Match originalhost web-* user webadmin
  ForwardAgent yes
  ForwardX11 yes
  ForwardX11Trusted yes
  ForwardX11Timeout 5m30s
  Compression yes

Match host *.example.com !localuser nobody-here
  ExitOnForwardFailure yes
  RequestTTY force

Match final host db*
  IdentityAgent ~/.ssh/agent-%C.sock
  XAuthLocation /opt/X11/bin/xauth
  ForwardX11Timeout 0
  LogLevel VERBOSE

Match user root,dba !originalhost db-legacy
  PasswordAuthentication no

Host *
  Ciphers aes256-gcm@openssh.com,chacha20-poly1305@openssh.com,aes128-ctr
  MACs hmac-sha2-512-etm@openssh.com,hmac-sha2-256
  KexAlgorithms curve25519-sha256
  HostKeyAlgorithms ssh-ed25519,ecdsa-sha2-nistp256,rsa-sha2-256
  PubkeyAcceptedAlgorithms ssh-ed25519,rsa-sha2-512
  IdentityFile ~/.ssh/id_ed25519
  CertificateFile ~/.ssh/id_ed25519-cert.pub
  GlobalKnownHostsFile /etc/ssh/ssh_known_hosts
  BatchMode yes
  # Debian's ssh defaults ServerAliveInterval to 300 with BatchMode (a Debian patch).
  ServerAliveInterval 0
  # Debian's ssh defaults ForwardX11Trusted to yes (a Debian patch).
  ForwardX11Trusted no
  NumberOfPasswordPrompts 2
  StrictHostKeyChecking yes
  LogLevel ERROR
  KbdInteractiveAuthentication no
`;
}

const INCLUDED: Record<string, (dir: string) => string> = {
  "conf.d/10-base.conf": () =>
    `Host bastion*
  User jump
  Port 22022
  ForwardAgent ~/.ssh/fwd-agent.sock
  ProxyJump none
Match originalhost DB-*
  User upper
`,
  "conf.d/20-more.conf": (dir) => `Include ${dir}/nested/*.conf\nHost 10.*\n  Port 2010\n`,
  "nested/canary.conf": () =>
    `Host web-canary
  Port 2299
  SendEnv TZ
  SendEnv -LC_*
  HostKeyAlias Canary.Alias
  UserKnownHostsFile ~/.ssh/kh-%k-%n-%L-%l-%u-%i-%d-%%
`,
};

const DESTINATIONS = [
  "web-01",
  "web",
  "web-canary",
  "Web-Upper",
  "db-main",
  "db-legacy",
  "DB-7",
  "bastion1",
  "other.example.com",
  "10.1.2.3",
  "alice@web-02",
  "ssh://carol@db-x:2022",
];

/** Only the lines of the keywords rxssh implements, in their order. */
function filter(output: string): string[] {
  const keys = new Set(SSH_G_KEYWORDS);
  return output.split("\n").filter((l) => keys.has(l.split(" ")[0]));
}

describe("rxssh -G against ssh -G", { skip }, () => {
  let dir: string;
  let config: string;
  const seen = new Set<string>();
  // Both must expand ~ to the same directory: ssh uses the password database's.
  const env = { ...process.env, HOME: os.userInfo().homedir };

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-config-"));
    config = path.join(dir, "config");
    fs.writeFileSync(config, mainConfig(dir), { mode: 0o600 });
    for (const [name, text] of Object.entries(INCLUDED)) {
      fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
      fs.writeFileSync(path.join(dir, name), text(dir), { mode: 0o600 });
    }
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("has at least 30 directives across Host, Match and Include", () => {
    const all = [mainConfig(dir), ...Object.values(INCLUDED).map((f) => f(dir))].join("\n");
    const directives = all.split("\n").filter((l) => /^\s*[A-Za-z]/.test(l));
    assert.ok(directives.length >= 30, String(directives.length));
    for (const k of ["Host", "Match", "Include"]) {
      assert.ok(directives.some((d) => d.startsWith(k)));
    }
  });

  for (const dest of DESTINATIONS) {
    it(`prints what ssh -G prints for ${dest}`, async () => {
      const ours = await runProcess(...cliCommand(["-G", "-F", config, dest]), {
        timeoutMs: 60_000,
        cwd: ROOT,
        env,
      });
      const theirs = await runProcess(openssh!.ssh, ["-G", "-F", config, dest], {
        timeoutMs: 30_000,
        env,
      });
      assert.equal(theirs.code, 0, theirs.stderr);
      assert.equal(ours.code, 0, ours.stderr);
      const expected = filter(theirs.stdout);
      const actual = filter(ours.stdout);
      assert.ok(expected.length >= 28, `ssh -G printed ${expected.length} of our keys`);
      assert.deepEqual(actual, expected);
      for (const l of expected) seen.add(l.split(" ")[0]);
    });
  }

  it("the destinations between them exercise every keyword rxssh prints", () => {
    assert.deepEqual(SSH_G_KEYWORDS.filter((k) => !seen.has(k)), []);
  });

  it("-o options win over the file, as in ssh", async () => {
    const args = ["-G", "-F", config, "-o", "Port=1234", "-o", "User=opt", "-p", "9", "web-01"];
    const ours = await runProcess(...cliCommand(args), { timeoutMs: 60_000, cwd: ROOT, env });
    const theirs = await runProcess(openssh!.ssh, args, { timeoutMs: 30_000, env });
    assert.equal(ours.code, 0, ours.stderr);
    assert.deepEqual(filter(ours.stdout), filter(theirs.stdout));
    assert.match(ours.stdout, /^port 1234$/m);
  });

  it("a bad directive is reported with the file and line, as ssh does", async () => {
    const bad = path.join(dir, "bad");
    fs.writeFileSync(bad, "Host x\n  Port 22\n  Frobnicate yes\n");
    const ours = await runProcess(...cliCommand(["-G", "-F", bad, "x"]), {
      timeoutMs: 60_000,
      cwd: ROOT,
      env,
    });
    const theirs = await runProcess(openssh!.ssh, ["-G", "-F", bad, "x"], {
      timeoutMs: 30_000,
      env,
    });
    assert.equal(ours.code, 255);
    assert.equal(theirs.code, 255);
    const line = `${bad}: line 3: Bad configuration option: frobnicate`;
    assert.ok(theirs.stderr.includes(line), theirs.stderr);
    assert.ok(ours.stderr.includes(line), ours.stderr);
  });
});
