// mcrelay dashboard: editing objects (rules and links; another kind is one more entry in KINDS). The
// form is built from the object's schema in the relay's own /openapi.json, so a field added to
// the schema appears here without a change to this file. The API judges every value; its field
// errors (422/409 `issues`, each with a path) are shown next to the field they name.
"use strict";
(() => {
  /**
   * What the page edits. schema: the name under components.schemas; path: the collection;
   * live: top-level fields that, while an existing object is edited, are applied as they change
   * (PATCH), so a slider acts on the running object; label: how one object is named; gone: what
   * deleting one does.
   */
  const KINDS = {
    rule: { schema: "Rule", path: "/api/v1/rules", live: ["impairment", "traceSampleRatio"], title: "rule",
      label: (o) => o.name || o.id, gone: "Its packets stop being relayed at once." },
    // A link's ways and flows act on the running link as they change: a PATCH replaces the
    // field given whole (aToB, bToA, or all the flows), which is what the form holds.
    link: { schema: "Link", path: "/api/v1/links", live: ["aToB", "bToA", "flows"], title: "link",
      label: (o) => o.name || o.id, gone: "Frames stop crossing between its interfaces at once." },
  };
  const LIVE_DELAY_MS = 250;

  const el = (tag, attrs, ...children) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else e.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) e.append(c instanceof Node ? c : String(c));
    return e;
  };
  /** ["outputs", 0, "ttl"] -> "outputs.0.ttl" (the data-path of the field's element) */
  const key = (path) => path.join(".");
  const shown = (path) => path.map((p) => (typeof p === "number" ? `[${p}]` : `.${p}`)).join("").replace(/^\./, "");

  let doc = null;
  async function schemaOf(kind) {
    if (!doc) {
      const res = await fetch("/openapi.json", { cache: "no-store" });
      if (!res.ok) throw new Error(`the relay's /openapi.json answered ${res.status}`);
      doc = await res.json();
    }
    return doc.components.schemas[KINDS[kind].schema];
  }
  /** A schema with a $ref followed. */
  const deref = (s) => (s && s.$ref ? doc.components.schemas[s.$ref.split("/").pop()] : s);
  /** What a live field emptied in the form is sent as: {} (no impairment), [] (no flows), 0. */
  const emptyOf = (s) => { s = deref(s); return s.type === "object" ? {} : s.type === "array" ? [] : 0; };

  /** A value for a JSON field's placeholder: the first named alternative of its entries. */
  function jsonExample(s) {
    const first = (deref(s.items).anyOf || []).map(deref).find((o) => o.enum);
    return first ? [first.enum[0]] : [];
  }

  /** What a field looks like, from its schema. */
  function widget(s) {
    s = deref(s);
    if (s.anyOf) {
      const enums = s.anyOf.flatMap((o) => deref(o).enum || []);
      const numeric = s.anyOf.some((o) => ["integer", "number"].includes(deref(o).type));
      return { kind: "mixed", enums, numeric };
    }
    if (s.type === "object") return { kind: "object" };
    if (s.type === "array") {
      const items = deref(s.items);
      if (items.type === "object") return { kind: "list" };
      // Entries of several shapes (a stage: its name, or an object with its parameters) are
      // written as JSON, so that none is lost when the form is sent back.
      if (items.anyOf) return { kind: "json" };
      return { kind: "choices", options: items.enum || [] };
    }
    if (s.type === "integer" || s.type === "number") {
      // A fraction or a span with both ends (loss 0–1, delayMs 0–10000) gets a slider.
      const slider = s.type === "number" && Number.isFinite(s.minimum) && Number.isFinite(s.maximum);
      return { kind: "number", slider, step: s.type === "integer" ? 1 : s.maximum <= 1 ? 0.01 : 1 };
    }
    return { kind: "text", options: s.enum };
  }

  /** The form's elements for value under schema s at path; every value-holding input has data-path. */
  function fields(s, value, path, required, onLive) {
    s = deref(s);
    const w = widget(s);
    const id = `f-${key(path).replace(/\./g, "-")}`;
    const last = path[path.length - 1];
    // An entry of a list is named after it: "output 1" in "outputs".
    const name = typeof last === "number" ? `${String(path[path.length - 2]).replace(/s$/, "")} ${last + 1}` : path.length ? String(last) : "";
    const err = el("div", { class: "field-error", "data-error-for": key(path), role: "alert" });
    if (w.kind === "object") {
      const box = el("fieldset", { class: `group depth-${Math.min(path.length, 2)}`, "data-group": key(path) });
      if (path.length) box.append(el("legend", { text: name }));
      box.append(err);
      const req = new Set(s.required || []);
      for (const [k, sub] of Object.entries(s.properties || {})) box.append(fields(sub, value ? value[k] : undefined, [...path, k], req.has(k), onLive));
      return box;
    }
    if (w.kind === "list") {
      const box = el("fieldset", { class: "group list", "data-group": key(path), "data-list": key(path) }, el("legend", { text: name }), err);
      const items = el("div", { class: "items" });
      const add = (v) => {
        const i = items.children.length;
        const item = el("div", { class: "item" }, fields(s.items, v, [...path, i], true, onLive));
        const rm = el("button", { type: "button", class: "small", "data-action": "remove-item", text: `remove ${name.replace(/s$/, "")} ${i + 1}` });
        rm.addEventListener("click", () => {
          if (items.children.length <= (s.minItems || 0)) return;
          const kept = collect(s, box, path).filter((_, j) => j !== i);
          items.replaceChildren();
          kept.forEach(add);
          onLive(path); // a removed entry (a flow) leaves the running object too
        });
        item.append(rm);
        items.append(item);
      };
      const list = Array.isArray(value) && value.length ? value : Array.from({ length: s.minItems || 0 }, () => ({}));
      list.forEach(add);
      const more = el("button", { type: "button", class: "small", "data-action": "add-item", text: `add ${name.replace(/s$/, "")}` });
      more.addEventListener("click", () => add({}));
      box.append(items, more);
      return box;
    }
    const label = el("label", { for: id, text: name + (required ? "" : " (optional)") });
    let input;
    const extra = [];
    if (w.kind === "choices") {
      input = el("div", { class: "choices", "data-path": key(path), "data-kind": "choices", id });
      for (const o of w.options) {
        const cb = el("input", { type: "checkbox", value: o, checked: Array.isArray(value) && value.includes(o) });
        cb.addEventListener("change", () => onLive(path));
        input.append(el("label", { class: "choice" }, cb, o));
      }
    } else {
      const def = w.kind === "json" ? `JSON, e.g. ${JSON.stringify(jsonExample(s))}` : s.default !== undefined ? String(s.default) : "";
      input = el("input", { id, "data-path": key(path), "data-kind": w.kind, "data-numeric": w.kind === "mixed" && w.numeric ? "1" : null,
        type: w.kind === "number" ? "number" : "text", placeholder: def, autocomplete: "off", spellcheck: "false",
        min: s.minimum, max: s.maximum, step: w.kind === "number" ? (s.type === "integer" ? 1 : "any") : null,
        list: w.options || (w.enums && w.enums.length) ? `${id}-list` : null });
      if (value !== undefined && value !== null) input.value = w.kind === "json" ? JSON.stringify(value) : String(value);
      if (w.options || (w.enums && w.enums.length)) extra.push(el("datalist", { id: `${id}-list` }, (w.options || w.enums).map((o) => el("option", { value: o }))));
      input.addEventListener("input", () => onLive(path));
      if (w.slider) {
        const range = el("input", { type: "range", class: "slider", "data-slider-for": key(path), min: s.minimum, max: s.maximum, step: w.step,
          "aria-label": `${name} slider`, value: value ?? s.default ?? s.minimum });
        range.addEventListener("input", () => { input.value = range.value; onLive(path); });
        input.addEventListener("input", () => { if (input.value !== "") range.value = input.value; });
        extra.push(range);
      }
    }
    return el("div", { class: `field${w.kind === "number" && w.slider ? " with-slider" : ""}`, "data-field": key(path) }, label, input, ...extra, err);
  }

  /** The value the form holds for schema s at path: empty optional fields are left out. */
  function collect(s, root, path) {
    s = deref(s);
    const w = widget(s);
    const q = (p) => root.querySelector(`[data-path="${CSS.escape(key(p))}"]`);
    if (w.kind === "object") {
      const out = {};
      for (const [k, sub] of Object.entries(s.properties || {})) {
        const v = collect(sub, root, [...path, k]);
        const empty = v === undefined || (typeof v === "object" && !Array.isArray(v) && !Object.keys(v).length && !(s.required || []).includes(k));
        if (!empty) out[k] = v;
      }
      return out;
    }
    if (w.kind === "list") {
      const box = root.querySelector(`[data-list="${CSS.escape(key(path))}"]`);
      const n = box ? box.querySelector(".items").children.length : 0;
      return Array.from({ length: n }, (_, i) => collect(s.items, root, [...path, i]));
    }
    const input = q(path);
    if (!input) return undefined;
    if (w.kind === "choices") {
      const picked = [...input.querySelectorAll("input:checked")].map((c) => c.value);
      return picked.length ? picked : undefined;
    }
    const t = input.value.trim();
    if (t === "") return undefined;
    if (w.kind === "json") {
      try { return JSON.parse(t); } catch { return t; } // not JSON: the API names the field
    }
    if (w.kind === "number" || (w.kind === "mixed" && w.numeric && /^-?\d+(\.\d+)?$/.test(t))) return Number(t);
    return t;
  }

  /** Shows the API's issues at their fields; an issue about a part the form has no field for
   *  shows at the nearest group that holds it (the whole form at worst), with its path. */
  function showIssues(form, body, summary) {
    for (const e of form.querySelectorAll(".field-error")) e.textContent = "";
    for (const e of form.querySelectorAll("[aria-invalid]")) e.removeAttribute("aria-invalid");
    for (const i of (body && body.issues) || []) {
      let p = i.path.slice();
      let at = form.querySelector(`[data-error-for="${CSS.escape(key(p))}"]`);
      while (!at && p.length) {
        p = p.slice(0, -1);
        at = form.querySelector(`[data-error-for="${CSS.escape(key(p))}"]`);
      }
      const text = p.length === i.path.length ? i.message : `${shown(i.path)}: ${i.message}`;
      at.textContent = at.textContent ? `${at.textContent}; ${text}` : text;
      const input = form.querySelector(`[data-path="${CSS.escape(key(i.path))}"]`);
      if (input) input.setAttribute("aria-invalid", "true");
    }
    form.querySelector(".form-error").textContent = summary || (body && body.error) || "";
  }

  /**
   * Mounts the editor. opts.token(): the current token; opts.unauthorized(msg): the token was
   * refused (the page asks for it again); opts.changed(): an object was written (refresh soon).
   */
  function mount(opts) {
    const dialog = document.getElementById("editor");
    const confirmBox = document.getElementById("confirm");

    async function api(method, path, body) {
      const headers = { authorization: `Bearer ${opts.token()}` };
      if (body !== undefined) headers["content-type"] = "application/json";
      let res;
      try {
        res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store" });
      } catch (e) {
        return { status: 0, body: { error: `cannot reach the relay's API: ${e.message}`, issues: [] } };
      }
      const text = await res.text();
      let parsed = null;
      try { parsed = text ? JSON.parse(text) : null; } catch { parsed = { error: text.slice(0, 200), issues: [] }; }
      if (res.status === 401) {
        // The login screen says so; a form left open over it would hide it.
        if (dialog.open) dialog.close();
        if (confirmBox.open) confirmBox.close();
        opts.unauthorized("The relay does not accept the token (it may have changed): enter it again.");
      }
      return { status: res.status, body: parsed };
    }

    /** Opens the form: a new object (id undefined) or an existing one. */
    async function edit(kindName, id) {
      const kind = KINDS[kindName];
      let schema;
      try {
        schema = await schemaOf(kindName);
      } catch (e) {
        return alertBox(`Cannot load the form: ${e.message}`);
      }
      let value;
      if (id !== undefined) {
        const r = await api("GET", `${kind.path}/${encodeURIComponent(id)}`);
        if (r.status !== 200) return alertBox(`Cannot open ${kind.title} ${id}: ${(r.body && r.body.error) || r.status}`);
        // Only the schema's fields: the API adds state, reason and timestamps.
        value = Object.fromEntries(Object.entries(r.body).filter(([k]) => k in schema.properties));
      }
      const form = el("form", { class: "edit-form", "data-kind": kindName, "data-editing": id ?? "", novalidate: true });
      form.append(el("h2", { text: id === undefined ? `New ${kind.title}` : `Edit ${kind.title} ${kind.label(value)}` }),
        el("div", { class: "form-error", role: "alert" }));
      let liveTimer = null;
      const status = el("div", { class: "live-status", "aria-live": "polite" });
      const onLive = (path) => {
        if (id === undefined || !kind.live.includes(path[0])) return;
        clearTimeout(liveTimer);
        status.textContent = "applying…";
        liveTimer = setTimeout(async () => {
          const field = path[0];
          const v = collect(schema.properties[field], form, [field]);
          const r = await api("PATCH", `${kind.path}/${encodeURIComponent(id)}`, { [field]: v === undefined ? emptyOf(schema.properties[field]) : v });
          if (r.status === 200) { status.textContent = `${field} applied`; showIssues(form, null, ""); opts.changed(); }
          else { status.textContent = `${field} not applied`; showIssues(form, r.body); }
        }, LIVE_DELAY_MS);
      };
      const body = fields(schema, value, [], true, onLive);
      const idInput = body.querySelector('[data-path="id"]');
      if (idInput && id !== undefined) idInput.readOnly = true; // the id is the object's address
      const save = el("button", { type: "submit", class: "primary", "data-action": "save", text: id === undefined ? `Create ${kind.title}` : "Save" });
      const cancel = el("button", { type: "button", "data-action": "cancel", text: "Close" });
      cancel.addEventListener("click", () => dialog.close());
      form.append(body, el("div", { class: "actions" }, save, cancel, status));
      form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        clearTimeout(liveTimer);
        save.disabled = true;
        const v = collect(schema, form, []);
        const r = id === undefined ? await api("POST", kind.path, v) : await api("PUT", `${kind.path}/${encodeURIComponent(id)}`, v);
        save.disabled = false;
        if (r.status === 200 || r.status === 201) { dialog.close(); opts.changed(); return; }
        showIssues(form, r.body, r.status === 401 ? "The relay does not accept the token." : r.status === 0 ? r.body.error : undefined);
      });
      dialog.replaceChildren(form);
      if (!dialog.open) dialog.showModal();
      const first = form.querySelector("input:not([readonly])");
      if (first) first.focus();
    }

    function alertBox(message) {
      dialog.replaceChildren(el("div", { class: "edit-form" }, el("p", { class: "form-error", role: "alert", text: message }),
        el("div", { class: "actions" }, el("button", { type: "button", "data-action": "cancel", text: "Close" }))));
      dialog.querySelector("[data-action=cancel]").addEventListener("click", () => dialog.close());
      if (!dialog.open) dialog.showModal();
    }

    /** Asks first; deletes on "Delete". */
    function remove(kindName, id, label) {
      const kind = KINDS[kindName];
      const yes = el("button", { type: "button", class: "danger", "data-action": "confirm-delete", text: `Delete ${kind.title}` });
      const no = el("button", { type: "button", "data-action": "cancel", text: "Keep it" });
      const msg = el("p", { class: "form-error", role: "alert" });
      confirmBox.replaceChildren(el("div", { class: "edit-form" },
        el("h2", { text: `Delete ${kind.title} ${label}?` }),
        el("p", { text: `${kind.gone} This cannot be undone.` }), msg,
        el("div", { class: "actions" }, yes, no)));
      no.addEventListener("click", () => confirmBox.close());
      yes.addEventListener("click", async () => {
        yes.disabled = true;
        const r = await api("DELETE", `${kind.path}/${encodeURIComponent(id)}`);
        yes.disabled = false;
        if (r.status === 204 || r.status === 404) { confirmBox.close(); opts.changed(); return; }
        msg.textContent = (r.body && r.body.error) || `HTTP ${r.status}`;
      });
      confirmBox.showModal();
    }

    // Buttons anywhere on the page: data-action="new|edit|delete", data-kind, data-id, data-label.
    document.addEventListener("click", (ev) => {
      const b = ev.target.closest("button[data-action]");
      if (!b || !b.dataset.kind || !KINDS[b.dataset.kind]) return;
      if (b.dataset.action === "new") edit(b.dataset.kind);
      else if (b.dataset.action === "edit") edit(b.dataset.kind, b.dataset.id);
      else if (b.dataset.action === "delete") remove(b.dataset.kind, b.dataset.id, b.dataset.label || b.dataset.id);
    });
    return { edit, remove };
  }

  window.mcrelayEditor = { mount, KINDS };
})();
