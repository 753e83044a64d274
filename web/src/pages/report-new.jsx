// Submit a report (/report, signed in): category and its extra questions, a pin on the map
// (tap, drag, or "my location"), up to five photos, a description, and the choice to stay
// anonymous towards the handling agency. Nearby open reports of the same category are shown
// before sending, so the citizen can follow an existing one instead.
import { useEffect, useRef, useState } from "preact/hooks";
import { api, ApiError, errorText } from "../lib/api.js";
import { lang, t, fmtDateTime, fmtDecimal, fmtNumber } from "../lib/i18n.js";
import { createMap } from "../lib/map.js";
import { ErrorBox, Field, Loading, Notice, StatusBadge } from "../components/ui.jsx";
import { Icon, attributeLabel, categoryName, loadCategories } from "./portal-shared.jsx";

const MAX_PHOTOS = 5;
const MAX_DESCRIPTION = 4000;
/** Photos larger than this are scaled down in the browser before sending (saves mobile data). */
const RESIZE_BYTES = 1.5 * 1024 * 1024;
const MAX_EDGE = 2048;

/** Where each server-side field error is shown, and which control gets the focus. */
function fieldKey(apiField) {
  if (!apiField) return null;
  if (apiField === "category" || apiField === "description" || apiField === "photo") return apiField;
  if (["location", "lat/long", "lat", "long", "address", "commune"].includes(apiField)) return "location";
  const m = /^attributes?\[(.+)\]$/.exec(apiField);
  if (m) return `attr:${m[1]}`;
  return null;
}
const focusId = (key) =>
  key === "category" ? "rn-category" : key === "description" ? "rn-description" : key === "photo" ? "rn-photo-gallery" : key === "location" ? "rn-map" : key?.startsWith("attr:") ? `rn-attr-${key.slice(5)}` : null;

function focusField(key) {
  const el = document.getElementById(focusId(key)) || document.querySelector(`[data-field="${key}"] input, [data-field="${key}"] select`);
  if (el) {
    el.scrollIntoView({ block: "center", behavior: "smooth" });
    el.focus({ preventScroll: true });
  }
}

/** Scales a big photo down to MAX_EDGE px as JPEG; anything the browser cannot decode is sent as is. */
async function shrink(file) {
  if (file.size <= RESIZE_BYTES || !/^image\/(jpeg|png|webp)$/.test(file.type)) return file;
  const url = URL.createObjectURL(file);
  try {
    const img = new Image();
    img.src = url;
    await img.decode();
    const scale = Math.min(1, MAX_EDGE / Math.max(img.naturalWidth, img.naturalHeight));
    const canvas = document.createElement("canvas");
    canvas.width = Math.round(img.naturalWidth * scale);
    canvas.height = Math.round(img.naturalHeight * scale);
    canvas.getContext("2d").drawImage(img, 0, 0, canvas.width, canvas.height);
    const blob = await new Promise((ok) => canvas.toBlob(ok, "image/jpeg", 0.85));
    if (!blob || blob.size >= file.size) return file;
    return new File([blob], file.name.replace(/\.\w+$/, "") + ".jpg", { type: "image/jpeg" });
  } catch {
    return file;
  } finally {
    URL.revokeObjectURL(url);
  }
}

/** Answers as the API takes them: strings, numbers, lists; datetimes with the +07:00 offset. */
function answersFor(category, answers) {
  const out = {};
  for (const def of category?.attributes || []) {
    if (!def.variable) continue;
    const v = answers[def.code];
    if (v == null || v === "" || (Array.isArray(v) && !v.length)) continue;
    if (def.datatype === "number") out[def.code] = Number(String(v).replace(",", "."));
    else if (def.datatype === "datetime") out[def.code] = `${v.length === 16 ? `${v}:00` : v}+07:00`;
    else if (def.datatype === "multivaluelist") out[def.code] = v;
    else out[def.code] = String(v).trim();
  }
  return out;
}

export default function ReportNew() {
  const [categories, setCategories] = useState(null);
  const [loadError, setLoadError] = useState(null);
  const [category, setCategory] = useState("");
  const [answers, setAnswers] = useState({});
  const [pos, setPos] = useState(null);
  const [address, setAddress] = useState("");
  const [photos, setPhotos] = useState([]);
  const [photoMsg, setPhotoMsg] = useState(null);
  const [description, setDescription] = useState("");
  const [anonymous, setAnonymous] = useState(false);
  const [errors, setErrors] = useState({});
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState(null);
  const [dups, setDups] = useState({ items: [], for: null, dismissed: false });
  const [locating, setLocating] = useState(false);
  const [locateMsg, setLocateMsg] = useState(null);
  const mapEl = useRef(null);
  const mapRef = useRef(null);
  const pinRef = useRef(null);

  const cat = categories?.find((c) => c.code === category) || null;

  useEffect(() => {
    loadCategories().then(setCategories, setLoadError);
  }, []);

  useEffect(() => {
    const m = createMap(mapEl.current);
    mapRef.current = m;
    m.map.on("click", (e) => place(e.latlng.lat, e.latlng.lng));
    return () => m.map.remove();
  }, []);

  // The pin follows `pos`; it can be dragged.
  useEffect(() => {
    const m = mapRef.current;
    if (!m) return;
    if (!pos) {
      pinRef.current?.remove();
      pinRef.current = null;
      return;
    }
    if (!pinRef.current) {
      const pin = m.L.marker([pos.lat, pos.lon], {
        draggable: true,
        autoPan: true,
        title: t("portal.new.pin"),
        alt: t("portal.new.pin"),
        icon: m.L.divIcon({ className: "drop-pin", html: "<span></span>", iconSize: [30, 40], iconAnchor: [15, 40] }),
      });
      pin.on("dragend", () => {
        const ll = pin.getLatLng();
        place(ll.lat, ll.lng, false);
      });
      pin.addTo(m.map);
      pinRef.current = pin;
    } else {
      pinRef.current.setLatLng([pos.lat, pos.lon]);
    }
    mapEl.current.dataset.pin = `${pos.lat.toFixed(6)},${pos.lon.toFixed(6)}`;
  }, [pos]);

  // Nearby open reports of the same category, asked again when either changes.
  useEffect(() => {
    if (!category || !pos) {
      setDups({ items: [], for: null, dismissed: false });
      return;
    }
    const key = `${category}@${pos.lat.toFixed(5)},${pos.lon.toFixed(5)}`;
    const ctl = new AbortController();
    const id = setTimeout(() => {
      api
        .get("/duplicates", { category, lat: pos.lat.toFixed(6), long: pos.lon.toFixed(6) }, { signal: ctl.signal })
        .then((items) => setDups((d) => ({ items: items || [], for: key, dismissed: d.for === key ? d.dismissed : false })))
        .catch(() => {});
    }, 350);
    return () => {
      clearTimeout(id);
      ctl.abort();
    };
  }, [category, pos]);

  function place(lat, lon, zoomIn = true) {
    setPos({ lat, lon });
    clearError("location");
    const m = mapRef.current;
    if (zoomIn && m && m.map.getZoom() < 15) m.map.setView([lat, lon], 16);
  }

  function clearError(key) {
    setErrors((e) => {
      if (!e[key]) return e;
      const { [key]: _, ...rest } = e;
      return rest;
    });
  }

  function locate() {
    setLocateMsg(null);
    if (!navigator.geolocation) {
      setLocateMsg(t("portal.new.locate_unsupported"));
      return;
    }
    setLocating(true);
    navigator.geolocation.getCurrentPosition(
      (p) => {
        setLocating(false);
        place(p.coords.latitude, p.coords.longitude, false);
        mapRef.current?.map.setView([p.coords.latitude, p.coords.longitude], 17);
        setLocateMsg(t("portal.new.located", { m: fmtNumber(Math.round(p.coords.accuracy)) }));
      },
      (e) => {
        setLocating(false);
        setLocateMsg(t(e.code === 1 ? "portal.new.locate_denied" : e.code === 3 ? "portal.new.locate_timeout" : "portal.new.locate_failed"));
      },
      { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 },
    );
  }

  function pinAtCentre() {
    const c = mapRef.current?.map.getCenter();
    if (c) place(c.lat, c.lng, false);
  }

  async function addPhotos(e) {
    const input = e.currentTarget;
    const files = [...(input.files || [])];
    input.value = "";
    if (!files.length) return;
    const images = files.filter((f) => !f.type || f.type.startsWith("image/"));
    const room = MAX_PHOTOS - photos.length;
    let msg = null;
    if (images.length < files.length) msg = t("portal.new.photo_not_image");
    if (images.length > room) msg = room > 0 ? t("portal.new.photo_too_many_some", { max: MAX_PHOTOS, n: room }) : t("portal.new.photo_too_many", { max: MAX_PHOTOS });
    setPhotoMsg(msg);
    const take = images.slice(0, Math.max(0, room));
    if (!take.length) return;
    clearError("photo");
    const ready = await Promise.all(take.map(shrink));
    setPhotos((list) => [...list, ...ready.map((file) => ({ file, url: URL.createObjectURL(file), key: `${Date.now()}-${Math.random()}` }))].slice(0, MAX_PHOTOS));
  }

  function removePhoto(i) {
    setPhotos((list) => {
      URL.revokeObjectURL(list[i].url);
      return list.filter((_, j) => j !== i);
    });
    setPhotoMsg(null);
    clearError("photo");
    setTimeout(() => document.getElementById("rn-photo-gallery")?.focus(), 0);
  }

  function validate() {
    const e = {};
    if (!cat) e.category = t("portal.new.err_category");
    if (!pos && !address.trim()) e.location = t("portal.new.err_location");
    for (const def of cat?.attributes || []) {
      if (!def.variable) continue;
      const v = answers[def.code];
      const empty = v == null || (Array.isArray(v) ? !v.length : !String(v).trim());
      if (def.required && empty) e[`attr:${def.code}`] = t("portal.new.err_required");
      else if (!empty && def.datatype === "number" && !Number.isFinite(Number(String(v).replace(",", ".")))) e[`attr:${def.code}`] = t("portal.new.err_number");
    }
    if (!description.trim()) e.description = t("portal.new.err_description");
    return e;
  }

  async function submit(ev) {
    ev.preventDefault();
    if (busy) return;
    setError(null);
    const e = validate();
    setErrors(e);
    const order = ["category", "location", ...(cat?.attributes || []).map((d) => `attr:${d.code}`), "description"];
    const first = order.find((k) => e[k]);
    if (first) {
      focusField(first);
      return;
    }
    const report = {
      category,
      description: description.trim(),
      lat: pos ? Number(pos.lat.toFixed(7)) : null,
      long: pos ? Number(pos.lon.toFixed(7)) : null,
      address: address.trim() || null,
      attributes: answersFor(cat, answers),
      anonymous,
      channel: "web",
    };
    let body = report;
    if (photos.length) {
      body = new FormData();
      body.append("report", new Blob([JSON.stringify(report)], { type: "application/json" }));
      for (const p of photos) body.append("photo", p.file, p.file.name || "photo.jpg");
    }
    setBusy(true);
    try {
      const res = await api.post("/reports", body);
      setCreated(res.report);
      photos.forEach((p) => URL.revokeObjectURL(p.url));
      setTimeout(() => location.assign(`/reports/${res.report.id}?new=1`), 1200);
    } catch (err) {
      setBusy(false);
      const key = err instanceof ApiError ? fieldKey(err.field) : null;
      if (key) {
        const text = key === "location" && /outside/.test(err.detail) ? t("portal.new.err_outside") : errorText(err);
        setErrors({ [key]: text });
        focusField(key);
      } else {
        setError(err);
      }
    }
  }

  if (created)
    return (
      <section class="card narrow report-done">
        <Notice kind="success">
          <span>
            {t("portal.new.done", { id: created.id })}{" "}
            <a href={`/reports/${created.id}?new=1`}>{t("portal.new.done_link", { id: created.id })}</a>
          </span>
        </Notice>
      </section>
    );

  const setAnswer = (code, value) => {
    setAnswers((a) => ({ ...a, [code]: value }));
    clearError(`attr:${code}`);
  };
  const showDups = dups.items.length > 0 && !dups.dismissed;

  return (
    <form class="report-new" onSubmit={submit} noValidate aria-busy={busy}>
      <h1>{t("portal.new.title")}</h1>
      <p class="muted">{t("portal.new.lead")}</p>
      <ErrorBox error={loadError} onRetry={() => loadCategories().then(setCategories, setLoadError).then(() => setLoadError(null))} />

      <section class="card step" aria-labelledby="rn-step1">
        <h2 id="rn-step1"><span class="step-n" aria-hidden="true">1</span>{t("portal.new.step_what")}</h2>
        {!categories && !loadError ? (
          <Loading />
        ) : (
          <Field id="rn-category" label={t("portal.new.category")} error={errors.category} hint={cat ? (lang === "en" && cat.description_en) || cat.description : null}>
            <select
              id="rn-category"
              value={category}
              aria-required="true"
              aria-invalid={errors.category ? "true" : undefined}
              aria-describedby={[cat && "rn-category-hint", errors.category && "rn-category-error"].filter(Boolean).join(" ") || undefined}
              onChange={(e) => {
                setCategory(e.currentTarget.value);
                setAnswers({});
                clearError("category");
              }}
            >
              <option value="">{t("portal.new.category_pick")}</option>
              {groupCategories(categories || []).map(([g, cats]) =>
                g ? (
                  <optgroup label={g} key={g}>
                    {cats.map((c) => <option value={c.code} key={c.code}>{categoryName(c)}</option>)}
                  </optgroup>
                ) : (
                  cats.map((c) => <option value={c.code} key={c.code}>{categoryName(c)}</option>)
                ),
              )}
            </select>
          </Field>
        )}
        {cat && cat.deadline_normal_days > 0 && <p class="muted small">{t("portal.new.deadline_info", { n: cat.deadline_normal_days })}</p>}
        {cat && cat.attributes.length > 0 && (
          <div class="attributes">
            {[...cat.attributes].sort((a, b) => a.order - b.order).map((def) => (
              <Attribute key={def.code} def={def} value={answers[def.code]} error={errors[`attr:${def.code}`]} onChange={(v) => setAnswer(def.code, v)} />
            ))}
          </div>
        )}
      </section>

      <section class={`card step${errors.location ? " field-error" : ""}`} aria-labelledby="rn-step2" data-field="location">
        <h2 id="rn-step2"><span class="step-n" aria-hidden="true">2</span>{t("portal.new.step_where")}</h2>
        <p class="hint" id="rn-map-hint">{t("portal.new.map_hint")}</p>
        <div class="locate-row">
          <button type="button" class="btn" onClick={locate} disabled={locating}>
            <Icon name="locate" /> {locating ? t("portal.new.locating") : t("map.locate")}
          </button>
          <button type="button" class="btn btn-small" onClick={pinAtCentre}>{t("portal.new.pin_centre")}</button>
        </div>
        {locateMsg && <p class="hint" role="status">{locateMsg}</p>}
        <div ref={mapEl} id="rn-map" class="map report-map" role="region" aria-label={t("portal.new.map_label")} aria-describedby="rn-map-hint" />
        <p class="pin-state" role="status" aria-live="polite">
          {pos ? (
            <>
              <span class="ok-mark" aria-hidden="true">✓</span> {t("portal.new.pinned", { lat: pos.lat.toFixed(5), lon: pos.lon.toFixed(5) })}{" "}
              <button type="button" class="linklike" onClick={() => setPos(null)}>{t("portal.new.unpin")}</button>
            </>
          ) : (
            <span class="muted">{t("portal.new.no_pin")}</span>
          )}
        </p>
        {errors.location && <p class="error-text" role="alert" id="rn-location-error">{errors.location}</p>}
        <Field id="rn-address" label={t("portal.new.address")} hint={t("portal.new.address_hint")}>
          <input id="rn-address" value={address} maxLength={500} autocomplete="street-address" aria-describedby="rn-address-hint" onInput={(e) => { setAddress(e.currentTarget.value); clearError("location"); }} />
        </Field>
      </section>

      {showDups && (
        <section class="card dups" aria-labelledby="rn-dups-h" role="region" id="rn-dups">
          <h2 id="rn-dups-h">{t("portal.new.dups_title", { n: dups.items.length })}</h2>
          <p>{t("portal.new.dups_lead")}</p>
          <ul class="dup-list">
            {dups.items.slice(0, 5).map((d) => (
              <li key={d.id}>
                <a href={`/reports/${d.id}`} target="_blank" rel="noopener">
                  <span class="dup-top">
                    <StatusBadge status={d.status} /> <span class="muted">#{d.id} · {t("portal.new.dup_distance", { m: fmtDecimal(d.distance_m) })} · {fmtDateTime(d.created_at)}</span>
                  </span>
                  <span class="dup-desc">{d.description}</span>
                  <span class="sr-only"> {t("portal.new_tab")}</span>
                </a>
              </li>
            ))}
          </ul>
          <button type="button" class="btn btn-small" onClick={() => setDups((d) => ({ ...d, dismissed: true }))}>{t("portal.new.dups_continue")}</button>
        </section>
      )}

      <section class={`card step${errors.photo ? " field-error" : ""}`} aria-labelledby="rn-step3" data-field="photo">
        <h2 id="rn-step3"><span class="step-n" aria-hidden="true">3</span>{t("portal.new.step_photos")}</h2>
        <p class="hint" id="rn-photo-hint">{t("portal.new.photo_hint", { max: MAX_PHOTOS })}</p>
        <div class="photo-buttons">
          <label class="btn file-btn">
            <input id="rn-photo-camera" class="file-input" type="file" accept="image/*" capture="environment" onChange={addPhotos} aria-describedby="rn-photo-hint" />
            <Icon name="camera" /> {t("portal.new.photo_camera")}
          </label>
          <label class="btn file-btn">
            <input id="rn-photo-gallery" class="file-input" type="file" accept="image/*" multiple onChange={addPhotos} aria-describedby="rn-photo-hint" />
            <Icon name="image" /> {t("portal.new.photo_gallery")}
          </label>
          <span class="muted photo-count">{t("portal.new.photo_count", { n: photos.length, max: MAX_PHOTOS })}</span>
        </div>
        {photoMsg && <p class="alert alert-warn" role="alert">{photoMsg}</p>}
        {errors.photo && <p class="error-text" role="alert">{errors.photo}</p>}
        {photos.length > 0 && (
          <ul class="photo-previews">
            {photos.map((p, i) => (
              <li key={p.key}>
                <img src={p.url} alt={t("portal.new.photo_n", { n: i + 1 })} />
                <button type="button" class="photo-remove" onClick={() => removePhoto(i)} aria-label={t("portal.new.photo_remove", { n: i + 1 })}>
                  <span aria-hidden="true">×</span>
                </button>
              </li>
            ))}
          </ul>
        )}
      </section>

      <section class="card step" aria-labelledby="rn-step4">
        <h2 id="rn-step4"><span class="step-n" aria-hidden="true">4</span>{t("portal.new.step_describe")}</h2>
        <Field id="rn-description" label={t("portal.new.description")} error={errors.description} hint={t("portal.new.description_hint", { n: fmtNumber(description.length), max: fmtNumber(MAX_DESCRIPTION) })}>
          <textarea
            id="rn-description"
            rows={5}
            value={description}
            maxLength={MAX_DESCRIPTION}
            aria-required="true"
            aria-invalid={errors.description ? "true" : undefined}
            aria-describedby={["rn-description-hint", errors.description && "rn-description-error"].filter(Boolean).join(" ")}
            placeholder={t("portal.new.description_placeholder")}
            onInput={(e) => {
              setDescription(e.currentTarget.value);
              clearError("description");
            }}
          />
        </Field>
        <div class="field checkbox">
          <input id="rn-anonymous" type="checkbox" checked={anonymous} onChange={(e) => setAnonymous(e.currentTarget.checked)} aria-describedby="rn-anonymous-hint" />
          <div>
            <label for="rn-anonymous">{t("portal.new.anonymous")}</label>
            <small id="rn-anonymous-hint" class="hint block">{t("portal.new.anonymous_hint")}</small>
          </div>
        </div>
      </section>

      <ErrorBox error={error} />
      <div class="submit-bar">
        <button type="submit" class="btn btn-primary btn-block btn-cta" disabled={busy}>
          {busy ? t("portal.new.sending") : t("portal.new.submit")}
        </button>
        <p class="muted small">{t("portal.new.privacy")}</p>
      </div>
    </form>
  );
}

/** One extra question of the category, as the control its datatype needs. */
function Attribute({ def, value, error, onChange }) {
  const id = `rn-attr-${def.code}`;
  const label = (
    <>
      {attributeLabel(def)}
      {def.required ? <span class="req" aria-hidden="true"> *</span> : <span class="optional"> ({t("portal.new.optional")})</span>}
    </>
  );
  if (!def.variable) return <p class="hint attr-info">{attributeLabel(def)}</p>;
  const hint = def.datatype_description || (def.datatype === "datetime" ? t("portal.new.datetime_hint") : null);
  const common = {
    id,
    "aria-required": def.required ? "true" : undefined,
    "aria-invalid": error ? "true" : undefined,
    "aria-describedby": [hint && `${id}-hint`, error && `${id}-error`].filter(Boolean).join(" ") || undefined,
  };
  if (def.datatype === "multivaluelist") {
    const list = Array.isArray(value) ? value : [];
    return (
      <fieldset class={`attr-multi${error ? " field-error" : ""}`} data-field={`attr:${def.code}`} aria-describedby={error ? `${id}-error` : undefined}>
        <legend>{label}</legend>
        {def.values.map((v, i) => (
          <div class="field checkbox" key={v.key}>
            <input
              type="checkbox"
              id={i === 0 ? id : `${id}-${i}`}
              checked={list.includes(v.key)}
              onChange={(e) => onChange(e.currentTarget.checked ? [...list, v.key] : list.filter((k) => k !== v.key))}
            />
            <label for={i === 0 ? id : `${id}-${i}`}>{v.name}</label>
          </div>
        ))}
        {error && <small id={`${id}-error`} class="error-text" role="alert">{error}</small>}
      </fieldset>
    );
  }
  let control;
  if (def.datatype === "singlevaluelist")
    control = (
      <select {...common} value={value || ""} onChange={(e) => onChange(e.currentTarget.value)}>
        <option value="">{t("portal.new.choose")}</option>
        {def.values.map((v) => <option value={v.key} key={v.key}>{v.name}</option>)}
      </select>
    );
  else if (def.datatype === "number") control = <input {...common} type="text" inputMode="decimal" value={value || ""} onInput={(e) => onChange(e.currentTarget.value)} />;
  else if (def.datatype === "datetime") control = <input {...common} type="datetime-local" value={value || ""} onInput={(e) => onChange(e.currentTarget.value)} />;
  else if (def.datatype === "text") control = <textarea {...common} rows={3} maxLength={2000} value={value || ""} onInput={(e) => onChange(e.currentTarget.value)} />;
  else control = <input {...common} type="text" maxLength={2000} value={value || ""} onInput={(e) => onChange(e.currentTarget.value)} />;
  return (
    <div data-field={`attr:${def.code}`}>
      <Field id={id} label={label} error={error} hint={hint}>
        {control}
      </Field>
    </div>
  );
}

function groupCategories(categories) {
  if (lang !== "vi") return [[null, [...categories].sort((a, b) => categoryName(a).localeCompare(categoryName(b)))]];
  const groups = new Map();
  for (const c of categories) {
    if (!groups.has(c.group)) groups.set(c.group, []);
    groups.get(c.group).push(c);
  }
  return [...groups];
}
