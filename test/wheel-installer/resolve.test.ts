import { describe, expect, it } from "vitest";
import { ProcVisionError } from "../../src/errors/index.js";
import { parseRequirementLine, type MarkerEnvironment, type Requirement } from "../../src/requirements/index.js";
import { installOrder, parseCoreMetadata, resolveWheels } from "../../src/wheel-installer/index.js";
import { rankWheels, type WheelTarget } from "../../src/wheel-tags/index.js";

const target: WheelTarget = { pythonVersion: "3.11", implementation: "cp", abi: "cp311", platforms: ["linux_x86_64", "manylinux_2_36_x86_64"] };
const markers: MarkerEnvironment = {
  implementation_name: "cpython", implementation_version: "3.11.7", os_name: "posix", platform_machine: "x86_64", platform_release: "6.1",
  platform_system: "Linux", platform_version: "#1", python_full_version: "3.11.7", platform_python_implementation: "CPython",
  python_version: "3.11", sys_platform: "linux",
};

function req(line: string): Requirement {
  const parsed = parseRequirementLine(line);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.requirement;
}

/** Wheels by file name with their Requires-Dist (and Requires-Python). */
function resolve(requirements: string[], wheels: Record<string, { requires?: string[]; python?: string }>) {
  const metadata = new Map(Object.entries(wheels).map(([file, m]) => [file, parseCoreMetadata([
    "Name: x", "Version: 1", ...(m.python ? [`Requires-Python: ${m.python}`] : []), ...(m.requires ?? []).map((r) => `Requires-Dist: ${r}`),
  ].join("\n"))]));
  return resolveWheels({ requirements: requirements.map(req), wheels: rankWheels(Object.keys(wheels), target), metadata, markers });
}

function failure(fn: () => unknown): ProcVisionError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ProcVisionError) return err;
    throw err;
  }
  throw new Error("expected a ProcVisionError");
}

describe("resolving requirements to the package's wheels", () => {
  const pytestLike = {
    "pytest-9.2.0-py3-none-any.whl": {
      python: ">=3.10",
      requires: [
        "colorama>=0.4; sys_platform == \"win32\"", "exceptiongroup>=1; python_version < \"3.11\"", "iniconfig>=2", "pluggy<2,>=1.6",
        "argcomplete; extra == \"dev\"",
      ],
    },
    "iniconfig-2.3.1-py3-none-any.whl": {},
    "pluggy-1.7.0-py3-none-any.whl": {},
    "argcomplete-3.0.0-py3-none-any.whl": {},
  };

  it("follows Requires-Dist with markers decided for this interpreter: no colorama, no exceptiongroup, no extras", () => {
    const resolved = resolve(["pytest==9.2.0"], pytestLike);
    expect(resolved).toEqual([
      { file: "pytest-9.2.0-py3-none-any.whl", name: "pytest", writtenName: "pytest", requested: true, dependencies: ["iniconfig", "pluggy"] },
      { file: "iniconfig-2.3.1-py3-none-any.whl", name: "iniconfig", writtenName: "iniconfig", requested: false, dependencies: [] },
      { file: "pluggy-1.7.0-py3-none-any.whl", name: "pluggy", writtenName: "pluggy", requested: false, dependencies: [] },
    ]);
  });

  it("an extra asked for pulls in its dependencies, also when the distribution was already chosen", () => {
    expect(resolve(["pytest[dev]==9.2.0"], pytestLike).map((r) => r.file)).toContain("argcomplete-3.0.0-py3-none-any.whl");
    expect(resolve(["pytest==9.2.0", "pytest[dev]"], pytestLike).map((r) => r.file)).toContain("argcomplete-3.0.0-py3-none-any.whl");
  });

  it("a requirement whose marker excludes this interpreter installs nothing; a dependency named twice installs once", () => {
    expect(resolve(["pytest==9.2.0; sys_platform == \"win32\""], pytestLike)).toEqual([]);
    expect(resolve(["pytest==9.2.0", "pluggy==1.7.0"], pytestLike).filter((r) => r.file.startsWith("pluggy"))).toMatchObject([
      { file: "pluggy-1.7.0-py3-none-any.whl", requested: true },
    ]);
  });

  it("picks the wheel that fits best: the highest fitting version, then the best tag", () => {
    const resolved = resolve(["numpy>=2"], {
      "numpy-2.2.6-cp311-cp311-manylinux_2_17_x86_64.whl": {},
      "numpy-2.2.6-cp310-cp310-win_amd64.whl": {},
      "numpy-2.1.0-cp311-cp311-manylinux_2_17_x86_64.whl": {},
      "numpy-2.2.6-py3-none-any.whl": {},
    });
    expect(resolved).toMatchObject([{ file: "numpy-2.2.6-cp311-cp311-manylinux_2_17_x86_64.whl", requested: true }]);
  });

  it("a dependency without a wheel → 2004 naming it and who needs it", () => {
    const { "pluggy-1.7.0-py3-none-any.whl": _dropped, ...withoutPluggy } = pytestLike;
    const err = failure(() => resolve(["pytest==9.2.0"], withoutPluggy));
    expect(err.code).toBe("2004");
    expect(err.message).toContain("pluggy<2,>=1.6");
    expect(err.message).toContain("pytest-9.2.0-py3-none-any.whl");
  });

  it("a dependency whose only wheel is another version → 2004 naming both sides", () => {
    const err = failure(() => resolve(["pytest==9.2.0", "pluggy==2.0.0"], { ...pytestLike, "pluggy-2.0.0-py3-none-any.whl": {} }));
    expect(err.code).toBe("2004");
    expect(err.message).toMatch(/needs pluggy<2,>=1\.6, but the package's wheel is pluggy-2\.0\.0/);
  });

  it("a dependency with wheels only for another interpreter → 2003 naming the wheels and their tags", () => {
    const err = failure(() => resolve(["demo==1"], { "demo-1-py3-none-any.whl": { requires: ["numpy==2.2.6"] }, "numpy-2.2.6-cp310-cp310-win_amd64.whl": {} }));
    expect(err.code).toBe("2003");
    expect(err.message).toContain("numpy-2.2.6-cp310-cp310-win_amd64.whl (tags cp310-cp310-win_amd64)");
  });

  it("a wheel whose Requires-Python excludes this interpreter → 2003", () => {
    const err = failure(() => resolve(["old==1"], { "old-1-py3-none-any.whl": { python: "<3.8" } }));
    expect(err.code).toBe("2003");
    expect(err.message).toContain("requires Python <3.8; this interpreter is Python 3.11.7");
  });

  it("a Requires-Dist that is not a requirement → 2005 naming the wheel", () => {
    const err = failure(() => resolve(["bad==1"], { "bad-1-py3-none-any.whl": { requires: ["numpy >>> 2"] } }));
    expect(err.code).toBe("2005");
    expect(err.message).toContain("bad-1-py3-none-any.whl");
  });
});

describe("the install order, as pip's", () => {
  const vision = {
    "opencv_python-5.1.0.95-cp37-abi3-manylinux_2_28_x86_64.whl": { requires: ["numpy>=2"] },
    "opencv_python_headless-5.1.0.95-cp37-abi3-manylinux_2_28_x86_64.whl": { requires: ["numpy>=2"] },
    "numpy-2.2.6-cp311-cp311-manylinux_2_17_x86_64.whl": {},
    "scikit_image-0.26.0-cp311-cp311-manylinux_2_28_x86_64.whl": { requires: ["numpy>=2", "scipy>=1", "imageio>=2"] },
    "scipy-1.17.1-cp311-cp311-manylinux_2_28_x86_64.whl": { requires: ["numpy>=2"] },
    "imageio-2.38.2-py3-none-any.whl": { requires: ["numpy", "pillow>=8"] },
    "pillow-13.0.0-cp311-cp311-manylinux_2_28_x86_64.whl": {},
  };

  it("dependencies first (leaves pruned round by round), equal weights by name descending: opencv-python after the headless one", () => {
    const order = installOrder(resolve(["opencv-python==5.1.0.95", "opencv-python-headless==5.1.0.95", "scikit-image==0.26.0"], vision)).map((w) => w.name);
    // Weights: numpy, pillow 7 (first round of leaves); scipy, imageio, both opencvs 5 (second); scikit-image 1.
    expect(order).toEqual(["pillow", "numpy", "scipy", "opencv-python-headless", "opencv-python", "imageio", "scikit-image"]);
  });

  it("a dependency cycle is cut, not followed forever", () => {
    const order = installOrder(resolve(["a==1"], { "a-1-py3-none-any.whl": { requires: ["b"] }, "b-1-py3-none-any.whl": { requires: ["a"] } })).map((w) => w.name);
    expect(order).toEqual(["b", "a"]);
  });
});
