// @ts-check
/**
 * What the board looks like: the element of a column, of a card (lifted, held by someone
 * else, pointed at from the feed, late) and of a remote ghost (in a column or floating).
 * Pure DOM building from the data handed in; `BoardView` (board.js) decides what to show.
 */
import { avatar, h, hue } from "./dom.js";

/** @typedef {import("./api.js").Task} Task */
/** @typedef {import("./board-model.js").ColumnKey} ColumnKey */
/** @typedef {import("./drag.js").Ghost} Ghost */

/**
 * One column: its header with the count, and its list of cards (or what to do when empty).
 * @param {ColumnKey} key @param {string} title @param {number} count @param {HTMLElement[]} cards
 */
export function columnElement(key, title, count, cards) {
  return h("section", {
    class: `column column--${key}`, "data-testid": "column", "data-status": key, role: "listitem",
    "aria-labelledby": `col-title-${key}`,
  },
  h("header", { class: "column__header" },
    h("h2", { id: `col-title-${key}`, class: "column__title" }, title),
    h("span", { class: "column__count", "aria-label": `${count} tasks` }, String(count))),
  h("div", { class: "column__cards", role: "list", "data-column": key },
    cards.length ? cards : h("p", { class: "column__empty" }, key === "backlog" ? "Backlog is empty" : "Drop tasks here")));
}

/**
 * One card. `holders`: the usernames of the others dragging it right now, said on the card.
 * @param {Task} t
 * @param {{lifted: boolean, keyboard: boolean, holders: string[], highlighted: boolean}} state
 */
export function cardElement(t, { lifted, keyboard, holders, highlighted }) {
  const heldBy = holders.length ? `${holders.join(" and ")} ${holders.length > 1 ? "are" : "is"} moving this` : "";
  return h("article", {
    class: `card${lifted ? " card--lifted" : ""}${keyboard ? " card--keyboard" : ""}${heldBy ? " card--held" : ""}${highlighted && !lifted ? " card--highlight" : ""}`,
    "data-testid": "card", "data-task-id": t.id, "data-status": t.status, tabindex: "0", role: "listitem",
    "aria-roledescription": "movable task", "aria-grabbed": lifted ? "true" : "false",
    "aria-label": `${t.name}${t.assigned ? `, assigned to ${t.assigned}` : ""}${heldBy ? `. ${heldBy}` : ""}. Press Space to move, E to edit.`,
    style: heldBy ? { "--hue": String(hue(holders[0])) } : null,
  },
  heldBy ? h("div", { class: "card__held", "data-testid": "held-by", "aria-hidden": "true" }, avatar(holders[0]), h("span", null, heldBy)) : null,
  h("div", { class: "card__top" },
    h("h3", { class: "card__name" }, t.name),
    h("button", { class: "card__edit icon-button", type: "button", "data-action": "edit", "aria-label": `Edit ${t.name}`, title: "Edit", tabindex: "-1" }, "✎")),
  t.description ? h("p", { class: "card__desc" }, t.description) : null,
  h("div", { class: "card__meta" },
    t.due ? h("span", { class: `card__due${isPast(t.due) && t.status !== "done" ? " card__due--late" : ""}`, title: "Due" }, `Due ${t.due}`) : h("span"),
    t.assigned ? avatar(t.assigned, `Assigned to ${t.assigned}`) : null));
}

/**
 * Someone else's drag: who moves which task; floating ones sit at the pointer's fractions.
 * @param {Ghost} g @param {Task | null} task @param {string} name  the dragger's username
 * @param {boolean} [floating]
 */
export function ghostElement(g, task, name, floating = false) {
  const label = `${name} is moving “${task?.name ?? `task ${g.task}`}”`;
  return h("div", {
    class: `ghost${floating ? " ghost--floating" : ""}`, "data-testid": "ghost", "data-task-id": g.task,
    "data-peer-id": g.peer, "aria-label": label, role: "note",
    style: { "--hue": String(hue(name)), ...(floating ? { left: `${(g.x ?? 0) * 100}%`, top: `${(g.y ?? 0) * 100}%` } : {}) },
  },
  h("div", { class: "ghost__label" }, avatar(name), h("span", null, label)),
  h("div", { class: "ghost__name" }, task?.name ?? ""));
}

/** @param {string} date YYYY-MM-DD */
function isPast(date) {
  const today = new Date();
  const pad = (/** @type {number} */ n) => String(n).padStart(2, "0");
  return date < `${today.getFullYear()}-${pad(today.getMonth() + 1)}-${pad(today.getDate())}`;
}
