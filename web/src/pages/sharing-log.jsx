// The sharing log for the operations centre (/ioc/sharing-log): IOC operators supervise the
// exchanges of shared datasets (Nghị định 47/2020) and export the log; the accounts themselves
// are managed by administrators in /admin/sharing.
import { t } from "../lib/i18n.js";
import { hasRole } from "../lib/boot.js";
import { SharingLog } from "./admin/sharing-log.jsx";

export const wide = true;

export default function SharingLogPage() {
  return (
    <div class="admin">
      <p class="sharing-back">
        <a href="/ioc">{t("sharing.log.back_to_ioc")}</a>
      </p>
      <SharingLog admin={hasRole("admin")} />
    </div>
  );
}
