// mcrelay dashboard, the fleet: every relay that shares this relay's store (GET /api/v1/nodes,
// every 2 s while the board is shown), with its state and how many of its rules are in each
// state. A file of its own beside dashboard.js, sharing nothing with it but the stored token and
// the page's classes. Every value from the relay is put in the page as text (never as HTML).
"use strict";
(() => {
  const KEY = "mcrelay.token";
  const EVERY_MS = 2000;
  const STATES = ["active", "waiting", "down", "error", "pending"];
  const $ = (id) => document.getElementById(id);

  function el(tag, cls, ...children) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    for (const c of children) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
    return e;
  }
  const ago = (ms) => (ms < 1000 ? "now" : ms < 60_000 ? `${Math.round(ms / 1000)} s ago` : ms < 3_600_000 ? `${Math.round(ms / 60_000)} min ago` : `${Math.round(ms / 3_600_000)} h ago`);
  const badge = (state) => el("span", `badge ${state === "up" ? "up" : state === "stale" ? "waiting" : "down"}`, state);

  function render(nodes) {
    const body = $("nodes").querySelector("tbody");
    body.replaceChildren(...nodes.map((n) => {
      const rules = STATES.filter((s) => n.rules[s] > 0).map((s) => `${n.rules[s]} ${s}`).join(", ") || "none";
      const addrs = n.interfaces.filter((i) => i.addresses.length).map((i) => `${i.name} ${i.addresses.join(" ")}`).join(", ");
      const tr = el("tr", null,
        el("td", null, el("span", "name", n.name), n.self ? el("div", "id", "this relay") : null),
        el("td", null, badge(n.state)),
        el("td", n.rules.error || n.rules.pending ? "warn" : null, rules),
        el("td", null, n.version),
        el("td", "num", ago(n.lastSeenMs)),
        el("td", null, new Date(n.startedAt).toLocaleString()),
        el("td", "reason", addrs));
      tr.dataset.node = n.name;
      tr.dataset.state = n.state;
      return tr;
    }));
    $("nodes-empty").hidden = nodes.length > 0;
    $("nodes-count").textContent = `${nodes.filter((n) => n.state === "up").length} of ${nodes.length} up`;
  }

  async function poll() {
    const token = localStorage.getItem(KEY);
    if (token && !$("board").hidden) {
      try {
        const res = await fetch("/api/v1/nodes", { headers: { authorization: `Bearer ${token}` }, cache: "no-store" });
        const body = await res.json();
        if (res.ok) render(body.nodes);
        else $("nodes-count").textContent = body.error || `HTTP ${res.status}`;
      } catch (e) {
        $("nodes-count").textContent = `not reachable: ${e.message}`;
      }
    }
    setTimeout(poll, EVERY_MS);
  }
  poll();
})();
