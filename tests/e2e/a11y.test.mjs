// Accessibility basics on every page, checked by axe-core (WCAG 2.1 A and AA rules: labels,
// names, contrast, landmarks, ARIA) in the real browser, and keyboard use: the skip link comes
// first, and signing in works with the keyboard alone.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { startServer, launch, newPage, signIn, DEMO, DESKTOP, PHONE } from "./harness.mjs";
import { apiToken, createSharedDataset } from "./fixtures.mjs";

const require = createRequire(import.meta.url);
const AXE = require.resolve("axe-core/axe.min.js");

let server, browser, sharingAccount;
before(async () => {
  server = await startServer();
  browser = await launch();
  sharingAccount = await sharingFixture();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

/**
 * A connection account with a grant on a shared dataset and one access in the sharing log, so
 * the sharing pages show their tables, badges and actions. Returns the account's id.
 */
async function sharingFixture() {
  const token = await apiToken(server.url, ...DEMO.admin);
  await createSharedDataset(server.url, token, "a11y-du-lieu-chia-se");
  const call = async (method, path, body) => {
    const r = await fetch(`${server.url}/api/v1${path}`, { method, headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` }, body: body && JSON.stringify(body) });
    assert.ok(r.ok, `${method} ${path}: ${r.status}`);
    return r.json();
  };
  const created = await call("POST", "/admin/sharing/accounts", {
    name: "Hệ thống kiểm tra trợ năng",
    organisation: "Sở Khoa học và Công nghệ",
    contact_officer: "Lê Thị Hoa",
    purpose: "Kiểm tra trợ năng",
    legal_basis: "Thỏa thuận số 1/TTr",
  });
  const id = created.account.id;
  await call("PUT", `/admin/sharing/accounts/${id}/grants/a11y-du-lieu-chia-se`, { operations: ["read"] });
  await call("POST", `/admin/sharing/accounts/${id}/suspend`, { reason: "Kiểm tra" });
  const r = await fetch(`${server.url}/api/3/action/package_show?id=a11y-du-lieu-chia-se`, { headers: { Authorization: created.credential } });
  assert.equal(r.status, 403);
  return id;
}

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
  ["ioc", ["/ioc", "/ioc/sharing-log"]],
  ["admin", ["/admin", "/admin/categories", "/admin/agencies", "/admin/routing", "/admin/users", "/admin/holidays", "/admin/api-keys", "/admin/sharing", "/admin/sharing?new=1", "/admin/sharing?account=ACCOUNT", "/admin/sharing-log"]],
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
        path = path.replace("ACCOUNT", String(sharingAccount));
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
