// One deployment: status and what it serves, start/stop/restart/delete, its logs, and a form that
// calls its endpoint with the login cookie.

import { api, el, formatTime, page, pathOf, showError } from "./api.js";
import { statusClass } from "./status.js";

const base = `deployments/${pathOf(page.namespace, page.name)}`;
const about = document.getElementById("about");
let timer = null;
let shownStatus = null;

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
  // Starting what runs, or stopping what is stopped, would do nothing: say so by disabling it.
  for (const [action, desired] of [["start", "running"], ["stop", "stopped"]]) {
    const button = document.querySelector(`[data-action='${action}']`);
    if (button) button.disabled = deployment.desired === desired;
  }
  suggestRequest(deployment);
  // The logs as the status changes (what a starting server printed, why it failed), not only at load.
  if (shownStatus !== null && deployment.status !== shownStatus) logs();
  shownStatus = deployment.status;
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
  if (!tryForm) return;
  const { method, path, body } = tryForm.elements;
  if (!tryForm.dataset.suggested) {
    tryForm.dataset.suggested = "true";
    if (deployment.kind === "model") {
      method.value = "POST";
      path.value = "invocations";
      body.value = JSON.stringify({ inputs: [[1.0, 2.0, 3.0, 4.0]] });
      tryForm.dataset.untouched = body.value;
    } else {
      method.value = "GET";
      path.value = "";
    }
  }
  if (deployment.kind === "model" && deployment.status === "ready" && !tryForm.dataset.signed) {
    tryForm.dataset.signed = "true";
    suggestFromSignature(body);
  }
}

/**
 * Once the model answers: a scoring request shaped by its signature (the Open Inference
 * metadata lists a column-based signature's columns), unless the user has edited the body.
 * A model with named columns refuses the bare rows of the first suggestion.
 */
async function suggestFromSignature(body) {
  let inputs;
  try {
    ({ inputs } = await api(`${page.endpoint}v2/models/${encodeURIComponent(page.name)}`));
  } catch {
    return; // the first suggestion stays; the answer to a request will say what the model wants
  }
  const columns = inputs.map((input) => input.name);
  // Columns are one-dimensional; tensors without a name are called input, input-0, ...
  const named = columns.length > 0 && inputs.every((input) => input.shape.length === 1)
    && !columns.every((name) => /^input(-\d+)?$/.test(name));
  if (!named || body.value !== tryForm.dataset.untouched) return;
  body.value = JSON.stringify({ dataframe_split: { columns, data: [columns.map(() => 0.0)] } }, null, 1);
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
