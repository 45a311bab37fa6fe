// @ts-check
/**
 * The activity feed's words, free of the DOM: what an authoritative event means to a
 * person ("ana moved “Write the docs” to Testing"), worked out from its action, its data
 * and the task as it was before (events carry only the state after a change), and how
 * long ago that was ("2 min ago"). `ActivityLog` keeps the latest entries and what it
 * knows of each task. Pure, so it is tested in Node.
 */
import { COLUMNS } from "./board-model.js";

/** @typedef {import("./protocol.js").EventFrame} EventFrame */
/** @typedef {Record<string, any>} TaskData */
/**
 * One line of the feed: `parts` are runs of text, `em` ones are names (shown in italics).
 * @typedef {{text: string, em?: boolean}} Part
 * @typedef {{seq: number, at: number, actor: string, system: boolean, self: boolean,
 *   taskId: number | null, parts: Part[], text: string}} Entry
 */

/** Entries kept; older ones drop off the end. */
export const ACTIVITY_LIMIT = 50;

/** @type {Map<string, string>} */
const TITLES = new Map(COLUMNS.map(({ key, title }) => [key, title]));

/** @param {string | undefined} status */
const columnTitle = (status) => TITLES.get(status ?? "") ?? String(status ?? "?");

/** @param {string} text @returns {Part} */
const t = (text) => ({ text });
/** @param {string} text @returns {Part} */
const em = (text) => ({ text, em: true });

/**
 * What changed in a task, as the words of a sentence: `[verb, rest]` each, the subject
 * named between them ("moved" *X* " to Testing"). Dates that follow a status change
 * (started, completed) are the server's doing and not said.
 * @param {TaskData} before @param {TaskData} after
 * @returns {{verb: string, rest: Part[]}[]}
 */
export function taskChanges(before, after) {
  /** @type {{verb: string, rest: Part[]}[]} */
  const changes = [];
  if (before.status !== after.status) changes.push({ verb: "moved", rest: [t(` to ${columnTitle(after.status)}`)] });
  if (before.name !== after.name) changes.push({ verb: "renamed", rest: [t(" to "), em(String(after.name))] });
  if (before.assigned !== after.assigned) {
    changes.push(after.assigned ? { verb: "assigned", rest: [t(` to ${after.assigned}`)] } : { verb: "unassigned", rest: [] });
  }
  if (before.due !== after.due) {
    changes.push(after.due ? { verb: "set the due date of", rest: [t(` to ${after.due}`)] } : { verb: "cleared the due date of", rest: [] });
  }
  if (before.description !== after.description) changes.push({ verb: "edited the description of", rest: [] });
  if (!changes.length && before.rank !== after.rank) changes.push({ verb: "reordered", rest: [t(` in ${columnTitle(after.status)}`)] });
  return changes;
}

/**
 * The words for one task event. `before` is the task as it was (null when unknown).
 * @param {EventFrame} event @param {TaskData | null} before
 * @returns {{parts: Part[], taskId: number | null}}
 */
function describeTask(event, before) {
  const after = event.data;
  const name = String(after?.name ?? before?.name ?? `task ${event.id}`);
  switch (event.action) {
    case "created":
      return { parts: [t("created "), em(name), t(` in ${columnTitle(after?.status)}`)], taskId: event.id };
    case "deleted":
      return { parts: [t("deleted "), em(name)], taskId: null };
    case "added": {
      const from = before && before.sprint === null ? " from the backlog" : "";
      return { parts: [t("moved "), em(name), t(` into this sprint${from}, to ${columnTitle(after?.status)}`)], taskId: event.id };
    }
    case "removed":
      return { parts: [t("moved "), em(name), t(after?.sprint === null ? " to the backlog" : " to another sprint")], taskId: null };
    default: {
      const changes = before && after ? taskChanges(before, after) : [];
      if (!changes.length) return { parts: [t("updated "), em(name)], taskId: event.id };
      const [first, ...others] = changes;
      // A rename names the task as it was: "renamed *Old* to *New*".
      const subject = changes.some((c) => c.verb === "renamed") ? String(before?.name ?? name) : name;
      /** @type {Part[]} */
      const parts = [t(`${first.verb} `), em(subject), ...first.rest];
      others.forEach((c, i) => parts.push(t(`${i === others.length - 1 ? " and" : ","} ${c.verb} it`), ...c.rest));
      return { parts, taskId: event.id };
    }
  }
}

/** @param {EventFrame} event @param {TaskData | null} before @returns {Part[]} */
function describeSprint(event, before) {
  const after = event.data;
  if (event.action === "created") return [t("created the sprint")];
  if (event.action === "deleted") return [t("deleted the sprint")];
  if (before && after && before.name !== after.name) return [t("renamed the sprint to "), em(String(after.name))];
  if (before && after && before.end !== after.end) return [t(`moved the sprint's end to ${after.end}`)];
  if (before && after && before.description !== after.description) return [t("edited the sprint's description")];
  return [t("updated the sprint")];
}

/**
 * One feed entry for an event: who, what, when.
 * @param {EventFrame} event
 * @param {{before?: TaskData | null, at?: number, me?: string | null}} [context]
 *   `before`: the object as it was; `at`: when (ms; default the event's `at`, else now);
 *   `me`: this browser's user, shown as "You"
 * @returns {Entry}
 */
export function describeEvent(event, context = {}) {
  const before = context.before ?? null;
  const { parts, taskId } = event.model === "sprint"
    ? { parts: describeSprint(event, before), taskId: null }
    : describeTask(event, before);
  const username = event.actor?.username ?? null;
  const self = Boolean(username && context.me && username === context.me);
  const actor = self ? "You" : username ?? "System";
  const stamped = event.at ? Date.parse(event.at) : NaN;
  const at = context.at ?? (Number.isFinite(stamped) ? stamped : Date.now());
  const text = `${actor} ${parts.map((p) => (p.em ? `“${p.text}”` : p.text)).join("")}`;
  return { seq: event.seq, at, actor, system: !username, self, taskId, parts, text };
}

/**
 * How long ago, in words: "just now", "3 min ago", "2 h ago", "yesterday", "4 days ago",
 * then the date.
 * @param {number} then  ms since the epoch @param {number} now
 */
export function relativeTime(then, now) {
  const seconds = Math.max(0, (now - then) / 1000);
  if (seconds < 45) return "just now";
  const minutes = Math.round(seconds / 60);
  if (minutes < 45) return `${minutes} min ago`;
  const hours = Math.round(seconds / 3600);
  if (hours < 22) return `${hours} h ago`;
  const days = Math.round(seconds / 86400);
  if (days <= 1) return "yesterday";
  if (days < 30) return `${days} days ago`;
  return `on ${new Date(then).toISOString().slice(0, 10)}`;
}

/**
 * The feed: the latest entries, newest first, each event once (by seq), and the last
 * state of each task it has seen, to tell what the next event changed.
 */
export class ActivityLog {
  /** @param {{me?: string | null, limit?: number}} [options] */
  constructor(options = {}) {
    this.me = options.me ?? null;
    this.limit = options.limit ?? ACTIVITY_LIMIT;
    /** Newest first. @type {Entry[]} */
    this.entries = [];
    /** task id → its data after the last event seen (or as REST loaded it). @type {Map<number, TaskData>} */
    this.known = new Map();
    /** @type {TaskData | null} */
    this.sprint = null;
  }

  /**
   * What the board holds now (a load or a reload): the "before" of the next events.
   * @param {Iterable<TaskData>} tasks @param {TaskData | null} [sprint]
   */
  seed(tasks, sprint = null) {
    for (const task of tasks) this.known.set(task.id, task);
    if (sprint) this.sprint = sprint;
  }

  /**
   * A live event (or one caught up from the log) just applied to the board.
   * @param {EventFrame} event @param {number} [at]  when it arrived (ms), if not stamped
   * @returns {Entry | null} the new entry (null: a seq already in the feed)
   */
  add(event, at) {
    const before = event.model === "sprint" ? this.sprint : this.known.get(event.id) ?? null;
    this._remember(this.known, event);
    return this._insert(describeEvent(event, { before, me: this.me, at: event.at ? undefined : at }));
  }

  /**
   * Older events (the log, on load), in seq order: described from each other only, since
   * what the board holds now is what came after them.
   * @param {EventFrame[]} events
   */
  history(events) {
    /** @type {Map<number, TaskData>} */
    const seen = new Map();
    let sprint = null;
    for (const event of events) {
      const before = event.model === "sprint" ? sprint : seen.get(event.id) ?? null;
      if (event.model === "sprint") sprint = event.data;
      else this._remember(seen, event);
      this._insert(describeEvent(event, { before, me: this.me }));
    }
  }

  /** @param {Map<number, TaskData>} known @param {EventFrame} event */
  _remember(known, event) {
    if (event.model === "sprint") {
      if (event.data) this.sprint = event.data;
      return;
    }
    if (event.data) known.set(event.id, event.data);
    // A deleted task keeps its last state: its name is still wanted for the entry.
  }

  /** @param {Entry} entry @returns {Entry | null} */
  _insert(entry) {
    if (this.entries.some((e) => e.seq === entry.seq)) return null;
    const at = this.entries.findIndex((e) => e.seq < entry.seq);
    this.entries.splice(at < 0 ? this.entries.length : at, 0, entry);
    if (this.entries.length > this.limit) this.entries.length = this.limit;
    return this.entries.includes(entry) ? entry : null;
  }
}
