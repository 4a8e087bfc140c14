import path from "node:path";
import type { CommandDefinition } from "../../command-line/definition.js";
import { ErrorCode } from "../../errors/codes.js";
import { ProcVisionError } from "../../errors/procvision-error.js";
import { isOciReference, parseOciReference } from "../../oci/reference.js";
import { call, connection, uploadBody } from "../client.js";
import { apiOutput } from "../format.js";
import { connectionOptions, operatorHeader, type ClientFlags } from "./connection.js";

/**
 * An install that lands `invalid` (its smoke checks failed) is a failed install for the operator: exit 1 with 2005 and
 * the failed checks, never ✓. The checks carry no code of their own, so install_failed is the code that fits.
 */
function refuseInvalid(body: unknown): unknown {
  const pkg = body as { name?: string; version?: string; state?: string; validation?: { checks?: { name: string; result: string; message: string }[] } };
  if (pkg.state !== "invalid") return body;
  const failed = (pkg.validation?.checks ?? []).filter((c) => c.result === "FAIL").map((c) => `${c.name}: ${c.message}`);
  throw new ProcVisionError(ErrorCode.install_failed, `${pkg.name ?? "?"} ${pkg.version ?? "?"} installed as invalid: its smoke checks failed${failed.length ? ` (${failed.join("; ")})` : ""}`, {
    hint: `fix the algorithm, rebuild the package and install it again with --force (or, after fixing the station, procvision-runner validate ${pkg.name ?? "NAME"} ${pkg.version ?? "VERSION"})`,
  });
}

export const install: CommandDefinition<ClientFlags & { force?: boolean }, [string]> = {
  name: "install",
  args: ["<zip>"],
  summary: "install an offline package: a zip (uploaded to the runner), or oci://<registry>/<repository>:<tag> or @sha256:<digest> (pulled by the runner)",
  options: [{ flags: "--force", description: "replace the same name+version" }, ...connectionOptions],
  handler: async ({ args: [zip], options, progress }) => {
    const conn = connection(options);
    const route = `/algorithms/install${options.force ? "?force=true" : ""}`;
    if (isOciReference(zip)) {
      parseOciReference(zip); // refused here, before it is printed (a pasted login must not reach the terminal)
      progress?.(`the runner pulls ${zip}, then installs…`);
      return apiOutput("install", refuseInvalid((await call(conn, "POST", route, { json: { ref: zip }, ...operatorHeader(options) })).body));
    }
    // The percentage only on a terminal: a log gets the one line below.
    const meter = progress !== undefined && process.stderr.isTTY;
    const { body, size } = uploadBody(zip, (sent, total) => {
      if (meter) process.stderr.write(`\ruploading ${Math.round((100 * sent) / total)}%`);
    });
    progress?.(`uploading ${path.basename(zip)} (${(size / 1e6).toFixed(1)} MB), then installing…`);
    const named = `/algorithms/install?${new URLSearchParams({ ...(options.force ? { force: "true" } : {}), filename: path.basename(zip) }).toString()}`;
    const result = await call(conn, "POST", named, { body, contentType: "application/zip", ...operatorHeader(options) });
    if (meter) process.stderr.write("\n");
    return apiOutput("install", refuseInvalid(result.body));
  },
};
