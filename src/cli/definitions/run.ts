import type { CommandDefinition } from "../../command-line/definition.js";
import type { RunOptions } from "../commands/run.js";
import { entryOption, jsonOutput, projectPython, tailLogsOption } from "./options.js";

export const run: CommandDefinition<RunOptions, [string]> = {
  name: "run",
  args: ["<project>"],
  summary: "run the algorithm on an image as the runner does (shared memory, adapter subprocess): pre_execute and execute (G1), or execute with both images (G3)",
  options: [
    { flags: "--pid <pid>", description: "product id (required when the manifest lists supported_pids, and must be one of them)" },
    { flags: "--image <path>", description: "the current image, JPEG/PNG (same as --cur-image; beside another --cur-image and no --guide-image: the guide image, as the original 0.3.x CLI read it)" },
    { flags: "--cur-image <path>", description: "the current image, JPEG/PNG (same as --image)" },
    { flags: "--guide-image <path>", description: "the guide image, JPEG/PNG (G3; default: none, guide_image is None)" },
    { flags: "--step <n>", description: "step index (default: 1, or the first step the manifest declares when it has no step 1)" },
    { flags: "--step-desc <text>", description: "step description passed to a G3 execute (default: the manifest step's name)" },
    { flags: "--guide-info <json>", description: "guide_info passed to a G3 execute, as JSON or @file.json (default: [])" },
    { flags: "--params <json>", description: "user_params as JSON, or @file.json; checked against the step's params in manifest.json, defaults filled in (as the runner does)" },
    { flags: "--session-steps <list>", description: "run these steps in one session, e.g. 1,2" },
    { flags: "--timeout-ms <n>", description: "per-call timeout (a hung algorithm ends with 1005)", default: "30000" },
    { flags: "--save-overlay <png>", description: "write the current image with calibration (blue), position (green) and defect (red) rects" },
    { flags: "--report <html>", description: "write a self-contained HTML report" },
    projectPython,
    entryOption,
    tailLogsOption,
    { flags: "--legacy-run", description: "accepted for the original CLI's scripts: run has one path, the adapter subprocess" },
    jsonOutput,
  ],
  examples: [
    "procvision-cli run ./screw-check --pid A01 --image part.jpg --params '{\"threshold\": 0.8}' --save-overlay out.png",
    "procvision-cli run ./g3-algo --cur-image cur.jpg --guide-image guide.jpg --step-desc 'check screw 3' --guide-info @guide.json --json",
  ],
  handler: async ({ args: [project], options }) => (await import("../commands/run.js")).runCommand(project, options),
};
