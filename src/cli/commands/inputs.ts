import { existsSync, statSync } from "node:fs";
import { UsageError } from "../../command-line/reporter.js";

// The inputs a command is pointed at (project folder, image, JSON file) exist, or the user is told what to pass.

/** The project folder of run/validate/package. */
export function requireProject(dir: string): void {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new UsageError(`project ${dir} not found`, "pass the folder that holds manifest.json (procvision-cli init NAME makes one)");
  }
}

/** A file a flag names: `what` reads as "--guide-info file" or "image". */
export function requireFile(what: string, file: string, hint: string): void {
  if (!existsSync(file)) throw new UsageError(`${what} ${file} not found`, hint);
}
