// @ts-check
/**
 * The client side of the delivery guarantee (docs/protocol.md §6): apply authoritative
 * events once, in seq order; detect gaps and ask to `resume` once; refetch on `resync`.
 * Pure: talks to the outside only through the callbacks it is given.
 */

/** @typedef {import("./protocol.js").EventFrame} EventFrame */

/**
 * @typedef {object} EventStreamHooks
 * @property {(event: EventFrame) => void} apply  apply one event to the local state
 * @property {(since: number) => void} resume  send `resume {since}` (may be a no-op while offline)
 * @property {() => void} refetch  reload the sprint and its tasks over REST, then call `reset`
 */

export class EventStream {
  /**
   * @param {EventStreamHooks} hooks
   * @param {number | null} [last]  the sprint's `seq` from REST (null/undefined: none yet)
   */
  constructor(hooks, last = 0) {
    this.hooks = hooks;
    /** Highest seq applied. */
    this.last = last ?? 0;
    /** Events above last + 1, waiting for the gap to fill. @type {Map<number, EventFrame>} */
    this.buffer = new Map();
    /** A resume is out and the gap it asked about is not closed yet. */
    this.resumePending = false;
    /** A REST refetch is in flight: hold events until `reset`. */
    this.refetching = false;
  }

  /** @returns {boolean} there are events waiting above a gap */
  get hasGap() {
    return this.buffer.size > 0;
  }

  /**
   * A new connection said hello. Ask for what we missed if the server knows more
   * than we do, or if a gap is still open from before the reconnect.
   * @param {number | null} serverSeq  `welcome.seq`
   */
  onWelcome(serverSeq) {
    this.resumePending = false; // whatever we asked the old connection is lost
    if (this.refetching) return;
    if ((typeof serverSeq === "number" && serverSeq > this.last) || this.hasGap) {
      this._requestResume();
    }
  }

  /** @param {EventFrame} event */
  onEvent(event) {
    if (event.seq <= this.last) return; // duplicate
    if (this.refetching) {
      this.buffer.set(event.seq, event);
      return;
    }
    if (event.seq === this.last + 1) {
      this._applyOne(event);
      this._drain();
    } else {
      this.buffer.set(event.seq, event);
      if (!this.resumePending) this._requestResume();
    }
  }

  /**
   * The server's history cannot fill our gap: refetch over REST.
   * @param {number | null} _latest
   */
  onResync(_latest) {
    this.resumePending = false;
    if (this.refetching) return;
    this.refetching = true;
    this.hooks.refetch();
  }

  /**
   * Fresh REST state is loaded (sprint.seq = `last`): drop what it already contains,
   * apply whatever buffered events follow it, and resume again if a gap remains.
   * @param {number | null} last
   */
  reset(last) {
    this.last = last ?? 0;
    this.refetching = false;
    this.resumePending = false;
    for (const seq of [...this.buffer.keys()]) if (seq <= this.last) this.buffer.delete(seq);
    this._drain();
    if (this.hasGap) this._requestResume();
  }

  /** The refetch failed; allow another resync/welcome to try again. */
  refetchFailed() {
    this.refetching = false;
  }

  _requestResume() {
    this.resumePending = true;
    this.hooks.resume(this.last);
  }

  /** @param {EventFrame} event */
  _applyOne(event) {
    this.last = event.seq;
    this.hooks.apply(event);
  }

  _drain() {
    for (let next = this.buffer.get(this.last + 1); next; next = this.buffer.get(this.last + 1)) {
      this.buffer.delete(next.seq);
      this._applyOne(next);
    }
    if (!this.hasGap) this.resumePending = false;
  }
}

/**
 * @typedef {import("./api.js").Task} Task
 * @typedef {{tasks: Map<number, Task>, backlog: Map<number, Task>, sprint: Record<string, any> | null}} BoardState
 */

/**
 * Apply one event to a board's state, idempotently: upsert by id for
 * created/updated/added, remove for deleted/removed. A task removed to the backlog
 * shows up in the backlog; a task added from it leaves the backlog. An event older than
 * the task we hold (a write's answer can arrive before the events of earlier changes)
 * is skipped, so a card never jumps back. Returns true when something changed.
 * @param {BoardState} state
 * @param {EventFrame} event
 * @returns {boolean}
 */
export function applyEvent(state, event) {
  if (event.model === "sprint") {
    if (event.action === "deleted") {
      state.sprint = null;
      return true;
    }
    if (event.data) state.sprint = { ...(state.sprint ?? {}), ...event.data };
    return Boolean(event.data);
  }
  const id = event.id;
  const known = state.tasks.get(id) ?? state.backlog.get(id);
  const version = event.data?.version;
  if (known && typeof version === "number" && (known.version ?? 0) > version) return false;
  switch (event.action) {
    case "created":
    case "updated":
    case "added":
      state.backlog.delete(id);
      if (!event.data) return false;
      state.tasks.set(id, /** @type {Task} */ (event.data));
      return true;
    case "removed":
      state.tasks.delete(id);
      if (event.data && event.data.sprint === null) state.backlog.set(id, /** @type {Task} */ (event.data));
      else state.backlog.delete(id);
      return true;
    case "deleted":
      state.backlog.delete(id);
      return state.tasks.delete(id);
    default:
      return false;
  }
}
