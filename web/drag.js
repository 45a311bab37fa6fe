// @ts-check
/**
 * Drag state between peers (docs/protocol.md §8): numbering what we send, dropping
 * duplicates and stale updates per sender, and the ghosts we draw for other peers'
 * drags, with their 5 s lifetime. Pure: time is passed in.
 */
import { decodeDrag, makeDrag } from "./protocol.js";

/** @typedef {import("./protocol.js").Drag} Drag */

/** A ghost with no update for this long is removed (the sender may have vanished). */
export const GHOST_TTL_MS = 5000;

/**
 * How long after a peer's last drag of a task we still name them when that task turns
 * out to have changed under us ("Ana moved this card meanwhile"): a drop's event follows
 * its drag's end within a second, and a name from longer ago would more likely be wrong.
 */
export const HOLDER_MEMORY_MS = 10000;

/** Tasks whose last holder is remembered: a bound, oldest forgotten first. */
const HOLDER_MEMORY_TASKS = 256;

/** Numbers our own drag updates: seq strictly increasing across all our drags. */
export class DragSequence {
  constructor() {
    this.seq = 0;
  }

  /**
   * @param {number} task
   * @param {"start"|"move"|"end"} phase
   * @param {{status?: string | null, index?: number | null, x?: number | null, y?: number | null}} [where]
   * @returns {Drag}
   */
  next(task, phase, where = {}) {
    this.seq += 1;
    return makeDrag({ seq: this.seq, task, phase, ...clampPosition(where) });
  }
}

/**
 * Keep pointer fractions inside [0, 1] (a pointer can leave the board mid-drag).
 * @template {{x?: number | null, y?: number | null}} T
 * @param {T} where
 * @returns {T}
 */
function clampPosition(where) {
  const out = { ...where };
  for (const k of /** @type {const} */ (["x", "y"])) {
    const v = out[k];
    if (typeof v === "number") out[k] = Number.isFinite(v) ? Math.round(Math.min(1, Math.max(0, v)) * 1e4) / 1e4 : null;
  }
  return out;
}

/**
 * Per-sender dedupe: remembers the highest seq shown from each peer and refuses
 * anything not above it. This shows an update that came by data channel *and* relay
 * once, and stops a late `move` from reviving a ghost after its `end`.
 */
export class DragDedupe {
  constructor() {
    /** @type {Map<string, number>} */
    this.highest = new Map();
  }

  /**
   * @param {string} peer
   * @param {number} seq
   * @returns {boolean} true if the update is new and should be shown
   */
  accept(peer, seq) {
    const seen = this.highest.get(peer);
    if (seen !== undefined && seq <= seen) return false;
    this.highest.set(peer, seq);
    return true;
  }

  /** Forget a peer that left (a new peer id starts from scratch anyway). @param {string} peer */
  forget(peer) {
    this.highest.delete(peer);
  }
}

/**
 * @typedef {object} Ghost
 * @property {string} peer     who is dragging
 * @property {number} task     which task
 * @property {string | null} status  target column, if known
 * @property {number | null} index   target position in it, if known
 * @property {number | null} x
 * @property {number | null} y
 * @property {number} updatedAt  ms, for expiry
 */

/** The ghosts currently shown, one per (peer, task). */
export class GhostBook {
  /** @param {number} [ttl] */
  constructor(ttl = GHOST_TTL_MS) {
    this.ttl = ttl;
    /** @type {Map<string, Ghost>} */
    this.ghosts = new Map();
    /** Who last dragged each task, and when, ghost ended or not. @type {Map<number, {peer: string, at: number}>} */
    this.holders = new Map();
  }

  /**
   * Apply an accepted drag update.
   * @param {string} peer
   * @param {Drag} drag
   * @param {number} now
   * @returns {boolean} true if the set of ghosts changed
   */
  update(peer, drag, now) {
    const key = `${peer}\u0000${drag.task}`;
    this.holders.delete(drag.task); // re-inserted last: the map's order is the age order
    this.holders.set(drag.task, { peer, at: now });
    if (this.holders.size > HOLDER_MEMORY_TASKS) this.holders.delete(/** @type {number} */ (this.holders.keys().next().value));
    if (drag.phase === "end") return this.ghosts.delete(key);
    if (drag.phase === "start") {
      // A peer drags one card at a time: a new start ends its other ghosts.
      for (const [k, g] of this.ghosts) if (g.peer === peer && k !== key) this.ghosts.delete(k);
    }
    const prev = this.ghosts.get(key);
    this.ghosts.set(key, {
      peer,
      task: drag.task,
      status: drag.status ?? prev?.status ?? null,
      index: drag.index ?? prev?.index ?? null,
      x: drag.x ?? prev?.x ?? null,
      y: drag.y ?? prev?.y ?? null,
      updatedAt: now,
    });
    return true;
  }

  /** @param {string} peer @returns {boolean} */
  removePeer(peer) {
    let changed = false;
    for (const [k, g] of this.ghosts) {
      if (g.peer === peer) changed = this.ghosts.delete(k) || changed;
    }
    return changed;
  }

  /** Drop ghosts idle for longer than the TTL. @param {number} now @returns {boolean} */
  expire(now) {
    let changed = false;
    for (const [k, g] of this.ghosts) {
      if (now - g.updatedAt > this.ttl) changed = this.ghosts.delete(k) || changed;
    }
    return changed;
  }

  /**
   * The peer who dragged `task` last, if within `memory` ms of `now` (live ghost or not).
   * @param {number} task @param {number} now @param {number} [memory]
   * @returns {string | null}
   */
  lastHolder(task, now, memory = HOLDER_MEMORY_MS) {
    const h = this.holders.get(task);
    return h && now - h.at <= memory ? h.peer : null;
  }

  /** @returns {Ghost[]} */
  list() {
    return [...this.ghosts.values()];
  }

  get size() {
    return this.ghosts.size;
  }
}

/**
 * Everything a receiver does with a drag update from any path: validate, dedupe,
 * update the ghosts. `receive` returns true when the ghosts changed (redraw).
 */
export class DragReceiver {
  /** @param {{ttl?: number}} [options] */
  constructor(options = {}) {
    this.dedupe = new DragDedupe();
    this.ghosts = new GhostBook(options.ttl);
  }

  /**
   * @param {string} peer  sender (the data channel's peer, or the relay's `from`)
   * @param {unknown} data  the untrusted drag object
   * @param {number} now
   * @returns {boolean}
   */
  receive(peer, data, now) {
    let drag;
    try {
      drag = decodeDrag(data);
    } catch {
      return false; // a peer sent garbage: ignore it, never trust a peer
    }
    if (!this.dedupe.accept(peer, drag.seq)) return false;
    return this.ghosts.update(peer, drag, now);
  }

  /** @param {string} peer */
  peerLeft(peer) {
    this.dedupe.forget(peer);
    return this.ghosts.removePeer(peer);
  }

  /** @param {number} now */
  expire(now) {
    return this.ghosts.expire(now);
  }
}
