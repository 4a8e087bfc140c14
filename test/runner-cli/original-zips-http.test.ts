// Zips made by the ORIGINAL `procvision-cli package` (0.0.5, 0.0.7: G1; 0.3.2: G3) on a real `procvision-runner
// serve`, through its HTTP API only, as a host application drives a station: upload, activate, inspect (the G3 one
// with a current and a guide image, step_desc and guide_info), all three active at once, each on its own PIDs.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serveRunner, type Served } from "../helpers/cli.js";
import { originalZip, type OriginalRelease } from "../helpers/original-cli.js";
import { EXAMPLE, SDK_VERSION } from "../helpers/store.js";

const work = mkdtempSync(path.join(tmpdir(), "pv-original-http-"));
const root = path.join(work, "root");
let server: Served;
const zips = {} as Record<OriginalRelease, string>;

beforeAll(async () => {
  zips["0.0.5"] = await originalZip("0.0.5", work, { name: "http-005", pids: ["A05"] });
  zips["0.0.7"] = await originalZip("0.0.7", work, { name: "http-007", pids: ["A01"] });
  zips["0.3.2"] = await originalZip("0.3.2", work, { name: "http-032" }); // a minimal manifest: no PIDs
  server = await serveRunner(root);
}, 600_000);

afterAll(async () => {
  await server?.stop();
  rmSync(work, { recursive: true, force: true });
});

const json = (value: unknown) => [JSON.stringify(value), "application/json"] as const;

/** A solid colour PNG: the G3 algorithm reports each image's size, so the two are told apart by size. */
const png = (width: number, height: number, r: number) =>
  sharp({ create: { width, height, channels: 3, background: { r, g: 0, b: 0 } } }).png().toBuffer();

describe("original zips on a real procvision-runner serve, over HTTP only", { timeout: 600_000 }, () => {
  it("each installs with the runner's SDK, activates on its PIDs and answers; the G3 one gets both images", async () => {
    for (const [release, pids] of [["0.0.5", ["A05"]], ["0.0.7", ["A01"]], ["0.3.2", ["LINE7", "LINE8"]]] as const) {
      const installed = await server.call("POST", "/algorithms/install", readFileSync(zips[release]), "application/zip");
      expect(installed.status, JSON.stringify(installed.json)).toBe(201);
      expect(installed.json).toMatchObject({ name: `http-${release.replaceAll(".", "")}`, version: "1.0.0", state: "installed" });
      expect(String(installed.json.warnings)).toMatch(new RegExp(`replaced by the runner's SDK ${SDK_VERSION.replaceAll(".", "\\.")}`));
      const activated = await server.call("POST", "/algorithms/activate", ...json({ name: installed.json.name, version: "1.0.0", pids }));
      expect(activated.status, JSON.stringify(activated.json)).toBe(200);
    }
    const active = (await server.call("GET", "/algorithms/active")).json as unknown as { pid: string; name: string }[];
    expect(active.map((b) => `${b.pid}→${b.name}`).sort()).toEqual(["A01→http-007", "A05→http-005", "LINE7→http-032", "LINE8→http-032"]);

    // G1 (0.0.x): pre_execute then execute on step 0 (as the original init numbered it), the sample image.
    for (const pid of ["A05", "A01"]) {
      const form = new FormData();
      form.set("pid", pid);
      form.set("step_index", "0");
      form.set("image", new Blob([readFileSync(path.join(EXAMPLE, "sample.png"))]), "sample.png");
      const answer = await server.call("POST", "/inspect", form);
      expect(answer.status, JSON.stringify(answer.json)).toBe(200);
      expect(answer.json).toMatchObject({ pre_execute: { status: "OK" }, execute: { status: "OK", data: { result_status: "OK", debug: { pid } } } });
    }

    // G3 (0.3.2): execute once with both images decoded, step_desc and guide_info.
    const form = new FormData();
    form.set("pid", "LINE8");
    form.set("step_index", "0");
    form.set("cur_image", new Blob([await png(64, 48, 200)]), "cur.png");
    form.set("guide_image", new Blob([await png(32, 24, 10)]), "guide.png");
    form.set("step_desc", "check screw 3");
    form.set("guide_info", JSON.stringify([{ label: "1", posList: [{ x: 1, y: 2, width: 3, height: 4 }] }]));
    const g3 = await server.call("POST", "/inspect", form);
    expect(g3.status, JSON.stringify(g3.json)).toBe(200);
    expect(g3.json.pre_execute).toBeUndefined();
    expect(g3.json).toMatchObject({
      name: "http-032", execute: { status: "OK", data: { result_status: "OK", debug: { width: 64, height: 48, guide: true, step_desc: "check screw 3" } } },
    });

    const records = await server.call("GET", "/records?pid=LINE8");
    expect(records.json).toEqual(expect.arrayContaining([expect.objectContaining({ method: "execute", guide_image: true, name: "http-032" })]));
  });
});
