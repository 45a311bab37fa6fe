// @ts-check
/**
 * The client side of the delivery guarantee (docs/protocol.md §6): apply authoritative
 * events once, in seq order; detect gaps and ask to `resume` once; on `resync`, catch up
 * from the REST event log and refetch the whole sprint only when the log cannot help.
 * Pure: talks to the outside only through the callbacks it is given.
 */

/** @typedef {import("./protocol.js").EventFrame} EventFrame */

/**
 * @typedef {object} EventStreamHooks
 * @property {(event: EventFrame) => void} apply  apply one event to the local state
 * @property {(since: number) => void} resume  send `resume {since}` (may be a no-op while offline)
 * @property {(since: number) => void} catchUp  read the event log after `since`: feed each
 *   event to `onEvent`, then call `caughtUp` (or `catchUpFailed` on a 410 or any error)
 * @property {() => void} refetch  reload the sprint and its tasks over REST, then call `reset`
 */

/** Events held above a gap at most; past it the stream catches up from the log instead. */
const MAX_BUFFER = 1000;

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
    /** The event log is being read: no resume meanwhile. */
    this.catchingUp = false;
    /** A REST refetch is in flight: hold events until `reset`. */
    this.refetching = false;
  }

  /** @returns {boolean} there are events waiting above a gap */
  get hasGap() {
    return this.buffer.size > 0;
  }

  /**
   * A new connection said hello. Ask for what we missed if the server knows more than
   * we do (or a gap is still open from before the reconnect); refetch if it knows only
   * lower seqs than ours: the stream restarted lower numbered, and waiting for its seqs
   * to pass ours would drop its events as duplicates.
   * @param {number | null} serverSeq  `welcome.seq`
   */
  onWelcome(serverSeq) {
    this.resumePending = false; // whatever we asked the old connection is lost
    if (this.refetching) return;
    if (typeof serverSeq === "number" && serverSeq < this.last) {
      this._refetch();
    } else if (!this.catchingUp && ((typeof serverSeq === "number" && serverSeq > this.last) || this.hasGap)) {
      this._requestResume();
    }
  }

  /** An event, live or from the log. @param {EventFrame} event */
  onEvent(event) {
    if (this.refetching) {
      // Held until the reload says where we are: the stream may be numbered anew.
      if (this.buffer.size < MAX_BUFFER) this.buffer.set(event.seq, event);
      return;
    }
    if (event.seq <= this.last) return; // duplicate
    if (event.seq === this.last + 1) {
      this._applyOne(event);
      this._drain();
    } else if (this.buffer.size >= MAX_BUFFER) {
      this.buffer.clear();
      this.resumePending = false;
      this.onResync(null);
    } else {
      this.buffer.set(event.seq, event);
      if (!this.resumePending && !this.catchingUp) this._requestResume();
    }
  }

  /**
   * The server's history cannot fill our gap: catch up from the event log; refetch
   * when `latest` is at or below our seq (the stream restarted there: our seqs are
   * another numbering's, and so would be the log after them).
   * @param {number | null} latest
   */
  onResync(latest) {
    this.resumePending = false;
    if (this.refetching) return;
    if (typeof latest === "number" && latest <= this.last) {
      this._refetch();
      return;
    }
    if (this.catchingUp) return; // the log being read reaches the latest state anyway
    this.catchingUp = true;
    this.hooks.catchUp(this.last);
  }

  /** The log was read to its end: apply what came live meanwhile, resume over a gap. */
  caughtUp() {
    if (!this.catchingUp) return;
    this.catchingUp = false;
    this._settle();
  }

  /** The log could not help (410 Gone: pruned or renumbered; unreachable): refetch. */
  catchUpFailed() {
    if (this.catchingUp) this._refetch();
  }

  /**
   * Fresh REST state is loaded (sprint.seq = `last`): drop what it already contains,
   * apply whatever buffered events follow it, and resume again if a gap remains.
   * @param {number | null} last
   */
  reset(last) {
    this.last = last ?? 0;
    this.refetching = false;
    this.catchingUp = false;
    this._settle();
  }

  /** The refetch failed; allow another resync/welcome to try again. */
  refetchFailed() {
    this.refetching = false;
  }

  _refetch() {
    this.refetching = true;
    this.catchingUp = false;
    this.resumePending = false;
    this.hooks.refetch();
  }

  _settle() {
    this.resumePending = false;
    for (const seq of [...this.buffer.keys()]) if (seq <= this.last) this.buffer.delete(seq);
    this._drain();
    if (this.hasGap) this._requestResume();
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

/**
 * §6 step 4, shared by the board and the wallboard: feed `stream` the REST log's events
 * after `since`; `caughtUp` at its end, `catchUpFailed` when it cannot help (410 Gone, or
 * unreachable). Stops quietly once `gone()` (the page left) or the stream stopped catching up.
 * @param {AsyncIterable<any>} log  the event log after `since` (`api.eventLog`)
 * @param {EventStream} stream @param {() => boolean} gone
 */
export async function catchUpFromLog(log, stream, gone) {
  try {
    for await (const event of log) {
      if (gone() || !stream.catchingUp) return;
      stream.onEvent(event);
    }
    stream.caughtUp();
  } catch {
    if (!gone()) stream.catchUpFailed();
  }
}
