// Shared by the browser tests: start a real `dothi serve --demo` on a fresh SQLite file (or the
// PostgreSQL URL in DOTHI_E2E_DB), launch Debian's Chromium headless through playwright-core,
// and save screenshots under target/e2e/.
//
// The map tile URL points at a closed local port, so every test also proves the maps work
// without tiles (the machine has no internet anyway).
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";

export const ROOT = resolve(import.meta.dirname, "../..");
export const SHOTS = join(ROOT, "target/e2e");
mkdirSync(SHOTS, { recursive: true });

export const PHONE = { width: 360, height: 780 };
export const DESKTOP = { width: 1366, height: 900 };

export function binary() {
  return process.env.DOTHI_BIN || join(ROOT, "target/debug/dothi");
}

export async function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
    s.on("error", fail);
  });
}

/** The PostgreSQL server the tests may use (as the Rust tests: DOTHI_TEST_PG). */
export const PG = process.env.DOTHI_TEST_PG || "postgres://postgres@127.0.0.1:5432";

/** A fresh PostgreSQL database for one server; returns its URL and a function dropping it. */
function freshPostgres() {
  const name = `dothi_e2e_${process.pid}_${Date.now()}`;
  const psql = (sql) => execFileSync("psql", [`${PG}/postgres`, "-qAtc", sql], { stdio: ["ignore", "pipe", "pipe"] });
  psql(`CREATE DATABASE ${name}`);
  return { url: `${PG}/${name}`, drop: () => psql(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

/**
 * Starts dothi with the demo data on a fresh SQLite file, or a fresh PostgreSQL database with
 * `backend: "postgres"`; returns { url, stop, log }.
 */
export async function startServer({ env = {}, args = [], backend = "sqlite" } = {}) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "dothi-e2e-"));
  const pg = backend === "postgres" ? freshPostgres() : null;
  const db = pg ? pg.url : process.env.DOTHI_E2E_DB || `sqlite://${join(dir, "dothi.db")}`;
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(binary(), ["serve", "--demo", "--listen", `127.0.0.1:${port}`, ...args], {
    env: {
      ...process.env,
      DATABASE_URL: db,
      DOTHI_DATA_DIR: join(dir, "data"),
      DOTHI_MAP_TILES: "http://127.0.0.1:9/{z}/{x}/{y}.png",
      DOTHI_SWEEP_INTERVAL_SECS: "3600",
      RUST_LOG: process.env.RUST_LOG || "warn",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  child.stdout.on("data", (d) => (log += d));
  child.stderr.on("data", (d) => (log += d));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`dothi exited (${child.exitCode}):\n${log}`);
    try {
      const r = await fetch(`${url}/healthz`);
      if (r.ok) break;
    } catch {}
    if (Date.now() > deadline) throw new Error(`dothi did not start:\n${log}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    log: () => log,
    stop: async () => {
      child.kill("SIGTERM");
      await new Promise((r) => (child.exitCode !== null ? r() : child.once("exit", r)));
      pg?.drop();
    },
  };
}

export function chromiumPath() {
  return process.env.CHROMIUM || "/usr/bin/chromium";
}

/** Headless Chromium with the flags this closed network needs. */
export async function launch() {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-dev-shm-usage",
    ],
  });
}

/** A new browser context (own cookies) at the given viewport, in Vietnamese by default. */
export async function newPage(browser, viewport = DESKTOP, locale = "vi-VN", options = {}) {
  const context = await browser.newContext({ viewport, locale, timezoneId: "Asia/Ho_Chi_Minh", ...options });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error" && !/127\.0\.0\.1:9\/|ERR_CONNECTION_REFUSED|Failed to load resource/.test(m.text())) errors.push(m.text());
  });
  page.jsErrors = errors;
  return page;
}

/** Signs in through the sign-in page. */
export async function signIn(page, url, username, password) {
  await page.goto(`${url}/login`);
  await page.getByLabel(/Tên đăng nhập|User name/).fill(username);
  await page.getByLabel(/Mật khẩu|Password/).fill(password);
  await Promise.all([page.waitForURL((u) => !u.pathname.startsWith("/login")), page.getByRole("button", { name: /Đăng nhập|Sign in/ }).click()]);
}

export async function shot(page, name) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

export const DEMO = {
  admin: ["admin", "dothi-admin-2026"],
  ioc: ["ioc", "dothi-ioc-2026"],
  hepco: ["hepco", "dothi-hepco-2026"],
  vyda: ["ubnd-vyda", "dothi-vyda-2026"],
  citizen: ["citizen", "dothi-citizen-2026"],
};
