import type { RawImage } from "./decode.js";
import { loadSharp } from "./sharp.js";

/** What the overlay and the report draw: a step's calls as the local harness answered them (its StepOutcome fits). */
export interface DrawnStep {
  step_index: number;
  pre_execute?: DrawnCall;
  execute: DrawnCall;
}
interface DrawnCall {
  status: string;
  error_code: string | null;
  message: string;
  latency_ms: number;
  data: Record<string, unknown>;
}

export interface DrawnRect {
  x: number;
  y: number;
  width: number;
  height: number;
  label?: string;
  kind: "calibration" | "position" | "defect";
}

/** Calibration blue, position green, defect red (contract §2 `run --save-overlay`). */
const COLORS: Record<DrawnRect["kind"], string> = { calibration: "#1e6bff", position: "#19b34a", defect: "#ff2a2a" };

function rectsOf(data: Record<string, unknown>, key: string, kind: DrawnRect["kind"]): DrawnRect[] {
  const list = data[key];
  if (!Array.isArray(list)) return [];
  return list.flatMap((r: unknown) => {
    if (typeof r !== "object" || r === null) return [];
    const { x, y, width, height, label } = r as Record<string, unknown>;
    if (![x, y, width, height].every((v) => typeof v === "number" && Number.isFinite(v))) return [];
    return [{ x: x as number, y: y as number, width: width as number, height: height as number, kind,
      ...(typeof label === "string" ? { label } : {}) }];
  });
}

/** The position and defect rects of one execute result (an NG image's annotated copy). */
export function executeRects(data: Record<string, unknown>): DrawnRect[] {
  return [...rectsOf(data, "position_rects", "position"), ...rectsOf(data, "defect_rects", "defect")];
}

export function collectRects(steps: readonly DrawnStep[]): DrawnRect[] {
  return steps.flatMap((s) => [
    ...rectsOf(s.pre_execute?.data ?? {}, "calibration_rects", "calibration"),
    ...rectsOf(s.execute.data, "position_rects", "position"),
    ...rectsOf(s.execute.data, "defect_rects", "defect"),
  ]);
}

const escapeXml = (text: string) => text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The rects as an SVG layer of the image's size, to composite over it. */
export function svgLayer(width: number, height: number, rects: readonly DrawnRect[]): string {
  const stroke = Math.max(2, Math.round(Math.min(width, height) / 240));
  const font = Math.max(12, stroke * 6);
  const shapes = rects.map((r) => {
    const color = COLORS[r.kind];
    const label = r.label ? `<text x="${r.x + stroke}" y="${Math.max(font, r.y - stroke)}" fill="${color}" font-family="sans-serif" font-size="${font}">${escapeXml(r.label)}</text>` : "";
    return `<rect x="${r.x}" y="${r.y}" width="${r.width}" height="${r.height}" fill="none" stroke="${color}" stroke-width="${stroke}"/>${label}`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${shapes.join("")}</svg>`;
}

/** The (current) image as PNG with every returned rect drawn on it. */
export async function renderOverlay(image: RawImage, steps: readonly DrawnStep[]): Promise<Buffer> {
  const svg = Buffer.from(svgLayer(image.width, image.height, collectRects(steps)));
  const sharp = await loadSharp();
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels: image.channels } })
    .composite([{ input: svg, top: 0, left: 0 }])
    .png()
    .toBuffer();
}

/** A self-contained HTML report: the overlay image inline, and each call's status, verdict, rects and latency. */
export async function renderReport(input: { title: string; pid: string; imageName: string; image: RawImage; steps: readonly DrawnStep[] }): Promise<string> {
  const png = (await renderOverlay(input.image, input.steps)).toString("base64");
  const rows = input.steps.flatMap((s) => (["pre_execute", "execute"] as const).flatMap((method) => {
    const call = s[method];
    if (!call) return [];
    const data = call.data as { result_status?: string; ng_reason?: string };
    return `<tr class="${call.status === "OK" ? "ok" : "bad"}"><td>${s.step_index}</td><td>${method}</td><td>${escapeXml(call.status)}${call.error_code ? ` [${escapeXml(call.error_code)}]` : ""}</td>` +
      `<td>${escapeXml(data.result_status ?? "")}</td><td>${escapeXml(call.message)}</td><td>${escapeXml(data.ng_reason ?? "")}</td><td>${call.latency_ms.toFixed(1)} ms</td></tr>`;
  }));
  const json = escapeXml(JSON.stringify(input.steps, null, 2));
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeXml(input.title)} · ProcVision run</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem;color:#1d2430}h1{font-size:1.3rem}
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #d5dae1;padding:.35rem .6rem;text-align:left}
tr.ok td:nth-child(3){color:#19753a}tr.bad td:nth-child(3){color:#c0262d}img{max-width:100%;border:1px solid #d5dae1}
.legend span{display:inline-block;margin-right:1rem}.legend i{display:inline-block;width:.8rem;height:.8rem;margin-right:.3rem;vertical-align:middle}
pre{background:#f5f7fa;padding:1rem;overflow:auto;font-size:.8rem}
</style></head><body>
<h1>${escapeXml(input.title)} — pid ${escapeXml(input.pid)} — ${escapeXml(input.imageName)} (${input.image.width}×${input.image.height})</h1>
<p class="legend"><span><i style="background:${COLORS.calibration}"></i>calibration</span><span><i style="background:${COLORS.position}"></i>position</span><span><i style="background:${COLORS.defect}"></i>defect</span></p>
<img alt="inspected image with result rectangles" src="data:image/png;base64,${png}">
<table><thead><tr><th>step</th><th>call</th><th>status</th><th>verdict</th><th>message</th><th>ng_reason</th><th>latency</th></tr></thead><tbody>
${rows.join("\n")}
</tbody></table>
<details><summary>raw results</summary><pre>${json}</pre></details>
</body></html>
`;
}
