// Tabs, resizable panels, toasts, the help overlay and hotkeys.

export function setupTabs(tablist) {
  const tabs = [...tablist.querySelectorAll('[role="tab"]')];
  const select = (tab) => {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute("aria-selected", String(on));
      t.tabIndex = on ? 0 : -1;
      document.getElementById(t.getAttribute("aria-controls")).hidden = !on;
    }
  };
  tablist.addEventListener("click", (event) => {
    const tab = event.target.closest('[role="tab"]');
    if (tab) select(tab);
  });
  tablist.addEventListener("keydown", (event) => {
    const i = tabs.indexOf(document.activeElement);
    if (i < 0 || (event.key !== "ArrowRight" && event.key !== "ArrowLeft")) return;
    const next = tabs[(i + (event.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length];
    select(next);
    next.focus();
  });
}

/** Drag (or arrow keys on) a separator to resize; sizes are kept across visits. */
export function setupSplitters(container) {
  for (const splitter of container.querySelectorAll(".splitter")) {
    const name = splitter.dataset.var;
    const min = Number(splitter.dataset.min);
    const max = Number(splitter.dataset.max);
    const vertical = splitter.getAttribute("aria-orientation") === "vertical";
    const key = `troupe-size${name}`;
    const apply = (px) => {
      const size = Math.max(min, Math.min(max, Math.round(px)));
      container.style.setProperty(name, `${size}px`);
      splitter.setAttribute("aria-valuenow", String(size));
      return size;
    };
    splitter.setAttribute("aria-valuemin", String(min));
    splitter.setAttribute("aria-valuemax", String(max));
    const current = () => {
      const target = splitter.nextElementSibling;
      return vertical ? target.getBoundingClientRect().width : target.getBoundingClientRect().height;
    };
    const saved = Number(localStorage.getItem(key));
    if (saved) apply(saved);
    else splitter.setAttribute("aria-valuenow", String(Math.round(current())));  // a separator's required value
    splitter.addEventListener("pointerdown", (down) => {
      down.preventDefault();
      splitter.setPointerCapture(down.pointerId);
      const start = current();
      const origin = vertical ? down.clientX : down.clientY;
      const move = (event) => apply(start - ((vertical ? event.clientX : event.clientY) - origin));
      const up = () => {
        splitter.removeEventListener("pointermove", move);
        localStorage.setItem(key, String(Math.round(current())));
        window.dispatchEvent(new Event("resize"));
      };
      splitter.addEventListener("pointermove", move);
      splitter.addEventListener("pointerup", up, { once: true });
    });
    splitter.addEventListener("keydown", (event) => {
      const grow = vertical ? { ArrowLeft: 16, ArrowRight: -16 } : { ArrowUp: 16, ArrowDown: -16 };
      if (!(event.key in grow)) return;
      event.preventDefault();
      localStorage.setItem(key, String(apply(current() + grow[event.key])));
    });
  }
}

export function toaster(container) {
  return (kind, text) => {
    const toast = document.createElement("div");
    toast.className = `toast ${kind}`;
    toast.textContent = text;
    container.append(toast);
    setTimeout(() => toast.remove(), 6000);
  };
}

export function typing(target) {
  return target instanceof Element
    && target.matches('input:not([type="radio"]):not([type="checkbox"]), select, textarea, [contenteditable]');
}

/** B buy, S sell, M market, L limit, ? help, Esc leaves the field; never while typing in a field. */
export function setupHotkeys({ form, help }) {
  document.getElementById("help-button").addEventListener("click", () => help.showModal());
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
    if (event.key === "Escape") {
      if (help.open) return;  // the dialog closes itself
      if (document.activeElement instanceof HTMLElement) document.activeElement.blur();
      form.clearError();
      return;
    }
    if (typing(event.target) || help.open) return;
    const action = {
      b: () => form.setSide("BUY"),
      s: () => form.setSide("SELL"),
      m: () => form.setType("MARKET"),
      l: () => form.setType("LIMIT"),
      "?": () => help.showModal(),
    }[event.key.toLowerCase()];
    if (action) {
      event.preventDefault();
      action();
    }
  });
}
