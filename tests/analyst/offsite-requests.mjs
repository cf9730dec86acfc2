// Opens a page in Debian's headless Chromium and prints one JSON line: every request the page made whose origin is
// not the page's own, and every console error. Requests are recorded, not served: any that leaves the node counts,
// answered or not. Usage: node offsite-requests.mjs URL
import { chromium } from "playwright-core";
import { existsSync } from "node:fs";

const [url] = process.argv.slice(2);
const executablePath = process.env.CHROMIUM_PATH || ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find(existsSync);
if (!executablePath) {
  console.error("Chromium is not installed: apt-get install -y chromium (or set CHROMIUM_PATH).");
  process.exit(2);
}

const origin = new URL(url).origin;
const browser = await chromium.launch({ executablePath, args: ["--no-sandbox"] });
try {
  const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
  const all = [];
  const consoleErrors = [];
  // Context-wide, so workers and service workers the page starts are seen as well.
  context.on("request", (r) => all.push(r.url()));
  const page = await context.newPage();
  page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
  await page.goto(url, { waitUntil: "networkidle" });
  // What a reader does next: scroll through the reference, so lazily loaded parts load too.
  await page.mouse.wheel(0, 20000);
  await page.waitForTimeout(2000);
  await page.waitForLoadState("networkidle");
  const offsite = all.filter((u) => !u.startsWith(origin + "/") && !u.startsWith("data:") && !u.startsWith("blob:"));
  console.log(JSON.stringify({ requests: all.length, offsite, consoleErrors }));
} finally {
  await browser.close();
}
