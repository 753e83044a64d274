// The agency inbox: HEPCO's clerk sees only HEPCO's reports, soonest deadline first with
// overdue / due-soon rows highlighted, finds "đường" by typing "duong", and takes reports through
// accept → extension (approved by the IOC) → resolve with a photo, reject and transfer; at
// desktop and phone widths, without script errors.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { deflateSync } from "node:zlib";
import { startServer, launch, newPage, signIn, shot, DEMO, PHONE, DESKTOP } from "./harness.mjs";

const OPEN = "received,assigned,in_progress,transferred,reopened";
let server, browser, citizen, hepco;
const created = {};

/** A real PNG (solid colour with a stripe), built by hand: signature, IHDR, IDAT, IEND. */
function png(width = 32, height = 24) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(body));
    return Buffer.concat([len, body, sum]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const rows = [];
  for (let y = 0; y < height; y++) {
    const row = Buffer.alloc(1 + width * 3);
    for (let x = 0; x < width; x++) {
      const stripe = y > height / 3 && y < (2 * height) / 3;
      row.set(stripe ? [250, 204, 21] : [21, 128, 61], 1 + x * 3);
    }
    rows.push(row);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(Buffer.concat(rows))),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

async function call(method, path, token, body) {
  const res = await fetch(`${server.url}/api/v1${path}`, {
    method,
    headers: { Accept: "application/json", ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await res.json();
  assert.ok(res.ok, `${method} ${path}: ${res.status} ${JSON.stringify(data)}`);
  return data;
}

async function token(who) {
  const [username, password] = DEMO[who];
  return (await call("POST", "/auth/token", null, { username, password })).access_token;
}

/** Diacritics folded away, as the API's search does: "Đường" → "duong". */
const fold = (s) => s.normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/đ/g, "d").replace(/Đ/g, "D").toLowerCase();

/** Waits until the inbox list has finished loading. */
async function listLoaded(page) {
  await page.locator('#inbox-results[aria-busy="false"]').waitFor();
}

before(async () => {
  server = await startServer();
  browser = await launch();
  [citizen, hepco] = await Promise.all([token("citizen"), token("hepco")]);
  // Street-light reports (CSCC) are routed to HEPCO; each mentions "đường" with its accents.
  const streets = { accept: "Nguyễn Sinh Cung", reject: "Lê Lợi", transfer: "Hùng Vương", phone: "Trần Hưng Đạo" };
  for (const [key, street] of Object.entries(streets)) {
    const { report } = await call("POST", "/reports", citizen, {
      category: "CSCC",
      description: `Đèn đường trước nhà số ${10 + Object.keys(created).length} ${street} không sáng ba đêm nay (e2e ${key}).`,
      lat: 16.4637 + Object.keys(created).length * 0.002,
      long: 107.5909,
      attributes: { lamp_state: "off", lamp_count: 2 },
    });
    assert.equal(report.agency?.code, "HEPCO");
    created[key] = report.id;
  }
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test("the inbox lists HEPCO's open reports by deadline, highlights them and searches without accents", async () => {
  const page = await newPage(browser, DESKTOP);
  await signIn(page, server.url, ...DEMO.hepco);
  assert.equal(new URL(page.url()).pathname, "/inbox");
  await listLoaded(page);

  // The same list as the API gives for HEPCO's open reports sorted by deadline.
  const api = await call("GET", `/reports?agency=HEPCO&status=${OPEN}&sort=deadline&page_size=50`, hepco);
  assert.ok(api.items.every((r) => r.agency?.code === "HEPCO"));
  const rows = page.locator("table.inbox-table tbody tr");
  const shown = await rows.evaluateAll((trs) => trs.map((tr) => ({ id: Number(tr.dataset.id), deadline: tr.dataset.deadline, cls: tr.className })));
  assert.deepEqual(shown.map((r) => r.id), api.items.map((r) => r.id));
  for (const id of Object.values(created)) assert.ok(shown.some((r) => r.id === id), `report ${id} listed`);
  const times = shown.map((r) => Date.parse(r.deadline));
  assert.deepEqual(times, [...times].sort((a, b) => a - b), "sorted by deadline");

  // Highlighting follows the deadline: past → tr.overdue with its badge; within 24 h → tr.due_soon.
  const now = Date.now();
  for (const r of shown) {
    const due = Date.parse(r.deadline);
    const expect = due < now ? "overdue" : due - now < 24 * 3600e3 ? "due_soon" : "";
    assert.equal(r.cls, expect, `row ${r.id}`);
  }
  const overdueRows = page.locator("tr.overdue");
  assert.equal(await overdueRows.count(), shown.filter((r) => r.cls === "overdue").length);
  if ((await overdueRows.count()) > 0) await overdueRows.first().locator(".badge.deadline-overdue").waitFor();
  const apiOverdue = await call("GET", `/reports?agency=HEPCO&status=${OPEN}&overdue=true&page_size=1000`, hepco);
  await page.locator(`[data-count="overdue"]:text-is("${apiOverdue.items.length}")`).waitFor();
  await shot(page, "inbox-desktop");

  // "duong" finds "đường"; the filter is kept in the URL and survives a reload.
  await page.getByLabel("Tìm kiếm", { exact: true }).fill("duong");
  await page.getByRole("button", { name: "Tìm kiếm" }).click();
  await page.waitForURL((u) => u.searchParams.get("q") === "duong");
  await listLoaded(page);
  await page.locator(`tr[data-id="${created.accept}"]`).waitFor();
  const texts = await rows.allTextContents();
  assert.ok(texts.length > 0);
  for (const text of texts) assert.match(fold(text), /duong/);
  await page.reload();
  await listLoaded(page);
  assert.equal(await page.getByLabel("Tìm kiếm", { exact: true }).inputValue(), "duong");
  for (const id of Object.values(created)) await page.locator(`tr[data-id="${id}"]`).waitFor();

  // Overdue only, from the count button, is a filter too.
  await page.locator(".count-overdue").click();
  await page.waitForURL((u) => u.searchParams.get("overdue") === "1");
  await listLoaded(page);
  // The URL changes before the new list is fetched, so the previous rows may still be shown:
  // wait until every row listed is an overdue one (a filter that lets others through times out).
  await page.waitForFunction(() => {
    const listed = document.querySelectorAll("table.inbox-table tbody tr");
    return listed.length === document.querySelectorAll("table.inbox-table tbody tr.overdue").length;
  });
  assert.equal(await rows.count(), await page.locator("tr.overdue").count());

  assert.deepEqual(page.jsErrors, []);
  await page.context().close();
});

test("a clerk accepts, asks for an extension the IOC approves, resolves with a photo, rejects and transfers", async () => {
  const page = await newPage(browser, DESKTOP);
  await signIn(page, server.url, ...DEMO.hepco);
  await listLoaded(page);
  await page.getByRole("link", { name: `Mở phản ánh số ${created.accept}`, exact: true }).click();
  await page.waitForURL(`**/inbox/${created.accept}`);
  const id = created.accept;
  const notice = page.locator(".ir-notice");
  const title = page.locator(".ir-title");

  // The report itself: description, extra answers, map pin; no reporter contact for an agency.
  await page.getByText("(e2e accept)").waitFor();
  await page.getByText("Tình trạng đèn").waitFor();
  await page.locator(".ir-facts dd", { hasText: "Không sáng" }).waitFor();
  await page.locator('.map[data-markers="1"]').waitFor();
  assert.equal(await page.getByText("Người phản ánh", { exact: true }).count(), 0);

  // Accept.
  await page.getByRole("button", { name: "Nhận xử lý" }).click();
  await notice.getByText(`Đã nhận xử lý phản ánh #${id}.`).waitFor();
  await title.getByText("Đang xử lý").waitFor();
  assert.equal(await page.getByRole("button", { name: "Nhận xử lý" }).count(), 0);

  // Ask for an extension.
  await page.getByRole("button", { name: "Xin gia hạn" }).click();
  await page.getByLabel("Số ngày làm việc xin thêm").fill("3");
  await page.getByLabel("Lý do xin gia hạn").fill("Chờ vật tư bóng đèn LED thay thế.");
  await page.getByRole("button", { name: "Gửi yêu cầu gia hạn" }).click();
  await notice.getByText(`Đã gửi yêu cầu gia hạn 3 ngày làm việc cho phản ánh #${id}.`).waitFor();
  await page.locator(".ir-ext .badge", { hasText: "Chờ duyệt" }).waitFor();
  assert.equal(await page.getByRole("button", { name: "Xin gia hạn" }).count(), 0, "one pending request at a time");

  // The IOC approves it from the same page.
  const ioc = await newPage(browser, DESKTOP);
  await signIn(ioc, server.url, ...DEMO.ioc);
  await ioc.goto(`${server.url}/inbox/${id}`);
  await ioc.getByRole("button", { name: "Duyệt gia hạn" }).click();
  await ioc.getByRole("button", { name: "Đồng ý gia hạn" }).click();
  await ioc.locator(".ir-notice").getByText(`Đã đồng ý gia hạn phản ánh #${id}.`).waitFor();
  await ioc.locator(".ir-ext .badge", { hasText: "Đã đồng ý" }).waitFor();
  await ioc.getByText("Người phản ánh", { exact: true }).waitFor(); // the IOC sees the contact
  assert.deepEqual(ioc.jsErrors, []);
  await ioc.context().close();

  // Resolve with a note and a photo.
  await page.reload();
  await page.locator(".ir-ext .badge", { hasText: "Đã đồng ý" }).waitFor();
  await page.getByRole("button", { name: "Báo cáo đã xử lý" }).click();
  await page.getByLabel("Kết quả xử lý").fill("Đã thay bóng đèn LED, đèn sáng bình thường.");
  await page.getByLabel("Hình ảnh kết quả").setInputFiles({ name: "ket-qua.png", mimeType: "image/png", buffer: png() });
  await page.locator(".ir-previews img").waitFor();
  await page.getByRole("button", { name: "Xác nhận đã xử lý" }).click();
  await notice.getByText(`Đã báo cáo xử lý xong phản ánh #${id}.`).waitFor();
  await title.getByText("Đã xử lý").waitFor();

  // The history shows every step, the resolution photo included.
  const history = page.locator("ol.history");
  for (const step of ["Tiếp nhận", "Nhận xử lý", "Xin gia hạn", "Đồng ý gia hạn", "Đã xử lý"]) {
    await history.locator("li strong", { hasText: new RegExp(`^${step}$`) }).first().waitFor();
  }
  await history.getByText("Đã thay bóng đèn LED, đèn sáng bình thường.").waitFor();
  await history.locator("li img").first().waitFor();
  await page.locator(".ir-more .thumbs img").first().waitFor();
  assert.ok(await page.locator(".ir-more .thumbs img").first().evaluate((img) => img.complete && img.naturalWidth > 0), "resolution photo loads");
  await page.getByText("Không có thao tác nào ở trạng thái hiện tại.").waitFor();
  await shot(page, "inbox-report-desktop");

  // Reject another one.
  await page.goto(`${server.url}/inbox/${created.reject}`);
  await page.getByRole("button", { name: "Từ chối", exact: true }).click();
  await page.getByLabel("Lý do từ chối").selectOption("insufficient_information");
  await page.getByLabel("Giải thích cho người phản ánh").fill("Không xác định được vị trí trụ đèn, đề nghị bổ sung số hiệu trụ.");
  await page.getByRole("button", { name: "Từ chối phản ánh" }).click();
  await notice.getByText(`Đã từ chối phản ánh #${created.reject}.`).waitFor();
  await title.getByText("Từ chối").waitFor();
  await page.locator(".ir-facts dd", { hasText: "Không đủ thông tin" }).waitFor();
  await history.locator("li strong", { hasText: /^Từ chối$/ }).waitFor();

  // Transfer a third one; afterwards it is no longer HEPCO's to handle.
  await page.goto(`${server.url}/inbox/${created.transfer}`);
  await page.getByRole("button", { name: "Chuyển đơn vị khác" }).click();
  await page.getByLabel("Đơn vị nhận").selectOption("PCHUE");
  await page.getByLabel("Lý do chuyển").fill("Sự cố thuộc lưới điện, không phải chiếu sáng công cộng.");
  await page.getByRole("button", { name: "Chuyển phản ánh" }).click();
  await notice.getByText(`Đã chuyển phản ánh #${created.transfer} cho`).waitFor();
  await title.getByText("Đã chuyển đơn vị").waitFor();
  await history.locator("li", { hasText: "PCHUE" }).locator("strong", { hasText: /^Chuyển đơn vị khác$/ }).waitFor();
  await page.getByText("Phản ánh này không do đơn vị của bạn xử lý.").waitFor();

  // The API agrees.
  const [a, r, t] = await Promise.all([created.accept, created.reject, created.transfer].map((n) => call("GET", `/reports/${n}`, hepco)));
  assert.equal(a.status, "resolved");
  assert.equal(r.status, "rejected");
  assert.equal(r.reject_reason, "insufficient_information");
  assert.equal(t.status, "transferred");
  assert.equal(t.agency.code, "PCHUE");

  assert.deepEqual(page.jsErrors, []);
  await page.context().close();
});

test("on a phone the inbox rows are cards and a report can be handled", async () => {
  const page = await newPage(browser, PHONE);
  await signIn(page, server.url, ...DEMO.hepco);
  await listLoaded(page);
  const first = page.locator("table.inbox-table tbody tr").first();
  assert.equal(await first.evaluate((tr) => getComputedStyle(tr).display), "grid");
  assert.equal(await page.locator("table.inbox-table thead").evaluate((el) => el.getBoundingClientRect().height <= 1), true);
  // Filters fold away behind a button.
  assert.equal(await page.getByLabel("Lĩnh vực").isVisible(), false);
  await page.getByRole("button", { name: /^Bộ lọc/ }).click();
  await page.getByLabel("Lĩnh vực").selectOption("CSCC");
  await page.waitForURL((u) => u.searchParams.get("category") === "CSCC");
  await listLoaded(page);
  await page.getByRole("button", { name: /^Bộ lọc/ }).click();
  // Nothing sticks out sideways at 360 px.
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= innerWidth + 1), "no horizontal scroll");
  await shot(page, "inbox-phone");

  await page.locator(`tr[data-id="${created.phone}"] a`).click();
  await page.waitForURL(`**/inbox/${created.phone}`);
  await page.getByRole("button", { name: "Báo cáo đã xử lý" }).click();
  await page.getByLabel("Kết quả xử lý").fill("Đã cử đội kỹ thuật kiểm tra.");
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= innerWidth + 1), "no horizontal scroll");
  await shot(page, "inbox-report-phone");
  assert.deepEqual(page.jsErrors, []);
  await page.context().close();
});
