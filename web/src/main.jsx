// Entry point: picks the page the server named in the boot data and renders it in the layout.
// Each page is its own chunk, so the dashboard does not load the admin code and vice versa.
import { render } from "preact";
import { boot } from "./lib/boot.js";
import { t } from "./lib/i18n.js";
import { Layout } from "./components/layout.jsx";

const pages = {
  login: () => import("./pages/login.jsx"),
  register: () => import("./pages/register.jsx"),
  forbidden: () => import("./pages/forbidden.jsx"),
  portal: () => import("./pages/portal.jsx"),
  report: () => import("./pages/report.jsx"),
  "report-new": () => import("./pages/report-new.jsx"),
  my: () => import("./pages/my.jsx"),
  inbox: () => import("./pages/inbox.jsx"),
  "inbox-report": () => import("./pages/inbox-report.jsx"),
  ioc: () => import("./pages/ioc.jsx"),
  admin: () => import("./pages/admin.jsx"),
  "sharing-log": () => import("./pages/sharing-log.jsx"),
  datasets: () => import("./pages/datasets.jsx"),
  dataset: () => import("./pages/dataset.jsx"),
};

async function start() {
  const root = document.getElementById("app");
  const load = pages[boot.page] || pages.forbidden;
  const mod = await load();
  const Page = mod.default;
  render(
    <Layout wide={!!mod.wide}>
      <Page />
    </Layout>,
    root,
  );
  document.title = `${t(`page.${boot.page}.title`)} · ${t("app.name")}`;
}

start();
