import { hermeticInstallEnv } from "../python/venv.js";
import { runInstallTool, withFindLinks } from "./external.js";
import type { InstallDestination, InstallSource, WheelInstaller } from "./installer.js";

/**
 * pip of the base interpreter, installing into the venv through `pip --python`: offline (`--no-index --find-links`),
 * `--isolated` with no configuration file, binary wheels only. `--no-compile`: bytecode is compiled afterwards on
 * every core, not one file at a time by pip.
 */
export const pipInstaller: WheelInstaller = {
  kind: "pip",
  install: (source: InstallSource, destination: InstallDestination) => withFindLinks(source, destination.venvPython, ({ wheelsDir, requirementsFile }) =>
    runInstallTool("pip", destination.basePython, [
      "-m", "pip", "--python", destination.venvPython, "install", "--isolated", "--no-index", "--find-links", wheelsDir,
      "--only-binary=:all:", "--no-compile", "--no-warn-script-location", "--disable-pip-version-check", "-q", "-r", requirementsFile,
    ], hermeticInstallEnv(process.env, destination.runtimeEnv), wheelsDir)),
};
