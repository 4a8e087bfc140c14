// Two images through the library (contract §5a, §7 "Library"): Runner.inspect({..., image, guide_image?, step_desc?,
// guide_info?}) with a G1 and a G3 package installed from real zips and active on one runner, each for its PIDs.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Runner } from "../../src/index.js";
import { EXAMPLE, exampleZip, g3Zip } from "../helpers/store.js";

const work = mkdtempSync(path.join(tmpdir(), "pv-runner-dual-"));
let runner: Runner;

beforeAll(async () => {
  const [g1, g3] = await Promise.all([exampleZip(work), g3Zip(work)]);
  runner = await Runner.open({ root: path.join(work, "root"), log: () => undefined });
  for (const zip of [g1, g3]) expect((await runner.install(zip)).state).toBe("installed");
  await runner.activate("algorithm-example", "1.0", ["p001"]);
  await runner.activate("g3-algo", "1.0", ["line-7"]);
}, 240_000);

afterAll(async () => {
  await runner?.close();
  rmSync(work, { recursive: true, force: true });
});

describe("Runner.inspect with a guide image", { timeout: 60_000 }, () => {
  it("passes both images (raw pixels, a file), step_desc and guide_info to a G3 package next to a G1 one; records say guide_image", async () => {
    const guidePng = path.join(work, "guide.png");
    await sharp({ create: { width: 20, height: 10, channels: 3, background: { r: 200, g: 200, b: 200 } } }).png().toFile(guidePng);
    const guideInfo = [{ label: "1", posList: [{ x: 1, y: 1, width: 2, height: 2 }] }];
    const [g3, g1] = await Promise.all([
      runner.inspect({
        pid: "line-7", step_index: 0, image: { data: Buffer.alloc(16 * 12 * 3, 10), width: 16, height: 12 }, guide_image: { path: guidePng },
        step_desc: "check screw 3", guide_info: guideInfo,
      }),
      runner.inspect({ pid: "p001", step_index: 1, image: { path: path.join(EXAMPLE, "sample.png") }, guide_image: { path: guidePng } }),
    ]);
    expect(g3).toMatchObject({
      name: "g3-algo",
      execute: { status: "OK", data: { result_status: "NG", step_desc: "check screw 3", guide_info: guideInfo, cur_mean: 10, guide_shape: [10, 20, 3], guide_mean: 200 } },
    });
    expect(g3.pre_execute).toBeUndefined();
    expect(g1).toMatchObject({ name: "algorithm-example", pre_execute: { status: "OK" }, execute: { status: "OK" } });
    expect((await runner.records({ pid: "line-7" })).map((r) => [r.method, r.step_index, r.guide_image])).toEqual([["execute", 0, true]]);
    expect((await runner.records({ pid: "p001" })).map((r) => r.guide_image)).toEqual([true, true]);
    const single = await runner.inspect({ pid: "line-7", step_index: 0, image: { data: Buffer.alloc(16 * 12 * 3, 10), width: 16, height: 12 } });
    expect(single.execute?.data).toMatchObject({ result_status: "OK", guide_mean: null, guide_info: [] });
    expect((await runner.records({ pid: "line-7", limit: 1 }))[0]?.guide_image).toBe(false);
  });

  it("checks raw guide pixels like the current image: bad channels or size are 1002 request errors", async () => {
    const image = { data: Buffer.alloc(16 * 12 * 3, 10), width: 16, height: 12 };
    await expect(runner.inspect({ pid: "line-7", step_index: 0, image, guide_image: { data: Buffer.alloc(32), width: 4, height: 4, channels: 2 } }))
      .rejects.toMatchObject({ code: "1002", message: expect.stringContaining("channels must be 1 or 3") as unknown });
    await expect(runner.inspect({ pid: "line-7", step_index: 0, image, guide_image: { data: Buffer.alloc(10), width: 4, height: 4 } }))
      .rejects.toMatchObject({ code: "1002" });
  });
});
