// The progress page: follow a job over its websocket, falling back to polling the JSON API
// when the socket cannot open or drops; go to the track (or the variants) when it is done.
(function () {
  "use strict";

  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("job");
    if (!box) { return; }
    var status = box.getAttribute("data-status");
    if (status === "done" || status === "failed" || status === "cancelled") { return; }
    var bar = document.getElementById("job-progress");
    var stage = document.getElementById("job-stage");
    var percent = document.getElementById("job-percent");
    var connection = document.getElementById("job-connection");
    var pollUrl = box.getAttribute("data-poll-url");
    var finished = false;
    var polling = null;
    var socket = null;

    function capital(s) { return s ? s.charAt(0).toUpperCase() + s.slice(1) : s; }

    // the worker's stage names (generation.pipeline, generation.services), translated here
    var STAGES = {
      "waiting for a worker": gettext("waiting for a worker"),
      "waiting for a worker (retrying)": gettext("waiting for a worker (retrying)"),
      "starting": gettext("starting"), "reading the input": gettext("reading the input"),
      "reading the mood": gettext("reading the mood"), "composing": gettext("composing"),
      "transferring the style": gettext("transferring the style"), "saving": gettext("saving"),
      "done": gettext("done"), "failed": gettext("failed"), "cancelled": gettext("cancelled")
    };

    function stageText(s) {
      var m = /^writing the score and audio \((\d+) of (\d+)\)$/.exec(s);
      if (m) {
        return interpolate(gettext("writing the score and audio (%(i)s of %(n)s)"), { i: m[1], n: m[2] }, true);
      }
      return STAGES[s] || s;
    }

    function show(state) {
      if (finished) { return; }
      if (typeof state.progress === "number") {
        bar.value = state.progress;
        bar.textContent = state.progress + "%";
        percent.textContent = state.progress;
      }
      if (state.stage) { stage.textContent = capital(stageText(state.stage)); }
      if (state.status === "done") {
        finished = true;
        stop();
        var tracks = state.tracks || [];
        if (tracks.length === 1) {
          window.location.assign(box.getAttribute("data-track-url").replace("/0/", "/" + tracks[0] + "/"));
        } else {
          window.location.assign(box.getAttribute("data-job-url") + "?stay=1");
        }
      } else if (state.status === "failed" || state.status === "cancelled") {
        finished = true;
        stop();
        box.querySelector(".job-active").hidden = true;
        if (state.status === "failed") {
          document.getElementById("job-error").textContent = state.error || gettext("Something went wrong.");
          box.querySelector(".job-failed").hidden = false;
        } else {
          box.querySelector(".job-cancelled").hidden = false;
        }
      }
    }

    function stop() {
      if (polling) { clearInterval(polling); polling = null; }
      if (socket) { try { socket.close(); } catch (e) { /* already closed */ } socket = null; }
    }

    function poll() {
      if (!pollUrl || finished) { return; }
      fetch(pollUrl, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (state) { if (state) { show(state); } })
        .catch(function () { /* try again at the next tick */ });
    }

    function startPolling() {
      if (polling || finished) { return; }
      connection.textContent = gettext("Checking for updates every two seconds.");
      poll();
      polling = setInterval(poll, 2000);
    }

    function connect() {
      if (!("WebSocket" in window)) { startPolling(); return; }
      var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
      try {
        socket = new WebSocket(scheme + window.location.host + box.getAttribute("data-ws-path"));
      } catch (e) {
        startPolling();
        return;
      }
      var opened = false;
      // a proxy that swallows the upgrade leaves the socket hanging: poll after a while
      var fallback = setTimeout(function () { if (!opened) { startPolling(); } }, 4000);
      socket.addEventListener("open", function () {
        opened = true;
        clearTimeout(fallback);
        connection.textContent = "";
      });
      socket.addEventListener("message", function (e) {
        try { show(JSON.parse(e.data)); } catch (err) { /* not ours */ }
      });
      socket.addEventListener("close", function () {
        clearTimeout(fallback);
        if (!finished) { startPolling(); }
      });
    }

    connect();
  });
})();
