// One dataset or model: its versions, the files of one (with downloads), lineage and metrics,
// aliases (set, remove), and the upload of a new version.

import { api, el, formatBytes, formatTime, page, pathOf, showError } from "./api.js";
import { bindUploadForm } from "./upload.js";

const { kind, namespace, name } = page;
const writable = page.writable === "true";
const base = `${kind}/${pathOf(namespace, name)}`;
const pages = page.api.replace(/api\/v1\/$/, "");
let selected = null;

function versionRow(version) {
  return el("tr", { "data-version": version.number, class: version.number === selected ? "table-active" : "" },
    el("td", {}, el("button", {
      type: "button", class: "btn btn-link p-0", "aria-label": `Show version ${version.number}`,
      onclick: () => showVersion(version.number),
    }, `v${version.number}`)),
    el("td", {}, formatTime(version.created_at)),
    el("td", {}, version.created_by),
    el("td", {}, String(version.file_count)),
    el("td", {}, formatBytes(version.size)),
    el("td", {}, version.aliases.map((alias) => el("span", { class: "badge text-bg-secondary me-1" }, alias))));
}

function aliasItem(alias, number) {
  const remove = writable && alias !== "latest"
    ? el("button", {
      type: "button", class: "btn btn-sm btn-outline-danger ms-2", "aria-label": `Remove alias ${alias}`,
      onclick: async () => {
        try {
          await api(`${base}/aliases/${encodeURIComponent(alias)}`, { method: "DELETE" });
          await reload();
        } catch (error) {
          showError(error);
        }
      },
    }, "Remove")
    : null;
  return el("li", { class: "mb-1", "data-alias": alias },
    el("span", { class: "badge text-bg-primary" }, alias), ` → v${number}`, remove);
}

function refLinks(refs, targetKind) {
  return el("ul", {}, refs.map((ref) => {
    const path = ref.split(":")[0];
    return el("li", {}, el("a", { href: `${pages}${targetKind}/${pathOf(path)}` }, ref));
  }));
}

function table(object, caption) {
  const entries = Object.entries(object);
  if (!entries.length) return el("p", { class: "text-body-secondary" }, `No ${caption.toLowerCase()}.`);
  return el("table", { class: "table table-sm w-auto caption-top" },
    el("caption", { class: "fw-semibold text-body" }, caption),
    el("tbody", {}, entries.map(([key, value]) =>
      el("tr", {}, el("th", { scope: "row" }, key), el("td", {}, JSON.stringify(value))))));
}

async function showVersion(number) {
  showError(null);
  selected = number;
  for (const tr of document.querySelectorAll("#version-rows tr")) {
    tr.classList.toggle("table-active", Number(tr.dataset.version) === number);
  }
  try {
    const version = await api(`${base}/versions/${number}`);
    document.getElementById("version-title").textContent = `Version ${version.number}`;
    document.getElementById("file-rows").replaceChildren(...version.files.map((file) => el("tr", {},
      el("td", {}, file.path),
      el("td", { class: "text-end" }, formatBytes(file.size)),
      el("td", { class: "font-monospace small" }, file.sha256.slice(0, 12)),
      el("td", {}, el("a", {
        href: `${page.api}${base}/versions/${version.number}/files/${pathOf(file.path)}`,
        download: file.path.split("/").pop(), "aria-label": `Download ${file.path}`,
      }, "Download")))));
    const lineage = document.getElementById("lineage");
    lineage.replaceChildren();
    if (version.lineage) {
      const { datasets, workspace, params, metrics, flavor, user } = version.lineage;
      lineage.append(
        el("h3", { class: "h6 fw-semibold mt-3" }, "Lineage"),
        el("p", {}, `Made by ${user}${workspace ? ` in workspace ${workspace}` : ""}${flavor ? `, flavor ${flavor}` : ""}.`),
        datasets.length ? refLinks(datasets, "datasets") : el("p", { class: "text-body-secondary" }, "No datasets recorded."),
        table(metrics, "Metrics"), table(params, "Parameters"),
        el("a", {
          class: "btn btn-outline-primary btn-sm",
          href: `${page.deployments}?model=${encodeURIComponent(version.ref)}`,
        }, `Deploy v${version.number}`));
    } else if (version.used_by) {
      lineage.append(el("h3", { class: "h6 fw-semibold mt-3" }, "Used by"),
        version.used_by.length ? refLinks(version.used_by, "models")
          : el("p", { class: "text-body-secondary" }, "No model version records this version."));
    }
    if (Object.keys(version.metadata).length) lineage.append(table(version.metadata, "Metadata"));
    document.getElementById("version-detail").classList.remove("d-none");
  } catch (error) {
    showError(error);
  }
}

async function reload() {
  showError(null);
  try {
    const [artifact, versions] = await Promise.all([api(base), api(`${base}/versions?limit=100`)]);
    document.getElementById("artifact-description").textContent = artifact.description || "";
    document.getElementById("alias-list").replaceChildren(
      ...Object.entries(artifact.aliases).map(([alias, number]) => aliasItem(alias, number)));
    if (selected === null) selected = artifact.latest;
    document.getElementById("version-rows").replaceChildren(...versions.items.map(versionRow));
    const choice = document.getElementById("alias-version");
    if (choice) {
      choice.replaceChildren(...versions.items.map((v) => el("option", { value: v.number }, `v${v.number}`)));
    }
    if (selected) await showVersion(selected);
  } catch (error) {
    showError(error.status === 404 ? new Error(`There is no ${kind.slice(0, -1)} ${namespace}/${name} yet.`) : error);
  }
}

const aliasForm = document.getElementById("alias-form");
if (aliasForm) {
  aliasForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const alias = aliasForm.elements.alias.value.trim();
    try {
      await api(`${base}/aliases/${encodeURIComponent(alias)}`, {
        method: "PUT", json: { version: Number(aliasForm.elements.version.value) },
      });
      aliasForm.reset();
      await reload();
    } catch (error) {
      showError(error);
    }
  });
}
const form = document.getElementById("upload-form");
if (form) {
  bindUploadForm(form, kind, (version) => {
    selected = version.number;
    reload();
  });
}
reload();
