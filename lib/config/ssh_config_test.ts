// ssh_config(5) as OpenSSH's readconf.c reads it: first value wins,
// cumulative keywords, syntax, Host and Match, Include, the final pass,
// %-tokens, value checks and errors with file and line.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  expandSshConfigValue,
  formatSshConfig,
  type ResolvedSshConfig,
  resolveSshConfig,
  type ResolveSshConfigOptions,
  SshConfigError,
} from "./ssh_config.ts";
import { DEFAULT_ALGORITHMS } from "../transport/algorithms.ts";

const HOME = "/home/me";
const CONFIG = `${HOME}/.ssh/config`;

/** A reader over an in-memory tree; glob understands `*` in the last component. */
function memory(files: Record<string, string>) {
  return {
    readFile: (p: string) => files[p],
    glob: (pattern: string) => {
      const re = new RegExp(
        "^" +
          pattern.replace(/[.+^${}()|\\]/g, "\\$&").replace(/\*/g, "[^/]*").replace(/\?/g, ".") +
          "$",
      );
      return Object.keys(files).filter((p) => re.test(p)).sort();
    },
  };
}

function resolve(
  host: string,
  text: string,
  extra: Partial<ResolveSshConfigOptions> & { files?: Record<string, string> } = {},
): ResolvedSshConfig {
  const { files = {}, ...rest } = extra;
  return resolveSshConfig(host, {
    sources: [{ path: CONFIG, user: true }],
    reader: memory({ [CONFIG]: text, ...files }),
    localUser: "me",
    home: HOME,
    localHostname: "box.example.net",
    uid: 1000,
    ...rest,
  });
}

function fails(host: string, text: string, message: string | RegExp, extra = {}) {
  assert.throws(() => resolve(host, text, extra), (e: unknown) => {
    assert.ok(e instanceof SshConfigError, String(e));
    if (typeof message === "string") assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}

test("first obtained value wins; keywords are case-insensitive; = and quotes", () => {
  const c = resolve(
    "web",
    `# comment\n\nPORT=2222\nport 22\n  User = "alice smith"\nHostName\t'web.example.com' # trailing\n`,
  );
  assert.equal(c.port, 2222);
  assert.equal(c.user, "alice smith");
  assert.equal(c.hostname, "web.example.com");
});

test("defaults", () => {
  const c = resolve("Example.COM", "");
  assert.equal(c.hostname, "example.com");
  assert.equal(c.host, "Example.COM");
  assert.equal(c.user, "me");
  assert.equal(c.port, 22);
  assert.equal(c.strictHostKeyChecking, "ask");
  assert.deepEqual(c.userKnownHostsFiles, [
    "/home/me/.ssh/known_hosts",
    "/home/me/.ssh/known_hosts2",
  ]);
  assert.equal(c.identityFilesDefaulted, true);
  assert.deepEqual(c.ciphers, DEFAULT_ALGORITHMS.Ciphers);
  assert.equal(c.connectTimeout, undefined);
  assert.equal(c.requestTty, "auto");
  assert.equal(c.serverAliveCountMax, 3);
});

test("cumulative keywords accumulate; SetEnv and known-hosts lists take the first line", () => {
  const c = resolve(
    "h",
    `IdentityFile ~/.ssh/a
IdentityFile ~/.ssh/b
IdentityFile ~/.ssh/a
CertificateFile ~/.ssh/a-cert.pub
LocalForward 8080 localhost:80
LocalForward [::1]:8443 [2001:db8::1]:443
RemoteForward 9000 /tmp/sock
RemoteForward 9001
DynamicForward 1080
DynamicForward 127.0.0.1:1081
SendEnv LANG LC_*
SendEnv FOO BAR
SendEnv -LC_*
SetEnv A=1 B="two words" A=3
SetEnv C=4
UserKnownHostsFile ~/k1 ~/k2
UserKnownHostsFile ~/k3
GlobalKnownHostsFile none
`,
  );
  assert.deepEqual(c.identityFiles, ["~/.ssh/a", "~/.ssh/b"]);
  assert.deepEqual(c.certificateFiles, ["~/.ssh/a-cert.pub"]);
  assert.deepEqual(c.localForwards, [
    { listenPort: 8080, connectHost: "localhost", connectPort: 80 },
    { listenHost: "::1", listenPort: 8443, connectHost: "2001:db8::1", connectPort: 443 },
  ]);
  assert.deepEqual(c.remoteForwards, [
    { listenPort: 9000, connectPath: "/tmp/sock" },
    { listenPort: 9001, connectHost: "socks" },
  ]);
  assert.deepEqual(c.dynamicForwards, [
    { listenPort: 1080, connectHost: "socks" },
    { listenHost: "127.0.0.1", listenPort: 1081, connectHost: "socks" },
  ]);
  assert.deepEqual(c.sendEnv, ["LANG", "FOO", "BAR"]);
  assert.deepEqual(c.setEnv, ["A=1", "B=two words"]);
  assert.deepEqual(c.userKnownHostsFiles, ["/home/me/k1", "/home/me/k2"]);
  assert.deepEqual(c.globalKnownHostsFiles, []);
  const g = formatSshConfig(c);
  assert.match(g, /^localforward 8080 \[localhost\]:80$/m);
  assert.match(g, /^localforward \[::1\]:8443 \[2001:db8::1\]:443$/m);
  assert.match(g, /^remoteforward 9001 \[socks\]:0$/m);
  assert.match(g, /^dynamicforward \[127.0.0.1\]:1081$/m);
  assert.match(g, /^globalknownhostsfile none$/m);
});

test("Host: wildcards, negation, several patterns, case-sensitive on the host as given", () => {
  const text = `Host *.example.com !bad.example.com
  User ex
Host web? db*
  Port 2000
Host Caps
  Port 3000
Host *
  User everyone
  Port 22
`;
  assert.equal(resolve("a.example.com", text).user, "ex");
  assert.equal(resolve("bad.example.com", text).user, "everyone");
  assert.equal(resolve("web1", text).port, 2000);
  assert.equal(resolve("web12", text).port, 22);
  assert.equal(resolve("db-main", text).port, 2000);
  assert.equal(resolve("caps", text).port, 22);
  assert.equal(resolve("Caps", text).port, 3000);
});

test("Match host, originalhost, user, localuser, all, negation", () => {
  const text = `Host short
  HostName long.example.com
Match host long.example.com user root
  Port 1
Match host long.example.com
  Port 2
Match originalhost short !localuser me
  User x
Match originalhost short localuser me
  User y
Match !all
  IdentitiesOnly yes
Match all
  Compression yes
`;
  const c = resolve("short", text);
  assert.equal(c.port, 2);
  assert.equal(c.user, "y");
  assert.equal(c.identitiesOnly, false);
  assert.equal(c.compression, true);
  assert.equal(resolve("short", text, { user: "root" }).port, 1);
  assert.equal(resolve("short", text, { commandLine: ["User=root"] }).port, 1);
});

test("Match final and canonical: a second pass with the resolved host name", () => {
  const text = `Host alias
  HostName Real.Example.Net
Match canonical
  Port 4
Match final host real.example.net
  User final-user
Host real.example.net
  ForwardX11 yes
`;
  const c = resolve("alias", text);
  assert.equal(c.hostname, "real.example.net");
  assert.equal(c.port, 4);
  assert.equal(c.user, "final-user");
  assert.equal(c.forwardX11, true, "Host matches the resolved name in the final pass");
  // Without Match final there is no second pass.
  const d = resolve("alias", "Host alias\n  HostName real\nMatch canonical\n  Port 4\n");
  assert.equal(d.port, 22);
});

test("Include: globs, relative to ~/.ssh, nested, scoped Host state, depth limit", () => {
  const files = {
    [`${HOME}/.ssh/conf.d/10-a.conf`]: "Host a\n  Port 10\nInclude /etc/inc/b.conf\n",
    [`${HOME}/.ssh/conf.d/20-b.conf`]: "Port 20\n",
    "/etc/inc/b.conf": "Host a\n  User from-b\n",
  };
  const text = "Include conf.d/*.conf\nHost zzz\nInclude conf.d/*.conf\nHost *\n  Port 99\n";
  const a = resolve("a", text, { files });
  assert.equal(a.port, 10);
  assert.equal(a.user, "from-b");
  // Each included file starts in the including line's state: the Host line
  // inside 10-a.conf does not carry over to 20-b.conf (readconf.c resets it).
  assert.equal(resolve("other", text, { files }).port, 20);
  // An Include in an inactive block never activates its Host blocks.
  const b = resolve("a", "Host nomatch\nInclude /x.conf\n", {
    files: { "/x.conf": "Host a\n  Port 5\n" },
  });
  assert.equal(b.port, 22);
  fails("h", "Include /loop.conf\n", /Too many recursive configuration includes/, {
    files: { "/loop.conf": "Include /loop.conf\n" },
  });
  // Nothing matching is not an error.
  assert.equal(resolve("h", "Include nothing/*.conf\n").port, 22);
});

test("Include in the system file: relative to /etc/ssh, ~ refused", () => {
  const opts = (text: string) => ({
    sources: [{ path: "/etc/ssh/ssh_config" }],
    reader: memory({ "/etc/ssh/ssh_config": text, "/etc/ssh/ssh_config.d/x.conf": "Port 7\n" }),
    localUser: "me",
    home: HOME,
  });
  assert.equal(resolveSshConfig("h", opts("Include ssh_config.d/*.conf\n")).port, 7);
  assert.throws(
    () => resolveSshConfig("h", opts("Include ~/x\n")),
    /\/etc\/ssh\/ssh_config line 1: bad include path ~\/x\./,
  );
});

test("%-tokens and ~: HostName %h, UserKnownHostsFile, IdentityAgent, forward paths", () => {
  const c = resolve(
    "web",
    `HostName %h.example.com
User bob
Port 2022
HostKeyAlias KeyAlias
UserKnownHostsFile ~/.ssh/kh-%h-%p-%r-%u-%n-%k-%d-%i-%l-%L-%%
IdentityAgent ~/agent.%C
LocalForward /tmp/l.%h /tmp/r.%r
`,
  );
  assert.equal(c.hostname, "web.example.com");
  assert.deepEqual(c.userKnownHostsFiles, [
    "/home/me/.ssh/kh-web.example.com-2022-bob-me-web-keyalias-/home/me-1000-box.example.net-box-%",
  ]);
  // %C: SHA-1 of local host name, host name, port and user (ssh_connection_hash).
  assert.equal(c.identityAgent, `/home/me/agent.${c.tokens.C}`);
  assert.match(c.tokens.C, /^[0-9a-f]{40}$/);
  assert.deepEqual(c.localForwards, [{
    listenPath: "/tmp/l.web.example.com",
    connectPath: "/tmp/r.bob",
  }]);
  assert.equal(
    expandSshConfigValue("~/.ssh/id_%r@%h", {
      keyword: "IdentityFile",
      tokens: c.tokens,
      home: HOME,
    }),
    "/home/me/.ssh/id_bob@web.example.com",
  );
  assert.throws(
    () => expandSshConfigValue("%z", { keyword: "IdentityFile", tokens: c.tokens }),
    /IdentityFile: unknown key %z/,
  );
  fails("h", "UserKnownHostsFile /x/%q\n", /UserKnownHostsFile: unknown key %q/);
});

test("ProxyJump and ProxyCommand: the first of either wins; none", () => {
  assert.equal(
    resolve("h", "ProxyJump u@bastion:2200,[::1]:22,j3\n").proxyJump,
    "u@bastion:2200,[::1]:22,j3",
  );
  assert.equal(resolve("h", "ProxyJump 10.0.0.1\n").proxyJump, "[10.0.0.1]");
  const both = resolve("h", "ProxyJump j\nProxyCommand nc %h %p\n");
  assert.equal(both.proxyJump, "j");
  assert.equal(both.proxyCommand, undefined);
  const cmd = resolve("h", "ProxyCommand=nc %h %p\nProxyJump j\n");
  assert.equal(cmd.proxyCommand, "nc %h %p");
  assert.equal(cmd.proxyJump, undefined);
  const none = resolve("h", "ProxyJump none\nProxyJump j\n");
  assert.equal(none.proxyJump, undefined);
  fails("h", "ProxyJump a:b\n", `${CONFIG} line 1: Invalid ProxyJump "a:b"`);
});

test("value forms: times, flags, multistate, log levels, agent", () => {
  const c = resolve(
    "h",
    `ConnectTimeout 1m30s
ServerAliveInterval 15
ServerAliveCountMax 5
StrictHostKeyChecking off
RequestTTY force
LogLevel debug
ForwardAgent ~/agent.sock
BatchMode true
NumberOfPasswordPrompts 1
`,
  );
  assert.equal(c.connectTimeout, 90);
  assert.equal(c.serverAliveInterval, 15);
  assert.equal(c.serverAliveCountMax, 5);
  assert.equal(c.strictHostKeyChecking, "no");
  assert.equal(c.requestTty, "force");
  assert.equal(c.logLevel, "DEBUG1");
  assert.equal(c.forwardAgent, "/home/me/agent.sock");
  assert.equal(c.batchMode, true);
  assert.equal(c.numberOfPasswordPrompts, 1);
  const g = formatSshConfig(c);
  assert.match(g, /^stricthostkeychecking false$/m);
  assert.match(g, /^requesttty force$/m);
  assert.match(g, /^connecttimeout 90$/m);
  assert.match(g, /^forwardagent \/home\/me\/agent.sock$/m);
});

test("X11 keywords: ForwardX11Trusted, ForwardX11Timeout, XAuthLocation (defaults as upstream ssh)", () => {
  const d = resolve("h", "");
  assert.deepEqual([d.forwardX11, d.forwardX11Trusted, d.forwardX11Timeout, d.xauthLocation], [
    false,
    false,
    1200,
    "/usr/bin/xauth",
  ]);
  const c = resolve(
    "h",
    "ForwardX11 yes\nForwardX11Trusted yes\nForwardX11Timeout 2m\nXAuthLocation /opt/xauth\n",
  );
  assert.deepEqual([c.forwardX11, c.forwardX11Trusted, c.forwardX11Timeout, c.xauthLocation], [
    true,
    true,
    120,
    "/opt/xauth",
  ]);
  const g = formatSshConfig(c);
  assert.match(g, /^forwardx11 yes\nforwardx11trusted yes$/m);
  assert.match(g, /^forwardx11timeout 120$/m);
  assert.match(g, /^xauthlocation \/opt\/xauth$/m);
  assert.throws(() => resolve("h", "ForwardX11Timeout soon\n"), /line 1: invalid time value/);
});

test("algorithm lists: +, -, ^ against rxssh's defaults; full lists as written", () => {
  const c = resolve(
    "h",
    `Ciphers +aes128-cbc
KexAlgorithms -diffie-hellman-*
MACs ^hmac-sha2-512
HostKeyAlgorithms ssh-ed25519,rsa-sha2-256
`,
  );
  assert.deepEqual(c.ciphers, [...DEFAULT_ALGORITHMS.Ciphers, "aes128-cbc"]);
  assert.ok(c.kexAlgorithms.every((k) => !k.startsWith("diffie-hellman-")));
  assert.equal(c.macs[0], "hmac-sha2-512");
  assert.equal(c.macs.filter((m) => m === "hmac-sha2-512").length, 1);
  assert.deepEqual(c.hostKeyAlgorithms, ["ssh-ed25519", "rsa-sha2-256"]);
  assert.equal(c.algorithmSpecs.ciphers, "+aes128-cbc");
  assert.equal(c.algorithmSpecs.pubkeyAcceptedAlgorithms, undefined);
  fails("h", "Ciphers des-cbc\n", `${CONFIG} line 1: Bad SSH2 cipher spec 'des-cbc'.`);
  fails("h", "MACs +nope\n", `${CONFIG} line 1: Bad SSH2 MAC spec '+nope'.`);
  fails("h", "KexAlgorithms x\n", `${CONFIG} line 1: Bad SSH2 KexAlgorithms 'x'.`);
  fails("h", "PubkeyAcceptedAlgorithms ssh-foo\n", `${CONFIG} line 1: Bad key types 'ssh-foo'.`);
});

test("command-line options come first and may not be Host, Match or Include", () => {
  const c = resolve("h", "Port 1\nUser file\n", { commandLine: ["Port=2", "user cmd"] });
  assert.equal(c.port, 2);
  assert.equal(c.user, "cmd");
  assert.equal(resolve("h", "User file\n", { user: "arg", commandLine: ["User=cmd"] }).user, "arg");
  fails("h", "", "command-line line 1: Host directive not supported as a command-line option", {
    commandLine: ["Host=x"],
  });
  fails("h", "", /Include directive not supported/, { commandLine: ["Include /x"] });
});

test("errors name the file and line as ssh does", () => {
  fails(
    "h",
    "Port 22\nFrobnicate yes\n",
    `${CONFIG}: line 2: Bad configuration option: frobnicate`,
  );
  fails("h", "\nPort\n", `${CONFIG} line 2: no argument after keyword "port"`);
  fails("h", "Port 0\n", `${CONFIG} line 1: Bad port '0'.`);
  fails("h", "Port 70000\n", `${CONFIG} line 1: Bad port '70000'.`);
  fails("h", "BatchMode maybe\n", `${CONFIG} line 1: unsupported option "maybe".`);
  fails(
    "h",
    "StrictHostKeyChecking sometimes\n",
    `${CONFIG} line 1: unsupported option "sometimes".`,
  );
  fails("h", "ConnectTimeout 5x\n", `${CONFIG} line 1: invalid time value.`);
  fails("h", "ServerAliveCountMax -1\n", `${CONFIG} line 1: integer value too small.`);
  fails("h", "ServerAliveCountMax many\n", `${CONFIG} line 1: integer value invalid.`);
  fails("h", "LogLevel LOUD\n", `${CONFIG} line 1: unsupported log level 'LOUD'`);
  fails("h", "User a b\n", `${CONFIG} line 1: keyword user extra arguments at end of line`);
  fails("h", 'User "open\n', `${CONFIG} line 1: invalid quotes`);
  fails("h", "LocalForward 8080\n", `${CONFIG} line 1: Missing target argument.`);
  fails("h", "LocalForward 0 h:1\n", `${CONFIG} line 1: Bad forwarding specification.`);
  fails("h", "DynamicForward a:b:c\n", `${CONFIG} line 1: Bad forwarding specification.`);
  fails("h", "SendEnv A=1\n", `${CONFIG} line 1: Invalid environment name.`);
  fails("h", "SetEnv A\n", `${CONFIG} line 1: Invalid SetEnv.`);
  fails("h", "UserKnownHostsFile a none\n", /"none" argument must appear alone/);
  fails("h", "Match exec true\n", `${CONFIG} line 1: Match exec is not supported by rxssh`);
  fails("h", "Match foo bar\n", `${CONFIG} line 1: Unsupported Match attribute foo`);
  fails("h", "Match host\n", `${CONFIG} line 1: Missing Match criteria for host`);
  // Found by tests/fuzz_protocols_test.ts: HostName's %p under Match host was a bare Error.
  fails(
    "h",
    "HostName %h:%p\nMatch host a,b user x\n",
    `${CONFIG} line 2: Match host: HostName unknown key %p in "%h:%p"`,
  );
  fails("h", "Match all host x\n", /'all' cannot be combined with other Match attributes/);
  // Errors in inactive blocks are still errors, as in ssh.
  fails("h", "Host other\n  Port x\n", `${CONFIG} line 2: Bad port 'x'.`);
  fails("h", "", `Can't open user config file /nope: No such file or directory`, {
    sources: [{ path: "/nope", user: true, required: true }],
  });
});

test("keywords ssh knows but rxssh does not implement are accepted; IgnoreUnknown", () => {
  const c = resolve(
    "h",
    "ControlMaster auto\nControlPath ~/.ssh/cm-%C\nCanonicalizeHostname no\nGSSAPIAuthentication yes\nIgnoreUnknown Foo*,bar\nFooThing 1\nbar 2\n",
  );
  assert.equal(c.port, 22);
  fails("h", "IgnoreUnknown Foo*\nBaz 1\n", `${CONFIG}: line 2: Bad configuration option: baz`);
});
