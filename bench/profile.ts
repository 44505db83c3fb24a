/**
 * Summarizes Chrome-format CPU profiles (`.cpuprofile`: `nodes`, `samples`,
 * `timeDeltas`, as written by `deno run --cpu-prof` and `bun --cpu-prof`):
 * self time by file and by function, as percentages of the total sampled
 * time. `(idle)`, `(garbage collector)`, `(program)` and native functions
 * (ops and builtins without a script URL) keep rows of their own.
 *
 * ```sh
 * deno run -A bench/profile.ts CPU.123.cpuprofile [more.cpuprofile ...] [--top 25] [--root DIR]
 * ```
 *
 * Several files are merged (their self times add up). bench/run.ts
 * `--profile` uses {@link summarizeProfiles} for one summary per profiled
 * worker.
 *
 * @module
 */
import * as fs from "node:fs";
import * as path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

/** One call-tree node of a `.cpuprofile`. */
export interface ProfileNode {
  id: number;
  callFrame: {
    functionName: string;
    url: string;
    lineNumber: number;
    columnNumber?: number;
    scriptId?: string | number;
  };
  hitCount?: number;
  children?: number[];
}

/** A Chrome DevTools CPU profile, as `--cpu-prof` writes it. */
export interface CpuProfile {
  nodes: ProfileNode[];
  /** Microseconds. */
  startTime: number;
  /** Microseconds. */
  endTime: number;
  /** The node id of each sample. */
  samples?: number[];
  /** Microseconds since the previous sample (the first: since `startTime`). */
  timeDeltas?: number[];
}

/** Self time in microseconds by file and by function, summed over one or more profiles. */
export interface SelfTimes {
  /** Total sampled time, microseconds. */
  totalUs: number;
  /** Number of samples. */
  samples: number;
  /** Number of profiles merged. */
  profiles: number;
  byFile: Map<string, number>;
  byFunction: Map<string, number>;
}

/** Options of {@link selfTimes} and {@link summarizeProfiles}. */
export interface SummaryOptions {
  /** Script paths under this directory are shown relative to it (default: the working directory). */
  root?: string;
  /** Rows per table (default 25). */
  top?: number;
  /** A first line for the summary. */
  title?: string;
}

const SPECIAL = new Set(["(idle)", "(garbage collector)", "(program)", "(root)"]);
/**
 * The row for the time between samples of a profile that has no `(idle)`
 * samples (Bun's, from JavaScriptCore: it samples only while JavaScript or
 * a native function called from it runs).
 */
export const UNSAMPLED = "(unsampled: idle or outside JS)";

function fileOf(url: string, root: string): string {
  let p = url;
  if (p.startsWith("file://")) {
    try {
      p = fileURLToPath(p);
    } catch { /* keep the URL */ }
  }
  if (path.isAbsolute(p)) {
    const rel = path.relative(root, p);
    if (!rel.startsWith("..") && !path.isAbsolute(rel)) return rel;
  }
  return p;
}

/** Where each sample's time goes: `[file row, function row]` for a node. */
function rowsOf(node: ProfileNode, root: string): [string, string] {
  const { functionName, url, lineNumber } = node.callFrame;
  if (!url) {
    if (SPECIAL.has(functionName)) return [functionName, functionName];
    const name = functionName || "(anonymous)";
    return [`(native) ${name}`, `${name} (native)`];
  }
  const file = fileOf(url, root);
  const line = lineNumber >= 0 ? `:${lineNumber + 1}` : "";
  return [file, `${functionName || "(anonymous)"} ${file}${line}`];
}

/** Adds each profile's per-sample time to its node's file and function (self time). */
export function selfTimes(profiles: CpuProfile[], options: SummaryOptions = {}): SelfTimes {
  const root = path.resolve(options.root ?? process.cwd());
  const out: SelfTimes = {
    totalUs: 0,
    samples: 0,
    profiles: profiles.length,
    byFile: new Map(),
    byFunction: new Map(),
  };
  const add = (m: Map<string, number>, k: string, us: number) => m.set(k, (m.get(k) ?? 0) + us);
  for (const p of profiles) {
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    const self = new Map<number, number>(); // node id -> µs
    const samples = p.samples ?? [];
    const deltas = p.timeDeltas ?? [];
    if (samples.length && deltas.length === samples.length) {
      // Sample i lasts until sample i + 1 (the last one: until endTime), as DevTools counts it.
      // A profile without (idle) samples (JavaScriptCore) has gaps where nothing ran: there a
      // sample counts for at most the median interval, and the rest of the gap is UNSAMPLED.
      const idleSampled = p.nodes.some((n) => n.callFrame.functionName === "(idle)");
      const sortedDeltas = deltas.filter((d) => d > 0).sort((a, b) => a - b);
      const cap = idleSampled ? Infinity : sortedDeltas[sortedDeltas.length >> 1] ?? Infinity;
      let unsampled = 0;
      let t = p.startTime;
      const stamps = deltas.map((d) => (t += d));
      if (!idleSampled) unsampled += Math.max(0, stamps[0] - p.startTime);
      for (let i = 0; i < samples.length; i++) {
        const next = i + 1 < samples.length ? stamps[i + 1] : Math.max(p.endTime, stamps[i]);
        const gap = Math.max(0, next - stamps[i]);
        const us = Math.min(gap, cap);
        unsampled += gap - us;
        self.set(samples[i], (self.get(samples[i]) ?? 0) + us);
      }
      if (unsampled > 0) {
        add(out.byFile, UNSAMPLED, unsampled);
        add(out.byFunction, UNSAMPLED, unsampled);
        out.totalUs += unsampled;
      }
      out.samples += samples.length;
    } else {
      // No sample list: spread the profile's duration over the nodes' hit counts.
      const hits = p.nodes.reduce((s, n) => s + (n.hitCount ?? 0), 0);
      const per = hits ? (p.endTime - p.startTime) / hits : 0;
      for (const n of p.nodes) if (n.hitCount) self.set(n.id, n.hitCount * per);
      out.samples += hits;
    }
    for (const [id, us] of self) {
      const node = byId.get(id);
      if (!node || us <= 0) continue;
      const [file, fn] = rowsOf(node, root);
      add(out.byFile, file, us);
      add(out.byFunction, fn, us);
      out.totalUs += us;
    }
  }
  return out;
}

function table(head: string[], rows: string[][]): string {
  const all = [head, ...rows];
  const w = head.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join("  ").trimEnd();
  return [line(head), w.map((n) => "-".repeat(n)).join("  "), ...rows.map(line)].join("\n");
}

/**
 * A text summary of one or more profiles: totals, the share of `lib/`, and
 * the top self times by file and by function.
 *
 * @example
 * ```ts
 * import { summarizeProfiles } from "./profile.ts";
 * const p = JSON.parse(Deno.readTextFileSync("CPU.1.cpuprofile"));
 * console.log(summarizeProfiles([p], { top: 10 }));
 * ```
 */
export function summarizeProfiles(profiles: CpuProfile[], options: SummaryOptions = {}): string {
  const top = options.top ?? 25;
  const s = selfTimes(profiles, options);
  const pct = (us: number) => (s.totalUs ? ((100 * us) / s.totalUs).toFixed(1) : "-");
  const ms = (us: number) => (us / 1000).toFixed(1);
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]);
  const share = (pred: (file: string) => boolean) =>
    [...s.byFile].filter(([f]) => pred(f)).reduce((a, [, us]) => a + us, 0);
  const idle = (s.byFile.get("(idle)") ?? 0) + (s.byFile.get(UNSAMPLED) ?? 0);
  const busy = s.totalUs - idle;
  const pctBusy = (us: number) => (busy > 0 ? ((100 * us) / busy).toFixed(1) : "-");
  const lines: string[] = [];
  if (options.title) lines.push(options.title);
  lines.push(
    `${s.profiles} profile(s), ${s.samples} samples, ${ms(s.totalUs)} ms sampled ` +
      `(${ms(s.totalUs - idle)} ms not idle)`,
    `idle ${pct(idle)}% of all; of the time not idle: lib/ ${
      pctBusy(share((f) => f.startsWith("lib/")))
    }%, node_modules/ ${pctBusy(share((f) => f.startsWith("node_modules/")))}%, native ${
      pctBusy(share((f) => f.startsWith("(native)")))
    }%, (garbage collector) ${pctBusy(s.byFile.get("(garbage collector)") ?? 0)}%, (program) ${
      pctBusy(s.byFile.get("(program)") ?? 0)
    }%`,
    "",
  );
  const isIdle = (k: string) => k === "(idle)" || k === UNSAMPLED;
  const section = (title: string, m: Map<string, number>) => {
    const rows = sorted(m).slice(0, top).map(([k, us]) => [
      k,
      ms(us),
      pct(us),
      isIdle(k) ? "" : pctBusy(us),
    ]);
    lines.push(
      table([`${title} (top ${top} of ${m.size})`, "self ms", "% all", "% not idle"], rows),
      "",
    );
  };
  section("by file", s.byFile);
  section("by function", s.byFunction);
  return lines.join("\n");
}

/** Reads a `.cpuprofile` file. */
export function readProfile(file: string): CpuProfile {
  const p = JSON.parse(fs.readFileSync(file, "utf8"));
  if (!Array.isArray(p?.nodes)) throw new Error(`${file}: not a .cpuprofile (no nodes)`);
  return p;
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  let top = 25;
  let root: string | undefined;
  let help = false;
  const files: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--top") top = Number(args[++i]);
    else if (args[i] === "--root") root = args[++i];
    else if (args[i] === "-h" || args[i] === "--help") help = true;
    else files.push(args[i]);
  }
  if (help || !files.length || !(top > 0)) {
    console.error(
      "usage: deno run -A bench/profile.ts FILE.cpuprofile [FILE ...] [--top N] [--root DIR]",
    );
    process.exit(2);
  }
  console.log(summarizeProfiles(files.map(readProfile), { top, root, title: files.join(", ") }));
}
