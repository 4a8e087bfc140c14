// The console's telemetry parts in a real browser (Debian chromium through playwright-core) against a real
// `procvision-runner serve` with telemetry to a real S3 server: an NG record opens its kept images, and the telemetry
// panel shows the outbox and pauses and resumes uploads with the token.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Runner } from "../../src/index.js";
import { loadRunnerConfig } from "../../src/runner/config.js";
import { repoRoot } from "../helpers/python.js";
import { openConsoleBrowser, requireChromium, type ConsoleBrowser } from "../helpers/console-browser.js";
import { serveRunner, type Served } from "../helpers/cli.js";
import { startS3Server, type S3Server } from "../helpers/s3-server.js";
import { EXAMPLE, exampleZip } from "../helpers/store.js";

const RUNNER_CLI = path.join(repoRoot, "dist", "bin", "procvision-runner.js");
const WAIT = { timeout: 20_000, interval: 100 };
const work = mkdtempSync(path.join(tmpdir(), "pv-console-telemetry-"));
const root = path.join(work, "root");
const configFile = path.join(work, "runner_config.json");
let s3: S3Server | undefined;
let server: Served | undefined;
let ui: ConsoleBrowser | undefined;
let page: Page;
let url = "";
let token = "";

beforeAll(async () => {
  requireChromium();
  if (!existsSync(RUNNER_CLI)) throw new Error(`${RUNNER_CLI} missing: run npm run build`);
  s3 = await startS3Server();
  writeFileSync(configFile, JSON.stringify({
    workstation_id: "st-console",
    telemetry: { ...s3.target, batch: { max_age_ms: 100 } },
  }));
  const zip = await exampleZip(work);
  const runner = await Runner.open({ root, config: await loadRunnerConfig(configFile), log: () => undefined });
  expect((await runner.install(zip)).state).toBe("installed");
  await runner.activate("algorithm-example", "1.0", ["p001"]);
  await runner.close();
  server = await serveRunner(root, ["--config", configFile]);
  url = server.url;
  token = readFileSync(path.join(root, "token"), "utf8").trim();
  ui = await openConsoleBrowser(() => token);
  page = ui.page;
}, 240_000);

afterAll(async () => {
  await ui?.browser.close();
  await server?.stop();
  await s3?.close();
  rmSync(work, { recursive: true, force: true });
}, 60_000);

async function inspectNg(): Promise<void> {
  const form = new FormData();
  form.set("pid", "p001");
  form.set("step_index", "1");
  form.set("image", new Blob([readFileSync(path.join(EXAMPLE, "sample.png"))]), "sample.png");
  const response = await fetch(`${url}/inspect`, { method: "POST", body: form, headers: { authorization: `Bearer ${token}` } });
  expect(((await response.json()) as { execute?: { data?: { result_status?: string } } }).execute?.data?.result_status).toBe("NG");
}

const panel = async (): Promise<Record<string, string>> => {
  const rows = await page.locator("#telemetry tbody tr").evaluateAll((trs) => trs.map((tr) => [tr.querySelector("th")?.textContent ?? "", tr.querySelector("td")?.textContent ?? ""]));
  return Object.fromEntries(rows);
};

describe("web console: telemetry", () => {
  it("an NG record's view opens its kept images (with rects, as captured), both loaded", async () => {
    await inspectNg();
    // The images are kept off the answer's path: the record says so once they are there, and only then has a "view".
    await expect.poll(async () => ((await (await fetch(`${url}/records?limit=1`)).json()) as { images: boolean }[])[0]?.images, WAIT).toBe(true);
    await page.goto(url);
    const view = page.locator("#records tbody tr", { hasText: "NG" }).first().locator("button", { hasText: "view" });
    await view.click();
    const images = page.locator("#dialog-extra img");
    await expect.poll(() => images.count(), WAIT).toBe(2);
    await expect.poll(() => images.evaluateAll((imgs) => imgs.map((i) => (i as unknown as { naturalWidth: number }).naturalWidth > 0)), WAIT).toEqual([true, true]);
    expect(await page.locator("#dialog-extra figcaption").allInnerTexts()).toEqual([expect.stringMatching(/^with rects/), expect.stringMatching(/^as captured/)]);
    // A view, not a question: one button, Close.
    expect(await page.locator("#dialog button:visible").allInnerTexts()).toEqual(["Close"]);
    await page.locator("#dialog button[value=cancel]").click();
  }, 60_000);

  it("the telemetry panel shows the outbox; Pause and Resume change uploads, asking for the token", async () => {
    await expect.poll(async () => (await panel()).uploads ?? "", WAIT).toMatch(/^on → http:\/\/127\.0\.0\.1:\d+ \/ procvision$/);
    await expect.poll(async () => (await panel())["last success"] ?? "", WAIT).toMatch(/^\d{4}-/);
    expect((await panel()).workstation).toBe("st-console");
    await page.locator("#telemetry-toggle").click();
    await expect.poll(() => page.locator("#telemetry-toggle").innerText(), WAIT).toBe("Resume uploads");
    expect(ui!.prompts).toHaveLength(1);
    expect(((await (await fetch(`${url}/telemetry`)).json()) as { paused: boolean }).paused).toBe(true);
    expect((await panel()).uploads).toMatch(/^paused/);
    await page.locator("#telemetry-toggle").click();
    await expect.poll(() => page.locator("#telemetry-toggle").innerText(), WAIT).toBe("Pause uploads");
    expect(((await (await fetch(`${url}/telemetry`)).json()) as { paused: boolean }).paused).toBe(false);
    expect(ui!.pageErrors).toEqual([]);
    expect(JSON.stringify(await panel())).not.toContain(s3!.secretAccessKey);
  }, 60_000);

  it("procvision-runner status shows telemetry, human and --json, without credentials", async () => {
    const run = promisify(execFile);
    const human = (await run(process.execPath, [RUNNER_CLI, "status", "--root", root])).stdout;
    expect(human).toMatch(/^telemetry: on → http:\/\/127\.0\.0\.1:\d+ bucket procvision as st-console$/m);
    expect(human).toMatch(/^ {2}pending records \d+, logs \d+, images \d+ .*dropped by quota 0$/m);
    expect(human).toMatch(/^ {2}last success \d{4}-/m);
    const json = JSON.parse((await run(process.execPath, [RUNNER_CLI, "status", "--root", root, "--json"])).stdout) as { telemetry: Record<string, unknown> };
    expect(json.telemetry).toMatchObject({ enabled: true, workstation_id: "st-console", paused: false });
    expect(human + JSON.stringify(json)).not.toContain(s3!.secretAccessKey);
  }, 60_000);
});
