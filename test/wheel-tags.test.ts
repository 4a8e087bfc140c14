import { execFileSync, spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { ProcVisionError } from "../src/errors/index.js";
import { sanitizeRequirements } from "../src/requirements/index.js";
import {
  expandManylinux, INTERPRETER_PROBE, interpreterTarget, markerEnvironment, matchRequirementsToWheels, parseWheelFilename,
  pythonVersionParts, supportedTags, versionNodot, wheelSupported, type WheelFilename, type WheelTarget,
} from "../src/wheel-tags/index.js";
import { testPython } from "./helpers/python.js";

const NUMPY_WIN = "numpy-2.2.6-cp310-cp310-win_amd64.whl";
const NUMPY_311_LINUX = "numpy-2.2.6-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl";
const NUMPY_310_LINUX = "numpy-2.2.6-cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64.whl";
const OPENCV = "opencv_python_headless-4.10.0.84-cp37-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl";
const TORCH_WIN = "torch-2.5.1-cp310-cp310-win_amd64.whl";
const TORCH_2_28 = "torch-2.6.0-cp310-cp310-manylinux_2_28_x86_64.whl";
const SIX = "six-1.16.0-py2.py3-none-any.whl";

const linux310: WheelTarget = { pythonVersion: "3.10", implementation: "cp", abi: "cp310", platforms: ["manylinux_2_17_x86_64"] };
const win310: WheelTarget = { pythonVersion: "3.10", implementation: "cp", abi: "cp310", platforms: ["win_amd64"] };

function wheel(name: string): WheelFilename {
  const parsed = parseWheelFilename(name);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.wheel;
}

describe("parseWheelFilename", () => {
  it.each<[string, Partial<WheelFilename>]>([
    [NUMPY_WIN, { distribution: "numpy", normalizedName: "numpy", version: "2.2.6", tags: ["cp310-cp310-win_amd64"] }],
    [NUMPY_311_LINUX, { version: "2.2.6", tags: ["cp311-cp311-manylinux_2_17_x86_64", "cp311-cp311-manylinux2014_x86_64"] }],
    [OPENCV, { distribution: "opencv_python_headless", normalizedName: "opencv-python-headless", version: "4.10.0.84", tags: ["cp37-abi3-manylinux_2_17_x86_64", "cp37-abi3-manylinux2014_x86_64"] }],
    [TORCH_WIN, { normalizedName: "torch", version: "2.5.1", tags: ["cp310-cp310-win_amd64"] }],
    [SIX, { version: "1.16.0", tags: ["py2-none-any", "py3-none-any"] }],
    [TORCH_2_28, { tags: ["cp310-cp310-manylinux_2_28_x86_64"] }],
    ["torch-2.5.1+cu121-cp310-cp310-linux_x86_64.whl", { version: "2.5.1+cu121", tags: ["cp310-cp310-linux_x86_64"] }],
    ["foo-1.0-1build2-py3-none-any.whl", { version: "1.0", build: "1build2", tags: ["py3-none-any"] }],
    ["wheels/Zope.Interface-7.1.1-cp310-cp310-macosx_11_0_arm64.whl", { fileName: "Zope.Interface-7.1.1-cp310-cp310-macosx_11_0_arm64.whl", normalizedName: "zope-interface" }],
    ["C:\\w\\six-1.16.0-py2.py3-none-any.whl", { fileName: SIX }],
  ])("parses %s", (name, expected) => {
    expect(wheel(name)).toMatchObject(expected);
  });

  it("has no build field without a build tag", () => {
    expect(wheel(SIX)).not.toHaveProperty("build");
  });

  it.each([
    ["numpy-2.2.6.tar.gz", "expected a .whl file"],
    ["numpy-2.2.6-cp310-win_amd64.whl", "expected {distribution}-{version}(-{build})?-{python}-{abi}-{platform}.whl"],
    ["a-b-1.0-x-py3-none-any.whl", "expected {distribution}-{version}(-{build})?-{python}-{abi}-{platform}.whl"],
    ["num py-1.0-py3-none-any.whl", 'expected a distribution name of letters, digits, "_" and ".", got "num py"'],
    ["numpy-latest-py3-none-any.whl", 'expected a PEP 440 version, got "latest"'],
    ["numpy-1.0-b1-py3-none-any.whl", 'expected a build tag that starts with a digit, got "b1"'],
    ["numpy-1.0-py3..py2-none-any.whl", 'expected a python tag, got "py3..py2"'],
    ["numpy-1.0-py3--any.whl", 'expected an abi tag, got ""'],
    ["numpy-1.0-py3-none-.whl", 'expected a platform tag, got ""'],
    ["numpy-1.0-py3-abi!-any.whl", 'expected an abi tag, got "abi!"'],
  ])("rejects %s", (name, why) => {
    expect(parseWheelFilename(name)).toEqual({ ok: false, reason: `invalid wheel file name ${JSON.stringify(name)}: ${why}` });
  });
});

const X86_2_17_DOWN = [
  "manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux_2_16_x86_64", "manylinux_2_15_x86_64", "manylinux_2_14_x86_64",
  "manylinux_2_13_x86_64", "manylinux_2_12_x86_64", "manylinux2010_x86_64", "manylinux_2_11_x86_64", "manylinux_2_10_x86_64",
  "manylinux_2_9_x86_64", "manylinux_2_8_x86_64", "manylinux_2_7_x86_64", "manylinux_2_6_x86_64", "manylinux_2_5_x86_64",
  "manylinux1_x86_64",
];

describe("expandManylinux", () => {
  it.each<[string, string[]]>([
    ["manylinux_2_17_x86_64", X86_2_17_DOWN],
    ["manylinux2014_x86_64", X86_2_17_DOWN],
    ["manylinux_2_28_x86_64", [...Array.from({ length: 11 }, (_, i) => `manylinux_2_${28 - i}_x86_64`), ...X86_2_17_DOWN]],
    ["manylinux2010_i686", ["manylinux_2_12_i686", "manylinux2010_i686", "manylinux_2_11_i686", "manylinux_2_10_i686", "manylinux_2_9_i686",
      "manylinux_2_8_i686", "manylinux_2_7_i686", "manylinux_2_6_i686", "manylinux_2_5_i686", "manylinux1_i686"]],
    ["manylinux1_x86_64", ["manylinux_2_5_x86_64", "manylinux1_x86_64"]],
    ["manylinux_2_19_aarch64", ["manylinux_2_19_aarch64", "manylinux_2_18_aarch64", "manylinux_2_17_aarch64", "manylinux2014_aarch64"]],
    ["manylinux2014_ppc64le", ["manylinux_2_17_ppc64le", "manylinux2014_ppc64le"]],
    ["manylinux_2_12_aarch64", ["manylinux_2_12_aarch64"]], // below the architecture's oldest: left alone
    ["manylinux_3_1_x86_64", ["manylinux_3_1_x86_64"]],
    ["win_amd64", ["win_amd64"]],
    ["linux_x86_64", ["linux_x86_64"]],
    ["macosx_11_0_arm64", ["macosx_11_0_arm64"]],
    ["musllinux_1_2_x86_64", ["musllinux_1_2_x86_64"]],
    ["any", ["any"]],
  ])("%s", (platform, expected) => {
    expect(expandManylinux(platform)).toEqual(expected);
  });
});

describe("python versions", () => {
  it.each<[string, [number, number], string]>([
    ["3.10", [3, 10], "310"],
    ["3.9", [3, 9], "39"],
    ["3.12.4", [3, 12], "312"],
  ])("%s", (version, parts, nodot) => {
    expect(pythonVersionParts(version)).toEqual(parts);
    expect(versionNodot(version)).toBe(nodot);
  });

  it.each(["3", "3.x", "py310", ""])("rejects %j", (version) => {
    expect(() => pythonVersionParts(version)).toThrow(`expected a Python version like "3.10", got ${JSON.stringify(version)}`);
  });
});

describe("supportedTags", () => {
  it("orders a CPython Windows target like packaging.tags", () => {
    expect(supportedTags(win310)).toEqual([
      "cp310-cp310-win_amd64",
      "cp310-abi3-win_amd64",
      "cp310-none-win_amd64",
      ...[9, 8, 7, 6, 5, 4, 3, 2].map((m) => `cp3${m}-abi3-win_amd64`),
      ...["py310", "py3", ...[9, 8, 7, 6, 5, 4, 3, 2, 1, 0].map((m) => `py3${m}`)].map((py) => `${py}-none-win_amd64`),
      "cp310-none-any",
      ...["py310", "py3", ...[9, 8, 7, 6, 5, 4, 3, 2, 1, 0].map((m) => `py3${m}`)].map((py) => `${py}-none-any`),
    ]);
  });

  it("expands manylinux platforms, each platform in family order within an ABI", () => {
    const tags = supportedTags(linux310);
    expect(tags.slice(0, 3)).toEqual(["cp310-cp310-manylinux_2_17_x86_64", "cp310-cp310-manylinux2014_x86_64", "cp310-cp310-manylinux_2_16_x86_64"]);
    expect(tags).toContain("cp37-abi3-manylinux2014_x86_64");
    expect(tags).toContain("py3-none-manylinux1_x86_64");
    expect(tags).not.toContain("cp310-cp310-manylinux_2_28_x86_64");
    expect(tags).not.toContain("cp310-cp310-linux_x86_64");
  });

  it("gives free-threaded builds no abi3", () => {
    const tags = supportedTags({ pythonVersion: "3.13", implementation: "cp", abi: "cp313t", platforms: ["win_amd64"] });
    expect(tags.slice(0, 2)).toEqual(["cp313-cp313t-win_amd64", "cp313-none-win_amd64"]);
    expect(tags.some((t) => t.includes("abi3"))).toBe(false);
  });

  it("treats other implementations like packaging's generic_tags", () => {
    const tags = supportedTags({ pythonVersion: "3.10", implementation: "pp", abi: "pypy310_pp73", platforms: ["win_amd64"] });
    expect(tags.slice(0, 4)).toEqual(["pp310-pypy310_pp73-win_amd64", "pp310-none-win_amd64", "py310-none-win_amd64", "py3-none-win_amd64"]);
    expect(tags).toContain("pp310-none-any");
    expect(tags.some((t) => t.includes("abi3"))).toBe(false);
  });
});

describe("wheelSupported", () => {
  const linuxTags = supportedTags(linux310);
  const linux228 = supportedTags({ ...linux310, platforms: ["manylinux_2_28_x86_64"] });
  const winTags = new Set(supportedTags(win310));

  it.each<[string, boolean, boolean, boolean]>([
    // wheel                                        linux 2.17  linux 2.28  windows
    [NUMPY_WIN, false, false, true],
    [NUMPY_311_LINUX, false, false, false],
    [NUMPY_310_LINUX, true, true, false],
    [OPENCV, true, true, false],
    [TORCH_WIN, false, false, true],
    [TORCH_2_28, false, true, false],
    [SIX, true, true, true],
    ["numpy-2.2.6-pp310-pypy310_pp73-manylinux_2_17_x86_64.whl", false, false, false],
    ["numpy-2.2.6-cp310-cp310-macosx_14_0_arm64.whl", false, false, false],
    ["legacy-1.0-cp310-cp310-manylinux1_x86_64.whl", true, true, false],
    ["not-a-wheel.tar.gz", false, false, false],
  ])("%s", (name, onLinux217, onLinux228, onWindows) => {
    expect(wheelSupported(name, linuxTags)).toBe(onLinux217);
    expect(wheelSupported(name, linux228)).toBe(onLinux228);
    expect(wheelSupported(name, winTags)).toBe(onWindows);
  });
});

describe("markerEnvironment", () => {
  it.each<[string[], Record<string, string>]>([
    [["win_amd64"], { sys_platform: "win32", platform_system: "Windows" }],
    [["manylinux_2_17_x86_64", "linux_x86_64"], { sys_platform: "linux", platform_system: "Linux" }],
    [["macosx_11_0_arm64"], { sys_platform: "darwin", platform_system: "Darwin" }],
    [["win_amd64", "manylinux_2_17_x86_64"], {}],
    [["any"], {}],
  ])("%j", (platforms, os) => {
    expect(markerEnvironment({ pythonVersion: "3.10.4", platforms })).toEqual({ python_version: "3.10", ...os });
  });
});

describe("matchRequirementsToWheels", () => {
  const requirements = sanitizeRequirements([
    "numpy==2.2.6",
    "opencv-python-headless==4.10.0.84",
    "torch==2.5.1",
    "six==1.16.0",
    "pywin32==306 ; sys_platform == 'win32'",
    "missing-dist==1.0",
    "Six==1.16",
  ].join("\n")).requirements;
  const wheels = [NUMPY_WIN, NUMPY_311_LINUX, NUMPY_310_LINUX, `wheels/${OPENCV}`, TORCH_WIN, SIX, "README.txt", "torch-2.5.0-cp310-cp310-manylinux_2_17_x86_64.whl"];

  it("finds the wheel for each requirement on Linux, or says why there is none", () => {
    const result = matchRequirementsToWheels(requirements, wheels, linux310);
    expect(result.map(({ requirement, ...rest }) => [requirement.name, rest])).toEqual([
      ["numpy", { applies: true, wheel: NUMPY_310_LINUX, candidates: [NUMPY_WIN, NUMPY_311_LINUX] }],
      ["opencv-python-headless", { applies: true, wheel: `wheels/${OPENCV}`, candidates: [] }],
      ["torch", { applies: true, reason: "incompatible", candidates: [TORCH_WIN] }],
      ["six", { applies: true, wheel: SIX, candidates: [] }],
      ["pywin32", { applies: false, candidates: [] }],
      ["missing-dist", { applies: true, reason: "missing", candidates: [] }],
      ["Six", { applies: true, wheel: SIX, candidates: [] }], // ==1.16 equals 1.16.0 under PEP 440
    ]);
  });

  it("applies Windows-only requirements to a Windows target", () => {
    const result = matchRequirementsToWheels(requirements, wheels, win310);
    expect(result.map((m) => m.wheel ?? m.reason)).toEqual([NUMPY_WIN, "incompatible", TORCH_WIN, SIX, "missing", "missing", SIX]);
  });

  it("matches a pin without a local label to a local build, but not the other way round", () => {
    const local = "torch-2.5.1+cu121-cp310-cp310-manylinux_2_17_x86_64.whl";
    const [plain, cuda, other] = sanitizeRequirements("torch==2.5.1\ntorch==2.5.1+cu121\ntorch==2.5.1+cu118").requirements;
    if (!plain || !cuda || !other) throw new Error("three requirements");
    expect(matchRequirementsToWheels([plain, cuda], [local], linux310).map((m) => m.wheel)).toEqual([local, local]);
    expect(matchRequirementsToWheels([other], [local], linux310)[0]).toMatchObject({ reason: "missing" });
    expect(matchRequirementsToWheels([cuda], ["torch-2.5.1-cp310-cp310-manylinux_2_17_x86_64.whl"], linux310)[0]).toMatchObject({ reason: "missing" });
  });

  it("compares === pins as strings", () => {
    const [exact] = sanitizeRequirements("six===1.16").requirements;
    if (!exact) throw new Error("one requirement");
    expect(matchRequirementsToWheels([exact], [SIX], linux310)[0]).toMatchObject({ reason: "missing" });
  });

  it("prefers the highest version for an unpinned requirement, then the best tag", () => {
    const [numpy] = sanitizeRequirements("numpy>=2").requirements;
    if (!numpy) throw new Error("one requirement");
    const choice = matchRequirementsToWheels([numpy], [
      "numpy-2.1.0-cp310-cp310-manylinux_2_17_x86_64.whl",
      "numpy-2.2.6-py3-none-any.whl",
      "numpy-2.2.6-cp310-cp310-manylinux_2_5_x86_64.whl",
      "numpy-1.26.4-cp310-cp310-manylinux_2_17_x86_64.whl",
    ], linux310);
    expect(choice[0]?.wheel).toBe("numpy-2.2.6-cp310-cp310-manylinux_2_5_x86_64.whl");
  });
});

describe("interpreterTarget", () => {
  it("builds a target from a probe", () => {
    expect(interpreterTarget({ python_version: "3.10", implementation: "cp", abi: "cp310", platforms: ["win_amd64"] }))
      .toEqual({ pythonVersion: "3.10", implementation: "cp", abi: "cp310", platforms: ["win_amd64"] });
  });

  it.each<[unknown, string]>([
    [null, "unexpected interpreter probe output: probe: expected an object, got null"],
    [{ python_version: "3", implementation: "cp", abi: "cp3", platforms: ["x"] }, 'unexpected interpreter probe output: python_version: expected "major.minor"'],
    [{ python_version: "3.10", implementation: "", platforms: [] }, "unexpected interpreter probe output: implementation: expected a non-empty string; abi: required: expected a string; platforms: expected a non-empty array"],
  ])("rejects %j with 2003", (probe, message) => {
    try {
      interpreterTarget(probe);
      expect.unreachable("interpreterTarget should throw");
    } catch (err) {
      expect(err).toBeInstanceOf(ProcVisionError);
      expect((err as ProcVisionError).code).toBe("2003");
      expect((err as ProcVisionError).message).toBe(message);
    }
  });
});

// The test venv (scripts/test-python.ts) has pypa/packaging, the reference for what an interpreter accepts: the
// comparisons below run everywhere, and fail (never skip) when it is missing.
describe("INTERPRETER_PROBE on the test venv's python", () => {
  const python = testPython();
  const run = (code: string, ...args: string[]): string => execFileSync(python, ["-c", code, ...args], { encoding: "utf8", timeout: 60_000 });
  const packaging = (code: string[], ...args: string[]) => spawnSync(python, ["-c", ["import json, sys", "from packaging import tags", ...code].join("\n"), ...args],
    { encoding: "utf8", timeout: 60_000 });
  const ran = (result: ReturnType<typeof packaging>): string => {
    expect(result.status, `packaging.tags failed in ${python} (scripts/test-python.ts installs packaging into it):\n${result.stderr}`).toBe(0);
    return result.stdout;
  };
  const target = interpreterTarget(JSON.parse(run(INTERPRETER_PROBE)));
  const facts = JSON.parse(run(
    "import json, sys, sysconfig; print(json.dumps([sys.version_info[0], sys.version_info[1], sys.implementation.name, sysconfig.get_platform()]))",
  )) as [number, number, string, string];

  it("describes the interpreter", () => {
    const [major, minor, implementation, platform] = facts;
    expect(target.pythonVersion).toBe(`${major}.${minor}`);
    expect(target.implementation).toBe(implementation === "cpython" ? "cp" : implementation);
    if (implementation === "cpython") expect(target.abi).toMatch(new RegExp(`^cp${major}${minor}[a-z]*$`));
    expect(target.platforms[0]).toBe(platform.replace(/[-.]/g, "_"));
    if (process.platform === "linux" && process.arch === "x64") {
      expect(target.platforms).toEqual(["linux_x86_64", expect.stringMatching(/^manylinux_2_\d+_x86_64$/)]);
    }
  });

  const reference = packaging(["print(json.dumps([str(t) for t in tags.sys_tags()]))"]);

  it("accepts the same tags as packaging.tags.sys_tags()", () => {
    const expected = (JSON.parse(ran(reference)) as string[]).filter((t) => !t.includes("-abi3t-")); // PEP 803, Python 3.15+
    expect(new Set(supportedTags(target))).toEqual(new Set(expected));
  });

  const ordered = packaging([
    "out = []",
    "for t in json.loads(sys.argv[1]):",
    "    v = tuple(int(x) for x in t['pythonVersion'].split('.'))",
    "    interp = t['implementation'] + '%d%d' % v",
    "    first = tags.cpython_tags(v, [t['abi']], t['expanded']) if t['implementation'] == 'cp' else tags.generic_tags(interp, [t['abi']], t['expanded'])",
    "    out.append([str(x) for x in first] + [str(x) for x in tags.compatible_tags(v, interp, t['expanded'])])",
    "print(json.dumps(out))",
  ], JSON.stringify([linux310, win310].map((t) => ({ ...t, expanded: [...new Set(t.platforms.flatMap(expandManylinux))] }))));

  it("orders tags exactly as packaging's cpython_tags + compatible_tags", () => {
    const [linux, windows] = JSON.parse(ran(ordered)) as [string[], string[]];
    expect(supportedTags(linux310)).toEqual(linux);
    expect(supportedTags(win310)).toEqual(windows);
  });
});
