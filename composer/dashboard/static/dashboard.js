// Tessera operator dashboard: refreshes the numbers in place every 2 s from
// the JSON snapshot, and sends the cache forms to the admin API. Elements
// are found by data attributes: data-frag (a fragment's row or slot),
// data-cell (a text to keep current), data-setting (a TTL input).
(() => {
  "use strict";

  const body = document.body;
  const statsURL = body.dataset.stats;
  const apiURL = body.dataset.api;
  const loginURL = body.dataset.login;
  const csrfMeta = document.querySelector('meta[name="tessera-csrf"]');
  const csrf = csrfMeta ? csrfMeta.content : "";
  const live = document.querySelector("[data-testid=live]");
  const toast = document.querySelector("[data-testid=toast]");
  const every = 2000;

  const sel = (name) => `[data-frag="${CSS.escape(name)}"]`;

  // setCell shows a new text, marking the change for a moment.
  function setCell(el, text) {
    if (text === undefined || el.dataset.value === text) return;
    el.dataset.value = text;
    el.textContent = text;
    if (el.hasAttribute("title")) el.title = text;
    el.classList.remove("changed");
    void el.offsetWidth; // restart the animation
    el.classList.add("changed");
  }

  function setVersions(box, versions) {
    const key = JSON.stringify(versions);
    if (box.dataset.key === key) return;
    box.dataset.key = key;
    box.replaceChildren();
    if (versions.length === 0) {
      const none = document.createElement("span");
      none.className = "muted";
      none.textContent = "none yet";
      box.append(none);
      return;
    }
    for (const v of versions) {
      const chip = document.createElement("span");
      chip.className = v.stray ? "chip version stray" : "chip version";
      chip.dataset.testid = "version";
      if (v.stray) chip.title = "A stray version: not the one most answers carry";
      const n = document.createElement("span");
      n.className = "count";
      n.textContent = "×" + v.count.toLocaleString("en-US");
      chip.append(v.version, " ", n);
      box.append(chip);
    }
  }

  // setInput follows the value in force unless someone is editing it.
  function setInput(input, settings) {
    const s = settings.find((x) => x.field === input.dataset.setting);
    if (!s || document.activeElement === input || input.value !== input.defaultValue) return;
    input.defaultValue = s.value;
    input.value = s.value;
  }

  document.addEventListener("animationend", (ev) => ev.target.classList.remove("changed"));

  function apply(snap) {
    for (const f of snap.fragments) {
      for (const el of document.querySelectorAll(sel(f.name))) {
        el.dataset.status = f.status;
        el.dataset.cues = f.cues.join(" ");
        if ("overridden" in el.dataset) el.dataset.overridden = String(f.overridden);
        for (const c of el.querySelectorAll("[data-cell]")) setCell(c, f.cells[c.dataset.cell]);
        for (const m of el.querySelectorAll("meter[data-ratio]")) m.value = Math.max(0, f.ratio);
        for (const v of el.querySelectorAll("[data-versions]")) setVersions(v, f.versions);
        for (const i of el.querySelectorAll("input[data-setting]")) setInput(i, f.settings);
      }
    }
    for (const p of snap.pages) {
      for (const el of document.querySelectorAll(`[data-page="${CSS.escape(p.path)}"]`)) el.dataset.status = p.status;
    }
    for (const c of document.querySelectorAll("[data-summary] [data-cell]")) setCell(c, snap.summary.cells[c.dataset.cell]);
  }

  function setLive(ok, text) {
    if (!live) return;
    live.dataset.state = ok ? "on" : "off";
    live.querySelector("[data-live-text]").textContent = text;
  }

  let busy = false;
  async function poll() {
    if (busy || document.hidden) return;
    busy = true;
    try {
      const r = await fetch(statsURL, { headers: { Accept: "application/json" }, cache: "no-store", credentials: "same-origin" });
      if (r.status === 401) {
        location.assign(loginURL);
        return;
      }
      if (!r.ok) throw new Error("HTTP " + r.status);
      const snap = await r.json();
      apply(snap);
      setLive(true, "live · " + snap.updated);
    } catch (_) {
      setLive(false, "reconnecting…");
    } finally {
      busy = false;
    }
  }

  let toastTimer = 0;
  function notify(text, error) {
    if (!toast) return;
    toast.textContent = text;
    toast.dataset.kind = error ? "error" : "ok";
    toast.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { toast.hidden = true; }, error ? 8000 : 4000);
  }

  // request builds the admin API call for a submitted form.
  function request(form, action) {
    const name = form.dataset.api;
    const frag = apiURL + "fragments/" + encodeURIComponent(name) + "/ttl";
    if (form.dataset.kind === "purge") {
      return { method: "POST", url: apiURL + "purge?fragment=" + encodeURIComponent(name), done: (res) => `${name}: purged (generation ${res.generation}); the next request fetches it afresh.` };
    }
    if (action === "reset") {
      return { method: "DELETE", url: frag, done: () => `${name}: override cleared; the config applies again.` };
    }
    const changes = {};
    for (const i of form.querySelectorAll("input[data-setting]")) {
      const v = i.value.trim();
      if (v !== "" && v !== i.defaultValue) changes[i.dataset.setting] = v;
    }
    if (Object.keys(changes).length === 0) return null;
    const what = Object.entries(changes).map(([k, v]) => `${k.toUpperCase()} ${v}`).join(", ");
    return { method: "PUT", url: frag, body: JSON.stringify(changes), done: () => `${name}: ${what} saved; ${document.body.dataset.applies}` };
  }

  document.addEventListener("submit", async (ev) => {
    const form = ev.target.closest("form[data-api]");
    if (!form) return;
    ev.preventDefault();
    const action = ev.submitter ? ev.submitter.value : "save";
    const req = request(form, action);
    if (!req) {
      notify(`${form.dataset.api}: nothing to save; change a value first.`, true);
      return;
    }
    const buttons = [...form.elements].filter((el) => el.tagName === "BUTTON");
    for (const b of buttons) b.disabled = true;
    try {
      const headers = { Accept: "application/json", "X-CSRF-Token": csrf };
      if (req.body) headers["Content-Type"] = "application/json";
      const r = await fetch(req.url, { method: req.method, headers, body: req.body, credentials: "same-origin" });
      const res = await r.json().catch(() => ({}));
      if (!r.ok) {
        notify(res.error || "The change was refused (HTTP " + r.status + ").", true);
        return;
      }
      if (form.dataset.kind === "ttl") {
        for (const i of form.querySelectorAll("input[data-setting]")) {
          const v = res[i.dataset.setting] || "";
          i.defaultValue = v;
          i.value = v;
        }
      }
      notify(req.done(res), false);
      poll();
    } catch (_) {
      notify("The composer did not answer; try again.", true);
    } finally {
      for (const b of buttons) b.disabled = false;
    }
  });

  document.addEventListener("visibilitychange", poll);
  setInterval(poll, every);
  poll();
})();
