import { ErrorCode, ProcVisionError } from "../errors/index.js";
import { builtinInstaller } from "./builtin.js";
import type { InstallDestination, InstallerChoice, InstallSource, WheelInstaller } from "./installer.js";
import { pipInstaller } from "./pip.js";
import { uvInstaller } from "./uv.js";

/** `installer` of runner_config.json (contract §7). */
export type InstallerSetting = "auto" | "uv" | "pip";

/**
 * The installer for a setting. auto is the runner's own wheel installer (no pip or uv involved, every core) on
 * POSIX; on Windows, where scripts need .exe launchers it does not write, uv when on PATH, else pip. uv without uv
 * is a configuration error.
 */
export function chooseInstaller(setting: InstallerSetting, uv: string | undefined, platform: NodeJS.Platform = process.platform): InstallerChoice {
  if (setting === "pip") return { kind: "pip" };
  if (setting === "auto" && platform !== "win32") return { kind: "builtin" };
  if (uv !== undefined) return { kind: "uv", uv };
  if (setting === "auto") return { kind: "pip" };
  throw new ProcVisionError(ErrorCode.install_failed, "runner_config.json sets installer \"uv\" but uv is not on PATH", {
    hint: "install uv on the station (it is a single binary) or set installer to \"auto\" or \"pip\"",
  });
}

export function installerFor(choice: InstallerChoice): WheelInstaller {
  return choice.kind === "builtin" ? builtinInstaller() : choice.kind === "uv" ? uvInstaller(choice.uv) : pipInstaller;
}

/** Installs the source's wheels into the destination venv with the chosen installer: the one way wheels get installed. */
export function installWheels(choice: InstallerChoice, source: InstallSource, destination: InstallDestination): Promise<void> {
  return installerFor(choice).install(source, destination);
}
