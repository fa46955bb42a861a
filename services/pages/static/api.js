// What every page's script shares: the service's REST API with the login cookie, and DOM helpers.
//
// The page carries the API base and the `_xsrf` token (data-api, data-xsrf on #mllab-page).
// HubAuth accepts a call authenticated by the cookie only with that token in X-XSRFToken,
// reads included (a fetch() is not a page navigation).

const root = document.getElementById("mllab-page");
export const page = { ...root.dataset };

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message || `HTTP ${status}`);
    this.status = status;
    this.code = body?.error;
  }
}

/** Call `path` (relative to the API base, or absolute); the JSON answer, null for a 204. */
export async function api(path, { method = "GET", json, headers = {}, text = false } = {}) {
  const url = path.startsWith("/") ? path : page.api + path;
  const init = { method, credentials: "same-origin", headers: { "X-XSRFToken": page.xsrf, ...headers } };
  if (json !== undefined) {
    init.body = JSON.stringify(json);
    init.headers["Content-Type"] = "application/json";
  }
  const response = await fetch(url, init);
  if (!response.ok) {
    let body = null;
    try {
      body = await response.json();
    } catch {
      // not JSON: the status says enough
    }
    throw new ApiError(response.status, body);
  }
  if (response.status === 204) return null;
  return text ? response.text() : response.json();
}

/** An element with attributes and children (strings become text, never HTML). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== undefined && child !== null) node.append(child);
  }
  return node;
}

export function formatBytes(bytes) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

export function formatTime(iso) {
  return iso ? new Date(iso).toLocaleString() : "";
}

/** Show `error` (or a message) in the page's alert; `null` hides it. */
export function showError(error) {
  const alert = document.getElementById("page-alert");
  if (!error) {
    alert.classList.add("d-none");
    return;
  }
  alert.textContent = error.message || String(error);
  alert.classList.remove("d-none");
}

/** `users/alice/iris` as URL segments, each escaped. */
export function pathOf(...parts) {
  return parts.join("/").split("/").map(encodeURIComponent).join("/");
}
