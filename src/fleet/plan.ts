/** A desired package with what its artifact says it is (name, version, zip digest from the registry). */
export interface ResolvedEntry {
  /** Pinned: `oci://host/repo@sha256:…`. */
  ref: string;
  name: string;
  version: string;
  /** sha256 hex of the zip. */
  zipSha256: string;
  pids: string[];
}

export interface InstalledVersion {
  name: string;
  version: string;
  state: string;
  zip_sha256: string | null;
}

export interface CurrentBinding {
  pid: string;
  name: string;
  version: string;
}

export interface ConvergencePlan {
  /** Refs to pull and install; `force` when the same name and version is installed from another zip. */
  installs: { ref: string; force: boolean }[];
  /** PIDs to (re)bind, per version, with the zero-downtime switch. */
  binds: { name: string; version: string; pids: string[] }[];
}

/**
 * What a station must do to run `desired`: install what it lacks (an installed version counts only if it came from
 * the very same zip), then bind the PIDs not yet bound to their version. PIDs the document does not name are left
 * alone: a station may run other packages by hand.
 */
export function planConvergence(desired: readonly ResolvedEntry[], installed: readonly InstalledVersion[], bindings: readonly CurrentBinding[]): ConvergencePlan {
  const installs: ConvergencePlan["installs"] = [];
  const binds: ConvergencePlan["binds"] = [];
  for (const entry of desired) {
    const have = installed.find((p) => p.name === entry.name && p.version === entry.version);
    const usable = have !== undefined && have.state !== "invalid" && have.state !== "installing" && have.zip_sha256 === entry.zipSha256;
    if (!usable) installs.push({ ref: entry.ref, force: have !== undefined });
    const pids = entry.pids.filter((pid) => !bindings.some((b) => b.pid === pid && b.name === entry.name && b.version === entry.version));
    if (pids.length > 0) binds.push({ name: entry.name, version: entry.version, pids });
  }
  return { installs, binds };
}
