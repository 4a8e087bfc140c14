import { ErrorCode, ProcVisionError } from "../errors/index.js";
import { refLabel, type PackageRef } from "../store/decisions.js";
import type { Binding, PackageRecord } from "../store/repository.js";
import { PACKAGE_STATES, type PackageInfoState } from "./package-state.js";

export interface PackageInfo extends Omit<PackageRecord, "state"> {
  /** The stored state, and for an installed version its run state: running, executing (a call in progress), stopped. */
  state: PackageInfoState;
  /** null: the manifest lists none, so the package takes any PID it is activated for (G3). */
  supported_pids: string[] | null;
  /** PIDs bound to this version. */
  active_pids: string[];
  /** Whether its workers are running. */
  running: boolean;
}

/** What the workers say of a version: its run state, and whether they serve (absent on a runner without workers). */
export interface RunStates {
  runState(ref: PackageRef): PackageInfoState | undefined;
  isRunning(ref: PackageRef): boolean;
}

/** A `list` state filter: any of PACKAGE_STATES, another is 1006 naming them. */
export function checkStateFilter(state: string | undefined): void {
  if (state !== undefined && !(PACKAGE_STATES as readonly string[]).includes(state)) {
    throw new ProcVisionError(ErrorCode.invalid_params, `unknown package state ${JSON.stringify(state)}: the states are ${PACKAGE_STATES.join(", ")}`, {
      hint: "filter by one of the listed states, or leave the filter out",
    });
  }
}

/** The stored packages as `list` shows them: run state, supported and bound PIDs; filtered by state when asked. */
export function packageInfos(packages: readonly PackageRecord[], bindings: readonly Binding[], runStates: RunStates | undefined, state?: string): PackageInfo[] {
  const bound = new Map<string, string[]>();
  for (const b of bindings) {
    const key = refLabel(b);
    bound.set(key, [...(bound.get(key) ?? []), b.pid]);
  }
  const infos = packages.map((p): PackageInfo => ({
    ...p,
    state: p.state === "installed" ? runStates?.runState(p) ?? "installed" : p.state,
    supported_pids: p.manifest.supported_pids ?? null, active_pids: bound.get(refLabel(p)) ?? [], running: runStates?.isRunning(p) ?? false,
  }));
  return state === undefined ? infos : infos.filter((p) => p.state === state);
}
