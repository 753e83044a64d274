// Pieces shared by the open-data pages (/dataset, /dataset/{name}).
import { t } from "../../lib/i18n.js";
import { CkanError } from "../../lib/ckan.js";

/** A message for people from a CKAN error: the kind in their language, CKAN's own message after. */
export function ckanErrorText(err) {
  if (!(err instanceof CkanError) || err.status === 0) return t("error.network");
  const kinds = {
    "Not Found Error": "opendata.error.not_found",
    "Authorization Error": "opendata.error.forbidden",
    "Validation Error": "opendata.error.invalid",
    "Search Query Error": "opendata.error.query",
  };
  const kind = kinds[err.type];
  if (kind) return t(kind);
  return err.status >= 500 ? t("opendata.error.unavailable") : err.message || t("app.error");
}
