// The light/dark toggle; the choice is kept in localStorage across visits.
const KEY = "troupe-theme";
const button = document.getElementById("theme-toggle");

export function currentTheme() {
  return document.documentElement.dataset.theme === "light" ? "light" : "dark";
}

function label() {
  const next = currentTheme() === "dark" ? "light" : "dark";
  button.setAttribute("aria-label", `Switch to ${next} theme`);
  button.textContent = next === "light" ? "☼" : "☾";
}

export function setTheme(theme) {
  document.documentElement.dataset.theme = theme;
  try { localStorage.setItem(KEY, theme); } catch { /* storage disabled: the choice lasts this page */ }
  label();
  document.dispatchEvent(new CustomEvent("themechange", { detail: theme }));
}

if (button) {
  label();
  button.addEventListener("click", () => setTheme(currentTheme() === "dark" ? "light" : "dark"));
}
