import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { ProcVisionError } from "../src/errors/index.js";
import {
  checkParamValue, describeValue, formatPath, jsonErrorOffset, loadManifest, parseJson, parseWithIssues, validateManifest,
  type ManifestIssue, type ParamSpec,
} from "../src/manifest/index.js";

/** The example manifest of contract §1, verbatim. */
const contractExample = {
  name: "algorithm-example",
  version: "1.0",
  entry_point: "algorithm_example.main:AlgorithmExample",
  description: "optional",
  supported_pids: ["p001", "p002"],
  steps: [
    { index: 1, name: "locate board", params: [
      { key: "roi", type: "rect", required: true, description: "search area" },
      { key: "exposure", type: "float", default: 12.5, min: 8.0, max: 16.0, unit: "ms" }] },
    { index: 2, name: "check screw", params: [
      { key: "threshold", type: "float", default: 0.7, min: 0.5, max: 0.9 },
      { key: "mode", type: "enum", choices: ["fast", "accurate"], default: "fast" }] },
  ],
};

const minimal = { name: "m", version: "1", entry_point: "m:M", supported_pids: ["p1"] };

function withParam(param: Record<string, unknown>): Record<string, unknown> {
  return { ...minimal, steps: [{ index: 1, name: "s", params: [param] }] };
}

function errorsOf(value: unknown): ManifestIssue[] {
  const result = validateManifest(value);
  if (result.ok) throw new Error("expected the manifest to be rejected");
  return result.errors;
}

describe("validateManifest", () => {
  it("accepts the contract's example manifest", () => {
    const result = validateManifest(contractExample);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.manifest.steps?.[1]?.params[1]).toEqual({ key: "mode", type: "enum", choices: ["fast", "accurate"], default: "fast" });
  });

  it("accepts the minimal manifest, fills params with [] and keeps unknown top-level keys", () => {
    const result = validateManifest({ ...minimal, steps: [{ index: 3, name: "only" }], future_field: { x: 1 } });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.manifest.steps).toEqual([{ index: 3, name: "only", params: [] }]);
    expect(result.manifest.future_field).toEqual({ x: 1 });
  });

  it("accepts every param type with its constraints", () => {
    const params = [
      { key: "count", type: "int", default: 3, min: 1, max: 5, unit: "px" },
      { key: "ratio", type: "float", default: 0.5, min: 0, max: 1 },
      { key: "roi", type: "rect", default: { x: 0, y: 0, width: 10, height: 20 } },
      { key: "mode", type: "enum", choices: [1, 2, 4], default: 2 },
      { key: "debug", type: "bool", default: false },
      { key: "label", type: "string", default: "ab1", min_length: 1, max_length: 8, pattern: "^[a-z]+\\d$" },
    ];
    expect(validateManifest({ ...minimal, steps: [{ index: 1, name: "s", params }] }).ok).toBe(true);
  });

  it("accepts optional fields: description, required_assets, default_config", () => {
    const manifest = { ...minimal, description: "d", required_assets: ["assets/model.onnx", "calib.json"], default_config: { a: 1 } };
    expect(validateManifest(manifest).ok).toBe(true);
  });

  it.each<[string, unknown, string, string]>([
    ["not an object", null, "manifest", "expected an object, got null"],
    ["an array", [], "manifest", "expected an object, got an array"],
  ])("rejects a manifest that is %s", (_, value, where, message) => {
    expect(errorsOf(value)).toEqual([{ path: where, message }]);
  });

  it("names every missing required field", () => {
    expect(errorsOf({})).toEqual([
      { path: "name", message: "required: expected a string" },
      { path: "version", message: "required: expected a string" },
      { path: "entry_point", message: "required: expected a string" },
    ]);
  });

  it("takes the minimal manifest of the original 0.3.x init (no supported_pids, no steps) and steps counted from 0", () => {
    const original = { name: "g3-algo", version: "1.0.0", entry_point: "g3_algo.main:G3AlgoAlgorithm", description: "g3-algo 算法包" };
    expect(validateManifest(original).ok).toBe(true);
    const fromZero = validateManifest({ ...original, supported_pids: ["PID_TO_FILL"], steps: [{ index: 0, name: "示例步骤" }] });
    expect(fromZero.ok && fromZero.manifest.steps?.[0]?.index).toBe(0);
  });

  const NAME = `expected a name of letters, digits, '.', '_' or '-' that starts with a letter or digit`;
  const VERSION = "expected a non-empty version usable in a file name (no /, \\, control characters or surrounding spaces)";
  const ENTRY = 'expected an entry point "module.path:ClassName"';
  const ASSET = "expected a relative path inside the package using / (no leading /, drive letter, \\ or ..)";

  it.each<[string, Record<string, unknown>, string, string]>([
    ["name starting with -", { name: "-x" }, "name", `${NAME}, got "-x"`],
    ["name with a space", { name: "my algo" }, "name", `${NAME}, got "my algo"`],
    ["name not a string", { name: 5 }, "name", "expected a string, got 5"],
    ["empty version", { version: "" }, "version", `${VERSION}, got ""`],
    ["version with a slash", { version: "1/2" }, "version", `${VERSION}, got "1/2"`],
    ["version ..", { version: ".." }, "version", `${VERSION}, got ".."`],
    ["version with spaces around", { version: " 1.0" }, "version", `${VERSION}, got " 1.0"`],
    ["version as a number", { version: 1.0 }, "version", "expected a string, got 1"],
    ["entry point without a class", { entry_point: "pkg.main" }, "entry_point", `${ENTRY}, got "pkg.main"`],
    ["entry point with a dash", { entry_point: "my-pkg.main:A" }, "entry_point", `${ENTRY}, got "my-pkg.main:A"`],
    ["entry point with an empty segment", { entry_point: "pkg..main:A" }, "entry_point", `${ENTRY}, got "pkg..main:A"`],
    ["entry point class with a dot", { entry_point: "pkg:A.B" }, "entry_point", `${ENTRY}, got "pkg:A.B"`],
    ["empty supported_pids", { supported_pids: [] }, "supported_pids", "expected a non-empty array"],
    ["supported_pids as a string", { supported_pids: "p1" }, "supported_pids", 'expected an array, got "p1"'],
    ["an empty PID", { supported_pids: ["p1", ""] }, "supported_pids[1]", "expected a non-empty string"],
    ["a PID that is a number", { supported_pids: [1] }, "supported_pids[0]", "expected a string, got 1"],
    ["a duplicate PID", { supported_pids: ["p1", "p2", "p1"] }, "supported_pids[2]", 'duplicate PID "p1" (first at index 0)'],
    ["description not a string", { description: 1 }, "description", "expected a string, got 1"],
    ["steps not an array", { steps: {} }, "steps", "expected an array, got an object"],
    ["an absolute asset", { required_assets: ["/etc/passwd"] }, "required_assets[0]", `${ASSET}, got "/etc/passwd"`],
    ["an asset leaving the package", { required_assets: ["a", "assets/../../x"] }, "required_assets[1]", `${ASSET}, got "assets/../../x"`],
    ["an asset with a drive letter", { required_assets: ["C:/x"] }, "required_assets[0]", `${ASSET}, got "C:/x"`],
    ["an asset with backslashes", { required_assets: ["assets\\m.onnx"] }, "required_assets[0]", `${ASSET}, got "assets\\\\m.onnx"`],
    ["an empty asset path", { required_assets: [""] }, "required_assets[0]", `${ASSET}, got ""`],
    ["default_config not an object", { default_config: [1] }, "default_config", "expected an object, got an array"],
  ])("rejects %s", (_, change, where, message) => {
    expect(errorsOf({ ...minimal, ...change })).toEqual([{ path: where, message }]);
  });

  it.each<[string, unknown[], string, string]>([
    ["a negative index", [{ index: -1, name: "s" }], "steps[0].index", "expected a number ≥ 0, got -1"],
    ["a fractional index", [{ index: 1.5, name: "s" }], "steps[0].index", "expected an integer, got 1.5"],
    ["a missing name", [{ index: 1 }], "steps[0].name", "required: expected a string"],
    ["an empty name", [{ index: 1, name: "" }], "steps[0].name", "expected a non-empty string"],
    ["a duplicate index", [{ index: 1, name: "a" }, { index: 2, name: "b" }, { index: 1, name: "c" }], "steps[2].index", "duplicate step index 1 (first at index 0)"],
    ["params not an array", [{ index: 1, name: "a", params: {} }], "steps[0].params", "expected an array, got an object"],
  ])("rejects a step with %s", (_, steps, where, message) => {
    expect(errorsOf({ ...minimal, steps })).toEqual([{ path: where, message }]);
  });

  const DEFAULT = "default does not satisfy its own constraints: ";

  it.each<[string, Record<string, unknown>, string, string]>([
    ["an unknown type", { key: "k", type: "integer" }, "type", 'expected one of int, float, rect, enum, bool, string, got "integer"'],
    ["no type", { key: "k" }, "type", "expected one of int, float, rect, enum, bool, string, got nothing"],
    ["no key", { type: "bool" }, "key", "required: expected a string"],
    ["an empty key", { key: "", type: "bool" }, "key", "expected a non-empty string"],
    ["required not a boolean", { key: "k", type: "bool", required: "yes" }, "required", 'expected true or false, got "yes"'],
    ["min above max", { key: "k", type: "float", min: 16, max: 8 }, "min", "expected min (16) ≤ max (8)"],
    ["min_length above max_length", { key: "k", type: "string", min_length: 5, max_length: 2 }, "min_length", "expected min_length (5) ≤ max_length (2)"],
    ["a negative min_length", { key: "k", type: "string", min_length: -1 }, "min_length", "expected a number ≥ 0, got -1"],
    ["a fractional int bound", { key: "k", type: "int", max: 2.5 }, "max", "expected an integer, got 2.5"],
    ["a string float bound", { key: "k", type: "float", min: "0" }, "min", 'expected a number, got "0"'],
    ["a float default below min", { key: "k", type: "float", default: 5, min: 8 }, "default", `${DEFAULT}expected a number ≥ min (8), got 5`],
    ["an int default above max", { key: "k", type: "int", default: 9, max: 8 }, "default", `${DEFAULT}expected an integer ≤ max (8), got 9`],
    ["a fractional int default", { key: "k", type: "int", default: 2.5 }, "default", "expected an integer, got 2.5"],
    ["an enum default not among the choices", { key: "k", type: "enum", choices: ["a", "b"], default: "c" }, "default", `${DEFAULT}expected one of "a", "b", got "c"`],
    ["no enum choices", { key: "k", type: "enum" }, "choices", "required: expected an array"],
    ["empty enum choices", { key: "k", type: "enum", choices: [] }, "choices", "expected a non-empty array"],
    ["duplicate enum choices", { key: "k", type: "enum", choices: ["a", "b", "a"] }, "choices[2]", 'duplicate choice "a" (first at index 0)'],
    ["a bool default that is a string", { key: "k", type: "bool", default: "true" }, "default", 'expected true or false, got "true"'],
    ["a rect default with a negative x", { key: "k", type: "rect", default: { x: -1, y: 0, width: 1, height: 1 } }, "default", `${DEFAULT}expected rect.x to be a number ≥ 0, got -1`],
    ["a rect default with zero width", { key: "k", type: "rect", default: { x: 0, y: 0, width: 0, height: 1 } }, "default", `${DEFAULT}expected rect.width to be a number > 0, got 0`],
    ["a rect default without height", { key: "k", type: "rect", default: { x: 0, y: 0, width: 1 } }, "default.height", "required: expected a number"],
    ["a pattern that does not compile", { key: "k", type: "string", pattern: "(" }, "pattern", "expected a JavaScript regular expression: Invalid regular expression: /(/u: Unterminated group"],
    ["a Python-only pattern", { key: "k", type: "string", pattern: "(?P<n>a)", default: "a" }, "pattern", "expected a JavaScript regular expression: Invalid regular expression: /(?P<n>a)/u: Invalid group"],
    ["a string default not matching the pattern", { key: "k", type: "string", pattern: "^[a-z]+$", default: "A1" }, "default", `${DEFAULT}expected a string matching /^[a-z]+$/, got "A1"`],
    ["a string default too short", { key: "k", type: "string", min_length: 3, default: "ab" }, "default", `${DEFAULT}expected at least 3 characters, got 2`],
    ["a string default too long", { key: "k", type: "string", max_length: 1, default: "ab" }, "default", `${DEFAULT}expected at most 1 characters, got 2`],
  ])("rejects a param with %s", (_, param, field, message) => {
    expect(errorsOf(withParam(param))).toEqual([{ path: `steps[0].params[0].${field}`, message }]);
  });

  it("rejects a param that is not an object", () => {
    expect(errorsOf(withParam(5 as unknown as Record<string, unknown>))).toEqual([{ path: "steps[0].params[0]", message: "expected an object, got 5" }]);
  });

  it("rejects duplicate param keys within a step, but not across steps", () => {
    const params = [{ key: "k", type: "bool" }, { key: "k", type: "int" }];
    expect(errorsOf({ ...minimal, steps: [{ index: 1, name: "a", params }] })).toEqual([
      { path: "steps[0].params[1].key", message: 'duplicate key "k" (first at index 0)' },
    ]);
    const across = { ...minimal, steps: [{ index: 1, name: "a", params: [params[0]] }, { index: 2, name: "b", params: [params[1]] }] };
    expect(validateManifest(across).ok).toBe(true);
  });

  it("reports every problem at once, with the contract's path notation", () => {
    const manifest = {
      ...contractExample,
      name: "",
      steps: [contractExample.steps[0], { index: 2, name: "check screw", params: [{ key: "threshold", type: "float", min: 0.9, max: 0.5 }] }],
    };
    expect(errorsOf(manifest)).toEqual([
      { path: "name", message: `${NAME}, got ""` },
      { path: "steps[1].params[0].min", message: "expected min (0.9) ≤ max (0.5)" },
    ]);
  });
});

describe("formatPath", () => {
  it.each<[PropertyKey[], string]>([
    [[], "manifest"],
    [["name"], "name"],
    [["steps", 1, "params", 0, "min"], "steps[1].params[0].min"],
    [["default_config", "a b"], 'default_config["a b"]'],
    [[0], "[0]"],
  ])("%j → %s", (parts, expected) => {
    expect(formatPath(parts, "manifest")).toBe(expected);
  });
});

describe("parseWithIssues", () => {
  it.each<[string, z.ZodType, unknown, string]>([
    ["an enum", z.enum(["a", "b"]), "c", 'expected one of "a", "b", got "c"'],
    ["a literal", z.literal(1), 2, "expected one of 1, got 2"],
    ["a long string", z.string().max(2), "abc", "expected at most 2 characters"],
    ["a short string", z.string().min(3), "ab", "expected at least 3 characters"],
    ["a long array", z.array(z.number()).max(1), [1, 2], "expected at most 1 items"],
    ["a short array", z.array(z.number()).min(2), [1], "expected at least 2 items"],
    ["an exclusive maximum", z.number().lt(5), 5, "expected a number < 5, got 5"],
    ["an exclusive minimum", z.number().gt(0), 0, "expected a number > 0, got 0"],
    ["an inclusive maximum", z.number().max(5), 6, "expected a number ≤ 5, got 6"],
    ["a strict object", z.strictObject({ a: z.number() }), { a: 1, b: 2 }, 'unknown key "b"'],
    ["a plain union", z.union([z.string(), z.number()]), true, "Invalid input"],
  ])("words %s issue", (_, schema, value, message) => {
    expect(parseWithIssues(schema, value, "body")).toEqual({ ok: false, errors: [{ path: "body", message }] });
  });

  it("returns the parsed data", () => {
    expect(parseWithIssues(z.object({ a: z.number().default(1) }), {}, "body")).toEqual({ ok: true, data: { a: 1 } });
  });
});

describe("describeValue", () => {
  it.each<[unknown, string]>([
    [undefined, "nothing"],
    [null, "null"],
    ["x", '"x"'],
    [1.5, "1.5"],
    [true, "true"],
    [[1], "an array"],
    [{}, "an object"],
  ])("%j → %s", (value, text) => {
    expect(describeValue(value)).toBe(text);
  });
});

describe("checkParamValue", () => {
  const rect = { key: "r", type: "rect" } as const;
  it.each<[string, ParamSpec, unknown, string | undefined]>([
    ["an int", { key: "k", type: "int" }, 3, undefined],
    ["an int as a float", { key: "k", type: "int" }, 3.5, "expected an integer, got 3.5"],
    ["an int as a string", { key: "k", type: "int" }, "3", 'expected an integer, got "3"'],
    ["an int at its bounds", { key: "k", type: "int", min: 1, max: 3 }, 3, undefined],
    ["an int below min", { key: "k", type: "int", min: 1 }, 0, "expected an integer ≥ min (1), got 0"],
    ["a float given an int", { key: "k", type: "float", min: 0, max: 1 }, 1, undefined],
    ["a float as NaN", { key: "k", type: "float" }, Number.NaN, "expected a number, got NaN"],
    ["a float as a boolean", { key: "k", type: "float" }, true, "expected a number, got true"],
    ["a float above max", { key: "k", type: "float", max: 0.9 }, 0.95, "expected a number ≤ max (0.9), got 0.95"],
    ["a rect", rect, { x: 0, y: 0, width: 1, height: 1, label: "extra fields are fine" }, undefined],
    ["a rect as an array", rect, [0, 0, 1, 1], "expected a rect {x, y, width, height}, got an array"],
    ["a rect as null", rect, null, "expected a rect {x, y, width, height}, got null"],
    ["a rect without y", rect, { x: 0, width: 1, height: 1 }, "expected rect.y to be a number ≥ 0, got nothing"],
    ["a rect with a string width", rect, { x: 0, y: 0, width: "1", height: 1 }, 'expected rect.width to be a number > 0, got "1"'],
    ["a rect with negative height", rect, { x: 0, y: 0, width: 1, height: -2 }, "expected rect.height to be a number > 0, got -2"],
    ["an enum choice", { key: "k", type: "enum", choices: ["fast", "accurate"] }, "fast", undefined],
    ["an enum non-choice", { key: "k", type: "enum", choices: ["fast", "accurate"] }, "slow", 'expected one of "fast", "accurate", got "slow"'],
    ["an enum number as a string", { key: "k", type: "enum", choices: [1, 2] }, "1", 'expected one of 1, 2, got "1"'],
    ["a bool", { key: "k", type: "bool" }, false, undefined],
    ["a bool as 0", { key: "k", type: "bool" }, 0, "expected true or false, got 0"],
    ["a string", { key: "k", type: "string" }, "", undefined],
    ["a string as an object", { key: "k", type: "string" }, {}, "expected a string, got an object"],
    ["a string counted in code points", { key: "k", type: "string", max_length: 2 }, "😀😀", undefined],
    ["a string over max_length", { key: "k", type: "string", max_length: 2 }, "abc", "expected at most 2 characters, got 3"],
    ["a string searched by pattern", { key: "k", type: "string", pattern: "\\d" }, "ab1c", undefined],
    ["a long non-matching string", { key: "k", type: "string", pattern: "^x" }, "y".repeat(100), `expected a string matching /^x/, got "${"y".repeat(56)}...`],
  ])("%s", (_, param, value, expected) => {
    expect(checkParamValue(param, value)).toBe(expected);
  });
});

describe("parseJson / jsonErrorOffset", () => {
  it.each<[string, string, number, number]>([
    ['{"a": 1,}', "Expected double-quoted property name in JSON", 1, 9],
    ['{\n  "a": tru\n}', "Unexpected token '\\n'", 2, 11],
    ['{\n  "a": 1\n  "b": 2\n}', "Expected ',' or '}' after property value in JSON", 3, 3],
    ["{'a': 1}", "Expected property name or '}' in JSON", 1, 2],
    ['{"a": "x', "Unterminated string in JSON", 1, 9],
    ["", "Unexpected end of JSON input", 1, 1],
    ["[1 2]", "Expected ',' or ']' after array element in JSON", 1, 4],
    ['{"a": 1} x', "Unexpected non-whitespace character after JSON", 1, 10],
    ['{"a": 01}', "Unexpected number in JSON", 1, 8],
    ['{"a": "\\x"}', "Bad escaped character in JSON", 1, 8],
  ])("locates the error in %j", (text, message, line, column) => {
    expect(parseJson(text)).toEqual({ ok: false, message, line, column });
  });

  it("parses valid JSON and ignores a BOM", () => {
    expect(parseJson('\uFEFF{"a": [1, true, null, "\\u00e9"]}')).toEqual({ ok: true, value: { a: [1, true, null, "é"] } });
  });

  it("returns -1 for valid JSON", () => {
    expect(jsonErrorOffset(' {"a": [1.5e3, -0, "x\\"y", {}, []], "b": false} ')).toBe(-1);
  });
});

describe("loadManifest", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "pv-manifest-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function failure(file: string): Promise<ProcVisionError> {
    try {
      await loadManifest(file);
    } catch (err) {
      if (err instanceof ProcVisionError) return err;
      throw err;
    }
    throw new Error("expected loadManifest to fail");
  }

  it("loads a valid manifest", async () => {
    const file = path.join(dir, "ok.json");
    await writeFile(file, JSON.stringify(contractExample, null, 2));
    await expect(loadManifest(file)).resolves.toMatchObject({ name: "algorithm-example", supported_pids: ["p001", "p002"] });
  });

  it("reports a missing file as 2002 with a hint", async () => {
    const file = path.join(dir, "absent.json");
    const err = await failure(file);
    expect(err.code).toBe("2002");
    expect(err.message).toBe(`manifest not found: ${file}`);
    expect(err.hint).toBe("create manifest.json at the project root (`procvision-cli init` writes one)");
  });

  it("reports a directory as unreadable", async () => {
    const err = await failure(dir);
    expect(err.code).toBe("2002");
    expect(err.message).toMatch(new RegExp(`^cannot read manifest ${dir}: EISDIR`));
  });

  it("reports invalid JSON with line and column", async () => {
    const file = path.join(dir, "bad.json");
    await writeFile(file, '{\n  "name": "x",\n  "version": "1",\n}\n');
    const err = await failure(file);
    expect(err.code).toBe("2002");
    expect(err.message).toBe(`${file} is not valid JSON at line 4, column 1: Expected double-quoted property name in JSON`);
    expect(err.details).toEqual({ line: 4, column: 1 });
  });

  it("reports schema errors with all issues in details", async () => {
    const file = path.join(dir, "schema.json");
    await writeFile(file, JSON.stringify({ ...minimal, supported_pids: [], version: "" }));
    const err = await failure(file);
    expect(err.code).toBe("2002");
    expect(err.message).toBe(`${file} is not a valid manifest (2 problems): version: ${VERSION_MESSAGE}; supported_pids: expected a non-empty array`);
    expect(err.details).toEqual({
      issues: [
        { path: "version", message: VERSION_MESSAGE },
        { path: "supported_pids", message: "expected a non-empty array" },
      ],
    });
  });
});

const VERSION_MESSAGE = 'expected a non-empty version usable in a file name (no /, \\, control characters or surrounding spaces), got ""';
