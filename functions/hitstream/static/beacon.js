/* hitstream beacon: the readable source. What GET /beacon.js serves is beacon.min.js, made from this file by
   `make beacon` (tests/jsmin.py; tests/unit/test_static_assets.py checks it is up to date and ≤ 2 KB as served).
   The minifier does not rename anything, so the names here are short and the comments say what they are.

   Embed: <script src="https://API/beacon.js" data-slug="my-article" data-site="blog.example.com" defer></script>
   * One request per view: one hit, to the origin the script came from, with ?site= (data-site, else the page's
     hostname). Body: referrer and the page's utm_source / utm_medium / utm_campaign. No cookies.
   * Without counters on the page the hit goes by navigator.sendBeacon (text/plain, no CORS preflight), falling
     back to fetch(..., {keepalive: true}). With counters ([data-hitstream="hits|visitors|likes"]) it goes by fetch
     with "counts": true, and the 202 answer carries the article's all-time numbers, which fill the counters; if it
     carries none, one GET /statistics/{slug} does. Those numbers predate this view's hit, so hits shows one more.
   * [data-hitstream-like] becomes a like button (aria-pressed; a like a day per article, remembered locally).
   * Owner opt-out: localStorage["hitstream:ignore"] = "1" sends nothing (the counters still show).
   * Never throws into the host page. (".catch(Object)": Object is a no-op function that exists everywhere.)
   * Modern JavaScript (arrow functions, let): every browser that has fetch keepalive has these. */
((w, d, l) => {
  try {
    if (w.__hitstream) return; // embedded twice: still one hit
    w.__hitstream = 1;
    let s = d.currentScript, // set for classic scripts, including defer/async and injected ones
      A = k => s.getAttribute("data-" + k),
      // localStorage may be missing or throw (privacy modes): then nothing is remembered
      S = (k, v) => {
        try {
          return v ? localStorage.setItem(k, v) : localStorage.getItem(k);
        } catch {}
      },
      // Fit the slug rule ^[A-Za-z0-9][A-Za-z0-9._~-]{0,199}$; a valid data-slug passes unchanged.
      F = v => (v || "").replace(/[^\w.~-]+/g, "-").replace(/^[^A-Za-z0-9]+/, "").slice(0, 200),
      slug = F(A("slug")) || F(l.pathname.replace(/^\/+|\/+$/g, "")) || "index",
      site = A("site") || l.hostname,
      q = site ? "?site=" + encodeURIComponent(site) : "", // a file: page has no hostname: the default site
      api = new URL(s.src, d.baseURI).origin + "/statistics/" + slug,
      X = S("hitstream:ignore") == "1", // the owner opted out
      K = "hitstream:liked:" + slug + ":" + new Date().toISOString().slice(0, 10), // liked today, remembered
      u = new URLSearchParams(l.search),
      R = "aria-pressed",
      b = { referrer: d.referrer.slice(0, 500) }, // the API keeps only the referrer's hostname
      E = (sel, f) => d.querySelectorAll(sel).forEach(f),
      // Fill the counters from {hits, visitors, likes}
      N = n =>
        E("[data-hitstream]", e => {
          let v = n[e.getAttribute("data-hitstream")];
          if (v >= 0) e.textContent = v.toLocaleString();
        }),
      J = r => r.json(),
      G = () => fetch(api + q).then(J).then(N).catch(Object),
      // POST a hit or like (k); with a callback t, by fetch, whose JSON answer goes to t (a failure falls back to G)
      P = (k, x, t) => {
        try {
          x = JSON.stringify(x || {});
          if (!t && navigator.sendBeacon(api + k + q, x)) return;
          fetch(api + k + q, { method: "POST", body: x, keepalive: true }) // a string body is text/plain
            .then(J)
            .then(t || Object)
            .catch(t ? G : Object);
        } catch {}
      },
      // The view's hit, once the page is ready (counters on the page change how it is sent)
      H = () => {
        let c = d.querySelector("[data-hitstream]");
        if (X) return c && G();
        if (!c) return P("/hits", b);
        b.counts = true;
        P("/hits", b, n => (n.hits >= 0 ? (n.hits++, N(n)) : G()));
      },
      // Page ready: like buttons, then the hit
      Y = () => {
        try {
          E("[data-hitstream-like]", e => {
            let on = () => e.setAttribute(R, "true"); // style [data-hitstream-like][aria-pressed=true]
            e.setAttribute(R, "false");
            if (e.tagName != "BUTTON") {
              e.setAttribute("role", "button");
              e.tabIndex = 0;
              e.addEventListener("keydown", k => {
                if (k.key == "Enter" || k.key == " ") {
                  k.preventDefault();
                  e.click();
                }
              });
            }
            if (S(K)) on();
            e.addEventListener("click", () => {
              if (e.getAttribute(R) == "true") return;
              on();
              S(K, "1");
              if (X) return;
              P("/likes");
              E('[data-hitstream="likes"]', c => {
                let n = parseInt(c.textContent.replace(/\D/g, ""), 10);
                if (n >= 0) c.textContent = (n + 1).toLocaleString();
              });
            });
          });
          // A prerendered page counts only once it is actually shown.
          d.prerendering ? d.addEventListener("prerenderingchange", H, { once: true }) : H();
        } catch {}
      };
    ["utm_source", "utm_medium", "utm_campaign"].forEach(k => u.get(k) && (b[k] = u.get(k).slice(0, 200)));
    d.readyState == "loading" ? d.addEventListener("DOMContentLoaded", Y) : Y();
  } catch {
    /* never break the host page */
  }
})(window, document, location);
