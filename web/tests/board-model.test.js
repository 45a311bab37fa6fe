// Board arithmetic: columns, drop PATCH bodies, renumbering.
import { test } from "node:test";
import assert from "node:assert/strict";
import { columnsOf, dropChanges, renumber } from "../board-model.js";

const t = (id, extra = {}) => ({ id, name: `t${id}`, sprint: 7, status: "not_started", order: 0, started: null, completed: null, ...extra });

test("columnsOf sorts by order then id", () => {
  const cols = columnsOf([t(3, { order: 1 }), t(2, { order: 1 }), t(1, { order: 5 }), t(4, { status: "done" })], [t(9, { sprint: null })]);
  assert.deepEqual(cols.not_started.map((x) => x.id), [2, 3, 1]);
  assert.deepEqual(cols.done.map((x) => x.id), [4]);
  assert.deepEqual(cols.backlog.map((x) => x.id), [9]);
});

test("dropChanges: status, order, sprint; dates filled in, never erased", () => {
  assert.deepEqual(dropChanges(t(1), "in_progress", 2, 7, "2026-01-02"), { status: "in_progress", order: 2, started: "2026-01-02" });
  assert.deepEqual(dropChanges(t(1, { status: "testing", started: "2026-01-01" }), "done", 0, 7, "2026-01-02"),
    { status: "done", order: 0, completed: "2026-01-02" });
  // the API refuses these (a started task cannot be "not started"): the client does not hide that
  assert.deepEqual(dropChanges(t(1, { status: "in_progress", started: "2026-01-01" }), "not_started", 1, 7, "x"),
    { status: "not_started", order: 1 });
  assert.deepEqual(dropChanges(t(1, { status: "done", started: "2026-01-01", completed: "2026-01-02" }), "testing", 0, 7, "x"),
    { status: "testing", order: 0 });
  assert.deepEqual(dropChanges(t(1, { sprint: null }), "not_started", 0, 7, "x"), { order: 0, sprint: 7 });
  assert.deepEqual(dropChanges(t(1), "backlog", 3, 7, "x"), { sprint: null, order: 3 });
});

test("renumber touches only tasks whose order changes", () => {
  const col = [t(1, { order: 0 }), t(2, { order: 1 }), t(3, { order: 2 })];
  assert.deepEqual(renumber(col, 9, 3), []);
  assert.deepEqual(renumber(col, 9, 1), [{ id: 2, order: 2 }, { id: 3, order: 3 }]);
  assert.deepEqual(renumber(col, 2, 0), [{ id: 1, order: 1 }], "moving within a column");
  assert.deepEqual(renumber([t(1, { order: 5 })], 9, 0), [{ id: 1, order: 1 }]);
});
