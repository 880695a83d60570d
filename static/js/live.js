// The WebSocket: a single-use ticket per connection, reconnects with exponential backoff and full
// jitter, and a SNAPSHOT after every (re)connect from which the page redraws the account. A signed-out
// session (the server closes with 4001, or the ticket request gets 401) ends it: no reconnect loop.
import { api } from "./api.js";

const BASE_MS = 500;
const CAP_MS = 15000;
export const SIGNED_OUT_CLOSE = 4001;

export class Live {
  constructor({ onMessage, onState, onSignedOut, subscription }) {
    this.onMessage = onMessage;
    this.onState = onState;
    this.onSignedOut = onSignedOut;
    this.subscription = subscription;
    this.attempt = 0;
    this.socket = null;
    this.timer = null;
    this.stopped = false;
  }

  start() {
    this.connect();
    window.addEventListener("online", () => this.retryNow());
  }

  retryNow() {
    if (this.socket || this.stopped) return;
    clearTimeout(this.timer);
    this.connect();
  }

  async connect() {
    this.timer = null;
    if (this.stopped) return;
    this.onState(this.attempt ? "reconnecting" : "connecting");
    let ticket;
    try {
      ({ ticket } = await api("POST", "/api/ws-ticket"));
    } catch (error) {
      if (error.status === 401) this.signedOut("");
      else this.schedule();
      return;
    }
    if (this.stopped) return;  // stopped while the ticket was on its way
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${window.location.host}/ws?ticket=${encodeURIComponent(ticket)}`);
    this.socket = socket;
    socket.addEventListener("open", () => socket.send(JSON.stringify({ type: "subscribe", ...this.subscription() })));
    socket.addEventListener("message", (event) => {
      let message;
      try { message = JSON.parse(event.data); } catch { return; }
      if (message.type === "SNAPSHOT") {
        this.attempt = 0;
        this.onState("live");
      }
      this.onMessage(message);
    });
    socket.addEventListener("close", (event) => {
      if (this.socket === socket) this.socket = null;
      if (event.code === SIGNED_OUT_CLOSE) this.signedOut(event.reason);
      else this.schedule();
    });
  }

  signedOut(reason) {
    this.stop();
    this.onSignedOut(reason);
  }

  /** For good: close the socket and never reconnect. */
  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = null;
    const socket = this.socket;
    this.socket = null;
    if (socket && socket.readyState <= WebSocket.OPEN) socket.close(1000, "signed out");
  }

  schedule() {
    if (this.stopped || this.timer) return;
    const ceiling = Math.min(CAP_MS, BASE_MS * 2 ** this.attempt);
    const delay = Math.round(Math.random() * ceiling);  // full jitter: reconnecting browsers spread out
    this.attempt += 1;
    this.onState("offline", delay);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  send(message) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }
}
