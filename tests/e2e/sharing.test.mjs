// The sharing controls of Nghị định 47/2020 in the browser: an administrator creates a
// connection account (its credential shown once), grants it a shared dataset, suspends and
// resumes it; the consuming system's accesses through the CKAN API appear in the sharing log,
// which filters them and exports them as CSV. IOC operators read the log on their own page;
// agencies' staff may not.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { startServer, launch, newPage, signIn, shot, DEMO, PHONE, DESKTOP } from "./harness.mjs";
import { apiToken, createSharedDataset } from "./fixtures.mjs";

let server, browser;
const DATASET = "e2e-tuyen-thu-gom-rac";
before(async () => {
  server = await startServer();
  browser = await launch();
  await createSharedDataset(server.url, await apiToken(server.url, ...DEMO.admin), DATASET);
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

const year = Number(new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Ho_Chi_Minh", year: "numeric" }).format(new Date()));

const notice = (page, text) => page.locator(".alert-success", { hasText: text }).waitFor();

/** A call of the consuming system: `package_show` with its credential, as CKAN clients send it. */
async function packageShow(credential) {
  const r = await fetch(`${server.url}/api/3/action/package_show?id=${DATASET}`, { headers: { Authorization: credential } });
  return { status: r.status, body: await r.json() };
}

/** Answers the confirmation dialog, typing `reason` when the dialog asks for one. */
async function confirm(page, label, reason) {
  const dialog = page.getByRole("dialog");
  await dialog.waitFor();
  if (reason != null) await dialog.getByLabel("Lý do").fill(reason);
  await dialog.getByRole("button", { name: label, exact: true }).click();
  await dialog.waitFor({ state: "hidden" });
}

/** The text of a file the page downloads when `link` is clicked. */
async function download(page, link) {
  const [file] = await Promise.all([page.waitForEvent("download"), link.click()]);
  return { name: file.suggestedFilename(), text: await readFile(await file.path(), "utf8") };
}

test("an administrator manages a connection account and finds its accesses in the sharing log", async () => {
  const page = await newPage(browser, DESKTOP);
  await page.context().grantPermissions(["clipboard-read", "clipboard-write"], { origin: server.url });
  await signIn(page, server.url, ...DEMO.admin);

  // From the overview to the section.
  await page.goto(`${server.url}/admin`);
  await page.getByRole("navigation", { name: "Các mục quản trị" }).getByRole("link", { name: "Chia sẻ dữ liệu" }).click();
  await page.getByRole("heading", { name: "Chia sẻ dữ liệu", level: 1 }).waitFor();
  await page.getByText("Chưa có tài khoản kết nối nào.").waitFor();

  // A new account: a field error from the API next to its field, then the credential once.
  await page.getByRole("button", { name: "Thêm tài khoản kết nối" }).click();
  await page.getByLabel("Tên hệ thống").fill("Hệ thống quản lý chất thải Sở Xây dựng");
  await page.getByLabel("Cơ quan vận hành").fill("Sở Xây dựng");
  await page.getByLabel("Cán bộ phụ trách").fill("Nguyễn Văn An");
  await page.getByLabel("Thư điện tử liên hệ (không bắt buộc)").fill("an.nv@sxd.hue.gov.vn");
  await page.getByLabel("Mục đích khai thác").fill("Lập kế hoạch thu gom rác theo tuyến");
  await page.getByLabel("Căn cứ chia sẻ").fill("   ");
  await page.getByLabel("Hết hiệu lực sau ngày").fill(`${year + 1}-12-31`);
  await page.getByRole("button", { name: "Tạo tài khoản kết nối" }).click();
  await page.locator("#sa-legal-error").waitFor();
  await page.getByLabel("Căn cứ chia sẻ").fill("Thỏa thuận chia sẻ dữ liệu số 07/TTr-SXD");
  await shot(page, "admin-sharing-new-desktop");
  await page.getByRole("button", { name: "Tạo tài khoản kết nối" }).click();
  const secretInput = page.locator("#sa-credential");
  await secretInput.waitFor();
  const credential = await secretInput.inputValue();
  assert.match(credential, /^ds_[A-Za-z0-9_-]{40,}$/);
  await page.getByRole("alert").filter({ hasText: "chỉ hiện một lần" }).waitFor();
  await page.getByRole("button", { name: "Sao chép" }).click();
  await page.locator(".copy-status").filter({ hasText: /Đã sao chép|Ctrl\+C/ }).waitFor();
  await shot(page, "admin-sharing-credential-desktop");
  await page.getByRole("button", { name: "Tôi đã lưu mã" }).click();
  await notice(page, "Đã tạo tài khoản kết nối Hệ thống quản lý chất thải Sở Xây dựng");
  assert.equal(await page.locator("#sa-credential").count(), 0);
  const id = Number(new URL(page.url()).searchParams.get("account"));
  assert.ok(id > 0, page.url());
  let account = await (await page.request.get(`${server.url}/api/v1/admin/sharing/accounts/${id}`)).json();
  assert.deepEqual(
    [account.name, account.organisation, account.contact_email, account.legal_basis, account.status, account.valid_until, account.credential_prefix],
    ["Hệ thống quản lý chất thải Sở Xây dựng", "Sở Xây dựng", "an.nv@sxd.hue.gov.vn", "Thỏa thuận chia sẻ dữ liệu số 07/TTr-SXD", "active", `${year + 2}-01-01T00:00:00+07:00`, credential.slice(0, 9)],
  );
  await page.reload();
  await page.getByRole("heading", { name: "Hệ thống quản lý chất thải Sở Xây dựng", level: 1 }).waitFor();
  assert.ok(!(await page.content()).includes(credential), "the credential is not shown again");
  await page.getByText(`${credential.slice(0, 9)}…`).waitFor();

  // Without a grant the consuming system is refused, and that is logged too.
  assert.equal((await packageShow(credential)).status, 403);

  // A grant on the shared dataset, for reading and downloading.
  const grants = page.getByRole("region", { name: "Quyền khai thác bộ dữ liệu" });
  const grantForm = page.getByRole("form", { name: "Cấp quyền trên bộ dữ liệu" });
  await grantForm.getByLabel("Bộ dữ liệu", { exact: true }).fill(DATASET);
  await grantForm.getByLabel("Tải tệp dữ liệu").check();
  await grantForm.getByRole("button", { name: "Cấp quyền", exact: true }).click();
  await notice(page, `Đã cấp quyền trên ${DATASET}`);
  await grants.getByRole("row", { name: new RegExp(`${DATASET}.*Đọc, Tải xuống`) }).waitFor();
  const apiGrants = await (await page.request.get(`${server.url}/api/v1/admin/sharing/accounts/${id}/grants`)).json();
  assert.deepEqual(apiGrants.map((g) => [g.dataset_id, g.operations, g.valid_from, g.valid_until]), [[DATASET, ["read", "download"], null, null]]);
  const read = await packageShow(credential);
  assert.equal(read.status, 200, JSON.stringify(read.body));
  assert.equal(read.body.result.name, DATASET);

  // Suspension needs a reason, which the consuming system is told; resuming restores access.
  await page.getByRole("button", { name: "Tạm ngừng", exact: true }).click();
  const dialog = page.getByRole("dialog");
  await dialog.getByText("Mọi truy cập của hệ thống này bị từ chối").waitFor();
  await dialog.getByRole("button", { name: "Tạm ngừng", exact: true }).click();
  assert.ok(await dialog.isVisible(), "an empty reason does not suspend");
  await shot(page, "admin-sharing-suspend-desktop");
  await confirm(page, "Tạm ngừng", "Rà soát an toàn thông tin định kỳ");
  await notice(page, "Đã tạm ngừng tài khoản kết nối");
  const facts = page.locator(".sharing-facts");
  await facts.getByText("Tạm ngừng", { exact: true }).waitFor();
  await facts.getByText("Rà soát an toàn thông tin định kỳ").waitFor();
  const refused = await packageShow(credential);
  assert.equal(refused.status, 403);
  assert.equal(refused.body.error.message, "Access denied: the connection account is suspended: Rà soát an toàn thông tin định kỳ");
  await page.getByRole("button", { name: "Cho hoạt động lại" }).click();
  await notice(page, "Tài khoản kết nối Hệ thống quản lý chất thải Sở Xây dựng đã hoạt động lại");
  await facts.getByText("Đang hoạt động", { exact: true }).waitFor();
  account = await (await page.request.get(`${server.url}/api/v1/admin/sharing/accounts/${id}`)).json();
  assert.deepEqual([account.status, account.status_reason], ["active", null]);
  assert.equal((await packageShow(credential)).status, 200);

  // The terminate dialog says it is final; cancelling changes nothing.
  await page.getByRole("button", { name: "Chấm dứt", exact: true }).click();
  await dialog.getByText("không thể hoàn tác").waitFor();
  await dialog.getByRole("button", { name: "Hủy" }).click();
  await dialog.waitFor({ state: "hidden" });

  // The audit trail of the account, newest first.
  const audit = page.getByRole("region", { name: "Nhật ký quản trị" });
  await audit.getByRole("row", { name: /Cho hoạt động lại/ }).waitFor();
  const actions = await audit.locator("tbody tr td:nth-of-type(2)").allInnerTexts();
  assert.deepEqual(actions, ["Cho hoạt động lại", "Tạm ngừng", "Cấp quyền", "Tạo tài khoản"]);
  await audit.getByRole("row", { name: /Tạm ngừng.*Rà soát an toàn thông tin định kỳ/ }).waitFor();
  await shot(page, "admin-sharing-account-desktop");

  // The log of the account: four accesses (refused without a grant, allowed, refused while
  // suspended, allowed), newest first.
  await page.getByRole("link", { name: "Nhật ký truy cập" }).click();
  await page.waitForURL((u) => u.pathname === "/admin/sharing-log" && u.searchParams.get("account") === String(id));
  await page.getByRole("heading", { name: "Nhật ký chia sẻ dữ liệu", level: 1 }).waitFor();
  const rows = page.locator("table.sharing-log tbody tr");
  await rows.first().waitFor();
  assert.equal(await rows.count(), 4);
  const outcomes = await page.locator("table.sharing-log tbody tr td:nth-of-type(4) .badge").allInnerTexts();
  assert.deepEqual(outcomes, ["Cho phép", "Từ chối", "Cho phép", "Từ chối"]);
  await rows.nth(1).getByText("Tài khoản đang tạm ngừng").waitFor();
  await rows.nth(3).getByText("Không có quyền trên bộ dữ liệu").waitFor();
  await rows.first().getByText(DATASET).waitFor();
  await rows.first().getByText("Hệ thống quản lý chất thải Sở Xây dựng").waitFor();
  const logApi = await (await page.request.get(`${server.url}/api/v1/admin/sharing/log?account=${id}`)).json();
  assert.deepEqual(
    logApi.items.map((r) => [r.dataset_id, r.operation, r.outcome, r.refusal, r.client]),
    [
      [DATASET, "read", "allowed", null, "127.0.0.1"],
      [DATASET, "read", "refused", "suspended", "127.0.0.1"],
      [DATASET, "read", "allowed", null, "127.0.0.1"],
      [DATASET, "read", "refused", "no_grant", "127.0.0.1"],
    ],
  );
  await shot(page, "admin-sharing-log-desktop");

  // Filter the refusals: the URL keeps the view, the CSV links carry the same filters.
  await page.getByLabel("Kết quả", { exact: true }).selectOption("refused");
  await page.getByRole("button", { name: "Lọc", exact: true }).click();
  await page.waitForURL((u) => u.searchParams.get("outcome") === "refused");
  await page.waitForFunction(() => document.querySelectorAll("table.sharing-log tbody tr").length === 2);
  assert.deepEqual(await page.locator("table.sharing-log tbody tr td:nth-of-type(4) .badge").allInnerTexts(), ["Từ chối", "Từ chối"]);
  const csvVi = page.locator('[data-export="csv-vi"]');
  const href = new URL(await csvVi.getAttribute("href"), server.url);
  assert.equal(href.pathname, "/api/v1/admin/sharing/log.csv");
  assert.deepEqual(Object.fromEntries(href.searchParams), { account: String(id), outcome: "refused", lang: "vi" });
  const vi = await download(page, csvVi);
  assert.equal(vi.name, "nhat-ky-chia-se-du-lieu.csv");
  const lines = vi.text.replace(/^\uFEFF/, "").trim().split("\n");
  assert.equal(lines[0], "Thời gian,Mã tài khoản kết nối,Tài khoản kết nối,Cơ quan,Bộ dữ liệu,Tài nguyên,Thao tác,Kết quả,Mã lý do,Lý do,Địa chỉ máy khách,Số byte");
  assert.equal(lines.length, 3, vi.text);
  assert.match(lines[1], new RegExp(`^[^,]+\\+07:00,${id},Hệ thống quản lý chất thải Sở Xây dựng,Sở Xây dựng,${DATASET},,Đọc,Từ chối,suspended,the connection account is suspended: Rà soát an toàn thông tin định kỳ,127\\.0\\.0\\.1,$`));
  assert.match(lines[2], /,Từ chối,no_grant,/);
  const en = await download(page, page.locator('[data-export="csv-en"]'));
  assert.equal(en.name, "sharing-log.csv");
  assert.match(en.text, /^\uFEFF?Time,Account id,Connection account,/);
  assert.match(en.text, /,Read,Refused,suspended,/);

  // A day range that holds no access, then clearing the filters shows the four again.
  await page.getByLabel("Từ ngày").fill(`${year + 3}-01-01`);
  await page.getByRole("button", { name: "Lọc", exact: true }).click();
  await page.getByText("Không có lượt truy cập nào khớp bộ lọc.").waitFor();
  assert.equal(new URL(page.url()).searchParams.get("from"), `${year + 3}-01-01`);
  await page.getByRole("button", { name: "Bỏ lọc" }).click();
  await page.waitForFunction(() => document.querySelectorAll("table.sharing-log tbody tr").length === 4);
  assert.equal(new URL(page.url()).search, "");

  // Back to the list through the section's own navigation: the account, its status and its
  // credential prefix.
  const tabs = page.getByRole("navigation", { name: "Các mục quản trị" });
  assert.equal(await tabs.getByRole("link", { name: "Chia sẻ dữ liệu" }).getAttribute("aria-current"), "true");
  await page.getByRole("navigation", { name: "Chia sẻ dữ liệu" }).getByRole("link", { name: "Tài khoản kết nối" }).click();
  await page.waitForURL((u) => u.pathname === "/admin/sharing");
  const row = page.getByRole("row", { name: /Hệ thống quản lý chất thải Sở Xây dựng/ });
  await row.getByText("Đang hoạt động").waitFor();
  await row.getByText(`${credential.slice(0, 9)}…`).waitFor();
  await shot(page, "admin-sharing-desktop");

  assert.deepEqual(page.jsErrors, []);
  await page.context().close();

  // The same pages fit a phone.
  const phone = await newPage(browser, PHONE);
  await signIn(phone, server.url, ...DEMO.admin);
  for (const [path, ready, name] of [
    ["/admin/sharing", "table tbody tr", "admin-sharing"],
    [`/admin/sharing?account=${id}`, ".sharing-facts", "admin-sharing-account"],
    ["/admin/sharing-log", "table.sharing-log tbody tr", "admin-sharing-log"],
  ]) {
    await phone.goto(`${server.url}${path}`);
    await phone.locator(ready).first().waitFor();
    const width = await phone.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= PHONE.width, `${path} fits ${PHONE.width} px (scroll width ${width})`);
    await shot(phone, `${name}-phone`);
  }
  assert.deepEqual(phone.jsErrors, []);
  await phone.context().close();
});

test("an IOC operator reads and exports the sharing log; agency staff are refused", async () => {
  // An access with a credential that does not exist: logged without an account.
  assert.equal((await packageShow("ds_e2e-khong-ton-tai")).status, 403);

  const page = await newPage(browser, DESKTOP);
  await signIn(page, server.url, ...DEMO.ioc);
  await page.goto(`${server.url}/ioc`);
  await page.getByRole("link", { name: "Nhật ký chia sẻ dữ liệu với các hệ thống khác" }).click();
  await page.waitForURL((u) => u.pathname === "/ioc/sharing-log");
  await page.getByRole("heading", { name: "Nhật ký chia sẻ dữ liệu", level: 1 }).waitFor();
  const first = page.locator("table.sharing-log tbody tr").first();
  await first.getByText("Không xác định (mã xác thực sai)").waitFor();
  await first.getByText("Mã xác thực không đúng hoặc đã thay").waitFor();
  // The operators cannot list the accounts: the account filter takes an id.
  assert.equal(await page.getByLabel("Mã tài khoản kết nối").getAttribute("type"), "number");
  await page.getByLabel("Bộ dữ liệu", { exact: true }).fill(DATASET);
  await page.getByLabel("Kết quả", { exact: true }).selectOption("refused");
  await page.getByRole("button", { name: "Lọc", exact: true }).click();
  await page.waitForURL((u) => u.searchParams.get("dataset") === DATASET && u.searchParams.get("outcome") === "refused");
  await first.getByText("Không xác định (mã xác thực sai)").waitFor();
  await shot(page, "ioc-sharing-log-desktop");
  const csv = await download(page, page.locator('[data-export="csv-vi"]'));
  assert.match(csv.text, new RegExp(`,,,,${DATASET},,Đọc,Từ chối,unknown_credential,`));
  assert.doesNotMatch(csv.text, /Cho phép/);
  // The back link goes to the dashboard.
  await page.getByRole("link", { name: "← Trung tâm điều hành" }).waitFor();
  // The accounts themselves stay with the administrators.
  const accounts = await page.request.get(`${server.url}/api/v1/admin/sharing/accounts`);
  assert.equal(accounts.status(), 403);
  const section = await page.goto(`${server.url}/admin/sharing`);
  assert.equal(section.status(), 403);
  assert.deepEqual(page.jsErrors, []);
  await page.context().close();

  const staff = await newPage(browser, DESKTOP);
  await signIn(staff, server.url, ...DEMO.hepco);
  for (const path of ["/ioc/sharing-log", "/admin/sharing-log", "/admin/sharing"]) {
    const r = await staff.goto(`${server.url}${path}`);
    assert.equal(r.status(), 403, path);
    await staff.getByRole("heading", { name: "Không có quyền truy cập" }).waitFor();
  }
  const log = await staff.request.get(`${server.url}/api/v1/admin/sharing/log`);
  assert.equal(log.status(), 403);
  const csvRefused = await staff.request.get(`${server.url}/api/v1/admin/sharing/log.csv`);
  assert.equal(csvRefused.status(), 403);
  assert.deepEqual(staff.jsErrors, []);
  await staff.context().close();
});
