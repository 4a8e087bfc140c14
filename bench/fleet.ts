// Packages through an OCI registry (contract §9): publish and pull of a 300 MB offline package against a local
// registry (Debian's docker-registry, CNCF distribution), next to a byte copy of the same file. Pull includes the
// streamed digest check; both run on a warm page cache, interleaved.
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileBlob } from "../src/oci/package-artifact.js";
import { publishPackage } from "../src/oci/publish.js";
import { pullPackage } from "../src/oci/pull.js";
import { startRegistry } from "../test/helpers/oci-registry.js";
import { fmt, median, stats, verdict, type Stats } from "./stats.js";
import { processCpuUs } from "./throughput.js";
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
  /**
   * CPU seconds (medians) one verified transfer of the blob costs on this machine, whoever does it: the registry
   * serving it (during curl), a client receiving it into a file (curl's own), and the sha256 of its bytes (Node).
   */
  cpu: { registry_serve_s: number; receive_s: number; sha256_s: number; pull_s: number; registry_during_pull_s: number; cores: number };
}

/** CPU (user + system) of the children this process has waited for, in µs. */
function childrenCpuUs(): number {
  const stat = readFileSync("/proc/self/stat", "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[13]) + Number(fields[14])) * 10_000;
}

const ownCpuUs = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

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
    const cpu = { registryServe: [] as number[], receive: [] as number[], sha256: [] as number[], pull: [] as number[], registryDuringPull: [] as number[] };
    const registryCpuUs = (): number => (registry.pid === undefined ? 0 : processCpuUs(registry.pid));
    execFileSync("cat", [zip], { stdio: ["ignore", "ignore", "inherit"] }); // warm the page cache
    for (let i = 0; i < rounds; i++) {
      const copy = path.join(work, `copy-${i}.zip`);
      let t0 = performance.now();
      execFileSync("cp", ["--reflink=never", zip, copy]);
      samples.copy.push((performance.now() - t0) / 1000);
      rmSync(copy);
      t0 = performance.now();
      let c0 = ownCpuUs();
      await fileBlob(zip);
      samples.sha256.push((performance.now() - t0) / 1000);
      cpu.sha256.push((ownCpuUs() - c0) / 1e6);
      // A fresh repository each round: the registry would skip a zip it already has.
      const ref = `oci://${registry.host}/bench/fleet-${i}:1.0`;
      t0 = performance.now();
      await publishPackage(zip, ref);
      samples.publish.push((performance.now() - t0) / 1000);
      const digest = (await fileBlob(zip)).digest;
      const fetched = path.join(work, `curl-${i}.zip`);
      t0 = performance.now();
      c0 = childrenCpuUs();
      let r0 = registryCpuUs();
      execFileSync("curl", ["--silent", "--fail", "--output", fetched, `http://${registry.host}/v2/bench/fleet-${i}/blobs/${digest}`]);
      samples.curl.push((performance.now() - t0) / 1000);
      cpu.receive.push((childrenCpuUs() - c0) / 1e6);
      cpu.registryServe.push((registryCpuUs() - r0) / 1e6);
      rmSync(fetched);
      const dir = path.join(work, `pull-${i}`);
      mkdirSync(dir);
      t0 = performance.now();
      c0 = ownCpuUs();
      r0 = registryCpuUs();
      await pullPackage(ref, dir);
      samples.pull.push((performance.now() - t0) / 1000);
      cpu.pull.push((ownCpuUs() - c0) / 1e6);
      cpu.registryDuringPull.push((registryCpuUs() - r0) / 1e6);
      rmSync(dir, { recursive: true });
    }
    return {
      zip_mb: size / 1e6, copy_s: stats(samples.copy), sha256_s: stats(samples.sha256), curl_s: stats(samples.curl), publish_s: stats(samples.publish),
      pull_s: stats(samples.pull),
      cpu: {
        registry_serve_s: median(cpu.registryServe), receive_s: median(cpu.receive), sha256_s: median(cpu.sha256), pull_s: median(cpu.pull),
        registry_during_pull_s: median(cpu.registryDuringPull), cores: availableParallelism(),
      },
    };
  } finally {
    await registry.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

export function fleetLines(r: FleetBench): string[] {
  const row = (what: string, s: Stats) => `| ${what} | ${fmt(s.p50, 3)} | ${fmt(s.p99, 3)} | ${fmt(r.zip_mb / s.p50 / 1000, 2)} | ${fmt(s.p50 / r.copy_s.p50)}× |`;
  const ratio = r.pull_s.p50 / r.copy_s.p50;
  const c = r.cpu;
  const floorCpu = c.registry_serve_s + c.receive_s + c.sha256_s;
  const floor = floorCpu / c.cores / r.copy_s.p50;
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
    `CPU of one verified transfer on this machine (medians; the registry runs on the same ${c.cores} cores as the client): the registry serving ` +
      `the blob ${fmt(c.registry_serve_s, 3)} s + a client receiving it into a file (curl's CPU) ${fmt(c.receive_s, 3)} s + its sha256 ` +
      `${fmt(c.sha256_s, 3)} s = ${fmt(floorCpu, 3)} s. Spread perfectly over ${c.cores} cores that is ${fmt(floorCpu / c.cores, 3)} s, ` +
      `${fmt(floor)}× the copy: the floor of a verified pull next to a local registry here, whatever the client. ` +
      `\`pullPackage\` itself used ${fmt(c.pull_s, 3)} s of CPU and the registry ${fmt(c.registry_during_pull_s, 3)} s while it ran.`,
    "",
  ];
}
