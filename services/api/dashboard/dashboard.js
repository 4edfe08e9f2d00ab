// mcrelay dashboard: reads /api/v1/events (Server-Sent Events, one `stats` event a second) and
// draws it. Plain script, no build step, no dependencies. Every value from the relay is put in
// the page as text (never as HTML).
"use strict";
(() => {
  const KEY = "mcrelay.token";
  const HISTORY = 120; // points (seconds) kept per series
  const $ = (id) => document.getElementById(id);

  /** el("td", {class: "num"}, "12", child…) */
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") e.className = v;
      else if (k === "title") e.title = v;
      else e.setAttribute(k, String(v));
    }
    for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) e.append(c instanceof Node ? c : String(c));
    return e;
  }

  const nf = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
  const int = (n) => nf.format(Math.round(n || 0));
  function bits(n) {
    n = n || 0;
    const u = ["bit/s", "kbit/s", "Mbit/s", "Gbit/s", "Tbit/s"];
    let i = 0;
    while (n >= 1000 && i < u.length - 1) { n /= 1000; i++; }
    return `${i === 0 ? Math.round(n) : n.toFixed(n < 10 ? 2 : n < 100 ? 1 : 0)} ${u[i]}`;
  }
  function short(n) {
    n = n || 0;
    if (n >= 1e9) return (n / 1e9).toFixed(1) + "G";
    if (n >= 1e6) return (n / 1e6).toFixed(1) + "M";
    if (n >= 1e4) return (n / 1e3).toFixed(0) + "k";
    if (n >= 1e3) return (n / 1e3).toFixed(1) + "k";
    return String(Math.round(n));
  }
  // µs → "18 µs", "1.2 ms"; null (nothing sent in the window) → "—"
  const micros = (us) => (typeof us !== "number" ? "—" : us < 1000 ? `${us < 10 ? us.toFixed(1) : Math.round(us)} µs` : `${(us / 1000).toFixed(us < 10_000 ? 2 : 1)} ms`);
  const sum = (o) => Object.values(o || {}).reduce((a, n) => a + (typeof n === "number" ? n : 0), 0);
  const nonZero = (o) => Object.entries(o || {}).filter(([, n]) => typeof n === "number" && n > 0);
  // IPv6 in brackets; a rule of another protocol has no port (its input names the protocol)
  const addr = (x) => `${x.interface}${x.vlan ? ` vlan ${x.vlan}` : ""} ${x.port === undefined ? x.group : x.group.includes(":") ? `[${x.group}]:${x.port}` : `${x.group}:${x.port}`}${x.protocol && x.protocol !== "udp" ? ` ${x.protocol}` : ""}`;

  // ---- token ------------------------------------------------------------------------------
  let token = localStorage.getItem(KEY) || "";
  let es = null;
  let lastEvent = 0;

  function showLogin(message) {
    if (es) { es.close(); es = null; }
    $("board").hidden = true;
    $("logout").hidden = true;
    $("login").hidden = false;
    $("login-error").textContent = message || "";
    setConn("off", "not connected");
    $("token").focus();
  }

  /** true: the token is accepted; a string: why not. */
  async function check(t) {
    try {
      const res = await fetch("/api/v1/stats", { headers: { authorization: `Bearer ${t}` }, cache: "no-store" });
      if (res.status === 401) return "The relay does not accept this token.";
      return true;
    } catch (e) {
      return `Cannot reach the relay's API: ${e.message}`;
    }
  }

  $("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const t = $("token").value.trim();
    if (!t) return;
    $("connect").disabled = true;
    const ok = await check(t);
    $("connect").disabled = false;
    if (ok !== true) { $("login-error").textContent = ok; return; }
    token = t;
    localStorage.setItem(KEY, t);
    $("token").value = "";
    connect();
  });
  $("logout").addEventListener("click", () => {
    localStorage.removeItem(KEY);
    token = "";
    showLogin("");
  });

  function setConn(cls, text) {
    const c = $("conn");
    c.className = `conn ${cls}`;
    c.textContent = text;
  }

  function connect() {
    if (es) es.close();
    $("login").hidden = true;
    $("board").hidden = false;
    $("logout").hidden = false;
    setConn("wait", "connecting…");
    es = new EventSource(`/api/v1/events?token=${encodeURIComponent(token)}`);
    es.addEventListener("open", () => setConn("live", "live"));
    es.addEventListener("stats", (m) => {
      lastEvent = Date.now();
      setConn("live", "live");
      try { render(JSON.parse(m.data)); } catch (e) { console.error(e); }
    });
    es.addEventListener("error", async () => {
      if (!es || es.readyState !== EventSource.CLOSED) { setConn("wait", "reconnecting…"); return; }
      // Closed for good (a non-200 answer): a wrong token, or the API is gone. Find out which.
      const ok = await check(token);
      if (ok === "The relay does not accept this token.") return showLogin("The relay no longer accepts the stored token.");
      setConn("off", "disconnected, retrying…");
      setTimeout(() => token && connect(), 2000);
    });
  }

  setInterval(() => {
    if (es && lastEvent && Date.now() - lastEvent > 4000 && es.readyState === EventSource.OPEN) setConn("wait", `no data for ${Math.round((Date.now() - lastEvent) / 1000)} s`);
  }, 1000);

  // ---- history and charts -----------------------------------------------------------------
  const series = new Map(); // key -> {rx: [], tx: []}
  function push(key, rx, tx) {
    let s = series.get(key);
    if (!s) series.set(key, (s = { rx: [], tx: [] }));
    s.rx.push(rx); s.tx.push(tx);
    if (s.rx.length > HISTORY) { s.rx.shift(); s.tx.shift(); }
    return s;
  }

  const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

  /** Lines of rx and tx on one scale; the newest point at the right edge. */
  function draw(canvas, s, opts) {
    const dpr = window.devicePixelRatio || 1;
    const w = opts.width || canvas.clientWidth || 300;
    const h = opts.height;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
      if (opts.width) canvas.style.width = `${w}px`;
      canvas.style.height = `${h}px`;
    }
    const g = canvas.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    const padL = opts.axis ? 44 : 1, padR = 2, padT = 4, padB = opts.axis ? 16 : 2;
    const cw = w - padL - padR, ch = h - padT - padB;
    const max = Math.max(1, ...s.rx, ...s.tx) * 1.1;
    // The big chart keeps a fixed time axis; a sparkline stretches what it has (at least 30 s).
    const span = opts.axis ? HISTORY : Math.max(30, s.rx.length);
    const x = (i, n) => padL + cw - (n - 1 - i) * (cw / (span - 1));
    const y = (v) => padT + ch - (v / max) * ch;
    if (opts.axis) {
      g.strokeStyle = css("--line"); g.fillStyle = css("--muted"); g.lineWidth = 1;
      g.font = "11px system-ui, sans-serif"; g.textAlign = "right"; g.textBaseline = "middle";
      for (const f of [0, 0.5, 1]) {
        const yy = Math.round(y(f * max / 1.1)) + 0.5;
        g.beginPath(); g.moveTo(padL, yy); g.lineTo(w - padR, yy); g.stroke();
        g.fillText(short(f * max / 1.1), padL - 6, yy);
      }
      g.textAlign = "center"; g.textBaseline = "alphabetic";
      for (const [sec, label] of [[HISTORY - 1, "−2 min"], [60, "−1 min"], [0, "now"]]) {
        const xx = padL + cw - sec * (cw / (HISTORY - 1));
        g.textAlign = sec === 0 ? "right" : sec === HISTORY - 1 ? "left" : "center";
        g.fillText(label, xx, h - 3);
      }
    }
    for (const [key, color] of [["rx", css("--rx")], ["tx", css("--tx")]]) {
      const v = s[key];
      if (!v.length) continue;
      g.strokeStyle = color; g.lineWidth = opts.axis ? 2 : 1.5; g.lineJoin = "round";
      g.beginPath();
      v.forEach((p, i) => (i ? g.lineTo(x(i, v.length), y(p)) : g.moveTo(x(i, v.length), y(p))));
      g.stroke();
    }
  }

  // ---- rendering --------------------------------------------------------------------------
  let prevDrops = null; // {overall: {}, rules: {id: {}}, t}

  function badge(state, kind) {
    const s = String(state).toLowerCase();
    // Interfaces: the kernel's operstate; only up and down get a colour (lo is "unknown").
    const cls = kind === "if" ? (s === "up" || s === "down" ? s : "") : s;
    return el("span", { class: `badge ${cls}` }, state);
  }

  // Frames that were never the relay's business: counted, but no cause for alarm.
  // (a redundant rule drops every copy after the first: that is what it is for)
  const BENIGN = new Set(["no_rule", "outgoing", "redundant_copy"]);
  // Each reason's description, from the relay's one definition (shm/layout.ts), put into the page.
  const WHY = JSON.parse(document.getElementById("drop-reasons").textContent);

  function fill(tbody, rows) {
    tbody.replaceChildren(...rows);
  }

  function render(d) {
    const st = d.status;
    const rules = d.rules || [];
    const workers = d.workers || [];

    // header
    const relay = $("relay");
    relay.replaceChildren(
      st ? badge(st.state) : badge("unreachable"),
      st ? el("span", {}, `supervisor pid ${st.pid}`) : el("span", {}, "supervisor not answering"),
      el("span", {}, `${workers.length || (st ? st.workers.length / 2 : 0)} worker pair${workers.length === 1 ? "" : "s"}`),
      el("span", { class: "updated" }, `updated ${new Date(d.time).toLocaleTimeString()}`),
    );

    // totals
    const tot = rules.reduce((a, r) => ({ rxPps: a.rxPps + r.rxPps, txPps: a.txPps + r.txPps, rxBps: a.rxBps + r.rxBps, txBps: a.txBps + r.txBps }),
      { rxPps: 0, txPps: 0, rxBps: 0, txBps: 0 });
    const total = push("__total", tot.rxPps, tot.txPps);
    const now = Date.now();
    const dt = prevDrops ? Math.max(0.2, (now - prevDrops.t) / 1000) : 0;
    const overallRate = (k) => (prevDrops && k in prevDrops.overall ? Math.max(0, (d.drops[k] - prevDrops.overall[k]) / dt) : 0);
    const dropTotal = sum(d.drops);
    const dropRate = Object.keys(d.drops || {}).reduce((a, k) => a + overallRate(k), 0);
    const badRate = Object.keys(d.drops || {}).filter((k) => !BENIGN.has(k)).reduce((a, k) => a + overallRate(k), 0)
      + rules.reduce((a, r) => a + sum(r.drops) - (prevDrops && prevDrops.rules[r.id] ? sum(prevDrops.rules[r.id]) : sum(r.drops)), 0);
    const count = (s) => rules.filter((r) => r.state === s).length;
    const stat = (cls, label, value, sub, id) => el("div", { class: `stat ${cls}`, "data-stat": id }, el("div", { class: "label" }, label), el("div", { class: "value" }, value), el("div", { class: "sub" }, sub));
    $("summary").replaceChildren(
      stat("rx", "RX packets/s", int(tot.rxPps), `${int(rules.reduce((a, r) => a + r.rxPackets, 0))} total`, "rx-pps"),
      stat("tx", "TX packets/s", int(tot.txPps), `${int(rules.reduce((a, r) => a + r.txPackets, 0))} total`, "tx-pps"),
      stat("rx", "RX bit/s", bits(tot.rxBps), "payload, all rules", "rx-bps"),
      stat("tx", "TX bit/s", bits(tot.txBps), "payload, all outputs", "tx-bps"),
      stat(badRate > 0 ? "bad" : "", "Drops", int(dropTotal), dropRate > 0 ? `${int(dropRate)}/s now${badRate > 0 ? "" : ", none for a rule"}` : "none now", "drops"),
      stat("", "Rules", `${count("active")} / ${rules.length}`, `active · ${count("waiting")} waiting · ${count("down")} down`, "rules"),
    );
    $("chart-scale").textContent = `· peak ${int(Math.max(0, ...total.rx, ...total.tx))} pps`;
    draw($("total-chart"), total, { height: 90, axis: true });

    // rules
    $("rules-empty").hidden = rules.length > 0;
    fill($("rules").tBodies[0], rules.map((r) => {
      const s = push(r.id, r.rxPps, r.txPps);
      const canvas = el("canvas", { class: "spark" });
      const route = el("div", { class: "route" });
      if (r.inputs) {
        // a redundant rule: each path, its state and what it brought
        r.inputs.forEach((inp, i) => {
          const p = (r.pathStats || [])[i];
          const state = !p ? "" : p.up ? " · up" : " · silent";
          const counts = p ? ` · ${int(p.unique)} first, ${int(p.repaired)} repaired, ${int(p.lost)} lost${p.late ? `, ${int(p.late)} late` : ""}` : "";
          route.append(el("div", { class: "path", "data-path": i, title: p ? `packets ${int(p.packets)}, duplicates ${int(p.duplicates)}, silent ${p.silences}×, lag up to ${p.maxLagMs} ms` : "" },
            el("span", { class: "id" }, `path ${i} `), addr(inp) + (inp.source ? ` from ${inp.source}` : ""), el("span", { class: p && !p.up ? "reason" : "id" }, state + counts)));
        });
        if (r.sequenceLost) route.append(el("div", { class: "reason" }, `${int(r.sequenceLost)} lost on every path`));
      }
      if (r.input) {
        if (!r.inputs) route.append(el("div", {}, addr(r.input) + (r.input.source ? ` from ${r.input.source}` : "")));
        for (const o of r.outputs || []) route.append(el("div", {}, el("span", { class: "arrow" }, "→ "), `${addr(o)}`, el("span", { class: "id" }, ` ttl ${o.ttl}${o.dscp ? ` dscp ${o.dscp}` : ""}`)));
      }
      const drops = sum(r.drops);
      const row = el("tr", { "data-rule": r.id },
        el("td", {}, el("div", { class: "name" }, r.name || r.id), r.name && r.name !== r.id ? el("div", { class: "id" }, r.id) : null),
        el("td", {}, badge(r.state), r.reason ? el("div", { class: "reason" }, r.reason) : null),
        el("td", {}, route),
        el("td", { class: "num rx rx-pps", "data-value": r.rxPps }, int(r.rxPps)),
        el("td", { class: "num tx tx-pps", "data-value": r.txPps }, int(r.txPps)),
        el("td", { class: "num rx-bps", "data-value": r.rxBps }, bits(r.rxBps)),
        el("td", { class: "num tx-bps", "data-value": r.txBps }, bits(r.txBps)),
        el("td", { class: `num drops${drops > 0 ? " warn" : ""}`, "data-value": drops, title: nonZero(r.drops).map(([k, n]) => `${k} ${n}`).join(", ") || "no drops" }, int(drops)),
        el("td", { class: "num latency", "data-p50": r.latencyP50Us ?? "", "data-p99": r.latencyP99Us ?? "" },
          r.latencyP50Us === null || r.latencyP50Us === undefined ? el("span", { class: "muted" }, "—") : `${micros(r.latencyP50Us)} / ${micros(r.latencyP99Us)}`),
        el("td", {}, canvas),
        el("td", { class: "row-actions" },
          el("button", { type: "button", class: "small", "data-action": "edit", "data-kind": "rule", "data-id": r.id }, "Edit"),
          el("button", { type: "button", class: "small danger", "data-action": "delete", "data-kind": "rule", "data-id": r.id, "data-label": r.name || r.id }, "Delete")),
      );
      queueMicrotask(() => draw(canvas, s, { width: 150, height: 32 }));
      return row;
    }));
    // forget series of deleted rules
    for (const k of series.keys()) if (k !== "__total" && !rules.some((r) => r.id === k)) series.delete(k);

    // drops
    const box = el("div", { class: "drops" });
    const list = (entries, rate) => el("dl", {}, entries.flatMap(([k, n]) => {
      const rt = rate ? rate(k) : 0;
      return [el("dt", { title: WHY[k] || "" }, k), el("dd", {}, int(n)), el("dd", { class: `rate${BENIGN.has(k) ? " benign" : ""}` }, rt > 0 ? `+${int(rt)}/s` : "")];
    }));
    box.append(el("h3", {}, "All workers"));
    const overall = nonZero(d.drops);
    box.append(overall.length ? list(overall.sort((a, b) => b[1] - a[1]), overallRate) : el("div", { class: "none" }, "no drops"));
    box.append(el("h3", {}, "Per rule"));
    const perRule = rules.filter((r) => sum(r.drops) > 0);
    if (!perRule.length) box.append(el("div", { class: "none" }, rules.length ? "no rule dropped a packet" : "no rules"));
    for (const r of perRule) {
      const prev = prevDrops && prevDrops.rules[r.id];
      box.append(el("div", { class: "muted" }, r.name || r.id),
        list(nonZero(r.drops), (k) => (prev && k in prev ? Math.max(0, (r.drops[k] - prev[k]) / dt) : 0)));
    }
    $("drops").replaceChildren(box);
    prevDrops = { overall: { ...(d.drops || {}) }, rules: Object.fromEntries(rules.map((r) => [r.id, { ...r.drops }])), t: now };

    // interfaces
    const ifs = d.interfaces;
    $("interfaces-empty").hidden = !!ifs;
    const ruleName = (id) => { const r = rules.find((x) => x.id === id); return r && r.name ? r.name : id; };
    fill($("interfaces").tBodies[0], (ifs || []).map((i) => el("tr", { "data-interface": i.name },
      el("td", { class: "name" }, i.name),
      el("td", {}, badge(i.state, "if")),
      el("td", { class: "num" }, i.mtu),
      el("td", { class: "route" }, i.addresses.length ? i.addresses.join(", ") : el("span", { class: "muted" }, "none")),
      el("td", { class: "num", title: i.rules.map(ruleName).join(", ") }, i.rules.length),
      el("td", { class: i.waiting.length ? "warn" : "muted" }, i.waiting.length ? i.waiting.map(ruleName).join(", ") : "—"),
    )));

    // workers: one row per ingress/egress pair
    $("workers-empty").hidden = workers.length > 0;
    // Loop utilisation (0–1): the API's rates give ingressUtilisation/egressUtilisation; older or
    // newer relays may carry it in the counters as ingress.utilisation/egress.utilisation.
    const utilOf = (w, role) => (typeof w[`${role}Utilisation`] === "number" ? w[`${role}Utilisation`] : w[role] && w[role].utilisation);
    const util = workers.some((w) => typeof utilOf(w, "ingress") === "number" || typeof utilOf(w, "egress") === "number");
    const head = ["Pair", "Ingress pid", "Egress pid", "Restarts", "RX pps", "TX pps", ...(util ? ["Ingress loop", "Egress loop"] : []), "Free slots", "In flight", "Kernel drops", "Send errors"];
    const numeric = new Set(["Restarts", "RX pps", "TX pps", "Free slots", "In flight", "Kernel drops", "Send errors"]);
    $("workers").tHead.replaceChildren(el("tr", {}, head.map((h) => el("th", { class: numeric.has(h) ? "num" : "" }, h))));
    const proc = (role, index) => (st ? st.workers.find((w) => w.role === role && w.index === index) : undefined);
    const utilCell = (v) => {
      if (typeof v !== "number") return el("td", { class: "muted" }, "—");
      const pct = v <= 1 ? v * 100 : v;
      const fillBar = el("i");
      fillBar.style.width = `${Math.min(100, pct).toFixed(0)}%`; // CSSOM: allowed by the page's CSP, a style attribute is not
      return el("td", {}, el("span", { class: `bar${pct >= 80 ? " hot" : ""}` }, fillBar), `${pct.toFixed(0)}%`);
    };
    fill($("workers").tBodies[0], workers.map((w) => {
      const i = proc("ingress", w.index), e = proc("egress", w.index);
      const rs = (i ? i.restarts : 0) + (e ? e.restarts : 0);
      return el("tr", { "data-worker": w.index },
        el("td", {}, w.index),
        el("td", {}, i ? i.pid : "—"),
        el("td", {}, e ? e.pid : "—"),
        el("td", { class: `num${rs ? " warn" : ""}` }, rs),
        el("td", { class: "num rx" }, int(w.rxPps)),
        el("td", { class: "num tx" }, int(w.txPps)),
        ...(util ? [utilCell(utilOf(w, "ingress")), utilCell(utilOf(w, "egress"))] : []),
        el("td", { class: "num" }, int(w.ingress.freeSlots)),
        el("td", { class: "num" }, int(w.egress.inflight)),
        el("td", { class: `num${w.ingress.drop_kernel_ring_full ? " warn" : ""}` }, int(w.ingress.drop_kernel_ring_full)),
        el("td", { class: `num${w.egress.drop_send_error ? " warn" : ""}` }, int(w.egress.drop_send_error)),
      );
    }));
  }

  window.addEventListener("resize", () => { const t = series.get("__total"); if (t) draw($("total-chart"), t, { height: 90, axis: true }); });

  // Rules and links are added, edited and deleted through the REST API with the same token; the
  // event stream shows a rule's result within a second, the Links card (links.js) at once.
  window.mcrelayEditor.mount({ token: () => token, unauthorized: (msg) => showLogin(msg),
    changed: () => document.dispatchEvent(new Event("mcrelay-changed")) });

  if (token) connect();
  else showLogin("");
})();
