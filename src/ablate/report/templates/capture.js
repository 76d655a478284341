// Runs before the Vega bundle so nothing that goes wrong while loading or drawing is lost.
(function () {
  function put(id, text) {
    var el = document.getElementById(id);
    if (!el) { (window.__pending = window.__pending || []).push([id, text]); return; }
    el.hidden = false; el.textContent += text + "\n";
  }
  window.__reportError = function (text) { put("report-errors", text); };
  window.addEventListener("error", function (e) { put("report-errors", "error: " + e.message); });
  window.addEventListener("unhandledrejection", function (e) {
    put("report-errors", "unhandled rejection: " + e.reason); });
  var error = console.error, warn = console.warn;
  console.error = function () {
    put("report-errors", "console.error: " + Array.prototype.join.call(arguments, " "));
    error.apply(console, arguments); };
  console.warn = function () {
    put("report-warnings", "console.warn: " + Array.prototype.join.call(arguments, " "));
    warn.apply(console, arguments); };
  document.addEventListener("DOMContentLoaded", function () {
    (window.__pending || []).forEach(function (p) { put(p[0], p[1]); }); });
})();
