import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Why a probe script did not run: the last lines of its stderr, else the spawn error. */
export function probeFailure(err: unknown): string {
  const e = err as { stderr?: string; message: string };
  return (e.stderr || e.message).trim().split("\n").slice(-3).join(" ");
}

/**
 * Runs a stdlib-only `script` with `python -I -B` (a probe never writes bytecode into the interpreter's tree: a runtime
 * about to be packed must not change under it) and returns what it printed, parsed as JSON (the raw text when it is
 * not JSON, for the caller's schema to reject). Throws the spawn error when the interpreter fails (see probeFailure).
 */
export async function runProbe(python: string, script: string, options: { env?: Record<string, string>; timeoutMs: number }): Promise<unknown> {
  const { stdout } = await run(python, ["-I", "-B", "-c", script], { ...(options.env ? { env: options.env } : {}), timeout: options.timeoutMs });
  try {
    return JSON.parse(stdout);
  } catch {
    return stdout;
  }
}
