// @ts-check
/**
 * REST client for the board API (Django REST Framework): token auth kept in
 * localStorage, paginated lists followed through `next` until done, and errors that
 * carry DRF's field errors. `fetch` and the storage are injectable.
 */

const TOKEN_KEY = "watercooler.token";
const USER_KEY = "watercooler.username";

/**
 * An HTTP error with DRF's body: `fields` maps a field (or non_field_errors) to messages.
 * A 412 (the `If-Match` version was stale) carries the object as it is now in `current`.
 */
export class ApiError extends Error {
  /**
   * @param {number} status  0 when the request never got an answer
   * @param {string} message
   * @param {Record<string, string[]>} [fields]
   * @param {string | null} [code]  the API's machine code (`invalid`, `not_found`, `conflict`, ...)
   * @param {any} [current]  on 412: the current representation, which the write did not change
   */
  constructor(status, message, fields = {}, code = null, current = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.fields = fields;
    this.code = code;
    this.current = current;
  }

  /** True for a 412: someone else changed the object since the version we named. */
  get isConflict() {
    return this.status === 412;
  }
}

/**
 * Turn an error body into a readable message and a field map.
 * Understands this API's `{error, message, fields}` and DRF's plain shapes
 * (`{detail}`, `{field: [messages]}`).
 * @param {any} body
 * @returns {{message: string, fields: Record<string, string[]>, code?: string}}
 */
export function parseErrorBody(body) {
  if (body && typeof body === "object" && !Array.isArray(body)) {
    // This project's API: {"error": code, "message": sentence, "fields"?: {field: [messages]}}.
    if (typeof body.error === "string" && typeof body.message === "string") {
      const fields = body.fields && typeof body.fields === "object" ? parseErrorBody(body.fields).fields : {};
      return { message: body.message, fields, code: body.error };
    }
    if (typeof body.detail === "string") return { message: body.detail, fields: {} };
    /** @type {Record<string, string[]>} */
    const fields = {};
    for (const [k, v] of Object.entries(body)) {
      fields[k] = Array.isArray(v) ? v.map(String) : [typeof v === "string" ? v : JSON.stringify(v)];
    }
    const parts = Object.entries(fields).map(([k, v]) =>
      k === "non_field_errors" || k === "detail" ? v.join(" ") : `${k}: ${v.join(" ")}`);
    return { message: parts.join("; ") || "Request failed", fields };
  }
  if (Array.isArray(body)) return { message: body.map(String).join(" "), fields: {} };
  return { message: typeof body === "string" && body ? body.slice(0, 200) : "Request failed", fields: {} };
}

/**
 * @typedef {{id: number, name: string, description: string, end: string, seq: number | null,
 *   version: number, links: Record<string, string>}} Sprint
 * @typedef {{id: number, name: string, description: string, sprint: number | null,
 *   status: string, rank: string, version: number, assigned: string | null, started: string | null,
 *   due: string | null, completed: string | null, links: Record<string, string>}} Task
 *   `rank` orders a column (compare as plain strings, then id); `version` grows by one per change.
 * @typedef {{url: string, token: string, expires: string}} Ticket
 * @typedef {{ifMatch?: number | null}} WriteOptions  `ifMatch`: the version the change was
 *   made on; a stale one makes the server refuse with 412 (ApiError with `current`)
 */

export class Api {
  /**
   * @param {{base?: string, fetch?: typeof fetch, storage?: Pick<Storage, "getItem"|"setItem"|"removeItem"> | null,
   *   onUnauthorized?: () => void, maxPages?: number}} [options]
   */
  constructor(options = {}) {
    this.base = options.base ?? "/api";
    this._fetch = options.fetch ?? ((...a) => globalThis.fetch(...a));
    this.storage = options.storage === undefined ? safeLocalStorage() : options.storage;
    this.onUnauthorized = options.onUnauthorized ?? (() => {});
    /** Guard against a server whose `next` never ends. */
    this.maxPages = options.maxPages ?? 1000;
  }

  get token() {
    return this.storage?.getItem(TOKEN_KEY) ?? null;
  }

  get username() {
    return this.storage?.getItem(USER_KEY) ?? null;
  }

  /**
   * Log in: the API token for this client's calls, and a Django session for this
   * browser (the browsable API, the docs and the admin), which needs the CSRF token.
   * @param {string} username @param {string} password
   */
  async login(username, password) {
    const { csrf_token: csrf } = await this.session();
    const body = await this.request("POST", "/token/", { username, password, session: true }, { auth: false, csrf });
    this.storage?.setItem(TOKEN_KEY, body.token);
    this.storage?.setItem(USER_KEY, username);
    return body.token;
  }

  /**
   * Log this browser out everywhere: end the session (server side) and forget the
   * token here. The token itself stays valid for the user's other clients.
   */
  async logout() {
    this.forget();
    // Swagger UI (/api/docs/, persistAuthorization) keeps a token entered under
    // Authorize in this origin's storage: a logout here logs the docs out as well.
    this.storage?.removeItem("authorized");
    try {
      const { csrf_token: csrf } = await this.session();
      await this.request("DELETE", "/auth/session/", undefined, { auth: false, csrf });
    } catch {
      // Offline: the board has forgotten the token; the session ends when it expires.
    }
  }

  /** Forget the login in this browser only (after a 401, say). */
  forget() {
    this.storage?.removeItem(TOKEN_KEY);
    this.storage?.removeItem(USER_KEY);
  }

  /**
   * This browser's session: who it is logged in as (null: nobody) and its CSRF token.
   * @returns {Promise<{username: string | null, is_staff: boolean, csrf_token: string}>}
   */
  session() {
    return this.request("GET", "/auth/session/", undefined, { auth: false });
  }

  /**
   * One request. Paths starting with "/" are under `base`; absolute URLs (a page's `next`) are used as-is.
   * @param {string} method
   * @param {string} path
   * @param {unknown} [data]
   * @param {{auth?: boolean, csrf?: string, ifMatch?: number | null}} [opts]  `csrf`: Django's
   *   CSRF token, for session-authenticated writes (token calls need none); `ifMatch`: send
   *   `If-Match: "<version>"`
   */
  async request(method, path, data, opts = {}) {
    const url = /^https?:\/\//.test(path) ? path : `${this.base}${path}`;
    /** @type {Record<string, string>} */
    const headers = { Accept: "application/json" };
    if (data !== undefined) headers["Content-Type"] = "application/json";
    if (opts.csrf) headers["X-CSRFToken"] = opts.csrf;
    if (opts.ifMatch !== undefined && opts.ifMatch !== null) headers["If-Match"] = `"${opts.ifMatch}"`;
    const token = this.token;
    if (opts.auth !== false && token) headers.Authorization = `Token ${token}`;
    let res;
    try {
      res = await this._fetch(url, { method, headers, body: data === undefined ? undefined : JSON.stringify(data) });
    } catch (err) {
      throw new ApiError(0, "Cannot reach the server. Check your connection and try again.");
    }
    if (res.status === 204) return null;
    const text = await res.text();
    let body = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      body = text;
    }
    if (!res.ok) {
      const { message, fields, code } = parseErrorBody(body);
      const current = res.status === 412 && body && typeof body === "object" ? body.current ?? null : null;
      const err = new ApiError(res.status, message, fields, code ?? null, current);
      if (res.status === 401 && opts.auth !== false) this.onUnauthorized();
      throw err;
    }
    return body;
  }

  /**
   * Every item of a paginated list, following `next` until it is null.
   * Also accepts an unpaginated array.
   * @param {string} path
   * @returns {Promise<any[]>}
   */
  async list(path) {
    /** @type {any[]} */
    const items = [];
    const seen = new Set();
    /** @type {string | null} */
    let next = path;
    while (next) {
      if (seen.has(next) || seen.size >= this.maxPages) throw new ApiError(0, "Pagination did not end");
      seen.add(next);
      const page = await this.request("GET", next);
      if (Array.isArray(page)) return items.concat(page);
      items.push(...(page?.results ?? []));
      next = page?.next ?? null;
    }
    return items;
  }

  /** @returns {Promise<Sprint[]>} */
  sprints() {
    return this.list("/sprints/");
  }

  /** @param {number} id @returns {Promise<Sprint>} */
  sprint(id) {
    return this.request("GET", `/sprints/${id}/`);
  }

  /** @param {{name: string, description?: string, end: string}} data @returns {Promise<Sprint>} */
  createSprint(data) {
    return this.request("POST", "/sprints/", data);
  }

  /** @param {number} sprintId @returns {Promise<Task[]>} */
  tasks(sprintId) {
    return this.list(`/tasks/?sprint=${encodeURIComponent(sprintId)}`);
  }

  /** @returns {Promise<Task[]>} */
  backlog() {
    return this.list("/tasks/?backlog=true");
  }

  /** @param {Partial<Task>} data @returns {Promise<Task>} */
  createTask(data) {
    return this.request("POST", "/tasks/", data);
  }

  /** @param {number} id @param {Partial<Task>} data @param {WriteOptions} [opts] @returns {Promise<Task>} */
  updateTask(id, data, opts = {}) {
    return this.request("PATCH", `/tasks/${id}/`, data, { ifMatch: opts.ifMatch });
  }

  /** @param {number} id @param {WriteOptions} [opts] */
  deleteTask(id, opts = {}) {
    return this.request("DELETE", `/tasks/${id}/`, undefined, { ifMatch: opts.ifMatch });
  }

  /**
   * Move a task (docs/protocol.md, the move operation): into `status` of `sprint` (null:
   * the backlog), directly below task `after` (null: at the top). Omitted keys are left
   * as they are; the server sets the rank and the dates and answers with the task.
   * @param {number} id
   * @param {{status?: string, sprint?: number | null, after?: number | null}} to
   * @param {WriteOptions} [opts]
   * @returns {Promise<Task>}
   */
  moveTask(id, to, opts = {}) {
    /** @type {Record<string, unknown>} */
    const body = {};
    for (const key of /** @type {const} */ (["status", "sprint", "after"])) {
      if (to[key] !== undefined) body[key] = to[key];
    }
    return this.request("POST", `/tasks/${id}/move/`, body, { ifMatch: opts.ifMatch });
  }

  /** @returns {Promise<{username: string, full_name?: string}[]>} */
  users() {
    return this.list("/users/");
  }

  /**
   * The sprint's event log after `since` (docs/protocol.md §6), page after page to the
   * latest: each event as the websocket's `event` frame, plus `at`. A 410 (the log no
   * longer reaches back to `since + 1`) is an ApiError with status 410 and `code` "gone".
   * @param {number} sprintId @param {number} since
   * @returns {AsyncGenerator<import("./protocol.js").EventFrame>}
   */
  async *eventLog(sprintId, since) {
    /** @type {string | null} */
    let next = `/sprints/${sprintId}/events/?since=${encodeURIComponent(since)}&page_size=100`;
    for (let pages = 0; next; pages += 1) {
      if (pages >= this.maxPages) throw new ApiError(0, "Pagination did not end");
      const page = await this.request("GET", next);
      yield* page?.results ?? [];
      next = page?.next ?? null;
    }
  }

  /**
   * The sprint's latest `count` events at most, oldest first (what the activity feed
   * shows on load); fewer if the log holds fewer.
   * @param {number} sprintId @param {number} latest  the sprint's seq @param {number} count
   * @returns {Promise<import("./protocol.js").EventFrame[]>}
   */
  async recentEvents(sprintId, latest, count) {
    const since = Math.max(0, latest - count);
    const path = (/** @type {number | null} */ from) =>
      `/sprints/${sprintId}/events/?page_size=${count}${from === null ? "" : `&since=${from}`}`;
    try {
      return (await this.request("GET", path(since)))?.results ?? [];
    } catch (err) {
      // Pruned that far back: whatever the log still holds.
      if (err instanceof ApiError && err.status === 410) return (await this.request("GET", path(null)))?.results?.slice(-count) ?? [];
      throw err;
    }
  }

  /** A realtime ticket for one sprint (docs/protocol.md §1). @param {number} sprintId @returns {Promise<Ticket>} */
  realtimeTicket(sprintId) {
    return this.request("POST", `/sprints/${sprintId}/realtime/`, {});
  }
}

/** localStorage, or null where it is missing or blocked (Node, privacy modes). */
function safeLocalStorage() {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null;
  }
}
