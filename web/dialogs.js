// @ts-check
/**
 * Modal forms (native <dialog>): create/edit/delete a task, with DRF field errors inline.
 * An edit names the version it was made on; when someone else changed the task meanwhile
 * (412), the form keeps what was typed, lists what changed on the server, and lets the
 * person apply their changes on top or discard them.
 */
import { ApiError } from "./api.js";
import { h } from "./dom.js";
import { TASK_FIELDS, changedFields, conflictDiff, formValuesOf } from "./edits.js";

/** @typedef {import("./api.js").Task} Task */
/** @typedef {import("./edits.js").FormValues} FormValues */

const STATUS_LABELS = { not_started: "Not Started", in_progress: "In Progress", testing: "Testing", done: "Done" };

/**
 * Open the task form. `save` gets the changed fields and the version they were made on
 * (null for a new task) and may throw ApiError: 400 shows field errors next to the
 * fields, 412 (with `current`) the conflict panel. The dialog closes when it resolves.
 * @param {object} o
 * @param {Task | null} o.task  null to create
 * @param {{username: string, full_name?: string}[]} o.users
 * @param {(data: Record<string, any>, ifMatch: number | null) => Promise<unknown>} o.save
 * @param {((ifMatch: number | null) => Promise<unknown>) | null} [o.remove]
 */
export function openTaskDialog({ task, users, save, remove = null }) {
  const form = taskForm(task, users, Boolean(remove));
  const dialog = /** @type {HTMLDialogElement} */ (h("dialog", { class: "dialog", "data-testid": "task-dialog", "aria-label": task ? "Edit task" : "New task" }, form));
  document.body.append(dialog);
  dialog.addEventListener("close", () => dialog.remove());
  dialog.showModal();
  /** @type {HTMLElement} */ (form.querySelector("input"))?.focus();

  /** What the person's changes are measured against: the task as the form was filled. */
  let base = task;
  /** The newest state of the task this person has seen: the version writes name. */
  let seen = task;
  const conflict = /** @type {HTMLElement} */ (form.querySelector(".conflict"));
  const submit = /** @type {HTMLButtonElement} */ (form.querySelector("[type=submit]"));
  const values = () => /** @type {FormValues} */ (Object.fromEntries(new FormData(/** @type {HTMLFormElement} */ (form))));

  const showConflict = (/** @type {Task} */ current, /** @type {string} */ intro) => {
    seen = current;
    conflict.replaceChildren(...conflictPanel(intro, conflictDiff(/** @type {Task} */ (base), values(), current), users));
    conflict.hidden = false;
    submit.disabled = true; // choose first: apply or discard
    /** @type {HTMLElement | null} */ (conflict.querySelector("[data-action=apply]"))?.focus();
  };
  const closeConflict = () => {
    conflict.hidden = true;
    conflict.replaceChildren();
    submit.disabled = false;
  };
  const write = async () => {
    const body = changedFields(base, values());
    if (task && !Object.keys(body).length) {
      dialog.close(); // nothing changed: nothing to write
      return;
    }
    submit.disabled = true;
    try {
      await save(body, seen?.version ?? null);
      dialog.close();
    } catch (err) {
      if (err instanceof ApiError && err.isConflict && err.current) {
        showConflict(err.current, "Someone changed this task while you were editing it. Your text is kept.");
      } else {
        submit.disabled = false;
        showErrors(form, err);
      }
    }
  };

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    showErrors(form, null);
    if (!String(values().name ?? "").trim()) {
      showErrors(form, new ApiError(400, "", { name: ["Give the task a name."] }));
      return;
    }
    await write();
  });
  form.addEventListener("click", async (e) => {
    const action = /** @type {HTMLElement} */ (e.target).closest("[data-action]")?.getAttribute("data-action");
    if (action === "cancel") dialog.close();
    if (action === "apply") {
      closeConflict();
      await write(); // the same changes, on the version just shown
    }
    if (action === "discard" && seen) {
      fill(form, formValuesOf(seen));
      base = seen;
      closeConflict();
      showErrors(form, null);
    }
    if (action === "delete" && remove) {
      // Two steps instead of window.confirm(): no blocking native prompt, and testable.
      const button = /** @type {HTMLButtonElement} */ (form.querySelector("[data-action=delete]"));
      if (button.dataset.armed !== "true") {
        button.dataset.armed = "true";
        button.textContent = "Click again to delete";
        return;
      }
      try {
        await remove(seen?.version ?? null);
        dialog.close();
      } catch (err) {
        delete button.dataset.armed;
        button.textContent = "Delete";
        if (err instanceof ApiError && err.isConflict && err.current) {
          showConflict(err.current, "Someone changed this task since you opened it; it was not deleted. Delete again to delete this version.");
          submit.disabled = false;
        } else showErrors(form, err);
      }
    }
  });
  return dialog;
}

/**
 * The form, filled from `task`.
 * @param {Task | null} task @param {{username: string, full_name?: string}[]} users @param {boolean} removable
 */
function taskForm(task, users, removable) {
  const field = (/** @type {string} */ name, /** @type {string} */ label, /** @type {HTMLElement} */ input) => {
    input.id = `task-${name}`;
    input.setAttribute("name", name);
    input.setAttribute("data-testid", `task-${name}`);
    return h("div", { class: "field", "data-field": name },
      h("label", { for: input.id }, label), input,
      h("p", { class: "field__error", id: `task-${name}-error`, role: "alert" }));
  };
  const v = formValuesOf(task);
  return h("form", { class: "dialog__form", method: "dialog", novalidate: true },
    h("h2", { class: "dialog__title" }, task ? "Edit task" : "New task"),
    h("p", { class: "form-error", role: "alert", "data-testid": "form-error" }),
    h("div", { class: "conflict", "data-testid": "conflict", role: "alert", hidden: true }),
    field("name", "Name", h("input", { type: "text", required: true, maxlength: "100", value: v.name, autocomplete: "off" })),
    field("description", "Description", h("textarea", { rows: "3" }, v.description)),
    h("div", { class: "field-row" },
      field("status", "Status", h("select", null, ...Object.entries(STATUS_LABELS).map(([k, label]) =>
        h("option", { value: k, selected: v.status === k }, label)))),
      field("assigned", "Assigned", h("select", null, h("option", { value: "" }, "Nobody"),
        ...users.map((u) => h("option", { value: u.username, selected: v.assigned === u.username }, u.full_name || u.username))))),
    h("div", { class: "field-row" },
      field("started", "Started", h("input", { type: "date", value: v.started })),
      field("due", "Due", h("input", { type: "date", value: v.due })),
      field("completed", "Completed", h("input", { type: "date", value: v.completed }))),
    h("div", { class: "dialog__actions" },
      removable ? h("button", { type: "button", class: "button button--danger", "data-testid": "task-delete", "data-action": "delete" }, "Delete") : null,
      h("span", { class: "spacer" }),
      h("button", { type: "button", class: "button button--ghost", "data-action": "cancel" }, "Cancel"),
      h("button", { type: "submit", class: "button button--primary", "data-testid": "task-save" }, task ? "Save" : "Create task")));
}

/** Put `values` into the form's inputs. @param {HTMLElement} form @param {Record<string, string>} values */
function fill(form, values) {
  for (const { key } of TASK_FIELDS) {
    const input = /** @type {HTMLInputElement | null} */ (form.querySelector(`#task-${key}`));
    if (input) input.value = values[key] ?? "";
  }
}

/**
 * The conflict panel's content: what changed on the server, field by field, and the choice.
 * @param {string} intro
 * @param {import("./edits.js").ConflictRow[]} rows
 * @param {{username: string, full_name?: string}[]} users
 */
function conflictPanel(intro, rows, users) {
  const label = (/** @type {string} */ key, /** @type {string} */ value) => {
    if (value === "") return h("span", { class: "muted" }, "—");
    if (key === "status") return STATUS_LABELS[/** @type {keyof typeof STATUS_LABELS} */ (value)] ?? value;
    if (key === "assigned") return users.find((u) => u.username === value)?.full_name || value;
    return value;
  };
  const table = rows.length
    ? h("table", { class: "conflict__table" },
      h("thead", null, h("tr", null, h("th", { scope: "col" }, "Field"), h("th", { scope: "col" }, "Yours"), h("th", { scope: "col" }, "Now on the board"))),
      h("tbody", null, ...rows.map((r) => h("tr", { "data-testid": "conflict-row", "data-field": r.key, class: r.clash ? "conflict__row--clash" : null },
        h("th", { scope: "row" }, r.label),
        h("td", { "data-testid": "conflict-mine" }, r.touched ? label(r.key, r.mine) : h("span", { class: "muted" }, "unchanged")),
        h("td", { "data-testid": "conflict-current" }, label(r.key, r.current))))))
    : h("p", { class: "muted" }, "None of these fields changed: it was moved on the board.");
  return [
    h("p", { class: "conflict__intro" }, intro),
    table,
    h("p", { class: "conflict__note muted" }, "Applying writes only the fields you changed."),
    h("div", { class: "conflict__actions" },
      h("button", { type: "button", class: "button button--primary", "data-action": "apply", "data-testid": "conflict-apply" }, "Apply my changes"),
      h("button", { type: "button", class: "button", "data-action": "discard", "data-testid": "conflict-discard" }, "Discard mine")),
  ];
}

/**
 * Show an error next to its fields (or above the form); null clears them all.
 * @param {HTMLElement} form @param {unknown} err
 */
function showErrors(form, err) {
  form.querySelectorAll(".field__error").forEach((p) => { p.textContent = ""; });
  form.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
  const formError = /** @type {HTMLElement} */ (form.querySelector(".form-error"));
  formError.textContent = "";
  if (err === null) return;
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
}
