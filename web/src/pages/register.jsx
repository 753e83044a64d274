// Self-registration for citizens (role citizen), with the consent Decree 13/2023 asks for.
import { useState } from "preact/hooks";
import { t } from "../lib/i18n.js";
import { api } from "../lib/api.js";
import { ErrorBox, Field, Notice } from "../components/ui.jsx";

export default function Register() {
  const [error, setError] = useState(null);
  const [done, setDone] = useState(false);
  async function submit(e) {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    setError(null);
    try {
      await api.post("/auth/register", {
        username: f.get("username"),
        password: f.get("password"),
        display_name: f.get("display_name"),
        email: f.get("email") || null,
        phone: f.get("phone") || null,
      });
      setDone(true);
    } catch (err) {
      setError(err);
    }
  }
  if (done)
    return (
      <section class="card narrow">
        <Notice kind="success">{t("register.done")}</Notice>
        <a class="btn btn-primary" href="/login">{t("nav.login")}</a>
      </section>
    );
  return (
    <section class="card narrow">
      <h1>{t("page.register.title")}</h1>
      <ErrorBox error={error} />
      <form onSubmit={submit}>
        <Field id="display_name" label={t("register.display_name")}>
          <input id="display_name" name="display_name" autocomplete="name" required />
        </Field>
        <Field id="username" label={t("login.username")}>
          <input id="username" name="username" autocomplete="username" required />
        </Field>
        <Field id="password" label={t("login.password")} hint={t("register.password_hint")}>
          <input id="password" name="password" type="password" autocomplete="new-password" minLength={8} required aria-describedby="password-hint" />
        </Field>
        <Field id="email" label={t("register.email")}>
          <input id="email" name="email" type="email" autocomplete="email" />
        </Field>
        <Field id="phone" label={t("register.phone")}>
          <input id="phone" name="phone" type="tel" autocomplete="tel" />
        </Field>
        <div class="field checkbox">
          <input id="consent" name="consent" type="checkbox" required />
          <label for="consent">{t("register.consent")}</label>
        </div>
        <button class="btn btn-primary" type="submit">{t("register.submit")}</button>
      </form>
    </section>
  );
}
