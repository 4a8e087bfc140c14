import { readFileSync } from "node:fs";
import path from "node:path";
import { Command, Option } from "commander";
import { packageRoot } from "../package-root.js";
import type { CliDefinition, CommandDefinition } from "./definition.js";
import { ErrorCode } from "../errors/index.js";
import { endOnParseError } from "./parse-errors.js";
import { report } from "./reporter.js";

// The registrar: a CLI's list of definitions becomes commander commands (commander parses; the reporter prints).

const collect = (value: string, previous: string[] = []) => [...previous, value];
const progress = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

/** Help text after the options: the notes, then `Example:` or `Examples:` with one command a line. */
function helpAfter(definition: CommandDefinition): string | undefined {
  const parts = [
    ...(definition.notes ? [definition.notes] : []),
    ...(definition.examples?.length ? [`Example${definition.examples.length > 1 ? "s" : ""}:\n${definition.examples.map((e) => `  ${e}`).join("\n")}`] : []),
  ];
  return parts.length ? `\n${parts.join("\n\n")}` : undefined;
}

function addCommand(parent: Command, definition: CommandDefinition): void {
  const args = definition.args ?? [];
  // parent.command() (not addCommand) so the command inherits the program's settings (exitOverride, help after errors).
  const command = parent.command([definition.name, ...args].join(" ")).description(definition.summary);
  for (const spec of definition.options ?? []) {
    const option = new Option(spec.flags, spec.description);
    if (spec.default !== undefined) option.default(spec.default);
    if (spec.repeatable) option.argParser(collect);
    if (spec.required) option.makeOptionMandatory();
    command.addOption(option);
  }
  const after = helpAfter(definition);
  if (after) command.addHelpText("after", after);
  command.action((...values: unknown[]) => {
    const options = values[args.length] as { json?: boolean };
    const json = options.json === true;
    return report(json, () => definition.handler({ args: values.slice(0, args.length) as (string | undefined)[], options, progress: json ? undefined : progress }), definition.server);
  });
}

/** Builds the CLI from its list of commands (commander parses), runs the one asked for, and ends as parse-errors.ts says. */
export async function runCli(cli: CliDefinition): Promise<void> {
  // Output piped into `head` that closed early: the reader has what it wanted, not a crash to print.
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(0);
    throw err;
  });
  const version = (JSON.parse(readFileSync(path.join(packageRoot(), "package.json"), "utf8")) as { version: string }).version;
  const program = new Command(cli.name).description(cli.description).version(version, "--version");
  if (cli.positionalOptions) program.enablePositionalOptions();
  // A parse error reads like every other error of the CLI: `✗ [1006] message` (commander writes `error: message`).
  program.showHelpAfterError().exitOverride().configureOutput({
    outputError: (text, write) => write(text.replace(/^error: /, `✗ [${ErrorCode.invalid_params}] `)),
  });
  for (const entry of cli.commands) {
    if ("commands" in entry) {
      const group = program.command(entry.name).description(entry.summary);
      for (const definition of entry.commands) addCommand(group, definition);
    } else addCommand(program, entry);
  }
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    endOnParseError(err, process.argv, cli.usageExitCode);
  }
}
