import path from "node:path";
import type { HostedPackage } from "../store/host.js";
import { packageWorkerLaunch } from "../store/layout.js";
import type { PackageRecord } from "../store/repository.js";

/** The supervisor's view of a package. The logs dir is derived from the package dir: deployed/<n>/<v> → logs/<n>/<v>. */
export function hosted(pkg: PackageRecord): HostedPackage {
  const root = path.dirname(path.dirname(path.dirname(pkg.dir)));
  const launch = packageWorkerLaunch(pkg.dir);
  return {
    name: pkg.name, version: pkg.version, dir: launch.cwd, python: launch.python, env: launch.env, entryPoint: pkg.manifest.entry_point,
    manifest: pkg.manifest, logsDir: path.join(root, "logs", pkg.name, pkg.version),
  };
}
