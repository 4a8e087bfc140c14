/** Human output of the runner CLI: plain aligned tables and one-line summaries (the API's JSON is `--json`). */

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
  list: (body) => table(asRows(body, "packages"), [["name", "name"], ["version", "version"], ["state", "state"], ["pids", "pids"], ["installed_at", "installed"]]),
  active: (body) => table(asRows(body, "bindings"), [["pid", "pid"], ["name", "name"], ["version", "version"], ["since", "since"]]),
  records: (body) => table(asRows(body, "records"), [["time", "time"], ["pid", "pid"], ["name", "name"], ["version", "version"], ["step_index", "step"],
    ["method", "method"], ["status", "status"], ["result_status", "result"], ["ng_reason", "ng reason"], ["latency_ms", "ms"]]),
  audit: (body) => table(asRows(body, "entries"), [["time", "time"], ["operator", "operator"], ["action", "action"], ["target", "target"], ["outcome", "outcome"]]),
};

/** One line for results that are a single object: what happened, not the whole body. */
export function summary(action: string, body: unknown): string[] {
  const b = (body ?? {}) as Record<string, unknown>;
  const pkg = typeof b.name === "string" ? `${b.name} ${String(b.version ?? "")}`.trim() : "";
  switch (action) {
    case "install": return [`✓ installed ${pkg} (${String(b.state ?? "installed")})`];
    case "validate": return [`${(b.summary as { status?: string } | undefined)?.status === "PASS" ? "✓" : "✗"} ${pkg} validation ${(b.summary as { status?: string } | undefined)?.status ?? ""}`];
    default: return [`✓ ${action}${pkg ? ` ${pkg}` : ""}`];
  }
}
