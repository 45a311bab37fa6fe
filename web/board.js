// @ts-check
/**
 * The board view: its state (tasks, ghosts, the drag in progress), rendering it, and moving
 * cards with the pointer (pointer events, not HTML5 drag and drop; a finger presses and
 * holds first). It owns no data: the page hands it tasks and ghosts, and hears about drags
 * and drops through callbacks. On a phone one column is in view at a time, with tabs.
 * Elsewhere: what the elements look like (board-render.js), where a point is on the board
 * (board-geometry.js), the keyboard's moves (board-keys.js), long press and edge scrolling
 * (board-gestures.js), the columns' order and pending drops (board-model.js).
 */
import { dragWhere, slotAt } from "./board-geometry.js";
import { EdgeScroller, LongPress } from "./board-gestures.js";
import { onBoardKeyDown } from "./board-keys.js";
import { COLUMNS, columnsOf } from "./board-model.js";
import { cardElement, columnElement, ghostElement } from "./board-render.js";
import { ColumnSwitcher, columnInView, scrollToColumn } from "./column-switcher.js";
import { h } from "./dom.js";

/** @typedef {import("./api.js").Task} Task */
/** @typedef {import("./board-model.js").ColumnKey} ColumnKey */
/** @typedef {import("./drag.js").Ghost} Ghost */
/** @typedef {import("./board-model.js").Placement} Placement */
/** @typedef {import("./board-geometry.js").Slot} Slot */
/** @typedef {import("./board-geometry.js").Where} Where */
/**
 * @typedef {object} BoardCallbacks
 * @property {(phase: "start"|"move"|"end", task: number, where: Where) => void} onDrag
 * @property {(task: Task, to: Slot, from: Slot) => void} onDrop
 * @property {(task: Task) => void} onOpen
 * @property {(peer: string) => string} nameOf  username for a peer id
 * @property {(message: string) => void} announce  for screen readers
 */

/**
 * @typedef {object} LocalDrag
 * @property {Task} task
 * @property {Slot} from
 * @property {Slot} to
 * @property {"pointer"|"keyboard"} mode
 * @property {HTMLElement | null} preview  the card under the pointer
 * @property {{x: number, y: number}} pointer  client coordinates
 * @property {{dx: number, dy: number}} grab  offset of the pointer inside the card
 */

const DRAG_THRESHOLD_PX = 4;
/** How long a card pointed at from the activity feed glows. */
const HIGHLIGHT_MS = 2600;

export class BoardView {
  /**
   * @param {HTMLElement} root  an empty element the board renders into
   * @param {BoardCallbacks} callbacks
   * @param {{sprintEnded?: boolean}} [options]
   */
  constructor(root, callbacks, options = {}) {
    this.root = root;
    this.cb = callbacks;
    this.options = options;
    /** @type {Task[]} */
    this.tasks = [];
    /** @type {Task[]} */
    this.backlog = [];
    /** @type {Ghost[]} */
    this.ghosts = [];
    /** Drops not answered yet, shown where they were dropped. @type {ReadonlyMap<number, Placement>} */
    this.pending = new Map();
    /** @type {LocalDrag | null} */
    this.drag = null;
    /** `hold`: a finger's press and hold, until the card may move. @type {{task: Task, x: number, y: number, el: HTMLElement, pointerId: number, hold: LongPress | null} | null} */
    this.pressed = null;
    this._frame = 0;
    this._moveDirty = false;
    /** The card pointed at from the activity feed, until its highlight fades. @type {number | null} */
    this.highlighted = null;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this._highlightTimer = undefined;
    this.board = h("div", { class: "board", "data-testid": "board", role: "list", "aria-label": "Sprint board" });
    this.switcher = new ColumnSwitcher((key) => scrollToColumn(this.board, key));
    this.scroller = new EdgeScroller(this.board, (dir) => scrollToColumn(this.board, COLUMNS[columnInView(this.board) + dir]?.key));
    this._scrollFrame = 0;
    this.root.replaceChildren(this.switcher.el, this.board);
    this._onPointerMove = this._onPointerMove.bind(this);
    this._onPointerUp = this._onPointerUp.bind(this);
    this._onPointerCancel = () => this._cancel();
    this._onKeyDownWindow = (/** @type {KeyboardEvent} */ e) => {
      if (e.key === "Escape" && this.drag?.mode === "pointer") this._cancel();
    };
    this.board.addEventListener("pointerdown", (e) => this._onPointerDown(e));
    this.board.addEventListener("keydown", (e) => onBoardKeyDown(this, e));
    // Capture: scroll events of the columns' lists do not bubble.
    this.board.addEventListener("scroll", () => this._onScroll(), { capture: true, passive: true });
    // A long press is ours, not the browser's menu.
    this.board.addEventListener("contextmenu", (e) => { if (this.pressed?.hold || this.drag) e.preventDefault(); });
    window.addEventListener("keydown", this._onKeyDownWindow);
  }

  destroy() {
    clearTimeout(this._highlightTimer);
    this._cancel();
    this._unlisten();
    window.removeEventListener("keydown", this._onKeyDownWindow);
    this.root.replaceChildren();
  }

  /** @param {{tasks?: Task[], backlog?: Task[], pending?: ReadonlyMap<number, Placement>, ghosts?: Ghost[]}} data */
  update(data) {
    if (data.tasks) this.tasks = data.tasks;
    if (data.backlog) this.backlog = data.backlog;
    if (data.pending) this.pending = data.pending;
    if (data.ghosts) this.ghosts = data.ghosts;
    if (this.drag && !this._find(this.drag.task.id)) this._cancel(false); // deleted under us
    this.render();
  }

  /**
   * Point at a card (an activity entry was clicked): scroll it into view, its column too
   * on a phone, and make it glow for a moment. False if the board has no such card.
   * @param {number} id
   */
  highlight(id) {
    if (!this._find(id)) return false;
    clearTimeout(this._highlightTimer);
    this.highlighted = id;
    this.render();
    const el = this.board.querySelector(`.card[data-task-id="${id}"]`);
    const list = el?.closest(".column__cards");
    if (el && list) {
      // The column into view (a phone shows one at a time), then the card within it.
      scrollToColumn(this.board, /** @type {ColumnKey} */ (list.getAttribute("data-column")));
      const card = el.getBoundingClientRect();
      const top = list.scrollTop + card.top - list.getBoundingClientRect().top - (list.clientHeight - card.height) / 2;
      const smooth = !matchMedia("(prefers-reduced-motion: reduce)").matches;
      list.scrollTo({ top: Math.max(0, top), behavior: smooth ? "smooth" : "auto" });
    }
    this._highlightTimer = setTimeout(() => {
      this.highlighted = null;
      this.board.querySelector(".card--highlight")?.classList.remove("card--highlight");
    }, HIGHLIGHT_MS);
    return true;
  }

  /** @param {number} id */
  _find(id) {
    return this.tasks.find((t) => t.id === id) ?? this.backlog.find((t) => t.id === id) ?? null;
  }

  // --- rendering ------------------------------------------------------------------------

  render() {
    const focusedId = /** @type {HTMLElement | null} */ (document.activeElement)?.closest?.("[data-task-id]")?.getAttribute("data-task-id");
    const cols = this._columns();
    const d = this.drag;
    if (d) {
      for (const k of /** @type {ColumnKey[]} */ (Object.keys(cols))) cols[k] = cols[k].filter((t) => t.id !== d.task.id);
    }
    const columns = COLUMNS.map(({ key, title }) => {
      const cards = cols[key].map((t) => this._card(t));
      if (d && d.to.key === key) {
        cards.splice(Math.min(d.to.index, cards.length), 0, this._card(d.task, true));
      }
      for (const g of this.ghosts) {
        if (g.status !== key) continue;
        const el = this._ghost(g);
        if (el) cards.splice(Math.min(g.index ?? cards.length, cards.length), 0, el);
      }
      const count = cols[key].length + (d && d.to.key === key ? 1 : 0);
      return columnElement(key, title, count, cards);
    });
    const floating = this.ghosts.filter((g) => !g.status && g.x !== null && g.y !== null).map((g) => this._ghost(g, true));
    // Re-rendered lists would start at the top again: keep where each was scrolled to.
    const scrolled = new Map([...this.board.querySelectorAll(".column__cards")].map((el) => [el.getAttribute("data-column"), el.scrollTop]));
    this.board.replaceChildren(...columns, ...floating.filter(Boolean));
    for (const el of this.board.querySelectorAll(".column__cards")) el.scrollTop = scrolled.get(el.getAttribute("data-column")) ?? 0;
    this.switcher.update(COLUMNS.map(({ key, title }) => ({ key, title, count: cols[key].length + (d && d.to.key === key ? 1 : 0) })));
    if (!this.switcher.active) this.switcher.setActive(COLUMNS[columnInView(this.board)].key);
    this.board.classList.toggle("board--dragging", Boolean(d));
    if (focusedId) {
      // A keyboard move scrolls to the card; under a pointer that would pull the board along.
      /** @type {HTMLElement | null} */ (this.board.querySelector(`.card[data-task-id="${focusedId}"]`))?.focus({ preventScroll: d?.mode === "pointer" });
    }
  }

  /** The columns as shown: sorted, with unanswered drops where they were dropped. */
  _columns() {
    return columnsOf(this.tasks, this.backlog, this.pending);
  }

  /** @param {Task} t @param {boolean} [lifted] */
  _card(t, lifted = false) {
    // Someone else is dragging this card right now (maybe while we do): say who, on the card.
    const holders = [...new Set(this.ghosts.filter((g) => g.task === t.id).map((g) => this.cb.nameOf(g.peer)))];
    return cardElement(t, {
      lifted, keyboard: lifted && this.drag?.mode === "keyboard", holders, highlighted: this.highlighted === t.id,
    });
  }

  /** @param {Ghost} g @param {boolean} [floating] */
  _ghost(g, floating = false) {
    return ghostElement(g, this._find(g.task), this.cb.nameOf(g.peer), floating);
  }

  // --- pointer dragging -----------------------------------------------------------------

  /** @param {PointerEvent} e */
  _onPointerDown(e) {
    if (e.button !== 0 || this.drag) return;
    const target = /** @type {HTMLElement} */ (e.target);
    const cardEl = /** @type {HTMLElement | null} */ (target.closest(".card"));
    if (!cardEl) return;
    const task = this._find(Number(cardEl.dataset.taskId));
    if (!task) return;
    if (target.closest("[data-action=edit]")) {
      e.preventDefault();
      this.cb.onOpen(task);
      return;
    }
    e.preventDefault(); // no text selection while dragging
    cardEl.focus({ preventScroll: true });
    // A finger holds first: moving off sooner is a swipe, which scrolls (touch-action).
    const hold = e.pointerType === "touch" ? new LongPress(cardEl) : null;
    this.pressed = { task, x: e.clientX, y: e.clientY, el: cardEl, pointerId: e.pointerId, hold };
    window.addEventListener("pointermove", this._onPointerMove);
    window.addEventListener("pointerup", this._onPointerUp);
    window.addEventListener("pointercancel", this._onPointerCancel);
  }

  _unlisten() {
    this.pressed?.hold?.end();
    window.removeEventListener("pointermove", this._onPointerMove);
    window.removeEventListener("pointerup", this._onPointerUp);
    window.removeEventListener("pointercancel", this._onPointerCancel);
  }

  /** @param {PointerEvent} e */
  _onPointerMove(e) {
    const p = this.pressed;
    if (!this.drag && p) {
      const dx = e.clientX - p.x;
      const dy = e.clientY - p.y;
      if (p.hold?.movedTooFar(dx, dy)) {
        this._cancel(); // a swipe: the browser scrolls
        return;
      }
      if (p.hold ? !p.hold.armed : Math.hypot(dx, dy) < DRAG_THRESHOLD_PX) return;
      this._startPointerDrag(p, e);
    }
    const d = this.drag;
    if (!d || d.mode !== "pointer") return;
    d.pointer = { x: e.clientX, y: e.clientY };
    this._placePreview();
    this.scroller.follow(d.pointer);
    this._retarget();
  }

  /** Put the placeholder where the pointer is now, and tell the others. */
  _retarget() {
    const d = /** @type {LocalDrag} */ (this.drag);
    const to = slotAt(this.board, d.pointer.x, d.pointer.y) ?? d.to;
    if (to.key !== d.to.key || to.index !== d.to.index) {
      d.to = to;
      this.render();
    }
    this._scheduleMove();
  }

  /** @param {{task: Task, x: number, y: number, el: HTMLElement}} p @param {PointerEvent} e */
  _startPointerDrag(p, e) {
    const rect = p.el.getBoundingClientRect();
    const from = this._slotOf(p.task);
    const preview = /** @type {HTMLElement} */ (p.el.cloneNode(true));
    preview.removeAttribute("data-task-id");
    preview.removeAttribute("data-testid");
    preview.setAttribute("aria-hidden", "true");
    preview.classList.add("card--preview");
    preview.style.width = `${rect.width}px`;
    document.body.append(preview);
    this.drag = {
      task: p.task, from, to: from, mode: "pointer", preview,
      pointer: { x: e.clientX, y: e.clientY }, grab: { dx: p.x - rect.left, dy: p.y - rect.top },
    };
    this._placePreview();
    this.render();
    this.cb.onDrag("start", p.task.id, this._where());
  }

  _placePreview() {
    const d = this.drag;
    if (!d?.preview) return;
    d.preview.style.transform = `translate(${d.pointer.x - d.grab.dx}px, ${d.pointer.y - d.grab.dy}px) rotate(2deg)`;
  }

  /** Moves go out at most once per animation frame (≤ 60 Hz), latest position wins. */
  _scheduleMove() {
    this._moveDirty = true;
    if (this._frame) return;
    this._frame = requestAnimationFrame(() => {
      this._frame = 0;
      if (!this._moveDirty || !this.drag) return;
      this._moveDirty = false;
      this.cb.onDrag("move", this.drag.task.id, this._where());
    });
  }

  /** @param {PointerEvent} e */
  _onPointerUp(e) {
    this._unlisten();
    const p = this.pressed;
    this.pressed = null;
    if (!this.drag) {
      // A press without movement is a click: open the task (a finger's hold is not).
      if (p && !p.hold?.armed && e.target instanceof Element && e.target.closest(".card") && !e.target.closest("[data-action]")) this.cb.onOpen(p.task);
      return;
    }
    const to = slotAt(this.board, e.clientX, e.clientY) ?? this.drag.to;
    this.drag.to = to;
    this._drop();
  }

  /** @param {Task} task @returns {Slot} */
  _slotOf(task) {
    const cols = this._columns();
    for (const { key } of COLUMNS) {
      const i = cols[key].findIndex((t) => t.id === task.id);
      if (i >= 0) return { key, index: i };
    }
    return { key: "backlog", index: 0 };
  }

  /** What the drag frames say about the drag in progress. */
  _where() {
    return dragWhere(this.board, /** @type {LocalDrag} */ (this.drag));
  }

  _drop() {
    const d = this.drag;
    if (!d) return;
    const where = this._where();
    this._clearDrag();
    this.cb.onDrag("end", d.task.id, where);
    if (d.to.key !== d.from.key || d.to.index !== d.from.index) this.cb.onDrop(d.task, d.to, d.from);
    else this.render();
    this._focusCard(d.task.id);
  }

  /** Put the card back where it was. @param {boolean} [announce] */
  _cancel(announce = true) {
    this._unlisten();
    this.pressed = null;
    const d = this.drag;
    if (!d) return;
    d.to = d.from;
    const where = this._where();
    this._clearDrag();
    this.cb.onDrag("end", d.task.id, where);
    this.render();
    this._focusCard(d.task.id);
    if (announce) this.cb.announce(`Move of ${d.task.name} cancelled.`);
  }

  _clearDrag() {
    this.scroller.stop();
    if (this._frame) cancelAnimationFrame(this._frame);
    this._frame = 0;
    this.drag?.preview?.remove();
    this.drag = null;
  }

  /** @param {number} id */
  _focusCard(id) {
    /** @type {HTMLElement | null} */ (this.board.querySelector(`.card[data-task-id="${id}"]`))?.focus({ preventScroll: true });
  }

  /** The board or a list scrolled: mark the tab in view; a drag aims at what is now under it. */
  _onScroll() {
    if (this._scrollFrame) return;
    this._scrollFrame = requestAnimationFrame(() => {
      this._scrollFrame = 0;
      const key = COLUMNS[columnInView(this.board)]?.key;
      if (key) this.switcher.setActive(key);
      if (this.drag?.mode === "pointer") this._retarget();
    });
  }
}
