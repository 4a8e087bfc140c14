// The runner's web console: one page over the HTTP API. No framework: the API is small and the page must load fast
// on a station's browser. Mutations send the token kept in sessionStorage (asked once).

type Json = Record<string, unknown>;
interface Rect { x: number; y: number; width: number; height: number }
interface CallResult { status: string; message?: string; error_code?: string | null; data?: Json; latency_ms?: number }

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const TOKEN_KEY = "procvision-token";

function token(ask = false): string | null {
  let value = sessionStorage.getItem(TOKEN_KEY);
  if (!value || ask) {
    value = window.prompt("Runner token (from <root>/token on the station):", value ?? "");
    if (value) sessionStorage.setItem(TOKEN_KEY, value.trim());
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
  dialog.showModal();
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

function renderPackages(packages: Json[], bindings: Json[]): void {
  const body = rows("packages");
  for (const p of packages) {
    const name = String(p.name);
    const version = String(p.version);
    const bound = bindings.filter((b) => b.name === name && b.version === version).map((b) => String(b.pid));
    const supported = (p.supported_pids as string[] | undefined) ?? [];
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

function renderBindings(bindings: Json[]): void {
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
    cell(row, b.since);
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

function renderWorkers(workers: Json[]): void {
  const body = rows("workers");
  for (const w of workers) {
    const row = body.insertRow();
    row.dataset.pid = String(w.pid ?? "");
    cell(row, `${String(w.name)} ${String(w.version)}`);
    cell(row, w.pid);
    cell(row, w.state, `state-${String(w.state)}`);
    cell(row, seconds(w.uptime_ms));
    cell(row, w.restarts);
    cell(row, seconds(w.heartbeat_age_ms));
    cell(row, w.circuit);
  }
}

function renderRecords(records: Json[]): void {
  const body = rows("records");
  for (const r of records) {
    const row = body.insertRow();
    cell(row, r.time);
    cell(row, r.pid);
    cell(row, `${String(r.name)} ${String(r.version)}`);
    cell(row, r.step_index);
    cell(row, r.method);
    cell(row, r.status, r.status === "OK" ? "ok" : "error");
    cell(row, r.result_status, r.result_status === "NG" ? "ng" : "ok");
    cell(row, r.ng_reason);
    cell(row, typeof r.latency_ms === "number" ? r.latency_ms.toFixed(1) : "");
  }
}

function renderAudit(entries: Json[]): void {
  const body = rows("audit");
  for (const e of entries) {
    const row = body.insertRow();
    cell(row, e.time);
    cell(row, e.operator);
    cell(row, e.action);
    cell(row, e.target);
    cell(row, e.outcome, e.outcome === "ok" ? "ok" : "error");
  }
}

async function refresh(): Promise<void> {
  try {
    const filter = new URLSearchParams({ limit: "50" });
    if ($<HTMLInputElement>("records-pid").value) filter.set("pid", $<HTMLInputElement>("records-pid").value);
    if ($<HTMLSelectElement>("records-result").value) filter.set("result_status", $<HTMLSelectElement>("records-result").value);
    const [health, packages, bindings, records, audit] = await Promise.all([
      api("GET", "/health"), api("GET", "/algorithms"), api("GET", "/algorithms/active"), api("GET", `/records?${filter.toString()}`), api("GET", "/audit?limit=50"),
    ]) as [Json, Json[], Json[], Json[], Json[]];
    $("health").textContent = String(health.status ?? "?");
    renderPackages(packages, bindings);
    renderBindings(bindings);
    renderWorkers((health.workers as Json[] | undefined) ?? []);
    renderRecords(records);
    renderAudit(audit);
  } catch (err) {
    $("health").textContent = `unreachable: ${(err as Error).message}`;
  }
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
  return `${label}: ${r.status}${code}${verdict}${reason} ${r.message ?? ""} — ${r.latency_ms?.toFixed(1) ?? "?"} ms`;
}

$("inspect-form").addEventListener("submit", (event) => {
  event.preventDefault();
  void (async () => {
    const file = $<HTMLInputElement>("inspect-image").files?.[0];
    if (!file) return;
    const form = new FormData();
    form.set("pid", $<HTMLSelectElement>("inspect-pid").value);
    form.set("step_index", $<HTMLInputElement>("inspect-step").value);
    form.set("method", $<HTMLSelectElement>("inspect-method").value);
    if ($<HTMLInputElement>("inspect-params").value.trim()) form.set("user_params", $<HTMLInputElement>("inspect-params").value);
    form.set("image", file, file.name);
    const img = $<HTMLImageElement>("inspect-img");
    img.src = URL.createObjectURL(file);
    await img.decode();
    const summary = $("inspect-summary");
    try {
      const result = await api("POST", "/inspect", form) as { name: string; version: string; pre_execute?: CallResult; execute?: CallResult };
      const drawn = drawRects(img.naturalWidth, img.naturalHeight, [result.pre_execute, result.execute].filter((r): r is CallResult => r !== undefined));
      summary.dataset.rects = String(drawn);
      summary.replaceChildren(...[`${result.name} ${result.version}`, describe("pre_execute", result.pre_execute), describe("execute", result.execute)]
        .filter(Boolean).map((line) => Object.assign(document.createElement("div"), { textContent: line })));
      const verdict = result.execute?.data?.result_status;
      summary.className = verdict === "NG" || result.execute?.status === "ERROR" ? "ng" : "ok";
    } catch (err) {
      summary.textContent = (err as Error).message;
      summary.className = "error";
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
  xhr.open("POST", `/algorithms/install${$<HTMLInputElement>("install-force").checked ? "?force=true" : ""}`);
  xhr.setRequestHeader("authorization", `Bearer ${token() ?? ""}`);
  xhr.setRequestHeader("content-type", "application/zip");
  xhr.upload.onprogress = (e) => {
    if (e.lengthComputable) progress.value = Math.round((100 * e.loaded) / e.total);
    status.textContent = progress.value < 100 ? "uploading…" : "installing…";
  };
  xhr.onload = () => {
    const body = JSON.parse(xhr.responseText || "{}") as Json;
    status.textContent = xhr.status < 300 ? `installed ${String(body.name)} ${String(body.version)} (${String(body.state)})` : `[${String(body.error_code)}] ${String(body.message)}`;
    progress.hidden = true;
    void refresh();
  };
  xhr.onerror = () => {
    status.textContent = "upload failed";
  };
  xhr.send(file);
});

$("records-filter").addEventListener("submit", (event) => {
  event.preventDefault();
  void refresh();
});
$("token-button").addEventListener("click", () => token(true));

const events = new EventSource("/events");
events.onmessage = (e) => log(e.data as string);
for (const type of ["package", "activation", "worker", "install", "inspection", "session", "log"]) {
  events.addEventListener(type, (e) => {
    const data = JSON.parse((e as MessageEvent<string>).data) as Json;
    log(`${type} ${JSON.stringify(data)}`);
    if (type !== "log" && type !== "inspection") void refresh();
  });
}

void refresh();
setInterval(() => void refresh(), 5000);
