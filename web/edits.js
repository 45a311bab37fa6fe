// @ts-check
/**
 * What an edit changes and what a conflict shows, free of the DOM: the fields a person
 * changed in the task form, the fields someone else changed meanwhile (a 412's `current`
 * against the version the form was opened on), and the sentence a lost drop shows.
 * Pure, so it is tested in Node.
 */

/** @typedef {import("./api.js").Task} Task */

/** The task form's fields, in form order, with the labels the dialog shows. */
export const TASK_FIELDS = /** @type {const} */ ([
  { key: "name", label: "Name" },
  { key: "description", label: "Description" },
  { key: "status", label: "Status" },
  { key: "assigned", label: "Assigned" },
  { key: "started", label: "Started" },
  { key: "due", label: "Due" },
  { key: "completed", label: "Completed" },
]);

/** @typedef {(typeof TASK_FIELDS)[number]["key"]} FieldKey */
/** @typedef {Partial<Record<FieldKey, string>>} FormValues  what the form's inputs hold */

/** Fields the API takes as null when empty (an empty text stays an empty text). */
const NULLABLE = new Set(["assigned", "started", "due", "completed"]);

/** A field's value as the form shows it: null and missing are "". @param {unknown} v */
const shown = (v) => (v === null || v === undefined ? "" : String(v));

/**
 * The task's values as the form's inputs hold them.
 * @param {Partial<Task> | null} task
 * @returns {Record<FieldKey, string>}
 */
export function formValuesOf(task) {
  /** @type {Record<string, string>} */
  const out = {};
  for (const { key } of TASK_FIELDS) out[key] = key === "status" ? shown(task?.status ?? "not_started") : shown(task?.[key]);
  return /** @type {Record<FieldKey, string>} */ (out);
}

/**
 * The PATCH body for what the person changed: only fields whose value differs from
 * `base` (the task the form was opened on), so a field someone else changed meanwhile
 * and this person left alone is not written back. Empty dates and assignee become null.
 * @param {Partial<Task> | null} base  null for a new task: every field is sent
 * @param {FormValues} form
 * @returns {Record<string, string | null>}
 */
export function changedFields(base, form) {
  const before = formValuesOf(base);
  /** @type {Record<string, string | null>} */
  const body = {};
  for (const { key } of TASK_FIELDS) {
    const value = form[key];
    if (value === undefined || (base && value === before[key])) continue;
    body[key] = NULLABLE.has(key) && value === "" ? null : value;
  }
  return body;
}

/**
 * @typedef {object} ConflictRow  one field someone else changed meanwhile
 * @property {FieldKey} key
 * @property {string} label
 * @property {string} mine     what this person's form holds ("" for empty)
 * @property {string} current  what the server holds now
 * @property {boolean} touched this person changed it (else applying leaves the server's value)
 * @property {boolean} clash   this person changed it too, to something else
 */

/**
 * The fields of the form that changed on the server between `base` (the version the
 * form was opened on) and `current` (a 412's body), with this person's value beside
 * the current one. Fields only this person changed are not listed: applying keeps them.
 * @param {Partial<Task>} base
 * @param {FormValues} mine
 * @param {Partial<Task>} current
 * @returns {ConflictRow[]}
 */
export function conflictDiff(base, mine, current) {
  const was = formValuesOf(base);
  const now = formValuesOf(current);
  /** @type {ConflictRow[]} */
  const rows = [];
  for (const { key, label } of TASK_FIELDS) {
    if (was[key] === now[key]) continue;
    const m = mine[key] ?? was[key];
    rows.push({ key, label, mine: m, current: now[key], touched: m !== was[key], clash: m !== was[key] && m !== now[key] });
  }
  return rows;
}

/**
 * The sentence shown when a drop or an edit lost to someone else's change.
 * @param {string | null} name  the username of whoever held the card last, if known
 */
export function conflictMessage(name) {
  return name ? `${name} moved this card meanwhile` : "Someone changed this card meanwhile";
}
