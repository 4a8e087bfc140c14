import { ErrorCode, ProcVisionError } from "../errors/index.js";
import type { Binding, HistoryEntry, PackageRecord } from "./repository.js";

/*
 * Pure decisions of the store: which PIDs an activation changes, where a rollback goes, which versions a prune
 * removes. No I/O here, so every rule is tested without a database or a venv.
 */

export interface PackageRef {
  name: string;
  version: string;
}

export const refLabel = (r: PackageRef): string => `${r.name} ${r.version}`;
const same = (a: PackageRef, b: PackageRef): boolean => a.name === b.name && a.version === b.version;

export function notFound(ref: PackageRef): ProcVisionError {
  return new ProcVisionError(ErrorCode.not_found, `${refLabel(ref)} is not installed`, {
    hint: "list installed packages (procvision-runner list) and check the name and version",
  });
}

/** The package a PID may be bound to: installed, not invalid or half-done. */
export function requireActivatable(pkg: PackageRecord | undefined, ref: PackageRef): PackageRecord {
  if (pkg === undefined) throw notFound(ref);
  if (pkg.state === "installed") return pkg;
  const failed = pkg.validation?.checks.find((c) => c.result === "FAIL");
  throw new ProcVisionError(ErrorCode.activation_conflict, pkg.state === "invalid"
    ? `${refLabel(ref)} is invalid: it failed its smoke checks${failed ? ` (${failed.name}: ${failed.message})` : ""}`
    : `${refLabel(ref)} is ${pkg.state}, not ready to serve`, {
    hint: pkg.state === "invalid" ? "fix the algorithm, rebuild the package and install it again (or re-run validate after fixing the station)" : "wait for the install to finish",
  });
}

export interface BindingPlan {
  /** PIDs whose binding changes, with what they were bound to before (null: unbound). */
  changes: { pid: string; from: PackageRef | null }[];
  /** PIDs already bound to the target: nothing to do. */
  unchanged: string[];
}

/**
 * Checks `activate`/`switch` of `pkg` for `pids` (contract §7): every PID in supported_pids (2006) when the manifest
 * lists them (without the list, G3 manifests, any PID goes); for activate, no PID bound to another package (2006:
 * that is what switch is for).
 */
export function planBinding(mode: "activate" | "switch", pkg: PackageRecord, pids: readonly string[], current: ReadonlyMap<string, Binding>): BindingPlan {
  const unique = [...new Set(pids)];
  const supported = pkg.manifest.supported_pids;
  if (unique.length === 0) {
    throw new ProcVisionError(ErrorCode.activation_conflict, `no PIDs given to ${mode} ${refLabel(pkg)}`, { hint: `pass the product ids, e.g. --pids ${(supported ?? ["A01", "A02"]).join(",")}` });
  }
  const unsupported = supported === undefined ? [] : unique.filter((p) => !supported.includes(p));
  if (supported !== undefined && unsupported.length > 0) {
    throw new ProcVisionError(ErrorCode.activation_conflict,
      `${refLabel(pkg)} does not support PID${unsupported.length > 1 ? "s" : ""} ${unsupported.join(", ")} (supported_pids: ${supported.join(", ")})`,
      { hint: "bind only PIDs listed in the package's manifest supported_pids, or install a package that supports them" });
  }
  const changes: BindingPlan["changes"] = [];
  const unchanged: string[] = [];
  const conflicts: string[] = [];
  for (const pid of unique) {
    const bound = current.get(pid);
    if (bound && same(bound, pkg)) unchanged.push(pid);
    else if (bound && mode === "activate") conflicts.push(`${pid} → ${refLabel(bound)}`);
    else changes.push({ pid, from: bound ? { name: bound.name, version: bound.version } : null });
  }
  if (conflicts.length > 0) {
    throw new ProcVisionError(ErrorCode.activation_conflict, `PIDs already bound to another package: ${conflicts.join(", ")}`, {
      hint: `use switch to move them to ${refLabel(pkg)}, or deactivate them first`,
    });
  }
  return { changes, unchanged };
}

/**
 * Where `rollback` takes each PID: the binding before its latest change, from the activation history. Rolling back
 * twice returns to where it started (the rollback is itself a change).
 */
export function planRollback(pids: readonly string[], lastChanges: ReadonlyMap<string, HistoryEntry | undefined>): Map<string, PackageRef> {
  const unique = [...new Set(pids)];
  if (unique.length === 0) throw new ProcVisionError(ErrorCode.activation_conflict, "no PIDs given to roll back", { hint: "pass the product ids to roll back" });
  const targets = new Map<string, PackageRef>();
  const none: string[] = [];
  for (const pid of unique) {
    const last = lastChanges.get(pid);
    if (last?.previous_name && last.previous_version) targets.set(pid, { name: last.previous_name, version: last.previous_version });
    else none.push(pid);
  }
  if (none.length > 0) {
    throw new ProcVisionError(ErrorCode.not_found, `nothing to roll back to for PID${none.length > 1 ? "s" : ""} ${none.join(", ")}: no earlier binding in the activation history`, {
      hint: "use activate or switch with the version you want",
    });
  }
  return targets;
}

/**
 * The versions of one name a prune removes: all but the `keep` most recently installed, never the one just
 * installed and never a protected (bound or in-use) one. Install time, not version order, decides "newest": a
 * hotfix installed as an older version number must not be pruned the moment it lands.
 */
export function planPrune(versions: readonly { version: string; installed_at: string | null; state?: string }[], keep: number, justInstalled: string, protectedVersions: ReadonlySet<string>): string[] {
  // Invalid versions go first: keep_versions keeps builds a PID could be switched back to, not broken ones.
  const rank = (v: { state?: string }): number => (v.state === "invalid" ? 1 : 0);
  const newestFirst = [...versions].sort((a, b) => rank(a) - rank(b) || (b.installed_at ?? "").localeCompare(a.installed_at ?? ""));
  const kept = new Set([justInstalled]);
  for (const v of newestFirst) if (kept.size < keep) kept.add(v.version);
  return newestFirst.filter((v) => !kept.has(v.version) && !protectedVersions.has(v.version)).map((v) => v.version);
}
