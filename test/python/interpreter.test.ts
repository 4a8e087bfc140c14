import { realpathSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { resolveInterpreter } from "../../src/python/interpreter.js";
import { testPython } from "../helpers/python.js";

describe("resolveInterpreter", () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const key of ["PYTHONHOME", "PYTHONPATH", "PYTHONSTARTUP"]) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
  });

  it("probes the interpreter without the host's PYTHON* settings (a stray PYTHONHOME made it unusable)", async () => {
    process.env.PYTHONHOME = "/nonexistent";
    process.env.PYTHONPATH = "/nonexistent";
    const python = realpathSync(testPython());
    const found = await resolveInterpreter(python);
    expect(found.version).toMatch(/^3\.\d+\.\d+$/);
  });
});
