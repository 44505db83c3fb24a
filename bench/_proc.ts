/**
 * Process-tree memory from Linux `/proc`, shared by bench/run.ts (the memory workload) and
 * bench/soak.ts (sshd's figures).
 *
 * @module
 */
import * as fs from "node:fs";

/**
 * Memory of a process tree: VmRSS and Pss summed, in KiB, and the process count.
 *
 * @example
 * ```ts
 * import type { TreeMemory } from "./_proc.ts";
 * const perProcess = (m: TreeMemory) => m.pss / m.procs;
 * ```
 */
export interface TreeMemory {
  rss: number;
  pss: number;
  procs: number;
}

/**
 * Resident (VmRSS) and proportional (Pss) memory of a process tree, in KiB, and how many
 * processes it holds (Linux `/proc`). `includeRoot: false` counts only the descendants.
 *
 * @example
 * ```ts
 * import process from "node:process";
 * import { treeMemory } from "./_proc.ts";
 * console.log(treeMemory(process.pid, true).rss);
 * ```
 */
export function treeMemory(root: number, includeRoot: boolean): TreeMemory {
  const children = new Map<number, number[]>();
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid)!.push(Number(d));
    } catch { /* exited */ }
  }
  const pids: number[] = includeRoot ? [root] : [];
  const queue = [root];
  while (queue.length) {
    for (const c of children.get(queue.shift()!) ?? []) {
      pids.push(c);
      queue.push(c);
    }
  }
  let rss = 0;
  let pss = 0;
  for (const p of pids) {
    try {
      rss += Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${p}/status`, "utf8"))?.[1] ?? 0);
      pss += Number(
        /Pss:\s+(\d+)/.exec(fs.readFileSync(`/proc/${p}/smaps_rollup`, "utf8"))?.[1] ?? 0,
      );
    } catch { /* exited */ }
  }
  return { rss, pss, procs: pids.length };
}
