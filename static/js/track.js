// The track page: engraved pages inlined (so notes can be highlighted), the layout that fits
// the screen (desktop or phone pages, chosen again on resize and rotation), the current note
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
      if (fig.querySelector("svg")) { return Promise.resolve(); }
      var url = fig.getAttribute("data-svg-url");
      var loading = document.createElement("p");
      loading.className = "score-loading";
      loading.textContent = interpolate(gettext("Loading page %(page)s…"), { page: fig.getAttribute("data-page") }, true);
      fig.insertBefore(loading, fig.firstChild);
      return fetch(url, { credentials: "same-origin" })
        .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.text(); })
        .then(function (text) {
          var svg = cleanSvg(text);
          loading.remove();
          if (svg && !fig.querySelector("svg")) {
            svg.setAttribute("role", "img");
            svg.setAttribute("aria-label", interpolate(gettext("Score, page %(page)s"), { page: fig.getAttribute("data-page") }, true));
            fig.insertBefore(svg, fig.firstChild);
          }
        })
        .catch(function () { loading.textContent = gettext("This page of the score could not be loaded."); });
    }));
  }

  // A score box narrower than this shows the phone layout (pages engraved 400 px wide),
  // a wider one the desktop layout (840 px): each is drawn at about its own size.
  var NARROW_PX = 600;

  // The engraved pages of the layout that fits the score box, re-chosen when the box
  // changes width (a window resized, a phone rotated). Only the shown layout's pages are in
  // the document: both layouts carry the same element ids, which the cursor looks up.
  function setupLayouts(box, figures, onChange) {
    var sets = {
      wide: figures.filter(function (f) { return f.getAttribute("data-layout") !== "narrow"; }),
      narrow: figures.filter(function (f) { return f.getAttribute("data-layout") === "narrow"; })
    };
    var state = { name: null, pages: [], loaded: Promise.resolve() };
    function wanted() {
      return sets.narrow.length && box.clientWidth < NARROW_PX ? "narrow" : "wide";
    }
    function choose() {
      var name = wanted();
      if (name === state.name) { return state.loaded; }
      state.pages.forEach(function (fig) {
        fig.hidden = true;
        fig.classList.remove("current");
        var svg = fig.querySelector("svg");
        if (svg) { svg.remove(); }
      });
      state.name = name;
      state.pages = sets[name];
      box.setAttribute("data-layout", name);
      state.loaded = loadPages(state.pages);
      onChange(state.pages);
      return state.loaded;
    }
    var timer = null;
    function later() {
      window.clearTimeout(timer);
      timer = window.setTimeout(choose, 150);
    }
    window.addEventListener("resize", later);
    window.addEventListener("orientationchange", later);
    return { choose: choose, pages: function () { return state.pages; } };
  }

  function setupPager() {
    var prev = document.getElementById("page-prev");
    var next = document.getElementById("page-next");
    var label = document.getElementById("page-label");
    var pages = [];
    var current = 0;
    function show(i, force) {
      if (i < 0 || i >= pages.length || (i === current && !pages[i].hidden && !force)) { return; }
      pages.forEach(function (p, j) {
        p.hidden = j !== i;
        p.classList.toggle("current", j === i);
      });
      current = i;
      label.textContent = interpolate(gettext("Page %(page)s of %(count)s"), { page: i + 1, count: pages.length }, true);
      prev.disabled = i === 0;
      next.disabled = i === pages.length - 1;
    }
    prev.addEventListener("click", function () { show(current - 1); });
    next.addEventListener("click", function () { show(current + 1); });
    return {
      show: show,
      current: function () { return current; },
      // a new set of pages (another layout): show the first, or the one given
      use: function (set, at) { pages = set; current = 0; show(Math.min(at || 0, set.length - 1), true); }
    };
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

  function outOfView(el) {
    var r = el.getBoundingClientRect();
    return r.bottom < 0 || r.top > (window.innerHeight || document.documentElement.clientHeight);
  }

  function setupFollow(audio, timemap, pager, layouts) {
    var sets = soundingSets(timemap);
    var lit = [];
    var shownIndex = -2;
    var follow = document.getElementById("follow");
    var frame = null;

    function pageOf(el) {
      var fig = el.closest(".score-page");
      return fig ? layouts.pages().indexOf(fig) : -1;
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
        // a phone page is taller than the screen: keep the playing system in sight
        if (outOfView(lit[0])) { lit[0].scrollIntoView({ block: "center" }); }
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
    // after a change of layout the lit notes are gone: light them again in the new pages
    return { refresh: function () { lit = []; shownIndex = -2; update(); } };
  }

  function setupCopy() {
    var button = document.getElementById("copy-share");
    if (!button) { return; }
    var input = document.getElementById(button.getAttribute("data-copy-target"));
    var status = document.getElementById("copy-status");
    button.addEventListener("click", function () {
      function done() { status.textContent = gettext("Link copied."); }
      function fallback() {
        input.focus();
        input.select();
        try { document.execCommand("copy"); done(); }
        catch (e) { status.textContent = gettext("Select the link and copy it."); }
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
    var box = document.getElementById("score");
    var figures = Array.prototype.slice.call(player.querySelectorAll(".score-page"));
    if (!box || !figures.length) { return; }
    var pager = setupPager();
    var follower = null;
    var layouts = setupLayouts(box, figures, function (pages) {
      pager.use(pages);
      if (follower) {
        layouts.choose().then(function () { follower.refresh(); });
      }
    });
    var loaded = layouts.choose();
    var audio = document.getElementById("track-audio");
    var timemapUrl = player.getAttribute("data-timemap-url");
    if (!audio || !timemapUrl) { return; }
    Promise.all([
      loaded,
      fetch(timemapUrl, { credentials: "same-origin" }).then(function (r) { return r.ok ? r.json() : []; })
    ]).then(function (results) {
      var timemap = (results[1] || []).filter(function (e) { return typeof e.tstamp === "number"; });
      if (timemap.length) {
        follower = setupFollow(audio, timemap, pager, layouts);
        player.setAttribute("data-follow-ready", "1");
      }
    }).catch(function () { /* the score and audio still work without following */ });
  });
})();
