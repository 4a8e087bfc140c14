const MANYLINUX = /^manylinux_(\d+)_(\d+)_(\w+)$/;
const LEGACY = /^(manylinux1|manylinux2010|manylinux2014)_(\w+)$/;
// PEP 600: the legacy names are aliases of glibc 2.5, 2.12 and 2.17.
const LEGACY_MINOR = new Map([["manylinux1", 5], ["manylinux2010", 12], ["manylinux2014", 17]]);
const ALIAS = new Map([...LEGACY_MINOR].map(([alias, minor]) => [minor, alias]));

/** `manylinux_2_17_x86_64` or `manylinux2014_x86_64` → glibc 2.17 on x86_64. */
function manylinuxGlibc(platform: string): { minor: number; arch: string } | undefined {
  const modern = MANYLINUX.exec(platform);
  // glibc has had major version 2 since 1997: no other major is a real platform.
  if (modern?.[1] === "2" && modern[2] !== undefined && modern[3] !== undefined) return { minor: Number(modern[2]), arch: modern[3] };
  const legacy = LEGACY.exec(platform);
  const minor = LEGACY_MINOR.get(legacy?.[1] ?? "");
  return minor !== undefined && legacy?.[2] !== undefined ? { minor, arch: legacy[2] } : undefined;
}

/**
 * A manylinux platform → every platform a system of that glibc also runs, newest first with each legacy alias
 * next to its `manylinux_2_N` twin, as packaging.tags orders them: `manylinux_2_28_x86_64` → `_2_28` … `_2_17`,
 * `manylinux2014`, `_2_16` … `_2_12`, `manylinux2010`, … `_2_5`, `manylinux1` (x86_64/i686 go down to glibc 2.5,
 * other architectures stop at 2.17). A legacy name expands like its alias. Other platforms come back alone.
 *
 * pip does not do this for `--platform`: it takes `manylinux_2_28_x86_64` literally (it only adds
 * manylinux2010/manylinux1 under manylinux2014), so a download for a manylinux target must pass the whole family.
 */
export function expandManylinux(platform: string): string[] {
  const glibc = manylinuxGlibc(platform);
  if (glibc === undefined) return [platform];
  const { minor, arch } = glibc;
  const oldest = arch === "x86_64" || arch === "i686" ? 5 : 17;
  if (minor < oldest) return [platform];
  const family: string[] = [];
  for (let m = minor; m >= oldest; m--) {
    family.push(`manylinux_2_${m}_${arch}`);
    const alias = ALIAS.get(m);
    if (alias !== undefined) family.push(`${alias}_${arch}`);
  }
  return family;
}

/** Target platforms with manylinux families expanded, first occurrence kept. */
export function expandPlatforms(platforms: readonly string[]): string[] {
  return [...new Set(platforms.flatMap(expandManylinux))];
}
