// The account page's password, sessions and recent-activity sections. Everything from the server
// goes in through textContent; calls go through api.js (a 401 renews the session once and retries).
import { api, onUnauthorized } from "./api.js";

const $ = (id) => document.getElementById(id);
const ACTIVITY_PAGE = 20;
const WHAT = {
  sign_in: "Signed in",
  sign_in_failed: "Failed sign-in",
  refresh_reuse: "A used refresh token came back: that session was ended",
  password_changed: "Password changed",
  session_revoked: "Session signed out",
  logout_all: "Signed out everywhere",
  key_created: "API key created",
  key_used_from_new_address: "API key used from a new address",
  key_revoked: "API key revoked",
};

function when(ms) {
  return new Date(ms).toLocaleString([], { dateStyle: "medium", timeStyle: "short", hourCycle: "h23" });
}

/** "Chrome on Linux" from a user agent; the raw text when nothing is recognised. */
export function device(userAgent, kind) {
  const ua = userAgent || "";
  const browser = [["Edg/", "Edge"], ["Firefox/", "Firefox"], ["Chrome/", "Chrome"], ["Chromium/", "Chromium"],
    ["Safari/", "Safari"]].find(([mark]) => ua.includes(mark))?.[1];
  const system = [["Windows", "Windows"], ["Android", "Android"], ["iPhone", "iOS"], ["iPad", "iOS"],
    ["Mac OS X", "macOS"], ["Linux", "Linux"]].find(([mark]) => ua.includes(mark))?.[1];
  const what = browser ? `${browser}${system ? ` on ${system}` : ""}` : (ua.slice(0, 60) || "Unknown device");
  return kind === "api" ? `API client · ${what}` : what;
}

function cell(text, title) {
  const td = document.createElement("td");
  td.textContent = text;
  if (title) td.title = title;
  return td;
}

function say(id, text) {
  const el = $(id);
  el.textContent = text;
  el.hidden = !text;
}

// ---- sessions ----
async function loadSessions() {
  say("sessions-error", "");
  let sessions;
  try {
    ({ sessions } = await api("GET", "/api/account/sessions"));
  } catch (error) {
    say("sessions-error", `Could not load your sessions: ${error.message}`);
    return;
  }
  const rows = sessions.map((s) => {
    const tr = document.createElement("tr");
    tr.dataset.sessionId = s.id;
    const name = device(s.userAgent, s.kind);
    tr.append(cell(name, s.userAgent || ""), cell(s.ip || "—"), cell(when(s.createdAt)), cell(when(s.lastSeenAt)));
    const action = document.createElement("td");
    if (s.current) {
      const badge = document.createElement("span");
      badge.className = "badge";
      badge.textContent = "This session";
      action.append(badge);
    } else {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "link-button";
      button.textContent = "Sign out";
      button.setAttribute("aria-label", `Sign out ${name} at ${s.ip || "an unknown address"}`);
      button.addEventListener("click", () => signOut(s.id, name));
      action.append(button);
    }
    tr.append(action);
    return tr;
  });
  $("sessions-table").tBodies[0].replaceChildren(...rows);
  $("sign-out-others").disabled = sessions.every((s) => s.current);
}

async function signOut(id, name) {
  try {
    await api("DELETE", `/api/account/sessions/${encodeURIComponent(id)}`);
    say("sessions-status", `Signed out: ${name}.`);
  } catch (error) {
    say("sessions-error", `Could not sign that session out: ${error.message}`);
  }
  await Promise.all([loadSessions(), loadActivity()]);
}

async function signOutOthers() {
  try {
    const { revoked } = await api("POST", "/auth/logout-all", { keepCurrent: true });
    say("sessions-status", revoked === 1 ? "Signed out 1 other session." : `Signed out ${revoked} other sessions.`);
  } catch (error) {
    say("sessions-error", `Could not sign the other sessions out: ${error.message}`);
  }
  await Promise.all([loadSessions(), loadActivity()]);
}

// ---- recent activity ----
let nextCursor = null;

function activityRow(e) {
  const tr = document.createElement("tr");
  tr.dataset.kind = e.kind;
  let what = WHAT[e.kind] ?? e.kind;
  if (e.kind === "logout_all" && e.detail?.kept_current === "true") what = "Signed out everywhere else";
  const whatCell = cell(what);
  if (e.newAddress) {
    const flag = document.createElement("span");
    flag.className = "badge badge-warn";
    flag.textContent = "new address";
    whatCell.append(" ", flag);
  }
  tr.append(cell(when(e.time)), whatCell, cell(e.ip || "—"), cell(e.userAgent ? device(e.userAgent, "") : "—",
    e.userAgent || ""));
  return tr;
}

async function loadActivity(more = false) {
  say("activity-error", "");
  const query = `?limit=${ACTIVITY_PAGE}${more && nextCursor ? `&cursor=${encodeURIComponent(nextCursor)}` : ""}`;
  let page;
  try {
    page = await api("GET", `/api/account/activity${query}`);
  } catch (error) {
    say("activity-error", `Could not load your activity: ${error.message}`);
    return;
  }
  const body = $("activity-table").tBodies[0];
  const rows = page.events.map(activityRow);
  if (more) body.append(...rows); else body.replaceChildren(...rows);
  nextCursor = page.nextCursor;
  $("activity-more").hidden = !nextCursor;
}

// ---- password ----
async function changePassword(event) {
  event.preventDefault();
  const current = $("current-password");
  const next = $("new-password");
  say("password-error", "");
  say("password-ok", "");
  for (const input of [current, next]) input.removeAttribute("aria-invalid");
  try {
    const { revokedSessions } = await api("POST", "/api/account/password",
      { currentPassword: current.value, newPassword: next.value });
    current.value = "";
    next.value = "";
    say("password-ok", revokedSessions === 1 ? "Password changed. 1 other session was signed out."
      : `Password changed. ${revokedSessions} other sessions were signed out.`);
  } catch (error) {
    say("password-error", error.message);
    const culprit = error.field === "currentPassword" ? current : error.field === "newPassword" ? next : null;
    if (culprit) {
      culprit.setAttribute("aria-invalid", "true");
      culprit.setAttribute("aria-errormessage", "password-error");
      culprit.focus();
    }
  }
  await Promise.all([loadSessions(), loadActivity()]);
}

onUnauthorized(() => window.location.assign("/login?next=/account"));
$("password-form").addEventListener("submit", changePassword);
$("sign-out-others").addEventListener("click", signOutOthers);
$("activity-more").addEventListener("click", () => loadActivity(true));
loadSessions();
loadActivity();
