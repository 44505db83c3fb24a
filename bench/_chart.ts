/**
 * Renders bench/results/latest.json as an SVG chart (horizontal grouped
 * bars, one panel per workload, each panel on its own scale). Used by
 * bench/run.ts; also runnable on its own:
 * `deno run -A bench/_chart.ts bench/results/latest.json > latest.svg`.
 *
 * @module
 */

const COLORS: Record<string, string> = {
  "rxssh-deno": "#2a7ae2",
  "rxssh-bun": "#e2a02a",
  "ssh2-node": "#3aa55d",
  "ssh2-deno": "#8fd19e",
  "ssh2-bun": "#b7dfc0",
  openssh: "#777777",
};
const LABEL: Record<string, string> = {
  "rxssh-deno": "rxssh on Deno",
  "rxssh-bun": "rxssh on Bun",
  "ssh2-node": "ssh2 on Node",
  "ssh2-deno": "ssh2 on Deno",
  "ssh2-bun": "ssh2 on Bun",
  openssh: "OpenSSH (ssh / sshd)",
};
const IMPLS = Object.keys(COLORS);

interface Group {
  label: string;
  values: (number | undefined)[]; // one per IMPLS entry
}
interface Panel {
  title: string;
  unit: string;
  groups: Group[];
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** Builds the chart's panels from the result document. */
// deno-lint-ignore no-explicit-any
function panels(doc: any): Panel[] {
  const out: Panel[] = [];
  const r = doc.results ?? {};
  const norm = (impl: string, role: string) =>
    impl === "sshd" || (impl === "openssh" && role === "client") ? "openssh" : impl;
  if (r.bulk?.cells) {
    const groups: Group[] = [];
    for (const role of ["client", "server"]) {
      for (const cipher of r.bulk.config.ciphers as string[]) {
        for (const dir of ["up", "down"]) {
          const values = IMPLS.map((impl) => {
            // deno-lint-ignore no-explicit-any
            const c = r.bulk.cells.find((c: any) =>
              c.cipher === cipher && c.dir === dir && c.role === role &&
              norm(role === "client" ? c.client : c.server, role) === impl
            );
            if (c) return c.median;
            // OpenSSH ssh -> sshd is measured once and serves as both references.
            if (impl === "openssh") {
              // deno-lint-ignore no-explicit-any
              return r.bulk.cells.find((c: any) =>
                c.cipher === cipher && c.dir === dir && c.client === "openssh" &&
                c.server === "sshd"
              )?.median;
            }
            return undefined;
          });
          groups.push({
            label: `${role} ${cipher.replace("@openssh.com", "")} ${
              dir === "up" ? "upload" : "download"
            }`,
            values,
          });
        }
      }
    }
    out.push({
      title: `Bulk throughput, ${
        Math.round(r.bulk.config.bytes / 2 ** 20)
      } MiB, median of ${r.bulk.config.reps} (higher is better)`,
      unit: "MB/s",
      groups,
    });
  }
  if (r.sftp?.cells) {
    const cfg = r.sftp.config;
    for (const kind of ["file", "tree"]) {
      const groups: Group[] = [];
      for (const role of ["client", "server"]) {
        for (const cipher of cfg.ciphers as string[]) {
          for (const op of ["get", "put"]) {
            const values = IMPLS.map((impl) => {
              // Client side: against sshd; server side: OpenSSH's sftp against it. OpenSSH's
              // sftp <-> sshd is measured once and is the reference of both.
              // deno-lint-ignore no-explicit-any
              const c = r.sftp.cells.find((c: any) =>
                c.cipher === cipher && c.op === op && c.kind === kind &&
                (impl === "openssh"
                  ? c.client === "openssh" && c.server === "sshd"
                  : c.role === role && (role === "client" ? c.client : c.server) === impl)
              );
              return kind === "file" ? c?.median : c?.filesPerSecond;
            });
            groups.push({
              label: `${role} ${cipher.replace("@openssh.com", "")} ${op}`,
              values,
            });
          }
        }
      }
      out.push({
        title: kind === "file"
          ? `SFTP get/put of one ${
            Math.round(cfg.bytes / 2 ** 20)
          } MiB file, median of ${cfg.reps} (higher is better)`
          : `SFTP get -r/put -r of ${cfg.treeFiles} files of ${cfg.treeFileSize} bytes, median of ${cfg.reps} (higher is better)`,
        unit: kind === "file" ? "MB/s" : "files/s",
        groups,
      });
    }
  }
  // deno-lint-ignore no-explicit-any
  const byRole = (rows: any[], value: (x: any) => number) =>
    ["server", "client"].map((role) => ({
      label: role === "server" ? "server side" : "client side",
      values: IMPLS.map((impl) => {
        // deno-lint-ignore no-explicit-any
        const x = rows.find((x: any) =>
          x.role === role &&
          norm(x.impl ?? (role === "server" ? x.server : x.client), role) === impl
        );
        return x ? value(x) : undefined;
      }),
    }));
  if (r.setup?.rows) {
    const c = r.setup.config;
    out.push({
      title: `Connection setup: handshake + publickey + exec true, ${
        c.setupProcs
          ? `server side ssh2 ${c.setupProcs}x${c.concurrency}, client side ${c.concurrency}`
          : `${c.concurrency}`
      } concurrent (higher is better)`,
      unit: "conn/s",
      groups: byRole(r.setup.rows, (x) => x.rate),
    });
    const cpu = byRole(r.setup.rows, (x) => x.cpuMsPerConn)[0];
    if (cpu.values.some((v) => v !== undefined)) {
      out.push({
        title: "Server CPU time per connection set up (lower is better)",
        unit: "ms",
        groups: [cpu],
      });
    }
  }
  if (r.latency?.rows) {
    out.push({
      title: "Latency of exec true on an open connection, p50 (lower is better)",
      unit: "ms",
      groups: byRole(r.latency.rows, (x) => x.p50),
    });
  }
  if (r.memory?.rows) {
    out.push({
      title:
        `Memory per idle authenticated connection, ${r.memory.config.conns} connections (lower is better)`,
      unit: "KiB",
      groups: byRole(r.memory.rows, (x) => x.kibPerConn ?? x.rssKiBPerConn),
    });
  }
  return out;
}

/**
 * Renders the result document as an SVG image.
 *
 * @example
 * ```ts
 * import { renderSvg } from "./_chart.ts";
 * const svg = renderSvg({ results: {} });
 * ```
 */
// deno-lint-ignore no-explicit-any
export function renderSvg(doc: any): string {
  const W = 860;
  const labelW = 230;
  const barH = 9;
  const barW = W - labelW - 90;
  const parts: string[] = [];
  let y = 20;
  const m = doc.machine ?? {};
  const v = doc.versions ?? {};
  parts.push(
    `<text x="10" y="${y}" font-size="15" font-weight="bold">rxssh benchmarks</text>`,
  );
  y += 16;
  parts.push(
    `<text x="10" y="${y}" font-size="10" fill="#444">${
      esc(`${m.cpu ?? "?"} x${m.nproc ?? "?"}, ${m.kernel ?? "?"}; ${doc.finished ?? ""}`)
    }</text>`,
  );
  y += 13;
  parts.push(
    `<text x="10" y="${y}" font-size="10" fill="#444">${
      esc(
        `deno ${String(v.deno ?? "?").replace(/^deno /, "")}; bun ${v.bun ?? "?"}; node ${
          v.node ?? "?"
        }; ssh2 ${v.ssh2 ?? "?"}; ${String(v.openssh ?? "?").split(",")[0]}`,
      )
    }</text>`,
  );
  y += 16;
  // Legend
  let lx = 10;
  for (const impl of IMPLS) {
    parts.push(`<rect x="${lx}" y="${y - 9}" width="10" height="10" fill="${COLORS[impl]}"/>`);
    parts.push(`<text x="${lx + 14}" y="${y}" font-size="11">${esc(LABEL[impl])}</text>`);
    lx += 20 + LABEL[impl].length * 6.2;
  }
  y += 10;
  for (const p of panels(doc)) {
    y += 22;
    parts.push(`<text x="10" y="${y}" font-size="12" font-weight="bold">${esc(p.title)}</text>`);
    y += 8;
    const max = Math.max(
      1e-9,
      ...p.groups.flatMap((g) => g.values.filter((x): x is number => Number.isFinite(x))),
    );
    // Only the implementations this panel has figures for (ssh2 on Deno/Bun: client bulk only).
    const shown = IMPLS.map((_, i) => i).filter((i) =>
      p.groups.some((g) => Number.isFinite(g.values[i]))
    );
    for (const g of p.groups) {
      const gh = shown.length * (barH + 1);
      parts.push(
        `<text x="${labelW - 8}" y="${y + gh / 2 + 4}" font-size="11" text-anchor="end">${
          esc(g.label)
        }</text>`,
      );
      shown.forEach((i, row) => {
        const val = g.values[i];
        const by = y + row * (barH + 1);
        if (val === undefined || !Number.isFinite(val)) {
          parts.push(
            `<text x="${labelW + 2}" y="${by + barH - 1}" font-size="8" fill="#999">n/a</text>`,
          );
          return;
        }
        const w = Math.max(1, (val / max) * barW);
        parts.push(
          `<rect x="${labelW}" y="${by}" width="${w.toFixed(1)}" height="${barH}" fill="${
            COLORS[IMPLS[i]]
          }"/>`,
        );
        parts.push(
          `<text x="${labelW + w + 4}" y="${by + barH - 1}" font-size="8" fill="#333">${
            val >= 100 ? val.toFixed(0) : val.toFixed(1)
          } ${p.unit}</text>`,
        );
      });
      y += gh + 6;
    }
  }
  y += 10;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${y}" viewBox="0 0 ${W} ${y}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
${parts.join("\n")}
</svg>
`;
}

if (import.meta.main) {
  const { readFileSync } = await import("node:fs");
  const file = (globalThis as { Deno?: { args: string[] } }).Deno?.args[0] ??
    "bench/results/latest.json";
  console.log(renderSvg(JSON.parse(readFileSync(file, "utf8"))));
}
