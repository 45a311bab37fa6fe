// EventStream (docs/protocol.md §6): dedupe by seq, gap → resume once, resync → the event
// log, refetch only when the log cannot help or the stream was renumbered.
import { test } from "node:test";
import assert from "node:assert/strict";
import { EventStream, applyEvent } from "../event-stream.js";

/** @param {number} seq @param {object} [extra] */
const ev = (seq, extra = {}) => ({
  type: "event", sprint: 7, seq, action: "updated", model: "task", id: 12,
  data: { id: 12, sprint: 7, status: "testing", rank: "m", version: seq }, ...extra,
});

function harness(last = 0) {
  const log = { applied: [], resumes: [], refetches: 0, catchUps: [] };
  const stream = new EventStream({
    apply: (e) => log.applied.push(e.seq),
    resume: (since) => log.resumes.push(since),
    catchUp: (since) => log.catchUps.push(since),
    refetch: () => { log.refetches += 1; },
  }, last);
  return { stream, log };
}

test("in-order events apply; duplicates are ignored", () => {
  const { stream, log } = harness(42);
  stream.onEvent(ev(43));
  stream.onEvent(ev(43));
  stream.onEvent(ev(40));
  stream.onEvent(ev(44));
  assert.deepEqual(log.applied, [43, 44]);
  assert.equal(stream.last, 44);
  assert.deepEqual(log.resumes, []);
});

test("gap: buffer, resume once, apply in order as it fills", () => {
  const { stream, log } = harness(42);
  stream.onEvent(ev(45));
  stream.onEvent(ev(46));
  assert.deepEqual(log.resumes, [42], "one resume for the gap");
  assert.deepEqual(log.applied, []);
  stream.onEvent(ev(43));
  assert.deepEqual(log.applied, [43]);
  stream.onEvent(ev(44));
  assert.deepEqual(log.applied, [43, 44, 45, 46]);
  assert.equal(stream.hasGap, false);
  assert.equal(stream.resumePending, false);
  // a later gap resumes again
  stream.onEvent(ev(48));
  assert.deepEqual(log.resumes, [42, 46]);
  // the replay brings duplicates too: shown once
  for (const s of [45, 46, 47, 48]) stream.onEvent(ev(s));
  assert.deepEqual(log.applied, [43, 44, 45, 46, 47, 48]);
});

test("welcome: resume when the server knows more, not otherwise", () => {
  const { stream, log } = harness(42);
  stream.onWelcome(42);
  stream.onWelcome(null);
  assert.deepEqual(log.resumes, []);
  stream.onWelcome(50);
  assert.deepEqual(log.resumes, [42]);
});

test("reconnect with an open gap resumes again on the new connection", () => {
  const { stream, log } = harness(10);
  stream.onEvent(ev(12));
  assert.deepEqual(log.resumes, [10]);
  stream.onWelcome(null); // server restarted, knows nothing
  assert.deepEqual(log.resumes, [10, 10]);
});

test("resync: catch up from the log as if live, then resume for what the log lacked", () => {
  const { stream, log } = harness(10);
  stream.onEvent(ev(12));
  assert.deepEqual(log.resumes, [10]);
  stream.onResync(40);
  stream.onResync(41); // a second resync while the log is read: nothing more
  assert.deepEqual(log.catchUps, [10]);
  assert.equal(log.refetches, 0);
  stream.onEvent(ev(42)); // live meanwhile, above a gap: held, no resume
  assert.deepEqual(log.resumes, [10]);
  for (const s of [11, 12, 13]) stream.onEvent(ev(s)); // the log (12 was held too)
  assert.deepEqual(log.applied, [11, 12, 13]);
  stream.caughtUp(); // the log ended at 13: 14-41 came after it was read
  assert.deepEqual(log.resumes, [10, 13]);
  for (let s = 14; s <= 41; s += 1) stream.onEvent(ev(s));
  assert.equal(stream.last, 42);
  assert.equal(log.refetches, 0, "no full reload");
});

test("the log failing (410) falls back to a refetch; events are held until reset", () => {
  const { stream, log } = harness(10);
  stream.onResync(31);
  stream.catchUpFailed();
  assert.equal(log.refetches, 1);
  stream.onResync(31); // a second resync while refetching does not refetch twice
  stream.catchUpFailed();
  assert.equal(log.refetches, 1);
  stream.onEvent(ev(31));
  stream.onEvent(ev(33));
  assert.deepEqual(log.applied, []);
  stream.reset(31); // REST said sprint.seq = 31
  assert.equal(stream.last, 31);
  assert.deepEqual(log.applied, [], "31 was in the refetched state");
  assert.deepEqual(log.resumes, [31], "33 is above a gap: resume");
  stream.onEvent(ev(32));
  assert.deepEqual(log.applied, [32, 33]);
});

test("resync at or below our seq: the stream was renumbered, refetch at once", () => {
  for (const latest of [10, 3]) {
    const { stream, log } = harness(10);
    stream.onResync(latest);
    assert.deepEqual([log.catchUps, log.refetches], [[], 1]);
  }
  const { stream, log } = harness(10);
  stream.onResync(20);
  stream.onResync(5); // renumbered while the log was read: the log is no help either
  assert.equal(log.refetches, 1);
  stream.caughtUp();
  assert.equal(stream.catchingUp, false);
});

test("welcome lower than our seq refetches, and keeps the new stream's events", () => {
  const { stream, log } = harness(42);
  stream.onWelcome(7);
  assert.equal(log.refetches, 1);
  stream.onEvent(ev(8)); // at or below 42, but of the new numbering: not a duplicate
  stream.reset(7);
  assert.deepEqual(log.applied, [8]);
});

test("welcome during a refetch does not resume; a failed refetch can be retried", () => {
  const { stream, log } = harness(5);
  stream.onResync(4);
  stream.onWelcome(9);
  assert.deepEqual(log.resumes, []);
  stream.refetchFailed();
  stream.onResync(4);
  assert.equal(log.refetches, 2);
});

test("null last from REST counts as 0", () => {
  const { stream, log } = harness(null);
  stream.onEvent(ev(1));
  assert.deepEqual(log.applied, [1]);
});

test("applyEvent is idempotent and follows tasks across sprint and backlog", () => {
  const state = { tasks: new Map(), backlog: new Map([[5, { id: 5, sprint: null }]]), sprint: { id: 7, name: "S" } };
  const created = ev(1, { action: "created", id: 3, data: { id: 3, sprint: 7, status: "not_started", rank: "a", version: 1 } });
  applyEvent(state, created);
  applyEvent(state, created);
  assert.equal(state.tasks.size, 1);
  applyEvent(state, ev(2, { action: "added", id: 5, data: { id: 5, sprint: 7, status: "done", rank: "b", version: 1 } }));
  assert.equal(state.backlog.size, 0);
  assert.equal(state.tasks.get(5).status, "done");
  applyEvent(state, ev(3, { action: "removed", id: 5, data: { id: 5, sprint: null, status: "done", rank: "b", version: 2 } }));
  assert.equal(state.tasks.has(5), false);
  assert.equal(state.backlog.get(5).sprint, null);
  applyEvent(state, ev(4, { action: "removed", id: 3, data: { id: 3, sprint: 9 } }));
  assert.equal(state.backlog.has(3), false);
  assert.equal(applyEvent(state, ev(5, { action: "deleted", id: 3, data: null })), false);
  applyEvent(state, ev(6, { model: "sprint", id: 7, data: { id: 7, name: "Renamed", seq: 6 } }));
  assert.equal(state.sprint.name, "Renamed");
});

test("applyEvent skips an event older than the task held (a write's answer came first)", () => {
  const state = { tasks: new Map([[12, { id: 12, sprint: 7, status: "done", rank: "z", version: 5 }]]), backlog: new Map(), sprint: null };
  assert.equal(applyEvent(state, ev(1, { data: { id: 12, sprint: 7, status: "testing", rank: "m", version: 4 } })), false);
  assert.equal(state.tasks.get(12).status, "done");
  assert.equal(applyEvent(state, ev(2, { action: "removed", data: { id: 12, sprint: null, version: 3 } })), false);
  assert.equal(state.tasks.has(12), true);
  assert.equal(applyEvent(state, ev(3, { data: { id: 12, sprint: 7, status: "testing", rank: "m", version: 6 } })), true);
  assert.equal(state.tasks.get(12).status, "testing");
});
