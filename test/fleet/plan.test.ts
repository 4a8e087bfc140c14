// The desired-state document and the convergence plan: pure decisions of the fleet agent.
import { describe, expect, it } from "vitest";
import { EMPTY_DESIRED, parseDesired, setDesired, stationPackages } from "../../src/fleet/document.js";
import { planConvergence, type ResolvedEntry } from "../../src/fleet/plan.js";

const A = "oci://reg/vision/screw@sha256:" + "a".repeat(64);
const B = "oci://reg/vision/screw@sha256:" + "b".repeat(64);

describe("the desired-state document", () => {
  it("set moves PIDs to a package on the line, or on named stations only (an override of just those PIDs)", () => {
    const line = setDesired(EMPTY_DESIRED, A, ["A01", "A02"]);
    expect(line).toEqual({ packages: [{ ref: A, pids: ["A01", "A02"] }], stations: {} });
    const moved = setDesired(line, B, ["A02"]);
    expect(moved.packages).toEqual([{ ref: A, pids: ["A01"] }, { ref: B, pids: ["A02"] }]);
    const override = setDesired(line, B, ["A01"], ["st-3"]);
    expect(override.stations).toEqual({ "st-3": { packages: [{ ref: B, pids: ["A01"] }] } });
    expect(stationPackages(override, "st-3")).toEqual([{ ref: A, pids: ["A02"] }, { ref: B, pids: ["A01"] }]);
    expect(stationPackages(override, "st-1")).toEqual(line.packages);
    // The line's other PIDs still reach an overridden station; a line-wide set of an overridden PID ends the override.
    const C = A.replace("a".repeat(64), "c".repeat(64));
    expect(stationPackages(setDesired(override, C, ["A02"]), "st-3")).toEqual([{ ref: C, pids: ["A02"] }, { ref: B, pids: ["A01"] }]);
    expect(setDesired(override, C, ["A01"]).stations).toEqual({});
  });

  it("a document that is not one, or binds one PID twice, is refused with a code", () => {
    expect(() => parseDesired({ packages: [{ ref: "http://x", pids: ["A01"] }] }, "here")).toThrow(expect.objectContaining({ code: "1006" }));
    expect(() => parseDesired({ packages: [], extra: 1 }, "here")).toThrow(expect.objectContaining({ code: "1006" }));
    expect(() => parseDesired({ packages: [{ ref: A, pids: ["A01"] }, { ref: B, pids: ["A01"] }] }, "here")).toThrow(expect.objectContaining({ code: "2006" }));
    expect(parseDesired({ packages: [] }, "here")).toEqual(EMPTY_DESIRED);
  });
});

describe("the convergence plan", () => {
  const want: ResolvedEntry = { ref: A, name: "screw", version: "2.0", zipSha256: "1".repeat(64), pids: ["A01", "A02"] };

  it("installs what is missing, then binds the PIDs not yet on it", () => {
    expect(planConvergence([want], [], [])).toEqual({ installs: [{ ref: A, force: false }], binds: [{ name: "screw", version: "2.0", pids: ["A01", "A02"] }] });
  });

  it("an installed version counts only if it came from the very same zip; an invalid one is installed again", () => {
    const same = { name: "screw", version: "2.0", state: "installed", zip_sha256: "1".repeat(64) };
    expect(planConvergence([want], [same], [{ pid: "A01", name: "screw", version: "2.0" }])).toEqual({ installs: [], binds: [{ name: "screw", version: "2.0", pids: ["A02"] }] });
    expect(planConvergence([want], [{ ...same, zip_sha256: "2".repeat(64) }], []).installs).toEqual([{ ref: A, force: true }]);
    expect(planConvergence([want], [{ ...same, state: "invalid" }], []).installs).toEqual([{ ref: A, force: true }]);
  });

  it("nothing to do when the station already runs the desired state; PIDs the document does not name are left alone", () => {
    const same = { name: "screw", version: "2.0", state: "installed", zip_sha256: "1".repeat(64) };
    const bindings = [{ pid: "A01", name: "screw", version: "2.0" }, { pid: "A02", name: "screw", version: "2.0" }, { pid: "Z9", name: "other", version: "1" }];
    expect(planConvergence([want], [same], bindings)).toEqual({ installs: [], binds: [] });
  });
});
