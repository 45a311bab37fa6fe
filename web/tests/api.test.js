// Api: pagination through `next`, token header, field errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Api, ApiError, parseErrorBody } from "../api.js";

function memoryStorage() {
  const m = new Map();
  return { getItem: (k) => m.get(k) ?? null, setItem: (k, v) => m.set(k, String(v)), removeItem: (k) => m.delete(k) };
}

function fakeFetch(routes) {
  const calls = [];
  const fn = async (url, init) => {
    calls.push({ url, ...init });
    const r = routes(url, init);
    return { status: r.status ?? 200, ok: (r.status ?? 200) < 400, text: async () => (r.body === undefined ? "" : JSON.stringify(r.body)) };
  };
  return { fn, calls };
}

test("list follows next until done (hundreds of tasks)", async () => {
  const all = Array.from({ length: 430 }, (_, i) => ({ id: i + 1 }));
  const { fn, calls } = fakeFetch((url) => {
    const page = Number(new URL(url, "http://x").searchParams.get("page") ?? 1);
    const results = all.slice((page - 1) * 100, page * 100);
    const next = page * 100 < all.length ? `http://127.0.0.1:8000/api/tasks/?page=${page + 1}&sprint=7` : null;
    return { body: { count: all.length, next, previous: null, results } };
  });
  const api = new Api({ fetch: fn, storage: memoryStorage() });
  const tasks = await api.tasks(7);
  assert.equal(tasks.length, 430);
  assert.equal(calls.length, 5);
  assert.equal(calls[0].url, "/api/tasks/?sprint=7");
  assert.equal(calls[1].url, "http://127.0.0.1:8000/api/tasks/?page=2&sprint=7");
});

test("a next that loops is an error, not a hang", async () => {
  const { fn } = fakeFetch(() => ({ body: { results: [1], next: "http://h/api/x/?page=2" } }));
  await assert.rejects(new Api({ fetch: fn, storage: null }).list("/x/"), ApiError);
});

test("login fetches the CSRF token, asks for a session, stores the token and sends it afterwards", async () => {
  const { fn, calls } = fakeFetch((url) => (url.endsWith("/token/") ? { body: { token: "abc" } }
    : url.endsWith("/auth/session/") ? { body: { username: null, is_staff: false, csrf_token: "c1" } } : { body: [] }));
  const storage = memoryStorage();
  const api = new Api({ fetch: fn, storage });
  await api.login("ana", "pw");
  assert.deepEqual(calls.map((c) => `${c.method} ${c.url}`), ["GET /api/auth/session/", "POST /api/token/"]);
  assert.equal(calls[1].headers.Authorization, undefined);
  assert.equal(calls[1].headers["X-CSRFToken"], "c1");
  assert.deepEqual(JSON.parse(calls[1].body), { username: "ana", password: "pw", session: true });
  await api.sprints();
  assert.equal(calls[2].headers.Authorization, "Token abc");
  assert.equal(calls[2].headers["X-CSRFToken"], undefined); // token calls need no CSRF
  assert.equal(api.username, "ana");
});

test("logout ends the session with the CSRF token and forgets the token, the docs' too", async () => {
  const { fn, calls } = fakeFetch((url, init) => (init.method === "DELETE" ? { status: 204 }
    : { body: { username: "ana", is_staff: false, csrf_token: "c2" } }));
  const storage = memoryStorage();
  storage.setItem("watercooler.token", "abc");
  storage.setItem("watercooler.username", "ana");
  storage.setItem("authorized", "{\"tokenAuth\":{}}");
  const api = new Api({ fetch: fn, storage });
  await api.logout();
  assert.deepEqual(calls.map((c) => `${c.method} ${c.url}`), ["GET /api/auth/session/", "DELETE /api/auth/session/"]);
  assert.equal(calls[1].headers["X-CSRFToken"], "c2");
  assert.equal(calls[1].headers.Authorization, undefined);
  assert.equal(api.token, null);
  assert.equal(api.username, null);
  assert.equal(storage.getItem("authorized"), null);
});

test("logout while offline still forgets the login here", async () => {
  const storage = memoryStorage();
  storage.setItem("watercooler.token", "abc");
  const api = new Api({ fetch: async () => { throw new TypeError("Failed to fetch"); }, storage });
  await api.logout();
  assert.equal(api.token, null);
});

test("400 carries field errors; 401 calls onUnauthorized", async () => {
  let unauthorized = 0;
  const { fn } = fakeFetch((url) => (url.includes("/tasks/3/")
    ? { status: 400, body: { sprint: ["Cannot add tasks to a past sprint."] } }
    : { status: 401, body: { detail: "Authentication credentials were not provided." } }));
  const api = new Api({ fetch: fn, storage: memoryStorage(), onUnauthorized: () => unauthorized++ });
  await assert.rejects(api.updateTask(3, { sprint: 1 }), (e) =>
    e instanceof ApiError && e.status === 400 && e.fields.sprint[0] === "Cannot add tasks to a past sprint."
    && e.message === "sprint: Cannot add tasks to a past sprint.");
  await assert.rejects(api.sprints(), (e) => e.status === 401 && e.message.startsWith("Authentication"));
  assert.equal(unauthorized, 1);
});

test("network failure becomes ApiError status 0; 204 is null", async () => {
  const api = new Api({ fetch: async () => { throw new TypeError("Failed to fetch"); }, storage: null });
  await assert.rejects(api.sprints(), (e) => e.status === 0);
  const { fn } = fakeFetch(() => ({ status: 204 }));
  assert.equal(await new Api({ fetch: fn, storage: null }).deleteTask(1), null);
});

test("the project's error body {error, message, fields}", async () => {
  const { fn } = fakeFetch(() => ({ status: 400, body: { error: "invalid", message: "sprint: Cannot add tasks to a sprint that has ended.", fields: { sprint: ["Cannot add tasks to a sprint that has ended."] } } }));
  const api = new Api({ fetch: fn, storage: null });
  await assert.rejects(api.updateTask(1, { sprint: 2 }), (e) => e.status === 400 && e.code === "invalid"
    && e.message === "sprint: Cannot add tasks to a sprint that has ended." && e.fields.sprint.length === 1);
  assert.deepEqual(parseErrorBody({ error: "not_found", message: "Not found." }), { message: "Not found.", fields: {}, code: "not_found" });
});

test("parseErrorBody", () => {
  assert.deepEqual(parseErrorBody({ non_field_errors: ["Unable to log in with provided credentials."] }),
    { message: "Unable to log in with provided credentials.", fields: { non_field_errors: ["Unable to log in with provided credentials."] } });
  assert.equal(parseErrorBody("<html>").message, "<html>");
  assert.equal(parseErrorBody(null).message, "Request failed");
});

test("moveTask posts the intent with If-Match; omitted keys stay out of the body", async () => {
  const { fn, calls } = fakeFetch(() => ({ body: { id: 4, status: "testing", rank: "c", version: 8 } }));
  const api = new Api({ fetch: fn, storage: memoryStorage() });
  const saved = await api.moveTask(4, { status: "testing", sprint: 7, after: null }, { ifMatch: 7 });
  assert.equal(saved.version, 8);
  assert.equal(calls[0].url, "/api/tasks/4/move/");
  assert.equal(calls[0].method, "POST");
  assert.equal(calls[0].headers["If-Match"], '"7"');
  assert.deepEqual(JSON.parse(calls[0].body), { status: "testing", sprint: 7, after: null });
  await api.moveTask(4, { sprint: null });
  assert.deepEqual(JSON.parse(calls[1].body), { sprint: null }, "null is the backlog; undefined is left out");
  assert.equal(calls[1].headers["If-Match"], undefined, "no version: no If-Match (last write wins)");
});

test("updateTask and deleteTask send If-Match; a 412 carries the current task", async () => {
  const current = { id: 4, name: "Renamed by ben", version: 9 };
  const { fn, calls } = fakeFetch(() => ({ status: 412, body: { error: "conflict", message: "Task 4 changed since version 7.", current } }));
  const api = new Api({ fetch: fn, storage: memoryStorage() });
  await assert.rejects(api.updateTask(4, { name: "mine" }, { ifMatch: 7 }), (e) =>
    e instanceof ApiError && e.isConflict && e.code === "conflict" && e.current.name === "Renamed by ben"
    && e.message === "Task 4 changed since version 7.");
  assert.equal(calls[0].headers["If-Match"], '"7"');
  await assert.rejects(api.deleteTask(4, { ifMatch: 7 }), (e) => e.status === 412 && e.current.version === 9);
  assert.equal(calls[1].method, "DELETE");
  assert.equal(calls[1].headers["If-Match"], '"7"');
});

test("a 400 on move names the field; only a 412 carries current", async () => {
  const { fn } = fakeFetch(() => ({ status: 400, body: { error: "invalid", message: "after: not in that column.", fields: { after: ["not in that column."] }, current: { id: 1 } } }));
  await assert.rejects(new Api({ fetch: fn, storage: null }).moveTask(1, { after: 3 }), (e) =>
    e.status === 400 && !e.isConflict && e.current === null && e.fields.after[0] === "not in that column.");
});

test("eventLog reads page after page from since; a 410 says gone", async () => {
  const events = Array.from({ length: 250 }, (_, i) => ({ type: "event", seq: i + 6 }));
  const { fn, calls } = fakeFetch((url) => {
    const q = new URL(url, "http://x").searchParams;
    const since = Number(q.get("since"));
    if (since < 5) return { status: 410, body: { error: "gone", message: "pruned", oldest: 6, latest: 255 } };
    const results = events.filter((e) => e.seq > since).slice(0, 100);
    const last = results.at(-1)?.seq;
    const next = last < 255 ? `http://h/api/sprints/7/events/?since=${last}&page_size=100` : null;
    return { body: { count: 0, next, previous: null, latest: 255, results } };
  });
  const api = new Api({ fetch: fn, storage: null });
  const seqs = [];
  for await (const e of api.eventLog(7, 5)) seqs.push(e.seq);
  assert.deepEqual(seqs, events.map((e) => e.seq));
  assert.equal(calls[0].url, "/api/sprints/7/events/?since=5&page_size=100");
  assert.equal(calls.length, 3);
  await assert.rejects(async () => { for await (const _ of api.eventLog(7, 2)); }, (err) => err instanceof ApiError && err.status === 410 && err.code === "gone");
});

test("recentEvents: the latest few, or all the log holds once pruned that far", async () => {
  const { fn, calls } = fakeFetch((url) => {
    const q = new URL(url, "http://x").searchParams;
    if (q.get("since") === "40") return { status: 410, body: { error: "gone", message: "pruned", oldest: 45, latest: 90 } };
    const from = q.has("since") ? Number(q.get("since")) : 44;
    return { body: { next: null, results: [{ seq: from + 1 }, { seq: from + 2 }] } };
  });
  const api = new Api({ fetch: fn, storage: null });
  assert.deepEqual((await api.recentEvents(7, 90, 20)).map((e) => e.seq), [71, 72]);
  assert.equal(calls[0].url, "/api/sprints/7/events/?page_size=20&since=70");
  assert.deepEqual((await api.recentEvents(7, 90, 50)).map((e) => e.seq), [45, 46]);
  assert.equal(calls.at(-1).url, "/api/sprints/7/events/?page_size=50");
});
