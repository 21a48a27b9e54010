// Live status of an analysis: poll its state while it runs, show the log as it grows, and put the
// finished page in place without a reload. Everything from the server goes in as text.
(function () {
  "use strict";
  var POLL_MS = 1000;

  function section() { return document.getElementById("analysis"); }

  function showState(answer) {
    var state = document.getElementById("state");
    if (state) {
      state.textContent = answer.state_text;
      state.className = "state state-" + answer.state;
    }
    var log = document.getElementById("log");
    if (log && answer.log) {
      var atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
      log.textContent = answer.log;
      if (atEnd) { log.scrollTop = log.scrollHeight; }
    }
  }

  function swapInFinished() {
    return fetch(window.location.href, { headers: { Accept: "text/html" }, credentials: "same-origin" })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("analysis");
        var current = section();
        if (fresh && current) {
          current.replaceWith(document.importNode(fresh, true));
          if (window.thamosDrawGraph) { window.thamosDrawGraph(section()); }
        }
      });
  }

  function poll(url) {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (answer) {
        showState(answer);
        if (answer.finished) { return swapInFinished(); }
        window.setTimeout(function () { poll(url); }, POLL_MS);
      })
      .catch(function () { window.setTimeout(function () { poll(url); }, POLL_MS * 3); });
  }

  function start() {
    var root = section();
    if (!root) { return; }
    if (root.dataset.finished === "yes") {
      if (window.thamosDrawGraph) { window.thamosDrawGraph(root); }
      return;
    }
    poll(root.dataset.stateUrl);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
