// How a deployment's status looks, on the list and on its own page.

const STYLES = {
  ready: "text-bg-success",
  pending: "text-bg-info",
  starting: "text-bg-info",
  failed: "text-bg-danger",
  stopped: "text-bg-secondary",
};

export function statusClass(status) {
  return `badge ${STYLES[status] || "text-bg-light"}`;
}
