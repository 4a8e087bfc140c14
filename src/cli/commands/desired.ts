import { setDesired, stationPackages, type DesiredDocument } from "../../fleet/document.js";
import { readDesired, resolveEntry, updateDesired, type SettingsFor } from "../../fleet/registry-state.js";
import { tick, UsageError, type CommandOutput } from "../../command-line/reporter.js";
import { ociArgument, registryFlags, type RegistryFlags } from "./registry-flags.js";

export interface DesiredSetFlags extends RegistryFlags {
  package: string;
  pids: string;
  station?: string[];
  replace?: boolean;
}

/** `desired set <ref> --package oci://… --pids A01,A02 [--station ID]…`: the package is pinned to its digest. */
export async function desiredSetCommand(ref: string, flags: DesiredSetFlags): Promise<CommandOutput> {
  const pids = flags.pids.split(",").map((p) => p.trim()).filter(Boolean);
  if (pids.length === 0) throw new UsageError("--pids needs at least one PID", "e.g. --pids A01,A02");
  ociArgument(ref);
  ociArgument(flags.package);
  const settings = await registryFlags(flags);
  const settingsFor: SettingsFor = () => settings;
  const resolved = await resolveEntry({ ref: flags.package, pids }, settingsFor);
  const { doc: next, digest, replaced } = await updateDesired(ref, (doc) => setDesired(doc, resolved.ref, pids, flags.station ?? []), settingsFor,
    { replaceUnusable: flags.replace === true });
  const where = flags.station?.length ? `station${flags.station.length > 1 ? "s" : ""} ${flags.station.join(", ")}` : "every station";
  return {
    exitCode: 0,
    json: { ref, digest, document: next, ...(replaced === undefined ? {} : { replaced }) },
    human: [
      ...(replaced === undefined ? [] : [`! replaced a document no station could use: ${replaced}`]),
      `${tick(true)} ${pids.join(", ")} → ${resolved.name} ${resolved.version} (${resolved.ref}) on ${where}`, `  desired state ${ref} is now ${digest}`,
    ],
  };
}

export async function desiredShowCommand(ref: string, flags: RegistryFlags): Promise<CommandOutput> {
  ociArgument(ref);
  const settings = await registryFlags(flags);
  const { doc, digest } = await readDesired(ref, () => settings);
  return { exitCode: 0, json: { ref, digest: digest ?? null, document: doc }, human: describe(ref, digest, doc) };
}

function describe(ref: string, digest: string | undefined, doc: DesiredDocument): string[] {
  if (digest === undefined) return [`${ref}: nothing published yet (procvision-cli desired set writes it)`];
  const lines = (list: DesiredDocument["packages"]) => (list.length === 0 ? ["    (no packages)"] : list.map((e) => `    ${e.pids.join(", ")} → ${e.ref}`));
  return [
    `${ref} (${digest})`,
    "  every station:", ...lines(doc.packages),
    ...Object.keys(doc.stations).sort().flatMap((id) => [`  station ${id}:`, ...lines(stationPackages(doc, id))]),
  ];
}
