// The frame of every page: skip link, header with the navigation for the user's role,
// language switch and sign-out, then the page in <main>.
import { boot, user } from "../lib/boot.js";
import { t, lang, setLang } from "../lib/i18n.js";
import { logout } from "../lib/api.js";

function links() {
  const items = [["/", "nav.portal"]];
  if (!user) return [...items, ["/report", "nav.report"], ["/dataset", "nav.opendata"]];
  items.push(["/report", "nav.report"], ["/my", "nav.my"], ["/dataset", "nav.opendata"]);
  if (["agency_staff", "ioc_operator", "admin"].includes(user.role)) items.push(["/inbox", "nav.inbox"]);
  if (["ioc_operator", "admin"].includes(user.role)) items.push(["/ioc", "nav.ioc"]);
  if (user.role === "admin") items.push(["/admin", "nav.admin"]);
  return items;
}

export function Layout({ children, wide }) {
  const path = location.pathname;
  const current = (href) => (href === "/" ? path === "/" : path === href || path.startsWith(`${href}/`));
  return (
    <>
      <a class="skip" href="#main">{t("app.skip")}</a>
      <header class="topbar">
        <a class="brand" href="/">{t("app.short")}</a>
        <nav aria-label={t("nav.main")}>
          <ul>
            {links().map(([href, key]) => (
              <li key={href}>
                <a href={href} aria-current={current(href) ? "page" : undefined}>{t(key)}</a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="account">
          <label class="sr-only" for="lang-switch">{t("app.language")}</label>
          <select id="lang-switch" value={lang} onChange={(e) => setLang(e.currentTarget.value)}>
            <option value="vi">{t("app.lang.vi")}</option>
            <option value="en">{t("app.lang.en")}</option>
          </select>
          {user ? (
            <>
              <span class="who" title={t(`role.${user.role}`)}>{user.display_name}</span>
              <button type="button" class="btn btn-small" onClick={logout}>{t("nav.logout")}</button>
            </>
          ) : (
            <a class="btn btn-small" href={`/login?next=${encodeURIComponent(path + location.search)}`}>{t("nav.login")}</a>
          )}
        </div>
      </header>
      <main id="main" class={wide ? "wide" : ""} tabIndex={-1} data-page={boot.page}>
        {children}
      </main>
    </>
  );
}
