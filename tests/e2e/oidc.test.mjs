// Single sign-on end to end: dothi as the relying party of a real, standards-complete OpenID
// Connect provider (panva's oidc-provider, see oidc-provider.mjs), driven through its sign-in
// and consent pages in Chromium.
//
// dothi starts first, while nothing listens on the provider's port, which also proves that an
// unreachable provider neither stops the server nor breaks the sign-in page; the provider then
// starts on that port with dothi's callback URL, and the next sign-in discovers it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, freePort, launch, newPage, shot, PHONE, DESKTOP } from "./harness.mjs";
import { startProvider, CLIENT_ID, CLIENT_SECRET } from "./oidc-provider.mjs";

let server, browser, op, opPort, firstUserId;

before(async () => {
  opPort = await freePort();
  server = await startServer({
    env: {
      DOTHI_OIDC_ISSUER: `http://127.0.0.1:${opPort}`,
      DOTHI_OIDC_CLIENT_ID: CLIENT_ID,
      DOTHI_OIDC_CLIENT_SECRET: CLIENT_SECRET,
      DOTHI_OIDC_LABEL: "Hue-S",
      RUST_LOG: "warn,dothi_web=info",
    },
  });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await op?.stop();
  await server?.stop();
});

/** A page whose requests to the internet (the provider's web font) fail at once. */
async function page(viewport) {
  const p = await newPage(browser, viewport);
  await p.route(/fonts\.(googleapis|gstatic)\.com/, (r) => r.abort());
  return p;
}

const ssoButton = (p) => p.getByRole("link", { name: "Đăng nhập bằng Hue-S" });

async function session(p) {
  const r = await p.request.get(`${server.url}/api/v1/auth/session`);
  return r.ok() ? (await r.json()).user : null;
}

/** Fills the provider's development sign-in form and, when asked, its consent form. */
async function signInAtProvider(p, login, { screenshot } = {}) {
  await p.waitForURL((u) => u.port === String(opPort) && u.pathname.startsWith("/interaction/"));
  await p.locator('input[name="login"]').fill(login);
  await p.locator('input[name="password"]').fill("any password");
  if (screenshot) await shot(p, screenshot);
  await p.getByRole("button", { name: "Sign-in" }).click();
  const consent = p.getByRole("button", { name: "Continue" });
  await Promise.race([
    consent.waitFor().then(() => consent.click()),
    p.waitForURL((u) => u.origin === server.url),
  ]);
  await p.waitForURL((u) => u.origin === server.url);
}

test("an unreachable provider sends the browser back to sign in, with an explanation", async () => {
  const p = await page(PHONE);
  await p.goto(`${server.url}/auth/oidc/login?next=${encodeURIComponent("/my")}`);
  const u = new URL(p.url());
  assert.equal(u.pathname, "/login");
  assert.equal(u.searchParams.get("sso_error"), "unavailable");
  assert.equal(u.searchParams.get("next"), "/my");
  await p.getByRole("alert").filter({ hasText: "Hiện không kết nối được với Hue-S" }).waitFor();
  assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
  assert.deepEqual(p.jsErrors, []);
  await p.context().close();

  // Now the provider comes up; the next sign-in discovers it.
  op = await startProvider({ port: opPort, redirectUri: `${server.url}/auth/oidc/callback` });
});

test("signing in through the provider creates a citizen and lands on /my", async () => {
  const p = await page(PHONE);
  await p.goto(`${server.url}/login`);
  await ssoButton(p).waitFor();
  await shot(p, "oidc-login-phone");
  await ssoButton(p).click();
  await signInAtProvider(p, "an.nguyen", { screenshot: "oidc-provider-phone" });
  await p.waitForURL((u) => u.pathname === "/my");
  await p.getByText("Nguyễn Văn An").first().waitFor({ state: "attached" });
  const user = await session(p);
  assert.equal(user.role, "citizen");
  assert.equal(user.display_name, "Nguyễn Văn An");
  assert.equal(user.username, "an.nguyen");
  assert.equal(user.email, "an.nguyen@hue-s.example.vn");
  firstUserId = user.id;
  // The session is an ordinary one: the page's API calls work with its CSRF token.
  const cookies = await p.context().cookies(server.url);
  const sessionCookie = cookies.find((c) => c.name === "dothi_session");
  assert.ok(sessionCookie?.httpOnly, "the session cookie is HttpOnly");
  assert.equal(sessionCookie.sameSite, "Lax");
  assert.ok(!cookies.some((c) => c.name === "dothi_oidc" && c.value), "the state cookie is gone");
  await shot(p, "oidc-my-phone");
  assert.deepEqual(p.jsErrors, []);
  await p.context().close();
});

test("a second sign-in maps to the same user and follows next", async () => {
  const p = await page(DESKTOP);
  await p.goto(`${server.url}/login?next=${encodeURIComponent("/report")}`);
  await ssoButton(p).click();
  await signInAtProvider(p, "an.nguyen");
  await p.waitForURL((u) => u.pathname === "/report");
  const user = await session(p);
  assert.equal(user.id, firstUserId);
  assert.equal(user.display_name, "Nguyễn Văn An");

  // Signed out of dothi but still signed in at the provider: straight back, same user.
  const csrf = (await (await p.request.get(`${server.url}/api/v1/auth/session`)).json()).csrf_token;
  const out = await p.request.delete(`${server.url}/api/v1/auth/session`, { headers: { "X-CSRF-Token": csrf } });
  assert.equal(out.status(), 204);
  assert.equal(await session(p), null);
  await p.goto(`${server.url}/login`);
  await ssoButton(p).click();
  await p.waitForURL((u) => u.origin === server.url && u.pathname === "/my");
  assert.equal((await session(p)).id, firstUserId);
  assert.deepEqual(p.jsErrors, []);
  await p.context().close();
});

test("another provider account becomes another citizen", async () => {
  const p = await page(PHONE);
  await p.goto(`${server.url}/login`);
  await ssoButton(p).click();
  await signInAtProvider(p, "binh.tran");
  await p.waitForURL((u) => u.pathname === "/my");
  const user = await session(p);
  assert.notEqual(user.id, firstUserId);
  assert.equal(user.username, "binh.tran");
  await p.context().close();
});

test("a callback with a wrong or missing state is refused", async () => {
  const p = await page(PHONE);
  // A sign-in under way in this browser (its state cookie is set) ...
  await p.goto(`${server.url}/auth/oidc/login`);
  await p.waitForURL((u) => u.port === String(opPort));
  // ... and a forged callback with another state.
  await p.goto(`${server.url}/auth/oidc/callback?code=forged&state=not-the-right-one`);
  let u = new URL(p.url());
  assert.equal(u.pathname, "/login");
  assert.equal(u.searchParams.get("sso_error"), "state");
  await p.getByRole("alert").filter({ hasText: "không hợp lệ hoặc đã hết hạn" }).waitFor();
  assert.equal(await session(p), null);

  // Without any state cookie (login CSRF: someone else's callback URL) it is refused too.
  await p.context().clearCookies();
  await p.goto(`${server.url}/auth/oidc/callback?code=forged&state=whatever`);
  u = new URL(p.url());
  assert.equal(u.searchParams.get("sso_error"), "state");
  assert.equal(await session(p), null);

  // The server answers a bare redirect, never an error page.
  const r = await fetch(`${server.url}/auth/oidc/callback?state=x&code=y`, { redirect: "manual" });
  assert.equal(r.status, 303);
  assert.equal(r.headers.get("location"), "/login?sso_error=state");
  assert.deepEqual(p.jsErrors, []);
  await p.context().close();
});

test("cancelling at the provider comes back to sign in, keeping next", async () => {
  const p = await page(PHONE);
  await p.goto(`${server.url}/login?next=${encodeURIComponent("/report")}`);
  await ssoButton(p).click();
  await p.waitForURL((u) => u.port === String(opPort) && u.pathname.startsWith("/interaction/"));
  await p.getByRole("link", { name: "[ Cancel ]" }).click();
  await p.waitForURL((u) => u.origin === server.url && u.pathname === "/login");
  const u = new URL(p.url());
  assert.equal(u.searchParams.get("sso_error"), "denied");
  assert.equal(u.searchParams.get("next"), "/report");
  await p.getByRole("alert").filter({ hasText: "Bạn đã huỷ đăng nhập tại Hue-S" }).waitFor();
  // The button keeps next for another try.
  assert.equal(await ssoButton(p).getAttribute("href"), "/auth/oidc/login?next=%2Freport");
  assert.equal(await session(p), null);
  await shot(p, "oidc-denied-phone");
  assert.deepEqual(p.jsErrors, []);
  await p.context().close();
});

test("a provider that rotated its signing key is rediscovered at the next sign-in", async () => {
  // A new provider on the same port: new signing key, new key id, no sessions.
  const oldKid = op.kid;
  await op.stop();
  op = await startProvider({ port: opPort, redirectUri: `${server.url}/auth/oidc/callback` });
  assert.notEqual(op.kid, oldKid);
  // dothi asks again at most every 5 s.
  await new Promise((r) => setTimeout(r, 5500));
  const p = await page(PHONE);
  await p.goto(`${server.url}/login`);
  await ssoButton(p).click();
  await signInAtProvider(p, "an.nguyen");
  assert.equal(new URL(p.url()).pathname, "/my", p.url());
  assert.equal((await session(p)).id, firstUserId);
  const log = server.log().replace(/\x1b\[[0-9;]*m/g, "");
  assert.match(log, /provider discovered.*refresh=true/, "the keys were fetched again");
  await p.context().close();
});
