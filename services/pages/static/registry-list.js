// Datasets / Models: the artifacts the user may read, searched and filtered, and the upload form.

import { el, formatTime, page, pathOf } from "./api.js";
import { pagedList } from "./paged-list.js";
import { bindUploadForm } from "./upload.js";

const { kind } = page;
const rows = document.getElementById("artifact-rows");
const search = document.getElementById("search-form");

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

const load = pagedList({
  form: search,
  rows,
  path: kind,
  filters: () => {
    const { q, namespace } = search.elements;
    return {
      ...(q.value.trim() ? { q: q.value.trim() } : {}),
      ...(namespace.value ? { namespace: namespace.value } : {}),
    };
  },
  row,
});
const form = document.getElementById("upload-form");
if (form) bindUploadForm(form, kind, () => load());
load();
