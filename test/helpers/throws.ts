// Synchronous throws as the tests look at them: the code of a ProcVisionError (which must carry a hint), or the error.
import { expect } from "vitest";
import { ProcVisionError } from "../../src/errors/index.js";

export function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ProcVisionError);
    expect((err as ProcVisionError).hint).toBeTruthy();
    return (err as ProcVisionError).code;
  }
  return undefined;
}

export function errorOf(fn: () => unknown): ProcVisionError {
  try {
    fn();
  } catch (err) {
    return err as ProcVisionError;
  }
  throw new Error("expected a throw");
}
