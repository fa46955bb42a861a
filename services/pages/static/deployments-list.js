// Deployments: the list with each one's status (refreshed while any is changing), and the form
// that deploys a model version.

import { api, el, formatTime, page, pathOf, showError } from "./api.js";
import { statusClass } from "./status.js";

const rows = document.getElementById("deployment-rows");
const empty = document.getElementById("list-empty");
const more = document.getElementById("list-more");
const filter = document.getElementById("filter-form");
const pages = page.api.replace(/api\/v1\/$/, "");
let next = null;
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

async function load(append = false) {
  showError(null);
  clearTimeout(timer);
  const query = new URLSearchParams({ limit: "50" });
  if (filter.elements.namespace.value) query.set("namespace", filter.elements.namespace.value);
  if (append && next) query.set("after", next);
  try {
    const answer = await api(`deployments?${query}`);
    if (!append) rows.replaceChildren();
    rows.append(...answer.items.map(row));
    next = answer.next || null;
    more.classList.toggle("d-none", !next);
    empty.classList.toggle("d-none", rows.children.length > 0);
    if (answer.items.some((d) => ["pending", "starting"].includes(d.status))) timer = setTimeout(load, 3000);
  } catch (error) {
    showError(error);
  }
}

filter.addEventListener("submit", (event) => {
  event.preventDefault();
  load();
});
filter.elements.namespace.addEventListener("change", () => load());
more.addEventListener("click", () => load(true));

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
