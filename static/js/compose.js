// The compose page: show the panel of the chosen way in, read the mood as it is typed
// (debounced /api/mood/), fill the attribute fields from the reading unless the person
// changed them, and summarise an uploaded MIDI (/api/midi/inspect/). Without JavaScript
// the form still works: every panel is visible and the server checks everything.
(function () {
  "use strict";

  var LABELS = { mode: "Mode", tempo_bpm: "Tempo", density_band: "Density",
                 register_band: "Register", style: "Style" };

  function csrfToken(form) {
    var input = form.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function chip(list, label, value) {
    var div = document.createElement("div");
    var dt = document.createElement("dt");
    var dd = document.createElement("dd");
    dt.textContent = label;
    dd.textContent = value;
    div.appendChild(dt);
    div.appendChild(dd);
    list.appendChild(div);
  }

  function styleName(s) {
    return s ? (s.charAt(0).toUpperCase() + s.slice(1)).replace(/_/g, " ") : "";
  }

  function setupWays(form) {
    var radios = form.querySelectorAll("input[name=way]");
    var panels = form.querySelectorAll("[data-ways]");
    function show() {
      var checked = form.querySelector("input[name=way]:checked");
      var way = checked ? checked.value : "compose";
      panels.forEach(function (panel) {
        panel.hidden = panel.getAttribute("data-ways").split(" ").indexOf(way) < 0;
      });
    }
    radios.forEach(function (r) { r.addEventListener("change", show); });
    show();
  }

  function setupMood(form) {
    var url = form.getAttribute("data-mood-url");
    var box = form.querySelector("#id_mood");
    var reading = document.getElementById("mood-reading");
    var explanation = document.getElementById("mood-explanation");
    var chips = document.getElementById("mood-chips");
    var problem = document.getElementById("mood-problem");
    if (!url || !box) { return; }
    var fields = {
      mode: form.querySelector("#id_mode"),
      tempo_bpm: form.querySelector("#id_tempo_bpm"),
      density_band: form.querySelector("#id_density_band"),
      register_band: form.querySelector("#id_register_band"),
      style: form.querySelector("#id_style")
    };
    // a field the person changed is theirs: the mood reading never overwrites it
    Object.keys(fields).forEach(function (k) {
      var f = fields[k];
      if (!f) { return; }
      if (f.value) { f.setAttribute("data-touched", "1"); }
      f.addEventListener("change", function () { f.setAttribute("data-touched", "1"); });
      f.addEventListener("input", function () { f.setAttribute("data-touched", "1"); });
    });
    var timer = null;
    var latest = 0;

    function apply(data) {
      var attrs = data.attributes || {};
      var values = {
        mode: attrs.mode, tempo_bpm: attrs.tempo_bpm != null ? Math.round(attrs.tempo_bpm) : null,
        density_band: attrs.density_band, register_band: attrs.register_band,
        style: data.style_hint || ""
      };
      explanation.textContent = data.explanation || "";
      chips.textContent = "";
      Object.keys(LABELS).forEach(function (k) {
        var v = values[k];
        if (v === null || v === undefined || v === "") {
          if (k === "style") { chip(chips, LABELS[k], "any"); }
          return;
        }
        chip(chips, LABELS[k], k === "tempo_bpm" ? v + " BPM" : (k === "style" ? styleName(v) : v));
        var f = fields[k];
        if (f && !f.getAttribute("data-touched")) { f.value = String(v); }
      });
      reading.hidden = false;
      problem.hidden = true;
    }

    function read() {
      var text = box.value.trim();
      if (!text) { reading.hidden = true; problem.hidden = true; return; }
      var ticket = ++latest;
      fetch(url + "?text=" + encodeURIComponent(text), {
        credentials: "same-origin", headers: { "Accept": "application/json" }
      }).then(function (r) {
        return r.json().then(function (body) { return { ok: r.ok, body: body }; });
      }).then(function (res) {
        if (ticket !== latest) { return; }  // an older answer arriving late
        if (res.ok) { apply(res.body); }
        else {
          problem.textContent = res.body.error || "The mood could not be read.";
          problem.hidden = false;
        }
      }).catch(function () {
        if (ticket !== latest) { return; }
        problem.textContent = "The mood reader could not be reached; you can still generate.";
        problem.hidden = false;
      });
    }

    box.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(read, 350);
    });
    if (box.value.trim()) { read(); }
  }

  function setupMidi(form) {
    var url = form.getAttribute("data-inspect-url");
    var input = form.querySelector("#id_midi");
    var zone = document.getElementById("dropzone");
    var summary = document.getElementById("midi-summary");
    var problem = document.getElementById("midi-problem");
    if (!input || !zone) { return; }

    function inspect() {
      summary.hidden = true;
      problem.hidden = true;
      var file = input.files && input.files[0];
      if (!file || !url) { return; }
      var body = new FormData();
      body.append("midi", file);
      fetch(url, {
        method: "POST", body: body, credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken(form), "Accept": "application/json" }
      }).then(function (r) {
        return r.json().then(function (data) { return { ok: r.ok, data: data }; });
      }).then(function (res) {
        if (!res.ok) {
          problem.textContent = res.data.error || "This file could not be read.";
          problem.hidden = false;
          return;
        }
        var d = res.data;
        summary.textContent = "";
        chip(summary, "File", file.name);
        if (d.bars != null) { chip(summary, "Length", d.bars + " bars"); }
        if (d.meter) { chip(summary, "Meter", d.meter); }
        if (d.key) { chip(summary, "Key", d.key); }
        if (d.tempo_bpm != null) { chip(summary, "Tempo", Math.round(d.tempo_bpm) + " BPM"); }
        if (d.notes != null) { chip(summary, "Notes", d.notes); }
        summary.hidden = false;
      }).catch(function () {
        problem.textContent = "The file could not be checked now; it will be checked when you generate.";
        problem.hidden = false;
      });
    }

    input.addEventListener("change", inspect);
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (e) { e.preventDefault(); zone.classList.add("dragging"); });
    });
    ["dragleave", "drop"].forEach(function (name) {
      zone.addEventListener(name, function () { zone.classList.remove("dragging"); });
    });
    zone.addEventListener("drop", function (e) {
      e.preventDefault();
      if (e.dataTransfer && e.dataTransfer.files && e.dataTransfer.files.length) {
        input.files = e.dataTransfer.files;
        inspect();
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("compose-form");
    if (!form) { return; }
    setupWays(form);
    setupMood(form);
    setupMidi(form);
    // one click, one job: a second click while the upload is on its way would queue twice
    form.addEventListener("submit", function () {
      var button = form.querySelector("button[type=submit]");
      if (button) {
        window.setTimeout(function () { button.disabled = true; button.textContent = "Sending…"; }, 0);
      }
    });
    // coming back with the browser's Back button restores the page as it was left
    window.addEventListener("pageshow", function () {
      var button = form.querySelector("button[type=submit]");
      if (button && button.disabled) { button.disabled = false; button.textContent = "Generate"; }
    });
  });
})();
