// @ts-check
/**
 * Moving cards with the keyboard: Space/Enter lifts the focused card, the arrows move it
 * (across columns, up and down within one), Enter drops, Escape or Tab cancels; without a
 * lifted card the arrows move the focus and E edits. The board view (board.js) owns the
 * drag state and rendering; this is the keys' side of it, as the pointer's is there.
 */
import { COLUMNS } from "./board-model.js";

/** @typedef {import("./board.js").BoardView} BoardView */
/** @typedef {import("./board.js").LocalDrag} LocalDrag */
/** @typedef {import("./board-model.js").ColumnKey} ColumnKey */
/** @typedef {import("./board-geometry.js").Slot} Slot */

/** A key pressed on the board (`view`'s element). @param {BoardView} view @param {KeyboardEvent} e */
export function onBoardKeyDown(view, e) {
  const cardEl = /** @type {HTMLElement | null} */ (/** @type {HTMLElement} */ (e.target).closest?.(".card"));
  if (!cardEl) return;
  const d = view.drag;
  if (!d) {
    const task = view._find(Number(cardEl.dataset.taskId));
    if (!task) return;
    if (e.key === " " || e.key === "Enter") {
      e.preventDefault();
      const from = view._slotOf(task);
      view.drag = { task, from, to: from, mode: "keyboard", preview: null, pointer: { x: 0, y: 0 }, grab: { dx: 0, dy: 0 } };
      view.render();
      view._focusCard(task.id);
      view.cb.onDrag("start", task.id, view._where());
      view.cb.announce(`Picked up ${task.name}. Use the arrow keys to move, Enter to drop, Escape to cancel.`);
    } else if (e.key === "e" || e.key === "E") {
      e.preventDefault();
      view.cb.onOpen(task);
    } else if (e.key.startsWith("Arrow")) {
      e.preventDefault();
      focusNeighbour(cardEl, e.key);
    }
    return;
  }
  if (d.mode !== "keyboard") return;
  if (e.key === "Escape") {
    e.preventDefault();
    view._cancel();
  } else if (e.key === "Enter" || e.key === " ") {
    e.preventDefault();
    const col = COLUMNS.find((c) => c.key === d.to.key);
    view.cb.announce(`Dropped ${d.task.name} in ${col?.title}, position ${d.to.index + 1}.`);
    view._drop();
  } else if (e.key.startsWith("Arrow")) {
    e.preventDefault();
    keyboardMove(view, d, e.key);
  } else if (e.key === "Tab") {
    view._cancel();
  }
}

/** An arrow key moves the lifted card `d`. @param {BoardView} view @param {LocalDrag} d @param {string} key */
function keyboardMove(view, d, key) {
  const cols = view._columns();
  const lengthOf = (/** @type {ColumnKey} */ k) => cols[k].filter((t) => t.id !== d.task.id).length;
  const to = keyboardSlot(d.to, key, lengthOf);
  if (!to) return;
  d.to = to;
  view.render();
  view._focusCard(d.task.id);
  view.cb.onDrag("move", d.task.id, view._where());
  const title = COLUMNS.find((c) => c.key === d.to.key)?.title;
  view.cb.announce(`${title}, position ${d.to.index + 1} of ${lengthOf(d.to.key) + 1}.`);
}

/**
 * Where an arrow key takes a lifted card from `to`, or null if nowhere (no column further).
 * `lengthOf` counts a column's cards without the lifted one.
 * @param {Slot} to @param {string} key @param {(key: ColumnKey) => number} lengthOf
 * @returns {Slot | null}
 */
function keyboardSlot(to, key, lengthOf) {
  if (key === "ArrowLeft" || key === "ArrowRight") {
    const next = COLUMNS[COLUMNS.findIndex((c) => c.key === to.key) + (key === "ArrowLeft" ? -1 : 1)];
    return next ? { key: next.key, index: Math.min(to.index, lengthOf(next.key)) } : null;
  }
  if (key === "ArrowUp") return { ...to, index: Math.max(0, to.index - 1) };
  if (key === "ArrowDown") return { ...to, index: Math.min(lengthOf(to.key), to.index + 1) };
  return to;
}

/** Arrow keys without a lifted card move focus between cards. @param {HTMLElement} cardEl @param {string} key */
function focusNeighbour(cardEl, key) {
  const col = cardEl.closest(".column");
  if (!col) return;
  const cards = /** @type {HTMLElement[]} */ ([...col.querySelectorAll(".card")]);
  const i = cards.indexOf(cardEl);
  if (key === "ArrowUp") cards[i - 1]?.focus();
  else if (key === "ArrowDown") cards[i + 1]?.focus();
  else {
    const sib = key === "ArrowLeft" ? col.previousElementSibling : col.nextElementSibling;
    const target = sib?.querySelectorAll(".card")[Math.min(i, (sib?.querySelectorAll(".card").length ?? 1) - 1)];
    /** @type {HTMLElement | undefined} */ (target)?.focus();
  }
}
