// The page's starting data, written by the server into <script id="boot" type="application/json">:
// { page, lang, user, csrf, config: { tiles, center, zoom } }.
const el = typeof document !== "undefined" && document.getElementById("boot");
export const boot = el ? JSON.parse(el.textContent) : { page: "portal", lang: "vi", user: null, csrf: null, config: {} };
export const user = boot.user;
export const hasRole = (...roles) => !!user && roles.includes(user.role);
export const isIoc = () => hasRole("ioc_operator", "admin");
