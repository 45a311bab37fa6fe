// @ts-check
/**
 * The app shell: hash routing (#/login, #/sprints, #/sprints/<id>), login/logout,
 * the error banner, and window.watercooler (read-only debugging info for tests).
 */
import { Api, ApiError } from "./api.js";
import { avatar, h } from "./dom.js";
import { renderSprintList } from "./sprint-list.js";
import { SprintPage } from "./sprint-page.js";
import { Wallboard } from "./wallboard.js";

const view = /** @type {HTMLElement} */ (document.getElementById("view"));
const userBox = /** @type {HTMLElement} */ (document.getElementById("user"));
const banner = /** @type {HTMLElement} */ (document.getElementById("error"));
const live = /** @type {HTMLElement} */ (document.getElementById("announcer"));

const api = new Api({ onUnauthorized: () => toLogin() });

/** The login is gone (a 401, or logged out elsewhere): forget it, log in again, come back. */
function toLogin(notice = "") {
  api.forget();
  if (!location.hash.startsWith("#/login")) {
    sessionStorage.setItem("watercooler.next", location.hash);
    if (notice) sessionStorage.setItem("watercooler.notice", notice);
    location.hash = "#/login";
  }
}

/**
 * One login per browser: when this browser's session has ended (logged out in the admin
 * or the browsable API) or belongs to someone else, the board logs out too. Checked on
 * every route and when the tab comes back into view; no answer (offline) changes nothing.
 */
async function followSession() {
  const user = api.username;
  if (!api.token || !user) return;
  const session = await api.session().catch(() => null);
  if (session && api.username === user && session.username !== user) {
    toLogin("You were logged out in another tab or window. Please sign in again.");
  }
}

/** @type {SprintPage | Wallboard | null} */
let page = null;

/** Show an error in the banner until dismissed or the next navigation. @param {string} message */
function showError(message) {
  banner.replaceChildren(h("span", { class: "error-banner__text" }, message),
    h("button", { type: "button", class: "icon-button", "aria-label": "Dismiss", onclick: clearError }, "×"));
  banner.hidden = false;
}

function clearError() {
  banner.hidden = true;
  banner.replaceChildren();
}

/** Screen-reader announcement. @param {string} message */
function announce(message) {
  live.textContent = "";
  requestAnimationFrame(() => { live.textContent = message; });
}

function renderUser() {
  const name = api.username;
  if (!api.token || !name) {
    userBox.replaceChildren();
    return;
  }
  userBox.replaceChildren(avatar(name), h("span", { class: "user__name", "data-testid": "current-user" }, name),
    h("button", { type: "button", class: "button button--ghost", "data-testid": "logout", onclick: logout }, "Log out"));
}

async function logout() {
  await api.logout();
  location.hash = "#/login";
}

function renderLogin() {
  const notice = sessionStorage.getItem("watercooler.notice");
  sessionStorage.removeItem("watercooler.notice");
  const error = h("p", { class: "form-error", role: "alert", "data-testid": "login-error" });
  const form = h("form", { class: "card-panel login", "data-testid": "login-form", "aria-labelledby": "login-title" },
    h("h1", { id: "login-title" }, "Sign in to Watercooler"),
    h("p", { class: "muted" }, "See your team's board move as it happens."),
    notice ? h("p", { class: "notice", role: "status", "data-testid": "login-notice" }, notice) : null,
    error,
    h("div", { class: "field" }, h("label", { for: "username" }, "Username"),
      h("input", { id: "username", name: "username", autocomplete: "username", required: true, "data-testid": "login-username" })),
    h("div", { class: "field" }, h("label", { for: "password" }, "Password"),
      h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true, "data-testid": "login-password" })),
    h("button", { class: "button button--primary button--wide", type: "submit", "data-testid": "login-submit" }, "Sign in"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const data = new FormData(/** @type {HTMLFormElement} */ (form));
    const button = /** @type {HTMLButtonElement} */ (form.querySelector("button"));
    button.disabled = true;
    error.textContent = "";
    try {
      await api.login(String(data.get("username") ?? ""), String(data.get("password") ?? ""));
      const next = sessionStorage.getItem("watercooler.next");
      sessionStorage.removeItem("watercooler.next");
      location.hash = next && next !== "#/login" ? next : "#/sprints";
    } catch (err) {
      error.textContent = err instanceof ApiError && err.status === 400
        ? "Wrong username or password."
        : /** @type {Error} */ (err).message;
      button.disabled = false;
    }
  });
  view.replaceChildren(h("div", { class: "page page--center" }, form));
  document.title = "Sign in · Watercooler";
  /** @type {HTMLElement} */ (form.querySelector("input")).focus();
}

function route() {
  page?.destroy();
  page = null;
  clearError();
  renderUser();
  const hash = location.hash || "#/sprints";
  if (!api.token && hash !== "#/login") {
    if (hash !== "#/sprints") sessionStorage.setItem("watercooler.next", hash);
    location.replace("#/login");
    return;
  }
  if (hash === "#/login") {
    if (api.token) location.replace("#/sprints");
    else renderLogin();
    return;
  }
  const wall = hash.match(/^#\/sprints\/(\d+)\/wall\/?$/);
  if (wall) {
    const root = h("div", { class: "page wall" });
    view.replaceChildren(root);
    page = new Wallboard({ root, api, sprintId: Number(wall[1]), showError });
    page.start();
    return;
  }
  const m = hash.match(/^#\/sprints\/(\d+)\/?$/);
  if (m) {
    const root = h("div", { class: "page page--board" });
    view.replaceChildren(root);
    page = new SprintPage({ root, api, sprintId: Number(m[1]), showError, announce });
    page.start();
    return;
  }
  if (hash !== "#/sprints") {
    location.replace("#/sprints");
    return;
  }
  renderSprintList(view, api, showError);
}

Object.defineProperty(window, "watercooler", {
  configurable: true,
  get() {
    const info = page?.debug() ?? { sprint: null, state: "offline", shouldConnect: false, peer: null, lastSeq: null, peers: [], ghosts: [], tasks: 0 };
    return Object.freeze({ ...info, route: location.hash, user: api.username, peers: Object.freeze(info.peers.map((p) => Object.freeze(p))) });
  },
});

window.addEventListener("hashchange", () => { route(); followSession(); });
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") followSession();
});
route();
followSession();
