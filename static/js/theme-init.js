// Runs before the stylesheet paints, so a page never flashes the wrong theme. (A file, not an
// inline script: the Content-Security-Policy allows scripts from this origin only.)
(function () {
  var saved = null;
  try { saved = localStorage.getItem("troupe-theme"); } catch (e) { /* storage disabled */ }
  var light = window.matchMedia && window.matchMedia("(prefers-color-scheme: light)").matches;
  document.documentElement.dataset.theme = saved === "light" || saved === "dark" ? saved : (light ? "light" : "dark");
})();
