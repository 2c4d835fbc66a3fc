// The review page: draft state, autosave and heartbeat, active time, scores,
// rationale, confidence, hint triage, submit, sync scrolling and shortcuts.

import { postJSON, postOnUnload, el } from "./api.js";
import { Findings } from "./findings.js";
import { Ranking } from "./ranking.js";
import { DiffView, Probe, TestPanels } from "./panels.js";

const SAVE_DELAY_MS = 1000;
const HEARTBEAT_MS = 30000;
const IDLE_MS = 60000;

const data = JSON.parse(document.getElementById("page-data").textContent);

// --- state and autosave ------------------------------------------------------------------

class Store {
  constructor(draft) {
    this.state = {
      findings: Array.isArray(draft.findings) ? draft.findings : [],
      scores: draft.scores && typeof draft.scores === "object" ? draft.scores : {},
      ranking: Array.isArray(draft.ranking) ? draft.ranking : [],
      rationale: typeof draft.rationale === "string" ? draft.rationale : "",
      confidence: Number.isInteger(draft.confidence) ? draft.confidence : null,
      hint_verdicts: draft.hint_verdicts && typeof draft.hint_verdicts === "object" ? draft.hint_verdicts : {},
    };
    this.dirty = false;
    this.revision = 0; // counts changes, so a reply can tell whether it saw the latest state
    this.saving = false;
    this.unloading = false;
    this.timer = null;
    this.pendingActive = 0; // active seconds not yet sent
    this.status = document.getElementById("save-status");
  }

  changed() {
    this.dirty = true;
    this.revision += 1;
    this.setStatus("dirty", "Unsaved changes…");
    this.rearm(SAVE_DELAY_MS);
  }

  // Schedule the next save (autosave, heartbeat and lease renewal), unless the page is going.
  rearm(delay = SAVE_DELAY_MS) {
    clearTimeout(this.timer);
    this.timer = null;
    if (this.unloading) return;
    this.timer = setTimeout(() => this.save(), delay);
  }

  // The page is going away: send what is left once, and never schedule anything again.
  flushOnUnload() {
    this.unloading = true;
    clearTimeout(this.timer);
    this.timer = null;
    if (!this.dirty && this.pendingActive <= 0) return;
    const body = { draft: this.dirty ? this.state : null, active_seconds: this.pendingActive };
    if (postOnUnload(data.urls.draft, body)) {
      this.dirty = false;
      this.pendingActive = 0;
    }
  }

  setStatus(state, text) {
    this.status.dataset.state = state;
    this.status.textContent = text;
  }

  takeActive() {
    const seconds = this.pendingActive;
    this.pendingActive = 0;
    return seconds;
  }

  async save() {
    if (this.unloading) return;
    if (this.saving) {
      this.rearm(300);
      return;
    }
    const sendDraft = this.dirty;
    const active = this.takeActive();
    this.saving = true;
    const wasDirty = this.dirty;
    this.dirty = false;
    let result;
    try {
      result = await postJSON(data.urls.draft, { draft: sendDraft ? this.state : null, active_seconds: active });
    } catch {
      result = { ok: false, status: 0, data: null };
    }
    this.saving = false;
    if (!result.ok) {
      this.pendingActive += active;
      this.dirty = this.dirty || wasDirty;
      const msg = result.data?.error?.message || "Not saved: the server did not answer. Retrying…";
      this.setStatus("error", msg);
      if (result.status !== 409) this.rearm(5000);
      return;
    }
    document.getElementById("active-time").textContent = clock(result.data.active_seconds);
    if (sendDraft) {
      const at = new Date(result.data.saved_at);
      this.setStatus(this.dirty ? "dirty" : "saved", `Draft saved ${at.toLocaleTimeString()}`);
      showWarnings(result.data.warnings || []);
    } else if (this.status.dataset.state === "idle") {
      this.setStatus("idle", "");
    }
  }
}

function clock(seconds) {
  const s = Math.floor(seconds || 0);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

const store = new Store(data.draft || {});
document.getElementById("active-time").textContent = clock(data.active_seconds);

// --- active time: visible and not idle for more than 60 s --------------------------------

let lastInput = Date.now();
for (const type of ["keydown", "mousedown", "mousemove", "wheel", "touchstart", "scroll", "input"]) {
  window.addEventListener(type, () => { lastInput = Date.now(); }, { passive: true, capture: true });
}
setInterval(() => {
  if (document.visibilityState === "visible" && Date.now() - lastInput < IDLE_MS) store.pendingActive += 1;
}, 1000);
setInterval(() => {
  // a heartbeat renews the lease; it carries the draft too if an autosave is still due
  if (store.dirty || store.pendingActive > 0) store.save();
}, HEARTBEAT_MS);
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "hidden" && (store.dirty || store.pendingActive > 0)) {
    store.save();
  }
});

// --- findings, ranking, panels -------------------------------------------------------------

const findings = new Findings(store, data);
const ranking = new Ranking(store, data);
const tests = new TestPanels(data);
new Probe(data, tests);
const diff = new DiffView(data);

// --- scores, rationale, confidence ----------------------------------------------------------

for (const select of document.querySelectorAll("select.score")) {
  const cand = select.dataset.candidate;
  const key = select.dataset.criterion;
  const saved = store.state.scores[cand]?.[key];
  if (saved !== undefined && saved !== null) select.value = String(saved);
  select.addEventListener("change", () => {
    const row = (store.state.scores[cand] ||= {});
    if (select.value === "") delete row[key];
    else row[key] = Number(select.value);
    select.classList.remove("invalid");
    store.changed();
  });
}

const rationale = document.getElementById("rationale");
rationale.value = store.state.rationale;
rationale.addEventListener("input", () => {
  store.state.rationale = rationale.value;
  store.changed();
});

for (const radio of document.querySelectorAll('input[name="confidence"]')) {
  if (Number(radio.value) === store.state.confidence) radio.checked = true;
  radio.addEventListener("change", () => {
    store.state.confidence = Number(radio.value);
    store.changed();
  });
}

// --- hint triage -----------------------------------------------------------------------------

for (const article of document.querySelectorAll(".candidate")) {
  const cand = article.dataset.candidate;
  for (const li of article.querySelectorAll("li.hint")) {
    const key = li.dataset.hintKey;
    const buttons = li.querySelectorAll("button[data-verdict]");
    const paint = () => {
      const v = store.state.hint_verdicts[cand]?.[key];
      for (const b of buttons) b.setAttribute("aria-pressed", b.dataset.verdict === v ? "true" : "false");
    };
    for (const b of buttons) {
      b.addEventListener("click", () => {
        const row = (store.state.hint_verdicts[cand] ||= {});
        if (row[key] === b.dataset.verdict) delete row[key];
        else row[key] = b.dataset.verdict;
        paint();
        store.changed();
      });
    }
    paint();
  }
  for (const marker of article.querySelectorAll(".hint-marker")) {
    marker.addEventListener("click", (ev) => {
      ev.stopPropagation();
      const details = article.querySelector("details.hints");
      if (!details) return;
      details.open = true;
      const li = details.querySelector(`li.hint[data-hint-key="${CSS.escape(marker.dataset.hintKey)}"]`);
      li?.focus();
      li?.scrollIntoView({ block: "nearest" });
    });
  }
}

// --- warnings, errors and submit ---------------------------------------------------------------

function showWarnings(warnings) {
  const box = document.getElementById("warnings");
  box.replaceChildren();
  if (!warnings.length) return;
  const ul = el("ul");
  for (const w of warnings) ul.append(el("li", { text: w.message }));
  box.append(el("strong", { text: "Before you submit, check:" }), ul);
}

function showErrors(errors) {
  const box = document.getElementById("errors");
  box.replaceChildren();
  for (const node of document.querySelectorAll(".invalid")) node.classList.remove("invalid");
  if (!errors.length) return;
  const ul = el("ul");
  for (const e of errors) {
    ul.append(el("li", { "data-field": e.field, text: e.message }));
    const target = document.querySelector(`[data-field="${CSS.escape(e.field)}"]`);
    target?.classList.add("invalid");
  }
  box.append(el("strong", { text: "Missing or wrong:" }), ul);
}

const submitButton = document.getElementById("submit");
const anyway = document.getElementById("submit-anyway");

async function submit(acknowledge = false) {
  clearTimeout(store.timer);
  submitButton.disabled = true;
  anyway.disabled = true;
  const active = store.takeActive();
  const revision = store.revision;
  let result;
  try {
    result = await postJSON(data.urls.submit, { draft: store.state, acknowledge_warnings: acknowledge, active_seconds: active });
  } catch {
    result = { ok: false, status: 0, data: null };
  }
  submitButton.disabled = false;
  anyway.disabled = false;
  const body = result.data || {};
  if (!result.ok && result.status !== 422) {
    store.pendingActive += active;
    if (store.dirty) store.rearm();
    showErrors([{ field: body.error?.field || "submit", message: body.error?.message || "The server did not answer; try again." }]);
    return;
  }
  showErrors(body.errors || []);
  showWarnings(body.warnings || []);
  // accepted or not, the server kept the draft as sent (and renewed the lease)
  if (store.revision === revision) store.dirty = false;
  else store.rearm();
  if (!body.ok && !store.dirty) store.setStatus("saved", `Draft saved ${new Date().toLocaleTimeString()}`);
  if (body.ok) {
    if (!store.dirty) store.setStatus("saved", `Submitted (version ${body.version})`);
    anyway.hidden = true;
    document.getElementById("review").dataset.state = "submitted";
    const done = document.getElementById("submitted");
    done.replaceChildren(el("strong", { text: `Submitted as version ${body.version}.` }),
      " You may change your review and submit again; earlier versions are kept.");
    document.getElementById("next-form").hidden = false;
    document.getElementById("next-task").focus();
  } else if ((body.warnings || []).length && !(body.errors || []).length) {
    anyway.hidden = false;
    anyway.focus();
  } else {
    document.getElementById("errors").scrollIntoView({ block: "nearest" });
  }
}
submitButton.addEventListener("click", () => submit(false));
anyway.addEventListener("click", () => submit(true));

// --- tabs, sync scrolling ----------------------------------------------------------------------

const sync = document.getElementById("sync-scroll");
let syncing = false;
for (const scroll of document.querySelectorAll(".code-scroll")) {
  scroll.addEventListener("scroll", () => {
    if (!sync.checked || syncing) return;
    syncing = true;
    for (const other of document.querySelectorAll(".code-scroll")) {
      if (other !== scroll && other.offsetParent !== null) other.scrollTop = scroll.scrollTop;
    }
    requestAnimationFrame(() => { syncing = false; });
  }, { passive: true });
}
sync.checked = localStorage.getItem("review.sync") === "1";
sync.addEventListener("change", () => localStorage.setItem("review.sync", sync.checked ? "1" : "0"));

// --- help overlay and shortcuts -----------------------------------------------------------------

const help = document.getElementById("help");
let helpReturn = null;
function toggleHelp(show = help.hidden) {
  if (show) {
    helpReturn = document.activeElement;
    help.hidden = false;
    help.querySelector(".overlay-box").focus();
  } else {
    help.hidden = true;
    helpReturn?.focus?.();
  }
}
document.getElementById("help-button").addEventListener("click", () => toggleHelp(true));
document.getElementById("help-close").addEventListener("click", () => toggleHelp(false));
help.addEventListener("click", (ev) => { if (ev.target === help) toggleHelp(false); });

function typing(target) {
  return target.closest("input, textarea, select, [contenteditable]") !== null;
}

function visibleScroll(article) {
  return [...article.querySelectorAll(".code-scroll")].find((s) => s.offsetParent !== null);
}

document.addEventListener("keydown", (ev) => {
  if ((ev.ctrlKey || ev.metaKey) && ev.key === "Enter") {
    ev.preventDefault();
    submit(!anyway.hidden);
    return;
  }
  if ((ev.ctrlKey || ev.metaKey) && (ev.key === "s" || ev.key === "S")) {
    ev.preventDefault();
    store.dirty = true;
    store.save();
    return;
  }
  if (ev.key === "Escape") {
    if (!help.hidden) return toggleHelp(false);
    if (diff.open) return diff.close();
    return;
  }
  if (ev.ctrlKey || ev.metaKey || ev.altKey || typing(ev.target)) return;
  if (!help.hidden && ev.key !== "?") return;
  const articles = [...document.querySelectorAll(".candidate")];
  if (ev.key === "?") {
    toggleHelp();
  } else if (/^[1-6]$/.test(ev.key) && articles[Number(ev.key) - 1]) {
    visibleScroll(articles[Number(ev.key) - 1])?.focus();
  } else if (ev.key === "s") {
    sync.checked = !sync.checked;
    sync.dispatchEvent(new Event("change"));
  } else if (ev.key === "d") {
    diff.show();
  } else if (ev.key === "g") {
    document.querySelector("select.score")?.focus();
  } else if (ev.key === "r") {
    document.querySelector("#ranking .chip")?.focus();
  } else if (ev.key === "w") {
    rationale.focus();
  } else {
    return;
  }
  ev.preventDefault();
});

window.addEventListener("pagehide", () => store.flushOnUnload());
window.addEventListener("pageshow", (ev) => { if (ev.persisted) store.unloading = false; });
window.addEventListener("beforeunload", () => store.flushOnUnload());

// For tests and debugging: the page's state, read-only in spirit.
window.reviewPage = { store, findings, ranking };
