// duralua UI: live refresh over server-sent events, and confirmation of actions.
// No framework; fragments come from the server already escaped, and nothing here turns
// event data into markup.
(function () {
  "use strict";

  function confirmForms() {
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (ev) {
        if (!window.confirm(form.getAttribute("data-confirm"))) { ev.preventDefault(); return; }
        var field = form.querySelector("input[name=confirmed]");
        if (field) { field.value = "1"; }
      });
    });
  }

  function live() {
    var kind = document.body.getAttribute("data-live");
    var target = document.querySelector("[data-refresh]");
    var badge = document.getElementById("live");
    if (!kind || !target) { return; }
    var runId = target.getAttribute("data-run-id") || "";
    var timer = null, busy = false, again = false;

    function refresh() {
      timer = null;
      if (busy) { again = true; return; }
      busy = true;
      var url = new URL(window.location.href);
      url.searchParams.set("fragment", "1");
      fetch(url.toString(), { headers: { "Accept": "text/html" }, cache: "no-store" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (html !== null) { target.innerHTML = html; document.body.setAttribute("data-refreshed", String(Date.now())); }
        })
        .catch(function () {})
        .then(function () { busy = false; if (again) { again = false; schedule(); } });
    }
    function schedule() { if (!timer) { timer = window.setTimeout(refresh, 250); } }

    // Processes come and go without lifecycle events: the services page re-reads them too.
    if (kind === "services") { window.setInterval(schedule, 3000); }
    if (!window.EventSource) { return; }
    var source = new EventSource("/events");
    source.addEventListener("hello", function () { badge.classList.remove("off"); badge.classList.add("on"); });
    source.onmessage = function (ev) {
      var data = {};
      try { data = JSON.parse(ev.data); } catch (e) { return; }
      if (kind === "run" && data.run_id && data.run_id !== runId && data.kind !== "changed") { return; }
      if (kind === "services" && String(data.kind || "").indexOf("service.") !== 0) { return; }
      schedule();
    };
    source.onerror = function () { badge.classList.remove("on"); badge.classList.add("off"); };
  }

  document.addEventListener("DOMContentLoaded", function () { confirmForms(); live(); });
})();
