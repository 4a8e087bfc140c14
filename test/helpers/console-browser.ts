// The web console's browser for the tests: Debian's chromium through playwright-core, one page that answers the
// console's token prompt with `token` and keeps what the page said (prompts, alerts, uncaught errors).
import { existsSync } from "node:fs";
import { chromium, type Browser, type Page } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";

export interface ConsoleBrowser {
  browser: Browser;
  page: Page;
  prompts: string[];
  alerts: string[];
  pageErrors: string[];
}

export function requireChromium(): void {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} missing: apt-get install chromium (.ci/run does)`);
}

export async function openConsoleBrowser(token: () => string): Promise<ConsoleBrowser> {
  requireChromium();
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.setDefaultTimeout(20_000);
  const opened: ConsoleBrowser = { browser, page, prompts: [], alerts: [], pageErrors: [] };
  page.on("dialog", (dialog) => {
    if (dialog.type() === "prompt") {
      opened.prompts.push(dialog.message());
      void dialog.accept(token());
    } else {
      opened.alerts.push(dialog.message());
      void dialog.dismiss();
    }
  });
  page.on("pageerror", (err) => opened.pageErrors.push(err.message));
  return opened;
}
