import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The directory holding package.json: the same answer from src/ (tsx) and from dist/ (compiled). */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, "package.json"))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error("procvision: package.json not found above " + fileURLToPath(import.meta.url));
    dir = parent;
  }
  return dir;
}
