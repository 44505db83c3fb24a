// One example per row of the libssh2 callback seed and for the channel
// behaviours (issue 5): each runs under the current runtime, exits 0 and
// prints what it shows, so the examples cannot rot.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import process from "node:process";

const isDeno = "Deno" in globalThis;
/** Runs a TypeScript file with the runtime running this test. */
function run(file: string) {
  const argv = isDeno ? ["run", "-A", file] : [file];
  const r = spawnSync(process.execPath, argv, { encoding: "utf8", timeout: 60_000 });
  assert.equal(
    r.status,
    0,
    `${file} exited ${r.status} (${r.signal ?? "no signal"}):\n${r.stderr}`,
  );
  return r.stdout;
}

/** The lines of `out` from the one matching `first` on: asserts each pattern matches a later line. */
function inOrder(out: string, patterns: RegExp[]): void {
  const lines = out.split("\n");
  let at = 0;
  for (const p of patterns) {
    const i = lines.findIndex((l, n) => n >= at && p.test(l));
    assert.ok(i >= 0, `no line matching ${p} after line ${at} in:\n${out}`);
    at = i + 1;
  }
}

test("examples/mac_error.ts: MACERROR — default ends with MAC_ERROR, acceptMacError continues, AEAD never asks", () => {
  const out = run("examples/mac_error.ts");
  const [a, b, c] = out.split(/\n(?=\([abc]\) )/).slice(1);
  assert.ok(a && b && c, out);
  // (a) default
  assert.match(a, /^\(a\) aes128-ctr, default/);
  assert.match(a, /negotiated: cipher aes128-ctr, MAC hmac-sha2-256\n/);
  assert.match(a, /macError\$: packet \d+ failed hmac-sha2-256 \(acceptable: true\)/);
  assert.match(a, /exec failed: .*MAC_ERROR/);
  assert.match(a, /client: session ended with MAC_ERROR \(sent\)/);
  assert.match(a, /server: session ended with MAC_ERROR \(received\)/);
  assert.match(a, /acceptMacError was consulted 0 time/);
  // (b) accepted
  inOrder(b, [
    /^\(b\) aes128-ctr with acceptMacError/,
    /acceptMacError consulted for packet \d+ \(hmac-sha2-256\)/,
    /macError\$: packet \d+ failed hmac-sha2-256 \(acceptable: true\)/,
    /exec after the corrupted packet -> "ran hostname\\n", exit 0/,
    /and again -> "ran uptime\\n", exit 0/,
    /the session continues/,
    /client: session ended with BY_APPLICATION \(sent\)/,
    /server: session ended with BY_APPLICATION \(received\)/,
    /acceptMacError was consulted 1 time/,
  ]);
  // (c) AEAD
  assert.match(c, /negotiated: cipher aes128-gcm@openssh\.com, MAC <implicit>/);
  assert.match(c, /macError\$: packet \d+ failed aes128-gcm@openssh\.com \(acceptable: false\)/);
  assert.doesNotMatch(c, /acceptMacError consulted for/);
  assert.match(c, /client: session ended with MAC_ERROR \(sent\)/);
  assert.match(c, /acceptMacError was consulted 0 time/);
  assert.match(out, /mac_error example done\n$/);
});

test("examples/agent.ts: AUTHAGENT / _IDENTITIES / _SIGN — an application Agent for publickey and forwarding", () => {
  const out = run("examples/agent.ts");
  inOrder(out, [
    /^\(a\) publickey authentication through the Agent/,
    /\[app agent\] identities\(\) called/,
    /\[app agent\] sign\(\) called: \d+ bytes, ssh-ed25519/,
    /server: alice authenticated with publickey; agent calls so far: identities, sign/,
    /^\(b\) the same Agent served on forwarded auth-agent@openssh\.com channels/,
    /client: the server opened auth-agent@openssh\.com channel #1/,
    /\[app agent\] identities\(\) called/,
    /\[app agent\] sign\(\) called: 32 bytes, ssh-ed25519/,
    /server says: SSH_AUTH_SOCK=set/,
    /server says: identity: ssh-ed25519 alice@app-agent \(ssh-ed25519\)/,
    /server says: challenge signed through the forwarded agent: signature valid true/,
    /exit 0; agent calls through forwarding: identities, .*sign/,
    /agent example done/,
  ]);
});

test("examples/x11.ts: X11 — x11$ emits the originator address and port; the display gets the real cookie", () => {
  const out = run("examples/x11.ts");
  inOrder(out, [
    /^fake X display at \S+:0 \(real cookie ([0-9a-f]{32})\)/,
    /^client: fake cookie [0-9a-f]{32} sent in x11-req \(source: option\)/,
    /^server: x11-req accepted, DISPLAY=localhost:\d+\.0 for demo/,
    /^client: x11\$ emitted: X client at 127\.0\.0\.1:\d+ -> \S+:0$/,
    /^client: command output: DISPLAY=localhost:\d+\.0: X11 11\.0, vendor "rxssh fake display" \(exit 0\)/,
    /^fake display saw cookies: [0-9a-f]{32} \(real: true\)/,
    /^x11 example done/,
  ]);
  const fake = /fake cookie ([0-9a-f]{32})/.exec(out)![1];
  const real = /real cookie ([0-9a-f]{32})/.exec(out)![1];
  assert.notEqual(fake, real);
  // Both sides saw the same X client.
  const server = /server: opened an x11 channel for the X client at (\S+)/.exec(out);
  const client = /client: x11\$ emitted: X client at (\S+) ->/.exec(out);
  assert.ok(server && client, out);
  assert.equal(server[1], client[1]);
});

test("examples/behaviours.ts: ssh_server_channel and ssh_client_channel as operators", () => {
  const out = run("examples/behaviours.ts");
  assert.match(out, /^server liveChannels before: 0 \[\]$/m);
  assert.match(out, /^server liveChannels while up: 1 \[\d+:echo:up\]$/m);
  assert.match(out, /^server liveChannels after: 0 \[\]$/m);
  inOrder(out, [
    /^\[server\] lifecycle of channel \d+ \(echo\): starting$/,
    /^\[server\] lifecycle of channel \d+ \(echo\): up$/,
    /^\[server\] lifecycle of channel \d+ \(echo\): closing \(\{shutdown: "idle"\}\)$/,
    /^\[server\] terminate\(\{shutdown: "idle"\}\) after 12 bytes echoed$/,
    /^\[server\] lifecycle of channel \d+ \(echo\): ended \(\{shutdown: "idle"\}\)$/,
  ]);
  inOrder(out, [
    /^\[client\] lifecycle: starting$/,
    /^\[client\] lifecycle: up$/,
    /^\[client\] inbox send: true$/,
    /^\[client\] channel-up: subsystem "echo" accepted$/,
    /^\[client\] data: "hello\\n"$/,
    /^\[client\] data: "world\\n"$/,
    /^\[client\] data: "bye after 300 ms idle \(12 bytes echoed\)\\n"$/,
    /^\[client\] eof$/,
    /^\[client\] lifecycle: closing \(normal\)$/,
    /^\[client\] terminate\(normal\): received "hello\\nworld\\nbye after .*", exit 0$/,
    /^\[client\] lifecycle: ended \(normal\)$/,
  ]);
  assert.match(out, /^\[client\] exit-status event: 0$/m);
  assert.equal(out.match(/\[client\] terminate\(/g)?.length, 1, "client terminate runs once");
  assert.equal(out.match(/\[server\] terminate\(/g)?.length, 1, "server terminate runs once");
  assert.match(out, /behaviours example done\n$/);
});

test("examples/callbacks.ts: replacing a callback — unsubscribing one listener leaves the other", () => {
  const out = run("examples/callbacks.ts");
  inOrder(out, [
    /^client sends IGNORE "one"$/,
    /^ {2}A received IGNORE "one"$/,
    /^ {2}B received IGNORE "one"$/,
    /^A unsubscribed \(A closed: true, B closed: false\)$/,
    /^client sends IGNORE "two"$/,
    /^ {2}B received IGNORE "two"$/,
    /^C subscribed: adding a listener replaces nobody$/,
  ]);
  assert.match(out, /^A got \["one"\]$/m);
  assert.match(out, /^B got \["one","two","three","four","five"\]$/m);
  assert.match(out, /^C got \["three","four","five"\]$/m);
  assert.match(out, /^a take\(2\) subscriber got \["four","five"\]$/m);
  assert.match(out, /callbacks example done\n$/);
});
