/*
 * Object keys and NDJSON lines of telemetry (contract §8): pure functions of the content's identity, so a retry
 * after a lost answer rewrites the same object with the same bytes and a reader never sees a duplicate.
 */

import type { InspectionRecord as StoredRecord } from "../store/repository.js";

export type TelemetryKind = "records" | "logs" | "images";

/** `<workstation_id>/<session_id>/<step>/<timestamp_ms>`, the original spec's idempotent id of one inspection call. */
export function ingestId(workstationId: string, sessionId: string, stepIndex: number, timestampMs: number): string {
  return `${workstationId}/${sessionId}/${stepIndex}/${timestampMs}`;
}

const two = (n: number): string => String(n).padStart(2, "0");

/** `<prefix>/<kind>/<workstation_id>/<yyyy>/<mm>/<dd>/<ingest_id><suffix>`, the date in UTC. */
export function objectKey(o: { prefix: string; kind: TelemetryKind; workstationId: string; timeMs: number; ingestId: string; suffix: string }): string {
  const d = new Date(o.timeMs);
  const parts = [o.kind, o.workstationId, String(d.getUTCFullYear()), two(d.getUTCMonth() + 1), two(d.getUTCDate()), `${o.ingestId}${o.suffix}`];
  return (o.prefix === "" ? parts : [o.prefix, ...parts]).join("/");
}

/** Where a station's current state is kept (contract §9 inventory): one object per station, overwritten in place. */
export function stationStatusKey(prefix: string, workstationId: string): string {
  return `${stationsPrefix(prefix)}${workstationId}/status.json`;
}

/** The folder every station's status.json sits under. */
export function stationsPrefix(prefix: string): string {
  return prefix === "" ? "stations/" : `${prefix}/stations/`;
}

/** What an inspection record line says (contract §8 lists the fields). */
export interface RecordLine {
  timestamp_ms: number;
  workstation_id: string;
  session_id: string;
  step_index: number;
  pid: string;
  trace_id?: string;
  /** The call: pre_execute or execute (two lines per `both` inspection). */
  method: string;
  status: string;
  error_code: string | null;
  latency_ms: number;
  name: string;
  version: string;
  result_status: string | null;
  ng_reason: string | null;
  defect_rects_count: number;
  ingest_id: string;
}

/** One runner or worker log line. */
export interface LogLine {
  timestamp_ms: number;
  workstation_id: string;
  source: string;
  level: string;
  message: string;
}

/** A stored inspection record as its NDJSON line (contract §8 lists the fields). */
export function recordLine(workstationId: string,
  r: Omit<StoredRecord, "id" | "position_count" | "calibration_count" | "guide_image" | "trace_id" | "images"> & { trace_id?: string | null }): RecordLine {
  const timestampMs = Date.parse(r.time);
  const sessionId = r.session_id ?? "";
  const step = r.step_index ?? 0;
  return {
    timestamp_ms: timestampMs, workstation_id: workstationId, session_id: sessionId, step_index: step, pid: r.pid,
    ...(typeof r.trace_id === "string" ? { trace_id: r.trace_id } : {}), method: r.method,
    status: r.status, error_code: r.error_code, latency_ms: r.latency_ms, name: r.name, version: r.version, result_status: r.result_status,
    ng_reason: r.ng_reason, defect_rects_count: r.defect_count, ingest_id: ingestId(workstationId, sessionId, step, timestampMs),
  };
}

/**
 * A sealed batch's ingest id (lines are sealed into exactly one batch, in one transaction, in id order, and the key
 * is stored with the batch): a records batch takes its first call's ingest id and record id (two calls of one
 * session and step may share a millisecond, so the ingest id alone could name two batches); a logs batch
 * `<workstation_id>/log/<batch number>/<first line ms>`, numbered by runner.db.
 */
export function batchIngestId(workstationId: string, first: { time_ms: number; record?: { ingest_id: string; id: number }; logBatch?: number }): string {
  return first.record ? `${first.record.ingest_id}.${first.record.id}` : `${workstationId}/log/${first.logBatch ?? 0}/${first.time_ms}`;
}
