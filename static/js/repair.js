// Repair on the track page (templates/studio/_repair.html): choose bars by dragging over the
// piano roll or the score (on a touch screen: tap the first bar, then the last) or by typing
// them; the rewritten bars of a repaired track marked in both; a switch that plays the
// original and the new version from the same bar.
//
// Bars are 1-based. The piano roll's time axis is where the worker recorded it
// (data-roll-x0 / data-roll-x1: beat 0 and data-end-beat as fractions of the picture's
// width); score bars are the engraved measures in order. No inline script or style: sizes are
// set through the CSSOM, which the CSP allows.
(function () {
  "use strict";

  function number(el, name) {
    var v = parseFloat(el.getAttribute(name));
    return isFinite(v) ? v : null;
  }

  function range(text) {
    var m = /^(\d+)-(\d+)$/.exec(text || "");
    return m ? [parseInt(m[1], 10), parseInt(m[2], 10)] : null;
  }

  // The piano roll wrapped so bands can lie over it; null without a recorded layout.
  function setupRoll(tools) {
    var img = document.querySelector("img.pianoroll");
    var x0 = number(tools, "data-roll-x0"), x1 = number(tools, "data-roll-x1");
    var endBeat = number(tools, "data-end-beat"), barBeats = number(tools, "data-bar-beats");
    if (!img || x0 === null || x1 === null || !endBeat || !barBeats) { return null; }
    var wrap = document.createElement("div");
    wrap.className = "roll-wrap";
    wrap.id = "roll-wrap";
    img.parentNode.insertBefore(wrap, img);
    wrap.appendChild(img);
    function band(cls) {
      var b = document.createElement("div");
      b.className = "roll-band " + cls;
      b.hidden = true;
      wrap.appendChild(b);
      return b;
    }
    function fraction(beat) { return x0 + (x1 - x0) * Math.min(beat, endBeat) / endBeat; }
    return {
      wrap: wrap,
      band: band,
      show: function (el, sel) {
        if (!sel) { el.hidden = true; return; }
        var left = fraction((sel[0] - 1) * barBeats), right = fraction(sel[1] * barBeats);
        el.style.left = (100 * left) + "%";
        el.style.width = (100 * (right - left)) + "%";
        el.hidden = false;
      },
      barAt: function (clientX) {
        var r = img.getBoundingClientRect();
        var f = (clientX - r.left) / r.width;
        var beat = (f - x0) / (x1 - x0) * endBeat;
        return Math.floor(beat / barBeats) + 1;
      }
    };
  }

  function measures() {
    return Array.prototype.slice.call(document.querySelectorAll("#score .score-page svg g.measure"));
  }

  function markScore(cls, sel) {
    measures().forEach(function (m, i) {
      m.classList.toggle(cls, !!sel && i + 1 >= sel[0] && i + 1 <= sel[1]);
    });
  }

  function setupSelection(tools, roll, bars) {
    var form = document.getElementById("repair-form");
    if (!form) { return; }
    var start = document.getElementById("repair-start");
    var end = document.getElementById("repair-end");
    var label = document.getElementById("selection-label");
    var score = document.getElementById("score");
    var rollBand = roll ? roll.band("roll-selection") : null;
    var selection = null;
    var anchor = null;

    function clamp(b) { return Math.max(1, Math.min(bars, b)); }
    function show() {
      if (rollBand) { roll.show(rollBand, selection); }
      markScore("bar-selected", selection);
      label.textContent = !selection ? "" : selection[0] === selection[1]
        ? interpolate(gettext("Bar %(bar)s selected"), { bar: selection[0] }, true)
        : interpolate(gettext("Bars %(start)s\u2013%(end)s selected"),
          { start: selection[0], end: selection[1] }, true);
    }
    function select(a, b, fromFields) {
      a = clamp(a); b = clamp(b);
      selection = [Math.min(a, b), Math.max(a, b)];
      if (!fromFields) {
        start.value = selection[0];
        end.value = selection[1];
      }
      show();
    }
    function fromFields() {
      var a = parseInt(start.value, 10), b = parseInt(end.value || start.value, 10);
      if (isFinite(a) && isFinite(b) && a >= 1 && b >= 1) { select(a, b, true); }
      else { selection = null; show(); }
    }
    start.addEventListener("input", fromFields);
    end.addEventListener("input", fromFields);
    fromFields();

    // a press sets the first bar, a drag extends; a tap after a one-bar tap makes a range
    function gesture(el, barOf) {
      var dragging = false;
      el.addEventListener("pointerdown", function (e) {
        var bar = barOf(e);
        if (bar === null || e.button > 0) { return; }
        var single = selection && selection[0] === selection[1];
        if (e.pointerType === "touch" && single && anchor !== null && bar !== anchor) {
          select(anchor, bar);
          anchor = null;
          return;
        }
        anchor = bar;
        select(bar, bar);
        if (e.pointerType !== "touch") {
          dragging = true;
          if (el.setPointerCapture) { el.setPointerCapture(e.pointerId); }
          e.preventDefault();
        }
      });
      el.addEventListener("pointermove", function (e) {
        if (!dragging) { return; }
        var bar = barOf(e);
        if (bar !== null) { select(anchor, bar); }
      });
      function stop() { dragging = false; }
      el.addEventListener("pointerup", stop);
      el.addEventListener("pointercancel", stop);
    }
    if (roll) {
      gesture(roll.wrap, function (e) { return roll.barAt(e.clientX); });
    }
    if (score) {
      score.classList.add("selectable");
      gesture(score, function (e) {
        var hit = document.elementFromPoint(e.clientX, e.clientY);
        var m = hit && hit.closest ? hit.closest("g.measure") : null;
        var all = measures();
        if (!m) {  // paper between the lines or the staves: the bar whose box holds the point
          m = all.filter(function (each) {
            var r = each.getBoundingClientRect();
            return r.width > 0 && e.clientX >= r.left && e.clientX <= r.right &&
              e.clientY >= r.top && e.clientY <= r.bottom;
          })[0] || null;
        }
        var i = m ? all.indexOf(m) : -1;
        return i >= 0 ? i + 1 : null;
      });
      // the score's pages arrive later, and again after a change of layout
      new MutationObserver(function () { markScore("bar-selected", selection); })
        .observe(score, { childList: true, subtree: true });
    }
  }

  function setupRewritten(tools, roll) {
    var sel = range(tools.getAttribute("data-rewritten"));
    if (!sel) { return; }
    if (roll) { roll.show(roll.band("roll-rewritten"), sel); }
    var score = document.getElementById("score");
    markScore("bar-rewritten", sel);
    if (score) {
      new MutationObserver(function () { markScore("bar-rewritten", sel); })
        .observe(score, { childList: true, subtree: true });
    }
  }

  // Two recordings at the same tempo: bar N starts at (N - 1) * bar seconds in both.
  function setupCompare(tools) {
    var compare = document.getElementById("compare");
    var fresh = document.getElementById("track-audio");
    var original = document.getElementById("original-audio");
    var barSeconds = number(tools, "data-bar-seconds");
    if (!compare || !fresh || !original || !barSeconds) { return; }
    var status = document.getElementById("compare-status");
    var button = document.getElementById("play-from-bar");
    function chosen() {
      return document.getElementById("version-original").checked ? original : fresh;
    }
    function play(audio, seconds) {
      var other = audio === fresh ? original : fresh;
      other.pause();
      function go() {
        audio.currentTime = seconds;
        var bar = Math.floor(seconds / barSeconds + 1e-6) + 1;
        status.textContent = interpolate(audio === fresh
          ? gettext("New version from bar %(bar)s") : gettext("Original from bar %(bar)s"),
          { bar: bar }, true);
        compare.setAttribute("data-playing", audio === fresh ? "new" : "original");
        var p = audio.play();
        if (p && p.catch) { p.catch(function () { status.textContent += " " + gettext("(press play to hear it)"); }); }
      }
      if (audio.readyState >= 1) { go(); }
      else {
        audio.preload = "auto";
        audio.addEventListener("loadedmetadata", go, { once: true });
        audio.load();
      }
    }
    button.addEventListener("click", function () {
      play(chosen(), (parseInt(button.getAttribute("data-bar"), 10) - 1) * barSeconds);
    });
    compare.querySelectorAll("input[name=version]").forEach(function (radio) {
      radio.addEventListener("change", function () {
        var now = chosen();
        var was = now === fresh ? original : fresh;
        // switching while one plays: the other takes over from the start of the same bar
        if (!was.paused) {
          play(now, Math.floor(was.currentTime / barSeconds + 1e-6) * barSeconds);
        }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var tools = document.getElementById("repair-tools");
    if (!tools) { return; }
    var bars = parseInt(tools.getAttribute("data-bars"), 10) || 0;
    var roll = setupRoll(tools);
    setupRewritten(tools, roll);
    if (bars) { setupSelection(tools, roll, bars); }
    setupCompare(tools);
    tools.setAttribute("data-ready", "1");
  });
})();
