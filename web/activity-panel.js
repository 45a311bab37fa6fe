// @ts-check
/**
 * The activity feed on the board: who changed what, newest first, with times that keep
 * up ("2 min ago"). A side panel beside the board on wide screens (open unless closed,
 * remembered per browser), a sheet from the bottom on phones (opened by its button in
 * the header). Clicking an entry asks the page to show the card. The words come from
 * `activity.js`; this module only draws them.
 */
import { ActivityLog, relativeTime } from "./activity.js";
import { avatar, h } from "./dom.js";

/** @typedef {import("./activity.js").Entry} Entry */
/** @typedef {import("./protocol.js").EventFrame} EventFrame */

/** How often the relative times are brought up to date. */
const TICK_MS = 30_000;
const OPEN_KEY = "watercooler.activity";
/** Below this width the feed is a sheet over the board, not a panel beside it. */
const NARROW = "(max-width: 860px)";
const ICON = '<svg viewBox="0 0 20 20" width="18" height="18" aria-hidden="true"><path d="M10 3.5a6.5 6.5 0 1 1-6.2 4.6" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round"/><path d="M2.6 4.2l1.3 3.9 3.8-1.4" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round"/><path d="M10 6.5V10l2.4 1.6" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round"/></svg>';

export class ActivityPanel {
  /**
   * @param {object} o
   * @param {string | null} o.me  this browser's user (shown as "You")
   * @param {(taskId: number) => void} o.onPick  an entry was clicked
   * @param {Pick<Storage, "getItem"|"setItem"> | null} [o.storage]
   */
  constructor({ me, onPick, storage = globalThis.localStorage ?? null }) {
    this.log = new ActivityLog({ me });
    this.onPick = onPick;
    this.storage = storage;
    this.narrow = matchMedia(NARROW);
    this.open = !this.narrow.matches && storage?.getItem(OPEN_KEY) !== "closed";
    /** Entries that arrived while the feed was closed. */
    this.unseen = 0;
    /** Seqs added live since the last render: drawn with a flash. @type {Set<number>} */
    this.fresh = new Set();
    this.loading = true;
    this.list = h("ol", { class: "activity__list", "aria-live": "polite", "aria-relevant": "additions" });
    this.el = h("aside", { class: "activity", id: "activity", "data-testid": "activity", "aria-labelledby": "activity-title" },
      h("header", { class: "activity__head" },
        h("h2", { id: "activity-title", class: "activity__title" }, "Activity"),
        h("button", { type: "button", class: "icon-button", "data-testid": "activity-close", "aria-label": "Close the activity feed", onclick: () => this.setOpen(false) }, "×")),
      this.list);
    this.badge = h("span", { class: "activity-toggle__badge", "data-testid": "activity-unseen", hidden: true });
    const icon = h("span", { class: "activity-toggle__icon" });
    icon.innerHTML = ICON; // a constant: no data goes in
    this.toggle = h("button", {
      type: "button", class: "button activity-toggle", "data-testid": "activity-toggle", "aria-controls": "activity",
      onclick: () => this.setOpen(!this.open),
    }, icon, h("span", { class: "activity-toggle__label" }, "Activity"), this.badge);
    this.backdrop = h("div", { class: "activity-backdrop", hidden: true, onclick: () => this.setOpen(false) });
    this.list.addEventListener("click", (e) => {
      const item = /** @type {HTMLElement} */ (e.target).closest?.("[data-pick]");
      if (!item) return;
      if (this.narrow.matches) this.setOpen(false);
      this.onPick(Number(item.getAttribute("data-pick")));
    });
    this._onKey = (/** @type {KeyboardEvent} */ e) => { if (e.key === "Escape" && this.open && this.narrow.matches) this.setOpen(false); };
    this._onNarrow = () => this.setOpen(!this.narrow.matches && this.storage?.getItem(OPEN_KEY) !== "closed", false);
    window.addEventListener("keydown", this._onKey);
    this.narrow.addEventListener("change", this._onNarrow);
    this._tick = setInterval(() => this.render(), TICK_MS);
    this.setOpen(this.open, false);
  }

  /** @param {boolean} open @param {boolean} [remember]  a person's choice (kept on wide screens) */
  setOpen(open, remember = true) {
    this.open = open;
    const sheet = open && this.narrow.matches;
    this.el.hidden = !open;
    this.el.classList.toggle("activity--sheet", sheet);
    this.backdrop.hidden = !sheet;
    this.toggle.setAttribute("aria-expanded", String(open));
    this.toggle.classList.toggle("activity-toggle--on", open);
    this.el.closest(".board-area")?.classList.toggle("board-area--feed", open && !this.narrow.matches);
    if (remember && !this.narrow.matches) this.storage?.setItem(OPEN_KEY, open ? "open" : "closed");
    if (open) this.unseen = 0;
    this.render();
  }

  /** What the board holds now (after a load or a reload). @param {Iterable<Record<string, any>>} tasks @param {Record<string, any> | null} sprint */
  seed(tasks, sprint) {
    this.log.seed(tasks, sprint);
  }

  /** The latest events before the board's state, from the log. @param {EventFrame[]} events */
  history(events) {
    this.loading = false;
    this.log.history(events);
    this.render();
  }

  /** An event just applied to the board (live, or caught up from the log). @param {EventFrame} event */
  add(event) {
    const entry = this.log.add(event, Date.now());
    if (!entry) return;
    this.fresh.add(entry.seq);
    if (!this.open) this.unseen += 1;
    this.render();
  }

  render() {
    const now = Date.now();
    const entries = this.log.entries.map((e) => this._entry(e, now));
    const empty = this.loading ? "Loading…" : "No changes yet. What people do on this board shows up here.";
    this.list.replaceChildren(...(entries.length ? entries : [h("li", { class: "activity__empty" }, empty)]));
    this.fresh.clear();
    this.badge.hidden = this.open || this.unseen === 0;
    this.badge.textContent = this.unseen > 99 ? "99+" : String(this.unseen);
    this.toggle.setAttribute("aria-label", this.unseen && !this.open ? `Activity, ${this.unseen} new` : "Activity");
  }

  /** @param {Entry} e @param {number} now */
  _entry(e, now) {
    const text = h("span", { class: "activity__text" }, h("b", null, e.actor), " ",
      ...e.parts.map((p) => (p.em ? h("em", null, p.text) : p.text)));
    const when = relativeTime(e.at, now);
    const time = h("time", { class: "activity__time", datetime: new Date(e.at).toISOString(), title: new Date(e.at).toLocaleString() }, when);
    const who = e.system ? h("span", { class: "avatar avatar--system", "aria-hidden": "true" }, "⚙") : avatar(e.self ? "You" : e.actor);
    const body = e.taskId === null
      ? h("div", { class: "activity__item" }, who, text, time)
      : h("button", { type: "button", class: "activity__item", "data-pick": e.taskId, title: "Show the card", "aria-label": `${e.text}, ${when}. Show the card.` }, who, text, time);
    return h("li", {
      class: `activity__entry${this.fresh.has(e.seq) ? " activity__entry--new" : ""}`, "data-testid": "activity-entry",
      "data-seq": e.seq, "data-task-id": e.taskId ?? undefined,
    }, body);
  }

  destroy() {
    clearInterval(this._tick);
    window.removeEventListener("keydown", this._onKey);
    this.narrow.removeEventListener("change", this._onNarrow);
  }
}
