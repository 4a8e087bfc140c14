import { z } from "zod";
import { PACKAGE_STATES } from "../runner/package-state.js";

// The bodies the API answers with: documented in /openapi.json and checked against real answers by the API tests.
// Objects stay open (`looseObject`): a client must not break when a field is added.

const check = z.looseObject({ name: z.string(), result: z.enum(["PASS", "FAIL"]), message: z.string() });
export const validationReport = z.looseObject({
  summary: z.looseObject({ status: z.enum(["PASS", "FAIL"]), passed: z.number().int(), failed: z.number().int() }),
  checks: z.array(check),
});

const ref = z.looseObject({ name: z.string(), version: z.string() });

export const packageInfo = z.looseObject({
  name: z.string(),
  version: z.string(),
  state: z.enum(PACKAGE_STATES),
  supported_pids: z.array(z.string()).nullable(),
  active_pids: z.array(z.string()),
  running: z.boolean(),
  installed_at: z.string().nullable(),
  zip_sha256: z.string().nullable(),
  validation: validationReport.nullable(),
  warnings: z.array(z.string()),
});

export const installResult = z.looseObject({
  name: z.string(), version: z.string(), state: z.enum(["installed", "invalid"]), zip_sha256: z.string(),
  validation: validationReport, warnings: z.array(z.string()), signed: z.enum(["verified", "unverified", "unsigned"]),
  size_bytes: z.number(), duration_ms: z.number(),
});

export const binding = z.looseObject({ pid: z.string(), name: z.string(), version: z.string(), since: z.string() });
export const bindingChange = z.looseObject({ pid: z.string(), to: ref.nullable(), from: ref.nullable() });

export const session = z.looseObject({
  session_id: z.string(), pid: z.string(), name: z.string(), version: z.string(),
  context: z.record(z.string(), z.unknown()), state: z.record(z.string(), z.unknown()), created_at: z.string(), last_used_at: z.string(),
});

const callResult = z.looseObject({
  status: z.string(), message: z.string(), error_code: z.string().nullable(),
  data: z.record(z.string(), z.unknown()), debug: z.record(z.string(), z.unknown()), latency_ms: z.number(),
});
export const inspectResponse = z.looseObject({
  session_id: z.string(), name: z.string(), version: z.string(), pre_execute: callResult.optional(), execute: callResult.optional(),
});

export const inspectionRecord = z.looseObject({
  id: z.number().int(), time: z.string(), pid: z.string(), session_id: z.string().nullable(), step_index: z.number().int().nullable(),
  method: z.string(), name: z.string(), version: z.string(), status: z.string(), error_code: z.string().nullable(),
  result_status: z.string().nullable(), ng_reason: z.string().nullable(), defect_count: z.number().int(),
  position_count: z.number().int(), calibration_count: z.number().int(), latency_ms: z.number(), guide_image: z.boolean(), trace_id: z.string().nullable(), images: z.boolean(),
});

export const auditEntry = z.looseObject({
  id: z.number().int(), time: z.string(), operator: z.string(), action: z.string(), target: z.string(),
  outcome: z.enum(["ok", "failed", "invalid"]), error_code: z.string().nullable(), detail: z.string().nullable(),
});

const fleetBinding = z.looseObject({ pid: z.string(), name: z.string(), version: z.string() });
export const fleet = z.looseObject({
  workstation_id: z.string(),
  desired: z.looseObject({ ref: z.string(), digest: z.string().nullable() }).nullable(),
  actual: z.array(fleetBinding),
  last_poll: z.string().nullable(),
  last_convergence: z.looseObject({
    at: z.string(), ok: z.boolean(), digest: z.string().nullable(), error: z.looseObject({ error_code: z.string(), message: z.string() }).nullable(),
  }).nullable(),
  failures: z.number().int(),
});

export const health = z.looseObject({
  status: z.enum(["ok", "degraded"]), problems: z.array(z.string()), packages: z.number().int(), bindings: z.array(binding),
  pools: z.array(z.looseObject({ name: z.string(), version: z.string(), state: z.string(), circuit: z.string(), sessions: z.number().int() })),
  workers: z.array(z.looseObject({
    name: z.string(), version: z.string(), pid: z.number().int().nullable(), state: z.string(), uptime_ms: z.number().nullable(),
    restarts: z.number().int(), calls: z.number().int(), inflight: z.number().int(), heartbeat_age_ms: z.number().nullable(), circuit: z.string(),
  })),
});

export const running = z.looseObject({ name: z.string(), version: z.string(), running: z.boolean() });
export const uninstalled = z.looseObject({ name: z.string(), version: z.string(), deactivated: z.array(z.string()) });
export const logLines = z.looseObject({ lines: z.array(z.string()) });

const kinds = <T extends z.ZodType>(value: T) => z.looseObject({ records: value, logs: value, images: value });
export const telemetryStatus = z.looseObject({
  enabled: z.boolean(), workstation_id: z.string(),
  paused: z.boolean().optional(), endpoint: z.string().nullable().optional(), bucket: z.string().nullable().optional(),
  depth: kinds(z.number().int()).optional(),
  pending_lines: z.looseObject({ records: z.number().int(), logs: z.number().int() }).optional(),
  oldest_pending_age_ms: z.number().nullable().optional(), last_success: z.string().nullable().optional(),
  last_error: z.looseObject({ message: z.string(), time: z.string() }).nullable().optional(),
  bytes_sent: z.number().optional(), objects_sent: z.number().optional(), dropped_by_quota: z.number().int().optional(),
  artifacts: z.looseObject({ count: z.number().int(), bytes: z.number(), quota_bytes: z.number() }).optional(),
});
export const recordImages = z.looseObject({
  record_id: z.number().int(),
  images: z.array(z.looseObject({
    kind: z.enum(["image", "annotated"]), url: z.string(), bytes: z.number().int(), width: z.number().int(), height: z.number().int(),
    uploaded: z.boolean(), created: z.string(),
  })),
});
