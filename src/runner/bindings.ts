import { ErrorCode, ProcVisionError } from "../errors/index.js";
import { notFound, planBinding, planRollback, refLabel, requireActivatable, type PackageRef } from "../store/decisions.js";
import { pausePoint } from "../store/install/pause.js";
import type { ActivationAction, Binding, PackageRecord, Repository } from "../store/repository.js";
import { auditRow } from "./audit.js";
import type { RunnerContext } from "./context.js";
import { hosted } from "./hosted.js";

export interface BindingChange {
  pid: string;
  /** Bound now (null: unbound). */
  to: PackageRef | null;
  /** Bound before (null: was unbound). */
  from: PackageRef | null;
}

export const pidsLabel = (pids: readonly string[]): string => `pids ${[...new Set(pids)].join(",")}`;

function refOf(b: Binding | undefined): PackageRef | null {
  return b === undefined ? null : { name: b.name, version: b.version };
}

function currentBindings(repository: Repository): Map<string, Binding> {
  return new Map(repository.bindings().map((b) => [b.pid, b]));
}

/**
 * activate: binds PIDs to a version, each PID in supported_pids and not bound to another package (2006).
 * switch: moves PIDs to a version with no gap: its workers are started (ensureRunning) before the PIDs are rebound.
 */
export function bind(ctx: RunnerContext, mode: "activate" | "switch", ref: PackageRef, pids: readonly string[], operator: string): Promise<BindingChange[]> {
  const target = refLabel(ref);
  return ctx.bindingsQueue.run(() => ctx.audit.failures(operator, mode, target, async () => {
    const pkg = requireActivatable(ctx.repository.getPackage(ref.name, ref.version), ref);
    const plan = planBinding(mode, pkg, pids, currentBindings(ctx.repository));
    if (plan.changes.length === 0) {
      ctx.audit.record(operator, mode, target, "ok", undefined, `${pidsLabel(pids)} (already so)`);
      return [];
    }
    await ctx.host.ensureRunning(hosted(pkg));
    return applyBindings(ctx, plan.changes.map((c) => ({ pid: c.pid, to: ref, from: c.from })), mode, { operator, target, detail: pidsLabel(pids) });
  }));
}

/** Switches each PID back to the version it was bound to before its latest change (activation history). */
export function rollback(ctx: RunnerContext, pids: readonly string[], operator: string): Promise<BindingChange[]> {
  return ctx.bindingsQueue.run(() => ctx.audit.failures(operator, "rollback", pidsLabel(pids), async () => {
    const targets = planRollback(pids, new Map(pids.map((pid) => [pid, ctx.repository.lastChange(pid)])));
    const byPackage = new Map<string, PackageRecord>();
    for (const [pid, ref] of targets) {
      const pkg = requireActivatable(ctx.repository.getPackage(ref.name, ref.version), ref);
      planBinding("switch", pkg, [pid], currentBindings(ctx.repository)); // still supports the PID
      byPackage.set(refLabel(ref), pkg);
    }
    for (const pkg of byPackage.values()) await ctx.host.ensureRunning(hosted(pkg));
    const current = currentBindings(ctx.repository);
    return applyBindings(ctx, [...targets].map(([pid, to]) => ({ pid, to, from: refOf(current.get(pid)) })), "rollback", { operator, target: pidsLabel(pids) });
  }));
}

/** Unbinds PIDs (3004 for a PID with no active package); versions left without PIDs drain and stop. */
export function deactivate(ctx: RunnerContext, pids: readonly string[], operator: string): Promise<BindingChange[]> {
  return ctx.bindingsQueue.run(() => ctx.audit.failures(operator, "deactivate", pidsLabel(pids), async () => {
    const current = currentBindings(ctx.repository);
    const unbound = [...new Set(pids)].filter((pid) => !current.has(pid));
    if (unbound.length > 0 || pids.length === 0) {
      throw new ProcVisionError(ErrorCode.no_active_package, pids.length === 0 ? "no PIDs given to deactivate" : `no active package for PID ${unbound.join(", ")}`, {
        hint: "list the bindings with procvision-runner list / active",
      });
    }
    return applyBindings(ctx, [...new Set(pids)].map((pid) => ({ pid, to: null, from: refOf(current.get(pid)) })), "deactivate", { operator, target: pidsLabel(pids) });
  }));
}

/**
 * Rebinds and audits in one transaction (a crash leaves both or neither), then lets versions that lost their last
 * PID drain and stop.
 */
async function applyBindings(ctx: RunnerContext, changes: BindingChange[], action: ActivationAction, audit: { operator: string; target: string; detail?: string }): Promise<BindingChange[]> {
  const { repository } = ctx;
  await pausePoint("binding-started");
  const entry = auditRow(audit.operator, action, audit.target, "ok", undefined, audit.detail);
  repository.transaction(() => {
    for (const c of changes) {
      // Re-checked inside the transaction: an uninstall may have run while ensureRunning was starting workers.
      if (c.to !== null && repository.getPackage(c.to.name, c.to.version)?.state !== "installed") throw notFound(c.to);
      repository.rebind(c.pid, c.to, action, audit.operator);
    }
    repository.addAudit(entry);
  });
  ctx.active.forget();
  ctx.audit.announce(entry);
  await pausePoint("bound");
  const released = new Map(changes.filter((c) => c.from !== null).map((c) => [refLabel(c.from!), c.from!]));
  for (const ref of released.values()) {
    if (repository.bindingsOf(ref.name, ref.version).length > 0) continue;
    const pkg = repository.getPackage(ref.name, ref.version);
    if (pkg !== undefined) ctx.drains.add(pkg);
  }
  return changes;
}
