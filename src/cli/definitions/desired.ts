import type { CommandDefinition, CommandGroup, OptionSpec } from "../../command-line/definition.js";
import type { DesiredSetFlags } from "../commands/desired.js";
import type { RegistryFlags } from "../commands/registry-flags.js";
import { jsonOutput } from "./options.js";

const registryOptions: OptionSpec[] = [
  { flags: "--username <user>", description: "registry user (the password or token comes from --password-stdin)" },
  { flags: "--password-stdin", description: "read the registry password or token from stdin" },
  { flags: "--plain-http", description: "talk HTTP without TLS (loopback registries always may)" },
  jsonOutput,
];

const desiredSet: CommandDefinition<DesiredSetFlags, [string]> = {
  name: "set",
  args: ["<ref>"],
  summary: "bind PIDs to a published package in the desired state at <ref> (oci://host/repo:tag); the package is pinned to its digest",
  options: [
    { flags: "--package <ref>", description: "the package: oci://host/repo:tag or @sha256:… (as procvision-cli publish printed it)", required: true },
    { flags: "--pids <list>", description: "comma-separated PIDs", required: true },
    { flags: "--station <id>", description: "only on this station (its workstation_id; repeatable): an override of the line's packages", repeatable: true },
    { flags: "--replace", description: "when the document there is one no station can use, write a new one in its place (its content is dropped)" },
    ...registryOptions,
  ],
  examples: ["procvision-cli desired set oci://registry.plant:5000/lines/line-a:desired --package oci://registry.plant:5000/vision/screw-check@sha256:… --pids A01,A02"],
  handler: async ({ args: [ref], options }) => (await import("../commands/desired.js")).desiredSetCommand(ref, options),
};

const desiredShow: CommandDefinition<RegistryFlags, [string]> = {
  name: "show",
  args: ["<ref>"],
  summary: "print the desired state at <ref>",
  options: registryOptions,
  handler: async ({ args: [ref], options }) => (await import("../commands/desired.js")).desiredShowCommand(ref, options),
};

export const desired: CommandGroup = {
  name: "desired",
  summary: "the desired state of a line: which package each PID runs, on every station or on some (an OCI artifact)",
  commands: [desiredSet, desiredShow],
};
