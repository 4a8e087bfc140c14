import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { bundledSdkSource } from "../sdk-bundle.js";
import { buildWorkerEnv } from "../worker/env.js";
import { resolveInterpreter, type Interpreter } from "./interpreter.js";

const run = promisify(execFile);

export interface ProjectPython {
  interpreter: Interpreter;
  /** Where the interpreter came from, for messages. */
  source: "--python" | ".venv" | "PATH" | "package";
  /** Set when the interpreter lacks the SDK and the bundled copy is put on PYTHONPATH. */
  pythonPath: string[];
}

export function venvPython(venvDir: string): string {
  return process.platform === "win32" ? path.join(venvDir, "Scripts", "python.exe") : path.join(venvDir, "bin", "python");
}

/** `--python`, else the project's `.venv`, else `python3` on PATH. */
export async function projectInterpreter(projectDir: string, flag?: string): Promise<Omit<ProjectPython, "pythonPath">> {
  const local = venvPython(path.join(projectDir, ".venv"));
  const [candidate, source] = flag ? [flag, "--python" as const] : existsSync(local) ? [local, ".venv" as const] : ["python3", "PATH" as const];
  return { interpreter: await resolveInterpreter(candidate), source };
}

/** The project's interpreter for running the algorithm: the bundled SDK is put on PYTHONPATH when it lacks one. */
export async function projectPython(projectDir: string, flag?: string): Promise<ProjectPython> {
  const { interpreter, source } = await projectInterpreter(projectDir, flag);
  const pythonPath = (await canImportSdk(interpreter.executable)) ? [] : [bundledSdkSource()];
  return { interpreter, source, pythonPath };
}

async function canImportSdk(python: string): Promise<boolean> {
  try {
    await run(python, ["-c", "import procvision_algorithm_sdk"], { timeout: 30_000, env: buildWorkerEnv(process.env) });
    return true;
  } catch {
    return false;
  }
}
