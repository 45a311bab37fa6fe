// @ts-check
/**
 * The column tabs of the phone layout: one tab per column with its name and card count,
 * the column in view marked, a tap brings that column in. Hidden by CSS on wide screens,
 * where every column is in view at once. Also which column is in view, and scrolling one in.
 */
import { h } from "./dom.js";

/** @typedef {import("./board-model.js").ColumnKey} ColumnKey */
/** @typedef {{key: ColumnKey, title: string, count: number}} ColumnTab */

export class ColumnSwitcher {
  /** @param {(key: ColumnKey) => void} onPick  a tab was tapped */
  constructor(onPick) {
    /** @type {ColumnKey | null} */
    this.active = null;
    this.el = h("nav", { class: "column-tabs", "aria-label": "Columns", "data-testid": "column-tabs" });
    this.el.addEventListener("click", (e) => {
      const tab = /** @type {HTMLElement} */ (e.target).closest?.("[data-column-tab]");
      if (tab) onPick(/** @type {ColumnKey} */ (tab.getAttribute("data-column-tab")));
    });
  }

  /** @param {ColumnTab[]} tabs */
  update(tabs) {
    this.el.replaceChildren(...tabs.map(({ key, title, count }) =>
      h("button", {
        type: "button", class: `column-tab column-tab--${key}`, "data-column-tab": key, "data-testid": "column-tab",
        "aria-label": `${title}, ${count} ${count === 1 ? "task" : "tasks"}`,
        "aria-current": key === this.active ? "true" : "false",
      }, h("span", { class: "column-tab__count" }, String(count)), h("span", { class: "column-tab__title" }, title))));
  }

  /** Mark the column in view. @param {ColumnKey} key */
  setActive(key) {
    if (key === this.active) return;
    this.active = key;
    for (const tab of this.el.querySelectorAll("[data-column-tab]")) {
      const current = tab.getAttribute("data-column-tab") === key;
      tab.setAttribute("aria-current", current ? "true" : "false");
      if (current) /** @type {HTMLElement} */ (tab).scrollIntoView?.({ block: "nearest", inline: "nearest" });
    }
  }
}

/**
 * Bring a column of the board into view (a tab was tapped, a drag waited at the edge).
 * @param {HTMLElement} board @param {ColumnKey | undefined} key
 */
export function scrollToColumn(board, key) {
  const col = board.querySelector(`.column[data-status="${key}"]`);
  const smooth = !matchMedia("(prefers-reduced-motion: reduce)").matches;
  col?.scrollIntoView({ behavior: smooth ? "smooth" : "auto", inline: "start", block: "nearest" });
}

/** Index of the column nearest the board's left edge: the one in view on a phone. @param {HTMLElement} board */
export function columnInView(board) {
  const left = board.getBoundingClientRect().left;
  const dist = [...board.querySelectorAll(".column")].map((c) => Math.abs(c.getBoundingClientRect().left - left));
  return Math.max(0, dist.indexOf(Math.min(...dist)));
}
