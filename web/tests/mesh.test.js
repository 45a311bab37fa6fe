// Mesh: peer choice, perfect negotiation roles, relay fallback — with a fake RTCPeerConnection.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Mesh, isPolite, meshPeers } from "../mesh.js";
import { VISIBLE_PEERS } from "../protocol.js";

const MESH_CASES = JSON.parse(readFileSync(new URL("../../docs/protocol/mesh_cases.json", import.meta.url), "utf8"));

class FakeChannel {
  constructor(label, opts) { this.label = label; this.opts = opts; this.readyState = "connecting"; this.sent = []; this.bufferedAmount = 0; }
  send(s) { this.sent.push(JSON.parse(s)); }
  open() { this.readyState = "open"; this.onopen?.(); }
  close() { this.readyState = "closed"; this.onclose?.(); }
}

class FakePC {
  static all = [];
  constructor(config) {
    this.config = config; this.channels = []; this.signalingState = "stable"; this.localDescription = null;
    this.remote = []; this.candidates = []; this.closed = false; FakePC.all.push(this);
  }
  createDataChannel(label, opts) { const c = new FakeChannel(label, opts); this.channels.push(c); return c; }
  async setLocalDescription() {
    const type = this.signalingState === "have-remote-offer" ? "answer" : "offer";
    this.localDescription = { type, sdp: `v=0 ${type}`, toJSON() { return { type: this.type, sdp: this.sdp }; } };
    this.signalingState = type === "offer" ? "have-local-offer" : "stable";
  }
  async setRemoteDescription(d) {
    this.remote.push(d);
    this.signalingState = d.type === "offer" ? "have-remote-offer" : "stable";
  }
  async addIceCandidate(c) { this.candidates.push(c ?? null); }
  close() { this.closed = true; }
}

function setup(opts = {}) {
  FakePC.all = [];
  const out = { signals: [], relays: [], channels: [], timers: [] };
  const mesh = new Mesh({
    RTCPeerConnection: FakePC,
    sendSignal: (to, data) => out.signals.push({ to, data }),
    sendRelay: (to, data) => out.relays.push({ to, data }),
    sendChannels: (peers) => out.channels.push(peers),
    setTimeout: (fn, ms) => { const t = { fn, ms }; out.timers.push(t); return t; },
    clearTimeout: (t) => { const i = out.timers.indexOf(t); if (i >= 0) out.timers.splice(i, 1); },
    ...opts,
  });
  const links = [];
  mesh.on("link", (peer, kind) => links.push(`${peer}:${kind}`));
  return { mesh, out, links, tick: () => new Promise((r) => setImmediate(r)) };
}

const drag = (seq, phase = "move") => ({ type: "drag", seq, task: 7, phase, status: "testing", index: 0 });

test("meshPeers: the first limit+1 ids of the sprint, the same answer at both ends", () => {
  const ids = Array.from({ length: 12 }, (_, i) => `p${String(i).padStart(2, "0")}`);
  const choice = new Map(ids.map((id) => [id, meshPeers(id, ids.filter((x) => x !== id))]));
  for (const a of ids) {
    assert.ok(choice.get(a).size <= 8);
    for (const b of choice.get(a)) assert.ok(choice.get(b).has(a), `${a}→${b} is mutual`);
  }
  assert.deepEqual([...choice.get("p00")], ids.slice(1, 9));
  assert.equal(choice.get("p11").size, 0);
  assert.deepEqual([...meshPeers("b", ["a"], 8)], ["a"]);
});

test("meshPeers: the shared cases give the same pairs from what presence shows (the first 50)", () => {
  assert.equal(MESH_CASES.visible_peers, VISIBLE_PEERS);
  for (const { peers, limit, pairs } of MESH_CASES.cases) {
    const visible = [...peers].sort().slice(0, VISIBLE_PEERS);
    const chosen = new Map(peers.map((p) => [p, meshPeers(p, visible.filter((q) => q !== p), limit)]));
    const found = new Set();
    for (const [a, mine] of chosen) {
      for (const b of mine) {
        assert.ok(chosen.get(b).has(a), `${a}→${b} is mutual (${peers.length} peers, limit ${limit})`);
        found.add(JSON.stringify(a < b ? [a, b] : [b, a]));
      }
    }
    assert.deepEqual([...found].sort(), pairs.map((p) => JSON.stringify(p)).sort());
  }
});

test("presence: a newcomer in `joined` makes the offer; a signal before its presence counts", async () => {
  const { mesh, out, tick } = setup();
  mesh.start("m", [], ["m"], 1); // v2: the welcome lists us too
  assert.equal(mesh.peers.size, 0);
  mesh.presence(["a"], [], 2);
  await tick();
  assert.deepEqual(out.signals, [], "a joined after us: it offers");
  assert.ok(mesh.links.has("a"));
  mesh.handleSignal("b", { description: { type: "offer", sdp: "o" } }); // before b's presence
  await tick();
  assert.deepEqual(out.signals, [{ to: "b", data: { description: { type: "answer", sdp: "v=0 answer" } } }]);
  mesh.presence(["b"], ["a"], 2);
  assert.deepEqual([...mesh.links.keys()], ["b"]);
  assert.equal(mesh.unseen, false);
  mesh.presence([], [], 80); // 80 in the sprint, 2 of them seen: drags go to everyone
  assert.equal(mesh.unseen, true);
  mesh.sendDrag(drag(1, "start"));
  assert.deepEqual(out.relays.map((r) => r.to), [undefined]);
});

test("polite is the lexicographically smaller id", () => {
  assert.equal(isPolite("Abc", "abc"), true);
  assert.equal(isPolite("b", "a"), false);
});

test("joiner offers with two pre-negotiated channels; trickles candidates", async () => {
  const { mesh, out, tick } = setup();
  mesh.start("me", [{ urls: ["stun:x"] }], ["ben"]);
  await tick();
  const pc = FakePC.all[0];
  assert.deepEqual(pc.config, { iceServers: [{ urls: ["stun:x"] }] });
  assert.deepEqual(pc.channels.map((c) => [c.label, c.opts]), [
    ["drag", { negotiated: true, id: 0, ordered: false, maxRetransmits: 0 }],
    ["drag-reliable", { negotiated: true, id: 1 }],
  ]);
  assert.deepEqual(out.signals, [{ to: "ben", data: { description: { type: "offer", sdp: "v=0 offer" } } }]);
  pc.onicecandidate({ candidate: { toJSON: () => ({ candidate: "candidate:1", sdpMid: "0", sdpMLineIndex: 0 }) } });
  pc.onicecandidate({ candidate: null });
  assert.deepEqual(out.signals.slice(1).map((s) => s.data), [
    { candidate: { candidate: "candidate:1", sdpMid: "0", sdpMLineIndex: 0 } }, { candidate: null },
  ]);
  await mesh.links.get("ben").handleSignal({ description: { type: "answer", sdp: "a" } });
  await mesh.links.get("ben").handleSignal({ candidate: null });
  assert.deepEqual(pc.candidates, [null]);
});

test("the earlier peer waits for the offer, then answers", async () => {
  const { mesh, out, tick } = setup();
  mesh.start("me", [], []);
  mesh.peerJoined("ann");
  const pc = FakePC.all[0];
  pc.onnegotiationneeded(); // fired by createDataChannel: must not offer yet
  await tick();
  assert.deepEqual(out.signals, []);
  mesh.handleSignal("ann", { description: { type: "offer", sdp: "o" } });
  await tick();
  assert.deepEqual(out.signals, [{ to: "ann", data: { description: { type: "answer", sdp: "v=0 answer" } } }]);
});

test("glare: impolite ignores the incoming offer, polite accepts it", async () => {
  for (const [self, other, accepts] of [["zed", "amy", false], ["amy", "zed", true]]) {
    const { mesh, tick } = setup();
    mesh.start(self, [], [other]);
    await tick(); // our offer is out
    const pc = FakePC.all[0];
    await mesh.links.get(other).handleSignal({ description: { type: "offer", sdp: "theirs" } });
    assert.equal(pc.remote.length, accepts ? 1 : 0, `${self} vs ${other}`);
  }
});

test("p2p when both channels open; relay for the others in one frame; timeout → relay", async () => {
  const { mesh, out, links, tick } = setup();
  mesh.start("me", [], ["ben", "cy", "dee"]);
  await tick();
  const [benPc, cyPc] = FakePC.all;
  benPc.channels.forEach((c) => c.open());
  assert.equal(mesh.linkKind("ben"), "p2p");
  assert.deepEqual(out.channels, [["ben"]]);
  cyPc.channels[0].open(); // only one channel: not yet
  assert.equal(mesh.linkKind("cy"), "connecting");
  mesh.sendDrag(drag(1, "start"));
  mesh.sendDrag(drag(2, "move"));
  assert.deepEqual(benPc.channels[1].sent.map((d) => d.seq), [1], "start on drag-reliable");
  assert.deepEqual(benPc.channels[0].sent.map((d) => d.seq), [2], "move on drag");
  assert.deepEqual(out.relays.map((r) => [r.to, r.data.seq]), [[["cy", "dee"], 1], [["cy", "dee"], 2]]);
  // dee's link never opens: the timers fire
  for (const t of [...out.timers]) t.fn();
  assert.equal(mesh.linkKind("dee"), "relay");
  assert.equal(mesh.linkKind("ben"), "p2p");
  assert.ok(links.includes("dee:relay"));
});

test("a channel that dies re-sends its last start/end by relay and falls back", async () => {
  const { mesh, out, tick } = setup();
  mesh.start("me", [], ["ben"]);
  await tick();
  const pc = FakePC.all[0];
  pc.channels.forEach((c) => c.open());
  mesh.sendDrag(drag(5, "start"));
  assert.deepEqual(out.relays, []);
  pc.channels[1].close();
  assert.equal(mesh.linkKind("ben"), "relay");
  assert.deepEqual(out.relays, [{ to: ["ben"], data: drag(5, "start") }]);
  mesh.sendDrag(drag(6, "move"));
  assert.deepEqual(out.relays.at(-1), { to: undefined, data: drag(6) }, "everyone relayed: no `to`");
});

test("without RTCPeerConnection every peer is relayed and offers go unanswered", async () => {
  const { mesh, out, tick } = setup({ RTCPeerConnection: undefined });
  mesh.start("me", [], ["ben"]);
  mesh.peerJoined("cy");
  mesh.handleSignal("cy", { description: { type: "offer", sdp: "o" } });
  await tick();
  assert.deepEqual(mesh.snapshot(), [{ peer: "ben", link: "relay" }, { peer: "cy", link: "relay" }]);
  assert.deepEqual(out.signals, []);
  mesh.sendDrag(drag(1, "start"));
  assert.deepEqual(out.relays, [{ to: undefined, data: drag(1, "start") }]);
});

test("peer_left closes its connection; mesh limit leaves extra peers to relay", async () => {
  const { mesh, tick } = setup({ limit: 2 });
  mesh.start("b", [], ["a", "c", "d"]);
  await tick();
  assert.deepEqual([...mesh.links.keys()].sort(), ["a", "c"]);
  assert.equal(mesh.linkKind("d"), "relay");
  mesh.peerLeft("a");
  assert.equal(FakePC.all[0].closed, true);
  assert.deepEqual([...mesh.links.keys()].sort(), ["c", "d"], "d moves up into the mesh");
  assert.equal(mesh.links.get("d").mayOffer, false, "a freed slot: the larger id (d) makes the offer");
  const { mesh: m2, tick: t2 } = setup({ limit: 2 });
  m2.start("d", [], ["a", "b", "c"]);
  await t2();
  assert.deepEqual([...m2.links.keys()], []);
  m2.peerLeft("a");
  assert.equal(m2.links.get("b").mayOffer, true, "d > b: d offers");
  mesh.reset();
  assert.equal(mesh.links.size, 0);
});
