// Boots Swagger UI on /docs against this server's /openapi.json (a file, since the CSP forbids inline script).
"use strict";
(function boot() {
  const root = document.getElementById("docs");
  window.SwaggerUIBundle({
    url: root.dataset.spec,
    domNode: root,
    deepLinking: false, // its anchors sit inside each operation's button (nested controls, tiny targets: axe)
    tryItOutEnabled: false,
    validatorUrl: null, // never ask an outside validator: the page works offline
  });
})();
