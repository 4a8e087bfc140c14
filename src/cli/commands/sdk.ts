import { bundledSdkWheel } from "../../sdk-bundle.js";
import type { CommandOutput } from "../../command-line/reporter.js";

export function sdkCommand(): CommandOutput {
  const wheel = bundledSdkWheel();
  return {
    exitCode: 0,
    json: { path: wheel.path, version: wheel.version },
    human: [`procvision_algorithm_sdk ${wheel.version}`, wheel.path, "", `install into a development environment: pip install ${wheel.path}`],
  };
}
