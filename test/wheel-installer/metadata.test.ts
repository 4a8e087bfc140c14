import { describe, expect, it } from "vitest";
import { formatRecord, parseCoreMetadata, parseEntryPoints, parseRecord, parseWheelInfo } from "../../src/wheel-installer/index.js";
import { launcherScript, rewriteScript, shebang } from "../../src/wheel-installer/scripts.js";

describe("wheel metadata files", () => {
  it("METADATA: every Requires-Dist, Requires-Python, folded lines, nothing from the body", () => {
    const text = [
      "Metadata-Version: 2.1", "Name: demo", "Version: 1.0", "Requires-Python: >=3.10",
      "Requires-Dist: numpy>=1.26", "Requires-Dist: colorama; sys_platform == \"win32\"", "Summary: a long",
      "  folded summary", "", "Requires-Dist: not-a-header-any-more",
    ].join("\n");
    expect(parseCoreMetadata(text)).toEqual({ requiresDist: ["numpy>=1.26", "colorama; sys_platform == \"win32\""], requiresPython: ">=3.10" });
    expect(parseCoreMetadata("Name: x\r\nVersion: 1\r\n")).toEqual({ requiresDist: [] });
  });

  it("WHEEL: Root-Is-Purelib, and only wheel format 1.x", () => {
    expect(parseWheelInfo("Wheel-Version: 1.0\nRoot-Is-Purelib: true\n")).toEqual({ rootIsPurelib: true });
    expect(parseWheelInfo("Wheel-Version: 1.0\nRoot-Is-Purelib: false\n")).toEqual({ rootIsPurelib: false });
    expect(parseWheelInfo("Wheel-Version: 2.0\n")).toMatch(/not supported/);
    expect(parseWheelInfo("Generator: x\n")).toMatch(/no Wheel-Version/);
  });

  it("entry_points.txt: console and gui scripts with dotted attributes and extras; other groups ignored", () => {
    const text = "[console_scripts]\npytest = _pytest.config:_console_main\ntool = pkg.cli:app.run [extra]\n\n[gui_scripts]\nviewer=pkg.gui:main\n[pytest11]\nplug = pkg.plugin\n";
    expect(parseEntryPoints(text)).toEqual([
      { name: "pytest", module: "_pytest.config", attribute: "_console_main", gui: false },
      { name: "tool", module: "pkg.cli", attribute: "app.run", gui: false },
      { name: "viewer", module: "pkg.gui", attribute: "main", gui: true },
    ]);
    expect(parseEntryPoints("[console_scripts]\nbad = pkg.module\n")).toMatch(/invalid script/);
    expect(parseEntryPoints("[console_scripts]\n../escape = pkg:main\n")).toMatch(/invalid script/);
    expect(parseEntryPoints("[console_scripts]\nno equals sign\n")).toMatch(/expected "name = module:attribute"/);
  });

  it("RECORD: CSV with quoted paths round-trips", () => {
    const rows = [
      { path: "pkg/__init__.py", hash: "sha256=abc", size: "12" },
      { path: "pkg/with,comma \"q\".txt", hash: "sha256=def", size: "3" },
      { path: "pkg-1.0.dist-info/RECORD", hash: "", size: "" },
    ];
    const text = formatRecord(rows);
    expect(text).toContain("\"pkg/with,comma \"\"q\"\".txt\"");
    expect(parseRecord(text)).toEqual(rows);
    expect(parseRecord("only,two\n\nok,h,1\n")).toEqual([{ path: "ok", hash: "h", size: "1" }]);
  });
});

describe("scripts", () => {
  it("a short path is a plain #! line; a long or spaced one goes through /bin/sh", () => {
    expect(shebang("/opt/venv/bin/python")).toBe("#!/opt/venv/bin/python\n");
    const long = `/${"d".repeat(130)}/bin/python`;
    expect(shebang(long)).toBe(`#!/bin/sh\n'''exec' "${long}" "$0" "$@"\n' '''\n`);
    expect(shebang("/my venv/bin/python")).toMatch(/^#!\/bin\/sh\n'''exec' "\/my venv\/bin\/python"/);
  });

  it("launchers import the attribute's head and call the dotted path", () => {
    const script = launcherScript({ name: "tool", module: "pkg.cli", attribute: "app.run", gui: false }, "/v/bin/python");
    expect(script).toMatch(/^#!\/v\/bin\/python\n/);
    expect(script).toContain("from pkg.cli import app\n");
    expect(script).toContain("sys.exit(app.run())");
  });

  it("a first line starting with #!python is replaced whole, as pip does; anything else is left alone", () => {
    expect(rewriteScript(Buffer.from("#!python\nprint(1)\n"), "/v/bin/python")?.toString()).toBe("#!/v/bin/python\nprint(1)\n");
    expect(rewriteScript(Buffer.from("#!pythonw -u\nx\n"), "/v/bin/python")?.toString()).toBe("#!/v/bin/python\nx\n");
    expect(rewriteScript(Buffer.from("#!python3"), "/v/bin/python")?.toString()).toBe("#!/v/bin/python\n");
    expect(rewriteScript(Buffer.from("#!/bin/sh\necho\n"), "/v/bin/python")).toBeNull();
    expect(rewriteScript(Buffer.from([0x7f, 0x45, 0x4c, 0x46]), "/v/bin/python")).toBeNull();
  });
});
