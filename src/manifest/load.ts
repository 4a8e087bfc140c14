import { readFile } from "node:fs/promises";
import { ErrorCode, ProcVisionError } from "../errors/index.js";
import { parseJson } from "./json-text.js";
import type { Manifest } from "./schema.js";
import { validateManifest } from "./validate.js";

const HINT_SCHEMA = "fix the fields listed (contract §1, manifest.json); `procvision-cli validate` reports the same problems";

/**
 * Reads and checks a manifest.json. Every failure is 2002 (manifest_missing, "or invalid") and says which of the
 * three it is: no file, not JSON (with line and column), or JSON that breaks the schema (all issues in details.issues).
 */
export async function loadManifest(file: string): Promise<Manifest> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") {
      throw new ProcVisionError(ErrorCode.manifest_missing, `manifest not found: ${file}`, {
        hint: "create manifest.json at the project root (`procvision-cli init` writes one)",
        cause: err,
      });
    }
    throw new ProcVisionError(ErrorCode.manifest_missing, `cannot read manifest ${file}: ${(err as Error).message}`, { cause: err });
  }
  const json = parseJson(text);
  if (!json.ok) {
    throw new ProcVisionError(ErrorCode.manifest_missing, `${file} is not valid JSON at line ${json.line}, column ${json.column}: ${json.message}`, {
      hint: "fix the JSON syntax there (a missing comma or quote, or a trailing comma, is the usual cause)",
      details: { line: json.line, column: json.column },
    });
  }
  const result = validateManifest(json.value);
  if (!result.ok) {
    const count = result.errors.length;
    const listed = result.errors.map((e) => `${e.path}: ${e.message}`).join("; ");
    throw new ProcVisionError(ErrorCode.manifest_missing, `${file} is not a valid manifest (${count} problem${count === 1 ? "" : "s"}): ${listed}`, {
      hint: HINT_SCHEMA,
      details: { issues: result.errors },
    });
  }
  return result.manifest;
}
