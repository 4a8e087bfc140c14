// Public library entry point (`import { Runner, ProcVisionError } from "procvision"`).
export { ErrorCode, ProcVisionError, isProcVisionError } from "./errors/index.js";
export {
  Runner, type BindingChange, type InstallOptions, type OperatorOption, type PackageInfo, type RunnerOptions, type UninstallOptions,
  type UninstallResult,
} from "./runner/runner.js";
export { parseRunnerConfig, loadRunnerConfig, type RunnerConfig, type RunnerConfigInput } from "./runner/config.js";
export { noopHost, type HostedPackage, type PackageHost } from "./store/host.js";
export type { InstallResult } from "./store/install/pipeline.js";
export type { RecoveryReport } from "./store/recovery.js";
export type {
  AuditEntry, AuditFilter, Binding, HistoryEntry, InspectionRecord, PackageFilter, PackageRecord, PackageState, RecordFilter,
} from "./store/repository.js";
