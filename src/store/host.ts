import type { PackageSpec } from "../supervisor/types.js";

/** What the supervisor needs to run a package version: its `PackageSpec`, always with a logs dir. */
export type HostedPackage = PackageSpec & {
  /** logs/<name>/<version>/: where the supervisor writes worker stderr. */
  logsDir: string;
};

/**
 * The seam between the store and the worker supervisor. The Runner calls it around binding changes:
 * `ensureRunning` before PIDs are bound to a version (activate, switch, rollback: start and handshake first, so a
 * version that cannot start is never bound), `drainAndStop` when a version lost its last PID, `retire` when it is
 * being removed (in-flight calls finish; sessions pinned to the version may keep it alive until they end), `inUse` to refuse an
 * unsafe uninstall.
 */
export interface PackageHost {
  ensureRunning(pkg: HostedPackage): Promise<void>;
  drainAndStop(pkg: HostedPackage): Promise<void>;
  /** drainAndStop for a version being removed or replaced: what the host knew of it goes too (list says `installed` again). */
  retire(pkg: HostedPackage): Promise<void>;
  inUse(pkg: HostedPackage): boolean;
  /**
   * The old side of a switch/deactivate, when the host has it: keep serving the sessions pinned to the version and
   * stop once nothing uses it. Without it the Runner calls drainAndStop.
   */
  stopWhenUnused?(pkg: HostedPackage): Promise<void>;
}

/** No workers at all: the store on its own (tests, offline maintenance). */
export const noopHost: PackageHost = {
  ensureRunning: async () => undefined,
  drainAndStop: async () => undefined,
  retire: async () => undefined,
  inUse: () => false,
};
