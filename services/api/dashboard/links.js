// mcrelay dashboard, links: each link's ways and flows with their counters (GET /api/v1/stats,
// `links`) and the busiest 5-tuples now (GET /api/v1/flows/top), every 2 s while the board is
// shown, and at once after the editor (editor.js, kind "link") wrote one. A file of its own
// beside dashboard.js; every value from the relay goes in as text.
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

  /** A cell that also carries its number (data-value), as the rules table's do. */
  function count(cls, n, text) {
    const td = el("td", cls, text ?? fmt.format(n));
    td.dataset.value = String(n);
    return td;
  }
  /** Edit and Delete, as on the rules card (editor.js acts on data-action, data-kind, data-id). */
  function actions(l) {
    const b = (action, cls, text) => {
      const e = el("button", cls, text);
      e.type = "button";
      Object.assign(e.dataset, { action, kind: "link", id: l.id, label: l.name ?? l.id });
      return e;
    };
    return el("td", "row-actions", b("edit", "small", "Edit"), b("delete", "small danger", "Delete"));
  }

  /** The rows shown, by link, direction and flow: redrawn in place, so a button under the
   *  pointer (Edit, Delete) is the same element from one refresh to the next. */
  const shown = new Map();

  function renderLinks(links) {
    const rows = [];
    for (const l of links) {
      let first = true;
      for (const dir of ["aToB", "bToA"]) {
        const w = l[dir];
        for (const [flow, c] of [[null, w], ...w.flows.map((f) => [f.name, f])]) {
          const dropped = Object.values(c.drops).reduce((a, n) => a + n, 0);
          const tr = el("tr", null,
            el("td", null, el("span", "name", l.name ?? l.id)),
            el("td", null, el("span", `badge ${l.state}`, l.state)),
            el("td", null, dir === "aToB" ? "a → b" : "b → a"),
            el("td", null, flow ?? el("span", "muted", "(its own)")),
            count("num rx", c.rxPackets),
            count("num tx", c.txPackets),
            count(`drops${c.drops.impairment || c.drops.pool_exhausted ? " warn" : ""}`, dropped, drops(c.drops)),
            first ? actions(l) : el("td", null));
          first = false;
          tr.dataset.link = l.id;
          tr.dataset.direction = dir;
          if (flow) tr.dataset.flow = flow;
          tr.dataset.key = JSON.stringify([l.id, dir, flow, l.name ?? l.id]);
          const old = shown.get(tr.dataset.key);
          if (old && old.cells.length === tr.cells.length) {
            // The counters and state change; the actions cell (its buttons) stays as it is.
            const n = tr.cells.length - 1;
            for (let i = 0; i < n; i++) old.cells[i].replaceWith(tr.cells[0]); // (moving a cell takes it out of tr)
            rows.push(old);
          } else rows.push(tr);
        }
      }
    }
    shown.clear();
    for (const tr of rows) shown.set(tr.dataset.key, tr);
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

  async function refresh() {
    const token = localStorage.getItem(KEY);
    if (!token || $("board").hidden) return;
    try {
      const [stats, top] = await Promise.all([get("/api/v1/stats", token), get("/api/v1/flows/top?limit=10", token)]);
      if (stats) renderLinks(stats.links);
      if (top) renderTop(top);
      // Shown whenever the relay answers, links or none: links are added from here.
      $("links-card").hidden = !stats;
    } catch {
      // the board's own connection state says what is wrong
    }
  }

  async function poll() {
    await refresh();
    setTimeout(poll, EVERY_MS);
  }
  // The editor wrote a link (or a rule): show it now, not at the next tick.
  document.addEventListener("mcrelay-changed", () => void refresh());
  poll();
})();
