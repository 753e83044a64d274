// Sign-in with a local account (session cookie), or single sign-on when configured.
import { useState } from "preact/hooks";
import { boot } from "../lib/boot.js";
import { t } from "../lib/i18n.js";
import { api, ApiError } from "../lib/api.js";
import { ErrorBox, Field } from "../components/ui.jsx";

/** Only same-site paths are followed after sign-in. */
export function safeNext() {
  const next = new URLSearchParams(location.search).get("next") || "";
  // Not "//host" nor "/\\host", which browsers read as another site.
  return next.startsWith("/") && !next.startsWith("//") && !next.includes("\\") ? next : null;
}

export function homeFor(user) {
  if (user.role === "admin" || user.role === "ioc_operator") return "/ioc";
  if (user.role === "agency_staff") return "/inbox";
  return "/my";
}

/** The message for `?sso_error=` (set by the server when single sign-on failed), if any. */
function ssoErrorText(sso) {
  const code = new URLSearchParams(location.search).get("sso_error");
  if (!code) return null;
  const provider = sso?.label || "SSO";
  const specific = { denied: "denied", state: "expired", expired: "expired", inactive: "inactive", unavailable: "unavailable" }[code];
  return specific ? t(`login.sso_error.${specific}`, { provider }) : t("login.sso_error", { provider, code: code.slice(0, 40) });
}

export default function Login() {
  const sso = boot.config?.sso;
  const [error, setError] = useState(() => ssoErrorText(sso));
  const [busy, setBusy] = useState(false);
  async function submit(e) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    setBusy(true);
    setError(null);
    try {
      const res = await api.post("/auth/session", { username: form.get("username"), password: form.get("password") });
      location.href = safeNext() || homeFor(res.user);
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? t("login.failed") : err);
      setBusy(false);
    }
  }
  const next = safeNext();
  return (
    <section class="card narrow">
      <h1>{t("page.login.title")}</h1>
      <ErrorBox error={error} />
      <form onSubmit={submit} aria-busy={busy}>
        <Field id="username" label={t("login.username")}>
          <input id="username" name="username" autocomplete="username" required autoFocus />
        </Field>
        <Field id="password" label={t("login.password")}>
          <input id="password" name="password" type="password" autocomplete="current-password" required />
        </Field>
        <button class="btn btn-primary" type="submit" disabled={busy}>{t("login.submit")}</button>
      </form>
      {sso && (
        <>
          <p class="or">{t("login.or")}</p>
          <a class="btn btn-block" id="sso" href={`/auth/oidc/login${next ? `?next=${encodeURIComponent(next)}` : ""}`}>
            {t("login.sso", { provider: sso.label })}
          </a>
        </>
      )}
      <p>{t("login.no_account")} <a href="/register">{t("nav.register")}</a></p>
    </section>
  );
}
