// One deployment: status and what it serves, start/stop/restart/delete, its logs, and a form that
// calls its endpoint with the login cookie.

import { api, el, formatTime, page, pathOf, showError } from "./api.js";
import { statusClass } from "./status.js";

const base = `deployments/${pathOf(page.namespace, page.name)}`;
const about = document.getElementById("about");
let timer = null;

function fact(term, value) {
  return [el("dt", { class: "col-sm-3" }, term), el("dd", { class: "col-sm-9" }, value)];
}

function show(deployment) {
  const badge = document.getElementById("status-badge");
  badge.className = statusClass(deployment.status);
  badge.textContent = deployment.status;
  badge.dataset.status = deployment.status;
  const model = deployment.model
    ? el("a", { href: `${page.registry}models/${pathOf(deployment.model.split(/[:@]/)[0])}` },
      `${deployment.model}${deployment.model_version ? ` (v${deployment.model_version})` : ""}`)
    : null;
  about.replaceChildren(
    ...(model ? fact("Model", model) : fact("Runs", deployment.image || (deployment.command || []).join(" "))),
    ...fact("Endpoint", el("code", {}, deployment.url)),
    ...fact("Desired", deployment.desired),
    ...(deployment.message ? fact("Message", deployment.message) : []),
    ...fact("Created", `${formatTime(deployment.created_at)} by ${deployment.created_by}`),
    ...fact("Last call", formatTime(deployment.last_access) || "never"),
  );
  suggestRequest(deployment);
  clearTimeout(timer);
  if (["pending", "starting"].includes(deployment.status)) timer = setTimeout(refresh, 2000);
}

async function refresh() {
  try {
    show(await api(base));
  } catch (error) {
    showError(error);
  }
}

async function logs() {
  try {
    document.getElementById("logs").textContent = (await api(`${base}/logs?tail=200`, { text: true })) || "(empty)";
  } catch (error) {
    document.getElementById("logs").textContent = error.message;
  }
}

for (const button of document.querySelectorAll("[data-action]")) {
  button.addEventListener("click", async () => {
    const { action } = button.dataset;
    showError(null);
    try {
      if (action === "delete") {
        if (!window.confirm(`Delete ${page.namespace}/${page.name}? Its runtime is stopped and removed.`)) return;
        await api(base, { method: "DELETE" });
        window.location.assign(page.api.replace(/api\/v1\/$/, ""));
        return;
      }
      show(await api(`${base}/${action}`, { method: "POST" }));
      logs();
    } catch (error) {
      showError(error);
    }
  });
}
document.getElementById("logs-refresh").addEventListener("click", logs);

const tryForm = document.getElementById("try-form");

/** The first time the deployment is shown: a model's scoring request, or a service's root. */
function suggestRequest(deployment) {
  if (!tryForm || tryForm.dataset.suggested) return;
  tryForm.dataset.suggested = "true";
  const { method, path, body } = tryForm.elements;
  if (deployment.kind === "model") {
    method.value = "POST";
    path.value = "invocations";
    body.value = JSON.stringify({ inputs: [[1.0, 2.0, 3.0, 4.0]] });
  } else {
    method.value = "GET";
    path.value = "";
  }
}

if (tryForm) {
  tryForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const answer = document.getElementById("try-answer");
    const { method, path, body } = tryForm.elements;
    let json;
    if (method.value !== "GET" && body.value.trim()) {
      try {
        json = JSON.parse(body.value);
      } catch (error) {
        answer.textContent = `The body is not JSON: ${error.message}`;
        return;
      }
    }
    try {
      const url = page.endpoint + path.value.replace(/^\//, "");
      const result = await api(url, { method: method.value, json, text: true });
      try {
        answer.textContent = JSON.stringify(JSON.parse(result), null, 2);
      } catch {
        answer.textContent = result;
      }
    } catch (error) {
      answer.textContent = `${error.status || ""} ${error.message}`;
    }
  });
}
refresh();
logs();
