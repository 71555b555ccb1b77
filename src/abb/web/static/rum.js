// Real-user page load time (docs/observability.md); the page works the same without it.
// A file, not an inline script: the Content-Security-Policy allows scripts from this site only.
addEventListener("load", function () {
  setTimeout(function () {
    var nav = performance.getEntriesByType ? performance.getEntriesByType("navigation")[0] : null;
    if (!nav || !navigator.sendBeacon || nav.loadEventEnd <= 0) return;
    var body = JSON.stringify({page: document.body.dataset.page, load_ms: nav.loadEventEnd - nav.startTime});
    navigator.sendBeacon("/api/v1/rum", new Blob([body], {type: "application/json"}));
  }, 0);
});
