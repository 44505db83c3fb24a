import assert from "node:assert/strict";
import { test } from "node:test";
import { runCommand } from "./process.ts";

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

test("runCommand: a missing program or directory exits 127 rather than throwing", async () => {
  const p = runCommand("true", { shell: "/nonexistent/shell" });
  await Promise.all([text(p.stdout), text(p.stderr)]);
  assert.deepEqual(await p.exit, { code: 127 });
  const q = runCommand("true", { shell: "/bin/sh", cwd: "/nonexistent/dir" });
  await Promise.all([text(q.stdout), text(q.stderr)]);
  assert.deepEqual(await q.exit, { code: 127 });
});
