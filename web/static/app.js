// sluice web UI: small enhancements on top of htmx. Every page works
// without this file; it adds the reader's time zone, auto-submitting
// pickers, confirmations, copy buttons and log following.
(function () {
  "use strict";
  var root = document.documentElement;
  root.classList.add("js");

  // Times are rendered by the server in the reader's zone, told by this
  // cookie.
  try {
    var tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (tz) {
      document.cookie = "sluice_tz=" + encodeURIComponent(tz) + "; path=/; max-age=31536000; samesite=lax";
    }
  } catch (e) { /* keep UTC */ }

  function closest(el, sel) { return el && el.closest ? el.closest(sel) : null; }

  // Pickers submit their form when changed.
  document.addEventListener("change", function (ev) {
    var el = ev.target;
    if (el && el.hasAttribute && el.hasAttribute("data-autosubmit") && el.form) {
      if (el.form.requestSubmit) { el.form.requestSubmit(); } else { el.form.submit(); }
    }
  });

  // Forms with data-confirm ask first. This runs before htmx's own submit
  // handler (capture phase on the document), so a "no" stops both.
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    var msg = form && form.getAttribute && form.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) {
      ev.preventDefault();
      ev.stopImmediatePropagation();
    }
  }, true);

  document.addEventListener("click", function (ev) {
    var t = ev.target;
    var dismiss = closest(t, ".dismiss");
    if (dismiss) {
      var n = closest(dismiss, ".notice");
      if (n) { n.remove(); }
      return;
    }
    var copy = closest(t, "[data-copy]");
    if (copy) {
      var input = document.querySelector(copy.getAttribute("data-copy"));
      if (!input) { return; }
      var done = function () { copy.textContent = "Copied"; setTimeout(function () { copy.textContent = "Copy"; }, 2000); };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(input.value).then(done, function () { input.select(); });
      } else {
        input.select();
        try { document.execCommand("copy"); done(); } catch (e) { /* selected for the user */ }
      }
    }
  });

  // Success notices fade after a while; errors stay until dismissed.
  function ageNotices() {
    document.querySelectorAll("#notice .notice.ok:not([data-aging])").forEach(function (n) {
      n.setAttribute("data-aging", "1");
      setTimeout(function () { n.classList.add("fade"); setTimeout(function () { n.remove(); }, 400); }, 8000);
    });
  }

  // Log following: stay at the bottom while the reader is there; leave
  // them be once they scroll up.
  function logBox() { return document.getElementById("log"); }
  function nearBottom(el) { return el.scrollHeight - el.scrollTop - el.clientHeight < 32; }
  function toBottom(el) { el.scrollTop = el.scrollHeight; }
  var saved = null;

  document.addEventListener("htmx:sseBeforeMessage", function (ev) {
    var box = logBox();
    if (box && box.contains(ev.target)) { box.setAttribute("data-stick", nearBottom(box) ? "1" : ""); }
  });
  document.addEventListener("htmx:sseMessage", function (ev) {
    var box = logBox();
    if (!box || !box.contains(ev.target)) { return; }
    var empty = box.querySelector(".log-empty");
    if (empty) { empty.remove(); }
    var count = document.getElementById("log-count");
    if (count) {
      var n = box.querySelectorAll(".ll").length;
      count.textContent = n + (n === 1 ? " line" : " lines");
    }
    if (box.getAttribute("data-stick") === "1") { toBottom(box); }
  });
  document.addEventListener("htmx:beforeSwap", function (ev) {
    var box = logBox();
    if (box && ev.detail.target && ev.detail.target.contains(box)) {
      saved = { bottom: nearBottom(box), top: box.scrollTop };
    }
  });
  document.addEventListener("htmx:afterSettle", function () {
    var box = logBox();
    if (box && saved) {
      if (saved.bottom) { toBottom(box); } else { box.scrollTop = saved.top; }
    }
    saved = null;
    ageNotices();
  });

  // Live updates: say so when the event stream is down.
  var downSince = 0;
  document.addEventListener("htmx:sseError", function () {
    if (!downSince) { downSince = Date.now(); }
    setTimeout(function () { if (downSince) { document.body.classList.add("offline"); } }, 3000);
  });
  document.addEventListener("htmx:sseOpen", function () {
    downSince = 0;
    document.body.classList.remove("offline");
  });

  document.addEventListener("DOMContentLoaded", function () {
    var box = logBox();
    if (box && box.hasAttribute("data-follow")) { toBottom(box); }
    ageNotices();
    var banner = document.createElement("div");
    banner.className = "offline-banner";
    banner.setAttribute("role", "status");
    banner.textContent = "Live updates are interrupted: reconnecting…";
    document.body.appendChild(banner);
  });
})();
