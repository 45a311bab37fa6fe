// @ts-check
/**
 * The WebRTC mesh of a sprint (docs/protocol.md §8): one RTCPeerConnection per remote
 * peer with two pre-negotiated data channels, perfect negotiation over `signal`
 * frames, and per-peer fallback to `relay` whenever no channel is open. The
 * RTCPeerConnection constructor is injectable; without one every peer is relayed.
 * Over 400 lines because the mesh and its one-peer link share a lifecycle best read together.
 */
import { Emitter } from "./emitter.js";
import { MAX_RECIPIENTS } from "./protocol.js";

/**
 * Data-channel connections a client keeps at most. Each costs DTLS/SCTP CPU, memory
 * and ports, and a full mesh grows as n·(n−1)/2; beyond this, relay is cheaper.
 */
export const MESH_LIMIT = 8;
/** Give up waiting for a channel after this long and use relay (the pc keeps trying). */
export const NEGOTIATION_TIMEOUT_MS = 8000;

/** @typedef {"p2p"|"relay"|"connecting"} LinkKind */
/** @typedef {import("./protocol.js").Drag} Drag */

/**
 * Which remote peers get a data channel: both ends must compute the same answer from
 * the same membership, so take the first `limit + 1` peer ids of the whole sprint
 * (ourselves included) in id order; every pair inside that set connects (each of
 * them then has `limit` channels) and everyone else is served by relay.
 * @param {string} self
 * @param {Iterable<string>} others
 * @param {number} [limit]
 * @returns {Set<string>}
 */
export function meshPeers(self, others, limit = MESH_LIMIT) {
  const top = [self, ...others].sort().slice(0, limit + 1);
  if (!top.includes(self)) return new Set();
  return new Set(top.filter((p) => p !== self));
}

/** Perfect negotiation: the lexicographically smaller peer id is polite. */
export const isPolite = (/** @type {string} */ self, /** @type {string} */ other) => self < other;

/**
 * @typedef {object} LinkOptions
 * @property {string} self
 * @property {string} peer
 * @property {any} RTCPeerConnection
 * @property {object[]} iceServers
 * @property {boolean} initiator  we joined later: we make the first offer
 * @property {(data: object) => void} signal  send a `signal` frame's data to this peer
 * @property {(data: unknown) => void} onMessage  a drag update arrived on a channel
 * @property {(kind: LinkKind) => void} onChange
 * @property {(lastReliable: Drag | null) => void} onChannelLost  an open channel closed
 * @property {number} timeout
 * @property {(fn: () => void, ms: number) => any} setTimeout
 * @property {(id: any) => void} clearTimeout
 */

/** The connection to one remote peer. */
export class PeerLink {
  /** @param {LinkOptions} o */
  constructor(o) {
    this.o = o;
    this.polite = isPolite(o.self, o.peer);
    /** @type {LinkKind} */
    this.kind = "connecting";
    this.makingOffer = false;
    this.ignoreOffer = false;
    /** Until the first remote description, only the initiator may offer (docs §8). */
    this.mayOffer = o.initiator;
    this.closed = false;
    /** The last start/end sent on the reliable channel: re-sent by relay if the channel dies. */
    /** @type {Drag | null} */
    this.lastReliable = null;
    /** Signals are handled one at a time so a candidate never overtakes its description. */
    this._queue = Promise.resolve();
    const pc = new o.RTCPeerConnection({ iceServers: o.iceServers });
    this.pc = pc;
    this.fast = pc.createDataChannel("drag", { negotiated: true, id: 0, ordered: false, maxRetransmits: 0 });
    this.reliable = pc.createDataChannel("drag-reliable", { negotiated: true, id: 1 });
    for (const ch of [this.fast, this.reliable]) {
      ch.onopen = () => this._update();
      ch.onclose = () => this._channelClosed();
      ch.onmessage = (/** @type {{data: unknown}} */ ev) => this._onMessage(ev.data);
    }
    pc.onnegotiationneeded = () => this._offer();
    pc.onicecandidate = (/** @type {{candidate: any}} */ ev) => {
      if (this.closed) return;
      o.signal({ candidate: ev.candidate ? toJSON(ev.candidate) : null });
    };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === "failed") this._channelClosed();
    };
    this._timer = o.setTimeout(() => {
      this._timer = null;
      if (this.kind === "connecting") this._set("relay");
    }, o.timeout);
    if (o.initiator) queueMicrotask(() => this._offer());
  }

  /** Both channels open: drag updates can go peer to peer. */
  get open() {
    return this.fast.readyState === "open" && this.reliable.readyState === "open";
  }

  /** @param {LinkKind} kind */
  _set(kind) {
    if (this.kind === kind) return;
    this.kind = kind;
    this.o.onChange(kind);
  }

  _update() {
    if (this.closed) return;
    if (this.open) {
      if (this._timer !== null) this.o.clearTimeout(this._timer);
      this._timer = null;
      this._set("p2p");
    }
  }

  _channelClosed() {
    if (this.closed) return;
    const wasP2p = this.kind === "p2p";
    if (this.kind !== "relay") this._set("relay");
    if (wasP2p) this.o.onChannelLost(this.lastReliable);
  }

  /** @param {unknown} raw */
  _onMessage(raw) {
    if (typeof raw !== "string" || raw.length > 4096) return;
    let data;
    try {
      data = JSON.parse(raw);
    } catch {
      return;
    }
    this.o.onMessage(data);
  }

  async _offer() {
    if (this.closed || !this.mayOffer || this.makingOffer) return;
    try {
      this.makingOffer = true;
      await this.pc.setLocalDescription();
      if (this.closed) return;
      this.o.signal({ description: toJSON(this.pc.localDescription) });
    } catch (err) {
      console.warn(`watercooler: offer to peer ${this.o.peer} failed`, err);
    } finally {
      this.makingOffer = false;
    }
  }

  /** @param {Record<string, any>} data  a `signal` frame's data from this peer */
  handleSignal(data) {
    this._queue = this._queue.then(() => this._handle(data)).catch((err) => {
      console.warn(`watercooler: signal from peer ${this.o.peer} failed`, err);
    });
    return this._queue;
  }

  /** @param {Record<string, any>} data */
  async _handle(data) {
    if (this.closed) return;
    const pc = this.pc;
    if (data.description && typeof data.description === "object") {
      const description = data.description;
      const collision = description.type === "offer" && (this.makingOffer || pc.signalingState !== "stable");
      this.ignoreOffer = !this.polite && collision;
      if (this.ignoreOffer) return;
      await pc.setRemoteDescription(description);
      this.mayOffer = true;
      if (description.type === "offer") {
        await pc.setLocalDescription();
        if (!this.closed) this.o.signal({ description: toJSON(pc.localDescription) });
      }
    } else if ("candidate" in data) {
      try {
        // {candidate: null} ends the trickle; addIceCandidate() with no argument says so.
        if (data.candidate) await pc.addIceCandidate(data.candidate);
        else await pc.addIceCandidate();
      } catch (err) {
        if (!this.ignoreOffer) throw err;
      }
    }
  }

  /**
   * Send a drag update on the matching channel. Returns false if it must go by relay.
   * @param {Drag} drag
   */
  send(drag) {
    if (this.closed || !this.open) return false;
    const ch = drag.phase === "move" ? this.fast : this.reliable;
    // A congested channel would only deliver stale positions: relay instead.
    if (ch.bufferedAmount > 64 * 1024) return false;
    try {
      ch.send(JSON.stringify(drag));
    } catch {
      return false;
    }
    if (drag.phase !== "move") this.lastReliable = drag;
    return true;
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    if (this._timer !== null) this.o.clearTimeout(this._timer);
    for (const ch of [this.fast, this.reliable]) ch.onopen = ch.onclose = ch.onmessage = null;
    try {
      this.pc.close();
    } catch {
      /* already closed */
    }
  }
}

/** @param {any} v */
const toJSON = (v) => (v && typeof v.toJSON === "function" ? v.toJSON() : v);

/**
 * @typedef {object} MeshOptions
 * @property {(to: string, data: object) => void} sendSignal
 * @property {(to: string[] | undefined, data: object) => void} sendRelay  `to` undefined = every other peer
 * @property {(peers: string[]) => void} [sendChannels]  report open channels (metrics)
 * @property {any} [RTCPeerConnection]  default globalThis.RTCPeerConnection; undefined = relay only
 * @property {number} [limit]
 * @property {number} [timeout]
 * @property {(fn: () => void, ms: number) => any} [setTimeout]
 * @property {(id: any) => void} [clearTimeout]
 */

/**
 * @typedef {{link: [string, LinkKind], drag: [string, unknown]}} MeshEvents
 */

/**
 * The room: every remote peer of the sprint, each either linked by data channels or
 * relayed. Emits `link` (peer, kind) on changes and `drag` (peer, data) for channel messages.
 * @extends {Emitter<MeshEvents>}
 */
export class Mesh extends Emitter {
  /** @param {MeshOptions} options */
  constructor(options) {
    super();
    this.options = options;
    this.RTC = "RTCPeerConnection" in options ? options.RTCPeerConnection : globalThis.RTCPeerConnection;
    this.limit = options.limit ?? MESH_LIMIT;
    /** @type {string | null} */
    this.self = null;
    /** @type {object[]} */
    this.iceServers = [];
    /** Every remote peer we see (linked or not): of the sprint's first 50 by id. @type {Set<string>} */
    this.peers = new Set();
    /** The sprint has peers we do not see (past the first 50): drags go to everyone. */
    this.unseen = false;
    /**
     * Who makes the first offer to peers that just became known: true for those the
     * welcome listed (we joined later), false for a peer_joined (it did). Used by the
     * next rebalance only; a pair that enters the mesh later, when a slot frees, is
     * opened by the end with the larger peer id (docs §8).
     * @type {Map<string, boolean>}
     */
    this.initiator = new Map();
    /** @type {Map<string, PeerLink>} */
    this.links = new Map();
    /** @type {string} */
    this._reportedChannels = "";
  }

  /**
   * A welcome arrived: we are `self`, these peers were here first (we offer to them).
   * @param {string} self @param {object[]} iceServers @param {string[]} peers
   */
  start(self, iceServers, peers, count = peers.length + 1) {
    this.reset();
    this.self = self;
    this.iceServers = iceServers;
    for (const p of peers) {
      if (p === self) continue;
      this.peers.add(p);
      this.initiator.set(p, true);
    }
    this.setCount(count);
    this._rebalance();
  }

  /**
   * A `presence` frame: who left and who joined what we see (protocol v2), in one rebalance.
   * A peer in `joined` makes the first offer (a newcomer: its welcome listed us; or one that
   * a freed slot brought in, which then has the larger id).
   * @param {string[]} joined @param {string[]} left @param {number} count
   */
  presence(joined, left, count) {
    if (!this.self) return;
    for (const peer of left) {
      this.peers.delete(peer);
      this.initiator.delete(peer);
      this._dropLink(peer);
    }
    for (const peer of joined) {
      if (peer === this.self || this.peers.has(peer)) continue;
      this.peers.add(peer);
      this.initiator.set(peer, false);
    }
    this.setCount(count);
    this._rebalance();
  }

  /** @param {number} count every peer of the sprint, us included */
  setCount(count) {
    this.unseen = count > this.peers.size + 1;
  }

  /** @param {string} peer */
  peerJoined(peer) {
    if (!this.self || peer === this.self) return;
    this.peers.add(peer);
    this.initiator.set(peer, false); // it joined after us: it makes the offer
    this._rebalance();
  }

  /** @param {string} peer */
  peerLeft(peer) {
    this.peers.delete(peer);
    this.initiator.delete(peer);
    this._dropLink(peer);
    this._rebalance();
  }

  /** The socket is gone: every link belongs to the old peer id. */
  reset() {
    for (const peer of [...this.links.keys()]) this._dropLink(peer, false);
    this.peers.clear();
    this.initiator.clear();
    this.self = null;
    this._reportedChannels = "";
  }

  /** @param {string} from @param {Record<string, any>} data */
  handleSignal(from, data) {
    // A newcomer's offer can come before the presence frame that tells us of it (presence
    // is told once per tick): a signal proves the sender is in the sprint, so it counts.
    if (!this.links.has(from) && this.self && this.RTC && from !== this.self && !this.peers.has(from)
        && meshPeers(this.self, [...this.peers, from], this.limit).has(from)) {
      this.peers.add(from);
      this.initiator.set(from, false);
      this._rebalance();
    }
    const link = this.links.get(from);
    // Offers from peers outside our mesh (or when we cannot do WebRTC) go unanswered:
    // the sender's negotiation times out and it relays to us.
    if (link) link.handleSignal(data);
  }

  /**
   * Send one drag update to every other peer: by data channel where one is open,
   * by a single relay frame naming all the others.
   * @param {Drag} drag
   */
  sendDrag(drag) {
    /** @type {string[]} */
    const relayTo = [];
    for (const peer of this.peers) {
      const link = this.links.get(peer);
      if (!link || !link.send(drag)) relayTo.push(peer);
    }
    if (!relayTo.length) return;
    if (relayTo.length === this.peers.size || this.unseen) {
      this.options.sendRelay(undefined, drag); // everyone: let the server fan it out
      return;
    }
    for (let i = 0; i < relayTo.length; i += MAX_RECIPIENTS) {
      this.options.sendRelay(relayTo.slice(i, i + MAX_RECIPIENTS), drag);
    }
  }

  /** @param {string} peer @returns {LinkKind} */
  linkKind(peer) {
    return this.links.get(peer)?.kind ?? "relay";
  }

  /** @returns {{peer: string, link: LinkKind}[]} */
  snapshot() {
    return [...this.peers].map((peer) => ({ peer, link: this.linkKind(peer) }));
  }

  _rebalance() {
    if (!this.self) return;
    const wanted = this.RTC ? meshPeers(this.self, this.peers, this.limit) : new Set();
    for (const peer of [...this.links.keys()]) if (!wanted.has(peer)) this._dropLink(peer);
    for (const peer of wanted) if (!this.links.has(peer)) this._openLink(peer);
    this.initiator.clear();
    this._reportChannels();
  }

  /** @param {string} peer */
  _openLink(peer) {
    const self = /** @type {string} */ (this.self);
    const link = new PeerLink({
      self,
      peer,
      RTCPeerConnection: this.RTC,
      iceServers: this.iceServers,
      initiator: this.initiator.get(peer) ?? self > peer,
      signal: (data) => this.options.sendSignal(peer, data),
      onMessage: (data) => this.emit("drag", peer, data),
      onChange: (kind) => {
        this.emit("link", peer, kind);
        this._reportChannels();
      },
      onChannelLost: (last) => {
        if (last && this.peers.has(peer)) this.options.sendRelay([peer], last);
      },
      timeout: this.options.timeout ?? NEGOTIATION_TIMEOUT_MS,
      setTimeout: this.options.setTimeout ?? ((fn, ms) => globalThis.setTimeout(fn, ms)),
      clearTimeout: this.options.clearTimeout ?? ((id) => globalThis.clearTimeout(id)),
    });
    this.links.set(peer, link);
    this.emit("link", peer, link.kind);
  }

  /** @param {string} peer @param {boolean} [announce] */
  _dropLink(peer, announce = true) {
    const link = this.links.get(peer);
    if (!link) return;
    link.close();
    this.links.delete(peer);
    if (announce && this.peers.has(peer)) this.emit("link", peer, "relay");
  }

  _reportChannels() {
    const open = [...this.links].filter(([, l]) => l.kind === "p2p").map(([p]) => p).sort();
    const key = open.join(",");
    if (key === this._reportedChannels) return;
    this._reportedChannels = key;
    this.options.sendChannels?.(open);
  }
}
