import { execFile } from "node:child_process";
import { accessSync, constants } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { ErrorCode } from "../errors/codes.js";
import { ProcVisionError } from "../errors/procvision-error.js";
import { hermeticInstallEnv, type WheelInstall } from "./venv.js";

const run = promisify(execFile);

/** `uv` on PATH (absolute path), or undefined. */
export function findUv(envPath: string | undefined = process.env.PATH): string | undefined {
  const names = process.platform === "win32" ? ["uv.exe"] : ["uv"];
  for (const dir of (envPath ?? "").split(path.delimiter)) {
    if (dir === "") continue;
    for (const name of names) {
      const candidate = path.join(dir, name);
      try {
        accessSync(candidate, constants.X_OK);
        return candidate;
      } catch {
        // not here
      }
    }
  }
  return undefined;
}

export type InstallerChoice = { kind: "builtin" } | { kind: "uv"; uv: string } | { kind: "pip" };

export type InstallerSetting = "auto" | "builtin" | "uv" | "pip";

/**
 * `installer` of runner_config.json. auto is the runner's own wheel installer (no pip or uv involved, every core) on
 * POSIX; on Windows, where scripts need .exe launchers it does not write, uv when on PATH, else pip. uv without uv
 * is a configuration error.
 */
export function chooseInstaller(setting: InstallerSetting, uv: string | undefined, platform: NodeJS.Platform = process.platform): InstallerChoice {
  if (setting === "pip") return { kind: "pip" };
  if (setting === "builtin" || (setting === "auto" && platform !== "win32")) return { kind: "builtin" };
  if (uv !== undefined) return { kind: "uv", uv };
  if (setting === "auto") return { kind: "pip" };
  throw new ProcVisionError(ErrorCode.install_failed, "runner_config.json sets installer \"uv\" but uv is not on PATH", {
    hint: "install uv on the station (it is a single binary) or set installer to \"auto\" or \"pip\"",
  });
}

/** Same contract as installFromWheels, through `uv pip install`: offline, no index, no uv or pip configuration. */
export async function installFromWheelsUv(uv: string, install: Omit<WheelInstall, "basePython">): Promise<void> {
  const args = [
    "pip", "install", "--python", install.venvPython, "--no-index", "--find-links", install.wheelsDir, "--offline", "--no-config",
    "--only-binary", ":all:", "--quiet", "-r", install.requirementsFile,
  ];
  try {
    await run(uv, args, { env: hermeticInstallEnv(process.env, install.runtimeEnv), timeout: install.timeoutMs ?? 600_000, maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    const detail = (e.stderr || e.message).trim().split("\n").slice(-12).join("\n");
    throw new ProcVisionError(ErrorCode.install_failed, `installing from ${install.wheelsDir} with uv failed: ${detail}`, {
      hint: "see uv's message above; set installer to \"pip\" in runner_config.json to compare",
    });
  }
}
