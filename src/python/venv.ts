import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { ErrorCode } from "../errors/codes.js";
import { ProcVisionError } from "../errors/procvision-error.js";
import { venvPython } from "./project-python.js";
import { buildWorkerEnv } from "../worker/env.js";

const run = promisify(execFile);

/**
 * The environment every install step runs in: the worker allow-list plus settings that make pip ignore the host's
 * configuration, so an install behaves the same on every station whatever its shell profile or pip.conf says.
 * `runtime`: what an embedded runtime needs to start (src/python/runtime.ts).
 */
export function hermeticInstallEnv(parent: NodeJS.ProcessEnv = process.env, runtime: Readonly<Record<string, string>> = {}): Record<string, string> {
  return buildWorkerEnv(parent, {
    extra: { ...runtime, PIP_CONFIG_FILE: process.platform === "win32" ? "NUL" : "/dev/null", PIP_NO_INPUT: "1", PIP_DISABLE_PIP_VERSION_CHECK: "1" },
  });
}

function tail(text: string, lines = 12): string {
  return text.trim().split("\n").slice(-lines).join("\n");
}

/** `python -m venv --without-pip` (41 ms instead of 3 s): pip is borrowed from the base interpreter to install. */
export async function createVenv(basePython: string, dir: string, runtimeEnv: Readonly<Record<string, string>> = {}): Promise<string> {
  try {
    await run(basePython, ["-m", "venv", "--without-pip", dir], { env: hermeticInstallEnv(process.env, runtimeEnv), timeout: 120_000 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new ProcVisionError(ErrorCode.install_failed, `cannot create a venv in ${dir}: ${tail(e.stderr ?? e.message)}`, {
      hint: "on Debian/Ubuntu the system Python needs the python3-venv package",
    });
  }
  return venvPython(dir);
}
