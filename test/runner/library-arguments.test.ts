// The library from plain JavaScript: wrong arguments are ProcVisionError 1006 saying what was expected (contract §7),
// never a TypeError from inside, and never a PID string bound letter by letter.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProcVisionError } from "../../src/errors/index.js";
import { Runner } from "../../src/runner/runner.js";
import { noopHost } from "../../src/store/host.js";

const work = mkdtempSync(path.join(tmpdir(), "pv-library-args-"));
let runner: Runner;
// What an untyped caller can pass: the library's types do not hold at run time.
let loose: Record<string, (...args: unknown[]) => Promise<unknown>>;

beforeAll(async () => {
  runner = await Runner.open({ root: work, host: noopHost, log: () => undefined });
  loose = runner as unknown as typeof loose;
});
afterAll(async () => {
  await runner.close();
  rmSync(work, { recursive: true, force: true });
});

async function refusal(call: () => Promise<unknown>): Promise<ProcVisionError> {
  const err = await call().then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ProcVisionError);
  return err as ProcVisionError;
}

describe("library arguments", () => {
  it.each([
    ["activate with a PID string", () => loose.activate!("algo", "1.0", "A01"), /PIDs as a list of strings, got the string "A01"/],
    ["switch without PIDs", () => loose.switch!("algo", "1.0"), /PIDs as a list of strings, got undefined/],
    ["rollback with a string", () => loose.rollback!("A01"), /list of strings/],
    ["deactivate with nothing", () => loose.deactivate!(), /list of strings/],
    ["start without a version", () => loose.start!("algo"), /name and version as strings, got string and undefined/],
    ["uninstall with numbers", () => loose.uninstall!(1, 2), /got number and number/],
    ["install of a number", () => loose.install!(5), /install source must be an object, got number/],
    ["install of nothing", () => loose.install!(), /install source must be an object, got undefined/],
    ["inspect of null", () => loose.inspect!(null), /inspect request must be an object, got null/],
    ["inspect without an image", () => loose.inspect!({ pid: "A01" }), /needs an image, got undefined/],
    ["a session with a string context", () => loose.createSession!("A01", "lot 7"), /session context must be an object, got string/],
    ["records with a negative limit", () => loose.records!({ limit: -1 }), /limit must be an integer from 1 to 10000, got -1/],
    ["records with a limit given as a string", () => loose.records!({ limit: "5" }), /got "5"/],
    ["records of a status no record has", () => loose.records!({ status: "bogus" }), /status must be OK or ERROR, got "bogus"/],
    ["records of a result in lower case", () => loose.records!({ result_status: "ng" }), /result_status must be OK or NG, got "ng"/],
    ["records with a null filter", () => loose.records!(null), /records filter must be an object, got null/],
    ["audit with a null filter", () => loose.audit!(null), /audit filter must be an object, got null/],
    ["list with a null filter", () => loose.list!(null), /list filter must be an object, got null/],
    ["uninstall with null options", () => loose.uninstall!("algo", "1.0", null), /uninstall options must be an object, got null/],
    ["install of an empty object", () => loose.install!({}), /needs path \(a zip\) or ref/],
    ["install of a numeric path", () => loose.install!({ path: 5 }), /needs path \(a zip\) or ref/],
    ["a session without a PID", () => loose.createSession!(), /expected a PID as a string, got undefined/],
  ])("%s → 1006", async (_, call, message) => {
    const err = await refusal(call);
    expect(err.code).toBe("1006");
    expect(err.message).toMatch(message);
    expect(err.hint).toBeTruthy();
  });
});
