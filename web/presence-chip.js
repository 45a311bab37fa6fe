// @ts-check
/**
 * Who else is here (docs/protocol.md §3, protocol version 2): as many avatars as the header
 * has room for, "+N" for everyone else in the sprint, and behind "+N" the full list, fetched
 * from the server a page at a time (`peers` requests) as the person scrolls to its end.
 */
import { avatar, h } from "./dom.js";

/** @typedef {import("./protocol.js").PeerUser} PeerUser */
/** @typedef {import("./protocol.js").PeersFrame} PeersFrame */
/** @typedef {"p2p"|"relay"|"connecting"} LinkKind */

const LINK_LABELS = { p2p: "peer-to-peer", relay: "relayed", connecting: "connecting…" };
/** Past this many others, the header shows avatars only (names in their titles). */
const COMPACT_AFTER = 4;
/** How long to wait for the server's answer to one page request. */
const PAGE_TIMEOUT_MS = 5000;

export class PresenceChip {
  /**
   * @param {object} o
   * @param {(after: string | null) => boolean} o.requestPage  sends a `peers` request; false if not connected
   * @param {(peer: string) => LinkKind} o.linkKind
   * @param {() => string | null} o.self  our own peer id (the list marks it)
   */
  constructor({ requestPage, linkKind, self }) {
    this.requestPage = requestPage;
    this.linkKind = linkKind;
    this.self = self;
    this.list = h("ul", { class: "presence", "data-testid": "presence-list", "aria-label": "Also here" });
    this.more = /** @type {HTMLButtonElement} */ (h("button", {
      class: "presence__more", type: "button", "data-testid": "presence-more", hidden: true,
      onclick: () => this.openList(),
    }));
    this.el = h("div", { class: "presence-chip" }, this.list, this.more);
    /** @type {{resolve: (f: PeersFrame) => void, reject: (e: Error) => void} | null} */
    this._pending = null;
    /** @type {HTMLDialogElement | null} */
    this.dialog = null;
  }

  /**
   * @param {Map<string, PeerUser>} others the other peers we see (the sprint's first 50)
   * @param {number} count every peer of the sprint, us included (0 while disconnected)
   */
  render(others, count) {
    const entries = [...others].map(([peer, user]) => {
      const link = this.linkKind(peer);
      return h("li", { class: "presence__entry", "data-testid": "presence", "data-peer-id": peer, "data-username": user.username },
        avatar(user.username, `${user.username} (${LINK_LABELS[link]})`),
        h("span", { class: "presence__name" }, user.username),
        h("span", { class: `peer-link peer-link--${link}`, "data-testid": "peer-link", "data-peer-id": peer, "data-link": link, title: LINK_LABELS[link] }, LINK_LABELS[link]));
    });
    const everyone = Math.max(count - 1, others.size);
    this.list.classList.toggle("presence--compact", everyone > COMPACT_AFTER);
    this.list.replaceChildren(...(entries.length ? entries : [h("li", { class: "presence__alone" }, "Only you here")]));
    this._fit(entries, everyone);
  }

  /**
   * Drop avatars from the end while the list is wider than its room; "+N" says how many
   * of the sprint are not shown (those past the first 50 included).
   * @param {HTMLElement[]} entries @param {number} everyone
   */
  _fit(entries, everyone) {
    let shown = entries.length;
    const update = () => {
      const hidden = everyone - shown;
      this.more.hidden = hidden <= 0;
      this.more.textContent = `+${hidden}`;
      this.more.title = `${hidden} more here: show everyone`;
      this.more.setAttribute("aria-label", `${hidden} more people here: show everyone`);
    };
    update();
    // Layout is read only when there is something to measure (not in a detached page).
    while (shown > 1 && this.list.isConnected && this.list.scrollWidth > this.list.clientWidth + 1) {
      entries[--shown].remove();
      update();
    }
  }

  /** A `peers` frame from the server: the answer to the page we asked for. @param {PeersFrame} frame */
  onPage(frame) {
    const pending = this._pending;
    this._pending = null;
    pending?.resolve(frame);
  }

  /** The page asked for will never come (the server refused it, or the connection is gone). @param {string} why */
  fail(why) {
    const pending = this._pending;
    this._pending = null;
    pending?.reject(new Error(why));
  }

  /** @param {string | null} after @returns {Promise<PeersFrame>} */
  _page(after) {
    if (this._pending) return Promise.reject(new Error("a page is on its way"));
    return new Promise((resolve, reject) => {
      if (!this.requestPage(after)) {
        reject(new Error("not connected"));
        return;
      }
      const timer = setTimeout(() => {
        if (this._pending?.resolve === done) this._pending = null;
        reject(new Error("no answer"));
      }, PAGE_TIMEOUT_MS);
      /** @param {PeersFrame} f */
      const done = (f) => {
        clearTimeout(timer);
        resolve(f);
      };
      this._pending = { resolve: done, reject: (e) => { clearTimeout(timer); reject(e); } };
    });
  }

  /** "+N": everyone in the sprint, in a dialog, loaded page by page while scrolling. */
  openList() {
    this.dialog?.close();
    const items = h("ul", { class: "peer-list__items", "data-testid": "peer-list-items" });
    const status = h("p", { class: "peer-list__status", role: "status" }, "Loading…");
    const title = h("h2", { class: "dialog__title" }, "Everyone here");
    const close = h("button", { class: "button", type: "submit" }, "Close");
    const body = h("form", { class: "dialog__form peer-list", method: "dialog" }, title, items, status,
      h("div", { class: "dialog__actions" }, close));
    const dialog = /** @type {HTMLDialogElement} */ (h("dialog", { class: "dialog", "data-testid": "peer-list", "aria-label": "Everyone here" }, body));
    this.dialog = dialog;
    document.body.append(dialog);
    dialog.addEventListener("close", () => {
      dialog.remove();
      if (this.dialog === dialog) this.dialog = null;
    });
    dialog.showModal();
    /** @type {string | null | undefined} undefined: nothing loaded yet; null: all loaded */
    let next;
    let loading = false;
    const load = async () => {
      if (loading || next === null || !dialog.open) return;
      loading = true;
      try {
        const page = await this._page(next ?? null);
        next = page.next;
        title.textContent = `Everyone here (${page.count})`;
        items.append(...page.peers.map((p) => h("li", { class: "peer-list__item", "data-testid": "peer-list-item", "data-peer-id": p.peer, "data-username": p.user.username },
          avatar(p.user.username, p.user.username), h("span", null, p.user.username),
          p.peer === this.self() ? h("span", { class: "peer-list__you" }, "(you)") : null)));
        status.textContent = next === null ? "" : "Scroll for more";
      } catch (err) {
        status.textContent = `Could not load the list (${/** @type {Error} */ (err).message}).`;
        next = next ?? null;
      } finally {
        loading = false;
      }
      // Fill the dialog: load on while its end is in view.
      if (next && items.scrollHeight <= items.clientHeight + 40) setTimeout(load, 120);
    };
    items.addEventListener("scroll", () => {
      if (items.scrollTop + items.clientHeight >= items.scrollHeight - 40) load();
    });
    load();
  }
}
