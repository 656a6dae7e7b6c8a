// Starts Swagger UI on /api/docs. It lives in its own file (no inline script) so that the
// page's Content-Security-Policy, script-src 'self', lets it run; the bundle and its CSS are
// vendored under /static/vendor/swagger-ui, so the page works offline and asks no other host.
"use strict";

(function startApiDocs() {
  const target = document.getElementById("swagger-ui");
  if (typeof window.SwaggerUIBundle !== "function") {
    target.textContent = "Swagger UI 未能加载；API 规范见 /api/openapi.json";
    return;
  }
  window.ui = window.SwaggerUIBundle({
    url: "/api/openapi.json",
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    presets: [window.SwaggerUIBundle.presets.apis],
    deepLinking: true,
    validatorUrl: null, // the default would send the spec to an online validator
    persistAuthorization: false,
    displayRequestDuration: true,
  });
})();
