// The whole loop, in three browsers at once: a citizen (phone) files a report with a photo; the
// agency (desktop) accepts and resolves it with a note and a photo; the citizen rates it; and
// the IOC dashboard, open all along, shows the KPIs and the agency ranking change — live,
// without reloading. Screenshots at phone and desktop widths go to target/e2e/full-loop-*.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launch, newPage, signIn, shot as shoot, DEMO, PHONE, DESKTOP } from "./harness.mjs";
import { PNG } from "./fixtures.mjs";

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

/** The dashboard's KPI tiles as numbers: { received, handled, … }. */
async function tiles(page) {
  return page.evaluate(() =>
    Object.fromEntries([...document.querySelectorAll("[data-kpi]")].map((el) => [el.dataset.kpi, el.dataset.value === "" ? null : Number(el.dataset.value)])),
  );
}

/** The ranking table's row of an agency, as its cells' text. */
async function rankingRow(page, code) {
  const row = page.locator(`.ioc-ranking tbody tr[data-agency="${code}"]`);
  await row.waitFor({ timeout: 5_000 });
  return row.locator("td, th").allInnerTexts();
}

/** GET /api/v1/ioc/ranking for the period the dashboard shows: HEPCO's line. */
async function apiRank(page, code) {
  const params = await page.locator(".ioc-kpis").getAttribute("data-api");
  const res = await page.request.get(`${new URL(page.url()).origin}/api/v1/ioc/ranking?${params}`);
  return (await res.json()).agencies.find((a) => a.agency_code === code);
}

async function waitForTiles(page, predicate, what) {
  const deadline = Date.now() + 10_000;
  let last;
  while (Date.now() < deadline) {
    last = await tiles(page);
    if (predicate(last)) return last;
    await page.waitForTimeout(200);
  }
  assert.fail(`${what}: the dashboard shows ${JSON.stringify(last)}`);
}

for (const backend of ["sqlite", "postgres"]) {
test(`citizen reports with a photo → agency resolves → citizen rates → the dashboard KPIs and ranking change (${backend})`, async (t) => {
  const server = await startServer({ backend });
  t.after(() => server.stop());
  const shot = (page, name) => shoot(page, `${name}${backend === "postgres" ? "-pg" : ""}`);
  // The IOC dashboard, open from the start, on today's figures.
  const ioc = await newPage(browser, DESKTOP);
  await signIn(ioc, server.url, ...DEMO.ioc);
  await ioc.goto(`${server.url}/ioc?period=today`);
  await ioc.waitForSelector('body[data-ready="1"]');
  const before = await tiles(ioc);
  const rankBefore = await apiRank(ioc, "HEPCO");
  const kpisBefore = await (await ioc.request.get(`${server.url}/api/v1/ioc/kpis?${await ioc.locator(".ioc-kpis").getAttribute("data-api")}`)).json();
  assert.equal(kpisBefore.received, before.received, "the tiles show the API's figures");
  const rowBefore = await rankingRow(ioc, "HEPCO").catch(() => null);
  await shot(ioc, "full-loop-1-dashboard-before-desktop");

  // 1. The citizen files a street-light report with a photo, from a phone.
  const citizen = await newPage(browser, PHONE);
  await signIn(citizen, server.url, ...DEMO.citizen);
  await citizen.goto(`${server.url}/report`);
  await citizen.locator("#rn-category option[value=CSCC]").waitFor({ state: "attached" });
  await citizen.locator("#rn-category").selectOption("CSCC");
  await citizen.locator("#rn-attr-lamp_state").selectOption("off");
  await citizen.locator("#rn-map").click();
  await citizen.waitForFunction(() => !!document.getElementById("rn-map").dataset.pin);
  await citizen.locator("#rn-photo-gallery").setInputFiles({ name: "den-hong.png", mimeType: "image/png", buffer: PNG });
  await citizen.locator(".photo-previews img").first().waitFor();
  await citizen.locator("#rn-description").fill("Đèn đường trước nhà số 5 không sáng ba đêm nay (kiểm thử trọn vòng)");
  const dup = citizen.getByRole("button", { name: /Vấn đề của tôi khác/ });
  if (await dup.count()) await dup.click();
  await shot(citizen, "full-loop-2-report-phone");
  await Promise.all([
    citizen.waitForURL(/\/reports\/\d+\?new=1$/, { timeout: 15_000 }),
    citizen.getByRole("button", { name: "Gửi phản ánh" }).click(),
  ]);
  const id = Number(new URL(citizen.url()).pathname.split("/").pop());
  await citizen.locator(".gallery img").first().waitFor();

  // The dashboard counts it without a reload (live feed → refresh), and the feed shows it.
  await waitForTiles(ioc, (k) => k.received === before.received + 1, "received after the report");
  await ioc.locator(`.ioc-feed li[data-report="${id}"]`).first().waitFor({ timeout: 5_000 });

  // 2. The agency accepts and resolves it with a note and a photo.
  const agency = await newPage(browser, DESKTOP);
  await signIn(agency, server.url, ...DEMO.hepco);
  await agency.goto(`${server.url}/inbox`);
  await agency.locator(`tr[data-id="${id}"]`).waitFor();
  await agency.goto(`${server.url}/inbox/${id}`);
  await agency.getByRole("button", { name: "Nhận xử lý" }).click();
  await agency.locator(".ir-notice").getByText(`Đã nhận xử lý phản ánh #${id}.`).waitFor();
  await agency.getByRole("button", { name: "Báo cáo đã xử lý" }).click();
  await agency.getByLabel("Kết quả xử lý").fill("Đã thay bóng đèn LED, đèn sáng bình thường.");
  await agency.getByLabel("Hình ảnh kết quả").setInputFiles({ name: "ket-qua.png", mimeType: "image/png", buffer: PNG });
  await agency.locator(".ir-previews img").waitFor();
  await agency.getByRole("button", { name: "Xác nhận đã xử lý" }).click();
  await agency.locator(".ir-notice").getByText(`Đã báo cáo xử lý xong phản ánh #${id}.`).waitFor();
  await shot(agency, "full-loop-3-resolved-desktop");

  const handled = await waitForTiles(ioc, (k) => k.handled === before.handled + 1, "handled after resolution");
  assert.equal(handled.received, before.received + 1);

  // 3. The citizen sees the result with its photo and rates it "hài lòng".
  await citizen.goto(`${server.url}/reports/${id}`);
  await citizen.getByRole("heading", { name: "Bạn thấy kết quả xử lý thế nào?" }).waitFor();
  await citizen.locator("ol.history").getByText("Đã thay bóng đèn LED").waitFor();
  await citizen.getByLabel("Hài lòng", { exact: true }).check();
  await citizen.getByRole("button", { name: "Gửi đánh giá" }).click();
  await citizen.getByText("Cảm ơn bạn đã đánh giá.").waitFor();
  await citizen.locator(".report-head .badge-closed").waitFor();
  await shot(citizen, "full-loop-4-rated-phone");

  // 4. The dashboard: one more rating, all of today's ratings counted, and HEPCO's row changed.
  const rated = (await (await ioc.request.get(`${server.url}/api/v1/ioc/kpis?${await ioc.locator(".ioc-kpis").getAttribute("data-api")}`)).json()).satisfaction_rate;
  const after = await waitForTiles(ioc, (k) => k.satisfaction_rate === rated, "satisfaction after rating");
  const params = await ioc.locator(".ioc-kpis").getAttribute("data-api");
  const api = await (await ioc.request.get(`${server.url}/api/v1/ioc/kpis?${params}`)).json();
  assert.equal(after.received, before.received + 1);
  assert.equal(after.handled, before.handled + 1);
  assert.equal(after.received, api.received);
  assert.equal(after.handled, api.handled);
  assert.equal(after.satisfaction_rate, api.satisfaction_rate);
  assert.equal(api.rated, kpisBefore.rated + 1);
  assert.equal(api.satisfied, kpisBefore.satisfied + 1);
  assert.equal(api.satisfaction_rate, Math.round((api.satisfied / api.rated) * 10000) / 10000);
  const rankAfter = await apiRank(ioc, "HEPCO");
  assert.equal(rankAfter.received, (rankBefore?.received ?? 0) + 1);
  assert.equal(rankAfter.handled, (rankBefore?.handled ?? 0) + 1);
  const rowAfter = await rankingRow(ioc, "HEPCO");
  assert.notDeepEqual(rowAfter, rowBefore, "HEPCO's ranking row changed on the page");
  assert.equal(rowAfter[3], String(rankAfter.handled), "handled, as the page shows it");
  await shot(ioc, "full-loop-5-dashboard-after-desktop");

  for (const p of [ioc, citizen, agency]) {
    assert.deepEqual(p.jsErrors, []);
    await p.context().close();
  }
});
}
