// The page's sign-in. The short access token (a cookie) is renewed silently before it expires, with
// the refresh cookie (POST /auth/refresh, one renewal at a time across the browser's tabs: a refresh
// token works once). A few minutes before the session itself ends the trader is told when; once it
// has ended (its end, the server closing the WebSocket with 4001, a renewal refused) the notice says
// so with a link to sign in again, and anything submitted after that is refused here, visibly,
// instead of being dropped on the way to the login page.

export const WARN_BEFORE_MS = 5 * 60_000;
export const RENEW_BEFORE_MS = 60_000;  // renew this long before the access token expires (a third of a short one)
const MAX_TIMER_MS = 60_000;  // look again at least this often: timers stall across sleep and in hidden tabs
const RETRY_MS = 5_000;  // a renewal that could not reach the server is tried again this soon
const MAX_REASON = 80;
const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content ?? "";
const renewedListeners = new Set();
let renewing = null;

/** Call `listener({expiresAt, sessionExpiresAt})` after every successful renewal (any caller's). */
export function onRenewed(listener) {
  renewedListeners.add(listener);
}

async function askRenewal() {
  let response;
  try {
    response = await fetch("/auth/refresh", { method: "POST", credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRF-Token": csrf() } });
  } catch {
    return "unreachable";
  }
  if (!response.ok) return response.status === 401 ? "ended" : "unreachable";
  const body = await response.json();
  for (const listener of renewedListeners) listener(body);
  return "renewed";
}

/** Renew the access token now: "renewed", "ended" (the session is over) or "unreachable".
 *  Concurrent callers share one request; tabs take turns (Web Locks), each sending the newest cookie. */
export function renewSession() {
  if (!renewing) {
    const run = navigator.locks ? navigator.locks.request("troupe-session-renewal", askRenewal) : askRenewal();
    renewing = run.finally(() => { renewing = null; });
  }
  return renewing;
}

/** Where a session expiring at `expiresAt` stands at `now`: "live", "ending" or "ended" (0: no expiry known). */
export function sessionPhase(now, expiresAt, warnBeforeMs = WARN_BEFORE_MS) {
  if (!expiresAt) return "live";
  if (now >= expiresAt) return "ended";
  return now >= expiresAt - warnBeforeMs ? "ending" : "live";
}

function clock(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
}

/** When to renew an access token expiring at `accessExpiresAt` (0: never: unknown, or it already
 *  lasts as long as the session ending at `sessionEndsAt`, which no renewal can extend). */
export function renewAt(now, accessExpiresAt, sessionEndsAt = 0) {
  if (!accessExpiresAt || (sessionEndsAt && accessExpiresAt >= sessionEndsAt - 1000)) return 0;
  const ahead = Math.min(RENEW_BEFORE_MS, Math.max(0, accessExpiresAt - now) / 3);
  return accessExpiresAt - ahead;
}

export class Session {
  /** `expiresAt`: the session's own end; `accessExpiresAt`: its access token's, renewed before then.
   *  `onEnded()` once the session is over; `onRefused()` each time something is not sent because of it. */
  constructor({ expiresAt, accessExpiresAt = 0, notice, onEnded, onRefused }) {
    this.expiresAt = expiresAt;
    this.accessExpiresAt = accessExpiresAt;
    this.renewAfter = renewAt(Date.now(), accessExpiresAt, expiresAt);
    this.notice = notice;
    this.onEnded = onEnded;
    this.onRefused = onRefused;
    this.ended = false;
    this.warned = false;
    this.timer = null;
    this.text = notice.querySelector(".session-text");
    notice.querySelector(".session-dismiss").addEventListener("click", () => { notice.hidden = true; });
    onRenewed(({ expiresAt: access, sessionExpiresAt }) => {
      this.accessExpiresAt = access;
      if (sessionExpiresAt) this.expiresAt = sessionExpiresAt;
      this.renewAfter = renewAt(Date.now(), access, this.expiresAt);
      this.check();
    });
  }

  start() {
    this.check();
    document.addEventListener("visibilitychange", () => this.check());
  }

  check() {
    clearTimeout(this.timer);
    if (this.ended) return;
    const now = Date.now();
    const phase = sessionPhase(now, this.expiresAt);
    if (phase === "ended") {
      this.end("session expired");
      return;
    }
    if (phase === "ending" && !this.warned) {
      this.warned = true;
      this.show("ending", `Your session ends at ${clock(this.expiresAt)} — sign in again to keep trading.`);
    }
    if (this.renewAfter && now >= this.renewAfter) {
      this.renewAfter = now + RETRY_MS;  // until the answer (or if it never comes)
      renewSession().then((outcome) => {
        if (outcome === "ended") this.end("session ended");
      });
    }
    if (!this.expiresAt) return;
    const next = Math.min(phase === "live" ? this.expiresAt - WARN_BEFORE_MS : this.expiresAt,
      this.renewAfter || Infinity);
    this.timer = setTimeout(() => this.check(), Math.min(Math.max(next - now, 0), MAX_TIMER_MS));
  }

  /** The session is over (idempotent): say so, and let the page stop its connection. */
  end(reason) {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.timer);
    const why = reason ? ` (${String(reason).slice(0, MAX_REASON)})` : "";
    this.show("ended", `Your session has ended${why}. Sign in again to keep trading; what you typed is kept.`);
    this.onEnded();
  }

  /** null while signed in; after the end, tells the trader `what` was not sent and returns the form's message. */
  refuse(what) {
    if (!this.ended) return null;
    this.show("ended", `Your ${what} was NOT sent: your session has ended. Sign in again to send it; what you typed is kept.`);
    this.onRefused();
    return "Not sent: your session has ended. Sign in again; what you typed is kept.";
  }

  /** The message for a request that failed: after a 401 (which ended the session) it says `what` was not sent. */
  failure(what, error) {
    return (error.status === 401 && this.refuse(what)) || error.message;
  }

  show(kind, text) {
    this.notice.dataset.kind = kind;
    this.text.textContent = text;
    this.notice.hidden = false;
  }
}
