// Every page opens for its role, without script errors, at phone and desktop widths; roles are
// kept out of each other's pages.
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

test("the sign-in page works and sends each role to its home", async () => {
  for (const [who, home] of [["citizen", "/my"], ["hepco", "/inbox"], ["ioc", "/ioc"]]) {
    const page = await newPage(browser, PHONE);
    await signIn(page, server.url, ...DEMO[who]);
    assert.equal(new URL(page.url()).pathname, home);
    await page.context().close();
  }
});

test("pages for a role refuse other roles and send strangers to sign in", async () => {
  const page = await newPage(browser, DESKTOP);
  const res = await page.goto(`${server.url}/ioc`);
  assert.equal(new URL(page.url()).pathname, "/login");
  assert.equal(new URL(page.url()).searchParams.get("next"), "/ioc");
  assert.equal(res.status(), 200);
  await signIn(page, server.url, ...DEMO.citizen);
  for (const path of ["/ioc", "/inbox", "/admin"]) {
    const r = await page.goto(`${server.url}${path}`);
    assert.equal(r.status(), 403, path);
    await page.getByRole("heading", { name: "Không có quyền truy cập" }).waitFor();
  }
  await shot(page, "forbidden-desktop");
  assert.deepEqual(page.jsErrors, []);
  await page.context().close();
});
