import { readFileSync } from "node:fs";
import path from "node:path";
import { Command, Option } from "commander";
import { packageRoot } from "../package-root.js";
import { endOnParseError } from "./parse-errors.js";
import { report, type CommandOutput } from "./reporter.js";

/** One flag of a command, in commander's syntax (`-o, --out <prefix>`, `--no-auto-freeze`). */
export interface OptionSpec {
  flags: string;
  description?: string;
  /** Shown in --help as `(default: …)` and given to the handler when the flag is absent. */
  default?: string;
  /** The command refuses to run without it. */
  required?: boolean;
  /** May be given more than once: the handler gets every value, in order. */
  repeatable?: boolean;
}

/** What a handler gets: the positional arguments in the order of `args`, the parsed flags, and where progress goes. */
export interface CommandInput<Options, Args> {
  args: Args;
  options: Options;
  /** Progress lines on stderr; undefined under --json, where stdout holds one JSON document and stderr stays quiet. */
  progress: ((line: string) => void) | undefined;
}

/**
 * A command of either CLI. The definition is light (text and flags): `--help` and the other commands load only this,
 * and a handler that needs heavy code imports it when it runs (`await import(…)`).
 */
export interface CommandDefinition<Options = object, Args extends readonly (string | undefined)[] = readonly (string | undefined)[]> {
  name: string;
  /** Positional arguments in commander's syntax: `<zip>` required, `[project]` optional. */
  args?: readonly string[];
  summary: string;
  options?: readonly OptionSpec[];
  /** Paragraphs after the option list in --help, before the examples. */
  notes?: string;
  examples?: readonly string[];
  /** A server: an error while it starts ends the process at once (see report()). */
  server?: boolean;
  // Method syntax on purpose: a list of definitions with different option types is then one CommandDefinition[].
  handler(input: CommandInput<Options, Args>): Promise<CommandOutput>;
}

/** A command that only groups others (`desired set`, `desired show`). */
export interface CommandGroup {
  name: string;
  summary: string;
  commands: readonly CommandDefinition[];
}

export interface CliDefinition {
  name: string;
  description: string;
  /** Program options only before the command, so a command may reuse their names (`init NAME --version 2.0.0`). */
  positionalOptions?: boolean;
  commands: readonly (CommandDefinition | CommandGroup)[];
}

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
export async function runCli(cli: CliDefinition, argv: readonly string[] = process.argv): Promise<void> {
  const version = (JSON.parse(readFileSync(path.join(packageRoot(), "package.json"), "utf8")) as { version: string }).version;
  const program = new Command(cli.name).description(cli.description).version(version, "--version");
  if (cli.positionalOptions) program.enablePositionalOptions();
  program.showHelpAfterError().exitOverride();
  for (const entry of cli.commands) {
    if ("commands" in entry) {
      const group = program.command(entry.name).description(entry.summary);
      for (const definition of entry.commands) addCommand(group, definition);
    } else addCommand(program, entry);
  }
  try {
    await program.parseAsync(argv);
  } catch (err) {
    endOnParseError(err, argv);
  }
}
