// The package's entry points: deno.json (JSR) and package.json (npm, Bun)
// map the same subpaths to the same files; each file exists, has a module
// doc, imports, and exposes symbols; every layer with a mod.ts is exported;
// and what the barrel exports from a layer, that layer's subpath exports too.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as barrel from "../mod.ts";
import * as agent from "../lib/agent/mod.ts";
import * as auth from "../lib/auth/mod.ts";
import * as config from "../lib/config/mod.ts";
import * as connection from "../lib/connection/mod.ts";
import * as crypto from "../lib/crypto/mod.ts";
import * as forward from "../lib/forward/mod.ts";
import * as keys from "../lib/keys/mod.ts";
import * as runtime from "../lib/runtime/mod.ts";
import * as rx from "../lib/rx/mod.ts";
import * as sftp from "../lib/sftp/mod.ts";
import * as transport from "../lib/transport/mod.ts";
import * as wire from "../lib/wire/mod.ts";
import * as x11 from "../lib/x11/mod.ts";

const root = new URL("../", import.meta.url);
const readJson = (name: string) => JSON.parse(fs.readFileSync(new URL(name, root), "utf8"));
const denoExports: Record<string, string> = readJson("deno.json").exports;
/** package.json maps each subpath to its compiled file (scripts/build.ts generates it). */
const npmExports: Record<string, { import: string }> = readJson("package.json").exports;
const npmSources = Object.fromEntries(
  Object.entries(npmExports).map(([sub, { import: js }]) => [
    sub,
    js.replace(/^\.\/dist\/npm\//, "./").replace(/\.js$/, ".ts"),
  ]),
);

/** Every entry, imported statically (JSR rewrites only static imports), by its file. */
const ENTRIES: Record<string, Record<string, unknown>> = {
  "./mod.ts": barrel,
  "./lib/agent/mod.ts": agent,
  "./lib/auth/mod.ts": auth,
  "./lib/config/mod.ts": config,
  "./lib/connection/mod.ts": connection,
  "./lib/crypto/mod.ts": crypto,
  "./lib/forward/mod.ts": forward,
  "./lib/keys/mod.ts": keys,
  "./lib/runtime/mod.ts": runtime,
  "./lib/rx/mod.ts": rx,
  "./lib/sftp/mod.ts": sftp,
  "./lib/transport/mod.ts": transport,
  "./lib/wire/mod.ts": wire,
  "./lib/x11/mod.ts": x11,
};

/** The barrel's values that belong to no layer: the client and server that compose the layers. */
// The modules at lib/'s top that compose the layers (client.ts, server.ts,
// server_handlers.ts, server_policy.ts, server_limits.ts, host_keys.ts,
// client_config.ts, proxy_command.ts, fanout.ts) are what "." is for.
const BARREL_ONLY = new Set([
  "acceptConnection",
  "closeDropped",
  "DEFAULT_MAX_STARTUPS",
  "MAX_SERVER_CHANNELS",
  "parseMaxStartups",
  "parseNetBlockSize",
  "STARTUP_DROP_NOTICE",
  "StartupDroppedError",
  "StartupGate",
  "agentFromConfig",
  "clientEnvironment",
  "connect",
  "connectOptionsFromConfig",
  "DEFAULT_ACCEPT_ENV",
  "DEFAULT_MAX_ENV",
  "DEFAULT_MAX_ENV_BYTES",
  "fanOut",
  "HostKeyError",
  "IdentityFileError",
  "JumpHostError",
  "knownHostsVerifier",
  "listen",
  "ProxyCommandError",
  "ptyRefusal",
  "resolveConnectConfig",
  "runLocalCommand",
  "serveConnection",
  "ServerHandlers",
  "sessionEnvironment",
  "sessionStart",
  "SshClient",
  "startProxyCommand",
  "verifyKnownHost",
  "withSshConfig",
]);

test("deno.json and package.json export the same subpaths, with . as mod.ts", () => {
  assert.equal(typeof denoExports, "object");
  assert.equal(typeof npmExports, "object");
  assert.deepEqual(npmSources, denoExports);
  assert.equal(denoExports["."], "./mod.ts");
  assert.ok(Object.keys(denoExports).length > 1, "no subpaths besides .");
  for (const [subpath, file] of Object.entries(denoExports)) {
    assert.match(subpath, /^\.(\/[a-z0-9]+)?$/, subpath);
    assert.match(file, /^\.\/.*\.ts$/, `${subpath}: ${file}`);
  }
});

test("every lib/<layer>/mod.ts is exported as ./<layer>", () => {
  const layers = fs.readdirSync(new URL("lib/", root), { withFileTypes: true })
    .filter((d) => d.isDirectory() && fs.existsSync(new URL(`lib/${d.name}/mod.ts`, root)))
    .map((d) => d.name);
  assert.ok(layers.length > 0);
  for (const layer of layers) {
    assert.equal(denoExports[`./${layer}`], `./lib/${layer}/mod.ts`, `lib/${layer}/mod.ts`);
  }
});

test("each entry exists, has a module doc, and exposes symbols", () => {
  assert.deepEqual(Object.keys(ENTRIES).sort(), Object.values(denoExports).sort());
  for (const [subpath, file] of Object.entries(denoExports)) {
    const url = new URL(file, root);
    assert.ok(fs.existsSync(url), `${subpath}: ${file} does not exist`);
    const text = fs.readFileSync(url, "utf8");
    assert.match(text, /^\/\*\*[\s\S]*?@module[\s\S]*?\*\//, `${file} has no @module doc`);
    assert.ok(Object.keys(ENTRIES[file]).length > 0, `${subpath} exposes no value`);
  }
});

test("what the barrel exports from a layer, that layer's subpath exports too", () => {
  const subpathValues = new Set<unknown>();
  for (const mod of Object.values(ENTRIES)) {
    if (mod === barrel) continue;
    for (const v of Object.values(mod)) subpathValues.add(v);
  }
  const missing = Object.entries(barrel)
    .filter(([name, v]) => !BARREL_ONLY.has(name) && !subpathValues.has(v))
    .map(([name]) => name);
  assert.deepEqual(missing, []);
  for (const name of BARREL_ONLY) assert.ok(name in barrel, `${name} is not in mod.ts`);
});
