// @ts-check
/**
 * A sprint's Server-Sent Events stream (docs/protocol.md §10) for read-only views: the
 * wallboard. `EventSource` only, no websocket, no WebRTC. It reconnects by itself: on any
 * error the EventSource is closed (a browser's own retry would reuse a ticket that may have
 * expired) and, after a full-jitter backoff (backoff.js), a fresh ticket from Django opens a
 * new one with `?since=<last seq>`, so the server replays exactly what was missed. The
 * `EventSource` constructor and the timers are injectable for tests.
 */
import { backoffDelay } from "./backoff.js";

/** @typedef {"connecting" | "live" | "reconnecting" | "offline"} StreamState */
/** @typedef {{url: string, token: string}} Ticket */
/**
 * @typedef {object} StreamHooks
 * @property {() => Promise<Ticket>} getTicket  a fresh realtime ticket (POST …/realtime/)
 * @property {(frame: any) => void} onEvent  an `event` frame (JSON of `event: event`)
 * @property {(frame: any) => void} [onPresence]  a presence frame (snapshot, joined, left)
 * @property {(frame: any) => void} [onResync]  `resync {latest}`
 * @property {(state: StreamState) => void} [onState]
 * @property {typeof EventSource} [EventSourceImpl]
 * @property {() => number} [random]
 * @property {(fn: () => void, ms: number) => any} [setTimer]
 * @property {(id: any) => void} [clearTimer]
 */

/**
 * The stream's URL from a ticket's websocket URL: `ws[s]://host/<sprint>/` becomes
 * `http[s]://host/<sprint>/stream?token=…&since=…`.
 * @param {string} ticketUrl @param {string} token @param {number | null} since
 */
export function streamUrl(ticketUrl, token, since) {
  const url = new URL(ticketUrl);
  url.protocol = url.protocol === "wss:" ? "https:" : url.protocol === "ws:" ? "http:" : url.protocol;
  url.pathname = `${url.pathname.replace(/\/+$/, "")}/stream`;
  url.search = "";
  url.searchParams.set("token", token);
  if (since !== null) url.searchParams.set("since", String(since));
  return url.toString();
}

export class SseStream {
  /** @param {StreamHooks} hooks */
  constructor(hooks) {
    this.hooks = hooks;
    /** The last event seq received (what a reconnect asks to resume after). @type {number | null} */
    this.last = null;
    /** @type {StreamState} */
    this.state = "offline";
    /** Failed attempts since the stream was last live. */
    this.attempt = 0;
    /** What the page wants (kept apart from the connection's state). */
    this.shouldConnect = false;
    /** @type {EventSource | null} */
    this.source = null;
    /** @type {any} */
    this._timer = null;
    /** Counts opens, so an answer for an older attempt is ignored. */
    this._generation = 0;
  }

  /** Open the stream after seq `since` (null: from now). @param {number | null} since */
  start(since) {
    this.last = since;
    this.shouldConnect = true;
    this._open();
  }

  /** Close for good (the page is left). */
  stop() {
    this.shouldConnect = false;
    this._generation += 1;
    this.source?.close();
    this.source = null;
    if (this._timer !== null) (this.hooks.clearTimer ?? clearTimeout)(this._timer);
    this._timer = null;
    this._setState("offline");
  }

  /** Reconnect now with `since` = the given seq (after a refetch or a gap). @param {number | null} since */
  restart(since) {
    this.last = since;
    this.source?.close();
    this.source = null;
    if (this.shouldConnect) this._open();
  }

  async _open() {
    const generation = ++this._generation;
    this._setState(this.attempt ? "reconnecting" : "connecting");
    let ticket;
    try {
      ticket = await this.hooks.getTicket();
    } catch {
      if (generation === this._generation) this._retry();
      return;
    }
    if (generation !== this._generation || !this.shouldConnect) return;
    const Impl = this.hooks.EventSourceImpl ?? EventSource;
    const source = new Impl(streamUrl(ticket.url, ticket.token, this.last));
    this.source = source;
    source.onopen = () => {
      this.attempt = 0;
      this._setState("live");
    };
    source.onerror = () => {
      if (this.source !== source) return;
      source.close();
      this.source = null;
      this._retry();
    };
    source.addEventListener("event", (e) => {
      const frame = parse(/** @type {MessageEvent} */ (e).data);
      if (!frame || typeof frame.seq !== "number") return;
      if (this.last !== null && frame.seq <= this.last) return;
      this.last = frame.seq;
      this.hooks.onEvent(frame);
    });
    source.addEventListener("presence", (e) => {
      const frame = parse(/** @type {MessageEvent} */ (e).data);
      if (frame) this.hooks.onPresence?.(frame);
    });
    source.addEventListener("resync", (e) => {
      const frame = parse(/** @type {MessageEvent} */ (e).data);
      if (frame) this.hooks.onResync?.(frame);
    });
    // The server is going away (shutdown): reconnect at once, elsewhere.
    source.addEventListener("close", () => source.onerror?.(new Event("error")));
  }

  _retry() {
    if (!this.shouldConnect) return;
    this._setState("reconnecting");
    const delay = backoffDelay(this.attempt, { random: this.hooks.random });
    this.attempt += 1;
    this._timer = (this.hooks.setTimer ?? setTimeout)(() => {
      this._timer = null;
      if (this.shouldConnect) this._open();
    }, delay);
  }

  /** @param {StreamState} state */
  _setState(state) {
    if (state === this.state) return;
    this.state = state;
    this.hooks.onState?.(state);
  }
}

/** @param {unknown} data */
function parse(data) {
  try {
    const value = JSON.parse(String(data));
    return value && typeof value === "object" ? value : null;
  } catch {
    return null;
  }
}
