// The activity feed's words: events described from the state before them, times humanised.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ActivityLog, describeEvent, relativeTime } from "../activity.js";

const ANA = { id: 2, username: "ana" };
const task = (extra = {}) => ({ id: 12, name: "Write the docs", sprint: 7, status: "not_started", rank: "m", assigned: null, due: null, description: "", version: 1, ...extra });
/** @param {number} seq @param {string} action @param {object | null} data @param {object} [extra] */
const ev = (seq, action, data, extra = {}) => ({ type: "event", sprint: 7, seq, action, model: "task", id: 12, data, actor: ANA, ...extra });
/** @param {object} event @param {object | null} before */
const say = (event, before = null) => describeEvent(/** @type {any} */ (event), { before }).text;

test("each kind of change in words, from the state before it", () => {
  const before = task();
  assert.equal(say(ev(2, "created", task())), "ana created “Write the docs” in Not Started");
  assert.equal(say(ev(3, "updated", task({ status: "testing" })), before), "ana moved “Write the docs” to Testing");
  assert.equal(say(ev(3, "updated", task({ name: "Write the manual" })), before), "ana renamed “Write the docs” to “Write the manual”");
  assert.equal(say(ev(3, "updated", task({ assigned: "ben" })), before), "ana assigned “Write the docs” to ben");
  assert.equal(say(ev(3, "updated", task()), task({ assigned: "ben" })), "ana unassigned “Write the docs”");
  assert.equal(say(ev(3, "updated", task({ due: "2026-12-24" })), before), "ana set the due date of “Write the docs” to 2026-12-24");
  assert.equal(say(ev(3, "updated", task({ description: "all of it" })), before), "ana edited the description of “Write the docs”");
  assert.equal(say(ev(3, "updated", task({ rank: "n" })), before), "ana reordered “Write the docs” in Not Started");
  assert.equal(say(ev(4, "deleted", null), before), "ana deleted “Write the docs”");
  assert.equal(say(ev(5, "removed", task({ sprint: null }))), "ana moved “Write the docs” to the backlog");
  assert.equal(say(ev(5, "removed", task({ sprint: 9 }))), "ana moved “Write the docs” to another sprint");
  assert.equal(say(ev(6, "added", task({ status: "done" })), task({ sprint: null })),
    "ana moved “Write the docs” into this sprint from the backlog, to Done");
});

test("several changes in one event make one sentence", () => {
  const text = say(ev(3, "updated", task({ status: "done", name: "Docs", assigned: "ben" })), task());
  assert.equal(text, "ana moved “Write the docs” to Done, renamed it to “Docs” and assigned it to ben");
});

test("without the state before, an update says only that", () => {
  assert.equal(say(ev(3, "updated", task({ status: "done" }))), "ana updated “Write the docs”");
  assert.equal(say(ev(4, "deleted", null)), "ana deleted “task 12”");
});

test("the system, and this browser's own user", () => {
  const entry = describeEvent(/** @type {any} */ (ev(2, "created", task(), { actor: null })));
  assert.equal(entry.text, "System created “Write the docs” in Not Started");
  assert.equal(entry.system, true);
  const own = describeEvent(/** @type {any} */ (ev(2, "created", task())), { me: "ana" });
  assert.equal(own.text, "You created “Write the docs” in Not Started");
  assert.equal(own.self, true);
});

test("sprint events", () => {
  const sprint = { id: 7, name: "S1", end: "2026-12-20", description: "" };
  const sev = (/** @type {string} */ action, /** @type {object|null} */ data) => ({ type: "event", sprint: 7, seq: 9, action, model: "sprint", id: 7, data, actor: ANA });
  assert.equal(say(sev("updated", { ...sprint, name: "S2" }), sprint), "ana renamed the sprint to “S2”");
  assert.equal(say(sev("updated", { ...sprint, end: "2026-12-31" }), sprint), "ana moved the sprint's end to 2026-12-31");
  assert.equal(say(sev("deleted", null), sprint), "ana deleted the sprint");
});

test("only tasks still on this board are clickable", () => {
  assert.equal(describeEvent(/** @type {any} */ (ev(2, "updated", task()))).taskId, 12);
  assert.equal(describeEvent(/** @type {any} */ (ev(2, "deleted", null))).taskId, null);
  assert.equal(describeEvent(/** @type {any} */ (ev(2, "removed", task({ sprint: null })))).taskId, null);
});

test("relative times, humanised", () => {
  const now = Date.parse("2026-12-01T12:00:00Z");
  const ago = (/** @type {number} */ s) => relativeTime(now - s * 1000, now);
  assert.equal(ago(0), "just now");
  assert.equal(ago(-30), "just now"); // a clock a little ahead
  assert.equal(ago(44), "just now");
  assert.equal(ago(60), "1 min ago");
  assert.equal(ago(150), "3 min ago");
  assert.equal(ago(44 * 60), "44 min ago");
  assert.equal(ago(50 * 60), "1 h ago");
  assert.equal(ago(5 * 3600), "5 h ago");
  assert.equal(ago(26 * 3600), "yesterday");
  assert.equal(ago(4 * 86400), "4 days ago");
  assert.equal(ago(40 * 86400), "on 2026-10-22");
});

test("an event's own time wins; a live one is stamped when it arrived", () => {
  const logged = describeEvent(/** @type {any} */ (ev(2, "created", task(), { at: "2026-12-01T11:58:00Z" })));
  assert.equal(logged.at, Date.parse("2026-12-01T11:58:00Z"));
  assert.equal(describeEvent(/** @type {any} */ (ev(2, "created", task())), { at: 1234 }).at, 1234);
});

test("ActivityLog: live events use what the board held; newest first; each seq once", () => {
  const log = new ActivityLog({ me: "ben" });
  log.seed([task()]);
  log.add(/** @type {any} */ (ev(5, "updated", task({ status: "testing" }))), 1000);
  log.add(/** @type {any} */ (ev(6, "updated", task({ status: "done" }))), 2000);
  log.add(/** @type {any} */ (ev(6, "updated", task({ status: "done" }))), 3000);
  assert.deepEqual(log.entries.map((e) => e.text), ["ana moved “Write the docs” to Done", "ana moved “Write the docs” to Testing"]);
  log.add(/** @type {any} */ (ev(7, "deleted", null)));
  assert.equal(log.entries[0].text, "ana deleted “Write the docs”", "the name survives the deletion");
});

test("ActivityLog: history is described from itself and merges by seq", () => {
  const log = new ActivityLog();
  log.seed([task({ status: "done" })]); // the board now: after the history below
  log.add(/** @type {any} */ (ev(9, "updated", task({ status: "testing" }))));
  log.history(/** @type {any} */ ([ev(2, "created", task()), ev(3, "updated", task({ status: "done" }))]));
  assert.deepEqual(log.entries.map((e) => [e.seq, e.text]), [
    [9, "ana moved “Write the docs” to Testing"],
    [3, "ana moved “Write the docs” to Done"],
    [2, "ana created “Write the docs” in Not Started"],
  ]);
});

test("ActivityLog keeps the latest entries only", () => {
  const log = new ActivityLog({ limit: 3 });
  for (let seq = 1; seq <= 5; seq += 1) log.add(/** @type {any} */ (ev(seq, "updated", task({ rank: `r${seq}` }))));
  assert.deepEqual(log.entries.map((e) => e.seq), [5, 4, 3]);
  assert.equal(log.add(/** @type {any} */ (ev(1, "updated", task()))), null, "older than everything kept");
});
