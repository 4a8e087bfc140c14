import { refLabel } from "../store/decisions.js";
import type { HostedPackage, PackageHost } from "../store/host.js";
import type { PackageRecord, Repository } from "../store/repository.js";
import type { LineLog } from "../supervisor/types.js";
import { hosted } from "./hosted.js";

// What the bindings mean to the workers: the package each PID runs, versions draining after they lost their last
// PID, and the bound versions started again when a runner opens.

/** PID → the package it is bound to, as the supervisor runs it: read on every inspection, so kept in memory. */
export class ActivePackages {
  #cache: Map<string, HostedPackage | undefined> | undefined;

  constructor(private readonly repository: Repository) {}

  get(pid: string): HostedPackage | undefined {
    if (!this.#cache) {
      this.#cache = new Map();
      for (const b of this.repository.bindings()) {
        const pkg = this.repository.getPackage(b.name, b.version);
        this.#cache.set(b.pid, pkg ? hosted(pkg) : undefined);
      }
    }
    return this.#cache.get(pid);
  }

  /** After a change of bindings or of a bound package's state: read again on the next call. */
  forget(): void {
    this.#cache = undefined;
  }
}

/** Versions that lost their last PID, draining and stopping in the background; `close` waits for them. */
export class BackgroundDrains {
  readonly #draining = new Set<Promise<void>>();

  constructor(private readonly host: PackageHost, private readonly log: LineLog) {}

  add(pkg: PackageRecord): void {
    const stop = this.host.stopWhenUnused ? this.host.stopWhenUnused(hosted(pkg)) : this.host.drainAndStop(hosted(pkg));
    const done = stop.catch((err: unknown) => this.log(`stopping ${refLabel(pkg)} failed: ${(err as Error).message}`, "warn"));
    this.#draining.add(done);
    void done.finally(() => this.#draining.delete(done));
  }

  async settled(): Promise<void> {
    await Promise.allSettled([...this.#draining]);
  }
}

/** Active packages get their workers back after a restart; one that cannot start is logged, not fatal. */
export async function resumeActive(repository: Repository, host: PackageHost, log: LineLog): Promise<void> {
  const bound = new Map(repository.bindings().map((b) => [refLabel(b), b]));
  for (const ref of bound.values()) {
    const pkg = repository.getPackage(ref.name, ref.version);
    if (pkg?.state === "invalid") {
      // Bound, then refused by a later validate: the PIDs stay bound (nothing changes them behind the operator's back),
      // but its workers are not started, and the log must say why the line is down.
      const pids = repository.bindings().filter((b) => b.name === pkg.name && b.version === pkg.version).map((b) => b.pid);
      const failed = pkg.validation?.checks.find((c) => c.result === "FAIL");
      log(`${refLabel(pkg)} is bound to ${pids.join(", ")} but invalid: its last validate failed${failed ? ` (${failed.name}: ${failed.message})` : ""}; ` +
        `not started. Run \`procvision-runner validate ${pkg.name} ${pkg.version}\` again once the cause is fixed, or switch the PIDs`, "error");
      continue;
    }
    if (pkg?.state !== "installed") continue;
    try {
      await host.ensureRunning(hosted(pkg));
    } catch (err) {
      log(`${refLabel(pkg)}: workers did not start at resume: ${(err as Error).message}`, "error");
    }
  }
}
