// @ts-check
/**
 * The board's arithmetic, free of the DOM: which column a task is in, column order,
 * and the PATCHes a drop needs. Pure, so it is tested in Node.
 */
import { STATUSES } from "./protocol.js";

/** @typedef {import("./api.js").Task} Task */
/** @typedef {"backlog" | "not_started" | "in_progress" | "testing" | "done"} ColumnKey */

/** @type {{key: ColumnKey, title: string}[]} */
export const COLUMNS = [
  { key: "backlog", title: "Backlog" },
  { key: "not_started", title: "Not Started" },
  { key: "in_progress", title: "In Progress" },
  { key: "testing", title: "Testing" },
  { key: "done", title: "Done" },
];

/** @param {string} key @returns {key is import("./protocol.js").Drag["status"] & string} */
export const isStatus = (key) => /** @type {readonly string[]} */ (STATUSES).includes(key);

/** Board order: `order`, then id (as the API sorts). @param {Task[]} tasks */
export function sortTasks(tasks) {
  return [...tasks].sort((a, b) => (a.order ?? 0) - (b.order ?? 0) || a.id - b.id);
}

/**
 * The tasks of every column, sorted.
 * @param {Iterable<Task>} sprintTasks
 * @param {Iterable<Task>} backlog
 * @returns {Record<ColumnKey, Task[]>}
 */
export function columnsOf(sprintTasks, backlog) {
  /** @type {Record<ColumnKey, Task[]>} */
  const cols = { backlog: [], not_started: [], in_progress: [], testing: [], done: [] };
  for (const t of sprintTasks) (cols[/** @type {ColumnKey} */ (t.status)] ?? cols.not_started).push(t);
  cols.backlog.push(...backlog);
  for (const k of /** @type {ColumnKey[]} */ (Object.keys(cols))) cols[k] = sortTasks(cols[k]);
  return cols;
}

/**
 * The fields to PATCH on the dragged task for a drop into `target` at `index`:
 * `status`, `order`, and `sprint` when it comes from elsewhere. Dates are filled in,
 * never erased: moving past not-started sets a missing `started`, into done a missing
 * `completed`. Moves the API's date rules forbid (a started task back to not-started,
 * a completed one out of done) are left for the API to refuse with its message.
 * @param {Task} task
 * @param {ColumnKey} target
 * @param {number} index
 * @param {number} sprintId  the sprint whose board this is
 * @param {string} today  YYYY-MM-DD
 * @returns {Record<string, any>}
 */
export function dropChanges(task, target, index, sprintId, today) {
  /** @type {Record<string, any>} */
  const body = {};
  if (target === "backlog") {
    if (task.sprint !== null) body.sprint = null;
    body.order = index;
    return body;
  }
  if (task.status !== target) body.status = target;
  body.order = index;
  if (task.sprint !== sprintId) body.sprint = sprintId;
  if (target !== "not_started" && !task.started && !(task.completed && target === "done")) body.started = today;
  if (target === "done" && !task.completed) body.completed = today;
  return body;
}

/**
 * After the dragged task lands at `index`, the other tasks of the column whose `order`
 * must change so that order == position (the API stores `order` as given and does
 * not renumber). Returns [{id, order}] for those only.
 * @param {Task[]} column  the target column's tasks in board order, without the dragged one
 * @param {number} draggedId
 * @param {number} index
 */
export function renumber(column, draggedId, index) {
  const ids = column.map((t) => t.id).filter((id) => id !== draggedId);
  ids.splice(Math.min(Math.max(index, 0), ids.length), 0, draggedId);
  const byId = new Map(column.map((t) => [t.id, t]));
  /** @type {{id: number, order: number}[]} */
  const out = [];
  ids.forEach((id, order) => {
    if (id !== draggedId && byId.get(id)?.order !== order) out.push({ id, order });
  });
  return out;
}

/**
 * Apply a move locally (optimistic): returns a copy of the task as it will be.
 * @param {Task} task @param {Record<string, any>} changes
 * @returns {Task}
 */
export const withChanges = (task, changes) => ({ ...task, ...changes });

/** Today as YYYY-MM-DD in local time. @param {Date} [d] */
export function isoDate(d = new Date()) {
  const pad = (/** @type {number} */ n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}
