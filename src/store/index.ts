export { integrityCheck, migrate, openDb, SCHEMA_VERSION, type Db } from "./db.js";
export { planBinding, planPrune, planRollback, type BindingPlan, type PackageRef } from "./decisions.js";
export { noopHost, type HostedPackage, type PackageHost } from "./host.js";
export { installPackage, type InstallResult } from "./install/pipeline.js";
export { INSTALL_PHASES, type InstallPhase } from "./install/pause.js";
export { archivedZip, packageDir, storeLayout, type StoreLayout } from "./layout.js";
export { recoverStore, UPLOADS_DIR, type RecoveredItem, type RecoveryReport } from "./recovery.js";
export {
  Repository, type ActivationAction, type AuditEntry, type AuditFilter, type AuditOutcome, type Binding, type HistoryEntry,
  type InspectionRecord, type NewInspectionRecord, type PackageFilter, type PackageRecord, type PackageState, type RecordFilter,
  type RetentionBound, type SessionRecord,
} from "./repository.js";
