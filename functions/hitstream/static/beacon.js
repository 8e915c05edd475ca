/* hitstream beacon. Embed: <script src="https://API/beacon.js" data-slug="my-article" defer></script>
   Sends one hit; fills [data-hitstream="hits|visitors|likes"]; makes [data-hitstream-like] a like button.
   No cookies. (".catch(Object)" swallows an error: Object is a no-op function that exists everywhere.) Owner opt-out: localStorage["hitstream:ignore"] = "1". Never throws into the host page.
   Kept under 2 KB minified (tests/unit/test_static_assets.py measures it). */
(function (w, d) {
  try {
    if (w.__hitstream) return; // embedded twice: still one hit
    w.__hitstream = 1;
    var s = d.currentScript, // set for classic scripts, including defer/async and injected ones
      store = function (k, v) {
        try {
          return v ? localStorage.setItem(k, v) : localStorage.getItem(k);
        } catch (e) {}
      },
      // Fit the slug rule ^[A-Za-z0-9][A-Za-z0-9._~-]{0,199}$; a valid data-slug passes unchanged.
      fit = function (v) {
        return (v || "").replace(/[^\w.~-]+/g, "-").replace(/^[^A-Za-z0-9]+/, "").slice(0, 200);
      },
      slug = fit(s.getAttribute("data-slug")) || fit(location.pathname.replace(/^\/+|\/+$/g, "")) || "index",
      api = new URL(s.src, d.baseURI).origin + "/statistics/" + slug,
      skip = store("hitstream:ignore") == "1",
      liked = "hitstream:liked:" + slug + ":" + new Date().toISOString().slice(0, 10),
      all = function (sel, f) {
        [].forEach.call(d.querySelectorAll(sel), f);
      },
      send = function (kind) {
        if (skip) return;
        try {
          if (navigator.sendBeacon(api + kind, "{}")) return;
        } catch (e) {}
        try {
          fetch(api + kind, { method: "POST", body: "{}", keepalive: true, headers: { "Content-Type": "text/plain" } }).catch(Object);
        } catch (e) {}
      },
      fill = function () {
        try {
          d.querySelector("[data-hitstream]") &&
            fetch(api)
              .then(function (r) {
                return r.json();
              })
              .then(function (n) {
                all("[data-hitstream]", function (e) {
                  var v = n[e.getAttribute("data-hitstream")];
                  if (typeof v == "number") e.textContent = v.toLocaleString();
                });
              })
              .catch(Object);
        } catch (e) {}
      },
      hit = function () {
        send("/hits");
      },
      ready = function () {
        all("[data-hitstream-like]", function (b) {
          var on = function () {
            b.setAttribute("aria-pressed", "true"); // style it with [data-hitstream-like][aria-pressed="true"]
          };
          b.setAttribute("aria-pressed", "false");
          if (b.tagName != "BUTTON") {
            b.setAttribute("role", "button");
            b.tabIndex = 0;
            b.addEventListener("keydown", function (e) {
              if (e.key == "Enter" || e.key == " ") {
                e.preventDefault();
                b.click();
              }
            });
          }
          if (store(liked)) on();
          b.addEventListener("click", function () {
            if (b.getAttribute("aria-pressed") == "true") return;
            on();
            store(liked, "1");
            if (skip) return;
            send("/likes");
            all('[data-hitstream="likes"]', function (e) {
              var n = parseInt(e.textContent.replace(/\D/g, ""), 10);
              if (n >= 0) e.textContent = (n + 1).toLocaleString(); // optimistic; the refill confirms
            });
            setTimeout(fill, 2500);
          });
        });
        fill();
        setTimeout(fill, 2500); // again once our own hit is counted (within 2 s)
      };
    // A prerendered page counts only once it is actually shown.
    d.prerendering ? d.addEventListener("prerenderingchange", hit, { once: true }) : hit();
    d.readyState == "loading" ? d.addEventListener("DOMContentLoaded", ready) : ready();
  } catch (e) {
    /* never break the host page */
  }
})(window, document);
