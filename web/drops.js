// @ts-check
/**
 * Drops as server operations (docs/api.md, the move endpoint): each drop is one move
 * request naming the version the card had when it was picked up. The card shows where it
 * was dropped (`pending`) until the server answers; then the server's answer, or on a
 * refusal its current state, is what the board shows. A card dropped again before the first
 * answer waits for it and names the version it produced (one's own change is no conflict).
 */
import { ApiError } from "./api.js";
import { afterFor, columnsOf, moveBody, placeTask } from "./board-model.js";

/** @typedef {import("./api.js").Api} Api */
/** @typedef {import("./api.js").Task} Task */
/** @typedef {import("./board-model.js").Placement} Placement */

/**
 * @typedef {object} DropsHooks
 * @property {Api} api
 * @property {number} sprintId
 * @property {() => any} state  the page's board state (tasks, backlog), placed into in place
 * @property {() => void} render  draw the board again
 * @property {(task: Task, err: unknown) => void} refused  tell the user why a drop was refused
 */

export class Drops {
  /** @param {DropsHooks} hooks */
  constructor(hooks) {
    this.hooks = hooks;
    /** Drops the server has not answered yet, by task id. @type {Map<number, Placement>} */
    this.pending = new Map();
    this.tickets = 0;
    /** Each card's latest move request in flight. @type {Map<number, Promise<Task | null>>} */
    this.inflight = new Map();
  }

  /**
   * @param {Task} task  the task as it was when the drag started
   * @param {{key: any, index: number}} to
   */
  async drop(task, to) {
    const state = this.hooks.state();
    const cols = columnsOf(state.tasks.values(), state.backlog.values(), this.pending);
    const after = afterFor(cols[/** @type {keyof typeof cols} */ (to.key)], task.id, to.index);
    const ticket = ++this.tickets;
    this.pending.set(task.id, { key: to.key, after, ticket });
    this.hooks.render();
    const request = this._move(task, moveBody(to.key, this.hooks.sprintId, after), ticket, this.inflight.get(task.id));
    this.inflight.set(task.id, request);
    await request;
    if (this.inflight.get(task.id) === request) this.inflight.delete(task.id);
  }

  /**
   * @param {Task} task @param {import("./board-model.js").MoveBody} body @param {number} ticket
   * @param {Promise<Task | null> | undefined} previous  this card's drop still on its way, if any
   * @returns {Promise<Task | null>} the task as saved, or null when refused
   */
  async _move(task, body, ticket, previous) {
    const ours = previous ? await previous : null;
    const { api, sprintId } = this.hooks;
    try {
      const saved = await api.moveTask(task.id, body, { ifMatch: (ours ?? task).version });
      placeTask(this.hooks.state(), saved, sprintId);
      return saved;
    } catch (err) {
      if (this.pending.get(task.id)?.ticket === ticket) { // else a later drop of this card decides
        if (err instanceof ApiError && err.isConflict && err.current) placeTask(this.hooks.state(), err.current, sprintId);
        this.hooks.refused(task, err);
      }
      return null;
    } finally {
      if (this.pending.get(task.id)?.ticket === ticket) this.pending.delete(task.id);
      this.hooks.render();
    }
  }
}
