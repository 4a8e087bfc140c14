import type { KeyObject } from "node:crypto";
import { EventEmitter } from "node:events";
import { ErrorCode, ProcVisionError } from "../errors/index.js";
import type { FleetAgent, FleetStatus } from "../fleet/agent.js";
import { openDb } from "../store/db.js";
import { notFound, refLabel, requireActivatable } from "../store/decisions.js";
import { noopHost, type PackageHost } from "../store/host.js";
import { BytecodeCompiler } from "../store/install/bytecode.js";
import type { InstallResult } from "../store/install/pipeline.js";
import { createLayout, storeLayout, type StoreLayout } from "../store/layout.js";
import { SerialQueue } from "../store/queue.js";
import type { RecoveryReport } from "../store/recovery.js";
import { Repository, type AuditEntry, type AuditFilter, type Binding, type HistoryEntry, type InspectionRecord, type RecordFilter } from "../store/repository.js";
import type { ValidationReport } from "../checks/report.js";
import { Supervisor } from "../supervisor/supervisor.js";
import type { InspectResponse, LineLog } from "../supervisor/types.js";
import type { RetryPolicy } from "../telemetry/retry.js";
import type { Artifact } from "../telemetry/store.js";
import { disabledStatus, type Telemetry, type TelemetryStatus } from "../telemetry/telemetry.js";
import { AuditTrail } from "./audit.js";
import { ActivePackages, BackgroundDrains, resumeActive } from "./active-packages.js";
import { bind, deactivate, rollback, type BindingChange } from "./bindings.js";
import { parseRunnerConfig, type RunnerConfig, type RunnerConfigInput } from "./config.js";
import { OpenState, type RunnerContext } from "./context.js";
import { emitEvent, fromSupervisor } from "./events.js";
import { fleetStatus, followDesiredState, requireFleetAgent, type UnmanagedFleetStatus } from "./fleet-link.js";
import { hosted } from "./hosted.js";
import { install, revalidate, watchZips, type InstallOptions, type InstallSource, type OperatorOption } from "./install-flow.js";
import { toSupervisorRequest, type RunnerInspectRequest } from "./inspect-request.js";
import {
  checkInspect, checkInstallSource, checkLimit, checkObject, checkOptional, checkPid, checkPids, checkRecordFilter, checkRef,
} from "./library-arguments.js";
import { lineLogger, stderrLog, withTelemetry, workerLogTail } from "./log.js";
import { defaultOperator, loadTrustedKeys, recoverOnOpen } from "./open.js";
import { checkStateFilter, packageInfos, type PackageInfo } from "./package-info.js";
import { RecordWriter, sqliteSessionStore } from "./persistence.js";
import type { PrometheusExporter } from "./prometheus.js";
import { sessionView, type SessionView } from "./session-view.js";
import { sinceInstant } from "./since.js";
import { NO_WORKER_METRICS, runnerStatus, type RunnerStatus } from "./status.js";
import { keptImages, openTelemetry, requireTelemetry } from "./telemetry-link.js";
import { uninstall, type UninstallOptions, type UninstallResult } from "./uninstall.js";
import type { ZipWatcher } from "./zip-watcher.js";

export { hosted } from "./hosted.js";
export type { BindingChange } from "./bindings.js";
export type { InstallOptions, InstallSource, OperatorOption } from "./install-flow.js";
export type { RunnerInspectImage, RunnerInspectRequest } from "./inspect-request.js";
export type { PackageInfo } from "./package-info.js";
export type { SessionView } from "./session-view.js";
export type { RunnerStatus } from "./status.js";
export type { UninstallOptions, UninstallResult } from "./uninstall.js";

export interface RunnerOptions {
  /** The store root (contract §7): zips/, deployed/, logs/, runner.db. Created when missing. */
  root: string;
  config?: RunnerConfigInput;
  /**
   * Who runs the workers. Default: the runner's own supervisor (workers, sessions, inspections). Pass `noopHost` for
   * a store without workers (bindings change, nothing starts; inspect is unavailable).
   */
  host?: PackageHost;
  /** Who the audit names when a call does not say (default `local:<user>`). */
  operator?: string;
  /** Where recovery and install notes go (default: stderr). */
  log?: LineLog;
  /** Telemetry retry schedule while the target is unreachable (default 0.5 s doubling to 30 s, jittered). */
  telemetryRetry?: RetryPolicy;
}

/**
 * The runner as a library (contract §7 Library): the store of installed packages and their PID bindings. All
 * methods are async and throw `ProcVisionError`. Installs, validations and uninstalls run one at a time (and one
 * runner process at a time per root, through a lock file); binding changes run one at a time among themselves.
 *
 * A facade: each operation lives in the module named for it (install-flow, bindings, uninstall, inspect-request,
 * package-info, status, fleet-link, telemetry-link), over one RunnerContext; the class opens, delegates and closes.
 */
export class Runner {
  /**
   * One `event` per state change, for the console and `GET /events`: `{type, time, ...}` with type `audit` (every
   * mutation: operator, action, target, outcome), `package` (a version's workers start, drain, stop), `worker`
   * (start, exit, restart, heartbeat, breaker, retry), `session`, and `inspection` (one per recorded call).
   */
  readonly events = new EventEmitter();
  private readonly state = new OpenState();
  private readonly ctx: RunnerContext;
  private exporter: PrometheusExporter | undefined;
  private watcher: ZipWatcher | undefined;
  private fleetAgent: FleetAgent | undefined;

  private constructor(
    readonly layout: StoreLayout,
    readonly config: RunnerConfig,
    /** Typed access to runner.db, for the supervisor and the HTTP layer (sessions, inspection records). */
    readonly repository: Repository,
    host: PackageHost,
    operator: string,
    trustedKeys: KeyObject[],
    log: LineLog,
    /** What recovery did when this runner opened. */
    readonly recovery: RecoveryReport,
    private readonly supervisor: Supervisor | undefined,
    private readonly recorder: RecordWriter,
    /** Records, logs and NG images to S3 (contract §8); undefined without `telemetry` in the config. */
    private readonly telemetryOutbox: Telemetry | undefined,
  ) {
    this.ctx = {
      layout, config, repository, host, operator, trustedKeys, log, state: this.state,
      packagesQueue: new SerialQueue(),
      bindingsQueue: new SerialQueue(),
      bytecode: new BytecodeCompiler((outcome) => {
        if (outcome.warning !== undefined) log(`${outcome.dir}: ${outcome.warning}`);
      }),
      audit: new AuditTrail(repository, this.state, (type, fields) => this.emitEvent(type, fields)),
      active: new ActivePackages(repository),
      drains: new BackgroundDrains(host, log),
    };
    supervisor?.on("event", (e) => {
      const { type, fields } = fromSupervisor(e);
      this.emitEvent(type, fields);
    });
  }

  get root(): string {
    return this.layout.root;
  }

  /** The runner's log: the host's (stderr by default), and with telemetry the station's uploaded log lines too. */
  get log(): LineLog {
    return this.ctx.log;
  }

  /** Opens (creating) a store and recovers it from a crash: half-done installs and removals are cleared, and logged. */
  static async open(options: RunnerOptions): Promise<Runner> {
    const config = parseRunnerConfig(options.config ?? {});
    const keys = loadTrustedKeys(config.trusted_keys);
    const layout = storeLayout(options.root);
    await createLayout(layout);
    const repo = new Repository(openDb(layout.db));
    const baseLog = options.log ?? stderrLog;
    let telemetry: Telemetry | undefined;
    let recovery: RecoveryReport;
    let log: LineLog = baseLog;
    try {
      // Telemetry's own lines (an upload failed, the server is back) are runner lines and are uploaded like them.
      telemetry = openTelemetry(layout, repo, config, (line, level) => log(line, level), options.telemetryRetry);
      log = withTelemetry(baseLog, telemetry);
      recovery = await recoverOnOpen(layout, repo, log);
    } catch (err) {
      repo.db.close();
      throw err;
    }
    let runner: Runner | undefined;
    const recorder = new RecordWriter(repo, (record) => runner?.emitEvent("inspection", { ...record }), telemetry?.tap);
    const supervisor = options.host ? undefined : new Supervisor({
      config,
      resolveActive: (pid) => runner?.ctx.active.get(pid),
      sessionStore: sqliteSessionStore(repo),
      onRecord: recorder.add,
      logger: lineLogger(log, config.log_level),
      ...(telemetry ? { workerLog: (key: string, slot: number, text: string) => telemetry.logLine(`worker:${key}#${slot}`, "stderr", text) } : {}),
    });
    runner = new Runner(layout, config, repo, options.host ?? supervisor ?? noopHost, options.operator ?? defaultOperator(), keys, log, recovery, supervisor, recorder, telemetry);
    await telemetry?.start();
    if (supervisor) await resumeActive(repo, supervisor, log);
    if (config.watch_zips) runner.watcher = watchZips(runner.ctx);
    if (config.fleet.desired !== undefined) runner.fleetAgent = await followDesiredState(runner.ctx, config.fleet.desired, telemetry);
    return runner;
  }

  private emitEvent(type: string, fields: Record<string, unknown>): void {
    emitEvent(this.events, type, fields);
  }

  private operatorOf(options: OperatorOption): string {
    return options.operator ?? this.ctx.operator;
  }

  // ---- fleet (contract §9) ------------------------------------------------------------------------------------------

  /** This station's name in the fleet and in telemetry: `workstation_id` (the config defaults it to the host name). */
  get workstationId(): string {
    return this.config.workstation_id;
  }

  /** `GET /fleet`: the desired state, the bindings and the last convergence (only the bindings without fleet.desired). */
  async fleet(): Promise<FleetStatus | UnmanagedFleetStatus> {
    this.state.assertOpen();
    return fleetStatus(this.fleetAgent, this.workstationId, this.repository);
  }

  /** Polls the desired state now (`POST /fleet/poll`) instead of at the next interval. */
  async fleetPoll(): Promise<FleetStatus> {
    this.state.assertOpen();
    return requireFleetAgent(this.fleetAgent).pollNow();
  }

  // ---- install, validate, uninstall -----------------------------------------------------------------------------------

  /**
   * Installs an offline package (contract §7 Install): a zip path, `{path}`, or `{ref: "oci://…"}` (also given as the
   * string) pulled from an OCI registry first (§9). Resolves with state `invalid` when the smoke checks fail.
   */
  async install(source: string | InstallSource, options: InstallOptions = {}): Promise<InstallResult> {
    checkInstallSource(source);
    checkOptional("the install options", options);
    return install(this.ctx, source, options);
  }

  /** Re-runs the smoke checks in the package's venv; the state follows the result (installed ⇄ invalid). */
  async validate(name: string, version: string, options: OperatorOption = {}): Promise<ValidationReport> {
    checkRef(name, version);
    return revalidate(this.ctx, name, version, this.operatorOf(options));
  }

  /** Removes a version: an active or in-use one only with force (2007), which deactivates, drains and stops it first. */
  async uninstall(name: string, version: string, options: UninstallOptions = {}): Promise<UninstallResult> {
    checkRef(name, version);
    checkOptional("the uninstall options", options);
    return uninstall(this.ctx, name, version, options);
  }

  // ---- queries ------------------------------------------------------------------------------------------------------

  /** Packages, filtered by name and by state (any of PACKAGE_STATES; another is 1006 naming them). */
  async list(filter: { state?: string; name?: string } = {}): Promise<PackageInfo[]> {
    this.state.assertOpen();
    checkOptional("the list filter", filter);
    checkStateFilter(filter.state);
    const packages = this.repository.listPackages(filter.name === undefined ? {} : { name: filter.name });
    return packageInfos(packages, this.repository.bindings(), this.supervisor, filter.state);
  }

  /** Current PID bindings. */
  async active(): Promise<Binding[]> {
    this.state.assertOpen();
    return this.repository.bindings();
  }

  /** Activation history, newest first. */
  async history(pid?: string, limit?: number): Promise<HistoryEntry[]> {
    this.state.assertOpen();
    return this.repository.history(pid, limit);
  }

  async records(filter: RecordFilter = {}): Promise<InspectionRecord[]> {
    this.state.assertOpen();
    checkRecordFilter(filter);
    const query = withInstant(filter);
    this.recorder.flush();
    return this.repository.records(query);
  }

  async audit(filter: AuditFilter = {}): Promise<AuditEntry[]> {
    this.state.assertOpen();
    checkOptional("the audit filter", filter);
    checkLimit(filter.limit);
    return this.repository.audit(withInstant(filter));
  }

  // ---- bindings -----------------------------------------------------------------------------------------------------

  /** Binds PIDs to a version: each PID in supported_pids and not bound to another package (2006; use switch). */
  async activate(name: string, version: string, pids: readonly string[], options: OperatorOption = {}): Promise<BindingChange[]> {
    checkRef(name, version);
    checkPids(pids);
    return bind(this.ctx, "activate", { name, version }, pids, this.operatorOf(options));
  }

  /**
   * Moves PIDs to a version with no gap: the new version's workers are started (ensureRunning) before the PIDs are
   * rebound; versions left without PIDs drain and stop in the background.
   */
  async switch(name: string, version: string, pids: readonly string[], options: OperatorOption = {}): Promise<BindingChange[]> {
    checkRef(name, version);
    checkPids(pids);
    return bind(this.ctx, "switch", { name, version }, pids, this.operatorOf(options));
  }

  /** Switches each PID back to the version it was bound to before its latest change (activation history). */
  async rollback(pids: readonly string[], options: OperatorOption = {}): Promise<BindingChange[]> {
    checkPids(pids);
    return rollback(this.ctx, pids, this.operatorOf(options));
  }

  /** Unbinds PIDs (3004 for a PID with no active package); versions left without PIDs drain and stop. */
  async deactivate(pids: readonly string[], options: OperatorOption = {}): Promise<BindingChange[]> {
    checkPids(pids);
    return deactivate(this.ctx, pids, this.operatorOf(options));
  }

  // ---- workers, sessions, inspections ---------------------------------------------------------------------------------

  private requireSupervisor(): Supervisor {
    this.state.assertOpen();
    if (!this.supervisor) {
      throw new ProcVisionError(ErrorCode.unknown_error, "this Runner was opened with its own host and runs no workers itself", {
        hint: "open the Runner without `host` to run inspections",
      });
    }
    return this.supervisor;
  }


  /** Starts a version's workers (they also start on activation). */
  async start(name: string, version: string, options: OperatorOption = {}): Promise<{ name: string; version: string; running: boolean }> {
    checkRef(name, version);
    const supervisor = this.requireSupervisor();
    return this.ctx.audit.around(this.operatorOf(options), "start", refLabel({ name, version }), async () => {
      // An invalid version is 2006 with the check that failed, not "not installed".
      await supervisor.ensureRunning(hosted(requireActivatable(this.repository.getPackage(name, version), { name, version })));
      return { name, version, running: true };
    });
  }

  /** Drains and stops a version's workers; calls for its PIDs fail with 3006 until it is started again. */
  async stop(name: string, version: string, options: OperatorOption = {}): Promise<{ name: string; version: string; running: boolean }> {
    checkRef(name, version);
    const supervisor = this.requireSupervisor();
    return this.ctx.audit.around(this.operatorOf(options), "stop", refLabel({ name, version }), async () => {
      const pkg = this.repository.getPackage(name, version);
      // An invalid version may still be running (a validate failed while it served): it can be stopped.
      if (pkg === undefined || (pkg.state !== "installed" && pkg.state !== "invalid")) throw notFound({ name, version });
      await supervisor.drainAndStop(hosted(pkg));
      return { name, version, running: false };
    });
  }

  /** A session for one inspection flow of a PID, pinned to the version active now. */
  async createSession(pid: string, context: Record<string, unknown> = {}): Promise<SessionView> {
    checkPid(pid);
    checkObject("the session context", context);
    return sessionView(this.requireSupervisor().createSession(pid, context));
  }

  async resetSession(id: string): Promise<SessionView> {
    return sessionView(await this.requireSupervisor().resetSession(id));
  }

  async endSession(id: string): Promise<SessionView> {
    return sessionView(this.requireSupervisor().endSession(id));
  }

  /**
   * One checked inspection (contract §7): PID → active version (3004), user_params checked and defaulted (1006), the
   * image into the worker's shared memory, the result checked (1007). Request failures throw; what happens during a
   * call comes back in that call's result with status "ERROR".
   */
  async inspect(request: RunnerInspectRequest): Promise<InspectResponse> {
    checkInspect(request);
    return this.requireSupervisor().inspect(toSupervisorRequest(request));
  }

  // ---- status, metrics, logs ------------------------------------------------------------------------------------------

  /** Health: bindings, package count, and every worker (pid, uptime, restarts, calls in flight, heartbeat age, circuit). */
  async status(): Promise<RunnerStatus> {
    this.state.assertOpen();
    const store = { root: this.root, packages: this.repository.listPackages({}).length, bindings: this.repository.bindings() };
    return runnerStatus(store, this.supervisor?.status() ?? [], this.supervisor !== undefined);
  }

  /** Prometheus exposition of calls, latencies, queues, restarts, breakers and shared memory. */
  async metrics(): Promise<{ contentType: string; body: string }> {
    this.state.assertOpen();
    const snapshot = this.supervisor?.metrics() ?? NO_WORKER_METRICS;
    // prom-client (~12 MB resident) is loaded by the first scrape, not by every runner.
    this.exporter ??= new (await import("./prometheus.js")).PrometheusExporter();
    return this.exporter.render(snapshot, this.telemetryOutbox?.status());
  }

  /** The tail of a version's worker stderr log (logs/<name>/<version>/worker.log). */
  async logs(name: string, version: string, options: { lines?: number } = {}): Promise<string[]> {
    this.state.assertOpen();
    const pkg = this.repository.getPackage(name, version);
    if (pkg === undefined) throw notFound({ name, version });
    return workerLogTail(hosted(pkg).logsDir, options.lines);
  }

  // ---- telemetry (contract §8) ----------------------------------------------------------------------------------------

  /** Outbox depth by kind, oldest pending age, last success and error, bytes sent, images dropped by the quota. */
  async telemetry(): Promise<TelemetryStatus | ReturnType<typeof disabledStatus>> {
    this.state.assertOpen();
    return this.telemetryOutbox?.status() ?? disabledStatus(this.workstationId);
  }

  /** Pauses (`paused` true) or resumes uploads; inspections and the outbox go on either way. Audited. */
  setTelemetryPaused(paused: boolean, options: OperatorOption = {}): Promise<TelemetryStatus> {
    return this.ctx.audit.around(this.operatorOf(options), paused ? "telemetry-pause" : "telemetry-resume", "telemetry", async () => {
      const telemetry = requireTelemetry(this.telemetryOutbox);
      if (paused) telemetry.pause();
      else telemetry.resume();
      return telemetry.status();
    });
  }

  /** The images kept for a record (3006 when the record has none). */
  async recordImages(id: number): Promise<Artifact[]> {
    this.state.assertOpen();
    return keptImages(this.telemetryOutbox, id);
  }

  /** The running telemetry, for tests and benchmarks that wait for it to drain. */
  get telemetryHandle(): Telemetry | undefined {
    return this.telemetryOutbox;
  }

  // ---- lifecycle ----------------------------------------------------------------------------------------------------

  /**
   * Waits until the background bytecode compile of every installed package is done (installs return before it:
   * see BytecodeCompiler). Tests and benchmarks use it; a station never needs to.
   */
  async bytecodeSettled(): Promise<void> {
    await this.ctx.bytecode.settled();
  }

  /** Waits for queued work and background drains, stops background compiles, then closes the database. */
  async close(): Promise<void> {
    if (this.state.closed) return;
    await this.fleetAgent?.stop();
    await this.watcher?.close();
    await this.ctx.packagesQueue.idle();
    await this.ctx.bindingsQueue.idle();
    await this.ctx.bytecode.stopAll();
    await this.ctx.drains.settled();
    await this.supervisor?.stopAll();
    this.recorder.flush();
    await this.telemetryOutbox?.close();
    this.state.closed = true;
    this.repository.db.close();
  }
}

/** The filter with its `since` in the stored time form (1006 if it is no time). */
function withInstant<F extends { since?: string }>(filter: F): F {
  return filter.since === undefined ? filter : { ...filter, since: sinceInstant(filter.since) };
}
