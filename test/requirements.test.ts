import { describe, expect, it } from "vitest";
import {
  evaluateMarker, expandIncludes, filterFreezeOutput, IncludeError, formatRequirement, logicalLines, normalizeName, parseMarker, parseRequirementLine,
  pinRequirement, sanitizeRequirements, type MarkerEnvironment, type Requirement,
} from "../src/requirements/index.js";

function requirement(line: string): Requirement {
  const parsed = parseRequirementLine(line);
  if (!parsed.ok) throw new Error(`expected a requirement: ${parsed.reason}`);
  return parsed.requirement;
}

describe("normalizeName", () => {
  it.each([
    ["numpy", "numpy"],
    ["Pillow", "pillow"],
    ["opencv_python_headless", "opencv-python-headless"],
    ["Foo__Bar.-baz", "foo-bar-baz"],
    ["zope.interface", "zope-interface"],
    ["procvision_algorithm_sdk", "procvision-algorithm-sdk"],
  ])("%s → %s", (name, expected) => {
    expect(normalizeName(name)).toBe(expected);
  });
});

describe("parseRequirementLine", () => {
  it.each<[string, Partial<Requirement>]>([
    ["numpy==1.26.4", { name: "numpy", normalizedName: "numpy", specifier: "==1.26.4", pinnedVersion: "1.26.4", extras: [] }],
    ["Pillow >= 9, <11 ; python_version < '3.12'", { name: "Pillow", normalizedName: "pillow", specifier: ">=9,<11", marker: "python_version < '3.12'" }],
    ["requests[security, socks]==2.31.0", { extras: ["security", "socks"], pinnedVersion: "2.31.0" }],
    ["opencv_python_headless == 4.10.0.84", { normalizedName: "opencv-python-headless", specifier: "==4.10.0.84", pinnedVersion: "4.10.0.84" }],
    ["torch==2.5.1+cu121", { pinnedVersion: "2.5.1+cu121" }],
    ["foo===1.0-weird", { specifier: "===1.0-weird", pinnedVersion: "1.0-weird" }],
    ["foo (>=1.0)", { specifier: ">=1.0" }],
    ["foo", { specifier: "" }],
    ["foo;python_version>='3.8'", { specifier: "", marker: "python_version>='3.8'" }],
    ["numpy==1.26.4 # pinned for the station", { pinnedVersion: "1.26.4" }],
    ["numpy==1.26.4 --hash=sha256:aaaa --hash sha256:bbbb", { pinnedVersion: "1.26.4" }],
    ["numpy==1.26.4 --global-option=--x", { pinnedVersion: "1.26.4" }],
    ["foo @ https://host/foo-1.0-py3-none-any.whl#sha256=abcdef0123", { url: "https://host/foo-1.0-py3-none-any.whl", specifier: "" }],
    ["foo @ https://host/foo.whl ; sys_platform == 'win32'", { url: "https://host/foo.whl", marker: "sys_platform == 'win32'" }],
  ])("parses %j", (line, expected) => {
    expect(requirement(line)).toMatchObject({ ...expected, raw: line });
  });

  it.each<[string, string | undefined]>([
    ["foo==1.0", "1.0"],
    ["foo===1.0", "1.0"],
    ["foo==1.*", undefined],
    ["foo>=1.0", undefined],
    ["foo==1.0,!=1.1", undefined],
    ["foo~=1.0", undefined],
    ["foo", undefined],
    ["foo @ https://host/foo.whl", undefined],
  ])("pins %s to %s", (line, pinned) => {
    expect(requirement(line).pinnedVersion).toBe(pinned);
  });

  it.each<[string, "empty" | "option" | "invalid", string]>([
    ["", "empty", "blank line or comment"],
    ["   # a comment", "empty", "blank line or comment"],
    ["-r base.txt", "option", "pip option -r dropped: procvision-cli package reads nested requirements files in; a package's own requirements.txt lists them"],
    ["--requirement=base.txt", "option", "pip option --requirement dropped: procvision-cli package reads nested requirements files in; a package's own requirements.txt lists them"],
    ["-c constraints.txt", "option", "pip option -c dropped: constraint files are not followed: pin what they constrain in this file"],
    ["-e .", "option", "pip option -e dropped: an editable install cannot be packed as a wheel: build a wheel of it and pin name==version"],
    ["--editable ./pkg", "option", "pip option --editable dropped: an editable install cannot be packed as a wheel: build a wheel of it and pin name==version"],
    ["--index-url https://mirror/simple", "option", "pip option --index-url dropped: index options belong in .procvision_env.json (index_url, extra_index_urls, find_links) or on the command line"],
    ["-i https://mirror/simple", "option", "pip option -i dropped: index options belong in .procvision_env.json (index_url, extra_index_urls, find_links) or on the command line"],
    ["--extra-index-url https://x", "option", "pip option --extra-index-url dropped: index options belong in .procvision_env.json (index_url, extra_index_urls, find_links) or on the command line"],
    ["-f ./wheels", "option", "pip option -f dropped: index options belong in .procvision_env.json (index_url, extra_index_urls, find_links) or on the command line"],
    ["--find-links=./wheels", "option", "pip option --find-links dropped: index options belong in .procvision_env.json (index_url, extra_index_urls, find_links) or on the command line"],
    ["--trusted-host mirror", "option", "pip option --trusted-host dropped: index options belong in .procvision_env.json (index_url, extra_index_urls, find_links) or on the command line"],
    ["--hash=sha256:abc", "option", "pip option --hash dropped: hashes are not kept: the package adds the SDK wheel, which has none, and SHA256SUMS covers every wheel"],
    ["--only-binary :all:", "option", "pip option --only-binary dropped: package downloads binary wheels with its own pip options"],
    ["--pre", "option", "pip option --pre dropped: package downloads binary wheels with its own pip options"],
    ["./local/pkg", "invalid", '"./local/pkg" is a path or URL, not a requirement: pin the distribution as name==version'],
    ["/abs/pkg", "invalid", '"/abs/pkg" is a path or URL, not a requirement: pin the distribution as name==version'],
    ["C:\\src\\pkg", "invalid", '"C:\\\\src\\\\pkg" is a path or URL, not a requirement: pin the distribution as name==version'],
    ["https://host/foo-1.0.tar.gz", "invalid", '"https://host/foo-1.0.tar.gz" is a path or URL, not a requirement: pin the distribution as name==version'],
    ["foo-1.0-py3-none-any.whl", "invalid", '"foo-1.0-py3-none-any.whl" is a path or URL, not a requirement: pin the distribution as name==version'],
    ["foo==", "invalid", 'invalid version specifier "=="'],
    ["foo = 1.0", "invalid", 'invalid version specifier "= 1.0"'],
    ["foo ~= 1", "invalid", 'invalid version specifier "~=1" (not PEP 440)'],
    ["foo>=1.0.*", "invalid", 'invalid version specifier ">=1.0.*" (not PEP 440)'],
    ["foo==abc", "invalid", 'invalid version specifier "==abc" (not PEP 440)'],
    ["foo[bad extra]==1", "invalid", 'invalid extra "bad extra" in "foo[bad extra]==1"'],
    ["foo @", "invalid", 'expected "name @ url" with a URL, got "foo @"'],
    ["_foo==1", "invalid", 'expected a requirement like "numpy==1.26.4", got "_foo==1"'],
    ["foo==1.0 ; bad_var == 'x'", "invalid", `invalid environment marker "bad_var == 'x'": expected a marker variable or a quoted string, got "bad_var"`],
    ["foo==1.0 ;", "invalid", 'invalid environment marker "": expected a marker variable or a quoted string, got end of marker'],
  ])("rejects %j as %s", (line, kind, reason) => {
    expect(parseRequirementLine(line)).toEqual({ ok: false, kind, reason });
  });
});

describe("expandIncludes", () => {
  const files: Record<string, string> = {
    "/p/requirements.txt": "-r base.txt\nopencv-python-headless==4.12.0.88\n",
    "/p/base.txt": "numpy==2.2.6\n--requirement=sub/more.txt  # shared\n",
    "/p/sub/more.txt": "pillow==11.0.0\n",
    "/p/loop.txt": "-rloop.txt\n",
  };
  const read = (file: string): string => {
    const text = files[file];
    if (text === undefined) throw Object.assign(new Error(`ENOENT: ${file}`), { code: "ENOENT" });
    return text;
  };

  it("reads the named files in, relative to the file that names them, all the way down", () => {
    const text = expandIncludes(files["/p/requirements.txt"]!, "/p/requirements.txt", read);
    expect(sanitizeRequirements(text).requirements.map((r) => r.name)).toEqual(["numpy", "pillow", "opencv-python-headless"]);
    expect(sanitizeRequirements(text).dropped).toEqual([]);
  });

  it("refuses a missing file and a loop, naming the line", () => {
    expect(() => expandIncludes("numpy==2.2.6\n-r nope.txt\n", "/p/requirements.txt", read)).toThrow(/^requirements\.txt line 2: -r nope\.txt: \/p\/nope\.txt not found$/);
    expect(() => expandIncludes(files["/p/loop.txt"]!, "/p/loop.txt", read)).toThrow(IncludeError);
    expect(() => expandIncludes(files["/p/loop.txt"]!, "/p/loop.txt", read)).toThrow(/includes itself \(loop\.txt → loop\.txt\)/);
  });
});

describe("formatRequirement", () => {
  it.each([
    ["numpy == 1.26.4", "numpy==1.26.4"],
    ["Pillow >= 9 , < 11;python_version<'3.12'", "Pillow>=9,<11 ; python_version<'3.12'"],
    ["requests [ security , socks ] == 2.31.0", "requests[security,socks]==2.31.0"],
    ["foo@https://h/f.whl#sha256=00ff ;  os_name == 'nt'", "foo @ https://h/f.whl ; os_name == 'nt'"],
  ])("%j → %j", (line, expected) => {
    expect(formatRequirement(requirement(line))).toBe(expected);
  });
});

describe("logicalLines", () => {
  it("joins backslash continuations and numbers lines by where they start", () => {
    expect(logicalLines("a\\\n  b\\\n  c\nd\r\n# x \\\ne\\")).toEqual([
      { line: "a   b   c", lineNumber: 1 },
      { line: "d", lineNumber: 4 },
      { line: "# x \\", lineNumber: 5 },
      { line: "e", lineNumber: 6 },
    ]);
  });
});

describe("sanitizeRequirements", () => {
  const text = [
    "# requirements for the station",
    "--index-url https://mirror/simple",
    "numpy==1.26.4 \\",
    "    --hash=sha256:aaaa \\",
    "    --hash=sha256:bbbb",
    "",
    "-r base.txt",
    "opencv-python-headless == 4.10.0.84 ; sys_platform == 'linux'  # cv",
    "requests>=2",
    "foo @ https://host/foo-1.0-py3-none-any.whl#sha256=00ff",
    "./vendored/pkg",
    "torch===2.5.1+cu121",
    "",
  ].join("\n");

  it("keeps requirements in canonical form and says what it dropped", () => {
    const result = sanitizeRequirements(text);
    expect(result.text).toBe(
      "numpy==1.26.4\n" +
        "opencv-python-headless==4.10.0.84 ; sys_platform == 'linux'\n" +
        "requests>=2\n" +
        "foo @ https://host/foo-1.0-py3-none-any.whl\n" +
        "torch===2.5.1+cu121\n",
    );
    expect(result.requirements.map((r) => r.normalizedName)).toEqual(["numpy", "opencv-python-headless", "requests", "foo", "torch"]);
    expect(result.dropped).toEqual([
      { line: "--index-url https://mirror/simple", lineNumber: 2, reason: expect.stringMatching(/^pip option --index-url dropped: /) },
      { line: "-r base.txt", lineNumber: 7, reason: expect.stringMatching(/^pip option -r dropped: /) },
      { line: "./vendored/pkg", lineNumber: 11, reason: '"./vendored/pkg" is a path or URL, not a requirement: pin the distribution as name==version' },
    ]);
    expect(result.unpinned.map((r) => r.raw)).toEqual(["requests>=2", "foo @ https://host/foo-1.0-py3-none-any.whl#sha256=00ff"]);
  });

  it("gives empty text for a file with no requirements", () => {
    expect(sanitizeRequirements("# nothing\n\n")).toEqual({ requirements: [], text: "", dropped: [], unpinned: [] });
  });

  it("is idempotent on its own output", () => {
    const once = sanitizeRequirements(text).text;
    expect(sanitizeRequirements(once).text).toBe(once);
  });
});

describe("filterFreezeOutput", () => {
  it("drops editable, file:// and local-path lines and keeps the rest in order", () => {
    const freeze = [
      "numpy==1.26.4",
      "-e git+https://git.example/x.git@abc123#egg=x",
      "procvision-algorithm-sdk @ file:///home/u/dist/procvision_algorithm_sdk-0.1.0-py3-none-any.whl",
      "/home/u/src/pkg",
      "# Editable install with no version control (foo==0.1)",
      "--editable=/home/u/foo",
      "mylib @ git+https://git.example/mylib.git@v1",
      "six==1.16.0",
      "",
    ].join("\n");
    expect(filterFreezeOutput(freeze)).toEqual({
      kept: ["numpy==1.26.4", "mylib @ git+https://git.example/mylib.git@v1", "six==1.16.0"],
      dropped: [
        { line: "-e git+https://git.example/x.git@abc123#egg=x", lineNumber: 2, reason: "editable install: build a wheel of it and pin name==version, or ship it as source in the package" },
        { line: "procvision-algorithm-sdk @ file:///home/u/dist/procvision_algorithm_sdk-0.1.0-py3-none-any.whl", lineNumber: 3, reason: "installed from a local file: pin a released version, or put its wheel in a find_links directory" },
        { line: "/home/u/src/pkg", lineNumber: 4, reason: "a local path, not a distribution an index can provide" },
        { line: "--editable=/home/u/foo", lineNumber: 6, reason: "editable install: build a wheel of it and pin name==version, or ship it as source in the package" },
      ],
    });
  });

  it.each(["./pkg", "../pkg", "~/pkg", "C:\\Users\\u\\pkg", "file:///tmp/pkg"])("drops the local path %s", (line) => {
    expect(filterFreezeOutput(line).kept).toEqual([]);
  });
});

describe("pinRequirement", () => {
  const list = sanitizeRequirements("numpy==1.26.4\nProcVision_Algorithm-SDK>=0.0.1\nsix==1.16.0\nprocvision.algorithm.sdk==0.0.9\n").requirements;

  it("replaces every entry of the name (normalized) with one pin at the first one's place", () => {
    const pinned = pinRequirement(list, "procvision-algorithm-sdk", "0.1.0");
    expect(pinned.map(formatRequirement)).toEqual(["numpy==1.26.4", "procvision-algorithm-sdk==0.1.0", "six==1.16.0"]);
    expect(pinned[1]).toMatchObject({ pinnedVersion: "0.1.0", raw: "procvision-algorithm-sdk==0.1.0" });
  });

  it("appends a pin for a new name and leaves the input alone", () => {
    expect(pinRequirement(list, "pillow", "10.4.0").map(formatRequirement).at(-1)).toBe("pillow==10.4.0");
    expect(list).toHaveLength(4);
  });

  it("rejects a name or version that cannot be pinned", () => {
    expect(() => pinRequirement(list, "bad name", "1")).toThrow('cannot pin bad name==1: invalid version specifier "name==1"');
    expect(() => pinRequirement(list, "sdk", "not-a-version")).toThrow('cannot pin sdk==not-a-version: invalid version specifier "==not-a-version" (not PEP 440)');
  });
});

describe("environment markers", () => {
  const linux310: MarkerEnvironment = { python_version: "3.10", sys_platform: "linux", platform_system: "Linux" };
  const win311: MarkerEnvironment = { python_version: "3.11", sys_platform: "win32", platform_system: "Windows" };

  it.each<[string, boolean, boolean]>([
    ['python_version < "3.11"', true, false],
    ["python_version >= '3.9'", true, true],
    ['python_version > "3.9"', true, true], // versions, not strings: "3.10" > "3.9"
    ['python_version == "3.*"', true, true],
    ['python_version ~= "3.10"', true, true],
    ['python_version === "3.10"', true, false],
    ['"3.10" == python_version', true, false],
    ['sys_platform == "win32"', false, true],
    ['sys_platform != "win32"', true, false],
    ['platform_system == "Linux"', true, false],
    ['"lin" in sys_platform', true, false],
    ['"win" not in sys_platform', true, false],
    ['sys_platform == "win32" or python_version < "3.11"', true, true],
    ['sys_platform == "win32" and python_version < "3.11"', false, false],
    ['(sys_platform == "win32" or sys_platform == "linux") and python_version >= "3.11"', false, true],
    ['sys_platform == "darwin" or sys_platform == "linux" and python_version < "3.11"', true, false], // and binds tighter
    ['platform_machine == "x86_64"', true, true], // unknown to the target: assumed
    ['extra == "gpu"', true, true],
    ['sys_platform < "linux"', true, true], // ordering strings is undefined: assumed
  ])("%s → linux 3.10: %s, windows 3.11: %s", (marker, onLinux, onWindows) => {
    expect(evaluateMarker(marker, linux310)).toBe(onLinux);
    expect(evaluateMarker(marker, win311)).toBe(onWindows);
  });

  it("treats every comparison as holding when the target defines nothing", () => {
    expect(evaluateMarker('python_version < "3" and sys_platform == "nowhere"', {})).toBe(true);
  });

  it("accepts a parsed marker", () => {
    expect(evaluateMarker(parseMarker('python_version < "3.11"'), linux310)).toBe(true);
  });

  it.each([
    ["", "expected a marker variable or a quoted string, got end of marker"],
    ["python_version", "expected a comparison operator, got end of marker"],
    ['python_version "3"', 'expected a comparison operator, got "3"'],
    ['foo == "1"', 'expected a marker variable or a quoted string, got "foo"'],
    ['python_version == "3" and', "expected a marker variable or a quoted string, got end of marker"],
    ['"a" == "b" extra', 'expected "and", "or" or the end of the marker, got "extra"'],
    ['(python_version == "3"', 'expected ")", got end of marker'],
    ['python_version == "3\'', 'unexpected "\\"3\'"'],
    ['python_version = "3"', 'unexpected "= \\"3\\""'],
  ])("rejects %j", (marker, message) => {
    expect(() => parseMarker(marker)).toThrow(message);
  });
});
