// The admin pages: an administrator manages categories (with extra questions), agencies,
// routing rules, accounts, holidays and API keys through the pages, and the API reflects it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
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

const year = Number(new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Ho_Chi_Minh", year: "numeric" }).format(new Date()));

/** Waits for a success notice containing `text`. */
const notice = (page, text) => page.locator(".alert-success", { hasText: text }).waitFor();

/** Answers the confirmation dialog with its confirm button. */
async function confirm(page, label) {
  const dialog = page.getByRole("dialog");
  await dialog.waitFor();
  await dialog.getByRole("button", { name: label, exact: true }).click();
  await dialog.waitFor({ state: "hidden" });
}

test("an administrator manages the reference data, accounts and API keys", async () => {
  const page = await newPage(browser, DESKTOP);
  await page.context().grantPermissions(["clipboard-read", "clipboard-write"], { origin: server.url });
  await signIn(page, server.url, ...DEMO.admin);

  // Overview with a link to every section.
  await page.goto(`${server.url}/admin`);
  await page.getByRole("heading", { name: "Quản trị hệ thống" }).waitFor();
  await page.locator(".admin-stat").first().waitFor();
  await shot(page, "admin-overview-desktop");

  // ── Categories: a new one with two extra questions, one a required single-value list.
  await page.getByRole("navigation", { name: "Các mục quản trị" }).getByRole("link", { name: "Lĩnh vực phản ánh" }).click();
  await page.getByRole("heading", { name: "Lĩnh vực phản ánh" }).waitFor();
  await page.locator("table tbody tr").first().waitFor();
  await shot(page, "admin-categories-desktop");
  await page.getByRole("button", { name: "Thêm lĩnh vực" }).click();
  await page.locator("#cat-code").fill("E2E_CAT");
  await page.locator("#cat-name").fill("Cây đổ chắn đường");
  await page.locator("#cat-name-en").fill("Fallen tree blocking a road");
  await page.locator("#cat-group-input").fill("Hạ tầng đô thị");
  await page.locator("#cat-normal").fill("4");
  await page.locator("#cat-urgent").fill("1");
  await page.locator("#cat-agency").selectOption("CVCX");
  await page.getByRole("button", { name: "Thêm câu hỏi" }).click();
  await page.getByRole("button", { name: "Thêm câu hỏi" }).click();
  const q1 = page.locator(".question").nth(0);
  const q2 = page.locator(".question").nth(1);
  await q1.getByLabel("Mã câu hỏi").fill("tree_size");
  await q1.getByLabel("Nội dung câu hỏi (tiếng Việt)").fill("Đường kính thân cây (cm)");
  await q1.getByLabel("Kiểu trả lời").selectOption("number");
  await q2.getByLabel("Mã câu hỏi").fill("blocking");
  await q2.getByLabel("Nội dung câu hỏi (tiếng Việt)").fill("Mức độ cản trở giao thông");
  await q2.getByLabel("Nội dung câu hỏi (tiếng Anh)").fill("How much traffic is blocked");
  await q2.getByLabel("Kiểu trả lời").selectOption("singlevaluelist");
  await q2.getByLabel("Bắt buộc trả lời").check();
  for (const [key, name] of [["full", "Chắn toàn bộ"], ["lane", "Chắn một làn"], ["none", "Không cản trở"]]) {
    await q2.getByRole("button", { name: "Thêm lựa chọn" }).click();
    await q2.locator(".value-row").last().getByLabel(/^Mã lựa chọn/).fill(key);
    await q2.locator(".value-row").last().getByLabel(/^Tên lựa chọn/).fill(name);
  }
  // Reorder: the list question first, then its last value up one place, then remove "none".
  await q2.getByRole("button", { name: "Đưa câu hỏi 2 lên trên" }).click();
  const list = page.locator(".question").nth(0);
  assert.equal(await list.getByLabel("Mã câu hỏi").inputValue(), "blocking");
  await list.getByRole("button", { name: "Đưa lựa chọn 3 lên trên" }).click();
  await list.getByRole("button", { name: "Xóa lựa chọn 2" }).click();
  await shot(page, "admin-category-edit-desktop");
  await page.getByRole("button", { name: "Lưu", exact: true }).click();
  await notice(page, "Đã lưu lĩnh vực E2E_CAT");
  await page.getByRole("row", { name: /E2E_CAT/ }).waitFor();

  const categories = await (await page.request.get(`${server.url}/api/v1/categories`)).json();
  const cat = categories.find((c) => c.code === "E2E_CAT");
  assert.ok(cat, "the new category is listed by the API");
  assert.equal(cat.name, "Cây đổ chắn đường");
  assert.equal(cat.name_en, "Fallen tree blocking a road");
  assert.equal(cat.deadline_normal_days, 4);
  assert.equal(cat.deadline_urgent_days, 1);
  assert.equal(cat.default_agency, "CVCX");
  assert.deepEqual(
    cat.attributes.map((a) => [a.code, a.datatype, a.required, a.order]),
    [["blocking", "singlevaluelist", true, 1], ["tree_size", "number", false, 2]],
  );
  assert.equal(cat.attributes[0].description_en, "How much traffic is blocked");
  assert.deepEqual(cat.attributes[0].values, [{ key: "full", name: "Chắn toàn bộ" }, { key: "lane", name: "Chắn một làn" }]);
  assert.deepEqual(cat.attributes[1].values, []);

  // Editing keeps the questions and changes what was changed.
  await page.getByRole("link", { name: "Sửa Cây đổ chắn đường" }).click();
  assert.equal(await page.locator("#cat-code").getAttribute("readonly"), "");
  assert.equal(await page.locator(".question").count(), 2);
  await page.locator("#cat-normal").fill("6");
  await page.getByRole("button", { name: "Lưu", exact: true }).click();
  await notice(page, "Đã lưu lĩnh vực E2E_CAT");
  const again = (await (await page.request.get(`${server.url}/api/v1/categories`)).json()).find((c) => c.code === "E2E_CAT");
  assert.equal(again.deadline_normal_days, 6);
  assert.equal(again.attributes.length, 2);

  // ── Agencies
  await page.goto(`${server.url}/admin/agencies`);
  await page.getByRole("button", { name: "Thêm đơn vị" }).click();
  await page.locator("#ag-code").fill("E2E-AG");
  await page.locator("#ag-name").fill("Đội cây xanh cơ động");
  await page.locator("#ag-name-en").fill("Mobile tree crew");
  await page.locator("#ag-kind").selectOption("utility");
  await page.locator("#ag-email").fill("caycanh@example.vn");
  await page.getByRole("button", { name: "Lưu", exact: true }).click();
  await notice(page, "Đã lưu đơn vị E2E-AG");
  await page.getByRole("row", { name: /E2E-AG/ }).waitFor();
  const agencies = await (await page.request.get(`${server.url}/api/v1/agencies`)).json();
  assert.equal(agencies.find((a) => a.code === "E2E-AG")?.kind, "utility");
  await shot(page, "admin-agencies-desktop");
  // The editor opens from the list and Cancel goes back to it.
  await page.getByRole("link", { name: "Sửa Đội cây xanh cơ động" }).click();
  assert.equal(await page.locator("#ag-kind").inputValue(), "utility");
  await page.getByRole("button", { name: "Hủy" }).click();
  await page.getByRole("button", { name: "Thêm đơn vị" }).waitFor();
  assert.equal(new URL(page.url()).search, "");

  // ── Routing rules: add one for the new category in Vỹ Dạ, then delete it.
  await page.goto(`${server.url}/admin/routing`);
  await page.locator("#rr-category").selectOption("E2E_CAT");
  await page.locator("#rr-commune").selectOption({ label: "Phường Vỹ Dạ" });
  await page.locator("#rr-agency").selectOption("E2E-AG");
  await page.getByRole("button", { name: "Thêm quy tắc", exact: true }).click();
  await notice(page, "Đã thêm quy tắc");
  const row = page.getByRole("row", { name: /Cây đổ chắn đường.*Phường Vỹ Dạ.*Đội cây xanh cơ động/ });
  await row.waitFor();
  let rules = await (await page.request.get(`${server.url}/api/v1/admin/routing-rules`)).json();
  const rule = rules.find((r) => r.category === "E2E_CAT");
  assert.equal(rule?.agency, "E2E-AG");
  assert.ok(rule.commune, "the rule is for one commune");
  await shot(page, "admin-routing-desktop");
  await row.getByRole("button", { name: /Xóa/ }).click();
  await confirm(page, "Xóa");
  await notice(page, "Đã xóa quy tắc");
  rules = await (await page.request.get(`${server.url}/api/v1/admin/routing-rules`)).json();
  assert.equal(rules.filter((r) => r.category === "E2E_CAT").length, 0);

  // ── Users: a field error from the API next to its field, then an agency staff account.
  await page.goto(`${server.url}/admin/users`);
  await page.getByRole("button", { name: "Thêm tài khoản" }).click();
  await page.locator("#nu-username").fill("e2e-staff");
  await page.locator("#nu-display").fill("   ");
  await page.locator("#nu-role").selectOption("agency_staff");
  await page.locator("#nu-agency").selectOption("E2E-AG");
  await page.locator("#nu-password").fill("cay-xanh-2026");
  await page.getByRole("button", { name: "Tạo tài khoản" }).click();
  await page.locator("#nu-display-error").waitFor();
  await page.locator("#nu-display").fill("Trần Thị Cây");
  await page.getByRole("button", { name: "Tạo tài khoản" }).click();
  await notice(page, "Đã tạo tài khoản e2e-staff");
  const staffRow = page.getByRole("row", { name: /e2e-staff/ });
  await staffRow.getByText("Đội cây xanh cơ động").waitFor();
  await shot(page, "admin-users-desktop");

  const staff = await newPage(browser, PHONE);
  await signIn(staff, server.url, "e2e-staff", "cay-xanh-2026");
  assert.equal(new URL(staff.url()).pathname, "/inbox");
  assert.deepEqual(staff.jsErrors, []);
  await staff.context().close();

  // Deactivate (confirmed), then reactivate.
  await staffRow.getByRole("button", { name: "Khóa tài khoản e2e-staff" }).click();
  await confirm(page, "Khóa");
  await notice(page, "Đã khóa tài khoản e2e-staff");
  let users = await (await page.request.get(`${server.url}/api/v1/admin/users`)).json();
  assert.equal(users.find((u) => u.username === "e2e-staff").active, false);
  await page.getByRole("button", { name: "Mở lại tài khoản e2e-staff" }).click();
  await notice(page, "Đã mở lại tài khoản e2e-staff");
  // Change the role: agency staff → IOC operator drops the agency.
  await page.getByRole("button", { name: "Đổi vai trò, đơn vị của e2e-staff" }).click();
  await page.getByRole("form", { name: "Đổi vai trò, đơn vị của e2e-staff" }).getByLabel("Vai trò").selectOption("ioc_operator");
  await page.getByRole("form", { name: "Đổi vai trò, đơn vị của e2e-staff" }).getByRole("button", { name: "Lưu" }).click();
  await notice(page, "Đã cập nhật tài khoản e2e-staff");
  users = await (await page.request.get(`${server.url}/api/v1/admin/users`)).json();
  const changed = users.find((u) => u.username === "e2e-staff");
  assert.deepEqual([changed.role, changed.agency_id, changed.active], ["ioc_operator", null, true]);

  // Reset the password: the new one signs in, the old one no longer does.
  await page.getByRole("button", { name: "Đổi vai trò, đơn vị của e2e-staff" }).click();
  const reset = page.getByRole("form", { name: "Đặt lại mật khẩu cho e2e-staff" });
  await reset.getByLabel("Mật khẩu mới").fill("mat-khau-moi-2026");
  await reset.getByRole("button", { name: "Đặt lại mật khẩu" }).click();
  await reset.getByText("Đã đặt mật khẩu mới cho e2e-staff.").waitFor();
  for (const [password, status] of [["cay-xanh-2026", 401], ["mat-khau-moi-2026", 200]]) {
    const r = await fetch(`${server.url}/api/v1/auth/token`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ username: "e2e-staff", password }) });
    assert.equal(r.status, status, password);
  }

  // ── Holidays: announce a day off and see it listed (and in the API).
  await page.goto(`${server.url}/admin/holidays`);
  await page.getByRole("heading", { name: `Ngày lễ theo luật năm ${year}` }).waitFor();
  await page.locator("#hd-date").fill(`${year}-12-31`);
  await page.locator("#hd-name").fill("Nghỉ bù E2E");
  await page.locator("#hd-kind").selectOption("holiday");
  await page.getByRole("button", { name: "Lưu ngày" }).click();
  await notice(page, "Nghỉ bù E2E");
  await page.locator("section", { has: page.getByRole("heading", { name: `Ngày được công bố năm ${year}` }) }).getByRole("row", { name: /31\/12.*Nghỉ bù E2E/ }).waitFor();
  const hol = await (await page.request.get(`${server.url}/api/v1/calendar/holidays?year=${year}`)).json();
  assert.deepEqual(hol.announced.find((h) => h.date === `${year}-12-31`), { date: `${year}-12-31`, name: "Nghỉ bù E2E", kind: "holiday", source: "announced" });
  await shot(page, "admin-holidays-desktop");

  // ── API keys: the secret is shown once, copied, then gone; revoking asks first.
  await page.goto(`${server.url}/admin/api-keys`);
  await page.locator("#key-name").fill("Đối tác E2E");
  await page.getByRole("button", { name: "Tạo khóa" }).click();
  const secretInput = page.locator("#key-secret");
  await secretInput.waitFor();
  const secret = await secretInput.inputValue();
  assert.match(secret, /^dk_/);
  await page.getByRole("alert").filter({ hasText: "chỉ hiện một lần" }).waitFor();
  await page.getByRole("button", { name: "Sao chép" }).click();
  await page.locator(".copy-status").filter({ hasText: /Đã sao chép|Ctrl\+C/ }).waitFor();
  await shot(page, "admin-api-keys-desktop");
  await page.getByRole("button", { name: "Tôi đã lưu khóa" }).click();
  await notice(page, "Đã tạo khóa Đối tác E2E");
  assert.equal(await page.locator("#key-secret").count(), 0);
  await page.reload();
  await page.getByRole("row", { name: /Đối tác E2E/ }).waitFor();
  assert.ok(!(await page.content()).includes(secret), "the secret is not shown again");
  await page.getByRole("button", { name: "Thu hồi khóa Đối tác E2E" }).click();
  await confirm(page, "Thu hồi");
  await notice(page, "Đã thu hồi khóa Đối tác E2E");
  await page.getByRole("row", { name: /Đối tác E2E/ }).getByText("Đã thu hồi").waitFor();
  const keys = await (await page.request.get(`${server.url}/api/v1/admin/api-keys`)).json();
  assert.ok(keys.find((k) => k.name === "Đối tác E2E").revoked_at, "the key is revoked");

  assert.deepEqual(page.jsErrors, []);
  await page.context().close();
});

test("the admin sections are readable on a phone", async () => {
  const page = await newPage(browser, PHONE);
  await signIn(page, server.url, ...DEMO.admin);
  for (const [section, ready] of [
    ["categories", "table tbody tr"],
    ["categories?edit=CSCC", ".question"],
    ["users", "table tbody tr"],
    ["routing", "table tbody tr"],
    ["holidays", "table tbody tr"],
    ["api-keys", "table tbody tr"],
  ]) {
    await page.goto(`${server.url}/admin/${section}`);
    await page.locator(ready).first().waitFor();
    if (section === "routing") await page.locator("#rr-f-category").selectOption("CSCC");
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= PHONE.width, `${section} fits ${PHONE.width} px (scroll width ${width})`);
    const name = section === "categories?edit=CSCC" ? "admin-category-edit" : `admin-${section}`;
    await shot(page, `${name}-phone`);
  }
  assert.deepEqual(page.jsErrors, []);
  await page.context().close();
});
