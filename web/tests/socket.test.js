// RealtimeSocket with a fake injected WebSocket, ticket source and clock.
import { test } from "node:test";
import assert from "node:assert/strict";
import { RealtimeSocket, State } from "../socket.js";

class FakeWebSocket {
  /** @type {FakeWebSocket[]} */
  static all = [];
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    this.closed = null;
    FakeWebSocket.all.push(this);
  }
  send(text) { this.sent.push(JSON.parse(text)); }
  close(code = 1000, reason = "") { this.closed = { code, reason }; this.readyState = 3; }
  // server side
  open() { this.readyState = 1; this.onopen?.({}); }
  welcome(seq = null) {
    this.open();
    this.serverSend({ type: "welcome", protocol: 2, peer: "me", sprint: 7, user: { id: 1, username: "ana" }, peers: [], count: 1, ice_servers: [], seq });
  }
  serverSend(frame) { this.onmessage?.({ data: typeof frame === "string" ? frame : JSON.stringify(frame) }); }
  serverClose(code, reason = "") { this.readyState = 3; this.onclose?.({ code, reason }); }
}

function setup(extra = {}) {
  FakeWebSocket.all = [];
  let now = 0;
  const timers = [];
  let tickets = 0;
  const states = [];
  const sock = new RealtimeSocket({
    getTicket: async () => ({ url: "ws://rt/7/", token: `t${++tickets}` }),
    WebSocket: FakeWebSocket,
    random: () => 0.5,
    now: () => now,
    setTimeout: (fn, ms) => { const t = { fn, at: now + ms, ms }; timers.push(t); return t; },
    clearTimeout: (t) => { const i = timers.indexOf(t); if (i >= 0) timers.splice(i, 1); },
    ...extra,
  });
  sock.on("state", (a, b) => states.push(`${a}->${b}`));
  const flush = () => new Promise((r) => setImmediate(r));
  /** Run the earliest timer (advancing the clock to it). */
  const fire = async () => {
    timers.sort((a, b) => a.at - b.at);
    const t = timers.shift();
    now = t.at;
    t.fn();
    await flush();
    return t.ms;
  };
  return { sock, states, timers, flush, fire, last: () => FakeWebSocket.all.at(-1), advance: (ms) => { now += ms; } };
}

test("connect: ticket in the URL, live on welcome, states via one method", async () => {
  const { sock, states, flush, last } = setup();
  const welcomes = [];
  sock.on("welcome", (w) => welcomes.push(w.peer));
  sock.connect();
  await flush();
  assert.equal(last().url, "ws://rt/7/?token=t1&protocol=2");
  assert.equal(sock.state, State.CONNECTING);
  assert.equal(sock.send({ type: "resume", since: 1 }), false, "nothing is sent before welcome");
  last().welcome(5);
  assert.equal(sock.state, State.LIVE);
  assert.deepEqual(welcomes, ["me"]);
  assert.equal(sock.send({ type: "resume", since: 1 }), true);
  assert.deepEqual(last().sent, [{ type: "resume", since: 1 }]);
  assert.deepEqual(states, ["offline->connecting", "connecting->live"]);
});

test("reconnects with growing jittered backoff and a fresh ticket each time", async () => {
  const { sock, states, timers, flush, fire, last } = setup();
  sock.connect();
  await flush();
  last().serverClose(1006);
  assert.equal(sock.state, State.RECONNECTING);
  const delays = [];
  for (let i = 0; i < 3; i++) {
    delays.push(await fire());
    assert.equal(last().url, `ws://rt/7/?token=t${i + 2}&protocol=2`);
    last().serverClose(1006);
  }
  delays.push(timers[0].ms);
  assert.deepEqual(delays, [250, 500, 1000, 2000], "random 0.5 × min(cap, 500·2^n)");
  assert.deepEqual(states, ["offline->connecting", "connecting->reconnecting"], "keeps reconnecting while online");
  await fire();
  last().welcome();
  assert.equal(sock.state, State.LIVE);
});

test("without a network the state reads offline, and coming back retries at once", async () => {
  let online = true;
  const { sock, flush, last, timers, states } = setup({ isOnline: () => online });
  sock.connect();
  await flush();
  last().welcome();
  online = false;
  last().serverClose(1006);
  assert.equal(sock.state, State.OFFLINE);
  assert.equal(sock.shouldConnect, true, "still wants to connect");
  assert.equal(timers.length, 1, "and keeps retrying");
  online = true;
  sock.networkChanged();
  await flush();
  assert.equal(timers.length, 1, "the connect timeout of the immediate attempt");
  assert.equal(FakeWebSocket.all.length, 2);
  last().welcome();
  assert.deepEqual(states.slice(-3), ["live->offline", "offline->reconnecting", "reconnecting->live"]);
});

test("4001 gets a new ticket; backoff resets only after a stable connection", async () => {
  const { sock, timers, flush, fire, last, advance } = setup();
  sock.connect();
  await flush();
  last().serverClose(4001, "expired");
  await fire();
  assert.match(last().url, /token=t2&protocol=2$/);
  last().welcome();
  last().serverClose(1001); // dropped right after welcome: not stable
  assert.equal(timers[0].ms, 500, "attempt counter kept growing");
  await fire();
  last().welcome();
  advance(20_000);
  last().serverClose(1001);
  assert.equal(timers[0].ms, 250, "stable connection resets the backoff");
});

test("disconnect stops wanting a connection; no retry; connect again works", async () => {
  const { sock, timers, flush, last, states } = setup();
  sock.connect();
  await flush();
  const ws = last();
  ws.welcome();
  sock.disconnect();
  assert.deepEqual(ws.closed, { code: 1000, reason: "bye" });
  assert.equal(sock.state, State.OFFLINE);
  assert.equal(sock.shouldConnect, false);
  assert.equal(timers.length, 0);
  ws.serverClose(1000); // late close event of the old socket is ignored
  assert.equal(timers.length, 0);
  sock.connect();
  await flush();
  assert.equal(states.at(-1), "offline->connecting");
  assert.equal(FakeWebSocket.all.length, 2);
});

test("ticket failures: network errors retry, 404 is fatal", async () => {
  let fail = { status: 0 };
  const { sock, timers, flush } = setup({ getTicket: async () => { throw Object.assign(new Error("x"), fail); } });
  const fatal = [];
  sock.on("fatal", (e) => fatal.push(e));
  sock.connect();
  await flush();
  assert.equal(sock.state, State.RECONNECTING);
  assert.equal(timers.length, 1);
  fail = { status: 404 };
  sock.retryNow();
  await flush();
  assert.equal(fatal.length, 1);
  assert.equal(sock.state, State.OFFLINE);
  assert.equal(sock.shouldConnect, false);
  assert.equal(timers.length, 0);
});

test("no welcome in time counts as a failed attempt", async () => {
  const { sock, flush, fire, last, timers } = setup({ connectTimeout: 3000 });
  sock.connect();
  await flush();
  const ws = last();
  ws.open();
  assert.equal(await fire(), 3000);
  assert.ok(ws.closed);
  assert.equal(sock.state, State.RECONNECTING);
  assert.equal(timers.length, 1);
});

test("frames are decoded; bad frames reported, connection kept", async () => {
  const { sock, flush, last } = setup();
  const frames = [], errors = [];
  sock.on("frame", (f) => frames.push(f.type));
  sock.on("protocolError", (e) => errors.push(e.code));
  sock.connect();
  await flush();
  last().welcome();
  last().serverSend("ping");
  last().serverSend({ type: "presence", joined: [], left: ["x"], count: 1 });
  assert.deepEqual(frames, ["welcome", "presence"]);
  assert.deepEqual(errors, ["bad_json"]);
  assert.equal(sock.state, State.LIVE);
});

test("4426 (protocol version 2 required) stops reconnecting: only a reload can help", async () => {
  const { sock, flush, last, timers } = setup();
  const closes = [];
  sock.on("close", (c) => closes.push(c.code));
  sock.connect();
  await flush();
  const first = last();
  first.serverClose(4426);
  await flush();
  assert.deepEqual(closes, [4426]);
  assert.equal(sock.state, State.OFFLINE);
  assert.equal(sock.shouldConnect, false);
  assert.equal(last(), first, "no second attempt");
  assert.equal(timers.length, 0);
});

// 4029 comes before any welcome: the server refuses the connection as it opens.
for (const [code, why, welcomed] of [[4008, "flooding", true], [4029, "too many connections", false]]) {
  test(`${why} close (${code}) backs off hard`, async () => {
    const { sock, flush, last, timers } = setup();
    sock.connect();
    await flush();
    if (welcomed) last().welcome();
    last().serverClose(code);
    assert.equal(timers[0].ms, 8000);
  });
}

test("handshakes shed by a node in a storm (HTTP 503: a browser sees only 1006 before open) back off in growing windows", async () => {
  // docs/protocol.md §2: the browser cannot read Retry-After; its ordinary backoff must
  // keep growing while the node sheds, and reset only after a connection stayed up.
  const { sock, timers, flush, fire, last, advance } = setup();
  sock.connect();
  await flush();
  last().welcome();
  advance(60_000); // up long enough: the node's restart finds it at attempt 0
  last().serverClose(1006);
  const windows = [];
  for (let i = 0; i < 6; i++) {
    windows.push(timers[0].ms);
    await fire();
    last().serverClose(1006); // shed: no open, no welcome
  }
  assert.deepEqual(windows, [250, 500, 1000, 2000, 4000, 8000], "random 0.5 × min(cap, 500·2^n)");
});
