// Opens one viewer URL in Debian's headless Chromium (no browser download) and prints what a person would see
// as one JSON line: the status text, whether it is an error, how many charts drew, and every console error.
// Usage: node viewer.mjs URL [screenshot.png]; with VIEWER_TOKEN set, the token is pasted as a person would once the
// page has loaded, and the status seen before it is reported as "before".
import { chromium } from "playwright-core";
import { existsSync } from "node:fs";

const [url, screenshot] = process.argv.slice(2);
const executablePath = process.env.CHROMIUM_PATH || ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find(existsSync);
if (!executablePath) {
  console.error("Chromium is not installed: apt-get install -y chromium (or set CHROMIUM_PATH).");
  process.exit(2);
}

const browser = await chromium.launch({ executablePath, args: ["--no-sandbox"] });
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
  const consoleErrors = [];
  page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
  await page.goto(url, { waitUntil: "networkidle" });
  const settled = () => page.waitForFunction(() => !document.getElementById("status").textContent.startsWith("Loading"), null, { timeout: 15000 });
  await settled();
  let before;
  if (process.env.VIEWER_TOKEN) {
    before = await page.textContent("#status");
    await page.click("#auth summary");
    await page.fill("#token", process.env.VIEWER_TOKEN);
    await page.click("#save-token");
    await page.waitForFunction((b) => document.getElementById("status").textContent !== b, before, { timeout: 15000 });
    await settled();
  }
  const result = await page.evaluate(() => ({
    status: document.getElementById("status").textContent,
    error: document.getElementById("status").classList.contains("error"),
    charts: document.querySelectorAll(".chart canvas").length,
    titles: [...document.querySelectorAll(".chart h2")].map((h) => h.textContent),
    downloads: !document.getElementById("downloads").hidden,
    tokenKept: sessionStorage.getItem("readToken") !== null,
  }));
  if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
  console.log(JSON.stringify({ ...result, before, consoleErrors }));
} finally {
  await browser.close();
}
