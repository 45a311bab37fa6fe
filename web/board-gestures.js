// @ts-check
/**
 * What a finger and the board's edges add to dragging a card: a touch must press and
 * hold before the card lifts (so a swipe still scrolls the board), and a drag held near
 * an edge scrolls (to the next column on a phone, further along a long column). Knows
 * nothing of tasks; the board view asks and is told through callbacks.
 */

/** How long a finger holds still before the card lifts (Trello, Linear: about as long). */
export const LONG_PRESS_MS = 350;
/** A finger that moves further than this before the hold ends is scrolling, not dragging. */
export const TOUCH_SLOP_PX = 10;
/** Width of the zone at the board's left and right edge that switches columns. */
const EDGE_PX = 32;
/** How long the pointer stays in that zone before the next column comes in... */
const EDGE_DWELL_MS = 450;
/** ...and before the one after it, once the first has slid in (smooth scroll ≈ 300 ms). */
const EDGE_REPEAT_MS = 800;
/** Height of the zones at the top and bottom of a column's list that scroll it. */
const SCROLL_ZONE_PX = 48;
/** Pixels per frame at the very edge of such a zone (less further in). */
const SCROLL_SPEED_PX = 14;

/** Press and hold on a card before a touch drag; the card shows the hold building up. */
export class LongPress {
  /** @param {HTMLElement} card  the pressed card */
  constructor(card) {
    this.card = card;
    this.armed = false;
    card.classList.add("card--pressing");
    // Once armed, a moving finger drags the card instead of scrolling: cancelling
    // touchmove keeps Chromium from claiming the gesture (it would send pointercancel).
    // The listener sits on the card because touch events keep their first target, even
    // after the board has re-rendered that card out of the document.
    this._block = (/** @type {TouchEvent} */ e) => {
      if (this.armed && e.cancelable) e.preventDefault();
    };
    card.addEventListener("touchmove", this._block, { passive: false });
    this._timer = setTimeout(() => {
      this.armed = true; // the next move lifts the card
      card.classList.replace("card--pressing", "card--armed");
      // A short buzz where the platform has one; without a tap first it is not allowed.
      if (navigator.userActivation?.hasBeenActive) navigator.vibrate?.(12);
    }, LONG_PRESS_MS);
  }

  /** True when the finger moved off before the hold ended (it means to scroll). @param {number} dx @param {number} dy */
  movedTooFar(dx, dy) {
    return !this.armed && Math.hypot(dx, dy) > TOUCH_SLOP_PX;
  }

  end() {
    clearTimeout(this._timer);
    this.card.classList.remove("card--pressing", "card--armed");
    this.card.removeEventListener("touchmove", this._block);
  }
}

/**
 * Scrolls the board while a drag is held near an edge: sideways one column at a time
 * after a short dwell, and a column's list continuously near its top or bottom.
 */
export class EdgeScroller {
  /**
   * @param {HTMLElement} board  the horizontally scrolling board
   * @param {(dir: -1 | 1) => void} step  bring the next column in that direction into view
   */
  constructor(board, step) {
    this.board = board;
    this.step = step;
    /** @type {{x: number, y: number} | null} */
    this.pointer = null;
    /** @type {-1 | 0 | 1} */
    this._dir = 0;
    this._dwell = 0;
    this._frame = 0;
  }

  /** The drag moved. @param {{x: number, y: number}} pointer  client coordinates */
  follow(pointer) {
    this.pointer = pointer;
    const dir = this._sideways(pointer.x);
    if (dir !== this._dir) {
      clearTimeout(this._dwell);
      this._dir = dir;
      if (dir) this._dwell = setTimeout(() => this._stepAgain(), EDGE_DWELL_MS);
    }
    if (!this._frame) this._frame = requestAnimationFrame(() => this._scrollList());
  }

  stop() {
    clearTimeout(this._dwell);
    cancelAnimationFrame(this._frame);
    this._frame = 0;
    this._dir = 0;
    this.pointer = null;
  }

  /** -1 or 1 in an edge zone of a board that can scroll that way, else 0. @param {number} x */
  _sideways(x) {
    const b = this.board;
    if (b.scrollWidth <= b.clientWidth + 1) return 0;
    const r = b.getBoundingClientRect();
    if (x < r.left + EDGE_PX && b.scrollLeft > 0) return -1;
    if (x > r.right - EDGE_PX && b.scrollLeft + b.clientWidth < b.scrollWidth - 1) return 1;
    return 0;
  }

  _stepAgain() {
    if (!this._dir) return;
    this.step(this._dir);
    this._dwell = setTimeout(() => this._stepAgain(), EDGE_REPEAT_MS);
  }

  /** Scroll the list under the pointer, every frame while it is near its top or bottom. */
  _scrollList() {
    this._frame = 0;
    const p = this.pointer;
    if (!p) return;
    const under = document.elementFromPoint(p.x, p.y);
    const list = /** @type {HTMLElement | null} */ (under?.closest(".column__cards") ?? null);
    if (!list || list.scrollHeight <= list.clientHeight) return;
    const r = list.getBoundingClientRect();
    const depth = p.y < r.top + SCROLL_ZONE_PX ? p.y - (r.top + SCROLL_ZONE_PX)
      : p.y > r.bottom - SCROLL_ZONE_PX ? p.y - (r.bottom - SCROLL_ZONE_PX) : 0;
    if (!depth) return; // the next move looks again
    list.scrollTop += Math.round(SCROLL_SPEED_PX * Math.max(-1, Math.min(1, depth / SCROLL_ZONE_PX)));
    this._frame = requestAnimationFrame(() => this._scrollList());
  }
}
