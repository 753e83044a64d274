// The open-data portal's pages against the demo catalogue (reference/demo-catalog.json), read
// through the CKAN Action API: a search without diacritics finds a Vietnamese title, a facet
// narrows the results and the count, the URL carries the state (back works), the dataset page
// is Vietnamese and switches to English, the CSV preview shows the file's first rows and draws
// the chart, and axe-core finds no violations. At phone (360 px) and desktop widths.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { startServer, launch, newPage, signIn, shot, DEMO, PHONE, DESKTOP } from "./harness.mjs";

const require = createRequire(import.meta.url);
const AXE = require.resolve("axe-core/axe.min.js");

const AQI = "chat-luong-khong-khi-hue-2025";
const AQI_VI = "Chỉ số chất lượng không khí (AQI) tại Huế năm 2025";
const AQI_EN = "Air quality index (AQI) in Huế, 2025";
const PRIVATE_VI = "Kế hoạch duy tu hệ thống chiếu sáng năm 2026";

// The datasets the platform publishes itself appear shortly after start-up (the first refresh).
const GENERATED = ["field-report-statistics", "field-reports-anonymised", "sensor-daily-aggregates", "reference-lists"];

let server, browser;
before(async () => {
  server = await startServer();
  browser = await launch();
  // Wait for the first open-data refresh, so that every count below is final.
  const deadline = Date.now() + 60_000;
  for (;;) {
    const res = await fetch(`${server.url}/api/3/action/package_list`);
    const names = (await res.json()).result ?? [];
    if (GENERATED.every((n) => names.includes(n))) break;
    assert.ok(Date.now() < deadline, `the generated datasets were not published: ${names}`);
    await new Promise((r) => setTimeout(r, 200));
  }
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

/** The public datasets as the API counts them for anyone: the page must show the same. */
async function apiSearch(params) {
  const res = await fetch(`${server.url}/api/3/action/package_search?${new URLSearchParams(params)}`);
  const body = await res.json();
  assert.equal(body.success, true, JSON.stringify(body));
  return body.result;
}

/** Every axe violation (any impact) of the WCAG 2.1 A/AA rules on the current page. */
async function violations(page) {
  await page.addScriptTag({ path: AXE });
  const result = await page.evaluate(async () =>
    // eslint-disable-next-line no-undef
    axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] }, resultTypes: ["violations"] }),
  );
  return result.violations.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(" | ")}`);
}

const count = (page) => page.locator("#od-count").getAttribute("data-count").then(Number);
const titles = (page) => page.locator(".od-item h2 a").allInnerTexts();

for (const [label, viewport] of [["phone", PHONE], ["desktop", DESKTOP]]) {
  test(`the catalogue searches without diacritics and narrows by facets (${label})`, async () => {
    // axe is injected as a script, which the pages' CSP rightly refuses; bypass it here only.
    const page = await newPage(browser, viewport, "vi-VN", { bypassCSP: true });
    const all = await apiSearch({ rows: "0" });
    assert.ok(all.count >= 4, `the demo catalogue has public datasets (${all.count})`);

    // The portal is linked from the navigation.
    await page.goto(`${server.url}/`);
    await Promise.all([page.waitForURL(/\/dataset$/), page.getByRole("link", { name: "Dữ liệu mở" }).click()]);
    await page.getByRole("heading", { level: 1, name: "Cổng dữ liệu mở" }).waitFor();
    await page.locator("#od-count[data-count]").waitFor();
    assert.equal(await count(page), all.count);
    assert.equal(await page.locator(".od-item").count(), all.count);
    // Strangers never see the private dataset.
    assert.ok(!(await titles(page)).includes(PRIVATE_VI));
    await shot(page, `opendata-list-${label}`);
    assert.deepEqual(await violations(page), [], "the catalogue page");

    // Without diacritics, "khong khi" finds the Vietnamese title; the URL carries the query.
    await page.locator("#od-q").fill("khong khi");
    await page.locator("#od-q").press("Enter");
    await page.waitForURL(/\/dataset\?q=khong\+khi$/);
    const khongKhi = await apiSearch({ q: "khong khi", rows: "0" });
    assert.ok(khongKhi.count >= 1 && khongKhi.count < all.count, `"khong khi" narrows (${khongKhi.count})`);
    await page.waitForFunction((n) => document.getElementById("od-count").dataset.count === String(n), khongKhi.count);
    assert.ok((await titles(page)).includes(AQI_VI));

    // A facet narrows the results and the count; its counts are the API's.
    await page.locator("#od-q").fill("");
    await page.locator("#od-q").press("Enter");
    await page.waitForURL(/\/dataset$/);
    await page.waitForFunction((n) => document.getElementById("od-count").dataset.count === String(n), all.count);
    if (label === "phone") {
      // Folded under its summary on a phone.
      await page.locator(".od-facets-toggle > summary").click();
    }
    const groups = await apiSearch({ fq: 'groups:"moi-truong"', rows: "0" });
    assert.ok(groups.count > 0 && groups.count < all.count, `the group narrows (${groups.count} of ${all.count})`);
    const box = page.locator("#od-facet-groups").getByRole("checkbox", { name: /Môi trường/ });
    assert.match(await page.locator("#od-facet-groups li", { has: page.locator("label", { hasText: "Môi trường" }) }).innerText(), new RegExp(`${groups.count}$`));
    await box.check();
    await page.waitForURL(/\/dataset\?groups=moi-truong$/);
    await page.waitForFunction((n) => document.getElementById("od-count").dataset.count === String(n), groups.count);
    assert.equal(await page.locator(".od-item").count(), groups.count);
    assert.ok((await titles(page)).includes(AQI_VI));
    await page.getByRole("button", { name: /Bỏ lọc Chủ đề: Môi trường/ }).waitFor();
    // A second facet narrows further: AND across facets.
    await page.locator("#od-facet-res_format").getByRole("checkbox", { name: /CSV/ }).check();
    await page.waitForURL(/groups=moi-truong&res_format=CSV$/);
    const both = await apiSearch({ fq: 'groups:"moi-truong" res_format:"CSV"', rows: "0" });
    await page.waitForFunction((n) => document.getElementById("od-count").dataset.count === String(n), both.count);
    await shot(page, `opendata-facets-${label}`);
    assert.deepEqual(await violations(page), [], "the catalogue with filters");

    // Back steps through the history: one filter, then none.
    await page.goBack();
    await page.waitForURL(/\/dataset\?groups=moi-truong$/);
    await page.waitForFunction((n) => document.getElementById("od-count").dataset.count === String(n), groups.count);
    assert.equal(await page.locator("#od-facet-groups").getByRole("checkbox", { name: /Môi trường/ }).isChecked(), true);
    await page.goBack();
    await page.waitForURL(/\/dataset$/);
    await page.waitForFunction((n) => document.getElementById("od-count").dataset.count === String(n), all.count);

    // A shared link opens the same search.
    const shared = await newPage(browser, viewport);
    await shared.goto(`${server.url}/dataset?q=thu+gom&groups=moi-truong`);
    await shared.locator("#od-count[data-count]").waitFor();
    assert.deepEqual(await titles(shared), ["Điểm thu gom rác thải sinh hoạt"]);
    assert.equal(await shared.locator("#od-q").inputValue(), "thu gom");
    await shared.getByRole("button", { name: /Bỏ lọc Chủ đề: Môi trường/ }).waitFor();
    assert.deepEqual([...page.jsErrors, ...shared.jsErrors], []);
    await shared.context().close();
    await page.context().close();
  });

  test(`a dataset page in Vietnamese and English, with its CSV as a table and a chart (${label})`, async () => {
    const page = await newPage(browser, viewport, "vi-VN", { bypassCSP: true });
    await page.goto(`${server.url}/dataset?q=aqi`);
    await Promise.all([page.waitForURL(new RegExp(`/dataset/${AQI}$`)), page.getByRole("link", { name: AQI_VI }).click()]);
    await page.getByRole("heading", { level: 1, name: AQI_VI }).waitFor();
    const main = page.locator("main");
    await main.getByText("Giá trị AQI trung bình ngày của các trạm quan trắc").waitFor();
    const pkg = (await (await fetch(`${server.url}/api/3/action/package_show?id=${AQI}`)).json()).result;
    assert.ok((await page.locator(".od-facts").innerText()).includes(pkg.organization.title_translated.vi));
    await page.locator(".od-tags").getByRole("link", { name: "AQI" }).waitFor();
    // DCAT-AP exports and the download link.
    for (const [syntax, suffix] of [["Turtle", "ttl"], ["RDF/XML", "rdf"], ["JSON-LD", "jsonld"]]) {
      const link = page.getByRole("link", { name: `Bộ dữ liệu theo DCAT-AP (${syntax})`, exact: true });
      assert.equal(await link.getAttribute("href"), `/dataset/${pkg.id}.${suffix}`);
    }
    assert.equal(await page.getByRole("link", { name: /Toàn bộ danh mục theo DCAT-AP/ }).getAttribute("href"), "/catalog.ttl");
    const download = page.locator(".od-resource").getByRole("link", { name: /Tải về/ });
    const href = await download.getAttribute("href");
    assert.equal(href, `/dataset/${pkg.id}/resource/${pkg.resources[0].id}/download/aqi-ngay-2025.csv`);
    assert.equal((await fetch(`${server.url}${href}`)).status, 200);
    // Dates in Huế time: the API's +07:00 instant, written as Vietnamese day/month/year.
    const modified = new Date(pkg.metadata_modified);
    const day = new Intl.DateTimeFormat("vi-VN", { timeZone: "Asia/Ho_Chi_Minh", day: "2-digit", month: "2-digit", year: "numeric" }).format(modified);
    assert.ok((await page.locator(".od-facts").innerText()).includes(day));

    // The preview: the file's first rows as a table, in order, with its header.
    const table = page.locator(".od-table table");
    await table.waitFor();
    assert.deepEqual(await table.locator("thead th").allInnerTexts(), ["ngay", "tram", "aqi"]);
    const rows = await table.locator("tbody tr").evaluateAll((trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
    assert.deepEqual(rows.slice(0, 3), [
      ["2025-01-01", "Lê Lợi", "42"],
      ["2025-01-01", "Kim Long", "38"],
      ["2025-01-02", "Lê Lợi", "55"],
    ]);
    assert.equal(rows.length, 6);
    // The chart: aqi against the date column, drawn on a canvas with a size.
    assert.equal(await page.locator("#od-chart-y option:checked").innerText(), "aqi");
    assert.equal(await page.locator("#od-chart-x option:checked").innerText(), "ngay");
    const chart = page.locator(".od-chart");
    await chart.locator("canvas").waitFor();
    assert.equal(await chart.getAttribute("data-points"), "6");
    const size = await chart.locator("canvas").evaluate((c) => ({ w: c.width, h: c.height, cw: c.clientWidth, ch: c.clientHeight }));
    assert.ok(size.w > 0 && size.h > 0 && size.cw > 0 && size.ch > 0, JSON.stringify(size));
    assert.ok(size.cw <= viewport.width, `the chart fits the screen (${size.cw} px)`);
    await chart.scrollIntoViewIfNeeded();
    await shot(page, `opendata-dataset-${label}`);
    assert.deepEqual(await violations(page), [], "the dataset page");

    // The language switch: the same page in English, from the dataset's English fields.
    await Promise.all([page.waitForEvent("load"), page.locator("#lang-switch").selectOption("en")]);
    await page.getByRole("heading", { level: 1, name: AQI_EN }).waitFor();
    await main.getByText("Daily mean AQI of the city's automatic monitoring stations.").waitFor();
    await page.getByRole("heading", { name: "Data preview" }).waitFor();
    await page.locator(".od-resource").getByRole("link", { name: /Download/ }).waitFor();
    await page.locator(".od-chart canvas").waitFor();
    assert.equal(await page.locator("html").getAttribute("lang"), "en");
    // Names of the organization and the licence in English too.
    const facts = await page.locator(".od-facts").innerText();
    assert.ok(facts.includes(pkg.organization.title_translated.en), facts);
    assert.match(facts, /Open government data \(Decree 47\/2020\/ND-CP\)/);
    assert.ok(!(await main.innerText()).includes("Giá trị AQI trung bình ngày"));
    await shot(page, `opendata-dataset-en-${label}`);
    assert.deepEqual(await violations(page), [], "the dataset page in English");
    assert.deepEqual(page.jsErrors, []);
    await page.context().close();
  });
}

test("signed in, an agency's staff find and open its private dataset; others do not", async () => {
  const page = await newPage(browser, DESKTOP);
  await signIn(page, server.url, ...DEMO.hepco);
  await page.goto(`${server.url}/dataset?q=chieu+sang`);
  await page.locator(".od-item h2 a", { hasText: PRIVATE_VI }).waitFor();
  await page.locator(".od-item h2 a", { hasText: PRIVATE_VI }).click();
  await page.getByRole("heading", { level: 1, name: PRIVATE_VI }).waitFor();
  assert.deepEqual(page.jsErrors, []);
  await page.context().close();

  // A citizen's session reads the public datasets only.
  const citizen = await newPage(browser, PHONE);
  await signIn(citizen, server.url, ...DEMO.citizen);
  await citizen.goto(`${server.url}/dataset?q=chieu+sang`);
  await citizen.locator("#od-count").waitFor();
  assert.ok(!(await titles(citizen)).includes(PRIVATE_VI));
  await citizen.context().close();
});

test("a dataset that does not exist says so", async () => {
  const page = await newPage(browser, PHONE);
  await page.goto(`${server.url}/dataset/khong-co-bo-du-lieu-nay`);
  await page.getByRole("heading", { level: 1, name: "Không tìm thấy bộ dữ liệu" }).waitFor();
  await page.getByRole("link", { name: /Danh sách bộ dữ liệu/ }).waitFor();
  await page.context().close();
});
