/**
 * Bundles the browser example (examples/browser/app.ts and its page) into
 * `dist/browser/` with Bun's bundler (`Bun.build`, `target: "browser"`).
 * Runs on Bun: `bun scripts/build_browser.ts [outdir]` (the `browser` step
 * of scripts/build.ts runs it).
 *
 * Browsers have no `node:` builtins. The client's browser path never calls
 * them (WebCrypto and the noble libraries do the crypto, the WebSocket
 * adapter the I/O), but modules it imports also hold the Deno/Bun/Node
 * paths (files, processes, the agent, node:crypto's fast AES), whose
 * imports are static. So each `node:` import is bundled as a stand-in with
 * the real module's export names, every one of which throws
 * "node:X is not available in the browser" when used. Nothing is polyfilled:
 * a browser path that reached one would fail loudly, naming it (the
 * node:crypto fast path is probed inside try/catch and falls back to
 * WebCrypto, as on any runtime where it fails its known-answer test).
 *
 * @module
 */
import * as fs from "node:fs";
import * as path from "node:path";
import process from "node:process";

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");

/** The stand-in module for `node:name`: every export throws when touched. */
async function standIn(spec: string): Promise<string> {
  const real = await import(spec);
  const names = Object.keys(real).filter((n) => n !== "default" && /^[A-Za-z_$][\w$]*$/.test(n));
  return `const fail = (what) => { throw new Error(${
    JSON.stringify(spec)
  } + " is not available in the browser (" + what + ")"); };
const absent = (name) => new Proxy(function () {}, {
  get: (_t, key) => typeof key === "symbol" ? undefined : fail(name + "." + String(key)),
  apply: () => fail(name + "()"),
  construct: () => fail("new " + name),
});
export default absent(${JSON.stringify(spec)});
${names.map((n) => `export const ${n} = absent(${JSON.stringify(`${spec} ${n}`)});`).join("\n")}
`;
}

/** Bundles the example into `out`; returns the bundle's size in bytes. */
export async function buildBrowser(out = path.join(ROOT, "dist/browser")): Promise<number> {
  // @ts-ignore: Bun's API (this script runs on Bun only)
  const B = globalThis.Bun;
  if (!B) throw new Error("scripts/build_browser.ts runs on Bun (bun scripts/build_browser.ts)");
  fs.rmSync(out, { recursive: true, force: true });
  const result = await B.build({
    entrypoints: [path.join(ROOT, "examples/browser/app.ts")],
    outdir: out,
    target: "browser",
    format: "esm",
    minify: true,
    plugins: [{
      name: "node-builtins-absent",
      // deno-lint-ignore no-explicit-any
      setup(build: any) {
        build.onResolve({ filter: /^node:/ }, (a: { path: string }) => ({
          path: a.path,
          namespace: "node-absent",
        }));
        build.onLoad({ filter: /.*/, namespace: "node-absent" }, async (a: { path: string }) => ({
          contents: await standIn(a.path),
          loader: "js",
        }));
      },
    }],
  });
  if (!result.success) {
    throw new Error(`bun build of examples/browser/app.ts failed:\n${result.logs.join("\n")}`);
  }
  fs.copyFileSync(path.join(ROOT, "examples/browser/index.html"), path.join(out, "index.html"));
  return fs.statSync(path.join(out, "app.js")).size;
}

if (import.meta.main) {
  const out = process.argv[2] ? path.resolve(process.argv[2]) : undefined;
  const t0 = Date.now();
  const size = await buildBrowser(out);
  console.log(`build browser: app.js ${Math.round(size / 1024)} KiB (${Date.now() - t0} ms)`);
}
