// Three stations (three roots, three `procvision-runner serve` processes) under one desired state in a real OCI
// registry: they converge, switch versions under load with no failed inspection, take a per-station override, keep
// their bindings when a package is broken or the registry is down, and converge when it returns.
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DesiredDocument } from "../../src/fleet/document.js";
import { writeDesired } from "../../src/fleet/registry-state.js";
import { publishPackage } from "../../src/oci/publish.js";
import { runCli, serveRunner, type Served } from "../helpers/cli.js";
import { startRegistry, type TestRegistry } from "../helpers/oci-registry.js";
import { startS3Server, type S3Server } from "../helpers/s3-server.js";
import { EXAMPLE, exampleZip } from "../helpers/store.js";

const STATIONS = ["st-1", "st-2", "st-3"] as const;
let work: string;
let registry: TestRegistry;
let s3: S3Server;
let desiredRef: string;
const digests: Record<string, string> = {};
const served = new Map<string, Served>();

interface FleetView {
  desired: { digest: string | null } | null;
  actual: { pid: string; version: string }[];
  last_convergence: { ok: boolean; digest: string | null; error: { error_code: string; message: string } | null } | null;
  failures: number;
}

const fleetOf = async (station: string): Promise<FleetView> => (await served.get(station)!.call("GET", "/fleet")).json as unknown as FleetView;
const bound = (view: FleetView): string => view.actual.map((b) => `${b.pid}=${b.version}`).sort().join(" ");

async function inspect(station: string, pid: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const form = new FormData();
  form.set("pid", pid);
  form.set("step_index", "1");
  form.set("image", new Blob([readFileSync(path.join(EXAMPLE, "sample.png"))]), "sample.png");
  return served.get(station)!.call("POST", "/inspect", form);
}

async function setDesired(version: string, pids: string, stations: string[] = []): Promise<string> {
  const out = await runCli(["desired", "set", desiredRef, "--package", `oci://${registry.host}/vision/algorithm-example@${digests[version]}`, "--pids", pids,
    ...stations.flatMap((s) => ["--station", s]), "--json"]);
  expect(out.code, out.stderr + out.stdout).toBe(0);
  return (out.json as { digest: string }).digest;
}

/** Every station (or those given) has converged to `digest` and binds exactly `expected`. */
async function converged(digest: string, expected: Record<string, string>): Promise<void> {
  for (const [station, bindings] of Object.entries(expected)) {
    await expect.poll(async () => {
      const view = await fleetOf(station);
      return { digest: view.last_convergence?.ok ? view.last_convergence.digest : null, bindings: bound(view) };
    }, { timeout: 180_000, interval: 200 }).toEqual({ digest, bindings });
  }
}

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), "pv-fleet-"));
  registry = await startRegistry();
  s3 = await startS3Server();
  desiredRef = `oci://${registry.host}/lines/line-a:desired`;
  const broken = (dir: string) => writeFileSync(path.join(dir, "algorithm_example", "main.py"), "raise RuntimeError('broken build')\n");
  for (const [version, mutate] of [["1.0", undefined], ["1.1", undefined], ["1.2", broken]] as const) {
    const zip = await exampleZip(work, { version, ...(mutate ? { mutate } : {}) });
    digests[version] = (await publishPackage(zip, `oci://${registry.host}/vision/algorithm-example:${version}`)).digest;
  }
  await setDesired("1.0", "p001,p002");
  for (const station of STATIONS) {
    const root = path.join(work, station);
    mkdirSync(root, { recursive: true });
    writeFileSync(path.join(root, "runner_config.json"), JSON.stringify({
      workstation_id: station, fleet: { desired: desiredRef, poll_ms: 300 },
      // Only the inventory goes to the bucket here: records, logs and images have their own tests.
      telemetry: { ...s3.target, upload: { records: false, logs: false, ng_images: false } },
    }));
    served.set(station, await serveRunner(root));
  }
}, 300_000);

afterAll(async () => {
  await Promise.all([...served.values()].map((s) => s.stop()));
  await registry?.stop();
  await s3?.close();
  rmSync(work, { recursive: true, force: true });
});

describe("a line of three stations following one desired state", () => {
  it("all three converge: the package pulled, installed, bound and answering", async () => {
    const { json } = await served.get("st-1")!.call("GET", "/fleet");
    expect(json).toMatchObject({ workstation_id: "st-1", desired: { ref: desiredRef } });
    const digest = (await runCli(["desired", "show", desiredRef, "--json"])).json as { digest: string; document: unknown };
    expect(digest.document).toEqual({ packages: [{ ref: `oci://${registry.host}/vision/algorithm-example@${digests["1.0"]}`, pids: ["p001", "p002"] }], stations: {} });
    await converged(digest.digest, Object.fromEntries(STATIONS.map((s) => [s, "p001=1.0 p002=1.0"])));
    for (const station of STATIONS) expect((await inspect(station, "p001")).status).toBe(200);
  }, 300_000);

  it("a new version while a client inspects on every station: every inspection answers", async () => {
    let running = true;
    const counts = new Map<string, { ok: number; failed: string[] }>();
    const loops = STATIONS.map(async (station) => {
      const count = { ok: 0, failed: [] as string[] };
      counts.set(station, count);
      while (running) {
        const answer = await inspect(station, "p001");
        if (answer.status === 200 && (answer.json.execute as { status?: string } | undefined)?.status === "OK") count.ok += 1;
        else count.failed.push(JSON.stringify(answer.json).slice(0, 300));
      }
    });
    const digest = await setDesired("1.1", "p001,p002");
    await converged(digest, Object.fromEntries(STATIONS.map((s) => [s, "p001=1.1 p002=1.1"])));
    running = false;
    await Promise.all(loops);
    for (const station of STATIONS) {
      expect(counts.get(station)!.failed, station).toEqual([]);
      expect(counts.get(station)!.ok, station).toBeGreaterThan(0);
    }
  }, 300_000);

  it("a per-station override lands on that station only", async () => {
    const digest = await setDesired("1.0", "p002", ["st-2"]);
    await converged(digest, { "st-1": "p001=1.1 p002=1.1", "st-2": "p001=1.1 p002=1.0", "st-3": "p001=1.1 p002=1.1" });
  }, 300_000);

  it("a broken package leaves every station on its bindings and reports why", async () => {
    const digest = await setDesired("1.2", "p001");
    for (const station of STATIONS) {
      await expect.poll(async () => (await fleetOf(station)).last_convergence, { timeout: 180_000, interval: 200 })
        .toMatchObject({ ok: false, digest, error: { error_code: "2005" } });
      expect(bound(await fleetOf(station))).toContain("p001=1.1");
      expect((await inspect(station, "p001")).status).toBe(200);
    }
    // Not tried again at every poll: a state a station cannot run waits for the next change.
    const polled = (await fleetOf("st-1") as unknown as { last_poll: string }).last_poll;
    await expect.poll(async () => (await fleetOf("st-1") as unknown as { last_poll: string }).last_poll, { timeout: 30_000, interval: 100 }).not.toBe(polled);
    const attempts = ((await served.get("st-1")!.call("GET", "/audit?action=install")).json as unknown as { target: string }[])
      .filter((a) => a.target.includes(digests["1.2"]!) || a.target.includes("1.2"));
    expect(attempts).toHaveLength(1);
    // An outage since does not hide the refusal: once the registry answers again, the refusal is what /fleet says.
    await registry.pause();
    try {
      await expect.poll(async () => (await fleetOf("st-1")).failures, { timeout: 60_000, interval: 200 }).toBeGreaterThan(0);
    } finally {
      await registry.resume();
    }
    await expect.poll(async () => fleetOf("st-1"), { timeout: 60_000, interval: 200 })
      .toMatchObject({ failures: 0, last_convergence: { ok: false, digest, error: { error_code: "2005", message: expect.stringMatching(/invalid/) as unknown } } });
  }, 300_000);

  it("with the registry down stations keep serving and retry; when it returns they converge", async () => {
    const fixed = await setDesired("1.1", "p001");
    await converged(fixed, { "st-1": "p001=1.1 p002=1.1", "st-2": "p001=1.1 p002=1.0", "st-3": "p001=1.1 p002=1.1" });
    await registry.pause();
    try {
      for (const station of STATIONS) {
        await expect.poll(async () => (await fleetOf(station)).failures, { timeout: 60_000, interval: 200 }).toBeGreaterThan(0);
        expect((await inspect(station, "p002")).status).toBe(200);
      }
    } finally {
      await registry.resume();
    }
    // Back: the outage is over, so /fleet says the convergence it had again, not the registry's error.
    for (const station of STATIONS) {
      await expect.poll(async () => fleetOf(station), { timeout: 60_000, interval: 200 }).toMatchObject({ failures: 0, last_convergence: { ok: true, digest: fixed, error: null } });
    }
    const digest = await setDesired("1.0", "p001");
    await converged(digest, { "st-1": "p001=1.0 p002=1.1", "st-2": "p001=1.0 p002=1.0", "st-3": "p001=1.0 p002=1.1" });
  }, 300_000);

  it("the inventory: each station reports to the bucket and procvision-cli fleet status prints the fleet", async () => {
    const env = { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey };
    const args = ["fleet", "status", "--endpoint", s3.endpoint, "--bucket", s3.bucket];
    type Reported = { workstation_id: string; actual: { pid: string; version: string }[]; last_convergence: { ok: boolean } };
    await expect.poll(async () => {
      const out = await runCli([...args, "--json"], { env });
      return ((out.json ?? []) as Reported[]).map((s) => `${s.workstation_id}: ${s.actual.map((b) => `${b.pid}=${b.version}`).sort().join(" ")} ${s.last_convergence.ok}`);
    }, { timeout: 60_000, interval: 300 }).toEqual(["st-1: p001=1.0 p002=1.1 true", "st-2: p001=1.0 p002=1.0 true", "st-3: p001=1.0 p002=1.1 true"]);
    const human = await runCli(args, { env });
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/^station\s+desired\s+actual\s+last seen\s+error/m);
    expect(human.stdout).toContain("p002=algorithm-example@1.0");
    const byEnv = await runCli(["fleet", "status", "--bucket", s3.bucket, "--json"], { env: { ...env, AWS_ENDPOINT_URL: s3.endpoint } });
    expect((byEnv.json as Reported[]).map((s) => s.workstation_id)).toEqual(["st-1", "st-2", "st-3"]);
    const noEndpoint = await runCli(["fleet", "status", "--bucket", s3.bucket], { env: { ...env, AWS_ENDPOINT_URL: "", AWS_ENDPOINT_URL_S3: "" } });
    expect(noEndpoint.code).toBe(2);
    expect(noEndpoint.stderr).toContain("--endpoint");
    const noKeys = await runCli(args, { env: { AWS_ACCESS_KEY_ID: "", AWS_SECRET_ACCESS_KEY: "" } });
    expect(noKeys.code).toBe(2);
    expect(noKeys.stderr).toContain("AWS_ACCESS_KEY_ID");
    // What the storage refuses comes with a code and a hint, not the S3 client's bare text.
    const wrongKey = await runCli([...args, "--json"], { env: { ...env, AWS_SECRET_ACCESS_KEY: "wrong" } });
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.json).toMatchObject({ error_code: "3007", hint: expect.stringContaining("AWS_SECRET_ACCESS_KEY") });
    const unknownKey = await runCli([...args, "--json"], { env: { ...env, AWS_ACCESS_KEY_ID: "NOSUCHKEY" } });
    expect(unknownKey.json).toMatchObject({ error_code: "3007" });
    const noBucket = await runCli(["fleet", "status", "--endpoint", s3.endpoint, "--bucket", "no-such-bucket", "--json"], { env });
    expect(noBucket.json).toMatchObject({ error_code: "3006", message: expect.stringContaining("no such bucket") });
    const login = await runCli(["fleet", "status", "--bucket", s3.bucket, "--endpoint", s3.endpoint.replace("http://", "http://AK1:SK1secret@"), "--json"], { env });
    expect(login.code).toBe(2);
    expect(login.json).toMatchObject({ error_code: "1006", message: expect.stringContaining("holds a user or password") });
    expect(login.stdout + login.stderr).not.toContain("SK1secret");
    const missingFile = await runCli([...args, "--secret-access-key-file", path.join(work, "nope.key"), "--json"], { env });
    expect(missingFile.code).toBe(2);
    expect(missingFile.json).toMatchObject({ error_code: "1006", message: expect.stringContaining("nope.key cannot be read") });
  }, 120_000);

  it("bytes that arrive other than their digest (2008 in transfer) are retried: once the blob is whole again, stations converge", async () => {
    const published = await publishPackage(await exampleZip(work, { version: "1.3" }), `oci://${registry.host}/vision/algorithm-example:1.3`);
    digests["1.3"] = published.digest;
    const blob = registry.blobFile(published.zip_digest);
    const whole = readFileSync(blob);
    const flipped = Buffer.from(whole);
    flipped[flipped.length - 1]! ^= 1;
    writeFileSync(blob, flipped);
    const digest = await setDesired("1.3", "p001");
    try {
      for (const station of STATIONS) {
        await expect.poll(async () => {
          const view = await fleetOf(station);
          return view.failures > 0 ? view.last_convergence?.error?.error_code : undefined;
        }, { timeout: 120_000, interval: 200 }).toBe("2008");
        expect(bound(await fleetOf(station))).toContain("p001=1.0");
      }
    } finally {
      writeFileSync(blob, whole);
    }
    await converged(digest, { "st-1": "p001=1.3 p002=1.1", "st-2": "p001=1.3 p002=1.0", "st-3": "p001=1.3 p002=1.1" });
  }, 300_000);

  it("a desired state no station can use is refused once, not retried as an outage; desired set --replace replaces it", async () => {
    // Written by hand, say: `packages` is not a list.
    const unusable = await writeDesired(desiredRef, { packages: {} } as unknown as DesiredDocument, () => ({}));
    for (const station of STATIONS) {
      await expect.poll(async () => (await fleetOf(station)).last_convergence, { timeout: 60_000, interval: 200 })
        .toMatchObject({ ok: false, digest: unusable, error: { error_code: "1006", message: expect.stringMatching(/packages/) as unknown } });
    }
    const polled = (await fleetOf("st-1") as unknown as { last_poll: string }).last_poll;
    await expect.poll(async () => (await fleetOf("st-1") as unknown as { last_poll: string }).last_poll, { timeout: 30_000, interval: 100 }).not.toBe(polled);
    expect((await fleetOf("st-1")).failures).toBe(0); // a refusal: the next poll costs one HEAD, and a new document is taken at once
    expect(bound(await fleetOf("st-1"))).toBe("p001=1.3 p002=1.1");

    // Not dropped silently (it may hold entries someone wants to keep): --replace says so.
    const setArgs = ["desired", "set", desiredRef, "--package", `oci://${registry.host}/vision/algorithm-example@${digests["1.1"]}`, "--pids", "p001,p002", "--json"];
    const refused = await runCli(setArgs);
    expect(refused.code).toBe(1);
    expect(refused.json).toMatchObject({ error_code: "1006", hint: expect.stringContaining("--replace") });
    const replaced = await runCli([...setArgs, "--replace"]);
    expect(replaced.code, replaced.stderr).toBe(0);
    expect(replaced.json).toMatchObject({ replaced: expect.stringMatching(/invalid: packages/) as unknown });
    const digest = (replaced.json as { digest: string }).digest;
    await converged(digest, Object.fromEntries(STATIONS.map((s) => [s, "p001=1.1 p002=1.1"])));
  }, 300_000);
});
