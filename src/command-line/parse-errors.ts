import { CommanderError } from "commander";
import { ErrorCode } from "../errors/index.js";

/**
 * How both CLIs end on a commander error. Help and version exit 0; a parse problem (unknown option, missing
 * argument) is a usage error: exit with the CLI's usage code, and with --json the contract's error object with 1006
 * on stdout (commander has already printed the message and the usage on stderr). Anything else is rethrown.
 */
export function endOnParseError(err: unknown, argv: readonly string[], usageExitCode: 1 | 2): void {
  if (!(err instanceof CommanderError)) throw err;
  if (err.exitCode === 0) {
    process.exitCode = 0;
    return;
  }
  if (argv.includes("--json")) {
    const error = { error_code: ErrorCode.invalid_params, message: err.message.replace(/^error: /, ""), hint: "see --help" };
    process.stdout.write(`${JSON.stringify(error, null, 2)}\n`);
  }
  process.exitCode = usageExitCode;
}
