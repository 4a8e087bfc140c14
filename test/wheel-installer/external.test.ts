import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProcVisionError } from "../../src/errors/index.js";
import { createVenv } from "../../src/python/venv.js";
import { localTarget } from "../../src/python/local-target.js";
import { resolveInterpreter } from "../../src/python/interpreter.js";
import { parseRequirementLine } from "../../src/requirements/index.js";
import { installWheels, type InstallerChoice, type InstallSource } from "../../src/wheel-installer/index.js";
import { repoRoot } from "../helpers/python.js";
import { cachedUv, wheelMetadata } from "../helpers/wheel-set.js";

const cache = path.join(repoRoot, ".cache", "wheels");
let work: string;
let basePython: string;

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), "pv-external-installers-"));
  basePython = (await resolveInterpreter("python3")).executable;
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** pytest's wheel and its dependencies' from the test cache, but pluggy's left out. */
async function withoutPluggy(): Promise<InstallSource> {
  const files = ["pytest-", "iniconfig-", "packaging-", "pygments-"].map((prefix) => {
    const found = readdirSync(cache).filter((f) => f.startsWith(prefix) && f.endsWith(".whl")).sort().pop();
    if (found === undefined) throw new Error(`no ${prefix}* wheel in ${cache}: run \`npx tsx scripts/test-python.ts\``);
    return path.join(cache, found);
  });
  const pytest = path.basename(files[0]!).split("-")[1]!;
  const parsed = parseRequirementLine(`pytest==${pytest}`);
  if (!parsed.ok) throw new Error(parsed.reason);
  return {
    requirements: [parsed.requirement],
    wheels: files.map((file) => ({ file: path.basename(file), slice: { file, start: 0, size: statSync(file).size } })),
    metadata: new Map(await Promise.all(files.map(async (f) => [path.basename(f), await wheelMetadata(f)] as const))),
    target: await localTarget(basePython),
  };
}

describe("pip and uv behind the installer interface say which dependency has no wheel (2004)", () => {
  const choices: [string, () => InstallerChoice][] = [["pip", () => ({ kind: "pip" })], ["uv", () => ({ kind: "uv", uv: cachedUv(repoRoot) })]];
  for (const [name, choice] of choices) {
    it(name, async () => {
      const venvPython = await createVenv(basePython, path.join(work, name));
      const err = await installWheels(choice(), await withoutPluggy(), { venvPython, basePython }).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(ProcVisionError);
      expect((err as ProcVisionError).code).toBe("2004");
      expect((err as ProcVisionError).message).toMatch(/no wheel for pluggy/);
      // The scratch find-links directory is gone with the failure.
      expect(readdirSync(path.join(work, name)).filter((f) => f.startsWith(".procvision-install-"))).toEqual([]);
    }, 120_000);
  }
});
