// Drag state: per-sender dedupe, ghost bookkeeping and expiry.
import { test } from "node:test";
import assert from "node:assert/strict";
import { DragDedupe, DragReceiver, DragSequence, GHOST_TTL_MS, GhostBook, HOLDER_MEMORY_MS } from "../drag.js";

const drag = (seq, phase = "move", extra = {}) => ({ type: "drag", seq, task: 7, phase, status: "testing", index: 2, ...extra });

test("same update via data channel and relay is shown once", () => {
  const r = new DragReceiver();
  assert.equal(r.receive("ben", drag(1, "start"), 0), true);
  assert.equal(r.receive("ben", drag(1, "start"), 1), false, "relay copy of the same seq");
  assert.equal(r.receive("ben", drag(2), 2), true);
  assert.equal(r.receive("ben", drag(2), 3), false);
  assert.equal(r.ghosts.size, 1);
});

test("late move after end does not revive the ghost", () => {
  const r = new DragReceiver();
  r.receive("ben", drag(1, "start"), 0);
  r.receive("ben", drag(3, "end"), 10);
  assert.equal(r.ghosts.size, 0);
  assert.equal(r.receive("ben", drag(2, "move"), 20), false);
  assert.equal(r.ghosts.size, 0);
});

test("senders are deduped independently", () => {
  const d = new DragDedupe();
  assert.equal(d.accept("a", 5), true);
  assert.equal(d.accept("b", 1), true);
  assert.equal(d.accept("a", 4), false);
  d.forget("a");
  assert.equal(d.accept("a", 1), true);
});

test("invalid drags from a peer are ignored", () => {
  const r = new DragReceiver();
  assert.equal(r.receive("ben", { type: "drag", seq: 1, task: 7, phase: "fly" }, 0), false);
  assert.equal(r.receive("ben", "garbage", 0), false);
  assert.equal(r.receive("ben", { ...drag(1), x: 3 }, 0), false);
  assert.equal(r.ghosts.size, 0);
  // an invalid update does not burn the seq
  assert.equal(r.receive("ben", drag(1, "start"), 0), true);
});

test("ghost keeps the last known position when a move omits fields", () => {
  const g = new GhostBook();
  g.update("ben", drag(1, "start", { x: 0.1, y: 0.2 }), 0);
  g.update("ben", { type: "drag", seq: 2, task: 7, phase: "move", x: 0.5 }, 5);
  assert.deepEqual(g.list(), [{ peer: "ben", task: 7, status: "testing", index: 2, x: 0.5, y: 0.2, updatedAt: 5 }]);
});

test("ghosts expire after 5 s without updates", () => {
  const r = new DragReceiver();
  r.receive("ben", drag(1, "start"), 1000);
  r.receive("cy", drag(1, "start", { task: 8 }), 3000);
  assert.equal(r.expire(1000 + GHOST_TTL_MS), false, "exactly 5 s is still alive");
  assert.equal(r.expire(1001 + GHOST_TTL_MS), true);
  assert.deepEqual(r.ghosts.list().map((g) => g.peer), ["cy"]);
  r.receive("cy", drag(2, "move", { task: 8 }), 7000);
  assert.equal(r.expire(9000), false, "a move refreshes the ghost");
});

test("peer_left removes that peer's ghosts; a new start replaces the old ghost", () => {
  const r = new DragReceiver();
  r.receive("ben", drag(1, "start"), 0);
  r.receive("ben", drag(2, "start", { task: 9 }), 0);
  assert.deepEqual(r.ghosts.list().map((g) => g.task), [9]);
  r.receive("cy", drag(1, "start"), 0);
  assert.equal(r.peerLeft("ben"), true);
  assert.deepEqual(r.ghosts.list().map((g) => g.peer), ["cy"]);
});

test("DragSequence numbers across drags and clamps pointer fractions", () => {
  const s = new DragSequence();
  assert.deepEqual(s.next(7, "start", { status: "testing", index: 0, x: -0.2, y: 1.7 }),
    { type: "drag", seq: 1, task: 7, phase: "start", status: "testing", index: 0, x: 0, y: 1 });
  assert.equal(s.next(8, "move").seq, 2);
  assert.deepEqual(s.next(8, "end", { status: null, index: null }), { type: "drag", seq: 3, task: 8, phase: "end" });
});

test("the last holder of a task is remembered a while after the ghost ends", () => {
  const r = new DragReceiver();
  r.receive("ana", drag(1, "start"), 0);
  r.receive("ben", drag(1, "start", { task: 8 }), 10);
  assert.equal(r.ghosts.lastHolder(7, 20), "ana");
  r.receive("ana", drag(2, "end"), 1000);
  assert.equal(r.ghosts.size, 1, "ana's ghost is gone");
  assert.equal(r.ghosts.lastHolder(7, 1000 + HOLDER_MEMORY_MS), "ana", "still named just after the drop");
  assert.equal(r.ghosts.lastHolder(7, 1001 + HOLDER_MEMORY_MS), null, "forgotten later");
  r.receive("ben", drag(2, "start"), 2000);
  assert.equal(r.ghosts.lastHolder(7, 2000), "ben", "the latest holder wins");
  assert.equal(r.ghosts.lastHolder(99, 2000), null);
  const book = new GhostBook();
  for (let task = 1; task <= 300; task++) book.update("p", { type: "drag", seq: task, task, phase: "end" }, task);
  assert.ok(book.holders.size <= 256, "bounded");
  assert.equal(book.lastHolder(300, 300), "p");
});
