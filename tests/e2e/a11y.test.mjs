// Accessibility basics on every page, checked by axe-core (WCAG 2.1 A and AA rules: labels,
// names, contrast, landmarks, ARIA) in the real browser, and keyboard use: the skip link comes
// first, and signing in works with the keyboard alone.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { startServer, launch, newPage, signIn, DEMO, DESKTOP, PHONE } from "./harness.mjs";

const require = createRequire(import.meta.url);
const AXE = require.resolve("axe-core/axe.min.js");

let server, browser;
before(async () => {
  server = await startServer();
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

/** Serious and critical axe violations on the current page, as readable lines. */
async function violations(page) {
  await page.addScriptTag({ path: AXE });
  const result = await page.evaluate(async () =>
    // eslint-disable-next-line no-undef
    axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] }, resultTypes: ["violations"] }),
  );
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(" | ")}`);
}

async function settle(page) {
  await page.waitForLoadState("networkidle").catch(() => {});
  await page.waitForSelector("main h1, main h2", { timeout: 10000 });
  await page.waitForTimeout(300);
}

const PAGES = [
  [null, ["/", "/login", "/register", "/reports/1", "/dataset", "/dataset/chat-luong-khong-khi-hue-2025"]],
  ["citizen", ["/report", "/my"]],
  ["hepco", ["/inbox", "/inbox/FIRST"]],
  ["ioc", ["/ioc"]],
  ["admin", ["/admin", "/admin/categories", "/admin/agencies", "/admin/routing", "/admin/users", "/admin/holidays", "/admin/api-keys"]],
];

for (const viewport of [DESKTOP, PHONE]) {
  test(`no serious accessibility violations at ${viewport.width} px`, async () => {
    const found = [];
    for (const [who, paths] of PAGES) {
      // axe is injected as a script, which the pages' CSP rightly refuses; bypass it here only.
      const page = await newPage(browser, viewport, "vi-VN", { bypassCSP: true });
      if (who) await signIn(page, server.url, ...DEMO[who]);
      for (let path of paths) {
        if (path.includes("FIRST")) {
          const list = await page.request.get(`${server.url}/api/v1/reports?page_size=1`);
          path = path.replace("FIRST", String((await list.json()).items[0].id));
        }
        await page.goto(`${server.url}${path}`);
        await settle(page);
        for (const v of await violations(page)) found.push(`${who || "public"} ${path}: ${v}`);
      }
      assert.deepEqual(page.jsErrors, [], `script errors for ${who}`);
      await page.context().close();
    }
    assert.deepEqual(found, []);
  });
}

test("keyboard: the skip link comes first and sign-in works without a mouse", async () => {
  const page = await newPage(browser, PHONE);
  await page.goto(`${server.url}/`);
  await page.locator("main h1, main h2").first().waitFor();
  await page.keyboard.press("Tab");
  const first = await page.evaluate(() => document.activeElement?.getAttribute("href"));
  assert.equal(first, "#main");
  await page.keyboard.press("Enter");
  assert.equal(await page.evaluate(() => document.activeElement?.id), "main");
  // The sign-in page puts the cursor in the user name field; the rest is Tab and Enter.
  await page.goto(`${server.url}/login`);
  await page.getByLabel("Tên đăng nhập").waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.id), "username");
  await page.keyboard.type(DEMO.citizen[0]);
  await page.keyboard.press("Tab");
  await page.keyboard.type(DEMO.citizen[1]);
  await Promise.all([page.waitForURL((u) => u.pathname === "/my"), page.keyboard.press("Enter")]);
  await page.context().close();
});
