/* hitstream dashboard: site totals, daily chart, top articles and a per-article drill-down.
   Talks only to the public query API, by URLs relative to where this script was served from,
   so it works under any API base path. No inline code: it runs under a strict CSP. */
(function () {
  "use strict";

  var REFRESH_MS = 30000;
  var MAX_DAYS = 366;
  var DAY_MS = 864e5;
  var SLUG = /^[A-Za-z0-9][A-Za-z0-9._~-]{0,199}$/;
  var DAY_TICKS = [1, 2, 4, 7, 14, 30, 61, 91, 182, 365].map(function (d) { return d * 86400; });
  var PRESETS = { "7d": "last 7 days", "30d": "last 30 days", "12m": "last 12 months", custom: "" };

  // The API base is the directory above /static/ where this file lives.
  var here = document.currentScript && document.currentScript.src;
  var BASE = here ? new URL("../", here).href : new URL(".", location.href).href;

  var $ = function (id) { return document.getElementById(id); };
  var fmt = new Intl.NumberFormat();
  var state = { preset: "30d", from: null, to: null, article: null };
  var charts = { site: null, article: null };
  var inflight = null;
  var lastRefresh = 0;

  // ---- dates (all UTC, as the API counts days) ----
  function iso(d) { return d.toISOString().slice(0, 10); }
  function today() {
    var n = new Date();
    return new Date(Date.UTC(n.getUTCFullYear(), n.getUTCMonth(), n.getUTCDate()));
  }
  function parseDay(s) {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(s || "")) return null;
    var d = new Date(s + "T00:00:00Z");
    return isNaN(d) || iso(d) !== s ? null : d;
  }
  function spanDays(from, to) { return Math.round((parseDay(to) - parseDay(from)) / DAY_MS) + 1; }

  /** [from, to] for the current state, inclusive; every preset stays within the API's 366-day limit. */
  function range() {
    var t = today();
    if (state.preset === "custom") return [state.from, state.to];
    if (state.preset === "7d") return [iso(new Date(t - 6 * DAY_MS)), iso(t)];
    if (state.preset === "12m") {
      // The same calendar day a year ago, plus one: 365 or 366 days, never more.
      var f = new Date(Date.UTC(t.getUTCFullYear() - 1, t.getUTCMonth(), t.getUTCDate() + 1));
      if (spanDays(iso(f), iso(t)) > MAX_DAYS) f = new Date(t - (MAX_DAYS - 1) * DAY_MS);
      return [iso(f), iso(t)];
    }
    return [iso(new Date(t - 29 * DAY_MS)), iso(t)];
  }

  // ---- state <-> location.hash, so a view can be bookmarked and shared ----
  function readHash() {
    var p = new URLSearchParams(location.hash.slice(1));
    var from = p.get("from"), to = p.get("to"), period = p.get("period"), article = p.get("article");
    if (parseDay(from) && parseDay(to) && from <= to && spanDays(from, to) <= MAX_DAYS) {
      state.preset = "custom"; state.from = from; state.to = to;
    } else if (period && Object.prototype.hasOwnProperty.call(PRESETS, period) && period !== "custom") {
      state.preset = period;
    }
    state.article = article && SLUG.test(article) ? article : null;
  }
  function writeHash() {
    var p = new URLSearchParams();
    if (state.preset === "custom") { p.set("from", state.from); p.set("to", state.to); } else p.set("period", state.preset);
    if (state.article) p.set("article", state.article);
    history.replaceState(null, "", "#" + p.toString());
  }

  // ---- API ----
  function getJSON(path, signal) {
    return fetch(BASE + path, { signal: signal, cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (body) {
          if (!r.ok) throw new Error(body.error || "HTTP " + r.status);
          return body;
        });
      });
  }

  // ---- rendering ----
  function setText(el, text) { if (el.textContent !== text) el.textContent = text; } // no needless live-region chatter
  function num(v) { return typeof v === "number" ? fmt.format(v) : "–"; }
  function fillCards(container, stats) {
    var cells = container.querySelectorAll("[data-stat]");
    for (var i = 0; i < cells.length; i++) setText(cells[i], num(stats[cells[i].getAttribute("data-stat")]));
  }
  function setStatus(text, isError) {
    var el = $("status");
    setText(el, text);
    el.classList.toggle("is-error", !!isError);
  }

  function cssVar(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }
  function chartSize(el) {
    var w = Math.max(280, Math.floor(el.clientWidth || 600));
    return { width: w, height: w < 520 ? 200 : 240 };
  }
  function chartData(daily) {
    var x = [], hits = [], visitors = [];
    for (var i = 0; i < daily.length; i++) {
      x.push(Date.parse(daily[i].date + "T00:00:00Z") / 1000);
      hits.push(daily[i].hits);
      visitors.push(daily[i].visitors);
    }
    return [x, hits, visitors];
  }
  function describe(daily, what) {
    if (!daily.length) return what + ": no days";
    var hits = 0, visitors = 0, best = daily[0];
    for (var i = 0; i < daily.length; i++) {
      hits += daily[i].hits; visitors += daily[i].visitors;
      if (daily[i].hits > best.hits) best = daily[i];
    }
    var text = what + " from " + daily[0].date + " to " + daily[daily.length - 1].date + ": " +
      fmt.format(hits) + " hits, " + fmt.format(visitors) + " visitors";
    return best.hits ? text + "; busiest day " + best.date + " with " + fmt.format(best.hits) + " hits" : text;
  }
  function makeChart(el, data) {
    var size = chartSize(el);
    var grid = { stroke: cssVar("--line"), width: 1 };
    var ints = function (u, vals) { return vals.map(function (v) { return fmt.format(v); }); };
    return new uPlot({
      width: size.width,
      height: size.height,
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"); },
      cursor: { drag: { x: false, y: false }, points: { size: 7 } },
      scales: {
        x: { time: true },
        y: { range: function (u, min, max) { return [0, Math.max(4, Math.ceil(max * 1.15))]; } },
      },
      axes: [
        // Ticks on whole days only (never "12pm"): 1, 2, 4 days, weeks, then months and a year.
        { stroke: cssVar("--muted"), grid: grid, ticks: grid, space: 50, incrs: DAY_TICKS },
        { stroke: cssVar("--muted"), grid: grid, ticks: grid, values: ints, incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6] },
      ],
      series: [
        { label: "Day (UTC)", value: "{YYYY}-{MM}-{DD}" },
        { label: "Hits", stroke: cssVar("--hits"), width: 2, points: { show: data[0].length <= 62 },
          value: function (u, v) { return v == null ? "–" : fmt.format(v); } },
        { label: "Visitors", stroke: cssVar("--visitors"), width: 2, dash: [6, 4], points: { show: data[0].length <= 62 },
          value: function (u, v) { return v == null ? "–" : fmt.format(v); } },
      ],
    }, data, el);
  }
  function drawChart(key, el, daily, what) {
    el.setAttribute("aria-label", describe(daily, what));
    if (typeof window.uPlot !== "function") {
      setText(el, "The chart library did not load; the numbers above are still live.");
      return;
    }
    var data = chartData(daily);
    var old = charts[key];
    // Same number of days: update in place (keeps the cursor and avoids a flash); otherwise rebuild.
    if (old && old.data[0].length === data[0].length) {
      old.setData(data);
      return;
    }
    if (old) old.destroy();
    charts[key] = makeChart(el, data);
  }

  function renderTop(top) {
    var body = $("top").tBodies[0];
    var focused = document.activeElement;
    var refocus = focused && body.contains(focused) ? focused.getAttribute("data-slug") : null;
    var frag = document.createDocumentFragment();
    if (!top.length) {
      var tr0 = document.createElement("tr"), td0 = document.createElement("td");
      td0.colSpan = 5; td0.className = "empty"; td0.textContent = "No hits in this period yet.";
      tr0.appendChild(td0); frag.appendChild(tr0);
    }
    top.forEach(function (a, i) {
      var tr = document.createElement("tr");
      if (a.slug === state.article) tr.className = "is-selected";
      var rank = document.createElement("td");
      rank.className = "num"; rank.textContent = String(i + 1);
      var name = document.createElement("th");
      name.scope = "row";
      var btn = document.createElement("button");
      btn.type = "button"; btn.className = "link"; btn.textContent = a.slug;
      btn.setAttribute("data-slug", a.slug);
      btn.setAttribute("aria-label", a.slug + ": show details");
      name.appendChild(btn);
      tr.appendChild(rank); tr.appendChild(name);
      ["hits", "visitors", "likes"].forEach(function (k) {
        var td = document.createElement("td");
        td.className = "num"; td.setAttribute("data-stat", k); td.textContent = num(a[k]);
        tr.appendChild(td);
      });
      frag.appendChild(tr);
    });
    body.replaceChildren(frag);
    if (refocus) {
      var again = body.querySelector('button[data-slug="' + CSS.escape(refocus) + '"]');
      if (again) again.focus();
    }
  }

  function renderSite(s, r) {
    fillCards($("totals"), s);
    drawChart("site", $("site-chart"), s.daily || [], "Daily hits and visitors");
    renderTop(s.top || []);
    var label = state.preset === "custom" ? "" : PRESETS[state.preset] + ", ";
    setText($("period"), "(" + label + r[0] + " to " + r[1] + ", UTC)");
  }
  function renderArticle(a) {
    setText($("article-title"), "Article: " + a.slug);
    fillCards($("article-totals"), a);
    drawChart("article", $("article-chart"), a.daily || [], "Daily hits and visitors of " + a.slug);
  }

  // ---- loading ----
  function refresh() {
    var r = range();
    if (!r[0] || !r[1]) return;
    if (inflight) inflight.abort();
    var ctrl = (inflight = new AbortController());
    var q = "from=" + r[0] + "&to=" + r[1];
    var jobs = [getJSON("statistics?" + q + "&top=10", ctrl.signal).then(function (s) { renderSite(s, r); })];
    if (state.article) {
      jobs.push(getJSON("statistics/" + encodeURIComponent(state.article) + "?" + q, ctrl.signal).then(renderArticle));
    }
    lastRefresh = Date.now();
    return Promise.all(jobs).then(function () {
      if (ctrl !== inflight) return;
      inflight = null;
      setStatus("Live, updates every 30 s");
      var t = new Date();
      var u = $("updated");
      u.dateTime = t.toISOString();
      u.textContent = "Last updated " + t.toLocaleTimeString();
      document.documentElement.setAttribute("data-loaded", String(lastRefresh));
    }, function (err) {
      if (err && err.name === "AbortError") return;
      if (ctrl === inflight) inflight = null;
      setStatus("Could not load statistics: " + (err && err.message ? err.message : "network error") + ". Retrying in 30 s.", true);
    });
  }

  function syncForm() {
    var radio = document.querySelector('input[name="preset"][value="' + state.preset + '"]');
    if (radio) radio.checked = true;
    $("custom").hidden = state.preset !== "custom";
    var r = range();
    $("from").value = r[0] || ""; $("to").value = r[1] || "";
    $("from").max = $("to").max = iso(today());
  }

  function rangeError(msg, field) {
    setText($("range-error"), msg || "");
    ["from", "to"].forEach(function (id) {
      if (id === field) $(id).setAttribute("aria-invalid", "true"); else $(id).removeAttribute("aria-invalid");
    });
    if (field) $(field).focus();
  }

  function applyCustom() {
    var from = $("from").value, to = $("to").value;
    if (!parseDay(from)) return rangeError("Enter a start date.", "from");
    if (!parseDay(to)) return rangeError("Enter an end date.", "to");
    if (from > to) return rangeError("The start date must be on or before the end date.", "from");
    if (spanDays(from, to) > MAX_DAYS) return rangeError("A period can span at most " + MAX_DAYS + " days.", "from");
    rangeError("");
    state.preset = "custom"; state.from = from; state.to = to;
    writeHash(); refresh();
  }

  function openArticle(slug, focus) {
    if (!SLUG.test(slug)) return;
    if (state.article !== slug) fillCards($("article-totals"), {});
    state.article = slug;
    var rows = $("top").tBodies[0].rows;
    for (var i = 0; i < rows.length; i++) {
      var b = rows[i].querySelector("button[data-slug]");
      rows[i].classList.toggle("is-selected", !!b && b.getAttribute("data-slug") === slug);
    }
    setText($("article-title"), "Article: " + slug);
    $("article").hidden = false;
    writeHash();
    refresh();
    if (focus) $("article").focus();
  }
  function closeArticle() {
    var slug = state.article;
    state.article = null;
    $("article").hidden = true;
    writeHash();
    var rows = $("top").tBodies[0].querySelectorAll("tr.is-selected");
    for (var i = 0; i < rows.length; i++) rows[i].classList.remove("is-selected");
    var back = slug && $("top").querySelector('button[data-slug="' + CSS.escape(slug) + '"]');
    (back || $("slug")).focus();
  }

  function wire() {
    $("range").addEventListener("change", function (e) {
      if (e.target.name !== "preset") return;
      rangeError("");
      if (e.target.value === "custom") {
        var r = range();
        state.from = state.from || r[0]; state.to = state.to || r[1];
        state.preset = "custom";
        syncForm();
        writeHash(); refresh();
        $("from").focus();
        return;
      }
      state.preset = e.target.value;
      syncForm(); writeHash(); refresh();
    });
    $("range").addEventListener("submit", function (e) { e.preventDefault(); applyCustom(); });
    $("top").addEventListener("click", function (e) {
      var b = e.target.closest && e.target.closest("button[data-slug]");
      if (b) openArticle(b.getAttribute("data-slug"), true);
    });
    $("lookup").addEventListener("submit", function (e) {
      e.preventDefault();
      var slug = $("slug").value.trim();
      if (SLUG.test(slug)) openArticle(slug, true);
    });
    $("close-article").addEventListener("click", closeArticle);
    document.addEventListener("keydown", function (e) {
      if (e.key === "Escape" && state.article && !$("article").hidden) closeArticle();
    });
    window.addEventListener("hashchange", function () {
      readHash(); syncForm(); $("article").hidden = !state.article; refresh();
    });
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden && Date.now() - lastRefresh >= REFRESH_MS) refresh();
    });
    setInterval(function () { if (!document.hidden) refresh(); }, REFRESH_MS);
    if (window.ResizeObserver) {
      var ro = new ResizeObserver(function () {
        [["site", "site-chart"], ["article", "article-chart"]].forEach(function (p) {
          var c = charts[p[0]], el = $(p[1]);
          if (c && el.clientWidth) {
            var s = chartSize(el);
            if (s.width !== c.width || s.height !== c.height) c.setSize(s);
          }
        });
      });
      ro.observe($("site-chart")); ro.observe($("article-chart"));
    }
  }

  function start() {
    readHash();
    syncForm();
    $("article").hidden = !state.article;
    wire();
    writeHash();
    refresh();
  }

  // A read-only handle for debugging in the console (and for the browser tests).
  window.hitstreamDashboard = { state: state, charts: charts, refresh: refresh, base: BASE };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
