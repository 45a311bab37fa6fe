// Board arithmetic: column order by rank, where a drop lands (`after`), the move body,
// and a drop shown before the answer, then settled or rolled back to the server's state.
import { test } from "node:test";
import assert from "node:assert/strict";
import { afterFor, columnsOf, moveBody, placeTask, sortTasks } from "../board-model.js";

const t = (id, extra = {}) => ({ id, name: `t${id}`, sprint: 7, status: "not_started", rank: "m", version: 1, ...extra });
const ids = (tasks) => tasks.map((x) => x.id);

test("columns sort by rank, byte-wise, then id", () => {
  const cols = columnsOf([t(3, { rank: "b" }), t(2, { rank: "b" }), t(1, { rank: "c" }), t(5, { rank: "B" }),
    t(4, { status: "done" })], [t(9, { sprint: null })]);
  // "B" (0x42) sorts before "b" (0x62): code units, not a locale's collation
  assert.deepEqual(ids(cols.not_started), [5, 2, 3, 1]);
  assert.deepEqual(ids(cols.done), [4]);
  assert.deepEqual(ids(cols.backlog), [9]);
  assert.deepEqual(ids(sortTasks([t(2, { rank: "a0" }), t(1, { rank: "a" })])), [1, 2], "a prefix sorts first");
});

test("after is the card above the slot, without the dragged card", () => {
  const col = [t(1, { rank: "a" }), t(2, { rank: "b" }), t(3, { rank: "c" })];
  assert.equal(afterFor(col, 9, 0), null, "top");
  assert.equal(afterFor(col, 9, 1), 1);
  assert.equal(afterFor(col, 9, 3), 3, "bottom");
  assert.equal(afterFor(col, 9, 99), 3, "past the end is the bottom");
  assert.equal(afterFor(col, 1, 0), null, "within its column: the dragged card is not counted");
  assert.equal(afterFor(col, 1, 1), 2);
  assert.equal(afterFor(col, 2, 2), 3);
  assert.equal(afterFor([], 9, 0), null, "empty column");
});

test("the move body says what was meant: column, sprint, after; no rank, no dates", () => {
  assert.deepEqual(moveBody("testing", 7, 12), { status: "testing", sprint: 7, after: 12 });
  assert.deepEqual(moveBody("not_started", 7, null), { status: "not_started", sprint: 7, after: null });
  assert.deepEqual(moveBody("backlog", 7, 4), { sprint: null, after: 4 });
});

test("a pending drop shows the card below its after until the answer", () => {
  const tasks = [t(1, { rank: "a" }), t(2, { rank: "b" }), t(3, { rank: "c", status: "testing" })];
  const pending = new Map([[1, { key: "testing", after: 3, ticket: 1 }]]);
  let cols = columnsOf(tasks, [], pending);
  assert.deepEqual(ids(cols.not_started), [2]);
  assert.deepEqual(ids(cols.testing), [3, 1]);
  assert.equal(cols.testing[1].status, "testing", "shown with its new status");
  cols = columnsOf(tasks, [], new Map([[3, { key: "not_started", after: null, ticket: 2 }]]));
  assert.deepEqual(ids(cols.not_started), [3, 1, 2], "at the top");
  cols = columnsOf(tasks, [], new Map([[1, { key: "testing", after: 42, ticket: 3 }]]));
  assert.deepEqual(ids(cols.testing), [3, 1], "an after that left the column: the bottom");
  cols = columnsOf(tasks.slice(1), [], pending);
  assert.deepEqual(ids(cols.testing), [3], "a card deleted meanwhile is not shown");
  cols = columnsOf(tasks, [t(8, { sprint: null })], new Map([[8, { key: "in_progress", after: null, ticket: 4 }]]));
  assert.deepEqual([ids(cols.backlog), ids(cols.in_progress)], [[], [8]], "from the backlog");
});

test("rollback: the server's answer, or its current state on 412, replaces the drop", () => {
  const state = { sprint: null, tasks: new Map([[1, t(1, { rank: "a" })], [2, t(2, { rank: "b" })]]), backlog: new Map() };
  const before = columnsOf(state.tasks.values(), state.backlog.values());
  const pending = new Map([[1, { key: "done", after: null, ticket: 1 }]]);
  assert.deepEqual(ids(columnsOf(state.tasks.values(), [], pending).done), [1]);
  // refused without a newer state (400, network): dropping the placement is the rollback
  pending.clear();
  assert.deepEqual(columnsOf(state.tasks.values(), state.backlog.values()), before);
  // 412: someone moved it to testing first; their state is what the board shows
  assert.equal(placeTask(state, t(1, { status: "testing", rank: "c", version: 2 }), 7), true);
  assert.deepEqual(ids(columnsOf(state.tasks.values(), []).testing), [1]);
  // an older answer arriving after a newer event does not move the card back
  assert.equal(placeTask(state, t(1, { status: "done", version: 1 }), 7), false);
  assert.equal(state.tasks.get(1).status, "testing");
  // moved to the backlog, or to another sprint (gone from this board)
  placeTask(state, t(2, { sprint: null, version: 2 }), 7);
  assert.deepEqual([[...state.tasks.keys()], [...state.backlog.keys()]], [[1], [2]]);
  placeTask(state, t(2, { sprint: 8, version: 3 }), 7);
  assert.deepEqual([[...state.tasks.keys()], [...state.backlog.keys()]], [[1], []]);
});
