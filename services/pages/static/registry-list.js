// Datasets / Models: the artifacts the user may read, searched and filtered, and the upload form.

import { api, el, formatTime, page, pathOf, showError } from "./api.js";
import { bindUploadForm } from "./upload.js";

const { kind } = page;
const rows = document.getElementById("artifact-rows");
const empty = document.getElementById("list-empty");
const more = document.getElementById("list-more");
const search = document.getElementById("search-form");
let next = null;

function row(artifact) {
  const href = `${page.api.replace(/api\/v1\/$/, "")}${kind}/${pathOf(artifact.namespace, artifact.name)}`;
  const aliases = Object.entries(artifact.aliases || {}).filter(([alias]) => alias !== "latest");
  return el("tr", { "data-artifact": artifact.full_name },
    el("td", {}, el("a", { href }, artifact.name),
      artifact.description ? el("div", { class: "small text-body-secondary" }, artifact.description) : null),
    el("td", {}, artifact.namespace),
    el("td", {}, artifact.latest ? `v${artifact.latest}` : "none"),
    el("td", {}, aliases.map(([alias, number]) =>
      el("span", { class: "badge text-bg-secondary me-1" }, `${alias} → v${number}`))),
    el("td", {}, formatTime(artifact.updated_at)));
}

async function load(append = false) {
  showError(null);
  const query = new URLSearchParams({ limit: "50" });
  const { q, namespace } = search.elements;
  if (q.value.trim()) query.set("q", q.value.trim());
  if (namespace.value) query.set("namespace", namespace.value);
  if (append && next) query.set("after", next);
  try {
    const answer = await api(`${kind}?${query}`);
    if (!append) rows.replaceChildren();
    rows.append(...answer.items.map(row));
    next = answer.next || null;
    more.classList.toggle("d-none", !next);
    empty.classList.toggle("d-none", rows.children.length > 0);
  } catch (error) {
    showError(error);
  }
}

search.addEventListener("submit", (event) => {
  event.preventDefault();
  load();
});
search.elements.namespace.addEventListener("change", () => load());
more.addEventListener("click", () => load(true));
const form = document.getElementById("upload-form");
if (form) bindUploadForm(form, kind, () => load());
load();
