// @ts-check
/**
 * Where on the board a point is: the drop slot (column and position) under the pointer,
 * and a drag's target and position as the drag frames carry them (fractions of the whole
 * board). Reads the rendered layout only; changes nothing.
 */
import { isStatus } from "./board-model.js";

/** @typedef {import("./board-model.js").ColumnKey} ColumnKey */
/** @typedef {{key: ColumnKey, index: number}} Slot */
/**
 * @typedef {object} Where  what a drag frame says about the target
 * @property {string | null} status
 * @property {number} index
 * @property {number | null} x
 * @property {number | null} y
 */

/** A pointer further than this from every column in view is over no column. */
const COLUMN_REACH_PX = 48;

/**
 * The column and position under a client point (index counts the column's cards
 * without the dragged one and without ghosts).
 * @param {HTMLElement} board @param {number} x @param {number} y
 * @returns {Slot | null}
 */
export function slotAt(board, x, y) {
  // Only columns mostly in view: not the next one peeking in at a phone's edge.
  const view = board.getBoundingClientRect();
  const columns = /** @type {HTMLElement[]} */ ([...board.querySelectorAll(".column")]).filter((c) => {
    const r = c.getBoundingClientRect();
    return Math.min(r.right, view.right) - Math.max(r.left, view.left) > r.width / 2;
  });
  let best = null;
  let bestDist = Infinity;
  for (const col of columns) {
    const r = col.getBoundingClientRect();
    const dist = x < r.left ? r.left - x : x > r.right ? x - r.right : 0;
    if (dist < bestDist) {
      bestDist = dist;
      best = col;
    }
  }
  if (!best || bestDist > COLUMN_REACH_PX) return null;
  const key = /** @type {ColumnKey} */ (best.dataset.status);
  const cards = /** @type {HTMLElement[]} */ ([...best.querySelectorAll(".card:not(.card--lifted)")]);
  let index = 0;
  for (const c of cards) {
    const r = c.getBoundingClientRect();
    if (y > r.top + r.height / 2) index += 1;
  }
  return { key, index };
}

/**
 * What the drag frames say: target status (none for backlog), index, pointer fractions.
 * A keyboard drag has no pointer: the middle of the lifted card stands in for it.
 * @param {HTMLElement} board
 * @param {{to: Slot, mode: "pointer"|"keyboard", pointer: {x: number, y: number}}} drag
 * @returns {Where}
 */
export function dragWhere(board, drag) {
  const r = board.getBoundingClientRect();
  let { x, y } = drag.pointer;
  if (drag.mode === "keyboard") {
    const el = board.querySelector(".card--lifted");
    const cr = el?.getBoundingClientRect();
    if (cr) ({ x, y } = { x: cr.left + cr.width / 2, y: cr.top + cr.height / 2 });
  }
  const frac = (/** @type {number} */ v, /** @type {number} */ lo, /** @type {number} */ size) =>
    size > 0 ? Math.min(1, Math.max(0, (v - lo) / size)) : null;
  return {
    status: isStatus(drag.to.key) ? drag.to.key : null,
    index: drag.to.index,
    // Across the whole board, also the part scrolled out of view (a phone's other columns).
    x: frac(x + board.scrollLeft, r.left, board.scrollWidth),
    y: frac(y, r.top, r.height),
  };
}
