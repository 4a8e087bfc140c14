import { isProcVisionError } from "../../errors/index.js";
import { projectChecks } from "../../checks/project-checks.js";
import { fail, summarize, type ValidationReport } from "../../checks/report.js";
import type { WorkerLaunch } from "../../worker/env.js";

/** `validate --image` / `--pid`: the image and PID to smoke with instead of the synthetic image and the first PID. */
export interface SmokeOptions {
  imagePath?: string;
  pid?: string;
}

/**
 * Install step 4: the validate smoke checks through the adapter, started exactly as the package's workers are
 * (`packageWorkerLaunch`), with their start-up limit: nothing the workers lack is lent to the check. Never throws.
 */
export async function smokeCheck(launch: WorkerLaunch, startupTimeoutMs?: number, options: SmokeOptions = {}): Promise<ValidationReport> {
  try {
    return summarize(await projectChecks({ projectDir: launch.cwd, worker: launch, ...options, ...(startupTimeoutMs === undefined ? {} : { startupTimeoutMs }) }));
  } catch (err) {
    const message = isProcVisionError(err) ? `${err.code}: ${err.message}` : String(err);
    return summarize([fail("smoke_execute", `the smoke checks could not run: ${message}`)]);
  }
}
