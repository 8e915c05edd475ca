/* hitstream dashboard: sites, totals with the change against the previous period, a chart grouped by day, week or
   month, top articles with a drill-down, breakdowns (sources, campaigns, countries, devices, browsers, OS) and a CSV
   export. It talks only to its own origin's API, by URLs relative to where this script was served from, so it works
   under any API base path. No inline code and no inline styles: it runs under a strict CSP. */
(function () {
  "use strict";

  var REFRESH_MS = 30000;
  var MAX_DAYS = 366;
  var DAY_MS = 864e5;
  var WEEKLY_FROM = 60; // days in a range from which the chart shows one point per week ...
  var MONTHLY_FROM = 180; // ... and from which one per month
  var SLUG = /^[A-Za-z0-9][A-Za-z0-9._~-]{0,199}$/;
  var SITE = /^[a-z0-9.-]{1,253}$/;
  var TOKEN_KEY = "hitstream:token";
  var DAY_TICKS = [1, 2, 4, 7, 14, 30, 61, 91, 182, 365].map(function (d) { return d * 86400; });
  var PRESETS = { "7d": "last 7 days", "30d": "last 30 days", "12m": "last 12 months" };
  var DIMENSIONS = [
    ["source", "Sources"], ["campaign", "Campaigns"], ["country", "Countries"],
    ["device", "Devices"], ["browser", "Browsers"], ["os", "Operating systems"],
  ];
  var COLUMN = { source: "Source", campaign: "Campaign", country: "Country", device: "Device", browser: "Browser", os: "System" };
  var BREAKDOWN_LIMIT = 10;

  // The API base is the directory above /static/ where this file lives.
  var here = document.currentScript && document.currentScript.src;
  var BASE = here ? new URL("../", here).href : new URL(".", location.href).href;

  var $ = function (id) { return document.getElementById(id); };
  var fmt = new Intl.NumberFormat();
  var regions = null;
  try { regions = new Intl.DisplayNames([navigator.language || "en", "en"], { type: "region" }); } catch (e) { regions = null; }

  var state = { preset: "30d", from: null, to: null, site: null, article: null };
  var view = { sites: [], site: null, prev: null, article: null, overview: {}, range: null, group: "day" };
  var charts = { site: null, article: null };
  var token = null;
  var inflight = null;
  var lastRefresh = 0;

  // ---- storage that may be missing (private mode, blocked storage) ----
  function store(key, value) {
    try { if (value == null) localStorage.removeItem(key); else localStorage.setItem(key, value); } catch (e) { /* kept for this page only */ }
  }
  function load(key) { try { return localStorage.getItem(key); } catch (e) { return null; } }

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
  function addDays(s, n) { return iso(new Date(parseDay(s).getTime() + n * DAY_MS)); }
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
  /** The period of equal length just before r. */
  function previous(r) {
    var n = spanDays(r[0], r[1]);
    return [addDays(r[0], -n), addDays(r[0], -1)];
  }
  function periodName(r) {
    if (state.preset !== "custom") return PRESETS[state.preset].replace("last ", "");
    var n = spanDays(r[0], r[1]);
    return n === 1 ? "day" : n + " days";
  }

  // ---- address: the token is taken once; site, range and article live in the hash so a view can be bookmarked ----
  function readHash() {
    var p = new URLSearchParams(location.hash.slice(1));
    // Not p.get("token"): URLSearchParams reads "+" as a space, and a token may hold "+" (RFC 6750 b64token).
    var m = /(?:^#|&)token=([^&]*)/.exec(location.hash);
    var t = null;
    try { t = m ? decodeURIComponent(m[1]).trim() : null; } catch (e) { t = null; }
    if (t) {
      token = t;
      store(TOKEN_KEY, t);
    }
    var from = p.get("from"), to = p.get("to"), preset = p.get("range") || p.get("period");
    var site = p.get("site"), article = p.get("article");
    if (parseDay(from) && parseDay(to) && from <= to && spanDays(from, to) <= MAX_DAYS) {
      state.preset = "custom"; state.from = from; state.to = to;
    } else if (preset && Object.prototype.hasOwnProperty.call(PRESETS, preset)) {
      state.preset = preset;
    }
    state.site = site && SITE.test(site) ? site : state.site;
    state.article = article && SLUG.test(article) ? article : null;
  }
  function writeHash() {
    var p = new URLSearchParams();
    if (state.site) p.set("site", state.site);
    if (state.preset === "custom") { p.set("from", state.from); p.set("to", state.to); } else p.set("range", state.preset);
    if (state.article) p.set("article", state.article);
    // replaceState also drops a #token= from the address bar (and so from the history and any shared screenshot).
    history.replaceState(null, "", location.pathname + location.search + "#" + p.toString());
  }

  // ---- API ----
  function ApiError(status, message) { this.status = status; this.message = message; }
  function getJSON(path, signal) {
    var headers = { Accept: "application/json" };
    if (token) headers.Authorization = "Bearer " + token;
    return fetch(BASE + path, { signal: signal, cache: "no-store", headers: headers, credentials: "omit" })
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (body) {
          if (!r.ok) throw new ApiError(r.status, body.error || "HTTP " + r.status);
          return body;
        });
      });
  }
  function query(params) {
    var p = new URLSearchParams();
    Object.keys(params).forEach(function (k) { if (params[k] != null) p.set(k, params[k]); });
    return p.toString().replace(/%2C/g, ",");
  }

  // ---- small rendering helpers ----
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text != null) e.textContent = text;
    return e;
  }
  function setText(node, text) { if (node.textContent !== text) node.textContent = text; }
  function num(v) { return typeof v === "number" ? fmt.format(v) : "0"; }
  function fillCards(container, stats) {
    var cells = container.querySelectorAll("[data-stat]");
    for (var i = 0; i < cells.length; i++) setText(cells[i], num(stats[cells[i].getAttribute("data-stat")]));
  }
  function setStatus(text, kind) {
    var s = $("status");
    setText(s, text);
    s.className = kind ? "is-" + kind : "";
  }
  function sum(rows, key) { var t = 0; for (var i = 0; i < rows.length; i++) t += rows[i][key] || 0; return t; }

  /** "+12%", "−5%", "no change" or "new" for the change from prev to cur. */
  function change(cur, prev) {
    if (cur === prev) return { text: "no change", dir: "same" };
    if (!prev) return { text: "new", dir: "up" };
    var pct = ((cur - prev) / prev) * 100;
    var r = Math.abs(pct) < 10 ? Math.round(pct * 10) / 10 : Math.round(pct);
    return { text: (pct > 0 ? "+" : "\u2212") + fmt.format(Math.abs(r)) + "%", dir: pct > 0 ? "up" : "down" };
  }
  function renderDeltas(cur, prev, r) {
    var cells = $("totals").querySelectorAll("[data-delta]");
    for (var i = 0; i < cells.length; i++) {
      var key = cells[i].getAttribute("data-delta");
      if (!prev) { setText(cells[i], ""); continue; }
      var c = change(cur[key] || 0, prev[key] || 0);
      cells[i].className = "delta " + c.dir;
      cells[i].replaceChildren(
        el("span", { class: "pct" }, c.text),
        document.createTextNode(" vs " + num(prev[key]) + " in the previous " + periodName(r))
      );
      cells[i].title = "Previous period: " + view.prevRange[0] + " to " + view.prevRange[1] + " (UTC)";
    }
  }

  // ---- grouping: one point per day, per week (Monday, UTC) or per month ----
  function groupFor(days) { return days >= MONTHLY_FROM ? "month" : days >= WEEKLY_FROM ? "week" : "day"; }
  function bucketOf(date, group) {
    if (group === "month") return date.slice(0, 7) + "-01";
    if (group === "week") {
      var d = parseDay(date);
      return addDays(date, -((d.getUTCDay() + 6) % 7));
    }
    return date;
  }
  function grouped(daily, group) {
    var out = [], last = null;
    for (var i = 0; i < daily.length; i++) {
      var b = bucketOf(daily[i].date, group);
      if (!last || last.date !== b) {
        last = { date: b, first: daily[i].date, last: daily[i].date, days: 0, hits: 0, visitors: 0, likes: 0 };
        out.push(last);
      }
      last.last = daily[i].date; last.days += 1;
      last.hits += daily[i].hits || 0; last.visitors += daily[i].visitors || 0; last.likes += daily[i].likes || 0;
    }
    return out;
  }
  var MONTHS = new Intl.DateTimeFormat(undefined, { month: "long", year: "numeric", timeZone: "UTC" });
  function pointName(p, group) {
    if (group === "month") {
      var d = parseDay(p.date), m = MONTHS.format(d);
      var inMonth = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
      return p.days < inMonth ? m + " (" + p.first + " to " + p.last + ")" : m;
    }
    if (group === "week") return p.days === 7 ? "Week of " + p.date : p.first + " to " + p.last;
    return p.date;
  }
  function groupWord(group) { return group === "month" ? "Monthly" : group === "week" ? "Weekly" : "Daily"; }

  // ---- chart ----
  function cssVar(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }
  function chartSize(node) {
    var w = Math.max(260, Math.floor(node.clientWidth || 600));
    return { width: w, height: w < 520 ? 200 : 240 };
  }
  function legendAtRest(points, group, legend) {
    legend.replaceChildren(
      el("span", { class: "key hits" }, num(sum(points, "hits")) + " hits"),
      document.createTextNode(" "),
      el("span", { class: "key visitors" }, num(sum(points, "visitors")) + " daily visitors (summed)"),
      document.createTextNode(points.length ? " from " + points[0].first + " to " + points[points.length - 1].last + (group === "day" ? "" : ", one point per " + group) : "")
    );
  }
  function legendAt(p, group, legend) {
    legend.replaceChildren(
      el("strong", null, pointName(p, group) + ": "),
      el("span", { class: "key hits" }, num(p.hits) + " hits"),
      document.createTextNode(" "),
      el("span", { class: "key visitors" }, num(p.visitors) + " visitors")
    );
  }
  function describe(points, group, what) {
    if (!points.length) return what + ": no days";
    var best = points[0];
    for (var i = 0; i < points.length; i++) if (points[i].hits > best.hits) best = points[i];
    var text = what + " from " + points[0].first + " to " + points[points.length - 1].last + ": " +
      fmt.format(sum(points, "hits")) + " hits, " + fmt.format(sum(points, "visitors")) + " daily visitors (summed)";
    return best.hits ? text + "; busiest " + group + " " + pointName(best, group) + " with " + fmt.format(best.hits) + " hits" : text;
  }
  function makeChart(node, data, group, legend, points) {
    var size = chartSize(node);
    var grid = { stroke: cssVar("--line"), width: 1 };
    var ints = function (u, vals) { return vals.map(function (v) { return fmt.format(v); }); };
    var dots = data[0].length <= 62;
    var u = new uPlot({
      width: size.width,
      height: size.height,
      legend: { show: false }, // our own legend below the chart reads well at rest too
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"); },
      cursor: { drag: { x: false, y: false }, points: { size: 7 } },
      scales: {
        x: { time: true },
        y: { range: function (u, min, max) { return [0, Math.max(4, Math.ceil(max * 1.15))]; } },
      },
      axes: [
        // Ticks on whole days only (never "12pm"): 1, 2, 4 days, weeks, then months and a year.
        { stroke: cssVar("--muted"), grid: grid, ticks: grid, space: 50, incrs: DAY_TICKS },
        { stroke: cssVar("--muted"), grid: grid, ticks: grid, values: ints, size: 48, incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6, 2e6, 5e6, 1e7] },
      ],
      series: [
        {},
        { label: "Hits", stroke: cssVar("--hits"), width: 2, points: { show: dots } },
        { label: "Visitors", stroke: cssVar("--visitors"), width: 2, dash: [6, 4], points: { show: dots } },
      ],
      hooks: {
        setCursor: [function (u) {
          var i = u.cursor.idx, pts = u.hitstreamPoints;
          if (i == null || !pts[i]) legendAtRest(pts, u.hitstreamGroup, legend); else legendAt(pts[i], u.hitstreamGroup, legend);
        }],
      },
    }, data, node);
    u.hitstreamPoints = points;
    u.hitstreamGroup = group;
    return u;
  }
  function drawChart(key, node, legend, daily, what) {
    var group = groupFor(daily.length);
    var points = grouped(daily, group);
    node.setAttribute("aria-label", describe(points, group, groupWord(group) + " hits and visitors"));
    legendAtRest(points, group, legend);
    if (typeof window.uPlot !== "function") {
      setText(node, "The chart library did not load; the numbers are still live.");
      return group;
    }
    var data = [points.map(function (p) { return Date.parse(p.date + "T00:00:00Z") / 1000; }),
      points.map(function (p) { return p.hits; }), points.map(function (p) { return p.visitors; })];
    var old = charts[key];
    if (old && old.data[0].length === data[0].length && old.hitstreamGroup === group) {
      old.hitstreamPoints = points; // same shape: update in place (keeps the cursor, no flash)
      old.setData(data);
      return group;
    }
    if (old) old.destroy();
    charts[key] = makeChart(node, data, group, legend, points);
    charts[key].hitstreamWhat = what;
    return group;
  }

  // ---- tables ----
  function renderTop(top) {
    var body = $("top").tBodies[0];
    var focused = document.activeElement;
    var refocus = focused && body.contains(focused) ? focused.getAttribute("data-slug") : null;
    var frag = document.createDocumentFragment();
    if (!top.length) {
      var tr0 = el("tr"), td0 = el("td", { class: "empty", colspan: "5" }, "No hits in this period yet.");
      tr0.appendChild(td0); frag.appendChild(tr0);
    }
    top.forEach(function (a, i) {
      var tr = el("tr");
      if (a.slug === state.article) tr.className = "is-selected";
      tr.appendChild(el("td", { class: "num" }, String(i + 1)));
      var name = el("th", { scope: "row" });
      var btn = el("button", { type: "button", class: "link", "data-slug": a.slug, "aria-label": a.slug + ": show details" }, a.slug);
      name.appendChild(btn);
      tr.appendChild(name);
      ["hits", "visitors", "likes"].forEach(function (k) { tr.appendChild(el("td", { class: "num", "data-stat": k }, num(a[k]))); });
      frag.appendChild(tr);
    });
    body.replaceChildren(frag);
    if (refocus) {
      var again = body.querySelector('button[data-slug="' + CSS.escape(refocus) + '"]');
      if (again) again.focus();
    }
  }

  function valueName(dim, v) {
    if (v === "(other)") return "Other";
    if (dim === "source" && v === "(direct)") return "Direct or unknown";
    if (dim === "campaign" && v === "(none)") return "No campaign";
    if (dim === "country") {
      if (v === "ZZ") return "Unknown";
      var name = null;
      try { name = regions && regions.of(v); } catch (e) { name = null; }
      return name && name !== v ? name + " (" + v + ")" : v;
    }
    if (dim === "device") return v.charAt(0).toUpperCase() + v.slice(1);
    return v;
  }
  /** One breakdown panel: a heading and a table of value, visitors, hits; a bar (visual aid only) shows visitors. */
  function renderPanel(panel, dim, title, rows, idPrefix) {
    var id = idPrefix + dim;
    var table = el("table", { "aria-labelledby": id + "-title", class: "breakdown" });
    var head = el("thead"), hr = el("tr");
    hr.appendChild(el("th", { scope: "col" }, COLUMN[dim]));
    hr.appendChild(el("th", { scope: "col", class: "num" }, "Visitors"));
    hr.appendChild(el("th", { scope: "col", class: "num" }, "Hits"));
    head.appendChild(hr); table.appendChild(head);
    var body = el("tbody");
    var max = rows.reduce(function (m, r) { return Math.max(m, r.visitors || 0); }, 0);
    if (!rows.length) {
      var tr0 = el("tr");
      tr0.appendChild(el("td", { colspan: "3", class: "empty" }, "No visits in this period."));
      body.appendChild(tr0);
    }
    rows.forEach(function (r) {
      var tr = el("tr", { "data-value": r.value });
      var th = el("th", { scope: "row", class: "value" });
      var bar = el("span", { class: "bar", "aria-hidden": "true" });
      bar.style.width = (max ? Math.max(1, Math.round((100 * (r.visitors || 0)) / max)) : 0) + "%"; // CSSOM, not an inline style attribute
      th.appendChild(bar);
      th.appendChild(el("span", { class: "label", title: r.value }, valueName(dim, r.value)));
      tr.appendChild(th);
      tr.appendChild(el("td", { class: "num", "data-stat": "visitors" }, num(r.visitors)));
      tr.appendChild(el("td", { class: "num", "data-stat": "hits" }, num(r.hits)));
      body.appendChild(tr);
    });
    table.appendChild(body);
    panel.replaceChildren(el("h3", { id: id + "-title" }, title), table);
  }
  function renderBreakdowns(breakdown) {
    var panels = $("breakdowns").querySelectorAll("[data-dim]");
    for (var i = 0; i < panels.length; i++) {
      var dim = panels[i].getAttribute("data-dim");
      var title = DIMENSIONS.filter(function (d) { return d[0] === dim; })[0][1];
      renderPanel(panels[i], dim, title, (breakdown && breakdown[dim]) || [], "bd-");
    }
  }

  // ---- all sites ----
  /** A trend line of daily hits: a clone of the page's SVG template (the HTML parser gives it the SVG namespace). */
  function sparkline(daily) {
    var svg = $("spark-template").content.firstElementChild.cloneNode(true);
    var max = daily.reduce(function (m, d) { return Math.max(m, d.hits || 0); }, 0) || 1;
    var n = Math.max(1, daily.length - 1);
    var pts = daily.map(function (d, i) { return (100 * i / n).toFixed(2) + "," + (23 - 22 * (d.hits || 0) / max).toFixed(2); });
    svg.querySelector("polyline").setAttribute("points", pts.join(" "));
    return svg;
  }
  function renderOverview(r) {
    var sites = view.sites;
    $("overview").hidden = sites.length < 2;
    setText($("overview-period"), "the " + (state.preset === "custom" ? "period " + r[0] + " to " + r[1] : PRESETS[state.preset]));
    var frag = document.createDocumentFragment();
    sites.forEach(function (s) {
      var li = el("li", { class: "site-card" + (s.site === state.site ? " is-current" : ""), "data-site": s.site });
      var h = el("h3");
      var b = el("button", { type: "button", class: "link", "data-site": s.site }, s.site);
      if (s.site === state.site) b.setAttribute("aria-current", "true");
      h.appendChild(b); li.appendChild(h);
      var dl = el("dl", { class: "mini" });
      [["hits", "Hits"], ["visitors", "Visitors"], ["likes", "Likes"], ["articles", "Articles"]].forEach(function (k) {
        var d = el("div");
        d.appendChild(el("dt", null, k[1])); d.appendChild(el("dd", { "data-stat": k[0] }, num(s[k[0]])));
        dl.appendChild(d);
      });
      li.appendChild(dl);
      var trend = view.overview[s.site];
      if (trend) {
        var hits = sum(trend.daily || [], "hits");
        var p = el("p", { class: "trend" });
        p.appendChild(sparkline(trend.daily || []));
        p.appendChild(el("span", { "data-stat": "range-hits" }, num(hits) + " hits in the period"));
        li.appendChild(p);
      }
      frag.appendChild(li);
    });
    $("sites").replaceChildren(frag);
  }
  function renderSitePicker() {
    var select = $("site");
    var names = view.sites.map(function (s) { return s.site; });
    var have = Array.prototype.map.call(select.options, function (o) { return o.value; });
    if (have.join(",") !== names.join(",")) {
      select.replaceChildren.apply(select, names.map(function (n) { return el("option", { value: n }, n); }));
    }
    select.value = state.site || names[0] || "";
    $("site-pick").hidden = names.length < 2;
  }

  // ---- CSV export of what is on screen ----
  function csvCell(v) {
    var s = v == null ? "" : String(v);
    if (/^[=+\-@\t\r]/.test(s)) s = "'" + s; // a referrer or campaign is client data: never a spreadsheet formula
    return /[",\n\r]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  }
  function csv() {
    var r = view.range, lines = [["table", "key", "hits", "visitors", "likes"]];
    var s = view.site || {};
    if (!r) return "";
    lines.push(["totals", r[0] + " to " + r[1], s.hits, s.visitors, s.likes]);
    if (view.prev) lines.push(["previous_totals", view.prevRange[0] + " to " + view.prevRange[1], view.prev.hits, view.prev.visitors, view.prev.likes]);
    (s.daily || []).forEach(function (d) { lines.push(["daily", d.date, d.hits, d.visitors, d.likes]); });
    (s.top || []).forEach(function (a) { lines.push(["top_articles", a.slug, a.hits, a.visitors, a.likes]); });
    DIMENSIONS.forEach(function (d) {
      ((s.breakdown || {})[d[0]] || []).forEach(function (row) { lines.push([d[0], row.value, row.hits, row.visitors, ""]); });
    });
    var a = view.article;
    if (a && state.article) {
      (a.daily || []).forEach(function (d) { lines.push(["article_daily:" + a.slug, d.date, d.hits, d.visitors, d.likes]); });
      ((a.breakdown || {}).source || []).forEach(function (row) { lines.push(["article_source:" + a.slug, row.value, row.hits, row.visitors, ""]); });
    }
    return lines.map(function (l) { return l.map(csvCell).join(","); }).join("\r\n") + "\r\n";
  }
  var csvUrl = null;
  function prepareExport() {
    var link = $("export");
    if (csvUrl) URL.revokeObjectURL(csvUrl);
    csvUrl = URL.createObjectURL(new Blob([csv()], { type: "text/csv;charset=utf-8" }));
    link.href = csvUrl;
    var r = view.range || range();
    link.download = "hitstream-" + (state.site || "site") + "-" + r[0] + "-to-" + r[1] + ".csv";
  }

  // ---- access ----
  function signedOut(err) {
    var had = !!token;
    $("signin").hidden = false;
    $("data").hidden = true;
    $("sign-out").hidden = !token;
    setText($("signin-why"), had
      ? "The saved token was refused (" + err.message + "). Paste the current owner token."
      : "This dashboard is private. Paste the owner token to read it.");
    setStatus(had ? "Token refused" : "Sign-in needed", "error");
    document.documentElement.setAttribute("data-auth", "required");
  }
  function signedIn() {
    $("signin").hidden = true;
    $("data").hidden = false;
    $("sign-out").hidden = !token;
    document.documentElement.removeAttribute("data-auth");
  }

  // ---- loading ----
  function setLoading(on) {
    var watched = document.querySelectorAll("[data-watch]");
    for (var i = 0; i < watched.length; i++) {
      watched[i].classList.toggle("is-loading", on);
      if (on) watched[i].setAttribute("aria-busy", "true"); else watched[i].removeAttribute("aria-busy");
    }
  }

  /** Fetch everything the view shows, then render it all at once; keep the last good numbers on any error. */
  function refresh(userAction) {
    var r = range();
    if (!r[0] || !r[1]) return Promise.resolve();
    if (inflight) inflight.abort();
    var ctrl = (inflight = new AbortController());
    var sig = ctrl.signal;
    var site = state.site;
    var pr = previous(r);
    var base = { site: site, from: r[0], to: r[1] };
    if (userAction) {
      setLoading(true);
      setStatus("Loading " + (state.preset === "custom" ? r[0] + " to " + r[1] : PRESETS[state.preset]) + "…", "loading");
    }
    var sitesJob = getJSON("sites", sig).then(function (b) { return b.sites || []; }, function (err) {
      if (err.status === 404) return []; // an API without /sites serves one (default) site
      throw err;
    });
    var jobs = [
      sitesJob,
      getJSON("statistics?" + query({ site: site, from: r[0], to: r[1], top: 10, breakdown: DIMENSIONS.map(function (d) { return d[0]; }).join(","), limit: BREAKDOWN_LIMIT }), sig),
      getJSON("statistics?" + query({ site: site, from: pr[0], to: pr[1] }), sig),
      state.article
        ? getJSON("statistics/" + encodeURIComponent(state.article) + "?" + query({ site: site, from: r[0], to: r[1], breakdown: "source", limit: BREAKDOWN_LIMIT }), sig)
        : Promise.resolve(null),
    ];
    // Each site's trend: one small request per site, in parallel with the rest; a failure only hides that line.
    var overviewJob = sitesJob.then(function (sites) {
      if (sites.length < 2) return {};
      return Promise.all(sites.map(function (s) {
        return getJSON("statistics?" + query({ site: s.site, from: r[0], to: r[1] }), sig).catch(function (err) {
          if (err.status === 401 || err.name === "AbortError") throw err;
          return null;
        });
      })).then(function (all) {
        var out = {};
        sites.forEach(function (s, i) { if (all[i]) out[s.site] = all[i]; });
        return out;
      });
    });
    jobs.push(overviewJob);
    lastRefresh = Date.now();
    return Promise.all(jobs).then(function (res) {
      if (ctrl !== inflight) return;
      inflight = null;
      var sites = res[0];
      var names = sites.map(function (s) { return s.site; });
      if (names.length && names.indexOf(site) < 0) {
        // No site chosen yet, or one this deployment does not list: show the default (first) site.
        state.site = names[0];
        writeHash();
        return refresh(userAction);
      }
      signedIn();
      view.sites = sites; view.site = res[1]; view.prev = res[2]; view.prevRange = pr; view.article = res[3];
      view.overview = res[4]; view.range = r;
      render(r);
      setLoading(false);
      setStatus("Live, updates every 30 s", "live");
      var t = new Date(), u = $("updated");
      u.dateTime = t.toISOString();
      u.textContent = "Last updated " + t.toLocaleTimeString();
      document.documentElement.setAttribute("data-loaded", String(lastRefresh));
    }, function (err) {
      if (err && err.name === "AbortError") return;
      if (ctrl === inflight) inflight = null;
      if (err && err.status === 401) { setLoading(false); signedOut(err); return; }
      if (err && err.status === 400 && site && /site/i.test(err.message || "")) {
        state.site = null; writeHash(); // a bookmarked site this deployment no longer lists
        return refresh(userAction);
      }
      // The last good numbers stay on screen; if they are for another period or site, they stay dimmed.
      var stale = !view.range || view.range[0] !== r[0] || view.range[1] !== r[1] || view.siteName !== site;
      setLoading(stale);
      setStatus("Could not load statistics: " + (err && err.message ? err.message : "network error") + ". Retrying in 30 s.", "error");
    });
  }

  function render(r) {
    var s = view.site;
    view.siteName = state.site;
    renderSitePicker();
    renderOverview(r);
    setText($("site-name"), state.site || "Site");
    setText($("period"), "(" + (state.preset === "custom" ? "" : PRESETS[state.preset] + ", ") + r[0] + " to " + r[1] + ", UTC)");
    fillCards($("totals"), s);
    renderDeltas(s, view.prev, r);
    var group = drawChart("site", $("site-chart"), $("site-legend"), s.daily || [], "Hits and visitors");
    setText($("chart-title"), groupWord(group) + " hits and visitors");
    renderTop(s.top || []);
    renderBreakdowns(s.breakdown);
    var a = view.article;
    if (a && state.article === a.slug) {
      setText($("article-title"), "Article: " + a.slug);
      fillCards($("article-totals"), a);
      drawChart("article", $("article-chart"), $("article-legend"), a.daily || [], "Hits and visitors of " + a.slug);
      renderPanel($("article-sources"), "source", "Sources of this article", (a.breakdown && a.breakdown.source) || [], "article-");
    }
    prepareExport();
  }

  // ---- interaction ----
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
    writeHash(); refresh(true);
  }
  function markSelected(slug) {
    var rows = $("top").tBodies[0].rows;
    for (var i = 0; i < rows.length; i++) {
      var b = rows[i].querySelector("button[data-slug]");
      rows[i].classList.toggle("is-selected", !!slug && !!b && b.getAttribute("data-slug") === slug);
    }
  }
  function openArticle(slug, focus) {
    if (!SLUG.test(slug)) return;
    if (state.article !== slug) {
      fillCards($("article-totals"), {});
      $("article-sources").replaceChildren();
      $("article-legend").replaceChildren();
    }
    state.article = slug;
    markSelected(slug);
    setText($("article-title"), "Article: " + slug);
    $("article").hidden = false;
    writeHash();
    refresh(true);
    if (focus) $("article").focus();
  }
  function closeArticle() {
    var slug = state.article;
    state.article = null;
    view.article = null;
    $("article").hidden = true;
    writeHash();
    markSelected(null);
    prepareExport();
    var back = slug && $("top").querySelector('button[data-slug="' + CSS.escape(slug) + '"]');
    (back || $("slug")).focus();
  }
  function chooseSite(name) {
    if (!name || name === state.site) return;
    state.site = name;
    state.article = null;
    $("article").hidden = true;
    writeHash();
    $("site").value = name;
    refresh(true);
  }

  function wire() {
    $("range").addEventListener("change", function (e) {
      if (e.target.name !== "preset") return;
      rangeError("");
      if (e.target.value === "custom") {
        var r = range();
        state.from = state.from || r[0]; state.to = state.to || r[1];
        state.preset = "custom";
        syncForm(); writeHash(); refresh(true);
        $("from").focus();
        return;
      }
      state.preset = e.target.value;
      syncForm(); writeHash(); refresh(true);
    });
    $("range").addEventListener("submit", function (e) { e.preventDefault(); applyCustom(); });
    $("site").addEventListener("change", function () { chooseSite($("site").value); });
    $("sites").addEventListener("click", function (e) {
      var b = e.target.closest && e.target.closest("button[data-site]");
      if (b) { chooseSite(b.getAttribute("data-site")); $("totals-title").scrollIntoView({ block: "start" }); }
    });
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
    $("export").addEventListener("click", function (e) {
      if (!view.range) { e.preventDefault(); return; }
      prepareExport(); // a fresh Blob of exactly what is on screen now
    });
    $("signin-form").addEventListener("submit", function (e) {
      e.preventDefault();
      var value = $("token").value.trim();
      if (!value) return;
      token = value;
      store(TOKEN_KEY, value);
      $("token").value = "";
      setStatus("Signing in…", "loading");
      refresh(true);
    });
    $("sign-out").addEventListener("click", function () {
      token = null;
      store(TOKEN_KEY, null);
      $("sign-out").hidden = true;
      setStatus("Signed out", "");
      // A public dashboard still loads; a private one shows the sign-in form.
      refresh(true).then(function () { if (!$("signin").hidden) $("token").focus(); });
    });
    document.addEventListener("keydown", function (e) {
      if (e.key === "Escape" && state.article && !$("article").hidden) closeArticle();
    });
    window.addEventListener("hashchange", function () {
      readHash(); writeHash(); syncForm(); $("article").hidden = !state.article; refresh(true);
    });
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden && Date.now() - lastRefresh >= REFRESH_MS) refresh(false);
    });
    setInterval(function () { if (!document.hidden) refresh(false); }, REFRESH_MS);
    if (window.ResizeObserver) {
      var ro = new ResizeObserver(function () {
        [["site", "site-chart"], ["article", "article-chart"]].forEach(function (p) {
          var c = charts[p[0]], node = $(p[1]);
          if (c && node.clientWidth) {
            var s = chartSize(node);
            if (s.width !== c.width || s.height !== c.height) c.setSize(s);
          }
        });
      });
      ro.observe($("site-chart")); ro.observe($("article-chart"));
    }
  }

  function start() {
    token = load(TOKEN_KEY);
    readHash(); // takes a #token= once (and stores it) ...
    writeHash(); // ... and removes it from the address bar at once
    syncForm();
    $("article").hidden = !state.article;
    $("sign-out").hidden = !token;
    wire();
    refresh(true);
  }

  // A read-only handle for debugging in the console (and for the browser tests).
  window.hitstreamDashboard = { state: state, view: view, charts: charts, refresh: refresh, base: BASE, csv: csv };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
