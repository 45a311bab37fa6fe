// @ts-check
/**
 * The Watercooler websocket protocol for the browser: frames, drag updates, error and
 * close codes. Mirrors signaling/protocol.py (docs/protocol.md is the contract); both are
 * tested against the same examples, docs/protocol/examples.json. No I/O.
 */

export const PROTOCOL_VERSION = 2;
/** `welcome.peers` and `presence` cover the sprint's first this many peers by id. */
export const VISIBLE_PEERS = 50;
/** A `peers` request's page holds at most this many peers. */
export const MAX_PEERS_PAGE = 100;
/** Frames larger than this close the connection with 1009. */
export const MAX_MESSAGE_BYTES = 64 * 1024;
/** Task statuses as the REST API spells them; drag updates name their target with one. */
export const STATUSES = /** @type {const} */ (["not_started", "in_progress", "testing", "done"]);
export const DRAG_PHASES = /** @type {const} */ (["start", "move", "end"]);
/** What an `event` frame can say happened, and to what. */
export const EVENT_ACTIONS = /** @type {const} */ (["created", "updated", "deleted", "added", "removed"]);
export const EVENT_MODELS = /** @type {const} */ (["task", "sprint"]);
/** A relay may name at most this many recipients (list entries, a peer named twice included). */
export const MAX_RECIPIENTS = 64;
/** Peer ids are the server's (URL-safe base64); nothing else can name a peer. */
const PEER_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** Websocket close codes (4xxx are the protocol's own). */
export const Close = Object.freeze({
  NORMAL: 1000,
  GOING_AWAY: 1001, // server shutting down: reconnect with backoff
  MESSAGE_TOO_BIG: 1009, // frame over MAX_MESSAGE_BYTES: a client bug
  UNAUTHORIZED: 4001, // token missing/malformed/badly signed/expired: get a new ticket
  FORBIDDEN: 4003, // token is for another sprint
  FLOOD: 4008, // far over the frame-rate limit: back off
  SLOW_CONSUMER: 4009, // we did not read fast enough: reconnect and resume
  PING_TIMEOUT: 4010, // no pong to the server's ping in time: reconnect and resume
  TOO_MANY_CONNECTIONS: 4029, // this address or user holds the node's limit: back off
  PROTOCOL_VERSION: 4426, // we did not say protocol=2: this page is out of date, reload it
});

/** `code` of an `error` frame; the connection stays open after each. */
export const ErrorCode = Object.freeze({
  BAD_JSON: "bad_json",
  BAD_MESSAGE: "bad_message",
  UNKNOWN_TYPE: "unknown_type",
  BAD_FIELD: "bad_field",
  UNKNOWN_PEER: "unknown_peer",
  RATE_LIMITED: "rate_limited",
  BINARY_UNSUPPORTED: "binary_unsupported",
});

/** A frame that cannot be accepted (same codes as the server's error frames). */
export class ProtocolError extends Error {
  /**
   * @param {string} code one of ErrorCode
   * @param {string} message
   * @param {string | null} [field]
   */
  constructor(code, message, field = null) {
    super(message);
    this.name = "ProtocolError";
    this.code = code;
    this.field = field;
  }
}

/**
 * @typedef {{id: number | string | null, username: string}} PeerUser
 * @typedef {{peer: string, user: PeerUser}} Member
 * @typedef {{type: "welcome", protocol: number, peer: string, sprint: number, user: PeerUser,
 *   peers: Member[], count: number, ice_servers: object[], seq: number | null,
 *   limits?: Record<string, number>}} WelcomeFrame
 *   `peers`: the sprint's first VISIBLE_PEERS by id (maybe us); `count`: all of it, us included
 * @typedef {{type: "presence", joined: Member[], left: string[], count: number}} PresenceFrame
 * @typedef {{type: "peers", peers: Member[], next: string | null, count: number}} PeersFrame
 * @typedef {{type: "relay", from: string, data: Record<string, any>}} RelayFrame
 * @typedef {{type: "signal", from: string, data: Record<string, any>}} SignalFrame
 * @typedef {"created"|"updated"|"deleted"|"added"|"removed"} EventAction
 * @typedef {{type: "event", sprint: number, seq: number, action: EventAction, model: "task"|"sprint",
 *   id: number, data: Record<string, any> | null, actor?: PeerUser | null, at?: string}} EventFrame
 *   `actor`: who made the change (null: the system); `at`: when it was committed (events
 *   read from the REST event log only)
 * @typedef {{type: "resync", latest: number | null}} ResyncFrame
 * @typedef {{type: "error", code: string, message: string, field?: string}} ErrorFrame
 * @typedef {WelcomeFrame|PresenceFrame|PeersFrame|RelayFrame|SignalFrame|EventFrame|ResyncFrame|ErrorFrame} ServerFrame
 *
 * @typedef {{type: "drag", seq: number, task: number, phase: "start"|"move"|"end",
 *   status?: string, index?: number, x?: number, y?: number}} Drag
 */

// --- field checks ---------------------------------------------------------------------------

/** @param {string} name @param {string} why */
const bad = (name, why) => new ProtocolError(ErrorCode.BAD_FIELD, `${name}: ${why}`, name);

/** @param {unknown} v @returns {v is Record<string, any>} */
const isObject = (v) => typeof v === "object" && v !== null && !Array.isArray(v);

/** @param {unknown} value @param {string} name @returns {string} */
function peerId(value, name) {
  if (typeof value !== "string" || !PEER_ID.test(value)) {
    throw bad(name, "must be a peer id (1-64 of A-Z a-z 0-9 _ -)");
  }
  return value;
}

/** @param {unknown} value @param {string} name @returns {Record<string, any>} */
function object(value, name) {
  if (!isObject(value)) throw bad(name, "must be an object");
  return value;
}

/**
 * An integer a browser holds exactly (the server's seqs and ids are at most 2^53 - 1).
 * @param {unknown} value @param {string} name @param {number} [minimum] @returns {number}
 */
function int(value, name, minimum = 0) {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < minimum) {
    throw bad(name, `must be an integer >= ${minimum}`);
  }
  return value;
}

/** @param {unknown} value @param {string} name @returns {number} */
function fraction(value, name) {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || value > 1) {
    throw bad(name, "must be a number between 0 and 1");
  }
  return value;
}

/** @param {Record<string, any>} obj @param {string[]} allowed */
function only(obj, allowed) {
  const unknown = Object.keys(obj).filter((k) => !allowed.includes(k)).sort();
  if (unknown.length) throw bad(unknown[0], "unknown field");
}

/** @param {unknown} value @param {string} name @returns {number | null} */
const intOrNull = (value, name) => (value === null ? null : int(value, name));

// --- codec ----------------------------------------------------------------------------------

/**
 * Serialize one frame: compact JSON, key order as built (like the server's `encode`).
 * @param {object} frame
 * @returns {string}
 */
export function encode(frame) {
  return JSON.stringify(frame);
}

// --- client -> server frames (validated before they leave, like the server would) -----------

/**
 * `relay` to the named peers, or to every other peer of the sprint when `to` is omitted.
 * @param {Record<string, any>} data
 * @param {string[]} [to]
 */
export function relayFrame(data, to) {
  object(data, "data");
  if (to === undefined) return { type: "relay", data };
  if (!Array.isArray(to) || !to.length || to.length > MAX_RECIPIENTS) {
    throw bad("to", `must be a non-empty list of at most ${MAX_RECIPIENTS} peer ids`);
  }
  return { type: "relay", to: [...new Set(to.map((p) => peerId(p, "to")))], data };
}

/** @param {string} to @param {Record<string, any>} data */
export function signalFrame(to, data) {
  return { type: "signal", to: peerId(to, "to"), data: object(data, "data") };
}

/** @param {number} since */
export function resumeFrame(since) {
  return { type: "resume", since: int(since, "since") };
}

/**
 * Ask for a page of the sprint's peers in peer-id order, after `after` (null: the first).
 * @param {string | null} [after] @param {number} [limit]
 */
export function peersFrame(after = null, limit = MAX_PEERS_PAGE) {
  if (after !== null) peerId(after, "after");
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_PEERS_PAGE) {
    throw bad("limit", `must be an integer from 1 to ${MAX_PEERS_PAGE}`);
  }
  return { type: "peers", after, limit };
}

/**
 * The URL of a sprint's websocket with the ticket and the protocol version we speak.
 * @param {string} url the ticket's `url` @param {string} token
 */
export function socketUrl(url, token) {
  const sep = url.includes("?") ? "&" : "?";
  return `${url}${sep}token=${encodeURIComponent(token)}&protocol=${PROTOCOL_VERSION}`;
}

/** @param {string[]} peers */
export function channelsFrame(peers) {
  if (!Array.isArray(peers) || peers.length > MAX_RECIPIENTS) {
    throw bad("peers", `must be a list of at most ${MAX_RECIPIENTS} peer ids`);
  }
  return { type: "channels", peers: [...new Set(peers.map((p) => peerId(p, "peers")))] };
}

// --- server -> client frames ----------------------------------------------------------------

/**
 * `user.id` is the ticket's user id: an integer for Django's users (a non-numeric ticket
 * subject stays a string), null for debug mode's anonymous user.
 * @param {unknown} v @param {string} name @returns {PeerUser}
 */
function user(v, name) {
  const u = object(v, name);
  if (u.id !== null && typeof u.id !== "string") int(u.id, `${name}.id`);
  if (typeof u.username !== "string") throw bad(`${name}.username`, "must be a string");
  return /** @type {PeerUser} */ (u);
}

/** @param {unknown} list @param {string} name @param {number} max */
function members(list, name, max) {
  if (!Array.isArray(list) || list.length > max) throw bad(name, `must be a list of at most ${max} peers`);
  list.forEach((/** @type {any} */ p, /** @type {number} */ i) => {
    object(p, `${name}[${i}]`);
    peerId(p.peer, `${name}[${i}].peer`);
    user(p.user, `${name}[${i}].user`);
  });
}

/** Checks per server frame type. Extra fields are tolerated (a newer server may add some). */
/** @type {Record<string, (f: Record<string, any>) => void>} */
const SERVER_CHECKS = {
  welcome(f) {
    int(f.protocol, "protocol", 1);
    peerId(f.peer, "peer");
    int(f.sprint, "sprint", 1);
    user(f.user, "user");
    members(f.peers, "peers", VISIBLE_PEERS);
    int(f.count, "count", 1);
    if (!Array.isArray(f.ice_servers)) throw bad("ice_servers", "must be a list");
    intOrNull(f.seq, "seq");
  },
  presence(f) {
    members(f.joined, "joined", VISIBLE_PEERS);
    if (!Array.isArray(f.left) || f.left.length > VISIBLE_PEERS) {
      throw bad("left", `must be a list of at most ${VISIBLE_PEERS} peer ids`);
    }
    f.left.forEach((/** @type {unknown} */ p) => peerId(p, "left"));
    int(f.count, "count");
  },
  peers(f) {
    members(f.peers, "peers", MAX_PEERS_PAGE);
    if (f.next !== null) peerId(f.next, "next");
    int(f.count, "count");
  },
  relay(f) {
    peerId(f.from, "from");
    object(f.data, "data");
  },
  signal(f) {
    peerId(f.from, "from");
    object(f.data, "data");
  },
  event(f) {
    int(f.sprint, "sprint", 1);
    int(f.seq, "seq", 1);
    if (!EVENT_ACTIONS.includes(f.action)) throw bad("action", `must be one of ${EVENT_ACTIONS.join(", ")}`);
    if (!EVENT_MODELS.includes(f.model)) throw bad("model", `must be one of ${EVENT_MODELS.join(", ")}`);
    int(f.id, "id", 1);
    if (f.data !== null) object(f.data, "data");
    if (f.actor !== undefined && f.actor !== null) {
      // Who made the change: a user of Django's, so an id always (no anonymous user here).
      const actor = object(f.actor, "actor");
      int(actor.id, "actor.id", 1);
      if (typeof actor.username !== "string") throw bad("actor.username", "must be a string");
    }
  },
  resync(f) {
    intOrNull(f.latest, "latest");
  },
  error(f) {
    if (typeof f.code !== "string") throw bad("code", "must be a string");
    if (typeof f.message !== "string") throw bad("message", "must be a string");
  },
};

/** The frame types a server sends. */
export const SERVER_TYPES = Object.freeze(Object.keys(SERVER_CHECKS));

/**
 * Parse and check one server text frame.
 * @param {unknown} text
 * @returns {ServerFrame}
 * @throws {ProtocolError}
 */
export function decodeServerFrame(text) {
  if (typeof text !== "string") {
    throw new ProtocolError(ErrorCode.BINARY_UNSUPPORTED, "binary frames are not accepted");
  }
  let obj;
  try {
    obj = JSON.parse(text);
  } catch {
    throw new ProtocolError(ErrorCode.BAD_JSON, "frame is not valid JSON");
  }
  if (!isObject(obj) || typeof obj.type !== "string") {
    throw new ProtocolError(ErrorCode.BAD_MESSAGE, "frame must be a JSON object with a 'type'");
  }
  const check = SERVER_CHECKS[obj.type];
  if (!check) {
    throw new ProtocolError(ErrorCode.UNKNOWN_TYPE, `unknown type ${JSON.stringify(obj.type.slice(0, 40))}`);
  }
  check(obj);
  return /** @type {ServerFrame} */ (obj);
}

// --- drag updates (relay.data and data channels) --------------------------------------------

/**
 * Validate a drag update from another peer (never trust a peer). Mirrors `decode_drag`.
 * @param {unknown} obj
 * @returns {Drag}
 * @throws {ProtocolError}
 */
export function decodeDrag(obj) {
  const o = object(obj, "data");
  if (o.type !== "drag") throw new ProtocolError(ErrorCode.UNKNOWN_TYPE, "not a drag update");
  only(o, ["type", "seq", "task", "phase", "status", "index", "x", "y"]);
  return makeDrag(/** @type {{seq: unknown, task: unknown, phase: unknown}} */ (o));
}

/**
 * Build a drag update in wire order (type, seq, task, phase, status, index, x, y),
 * leaving out absent optional fields. Throws ProtocolError on a bad field.
 * @param {{seq: unknown, task: unknown, phase: unknown, status?: unknown, index?: unknown, x?: unknown, y?: unknown}} f
 * @returns {Drag}
 */
export function makeDrag(f) {
  int(f.seq, "seq", 1);
  int(f.task, "task", 1);
  if (!DRAG_PHASES.includes(/** @type {any} */ (f.phase))) throw bad("phase", `must be one of ${DRAG_PHASES.join(", ")}`);
  /** @type {Record<string, any>} */
  const drag = { type: "drag", seq: f.seq, task: f.task, phase: f.phase };
  if (f.status != null) {
    if (!STATUSES.includes(/** @type {any} */ (f.status))) throw bad("status", `must be one of ${STATUSES.join(", ")}`);
    drag.status = f.status;
  }
  if (f.index != null) drag.index = int(f.index, "index");
  if (f.x != null) drag.x = fraction(f.x, "x");
  if (f.y != null) drag.y = fraction(f.y, "y");
  return /** @type {Drag} */ (drag);
}
