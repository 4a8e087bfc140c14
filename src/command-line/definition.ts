import type { CommandOutput } from "./reporter.js";

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
  /**
   * Exit code of a usage error (unknown command or flag, missing argument). procvision-cli's contract (§2) gives
   * usage its own 2; procvision-runner's (§7) ends every failure with 1.
   */
  usageExitCode: 1 | 2;
  commands: readonly (CommandDefinition | CommandGroup)[];
}
