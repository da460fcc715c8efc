// The compose page: show the panel of the chosen way in, read the mood as it is typed
// (debounced /api/mood/), fill the attribute fields from the reading unless the person
// changed them, and summarise an uploaded MIDI (/api/midi/inspect/). Without JavaScript
// the form still works: every panel is visible and the server checks everything.
(function () {
  "use strict";

  // gettext() and interpolate() come from Django's JavaScript catalog (/jsi18n/)
  var LABELS = { mode: gettext("Mode"), tempo_bpm: gettext("Tempo"), density_band: gettext("Density"),
                 register_band: gettext("Register"), style: gettext("Style") };
  // the names of styles and band values, as the server's catalogs say them
  var WORDS = {
    major: gettext("major"), minor: gettext("minor"), slow: gettext("slow"),
    moderate: gettext("moderate"), fast: gettext("fast"), sparse: gettext("sparse"),
    dense: gettext("dense"), low: gettext("low"), middle: gettext("middle"), high: gettext("high"),
    chorale: gettext("chorale"), renaissance: gettext("Renaissance"),
    german_folk: gettext("German folk"), chinese_folk: gettext("Chinese folk"), celtic: gettext("Celtic")
  };

  function word(v) {
    var w = WORDS[v] || String(v).replace(/_/g, " ");
    return w.charAt(0).toUpperCase() + w.slice(1);
  }

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
        var f = fields[k];
        // a value the person set by hand is what the music will use: the card shows it
        if (f && f.getAttribute("data-touched") && f.value) { v = f.value; }
        if (v === null || v === undefined || v === "") {
          if (k === "style") { chip(chips, LABELS[k], gettext("any")); }
          return;
        }
        chip(chips, LABELS[k], k === "tempo_bpm" ? v + " BPM" : word(v));
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
          problem.textContent = res.body.error || gettext("The mood could not be read.");
          problem.hidden = false;
        }
      }).catch(function () {
        if (ticket !== latest) { return; }
        problem.textContent = gettext("The mood reader could not be reached; you can still generate.");
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

    var maxBytes = parseInt(form.getAttribute("data-max-upload-bytes") || "0", 10);

    // a file the server would refuse is not kept in the form, so it is never uploaded
    function refuse(message) {
      problem.textContent = message;
      problem.hidden = false;
      input.value = "";
    }

    function inspect() {
      summary.hidden = true;
      problem.hidden = true;
      var file = input.files && input.files[0];
      if (!file) { return; }
      if (maxBytes && file.size > maxBytes) {
        refuse(interpolate(gettext("%(name)s is too big (%(size)s MB); the limit is %(limit)s MB."),
          { name: file.name, size: (file.size / 1e6).toFixed(1), limit: (maxBytes / 1e6).toFixed(1) }, true));
        return;
      }
      if (!url) { return; }
      var body = new FormData();
      body.append("midi", file);
      fetch(url, {
        method: "POST", body: body, credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken(form), "Accept": "application/json" }
      }).then(function (r) {
        return r.json().then(function (data) { return { ok: r.ok, data: data }; });
      }).then(function (res) {
        if (!res.ok) {
          refuse(res.data.error || gettext("This file could not be read."));
          return;
        }
        var d = res.data;
        summary.textContent = "";
        chip(summary, gettext("File"), file.name);
        if (d.bars != null) { chip(summary, gettext("Length"), interpolate(gettext("%(bars)s bars"), { bars: d.bars }, true)); }
        if (d.meter) { chip(summary, gettext("Meter"), d.meter); }
        if (d.key) { chip(summary, gettext("Key"), d.key); }
        if (d.tempo_bpm != null) { chip(summary, gettext("Tempo"), Math.round(d.tempo_bpm) + " BPM"); }
        if (d.notes != null) { chip(summary, gettext("Notes"), d.notes); }
        summary.hidden = false;
      }).catch(function () {
        problem.textContent = gettext("The file could not be checked now; it will be checked when you generate.");
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
    // example moods fill the box without leaving the page
    document.querySelectorAll("a[data-mood]").forEach(function (link) {
      link.addEventListener("click", function (e) {
        var box = form.querySelector("#id_mood");
        if (!box) { return; }
        e.preventDefault();
        box.value = link.getAttribute("data-mood");
        box.dispatchEvent(new Event("input"));
        box.focus();
      });
    });
    // one click, one job: a second click while the upload is on its way would queue twice
    form.addEventListener("submit", function (e) {
      // a transfer needs its target style: say so here, before the chosen file is sent
      // (a page sent back by the server cannot keep a chosen file)
      var way = form.querySelector("input[name=way]:checked");
      var target = form.querySelector("#id_to_style");
      if (way && way.value === "transfer" && target && !target.value) {
        e.preventDefault();
        var error = document.getElementById("to-style-problem");
        if (!error) {
          error = document.createElement("p");
          error.id = "to-style-problem";
          error.className = "errorlist";
          error.setAttribute("role", "alert");
          target.parentNode.appendChild(error);
        }
        error.textContent = gettext("Choose the style to move it into.");
        target.setAttribute("aria-invalid", "true");
        target.setAttribute("aria-describedby", "to-style-problem");
        target.focus();
        return;
      }
      var button = form.querySelector("button[type=submit]");
      if (button) {
        window.setTimeout(function () { button.disabled = true; button.textContent = gettext("Sending…"); }, 0);
      }
    });
    // coming back with the browser's Back button restores the page as it was left
    window.addEventListener("pageshow", function () {
      var button = form.querySelector("button[type=submit]");
      if (button && button.disabled) { button.disabled = false; button.textContent = gettext("Generate"); }
    });
  });
})();
