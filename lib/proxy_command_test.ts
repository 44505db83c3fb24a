import { test } from "node:test";
import assert from "node:assert/strict";
import { SshConfigError } from "./config/ssh_config.ts";
import { ProxyCommandError, startProxyCommand } from "./proxy_command.ts";

const target = { host: "h.example", port: 2222, user: "me" };

test("tokens: %h %p %r %n %k %% as ssh's expand_proxy_command; the command's stdout is the stream", async () => {
  const p = startProxyCommand(
    { command: "echo %h %p %r %n %k %%", tokens: { n: "alias" } },
    target,
  );
  assert.equal(p.command, "echo h.example 2222 me alias alias %");
  await p.stream.writable.close();
  assert.equal(await new Response(p.stream.readable).text(), "h.example 2222 me alias alias %\n");
  assert.deepEqual(await p.exit, { code: 0 });
  const k = startProxyCommand({ command: "echo %k", tokens: { n: "a", k: "alias-key" } }, target);
  assert.equal(k.command, "echo alias-key");
  await k.stream.writable.close();
  await new Response(k.stream.readable).text();
  await k.exit;
});

test("a token ssh does not expand for ProxyCommand (%d, %u, ...) is refused, naming ProxyCommand", () => {
  for (const t of ["%d", "%u", "%C", "%"]) {
    assert.throws(
      () => startProxyCommand(`nc %h ${t}`, target),
      (e: unknown) => e instanceof SshConfigError && /^ProxyCommand: /.test(e.message),
    );
  }
});

test("what is written to the stream is the command's standard input", async () => {
  const p = startProxyCommand({ command: "tr a-z A-Z", stderr: "ignore" }, target);
  const w = p.stream.writable.getWriter();
  await w.write(new TextEncoder().encode("through\n"));
  await w.close();
  assert.equal(await new Response(p.stream.readable).text(), "THROUGH\n");
  assert.deepEqual(await p.exit, { code: 0 });
});

test("kill() sends SIGHUP; failure() is then a ProxyCommandError naming the signal", async () => {
  const p = startProxyCommand("sleep 30", target);
  p.kill();
  assert.deepEqual(await p.exit, { signal: "HUP" });
  const cause = new Error("handshake failed");
  const e = await p.failure(cause);
  assert.ok(e instanceof ProxyCommandError);
  assert.equal(
    e.message,
    'proxy command "sleep 30" was killed by signal HUP before the SSH handshake completed',
  );
  assert.equal(e.cause, cause);
  await p.stream.writable.abort().catch(() => {});
});

test("failure() of a command still running after a second is the error itself", async () => {
  const p = startProxyCommand("sleep 30", target);
  const cause = new Error("handshake timed out");
  assert.equal(await p.failure(cause), cause);
  p.kill();
  await p.exit;
  await p.stream.writable.abort().catch(() => {});
});

test("stderr goes to the stream given", async () => {
  let text = "";
  const stderr = new WritableStream<Uint8Array>({
    write: (c) => void (text += new TextDecoder().decode(c)),
  });
  const p = startProxyCommand({ command: "echo to stderr %r >&2", stderr }, target);
  await p.stream.writable.close();
  await new Response(p.stream.readable).text();
  assert.deepEqual(await p.exit, { code: 0 });
  for (let i = 0; i < 50 && text === ""; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(text, "to stderr me\n");
});
