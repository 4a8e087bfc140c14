import path from "node:path";
import { logicalLines } from "./sanitize.js";

/** `-r other.txt`, `-rother.txt`, `--requirement other.txt`, `--requirement=other.txt` (pip's spellings). */
const INCLUDE = /^\s*(?:-r\s*|--requirement(?:\s*=\s*|\s+))(\S+)\s*(?:#.*)?$/;

/** A requirements file that names another it cannot be read with (missing, or a loop). */
export class IncludeError extends Error {}

/**
 * A requirements file with its `-r` includes replaced by the lines of the files they name (relative to the file that
 * names them, and so on down), as pip reads them: a project's `requirements.txt` is often `-r base.txt` plus a few
 * lines. `read` returns a file's text or throws; constraints files (`-c`) are not requirements and stay as they are.
 */
export function expandIncludes(text: string, file: string, read: (file: string) => string, within: readonly string[] = [path.resolve(file)]): string {
  return logicalLines(text).map(({ line, lineNumber }) => {
    const named = INCLUDE.exec(line)?.[1];
    if (named === undefined) return line;
    const included = path.resolve(path.dirname(file), named);
    const where = `${path.basename(file)} line ${lineNumber}`;
    if (within.includes(included)) throw new IncludeError(`${where}: -r ${named} includes itself (${[...within, included].map((f) => path.basename(f)).join(" → ")})`);
    let content: string;
    try {
      content = read(included);
    } catch (err) {
      throw new IncludeError(`${where}: -r ${named}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? `${included} not found` : (err as Error).message}`);
    }
    return expandIncludes(content, included, read, [...within, included]);
  }).join("\n");
}
