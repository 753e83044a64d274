// Page-level benchmark of the IOC dashboard in headless Chromium (playwright-core), against a
// running server. Prints one JSON object.
//   node bench/issue3_page.mjs URL USER PASSWORD CITIZEN_TOKEN [RUNS]
// - usable: navigation start → the KPI tiles hold values (body[data-ready="1"]), cold cache
//   and warm cache (assets revalidated by ETag), RUNS loads each;
// - feed: a report created through the API → its item in the page's live feed, RUNS times.
import { createRequire } from "node:module";
const require = createRequire(new URL("../tests/e2e/package.json", import.meta.url));
const { chromium } = require("playwright-core");

const [url, user, password, citizenToken, runsArg] = process.argv.slice(2);
const RUNS = Number(runsArg || 10);
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
const summary = (xs) => ({ runs: xs.length, median: Math.round(pct(xs, 50)), p95: Math.round(pct(xs, 95)), max: Math.round(Math.max(...xs)) });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
});
const context = await browser.newContext({ viewport: { width: 1366, height: 900 }, locale: "vi-VN", timezoneId: "Asia/Ho_Chi_Minh" });
const signIn = await context.request.post(`${url}/api/v1/auth/session`, { data: { username: user, password } });
if (!signIn.ok()) throw new Error(`sign-in failed: ${signIn.status()}`);

async function load(page) {
  await page.goto(`${url}/ioc`, { waitUntil: "commit" });
  await page.waitForSelector('body[data-ready="1"]', { timeout: 30000 });
  const usable = await page.evaluate(() => performance.now());
  await page.waitForFunction(() => Number(document.querySelector("[data-markers]")?.dataset.markers || 0) > 0, null, { timeout: 30000 });
  const map = await page.evaluate(() => performance.now());
  return { usable, map };
}

const cold = [], warm = [], mapCold = [];
for (let i = 0; i < RUNS; i++) {
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.clearBrowserCache");
  const r = await load(page);
  cold.push(r.usable);
  mapCold.push(r.map);
  const r2 = await load(page);
  warm.push(r2.usable);
  await page.close();
}

// Live feed latency: the page is open; a citizen files a report through the API.
const page = await context.newPage();
await load(page);
await page.waitForTimeout(1500); // let the event stream connect
const feed = [];
for (let i = 0; i < RUNS; i++) {
  const t0 = Date.now();
  const res = await fetch(`${url}/api/v1/reports`, {
    method: "POST",
    headers: { Authorization: `Bearer ${citizenToken}`, "Content-Type": "application/json" },
    body: JSON.stringify({ category: "VSMT", description: `Rác thải bench ${i} ${t0}`, lat: 16.4741, long: 107.6121, attributes: { waste_type: "household" } }),
  });
  if (!res.ok) throw new Error(`report: ${res.status} ${await res.text()}`);
  const id = (await res.json()).report.id;
  await page.waitForSelector(`.ioc-feed li[data-report="${id}"]`, { timeout: 10000 });
  feed.push(Date.now() - t0);
  await page.waitForTimeout(300);
}
await browser.close();
console.log(JSON.stringify({ usable_cold_ms: summary(cold), usable_warm_ms: summary(warm), map_markers_cold_ms: summary(mapCold), feed_ms: summary(feed) }));
