import { execFile } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { bundledSdkSource, bundledSdkWheel } from "../sdk-bundle.js";
import { buildWorkerEnv } from "../worker/env.js";
import { INTERPRETER_PROBE, interpreterFromProbe, resolveInterpreter, type Interpreter } from "./interpreter.js";
import { memoizeProbe } from "./memo.js";

const run = promisify(execFile);

export interface ProjectPython {
  interpreter: Interpreter;
  /** Where the interpreter came from, for messages. */
  source: "--python" | ".venv" | "PATH" | "package";
  /** What was spawned to find it: an absolute path, or a command on PATH (a shim may stand behind it). */
  command: string;
  /** Put on PYTHONPATH: the bundled SDK, first, whatever the interpreter holds. */
  pythonPath: string[];
  /** The interpreter lacks the very SDK the CLI bundles, so the bundled copy is what runs (messages say so). */
  lent: boolean;
  /** The version of another SDK the interpreter has that the bundled copy stands in for (e.g. the original 0.0.7). */
  shadowed?: string;
}

export function venvPython(venvDir: string): string {
  return process.platform === "win32" ? path.join(venvDir, "Scripts", "python.exe") : path.join(venvDir, "bin", "python");
}

/** `--python`, else the project's `.venv`, else `python3` on PATH; a path comes back absolute. */
export function candidateInterpreter(projectDir: string, flag?: string): [string, ProjectPython["source"]] {
  const local = venvPython(path.join(projectDir, ".venv"));
  if (!flag) return existsSync(local) ? [local, ".venv"] : ["python3", "PATH"];
  return [flag.includes("/") || flag.includes("\\") ? path.resolve(flag) : flag, "--python"];
}

export async function projectInterpreter(projectDir: string, flag?: string): Promise<Pick<ProjectPython, "interpreter" | "source">> {
  const [command, source] = candidateInterpreter(projectDir, flag);
  return { interpreter: await resolveInterpreter(command), source };
}

/**
 * The project's interpreter for running the algorithm, with the bundled SDK (the one `package` ships) first on
 * PYTHONPATH whatever the interpreter holds: an author's venv may still hold the original SDK, whose adapter speaks
 * another protocol. Since that does not depend on the probe, a command can spawn the adapter before the probe answers
 * (src/local/head-start.ts). Memoized: `validate` and `run` start it before loading their heavier modules.
 */
export function projectPython(projectDir: string, flag?: string): Promise<ProjectPython> {
  return findOnce(JSON.stringify([projectDir, flag ?? null]));
}

const findOnce = memoizeProbe(async (key: string): Promise<ProjectPython> => {
  const [projectDir, flag] = JSON.parse(key) as [string, string | null];
  const [command, source] = candidateInterpreter(projectDir, flag ?? undefined);
  const { interpreter, sdkOrigin } = await probe(command);
  const found = sdkOrigin === "" ? undefined : (await declaredVersion(sdkOrigin)) ?? distInfoVersion(path.dirname(path.dirname(sdkOrigin))) ?? "";
  const bundled = bundledVersion();
  const base = { interpreter, source, command, pythonPath: [bundledSdkSource()] };
  if (found !== undefined && (bundled === undefined || found === bundled)) return { ...base, lent: false };
  return { ...base, lent: true, ...(found !== undefined ? { shadowed: found || "unknown version" } : {}) };
});

// Finds the SDK without importing it: the original releases import numpy in their __init__ (~80 ms of CPU).
const SDK_FIND = "import importlib.util as u; s = u.find_spec('procvision_algorithm_sdk'); print(s.origin if s and s.origin else '')";

/**
 * The interpreter and where its SDK is ("" for none). A path is spawned as it is, so one Python process answers both;
 * a command on PATH may be a shim, so it is resolved first (resolveInterpreter also words the errors).
 */
async function probe(command: string): Promise<{ interpreter: Interpreter; sdkOrigin: string }> {
  const isPath = command.includes("/") || command.includes("\\");
  if (isPath && existsSync(command)) {
    try {
      const { stdout } = await run(command, ["-c", `${INTERPRETER_PROBE}; ${SDK_FIND}`], { timeout: 30_000, env: buildWorkerEnv(process.env) });
      return { interpreter: interpreterFromProbe(command, stdout), sdkOrigin: stdout.trim().split(/\r?\n/)[3] ?? "" };
    } catch {
      // resolveInterpreter below says what is wrong with it
    }
  }
  const interpreter = await resolveInterpreter(command);
  try {
    const { stdout } = await run(interpreter.executable, ["-c", SDK_FIND], { timeout: 30_000, env: buildWorkerEnv(process.env) });
    return { interpreter, sdkOrigin: stdout.trim() };
  } catch {
    return { interpreter, sdkOrigin: "" };
  }
}

function bundledVersion(): string | undefined {
  try {
    return bundledSdkWheel().version;
  } catch {
    return undefined; // not built: any importable SDK will do
  }
}

/** `__version__ = "1.0.0"` in the package's __init__.py (this SDK has it; the original releases do not). */
async function declaredVersion(initFile: string): Promise<string | undefined> {
  try {
    return /^__version__\s*=\s*["']([^"']+)["']/m.exec(await readFile(initFile, "utf8"))?.[1];
  } catch {
    return undefined;
  }
}

/** The version in the name of the installed distribution's metadata directory next to the package. */
function distInfoVersion(sitePackages: string): string | undefined {
  try {
    const dir = readdirSync(sitePackages).find((d) => /^procvision[_.-]algorithm[_.-]sdk-[^-]+\.dist-info$/i.test(d));
    return dir?.slice(0, -".dist-info".length).split("-")[1];
  } catch {
    return undefined;
  }
}
