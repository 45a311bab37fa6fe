// Protocol frames: every example in docs/protocol.md decodes/validates as the server's would.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import {
  Close, ErrorCode, ProtocolError, channelsFrame, decodeDrag, decodeServerFrame, encode,
  makeDrag, relayFrame, resumeFrame, signalFrame,
} from "../protocol.js";

/** Every JSON object with a "type" in the ```json blocks of docs/protocol.md. */
function docFrames() {
  const doc = readFileSync(new URL("../../docs/protocol.md", import.meta.url), "utf8");
  const frames = [];
  for (const block of doc.matchAll(/```json\n([\s\S]*?)```/g)) {
    let acc = "";
    for (const line of block[1].split("\n")) {
      acc += line + "\n";
      try {
        const obj = JSON.parse(acc);
        if (obj && typeof obj.type === "string") frames.push(obj);
        acc = "";
      } catch { /* object continues on the next line */ }
    }
  }
  return frames;
}

const SERVER = new Set(["welcome", "peer_joined", "peer_left", "event", "resync", "error"]);

test("docs examples: server frames decode", () => {
  const frames = docFrames().filter((f) => SERVER.has(f.type) || "from" in f);
  assert.ok(frames.length >= 9, `found ${frames.length}`);
  for (const f of frames) assert.deepEqual(decodeServerFrame(JSON.stringify(f)), f);
});

test("docs examples: client frames rebuild exactly with the frame builders", () => {
  const frames = docFrames().filter((f) => ["relay", "signal", "resume", "channels"].includes(f.type) && !("from" in f));
  assert.equal(frames.length, 4);
  const rebuilt = frames.map((f) => {
    switch (f.type) {
      case "relay": return relayFrame(f.data, f.to);
      case "signal": return signalFrame(f.to, f.data);
      case "resume": return resumeFrame(f.since);
      default: return channelsFrame(f.peers);
    }
  });
  assert.deepEqual(rebuilt.map(encode), frames.map((f) => JSON.stringify(f)));
});

test("docs examples: drag updates validate and keep wire order", () => {
  const drags = docFrames().filter((f) => f.type === "drag");
  drags.push(...docFrames().filter((f) => f.type === "relay").map((f) => f.data));
  assert.ok(drags.length >= 3);
  for (const d of drags) assert.equal(encode(decodeDrag(d)), JSON.stringify(d));
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
  throwsCode(() => decodeServerFrame('{"type":"event","sprint":7,"seq":1,"action":"updated","model":"task","id":1,"data":null,"actor":{"id":"3"}}'), ErrorCode.BAD_FIELD, "actor.id");
  const e = decodeServerFrame('{"type":"event","sprint":7,"seq":1,"action":"deleted","model":"task","id":1,"data":null,"actor":{"id":3,"username":"ana"}}');
  assert.deepEqual(e.type === "event" && e.actor, { id: 3, username: "ana" });
  assert.equal(decodeServerFrame('{"type":"event","sprint":7,"seq":1,"action":"deleted","model":"task","id":1,"data":null,"actor":null}').type, "event");
  const w = decodeServerFrame('{"type":"welcome","protocol":1,"peer":"a","sprint":7,"user":{"id":1,"username":"ana"},"peers":[],"ice_servers":[],"seq":null}');
  assert.equal(w.type, "welcome");
  assert.deepEqual(decodeServerFrame('{"type":"resync","latest":null}'), { type: "resync", latest: null });
});

test("close codes match signaling/protocol.py", () => {
  const py = readFileSync(new URL("../../signaling/protocol.py", import.meta.url), "utf8");
  const body = py.split("class Close")[1].split("class ErrorCode")[0];
  const fromPy = Object.fromEntries([...body.matchAll(/^\s+([A-Z_]+) = (\d+)/gm)].map((m) => [m[1], Number(m[2])]));
  assert.deepEqual(fromPy, { ...Close });
  const errBody = py.split("class ErrorCode")[1].split("class ProtocolError")[0];
  const errs = Object.fromEntries([...errBody.matchAll(/^\s+([A-Z_]+) = "([a-z_]+)"/gm)].map((m) => [m[1], m[2]]));
  assert.deepEqual(errs, { ...ErrorCode });
});
