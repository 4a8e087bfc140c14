import type { KeyObject } from "node:crypto";
import { ErrorCode, ProcVisionError } from "../errors/index.js";
import type { PackageHost } from "../store/host.js";
import type { BytecodeCompiler } from "../store/install/bytecode.js";
import type { StoreLayout } from "../store/layout.js";
import type { SerialQueue } from "../store/queue.js";
import type { Repository } from "../store/repository.js";
import type { LineLog } from "../supervisor/types.js";
import type { AuditTrail } from "./audit.js";
import type { ActivePackages, BackgroundDrains } from "./active-packages.js";
import type { RunnerConfig } from "./config.js";

/** Whether the runner is still open; every operation asks first. */
export class OpenState {
  closed = false;

  assertOpen(): void {
    if (this.closed) throw new ProcVisionError(ErrorCode.unknown_error, "this Runner is closed", { hint: "open a new one with Runner.open" });
  }
}

/** What an open runner's operations (install, bindings, uninstall) share: the store, its queues, the host and the audit. */
export interface RunnerContext {
  readonly layout: StoreLayout;
  readonly config: RunnerConfig;
  readonly repository: Repository;
  readonly host: PackageHost;
  /** Who the audit names when a call does not say. */
  readonly operator: string;
  readonly trustedKeys: readonly KeyObject[];
  readonly log: LineLog;
  /** Bytecode of installed packages, compiled in the background after each install. */
  readonly bytecode: BytecodeCompiler;
  /** Installs, validations and uninstalls, one at a time (and one runner process per root, through the lock file). */
  readonly packagesQueue: SerialQueue;
  /** Binding changes (and prunes), one at a time among themselves. */
  readonly bindingsQueue: SerialQueue;
  readonly audit: AuditTrail;
  readonly active: ActivePackages;
  readonly drains: BackgroundDrains;
  readonly state: OpenState;
}
