// A list the API gives page by page (`limit`, `after`): its rows, the More button and the note
// shown when it is empty, reloaded from the first page when its filter form changes.

import { api, showError } from "./api.js";

// Binds `form` (submitted, or its namespace changed) and the More button to the list of `path`
// filtered by `filters()` (an object of query parameters); `onPage(items)` runs after each page.
// Returns `load(append)`: the first page again, or the next one added below.
export function pagedList({ form, rows, path, filters, row, onPage = () => {} }) {
  const empty = document.getElementById("list-empty");
  const more = document.getElementById("list-more");
  let next = null;

  async function load(append = false) {
    showError(null);
    const query = new URLSearchParams({ limit: "50", ...filters() });
    if (append && next) query.set("after", next);
    try {
      const answer = await api(`${path}?${query}`);
      if (!append) rows.replaceChildren();
      rows.append(...answer.items.map(row));
      next = answer.next || null;
      more.classList.toggle("d-none", !next);
      empty.classList.toggle("d-none", rows.children.length > 0);
      onPage(answer.items);
    } catch (error) {
      showError(error);
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  form.elements.namespace.addEventListener("change", () => load());
  more.addEventListener("click", () => load(true));
  return load;
}
