// The operations centre's dashboard (/ioc) in a real browser against `dothi serve --demo`:
// KPI tiles equal the API, the map has markers without tiles, filters change the figures, the
// live feed shows a new report and the KPIs follow without a reload, the exports download.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { startServer, launch, newPage, signIn, shot, DEMO, PHONE, DESKTOP } from "./harness.mjs";

let server, browser;
before(async () => {
  server = await startServer();
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

const KPI_KEYS = ["received", "handled", "on_time_rate", "overdue_now", "avg_handling_working_days", "satisfaction_rate"];

/** Waits until the KPI tiles answer the given dashboard query (the page's own query string). */
async function kpisReady(page, query = "") {
  const tiles = page.locator(`.ioc-kpis[data-state="ready"][data-query="${query}"]`);
  await tiles.waitFor({ timeout: 15_000 });
  return tiles;
}

/** The tiles' raw values, by key. */
async function tileValues(page) {
  return page.$$eval(".ioc-kpis [data-kpi]", (els) => Object.fromEntries(els.map((e) => [e.dataset.kpi, e.dataset.value])));
}

/** GET /api/v1/ioc/kpis with the page's cookies, for the period the tiles show. */
async function apiKpis(page, extra = "") {
  const params = await page.locator(".ioc-kpis").getAttribute("data-api");
  const res = await page.request.get(`${server.url}/api/v1/ioc/kpis?${params}${extra}`);
  assert.equal(res.status(), 200);
  return res.json();
}

function assertTilesEqual(tiles, kpis) {
  for (const k of KPI_KEYS) {
    const expected = kpis[k] == null ? "" : String(kpis[k]);
    assert.equal(tiles[k], expected, `tile ${k}`);
  }
}

async function token(who) {
  const [username, password] = DEMO[who];
  const r = await fetch(`${server.url}/api/v1/auth/token`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ username, password }) });
  assert.equal(r.status, 200);
  return (await r.json()).access_token;
}

test("the IOC dashboard shows the figures, the map, the live feed and exports", async () => {
  const page = await newPage(browser, DESKTOP);
  await signIn(page, server.url, ...DEMO.ioc);
  assert.equal(new URL(page.url()).pathname, "/ioc");
  await page.waitForFunction(() => document.body.dataset.ready === "1", null, { timeout: 15_000 });

  // KPI tiles equal the API for the same period.
  await kpisReady(page);
  const all = await apiKpis(page);
  assert.ok(all.received > 0, "the demo has reports in the last 30 days");
  assertTilesEqual(await tileValues(page), all);
  assert.match(await page.locator('[data-kpi="received"] .value').innerText(), /^\d[\d.]*$/);

  // The map has markers although the tile server is unreachable.
  const map = page.locator(".ioc-map[data-markers]");
  await page.waitForFunction(() => Number(document.querySelector(".ioc-map")?.dataset.markers || 0) > 0, null, { timeout: 15_000 });
  assert.ok(Number(await map.getAttribute("data-markers")) > 0);

  // Trend chart and its table; the ranking, sortable.
  await page.locator(".ioc-chart canvas").waitFor();
  assert.ok((await page.locator(".ioc-trend-table tbody tr").count()) >= 30);
  await page.locator(".ioc-ranking tbody tr").first().waitFor();
  const received = page.locator(".ioc-ranking th", { hasText: "Tiếp nhận" });
  await received.getByRole("button").click();
  assert.equal(await received.getAttribute("aria-sort"), "descending");
  const counts = await page.$$eval(".ioc-ranking tbody tr td:nth-child(3)", (tds) => tds.map((td) => Number(td.textContent.replace(/\D/g, ""))));
  assert.deepEqual(counts, [...counts].sort((a, b) => b - a));

  // Filtering by an agency changes the KPIs (and the URL).
  await page.getByLabel("Đơn vị xử lý").selectOption("HEPCO");
  await kpisReady(page, "agency=HEPCO");
  assert.equal(new URL(page.url()).searchParams.get("agency"), "HEPCO");
  const hepco = await apiKpis(page);
  assertTilesEqual(await tileValues(page), hepco);
  assert.ok(hepco.received < all.received, "HEPCO has fewer reports than the whole city");
  await page.getByLabel("Đơn vị xử lý").selectOption("");
  await kpisReady(page);

  // The live feed shows a report created while the page is open, within 2 s, and the received
  // tile follows without a reload.
  await page.locator('.ioc-live[data-state="live"]').waitFor({ timeout: 10_000 });
  const before = Number((await tileValues(page)).received);
  const citizen = await token("citizen");
  const created = await fetch(`${server.url}/api/v1/reports`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${citizen}` },
    body: JSON.stringify({ category: "CSCC", description: "Đèn đường tắt (kiểm thử IOC)", lat: 16.4741, long: 107.6121, attributes: { lamp_state: "off" } }),
  });
  assert.equal(created.status, 201);
  const id = (await created.json()).report.id;
  const t0 = Date.now();
  await page.locator(`.ioc-feed li.fresh[data-report="${id}"]`).first().waitFor({ timeout: 2_000 });
  assert.ok(Date.now() - t0 <= 2_000);
  await page.waitForFunction((n) => Number(document.querySelector('[data-kpi="received"]').dataset.value) === n, before + 1, { timeout: 5_000 });

  // Exports of the current view download as files.
  const [xlsx] = await Promise.all([page.waitForEvent("download"), page.locator('[data-export="xlsx"]').click()]);
  assert.match(xlsx.suggestedFilename(), /^bao-cao-ioc-\d{4}-\d{2}-\d{2}_\d{4}-\d{2}-\d{2}\.xlsx$/);
  const xlsxBytes = readFileSync(await xlsx.path());
  assert.equal(xlsxBytes.subarray(0, 2).toString(), "PK");
  const [csv] = await Promise.all([page.waitForEvent("download"), page.locator('[data-export="csv"]').click()]);
  assert.match(csv.suggestedFilename(), /^phan-anh-.*\.csv$/);
  const csvText = readFileSync(await csv.path(), "utf8");
  assert.ok(csvText.startsWith("\uFEFFMã phản ánh,"), csvText.slice(0, 40));
  assert.ok(csvText.includes(`\n${id},`), "the new report is in the export");

  await shot(page, "ioc-desktop");
  assert.deepEqual(page.jsErrors, []);
  await page.context().close();
});

test("the IOC dashboard works on a phone", async () => {
  const page = await newPage(browser, PHONE);
  await signIn(page, server.url, ...DEMO.ioc);
  await page.goto(`${server.url}/ioc?period=7d`);
  await kpisReady(page, "period=7d");
  assertTilesEqual(await tileValues(page), await apiKpis(page));
  await page.waitForFunction(() => Number(document.querySelector(".ioc-map")?.dataset.markers || 0) > 0, null, { timeout: 15_000 });
  await page.locator(".ioc-ranking tbody tr").first().waitFor();
  await page.locator(".ioc-chart canvas").waitFor();
  // Nothing wider than the screen but the tables' own scrolling boxes.
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than the screen`);
  await shot(page, "ioc-phone");
  assert.deepEqual(page.jsErrors, []);
  await page.context().close();
});
