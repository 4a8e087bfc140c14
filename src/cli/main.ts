#!/usr/bin/env node
import { readFileSync } from "node:fs";
import path from "node:path";
import { Command, Option } from "commander";
import { packageRoot } from "../package-root.js";
import type { PackageFlags } from "./commands/package.js";
import type { DesiredSetFlags } from "./commands/desired.js";
import type { FleetStatusFlags } from "./commands/fleet-status.js";
import type { PublishFlags } from "./commands/publish.js";
import type { RegistryFlags } from "./commands/registry-flags.js";
import type { RunOptions } from "./commands/run.js";
import type { ValidateOptions } from "./commands/validate.js";
import { endOnParseError } from "../parse-errors.js";
import { errorOutput, printOutput, type CommandOutput } from "./output.js";

const version = (JSON.parse(readFileSync(path.join(packageRoot(), "package.json"), "utf8")) as { version: string }).version;

/** Runs a handler, prints through the one reporter and exits with its code. */
async function execute(json: boolean | undefined, handler: () => Promise<CommandOutput> | CommandOutput): Promise<void> {
  let output: CommandOutput;
  try {
    output = await handler();
  } catch (err) {
    output = errorOutput(err);
    if (!json) {
      process.stderr.write(output.human.join("\n") + "\n");
      process.exitCode = output.exitCode;
      return;
    }
  }
  printOutput(output, json === true);
  process.exitCode = output.exitCode;
}

const progress = (line: string): void => {
  process.stderr.write(`${line}\n`);
};
const collect = (value: string, previous: string[] = []) => [...previous, value];

const program = new Command("procvision-cli")
  .description("Scaffold, validate, run and package ProcVision inspection algorithms for air-gapped stations.")
  .version(version, "--version")
  // Program options only before the command: `init NAME --version 2.0.0` (contract §2) is init's, not the CLI's.
  .enablePositionalOptions()
  .showHelpAfterError()
  .exitOverride();

program.command("sdk")
  .description("print the path and version of the SDK wheel bundled with the CLI")
  .option("--json", "machine-readable output")
  .addHelpText("after", "\nExample:\n  pip install \"$(procvision-cli sdk --json | jq -r .path)\"")
  .action((o: { json?: boolean }) => execute(o.json, async () => (await import("./commands/sdk.js")).sdkCommand()));

program.command("init <name>")
  .description("create an algorithm project that passes validate as generated")
  .option("-d, --dir <dir>", "target directory (default: ./<name>)")
  .option("--pids <list>", "comma-separated supported PIDs", "p001,p002")
  .option("-v, --version <version>", "algorithm version", "1.0.0")
  .option("-e, --desc <text>", "description")
  .option("--force", "overwrite existing files")
  .option("--python <path>", "interpreter whose target goes into .procvision_env.json (default: python3)")
  .option("--json", "machine-readable output")
  .addHelpText("after", "\nExample:\n  procvision-cli init screw-check --pids A01,A02 -v 1.2.0")
  .action((name: string, o: { dir?: string; pids?: string; version?: string; desc?: string; force?: boolean; python?: string; json?: boolean }) =>
    execute(o.json, async () => (await import("./commands/init.js")).initCommand(name, o)));

program.command("validate [project]")
  .description("check a project (or with --zip an offline package) by running it through the adapter")
  .option("--manifest <path>", "manifest.json to use (default: <project>/manifest.json)")
  .option("--zip <path>", "validate an offline package instead of a project")
  .option("--python <path>", "interpreter (default: the project's .venv, else python3)")
  .option("--image <path>", "JPEG/PNG for the smoke run, as current and guide image (default: a synthetic image)")
  .option("--pid <pid>", "PID for the smoke run (default: the first supported PID)")
  .option("--entry <module:Class>", "run this class instead of the manifest's entry_point")
  .option("--tail-logs", "print the algorithm's log lines (its stderr) as they come, on stderr")
  .addOption(new Option("--key <pem>", "with --zip: ed25519 public key to verify SIGNATURE with (repeatable)").argParser(collect))
  .option("--full", "with --zip: install the zip's wheels into a throw-away venv and smoke-run the code inside it (a project always runs through the adapter)")
  .option("--legacy-validate", "accepted for the original CLI's scripts: validate has one path, the adapter subprocess")
  .option("--json", "machine-readable report")
  .addHelpText("after", "\nAlgorithms of every generation validate: G1 (get_info/pre_execute/execute) and G3 (execute with cur_image,\n" +
    "guide_image; run for each manifest step, or step 1).\n\nExamples:\n  procvision-cli validate ./screw-check\n" +
    "  procvision-cli validate ./screw-check --entry screw_check.main:ScrewCheck --tail-logs\n" +
    "  procvision-cli validate --zip screw-check-v1.2.0-offline.zip --full")
  .action((project: string | undefined, o: ValidateOptions & { json?: boolean }) =>
    execute(o.json, async () => (await import("./commands/validate.js")).validateCommand(project ?? ".", o)));

program.command("run <project>")
  .description("run the algorithm on an image as the runner does (shared memory, adapter subprocess): pre_execute and execute (G1), or execute with both images (G3)")
  .option("--pid <pid>", "product id (required when the manifest lists supported_pids, and must be one of them)")
  .option("--image <path>", "the current image, JPEG/PNG (same as --cur-image; beside another --cur-image and no --guide-image: the guide image, as the original 0.3.x CLI read it)")
  .option("--cur-image <path>", "the current image, JPEG/PNG (same as --image)")
  .option("--guide-image <path>", "the guide image, JPEG/PNG (G3; default: none, guide_image is None)")
  .option("--step <n>", "step index (default: 1, or the first step the manifest declares when it has no step 1)")
  .option("--step-desc <text>", "step description passed to a G3 execute (default: the manifest step's name)")
  .option("--guide-info <json>", "guide_info passed to a G3 execute, as JSON or @file.json (default: [])")
  .option("--params <json>", "user_params as JSON, or @file.json; checked against the step's params in manifest.json, defaults filled in (as the runner does)")
  .option("--session-steps <list>", "run these steps in one session, e.g. 1,2")
  .option("--timeout-ms <n>", "per-call timeout (a hung algorithm ends with 1005)", "30000")
  .option("--save-overlay <png>", "write the current image with calibration (blue), position (green) and defect (red) rects")
  .option("--report <html>", "write a self-contained HTML report")
  .option("--python <path>", "interpreter (default: the project's .venv, else python3)")
  .option("--entry <module:Class>", "run this class instead of the manifest's entry_point")
  .option("--tail-logs", "print the algorithm's log lines (its stderr) as they come, on stderr")
  .option("--legacy-run", "accepted for the original CLI's scripts: run has one path, the adapter subprocess")
  .option("--json", "machine-readable output")
  .addHelpText("after", "\nExamples:\n  procvision-cli run ./screw-check --pid A01 --image part.jpg --params '{\"threshold\": 0.8}' --save-overlay out.png\n" +
    "  procvision-cli run ./g3-algo --cur-image cur.jpg --guide-image guide.jpg --step-desc 'check screw 3' --guide-info @guide.json --json")
  .action((project: string, o: RunOptions & { json?: boolean }) => execute(o.json, async () => (await import("./commands/run.js")).runCommand(project, o)));

program.command("package <project>")
  .description("build the offline package: source, manifest, pinned requirements and wheels for the target")
  .option("-o, --output <zip>", "output path (default: <project>/<name>-v<version>-offline.zip)")
  .option("-r, --requirements <path>", "requirements file (default: <project>/requirements.txt)")
  .option("-a, --auto-freeze", "write requirements.txt from pip freeze when it is missing (the default)")
  .option("--no-auto-freeze", "without requirements.txt, stop instead of writing it from pip freeze")
  .addOption(new Option("-w, --wheels-platform <platform>", "target platform tag (repeatable)").argParser(collect))
  .option("-p, --python-version <version>", "target Python version, e.g. 3.10")
  .option("-i, --implementation <impl>", "target implementation, e.g. cp")
  .option("-b, --abi <abi>", "target ABI, e.g. cp310")
  .option("--index-url <url>", "package index")
  .addOption(new Option("--extra-index-url <url>", "extra package index (repeatable)").argParser(collect))
  .addOption(new Option("--find-links <dir>", "local wheel directory (repeatable)").argParser(collect))
  .option("--isolated", "ignore the user's pip configuration and PIP_* variables")
  .option("-s, --skip-download", "pack the existing wheels/ as is")
  .option("--sign <keyfile>", "sign SHA256SUMS with this ed25519 private key")
  .option("--python <path>", "interpreter for pip (default: the project's .venv, else python3)")
  .option("--embed-python", "put a Python runtime into the package (python_runtime/): the station installs and runs the package on it")
  .option("--no-embed-python", "do not embed a Python runtime (the default)")
  .option("--python-runtime <dir>", "with --embed-python: the runtime to embed, a whole CPython installation for the station's platform")
  .option("--runtime-python-version <version>", "with --embed-python: override the Python version probed from the runtime, e.g. 3.12")
  .option("--runtime-abi <abi>", "with --embed-python: override the ABI probed from the runtime, e.g. cp312")
  .option("--json", "machine-readable output")
  .addHelpText("after", "\nExamples:\n  procvision-cli package ./screw-check -w win_amd64 -p 3.10 -b cp310\n  procvision-cli package ./screw-check -w manylinux_2_28_x86_64 --sign station.key\n  procvision-cli package ./screw-check --embed-python --python-runtime /opt/python3.12")
  .action((project: string, o: PackageFlags & { json?: boolean }) =>
    execute(o.json, async () => {
      const { packageCommand, packageOptions } = await import("./commands/package.js");
      return packageCommand(project, { ...packageOptions(o), ...(o.json ? {} : { progress }) });
    }));

program.command("publish <zip> <ref>")
  .description("push an offline package to an OCI registry as an artifact (oci://host[:port]/repository:tag); prints its digest")
  .option("--username <user>", "registry user (the password or token comes from --password-stdin)")
  .option("--password-stdin", "read the registry password or token from stdin")
  .option("--plain-http", "talk HTTP without TLS (a registry on the plant network; loopback registries always may)")
  .option("--json", "machine-readable output")
  .addHelpText("after", "\nCredentials: --username with --password-stdin, else the Docker config file (docker login), else anonymous.\n\n" +
    "Examples:\n  procvision-cli publish screw-check-v1.2.0-offline.zip oci://registry.plant:5000/vision/screw-check:1.2.0\n" +
    "  cat token.txt | procvision-cli publish screw-check-v1.2.0-offline.zip oci://registry.plant/vision/screw-check:1.2.0 --username ci --password-stdin")
  .action((zip: string, ref: string, o: PublishFlags & { json?: boolean }) =>
    execute(o.json, async () => (await import("./commands/publish.js")).publishCommand(zip, ref, o, o.json ? undefined : progress)));

const desired = program.command("desired").description("the desired state of a line: which package each PID runs, on every station or on some (an OCI artifact)");
const registryOptions = (command: Command) => command
  .option("--username <user>", "registry user (the password or token comes from --password-stdin)")
  .option("--password-stdin", "read the registry password or token from stdin")
  .option("--plain-http", "talk HTTP without TLS (loopback registries always may)")
  .option("--json", "machine-readable output");
registryOptions(desired.command("set <ref>")
  .description("bind PIDs to a published package in the desired state at <ref> (oci://host/repo:tag); the package is pinned to its digest")
  .requiredOption("--package <ref>", "the package: oci://host/repo:tag or @sha256:… (as procvision-cli publish printed it)")
  .requiredOption("--pids <list>", "comma-separated PIDs")
  .addOption(new Option("--station <id>", "only on this station (its workstation_id; repeatable): an override of the line's packages").argParser(collect)))
  .addHelpText("after", "\nExample:\n  procvision-cli desired set oci://registry.plant:5000/lines/line-a:desired --package oci://registry.plant:5000/vision/screw-check@sha256:… --pids A01,A02")
  .action((ref: string, o: DesiredSetFlags & { json?: boolean }) => execute(o.json, async () => (await import("./commands/desired.js")).desiredSetCommand(ref, o)));
registryOptions(desired.command("show <ref>").description("print the desired state at <ref>"))
  .action((ref: string, o: RegistryFlags & { json?: boolean }) => execute(o.json, async () => (await import("./commands/desired.js")).desiredShowCommand(ref, o)));

program.command("fleet").description("the fleet as its stations report it").command("status")
  .description("every station's last reported state from the telemetry bucket: station, desired, actual, last seen, error")
  .option("--endpoint <url>", "S3-compatible endpoint, e.g. http://minio.plant:9000 (default: $AWS_ENDPOINT_URL_S3, else $AWS_ENDPOINT_URL)")
  .requiredOption("--bucket <name>", "the telemetry bucket the stations upload to")
  .option("--prefix <prefix>", "the stations' telemetry prefix", "")
  .option("--region <region>", "region (most on-prem servers ignore it)")
  .option("--access-key-id-file <file>", "file holding the access key id (default: $AWS_ACCESS_KEY_ID)")
  .option("--secret-access-key-file <file>", "file holding the secret key (default: $AWS_SECRET_ACCESS_KEY)")
  .option("--json", "machine-readable output")
  .addHelpText("after", "\nExample:\n  AWS_ACCESS_KEY_ID=… AWS_SECRET_ACCESS_KEY=… procvision-cli fleet status --endpoint http://minio.plant:9000 --bucket procvision")
  .action((o: FleetStatusFlags & { json?: boolean }) => execute(o.json, async () => (await import("./commands/fleet-status.js")).fleetStatusCommand(o)));

program.command("keygen")
  .description("create an ed25519 key pair for signing offline packages")
  .option("-o, --out <prefix>", "write <prefix>.key (private, 0600) and <prefix>.pub", "procvision-signing")
  .option("--force", "overwrite existing key files")
  .option("--json", "machine-readable output")
  .action((o: { out: string; force?: boolean; json?: boolean }) => execute(o.json, async () => (await import("./commands/keygen.js")).keygenCommand(o)));

try {
  await program.parseAsync(process.argv);
} catch (err) {
  endOnParseError(err, process.argv);
}
