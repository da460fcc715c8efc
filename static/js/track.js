// The track page: engraved pages inlined (so notes can be highlighted), the current note
// highlighted and the page turned as the audio plays (verovio's timemap), page buttons, and
// the share link's copy button.
//
// The SVG files come from our own renderer, but they are still cleaned before they enter
// the page: <style> elements (the CSP allows no inline styles; pages.css carries their
// rules), scripts, foreignObject and event-handler attributes are removed.
(function () {
  "use strict";

  function cleanSvg(text) {
    // <style> blocks go before parsing: a DOMParser document inherits the page's CSP, and
    // Chromium reports (and blocks) their inline styles even in that inert document
    text = text.replace(/<style\b[\s\S]*?<\/style>/gi, "");
    var doc = new DOMParser().parseFromString(text, "image/svg+xml");
    var root = doc.documentElement;
    if (!root || root.nodeName.toLowerCase() !== "svg") { return null; }
    root.querySelectorAll("style, script, foreignObject").forEach(function (n) { n.remove(); });
    root.querySelectorAll("*").forEach(function (el) {
      Array.prototype.slice.call(el.attributes).forEach(function (a) {
        var name = a.name.toLowerCase();
        if (name.indexOf("on") === 0 || name === "style" ||
            (/href$/.test(name) && /^\s*javascript:/i.test(a.value))) {
          el.removeAttribute(a.name);
        }
      });
    });
    root.removeAttribute("style");
    return document.importNode(root, true);
  }

  function loadPages(pages) {
    return Promise.all(pages.map(function (fig) {
      var url = fig.getAttribute("data-svg-url");
      var loading = document.createElement("p");
      loading.className = "score-loading";
      loading.textContent = "Loading page " + fig.getAttribute("data-page") + "…";
      fig.insertBefore(loading, fig.firstChild);
      return fetch(url, { credentials: "same-origin" })
        .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.text(); })
        .then(function (text) {
          var svg = cleanSvg(text);
          loading.remove();
          if (svg) {
            svg.setAttribute("role", "img");
            svg.setAttribute("aria-label", "Score, page " + fig.getAttribute("data-page"));
            fig.insertBefore(svg, fig.firstChild);
          }
        })
        .catch(function () { loading.textContent = "This page of the score could not be loaded."; });
    }));
  }

  function setupPager(pages, onTurn) {
    var prev = document.getElementById("page-prev");
    var next = document.getElementById("page-next");
    var label = document.getElementById("page-label");
    var current = 0;
    function show(i) {
      if (i < 0 || i >= pages.length || i === current && !pages[i].hidden) { return; }
      pages.forEach(function (p, j) {
        p.hidden = j !== i;
        p.classList.toggle("current", j === i);
      });
      current = i;
      label.textContent = "Page " + (i + 1) + " of " + pages.length;
      prev.disabled = i === 0;
      next.disabled = i === pages.length - 1;
      if (onTurn) { onTurn(i); }
    }
    prev.addEventListener("click", function () { show(current - 1); });
    next.addEventListener("click", function () { show(current + 1); });
    return { show: show, current: function () { return current; } };
  }

  // The ids sounding after each timemap entry, so any time can be shown without replaying.
  function soundingSets(timemap) {
    var sets = [];
    var sounding = {};
    timemap.forEach(function (entry) {
      (entry.off || []).forEach(function (id) { delete sounding[id]; });
      (entry.on || []).forEach(function (id) { sounding[id] = true; });
      sets.push(Object.keys(sounding));
    });
    return sets;
  }

  function indexAt(timemap, ms) {
    var lo = 0, hi = timemap.length - 1, found = -1;
    while (lo <= hi) {
      var mid = (lo + hi) >> 1;
      if (timemap[mid].tstamp <= ms) { found = mid; lo = mid + 1; } else { hi = mid - 1; }
    }
    return found;
  }

  function setupFollow(audio, timemap, pager, pages) {
    var sets = soundingSets(timemap);
    var lit = [];
    var shownIndex = -2;
    var follow = document.getElementById("follow");
    var frame = null;

    function pageOf(el) {
      var fig = el.closest(".score-page");
      return fig ? pages.indexOf(fig) : -1;
    }

    function update() {
      var i = indexAt(timemap, audio.currentTime * 1000);
      if (i === shownIndex) { return; }
      shownIndex = i;
      lit.forEach(function (el) { el.classList.remove("playing"); });
      lit = [];
      var ids = i >= 0 ? sets[i] : [];
      ids.forEach(function (id) {
        var el = document.getElementById(id);
        if (el) { el.classList.add("playing"); lit.push(el); }
      });
      if (lit.length && (!follow || follow.checked)) {
        var p = pageOf(lit[0]);
        if (p >= 0 && p !== pager.current()) { pager.show(p); }
      }
    }

    function tick() {
      update();
      frame = audio.paused ? null : window.requestAnimationFrame(tick);
    }
    audio.addEventListener("play", function () { if (!frame) { frame = window.requestAnimationFrame(tick); } });
    audio.addEventListener("seeked", update);
    audio.addEventListener("timeupdate", update);
    audio.addEventListener("ended", function () {
      lit.forEach(function (el) { el.classList.remove("playing"); });
      lit = [];
      shownIndex = -2;
    });
  }

  function setupCopy() {
    var button = document.getElementById("copy-share");
    if (!button) { return; }
    var input = document.getElementById(button.getAttribute("data-copy-target"));
    var status = document.getElementById("copy-status");
    button.addEventListener("click", function () {
      function done() { status.textContent = "Link copied."; }
      function fallback() {
        input.focus();
        input.select();
        try { document.execCommand("copy"); done(); }
        catch (e) { status.textContent = "Select the link and copy it."; }
      }
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(input.value).then(done, fallback);
      } else {
        fallback();
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupCopy();
    var player = document.getElementById("player");
    if (!player) { return; }
    var pages = Array.prototype.slice.call(player.querySelectorAll(".score-page"));
    if (!pages.length) { return; }
    var pager = setupPager(pages, null);
    var audio = document.getElementById("track-audio");
    var timemapUrl = player.getAttribute("data-timemap-url");
    var loaded = loadPages(pages);
    if (!audio || !timemapUrl) { return; }
    Promise.all([
      loaded,
      fetch(timemapUrl, { credentials: "same-origin" }).then(function (r) { return r.ok ? r.json() : []; })
    ]).then(function (results) {
      var timemap = (results[1] || []).filter(function (e) { return typeof e.tstamp === "number"; });
      if (timemap.length) {
        setupFollow(audio, timemap, pager, pages);
        player.setAttribute("data-follow-ready", "1");
      }
    }).catch(function () { /* the score and audio still work without following */ });
  });
})();
