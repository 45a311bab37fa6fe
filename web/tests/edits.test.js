// The task form: only what the person changed is written; a conflict lists what changed
// on the server, field by field, beside what the person typed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { changedFields, conflictDiff, conflictMessage, formValuesOf } from "../edits.js";

const base = { id: 1, name: "Write docs", description: "", status: "in_progress", assigned: "ana",
  started: "2026-01-02", due: null, completed: null, version: 3 };

test("form values show null as empty", () => {
  assert.deepEqual(formValuesOf(base), { name: "Write docs", description: "", status: "in_progress",
    assigned: "ana", started: "2026-01-02", due: "", completed: "" });
  assert.equal(formValuesOf(null).status, "not_started");
});

test("an edit sends only the fields the person changed; empty means null", () => {
  const form = { ...formValuesOf(base), name: "Write the docs", due: "2026-02-01", assigned: "" };
  assert.deepEqual(changedFields(base, form), { name: "Write the docs", assigned: null, due: "2026-02-01" });
  assert.deepEqual(changedFields(base, formValuesOf(base)), {}, "nothing changed");
  const created = changedFields(null, { ...formValuesOf(null), name: "New", description: "d" });
  assert.deepEqual(created, { name: "New", description: "d", status: "not_started", assigned: null,
    started: null, due: null, completed: null }, "a new task sends everything");
});

test("the conflict diff lists the server's changes beside the typed values", () => {
  const mine = { ...formValuesOf(base), name: "Write the docs", description: "typed text" };
  const current = { ...base, name: "Docs (renamed)", status: "testing", version: 5 };
  assert.deepEqual(conflictDiff(base, mine, current), [
    { key: "name", label: "Name", mine: "Write the docs", current: "Docs (renamed)", touched: true, clash: true },
    { key: "status", label: "Status", mine: "in_progress", current: "testing", touched: false, clash: false },
  ]);
  // the person's own change to a field nobody else touched is not a conflict
  assert.ok(!conflictDiff(base, mine, current).some((r) => r.key === "description"));
  // the same change on both sides is listed but does not clash
  assert.equal(conflictDiff(base, { ...mine, status: "testing" }, current)[1].clash, false);
  // only moved (rank, sprint): no field of the form changed
  assert.deepEqual(conflictDiff(base, mine, { ...base, rank: "zz", version: 4 }), []);
  // and applying keeps what was typed, not the fields the other person changed
  assert.deepEqual(changedFields(base, mine), { name: "Write the docs", description: "typed text" });
});

test("the lost-drop message names the holder when known", () => {
  assert.equal(conflictMessage("ana"), "ana moved this card meanwhile");
  assert.equal(conflictMessage(null), "Someone changed this card meanwhile");
});
