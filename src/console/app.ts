// The runner's web console: one page over the HTTP API. No framework: the API is small and the page must load fast
// on a station's browser. Mutations send the token kept in sessionStorage (asked once).

import type { z } from "zod";
import type * as responses from "../api/responses.js";

type Json = Record<string, unknown>;
/** The API's answers as src/api/responses.ts documents them (the same schemas feed /openapi.json). */
type Of<K extends keyof typeof responses> = z.output<(typeof responses)[K]>;
type PackageInfo = Of<"packageInfo">;
type Binding = Of<"binding">;
type Health = Of<"health">;
type WorkerView = Health["workers"][number];
type InspectionRecord = Of<"inspectionRecord">;
type AuditEntry = Of<"auditEntry">;
type TelemetryStatus = Of<"telemetryStatus">;
type FleetStatus = Of<"fleet">;
interface Rect { x: number; y: number; width: number; height: number; label?: string; score?: number }
interface CallResult { status: string; message?: string; error_code?: string | null; data?: Json; latency_ms?: number }

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const TOKEN_KEY = "procvision-token";
/** As the last refresh saw it: the telemetry button pauses or resumes. */
let telemetryPaused = false;

function token(ask = false): string | null {
  let value = sessionStorage.getItem(TOKEN_KEY);
  if (!value || ask) {
    value = window.prompt("Runner token (from <root>/token on the station):", value ?? "")?.trim() || null;
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
  }
  return value;
}

async function api(method: string, url: string, body?: BodyInit | Json): Promise<unknown> {
  const headers: Record<string, string> = {};
  if (method !== "GET") headers.authorization = `Bearer ${token() ?? ""}`;
  let payload: BodyInit | undefined;
  if (body instanceof FormData || body instanceof Blob) payload = body;
  else if (body !== undefined) {
    headers["content-type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const response = await fetch(url, { method, headers, body: payload ?? null });
  const result = (await response.json().catch(() => ({}))) as Json;
  if (!response.ok) {
    if (response.status === 401) sessionStorage.removeItem(TOKEN_KEY);
    throw new Error(`[${String(result.error_code ?? response.status)}] ${String(result.message ?? response.statusText)}`);
  }
  return result;
}

function cell(row: HTMLTableRowElement, text: unknown, className?: string): HTMLTableCellElement {
  const td = row.insertCell();
  td.textContent = text === undefined || text === null ? "" : Array.isArray(text) ? text.join(", ") : String(text);
  if (className) td.className = className;
  return td;
}

/** A timestamp as local time (the full ISO form in the tooltip). */
function timeCell(row: HTMLTableRowElement, iso: unknown): void {
  const date = new Date(String(iso));
  const td = cell(row, Number.isNaN(date.getTime()) ? iso : date.toLocaleString(undefined, { dateStyle: "short", timeStyle: "medium" }));
  td.title = String(iso);
}

function button(label: string, onClick: () => void, danger = false): HTMLButtonElement {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  if (danger) b.className = "danger";
  b.addEventListener("click", onClick);
  return b;
}

function rows(id: string): HTMLTableSectionElement {
  const body = $<HTMLTableElement>(id).tBodies[0]!;
  body.replaceChildren();
  return body;
}

/** A confirmation dialog, optionally asking for a value (PIDs). Resolves to the value, or null when cancelled. */
function confirmAction(text: string, ask?: { label: string; value: string }): Promise<string | null> {
  const dialog = $<HTMLDialogElement>("dialog");
  $("dialog-text").textContent = text;
  const extra = $("dialog-extra");
  extra.replaceChildren();
  let input: HTMLInputElement | undefined;
  if (ask) {
    const label = document.createElement("label");
    label.textContent = `${ask.label} `;
    input = document.createElement("input");
    input.id = "dialog-input";
    input.value = ask.value;
    label.append(input);
    extra.append(label);
  }
  showDialog(dialog, true);
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok" ? (input?.value ?? "") : null), { once: true });
  });
}

async function act(description: string, run: () => Promise<unknown>): Promise<void> {
  try {
    await run();
    log(`✓ ${description}`);
  } catch (err) {
    log(`✗ ${description}: ${(err as Error).message}`);
    window.alert(`${description} failed:\n${(err as Error).message}`);
  }
  await refresh();
}

const pidsOf = (text: string) => text.split(",").map((p) => p.trim()).filter(Boolean);

function renderPackages(packages: PackageInfo[], bindings: Binding[]): void {
  const body = rows("packages");
  for (const p of packages) {
    const { name, version } = p;
    const bound = bindings.filter((b) => b.name === name && b.version === version).map((b) => b.pid);
    const supported = p.supported_pids ?? [];
    const row = body.insertRow();
    row.dataset.package = `${name}@${version}`;
    cell(row, name);
    cell(row, version);
    cell(row, p.state, `state-${String(p.state)}`);
    cell(row, bound.length ? bound : supported.map((s) => `(${s})`));
    const actions = row.insertCell();
    const target = `${name} ${version}`;
    actions.append(
      button("activate", async () => {
        const pids = await confirmAction(`Activate ${target} for PIDs:`, { label: "PIDs", value: supported.join(",") });
        if (pids !== null) await act(`activate ${target}`, () => api("POST", "/algorithms/activate", { name, version, pids: pidsOf(pids) }));
      }),
      button("switch", async () => {
        const pids = await confirmAction(`Switch PIDs to ${target} (zero downtime):`, { label: "PIDs", value: supported.join(",") });
        if (pids !== null) await act(`switch to ${target}`, () => api("POST", "/algorithms/switch", { name, version, pids: pidsOf(pids) }));
      }),
      button("uninstall", async () => {
        if ((await confirmAction(`Uninstall ${target}? This deletes its files.`)) !== null) {
          await act(`uninstall ${target}`, () => api("DELETE", `/algorithms/${encodeURIComponent(name)}/${encodeURIComponent(version)}`));
        }
      }, true),
    );
  }
}

function renderBindings(bindings: Binding[]): void {
  const body = rows("bindings");
  const select = $<HTMLSelectElement>("inspect-pid");
  const chosen = select.value;
  select.replaceChildren();
  for (const b of bindings) {
    const row = body.insertRow();
    row.dataset.pid = String(b.pid);
    cell(row, b.pid);
    cell(row, b.name);
    cell(row, b.version);
    timeCell(row, b.since);
    row.insertCell().append(
      button("rollback", async () => {
        if ((await confirmAction(`Roll PID ${String(b.pid)} back to its previous version?`)) !== null) {
          await act(`rollback ${String(b.pid)}`, () => api("POST", "/algorithms/rollback", { pids: [b.pid] }));
        }
      }),
      button("deactivate", async () => {
        if ((await confirmAction(`Deactivate PID ${String(b.pid)}?`)) !== null) await act(`deactivate ${String(b.pid)}`, () => api("POST", "/algorithms/deactivate", { pids: [b.pid] }));
      }, true),
    );
    const option = document.createElement("option");
    option.textContent = String(b.pid);
    select.append(option);
  }
  if (chosen) select.value = chosen;
}

const seconds = (ms: unknown) => (typeof ms === "number" ? `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s` : "");

function renderWorkers(workers: WorkerView[]): void {
  const body = rows("workers");
  for (const w of workers) {
    const row = body.insertRow();
    row.dataset.package = `${String(w.name)}@${String(w.version)}`;
    cell(row, `${String(w.name)} ${String(w.version)}`);
    cell(row, w.pid);
    cell(row, w.state, `state-${String(w.state)}`);
    cell(row, seconds(w.uptime_ms));
    cell(row, w.restarts);
    cell(row, w.inflight);
    cell(row, seconds(w.heartbeat_age_ms));
    cell(row, w.circuit, w.circuit === "closed" ? "" : "error");
  }
}

function renderRecords(records: InspectionRecord[]): void {
  const body = rows("records");
  for (const r of records) {
    const row = body.insertRow();
    timeCell(row, r.time);
    cell(row, r.pid);
    cell(row, `${String(r.name)} ${String(r.version)}`);
    cell(row, r.step_index);
    cell(row, r.method);
    cell(row, r.status, r.status === "OK" ? "ok" : "error");
    cell(row, r.result_status, r.result_status === "NG" ? "ng" : "ok");
    cell(row, r.ng_reason);
    cell(row, typeof r.latency_ms === "number" ? r.latency_ms.toFixed(1) : "");
    cell(row, r.guide_image === true ? "✓" : "");
    const images = row.insertCell();
    if (r.images === true) images.append(button("view", () => void showImages(Number(r.id))));
  }
}

/** A record's kept images (annotated with its rects, and as captured) in the dialog. */
async function showImages(id: number): Promise<void> {
  let listed: Of<"recordImages">;
  try {
    listed = await api("GET", `/records/${id}/images`) as Of<"recordImages">;
  } catch (err) {
    window.alert(`images of record ${id}: ${(err as Error).message}`);
    return;
  }
  const dialog = $<HTMLDialogElement>("dialog");
  $("dialog-text").textContent = `record ${id}`;
  const figures = listed.images.sort((a, b) => Number(b.kind === "annotated") - Number(a.kind === "annotated")).map((image) => {
    const figure = document.createElement("figure");
    const img = document.createElement("img");
    img.src = image.url;
    img.alt = `${image.kind} image of record ${id}`;
    const caption = document.createElement("figcaption");
    caption.textContent = `${image.kind === "annotated" ? "with rects" : "as captured"} · ${image.width}×${image.height} · ${image.uploaded ? "uploaded" : "not uploaded yet"}`;
    figure.append(img, caption);
    return figure;
  });
  $("dialog-extra").replaceChildren(...figures);
  showDialog(dialog, false);
}

/** Opens the one dialog as a question (OK / Cancel) or as a view (Close). */
function showDialog(dialog: HTMLDialogElement, question: boolean): void {
  $("dialog-ok").hidden = !question;
  $("dialog-cancel").textContent = question ? "Cancel" : "Close";
  // returnValue can survive from the last dialog: Escape after an earlier OK must not confirm.
  dialog.returnValue = "";
  dialog.showModal();
}

function renderTelemetry(t: TelemetryStatus): void {
  const body = rows("telemetry");
  const toggle = $<HTMLButtonElement>("telemetry-toggle");
  toggle.hidden = t.enabled !== true;
  toggle.textContent = t.paused === true ? "Resume uploads" : "Pause uploads";
  const line = (label: string, value: unknown, className?: string) => {
    const row = body.insertRow();
    const th = document.createElement("th");
    th.textContent = label;
    row.append(th);
    cell(row, value, className);
  };
  line("workstation", t.workstation_id);
  if (t.enabled !== true) {
    line("uploads", "off (no telemetry in runner_config.json)");
    return;
  }
  line("uploads", `${t.paused === true ? "paused" : "on"} → ${String(t.endpoint)} / ${String(t.bucket)}`, t.paused === true ? "error" : "ok");
  const depth = t.depth ?? { records: 0, logs: 0, images: 0 };
  const waiting = t.pending_lines ?? { records: 0, logs: 0 };
  line("pending", `records ${depth.records + waiting.records} · logs ${depth.logs + waiting.logs} · images ${depth.images}`);
  line("oldest pending", seconds(t.oldest_pending_age_ms) || "none");
  line("last success", t.last_success ?? "never");
  const error = t.last_error;
  line("last error", error ? `${error.time}: ${error.message}` : "", "error");
  line("sent", `${((Number(t.bytes_sent) || 0) / 1e6).toFixed(2)} MB in ${String(t.objects_sent ?? 0)} objects`);
  const kept = t.artifacts ?? { count: 0, bytes: 0, quota_bytes: 0 };
  line("images kept", `${kept.count} · ${(kept.bytes / 1e6).toFixed(1)} of ${(kept.quota_bytes / 1e6).toFixed(0)} MB`);
  line("dropped by quota", t.dropped_by_quota, Number(t.dropped_by_quota) > 0 ? "error" : undefined);
}

function renderAudit(entries: AuditEntry[]): void {
  const body = rows("audit");
  for (const e of entries) {
    const row = body.insertRow();
    timeCell(row, e.time);
    cell(row, e.operator);
    cell(row, e.action);
    // The outcome before the target: a long target (an oci:// reference) wraps instead of pushing it off-screen.
    cell(row, e.outcome, e.outcome === "ok" ? "ok" : "error");
    cell(row, e.target, "wrap");
  }
}

/** This station in the fleet: the desired state it follows, and how its last convergence went. */
function renderFleet(fleet: FleetStatus): void {
  const { desired, last_convergence: last } = fleet;
  const summary = $("fleet-summary");
  $("fleet-poll").hidden = desired === null;
  if (desired === null) {
    summary.textContent = `station ${fleet.workstation_id} follows no desired state (fleet.desired in runner_config.json)`;
    summary.className = "";
    return;
  }
  const state = last ? (last.ok ? `converged ${new Date(last.at).toLocaleString()}` : `[${last.error?.error_code ?? "?"}] ${last.error?.message ?? ""}`) : "not polled yet";
  summary.textContent = `station ${fleet.workstation_id} follows ${desired.ref}${desired.digest ? ` (${desired.digest.slice(0, 19)}…)` : ""}: ${state}`;
  summary.className = last && !last.ok ? "error" : "";
}

/** The last data each table was drawn from: a table is redrawn only when its data changed, so the periodic
 *  refresh neither flickers nor pulls a button from under the operator's pointer. */
const lastDrawn = new Map<string, string>();
function draw<T extends unknown[]>(key: string, render: (...args: T) => void, ...args: T): void {
  const json = JSON.stringify(args);
  if (lastDrawn.get(key) === json) return;
  lastDrawn.set(key, json);
  render(...args);
}

let refreshing: Promise<void> | undefined;
let refreshAgain = false;
/** Redraws from the API. Calls during a refresh coalesce into one more, so bursts of events cost two fetches at
 *  most and an older answer never overwrites a newer one. */
function refresh(): Promise<void> {
  if (refreshing) {
    refreshAgain = true;
    return refreshing;
  }
  refreshing = load().finally(() => {
    refreshing = undefined;
    if (refreshAgain) {
      refreshAgain = false;
      void refresh();
    }
  });
  return refreshing;
}

async function load(): Promise<void> {
  try {
    const filter = new URLSearchParams({ limit: "50" });
    if ($<HTMLInputElement>("records-pid").value) filter.set("pid", $<HTMLInputElement>("records-pid").value);
    if ($<HTMLSelectElement>("records-result").value) filter.set("result_status", $<HTMLSelectElement>("records-result").value);
    const [health, packages, bindings, records, audit, telemetry, fleet] = await Promise.all([
      api("GET", "/health"), api("GET", "/algorithms"), api("GET", "/algorithms/active"), api("GET", `/records?${filter.toString()}`), api("GET", "/audit?limit=50"),
      api("GET", "/telemetry"), api("GET", "/fleet"),
    ]) as [Health, PackageInfo[], Binding[], InspectionRecord[], AuditEntry[], TelemetryStatus, FleetStatus];
    telemetryPaused = telemetry.paused === true;
    draw("telemetry", renderTelemetry, telemetry);
    $("health").textContent = [String(health.status ?? "?"), ...(health.problems ?? [])].join(" · ");
    draw("packages", renderPackages, packages, bindings);
    draw("bindings", renderBindings, bindings);
    draw("workers", renderWorkers, health.workers);
    draw("records", renderRecords, records);
    draw("audit", renderAudit, audit);
    draw("fleet", renderFleet, fleet);
    await loadLog(packages, bindings);
  } catch (err) {
    $("health").textContent = `unreachable: ${(err as Error).message}`;
  }
}

/** The tail of one version's worker log (default: the first bound one), reloaded with every refresh. */
async function loadLog(packages: PackageInfo[], bindings: Binding[]): Promise<void> {
  const select = $<HTMLSelectElement>("logs-package");
  const refs = packages.map((p) => `${String(p.name)}/${String(p.version)}`);
  if (JSON.stringify(refs) !== JSON.stringify([...select.options].map((o) => o.value))) {
    const chosen = select.value;
    select.replaceChildren(...refs.map((ref) => Object.assign(document.createElement("option"), { value: ref, textContent: ref.replace("/", " ") })));
    const first = bindings[0] ? `${String(bindings[0].name)}/${String(bindings[0].version)}` : "";
    select.value = refs.includes(chosen) ? chosen : first;
  }
  if (!select.value) return;
  const [name = "", version = ""] = select.value.split("/");
  const text = await api("GET", `/algorithms/${encodeURIComponent(name)}/${encodeURIComponent(version)}/logs?lines=100`)
    .then((r) => (r as Of<"logLines">).lines.join("\n") || "(no log lines yet)", (err: Error) => err.message); // e.g. just uninstalled
  const pre = $("logs");
  if (pre.textContent === text) return;
  const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
  pre.textContent = text;
  if (atBottom) pre.scrollTop = pre.scrollHeight; // follow the tail unless the operator scrolled up
}

function log(line: string): void {
  const events = $("events");
  events.textContent = `${new Date().toLocaleTimeString()} ${line}\n${events.textContent ?? ""}`.slice(0, 20_000);
}

function drawRects(width: number, height: number, results: CallResult[]): number {
  const svg = $("inspect-overlay") as unknown as SVGSVGElement;
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.replaceChildren();
  let drawn = 0;
  for (const result of results) {
    for (const kind of ["calibration", "position", "defect"] as const) {
      const list = result.data?.[`${kind}_rects`];
      if (!Array.isArray(list)) continue;
      for (const r of list as Rect[]) {
        const rect = document.createElementNS("http://www.w3.org/2000/svg", "rect");
        rect.setAttribute("class", kind);
        for (const key of ["x", "y", "width", "height"] as const) rect.setAttribute(key, String(r[key]));
        const title = document.createElementNS("http://www.w3.org/2000/svg", "title"); // hover: what was found
        title.textContent = [kind, r.label, r.score?.toFixed(2)].filter(Boolean).join(" ");
        rect.append(title);
        svg.append(rect);
        drawn += 1;
      }
    }
  }
  return drawn;
}

function describe(label: string, r: CallResult | undefined): string {
  if (!r) return "";
  const verdict = r.data?.result_status ? ` → ${String(r.data.result_status)}` : "";
  const reason = r.data?.ng_reason ? ` (${String(r.data.ng_reason)})` : "";
  const code = r.error_code ? ` [${r.error_code}]` : "";
  const message = r.message && r.message !== r.data?.ng_reason ? ` ${r.message}` : "";
  return `${label}: ${r.status}${code}${verdict}${reason}${message} — ${r.latency_ms?.toFixed(1) ?? "?"} ms`;
}

$("inspect-form").addEventListener("submit", (event) => {
  event.preventDefault();
  void (async () => {
    const file = $<HTMLInputElement>("inspect-image").files?.[0];
    if (!file) return;
    const guide = $<HTMLInputElement>("inspect-guide").files?.[0];
    const form = new FormData();
    form.set("pid", $<HTMLSelectElement>("inspect-pid").value);
    form.set("step_index", $<HTMLInputElement>("inspect-step").value);
    form.set("method", $<HTMLSelectElement>("inspect-method").value);
    if ($<HTMLInputElement>("inspect-params").value.trim()) form.set("user_params", $<HTMLInputElement>("inspect-params").value);
    if ($<HTMLInputElement>("inspect-step-desc").value) form.set("step_desc", $<HTMLInputElement>("inspect-step-desc").value);
    if ($<HTMLInputElement>("inspect-guide-info").value.trim()) form.set("guide_info", $<HTMLInputElement>("inspect-guide-info").value);
    form.set("image", file, file.name);
    if (guide) form.set("guide_image", guide, guide.name);
    const img = $<HTMLImageElement>("inspect-img");
    const guideImg = $<HTMLImageElement>("inspect-guide-img");
    const summary = $("inspect-summary");
    const submit = $<HTMLButtonElement>("inspect-submit");
    submit.disabled = true; // one call at a time: a second click would queue behind the first
    drawRects(1, 1, []); // the previous rects do not belong to this image
    summary.replaceChildren("inspecting…");
    summary.className = "";
    try {
      URL.revokeObjectURL(img.src);
      img.src = URL.createObjectURL(file);
      URL.revokeObjectURL(guideImg.src);
      // The guide is shown as given; the returned rects belong to the current image and are drawn there.
      if (guide) guideImg.src = URL.createObjectURL(guide);
      else guideImg.removeAttribute("src");
      $("inspect-guide-figure").hidden = !guide;
      await Promise.all([img.decode(), ...(guide ? [guideImg.decode()] : [])]);
      const result = await api("POST", "/inspect", form) as { name: string; version: string; pre_execute?: CallResult; execute?: CallResult };
      const drawn = drawRects(img.naturalWidth, img.naturalHeight, [result.pre_execute, result.execute].filter((r): r is CallResult => r !== undefined));
      summary.dataset.rects = String(drawn);
      summary.replaceChildren(...[`${result.name} ${result.version}`, describe("pre_execute", result.pre_execute), describe("execute", result.execute)]
        .filter(Boolean).map((line) => Object.assign(document.createElement("div"), { textContent: line })));
      const verdict = result.execute?.data?.result_status;
      summary.className = verdict === "NG" || result.execute?.status === "ERROR" ? "ng" : "ok";
    } catch (err) {
      summary.textContent = (err as Error).message || "the image could not be loaded";
      summary.className = "error";
    } finally {
      submit.disabled = false;
    }
    await refresh();
  })();
});

$("install-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const file = $<HTMLInputElement>("install-file").files?.[0];
  if (!file) return;
  const progress = $<HTMLProgressElement>("install-progress");
  const status = $("install-status");
  progress.hidden = false;
  // XMLHttpRequest, because fetch reports no upload progress.
  const xhr = new XMLHttpRequest();
  xhr.open("POST", `/algorithms/install?${new URLSearchParams({ ...($<HTMLInputElement>("install-force").checked ? { force: "true" } : {}), filename: file.name }).toString()}`);
  xhr.setRequestHeader("authorization", `Bearer ${token() ?? ""}`);
  xhr.setRequestHeader("content-type", "application/zip");
  xhr.upload.onprogress = (e) => {
    if (e.lengthComputable) progress.value = Math.round((100 * e.loaded) / e.total);
    status.textContent = progress.value < 100 ? "uploading…" : "installing…";
  };
  xhr.onload = () => {
    let body: Json;
    try {
      body = JSON.parse(xhr.responseText) as Json;
    } catch {
      body = { error_code: xhr.status, message: xhr.statusText };
    }
    if (xhr.status === 401) sessionStorage.removeItem(TOKEN_KEY);
    status.textContent = xhr.status < 300 ? `installed ${String(body.name)} ${String(body.version)} (${String(body.state)})` : `[${String(body.error_code)}] ${String(body.message)}`;
    progress.hidden = true;
    void refresh();
  };
  xhr.onerror = () => {
    status.textContent = "upload failed";
    progress.hidden = true;
  };
  xhr.send(file);
});

$("install-ref-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const ref = $<HTMLInputElement>("install-ref").value.trim();
  const status = $("install-ref-status");
  status.textContent = "pulling and installing…";
  const force = $<HTMLInputElement>("install-ref-force").checked;
  void api("POST", `/algorithms/install${force ? "?force=true" : ""}`, { ref }).then(
    (result) => {
      const body = result as Json;
      status.textContent = `installed ${String(body.name)} ${String(body.version)} (${String(body.state)})`;
    },
    (err: Error) => {
      status.textContent = err.message;
    },
  ).finally(() => void refresh());
});

$("fleet-poll").addEventListener("click", () => {
  void act("poll the desired state", () => api("POST", "/fleet/poll"));
});

$("records-filter").addEventListener("submit", (event) => {
  event.preventDefault();
  void refresh();
});
$("token-button").addEventListener("click", () => token(true));
$("telemetry-toggle").addEventListener("click", () => {
  const action = telemetryPaused ? "resume" : "pause";
  void act(`${action} telemetry uploads`, () => api("POST", `/telemetry/${action}`));
});
$("logs-package").addEventListener("change", () => void refresh());

/** One line per event: its type (and kind), then its fields as key=value. */
function describeEvent(event: Json): string {
  const { type, time: _time, kind, ...fields } = event;
  const label = kind && kind !== type ? `${String(type)}/${String(kind)}` : String(type);
  return `${label} ${Object.entries(fields).map(([k, v]) => `${k}=${typeof v === "object" && v !== null ? JSON.stringify(v) : String(v)}`).join(" ")}`;
}

// EventSource only delivers named events to listeners of that name: the runner's event categories.
const EVENT_TYPES = ["audit", "package", "worker", "session", "inspection"];
const events = new EventSource("/events");
for (const type of EVENT_TYPES) {
  events.addEventListener(type, (e) => {
    log(describeEvent(JSON.parse((e as MessageEvent<string>).data) as Json));
    void refresh();
  });
}

void refresh();
setInterval(() => void refresh(), 5000);
