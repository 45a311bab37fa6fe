// @ts-check
/** The sprint list: every sprint with its end date, and a form to create one. */
import { ApiError } from "./api.js";
import { h } from "./dom.js";
import { isoDate } from "./board-model.js";

/** @typedef {import("./api.js").Api} Api */
/** @typedef {import("./api.js").Sprint} Sprint */

/**
 * @param {HTMLElement} root
 * @param {Api} api
 * @param {(message: string) => void} showError
 */
export async function renderSprintList(root, api, showError) {
  const list = h("ul", { class: "sprint-list", "data-testid": "sprint-list", "aria-busy": "true" }, h("li", { class: "loading" }, "Loading sprints…"));
  const formError = h("p", { class: "form-error", role: "alert", "data-testid": "sprint-form-error" });
  const inWeeks = new Date(Date.now() + 14 * 864e5);
  const form = h("form", { class: "card-panel sprint-form", "data-testid": "sprint-form", "aria-labelledby": "new-sprint-title" },
    h("h2", { id: "new-sprint-title" }, "New sprint"),
    formError,
    h("div", { class: "field" }, h("label", { for: "sprint-name" }, "Name"),
      h("input", { id: "sprint-name", name: "name", "data-testid": "sprint-name-input", required: true, maxlength: "100", autocomplete: "off", placeholder: "Sprint 12" }),
      h("p", { class: "field__error", "data-for": "name" })),
    h("div", { class: "field" }, h("label", { for: "sprint-description" }, "Goal"),
      h("textarea", { id: "sprint-description", name: "description", "data-testid": "sprint-description-input", rows: "2", placeholder: "What should this sprint achieve?" }),
      h("p", { class: "field__error", "data-for": "description" })),
    h("div", { class: "field" }, h("label", { for: "sprint-end" }, "Ends"),
      h("input", { id: "sprint-end", name: "end", type: "date", "data-testid": "sprint-end-input", required: true, value: isoDate(inWeeks) }),
      h("p", { class: "field__error", "data-for": "end" })),
    h("button", { class: "button button--primary", type: "submit", "data-testid": "sprint-create" }, "Create sprint"));

  root.replaceChildren(h("div", { class: "page sprints-page" },
    h("section", { class: "sprints-main", "aria-labelledby": "sprints-title" },
      h("h1", { id: "sprints-title" }, "Sprints"), list),
    form));
  document.title = "Sprints · Watercooler";

  /** @param {Sprint[]} sprints */
  const show = (sprints) => {
    list.setAttribute("aria-busy", "false");
    if (!sprints.length) {
      list.replaceChildren(h("li", { class: "empty-state", "data-testid": "sprints-empty" },
        h("h2", null, "No sprints yet"), h("p", null, "Create the first one with the form.")));
      return;
    }
    const today = isoDate();
    list.replaceChildren(...sprints.map((s) => h("li", { class: "sprint-item", "data-testid": "sprint-item", "data-sprint-id": s.id },
      h("a", { href: `#/sprints/${s.id}`, class: "sprint-item__link" },
        h("span", { class: "sprint-item__name" }, s.name),
        s.description ? h("span", { class: "sprint-item__desc" }, s.description) : null,
        h("span", { class: `badge${s.end < today ? " badge--ended" : ""}`, "data-testid": "sprint-end" }, s.end < today ? `Ended ${s.end}` : `Ends ${s.end}`)))));
  };

  /** @type {Sprint[]} */
  let sprints = [];
  try {
    sprints = await api.sprints();
    show(sprints);
  } catch (err) {
    list.replaceChildren(h("li", { class: "empty-state" }, h("p", null, "Could not load the sprints.")));
    showError(/** @type {Error} */ (err).message);
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const data = Object.fromEntries(new FormData(/** @type {HTMLFormElement} */ (form)));
    form.querySelectorAll(".field__error").forEach((p) => { p.textContent = ""; });
    formError.textContent = "";
    const button = /** @type {HTMLButtonElement} */ (form.querySelector("button"));
    button.disabled = true;
    try {
      const sprint = await api.createSprint(/** @type {any} */ (data));
      sprints = [...sprints, sprint].sort((a, b) => a.end.localeCompare(b.end));
      show(sprints);
      /** @type {HTMLFormElement} */ (form).reset();
    } catch (err) {
      if (err instanceof ApiError && Object.keys(err.fields).length) {
        for (const [k, msgs] of Object.entries(err.fields)) {
          const slot = form.querySelector(`.field__error[data-for="${k}"]`);
          if (slot) slot.textContent = msgs.join(" ");
          else formError.textContent = msgs.join(" ");
        }
      } else {
        formError.textContent = /** @type {Error} */ (err).message;
      }
    } finally {
      button.disabled = false;
    }
  });
}
