// Boots Swagger UI on /docs against this server's /openapi.json (a file, since the CSP forbids inline script).
"use strict";
(function boot() {
  const root = document.getElementById("docs");
  window.SwaggerUIBundle({
    url: root.dataset.spec,
    domNode: root,
    deepLinking: true,
    tryItOutEnabled: false,
    validatorUrl: null, // never ask an outside validator: the page works offline
  });
})();
