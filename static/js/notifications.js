// The notification history behind the bell: fills, rejections, triggered stops and the CFD desk's
// liquidations, stops and refusals, from the WebSocket's user events. Optionally also as browser
// notifications: permission is asked only when the trader turns them on, never on page load.
import { fmt, plain } from "./num.js";

const KEEP = 100;
const PREF = "troupe-browser-notifications";
const CFD_EVENTS = {
  LIQUIDATED: ["error", "liquidated"], STOP_LOSS: ["info", "stopped out"], TAKE_PROFIT: ["ok", "took profit"],
};

function sideName(side) {
  return side === "BUY" ? "Buy" : "Sell";
}

/** What an order's change is worth telling, or null: its fill, its rejection, its stop triggering. */
export function orderNotice(order, previous) {
  const statusChanged = !previous || previous.status !== order.status;
  if (statusChanged && order.status === "FILLED") {
    return { kind: "ok", title: "Order filled",
      text: `${sideName(order.side)} ${plain(order.executedQty)} ${order.symbol} filled at ${plain(order.avgPrice)}` };
  }
  if (statusChanged && order.status === "REJECTED") {
    return { kind: "error", title: "Order rejected",
      text: `${sideName(order.side)} ${order.symbol} rejected: ${order.rejectReason ?? "no reason given"}` };
  }
  if (order.triggered && previous && !previous.triggered) {
    return { kind: "info", title: "Stop triggered",
      text: `${sideName(order.side)} ${order.symbol} stop triggered at ${plain(order.stopPrice)}` };
  }
  return null;
}

/** A CFD_UPDATE worth telling (a liquidation, a stop-loss or take-profit, a refusal), or null. */
export function cfdNotice(m) {
  if (m.event === "REJECTED") return { kind: "error", title: "CFD order refused", text: `CFD: ${m.reason}` };
  const what = CFD_EVENTS[m.event];
  if (!what || !m.position) return null;
  const p = m.position;
  return { kind: what[0], title: `CFD position ${what[1]}`,
    text: `${p.direction === "LONG" ? "Long" : "Short"} ${p.symbol} ${what[1]} at ${plain(m.exitPrice)} (PnL ${fmt(m.pnl, 2)})` };
}

export class Notifications {
  constructor({ button, count, panel, list, empty, clear, toggle, permission }) {
    Object.assign(this, { button, count, panel, list, empty, toggle, permission });
    this.items = [];
    this.unread = 0;
    button.addEventListener("click", () => this.setOpen(panel.hidden));
    clear.addEventListener("click", () => {
      this.items = [];
      this.render();
    });
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !panel.hidden) {
        this.setOpen(false);
        button.focus();
      }
    });
    document.addEventListener("click", (event) => {
      if (!panel.hidden && !panel.contains(event.target) && !button.contains(event.target)) this.setOpen(false);
    });
    toggle.checked = localStorage.getItem(PREF) === "on" && this.permitted();
    toggle.addEventListener("change", () => this.setBrowser(toggle.checked));
    this.render();
  }

  permitted() {
    return "Notification" in window && Notification.permission === "granted";
  }

  /** Turning browser notifications on asks for permission then, and only then. */
  async setBrowser(on) {
    this.permission.hidden = true;
    if (on && !("Notification" in window)) {
      this.refuseBrowser("This browser cannot show notifications.");
      return;
    }
    if (on && Notification.permission !== "granted") {
      const answer = await Notification.requestPermission();
      if (answer !== "granted") {
        this.refuseBrowser("The browser did not allow notifications; allow them in its site settings to turn them on.");
        return;
      }
    }
    localStorage.setItem(PREF, on ? "on" : "off");
  }

  refuseBrowser(reason) {
    this.toggle.checked = false;
    localStorage.setItem(PREF, "off");
    this.permission.textContent = reason;
    this.permission.hidden = false;
  }

  setOpen(open) {
    this.panel.hidden = !open;
    this.button.setAttribute("aria-expanded", String(open));
    if (open) this.unread = 0;
    this.render();
  }

  /** Record a notice: in the history (unread while the panel is closed) and, if on, as a browser notification. */
  add(notice) {
    if (!notice) return;
    this.items.unshift({ ...notice, time: Date.now() });
    this.items.length = Math.min(this.items.length, KEEP);
    if (this.panel.hidden) this.unread += 1;
    this.render();
    if (this.toggle.checked && this.permitted()) new Notification(notice.title, { body: notice.text, tag: `troupe-${Date.now()}` });
  }

  render() {
    this.list.replaceChildren(...this.items.map((n) => {
      const li = document.createElement("li");
      li.className = `notif-item ${n.kind}`;
      li.dataset.kind = n.kind;
      const when = document.createElement("time");
      when.dateTime = new Date(n.time).toISOString();
      when.textContent = new Date(n.time).toLocaleTimeString([], { hour12: false });
      when.className = "muted";
      const title = document.createElement("strong");
      title.textContent = n.title;
      const text = document.createElement("span");
      text.textContent = n.text;
      li.append(title, " ", when, document.createElement("br"), text);
      return li;
    }));
    this.empty.hidden = this.items.length > 0;
    this.count.textContent = String(this.unread);
    this.count.hidden = this.unread === 0;
    this.button.setAttribute("aria-label", `Notifications, ${this.unread === 0 ? "none" : this.unread} unread`);
  }
}
