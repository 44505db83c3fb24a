/**
 * The progress meter sftp and scp draw on a terminal (progressmeter.c):
 * one line redrawn about once a second with the file name, percent,
 * bytes, rate and ETA, finished with a newline.
 *
 * @module
 */
import process from "node:process";
import { progressLine } from "./sftp_text.ts";

/**
 * A meter for one file; {@link ProgressMeter.update} as bytes arrive,
 * {@link ProgressMeter.stop} at the end. Writes with `write` (standard
 * output by default).
 *
 * @example
 * ```ts
 * import { ProgressMeter } from "./progress_meter.ts";
 * const m = new ProgressMeter("big.iso", { total: 1024, write: () => {} });
 * m.update(512, 1000);
 * m.stop(1024);
 * ```
 */
export class ProgressMeter {
  readonly #name: string;
  readonly #total: number;
  readonly #write: (s: string) => void;
  readonly #width: number;
  readonly #started = Date.now();
  #last = 0;
  #bytes = 0;
  #rate = 0;

  /** Starts the meter for `name` of `total` bytes and draws it once. */
  constructor(
    name: string,
    options: { total: number; write?: (s: string) => void; width?: number },
  ) {
    this.#name = name;
    this.#total = options.total;
    this.#write = options.write ?? ((s) => process.stdout.write(s));
    this.#width = options.width ?? terminalColumns();
    this.#draw();
  }

  /** `bytes` of the file are done, at `rate` bytes per second; redraws at most once a second. */
  update(bytes: number, rate: number): void {
    this.#bytes = bytes;
    this.#rate = rate;
    if (Date.now() - this.#last >= 1000) this.#draw();
  }

  /** Draws the final state (`bytes` done) and ends the line. */
  stop(bytes: number): void {
    this.#bytes = bytes;
    const secs = (Date.now() - this.#started) / 1000;
    this.#rate = secs > 0 ? bytes / secs : bytes;
    this.#draw();
    this.#write("\n");
  }

  #draw(): void {
    this.#last = Date.now();
    this.#write(progressLine({
      name: this.#name,
      bytes: this.#bytes,
      total: this.#total,
      rate: this.#rate,
      elapsed: (this.#last - this.#started) / 1000,
      width: this.#width,
    }));
  }
}

/** The terminal's width (80 when unknown). */
function terminalColumns(): number {
  const deno = (globalThis as { Deno?: { consoleSize(): { columns: number } } }).Deno;
  try {
    if (deno) return deno.consoleSize().columns || 80;
  } catch {
    // not a terminal
  }
  return process.stdout.columns || 80;
}

/**
 * Whether a progress meter can be drawn: standard output is a terminal,
 * and standard error too unless `which.stderr` is false (sftp checks
 * both, scp only standard output).
 *
 * @example
 * ```ts
 * import { canShowProgress } from "./progress_meter.ts";
 * console.log(canShowProgress());
 * ```
 */
export function canShowProgress(which: { stderr: boolean } = { stderr: true }): boolean {
  const deno = (globalThis as {
    Deno?: { stdout: { isTerminal(): boolean }; stderr: { isTerminal(): boolean } };
  }).Deno;
  if (deno) return deno.stdout.isTerminal() && (!which.stderr || deno.stderr.isTerminal());
  return Boolean(process.stdout.isTTY && (!which.stderr || process.stderr.isTTY));
}
