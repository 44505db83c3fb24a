import assert from "node:assert/strict";
import { test } from "node:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { runCommand, runProgramSync } from "./process.ts";

const text = (s: ReadableStream<Uint8Array>) => new Response(s).text();

// These run on the runtime's own spawn (Bun.spawn, Deno.Command) under Bun and Deno.

test("runCommand: exit code, stdout, stderr and the session's environment", async () => {
  const p = runCommand('printf "%s" "$RXSSH_T"; printf err >&2; exit 42', {
    env: { RXSSH_T: "from the session" },
    shell: "/bin/sh",
  });
  await p.stdin.close();
  const [out, err, exit] = await Promise.all([text(p.stdout), text(p.stderr), p.exit]);
  assert.equal(out, "from the session");
  assert.equal(err, "err");
  assert.deepEqual(exit, { code: 42 });
});

test("runCommand: 4 MiB through cat with backpressure both ways", async () => {
  const p = runCommand("cat", { shell: "/bin/sh" });
  const chunk = new Uint8Array(64 * 1024).map((_, i) => i & 0xff);
  const writing = (async () => {
    const w = p.stdin.getWriter();
    for (let i = 0; i < 64; i++) await w.write(chunk);
    await w.close();
  })();
  let n = 0, sum = 0;
  for await (const c of p.stdout) {
    n += c.length;
    for (let i = 0; i < c.length; i += 4099) sum += c[i];
  }
  await writing;
  await text(p.stderr);
  assert.equal(n, 64 * chunk.length);
  assert.ok(sum > 0);
  assert.deepEqual(await p.exit, { code: 0 });
});

test("runCommand: kill() ends the command with its signal", async () => {
  const p = runCommand("echo started; exec sleep 30", { shell: "/bin/sh" });
  const reader = p.stdout.getReader();
  const first = await reader.read();
  assert.match(new TextDecoder().decode(first.value), /started/);
  p.kill("TERM");
  while (!(await reader.read()).done) { /* drain */ }
  await text(p.stderr);
  assert.deepEqual(await p.exit, { signal: "TERM" });
});

// ---------------------------------------------------------------------------
// The command reaches exactly one `$SHELL -c` as one argv element, with a pty
// and without (issue 10, item 1), and failures to start say why (item 7).

const HOSTILE = [
  `x"; echo INJECTED-$((6*7)); echo "`,
  "echo '$HOME'",
  "`echo BT` $(echo DS) ${HOME} $((6*7))",
  `a'b"c\\d;e|f&g>h<i*?[x] !1 ~`,
  "line1\nline2; echo INJECTED\r\n\ttab",
  "\x01\x02\x1b[31m\x7f é € 😀",
  "-x",
  "x".repeat(100 * 1024),
];

/** A fake shell that records its argv (NUL-separated) and environment in files. */
function fakeShell(dirName: string): { shell: string; argvFile: string; envFile: string } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-process-test-"));
  const dir = path.join(root, dirName);
  fs.mkdirSync(dir);
  const shell = path.join(dir, "fake shell");
  const argvFile = path.join(root, "argv");
  const envFile = path.join(root, "env");
  fs.writeFileSync(
    shell,
    `#!/bin/sh\nprintf '%s\\0' "$0" "$@" > '${argvFile}'\nenv > '${envFile}'\n`,
    { mode: 0o755 },
  );
  return { shell, argvFile, envFile };
}

const PTY = { term: "xterm", cols: 80, rows: 24 };

for (const pty of [undefined, PTY]) {
  const how = pty ? "with a pty" : "without a pty";
  test(`runCommand ${how}: the shell gets exactly [shell, "-c", command], hostile commands included`, async () => {
    // The shell's own path is hostile too: spaces, quotes, $() and a semicolon.
    const f = fakeShell(`sh $(touch INJECTED) 'q" ;x`);
    try {
      for (const command of HOSTILE) {
        const p = runCommand(command, {
          shell: f.shell,
          pty,
          env: { SHELL: "/the/session's shell" },
          cwd: path.dirname(f.argvFile),
        });
        await p.stdin.close();
        const [, err, exit] = await Promise.all([text(p.stdout), text(p.stderr), p.exit]);
        assert.deepEqual(exit, { code: 0 }, err);
        const argv = fs.readFileSync(f.argvFile, "utf8").split("\0").slice(0, -1);
        assert.deepEqual(argv, [f.shell, "-c", command], JSON.stringify(command).slice(0, 80));
        const env = fs.readFileSync(f.envFile, "utf8");
        assert.match(env, /^SHELL=\/the\/session's shell$/m);
        assert.doesNotMatch(env, /RXSSH_PTY/);
        assert.equal(fs.existsSync(path.join(path.dirname(f.argvFile), "INJECTED")), false);
      }
      // An empty command starts a login shell, whatever the session's variables say.
      const p = runCommand("", {
        shell: f.shell,
        pty,
        env: { RXSSH_PTY_COMMAND: "echo INJECTED", RXSSH_PTY_SHELL: "/bin/false" },
      });
      await p.stdin.close();
      await Promise.all([text(p.stdout), text(p.stderr), p.exit]);
      assert.deepEqual(fs.readFileSync(f.argvFile, "utf8").split("\0").slice(0, -1), [
        f.shell,
        "-l",
      ]);
    } finally {
      fs.rmSync(path.dirname(path.dirname(f.shell)), { recursive: true, force: true });
    }
  });

  test(`runCommand ${how}: a forced command prints SSH_ORIGINAL_COMMAND literally`, async () => {
    for (const original of HOSTILE.slice(0, 6)) {
      const p = runCommand('printf "forced:[%s]" "$SSH_ORIGINAL_COMMAND"', {
        shell: "/bin/sh",
        pty,
        env: { SSH_ORIGINAL_COMMAND: original },
      });
      await p.stdin.close();
      const [out, , exit] = await Promise.all([text(p.stdout), text(p.stderr), p.exit]);
      assert.deepEqual(exit, { code: 0 });
      // A pty turns "\n" into "\r\n" on output.
      const expected = `forced:[${original}]`;
      assert.equal(
        out,
        pty ? expected.replace(/\r?\n/g, (m) => m === "\n" ? "\r\n" : "\r\r\n") : expected,
      );
    }
  });

  test(`runCommand ${how}: a command over 128 KiB says "Argument list too long" and exits 1, as sshd`, async () => {
    const p = runCommand("x".repeat(128 * 1024), { shell: "/bin/sh", pty });
    const [out, err, exit] = await Promise.all([text(p.stdout), text(p.stderr), p.exit]);
    assert.equal(out, "");
    assert.equal(err, "/bin/sh: Argument list too long\n");
    assert.deepEqual(exit, { code: 1 });
  });

  test(`runCommand ${how}: a missing directory is named on stderr, exit 127`, async () => {
    const p = runCommand("true", { shell: "/bin/sh", cwd: "/nonexistent/dir", pty });
    const [, err, exit] = await Promise.all([text(p.stdout), text(p.stderr), p.exit]);
    assert.equal(err, "Could not chdir to /nonexistent/dir: No such file or directory\n");
    assert.deepEqual(exit, { code: 127 });
  });
}

test("runCommand: a missing shell is named on stderr, exit 127", async () => {
  const p = runCommand("true", { shell: "/nonexistent/shell" });
  const [, err, exit] = await Promise.all([text(p.stdout), text(p.stderr), p.exit]);
  assert.equal(err, "/nonexistent/shell: No such file or directory\n");
  assert.deepEqual(exit, { code: 127 });
  // Under a pty the helper shell reports it, as a shell does.
  const q = runCommand("true", { shell: "/nonexistent/shell", pty: PTY });
  const [out, qerr, qexit] = await Promise.all([text(q.stdout), text(q.stderr), q.exit]);
  assert.match(out + qerr, /\/nonexistent\/shell: not found/);
  assert.deepEqual(qexit, { code: 127 });
});

test("runProgramSync: stdin, stdout, stderr and the exit code, without a shell", () => {
  const r = runProgramSync("/bin/sh", ["-c", 'read x; echo "got $x"; echo oops >&2; exit 3'], {
    input: "line\n",
  });
  assert.deepEqual(r, { code: 3, signal: null, stdout: "got line\n", stderr: "oops\n" });
  // Arguments are passed as they are: no shell parses them.
  const echo = runProgramSync("/bin/echo", ["$HOME; true"]);
  assert.equal(echo.stdout, "$HOME; true\n");
  assert.equal(echo.code, 0);
});

test("runProgramSync: a missing program and a timeout throw, naming the program", () => {
  assert.throws(
    () => runProgramSync("/nonexistent/rxssh-no-such-program", []),
    /cannot run \/nonexistent\/rxssh-no-such-program: No such file or directory/,
  );
  assert.throws(
    () => runProgramSync("/bin/sleep", ["5"], { timeoutMs: 100 }),
    /cannot run \/bin\/sleep: still running after 100 ms/,
  );
});
