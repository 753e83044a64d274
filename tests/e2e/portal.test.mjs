// The citizen portal: the public map and feed without personal data, submitting a report with a
// photo (and being shown the similar report nearby the second time), finding it in "my
// reports", and the reporter rating a resolved report. At phone and desktop widths.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launch, newPage, signIn, shot, DEMO, PHONE, DESKTOP } from "./harness.mjs";

// A real 32×24 PNG (a colour gradient): the server decodes every photo it receives.
const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAACAAAAAYCAIAAAAUMWhjAAAFg0lEQVR42hXUIcuDUACFYeMwGQwmWbxxmAwGkyzeKCaDYUmMbxSTwWCSxRuHyWAwifHGYVowLMniovHbd/7AA4fDMQyDk4Fl4BicDYTBxcA3CA2uBtIgNkgNbgaFAQalQW3QGtwNlMHDYDCYDBYDbfA0eBm8DT4GX4PDwDBMTiaWiWNyNhEmFxPfJDS5mkiT2CQ1uZkUJpiUJrVJa3I3USYPk8FkMllMtMnT5GXyNvmYfE0O8wfYnGwsG8fmbCNsLja+TWhztZE2sU1qc7MpbLApbWqb1uZuo2weNoPNZLPYaJunzcvmbfOx+doc9g9wOblYLo7L2UW4XFx8l9Dl6iJdYpfU5eZSuOBSutQurcvdRbk8XAaXyWVx0S5Pl5fL2+Xj8nU53B8gOAksgSM4C4TgIvAFoeAqkIJYkApugkKAoBTUglZwFyjBQzAIJsEi0IKn4CV4Cz6Cr+AQP8Dj5GF5OB5nD+Fx8fA9Qo+rh/SIPVKPm0fhgUfpUXu0HncP5fHwGDwmj8VDezw9Xh5vj4/H1+PwfkDAKcAKcALOASLgEuAHhAHXABkQB6QBt4AigIAyoA5oA+4BKuARMARMAUuADngGvALeAZ+Ab8AR/ICIU4QV4UScI0TEJcKPCCOuETIijkgjbhFFBBFlRB3RRtwjVMQjYoiYIpYIHfGMeEW8Iz4R34gj+gGSk8SSOJKzREguEl8SSq4SKYklqeQmKSRISkktaSV3iZI8JINkkiwSLXlKXpK35CP5Sg75AxJOCVaCk3BOEAmXBD8hTLgmyIQ4IU24JRQJJJQJdUKbcE9QCY+EIWFKWBJ0wjPhlfBO+CR8E47kB2ScMqwMJ+OcITIuGX5GmHHNkBlxRppxyygyyCgz6ow2456hMh4ZQ8aUsWTojGfGK+Od8cn4ZhzZD8g55Vg5Ts45R+RccvycMOeaI3PinDTnllPkkFPm1Dltzj1H5TxyhpwpZ8nROc+cV84755PzzTnyHwAnsMCB8//QuYAPIVz/OyeGFG5Q8J8SamjhDgoeMMAEC2h4wgve8IEvHL/3MipOFVaFU3GuEBWXCr8irLhWyIq4Iq24VRQVVJQVdUVbca9QFY+KoWKqWCp0xbPiVfGu+FR8K47qBzScGqwGp+HcIBouDX5D2HBtkA1xQ9pwaygaaCgb6oa24d6gGh4NQ8PUsDTohmfDq+Hd8Gn4NhzND+g4dVgdTse5Q3RcOvyOsOPaITvijrTj1lF00FF21B1tx71DdTw6ho6pY+nQHc+OV8e749Px7Ti6H6A4KSyFozgrhOKi8BWh4qqQiliRKm6KQv23XipqRau4K5TioRgUk2JRaMVT8VK8FR/FV3GoH9Bz6rF6nJ5zj+i59Pg9Yc+1R/bEPWnPrafooafsqXvannuP6nn0DD1Tz9Kje549r553z6fn23P0P2DkNGKNOCPnETFyGfFHwpHriByJR9KR20gxwkg5Uo+0I/cRNfIYGUamkWVEjzxHXiPvkc/Id+QYf8DMacaacWbOM2LmMuPPhDPXGTkTz6Qzt5lihplypp5pZ+4zauYxM8xMM8uMnnnOvGbeM5+Z78wx/wDNSWNpHM1ZIzQXja8JNVeN1MSaVHPTFPp/6qWm1rSau0ZpHppBM2kWjdY8NS/NW/PRfDWH/gErpxVrxVk5r4iVy4q/Eq5cV+RKvJKu3FaKFVbKlXqlXbmvqJXHyrAyrSwreuW58lp5r3xWvivH+gM2ThvWhrNx3hAblw1/I9y4bsiNeCPduG0UG2yUG/VGu3HfUBuPjWFj2lg29MZz47Xx3vhsfDeO7QfsnHasHWfnvCN2Ljv+Trhz3ZE78U66c9spdtgpd+qddue+o3YeO8POtLPs6J3nzmvnvfPZ+e4cO39nPzU9F59ANwAAAABJRU5ErkJggg==",
  "base64",
);
const photo = (name) => ({ name, mimeType: "image/png", buffer: PNG });

// Every name the demo data gives reporters, and the demo citizen's own.
const REPORTER_NAMES = ["Nguyễn Văn An", "Nguyễn Thị Hoa", "Trần Văn Minh", "Lê Thị Thu", "Phạm Quốc Bảo", "Hoàng Văn Nam", "Võ Thị Lan", "citizen@demo.dothi.vn"];

let server, browser;
before(async () => {
  server = await startServer();
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

const markers = (page) => page.locator("#portal-map").getAttribute("data-markers").then(Number);

for (const [label, viewport] of [["phone", PHONE], ["desktop", DESKTOP]]) {
  test(`the public portal maps the reports without personal data (${label})`, async () => {
    const page = await newPage(browser, viewport);
    await page.goto(`${server.url}/`);
    await page.waitForFunction(() => Number(document.getElementById("portal-map")?.dataset.markers) > 0);
    await page.locator(".report-item").first().waitFor();
    assert.ok((await markers(page)) > 100, "the demo reports are on the map");
    assert.equal(await page.locator(".report-item").count(), 20);
    await page.getByRole("link", { name: /Gửi phản ánh/ }).first().waitFor();
    const text = await page.locator("body").innerText();
    for (const name of REPORTER_NAMES) assert.ok(!text.includes(name), `the page shows ${name}`);
    await shot(page, `portal-${label}`);

    // Search without accents finds accented words; filters reach the URL.
    const before = await markers(page);
    await page.locator("#portal-q").fill("den duong");
    await page.waitForURL(/q=den\+duong/);
    await page.waitForFunction((n) => Number(document.getElementById("portal-map").dataset.markers) < n, before);
    assert.match(await page.locator(".report-item").first().innerText(), /[Đđ]èn|Chiếu sáng/);
    if (label === "desktop") {
      await page.locator("#f-status").selectOption("done");
      await page.waitForURL(/status=done/);
      await page.locator("#portal-q").fill("");
      await page.waitForURL((u) => !u.search.includes("q="));
      await page.locator(".report-item .badge").first().waitFor();
      const badges = await page.locator(".report-item .badge-resolved, .report-item .badge-closed").count();
      assert.equal(badges, await page.locator(".report-item").count());
    }
    assert.deepEqual(page.jsErrors, []);
    await page.context().close();
  });
}

/** Fills the report form: category CSCC (lamp off), a tap in the middle of the map, photos. */
async function fillReport(page, description, photos) {
  await page.goto(`${server.url}/report`);
  await page.locator("#rn-category option[value=CSCC]").waitFor({ state: "attached" });
  await page.locator("#rn-category").selectOption("CSCC");
  await page.locator("#rn-attr-lamp_state").selectOption("off");
  await page.locator("#rn-attr-pole_number").fill("HU-12/07");
  await page.locator("#rn-map").click();
  await page.waitForFunction(() => !!document.getElementById("rn-map").dataset.pin);
  if (photos.length) {
    await page.locator("#rn-photo-gallery").setInputFiles(photos);
    await page.locator(".photo-previews img").first().waitFor();
  }
  await page.locator("#rn-description").fill(description);
}

async function submit(page) {
  await Promise.all([page.waitForURL(/\/reports\/\d+\?new=1$/, { timeout: 15_000 }), page.getByRole("button", { name: "Gửi phản ánh" }).click()]);
  return Number(new URL(page.url()).pathname.split("/").pop());
}

for (const [label, viewport] of [["phone", PHONE], ["desktop", DESKTOP]]) {
  test(`a citizen reports a problem with a photo, is shown the similar report, finds it in my reports (${label})`, async () => {
    const page = await newPage(browser, viewport);
    await signIn(page, server.url, ...DEMO.citizen);

    // Missing fields are named next to the field, nothing is sent.
    await page.goto(`${server.url}/report`);
    await page.locator("#rn-category option[value=CSCC]").waitFor({ state: "attached" });
    await page.getByRole("button", { name: "Gửi phản ánh" }).click();
    await page.locator("#rn-category-error").waitFor();
    await page.locator("#rn-description-error").waitFor();
    assert.match(new URL(page.url()).pathname, /^\/report$/);

    await fillReport(page, `Đèn đường trước nhà số 12 không sáng (${label}).`, [photo("den.png")]);
    await shot(page, `report-new-${label}`);
    const first = await submit(page);
    await page.getByRole("heading", { name: new RegExp(`Chiếu sáng công cộng.*#${first}`) }).waitFor();
    await page.locator(".alert-success").waitFor();
    const img = page.locator(".gallery img").first();
    await img.waitFor();
    await page.waitForFunction(() => document.querySelector(".gallery img")?.naturalWidth > 0);
    assert.equal(await page.locator("#report-map").getAttribute("data-markers"), "1");
    await page.locator(".history li").first().waitFor();
    await shot(page, `report-${label}`);

    // The same problem at the same spot: the first report is suggested before sending.
    await fillReport(page, `Lại thấy đèn đường số 12 tắt (${label}).`, []);
    const dup = page.locator(`#rn-dups a[href="/reports/${first}"]`);
    await dup.waitFor();
    // Six photos: five are kept, the sixth is refused with a message; one can be removed.
    await page.locator("#rn-photo-gallery").setInputFiles([1, 2, 3, 4, 5, 6].map((n) => photo(`p${n}.png`)));
    await page.locator(".photo-previews li:nth-child(5) img").waitFor();
    await page.getByRole("alert").filter({ hasText: "tối đa 5 ảnh" }).waitFor();
    assert.equal(await page.locator(".photo-previews li").count(), 5);
    await page.getByRole("button", { name: "Xóa ảnh 5" }).click();
    assert.equal(await page.locator(".photo-previews li").count(), 4);
    await dup.scrollIntoViewIfNeeded();
    await shot(page, `report-new-dups-${label}`);
    await page.getByRole("button", { name: /Vấn đề của tôi khác/ }).click();
    await page.locator("#rn-anonymous").check();
    const second = await submit(page);
    assert.notEqual(second, first);
    await page.locator(".gallery li").nth(3).waitFor();
    assert.equal(await page.locator(".gallery li").count(), 4);

    // Both are in "my reports"; the list links to the report.
    await page.goto(`${server.url}/my`);
    await page.locator(`.report-item a[href="/reports/${second}"]`).waitFor();
    await page.locator(`.report-item a[href="/reports/${first}"]`).waitFor();
    await shot(page, `my-${label}`);
    await Promise.all([page.waitForURL(new RegExp(`/reports/${first}$`)), page.locator(`.report-item a[href="/reports/${first}"]`).click()]);
    await page.locator(".report-desc").filter({ hasText: "số 12 không sáng" }).waitFor();
    assert.deepEqual(page.jsErrors, []);
    await page.context().close();
  });
}

test("a refusal from the API is shown next to the field it names (phone)", async () => {
  const page = await newPage(browser, PHONE);
  await signIn(page, server.url, ...DEMO.citizen);
  await fillReport(page, "Đèn chập chờn cả đêm.", []);
  // "My location" moves the pin to the device's position.
  await page.context().grantPermissions(["geolocation"]);
  await page.context().setGeolocation({ latitude: 16.4699, longitude: 107.5783, accuracy: 12 });
  await page.getByRole("button", { name: "Vị trí của tôi" }).click();
  await page.waitForFunction(() => document.getElementById("rn-map").dataset.pin === "16.469900,107.578300");
  await page.getByText("sai số khoảng 12 m").waitFor();
  await page.route("**/api/v1/reports", (route) =>
    route.request().method() === "POST"
      ? route.fulfill({
          status: 422,
          contentType: "application/problem+json",
          body: JSON.stringify({ type: "/problems/validation", title: "Invalid field", status: 422, detail: "invalid attribute[lamp_state]: 'x' is not one of the listed values", field: "attribute[lamp_state]" }),
        })
      : route.continue(),
  );
  await page.getByRole("button", { name: "Gửi phản ánh" }).click();
  await page.locator("#rn-attr-lamp_state-error").filter({ hasText: "Dữ liệu chưa hợp lệ" }).waitFor();
  assert.equal(await page.locator("#rn-attr-lamp_state").getAttribute("aria-invalid"), "true");
  assert.equal(await page.evaluate(() => document.activeElement?.id), "rn-attr-lamp_state");
  assert.match(new URL(page.url()).pathname, /^\/report$/);
  assert.deepEqual(page.jsErrors.filter((e) => !/422/.test(e)), []);
  await page.context().close();
});

test("the reporter rates a resolved report (phone)", async () => {
  const page = await newPage(browser, PHONE);
  await signIn(page, server.url, ...DEMO.citizen);
  await page.goto(`${server.url}/my?tab=resolved`);
  const item = page.locator(".report-item a").first();
  await item.waitFor();
  await Promise.all([page.waitForURL(/\/reports\/\d+$/), item.click()]);
  await page.getByRole("heading", { name: "Bạn thấy kết quả xử lý thế nào?" }).waitFor();
  await page.getByRole("button", { name: "Gửi đánh giá" }).click();
  await page.getByRole("alert").filter({ hasText: "Hãy chọn một mức đánh giá" }).waitFor();
  await page.getByLabel("Hài lòng", { exact: true }).check();
  await page.getByLabel("Nhận xét (không bắt buộc)").fill("Đèn đã sáng lại, cảm ơn!");
  await shot(page, "report-rate-phone");
  await page.getByRole("button", { name: "Gửi đánh giá" }).click();
  await page.getByText("Cảm ơn bạn đã đánh giá.").waitFor();
  await page.locator(".report-head .badge-closed").waitFor();
  await page.locator(".facts .rating-satisfied").waitFor();
  assert.equal(await page.getByRole("heading", { name: "Bạn thấy kết quả xử lý thế nào?" }).count(), 0);
  assert.deepEqual(page.jsErrors, []);
  await page.context().close();
});

test("the reporter reopens a resolved report with a reason, in English too", async () => {
  const page = await newPage(browser, PHONE);
  await signIn(page, server.url, ...DEMO.citizen);
  await page.goto(`${server.url}/my?tab=resolved`);
  const item = page.locator(".report-item a").first();
  await item.waitFor();
  await Promise.all([page.waitForURL(/\/reports\/\d+$/), item.click()]);
  const id = Number(new URL(page.url()).pathname.split("/").pop());
  await page.locator("details.reopen summary").click();
  await page.getByRole("button", { name: "Mở lại phản ánh" }).click();
  await page.getByText("Hãy cho biết lý do.").waitFor();
  await page.getByLabel("Lý do mở lại").fill("Đèn lại tắt sau hai ngày.");
  await page.getByRole("button", { name: "Mở lại phản ánh" }).click();
  await page.getByText("Đã mở lại phản ánh. Đơn vị xử lý sẽ được thông báo.").waitFor();
  await page.locator(".report-head .badge-reopened").waitFor();
  const report = await (await page.request.get(`${server.url}/api/v1/reports/${id}`)).json();
  assert.equal(report.status, "reopened");
  assert.equal(report.reopen_count, 1);
  await page.locator("ol.history").getByText("Đèn lại tắt sau hai ngày.").waitFor();
  // The same page in English, after the language switch.
  await page.locator("#lang-switch").selectOption("en");
  await page.waitForLoadState("load");
  await page.locator(".report-head .badge-reopened", { hasText: "Reopened" }).waitFor();
  assert.equal(await page.locator("html").getAttribute("lang"), "en");
  await shot(page, "report-reopened-en-phone");
  assert.deepEqual(page.jsErrors, []);
  await page.context().close();
});
