import { ErrorCode, ProcVisionError } from "../errors/index.js";
import { notFound, refLabel } from "../store/decisions.js";
import { removeVersion } from "../store/install/remove.js";
import { acquireLock } from "../store/lock.js";
import type { RunnerContext } from "./context.js";
import { hosted } from "./hosted.js";
import { LOCK_WAIT_MS, removeDroppedZip, type OperatorOption } from "./install-flow.js";

export interface UninstallOptions extends OperatorOption {
  /** Deactivate its PIDs, drain and stop its workers, then delete. */
  force?: boolean;
}

export interface UninstallResult {
  name: string;
  version: string;
  /** PIDs a forced uninstall unbound. */
  deactivated: string[];
}

/** Removes a version: an active or in-use one only with force (2007), which deactivates, drains and stops it first. */
export function uninstall(ctx: RunnerContext, name: string, version: string, options: UninstallOptions): Promise<UninstallResult> {
  const { repository } = ctx;
  const operator = options.operator ?? ctx.operator;
  const ref = { name, version };
  return ctx.packagesQueue.run(() => ctx.bindingsQueue.run(() => ctx.audit.around(operator, "uninstall", refLabel(ref), async () => {
    const pkg = repository.getPackage(name, version);
    if (pkg === undefined || pkg.state === "removing") throw notFound(ref);
    if (pkg.state === "installing") {
      throw new ProcVisionError(ErrorCode.unsafe_uninstall, `${refLabel(ref)} is being installed`, { hint: "wait for the install to finish, then uninstall" });
    }
    const bound = repository.bindingsOf(name, version).map((b) => b.pid);
    const inUse = ctx.host.inUse(hosted(pkg));
    if ((bound.length > 0 || inUse) && options.force !== true) {
      throw new ProcVisionError(ErrorCode.unsafe_uninstall,
        `${refLabel(ref)} is ${bound.length > 0 ? `active for ${bound.join(", ")}` : "in use by running sessions"}`,
        { hint: "switch or deactivate its PIDs first, or uninstall with force (deactivates, drains and stops it)", details: { pids: bound } });
    }
    repository.transaction(() => {
      for (const pid of bound) repository.rebind(pid, null, "uninstall", operator);
    });
    ctx.active.forget();
    await ctx.host.retire(hosted(pkg));
    const lock = await acquireLock(ctx.layout.lock, LOCK_WAIT_MS);
    try {
      await removeVersion(ctx.layout, repository, ctx.bytecode, pkg);
      await removeDroppedZip(ctx, pkg);
    } finally {
      await lock.release();
    }
    return { name, version, deactivated: bound };
  }, undefined, (r) => (r.deactivated.length > 0 ? `forced: deactivated ${r.deactivated.join(", ")}` : undefined))));
}
