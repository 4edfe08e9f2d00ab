// mcrelay dashboard, links: each link's ways and flows with their counters (GET /api/v1/stats,
// `links`) and the busiest 5-tuples now (GET /api/v1/flows/top), every 2 s while the board is
// shown. A file of its own beside dashboard.js; every value from the relay goes in as text.
"use strict";
(() => {
  const KEY = "mcrelay.token";
  const EVERY_MS = 2000;
  const $ = (id) => document.getElementById(id);
  const fmt = new Intl.NumberFormat();

  function el(tag, cls, ...children) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    for (const c of children) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
    return e;
  }
  const drops = (d) => Object.entries(d).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${fmt.format(n)}`).join(", ") || "—";
  const rate = (bps) => (bps >= 1e9 ? `${(bps / 1e9).toFixed(2)} Gbit/s` : bps >= 1e6 ? `${(bps / 1e6).toFixed(2)} Mbit/s` : `${(bps / 1e3).toFixed(1)} kbit/s`);

  function renderLinks(links) {
    const rows = [];
    for (const l of links) {
      for (const dir of ["aToB", "bToA"]) {
        const w = l[dir];
        for (const [flow, c] of [[null, w], ...w.flows.map((f) => [f.name, f])]) {
          const tr = el("tr", null,
            el("td", null, el("span", "name", l.name ?? l.id)),
            el("td", null, el("span", `badge ${l.state}`, l.state)),
            el("td", null, dir === "aToB" ? "a → b" : "b → a"),
            el("td", null, flow ?? el("span", "muted", "(its own)")),
            el("td", "num", fmt.format(c.rxPackets)),
            el("td", "num", fmt.format(c.txPackets)),
            el("td", c.drops.impairment || c.drops.pool_exhausted ? "warn" : null, drops(c.drops)));
          tr.dataset.link = l.id;
          tr.dataset.direction = dir;
          if (flow) tr.dataset.flow = flow;
          rows.push(tr);
        }
      }
    }
    $("links").querySelector("tbody").replaceChildren(...rows);
    $("links-empty").hidden = links.length > 0;
  }

  function renderTop(top) {
    const port = (p) => (p === null ? "" : `:${p}`);
    $("flowtop").querySelector("tbody").replaceChildren(...top.flows.map((f) => el("tr", null,
      el("td", null, f.link), el("td", null, f.direction === "aToB" ? "a → b" : "b → a"), el("td", null, f.flow ?? el("span", "muted", "—")),
      el("td", null, f.protocol), el("td", null, `${f.src}${port(f.sport)}`), el("td", null, `${f.dst}${port(f.dport)}`),
      el("td", "num", fmt.format(Math.round(f.pps))), el("td", "num", rate(f.bps)))));
    $("flowtop-empty").hidden = top.flows.length > 0;
  }

  async function get(path, token) {
    const res = await fetch(path, { headers: { authorization: `Bearer ${token}` }, cache: "no-store" });
    return res.ok ? res.json() : null;
  }

  async function poll() {
    const token = localStorage.getItem(KEY);
    if (token && !$("board").hidden) {
      try {
        const [stats, top] = await Promise.all([get("/api/v1/stats", token), get("/api/v1/flows/top?limit=10", token)]);
        if (stats) renderLinks(stats.links);
        if (top) renderTop(top);
        $("links-card").hidden = !(stats && stats.links.length);
      } catch {
        // the board's own connection state says what is wrong
      }
    }
    setTimeout(poll, EVERY_MS);
  }
  poll();
})();
