import { isProcVisionError } from "../../errors/index.js";
import { projectChecks } from "../../validate/project-checks.js";
import { fail, summarize, type ValidationReport } from "../../validate/report.js";

/** Install step 4: the validate smoke checks through the adapter, in the package's own venv. Never throws. */
export async function smokeCheck(dir: string, venvPython: string): Promise<ValidationReport> {
  try {
    return summarize(await projectChecks({ projectDir: dir, python: venvPython }));
  } catch (err) {
    const message = isProcVisionError(err) ? `${err.code}: ${err.message}` : String(err);
    return summarize([fail("smoke_execute", `the smoke checks could not run: ${message}`)]);
  }
}
