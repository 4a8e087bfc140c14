import { ErrorCode, ProcVisionError, type ErrorCodeValue } from "../errors/index.js";

// The one reporter of both CLIs (procvision-cli and procvision-runner): a handler returns a CommandOutput or throws,
// and report() prints it. Success: the JSON on stdout with --json, else the human lines on stdout. Failure: the
// contract's error object ({error_code, message, hint?}) on stdout with --json, else on stderr `✗ message` (a UsageError
// or CheckFailure) or `✗ [code] message` (any other error) and the hint. Exit 0, 1 (the job failed) or 2 (usage).

/** What a command handler returns: the one reporter prints it, human or --json. */
export interface CommandOutput {
  /** 0 success, 1 the check/job failed, 2 usage or input error. */
  exitCode: 0 | 1 | 2;
  json: unknown;
  human: string[];
}

/** Bad input from the user (missing file, malformed flag value): exit 2, code 1006 unless a closer one fits. */
export class UsageError extends Error {
  constructor(message: string, readonly hint?: string, readonly code: ErrorCodeValue = ErrorCode.invalid_params) {
    super(message);
  }
}

const useColor = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code: number) => (text: string) => (useColor ? `\u001b[${code}m${text}\u001b[0m` : text);
export const style = { ok: paint(32), bad: paint(31), dim: paint(2), bold: paint(1) };
export const tick = (ok: boolean): string => (ok ? style.ok("✓") : style.bad("✗"));

export function printOutput(output: CommandOutput, json: boolean): void {
  if (json) process.stdout.write(JSON.stringify(output.json, null, 2) + "\n");
  else if (output.human.length > 0) process.stdout.write(output.human.join("\n") + "\n");
}

/** The job itself failed (a requirement without a wheel, no requirements.txt): exit 1, with the code that names why. */
export class CheckFailure extends Error {
  constructor(readonly code: ErrorCodeValue, message: string, readonly hint?: string) {
    super(message);
  }
}

/** Turns anything a handler threw into an exit code and a message on stderr (or a JSON error on stdout). */
export function errorOutput(err: unknown): CommandOutput {
  if (err instanceof UsageError || err instanceof CheckFailure) {
    return {
      exitCode: err instanceof UsageError ? 2 : 1,
      json: { error_code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) },
      human: [`${tick(false)} [${err.code}] ${err.message}`, ...(err.hint ? [style.dim(`  hint: ${err.hint}`)] : [])],
    };
  }
  const error = ProcVisionError.from(err);
  // A worker that failed to start says why on its stderr (the traceback): its last lines go with the error.
  const tail = typeof error.details?.stderr_tail === "string" ? error.details.stderr_tail.trim() : "";
  const shown = tail === "" ? [] : readableStderr(tail).slice(-STDERR_LINES);
  return {
    exitCode: 1,
    json: { ...error.toJSON(), ...(tail !== "" ? { stderr_tail: tail } : {}) },
    human: [
      `${tick(false)} [${error.code}] ${error.message}`,
      ...(error.hint ? [style.dim(`  hint: ${error.hint}`)] : []),
      ...(shown.length > 0 ? [style.dim("  the worker's stderr ended with:"), ...shown.map((line) => style.dim(`    ${line}`))] : []),
    ],
  };
}

const STDERR_LINES = 12;

/**
 * A worker's stderr as people read it: a StructuredLogger record (a JSON line) as `level: message` and its
 * traceback's lines; any other line as it is. (Here, not in worker/: the CLIs' start-up loads no worker code.)
 */
function readableStderr(text: string): string[] {
  return text.split("\n").filter((raw) => raw.trim() !== "").flatMap((raw) => {
    let record: { level?: unknown; message?: unknown; traceback?: unknown } | undefined;
    try {
      record = raw.startsWith("{") ? JSON.parse(raw) as typeof record : undefined;
    } catch {
      record = undefined;
    }
    if (typeof record?.message !== "string") return [raw];
    const traceback = typeof record.traceback === "string" ? record.traceback.trimEnd().split("\n") : [];
    return [`${typeof record.level === "string" ? record.level : "log"}: ${record.message}`, ...traceback];
  });
}

/**
 * Runs a handler and prints what it returned or threw; the exit code goes to process.exitCode, so the process ends
 * when its work does. `endOnError`: a server whose start failed may hold open what it opened, so its error ends the
 * process at once.
 */
export async function report(json: boolean, handler: () => Promise<CommandOutput>, endOnError = false): Promise<void> {
  let output: CommandOutput;
  try {
    output = await handler();
  } catch (err) {
    output = errorOutput(err);
    if (!json) process.stderr.write(output.human.join("\n") + "\n");
    else printOutput(output, true);
    if (endOnError) process.exit(output.exitCode);
    process.exitCode = output.exitCode;
    return;
  }
  printOutput(output, json);
  process.exitCode = output.exitCode;
}
