// Protocol frames: every example of docs/protocol/examples.json (the examples of
// docs/protocol.md, checked against the page and signaling/protocol.py by
// tests/signaling/test_protocol_examples.py) decodes, validates and rebuilds here exactly.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import {
  Close, DRAG_PHASES, ErrorCode, EVENT_ACTIONS, EVENT_MODELS, MAX_MESSAGE_BYTES, MAX_RECIPIENTS,
  MAX_PEERS_PAGE, PROTOCOL_VERSION, ProtocolError, SERVER_TYPES, STATUSES, VISIBLE_PEERS,
  channelsFrame, decodeDrag, decodeServerFrame, encode, makeDrag, peersFrame, relayFrame,
  resumeFrame, signalFrame, socketUrl,
} from "../protocol.js";

const GOLDEN = JSON.parse(readFileSync(new URL("../../docs/protocol/examples.json", import.meta.url), "utf8"));

test("examples: the enums and limits are the ones both sides share", () => {
  const { enums, limits } = GOLDEN;
  assert.deepEqual({ ...Close }, enums.close_codes);
  assert.deepEqual({ ...ErrorCode }, enums.error_codes);
  assert.deepEqual([...SERVER_TYPES].sort(), [...enums.server_types].sort());
  assert.deepEqual([...STATUSES], enums.statuses);
  assert.deepEqual([...DRAG_PHASES], enums.drag_phases);
  assert.deepEqual([...EVENT_ACTIONS], enums.event_actions);
  assert.deepEqual([...EVENT_MODELS], enums.event_models);
  assert.equal(PROTOCOL_VERSION, GOLDEN.protocol);
  assert.equal(MAX_MESSAGE_BYTES, limits.max_message_bytes);
  assert.equal(MAX_RECIPIENTS, limits.max_recipients);
  assert.equal(VISIBLE_PEERS, limits.visible_peers);
  assert.equal(MAX_PEERS_PAGE, limits.max_peers_page);
});

test("examples: server frames decode as they are", () => {
  const frames = [...GOLDEN.server_frames, ...GOLDEN.errors.map((/** @type {any} */ e) => e.error)];
  assert.ok(frames.length >= 16, `found ${frames.length}`);
  for (const f of frames) assert.deepEqual(decodeServerFrame(JSON.stringify(f)), f);
});

test("examples: every error code has a frame a client can read", () => {
  const codes = new Set(GOLDEN.errors.map((/** @type {any} */ e) => decodeServerFrame(JSON.stringify(e.error))).map((/** @type {any} */ f) => f.code));
  assert.deepEqual([...codes].sort(), Object.values(ErrorCode).sort());
});

test("examples: client frames rebuild exactly with the frame builders", () => {
  const end = { type: "signal", to: "Zr4o0b8kFhS2aLw9", data: GOLDEN.end_of_candidates };
  const frames = [...GOLDEN.client_frames, end];
  assert.deepEqual(frames.map((/** @type {any} */ f) => f.type).sort(), ["channels", "peers", "relay", "resume", "signal", "signal"]);
  const rebuilt = frames.map((/** @type {any} */ f) => {
    switch (f.type) {
      case "relay": return relayFrame(f.data, f.to);
      case "signal": return signalFrame(f.to, f.data);
      case "resume": return resumeFrame(f.since);
      case "peers": return peersFrame(f.after, f.limit);
      default: return channelsFrame(f.peers);
    }
  });
  assert.deepEqual(rebuilt.map(encode), frames.map((f) => JSON.stringify(f)));
});

test("examples: a builder refuses the bad field the server refuses", () => {
  const [example] = GOLDEN.errors.filter((/** @type {any} */ e) => e.error.field === "since");
  throwsCode(() => resumeFrame(JSON.parse(example.send).since), example.error.code, example.error.field);
  const [peers] = GOLDEN.errors.filter((/** @type {any} */ e) => e.error.field === "limit");
  throwsCode(() => peersFrame(null, JSON.parse(peers.send).limit), peers.error.code, peers.error.field);
});

test("peers requests and the socket URL say what the server expects", () => {
  assert.deepEqual(peersFrame(), { type: "peers", after: null, limit: MAX_PEERS_PAGE });
  throwsCode(() => peersFrame("not a peer!"), ErrorCode.BAD_FIELD, "after");
  throwsCode(() => peersFrame(null, 0), ErrorCode.BAD_FIELD, "limit");
  assert.equal(socketUrl("ws://h/7/", "a b"), "ws://h/7/?token=a%20b&protocol=2");
  assert.equal(socketUrl("ws://h/7/?x=1", "t"), "ws://h/7/?x=1&token=t&protocol=2");
});

test("presence frames are bounded like the server's", () => {
  const member = (/** @type {number} */ i) => ({ peer: `p${i}`, user: { id: i + 1, username: `u${i}` } });
  const many = Array.from({ length: VISIBLE_PEERS + 1 }, (_, i) => member(i));
  const frame = { type: "presence", joined: many, left: [], count: 51 };
  throwsCode(() => decodeServerFrame(JSON.stringify(frame)), ErrorCode.BAD_FIELD, "joined");
  throwsCode(() => decodeServerFrame(JSON.stringify({ ...frame, joined: [], left: ["bad id"] })), ErrorCode.BAD_FIELD, "left");
  throwsCode(() => decodeServerFrame(JSON.stringify({ type: "peers", peers: [], next: null, count: -1 })), ErrorCode.BAD_FIELD, "count");
});

test("examples: drag updates validate and keep wire order", () => {
  const drags = [
    ...GOLDEN.drag_updates,
    ...GOLDEN.server_frames.filter((/** @type {any} */ f) => f.type === "relay").map((/** @type {any} */ f) => f.data),
    ...GOLDEN.client_frames.filter((/** @type {any} */ f) => f.type === "relay").map((/** @type {any} */ f) => f.data),
  ];
  assert.ok(drags.length >= 3);
  for (const d of drags) assert.equal(encode(decodeDrag(d)), JSON.stringify(d));
});

test("a welcome's user may be debug mode's anonymous one", () => {
  const [welcome] = GOLDEN.server_frames.filter((/** @type {any} */ f) => f.type === "welcome");
  const anonymous = { ...welcome, user: { id: null, username: "anonymous" }, peers: [] };
  assert.deepEqual(decodeServerFrame(JSON.stringify(anonymous)), anonymous);
  throwsCode(() => decodeServerFrame(JSON.stringify({ ...welcome, user: { id: 1.5, username: "x" } })), ErrorCode.BAD_FIELD, "user.id");
});

test("encode is compact and deterministic", () => {
  assert.equal(encode(resumeFrame(42)), '{"type":"resume","since":42}');
  assert.equal(encode(relayFrame({ a: "é" })), '{"type":"relay","data":{"a":"é"}}');
  assert.equal(
    encode(makeDrag({ y: 0.63, x: 0.41, index: 2, status: "testing", phase: "move", task: 7, seq: 18 })),
    '{"type":"drag","seq":18,"task":7,"phase":"move","status":"testing","index":2,"x":0.41,"y":0.63}',
  );
});

/** @param {() => unknown} fn @param {string} code @param {string} [field] */
function throwsCode(fn, code, field) {
  assert.throws(fn, (err) => err instanceof ProtocolError && err.code === code && (field === undefined || err.field === field));
}

test("drag validation mirrors decode_drag", () => {
  const ok = { type: "drag", seq: 1, task: 1, phase: "start" };
  assert.deepEqual(decodeDrag(ok), ok);
  throwsCode(() => decodeDrag({ ...ok, type: "other" }), ErrorCode.UNKNOWN_TYPE);
  throwsCode(() => decodeDrag("x"), ErrorCode.BAD_FIELD, "data");
  throwsCode(() => decodeDrag({ ...ok, seq: 0 }), ErrorCode.BAD_FIELD, "seq");
  throwsCode(() => decodeDrag({ ...ok, seq: true }), ErrorCode.BAD_FIELD, "seq");
  throwsCode(() => decodeDrag({ ...ok, seq: 1.5 }), ErrorCode.BAD_FIELD, "seq");
  throwsCode(() => decodeDrag({ ...ok, task: 0 }), ErrorCode.BAD_FIELD, "task");
  throwsCode(() => decodeDrag({ ...ok, phase: "drop" }), ErrorCode.BAD_FIELD, "phase");
  throwsCode(() => decodeDrag({ ...ok, status: "backlog" }), ErrorCode.BAD_FIELD, "status");
  throwsCode(() => decodeDrag({ ...ok, index: -1 }), ErrorCode.BAD_FIELD, "index");
  throwsCode(() => decodeDrag({ ...ok, x: 1.01 }), ErrorCode.BAD_FIELD, "x");
  throwsCode(() => decodeDrag({ ...ok, y: "0.5" }), ErrorCode.BAD_FIELD, "y");
  throwsCode(() => decodeDrag({ ...ok, zz: 1, extra: 2 }), ErrorCode.BAD_FIELD, "extra");
  assert.deepEqual(decodeDrag({ ...ok, status: null, x: 0, y: 1 }), { ...ok, x: 0, y: 1 });
});

test("client frame builders refuse what the server would refuse", () => {
  throwsCode(() => relayFrame({}, []), ErrorCode.BAD_FIELD, "to");
  throwsCode(() => relayFrame({}, Array.from({ length: 65 }, (_, i) => `p${i}`)), ErrorCode.BAD_FIELD, "to");
  throwsCode(() => relayFrame({}, [""]), ErrorCode.BAD_FIELD, "to");
  throwsCode(() => relayFrame(/** @type {any} */ ([]), undefined), ErrorCode.BAD_FIELD, "data");
  throwsCode(() => signalFrame("x".repeat(65), {}), ErrorCode.BAD_FIELD, "to");
  throwsCode(() => resumeFrame(-1), ErrorCode.BAD_FIELD, "since");
  throwsCode(() => channelsFrame(/** @type {any} */ ("p")), ErrorCode.BAD_FIELD, "peers");
  assert.deepEqual(channelsFrame([]), { type: "channels", peers: [] });
});

test("server frames: bad input gets the matching code", () => {
  throwsCode(() => decodeServerFrame("ping"), ErrorCode.BAD_JSON);
  throwsCode(() => decodeServerFrame("[1]"), ErrorCode.BAD_MESSAGE);
  throwsCode(() => decodeServerFrame('{"type": 3}'), ErrorCode.BAD_MESSAGE);
  throwsCode(() => decodeServerFrame('{"type": "hello"}'), ErrorCode.UNKNOWN_TYPE);
  throwsCode(() => decodeServerFrame(new Uint8Array(2)), ErrorCode.BINARY_UNSUPPORTED);
  throwsCode(() => decodeServerFrame('{"type":"event","sprint":7,"seq":0,"action":"updated","model":"task","id":1,"data":null}'), ErrorCode.BAD_FIELD, "seq");
  throwsCode(() => decodeServerFrame('{"type":"event","sprint":7,"seq":1,"action":"moved","model":"task","id":1,"data":null}'), ErrorCode.BAD_FIELD, "action");
  throwsCode(() => decodeServerFrame('{"type":"event","sprint":7,"seq":1,"action":"updated","model":"task","id":1,"data":null,"actor":{"id":"3","username":"ana"}}'), ErrorCode.BAD_FIELD, "actor.id");
  const e = decodeServerFrame('{"type":"event","sprint":7,"seq":1,"action":"deleted","model":"task","id":1,"data":null,"actor":{"id":3,"username":"ana"}}');
  assert.deepEqual(e.type === "event" && e.actor, { id: 3, username: "ana" });
  assert.equal(decodeServerFrame('{"type":"event","sprint":7,"seq":1,"action":"deleted","model":"task","id":1,"data":null,"actor":null}').type, "event");
  const w = decodeServerFrame('{"type":"welcome","protocol":2,"peer":"a","sprint":7,"user":{"id":1,"username":"ana"},"peers":[],"count":1,"ice_servers":[],"seq":null}');
  assert.equal(w.type, "welcome");
  assert.deepEqual(decodeServerFrame('{"type":"resync","latest":null}'), { type: "resync", latest: null });
});
