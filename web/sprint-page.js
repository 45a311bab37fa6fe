// @ts-check
/**
 * One sprint's board page: loads it over REST, keeps it live through the realtime
 * socket (§6 events), shows who else is here and what they are dragging (§8, via
 * data channels or relay), and turns a drop into one move request naming the version it
 * was made on. The card shows where it was dropped until the server answers; then the
 * server's answer (or, when someone else changed the card first, its current state) is
 * what the board shows.
 */
import { ActivityPanel } from "./activity-panel.js";
import { ApiError } from "./api.js";
import { BoardView } from "./board.js";
import { isoDate, placeTask } from "./board-model.js";
import { openTaskDialog } from "./dialogs.js";
import { h } from "./dom.js";
import { conflictMessage } from "./edits.js";
import { DragReceiver, DragSequence } from "./drag.js";
import { Drops } from "./drops.js";
import { EventStream, applyEvent, catchUpFromLog } from "./event-stream.js";
import { Mesh } from "./mesh.js";
import { PresenceChip } from "./presence-chip.js";
import { channelsFrame, peersFrame, relayFrame, resumeFrame, signalFrame } from "./protocol.js";
import { RealtimeSocket } from "./socket.js";
import { wallLink } from "./wallboard.js";

/** @typedef {import("./api.js").Api} Api */
/** @typedef {import("./api.js").Task} Task */
/** @typedef {import("./protocol.js").PeerUser} PeerUser */

/** How long a notice (a lost drop) stays on screen. */
const NOTICE_MS = 8000;
/** Events the activity feed shows from the log when the board loads. */
const FEED_HISTORY = 50;

const STATE_LABELS = { live: "Live", connecting: "Connecting…", reconnecting: "Reconnecting…", offline: "Offline" };

export class SprintPage {
  /**
   * @param {object} o
   * @param {HTMLElement} o.root
   * @param {Api} o.api
   * @param {number} o.sprintId
   * @param {(message: string) => void} o.showError
   * @param {(message: string) => void} o.announce
   */
  constructor({ root, api, sprintId, showError, announce }) {
    this.root = root;
    this.api = api;
    this.sprintId = sprintId;
    this.showError = showError;
    this.announce = announce;
    /** @type {import("./event-stream.js").BoardState} */
    this.state = { tasks: new Map(), backlog: new Map(), sprint: null };
    /** @type {{username: string, full_name?: string}[]} */
    this.users = [];
    /** Other peers of the sprint we see (its first 50 by id), by peer id. @type {Map<string, PeerUser>} */
    this.presence = new Map();
    /** Every peer of the sprint, us included (0 while disconnected). */
    this.count = 0;
    this.drops = new Drops({
      api, sprintId,
      state: () => this.state,
      render: () => this.renderBoard(),
      refused: (task, err) => this._dropRefused(task, err),
    });
    /** @type {string | null} */
    this.selfPeer = null;
    this.destroyed = false;
    this.receiver = new DragReceiver();
    this.dragSeq = new DragSequence();
    this.activity = new ActivityPanel({ me: api.username, onPick: (id) => this.showCard(id) });
    this.stream = new EventStream({
      apply: (event) => {
        this.activity.add(event);
        if (applyEvent(this.state, event)) this.renderBoard();
        if (event.model === "sprint") this.renderHeader();
      },
      resume: (since) => this.socket.send(resumeFrame(since)),
      catchUp: (since) => this.catchUp(since),
      refetch: () => this.refetch(),
    });
    this.socket = new RealtimeSocket({ getTicket: () => api.realtimeTicket(sprintId) });
    this.mesh = new Mesh({
      sendSignal: (to, data) => this.socket.send(signalFrame(to, data)),
      sendRelay: (to, data) => this.socket.send(relayFrame(data, to)),
      sendChannels: (peers) => this.socket.send(channelsFrame(peers)),
    });
    /** @type {BoardView | null} */
    this.board = null;
    this.title = h("div", { class: "sprint-head__title" });
    this.chip = new PresenceChip({
      requestPage: (after) => this.socket.send(peersFrame(after)),
      linkKind: (peer) => this.mesh.linkKind(peer),
      self: () => this.selfPeer,
    });
    this.connectionEl = h("span", { class: "connection", "data-testid": "connection", "data-state": "offline", role: "status" });
    this.main = h("div", { class: "board-wrap", "aria-busy": "true" }, h("p", { class: "loading" }, "Loading board…"));
    this.notice = h("div", { class: "notice", "data-testid": "notice", role: "status", hidden: true });
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this._noticeTimer = undefined;
    this._wire();
    this._buildShell();
    this._expiry = setInterval(() => {
      if (this.receiver.expire(Date.now())) this.renderGhosts();
    }, 500);
    this._onNetwork = () => this.socket.networkChanged();
    window.addEventListener("online", this._onNetwork);
    window.addEventListener("offline", this._onNetwork);
  }

  /** Load over REST, then connect (§6 steps 1–2). */
  async start() {
    try {
      const [sprint, tasks, backlog, users] = await Promise.all([
        this.api.sprint(this.sprintId), this.api.tasks(this.sprintId), this.api.backlog(),
        this.api.users().catch(() => []),
      ]);
      if (this.destroyed) return;
      this._setData(sprint, tasks, backlog);
      this.users = users;
      this.stream.reset(sprint.seq);
      const seq = sprint.seq ?? 0;
      this.api.recentEvents(this.sprintId, seq, FEED_HISTORY)
        .then((events) => this.activity.history(events.filter((e) => e.seq <= seq)))
        .catch(() => this.activity.history([]));
      this.renderHeader();
      this.renderBoard();
      this.main.setAttribute("aria-busy", "false");
      this.socket.connect();
    } catch (err) {
      if (this.destroyed) return;
      const e = /** @type {ApiError} */ (err);
      this.main.replaceChildren(h("div", { class: "empty-state" },
        h("h2", null, e.status === 404 ? "Sprint not found" : "Could not load the sprint"),
        h("p", null, e.status === 404 ? "It may have been deleted." : e.message),
        h("a", { class: "button", href: "#/sprints" }, "Back to sprints")));
      if (e.status !== 404) this.showError(e.message);
    }
  }

  /** @param {any} sprint @param {Task[]} tasks @param {Task[]} backlog */
  _setData(sprint, tasks, backlog) {
    this.state.sprint = sprint;
    this.state.tasks = new Map(tasks.map((t) => [t.id, t]));
    this.state.backlog = new Map(backlog.map((t) => [t.id, t]));
    this.activity.seed([...tasks, ...backlog], sprint);
  }

  /**
   * §6 step 4: the server's history could not fill our gap: the events after `since`
   * from the REST log, applied as if live; a refetch only when the log cannot help.
   * @param {number} since
   */
  catchUp(since) {
    return catchUpFromLog(this.api.eventLog(this.sprintId, since), this.stream, () => this.destroyed);
  }

  /** The log could not help either: the sprint first, then its tasks. */
  async refetch() {
    try {
      const sprint = await this.api.sprint(this.sprintId);
      const [tasks, backlog] = await Promise.all([this.api.tasks(this.sprintId), this.api.backlog()]);
      if (this.destroyed) return;
      this._setData(sprint, tasks, backlog);
      this.stream.reset(sprint.seq);
      this.renderHeader();
      this.renderBoard();
    } catch (err) {
      this.stream.refetchFailed();
      this.showError(`Could not refresh the board: ${/** @type {Error} */ (err).message}`);
    }
  }

  destroy() {
    this.destroyed = true;
    clearInterval(this._expiry);
    clearTimeout(this._noticeTimer);
    window.removeEventListener("online", this._onNetwork);
    window.removeEventListener("offline", this._onNetwork);
    this.mesh.reset();
    this.mesh.removeAll();
    this.socket.destroy();
    this.board?.destroy();
    this.activity.destroy();
  }

  // --- realtime wiring ------------------------------------------------------------------

  _wire() {
    const s = this.socket;
    s.on("state", () => this.renderConnection());
    s.on("welcome", (w) => {
      this.selfPeer = w.peer;
      this.presence = new Map(w.peers.filter((p) => p.peer !== w.peer).map((p) => [p.peer, p.user]));
      this.count = w.count;
      this.mesh.start(w.peer, /** @type {any[]} */ (w.ice_servers), [...this.presence.keys()], w.count);
      this.stream.onWelcome(w.seq);
      this.renderPresence();
    });
    s.on("close", () => {
      // Peer ids belong to the connection: everything about the others starts over.
      this.mesh.reset();
      this.presence.clear();
      this.count = 0;
      this.chip.fail("disconnected");
      for (const peer of [...this.receiver.dedupe.highest.keys()]) this.receiver.peerLeft(peer);
      this.selfPeer = null;
      this.renderPresence();
      this.renderGhosts();
    });
    s.on("fatal", (err) => {
      const status = /** @type {any} */ (err).status;
      if (status !== 401) this.showError(`Live updates are unavailable: ${err.message}`);
    });
    s.on("protocolError", (err) => console.debug("watercooler: ignored frame", err));
    s.on("frame", (f) => {
      switch (f.type) {
        case "presence": {
          let ghosts = false;
          for (const peer of f.left) {
            this.presence.delete(peer);
            if (this.receiver.peerLeft(peer)) ghosts = true;
          }
          const joined = f.joined.filter((p) => p.peer !== this.selfPeer);
          for (const p of joined) this.presence.set(p.peer, p.user);
          this.count = f.count;
          this.mesh.presence(joined.map((p) => p.peer), f.left, f.count);
          if (ghosts) this.renderGhosts();
          this.renderPresence();
          break;
        }
        case "peers":
          this.chip.onPage(f);
          break;
        case "relay":
          if (f.data?.type === "drag" && this.receiver.receive(f.from, f.data, Date.now())) this.renderGhosts();
          break;
        case "signal":
          this.mesh.handleSignal(f.from, f.data);
          break;
        case "event":
          if (f.sprint === this.sprintId) this.stream.onEvent(f);
          break;
        case "resync":
          this.stream.onResync(f.latest);
          break;
        case "error":
          console.debug(`watercooler: server error ${f.code}: ${f.message}`);
          if (f.field === "after" || f.field === "limit" || f.message.includes("peers request")) this.chip.fail(f.message);
          break;
      }
    });
    this.mesh.on("link", () => this.renderPresence());
    this.mesh.on("drag", (peer, data) => {
      if (this.receiver.receive(peer, data, Date.now())) this.renderGhosts();
    });
  }

  // --- view -----------------------------------------------------------------------------

  _buildShell() {
    const head = h("div", { class: "sprint-head" },
      h("a", { class: "back-link", href: "#/sprints", "aria-label": "All sprints" }, "← Sprints"),
      this.title,
      h("div", { class: "sprint-head__side" }, this.chip.el, this.connectionEl, this.activity.toggle,
        wallLink(this.sprintId),
        h("button", { class: "button button--primary", type: "button", "data-testid": "new-task", onclick: () => this.openTask(null) }, "+ New task")));
    this.root.replaceChildren(head, h("div", { class: "board-area" }, this.main, this.activity.el), this.notice, this.activity.backdrop);
    this.activity.setOpen(this.activity.open, false);
    this.renderConnection();
  }

  renderHeader() {
    const s = this.state.sprint;
    if (!s) {
      this.title.replaceChildren(h("h1", null, "Sprint deleted"));
      return;
    }
    const ended = s.end < isoDate();
    this.title.replaceChildren(
      h("h1", { "data-testid": "sprint-name" }, s.name),
      h("span", { class: `badge${ended ? " badge--ended" : ""}`, title: "Sprint end" }, ended ? `Ended ${s.end}` : `Ends ${s.end}`));
    document.title = `${s.name} · Watercooler`;
  }

  renderBoard() {
    if (!this.board) {
      const holder = h("div", { class: "board-holder" });
      this.main.replaceChildren(holder);
      this.board = new BoardView(holder, {
        onDrag: (phase, task, where) => this.mesh.sendDrag(this.dragSeq.next(task, phase, where)),
        onDrop: (task, to) => this.drop(task, to),
        onOpen: (task) => this.openTask(task),
        nameOf: (peer) => this.presence.get(peer)?.username ?? "Someone",
        announce: this.announce,
      });
    }
    this.board.update({ tasks: [...this.state.tasks.values()], backlog: [...this.state.backlog.values()], pending: this.drops.pending, ghosts: this.receiver.ghosts.list() });
  }

  renderGhosts() {
    this.board?.update({ ghosts: this.receiver.ghosts.list() });
  }

  renderConnection() {
    const state = this.socket.state;
    this.connectionEl.dataset.state = state;
    this.connectionEl.replaceChildren(h("span", { class: "connection__dot", "aria-hidden": "true" }), STATE_LABELS[state]);
    this.connectionEl.title = state === "live" ? "Changes appear as they happen" : "Changes will appear when the connection is back";
  }

  renderPresence() {
    this.chip.render(this.presence, this.count);
  }

  // --- actions --------------------------------------------------------------------------

  /**
   * A card was dropped: one move request (web/drops.js); a refusal puts the board back to
   * the server's state and says why (who held the card, when someone else changed it).
   * @param {Task} task @param {{key: any, index: number}} to
   */
  drop(task, to) {
    return this.drops.drop(task, to);
  }

  /** @param {Task} task @param {unknown} err */
  _dropRefused(task, err) {
    if (err instanceof ApiError && err.isConflict && err.current) {
      const holder = this.receiver.ghosts.lastHolder(task.id, Date.now());
      const message = conflictMessage(holder ? this.presence.get(holder)?.username ?? null : null);
      this.notify(message);
      this.announce(message);
      return;
    }
    const message = err instanceof ApiError ? err.message : String(err);
    this.showError(`Could not move “${task.name}”: ${message}`);
    this.announce(`Move failed: ${message}`);
  }

  /** An activity entry was clicked: point at its card. @param {number} id */
  showCard(id) {
    if (!this.board?.highlight(id)) this.announce("That card is no longer on this board.");
  }

  /** A short notice over the board (a lost drop), gone after a few seconds. @param {string} message */
  notify(message) {
    clearTimeout(this._noticeTimer);
    this.notice.replaceChildren(h("span", { class: "notice__text" }, message),
      h("button", { type: "button", class: "icon-button", "aria-label": "Dismiss", onclick: () => { this.notice.hidden = true; } }, "×"));
    this.notice.hidden = false;
    this._noticeTimer = setTimeout(() => { this.notice.hidden = true; }, NOTICE_MS);
  }

  /** @param {Task | null} task */
  openTask(task) {
    openTaskDialog({
      task,
      users: this.users,
      save: async (data, ifMatch) => {
        const saved = task
          ? await this.api.updateTask(task.id, data, { ifMatch })
          : await this.api.createTask({ ...data, sprint: this.sprintId });
        placeTask(this.state, saved, this.sprintId);
        this.renderBoard();
      },
      remove: task ? async (ifMatch) => {
        await this.api.deleteTask(task.id, { ifMatch });
        this.state.tasks.delete(task.id);
        this.state.backlog.delete(task.id);
        this.renderBoard();
      } : null,
    });
  }

  /** Read-only debugging view for window.watercooler. */
  debug() {
    return {
      sprint: this.sprintId,
      state: this.socket.state,
      shouldConnect: this.socket.shouldConnect,
      peer: this.selfPeer,
      lastSeq: this.stream.last,
      peers: [...this.presence].map(([peer, user]) => ({ peer, username: user.username, link: this.mesh.linkKind(peer) })),
      ghosts: this.receiver.ghosts.list().map((g) => ({ ...g })),
      tasks: this.state.tasks.size,
    };
  }
}
