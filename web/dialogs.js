// @ts-check
/** Modal forms (native <dialog>): create/edit/delete a task, with DRF field errors inline. */
import { ApiError } from "./api.js";
import { h } from "./dom.js";

/** @typedef {import("./api.js").Task} Task */

const STATUS_LABELS = { not_started: "Not Started", in_progress: "In Progress", testing: "Testing", done: "Done" };

/**
 * Open the task form. `save` gets the form's values and may throw ApiError (400) whose
 * field errors are shown next to the fields; the dialog closes when it resolves.
 * @param {object} o
 * @param {Task | null} o.task  null to create
 * @param {{username: string, full_name?: string}[]} o.users
 * @param {(data: Record<string, any>) => Promise<unknown>} o.save
 * @param {(() => Promise<unknown>) | null} [o.remove]
 */
export function openTaskDialog({ task, users, save, remove = null }) {
  const field = (/** @type {string} */ name, /** @type {string} */ label, /** @type {HTMLElement} */ input) => {
    input.id = `task-${name}`;
    input.setAttribute("name", name);
    input.setAttribute("data-testid", `task-${name}`);
    return h("div", { class: "field", "data-field": name },
      h("label", { for: input.id }, label), input,
      h("p", { class: "field__error", id: `task-${name}-error`, role: "alert" }));
  };
  const v = (/** @type {any} */ x) => x ?? "";
  const form = h("form", { class: "dialog__form", method: "dialog", novalidate: true },
    h("h2", { class: "dialog__title" }, task ? "Edit task" : "New task"),
    h("p", { class: "form-error", role: "alert", "data-testid": "form-error" }),
    field("name", "Name", h("input", { type: "text", required: true, maxlength: "100", value: v(task?.name), autocomplete: "off" })),
    field("description", "Description", h("textarea", { rows: "3" }, v(task?.description))),
    h("div", { class: "field-row" },
      field("status", "Status", h("select", null, ...Object.entries(STATUS_LABELS).map(([k, label]) =>
        h("option", { value: k, selected: (task?.status ?? "not_started") === k }, label)))),
      field("assigned", "Assigned", h("select", null, h("option", { value: "" }, "Nobody"),
        ...users.map((u) => h("option", { value: u.username, selected: task?.assigned === u.username }, u.full_name || u.username))))),
    h("div", { class: "field-row" },
      field("started", "Started", h("input", { type: "date", value: v(task?.started) })),
      field("due", "Due", h("input", { type: "date", value: v(task?.due) })),
      field("completed", "Completed", h("input", { type: "date", value: v(task?.completed) }))),
    h("div", { class: "dialog__actions" },
      remove ? h("button", { type: "button", class: "button button--danger", "data-testid": "task-delete", "data-action": "delete" }, "Delete") : null,
      h("span", { class: "spacer" }),
      h("button", { type: "button", class: "button button--ghost", "data-action": "cancel" }, "Cancel"),
      h("button", { type: "submit", class: "button button--primary", "data-testid": "task-save" }, task ? "Save" : "Create task")));
  const dialog = /** @type {HTMLDialogElement} */ (h("dialog", { class: "dialog", "data-testid": "task-dialog", "aria-label": task ? "Edit task" : "New task" }, form));
  document.body.append(dialog);
  dialog.addEventListener("close", () => dialog.remove());
  dialog.showModal();
  /** @type {HTMLElement} */ (form.querySelector("input"))?.focus();

  const showErrors = (/** @type {unknown} */ err) => {
    form.querySelectorAll(".field__error").forEach((p) => { p.textContent = ""; });
    form.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
    const formError = /** @type {HTMLElement} */ (form.querySelector(".form-error"));
    formError.textContent = "";
    if (!(err instanceof ApiError)) {
      formError.textContent = err instanceof Error ? err.message : String(err);
      return;
    }
    const leftovers = [];
    for (const [name, messages] of Object.entries(err.fields)) {
      const slot = form.querySelector(`#task-${name}-error`);
      if (slot) {
        slot.textContent = messages.join(" ");
        form.querySelector(`#task-${name}`)?.setAttribute("aria-invalid", "true");
      } else leftovers.push(name === "non_field_errors" ? messages.join(" ") : `${name}: ${messages.join(" ")}`);
    }
    formError.textContent = leftovers.join(" ") || (Object.keys(err.fields).length ? "" : err.message);
  };

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const data = Object.fromEntries(new FormData(/** @type {HTMLFormElement} */ (form)));
    if (!String(data.name ?? "").trim()) {
      showErrors(new ApiError(400, "", { name: ["Give the task a name."] }));
      return;
    }
    /** @type {Record<string, any>} */
    const body = { ...data };
    for (const k of ["assigned", "started", "due", "completed"]) if (body[k] === "") body[k] = null;
    const submit = /** @type {HTMLButtonElement} */ (form.querySelector("[type=submit]"));
    submit.disabled = true;
    try {
      await save(body);
      dialog.close();
    } catch (err) {
      showErrors(err);
    } finally {
      submit.disabled = false;
    }
  });
  form.addEventListener("click", async (e) => {
    const action = /** @type {HTMLElement} */ (e.target).closest("[data-action]")?.getAttribute("data-action");
    if (action === "cancel") dialog.close();
    if (action === "delete" && remove) {
      // Two steps instead of window.confirm(): no blocking native prompt, and testable.
      const button = /** @type {HTMLButtonElement} */ (form.querySelector("[data-action=delete]"));
      if (button.dataset.armed !== "true") {
        button.dataset.armed = "true";
        button.textContent = "Click again to delete";
        return;
      }
      try {
        await remove();
        dialog.close();
      } catch (err) {
        showErrors(err);
      }
    }
  });
  return dialog;
}
