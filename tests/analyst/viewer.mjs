// Opens one viewer URL in Debian's headless Chromium (no browser download) and prints what a person would see
// as one JSON line: the status text, whether it is an error, how many charts drew, and every console error.
// Usage: node viewer.mjs URL [screenshot.png]
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
  await page.waitForFunction(() => !document.getElementById("status").textContent.startsWith("Loading"), null, { timeout: 15000 });
  const result = await page.evaluate(() => ({
    status: document.getElementById("status").textContent,
    error: document.getElementById("status").classList.contains("error"),
    charts: document.querySelectorAll(".chart canvas").length,
    titles: [...document.querySelectorAll(".chart h2")].map((h) => h.textContent),
    downloads: !document.getElementById("downloads").hidden,
  }));
  if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
  console.log(JSON.stringify({ ...result, consoleErrors }));
} finally {
  await browser.close();
}
