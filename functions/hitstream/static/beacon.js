/* hitstream beacon: <script src="https://API/beacon.js" data-slug="my-article" defer></script>
   Counts one hit, fills [data-hitstream] counters, wires [data-hitstream-like] buttons. Never throws. */
(function (w, d) {
  try {
    var s = d.currentScript || d.querySelector('script[src*="beacon.js"]');
    if (!s) return;
    var api = new URL(s.src, d.baseURI).origin;
    var slug = s.getAttribute("data-slug") ||
      (w.location.pathname.replace(/^\/+|\/+$/g, "").replace(/[^A-Za-z0-9._~-]+/g, "-").replace(/^[^A-Za-z0-9]+/, "") || "index");
    slug = slug.slice(0, 200);
    var base = api + "/statistics/" + encodeURIComponent(slug);
    var skip = false;
    try { skip = w.localStorage.getItem("hitstream:ignore") === "1"; } catch (e) {}
    var send = function (path) {
      if (skip) return;
      var url = base + path, body = "{}";
      try {
        if (navigator.sendBeacon && navigator.sendBeacon(url, body)) return;
      } catch (e) {}
      try { fetch(url, { method: "POST", body: body, keepalive: true, headers: { "Content-Type": "text/plain" } }).catch(function () {}); } catch (e) {}
    };
    var fill = function () {
      var els = d.querySelectorAll("[data-hitstream]");
      if (!els.length || !w.fetch) return;
      fetch(base).then(function (r) { return r.json(); }).then(function (n) {
        for (var i = 0; i < els.length; i++) {
          var v = n[els[i].getAttribute("data-hitstream")];
          if (typeof v === "number") els[i].textContent = v.toLocaleString();
        }
      }).catch(function () {});
    };
    var likeKey = "hitstream:liked:" + slug + ":" + new Date().toISOString().slice(0, 10);
    var wire = function () {
      var btns = d.querySelectorAll("[data-hitstream-like]");
      for (var i = 0; i < btns.length; i++) (function (b) {
        var liked = false;
        try { liked = w.localStorage.getItem(likeKey) === "1"; } catch (e) {}
        var mark = function () { b.setAttribute("aria-pressed", "true"); b.classList.add("hitstream-liked"); };
        b.setAttribute("aria-pressed", "false");
        if (liked) mark();
        b.addEventListener("click", function () {
          if (b.getAttribute("aria-pressed") === "true") return;
          mark();
          try { w.localStorage.setItem(likeKey, "1"); } catch (e) {}
          if (skip) return;
          fetch(base + "/likes", { method: "POST", body: "{}", keepalive: true, headers: { "Content-Type": "text/plain" } })
            .then(function () { setTimeout(fill, 1500); }).catch(function () {});
        });
      })(btns[i]);
    };
    send("/hits");
    var ready = function () { wire(); fill(); setTimeout(fill, 1500); };
    if (d.readyState === "loading") d.addEventListener("DOMContentLoaded", ready); else ready();
  } catch (e) { /* never break the host page */ }
})(window, document);
