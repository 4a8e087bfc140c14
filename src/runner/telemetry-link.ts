import { ErrorCode, ProcVisionError } from "../errors/index.js";
import type { StoreLayout } from "../store/layout.js";
import type { Repository } from "../store/repository.js";
import type { LineLog } from "../supervisor/types.js";
import { resolveCredentials } from "../telemetry/config.js";
import type { RetryPolicy } from "../telemetry/retry.js";
import type { Artifact } from "../telemetry/store.js";
import { Telemetry } from "../telemetry/telemetry.js";
import type { RunnerConfig } from "./config.js";

/** The telemetry of a runner whose config has a `telemetry` section (contract §8); undefined without one. */
export function openTelemetry(layout: StoreLayout, repo: Repository, config: RunnerConfig, log: LineLog, retry: RetryPolicy | undefined): Telemetry | undefined {
  if (!config.telemetry) return undefined;
  return new Telemetry({
    root: layout.root, db: repo.db, config: config.telemetry, credentials: resolveCredentials(config.telemetry),
    workstationId: config.workstation_id, log, ...(retry ? { retry } : {}),
  });
}

export function requireTelemetry(telemetry: Telemetry | undefined): Telemetry {
  if (!telemetry) {
    throw new ProcVisionError(ErrorCode.not_found, "telemetry is not configured on this runner", {
      hint: "add a telemetry section to runner_config.json (see docs/OPERATOR-GUIDE.md)",
    });
  }
  return telemetry;
}

/** The images kept for a record (3006 when the record has none). */
export function keptImages(telemetry: Telemetry | undefined, id: number): Artifact[] {
  const images = telemetry?.artifactsOf(id) ?? [];
  if (images.length === 0) {
    throw new ProcVisionError(ErrorCode.not_found, `record ${id} has no kept images`, {
      hint: "images are kept for NG inspections while telemetry is configured, within quota_mb and retain_days",
    });
  }
  return images;
}
