// Two images per inspection (contract §5a): the guide image in a second segment of the worker's slot, step_desc and
// guide_info in the payload, methods by the generation the workers report, records saying whether a guide came along.
import { cpSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { manifestSchema } from "../../src/manifest/schema.js";
import { HeaderOffset } from "../../src/shm/segment-format.js";
import type { PackageSpec, RawPixels } from "../../src/supervisor/types.js";
import { fixture, testPython } from "../helpers/python.js";
import { fastConfig, makePackage, makeSupervisor, ownSegments, rawImage, stopAfterEach } from "./helpers.js";

const track = stopAfterEach();

/** Sequence number in a segment's header: how many frames were written into it. */
function sequenceOf(name: string): number {
  return Number(readFileSync(path.join("/dev/shm", name)).readBigUInt64LE(HeaderOffset.sequence));
}

describe("guide images and G1 algorithms", () => {
  it("a G1 inspection with a guide image runs both calls, writes each image once into its own segment, records guide_image", async () => {
    const pkg = makePackage();
    const h = track(makeSupervisor(fastConfig(), { p001: pkg.spec }));
    await h.sup.ensureRunning(pkg.spec);
    const cur = rawImage(8, 6);
    const res = await h.sup.inspect({
      pid: "p001", step_index: 1, image: cur, guide_image: rawImage(40, 30), step_desc: "check screw 3", guide_info: [{ label: "1", posList: [] }],
    });
    expect(res.pre_execute?.status).toBe("OK");
    // The G1 algorithm reads the current image; the guide does not replace it.
    expect(res.execute?.data).toMatchObject({ result_status: "OK", shape: [6, 8, 3], checksum: [...cur.data].reduce((a, b) => a + b, 0) });
    // Two segments, each written once: execute found both frames of pre_execute still in place.
    const segments = ownSegments();
    expect(segments).toHaveLength(2);
    expect(segments.map(sequenceOf)).toEqual([1, 1]);
    expect(h.records.map((r) => [r.method, r.guide_image])).toEqual([["pre_execute", true], ["execute", true]]);

    // Without a guide the inspection uses one segment and records guide_image false; the segments are reused, none added.
    const plain = await h.sup.inspect({ pid: "p001", step_index: 1, method: "execute", image: cur });
    expect(plain.execute?.status).toBe("OK");
    expect(ownSegments()).toEqual(segments);
    expect(h.records.at(-1)?.guide_image).toBe(false);
    await h.sup.stopAll();
    expect(ownSegments()).toEqual([]);
  });

  it("checks result rects against the current image, not the guide image", async () => {
    const pkg = makePackage({ rect_outside: true });
    const h = track(makeSupervisor(fastConfig(), { p001: pkg.spec }));
    await h.sup.ensureRunning(pkg.spec);
    // The algorithm puts a rect at x = width − 1 of the current image, 5 wide: inside the bigger guide, outside cur.
    const res = await h.sup.inspect({ pid: "p001", step_index: 1, method: "execute", image: rawImage(8, 6), guide_image: rawImage(40, 30) });
    expect(res.execute).toMatchObject({ status: "ERROR", error_code: "1007", message: expect.stringContaining("leaves the 8×6 image") });
  });

  it("refuses a bad guide image (1002), step_desc that is not a string and guide_info that is not JSON (1006), step_index < 0", async () => {
    const pkg = makePackage();
    const h = track(makeSupervisor(fastConfig(), { p001: pkg.spec }));
    await h.sup.ensureRunning(pkg.spec);
    const image = rawImage();
    await expect(h.sup.inspect({ pid: "p001", step_index: 1, image, guide_image: { data: Buffer.alloc(5), width: 8, height: 6 } }))
      .rejects.toMatchObject({ code: "1002" });
    await expect(h.sup.inspect({ pid: "p001", step_index: 1, image, guide_image: { bytes: Buffer.from("not an image") } }))
      .rejects.toMatchObject({ code: "1002" });
    await expect(h.sup.inspect({ pid: "p001", step_index: 1, image, step_desc: 3 as unknown as string }))
      .rejects.toMatchObject({ code: "1006", message: expect.stringContaining("step_desc") });
    await expect(h.sup.inspect({ pid: "p001", step_index: 1, image, guide_info: { at: new Date() } }))
      .rejects.toMatchObject({ code: "1006", message: expect.stringContaining("guide_info"), hint: expect.stringContaining("posList") });
    await expect(h.sup.inspect({ pid: "p001", step_index: -1, image }))
      .rejects.toMatchObject({ code: "1006", message: expect.stringContaining("≥ 0") });
    expect(h.records).toEqual([]);
  });

  it("takes step_index 0 (projects made by the original init count from 0)", async () => {
    const pkg = makePackage();
    const manifest = { ...pkg.spec.manifest, steps: [{ index: 0, name: "inspect", params: [] }] };
    const spec = { ...pkg.spec, manifest };
    const h = track(makeSupervisor(fastConfig(), { p001: spec }));
    await h.sup.ensureRunning(spec);
    const res = await h.sup.inspect({ pid: "p001", step_index: 0, method: "execute", image: rawImage() });
    expect(res.execute?.status).toBe("OK");
    expect(h.records[0]?.step_index).toBe(0);
    // Without a step_index, the manifest's first step (not a step 1 it does not declare).
    expect((await h.sup.inspect({ pid: "p001", method: "execute", image: rawImage() })).execute?.status).toBe("OK");
    expect(h.records[1]?.step_index).toBe(0);
  });

  it("without a step_index and without steps in the manifest, step 1", async () => {
    const spec = executeOnlyPackage();
    const h = track(makeSupervisor(fastConfig(), { p100: spec }));
    await h.sup.ensureRunning(spec);
    expect((await h.sup.inspect({ pid: "p100", image: plain(30) })).execute?.data).toMatchObject({ step_index: 1 });
  });
});

/** A package of an execute-only fixture (g3: written for the original SDK 0.3.x; g2), in a directory of its own. */
function executeOnlyPackage(which: "g2" | "g3" = "g3"): PackageSpec {
  const dir = mkdtempSync(path.join(tmpdir(), `pv-sup-${which}-`));
  cpSync(fixture(which), dir, { recursive: true });
  const manifest = manifestSchema.parse(JSON.parse(readFileSync(path.join(dir, "manifest.json"), "utf8")));
  return { name: manifest.name, version: manifest.version, dir, python: testPython(), entryPoint: manifest.entry_point, manifest };
}

const plain = (value: number, width = 8, height = 6): RawPixels => ({ data: Buffer.alloc(width * height * 3, value), width, height });

describe("execute-only generations", () => {
  it("G3: both runs execute once with both images decoded, step_desc and guide_info; NG rect from guide_info; recorded", async () => {
    const spec = executeOnlyPackage();
    const h = track(makeSupervisor(fastConfig(), { p100: spec }));
    await h.sup.ensureRunning(spec);
    const guideInfo = [{ label: "1", posList: [{ x: 2, y: 1, width: 3, height: 2 }] }];
    const res = await h.sup.inspect({
      pid: "p100", step_index: 0, image: plain(10), guide_image: plain(200, 12, 9), step_desc: "check screw 3", guide_info: guideInfo,
    });
    expect(res.pre_execute).toBeUndefined();
    expect(res.execute).toMatchObject({
      status: "OK",
      data: {
        result_status: "NG", ng_reason: "part missing at guide position", step_index: 0, step_desc: "check screw 3", guide_info: guideInfo,
        cur_shape: [6, 8, 3], cur_mean: 10, guide_shape: [9, 12, 3], guide_mean: 200, guide_writable: true,
        defect_rects: [{ x: 2, y: 1, width: 3, height: 2, label: "missing" }],
      },
    });
    expect(h.records.map((r) => [r.method, r.step_index, r.result_status, r.defect_rects, r.guide_image])).toEqual([["execute", 0, "NG", 1, true]]);
    // method execute is the same single call.
    const exec = await h.sup.inspect({ pid: "p100", step_index: 0, method: "execute", image: plain(10), guide_image: plain(200, 12, 9) });
    expect(exec.execute?.data).toMatchObject({ result_status: "OK", guide_mean: 200, step_desc: "", guide_info: [] });
  });

  it("G3 without a guide image: the algorithm gets guide_image None, defaults for step_desc and guide_info; recorded without guide", async () => {
    const spec = executeOnlyPackage();
    const h = track(makeSupervisor(fastConfig(), { p100: spec }));
    await h.sup.ensureRunning(spec);
    const res = await h.sup.inspect({ pid: "p100", step_index: 0, image: plain(30) });
    expect(res.execute?.data).toMatchObject({ result_status: "OK", cur_mean: 30, guide_shape: null, guide_mean: null, step_desc: "", guide_info: [] });
    expect(h.records.map((r) => [r.method, r.guide_image])).toEqual([["execute", false]]);
  });

  it("G3: rects are checked against the current image (1007 for a guide position outside it); pre_execute is refused with 1006", async () => {
    const spec = executeOnlyPackage();
    const h = track(makeSupervisor(fastConfig(), { p100: spec }));
    await h.sup.ensureRunning(spec);
    // Inside the 40×30 guide image, outside the 8×6 current one.
    const res = await h.sup.inspect({
      pid: "p100", step_index: 0, image: plain(10), guide_image: plain(10, 40, 30), guide_info: [{ label: "1", posList: [{ x: 20, y: 20, width: 5, height: 5 }] }],
    });
    expect(res.execute).toMatchObject({ status: "ERROR", error_code: "1007", message: expect.stringContaining("8×6") as unknown });
    await expect(h.sup.inspect({ pid: "p100", step_index: 0, method: "pre_execute", image: plain(10) })).rejects.toMatchObject({
      code: "1006", hint: "G3 algorithms have only execute: use method execute or both",
    });
  });

  it("a G1 and a G3 version run side by side in one supervisor, each answering for its PIDs", async () => {
    const g1 = makePackage();
    const g3 = executeOnlyPackage();
    const h = track(makeSupervisor(fastConfig(), { p001: g1.spec, p100: g3 }));
    await Promise.all([h.sup.ensureRunning(g1.spec), h.sup.ensureRunning(g3)]);
    const [a, b] = await Promise.all([
      h.sup.inspect({ pid: "p001", step_index: 1, image: plain(10), guide_image: plain(200) }),
      h.sup.inspect({ pid: "p100", step_index: 0, image: plain(10), guide_image: plain(200) }),
    ]);
    expect(a).toMatchObject({ name: "sup-algo", pre_execute: { status: "OK" }, execute: { status: "OK", data: { shape: [6, 8, 3] } } });
    expect(b).toMatchObject({ name: "g3-algo", execute: { status: "OK", data: { cur_mean: 10, guide_mean: 200 } } });
    expect(b.pre_execute).toBeUndefined();
  });

  it("G2 (execute-only with session and shared memory) runs execute once for both and refuses pre_execute", async () => {
    const spec = executeOnlyPackage("g2");
    const h = track(makeSupervisor(fastConfig(), { p200: spec }));
    await h.sup.ensureRunning(spec);
    const session = h.sup.createSession("p200");
    const res = await h.sup.inspect({ pid: "p200", step_index: 0, session_id: session.id, user_params: { k: 1 }, image: plain(5) });
    expect(res.pre_execute).toBeUndefined();
    expect(res.execute?.data).toMatchObject({ result_status: "OK", shape: [6, 8, 3], calls: 1, params: { k: 1 } });
    expect((await h.sup.inspect({ pid: "p200", step_index: 0, session_id: session.id, method: "execute", image: plain(5) })).execute?.data.calls).toBe(2);
    await expect(h.sup.inspect({ pid: "p200", step_index: 0, method: "pre_execute", image: plain(5) })).rejects.toMatchObject({
      code: "1006", hint: "G2 algorithms have only execute: use method execute or both",
    });
  });

  it("refuses an explicit pre_execute for a pool whose workers said G3 (1006 with a hint), before any call", async () => {
    // A stand-in worker that reports G3 in ready: the refusal comes from the generation alone, no call is sent.
    const pkg = makePackage();
    const spec = { ...pkg.spec, python: fixture("fake-worker.mjs"), env: { FAKE_GENERATION: "G3" } };
    const h = track(makeSupervisor(fastConfig(), { p001: spec }));
    await h.sup.ensureRunning(spec);
    await expect(h.sup.inspect({ pid: "p001", step_index: 1, method: "pre_execute", image: rawImage() })).rejects.toMatchObject({
      code: "1006", hint: "G3 algorithms have only execute: use method execute or both",
    });
    expect(h.sup.status()[0]?.workers[0]?.calls).toBe(0);
  });
});
