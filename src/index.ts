// Public library entry point (`import { Runner, ProcVisionError } from "procvision"`).
export { ErrorCode, ProcVisionError, isProcVisionError } from "./errors/index.js";
export {
  Runner, type BindingChange, type InstallOptions, type InstallSource, type OperatorOption, type PackageInfo, type RunnerInspectRequest, type RunnerOptions,
  type RunnerStatus, type SessionView, type UninstallOptions, type UninstallResult,
} from "./runner/runner.js";
export type { CallResponse, InspectResponse } from "./supervisor/types.js";
export { buildApi, type ApiOptions } from "./api/server.js";
export { parseRunnerConfig, loadRunnerConfig, type RunnerConfig, type RunnerConfigInput } from "./runner/config.js";
export { noopHost, type HostedPackage, type PackageHost } from "./store/host.js";
export type { InstallResult } from "./store/install/pipeline.js";
export type { RecoveryReport } from "./store/recovery.js";
export type {
  AuditEntry, AuditFilter, Binding, HistoryEntry, InspectionRecord, PackageFilter, PackageRecord, PackageState, RecordFilter,
} from "./store/repository.js";
