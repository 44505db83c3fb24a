// rxssh in a real browser: headless Chromium (Debian's `chromium`, driven by
// npm's playwright-core, which downloads no browser) loads the bundled page
// (scripts/build_browser.ts), which connects over a WebSocket, through
// examples/browser/bridge.ts, to `rxssh serve`, logs in with a password,
// runs `echo`, and shows the output; the test reads it from the page and
// keeps a screenshot in $RXSSH_ARTIFACTS (default tests/artifacts/). The
// bridge runs on Deno whichever runtime runs this test.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import process from "node:process";
import { ROOT, serve, type Served } from "./_cli.ts";
import { currentUser } from "./_openssh.ts";

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const BIN = (name: string) => {
  const local = path.join(ROOT, "node_modules/.bin", name);
  return fs.existsSync(local) ? local : name;
};
const hasPlaywright = fs.existsSync(path.join(ROOT, "node_modules/playwright-core/package.json"));
const skip = !fs.existsSync(CHROMIUM)
  ? `${CHROMIUM} is not installed (scripts/ensure_openssh.sh installs Debian's chromium)`
  : !hasPlaywright
  ? "playwright-core is not installed (npm install)"
  : false;

/** Starts the bridge and resolves with its port once it listens. */
function startBridge(target: number, root: string): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn(BIN("deno"), [
    "run",
    "-A",
    "examples/browser/bridge.ts",
    "--target",
    `127.0.0.1:${target}`,
    "--listen",
    "127.0.0.1:0",
    "--root",
    root,
  ], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let text = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the bridge did not start in 30 s:\n${text}`));
    }, 30_000);
    const onData = (c: Uint8Array) => {
      text += new TextDecoder().decode(c);
      const m = /bridge listening on http:\/\/127\.0\.0\.1:(\d+)\//.exec(text);
      if (m) {
        clearTimeout(timer);
        resolve({ port: Number(m[1]), child });
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the bridge exited (${code}):\n${text}`));
    });
  });
}

describe("Chromium -> WebSocket -> rxssh serve", { skip }, () => {
  const secret = `pw-${Math.random().toString(36).slice(2)}`;
  let work: string;
  let server: Served;
  let bridge: { port: number; child: ChildProcess };
  let fingerprint: string;

  before(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-browser-"));
    const built = spawnSync(BIN("bun"), ["scripts/build_browser.ts", path.join(work, "www")], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 60_000,
    });
    assert.equal(built.status, 0, `bundling failed:\n${built.stdout}${built.stderr}`);
    fs.mkdirSync(path.join(work, "home"));
    server = await serve(["-o", "PasswordAuthentication=yes"], {
      HOME: path.join(work, "home"),
      RXSSH_PASSWORD: secret,
    });
    const m = /host key[^\n]*?(SHA256:[A-Za-z0-9+/]+)/.exec(server.log());
    assert.ok(m, `no host key fingerprint in rxssh serve's log:\n${server.log()}`);
    fingerprint = m[1];
    bridge = await startBridge(server.port, path.join(work, "www"));
  });

  after(async () => {
    bridge?.child.kill("SIGTERM");
    await server?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it("the page connects, runs echo, and shows its output", async () => {
    const { chromium } = await import("playwright-core");
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      // As root, Chromium runs only without its sandbox.
      args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
      timeout: 60_000,
    });
    try {
      const page = await browser.newPage();
      const log: string[] = [];
      page.on("console", (msg) => log.push(`${msg.type()}: ${msg.text()}`));
      page.on("pageerror", (e) => log.push(`pageerror: ${e.message}`));
      const q = new URLSearchParams({
        user: currentUser(),
        password: secret,
        fingerprint,
        command: "echo hello from rxssh in Chromium",
      });
      await page.goto(`http://127.0.0.1:${bridge.port}/?${q}`);
      await page.waitForFunction(
        // Runs in the page (a string: this file is not type-checked against the DOM).
        `/^(exit|error)/.test(document.getElementById("status")?.textContent ?? "")`,
        undefined,
        { timeout: 60_000 },
      ).catch(() => {});
      const status = await page.textContent("#status");
      const output = await page.textContent("#output");
      const dir = process.env.RXSSH_ARTIFACTS ?? path.join(ROOT, "tests/artifacts");
      fs.mkdirSync(dir, { recursive: true });
      await page.screenshot({ path: path.join(dir, "browser_exec.png") });
      assert.equal(status, "exit 0", `page status; the page's console:\n${log.join("\n")}`);
      assert.equal(output, "hello from rxssh in Chromium\n");
    } finally {
      await browser.close();
    }
  });
});
