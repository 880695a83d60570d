// The Account page's API keys: create (permissions as checkboxes; the secret is shown this once,
// with copy buttons and a warning), list and revoke. Everything is drawn with textContent; the
// secret lives only in this page's DOM until "I have saved the secret" removes it.
import { api } from "./api.js";

const section = document.getElementById("api-keys");
const form = document.getElementById("api-key-form");
const error = document.getElementById("api-key-error");
const created = document.getElementById("api-key-created");
const table = document.getElementById("api-keys-table");
const tbody = table.querySelector("tbody");
const empty = document.getElementById("api-keys-empty");
const copied = document.getElementById("api-key-copied");

function when(ms) {
  return ms == null ? "never" : new Date(ms).toLocaleString();
}

function cell(row, text) {
  const td = document.createElement("td");
  td.textContent = text;
  row.append(td);
  return td;
}

function draw(keys) {
  tbody.replaceChildren();
  for (const key of keys) {
    const row = document.createElement("tr");
    row.dataset.keyId = String(key.id);
    cell(row, key.label);
    cell(row, key.permissions.join(", "));
    const masked = cell(row, `••••${key.apiKeyLast4}`);
    masked.className = "masked-key";
    masked.setAttribute("aria-label", `API key ending in ${key.apiKeyLast4}`);
    cell(row, when(key.createdAt));
    cell(row, key.lastUsedAt == null ? "never" : `${when(key.lastUsedAt)} from ${key.lastUsedIp ?? "?"}`);
    const revoke = document.createElement("button");
    revoke.type = "button";
    revoke.className = "danger-outline";
    revoke.textContent = "Revoke";
    revoke.setAttribute("aria-label", `Revoke ${key.label}`);
    revoke.addEventListener("click", () => revokeKey(key));
    cell(row, "").append(revoke);
    tbody.append(row);
  }
  table.hidden = keys.length === 0;
  empty.hidden = keys.length !== 0;
}

function showError(message) {
  error.textContent = message;
  error.hidden = !message;
}

async function refresh() {
  try {
    draw((await api("GET", "/api/account/api-keys")).apiKeys);
  } catch (exc) {
    showError(exc.message);
  }
}

async function revokeKey(key) {
  if (!window.confirm(`Revoke "${key.label}"? Bots using it are refused at once.`)) return;
  try {
    await api("DELETE", `/api/account/api-keys/${key.id}`);
    showError("");
  } catch (exc) {
    showError(exc.message);
  }
  await refresh();
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = new FormData(form);
  const body = { label: String(data.get("label") ?? "").trim(), permissions: data.getAll("permissions") };
  const allow = String(data.get("ipAllowlist") ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  if (allow.length) body.ipAllowlist = allow;
  if (!body.label) return showError("Give the key a label, such as the bot's name.");
  if (!body.permissions.length) return showError("Choose at least one permission.");
  try {
    const key = await api("POST", "/api/account/api-keys", body);
    showError("");
    form.reset();
    document.getElementById("api-key-new-key").textContent = key.apiKey;
    document.getElementById("api-key-new-secret").textContent = key.secretKey;
    copied.textContent = "";
    created.hidden = false;
    await refresh();
  } catch (exc) {
    showError(exc.message);
  }
});

section.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  try {
    await navigator.clipboard.writeText(source.textContent);
    copied.textContent = "Copied to the clipboard.";
  } catch {
    // No clipboard access: select the text so that the user can copy it by hand.
    window.getSelection().selectAllChildren(source);
    copied.textContent = "Select and copy it by hand (the clipboard is not available here).";
  }
});

document.getElementById("api-key-done").addEventListener("click", () => {
  document.getElementById("api-key-new-key").textContent = "";
  document.getElementById("api-key-new-secret").textContent = "";
  created.hidden = true;
});

refresh();
