// The web console in a real browser (Debian chromium driven by playwright-core) against a real `procvision-runner
// serve` process: real installs, real Python workers. The tests share one server and one page and run in order, each
// building on the state the previous one left. Screenshots go to test-artifacts/console/ (not committed).
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Page } from "playwright-core";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../helpers/python.js";
import { openConsoleBrowser, requireChromium, type ConsoleBrowser } from "../helpers/console-browser.js";
import { publishPackage } from "../../src/oci/publish.js";
import { startRegistry } from "../helpers/oci-registry.js";
import { EXAMPLE, exampleZip } from "../helpers/store.js";

const RUNNER_CLI = path.join(repoRoot, "dist", "bin", "procvision-runner.js");
const SHOTS = path.join(repoRoot, "test-artifacts", "console");
const SAMPLE = path.join(EXAMPLE, "sample.png");
const NAME = "algorithm-example";
const WAIT = { timeout: 20_000, interval: 100 };

const work = mkdtempSync(path.join(tmpdir(), "pv-console-"));
const root = path.join(work, "root");
let server: ChildProcessWithoutNullStreams | undefined;
let serverLog = "";
let url = "";
let token = "";
let v11Zip = "";
let ui: ConsoleBrowser | undefined;
let page: Page;
/** What the page asked or said through window.prompt/alert, and any uncaught error: the test checks them. */

/** `procvision-runner serve --port 0` as an operator starts it; resolves with the URL it prints. */
function startServer(): Promise<string> {
  const child = spawn(process.execPath, [RUNNER_CLI, "serve", "--root", root, "--port", "0"], { cwd: work, env: { ...process.env, NO_COLOR: "1" } });
  server = child;
  return new Promise((resolve, reject) => {
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
      const match = /listening on (\S+)/.exec(stdout);
      if (match?.[1]) resolve(match[1]);
    });
    child.stderr.on("data", (d: Buffer) => (serverLog += d.toString()));
    child.on("error", reject);
    child.on("exit", (code) => reject(new Error(`runner exited (${code}) before listening:\n${serverLog}`)));
  });
}

async function http(method: string, route: string, body?: Buffer | object): Promise<unknown> {
  const isZip = Buffer.isBuffer(body);
  const response = await fetch(`${url}${route}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": isZip ? "application/zip" : "application/json" } : {}) },
    ...(body ? { body: isZip ? body : JSON.stringify(body) } : {}),
  });
  const json = (await response.json()) as unknown;
  if (!response.ok) throw new Error(`${method} ${route}: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

/** Texts of the matching elements right now (no auto-waiting: expect.poll does the waiting). */
const texts = (selector: string): Promise<string[]> => page.locator(selector).allInnerTexts();
const cellOf = (table: string, row: string, column: number) => texts(`#${table} tbody tr${row} td:nth-child(${column})`);
const bindings = async (): Promise<Record<string, string>> => {
  const [pids, versions] = await Promise.all([cellOf("bindings", "", 1), cellOf("bindings", "", 3)]);
  return Object.fromEntries(pids.map((pid, i) => [pid, versions[i] ?? ""]));
};
const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });

interface CallResult { data?: Record<string, unknown> }
/** Rects of each kind in an /inspect answer, over its pre_execute and execute results. */
function rectsIn(answer: { pre_execute?: CallResult; execute?: CallResult }): Record<"calibration" | "position" | "defect", number> {
  const count = (kind: string) => [answer.pre_execute, answer.execute]
    .reduce((n, r) => n + ((r?.data?.[`${kind}_rects`] as unknown[] | undefined)?.length ?? 0), 0);
  return { calibration: count("calibration"), position: count("position"), defect: count("defect") };
}

beforeAll(async () => {
  requireChromium();
  if (!existsSync(RUNNER_CLI)) throw new Error(`${RUNNER_CLI} missing: run npm run build`);
  mkdirSync(SHOTS, { recursive: true });
  const [v10Zip, v11] = await Promise.all([exampleZip(work, { version: "1.0" }), exampleZip(work, { version: "1.1" })]);
  v11Zip = v11;
  url = await startServer();
  token = readFileSync(path.join(root, "token"), "utf8").trim();
  // The starting point of a station: the example installed and active for its PIDs (through the API, not the page).
  await http("POST", "/algorithms/install", await readFile(v10Zip));
  await http("POST", "/algorithms/activate", { name: NAME, version: "1.0", pids: ["p001", "p002"] });

  ui = await openConsoleBrowser(() => token);
  page = ui.page;
}, 240_000);

afterAll(async () => {
  await ui?.browser.close();
  if (server && server.exitCode === null) {
    const exited = new Promise((resolve) => server?.once("exit", resolve));
    server.kill("SIGTERM"); // a clean stop: the runner stops its workers
    const stuck = setTimeout(() => server?.kill("SIGKILL"), 30_000);
    await exited;
    clearTimeout(stuck);
  }
  rmSync(work, { recursive: true, force: true });
}, 60_000);

describe("web console", () => {
  it("shows the example package running and active for p001/p002", async () => {
    await page.goto(url);
    await expect.poll(() => texts("#health"), WAIT).toEqual(["ok"]);
    await expect.poll(() => cellOf("packages", `[data-package="${NAME}@1.0"]`, 3), WAIT).toEqual(["running"]);
    await expect.poll(bindings, WAIT).toEqual({ p001: "1.0", p002: "1.0" });
    await expect.poll(() => cellOf("bindings", "", 2), WAIT).toEqual([NAME, NAME]);
    // Its worker is up: a pid and state running in the workers table.
    await expect.poll(() => cellOf("workers", "", 2), WAIT).toEqual([expect.stringMatching(/^\d+$/)]);
    await shot("01-active");
  }, 60_000);

  it("runs an inspection of the sample image and draws every returned rect", async () => {
    await page.selectOption("#inspect-pid", "p001");
    await page.fill("#inspect-step", "1");
    await page.setInputFiles("#inspect-image", SAMPLE);
    const answered = page.waitForResponse((r) => r.url() === `${url}/inspect` && r.request().method() === "POST");
    await page.click("#inspect-submit");
    const response = await answered;
    expect(response.status()).toBe(200);
    const answer = (await response.json()) as { version: string; pre_execute?: CallResult & { status: string }; execute?: CallResult & { status: string } };
    expect(answer.pre_execute?.status).toBe("OK");
    expect(answer.execute?.status).toBe("OK");
    const expected = rectsIn(answer);
    // Step 1 calibrates (pre_execute) and reports surface defects (execute): both kinds are there.
    expect(expected.calibration).toBeGreaterThan(0);
    expect(expected.defect).toBeGreaterThan(0);
    const drawn = async () => ({
      calibration: await page.locator("#inspect-overlay rect.calibration").count(),
      position: await page.locator("#inspect-overlay rect.position").count(),
      defect: await page.locator("#inspect-overlay rect.defect").count(),
    });
    await expect.poll(drawn, WAIT).toEqual(expected);
    const summary = (await texts("#inspect-summary"))[0] ?? "";
    expect(summary).toContain(`${NAME} 1.0`);
    expect(summary).toMatch(/pre_execute: OK .*— \d+(\.\d)? ms/);
    expect(summary).toMatch(/execute: OK → NG .*— \d+(\.\d)? ms/);
    // The record of the call shows up in the records table.
    await expect.poll(() => cellOf("records", "", 2), WAIT).toContain("p001");
    // NG, but without telemetry no image is kept: nothing to "view".
    expect(await page.locator("#records tbody tr", { hasText: "NG" }).first().locator("button", { hasText: "view" }).count()).toBe(0);
    // The worker's log tail shows the algorithm's own log line of the call.
    await page.selectOption("#logs-package", `${NAME}/1.0`);
    await expect.poll(() => page.locator("#logs").innerText(), WAIT).toContain("inspected");
    await shot("02-inspect");
  }, 60_000);

  it("takes a guide image, step_desc and guide_info, shows both images and draws the rects on the current one", async () => {
    const guide = path.join(work, "guide.png");
    await sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 0, g: 90, b: 200 } } }).png().toFile(guide);
    const guideInfo = JSON.stringify([{ label: "1", posList: [{ x: 1, y: 2, width: 3, height: 4 }] }]);
    await page.selectOption("#inspect-pid", "p001");
    await page.fill("#inspect-step", "1");
    await page.setInputFiles("#inspect-image", SAMPLE);
    await page.setInputFiles("#inspect-guide", guide);
    await page.fill("#inspect-step-desc", "check screw 3");
    await page.fill("#inspect-guide-info", guideInfo);
    const answered = page.waitForResponse((r) => r.url() === `${url}/inspect` && r.request().method() === "POST");
    await page.click("#inspect-submit");
    const response = await answered;
    expect(response.status()).toBe(200);
    const answer = (await response.json()) as { pre_execute?: CallResult; execute?: CallResult };
    const expected = rectsIn(answer);
    expect(expected.defect).toBeGreaterThan(0);
    // Both images are shown; the rects are drawn over the current image, in its pixel coordinates.
    await expect.poll(() => page.locator("#inspect-guide-figure").isVisible(), WAIT).toBe(true);
    const natural = (selector: string) => page.locator(selector).evaluate((el) => {
      const img = el as unknown as { naturalWidth: number; naturalHeight: number };
      return [img.naturalWidth, img.naturalHeight];
    });
    const sizes = {
      current: await natural("#inspect-img"), guide: await natural("#inspect-guide-img"),
      viewBox: await page.locator("#inspect-overlay").getAttribute("viewBox"),
    };
    const meta = await sharp(SAMPLE).metadata();
    expect(sizes).toEqual({ current: [meta.width, meta.height], guide: [64, 48], viewBox: `0 0 ${meta.width} ${meta.height}` });
    await expect.poll(() => page.locator("#inspect-overlay rect.defect").count(), WAIT).toBe(expected.defect);
    // The records table marks the inspection as carrying a guide image.
    await expect.poll(() => cellOf("records", ":first-child", 10), WAIT).toEqual(["✓"]);
    await shot("02b-inspect-guide");
    // guide_info goes to the runner as typed: JSON that does not parse comes back as its 1006.
    await page.fill("#inspect-guide-info", "[{oops");
    await page.click("#inspect-submit");
    await expect.poll(() => page.locator("#inspect-summary").innerText(), WAIT).toContain("guide_info is not valid JSON");
    // Without a guide the guide view is hidden again.
    await page.setInputFiles("#inspect-guide", []);
    await page.fill("#inspect-step-desc", "");
    await page.fill("#inspect-guide-info", "");
    const again = page.waitForResponse((r) => r.url() === `${url}/inspect` && r.request().method() === "POST");
    await page.click("#inspect-submit");
    expect((await again).status()).toBe(200);
    await expect.poll(() => page.locator("#inspect-guide-figure").isVisible(), WAIT).toBe(false);
  }, 60_000);

  it("installs v1.1 by upload and switches p001 to it after a confirmation", async () => {
    await page.setInputFiles("#install-file", v11Zip);
    await page.click("#install-form button[type=submit]");
    await expect.poll(() => texts("#install-status"), { ...WAIT, timeout: 180_000 }).toEqual([`installed ${NAME} 1.1 (installed)`]);
    await expect.poll(() => cellOf("packages", `[data-package="${NAME}@1.1"]`, 3), WAIT).toEqual(["installed"]);

    await page.click(`#packages tr[data-package="${NAME}@1.1"] button:text-is("switch")`);
    await page.locator("#dialog").waitFor({ state: "visible" });
    expect(await texts("#dialog-text")).toEqual([`Switch PIDs to ${NAME} 1.1 (zero downtime):`]);
    await page.fill("#dialog-input", "p001");
    await page.press("#dialog-input", "Enter"); // Enter confirms
    await expect.poll(bindings, { ...WAIT, timeout: 60_000 }).toEqual({ p001: "1.1", p002: "1.0" });
    await expect.poll(() => cellOf("audit", "", 3), WAIT).toContain("switch");
    await expect.poll(() => page.locator("#dialog").isVisible(), WAIT).toBe(false);
    await shot("03-switched");
    // Escape cancels, even right after a confirmed dialog (the last test checks nothing was rolled back).
    await page.click('#bindings tr[data-pid="p001"] button:text-is("rollback")');
    await page.locator("#dialog").waitFor({ state: "visible" });
    await page.keyboard.press("Escape");
    await page.locator("#dialog").waitFor({ state: "hidden" });
  }, 240_000);

  it("shows a worker restart after its process is killed", async () => {
    const row = `[data-package="${NAME}@1.1"]`;
    await expect.poll(() => cellOf("workers", row, 2), { ...WAIT, timeout: 60_000 }).toEqual([expect.stringMatching(/^\d+$/)]);
    const [pidText] = await cellOf("workers", row, 2);
    const restartsBefore = Number((await cellOf("workers", row, 5))[0]);
    const pid = Number(pidText);
    process.kill(pid, "SIGKILL");
    await expect.poll(async () => {
      const [newPid, restarts] = await Promise.all([cellOf("workers", row, 2), cellOf("workers", row, 5)]);
      return Boolean(newPid[0]) && newPid[0] !== pidText && Number(restarts[0]) > restartsBefore;
    }, { ...WAIT, timeout: 60_000 }).toBe(true);
    // The live events panel tells what happened to the worker.
    await expect.poll(() => page.locator("#events").innerText(), WAIT).toMatch(new RegExp(`worker\\S*exit .*pid=${pid} .*cause=crash`));
    await shot("04-worker-restarted");
  }, 120_000);

  it("asked for the token once and kept it for the session", async () => {
    expect(ui!.prompts).toHaveLength(1);
    // A string, not a function: the test is compiled without the DOM lib.
    expect(await page.evaluate("sessionStorage.getItem(\"procvision-token\")")).toBe(token);
    // Still kept after a reload: another inspection (step 2: screw positions) asks nothing.
    await page.reload();
    await expect.poll(() => texts("#inspect-pid option"), WAIT).toEqual(["p001", "p002"]);
    await page.selectOption("#inspect-pid", "p002");
    await page.fill("#inspect-step", "2");
    await page.setInputFiles("#inspect-image", SAMPLE);
    const answered = page.waitForResponse((r) => r.url() === `${url}/inspect` && r.request().method() === "POST");
    await page.click("#inspect-submit");
    const answer = (await (await answered).json()) as { pre_execute?: CallResult; execute?: CallResult };
    const expected = rectsIn(answer);
    expect(expected.position).toBeGreaterThan(0);
    await expect.poll(() => page.locator("#inspect-overlay rect.position").count(), WAIT).toBe(expected.position);
    expect(ui!.prompts).toHaveLength(1);
    expect(ui!.alerts).toEqual([]);
    expect(ui!.pageErrors).toEqual([]);
    // The rollback cancelled with Escape never ran.
    expect(await bindings()).toEqual({ p001: "1.1", p002: "1.0" });
    expect(await cellOf("audit", "", 3)).not.toContain("rollback");
    await shot("05-step2-after-reload");
  }, 60_000);

  it("pulls and installs a package from an OCI registry by reference, and shows the station in the fleet", async () => {
    const registry = await startRegistry();
    try {
      const ref = `oci://${registry.host}/vision/${NAME}:1.2`;
      await publishPackage(await exampleZip(work, { version: "1.2" }), ref);
      await expect.poll(() => texts("#fleet-summary"), WAIT).toEqual([expect.stringContaining("follows no desired state")]);
      expect(await page.locator("#fleet-poll").isHidden()).toBe(true);
      await page.fill("#install-ref", `oci://${registry.host}/vision/nothing:1.0`);
      await page.click("#install-ref-form button[type=submit]");
      await expect.poll(() => texts("#install-ref-status"), WAIT).toEqual([expect.stringMatching(/^\[3006\]/)]);
      await page.fill("#install-ref", ref);
      await page.click("#install-ref-form button[type=submit]");
      await expect.poll(() => texts("#install-ref-status"), { ...WAIT, timeout: 180_000 }).toEqual([`installed ${NAME} 1.2 (installed)`]);
      await expect.poll(() => cellOf("packages", `[data-package="${NAME}@1.2"]`, 3), WAIT).toEqual(["installed"]);
      expect(ui!.pageErrors).toEqual([]);
      await shot("06-installed-from-registry");
    } finally {
      await registry.stop();
    }
  }, 240_000);
});
