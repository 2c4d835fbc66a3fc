// The review page: wiring of the state (./store.js) to scores, rationale, confidence,
// hint triage, submit, the code columns' view (sync, wrap, compare two) and shortcuts.

import { attachCounter, el } from "../lib.js";
import { DetailsPanel, RunPanels } from "../runs.js";
import { Findings } from "./findings.js";
import { Ranking } from "./ranking.js";
import { DiffView, Probe } from "./panels.js";
import { Store, clock } from "./store.js";

const HEARTBEAT_MS = 30000;
const IDLE_MS = 60000;

const data = JSON.parse(document.getElementById("page-data").textContent);
const store = new Store(data);
document.getElementById("active-time").textContent = clock(data.active_seconds);
store.onSaved = (reply) => {
  document.getElementById("active-time").textContent = clock(reply.active_seconds);
};
document.getElementById("stale-reload").addEventListener("click", () => window.location.assign(data.urls.reload));

// Changes an earlier view of this task in this tab could not save: offer to add them
// (unless they arrived after all, by that page's last request as it unloaded).
let leftover = store.stashed();
if (leftover && JSON.stringify(leftover.state) === JSON.stringify(store.state)) {
  store.dropStash();
  leftover = null;
}
if (leftover) {
  const box = document.getElementById("restore");
  const findingsCount = (leftover.state.findings || []).length;
  // based on the draft shown now, and nothing changed here yet: they are simply the newer state
  const newer = leftover.reason === "refused" && leftover.revision === store.revision;
  const why = leftover.reason === "refused"
    ? "because the server refused them or did not answer"
    : "because the task was open elsewhere";
  document.getElementById("restore-text").textContent =
    `This tab holds changes from ${new Date(leftover.at).toLocaleTimeString()} that were not saved ` +
    `${why} (${findingsCount} finding${findingsCount === 1 ? "" : "s"}, ` +
    "scores, ranking and rationale). " +
    (newer ? "Nothing was saved since they were made." : "Nothing already saved is replaced.");
  box.hidden = false;
  document.getElementById("restore-discard").addEventListener("click", () => {
    store.dropStash();
    box.hidden = true;
  });
  document.getElementById("restore-add").addEventListener("click", async () => {
    if (newer && store.changes === 0) Object.assign(store.state, leftover.state);
    else store.mergeStash(leftover.state);
    store.dirty = true;
    while (store.inflight) await store.inflight.catch(() => {});
    await store.save();
    if (store.dirty || store.stale) return; // not saved: the status line says why
    store.dropStash();
    window.location.reload();
  });
}

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
ranking.onChange = () => clearError("ranking");
const details = new DetailsPanel(document.getElementById("test-details"));
const letters = Object.fromEntries(data.candidates.map((c) => [String(c.id), c.letter]));
const runPanels = new RunPanels({ url: data.urls.runs, panel: details,
  titles: Object.fromEntries(data.candidates.map((c) => [String(c.id), `Candidate ${c.letter}`])) });
const probe = new Probe(data, details);
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
    clearError(select.dataset.field);
    store.changed();
  });
}

const rationale = document.getElementById("rationale");
rationale.value = store.state.rationale;
attachCounter(rationale, document.getElementById("rationale-count"));
rationale.addEventListener("input", () => {
  store.state.rationale = rationale.value;
  clearError("rationale");
  store.changed();
});

for (const radio of document.querySelectorAll('input[name="confidence"]')) {
  if (Number(radio.value) === store.state.confidence) radio.checked = true;
  radio.addEventListener("change", () => {
    store.state.confidence = Number(radio.value);
    clearError("confidence");
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
  for (const button of article.querySelectorAll("button.add-hint-finding")) {
    button.addEventListener("click", () => addHintAsFinding(article, button));
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

// "Add as finding" on a hint: the form opens on the hint's lines with its category, CWE and
// severity filled in; saving the finding marks the hint confirmed.
function addHintAsFinding(article, button) {
  const cand = article.dataset.candidate;
  const categories = data.rubric.categories;
  const security = categories.find((c) => c.cwe) || categories.find((c) => c.key === "security");
  const cwe = Number(button.dataset.cwe) || null;
  const isSecurity = button.dataset.analyzer === "bandit" || cwe !== null;
  const fallback = categories.find((c) => c.key === "style") || categories.find((c) => !c.cwe) || categories[0];
  const category = (isSecurity && security ? security : fallback)?.key || "";
  const severities = data.rubric.severities;
  const severity = severities.includes(button.dataset.severity) ? button.dataset.severity : severities[0];
  const key = button.closest("li.hint").dataset.hintKey;
  findings.openForm(null, {
    cand, path: button.dataset.path,
    start: Number(button.dataset.lineStart), end: Number(button.dataset.lineEnd),
    category, severity, cwe: isSecurity ? cwe : null,
    comment: `${button.dataset.title} (${button.dataset.rule})`,
    onSave: () => {
      (store.state.hint_verdicts[cand] ||= {})[key] = "confirmed";
      for (const b of button.closest("li.hint").querySelectorAll("button[data-verdict]")) {
        b.setAttribute("aria-pressed", b.dataset.verdict === "confirmed" ? "true" : "false");
      }
      store.changed();
    },
  });
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

// A field's error goes once the field is changed (the submit checks it again).
function clearError(field) {
  const box = document.getElementById("errors");
  for (const node of document.querySelectorAll(`[data-field="${CSS.escape(field)}"]`)) {
    if (box.contains(node)) node.remove();
    else node.classList.remove("invalid");
  }
  if (!box.querySelector("li")) box.replaceChildren();
}

// After a refused submit the keyboard goes to the first field to fix (the list of
// errors is announced as an alert), else to the list itself.
function focusFirstError() {
  const first = document.querySelector("#annotation .invalid");
  const control = first?.matches("select, textarea, input")
    ? first : first?.querySelector("select, textarea, input, .chip");
  const target = control || document.getElementById("errors");
  target.focus({ preventScroll: true });
  target.scrollIntoView({ block: "center" });
}

const submitButton = document.getElementById("submit");
const anyway = document.getElementById("submit-anyway");
let submitting = false; // one submit in flight blocks the next (button and Ctrl+Enter alike)
store.onWarnings = showWarnings;

async function submit(acknowledge = false) {
  if (submitting || store.stale) return;
  submitting = true;
  submitButton.disabled = true;
  anyway.disabled = true;
  submitButton.setAttribute("aria-busy", "true");
  store.setStatus("dirty", "Submitting…");
  let outcome;
  try {
    outcome = await store.submit(acknowledge);
  } finally {
    submitting = false;
    submitButton.disabled = store.stale;
    anyway.disabled = false;
    submitButton.removeAttribute("aria-busy");
  }
  if (outcome.stale) return;
  const result = outcome.result;
  const body = result.data || {};
  if (!result.ok && result.status !== 422) {
    store.setStatus("error", "Not submitted");
    showErrors([{ field: body.error?.field || "submit", message: body.error?.message || "The server did not answer; try again." }]);
    focusFirstError();
    return;
  }
  showErrors(body.errors || []);
  if (body.ok) {
    showWarnings([]); // answered: the questions were seen, and the review is in
    store.setStatus(store.dirty ? "dirty" : "saved", body.unchanged
      ? `No changes since version ${body.version}: nothing new to submit`
      : `Submitted (version ${body.version})`);
    anyway.hidden = true;
    document.getElementById("review").dataset.state = "submitted";
    const done = document.getElementById("submitted");
    done.replaceChildren(el("strong", { text: body.unchanged
      ? `Version ${body.version} already holds this review; no new version was made.`
      : `Submitted as version ${body.version}.` }),
    " You may change your review and submit again; earlier versions are kept.");
    if (!body.unchanged) bumpProgress();
    runPanels.poll(); // the task's hidden tests are shown once the review is in
    document.getElementById("next-form").hidden = false;
    document.getElementById("next-task").focus();
    return;
  }
  showWarnings(body.warnings || []);
  if (!store.dirty) store.setStatus("saved", `Draft saved ${new Date().toLocaleTimeString()}`);
  if ((body.warnings || []).length && !(body.errors || []).length) {
    anyway.hidden = false;
    anyway.focus();
  } else if ((body.errors || []).length) {
    focusFirstError();
  }
}
submitButton.addEventListener("click", () => submit(false));
anyway.addEventListener("click", () => submit(true));

function bumpProgress() {
  const node = document.getElementById("progress");
  const m = node?.textContent.match(/^(\d+) of (\d+)/);
  if (m && data.state !== "submitted" && data.versions === 0) {
    node.textContent = `${Math.min(Number(m[1]) + 1, Number(m[2]))} of ${m[2]} done`;
    data.versions = 1;
  }
}

// --- the code columns: wrap, compare two --------------------------------------------------------

const columns = document.getElementById("candidates");
const wrap = document.getElementById("wrap-lines");
wrap.checked = localStorage.getItem("review.wrap") === "1";
const paintWrap = () => columns.classList.toggle("wrap", wrap.checked);
wrap.addEventListener("change", () => {
  localStorage.setItem("review.wrap", wrap.checked ? "1" : "0");
  paintWrap();
});
paintWrap();

const compare = document.getElementById("compare-two");
function compareTwo(on = columns.dataset.compare !== "1") {
  if (!compare) return;
  const chosen = new Set([document.getElementById("diff-left").value, document.getElementById("diff-right").value]);
  columns.dataset.compare = on ? "1" : "0";
  compare.setAttribute("aria-pressed", on ? "true" : "false");
  for (const article of columns.querySelectorAll(".candidate")) {
    article.classList.toggle("compare-hidden", on && !chosen.has(article.dataset.candidate));
  }
  const names = [...chosen].map((id) => letters[id]).join(" and ");
  document.getElementById("ranking-live").textContent = on ? `Showing only candidates ${names}` : "Showing all candidates";
}
compare?.addEventListener("click", () => compareTwo());
for (const id of ["diff-left", "diff-right"]) {
  document.getElementById(id).addEventListener("change", () => {
    if (columns.dataset.compare === "1") compareTwo(true);
  });
}

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
    if (details.open) return details.close();
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
  } else if (ev.key === "c" && compare) {
    compareTwo();
  } else if (ev.key === "l") {
    wrap.checked = !wrap.checked;
    wrap.dispatchEvent(new Event("change"));
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
window.addEventListener("pageshow", (ev) => {
  if (!ev.persisted) return;
  store.unloading = false; // back from the back/forward cache: this page lives on
  store.dropHandoff();
});
window.addEventListener("beforeunload", () => store.flushOnUnload());

// The page before this one in the tab left changes this draft lacks: they are this page's
// state now (drawn above), saved like any change.
if (store.handedOver) store.changed();

// For tests and debugging: the page's state, read-only in spirit.
window.reviewPage = { store, findings, ranking, probe };
