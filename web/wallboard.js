// @ts-check
/**
 * The wallboard (`#/sprints/<id>/wall`): a large-type, read-only board for a team screen.
 * Loaded over REST, kept live by the sprint's Server-Sent Events stream only (sse-stream.js:
 * no websocket, no WebRTC), with events applied once and in order by event-stream.js's
 * EventStream (a gap or a `resync` is caught up from the REST event log, a refetch when the
 * log cannot help). Shows the sprint's four columns with their counts, how much is done, and
 * how many people have the board open.
 */
import { applyEvent, catchUpFromLog, EventStream } from "./event-stream.js";
import { avatar, h } from "./dom.js";
import { COLUMNS, isoDate, sortTasks } from "./board-model.js";
import { SseStream } from "./sse-stream.js";

/** @typedef {import("./api.js").Api} Api */
/** @typedef {import("./api.js").Task} Task */
/** @typedef {import("./sse-stream.js").StreamState} StreamState */

const WALL_COLUMNS = COLUMNS.filter((c) => c.key !== "backlog");
/** @type {Record<StreamState, string>} */
const STATE_LABELS = { connecting: "Connecting…", live: "Live", reconnecting: "Reconnecting…", offline: "Offline" };

export class Wallboard {
  /** @param {{root: HTMLElement, api: Api, sprintId: number, showError: (m: string) => void}} options */
  constructor({ root, api, sprintId, showError }) {
    this.root = root;
    this.api = api;
    this.sprintId = sprintId;
    this.showError = showError;
    this.destroyed = false;
    /** @type {import("./event-stream.js").BoardState} */
    this.state = { sprint: null, tasks: new Map(), backlog: new Map() };
    /** task id -> what its card showed, to mark the cards that changed. @type {Map<number, string> | null} */
    this.shown = null;
    /** peer id -> username, from the stream's presence. @type {Map<string, string>} */
    this.presence = new Map();
    /** Everyone on the board (the stream's presence `count`; the map holds the first 50). */
    this.count = 0;
    this.stream = new EventStream({
      apply: (event) => {
        this.sse.last = Math.max(this.sse.last ?? 0, event.seq);
        if (applyEvent(this.state, event)) this.render();
      },
      // No resume message on a read-only stream: reopen it after the last applied seq.
      resume: (since) => this.sse.restart(since),
      catchUp: (since) => this.catchUp(since),
      refetch: () => this.refetch(),
    });
    this.sse = new SseStream({
      getTicket: () => api.realtimeTicket(sprintId),
      onEvent: (frame) => this.stream.onEvent(frame),
      onResync: (frame) => this.stream.onResync(frame.latest ?? null),
      onPresence: (frame) => this.onPresence(frame),
      onState: () => this.renderStatus(),
    });
    this.title = h("h1", { class: "wall__title", "data-testid": "wall-sprint-name" }, "Loading…");
    this.meta = h("p", { class: "wall__meta" });
    this.status = h("span", { class: "connection wall__status", "data-testid": "wall-connection", role: "status" });
    this.people = h("span", { class: "wall__people", "data-testid": "wall-presence" });
    this.progress = h("div", { class: "wall__progress", "aria-hidden": "true" }, h("span", { class: "wall__progress-bar" }));
    this.columns = h("div", { class: "wall__columns", "data-testid": "wall-columns" });
    root.replaceChildren(
      h("header", { class: "wall__head" },
        h("div", { class: "wall__heading" }, this.title, this.meta),
        h("div", { class: "wall__side" }, this.people, this.status,
          h("a", { class: "button button--ghost wall__exit", href: `#/sprints/${sprintId}` }, "Board"))),
      this.progress, this.columns);
    document.body.classList.add("wall-mode");
    this.renderStatus();
  }

  async start() {
    try {
      const [sprint, tasks] = await Promise.all([this.api.sprint(this.sprintId), this.api.tasks(this.sprintId)]);
      if (this.destroyed) return;
      this._setData(sprint, tasks);
      this.stream.reset(sprint.seq);
      this.render();
      this.sse.start(sprint.seq ?? 0);
    } catch (err) {
      if (this.destroyed) return;
      this.title.textContent = "Could not load the sprint";
      this.meta.textContent = /** @type {Error} */ (err).message;
    }
  }

  /** @param {any} sprint @param {Task[]} tasks */
  _setData(sprint, tasks) {
    this.state.sprint = sprint;
    this.state.tasks = new Map(tasks.map((t) => [t.id, t]));
  }

  /** After `resync` or a gap: the REST event log after `since`. @param {number} since */
  catchUp(since) {
    return catchUpFromLog(this.api.eventLog(this.sprintId, since), this.stream, () => this.destroyed);
  }


  async refetch() {
    try {
      const [sprint, tasks] = await Promise.all([this.api.sprint(this.sprintId), this.api.tasks(this.sprintId)]);
      if (this.destroyed) return;
      this._setData(sprint, tasks);
      this.stream.reset(sprint.seq);
      this.sse.restart(sprint.seq ?? 0);
      this.render();
    } catch (err) {
      this.stream.refetchFailed();
      this.showError(`Could not refresh the wallboard: ${/** @type {Error} */ (err).message}`);
    }
  }

  /**
   * The stream's presence (docs/protocol.md §10): a snapshot of the sprint's first peers and
   * the count, then `presence` frames with who joined and left among them and the count.
   * @param {any} frame
   */
  onPresence(frame) {
    if (frame.type !== "presence") return;
    if (Array.isArray(frame.peers)) this.presence = new Map();
    for (const p of [...(frame.peers ?? []), ...(frame.joined ?? [])]) this.presence.set(p.peer, p.user?.username ?? "?");
    for (const peer of frame.left ?? []) this.presence.delete(peer);
    if (Number.isInteger(frame.count)) this.count = frame.count;
    this.renderStatus();
  }

  renderStatus() {
    const state = this.sse.state;
    this.status.dataset.state = state;
    this.status.replaceChildren(h("span", { class: "connection__dot", "aria-hidden": "true" }), STATE_LABELS[state]);
    const names = [...new Set(this.presence.values())];
    const n = Math.max(this.count, names.length);
    this.people.dataset.count = String(n);
    this.people.title = names.join(", ");
    const text = n === 0 ? "Nobody on the board" : n === 1 ? "1 person on the board" : `${n} people on the board`;
    this.people.replaceChildren(...(n ? [h("span", { class: "wall__avatars", "aria-hidden": "true" }, ...names.slice(0, 4).map((name) => avatar(name)))] : []), text);
  }

  render() {
    const s = this.state.sprint;
    if (!s) {
      this.title.textContent = "Sprint deleted";
      this.meta.textContent = "";
      this.columns.replaceChildren();
      return;
    }
    this.title.textContent = s.name;
    document.title = `${s.name} · Wallboard · Watercooler`;
    const tasks = [...this.state.tasks.values()];
    const done = tasks.filter((t) => t.status === "done").length;
    const ended = s.end < isoDate();
    this.meta.textContent = `${ended ? "Ended" : "Ends"} ${s.end} · ${done} of ${tasks.length} done`;
    this.progress.style.setProperty("--done", tasks.length ? String(done / tasks.length) : "0");
    const before = this.shown;
    this.shown = new Map(tasks.map((t) => [t.id, `${t.status}\n${t.name}\n${t.assigned ?? ""}`]));
    const changed = (/** @type {Task} */ t) => before !== null && before.get(t.id) !== this.shown?.get(t.id);
    this.columns.replaceChildren(...WALL_COLUMNS.map(({ key, title }) => {
      const cards = sortTasks(tasks.filter((t) => t.status === key));
      return h("section", { class: `wall-column column--${key}`, "data-testid": `wall-column-${key}`, "aria-label": title },
        h("h2", { class: "wall-column__head" },
          h("span", { class: "wall-column__title" }, title),
          h("span", { class: "wall-column__count", "data-testid": "wall-count" }, String(cards.length))),
        h("ol", { class: "wall-column__cards" }, ...cards.map((t) => card(t, changed(t)))));
    }));
  }

  destroy() {
    this.destroyed = true;
    this.sse.stop();
    document.body.classList.remove("wall-mode");
  }

  /** For tests (window.watercooler). */
  debug() {
    return { sprint: this.sprintId, state: this.sse.state, shouldConnect: this.sse.shouldConnect, peer: null,
      lastSeq: this.stream.last, peers: [...this.presence].map(([peer, username]) => ({ peer, username, link: "sse" })),
      ghosts: [], tasks: this.state.tasks.size };
  }
}

/** One big card, lit up a moment when it `changed`. @param {Task} t @param {boolean} changed */
function card(t, changed) {
  const who = t.assigned ?? null;
  return h("li", { class: `wall-card${changed ? " wall-card--changed" : ""}`, "data-testid": "wall-card", "data-task-id": t.id },
    h("span", { class: "wall-card__name" }, t.name),
    who ? h("span", { class: "wall-card__who" }, avatar(who), who) : null);
}

const SCREEN_ICON = '<svg viewBox="0 0 20 20" width="18" height="18" aria-hidden="true"><rect x="2.5" y="3.5" width="15" height="10" rx="1.5" fill="none" stroke="currentColor" stroke-width="1.8"/><path d="M7 17h6M10 13.5V17" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round"/></svg>';

/** The link to the sprint's wallboard (#/sprints/<id>/wall): an icon and, when there is room, its name. @param {number} sprintId */
export function wallLink(sprintId) {
  const icon = h("span", { class: "wall-link__icon" });
  icon.innerHTML = SCREEN_ICON;
  return h("a", { class: "button wall-link", href: `#/sprints/${sprintId}/wall`, "data-testid": "wall-link", title: "Wallboard: a large read-only board for a team screen", "aria-label": "Wallboard" },
    icon, h("span", { class: "wall-link__label" }, "Wallboard"));
}
