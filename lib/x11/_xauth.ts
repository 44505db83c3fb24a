/**
 * Running xauth for the X11 forwarding modules, as ssh and sshd do (both
 * synchronously, so the cookie is known, or written, before the session
 * goes on).
 *
 * @module
 */
import { runProgramSync } from "../runtime/process.ts";

/**
 * Runs `xauth -q [-f file] args...` with `input` on stdin (and `env`, by
 * default this process's) and returns its output; `undefined` when the program is missing, fails, or runs longer
 * than 5 seconds.
 */
export function runXauth(
  program: string,
  file: string | undefined,
  args: string[],
  input?: string,
  env?: Record<string, string | undefined>,
): string | undefined {
  try {
    const r = runProgramSync(program, ["-q", ...(file ? ["-f", file] : []), ...args], {
      input,
      timeoutMs: 5000,
      env,
    });
    return r.code === 0 ? r.stdout : undefined;
  } catch {
    return undefined; // cannot run it: as without xauth
  }
}
