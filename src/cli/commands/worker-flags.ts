import { ENTRY_POINT } from "../../manifest/entry-point.js";
import type { StderrLine } from "../../worker/stderr-tail.js";
import { UsageError } from "../../command-line/reporter.js";

/** `--entry MOD:CLASS` (the original CLI's flag): runs that class instead of the manifest's entry_point. */
export function checkEntryPoint(value: string): string {
  if (!ENTRY_POINT.test(value)) throw new UsageError(`--entry must be module.path:ClassName, got "${value}"`, "e.g. --entry algorithm_example.main:AlgorithmExample");
  return value;
}

/** `--tail-logs`: the worker's stderr, line by line as it comes, on our stderr (stdout stays the report). */
export function tailLogs(line: StderrLine): void {
  process.stderr.write(`${line.text}\n`);
}
