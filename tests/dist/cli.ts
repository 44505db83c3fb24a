// The single-file CLI (issue 14, part 6): `bun build --compile cli.ts` gives
// an executable that prints its version and runs a command on OpenSSH's sshd
// from a directory with nothing else in it.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import process from "node:process";
import { buildCli, ROOT } from "../../scripts/build.ts";
import { rxsshTestArgs } from "../_cli.ts";
import { runProcess } from "../_openssh.ts";
import { noSshd, type ProbeSshd, scratchDir, startProbeSshd } from "./_probe.ts";

const { version } = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));

describe("dist/rxssh: the CLI compiled by Bun", () => {
  let dir: string;
  let exe: string;
  before(() => {
    dir = scratchDir("cli");
    const t0 = Date.now();
    exe = buildCli(ROOT, path.join(dir, "rxssh"));
    console.log(`bun build --compile: ${Date.now() - t0} ms, ${fs.statSync(exe).size} bytes`);
  });
  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });
  const run = (args: string[], env: Record<string, string> = {}) =>
    runProcess(exe, args, { cwd: dir, timeoutMs: 30_000, env: { ...process.env, ...env } });

  it("rxssh -V prints package.json's version", async () => {
    const r = await run(["-V"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `rxssh ${version} (SSH-2.0-rxssh_${version})\n`);
  });

  describe("against sshd", { skip: noSshd }, () => {
    let probe: ProbeSshd;
    before(async () => {
      probe = await startProbeSshd();
    });
    after(async () => {
      await probe?.sshd.stop();
    });
    it("rxssh user@127.0.0.1 'echo ...' runs the command and returns its exit code", async () => {
      const { PROBE_SSHD_PORT, PROBE_USER } = probe.env;
      const args = rxsshTestArgs(Number(PROBE_SSHD_PORT), probe.keyFile, PROBE_USER);
      const r = await run([...args, "127.0.0.1", "echo compiled $((6 * 7)); exit 5"]);
      assert.equal(r.stdout, "compiled 42\n", r.stderr);
      assert.equal(r.code, 5, r.stderr);
    });
  });
});
