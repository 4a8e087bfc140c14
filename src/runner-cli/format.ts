/** Human output of the runner CLI: plain aligned tables and one-line summaries (the API's JSON is `--json`). */
import type { CommandOutput } from "../command-line/reporter.js";

export function table(rows: readonly Record<string, unknown>[], columns: readonly [key: string, title: string][]): string[] {
  if (rows.length === 0) return ["(none)"];
  const cell = (v: unknown) => (v === undefined || v === null ? "" : Array.isArray(v) ? v.join(",") : typeof v === "object" ? JSON.stringify(v) : String(v));
  const cells = rows.map((r) => columns.map(([key]) => cell(r[key])));
  const widths = columns.map(([, title], i) => Math.max(title.length, ...cells.map((c) => c[i]!.length)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i]!)).join("  ").trimEnd();
  return [line(columns.map(([, title]) => title.toUpperCase())), ...cells.map(line)];
}

function asRows(body: unknown, key?: string): Record<string, unknown>[] {
  const value = key && body && typeof body === "object" && !Array.isArray(body) ? (body as Record<string, unknown>)[key] : body;
  return Array.isArray(value) ? (value as Record<string, unknown>[]) : [];
}

export const formatters: Record<string, (body: unknown) => string[]> = {
  list: (body) => table(asRows(body, "packages"), [["name", "name"], ["version", "version"], ["state", "state"], ["active_pids", "pids"], ["installed_at", "installed"]]),
  active: (body) => table(asRows(body, "bindings"), [["pid", "pid"], ["name", "name"], ["version", "version"], ["since", "since"]]),
  records: (body) => table(asRows(body, "records"), [["time", "time"], ["pid", "pid"], ["name", "name"], ["version", "version"], ["step_index", "step"],
    ["method", "method"], ["status", "status"], ["result_status", "result"], ["ng_reason", "ng reason"], ["latency_ms", "ms"]]),
  fleet: (body) => {
    const f = body as { workstation_id?: string; desired?: { ref: string; digest: string | null } | null; last_convergence?: { at: string; ok: boolean; error: { error_code: string; message: string } | null } | null };
    const last = f.last_convergence;
    return [
      `station ${f.workstation_id ?? "?"}${f.desired ? ` follows ${f.desired.ref}${f.desired.digest ? ` (${f.desired.digest.slice(0, 19)}…)` : ""}` : " follows no desired state"}`,
      ...(last ? [last.ok ? `✓ converged ${last.at}` : `✗ ${last.at}: [${last.error?.error_code ?? "?"}] ${last.error?.message ?? ""}`] : f.desired ? ["(not polled yet)"] : []),
      ...table(asRows((body as { actual?: unknown }).actual, "bindings"), [["pid", "pid"], ["name", "name"], ["version", "version"]]),
    ];
  },
  audit: (body) => table(asRows(body, "entries"), [["time", "time"], ["operator", "operator"], ["action", "action"], ["target", "target"], ["outcome", "outcome"]]),
};

interface CallView { status?: string; message?: string; error_code?: string | null; latency_ms?: number; data?: Record<string, unknown> }

function describeCall(label: string, call: CallView | undefined): string[] {
  if (!call) return [];
  const data = call.data ?? {};
  const rects = ["calibration", "position", "defect"].map((k) => [k, data[`${k}_rects`]] as const)
    .filter(([, v]) => Array.isArray(v) && v.length > 0).map(([k, v]) => `${(v as unknown[]).length} ${k}`);
  return [[`${call.status === "OK" ? "✓" : "✗"} ${label.padEnd(11)} ${call.status ?? "?"}`, call.error_code ? `[${call.error_code}]` : "",
    data.result_status ? `→ ${String(data.result_status)}` : "", call.message ? `"${call.message}"` : "",
    data.ng_reason ? `ng_reason "${String(data.ng_reason)}"` : "", rects.length ? `(${rects.join(", ")} rects)` : "",
    typeof call.latency_ms === "number" ? `${call.latency_ms.toFixed(1)} ms` : ""].filter(Boolean).join(" ")];
}

formatters.inspect = (body) => {
  const b = body as { name?: string; version?: string; session_id?: string; pre_execute?: CallView; execute?: CallView };
  return [`${b.name ?? "?"} ${b.version ?? ""} · session ${b.session_id ?? "-"}`, ...describeCall("pre_execute", b.pre_execute), ...describeCall("execute", b.execute)];
};

formatters.validate = (body) => {
  const b = body as { summary?: { status?: string; passed?: number; failed?: number }; checks?: { name: string; result: string; message?: string }[] };
  const passed = b.summary?.status === "PASS";
  return [`${passed ? "✓" : "✗"} validation ${b.summary?.status ?? "?"} (${b.summary?.passed ?? 0} passed, ${b.summary?.failed ?? 0} failed)`,
    ...(b.checks ?? []).filter((c) => c.result !== "PASS").map((c) => `  ✗ ${c.name}: ${c.message ?? ""}`)];
};

interface TelemetryView {
  enabled?: boolean; workstation_id?: string; paused?: boolean; endpoint?: string; bucket?: string;
  depth?: Record<string, number>; pending_lines?: Record<string, number>; oldest_pending_age_ms?: number | null;
  last_success?: string | null; last_error?: { message: string; time: string } | null; bytes_sent?: number; dropped_by_quota?: number;
}

function describeTelemetry(t: TelemetryView | undefined): string[] {
  if (!t) return [];
  if (!t.enabled) return [`telemetry: off (workstation ${t.workstation_id ?? "?"})`];
  const pending = Object.entries(t.depth ?? {}).map(([k, n]) => `${k} ${n + (t.pending_lines?.[k] ?? 0)}`).join(", ");
  return [
    `telemetry: ${t.paused ? "PAUSED" : "on"} → ${t.endpoint ?? "?"} bucket ${t.bucket ?? "?"} as ${t.workstation_id ?? "?"}`,
    `  pending ${pending}${t.oldest_pending_age_ms == null ? "" : ` · oldest ${(t.oldest_pending_age_ms / 1000).toFixed(1)} s`}` +
      ` · sent ${((t.bytes_sent ?? 0) / 1e6).toFixed(2)} MB · dropped by quota ${t.dropped_by_quota ?? 0}`,
    `  last success ${t.last_success ?? "never"}${t.last_error ? ` · last error ${t.last_error.time}: ${t.last_error.message}` : ""}`,
  ];
}

formatters.status = (body) => {
  const b = body as { packages?: number; bindings?: unknown[]; workers?: { state?: string }[]; problems?: string[]; telemetry?: TelemetryView };
  const up = (b.workers ?? []).filter((w) => w.state === "idle" || w.state === "busy").length;
  const problems = b.problems ?? [];
  return [`${problems.length > 0 ? "✗ runner degraded" : "✓ runner ok"} · ${b.packages ?? 0} package(s) · ${(b.bindings ?? []).length} PID binding(s) · ${up}/${(b.workers ?? []).length} worker(s) up`,
    ...problems.map((p) => `  ✗ ${p}`), ...describeTelemetry(b.telemetry)];
};

/** One line for results that are a single object: what happened, not the whole body. */
export function summary(action: string, body: unknown): string[] {
  const b = (body ?? {}) as Record<string, unknown>;
  const pkg = typeof b.name === "string" ? `${b.name} ${String(b.version ?? "")}`.trim() : "";
  switch (action) {
    case "install": return [`✓ installed ${pkg} (${String(b.state ?? "installed")})`,
      ...(Array.isArray(b.warnings) ? b.warnings.map((w) => `  ! ${String(w)}`) : [])];
    default: return [`✓ ${action}${pkg ? ` ${pkg}` : ""}`];
  }
}

/**
 * Whether a request that succeeded also did what was asked: an inspection whose call came back ERROR (the
 * algorithm's own error, 1005, 3001, 1007 travel in the call, not as a request error), a failed validation or a
 * degraded station (`status`) exits 1, as `procvision-cli run` and `validate` do, so a script can tell.
 */
function succeeded(action: string, body: unknown): boolean {
  const b = (body ?? {}) as { pre_execute?: CallView; execute?: CallView; summary?: { status?: string }; problems?: string[] };
  if (action === "inspect") return [b.pre_execute, b.execute].every((call) => call === undefined || call.status === "OK");
  if (action === "validate") return b.summary?.status === "PASS";
  if (action === "status") return (b.problems ?? []).length === 0;
  return true;
}

/** A runner answer for the reporter: the API's JSON body under --json, else its table or summary line. */
export function apiOutput(action: string, body: unknown): CommandOutput {
  return { exitCode: succeeded(action, body) ? 0 : 1, json: body, human: formatters[action]?.(body) ?? summary(action, body) };
}
