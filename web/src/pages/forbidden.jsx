import { t } from "../lib/i18n.js";

export default function Forbidden() {
  return (
    <section class="card narrow">
      <h1>{t("page.forbidden.title")}</h1>
      <p>{t("forbidden.text")}</p>
      <p><a href="/">{t("nav.portal")}</a></p>
    </section>
  );
}
