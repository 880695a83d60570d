// While the WebSocket is down the page cannot hear what its orders did, so it sends none: order, cancel
// and CFD buttons are disabled with the reason shown, prices are marked not current, and once the
// connection (and its SNAPSHOT) is back the buttons return and errors from the outage are cleared.

const ACTIONS = "#submit-order, #cfd-submit, #cfd-transfer-button, #open-orders button, #cfd-open button";

export class OfflineGuard {
  constructor({ root, notice, onBack }) {
    Object.assign(this, { root, notice, onBack });
    this.offline = false;
    // Tables redraw their rows (and buttons) while offline, and a request that ends re-enables its button:
    // either is disabled again as it happens.
    this.observer = new MutationObserver(() => { if (this.offline) this.disableAll(); });
  }

  /** `live`: the connection's state is "live" (a SNAPSHOT arrived); anything else is offline. */
  set(live) {
    const offline = !live;
    if (offline === this.offline) return;
    this.offline = offline;
    this.root.dataset.offline = String(offline);
    this.notice.hidden = !offline;
    if (offline) {
      this.disableAll();
      this.observer.observe(this.root, { childList: true, subtree: true, attributes: true, attributeFilter: ["disabled"] });
      return;
    }
    this.observer.disconnect();
    for (const button of this.root.querySelectorAll("[data-offline-disabled]")) {
      button.disabled = false;
      button.removeAttribute("data-offline-disabled");
      button.removeAttribute("aria-describedby");
    }
    this.onBack();
  }

  disableAll() {
    for (const button of this.root.querySelectorAll(ACTIONS)) {
      if (button.disabled) continue;  // disabled for its own reason (a PENDING order, a request on its way)
      button.disabled = true;
      button.dataset.offlineDisabled = "";
      button.setAttribute("aria-describedby", this.notice.id);
    }
  }
}
