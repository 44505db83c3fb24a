// Hostile exec commands against `rxssh serve` and OpenSSH's sshd side by side
// (issue 10, items 1 and 7): OpenSSH's ssh with -tt (a pty) and -T (none),
// without a forced command, with an authorized_keys command= and with
// ForceCommand. The command must reach exactly one `$SHELL -c` as one
// argument, so rxssh serve prints what sshd prints, byte for byte, and a
// forced command's SSH_ORIGINAL_COMMAND is never run as shell code.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  currentUser,
  findOpenSsh,
  type RunResult,
  runSsh,
  type Sshd,
  startSshd,
  testSshArgs,
} from "./_openssh.ts";
import { keygen, serve, type Served } from "./_cli.ts";

const openssh = findOpenSsh();
const skip = openssh ? false : "OpenSSH is not installed (apt-get install openssh-server)";
const user = currentUser();

/** The user's login shell, which sshd runs; rxssh serve gets it as $SHELL. */
function loginShell(): string {
  const line = fs.readFileSync("/etc/passwd", "utf8").split("\n")
    .find((l) => l.startsWith(`${user}:`));
  return line?.split(":")[6] || "/bin/sh";
}

const FORCED = 'echo "forced:[$SSH_ORIGINAL_COMMAND]"';

const HOSTILE = [
  `x"; echo INJECTED-$((6*7)); echo "`,
  "echo '$HOME'",
  "echo `echo BT` $(echo DS) $((6*7)) ${USER}",
  `printf '%s|' a'b"c' "d\\e;f" 'g&h>i<j' ; echo`,
  "echo line1\necho line2; echo 'INJECTED\ttab'",
  "echo '\x01\x02\x1b[31m\x7f é € 😀'",
];

/** ssh options every call uses: no config, no known_hosts, no agent. */
const sshArgs = (port: number, keyFile: string, extra: string[]) =>
  testSshArgs(port, keyFile, user, ["-o", "LogLevel=ERROR", ...extra]);

const outcome = (r: RunResult) => ({ code: r.code, stdout: r.stdout, stderr: r.stderr });

/**
 * sshd runs the shell with argv[0] = its basename ("bash"); rxssh passes the
 * path ("/bin/bash"; Deno.Command cannot set argv[0], and a pty's helper
 * shell cannot either), which shows in the shell's own error lines
 * ("bash: line 1: ..."). Only that prefix is rewritten before comparing.
 */
function sameArgv0(r: RunResult): RunResult {
  const shell = loginShell();
  const prefix = new RegExp(
    `^${shell.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}(?=: line \\d+: )`,
    "gm",
  );
  const base = path.basename(shell);
  return { ...r, stdout: r.stdout.replace(prefix, base), stderr: r.stderr.replace(prefix, base) };
}

describe("hostile commands: rxssh serve prints what sshd prints", { skip }, () => {
  let work: string;
  let plainKey: string;
  let forcedKey: string;
  let sshd: Sshd;
  let sshdForce: Sshd;
  let rx: Served;
  let rxForce: Served;

  before(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-hostile-"));
    plainKey = path.join(work, "plain");
    forcedKey = path.join(work, "forced");
    const authorizedKeys = path.join(work, "authorized_keys");
    const forcedLine = `command="${FORCED.replaceAll('"', '\\"')}" ${await keygen(forcedKey)}`;
    fs.writeFileSync(authorizedKeys, `${await keygen(plainKey)}\n${forcedLine}\n`);
    const config = { AuthorizedKeysFile: authorizedKeys, PermitRootLogin: "yes", LogLevel: "INFO" };
    // Each server its own home: each generates its host key there.
    const env = (name: string) => {
      fs.mkdirSync(path.join(work, name));
      return { HOME: path.join(work, name), SHELL: loginShell() };
    };
    const ak = `AuthorizedKeysFile=${authorizedKeys}`;
    // One sshd first: the harness generates its host key once per process.
    sshd = await startSshd({ config });
    [sshdForce, rx, rxForce] = await Promise.all([
      startSshd({ config: { ...config, ForceCommand: FORCED } }),
      serve(["-o", ak], env("home")),
      serve(["-o", ak, "-o", `ForceCommand=${FORCED}`], env("home-force")),
    ]);
  });
  after(async () => {
    await Promise.all([sshd?.stop(), sshdForce?.stop(), rx?.stop(), rxForce?.stop()]);
    fs.rmSync(work, { recursive: true, force: true });
  });

  /** Runs `command` against sshd and rxssh serve; asserts the same outcome; returns rxssh's. */
  async function both(
    servers: [Sshd, Served],
    keyFile: string,
    tty: "-tt" | "-T",
    command: string[],
  ): Promise<RunResult> {
    const run = (port: number) =>
      runSsh(sshArgs(port, keyFile, [tty, "127.0.0.1", ...command]), { timeoutMs: 30_000 });
    const [theirs, ours] = await Promise.all([run(servers[0].port), run(servers[1].port)]);
    const what = `${tty} ${JSON.stringify(command.join(" ")).slice(0, 60)}`;
    assert.equal(theirs.timedOut || ours.timedOut, false, what);
    assert.deepEqual(outcome(sameArgv0(ours)), outcome(theirs), what);
    return ours;
  }

  for (const tty of ["-tt", "-T"] as const) {
    const nl = tty === "-tt" ? "\r\n" : "\n";

    it(`${tty}, no forced command: the command runs through exactly one shell`, async () => {
      for (const command of HOSTILE) await both([sshd, rx], plainKey, tty, [command]);
      const r = await both([sshd, rx], plainKey, tty, ["echo '$HOME'"]);
      assert.equal(r.stdout, `$HOME${nl}`);
      // One shell parses `x"; echo INJECTED-$((6*7)); echo "` as a single word: a command
      // that is not found, whose name contains INJECTED-42; no echo runs.
      const i = await both([sshd, rx], plainKey, tty, [HOSTILE[0]]);
      assert.doesNotMatch(i.stdout, /^INJECTED-42\r?$/m);
      assert.match(i.stdout + i.stderr, /: command not found/);
      assert.equal(i.code, 127);
    });

    for (
      const [name, servers, keyFile] of [
        ["authorized_keys command=", () => [sshd, rx], () => forcedKey],
        ["ForceCommand", () => [sshdForce, rxForce], () => plainKey],
      ] as const
    ) {
      it(`${tty}, ${name}: SSH_ORIGINAL_COMMAND is printed literally`, async () => {
        for (const command of HOSTILE) {
          const r = await both(servers() as [Sshd, Served], keyFile(), tty, [command]);
          const expected = `forced:[${command}]\n`.replaceAll("\n", nl);
          assert.equal(r.stdout, expected);
          assert.equal(r.code, 0);
        }
      });
    }

    it(`${tty}: a 200 KiB command says "Argument list too long" and exits 1, as sshd`, async () => {
      // ssh joins its arguments with spaces; one 200 KiB argument could not even start ssh.
      const command = Array.from({ length: 4 }, () => "x".repeat(50 * 1024));
      const shell = loginShell();
      if (tty === "-T") {
        const r = await both([sshd, rx], plainKey, tty, command);
        assert.equal(r.stderr, `${shell}: Argument list too long\n`);
        assert.equal(r.code, 1);
        return;
      }
      // Under a pty sshd's child writes to the terminal (stdout, "\r\n"); rxssh serve
      // reports the failed start on stderr: same text and status.
      const run = (port: number) =>
        runSsh(sshArgs(port, plainKey, [tty, "127.0.0.1", ...command]), { timeoutMs: 30_000 });
      const [theirs, ours] = await Promise.all([run(sshd.port), run(rx.port)]);
      assert.equal(theirs.stdout, `${shell}: Argument list too long\r\n`);
      assert.equal(ours.stderr, `${shell}: Argument list too long\n`);
      assert.equal(ours.stdout, "");
      assert.equal(ours.code, theirs.code);
      assert.equal(ours.code, 1);
    });
  }
});
