import { execFile, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { ProcVisionError } from "../errors/procvision-error.js";

const run = promisify(execFile);

/**
 * The environment pip runs in for packaging. By default the author's own pip configuration (a company mirror in
 * pip.conf or PIP_INDEX_URL) applies; `isolated` strips every PIP_* variable and points pip at an empty config, as
 * `pip --isolated` does for files.
 */
export function pipEnv(isolated: boolean, parent: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...parent, PIP_DISABLE_PIP_VERSION_CHECK: "1", PIP_NO_INPUT: "1", PYTHONPATH: "" };
  if (!isolated) return env;
  for (const key of Object.keys(env)) if (key.startsWith("PIP_")) delete env[key];
  return { ...env, PIP_CONFIG_FILE: process.platform === "win32" ? "NUL" : "/dev/null", PIP_DISABLE_PIP_VERSION_CHECK: "1", PIP_NO_INPUT: "1" };
}

/** `pip freeze` of an interpreter: what the author's environment has installed. */
export async function pipFreeze(python: string): Promise<string> {
  try {
    const { stdout } = await run(python, ["-m", "pip", "freeze", "--disable-pip-version-check"], {
      env: pipEnv(false), timeout: 120_000, maxBuffer: 16 * 1024 * 1024,
    });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new ProcVisionError("9999", `pip freeze failed with ${python}: ${(e.stderr || e.message).trim().split("\n").at(-1) ?? ""}`, {
      hint: "use an interpreter that has pip (--python), or write requirements.txt yourself",
    });
  }
}

export interface PipRun {
  exitCode: number;
  /** Everything pip wrote, stdout and stderr interleaved: the no-wheel explanation is parsed from it. */
  output: string;
}

/** Runs `python -m pip <args>` and streams each output line to `onLine` (progress) while it runs. */
export function runPip(python: string, args: readonly string[], env: NodeJS.ProcessEnv, onLine: (line: string) => void): Promise<PipRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, ["-m", "pip", ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    const lines: string[] = [];
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on("line", (line) => {
        lines.push(line);
        onLine(line);
      });
    }
    child.on("error", (err) => reject(new ProcVisionError("9999", `cannot run pip with ${python}: ${err.message}`, {
      hint: "pass --python with an interpreter that has pip",
    })));
    // "close" comes after both pipes ended, so every line has been seen.
    child.on("close", (code) => resolve({ exitCode: code ?? 1, output: lines.join("\n") }));
  });
}
