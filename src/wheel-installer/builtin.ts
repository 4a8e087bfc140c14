import { rankWheels } from "../wheel-tags/index.js";
import { hermeticInstallEnv } from "../python/venv.js";
import type { InstallDestination, InstallSource, WheelInstaller } from "./installer.js";
import { parseCoreMetadata } from "./metadata.js";
import { installOrder } from "./order.js";
import { resolveWheels } from "./resolve.js";
import { probeScheme } from "./scheme.js";
import { unpackWheels, type UnpackTuning } from "./unpack.js";

/**
 * The runner's own installer: resolve what requirements.txt needs from the package's wheels (as pip would with
 * `--no-index --find-links wheels`), order them as pip does, and unpack them into the venv on every core. No pip, no
 * network, no host configuration can be involved.
 */
export function builtinInstaller(tuning?: UnpackTuning): WheelInstaller {
  return {
    kind: "builtin",
    async install(source: InstallSource, destination: InstallDestination): Promise<void> {
      const scheme = await probeScheme(destination.venvPython, hermeticInstallEnv(process.env, destination.runtimeEnv));
      const metadata = new Map([...source.metadata].map(([file, text]) => [file, parseCoreMetadata(text)]));
      const resolved = resolveWheels({
        requirements: source.requirements, wheels: rankWheels(source.wheels.map((w) => w.file), source.target), metadata, markers: scheme.markers,
      });
      const byFile = new Map(source.wheels.map((w) => [w.file, w.slice]));
      const ordered = installOrder(resolved).map((r) => ({ file: r.file, slice: byFile.get(r.file)!, requested: r.requested, name: r.writtenName }));
      await unpackWheels(ordered, scheme, tuning);
    },
  };
}
