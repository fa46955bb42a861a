// Deployments: the list with each one's status (refreshed while any is changing), and the form
// that deploys a model version.

import { api, el, formatTime, page, pathOf } from "./api.js";
import { pagedList } from "./paged-list.js";
import { statusClass } from "./status.js";

const rows = document.getElementById("deployment-rows");
const filter = document.getElementById("filter-form");
const pages = page.api.replace(/api\/v1\/$/, "");
let timer = null;

function row(deployment) {
  const serves = deployment.model
    ? `${deployment.model}${deployment.model_version ? ` (v${deployment.model_version})` : ""}`
    : deployment.image || (deployment.command || []).join(" ");
  return el("tr", { "data-deployment": deployment.full_name },
    el("td", {}, el("a", { href: `${pages}${pathOf(deployment.namespace, deployment.name)}` }, deployment.name)),
    el("td", {}, deployment.namespace),
    el("td", { class: "small" }, serves),
    el("td", {}, el("span", { class: statusClass(deployment.status), "data-status": deployment.status },
      deployment.status)),
    el("td", {}, formatTime(deployment.updated_at)));
}

// Refreshed every 3 s while a deployment is on its way up.
const load = pagedList({
  form: filter,
  rows,
  path: "deployments",
  filters: () => (filter.elements.namespace.value ? { namespace: filter.elements.namespace.value } : {}),
  row,
  onPage: (items) => {
    clearTimeout(timer);
    if (items.some((d) => ["pending", "starting"].includes(d.status))) timer = setTimeout(() => load(), 3000);
  },
});

const form = document.getElementById("create-form");
if (form) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const status = document.getElementById("create-status");
    const { model, namespace, name } = form.elements;
    const spec = { model: model.value.trim(), namespace: namespace.value };
    if (name.value.trim()) spec.name = name.value.trim();
    try {
      const deployment = await api("deployments", { method: "POST", json: spec });
      status.className = "mt-2 mb-0 small text-success";
      status.textContent = `Deploying ${deployment.full_name}…`;
      form.reset();
      load();
    } catch (error) {
      status.className = "mt-2 mb-0 small text-danger";
      status.textContent = error.message;
    }
  });
}
load();
