import type { CommandDefinition } from "../../command-line/definition.js";
import type { PackageFlags } from "../commands/package.js";
import { jsonOutput } from "./options.js";

export const packageCommand: CommandDefinition<PackageFlags, [string]> = {
  name: "package",
  args: ["<project>"],
  summary: "build the offline package: source, manifest, pinned requirements and wheels for the target",
  options: [
    { flags: "-o, --output <zip>", description: "output path (default: <project>/<name>-v<version>-offline.zip)" },
    { flags: "-r, --requirements <path>", description: "requirements file (default: <project>/requirements.txt)" },
    { flags: "-a, --auto-freeze", description: "write requirements.txt from pip freeze when it is missing (the default)" },
    { flags: "--no-auto-freeze", description: "without requirements.txt, stop instead of writing it from pip freeze" },
    { flags: "-w, --wheels-platform <platform>", description: "target platform tag (repeatable)", repeatable: true },
    { flags: "-p, --python-version <version>", description: "target Python version, e.g. 3.10" },
    { flags: "-i, --implementation <impl>", description: "target implementation, e.g. cp" },
    { flags: "-b, --abi <abi>", description: "target ABI, e.g. cp310" },
    { flags: "--index-url <url>", description: "package index" },
    { flags: "--extra-index-url <url>", description: "extra package index (repeatable)", repeatable: true },
    { flags: "--find-links <dir>", description: "local wheel directory (repeatable)", repeatable: true },
    { flags: "--isolated", description: "ignore the user's pip configuration and PIP_* variables" },
    { flags: "-s, --skip-download", description: "pack the existing wheels/ as is" },
    { flags: "--sign <keyfile>", description: "sign SHA256SUMS with this ed25519 private key" },
    { flags: "--python <path>", description: "interpreter for pip (default: the project's .venv, else python3)" },
    { flags: "--embed-python", description: "put a Python runtime into the package (python_runtime/): the station installs and runs the package on it" },
    { flags: "--no-embed-python", description: "do not embed a Python runtime (the default)" },
    { flags: "--python-runtime <dir>", description: "with --embed-python: the runtime to embed, a whole CPython installation for the station's platform" },
    { flags: "--runtime-python-version <version>", description: "with --embed-python: override the Python version probed from the runtime, e.g. 3.12" },
    { flags: "--runtime-abi <abi>", description: "with --embed-python: override the ABI probed from the runtime, e.g. cp312" },
    jsonOutput,
  ],
  examples: [
    "procvision-cli package ./screw-check -w win_amd64 -p 3.10 -b cp310",
    "procvision-cli package ./screw-check -w manylinux_2_28_x86_64 --sign station.key",
    "procvision-cli package ./screw-check --embed-python --python-runtime /opt/python3.12",
  ],
  handler: async ({ args: [project], options, progress }) => {
    const { packageCommand, packageOptions } = await import("../commands/package.js");
    return packageCommand(project, { ...packageOptions(options), ...(progress ? { progress } : {}) });
  },
};
