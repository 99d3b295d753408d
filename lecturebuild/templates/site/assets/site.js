// lecturebuild course site: the light/dark toggle and search. No network: the index is a script
// (search-index.js) loaded beside this one, so search also works on pages opened from disk.
(function () {
  "use strict";

  var root = document.documentElement;
  var toggle = document.getElementById("theme-toggle");
  if (toggle) {
    toggle.addEventListener("click", function () {
      var dark = root.dataset.theme ? root.dataset.theme === "dark"
        : window.matchMedia("(prefers-color-scheme: dark)").matches;
      root.dataset.theme = dark ? "light" : "dark";
      try { localStorage.setItem("lecturebuild-theme", root.dataset.theme); } catch (e) { /* private mode */ }
    });
  }

  // Under `lecturebuild serve` the page reloads itself after each rebuild; elsewhere the first
  // request finds no counter and polling stops.
  if (/^(localhost|127\.0\.0\.1|\[::1\])$/.test(location.hostname) && window.fetch) {
    var seen = null;
    var poll = function () {
      fetch("__lecturebuild__/build", { cache: "no-store" }).then(function (response) {
        if (!response.ok) throw new Error("no preview server");
        return response.json();
      }).then(function (state) {
        if (seen !== null && state.build !== seen) location.reload();
        seen = state.build;
        setTimeout(poll, 1000);
      }).catch(function () { /* not the preview server */ });
    };
    poll();
  }

  var input = document.getElementById("search");
  var list = document.getElementById("search-results");
  var entries = window.LECTUREBUILD_SEARCH || [];
  if (!input || !list) return;

  function words(text) {
    return text.toLowerCase().split(/[^\p{L}\p{N}_.]+/u).filter(function (w) { return w.length > 0; });
  }

  // Every query word must occur in the section; titles count most, then prose, then code.
  function search(query) {
    var terms = words(query);
    if (!terms.length) return [];
    var hits = [];
    entries.forEach(function (entry) {
      var title = entry.title.toLowerCase(), text = entry.text.toLowerCase(), code = entry.code.toLowerCase();
      var score = 0;
      for (var i = 0; i < terms.length; i++) {
        var t = terms[i];
        var s = (title.indexOf(t) >= 0 ? 10 : 0) + (text.indexOf(t) >= 0 ? 3 : 0) + (code.indexOf(t) >= 0 ? 1 : 0);
        if (!s) return;
        score += s;
      }
      hits.push({ entry: entry, score: score });
    });
    hits.sort(function (a, b) { return b.score - a.score; });
    return hits.slice(0, 12).map(function (h) { return h.entry; });
  }

  // A few words around the first match, with every query word marked; built as DOM nodes, never as HTML.
  function excerpt(entry, terms) {
    var source = entry.text || entry.code;
    var lower = source.toLowerCase();
    var at = -1;
    terms.forEach(function (t) { var i = lower.indexOf(t); if (i >= 0 && (at < 0 || i < at)) at = i; });
    var start = Math.max(0, at - 60);
    var piece = (start > 0 ? "…" : "") + source.slice(start, start + 180) + (start + 180 < source.length ? "…" : "");
    var span = document.createElement("span");
    span.className = "hit-text";
    var pattern = new RegExp("(" + terms.map(function (t) { return t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"); }).join("|") + ")", "gi");
    piece.split(pattern).forEach(function (part, i) {
      if (i % 2) { var m = document.createElement("mark"); m.textContent = part; span.appendChild(m); }
      else span.appendChild(document.createTextNode(part));
    });
    return span;
  }

  function show() {
    var query = input.value.trim();
    list.textContent = "";
    if (!query) { list.hidden = true; return; }
    var terms = words(query);
    var hits = search(query);
    if (!hits.length) {
      var none = document.createElement("li");
      none.className = "meta";
      none.textContent = "Nothing found for “" + query + "”";
      list.appendChild(none);
    }
    hits.forEach(function (entry) {
      var li = document.createElement("li"), a = document.createElement("a");
      a.href = entry.href;
      var title = document.createElement("span");
      title.className = "hit-title";
      title.textContent = entry.title;
      var where = document.createElement("span");
      where.className = "meta";
      where.textContent = entry.title === entry.lecture ? "  lecture" : "  " + entry.lecture;
      a.appendChild(title); a.appendChild(where); a.appendChild(excerpt(entry, terms));
      li.appendChild(a); list.appendChild(li);
    });
    list.hidden = false;
  }

  input.addEventListener("input", show);
  input.addEventListener("keydown", function (event) {
    if (event.key === "Escape") { input.value = ""; show(); }
    if (event.key === "Enter") { var first = list.querySelector("a"); if (first) first.click(); }
  });
  document.addEventListener("click", function (event) {
    if (!list.contains(event.target) && event.target !== input) list.hidden = true;
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "/" && document.activeElement !== input) { event.preventDefault(); input.focus(); }
  });
})();
