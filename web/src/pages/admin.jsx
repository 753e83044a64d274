// Administration: /admin shows an overview, /admin/{section} one section. The section is the
// last segment of the path; each lives in pages/admin/<section>.jsx and talks only to the API.
import { t, fmtNumber, todayVN } from "../lib/i18n.js";
import { useEffect, useRef } from "preact/hooks";
import { api } from "../lib/api.js";
import { SECTIONS, SUBSECTIONS, useLoad } from "./admin/common.jsx";
import Categories from "./admin/categories.jsx";
import Agencies from "./admin/agencies.jsx";
import Routing from "./admin/routing.jsx";
import Users from "./admin/users.jsx";
import Holidays from "./admin/holidays.jsx";
import ApiKeys from "./admin/apikeys.jsx";
import Sharing from "./admin/sharing.jsx";
import SharingLog from "./admin/sharing-log.jsx";

export const wide = true;

const VIEWS = {
  categories: Categories,
  agencies: Agencies,
  routing: Routing,
  users: Users,
  holidays: Holidays,
  "api-keys": ApiKeys,
  sharing: Sharing,
  "sharing-log": SharingLog,
};

function currentSection() {
  const parts = location.pathname.split("/").filter(Boolean);
  return parts.length > 1 ? parts[parts.length - 1] : null;
}

function Tabs({ section }) {
  const ref = useRef(null);
  const tab = SUBSECTIONS[section] || section;
  // On a phone the tabs scroll sideways: bring the current one into view.
  useEffect(() => {
    const nav = ref.current;
    const cur = nav?.querySelector("[aria-current]");
    if (cur) nav.scrollLeft = cur.offsetLeft - (nav.clientWidth - cur.offsetWidth) / 2;
  }, [section]);
  return (
    <nav class="admin-tabs" aria-label={t("admin.nav")} ref={ref}>
      <ul>
        <li>
          <a href="/admin" aria-current={section ? undefined : "page"}>{t("admin.overview")}</a>
        </li>
        {SECTIONS.map((s) => (
          <li key={s}>
            <a href={`/admin/${s}`} aria-current={s === section ? "page" : s === tab ? "true" : undefined}>{t(`admin.section.${s}`)}</a>
          </li>
        ))}
      </ul>
    </nav>
  );
}

/** How many items each section holds; a failed count just shows no number. */
async function counts() {
  const n = (p) => p.then((x) => x.length).catch(() => null);
  const [categories, agencies, routing, users, keys, sharing] = await Promise.all([
    n(api.get("/categories")),
    n(api.get("/agencies")),
    n(api.get("/admin/routing-rules")),
    n(api.get("/admin/users")),
    api.get("/admin/api-keys").then((ks) => ks.filter((k) => !k.revoked_at).length).catch(() => null),
    api.get("/admin/sharing/accounts").then((as) => as.filter((a) => a.status === "active").length).catch(() => null),
  ]);
  const year = Number(todayVN().slice(0, 4));
  const holidays = await api
    .get("/calendar/holidays", { year })
    .then((h) => h.announced.length)
    .catch(() => null);
  return { categories, agencies, routing, users, holidays, "api-keys": keys, sharing };
}

function Overview() {
  const { data } = useLoad(counts, []);
  return (
    <>
      <h1>{t("page.admin.title")}</h1>
      <p class="muted">{t("admin.overview.intro")}</p>
      <ul class="admin-overview">
        {SECTIONS.map((s) => (
          <li key={s} class="card">
            <h2>
              <a href={`/admin/${s}`}>{t(`admin.section.${s}`)}</a>
            </h2>
            <p>{t(`admin.section.${s}.intro`)}</p>
            {data && data[s] != null && <p class="admin-stat">{t(`admin.stat.${s}`, { n: fmtNumber(data[s]) })}</p>}
          </li>
        ))}
      </ul>
    </>
  );
}

export default function Admin() {
  const section = currentSection();
  const View = section ? VIEWS[section] : Overview;
  return (
    <div class="admin">
      <Tabs section={section} />
      {View ? (
        <View />
      ) : (
        <section class="card">
          <h1>{t("page.notfound.title")}</h1>
          <p>
            <a href="/admin">{t("admin.overview")}</a>
          </p>
        </section>
      )}
    </div>
  );
}
