// What the trader typed when the session ended, kept in sessionStorage (this tab only, gone with
// it) and given back once, when the same market's terminal loads again after signing in.

const key = (symbol) => `troupe-draft:${symbol}`;

export function saveDraft(symbol, draft) {
  try {
    sessionStorage.setItem(key(symbol), JSON.stringify(draft));
  } catch { /* storage disabled or full: the form itself still holds the values */ }
}

/** The draft kept for `symbol`, removed as it is read; null if there is none (or it is unreadable). */
export function takeDraft(symbol) {
  try {
    const raw = sessionStorage.getItem(key(symbol));
    sessionStorage.removeItem(key(symbol));
    const draft = raw ? JSON.parse(raw) : null;
    return draft !== null && typeof draft === "object" ? draft : null;
  } catch {
    return null;
  }
}
