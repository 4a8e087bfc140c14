// The one error type users see: what anything thrown becomes at the boundary (CLI output, API answers, audit).
import { describe, expect, it } from "vitest";
import { ProcVisionError } from "../src/errors/index.js";

describe("ProcVisionError.from", () => {
  it("keeps a ProcVisionError as it is, with its code and hint", () => {
    const original = new ProcVisionError("2008", "SHA256SUMS does not match", { hint: "rebuild" });
    expect(ProcVisionError.from(original)).toBe(original);
    expect(ProcVisionError.from(original, "1002")).toBe(original);
  });

  it("wraps anything else under 9999 (or the code given) with its message, the original as the cause", () => {
    const boom = new TypeError("x is undefined");
    const wrapped = ProcVisionError.from(boom);
    expect(wrapped).toMatchObject({ code: "9999", message: "x is undefined", codeName: "unknown_error" });
    expect(wrapped.cause).toBe(boom);
    expect(ProcVisionError.from("plain text", "1002").toJSON()).toEqual({ error_code: "1002", message: "plain text" });
  });
});
