// The page's sign-in. A few minutes before the session token expires the trader is told when it
// ends; once it has ended (expiry, the server closing the WebSocket with 4001, a 401 from any call)
// the notice says so with a link to sign in again, and anything submitted after that is refused
// here, visibly, instead of being dropped on the way to the login page.

export const WARN_BEFORE_MS = 5 * 60_000;
const MAX_TIMER_MS = 60_000;  // look again at least this often: timers stall across sleep and in hidden tabs
const MAX_REASON = 80;

/** Where a session expiring at `expiresAt` stands at `now`: "live", "ending" or "ended" (0: no expiry known). */
export function sessionPhase(now, expiresAt, warnBeforeMs = WARN_BEFORE_MS) {
  if (!expiresAt) return "live";
  if (now >= expiresAt) return "ended";
  return now >= expiresAt - warnBeforeMs ? "ending" : "live";
}

function clock(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
}

export class Session {
  /** `onEnded()` once the session is over; `onRefused()` each time something is not sent because of it. */
  constructor({ expiresAt, notice, onEnded, onRefused }) {
    this.expiresAt = expiresAt;
    this.notice = notice;
    this.onEnded = onEnded;
    this.onRefused = onRefused;
    this.ended = false;
    this.warned = false;
    this.timer = null;
    this.text = notice.querySelector(".session-text");
    notice.querySelector(".session-dismiss").addEventListener("click", () => { notice.hidden = true; });
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
    if (!this.expiresAt) return;
    const next = phase === "live" ? this.expiresAt - WARN_BEFORE_MS : this.expiresAt;
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
