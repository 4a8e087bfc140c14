import type { Repository, PackageRecord } from "../repository.js";
import { removePackageFiles } from "../recovery.js";
import type { StoreLayout } from "../layout.js";
import type { BytecodeCompiler } from "./bytecode.js";
import { pausePoint } from "./pause.js";

/** Deletes a version crash-safely: the `removing` row outlives a crash and recovery finishes the job. */
export async function removeVersion(layout: StoreLayout, repo: Repository, bytecode: BytecodeCompiler, pkg: PackageRecord): Promise<void> {
  repo.setState(pkg.name, pkg.version, "removing");
  await bytecode.stop(pkg.dir);
  await pausePoint("removing");
  await removePackageFiles(layout, pkg);
  repo.deletePackage(pkg.name, pkg.version);
}
