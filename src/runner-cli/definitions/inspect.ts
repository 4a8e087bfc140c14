import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import type { CommandDefinition } from "../../command-line/definition.js";
import { ErrorCode } from "../../errors/codes.js";
import { ProcVisionError } from "../../errors/procvision-error.js";
import { call, connection } from "../client.js";
import { apiOutput } from "../format.js";
import { connectionOptions, operatorHeader, type ClientFlags } from "./connection.js";

interface InspectFlags extends ClientFlags {
  pid: string;
  image: string;
  step?: string;
  method: string;
  params?: string;
  session?: string;
  guideImage?: string;
  stepDesc?: string;
  guideInfo?: string;
}

/** An image file for the form; a missing one is 1002 naming the flag. */
function imageFile(file: string, flag: string): Blob {
  if (!existsSync(file)) throw new ProcVisionError(ErrorCode.image_load_failed, `${flag} ${file} not found`, { hint: "pass the path of a JPEG or PNG file" });
  return new Blob([readFileSync(file)]);
}

/** `--guide-info JSON|@file`, checked here so a typo is named before anything is uploaded (1006). */
function guideInfoText(value: string): string {
  let text = value;
  if (value.startsWith("@")) {
    const file = value.slice(1);
    if (!existsSync(file)) throw new ProcVisionError(ErrorCode.invalid_params, `--guide-info file ${file} not found`, { hint: "pass JSON, or @ and the path of a JSON file" });
    text = readFileSync(file, "utf8");
  }
  try {
    JSON.parse(text);
  } catch (err) {
    throw new ProcVisionError(ErrorCode.invalid_params, `--guide-info is not valid JSON: ${(err as Error).message}`, {
      hint: `e.g. --guide-info '[{"label": "1", "posList": [{"x": 10, "y": 20, "width": 30, "height": 40}]}]' or --guide-info @guide.json`,
    });
  }
  return text;
}

export const inspect: CommandDefinition<InspectFlags, []> = {
  name: "inspect",
  summary: "inspect an image (JPEG/PNG), and a guide image for G3 algorithms, with the PID's active package",
  options: [
    { flags: "--pid <pid>", required: true },
    { flags: "--image <file>", description: "the current image", required: true },
    { flags: "--step <n>", description: "step index (0 or more; default: the manifest's first step)" },
    { flags: "--method <m>", description: "pre_execute | execute | both", default: "both" },
    { flags: "--params <json>", description: "user_params JSON" },
    { flags: "--session <id>", description: "session id" },
    { flags: "--guide-image <file>", description: "the guide (reference) image of a G3 inspection" },
    { flags: "--step-desc <text>", description: "the step's description (G3)" },
    { flags: "--guide-info <json>", description: "guide annotations (G3) as JSON, or @file.json" },
    ...connectionOptions,
  ],
  handler: async ({ options: o }) => {
    const conn = connection(o);
    const form = new FormData();
    form.set("pid", o.pid);
    if (o.step !== undefined) form.set("step_index", o.step);
    form.set("method", o.method);
    if (o.params) form.set("user_params", o.params);
    if (o.session) form.set("session_id", o.session);
    if (o.stepDesc !== undefined) form.set("step_desc", o.stepDesc);
    if (o.guideInfo !== undefined) form.set("guide_info", guideInfoText(o.guideInfo));
    form.set("image", imageFile(o.image, "--image"), path.basename(o.image));
    if (o.guideImage !== undefined) form.set("guide_image", imageFile(o.guideImage, "--guide-image"), path.basename(o.guideImage));
    return apiOutput("inspect", (await call(conn, "POST", "/inspect", { body: form, ...operatorHeader(o) })).body);
  },
};
