// PeakReel console: plain JavaScript, no framework, no third-party code. Every request
// goes to this server's own API with the key kept in sessionStorage (never in a URL, a
// cookie or a log). Data is always inserted as text, never as HTML.
"use strict";

const KEY_STORE = "peakreel.key";
const main = document.getElementById("main");
let pageTimer = null;
let pageGen = 0;

// ---------- helpers ----------

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function key() { return sessionStorage.getItem(KEY_STORE); }

class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `The server answered ${status}.`);
    this.status = status;
    this.code = e.code || "HTTP_" + status;
    this.details = e.details || null;
    this.requestId = e.request_id || null;
  }
}

// Signed file links carry this server's public URL; the console asks its own origin
// for the same path so the page's Content-Security-Policy ('self') covers them.
function local(url) {
  if (!url) return url;
  try { const u = new URL(url, location.href); return u.pathname + u.search; } catch (_) { return url; }
}

async function api(method, path, body, contentType) {
  const headers = { Authorization: "Bearer " + key() };
  let payload;
  if (body instanceof Blob) { payload = body; headers["Content-Type"] = contentType || body.type || "application/octet-stream"; }
  else if (body !== undefined) { payload = JSON.stringify(body); headers["Content-Type"] = "application/json"; }
  let resp;
  try {
    resp = await fetch(path, { method, headers, body: payload, cache: "no-store" });
  } catch (e) {
    throw new ApiError(0, { error: { code: "NETWORK", message: "The server could not be reached. Check that PeakReel is running." } });
  }
  if (resp.status === 204) return null;
  let json = null;
  try { json = await resp.json(); } catch (_) { json = null; }
  if (!resp.ok) {
    const err = new ApiError(resp.status, json);
    if (resp.status === 401) signOut(err.message);
    throw err;
  }
  return json;
}

function when(ts) {
  if (!ts) return "—";
  const d = new Date(ts);
  return isNaN(d) ? ts : d.toLocaleString();
}

function seconds(s) { return (Math.round(s * 10) / 10).toFixed(1) + " s"; }

function errorBox(err) {
  const box = el("div", { class: "error-box", role: "alert" },
    el("strong", { text: err.code }), " ", err.message);
  return box;
}

function stopPolling() { if (pageTimer) { clearInterval(pageTimer); pageTimer = null; } }

function poll(fn, ms) {
  stopPolling();
  const gen = pageGen;
  const run = () => { if (gen === pageGen) fn().catch(showPageError); };
  run();
  pageTimer = setInterval(run, ms);
}

function showPageError(err) {
  if (err && err.status === 401) return;
  const holder = document.getElementById("page-error");
  if (holder) holder.replaceChildren(errorBox(err));
}

function page(title, ...children) {
  document.title = title + " · PeakReel";
  main.replaceChildren(el("h1", { text: title }), el("div", { id: "page-error", "aria-live": "polite" }), ...children);
  main.focus({ preventScroll: true });
}

// ---------- sign in ----------

function signOut(message) {
  sessionStorage.removeItem(KEY_STORE);
  stopPolling();
  renderSignIn(message);
}

function renderSignIn(message) {
  document.getElementById("top").hidden = true;
  const input = el("input", { id: "api-key", type: "password", autocomplete: "off", spellcheck: "false",
    "aria-describedby": "key-hint key-error", required: true });
  const error = el("p", { id: "key-error", class: "field-error", role: "alert", text: message || "" });
  const form = el("form", { class: "panel signin", "aria-labelledby": "signin-title" },
    el("h1", { id: "signin-title", text: "Sign in to PeakReel" }),
    el("label", { for: "api-key", text: "API key" }), input,
    el("p", { id: "key-hint", class: "hint", text: "A vpk_live_… or vpk_test_… key from `peakreel admin key create`. It is kept in this tab only (session storage) and sent only to this server." }),
    error,
    el("p", {}, el("button", { type: "submit", text: "Sign in" })));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const k = input.value.trim();
    if (!/^vpk_(live|test)_/.test(k)) { error.textContent = "An API key starts with vpk_live_ or vpk_test_."; return; }
    sessionStorage.setItem(KEY_STORE, k);
    try {
      await api("GET", "/v1/account");
      if (!location.hash || location.hash === "#/signin") location.hash = "#/tasks";
      route();
    } catch (err) {
      if (err.status !== 401) { sessionStorage.removeItem(KEY_STORE); error.textContent = err.message; }
    }
  });
  document.title = "Sign in · PeakReel";
  main.replaceChildren(form);
  input.focus();
}

// ---------- router ----------

function route() {
  pageGen += 1;
  stopPolling();
  if (!key()) { renderSignIn(); return; }
  const top = document.getElementById("top");
  top.hidden = false;
  const mode = key().startsWith("vpk_test_") ? "test" : "live";
  const badge = document.getElementById("mode");
  badge.textContent = mode === "test" ? "Test mode" : "Live mode";
  badge.className = "mode " + mode;
  const [, name, arg] = (location.hash || "#/tasks").split("/");
  for (const a of document.querySelectorAll("[data-nav]")) {
    if (a.dataset.nav === (name || "tasks")) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  const pages = { tasks: arg ? () => taskPage(decodeURIComponent(arg)) : tasksPage, new: newPage, catalog: catalogPage, account: accountPage };
  (pages[name] || tasksPage)();
}

// ---------- tasks ----------

const STATUSES = ["", "queued", "processing", "completed", "failed"];

async function creditsByTask() {
  const ledger = await api("GET", "/v1/account/ledger");
  const out = new Map();
  for (const e of ledger.entries) if (e.task_id) out.set(e.task_id, (out.get(e.task_id) || 0) - e.amount);
  return out;
}

function statusBadge(s) { return el("span", { class: "status " + s, text: s }); }

function tasksPage() {
  const filter = el("select", { id: "status-filter" }, STATUSES.map((s) => el("option", { value: s, text: s || "all" })));
  const saved = sessionStorage.getItem("peakreel.filter") || "";
  filter.value = saved;
  const body = el("tbody", { id: "task-rows" });
  const table = el("div", { class: "table-wrap" }, el("table", { "aria-label": "Tasks" },
    el("thead", {}, el("tr", {}, ["Cover", "Task", "Status", "Progress", "Created", "Finished", "Credits"].map((h, i) =>
      el("th", { scope: "col", class: i === 4 || i === 5 ? "hide-narrow" : null, text: h })))),
    body));
  const empty = el("p", { class: "hint", id: "no-tasks", hidden: true, text: "No tasks yet. Make one under New video." });
  page("Tasks",
    el("div", { class: "row" }, el("div", {}, el("label", { for: "status-filter", text: "Show" }), filter),
      el("div", {}, el("a", { class: "button", href: "#/new", text: "New video" }))),
    el("p", { class: "hint", text: "The list updates by itself every two seconds." }),
    table, empty);
  let credits = new Map();
  let tick = 0;
  filter.addEventListener("change", () => { sessionStorage.setItem("peakreel.filter", filter.value); refresh(); });
  async function refresh() {
    const q = filter.value ? "&status=" + encodeURIComponent(filter.value) : "";
    const list = await api("GET", "/v1/tasks?limit=50" + q);
    if (tick++ % 3 === 0) credits = await creditsByTask();
    body.replaceChildren(...list.data.map((t) => taskRow(t, credits)));
    empty.hidden = list.data.length > 0;
  }
  poll(refresh, 2000);
}

function taskRow(t, credits) {
  const cover = t.result && t.result.cover_image_url
    ? el("img", { class: "thumb", src: local(t.result.cover_image_url), alt: "Cover of " + t.task_id })
    : el("span", { class: "thumb", role: "img", "aria-label": "No cover yet" });
  let progress = "";
  if (t.status === "processing") {
    progress = el("span", {}, el("progress", { max: 100, value: t.progress || 0, "aria-label": `Progress ${t.progress || 0}%` }),
      " ", t.stage || "", " ", (t.progress || 0) + "%");
  } else if (t.status === "queued") progress = t.queue_position ? `#${t.queue_position} in queue` : "queued";
  else if (t.status === "failed" && t.error) progress = t.error.code;
  else if (t.status === "completed") progress = el("progress", { max: 100, value: 100, "aria-label": "Done" });
  return el("tr", { "data-task": t.task_id, "data-status": t.status },
    el("td", {}, cover),
    el("td", {}, el("a", { href: "#/tasks/" + encodeURIComponent(t.task_id), text: t.task_id })),
    el("td", {}, statusBadge(t.status)),
    el("td", {}, progress),
    el("td", { class: "hide-narrow", text: when(t.created_at) }),
    el("td", { class: "hide-narrow", text: when(t.completed_at) }),
    el("td", { text: String(credits.get(t.task_id) || 0) }));
}

function taskPage(id) {
  const facts = el("div", { class: "panel", id: "task-facts" });
  const media = el("div", { id: "task-media" });
  const deliveries = el("div", { class: "panel", id: "deliveries" });
  page("Task " + id, el("p", {}, el("a", { href: "#/tasks", text: "← All tasks" })), media, facts, deliveries);
  let shownMedia = false;
  async function refresh() {
    const t = await api("GET", "/v1/tasks/" + encodeURIComponent(id));
    const rows = [["Status", statusBadge(t.status)], ["Type", t.type], ["Mode", t.livemode ? "live" : "test"],
      ["Created", when(t.created_at)], ["Started", when(t.started_at)], ["Finished", when(t.completed_at)]];
    if (t.status === "processing") rows.push(["Progress", el("span", {}, el("progress", { max: 100, value: t.progress || 0, "aria-label": "Progress" }), ` ${t.stage || ""} ${t.progress || 0}%`)]);
    if (t.queue_position) rows.push(["Queue position", String(t.queue_position)]);
    if (t.result) {
      const r = t.result;
      rows.push(["Duration", seconds(r.duration_seconds)], ["Resolution", `${r.width}×${r.height} (${r.resolution})`], ["Files until", when(r.expires_at)]);
      const captions = Object.entries(r).filter(([k, v]) => /caption|subtitle/.test(k) && v);
      for (const [k, v] of captions) {
        const links = typeof v === "string" ? [[k, v]] : Object.entries(v);
        rows.push(["Captions", el("span", {}, links.map(([n, u]) => el("a", { href: local(typeof u === "string" ? u : u.url), download: "", text: n + " " })))]);
      }
    }
    facts.replaceChildren(el("dl", { class: "facts" }, rows.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", {}, v)])));
    if (t.error) {
      facts.append(el("div", { class: "error-box", id: "task-error", role: "status" },
        el("strong", { id: "task-error-code", text: t.error.code }), " ", el("span", { id: "task-error-message", text: t.error.message })));
    }
    if (t.result && !shownMedia) {
      shownMedia = true;
      const r = t.result;
      media.replaceChildren(el("div", { class: "panel video-wrap" },
        el("video", { id: "task-video", controls: true, preload: "metadata", poster: local(r.cover_image_url), src: local(r.video_url), "aria-label": "The finished video" }),
        el("p", {}, el("a", { href: local(r.video_url), download: "", text: "Download MP4" }), " · ",
          el("a", { href: local(r.cover_image_url), download: "", text: "Download cover" }))));
    }
    await showDeliveries(id, deliveries, t);
    if (t.status === "completed" || t.status === "failed") stopPolling();
  }
  poll(refresh, 2000);
}

async function showDeliveries(id, holder, task, message) {
  const list = await api("GET", `/v1/tasks/${encodeURIComponent(id)}/webhook-deliveries`);
  const done = task.status === "completed" || task.status === "failed";
  const note = el("p", { id: "redeliver-note", "aria-live": "polite", text: message || "" });
  const button = el("button", { type: "button", class: "secondary", id: "redeliver", disabled: !done,
    onclick: async () => {
      button.disabled = true;
      try { await api("POST", `/v1/tasks/${encodeURIComponent(id)}/webhook-deliveries/redeliver`); await showDeliveries(id, holder, task, "Sent again as a new delivery."); }
      catch (err) { note.replaceChildren(errorBox(err)); button.disabled = false; }
    }, text: "Redeliver webhook" });
  const rows = list.data.flatMap((d) => d.attempts.length ? d.attempts.map((a) => el("tr", {},
    el("td", { text: d.delivery_id }), el("td", { text: d.status }), el("td", { text: String(a.attempt) }),
    el("td", { text: when(a.attempted_at) }), el("td", { text: a.status == null ? "—" : String(a.status) }),
    el("td", { text: a.latency_ms == null ? "—" : a.latency_ms + " ms" }), el("td", { text: a.error || "" })))
    : [el("tr", {}, el("td", { text: d.delivery_id }), el("td", { text: d.status }), el("td", { colspan: 5, text: d.next_attempt_at ? "next attempt " + when(d.next_attempt_at) : "no attempt yet" }))]);
  holder.replaceChildren(el("h2", { text: "Webhook deliveries" }),
    list.data.length ? el("div", { class: "table-wrap" }, el("table", { "aria-label": "Webhook deliveries" },
      el("thead", {}, el("tr", {}, ["Delivery", "Status", "Attempt", "At", "HTTP", "Latency", "Error"].map((h) => el("th", { scope: "col", text: h })))),
      el("tbody", { id: "delivery-rows" }, rows)))
      : el("p", { class: "hint", text: "No webhook deliveries (the task had no webhook_url, or has not finished)." }),
    el("p", {}, button), note);
}

// ---------- new video ----------

const PER_PHOTO = { narrated_slideshow: [40, 50], living_property: [65, 85] };

function fieldKey(path) {
  if (!path) return "general";
  const head = path.split(/[.[]/)[0];
  const aliases = { image_urls: "images", voice: "voice", voice_id: "voice", elements_config: path.includes("watermark") ? "logo" : "text", subtitle: "subtitle", webhook_url: "general" };
  return aliases[head] || head;
}

function showFieldErrors(form, err) {
  for (const n of form.querySelectorAll(".field-error")) n.textContent = "";
  const general = form.querySelector("[data-error=general]");
  const put = (field, message) => {
    const slot = form.querySelector(`[data-error="${fieldKey(field)}"]`) || general;
    slot.textContent = (slot.textContent ? slot.textContent + " " : "") + message;
  };
  const d = err.details || {};
  if (err.code === "VALIDATION_ERROR" && Array.isArray(d.errors)) {
    for (const e of d.errors) put(e.field, `${e.field}: ${e.message}`);
  } else if (d.index !== undefined) put("images", `Photo ${d.index + 1}: ${err.message}`);
  else if (d.field) put(d.field, err.message);
  else if (/SCRIPT/.test(err.code)) put("script", err.message);
  else if (/VOICE/.test(err.code)) put("voice", err.message);
  else if (/AVATAR/.test(err.code)) put("avatar", err.message);
  else put("general", `${err.code}: ${err.message}`);
  const first = [...form.querySelectorAll(".field-error")].find((n) => n.textContent);
  if (first) first.scrollIntoView({ block: "center" });
}

async function uploadFile(file) {
  const up = await api("POST", "/v1/uploads", file, file.type || "application/octet-stream");
  return up;
}

async function newPage() {
  const photos = []; // {file, objectUrl, upload}
  const list = el("ul", { class: "photos", id: "photo-list", "aria-label": "Photos in video order" });
  const fileInput = el("input", { type: "file", id: "photo-input", class: "visually-hidden", accept: "image/jpeg,image/png,image/webp", multiple: true });
  const drop = el("div", { class: "drop", id: "drop-zone" },
    el("p", {}, "Drop 6–15 photos here (JPEG, PNG or WebP), or "),
    el("label", { for: "photo-input", class: "button secondary", text: "Choose photos" }), fileInput);
  fileInput.addEventListener("focus", () => drop.classList.add("over"));
  fileInput.addEventListener("blur", () => drop.classList.remove("over"));
  const kind = el("select", { id: "kind" }, el("option", { value: "narrated_slideshow", text: "Narrated slideshow (6–15 photos)" }), el("option", { value: "living_property", text: "Living property (1–9 photos)" }));
  const script = el("textarea", { id: "script", "aria-describedby": "script-count script-rule" });
  const counter = el("p", { id: "script-count", class: "counter", "aria-live": "polite" });
  const voice = el("select", { id: "voice" });
  const preview = el("button", { type: "button", class: "secondary", id: "voice-preview", text: "▶ Preview voice" });
  const audio = el("audio", { id: "voice-audio", preload: "none" });
  const orchestration = el("select", { id: "orchestration" }, ["standard", "artistic", "sequential"].map((m) => el("option", { value: m, text: m })));
  const orientation = el("select", { id: "orientation" }, ["", "landscape", "portrait"].map((m) => el("option", { value: m, text: m || "from the photos" })));
  const subtitle = el("select", { id: "subtitle" }, ["", "classic", "modern", "bold", "karaoke"].map((m) => el("option", { value: m, text: m || "none" })));
  const music = el("input", { type: "checkbox", id: "music" });
  const logo = el("input", { type: "file", id: "logo", accept: "image/jpeg,image/png,image/webp" });
  const text = el("input", { type: "text", id: "overlay-text", maxlength: 100 });
  const webhook = el("input", { type: "text", id: "webhook", placeholder: "https://…" });
  const scenario = el("select", { id: "scenario" }, ["", "success", "image_processing_failed", "tts_error"].map((m) => el("option", { value: m, text: m || "(none)" })));
  const board = el("div", { id: "storyboard", "aria-live": "polite" });
  const planBtn = el("button", { type: "button", class: "secondary", id: "plan", text: "Preview storyboard (free)" });
  const createBtn = el("button", { type: "submit", id: "create", text: "Create video" });
  const status = el("p", { id: "form-status", "aria-live": "polite" });
  const errSlot = (name) => el("p", { class: "field-error", "data-error": name, role: "alert" });
  const isTest = key().startsWith("vpk_test_");

  const form = el("form", { id: "new-video", novalidate: true },
    el("div", { class: "panel" }, el("h2", { text: "Photos" }), drop, errSlot("images"), list),
    el("div", { class: "panel" }, el("h2", { text: "Script and voice" }),
      el("div", { class: "row" }, el("div", {}, el("label", { for: "kind", text: "Video type" }), kind)),
      el("label", { for: "script", text: "Narration script" }), script, counter,
      el("p", { id: "script-rule", class: "hint", text: "Per photo: 40–50 characters for a slideshow, 65–85 for a living video. Spell numbers out: digits are refused." }),
      errSlot("script"),
      el("div", { class: "row" },
        el("div", {}, el("label", { for: "voice", text: "Voice" }), voice, errSlot("voice")),
        el("div", {}, preview, audio))),
    el("div", { class: "panel" }, el("h2", { text: "Look" }),
      el("div", { class: "row" },
        el("div", {}, el("label", { for: "orchestration", text: "Orchestration mode" }), orchestration, errSlot("orchestration_mode")),
        el("div", {}, el("label", { for: "orientation", text: "Orientation" }), orientation, errSlot("orientation")),
        el("div", {}, el("label", { for: "subtitle", text: "Subtitles" }), subtitle, errSlot("subtitle"))),
      el("div", { class: "row" },
        el("div", {}, el("label", { for: "logo", text: "Logo (watermark)" }), logo, errSlot("logo")),
        el("div", {}, el("label", { for: "overlay-text", text: "Text overlay" }), text, errSlot("text")),
        el("div", {}, el("label", { for: "music" }, music, " Background music"))),
      el("div", { class: "row" },
        el("div", {}, el("label", { for: "webhook", text: "Webhook URL (optional)" }), webhook),
        isTest ? el("div", {}, el("label", { for: "scenario", text: "Test scenario" }), scenario, errSlot("test_scenario")) : null)),
    el("div", { class: "panel" }, el("h2", { text: "Storyboard" }),
      el("p", { class: "hint", text: "See the planned scenes before paying: nothing is charged or stored." }),
      board, el("p", {}, planBtn, " ", createBtn), errSlot("general"), status));
  page("New video", form);

  function render() {
    list.replaceChildren(...photos.map((p, i) => {
      const li = el("li", { draggable: "true", "data-index": i },
        el("img", { src: p.objectUrl, alt: `Photo ${i + 1}: ${p.file.name}` }),
        el("div", { class: "hint", text: `${i + 1}. ${p.upload ? p.upload.width + "×" + p.upload.height : "uploading…"}` }),
        el("div", { class: "tools" },
          el("button", { type: "button", class: "secondary", "aria-label": `Move photo ${i + 1} earlier`, disabled: i === 0, onclick: () => move(i, i - 1), text: "←" }),
          el("button", { type: "button", class: "secondary", "aria-label": `Move photo ${i + 1} later`, disabled: i === photos.length - 1, onclick: () => move(i, i + 1), text: "→" }),
          el("button", { type: "button", class: "danger", "aria-label": `Remove photo ${i + 1}`, onclick: () => { URL.revokeObjectURL(p.objectUrl); photos.splice(i, 1); render(); }, text: "✕" })));
      li.addEventListener("dragstart", (e) => { li.classList.add("dragging"); e.dataTransfer.setData("text/x-photo", String(i)); });
      li.addEventListener("dragend", () => li.classList.remove("dragging"));
      li.addEventListener("dragover", (e) => { if (e.dataTransfer.types.includes("text/x-photo")) e.preventDefault(); });
      li.addEventListener("drop", (e) => { const from = Number(e.dataTransfer.getData("text/x-photo")); if (!Number.isNaN(from)) { e.preventDefault(); e.stopPropagation(); move(from, i); } });
      return li;
    }));
    count();
  }
  function move(from, to) {
    if (to < 0 || to >= photos.length) return;
    const [p] = photos.splice(from, 1); photos.splice(to, 0, p); render();
    const target = list.querySelectorAll("li")[to]; if (target) target.querySelector("button:not(:disabled)").focus();
  }
  async function addFiles(files) {
    const slot = form.querySelector("[data-error=images]"); slot.textContent = "";
    const added = [...files].map((file) => ({ file, objectUrl: URL.createObjectURL(file), upload: null }));
    photos.push(...added); render();
    for (const p of added) {
      try { p.upload = await uploadFile(p.file); }
      catch (err) { slot.textContent += `${p.file.name}: ${err.message} `; photos.splice(photos.indexOf(p), 1); URL.revokeObjectURL(p.objectUrl); }
      render();
    }
  }
  fileInput.addEventListener("change", () => { addFiles(fileInput.files); fileInput.value = ""; });
  drop.addEventListener("dragover", (e) => { if (e.dataTransfer.types.includes("Files")) { e.preventDefault(); drop.classList.add("over"); } });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { drop.classList.remove("over"); if (e.dataTransfer.files.length) { e.preventDefault(); addFiles(e.dataTransfer.files); } });

  function count() {
    const n = photos.length;
    const [lo, hi] = PER_PHOTO[kind.value];
    const chars = script.value.trim().length;
    const digits = /[0-9]/.test(script.value);
    const inRange = n > 0 && chars >= lo * n && chars <= hi * n;
    counter.textContent = n === 0 ? `${chars} characters (add photos to see the allowed range)`
      : `${chars} characters; ${n} photo${n === 1 ? "" : "s"} allow ${lo * n}–${hi * n}` + (digits ? ". Digits are not allowed: spell numbers out." : "");
    counter.classList.toggle("bad", (n > 0 && !inRange) || digits);
  }
  script.addEventListener("input", count);
  kind.addEventListener("change", count);

  try {
    const voices = await api("GET", "/v1/voices");
    voice.replaceChildren(...voices.data.map((v) => el("option", { value: v.voice_id, "data-preview": v.preview_url || "", text: `${v.name} (${v.gender}, ${v.accent}${v.owner === "account" ? ", yours" : ""})` })));
  } catch (err) { showPageError(err); }
  preview.addEventListener("click", () => {
    const opt = voice.selectedOptions[0];
    if (!opt || !opt.dataset.preview) { form.querySelector("[data-error=voice]").textContent = "This voice has no preview yet."; return; }
    audio.src = local(opt.dataset.preview); audio.play().catch(() => {});
  });

  let logoUpload = null;
  logo.addEventListener("change", async () => {
    logoUpload = null;
    const slot = form.querySelector("[data-error=logo]"); slot.textContent = "";
    if (!logo.files[0]) return;
    try { logoUpload = await uploadFile(logo.files[0]); } catch (err) { slot.textContent = err.message; }
  });

  function request() {
    const urls = photos.filter((p) => p.upload).map((p) => p.upload.url);
    const body = { voice: { voice_id: voice.value }, script: script.value };
    if (kind.value === "living_property") body.images = urls.map((url) => ({ url, room_type: "other" }));
    else { body.images = urls; body.orchestration_mode = orchestration.value; }
    if (orientation.value) body.orientation = orientation.value;
    if (subtitle.value) body.subtitle = { subtitle_style_preset: subtitle.value };
    if (music.checked) body.background_music = true;
    if (logoUpload || text.value.trim()) {
      body.elements_config = { enabled: true };
      if (logoUpload) body.elements_config.watermark = { url: logoUpload.url };
      if (text.value.trim()) body.elements_config.text = { content: text.value.trim() };
    }
    if (webhook.value.trim()) body.webhook_url = webhook.value.trim();
    if (isTest && scenario.value) body.test_scenario = scenario.value;
    return body;
  }
  const path = () => kind.value === "living_property" ? "/v1/real-estate/living-property" : "/v1/real-estate/narrated-slideshow";
  const busy = (on) => { planBtn.disabled = on; createBtn.disabled = on; };

  planBtn.addEventListener("click", async () => {
    showFieldErrors(form, { code: "", details: { errors: [] } });
    status.textContent = "Planning…"; busy(true);
    try {
      const plan = await api("POST", path() + "/plan", request());
      const byUrl = new Map(photos.filter((p) => p.upload).map((p) => [p.upload.url, p.objectUrl]));
      board.replaceChildren(
        el("p", {}, `About ${seconds(plan.estimated_duration_seconds)}, ${plan.orientation}, ${plan.credits_required} credits (balance ${plan.balance}). Narration times are estimated.`),
        el("div", { class: "strip", id: "storyboard-strip", role: "list" }, plan.scenes.map((s, i) => el("figure", { role: "listitem" },
          el("img", { src: byUrl.get(s.image_url) || "", alt: `Scene ${i + 1}: photo ${s.image_index + 1}` }),
          el("figcaption", {}, `${seconds(s.start_seconds)} – ${seconds(s.end_seconds)} · photo ${s.image_index + 1}`,
            s.sentences.map((k) => el("q", { text: plan.sentences[k].text })))))));
      status.textContent = "";
    } catch (err) { status.textContent = ""; if (err.status !== 401) showFieldErrors(form, err); }
    busy(false);
  });
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    showFieldErrors(form, { code: "", details: { errors: [] } });
    if (photos.some((p) => !p.upload)) { status.textContent = "Wait for every photo to finish uploading."; return; }
    status.textContent = "Creating…"; busy(true);
    try {
      const created = await api("POST", path(), request());
      location.hash = "#/tasks/" + encodeURIComponent(created.task_id);
    } catch (err) { status.textContent = ""; if (err.status !== 401) showFieldErrors(form, err); busy(false); }
  });
  render();
}

// ---------- voices and avatars ----------

async function catalogPage() {
  const voices = el("div", { class: "cards", id: "voice-cards" });
  const avatars = el("div", { class: "cards", id: "avatar-cards" });
  const audio = el("audio", { preload: "none" });
  const vName = el("input", { type: "text", id: "voice-name" });
  const vBase = el("select", { id: "voice-base" });
  const vLang = el("input", { type: "text", id: "voice-language", value: "en" });
  const vRate = el("input", { type: "number", id: "voice-rate", value: "1", min: "0.5", max: "2", step: "0.05" });
  const vPitch = el("input", { type: "number", id: "voice-pitch", value: "0", min: "-12", max: "12", step: "1" });
  const errSlot = (name) => el("p", { class: "field-error", "data-error": name, role: "alert" });
  const vForm = el("form", { class: "panel", id: "voice-form" }, el("h2", { text: "New voice variant" }),
    el("div", { class: "row" },
      el("div", {}, el("label", { for: "voice-name", text: "Name" }), vName, errSlot("name")),
      el("div", {}, el("label", { for: "voice-base", text: "Based on" }), vBase, errSlot("base_voice_id")),
      el("div", {}, el("label", { for: "voice-language", text: "Language" }), vLang, errSlot("language")),
      el("div", {}, el("label", { for: "voice-rate", text: "Rate (0.5–2)" }), vRate, errSlot("rate")),
      el("div", {}, el("label", { for: "voice-pitch", text: "Pitch (semitones)" }), vPitch, errSlot("pitch"))),
    errSlot("general"), el("p", {}, el("button", { type: "submit", text: "Create voice" })));
  const aName = el("input", { type: "text", id: "avatar-name" });
  const aFile = el("input", { type: "file", id: "avatar-file", accept: "image/jpeg,image/png,image/webp" });
  const aForm = el("form", { class: "panel", id: "avatar-form" }, el("h2", { text: "New avatar" }),
    el("div", { class: "row" },
      el("div", {}, el("label", { for: "avatar-name", text: "Name" }), aName, errSlot("name")),
      el("div", {}, el("label", { for: "avatar-file", text: "Portrait photo" }), aFile, errSlot("image_url"))),
    errSlot("general"), el("p", {}, el("button", { type: "submit", text: "Create avatar" })));
  page("Voices and avatars", el("h2", { text: "Voices" }), voices, audio, vForm, el("h2", { text: "Avatars" }), avatars, aForm);

  async function load() {
    const [v, a] = await Promise.all([api("GET", "/v1/voices"), api("GET", "/v1/avatars")]);
    vBase.replaceChildren(...v.data.map((x) => el("option", { value: x.voice_id, text: x.name })));
    voices.replaceChildren(...v.data.map((x) => el("div", { class: "card" },
      el("strong", { text: x.name }), el("div", { class: "hint", text: `${x.gender}, ${x.accent}, ${x.languages.join(", ")} · ${x.owner}` }),
      x.expires_at ? el("div", { class: "hint", text: "expires " + when(x.expires_at) }) : null,
      el("p", {}, x.preview_url ? el("button", { type: "button", class: "secondary", "aria-label": "Play a preview of " + x.name, onclick: () => { audio.src = local(x.preview_url); audio.play().catch(() => {}); }, text: "▶ Preview" }) : el("span", { class: "hint", text: "preview pending" }),
        " ", x.owner === "account" ? el("button", { type: "button", class: "danger", "aria-label": "Delete " + x.name, onclick: () => remove("/v1/voices/" + x.voice_id, x.name), text: "Delete" }) : null))));
    avatars.replaceChildren(...a.data.map((x) => el("div", { class: "card" },
      x.image_url ? el("img", { src: local(x.image_url), alt: "Avatar " + x.name }) : null,
      el("strong", { text: x.name }), el("div", { class: "hint", text: x.owner }),
      x.owner === "account" ? el("p", {}, el("button", { type: "button", class: "danger", "aria-label": "Delete " + x.name, onclick: () => remove("/v1/avatars/" + x.avatar_id, x.name), text: "Delete" })) : null)));
  }
  async function remove(path, name) {
    if (!confirm(`Delete ${name}?`)) return;
    try { await api("DELETE", path); await load(); } catch (err) { showPageError(err); }
  }
  vForm.addEventListener("submit", async (ev) => {
    ev.preventDefault(); showFieldErrors(vForm, { code: "", details: { errors: [] } });
    try {
      await api("POST", "/v1/voices", { name: vName.value, base_voice_id: vBase.value, language: vLang.value, rate: Number(vRate.value), pitch: Number(vPitch.value) });
      vForm.reset(); await load();
    } catch (err) { if (err.status !== 401) showFieldErrors(vForm, err); }
  });
  aForm.addEventListener("submit", async (ev) => {
    ev.preventDefault(); showFieldErrors(aForm, { code: "", details: { errors: [] } });
    if (!aFile.files[0]) { aForm.querySelector("[data-error=image_url]").textContent = "Choose a portrait photo."; return; }
    try {
      const up = await uploadFile(aFile.files[0]);
      await api("POST", "/v1/avatars", { name: aName.value, image_url: up.url });
      aForm.reset(); await load();
    } catch (err) { if (err.status !== 401) showFieldErrors(aForm, err); }
  });
  try { await load(); } catch (err) { showPageError(err); }
}

// ---------- account ----------

async function accountPage() {
  const facts = el("div", { class: "panel", id: "account-facts" });
  const ledger = el("tbody", { id: "ledger-rows" });
  page("Account", facts, el("h2", { text: "Credit ledger" }),
    el("div", { class: "table-wrap" }, el("table", { "aria-label": "Credit ledger" },
      el("thead", {}, el("tr", {}, ["When", "Kind", "Credits", "Task", "Note"].map((h) => el("th", { scope: "col", text: h })))), ledger)));
  poll(async () => {
    const [a, l] = await Promise.all([api("GET", "/v1/account"), api("GET", "/v1/account/ledger")]);
    const rows = [["Account", a.name + " (" + a.account_id + ")"], ["Plan", a.plan], ["Balance", `${a.credits} credits`],
      ["Concurrency", `${a.in_flight.live} live and ${a.in_flight.test} test tasks running of ${a.concurrency_limit} per mode`], ["Renews", when(a.renews_at)]];
    facts.replaceChildren(el("dl", { class: "facts" }, rows.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })])));
    ledger.replaceChildren(...l.entries.map((e) => el("tr", {},
      el("td", { text: when(e.created_at) }), el("td", { text: e.kind }), el("td", { class: e.amount < 0 ? "" : "ok", text: (e.amount > 0 ? "+" : "") + e.amount }),
      el("td", {}, e.task_id ? el("a", { href: "#/tasks/" + encodeURIComponent(e.task_id), text: e.task_id }) : "—"), el("td", { text: e.note || "" }))));
  }, 5000);
}

// ---------- start ----------

document.getElementById("sign-out").addEventListener("click", () => signOut());
window.addEventListener("hashchange", route);
window.addEventListener("unhandledrejection", (e) => { e.preventDefault(); showPageError(e.reason instanceof ApiError ? e.reason : new ApiError(0, { error: { code: "CONSOLE_ERROR", message: String(e.reason && e.reason.message || e.reason) } })); });
route();
