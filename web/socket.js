// @ts-check
/**
 * RealtimeSocket: one sprint's websocket, kept up while the app wants it
 * (`shouldConnect`), with a fresh ticket per attempt, full-jitter backoff, and one
 * method that changes state. The WebSocket constructor, ticket source, clock and
 * randomness are injectable so reconnect behaviour is testable without a network.
 */
import { backoffDelay } from "./backoff.js";
import { Emitter } from "./emitter.js";
import { Close, decodeServerFrame, encode, socketUrl } from "./protocol.js";

/** Socket states shown to the user. */
export const State = Object.freeze({
  CONNECTING: "connecting", // first attempt of this connect()
  LIVE: "live", // welcome received
  RECONNECTING: "reconnecting", // lost it; retrying
  OFFLINE: "offline", // not wanted, given up on (fatal ticket error), or the device has no network
});
/** @typedef {"connecting"|"live"|"reconnecting"|"offline"} SocketState */

/**
 * @typedef {object} Ticket
 * @property {string} url   e.g. ws://127.0.0.1:8080/7/
 * @property {string} token
 */

/**
 * @typedef {object} SocketOptions
 * @property {() => Promise<Ticket>} getTicket  a fresh ticket per attempt (tokens expire; a 4001 needs a new one)
 * @property {any} [WebSocket]  constructor; default globalThis.WebSocket
 * @property {() => number} [random]  default Math.random
 * @property {(fn: () => void, ms: number) => any} [setTimeout]
 * @property {(id: any) => void} [clearTimeout]
 * @property {() => number} [now]
 * @property {number} [backoffBase]  ms, default 500
 * @property {number} [backoffCap]  ms, default 30000
 * @property {number} [stableAfter]  ms a connection must stay up before the backoff resets; default 10000
 * @property {() => boolean} [isOnline]  whether the device has a network (default navigator.onLine); while
 *   it has none, a socket that is waiting to retry reads "offline" instead of "reconnecting"
 * @property {number} [connectTimeout]  ms to wait for welcome before giving up on an attempt; default 10000
 */

/**
 * @typedef {{
 *   state: [SocketState, SocketState],
 *   frame: [import("./protocol.js").ServerFrame],
 *   welcome: [import("./protocol.js").WelcomeFrame],
 *   close: [{code: number, reason: string}],
 *   fatal: [Error],
 *   protocolError: [Error, unknown],
 * }} SocketEvents
 */

/** Errors from getTicket that reconnecting cannot fix (e.g. 404 sprint, 401 logged out). */
const FATAL_TICKET_STATUS = new Set([401, 403, 404]);

/** @extends {Emitter<SocketEvents>} */
export class RealtimeSocket extends Emitter {
  /** @param {SocketOptions} options */
  constructor(options) {
    super();
    this.options = options;
    this.WebSocket = options.WebSocket ?? globalThis.WebSocket;
    this._setTimeout = options.setTimeout ?? ((fn, ms) => globalThis.setTimeout(fn, ms));
    this._clearTimeout = options.clearTimeout ?? ((id) => globalThis.clearTimeout(id));
    this._now = options.now ?? (() => Date.now());
    /** What the app wants, apart from what the connection is. */
    this.shouldConnect = false;
    /** @type {SocketState} */
    this.state = State.OFFLINE;
    /** Consecutive failed attempts (the backoff exponent). */
    this.attempts = 0;
    /** @type {any} */
    this.ws = null;
    /** @type {any} */
    this._retryTimer = null;
    /** @type {any} */
    this._connectTimer = null;
    /** @type {number | null} ms timestamp of the next scheduled attempt */
    this.nextRetryAt = null;
    /** @type {number | null} */
    this._liveSince = null;
    /** Bumped on every attempt so late callbacks of an old one are ignored. */
    this._generation = 0;
    /** @type {import("./protocol.js").WelcomeFrame | null} */
    this.welcome = null;
  }

  /**
   * The one place state changes; emits (old, new).
   * @param {SocketState} next
   */
  _setState(next) {
    const old = this.state;
    if (old === next) return;
    this.state = next;
    this.emit("state", old, next);
  }

  /** Start (or keep) connecting. Idempotent. */
  connect() {
    if (this.shouldConnect) return;
    this.shouldConnect = true;
    this.attempts = 0;
    this._setState(State.CONNECTING);
    this._attempt();
  }

  /** Stop wanting a connection; close the current one. Can connect() again later. */
  disconnect() {
    this.shouldConnect = false;
    this._cancelTimers();
    this._generation += 1;
    const ws = this.ws;
    this.ws = null;
    this.welcome = null;
    if (ws) {
      detach(ws);
      try {
        ws.close(Close.NORMAL, "bye");
      } catch {
        /* already closing */
      }
    }
    this._setState(State.OFFLINE);
  }

  /** disconnect() and drop every listener: the object is done. */
  destroy() {
    this.disconnect();
    this.removeAll();
  }

  _isOnline() {
    const isOnline = this.options.isOnline ?? (() => globalThis.navigator?.onLine ?? true);
    return isOnline();
  }

  /** The device's network came or went: update the state; retry at once if it came back. */
  networkChanged() {
    if (!this.shouldConnect || this.welcome) return;
    if (this._isOnline()) {
      if (this.state === State.OFFLINE) this._setState(State.RECONNECTING);
      this.retryNow();
    } else if (!this.ws) {
      this._setState(State.OFFLINE);
    }
  }

  /** Skip the remaining backoff wait (e.g. the browser came back online). */
  retryNow() {
    if (!this.shouldConnect || this.ws) return;
    this._cancelTimers();
    this._attempt();
  }

  /**
   * Send a frame if the connection is open. Returns false when it could not be sent.
   * @param {object} frame
   * @returns {boolean}
   */
  send(frame) {
    const ws = this.ws;
    if (!ws || ws.readyState !== 1 || !this.welcome) return false;
    ws.send(encode(frame));
    return true;
  }

  _cancelTimers() {
    if (this._retryTimer !== null) this._clearTimeout(this._retryTimer);
    if (this._connectTimer !== null) this._clearTimeout(this._connectTimer);
    this._retryTimer = this._connectTimer = null;
    this.nextRetryAt = null;
  }

  async _attempt() {
    const generation = ++this._generation;
    this._retryTimer = null;
    this.nextRetryAt = null;
    /** @type {Ticket} */
    let ticket;
    try {
      ticket = await this.options.getTicket();
    } catch (err) {
      if (generation !== this._generation || !this.shouldConnect) return;
      const status = /** @type {any} */ (err)?.status;
      if (FATAL_TICKET_STATUS.has(status)) {
        this.emit("fatal", /** @type {Error} */ (err));
        this.disconnect();
        return;
      }
      this._scheduleRetry(); // REST down or network gone: try again later
      return;
    }
    if (generation !== this._generation || !this.shouldConnect) return;
    let ws;
    try {
      ws = new this.WebSocket(socketUrl(ticket.url, ticket.token));
    } catch {
      this._scheduleRetry();
      return;
    }
    this.ws = ws;
    this._connectTimer = this._setTimeout(() => {
      // No welcome in time: treat the attempt as failed (the close handler retries).
      if (generation === this._generation && !this.welcome) this._lost(ws, 4000, "connect timeout");
    }, this.options.connectTimeout ?? 10_000);
    ws.onmessage = (/** @type {{data: unknown}} */ ev) => {
      if (generation === this._generation) this._onMessage(ev.data);
    };
    ws.onclose = (/** @type {{code: number, reason: string}} */ ev) => {
      if (generation === this._generation) this._lost(ws, ev.code, ev.reason ?? "");
    };
    ws.onerror = () => {
      /* a close event follows every error; handle it there */
    };
  }

  /** @param {unknown} data */
  _onMessage(data) {
    let frame;
    try {
      frame = decodeServerFrame(data);
    } catch (err) {
      this.emit("protocolError", /** @type {Error} */ (err), data);
      return;
    }
    if (frame.type === "welcome") {
      if (this._connectTimer !== null) this._clearTimeout(this._connectTimer);
      this._connectTimer = null;
      this.welcome = frame;
      this._liveSince = this._now();
      this._setState(State.LIVE);
      this.emit("welcome", frame);
    }
    this.emit("frame", frame);
  }

  /**
   * The current connection is gone (closed, failed, or timed out).
   * @param {any} ws @param {number} code @param {string} reason
   */
  _lost(ws, code, reason) {
    if (this.ws !== ws) return;
    detach(ws);
    try {
      if (ws.readyState < 2) ws.close();
    } catch {
      /* ignore */
    }
    this.ws = null;
    const wasLive = this.welcome !== null;
    this.welcome = null;
    if (this._connectTimer !== null) this._clearTimeout(this._connectTimer);
    this._connectTimer = null;
    this.emit("close", { code, reason });
    if (code === Close.PROTOCOL_VERSION) {
      // The server speaks a newer protocol than this page: retrying cannot help.
      this.shouldConnect = false;
      this._setState(State.OFFLINE);
      return;
    }
    if (!this.shouldConnect) return;
    // n resets only after a connection has stayed up a while (a server that
    // accepts and immediately drops us must still be backed off from).
    const stableAfter = this.options.stableAfter ?? 10_000;
    if (wasLive && this._liveSince !== null && this._now() - this._liveSince >= stableAfter) {
      this.attempts = 0;
    }
    // "back off; reconnect later": flooding, or this address or user is at its limit
    if (code === Close.FLOOD || code === Close.TOO_MANY_CONNECTIONS) {
      this.attempts = Math.max(this.attempts, 5);
    }
    this._scheduleRetry();
  }

  _scheduleRetry() {
    const delay = backoffDelay(this.attempts, {
      base: this.options.backoffBase,
      cap: this.options.backoffCap,
      random: this.options.random,
    });
    this.attempts += 1;
    this._setState(this._isOnline() ? State.RECONNECTING : State.OFFLINE);
    this.nextRetryAt = this._now() + delay;
    this._retryTimer = this._setTimeout(() => this._attempt(), delay);
  }
}

/** @param {any} ws */
function detach(ws) {
  ws.onmessage = ws.onclose = ws.onerror = ws.onopen = null;
}
