// Packages through an OCI registry (contract §9): publish and pull of a 300 MB offline package against a local
// registry (Debian's docker-registry, CNCF distribution), next to a byte copy of the same file. Pull includes the
// streamed digest check; both run on a warm page cache, interleaved.
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileBlob } from "../src/oci/package-artifact.js";
import { publishPackage } from "../src/oci/publish.js";
import { pullPackage } from "../src/oci/pull.js";
import { startRegistry } from "../test/helpers/oci-registry.js";
import { fmt, stats, verdict, type Stats } from "./stats.js";
import { numpyWheel, packageZip, sdkPin, sdkWheel } from "./zip.js";

export interface FleetBench {
  zip_mb: number;
  copy_s: Stats;
  /** sha256 of the zip in Node: the digest check alone, a floor under any verified pull. */
  sha256_s: Stats;
  /** curl of the blob into a file, no digest check: how fast this registry serves it, a floor for any client. */
  curl_s: Stats;
  publish_s: Stats;
  pull_s: Stats;
}

export async function benchFleet(root: string, quick: boolean): Promise<FleetBench> {
  const rounds = quick ? 2 : 5;
  const work = mkdtempSync(path.join(tmpdir(), "pv-bench-fleet-"));
  const registry = await startRegistry();
  try {
    // A model file of incompressible bytes makes the package ~300 MB, as a vision model does.
    const project = path.join(work, "project");
    cpSync(path.join(root, "examples", "algorithm-example"), project, { recursive: true, filter: (src) => !src.includes("__pycache__") });
    const model = Buffer.allocUnsafe(300 * 1024 * 1024);
    for (let i = 0; i < model.length; i += 4) model.writeUInt32LE((Math.imul(i, 2654435761) ^ (i >>> 7)) >>> 0, i);
    writeFileSync(path.join(project, "algorithm_example", "model.bin"), model);
    const zip = await packageZip({ projectDir: project, wheels: [sdkWheel(), numpyWheel(root)], requirements: `numpy==2.2.6\n${sdkPin()}\n`, outPath: path.join(work, "bench-fleet-v1.0-offline.zip") });
    const size = statSync(zip).size;
    const samples = { copy: [] as number[], sha256: [] as number[], curl: [] as number[], publish: [] as number[], pull: [] as number[] };
    execFileSync("cat", [zip], { stdio: ["ignore", "ignore", "inherit"] }); // warm the page cache
    for (let i = 0; i < rounds; i++) {
      const copy = path.join(work, `copy-${i}.zip`);
      let t0 = performance.now();
      execFileSync("cp", ["--reflink=never", zip, copy]);
      samples.copy.push((performance.now() - t0) / 1000);
      rmSync(copy);
      t0 = performance.now();
      await fileBlob(zip);
      samples.sha256.push((performance.now() - t0) / 1000);
      // A fresh repository each round: the registry would skip a zip it already has.
      const ref = `oci://${registry.host}/bench/fleet-${i}:1.0`;
      t0 = performance.now();
      await publishPackage(zip, ref);
      samples.publish.push((performance.now() - t0) / 1000);
      const digest = (await fileBlob(zip)).digest;
      const fetched = path.join(work, `curl-${i}.zip`);
      t0 = performance.now();
      execFileSync("curl", ["--silent", "--fail", "--output", fetched, `http://${registry.host}/v2/bench/fleet-${i}/blobs/${digest}`]);
      samples.curl.push((performance.now() - t0) / 1000);
      rmSync(fetched);
      const dir = path.join(work, `pull-${i}`);
      mkdirSync(dir);
      t0 = performance.now();
      await pullPackage(ref, dir);
      samples.pull.push((performance.now() - t0) / 1000);
      rmSync(dir, { recursive: true });
    }
    return {
      zip_mb: size / 1e6, copy_s: stats(samples.copy), sha256_s: stats(samples.sha256), curl_s: stats(samples.curl), publish_s: stats(samples.publish),
      pull_s: stats(samples.pull),
    };
  } finally {
    await registry.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

export function fleetLines(r: FleetBench): string[] {
  const row = (what: string, s: Stats) => `| ${what} | ${fmt(s.p50, 3)} | ${fmt(s.p99, 3)} | ${fmt(r.zip_mb / s.p50 / 1000, 2)} | ${fmt(s.p50 / r.copy_s.p50)}× |`;
  const ratio = r.pull_s.p50 / r.copy_s.p50;
  return [
    `## Packages through an OCI registry (${fmt(r.zip_mb, 0)} MB package, local docker-registry)`,
    "",
    `\`publishPackage\` (hash, chunked upload, manifest) and \`pullPackage\` (manifest, streamed download with the digest checked) against Debian's docker-registry on 127.0.0.1, a fresh repository each round, ${r.pull_s.n} rounds interleaved with the copy.`,
    "",
    "| | p50 s | max s | GB/s | vs copy |",
    "|---|---|---|---|---|",
    row("`cp --reflink=never` of the zip (baseline)", r.copy_s),
    row("sha256 of the zip (the digest check alone: a floor under a verified pull)", r.sha256_s),
    row("`curl` of the blob into a file, no digest check (how fast this registry serves it: a floor for any client)", r.curl_s),
    row("publish", r.publish_s),
    row("pull + digest check", r.pull_s),
    "",
    `Target pull + digest check ≤ 2× the copy: ${verdict(ratio <= 2)} (${fmt(ratio)}×).`,
    "",
  ];
}
