/**
 * Builds rxssh's distributions from the sources, and keeps the manifests in
 * step with one source of truth.
 *
 * The sources of truth:
 * - package.json's `version` and `dependencies` (npm's ranges), for every
 *   manifest and artifact;
 * - deno.json's `exports` (subpath to `.ts` file), for every entry point:
 *   a new entry is one line there, then `deno task sync`.
 *
 * Generated from them (`sync` writes, `check` compares): deno.json's
 * `version` and `imports` (`npm:` specifiers with package.json's ranges, so
 * JSR publishes the same ranges), package.json's `exports` (each entry with
 * `types` and `import` conditions), and `lib/version.ts`.
 *
 * Artifacts, under `dist/` (gitignored):
 * - `dist/url/`: the library's sources with every bare import made fully
 *   qualified (`rxjs` becomes `npm:rxjs@^7.8.2`), relative imports kept, so
 *   `import ... from "<url>/mod.ts"` runs under Deno with no import map;
 * - `dist/npm/`: JavaScript and `.d.ts` from the TypeScript compiler (npm's
 *   `typescript`), and `dist/npm/bin/rxssh.js`, the CLI for Node;
 * - `dist/rxssh`: the CLI as one executable (`bun build --compile`);
 * - `dist/browser/`: the browser example bundled (scripts/build_browser.ts).
 *
 * Run: `deno run -A scripts/build.ts [sync|check|url|npm|cli|browser|all]...`
 * (`npm run build` and `deno task build` run `check url npm`).
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import process from "node:process";

/** The repository's root directory. *
 * @example
 * ```ts
 * import { ROOT } from "./build.ts";
 * console.log(ROOT); // "/path/to/rxssh"
 * ```
 */
export const ROOT: string = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");

/** A build step that failed, with what was wrong and where. *
 * @example
 * ```ts
 * import { BuildError, readManifest } from "./build.ts";
 * try {
 *   readManifest("/nonexistent");
 * } catch (e) {
 *   console.log(e instanceof BuildError); // true
 * }
 * ```
 */
export class BuildError extends Error {
  /** Always `"BuildError"`. */
  override name = "BuildError";
}

/** What every manifest and artifact is derived from. *
 * @example
 * ```ts
 * import { type Manifest, readManifest } from "./build.ts";
 * const m: Manifest = readManifest();
 * console.log(m.version, m.dependencies.rxjs, m.entries["."]); // "0.1.0" "^7.8.2" "./mod.ts"
 * ```
 */
export interface Manifest {
  /** package.json's `version`. */
  version: string;
  /** package.json's `dependencies`: package name to npm range. */
  dependencies: Record<string, string>;
  /** deno.json's `exports`: subpath (`.`, `./wire`) to source file (`./mod.ts`). */
  entries: Record<string, string>;
}

type Json = Record<string, unknown>;

function readJson(root: string, name: string): Json {
  const file = path.join(root, name);
  try {
    return JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new BuildError(`${file}: cannot read it as JSON: ${(e as Error).message}`);
  }
}

/** Reads the sources of truth from package.json and deno.json under `root`. *
 * @example
 * ```ts
 * import { readManifest } from "./build.ts";
 * console.log(Object.keys(readManifest().entries)); // [".", "./wire", ...]
 * ```
 */
export function readManifest(root: string = ROOT): Manifest {
  const pkg = readJson(root, "package.json");
  const deno = readJson(root, "deno.json");
  if (typeof pkg.version !== "string") throw new BuildError("package.json: no version");
  const entries = deno.exports as Record<string, string> | undefined;
  if (!entries || typeof entries !== "object") throw new BuildError("deno.json: no exports");
  for (const [sub, file] of Object.entries(entries)) {
    if (typeof file !== "string" || !/^\.\/.*\.ts$/.test(file)) {
      throw new BuildError(`deno.json: exports["${sub}"] must be a ./path ending in .ts`);
    }
  }
  return {
    version: pkg.version,
    dependencies: (pkg.dependencies ?? {}) as Record<string, string>,
    entries,
  };
}

/** deno.json's `imports`: each dependency, and its subpaths, as an `npm:` specifier. */
function denoImports(m: Manifest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, range] of Object.entries(m.dependencies)) {
    out[name] = `npm:${name}@${range}`;
    out[`${name}/`] = `npm:${name}@${range}/`;
  }
  return out;
}

/** The compiled file for a source file: `./lib/wire/mod.ts` gives `./dist/npm/lib/wire/mod`. */
function npmBase(file: string): string {
  return `./dist/npm/${file.replace(/^\.\//, "").replace(/\.ts$/, "")}`;
}

/**
 * package.json's `exports` for the entries: the `.d.ts` for TypeScript, the
 * JavaScript for Node, Bun, Deno's `npm:` and bundlers. (A `bun` condition
 * with the `.ts` sources measured no faster on Bun; see DESIGN.md.)
 */
function npmExports(m: Manifest): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const [sub, file] of Object.entries(m.entries)) {
    out[sub] = { types: `${npmBase(file)}.d.ts`, import: `${npmBase(file)}.js` };
  }
  return out;
}

/** `lib/version.ts`: the version, for the CLI and the identification line. */
function versionModule(version: string): string {
  return `// Generated by scripts/build.ts from package.json's version: edit that, then \`deno task sync\`.

/**
 * rxssh's version, as in package.json and deno.json.
 *
 * @example
 * \`\`\`ts
 * import { VERSION } from "./version.ts";
 * console.log(\`rxssh \${VERSION}\`);
 * \`\`\`
 */
export const VERSION = ${JSON.stringify(version)};
`;
}

/** The generated files, as they should be: path under the root to contents. */
function expectedFiles(root: string = ROOT): Record<string, string> {
  const m = readManifest(root);
  const deno = readJson(root, "deno.json");
  const pkg = readJson(root, "package.json");
  deno.version = m.version;
  deno.imports = denoImports(m);
  pkg.exports = npmExports(m);
  pkg.main = npmExports(m)["."]?.import;
  pkg.types = npmExports(m)["."]?.types;
  return {
    "deno.json": JSON.stringify(deno, null, 2) + "\n",
    "package.json": JSON.stringify(pkg, null, 2) + "\n",
    "lib/version.ts": versionModule(m.version),
  };
}

/** The generated files that differ from what the sources of truth give, by name. *
 * @example
 * ```ts
 * import { syncProblems } from "./build.ts";
 * console.log(syncProblems()); // [] when deno.json, package.json and lib/version.ts are in step
 * ```
 */
export function syncProblems(root: string = ROOT): string[] {
  const problems: string[] = [];
  for (const [name, want] of Object.entries(expectedFiles(root))) {
    let have = "";
    try {
      have = fs.readFileSync(path.join(root, name), "utf8");
    } catch {
      // missing: differs
    }
    if (have !== want) problems.push(name);
  }
  return problems;
}

/** Writes the generated files; returns the names of those it changed. *
 * @example
 * ```ts
 * import { sync } from "./build.ts";
 * console.log(sync()); // the files it rewrote, e.g. ["deno.json"]
 * ```
 */
export function sync(root: string = ROOT): string[] {
  const changed = syncProblems(root);
  const files = expectedFiles(root);
  for (const name of changed) fs.writeFileSync(path.join(root, name), files[name]);
  return changed;
}

/** True for a library source: `.ts` under lib/ (not a test or test helper), mod.ts, cli.ts. */
function isLibraryFile(rel: string): boolean {
  if (rel === "mod.ts" || rel === "cli.ts") return true;
  if (!rel.startsWith("lib/") || !rel.endsWith(".ts")) return false;
  const base = path.posix.basename(rel);
  return !base.endsWith("_test.ts") && base !== "_test_util.ts";
}

/** The library's source files, relative to `root`, sorted. *
 * @example
 * ```ts
 * import { libraryFiles } from "./build.ts";
 * console.log(libraryFiles().includes("lib/client.ts")); // true
 * ```
 */
export function libraryFiles(root: string = ROOT): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
      const rel = dir ? `${dir}/${e.name}` : e.name;
      if (e.isDirectory()) walk(rel);
      else if (isLibraryFile(rel)) out.push(rel);
    }
  };
  walk("lib");
  out.push("mod.ts", "cli.ts");
  return out.sort();
}

/**
 * The fully qualified form of an import specifier: a dependency's (or its
 * subpath's) `npm:` specifier with package.json's range; relative, `node:`,
 * `npm:`, `jsr:` and URL specifiers as they are. Throws {@link BuildError}
 * for a bare specifier that is not a dependency.
 */
function qualify(spec: string, deps: Record<string, string>, where: string): string {
  if (/^(\.{1,2}\/|\/|node:|npm:|jsr:|https?:|data:)/.test(spec)) return spec;
  for (const [name, range] of Object.entries(deps)) {
    if (spec === name) return `npm:${name}@${range}`;
    if (spec.startsWith(`${name}/`)) return `npm:${name}@${range}${spec.slice(name.length)}`;
  }
  throw new BuildError(`${where}: import "${spec}" is not a dependency in package.json`);
}

/** Import and export specifiers: `from "x"`, `import "x"`, `import("x")`. */
const SPECIFIER = /(\bfrom\s+|\bimport\s*\(\s*|\bimport\s+)(["'])([^"'\n]+)\2/g;

/** `source` with every specifier fully qualified; `file` names it in errors. *
 * @example
 * ```ts
 * import { rewriteImports } from "./build.ts";
 * const out = rewriteImports(`import { of } from "rxjs";`, "x.ts", { rxjs: "^7.8.2" });
 * console.log(out); // import { of } from "npm:rxjs@^7.8.2";
 * ```
 */
export function rewriteImports(source: string, file: string, deps: Record<string, string>): string {
  return source.replace(SPECIFIER, (_all, lead: string, q: string, spec: string, at: number) => {
    const line = source.slice(0, at).split("\n").length;
    return `${lead}${q}${qualify(spec, deps, `${file}:${line}`)}${q}`;
  });
}

/** Writes the URL tree (the sources, imports qualified) to `out`; returns the file count. *
 * @example
 * ```ts
 * import { buildUrlTree, ROOT } from "./build.ts";
 * console.log(buildUrlTree(ROOT, "/tmp/rxssh-url")); // the number of files written
 * ```
 */
export function buildUrlTree(root: string = ROOT, out = path.join(root, "dist/url")): number {
  const { dependencies } = readManifest(root);
  fs.rmSync(out, { recursive: true, force: true });
  const files = libraryFiles(root);
  for (const rel of files) {
    const text = fs.readFileSync(path.join(root, rel), "utf8");
    fs.mkdirSync(path.dirname(path.join(out, rel)), { recursive: true });
    fs.writeFileSync(path.join(out, rel), rewriteImports(text, rel, dependencies));
  }
  for (const extra of ["README.md", "LICENSE"]) {
    fs.copyFileSync(path.join(root, extra), path.join(out, extra));
  }
  return files.length;
}

/** A binary from node_modules/.bin, or from PATH. *
 * @example
 * ```ts
 * import { ROOT, tool } from "./build.ts";
 * console.log(tool(ROOT, "deno")); // ".../node_modules/.bin/deno", or "deno" from PATH
 * ```
 */
export function tool(root: string, name: string): string {
  const local = path.join(root, "node_modules/.bin", name);
  return fs.existsSync(local) ? local : name;
}

function run(cmd: string, args: string[], options: { cwd?: string } = {}): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", cwd: options.cwd, maxBuffer: 64 << 20 });
  if (r.status !== 0) {
    const why = r.error ? r.error.message : `exit ${r.status}`;
    throw new BuildError(`${cmd} ${args.join(" ")} failed (${why}):\n${r.stdout}${r.stderr}`);
  }
  return r.stdout;
}

/** The CLI for Node: `import.meta.main` is not there before Node 24, so a wrapper runs main(). */
const NODE_BIN = `#!/usr/bin/env node
// The rxssh command for Node (npm's "bin"); generated by scripts/build.ts.
import process from "node:process";
import { main } from "../cli.js";
process.exit(await main(process.argv.slice(2)));
`;

/**
 * Compiles the library with npm's `tsc` into `out` (JavaScript and `.d.ts`,
 * relative `.ts` imports rewritten to `.js`), then writes the Node CLI.
 * Deno's types (`deno types`) are given to the compiler for the Deno
 * adapter, which only runs on Deno.
 *
 * @example
 * ```ts
 * import { buildNpm, ROOT } from "./build.ts";
 * console.log(buildNpm(ROOT, "/tmp/rxssh-npm")); // the number of modules compiled
 * ```
 */
export function buildNpm(root: string = ROOT, out = path.join(root, "dist/npm")): number {
  const work = fs.mkdtempSync(path.join(root, "dist/.npm-build-"));
  try {
    fs.rmSync(out, { recursive: true, force: true });
    fs.writeFileSync(path.join(work, "deno.d.ts"), run(tool(root, "deno"), ["types"]));
    const files = libraryFiles(root);
    const tsconfig = {
      compilerOptions: {
        target: "es2022",
        module: "nodenext",
        moduleResolution: "nodenext",
        rewriteRelativeImportExtensions: true,
        declaration: true,
        strict: true,
        skipLibCheck: true,
        lib: ["es2023", "dom", "dom.iterable"],
        types: ["node"],
        typeRoots: [path.join(root, "node_modules/@types")],
        rootDir: root,
        outDir: out,
      },
      files: [...files.map((f) => path.join(root, f)), path.join(work, "deno.d.ts")],
    };
    fs.writeFileSync(path.join(work, "tsconfig.json"), JSON.stringify(tsconfig, null, 2));
    run(tool(root, "tsc"), ["-p", path.join(work, "tsconfig.json")], { cwd: root });
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  // new URL("./x.ts", import.meta.url) names a module file (a worker): compiled, it is x.js.
  for (const rel of libraryFiles(root)) {
    const js = path.join(out, rel.replace(/\.ts$/, ".js"));
    const text = fs.readFileSync(js, "utf8");
    const fixed = text.replace(
      /new URL\((["'])(\.{1,2}\/[^"']+)\.ts\1, import\.meta\.url\)/g,
      "new URL($1$2.js$1, import.meta.url)",
    );
    if (fixed !== text) fs.writeFileSync(js, fixed);
  }
  fs.mkdirSync(path.join(out, "bin"), { recursive: true });
  fs.writeFileSync(path.join(out, "bin/rxssh.js"), NODE_BIN, { mode: 0o755 });
  return libraryFiles(root).length;
}

/** Compiles cli.ts with Bun into one executable, `out`. *
 * @example
 * ```ts
 * import { buildCli, ROOT } from "./build.ts";
 * console.log(buildCli(ROOT, "/tmp/rxssh")); // "/tmp/rxssh", an executable
 * ```
 */
export function buildCli(root: string = ROOT, out = path.join(root, "dist/rxssh")): string {
  fs.mkdirSync(path.dirname(out), { recursive: true });
  run(tool(root, "bun"), ["build", "--compile", "cli.ts", "--outfile", out], { cwd: root });
  return out;
}

/**
 * Bundles the browser example into `out` (scripts/build_browser.ts, on Bun:
 * the bundler is Bun's); returns the bundler's one-line report.
 *
 * @example
 * ```ts
 * import { buildBrowser, ROOT } from "./build.ts";
 * console.log(buildBrowser(ROOT, "/tmp/rxssh-browser")); // "build browser: app.js ... KiB (... ms)"
 * ```
 */
export function buildBrowser(root: string = ROOT, out = path.join(root, "dist/browser")): string {
  return run(tool(root, "bun"), ["scripts/build_browser.ts", out], { cwd: root }).trim();
}

/** Runs the steps named in `args` (default: check, url, npm); returns the exit code. */
function main(args: string[]): number {
  const steps = args.length ? args : ["check", "url", "npm"];
  const expanded = steps.flatMap((
    s,
  ) => (s === "all" ? ["check", "url", "npm", "cli", "browser"] : [s]));
  fs.mkdirSync(path.join(ROOT, "dist"), { recursive: true });
  for (const step of expanded) {
    const t0 = Date.now();
    let said: string;
    if (step === "sync") said = `updated: ${sync().join(", ") || "nothing"}`;
    else if (step === "check") {
      const bad = syncProblems();
      if (bad.length) {
        console.error(
          `build: ${bad.join(", ")} out of step with package.json/deno.json ` +
            "(run `deno task sync`)",
        );
        return 1;
      }
      said = "manifests in step";
    } else if (step === "url") said = `dist/url: ${buildUrlTree()} files`;
    else if (step === "npm") said = `dist/npm: ${buildNpm()} modules`;
    else if (step === "cli") said = `dist/rxssh: ${buildCli()}`;
    else if (step === "browser") {
      said = buildBrowser().replace(/^build browser: (.*) \(\d+ ms\)$/, "dist/browser: $1");
    } else {
      console.error(`build: unknown step "${step}" (sync, check, url, npm, cli, browser or all)`);
      return 2;
    }
    console.log(`build ${step}: ${said} (${Date.now() - t0} ms)`);
  }
  return 0;
}

if (import.meta.main) {
  try {
    process.exit(main(process.argv.slice(2)));
  } catch (e) {
    if (!(e instanceof BuildError)) throw e;
    console.error(`build: ${e.message}`);
    process.exit(1);
  }
}
