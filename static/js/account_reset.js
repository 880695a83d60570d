// The account page's fresh start: the password again, then POST /api/account/reset. One request id per
// attempt, so a retry after a lost answer finds the reset it made instead of resetting twice.
import { api } from "./api.js";
import { plain } from "./num.js";

const form = document.getElementById("reset-form");
const password = document.getElementById("reset-password");
const error = document.getElementById("reset-error");
const ok = document.getElementById("reset-ok");
let requestId = null;

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.hidden = true;
  ok.hidden = true;
  password.removeAttribute("aria-invalid");
  if (!password.value) {
    error.textContent = "Enter your password to confirm the reset.";
    error.hidden = false;
    password.setAttribute("aria-invalid", "true");
    return;
  }
  requestId ??= `reset-${crypto.randomUUID().replaceAll("-", "").slice(0, 24)}`;
  const button = form.querySelector('button[type="submit"]');
  button.disabled = true;
  try {
    const { reset } = await api("POST", "/api/account/reset", { password: password.value, clientRequestId: requestId });
    requestId = null;
    password.value = "";
    ok.textContent = `Reset done: ${reset.canceledOrders} orders canceled, ${reset.closedPositions} CFD positions closed; `
      + `equity ${plain(reset.equityBefore)} → ${plain(reset.equityAfter)} USDT.`;
    ok.hidden = false;
  } catch (e) {
    if (e.status && e.status < 500) requestId = null;  // refused: nothing was reset, the next try is a new one
    error.textContent = e.message;
    error.hidden = false;
    if (e.field === "password") password.setAttribute("aria-invalid", "true");
  } finally {
    button.disabled = false;
  }
});
