// @ts-check
/**
 * The board's arithmetic, free of the DOM: which column a task is in, column order,
 * where a drop lands (as the `after` the server's move takes), and a drop shown before
 * the server has answered. Positions and date rules belong to the server: nothing here
 * invents a rank or a date. Pure, so it is tested in Node.
 */
import { STATUSES } from "./protocol.js";

/** @typedef {import("./api.js").Task} Task */
/** @typedef {"backlog" | "not_started" | "in_progress" | "testing" | "done"} ColumnKey */
/** @typedef {import("./event-stream.js").BoardState} BoardState */
/**
 * A drop the server has not answered yet: the card is shown directly below `after` in
 * column `key` (at the top when `after` is null). `ticket` tells a newer drop of the same
 * card from an older one still in flight.
 * @typedef {{key: ColumnKey, after: number | null, ticket: number}} Placement
 */
/** @typedef {{status?: string, sprint?: number | null, after: number | null}} MoveBody */

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

/**
 * Board order, as the API sorts: `rank`, then id. Ranks are ASCII, so comparing UTF-16
 * code units (what `<` does) is the byte-wise comparison the server uses; never
 * `localeCompare`, whose collation differs between browsers and from the server.
 * @param {Task} a @param {Task} b
 */
export function compareTasks(a, b) {
  const ra = a.rank ?? "";
  const rb = b.rank ?? "";
  if (ra !== rb) return ra < rb ? -1 : 1;
  return a.id - b.id;
}

/** @param {Task[]} tasks */
export function sortTasks(tasks) {
  return [...tasks].sort(compareTasks);
}

/**
 * The tasks of every column, sorted; cards with a pending drop are shown where they
 * were dropped instead (below their `after`, or at the bottom if it has left the column).
 * @param {Iterable<Task>} sprintTasks
 * @param {Iterable<Task>} backlog
 * @param {ReadonlyMap<number, Placement>} [pending]
 * @returns {Record<ColumnKey, Task[]>}
 */
export function columnsOf(sprintTasks, backlog, pending = new Map()) {
  /** @type {Record<ColumnKey, Task[]>} */
  const cols = { backlog: [], not_started: [], in_progress: [], testing: [], done: [] };
  /** @type {Map<number, Task>} */
  const held = new Map();
  for (const t of sprintTasks) {
    if (pending.has(t.id)) held.set(t.id, t);
    else (cols[/** @type {ColumnKey} */ (t.status)] ?? cols.not_started).push(t);
  }
  for (const t of backlog) {
    if (pending.has(t.id)) held.set(t.id, t);
    else cols.backlog.push(t);
  }
  for (const k of /** @type {ColumnKey[]} */ (Object.keys(cols))) cols[k] = sortTasks(cols[k]);
  for (const [id, p] of pending) {
    const t = held.get(id);
    if (!t) continue; // deleted meanwhile
    const col = cols[p.key];
    const below = p.after === null ? 0 : col.findIndex((x) => x.id === p.after) + 1;
    const lost = p.after !== null && below === 0; // `after` has left the column meanwhile
    col.splice(lost ? col.length : below, 0, shownIn(t, p.key));
  }
  return cols;
}

/** The card as it looks in column `key` (its status, not yet confirmed). @param {Task} t @param {ColumnKey} key */
const shownIn = (t, key) => (key === "backlog" || t.status === key ? t : { ...t, status: key });

/**
 * The `after` of a drop: the id of the card directly above slot `index` of the target
 * column once the dragged card is taken out of it, or null for the top.
 * @param {Task[]} column  the target column in board order (it may contain the dragged card)
 * @param {number} draggedId
 * @param {number} index  the slot, counted without the dragged card
 * @returns {number | null}
 */
export function afterFor(column, draggedId, index) {
  const others = column.filter((t) => t.id !== draggedId);
  const i = Math.min(Math.max(Math.trunc(index), 0), others.length);
  return i === 0 ? null : others[i - 1].id;
}

/**
 * The body of `POST /api/tasks/<id>/move/` for a drop into column `key` of sprint
 * `sprintId`: what the person meant, nothing computed (the server sets rank and dates).
 * @param {ColumnKey} key
 * @param {number} sprintId
 * @param {number | null} after
 * @returns {MoveBody}
 */
export function moveBody(key, sprintId, after) {
  return key === "backlog" ? { sprint: null, after } : { status: key, sprint: sprintId, after };
}

/**
 * Put a task where its fields say it belongs in `state`, unless `state` already has a
 * newer version of it (an answer can arrive after the event of a later change).
 * Returns true when the state changed.
 * @param {BoardState} state
 * @param {Task} t
 * @param {number} sprintId  the sprint whose board `state` is
 */
export function placeTask(state, t, sprintId) {
  const known = state.tasks.get(t.id) ?? state.backlog.get(t.id);
  if (known && (known.version ?? 0) > (t.version ?? 0)) return false;
  state.tasks.delete(t.id);
  state.backlog.delete(t.id);
  if (t.sprint === sprintId) state.tasks.set(t.id, t);
  else if (t.sprint === null) state.backlog.set(t.id, t);
  return true;
}

/** Today as YYYY-MM-DD in local time (for showing whether a sprint has ended). @param {Date} [d] */
export function isoDate(d = new Date()) {
  const pad = (/** @type {number} */ n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}
