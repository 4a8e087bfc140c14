import { accessSync, constants } from "node:fs";
import path from "node:path";
import { hermeticInstallEnv } from "../python/venv.js";
import { runInstallTool, withFindLinks } from "./external.js";
import type { InstallDestination, InstallSource, WheelInstaller } from "./installer.js";

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

/** Through `uv pip install` into the venv: offline, no index, no uv or pip configuration, binary wheels only. */
export function uvInstaller(uv: string): WheelInstaller {
  return {
    kind: "uv",
    install: (source: InstallSource, destination: InstallDestination) => withFindLinks(source, destination.venvPython, ({ wheelsDir, requirementsFile }) =>
      runInstallTool("uv", uv, [
        "pip", "install", "--python", destination.venvPython, "--no-index", "--find-links", wheelsDir, "--offline", "--no-config",
        "--only-binary", ":all:", "--quiet", "-r", requirementsFile,
      ], hermeticInstallEnv(process.env, destination.runtimeEnv), wheelsDir)),
  };
}
