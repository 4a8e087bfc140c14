import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { chooseInstaller, findUv } from "../../src/wheel-installer/index.js";
import { codeOf } from "../helpers/throws.js";

const work = mkdtempSync(path.join(tmpdir(), "pv-installer-choice-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("installer choice", () => {
  it("auto is the builtin installer on POSIX; on Windows uv when on PATH, pip otherwise; uv without uv is an error", () => {
    expect(chooseInstaller("auto", "/usr/bin/uv", "linux")).toEqual({ kind: "builtin" });
    expect(chooseInstaller("auto", undefined, "darwin")).toEqual({ kind: "builtin" });
    expect(chooseInstaller("auto", "C:\\uv.exe", "win32")).toEqual({ kind: "uv", uv: "C:\\uv.exe" });
    expect(chooseInstaller("auto", undefined, "win32")).toEqual({ kind: "pip" });
    expect(chooseInstaller("uv", "/usr/bin/uv")).toEqual({ kind: "uv", uv: "/usr/bin/uv" });
    expect(chooseInstaller("pip", "/usr/bin/uv")).toEqual({ kind: "pip" });
    expect(codeOf(() => chooseInstaller("uv", undefined))).toBe("2005");
  });
  it("finds an executable uv on a PATH", () => {
    const bin = mkdtempSync(path.join(work, "bin-"));
    writeFileSync(path.join(bin, "uv"), "#!/bin/sh\n", { mode: 0o755 });
    expect(findUv(`/nonexistent:${bin}`)).toBe(path.join(bin, "uv"));
    expect(findUv("/nonexistent")).toBeUndefined();
  });
});
