import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

/** The venv prepared by scripts/test-python.ts (numpy, Pillow, pytest, packaging and the built SDK wheel). */
export function testPython(): string {
  const python = path.join(repoRoot, ".cache", "test-venv", "bin", "python");
  if (!existsSync(python)) {
    throw new Error(`test Python missing at ${python}: run \`npm run build && npx tsx scripts/test-python.ts\` (npm test does)`);
  }
  return python;
}

export const fixture = (name: string): string => path.join(repoRoot, "test", "fixtures", name);
