import { expandPlatforms } from "../wheel-tags/platforms.js";
import { versionNodot, type WheelTarget } from "../wheel-tags/supported.js";
import type { TargetEnvField, TargetEnvFile } from "./schema.js";

/** Where a field's value came from; `derived` is an ABI computed from the version, `default` a built-in value. */
/** `runtime`: the embedded runtime's interpreter (package --embed-python), which stands where the local one would. */
export type TargetSource = "flag" | "env-file" | "local" | "runtime" | "derived" | "default";

export interface ResolvedTarget extends WheelTarget {
  /** manylinux families expanded: what pip gets as `--platform` and what wheels are checked against. */
  platforms: string[];
  /** The platforms as given, before expansion: what messages show. */
  wheelsPlatform: string[];
  autoFreeze: boolean;
  indexUrl: string | null;
  extraIndexUrls: string[];
  findLinks: string[];
}

export interface TargetResolution {
  target: ResolvedTarget;
  /** Where each target field came from (`python_runtime` only picks a directory, it is no target field). */
  sources: Record<Exclude<TargetEnvField, "python_runtime">, TargetSource>;
}

type Layer = readonly [TargetSource, TargetEnvFile | undefined];
type Picked<K extends TargetEnvField> = readonly [Exclude<TargetEnvFile[K], undefined>, TargetSource];

function pick<K extends TargetEnvField>(key: K, layers: readonly Layer[]): Picked<K> | undefined {
  for (const [source, layer] of layers) {
    const value = layer?.[key];
    if (value !== undefined) return [value as Exclude<TargetEnvFile[K], undefined>, source];
  }
  return undefined;
}

const STRENGTH: Record<TargetSource, number> = { flag: 0, "env-file": 1, derived: 2, local: 2, runtime: 2, default: 3 };

/**
 * The target a package is built for, field by field: command-line flag > `.procvision_env.json` > the local
 * interpreter (contract §1). An ABI from a weaker source than the version or implementation would describe another
 * interpreter (`--python-version 3.10` with the local `cp311`), so it is derived instead: `cp` + `3.10` → `cp310`, as
 * pip does. Other implementations' ABIs cannot be derived (pypy310_pp73) and keep the chosen value.
 */
export function resolveTarget(flags: TargetEnvFile, envFile: TargetEnvFile | undefined, local: WheelTarget,
  localSource: "local" | "runtime" = "local"): TargetResolution {
  const layers: Layer[] = [["flag", flags], ["env-file", envFile]];
  const version = pick("python_version", layers) ?? [local.pythonVersion, localSource];
  const implementation = pick("implementation", layers) ?? [local.implementation, localSource];
  const chosenAbi = pick("abi", layers) ?? [local.abi, localSource];
  const stale = STRENGTH[chosenAbi[1]] > Math.min(STRENGTH[version[1]], STRENGTH[implementation[1]]);
  const abi = stale && implementation[0] === "cp" ? [`cp${versionNodot(version[0])}`, "derived" as const] as const : chosenAbi;
  const platform = pick("wheels_platform", layers);
  const wheelsPlatform = platform ? [platform[0]].flat() : [...local.platforms];
  // On by default, as the original packer: a project without requirements.txt is frozen from its Python.
  const autoFreeze = pick("auto_freeze", layers) ?? [true, "default"];
  const indexUrl = pick("index_url", layers) ?? [null, "default"];
  const extraIndexUrls = pick("extra_index_urls", layers) ?? [[], "default"];
  const findLinks = pick("find_links", layers) ?? [[], "default"];
  return {
    target: {
      pythonVersion: version[0],
      implementation: implementation[0],
      abi: abi[0],
      platforms: expandPlatforms(wheelsPlatform),
      wheelsPlatform,
      autoFreeze: autoFreeze[0],
      indexUrl: indexUrl[0],
      extraIndexUrls: [...extraIndexUrls[0]],
      findLinks: [...findLinks[0]],
    },
    sources: {
      python_version: version[1],
      implementation: implementation[1],
      abi: abi[1],
      wheels_platform: platform?.[1] ?? localSource,
      auto_freeze: autoFreeze[1],
      index_url: indexUrl[1],
      extra_index_urls: extraIndexUrls[1],
      find_links: findLinks[1],
    },
  };
}

/**
 * The target and index part of `pip download` (contract §2 package step 3): binary wheels only, one `--platform`
 * per expanded platform (pip does not expand manylinux families itself), then the index options.
 */
export function pipDownloadArgs(target: Omit<ResolvedTarget, "wheelsPlatform" | "autoFreeze">): string[] {
  return [
    "--only-binary=:all:",
    ...target.platforms.flatMap((p) => ["--platform", p]),
    "--python-version", target.pythonVersion,
    "--implementation", target.implementation,
    "--abi", target.abi,
    ...(target.indexUrl === null ? [] : ["--index-url", target.indexUrl]),
    ...target.extraIndexUrls.flatMap((url) => ["--extra-index-url", url]),
    ...target.findLinks.flatMap((dir) => ["--find-links", dir]),
  ];
}
