import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { ProcVisionError } from "../errors/procvision-error.js";
import { memoizeProbe } from "./memo.js";

const run = promisify(execFile);

export interface Interpreter {
  /** Absolute path to spawn: never a shim (pyenv shims cost ~50 ms per start). */
  executable: string;
  version: string;
  /** `cp311` style tag of the implementation and version. */
  tag: string;
}

/** Prints what `interpreterFromProbe` reads; other probes may print more lines after it. */
export const INTERPRETER_PROBE = "import sys, platform; print(sys.executable); print(platform.python_version()); print(sys.implementation.name)";

/**
 * Finds the interpreter behind `candidate` (a command on PATH or a path). A venv's python is kept as it is:
 * resolving its symlink would leave the venv. A command on PATH is asked for `sys.executable`, which goes past shims.
 * `env`: what the interpreter needs to start (an embedded runtime's LD_LIBRARY_PATH).
 */
export function resolveInterpreter(candidate = "python3", env: Readonly<Record<string, string>> = {}): Promise<Interpreter> {
  return probeOnce(JSON.stringify([candidate, env]));
}

const probeOnce = memoizeProbe((key) => probe(...(JSON.parse(key) as [string, Record<string, string>])));

async function probe(candidate: string, extraEnv: Record<string, string>): Promise<Interpreter> {
  const isPath = candidate.includes("/") || candidate.includes("\\");
  if (isPath && !existsSync(candidate)) {
    throw new ProcVisionError("2003", `Python interpreter not found: ${candidate}`, {
      hint: "pass the absolute path of a python executable (e.g. /opt/venv/bin/python)",
    });
  }
  let stdout: string;
  try {
    ({ stdout } = await run(candidate, ["-c", INTERPRETER_PROBE], { timeout: 15_000, env: { ...withoutPythonSettings(process.env), ...extraEnv } }));
  } catch (err) {
    throw new ProcVisionError("2003", `cannot run Python interpreter "${candidate}": ${(err as Error).message}`, {
      hint: "install Python 3.9+ or pass --python with the interpreter to use",
    });
  }
  return interpreterFromProbe(candidate, stdout);
}

/**
 * The host's environment without PYTHON* and PIP_* (contract §7): a PYTHONHOME meant for another Python stopped the
 * probe. The rest stays, since finding `python3` may go through a version manager's shim that needs its variables.
 */
function withoutPythonSettings(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([key]) => !key.startsWith("PYTHON") && !key.startsWith("PIP_")));
}

/** The interpreter behind `candidate` from the first three lines INTERPRETER_PROBE printed. */
export function interpreterFromProbe(candidate: string, stdout: string): Interpreter {
  const isPath = candidate.includes("/") || candidate.includes("\\");
  const [executable = "", version = "", impl = ""] = stdout.trim().split(/\r?\n/);
  const [major, minor] = version.split(".");
  const implTag = impl === "cpython" ? "cp" : impl.slice(0, 2);
  return {
    executable: isPath ? path.resolve(candidate) : executable,
    version,
    tag: `${implTag}${major}${minor}`,
  };
}
