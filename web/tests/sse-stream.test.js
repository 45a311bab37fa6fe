// SseStream with a fake injected EventSource, ticket source and timers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { SseStream, streamUrl } from "../sse-stream.js";

class FakeEventSource {
  /** @type {FakeEventSource[]} */
  static all = [];
  constructor(url) {
    this.url = url;
    this.closed = false;
    this.listeners = new Map();
    FakeEventSource.all.push(this);
  }
  addEventListener(name, fn) { this.listeners.set(name, fn); }
  close() { this.closed = true; }
  // server side
  open() { this.onopen?.({}); }
  emit(name, data) { this.listeners.get(name)?.({ data: JSON.stringify(data) }); }
  fail() { this.onerror?.({}); }
}

const tick = () => new Promise((r) => setImmediate(r));

function setup() {
  FakeEventSource.all = [];
  const timers = [];
  const got = { events: [], presence: [], resync: [], states: [] };
  let tickets = 0;
  const stream = new SseStream({
    getTicket: async () => ({ url: "ws://rt.example:8080/7/", token: `t${++tickets}` }),
    onEvent: (f) => got.events.push(f.seq),
    onPresence: (f) => got.presence.push(f.type),
    onResync: (f) => got.resync.push(f.latest),
    onState: (s) => got.states.push(s),
    EventSourceImpl: /** @type {any} */ (FakeEventSource),
    random: () => 0.5,
    setTimer: (fn, ms) => { timers.push({ fn, ms }); return timers.length; },
    clearTimer: () => {},
  });
  return { stream, got, timers };
}

test("the stream URL comes from the ticket's websocket URL", () => {
  assert.equal(streamUrl("ws://h:8080/7/", "a.b", 12), "http://h:8080/7/stream?token=a.b&since=12");
  assert.equal(streamUrl("wss://h/ws/7/", "x", null), "https://h/ws/7/stream?token=x");
});

test("events are passed on once, in order; presence and resync too", async () => {
  const { stream, got } = setup();
  stream.start(3);
  await tick();
  const es = FakeEventSource.all[0];
  assert.equal(es.url, "http://rt.example:8080/7/stream?token=t1&since=3");
  es.open();
  es.emit("presence", { type: "presence", peers: [] });
  for (const seq of [3, 4, 5, 5]) es.emit("event", { type: "event", seq });
  es.emit("resync", { type: "resync", latest: 9 });
  assert.deepEqual(got.events, [4, 5]);
  assert.deepEqual(got.presence, ["presence"]);
  assert.deepEqual(got.resync, [9]);
  assert.deepEqual(got.states, ["connecting", "live"]);
});

test("on error: closed, then a fresh ticket and since=<last> after a jittered backoff", async () => {
  const { stream, got, timers } = setup();
  stream.start(0);
  await tick();
  const first = FakeEventSource.all[0];
  first.open();
  first.emit("event", { type: "event", seq: 1 });
  first.fail();
  assert.equal(first.closed, true);
  assert.equal(stream.state, "reconnecting");
  assert.equal(timers.length, 1);
  assert.ok(timers[0].ms >= 0 && timers[0].ms < 500);
  timers[0].fn();
  await tick();
  const second = FakeEventSource.all[1];
  assert.equal(second.url, "http://rt.example:8080/7/stream?token=t2&since=1");
  second.fail(); // fails before it opens: the next delay's window doubles
  assert.equal(timers[1].ms, 500);
  timers[1].fn();
  await tick();
  FakeEventSource.all[2].open();
  assert.equal(stream.attempt, 0);
  assert.deepEqual(got.states.slice(-2), ["reconnecting", "live"]);
});

test("a server close event reconnects; stop() ends it for good", async () => {
  const { stream, timers } = setup();
  stream.start(null);
  await tick();
  const es = FakeEventSource.all[0];
  es.open();
  es.listeners.get("close")({ data: "{}" });
  assert.equal(es.closed, true);
  assert.equal(timers.length, 1);
  stream.stop();
  timers[0].fn();
  await tick();
  assert.equal(FakeEventSource.all.length, 1);
  assert.equal(stream.state, "offline");
});
