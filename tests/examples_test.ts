// The examples and the CLI run as part of the suite, so they cannot rot.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import process from "node:process";

const isDeno = "Deno" in globalThis;
/** Runs a TypeScript file with the runtime running this test. */
function run(file: string, args: string[] = []) {
  const argv = isDeno ? ["run", "-A", file, ...args] : [file, ...args];
  return spawnSync(process.execPath, argv, { encoding: "utf8", timeout: 60_000 });
}

test("examples/transport_demo.ts negotiates, re-keys and closes over loopback TCP", () => {
  const r = run("examples/transport_demo.ts");
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /negotiated:/);
  assert.match(r.stdout, /\[client\] key exchange #1 .*mlkem768x25519-sha256/);
  assert.match(r.stdout, /\[server\] IGNORE 17 bytes/);
  assert.match(r.stdout, /\[client\] DEBUG "hello from the server"/);
  assert.match(r.stdout, /re-key done: same session id: true/);
  assert.match(r.stdout, /\[server\] disconnect received: BY_APPLICATION/);
  assert.match(r.stdout, /\d+ events observed; both ends closed cleanly\./);
});

test("examples/demo.ts fans commands out to three hosts and merges their output", () => {
  const r = run("examples/demo.ts");
  assert.equal(r.status, 0, r.stderr);
  for (const host of ["alpha", "bravo", "charlie"]) {
    assert.match(r.stdout, new RegExp(`\\[${host}\\] connected: mlkem768x25519-sha256`));
    assert.match(r.stdout, new RegExp(`\\[${host}\\] hostname: ${host}`));
    assert.match(r.stdout, new RegExp(`\\[${host}\\] count 3: tick 3`));
    assert.match(r.stdout, new RegExp(`\\[${host}\\] fail: stderr: ${host}: failing on purpose`));
  }
  assert.match(r.stdout, /12 commands finished: .*alpha\/fail=3.*charlie\/sha256 hello=0/);
  for (const host of ["alpha", "bravo", "charlie"]) {
    assert.match(r.stdout, new RegExp(`fanOut \\[${host}\\] exit 0 in \\d+ ms: [0-9a-f]{16}`));
  }
  assert.match(r.stdout, /fanOut \[delta\] refused after 2 attempts: /);
});

test("cli.ts -Q lists the registries and rejects unknown queries", () => {
  const r = run("cli.ts", ["-Q", "cipher"]);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(r.stdout.split("\n").includes("chacha20-poly1305@openssh.com"));
  const bad = run("cli.ts", ["-Q", "nonsense"]);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /-Q needs one of/);
});

test("cli.ts probe reports a refused connection with exit code 255", () => {
  const r = run("cli.ts", ["probe", "-p", "1", "127.0.0.1"]);
  assert.equal(r.status, 255);
  assert.match(r.stderr, /127\.0\.0\.1:1: /);
});

test("deno task rxssh runs the CLI (the task shim finds the real Deno binary)", {
  skip: isDeno ? false : "deno task is Deno's",
}, () => {
  const r = spawnSync(process.execPath, ["task", "rxssh", "-Q", "mac"], {
    encoding: "utf8",
    timeout: 60_000,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /hmac-sha2-256-etm@openssh\.com/);
});

test("cli.ts keygen is wired: generate, then -l equals ssh-keygen's format", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-cli-keygen-"));
  try {
    const gen = run("cli.ts", [
      "keygen",
      "-q",
      "-t",
      "ecdsa",
      "-b",
      "384",
      "-N",
      "",
      "-C",
      "c",
      "-f",
      `${dir}/k`,
    ]);
    assert.equal(gen.status, 0, gen.stderr);
    const l = run("cli.ts", ["keygen", "-l", "-f", `${dir}/k.pub`]);
    assert.match(l.stdout, /^384 SHA256:\S+ c \(ECDSA\)\n$/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
