// Same-origin JSON calls authenticated by the session cookie; state changes carry the CSRF token.
// A 401 first renews the access token and sends the very same request once more (an order keeps its
// clientOrderId, so the retry cannot place it twice); a 401 that renewing cannot cure means the
// session is over: the page is told (it says so and keeps what was typed); it is never navigated
// away from, which would drop what the trader was doing.
import { renewSession } from "./session.js";

const csrf = document.querySelector('meta[name="csrf-token"]')?.content ?? "";
const unauthorizedListeners = new Set();

/** Call `listener` whenever a call is answered 401, before that call's ApiError is thrown. */
export function onUnauthorized(listener) {
  unauthorizedListeners.add(listener);
}

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.detail || `request failed (${status})`);
    this.status = status;
    this.field = body?.field ?? null;
    this.code = body?.code ?? null;
  }
}

export async function api(method, path, body, retried = false) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = csrf;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, { method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, { detail: "the server cannot be reached; check the connection and retry" });
  }
  if (response.status === 401) {
    if (!retried && await renewSession() === "renewed") return api(method, path, body, true);
    for (const listener of unauthorizedListeners) listener();
  }
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}
