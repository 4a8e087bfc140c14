// The main job, for now: the bundled example algorithm on its sample image, through the real worker host and
// shared memory, exactly as the runner will call it. Uses the Python prepared by scripts/test-python.ts.
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { decodeImage } from "../src/image/decode.js";
import { runLocal } from "../src/local/run-local.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const project = path.join(root, "examples", "algorithm-example");
const manifest = JSON.parse(readFileSync(path.join(project, "manifest.json"), "utf8")) as {
  name: string; version: string; entry_point: string; supported_pids: string[]; steps?: { index: number }[];
};
const image = await decodeImage({ path: path.join(project, "sample.png") });
const result = await runLocal({
  projectDir: project,
  entryPoint: manifest.entry_point,
  python: path.join(root, ".cache", "test-venv", "bin", "python"),
  pid: manifest.supported_pids[0] ?? "p001",
  steps: (manifest.steps ?? [{ index: 1 }]).map((s) => s.index),
  image,
  timeoutMs: 10_000,
});

console.log(`${manifest.name} ${manifest.version} on sample.png (${image.width}×${image.height}), worker ready in ${result.startup_ms.toFixed(0)} ms`);
for (const step of result.steps) {
  const pre = step.pre_execute;
  const exec = step.execute;
  const data = exec.data as { result_status?: string; ng_reason?: string; defect_rects?: unknown[]; position_rects?: unknown[] };
  const calib = (pre?.data as { calibration_rects?: unknown[] } | undefined)?.calibration_rects ?? [];
  if (pre) console.log(`step ${step.step_index}: pre_execute ${pre.status} "${pre.message}" (${calib.length} calibration rects, ${pre.latency_ms.toFixed(1)} ms)`);
  console.log(`        execute ${exec.status} → ${data.result_status ?? "-"}${data.ng_reason ? ` "${data.ng_reason}"` : ""}` +
    ` (${data.defect_rects?.length ?? 0} defect, ${data.position_rects?.length ?? 0} position rects, ${exec.latency_ms.toFixed(1)} ms)`);
}
const failed = result.steps.some((s) => s.execute.status !== "OK");
process.exit(failed ? 1 : 0);
