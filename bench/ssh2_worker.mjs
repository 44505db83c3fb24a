// Benchmark worker for the ssh2 reference (mscdex/ssh2, a dev dependency for
// the comparison only), run by bench/run.ts under Node:
// `node bench/ssh2_worker.mjs <mode> '<json options>'`. Plain JavaScript
// because Node 20 does not run TypeScript. Same modes, options and output as
// bench/worker.ts: server, bulk, setup, latency, hold, sftp.
import { spawn } from "node:child_process";
import { timingSafeEqual } from "node:crypto";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import process from "node:process";

const require = createRequire(import.meta.url);
const { Client, Server, utils } = require("ssh2");

function out(value) {
  process.stdout.write(JSON.stringify(value) + "\n");
}

/** A full garbage collection when node runs with --expose-gc (bench/run.ts starts it so). */
function collect() {
  globalThis.gc?.();
}

function rssKiB() {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync("/proc/self/status", "utf8"));
  return m ? Number(m[1]) : 0;
}

function dial(o, key) {
  return new Promise((resolve, reject) => {
    const c = new Client();
    const algorithms = { serverHostKey: ["ssh-ed25519"] };
    if (o.kex) algorithms.kex = [o.kex];
    if (o.cipher) algorithms.cipher = [o.cipher];
    if (o.mac) algorithms.hmac = [o.mac];
    c.once("ready", () => resolve(c));
    c.once("error", reject);
    c.connect({
      host: o.host ?? "127.0.0.1",
      port: o.port,
      username: o.user,
      privateKey: key,
      algorithms,
      readyTimeout: 60_000,
      hostVerifier: () => true, // loopback benchmark against a server this run started
    });
    // Nagle off, as rxssh (both sides) and OpenSSH's interactive sessions have it: otherwise a
    // small write waiting for a delayed ACK adds ~40 ms to an exec round trip.
    c.setNoDelay(true);
  });
}

/**
 * Resolves with the stream once the exec is accepted. The exit listener is
 * attached inside ssh2's callback: ssh2 parses a whole socket read at once, so
 * a fast server's SUCCESS, exit-status, EOF and CLOSE can arrive together and
 * "exit" is emitted before an `await` continuation could attach a listener.
 */
function exec(c, command) {
  return new Promise((resolve, reject) => {
    c.exec(command, (err, stream) => {
      if (err) return reject(err);
      stream.finished = new Promise((done) => {
        let code;
        stream.once("exit", (c) => (code = c));
        stream.once("close", () => done(code));
      });
      resolve(stream);
    });
  });
}

/** The exit code, or undefined when the channel closed without exit-status. */
function finished(stream) {
  return stream.finished;
}

async function execQuiet(c, command) {
  const s = await exec(c, command);
  s.end();
  s.resume();
  s.stderr.resume();
  return finished(s);
}

async function bulk(o) {
  const key = fs.readFileSync(o.key);
  const c = await dial(o, key);
  const t0 = performance.now();
  let first = 0;
  let last = 0;
  let moved = 0;
  if (o.dir === "up") {
    const s = await exec(c, "cat > /dev/null");
    s.resume();
    s.stderr.resume();
    const done = finished(s);
    const chunk = Buffer.alloc(64 * 1024);
    while (moved < o.bytes) {
      const n = Math.min(chunk.length, o.bytes - moved);
      moved += n;
      if (!first) first = performance.now();
      if (!s.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
        await new Promise((r) => s.once("drain", r));
      }
    }
    s.end();
    const code = await done;
    last = performance.now();
    if (code !== 0) throw new Error(`cat exited with ${code}`);
  } else {
    const s = await exec(c, `head -c ${o.bytes} /dev/zero`);
    s.end();
    s.stderr.resume();
    s.on("data", (d) => {
      if (!first) first = performance.now();
      moved += d.length;
      last = performance.now();
    });
    const code = await finished(s);
    if (code !== 0) throw new Error(`head exited with ${code}`);
    if (moved !== o.bytes) throw new Error(`received ${moved} bytes, expected ${o.bytes}`);
  }
  const seconds = (performance.now() - t0) / 1000;
  c.end();
  out({ ok: true, runtime: "node", seconds, dataSeconds: (last - first) / 1000, bytes: moved });
}

async function setup(o) {
  const key = fs.readFileSync(o.key);
  const deadline = performance.now() + o.seconds * 1000;
  let count = 0;
  let errors = 0;
  let lastError = "";
  const t0 = performance.now();
  const loop = async () => {
    while (performance.now() < deadline) {
      try {
        const c = await dial(o, key);
        const code = await execQuiet(c, "true");
        c.end();
        if (code !== 0) throw new Error(`true exited with ${code}`);
        count++;
      } catch (e) {
        errors++;
        lastError = String(e);
      }
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, loop));
  const seconds = (performance.now() - t0) / 1000;
  out({ ok: true, runtime: "node", count, seconds, rate: count / seconds, errors, lastError });
}

async function latency(o) {
  const key = fs.readFileSync(o.key);
  const c = await dial(o, key);
  const samples = [];
  let noExitStatus = 0;
  for (let i = 0; i < o.count + 5; i++) {
    const t0 = performance.now();
    const code = await execQuiet(c, "true");
    if (code === undefined) noExitStatus++; // counted, reported: the channel closed without one
    else if (code !== 0) throw new Error(`true exited with ${code}`);
    if (i >= 5) samples.push(performance.now() - t0);
  }
  c.end();
  out({ ok: true, runtime: "node", samples, noExitStatus });
}

/** ssh2's SFTP session on a connection. */
function openSftp(c) {
  return new Promise((resolve, reject) => c.sftp((err, s) => (err ? reject(err) : resolve(s))));
}

/** A callback-style ssh2 SFTP method as a promise. */
function call(s, method, ...args) {
  return new Promise((resolve, reject) =>
    s[method](...args, (err, value) => (err ? reject(err) : resolve(value)))
  );
}

/** Runs `jobs` (functions returning promises) at most `limit` at once. */
async function pool(jobs, limit) {
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) await jobs[next++]();
  };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
}

/**
 * The sftp workload: fastGet/fastPut with ssh2's defaults (64 requests in
 * flight, 32 KiB chunks). ssh2 has no recursive transfer: for a directory
 * (`recursive`, one level of regular files, as the runner's tree) it lists
 * it (readdir / fs.readdirSync), creates the destination directory, then
 * runs fastGet/fastPut per file, `files` (8, rxssh's default) at a time.
 * The time covers the transfer only.
 */
async function sftp(o) {
  const key = fs.readFileSync(o.key);
  const c = await dial(o, key);
  const s = await openSftp(c);
  const limit = o.files ?? 8;
  const t0 = performance.now();
  let bytes = 0;
  let files = 0;
  if (!o.recursive) {
    await call(
      s,
      o.op === "get" ? "fastGet" : "fastPut",
      ...(o.op === "get" ? [o.remote, o.local, {}] : [o.local, o.remote, {}]),
    );
    files = 1;
    bytes = fs.statSync(o.local).size;
  } else if (o.op === "get") {
    const list = await call(s, "readdir", o.remote);
    fs.mkdirSync(o.local);
    const names = list.filter((e) => (e.attrs.mode & 0o170000) === 0o100000);
    await pool(
      names.map((e) => async () => {
        await call(s, "fastGet", `${o.remote}/${e.filename}`, `${o.local}/${e.filename}`, {});
        files++;
        bytes += e.attrs.size;
      }),
      limit,
    );
  } else {
    const names = fs.readdirSync(o.local).filter((n) => fs.statSync(`${o.local}/${n}`).isFile());
    await call(s, "mkdir", o.remote);
    await pool(
      names.map((n) => async () => {
        await call(s, "fastPut", `${o.local}/${n}`, `${o.remote}/${n}`, {});
        files++;
        bytes += fs.statSync(`${o.local}/${n}`).size;
      }),
      limit,
    );
  }
  const seconds = (performance.now() - t0) / 1000;
  s.end();
  c.end();
  out({ ok: true, runtime: "node", seconds, bytes, files, parallel: o.recursive ? limit : 1 });
}

function untilStdinEnds() {
  return new Promise((resolve) => {
    process.stdin.on("end", resolve);
    process.stdin.on("close", resolve);
    process.stdin.on("error", resolve);
    process.stdin.resume();
  });
}

async function hold(o) {
  const key = fs.readFileSync(o.key);
  collect();
  const rssBefore = rssKiB();
  const clients = [];
  let next = 0;
  let errors = 0;
  let lastError = "";
  const opener = async () => {
    while (next < o.count) {
      next++;
      try {
        const c = await dial(o, key);
        c.on("error", () => {});
        clients.push(c);
      } catch (e) {
        errors++;
        lastError = String(e);
      }
    }
  };
  await Promise.all(Array.from({ length: o.parallel }, opener));
  await new Promise((r) => setTimeout(r, 500));
  collect();
  out({
    ready: true,
    runtime: "node",
    opened: clients.length,
    errors,
    lastError,
    rssBefore,
    rss: rssKiB(),
  });
  await untilStdinEnds();
  for (const c of clients) c.end();
  process.exit(0);
}

function server(o) {
  if (o.gcMs) setInterval(collect, o.gcMs);
  const allowed = fs.readFileSync(o.authorizedKeys, "utf8").split("\n").filter((l) => l.trim())
    .map((l) => utils.parseKey(l));
  const srv = new Server({ hostKeys: [fs.readFileSync(o.hostKey)] }, (client) => {
    client.setNoDelay(true); // as rxssh's server: see dial()
    client.on("error", () => {});
    client.on("authentication", (ctx) => {
      if (ctx.method !== "publickey") return ctx.reject(["publickey"]);
      const key = allowed.find((k) =>
        k.type === ctx.key.algo && k.getPublicSSH().length === ctx.key.data.length &&
        timingSafeEqual(k.getPublicSSH(), ctx.key.data)
      );
      if (!key) return ctx.reject(["publickey"]);
      if (!ctx.signature) return ctx.accept(); // the "pk ok" query
      if (key.verify(ctx.blob, ctx.signature, ctx.hashAlgo) !== true) return ctx.reject();
      ctx.accept();
    });
    client.on("session", (accept) => {
      const session = accept();
      session.on("exec", (acceptExec, _reject, info) => {
        const stream = acceptExec();
        const p = spawn("/bin/sh", ["-c", info.command], { stdio: ["pipe", "pipe", "pipe"] });
        p.stdin.on("error", () => {});
        stream.pipe(p.stdin);
        p.stdout.pipe(stream, { end: false });
        p.stderr.pipe(stream.stderr, { end: false });
        let outputs = 2;
        let code = null;
        const maybeEnd = () => {
          if (outputs > 0 || code === null) return;
          stream.exit(code);
          stream.end();
        };
        p.stdout.on("end", () => (outputs--, maybeEnd()));
        p.stderr.on("end", () => (outputs--, maybeEnd()));
        p.on("exit", (c) => ((code = c ?? 128), maybeEnd()));
        p.on("error", () => ((code = 127), (outputs = 0), maybeEnd()));
      });
    });
  });
  srv.listen(0, "127.0.0.1", () => {
    out({
      ready: true,
      runtime: "node",
      port: srv.address().port,
      pid: process.pid,
      rss: rssKiB(),
    });
  });
  return untilStdinEnds().then(() => {
    srv.close();
    process.exit(0);
  });
}

const [mode, json] = process.argv.slice(2);
const options = JSON.parse(json ?? "{}");
const modes = { bulk, setup, latency, hold, server, sftp };
if (!modes[mode]) {
  process.stderr.write(
    `usage: ssh2_worker.mjs <${Object.keys(modes).join("|")}> '<json options>'\n`,
  );
  process.exit(2);
}
Promise.resolve(modes[mode](options)).then(
  () => process.exit(0),
  (e) => {
    out({ ok: false, runtime: "node", error: String(e?.stack ?? e) });
    process.exit(1);
  },
);
