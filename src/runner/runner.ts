import type { KeyObject } from "node:crypto";
import { EventEmitter } from "node:events";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { ErrorCode, ProcVisionError } from "../errors/index.js";
import { chooseInstaller, findUv } from "../wheel-installer/index.js";
import type { FleetAgent, FleetStatus } from "../fleet/agent.js";
import type { RegistrySettings } from "../oci/access.js";
import { isOciReference } from "../oci/reference.js";
import { resolveInterpreter } from "../python/interpreter.js";
import { loadPublicKey } from "../signing/index.js";
import { openDb } from "../store/db.js";
import { notFound, planBinding, planPrune, planRollback, refLabel, requireActivatable, type PackageRef } from "../store/decisions.js";
import { noopHost, type HostedPackage, type PackageHost } from "../store/host.js";
import { BytecodeCompiler } from "../store/install/bytecode.js";
import type { InstallResult } from "../store/install/pipeline.js";
import { removeVersion } from "../store/install/remove.js";
import { pausePoint } from "../store/install/pause.js";
import { createLayout, packageWorkerLaunch, storeLayout, type StoreLayout } from "../store/layout.js";
import { acquireLock, tryLock } from "../store/lock.js";
import { SerialQueue } from "../store/queue.js";
import { recoverStore, type RecoveryReport } from "../store/recovery.js";
import {
  Repository, type ActivationAction, type AuditEntry, type AuditFilter, type AuditOutcome, type Binding, type HistoryEntry,
  type InspectionRecord, type PackageRecord, type RecordFilter, type SessionRecord as StoredSession,
} from "../store/repository.js";
import type { ValidationReport } from "../checks/report.js";
import { Supervisor } from "../supervisor/supervisor.js";
import type { SessionRecord } from "../supervisor/sessions.js";
import type { SupervisorEvent } from "../supervisor/events.js";
import type { InspectImage, InspectRequest, InspectResponse, Logger } from "../supervisor/types.js";
import type { WheelTarget } from "../wheel-tags/index.js";
import { parseRunnerConfig, type RunnerConfig, type RunnerConfigInput } from "./config.js";
import { PACKAGE_STATES, type PackageInfoState } from "./package-state.js";
import { RecordWriter, sqliteSessionStore } from "./persistence.js";
import type { PrometheusExporter } from "./prometheus.js";
import { ZipWatcher } from "./zip-watcher.js";
import { resolveCredentials } from "../telemetry/config.js";
import type { RetryPolicy } from "../telemetry/retry.js";
import type { Artifact } from "../telemetry/store.js";
import { disabledStatus, Telemetry, type TelemetryStatus } from "../telemetry/telemetry.js";

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
  log?: (line: string) => void;
  /** Telemetry retry schedule while the target is unreachable (default 0.5 s doubling to 30 s, jittered). */
  telemetryRetry?: RetryPolicy;
}

export interface OperatorOption {
  operator?: string;
}

export interface InstallOptions extends OperatorOption {
  /** Replace an installed version of the same name and version. */
  force?: boolean;
}

/** Where a package comes from: a zip on this machine, or a reference into an OCI registry (contract §9). */
export type InstallSource = { path: string } | { ref: string };

export interface UninstallOptions extends OperatorOption {
  /** Deactivate its PIDs, drain and stop its workers, then delete. */
  force?: boolean;
}

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

export interface BindingChange {
  pid: string;
  /** Bound now (null: unbound). */
  to: PackageRef | null;
  /** Bound before (null: was unbound). */
  from: PackageRef | null;
}

export interface UninstallResult {
  name: string;
  version: string;
  /** PIDs a forced uninstall unbound. */
  deactivated: string[];
}

/** How long an install waits for another runner process's install lock. */
const LOCK_WAIT_MS = 30 * 60_000;

function defaultOperator(): string {
  try {
    return `local:${os.userInfo().username}`;
  } catch {
    return "local";
  }
}

function loadTrustedKeys(keys: readonly string[]): KeyObject[] {
  return keys.map((k, i) => {
    try {
      return loadPublicKey(k);
    } catch (err) {
      throw new ProcVisionError(ErrorCode.unknown_error, `runner_config.json: trusted_keys[${i}]: ${(err as Error).message}`, {
        hint: "list ed25519 public keys as PEM text or paths to .pub files written by procvision-cli keygen",
      });
    }
  });
}

const pidsLabel = (pids: readonly string[]): string => `pids ${[...new Set(pids)].join(",")}`;

/**
 * The runner as a library (contract §7 Library): the store of installed packages and their PID bindings. All
 * methods are async and throw `ProcVisionError`. Installs, validations and uninstalls run one at a time (and one
 * runner process at a time per root, through a lock file); binding changes run one at a time among themselves.
 */
export class Runner {
  private readonly packagesQueue = new SerialQueue();
  private readonly bindingsQueue = new SerialQueue();
  private readonly draining = new Set<Promise<void>>();
  /** Bytecode of installed packages, compiled in the background after each install. */
  private readonly bytecode = new BytecodeCompiler((outcome) => {
    if (outcome.warning !== undefined) this.log(`${outcome.dir}: ${outcome.warning}`);
  });
  /**
   * One `event` per state change, for the console and `GET /events`: `{type, time, ...}` with type `audit` (every
   * mutation: operator, action, target, outcome), `package` (a version's workers start, drain, stop), `worker`
   * (start, exit, restart, heartbeat, breaker, retry), `session`, and `inspection` (one per recorded call).
   */
  readonly events = new EventEmitter();
  private closed = false;

  private constructor(
    readonly layout: StoreLayout,
    readonly config: RunnerConfig,
    /** Typed access to runner.db, for the supervisor and the HTTP layer (sessions, inspection records). */
    readonly repository: Repository,
    private readonly host: PackageHost,
    private readonly operator: string,
    private readonly trustedKeys: KeyObject[],
    private readonly log: (line: string) => void,
    /** What recovery did when this runner opened. */
    readonly recovery: RecoveryReport,
    private readonly supervisor: Supervisor | undefined,
    private readonly recorder: RecordWriter,
    /** Records, logs and NG images to S3 (contract §8); undefined without `telemetry` in the config. */
    private readonly telemetryOutbox: Telemetry | undefined,
  ) {
    supervisor?.on("event", (e) => {
      const { type: kind, ...rest } = e;
      this.emitEvent(categoryOf(e), { kind, ...rest });
    });
  }

  private exporter: PrometheusExporter | undefined;

  get root(): string {
    return this.layout.root;
  }

  /** Opens (creating) a store and recovers it from a crash: half-done installs and removals are cleared, and logged. */
  static async open(options: RunnerOptions): Promise<Runner> {
    const config = parseRunnerConfig(options.config ?? {});
    const keys = loadTrustedKeys(config.trusted_keys);
    const layout = storeLayout(options.root);
    await createLayout(layout);
    const repo = new Repository(openDb(layout.db));
    const baseLog = options.log ?? ((line: string) => process.stderr.write(`procvision-runner: ${line}\n`));
    let telemetry: Telemetry | undefined;
    if (config.telemetry) {
      try {
        telemetry = new Telemetry({
          root: layout.root, db: repo.db, config: config.telemetry, credentials: resolveCredentials(config.telemetry),
          workstationId: config.workstation_id, log: baseLog, ...(options.telemetryRetry ? { retry: options.telemetryRetry } : {}),
        });
      } catch (err) {
        repo.db.close();
        throw err;
      }
    }
    // Runner log lines also leave the station with telemetry (upload.logs).
    const log = telemetry === undefined ? baseLog : (line: string) => {
      baseLog(line);
      telemetry.logLine("runner", "info", line);
    };
    let recovery: RecoveryReport;
    try {
      const lock = await tryLock(layout.lock);
      if ("release" in lock) {
        try {
          recovery = await recoverStore(layout, repo);
        } finally {
          await lock.release();
        }
      } else {
        // A live runner is installing into this root: its `installing` row is not debris.
        recovery = { removed: [], skipped: `recovery skipped: runner process ${lock.heldBy || "?"} holds the install lock` };
        log(recovery.skipped!);
      }
    } catch (err) {
      repo.db.close();
      throw err;
    }
    for (const item of recovery.removed) {
      log(item.message);
      repo.addAudit({ operator: "runner", action: "recover", target: refLabel(item), outcome: "ok", detail: item.message });
    }
    let runner: Runner | undefined;
    const recorder = new RecordWriter(repo, (record) => runner?.emitEvent("inspection", { ...record }), telemetry?.tap);
    const supervisor = options.host ? undefined : new Supervisor({
      config,
      resolveActive: (pid) => runner?.activePackage(pid),
      sessionStore: sqliteSessionStore(repo),
      onRecord: recorder.add,
      logger: lineLogger(log, config.log_level),
      ...(telemetry ? { workerLog: (key: string, slot: number, text: string) => telemetry.logLine(`worker:${key}#${slot}`, "stderr", text) } : {}),
    });
    runner = new Runner(layout, config, repo, options.host ?? supervisor ?? noopHost, options.operator ?? defaultOperator(), keys, log, recovery, supervisor, recorder, telemetry);
    await telemetry?.start();
    await runner.resume();
    if (config.watch_zips) runner.watchZips();
    if (config.fleet.desired !== undefined) await runner.followDesiredState(config.fleet.desired);
    return runner;
  }

  // ---- fleet --------------------------------------------------------------------------------------------------------

  private fleetAgent: FleetAgent | undefined;

  /** This station's name in the fleet and in telemetry: `workstation_id` (the config defaults it to the host name). */
  get workstationId(): string {
    return this.config.workstation_id;
  }

  /** fleet.desired: poll the line's desired state and converge to it (loaded only on stations that have one). */
  private async followDesiredState(desired: string): Promise<void> {
    const { FleetAgent } = await import("../fleet/agent.js");
    this.fleetAgent = new FleetAgent({ desired, pollMs: this.config.fleet.poll_ms, workstationId: this.workstationId, settingsFor: (registry) => this.registrySettings(registry) }, {
      installed: async () => this.repository.listPackages({}).map((p) => ({ name: p.name, version: p.version, state: p.state, zip_sha256: p.zip_sha256 })),
      bindings: async () => this.repository.bindings().map((b) => ({ pid: b.pid, name: b.name, version: b.version })),
      install: (ref, force) => this.install({ ref }, { force, operator: "fleet" }),
      switchTo: (name, version, pids) => this.switch(name, version, pids, { operator: "fleet" }),
      report: async (status) => this.telemetryOutbox?.putStationStatus({ ...status }),
      log: this.log,
    });
    this.fleetAgent.start();
  }

  /** `GET /fleet`: the desired state, the bindings and the last convergence (only the bindings without fleet.desired). */
  async fleet(): Promise<FleetStatus | { workstation_id: string; desired: null; actual: { pid: string; name: string; version: string }[] }> {
    this.assertOpen();
    if (this.fleetAgent) return this.fleetAgent.status();
    return { workstation_id: this.workstationId, desired: null, actual: this.repository.bindings().map((b) => ({ pid: b.pid, name: b.name, version: b.version })) };
  }

  /** Polls the desired state now (`POST /fleet/poll`) instead of at the next interval. */
  async fleetPoll(): Promise<FleetStatus> {
    this.assertOpen();
    if (!this.fleetAgent) {
      throw new ProcVisionError(ErrorCode.not_found, "this station follows no desired state", { hint: "set fleet.desired in runner_config.json to oci://<registry>/<repository>:<tag>" });
    }
    return this.fleetAgent.pollNow();
  }

  private registrySettings(registry: string): RegistrySettings {
    const entry = this.config.fleet.registries[registry];
    return {
      ...(entry?.plain_http ? { plainHttp: true } : {}),
      ...(entry?.username !== undefined ? { username: entry.username } : {}),
      ...(entry?.password_file !== undefined ? { passwordFile: entry.password_file } : {}),
      ...(this.config.fleet.docker_config !== undefined ? { dockerConfig: this.config.fleet.docker_config } : {}),
    };
  }

  /** Active packages get their workers back after a restart; one that cannot start is logged, not fatal. */
  private async resume(): Promise<void> {
    if (!this.supervisor) return;
    const bound = new Map(this.repository.bindings().map((b) => [refLabel(b), b]));
    for (const ref of bound.values()) {
      const pkg = this.repository.getPackage(ref.name, ref.version);
      if (pkg?.state !== "installed") continue;
      try {
        await this.supervisor.ensureRunning(hosted(pkg));
      } catch (err) {
        this.log(`${refLabel(pkg)}: workers did not start at resume: ${(err as Error).message}`);
      }
    }
  }

  private watcher: ZipWatcher | undefined;
  /** PID → the package it is bound to, as the supervisor runs it: read on every inspection, so kept in memory. */
  private activeCache: Map<string, HostedPackage | undefined> | undefined;

  private activePackage(pid: string): HostedPackage | undefined {
    if (!this.activeCache) {
      this.activeCache = new Map();
      for (const b of this.repository.bindings()) {
        const pkg = this.repository.getPackage(b.name, b.version);
        this.activeCache.set(b.pid, pkg ? hosted(pkg) : undefined);
      }
    }
    return this.activeCache.get(pid);
  }

  /** watch_zips: zips copied into zips/ are installed (the audit names the operator `watch:zips`). */
  private watchZips(): void {
    this.watcher = new ZipWatcher({
      dir: this.layout.zips,
      known: () => new Set(this.repository.listPackages({}).map((p) => p.zip_sha256).filter((h): h is string => h !== null)),
      install: async (file) => {
        await this.install(file, { operator: "watch:zips" });
      },
      log: this.log,
    });
    this.watcher.start();
  }

  private emitEvent(type: string, fields: Record<string, unknown>): void {
    if (this.events.listenerCount("event") > 0) this.events.emit("event", { type, time: new Date().toISOString(), ...fields });
  }

  // ---- install --------------------------------------------------------------------------------------------------------

  /**
   * Installs an offline package (contract §7 Install): a zip path, `{path}`, or `{ref: "oci://…"}` (also given as the
   * string) pulled from an OCI registry first (§9). Resolves with state `invalid` when the smoke checks fail.
   */
  install(source: string | InstallSource, options: InstallOptions = {}): Promise<InstallResult> {
    if (typeof source === "string") return isOciReference(source) ? this.installFromRegistry(source, options) : this.installZip(source, options);
    return "ref" in source ? this.installFromRegistry(source.ref, options) : this.installZip(source.path, options);
  }

  /**
   * The zip is streamed into staging/ and its digest checked (2008, nothing kept) before the normal pipeline runs;
   * the pull happens outside the packages queue, so a slow registry holds up no other operation.
   */
  private async installFromRegistry(ref: string, options: InstallOptions): Promise<InstallResult> {
    this.assertOpen();
    const { parseOciReference, pullPackage } = await import("../oci/index.js");
    const { registry } = parseOciReference(ref);
    await mkdir(this.layout.staging, { recursive: true });
    const dir = await mkdtemp(path.join(this.layout.staging, "pull-"));
    try {
      let pulled;
      try {
        pulled = await pullPackage(ref, dir, this.registrySettings(registry));
      } catch (err) {
        this.audit_(options.operator ?? this.operator, "install", ref, "failed", err);
        throw err;
      }
      this.log(`pulled ${pulled.pinned} (zip ${pulled.zip_digest})`);
      return await this.installZip(pulled.zipPath, options, pulled.pinned);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  private installZip(zipPath: string, options: InstallOptions, origin = path.resolve(zipPath)): Promise<InstallResult> {
    const operator = options.operator ?? this.operator;
    return this.packagesQueue.run(async () => {
      this.assertOpen();
      let target = path.basename(zipPath);
      try {
        const lock = await acquireLock(this.layout.lock, LOCK_WAIT_MS);
        let result: InstallResult;
        try {
          // Loaded on first use: the pipeline (zip reading, wheel installer, smoke checks) is not needed while idle.
          const { installPackage } = await import("../store/install/pipeline.js");
          result = await installPackage({
            layout: this.layout, repo: this.repository,
            integrity: { trustedKeys: this.trustedKeys, requireSignature: this.config.require_signature },
            interpreter: () => this.interpreter(),
            installer: () => chooseInstaller(this.config.installer, findUv()),
            releaseForReinstall: (pkg) => this.releaseForReinstall(pkg),
            bytecode: this.bytecode,
            startupTimeoutMs: this.config.startup_timeout_ms,
          }, {
            zipPath, force: options.force === true, operator,
            onIdentified: (ref) => {
              target = refLabel(ref);
            },
          });
          for (const w of result.warnings) this.log(`${target}: ${w}`);
          const warned = result.warnings.length > 0 ? `; warnings: ${result.warnings.join("; ")}` : "";
          this.audit_(operator, "install", target, result.state === "installed" ? "ok" : "invalid", undefined,
            `${result.state === "installed" ? `from ${origin} in ${result.duration_ms} ms` : failedChecks(result.validation)}${warned}`);
          if (result.state === "installed") await this.prune(result, operator);
        } finally {
          await lock.release();
        }
        return result;
      } catch (err) {
        this.audit_(operator, "install", target, "failed", err);
        throw err;
      }
    });
  }

  /** Both probes are memoized per process: a station's interpreter is asked once. */
  private async interpreter(): Promise<{ executable: string; target: WheelTarget }> {
    const { executable } = await resolveInterpreter(this.config.python ?? "python3");
    const { localTarget } = await import("../python/local-target.js");
    return { executable, target: await localTarget(executable) };
  }

  private async releaseForReinstall(pkg: PackageRecord): Promise<void> {
    const bound = this.repository.bindingsOf(pkg.name, pkg.version).map((b) => b.pid);
    if (bound.length > 0) {
      throw new ProcVisionError(ErrorCode.unsafe_uninstall, `${refLabel(pkg)} is active for ${bound.join(", ")}: a forced reinstall would replace it under running inspections`, {
        hint: "switch those PIDs to another version (or deactivate them), then install with force again",
      });
    }
    await this.host.drainAndStop(hosted(pkg));
  }

  /** keep_versions: the oldest inactive versions of the name just installed are removed. */
  private async prune(installed: PackageRef, operator: string): Promise<void> {
    await this.bindingsQueue.run(async () => {
      const versions = this.repository.listPackages({ name: installed.name }).filter((p) => p.state === "installed" || p.state === "invalid");
      const protectedVersions = new Set(versions.filter((p) => this.repository.bindingsOf(p.name, p.version).length > 0 || this.host.inUse(hosted(p))).map((p) => p.version));
      for (const version of planPrune(versions, this.config.keep_versions, installed.version, protectedVersions)) {
        const pkg = versions.find((p) => p.version === version)!;
        try {
          await this.host.drainAndStop(hosted(pkg));
          await removeVersion(this.layout, this.repository, this.bytecode, pkg);
          this.log(`removed ${refLabel(pkg)} (keep_versions ${this.config.keep_versions})`);
          this.audit_(operator, "prune", refLabel(pkg), "ok", undefined, `keep_versions ${this.config.keep_versions}`);
        } catch (err) {
          this.audit_(operator, "prune", refLabel(pkg), "failed", err);
        }
      }
    });
  }

  // ---- queries ------------------------------------------------------------------------------------------------------

  /** Packages, filtered by name and by state (any of PACKAGE_STATES; another is 1006 naming them). */
  async list(filter: { state?: string; name?: string } = {}): Promise<PackageInfo[]> {
    this.assertOpen();
    const { state, name } = filter;
    if (state !== undefined && !(PACKAGE_STATES as readonly string[]).includes(state)) {
      throw new ProcVisionError(ErrorCode.invalid_params, `unknown package state ${JSON.stringify(state)}: the states are ${PACKAGE_STATES.join(", ")}`, {
        hint: "filter by one of the listed states, or leave the filter out",
      });
    }
    const bound = new Map<string, string[]>();
    for (const b of this.repository.bindings()) {
      const key = refLabel(b);
      bound.set(key, [...(bound.get(key) ?? []), b.pid]);
    }
    const packages = this.repository.listPackages(name === undefined ? {} : { name }).map((p): PackageInfo => ({
      ...p,
      state: p.state === "installed" ? this.supervisor?.runState(p) ?? "installed" : p.state,
      supported_pids: p.manifest.supported_pids ?? null, active_pids: bound.get(refLabel(p)) ?? [], running: this.supervisor?.isRunning(p) ?? false,
    }));
    return state === undefined ? packages : packages.filter((p) => p.state === state);
  }

  /** Current PID bindings. */
  async active(): Promise<Binding[]> {
    this.assertOpen();
    return this.repository.bindings();
  }

  /** Activation history, newest first. */
  async history(pid?: string, limit?: number): Promise<HistoryEntry[]> {
    this.assertOpen();
    return this.repository.history(pid, limit);
  }

  async records(filter: RecordFilter = {}): Promise<InspectionRecord[]> {
    this.assertOpen();
    this.recorder.flush();
    return this.repository.records(filter);
  }

  async audit(filter: AuditFilter = {}): Promise<AuditEntry[]> {
    this.assertOpen();
    return this.repository.audit(filter);
  }

  // ---- validate ------------------------------------------------------------------------------------------------------

  /** Re-runs the smoke checks in the package's venv; the state follows the result (installed ⇄ invalid). */
  validate(name: string, version: string, options: OperatorOption = {}): Promise<ValidationReport> {
    const operator = options.operator ?? this.operator;
    const target = refLabel({ name, version });
    return this.packagesQueue.run(() => this.audited(operator, "validate", target, async () => {
      const pkg = this.repository.getPackage(name, version);
      if (pkg === undefined || (pkg.state !== "installed" && pkg.state !== "invalid")) throw notFound({ name, version });
      const { smokeCheck } = await import("../store/install/smoke.js");
      const report = await smokeCheck(packageWorkerLaunch(pkg.dir), this.config.startup_timeout_ms);
      this.repository.setValidation(name, version, report.summary.status === "PASS" ? "installed" : "invalid", report);
      this.activeCache = undefined;
      return report;
    }, (report) => (report.summary.status === "PASS" ? "ok" : "invalid")));
  }

  // ---- bindings -----------------------------------------------------------------------------------------------------

  /** Binds PIDs to a version: each PID in supported_pids and not bound to another package (2006; use switch). */
  activate(name: string, version: string, pids: readonly string[], options: OperatorOption = {}): Promise<BindingChange[]> {
    return this.bind("activate", { name, version }, pids, options.operator ?? this.operator);
  }

  /**
   * Moves PIDs to a version with no gap: the new version's workers are started (ensureRunning) before the PIDs are
   * rebound; versions left without PIDs drain and stop in the background.
   */
  switch(name: string, version: string, pids: readonly string[], options: OperatorOption = {}): Promise<BindingChange[]> {
    return this.bind("switch", { name, version }, pids, options.operator ?? this.operator);
  }

  private bind(mode: "activate" | "switch", ref: PackageRef, pids: readonly string[], operator: string): Promise<BindingChange[]> {
    const target = refLabel(ref);
    return this.bindingsQueue.run(() => this.auditedFailures(operator, mode, target, async () => {
      const pkg = requireActivatable(this.repository.getPackage(ref.name, ref.version), ref);
      const plan = planBinding(mode, pkg, pids, this.currentBindings());
      if (plan.changes.length === 0) {
        this.audit_(operator, mode, target, "ok", undefined, `${pidsLabel(pids)} (already so)`);
        return [];
      }
      await this.host.ensureRunning(hosted(pkg));
      return this.applyBindings(plan.changes.map((c) => ({ pid: c.pid, to: ref, from: c.from })), mode, { operator, target, detail: pidsLabel(pids) });
    }));
  }

  /** Switches each PID back to the version it was bound to before its latest change (activation history). */
  rollback(pids: readonly string[], options: OperatorOption = {}): Promise<BindingChange[]> {
    const operator = options.operator ?? this.operator;
    return this.bindingsQueue.run(() => this.auditedFailures(operator, "rollback", pidsLabel(pids), async () => {
      const targets = planRollback(pids, new Map(pids.map((pid) => [pid, this.repository.lastChange(pid)])));
      const byPackage = new Map<string, PackageRecord>();
      for (const [pid, ref] of targets) {
        const pkg = requireActivatable(this.repository.getPackage(ref.name, ref.version), ref);
        planBinding("switch", pkg, [pid], this.currentBindings()); // still supports the PID
        byPackage.set(refLabel(ref), pkg);
      }
      for (const pkg of byPackage.values()) await this.host.ensureRunning(hosted(pkg));
      const current = this.currentBindings();
      return this.applyBindings([...targets].map(([pid, to]) => ({ pid, to, from: refOf(current.get(pid)) })), "rollback", { operator, target: pidsLabel(pids) });
    }));
  }

  /** Unbinds PIDs (3004 for a PID with no active package); versions left without PIDs drain and stop. */
  deactivate(pids: readonly string[], options: OperatorOption = {}): Promise<BindingChange[]> {
    const operator = options.operator ?? this.operator;
    return this.bindingsQueue.run(() => this.auditedFailures(operator, "deactivate", pidsLabel(pids), async () => {
      const current = this.currentBindings();
      const unbound = [...new Set(pids)].filter((pid) => !current.has(pid));
      if (unbound.length > 0 || pids.length === 0) {
        throw new ProcVisionError(ErrorCode.no_active_package, pids.length === 0 ? "no PIDs given to deactivate" : `no active package for PID ${unbound.join(", ")}`, {
          hint: "list the bindings with procvision-runner list / active",
        });
      }
      return this.applyBindings([...new Set(pids)].map((pid) => ({ pid, to: null, from: refOf(current.get(pid)) })), "deactivate", { operator, target: pidsLabel(pids) });
    }));
  }

  /**
   * Rebinds and audits in one transaction (a crash leaves both or neither), then lets versions that lost their last
   * PID drain and stop.
   */
  private async applyBindings(changes: BindingChange[], action: ActivationAction, audit: { operator: string; target: string; detail?: string }): Promise<BindingChange[]> {
    await pausePoint("binding-started");
    const entry = { operator: audit.operator, action, target: audit.target, outcome: "ok" as const, error_code: null, detail: audit.detail ?? null };
    this.repository.transaction(() => {
      for (const c of changes) {
        // Re-checked inside the transaction: an uninstall may have run while ensureRunning was starting workers.
        if (c.to !== null && this.repository.getPackage(c.to.name, c.to.version)?.state !== "installed") throw notFound(c.to);
        this.repository.rebind(c.pid, c.to, action, audit.operator);
      }
      this.repository.addAudit(entry);
    });
    this.activeCache = undefined;
    this.emitEvent("audit", entry);
    await pausePoint("bound");
    const released = new Map(changes.filter((c) => c.from !== null).map((c) => [refLabel(c.from!), c.from!]));
    for (const ref of released.values()) {
      if (this.repository.bindingsOf(ref.name, ref.version).length > 0) continue;
      const pkg = this.repository.getPackage(ref.name, ref.version);
      if (pkg !== undefined) this.drainInBackground(pkg);
    }
    return changes;
  }

  private drainInBackground(pkg: PackageRecord): void {
    const stop = this.host.stopWhenUnused ? this.host.stopWhenUnused(hosted(pkg)) : this.host.drainAndStop(hosted(pkg));
    const done = stop.catch((err: unknown) => this.log(`stopping ${refLabel(pkg)} failed: ${(err as Error).message}`));
    this.draining.add(done);
    void done.finally(() => this.draining.delete(done));
  }

  private currentBindings(): Map<string, Binding> {
    return new Map(this.repository.bindings().map((b) => [b.pid, b]));
  }

  // ---- uninstall ----------------------------------------------------------------------------------------------------

  /** Removes a version: an active or in-use one only with force (2007), which deactivates, drains and stops it first. */
  uninstall(name: string, version: string, options: UninstallOptions = {}): Promise<UninstallResult> {
    const operator = options.operator ?? this.operator;
    const ref = { name, version };
    return this.packagesQueue.run(() => this.bindingsQueue.run(() => this.audited(operator, "uninstall", refLabel(ref), async () => {
      const pkg = this.repository.getPackage(name, version);
      if (pkg === undefined || pkg.state === "removing") throw notFound(ref);
      if (pkg.state === "installing") {
        throw new ProcVisionError(ErrorCode.unsafe_uninstall, `${refLabel(ref)} is being installed`, { hint: "wait for the install to finish, then uninstall" });
      }
      const bound = this.repository.bindingsOf(name, version).map((b) => b.pid);
      const inUse = this.host.inUse(hosted(pkg));
      if ((bound.length > 0 || inUse) && options.force !== true) {
        throw new ProcVisionError(ErrorCode.unsafe_uninstall,
          `${refLabel(ref)} is ${bound.length > 0 ? `active for ${bound.join(", ")}` : "in use by running sessions"}`,
          { hint: "switch or deactivate its PIDs first, or uninstall with force (deactivates, drains and stops it)", details: { pids: bound } });
      }
      this.repository.transaction(() => {
        for (const pid of bound) this.repository.rebind(pid, null, "uninstall", operator);
      });
      this.activeCache = undefined;
      await this.host.drainAndStop(hosted(pkg));
      const lock = await acquireLock(this.layout.lock, LOCK_WAIT_MS);
      try {
        await removeVersion(this.layout, this.repository, this.bytecode, pkg);
      } finally {
        await lock.release();
      }
      return { name, version, deactivated: bound };
    }, undefined, (r) => (r.deactivated.length > 0 ? `forced: deactivated ${r.deactivated.join(", ")}` : undefined))));
  }

  // ---- workers, sessions, inspections ---------------------------------------------------------------------------------

  private requireSupervisor(): Supervisor {
    this.assertOpen();
    if (!this.supervisor) {
      throw new ProcVisionError(ErrorCode.unknown_error, "this Runner was opened with its own host and runs no workers itself", {
        hint: "open the Runner without `host` to run inspections",
      });
    }
    return this.supervisor;
  }

  private installedPackage(name: string, version: string): PackageRecord {
    const pkg = this.repository.getPackage(name, version);
    if (pkg === undefined || pkg.state !== "installed") throw notFound({ name, version });
    return pkg;
  }

  /** Starts a version's workers (they also start on activation). */
  start(name: string, version: string, options: OperatorOption = {}): Promise<{ name: string; version: string; running: boolean }> {
    const supervisor = this.requireSupervisor();
    return this.audited(options.operator ?? this.operator, "start", refLabel({ name, version }), async () => {
      await supervisor.ensureRunning(hosted(this.installedPackage(name, version)));
      return { name, version, running: true };
    });
  }

  /** Drains and stops a version's workers; calls for its PIDs fail with 3006 until it is started again. */
  stop(name: string, version: string, options: OperatorOption = {}): Promise<{ name: string; version: string; running: boolean }> {
    const supervisor = this.requireSupervisor();
    return this.audited(options.operator ?? this.operator, "stop", refLabel({ name, version }), async () => {
      await supervisor.drainAndStop(hosted(this.installedPackage(name, version)));
      return { name, version, running: false };
    });
  }

  /** A session for one inspection flow of a PID, pinned to the version active now. */
  async createSession(pid: string, context: Record<string, unknown> = {}): Promise<SessionView> {
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
    return this.requireSupervisor().inspect(toSupervisorRequest(request));
  }

  /** Health: bindings, package count, and every worker (pid, uptime, restarts, calls in flight, heartbeat age, circuit). */
  async status(): Promise<RunnerStatus> {
    this.assertOpen();
    const pools = this.supervisor?.status() ?? [];
    return {
      root: this.root,
      packages: this.repository.listPackages({}).length,
      bindings: this.repository.bindings(),
      pools: pools.map((p) => ({ name: p.name, version: p.version, state: p.state, circuit: p.circuit, sessions: p.sessions })),
      workers: pools.flatMap((p) => p.workers.map((w) => ({
        name: p.name, version: p.version, slot: w.slot, pid: w.pid, state: w.state, uptime_ms: w.uptime_ms, restarts: w.restarts,
        calls: w.calls, inflight: w.inflight, heartbeat_age_ms: w.last_heartbeat_age_ms, circuit: w.circuit,
      }))),
    };
  }

  /** Prometheus exposition of calls, latencies, queues, restarts, breakers and shared memory. */
  async metrics(): Promise<{ contentType: string; body: string }> {
    this.assertOpen();
    const snapshot = this.supervisor?.metrics() ?? { pools: [], sessions: 0, shm_bytes: 0, latency_buckets_ms: [] };
    // prom-client (~12 MB resident) is loaded by the first scrape, not by every runner.
    this.exporter ??= new (await import("./prometheus.js")).PrometheusExporter();
    return this.exporter.render(snapshot, this.telemetryOutbox?.status());
  }

  // ---- telemetry (contract §8) ----------------------------------------------------------------------------------------

  /** Outbox depth by kind, oldest pending age, last success and error, bytes sent, images dropped by the quota. */
  async telemetry(): Promise<TelemetryStatus | ReturnType<typeof disabledStatus>> {
    this.assertOpen();
    return this.telemetryOutbox?.status() ?? disabledStatus(this.workstationId);
  }

  /** Pauses (`paused` true) or resumes uploads; inspections and the outbox go on either way. Audited. */
  setTelemetryPaused(paused: boolean, options: OperatorOption = {}): Promise<TelemetryStatus> {
    return this.audited(options.operator ?? this.operator, paused ? "telemetry-pause" : "telemetry-resume", "telemetry", async () => {
      const telemetry = this.requireTelemetry();
      if (paused) telemetry.pause();
      else telemetry.resume();
      return telemetry.status();
    });
  }

  /** The images kept for a record (3006 when the record has none). */
  async recordImages(id: number): Promise<Artifact[]> {
    this.assertOpen();
    const images = this.telemetryOutbox?.artifactsOf(id) ?? [];
    if (images.length === 0) {
      throw new ProcVisionError(ErrorCode.not_found, `record ${id} has no kept images`, {
        hint: "images are kept for NG inspections while telemetry is configured, within quota_mb and retain_days",
      });
    }
    return images;
  }

  /** The running telemetry, for tests and benchmarks that wait for it to drain. */
  get telemetryHandle(): Telemetry | undefined {
    return this.telemetryOutbox;
  }

  private requireTelemetry(): Telemetry {
    if (!this.telemetryOutbox) {
      throw new ProcVisionError(ErrorCode.not_found, "telemetry is not configured on this runner", {
        hint: "add a telemetry section to runner_config.json (see docs/OPERATOR-GUIDE.md)",
      });
    }
    return this.telemetryOutbox;
  }

  /** The tail of a version's worker stderr log (logs/<name>/<version>/worker.log). */
  async logs(name: string, version: string, options: { lines?: number } = {}): Promise<string[]> {
    this.assertOpen();
    const pkg = this.repository.getPackage(name, version);
    if (pkg === undefined) throw notFound({ name, version });
    const file = path.join(hosted(pkg).logsDir, "worker.log");
    if (!existsSync(file)) return [];
    const text = await readFile(file, "utf8");
    return text.split("\n").filter((l) => l !== "").slice(-(options.lines ?? 200));
  }

  // ---- lifecycle ----------------------------------------------------------------------------------------------------

  /**
   * Waits until the background bytecode compile of every installed package is done (installs return before it:
   * see BytecodeCompiler). Tests and benchmarks use it; a station never needs to.
   */
  async bytecodeSettled(): Promise<void> {
    await this.bytecode.settled();
  }

  /** Waits for queued work and background drains, stops background compiles, then closes the database. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.fleetAgent?.stop();
    await this.watcher?.close();
    await this.packagesQueue.idle();
    await this.bindingsQueue.idle();
    await this.bytecode.stopAll();
    await Promise.allSettled([...this.draining]);
    await this.supervisor?.stopAll();
    this.recorder.flush();
    await this.telemetryOutbox?.close();
    this.closed = true;
    this.repository.db.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new ProcVisionError(ErrorCode.unknown_error, "this Runner is closed", { hint: "open a new one with Runner.open" });
  }

  private audit_(operator: string, action: string, target: string, outcome: AuditOutcome, err?: unknown, detail?: string): void {
    if (this.closed) return;
    const error = err === undefined ? undefined : ProcVisionError.from(err);
    const entry = { operator, action, target, outcome, error_code: error?.code ?? null, detail: error?.message ?? detail ?? null };
    this.repository.addAudit(entry);
    this.emitEvent("audit", entry);
  }

  /** Runs a mutation that audits its own success (inside its transaction); failures are audited here. */
  private async auditedFailures<T>(operator: string, action: string, target: string, fn: () => Promise<T>): Promise<T> {
    this.assertOpen();
    try {
      return await fn();
    } catch (err) {
      this.audit_(operator, action, target, "failed", err);
      throw err;
    }
  }

  /** Runs a mutation and audits it, success or failure. */
  private async audited<T>(operator: string, action: string, target: string, fn: () => Promise<T>,
    outcomeOf?: (result: T) => AuditOutcome, detailOf?: (result: T) => string | undefined): Promise<T> {
    this.assertOpen();
    try {
      const result = await fn();
      this.audit_(operator, action, target, outcomeOf?.(result) ?? "ok", undefined, detailOf?.(result));
      return result;
    } catch (err) {
      this.audit_(operator, action, target, "failed", err);
      throw err;
    }
  }
}

function refOf(b: Binding | undefined): PackageRef | null {
  return b === undefined ? null : { name: b.name, version: b.version };
}

function failedChecks(report: ValidationReport): string {
  return `smoke checks failed: ${report.checks.filter((c) => c.result === "FAIL").map((c) => `${c.name}: ${c.message}`).join("; ")}`;
}

/** The supervisor's view of a package. The logs dir is derived from the package dir: deployed/<n>/<v> → logs/<n>/<v>. */
export function hosted(pkg: PackageRecord): HostedPackage {
  const root = path.dirname(path.dirname(path.dirname(pkg.dir)));
  const launch = packageWorkerLaunch(pkg.dir);
  return {
    name: pkg.name, version: pkg.version, dir: launch.cwd, python: launch.python, env: launch.env, entryPoint: pkg.manifest.entry_point,
    manifest: pkg.manifest, logsDir: path.join(root, "logs", pkg.name, pkg.version),
  };
}

/** Raw pixels as callers describe them: channels and color space as plain values, checked here (1002). */
interface LooseRaw {
  width: number;
  height: number;
  channels?: number;
  color_space?: string;
}

/**
 * Library input of inspect: raw pixels (`data`), pixels written straight into the worker's shared memory by a
 * `fill(target)` callback (no intermediate copy; it may run again for a retry), or a JPEG/PNG by `path` or `bytes`.
 */
/** An inspect image as the library takes it: raw pixels (channels/color space checked here), or a JPEG/PNG file or its bytes. */
export type RunnerInspectImage = (LooseRaw & { data: Uint8Array }) | (LooseRaw & { fill: (target: Buffer) => void }) | { path: string } | { bytes: Uint8Array };

export type RunnerInspectRequest = Omit<InspectRequest, "image" | "guide_image" | "camera_id"> & {
  image: RunnerInspectImage;
  /** The guide (reference) image of a G3 inspection, in a second segment; G1 algorithms ignore it. */
  guide_image?: RunnerInspectImage;
};

function checkedRaw(image: LooseRaw): { channels?: 1 | 3; color_space?: "RGB" | "BGR" | "GRAY" } {
  const { channels, color_space: colorSpace } = image;
  if (channels !== undefined && channels !== 1 && channels !== 3) {
    throw new ProcVisionError(ErrorCode.image_load_failed, `channels must be 1 or 3, got ${channels}`, { hint: "send GRAY (1) or RGB/BGR (3) pixels" });
  }
  if (colorSpace !== undefined && colorSpace !== "RGB" && colorSpace !== "BGR" && colorSpace !== "GRAY") {
    throw new ProcVisionError(ErrorCode.image_load_failed, `color_space must be RGB, BGR or GRAY, got ${colorSpace}`, { hint: "RGB is the default for 3 channels" });
  }
  return { ...(channels ? { channels } : {}), ...(colorSpace ? { color_space: colorSpace } : {}) };
}

function toInspectImage(image: RunnerInspectImage): InspectImage {
  if ("data" in image) return { data: image.data, width: image.width, height: image.height, ...checkedRaw(image) };
  if ("fill" in image) return { fill: image.fill, width: image.width, height: image.height, ...checkedRaw(image) };
  return image;
}

function toSupervisorRequest(r: RunnerInspectRequest): InspectRequest {
  // One literal per case, no rest/spread pairs: this runs on every inspection.
  return { ...r, image: toInspectImage(r.image), guide_image: r.guide_image === undefined ? undefined : toInspectImage(r.guide_image) };
}

/** A session as the library and the API show it: the stored record, its id named `session_id`. */
export type SessionView = Omit<StoredSession, "id"> & { session_id: string };

function sessionView(s: SessionRecord): SessionView {
  return {
    session_id: s.id, pid: s.pid, name: s.name, version: s.version, context: s.context, state: s.state,
    created_at: new Date(s.created_at).toISOString(), last_used_at: new Date(s.last_used_at).toISOString(),
  };
}

export interface RunnerStatus {
  root: string;
  packages: number;
  bindings: Binding[];
  pools: { name: string; version: string; state: string; circuit: string; sessions: number }[];
  workers: {
    name: string; version: string; slot: number; pid: number | null; state: string; uptime_ms: number | null; restarts: number;
    /** Calls sent to the worker and not answered: the running one and those held behind it (short calls). */
    calls: number; inflight: number; heartbeat_age_ms: number | null; circuit: string;
  }[];
}

/** The console groups events by what changed. */
function categoryOf(e: SupervisorEvent): string {
  if (e.type === "pool-state") return "package";
  if (e.type === "session") return "session";
  return "worker";
}

const LOG_LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;

/** Supervisor log lines through the runner's log, from the configured level up. */
function lineLogger(log: (line: string) => void, min: keyof typeof LOG_LEVELS): Logger {
  return {
    log(level, message, fields) {
      if (LOG_LEVELS[level] < LOG_LEVELS[min]) return;
      // The message already names the event and the package; the rest of the fields add detail.
      const { event: _event, type: _type, key: _key, ...detail } = fields ?? {};
      log(`${level} ${message}${Object.keys(detail).length > 0 ? ` ${JSON.stringify(detail)}` : ""}`);
    },
  };
}
