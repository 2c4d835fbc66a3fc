// Test results (runs and probes) as both task pages show them: one renderer, and one
// poller of runs.json that keeps going while a run is queued or running. A column shows
// a one-line summary; the details (every test, errors, output) open in one shared panel
// below the columns, so opening them never pushes one column down and misaligns the rest.

import { el, getJSON } from "./lib.js";

const POLL_MS = 2000;
const FAILING = new Set(["failed", "error", "timeout", "oom", "output_limit", "tamper_suspected"]);

function size(bytes) {
  if (typeof bytes !== "number") return null;
  if (bytes >= 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  return `${Math.round(bytes / 1024)} KB`;
}

export function runLabel(run) {
  if (!run || run.state === "none") return "no test run";
  return (run.state === "done" ? run.status || "done" : run.state).replace("_", " ");
}

function statusClass(run) {
  if (!run || run.state === "none") return "muted";
  return `status-${run.state === "done" ? run.status || "done" : run.state}`;
}

// The details of one run: every test with its message, the error, tamper reasons, output.
export function runDetails(run) {
  const parts = [];
  if (run?.hidden_note) parts.push(el("div", { class: "tamper hidden-note", text: String(run.hidden_note) }));
  const tests = Array.isArray(run?.tests) ? run.tests : [];
  if (tests.length) {
    const list = el("ul", { class: "test-list" });
    for (const t of tests) {
      const passed = t.outcome === "passed";
      list.append(el("li", { class: `outcome-${t.outcome}` },
        el("span", { class: "outcome", text: passed ? "✓" : "✗", "aria-hidden": "true" }),
        " ", el("span", { class: "sr-only", text: `${t.outcome}: ` }),
        el("span", { text: String(t.name) }),
        t.hidden ? el("span", { class: "badge hidden-test", text: "hidden" }) : null,
        t.message ? el("div", { class: "muted small-text test-message", text: String(t.message) }) : null));
    }
    parts.push(list);
  }
  if (run?.error) parts.push(el("div", { class: "tamper", text: String(run.error) }));
  if (Array.isArray(run?.tamper) && run.tamper.length) {
    parts.push(el("div", { class: "tamper", text: `tamper suspected: ${run.tamper.join(", ")}` }));
  }
  for (const stream of ["stdout", "stderr"]) {
    if (run?.[stream]) {
      const note = run[`${stream}_truncated`] ? " (truncated)" : "";
      parts.push(el("details", { class: "output" }, el("summary", { text: stream + note }),
        el("pre", { text: String(run[stream]), tabindex: "0" })));
    }
  }
  return parts;
}

function hasDetails(run) {
  return Boolean(run && ((run.tests || []).length || run.error || (run.tamper || []).length ||
    run.stdout || run.stderr));
}

// One line for a column: the status badge, time/memory/isolation, and a button that
// opens the details in the shared panel. `prefix` names a probe ("probe: ").
export function runSummary(run, { prefix = "", title = "", panel = null, stale = "" } = {}) {
  const parts = [el("span", { class: `badge ${statusClass(run)}`, text: prefix + runLabel(run) })];
  if (run?.hidden_note) parts.push(el("span", { class: "badge hidden-note", text: String(run.hidden_note) }));
  if (stale) parts.push(el("span", { class: "badge stale", title: stale, text: "stale" }));
  const meta = [];
  if (typeof run?.wall_s === "number") meta.push(`${run.wall_s.toFixed(2)} s`);
  if (size(run?.peak_memory_bytes)) meta.push(size(run.peak_memory_bytes));
  if (run?.isolation) meta.push(run.isolation);
  if (run?.integrity) meta.push(`integrity: ${run.integrity === "in_process" ? "in process" : run.integrity}`);
  if (meta.length) parts.push(el("span", { class: "muted small-text run-meta", text: meta.join(" · ") }));
  if (hasDetails(run)) {
    const tests = Array.isArray(run.tests) ? run.tests : [];
    const passed = tests.filter((t) => t.outcome === "passed").length;
    const text = tests.length ? `${passed}/${tests.length} tests passed` : "details";
    const button = el("button", { type: "button", class: "link-button run-details", text,
      "aria-haspopup": "dialog" });
    if (panel) button.addEventListener("click", () => panel.show(title, run, button));
    parts.push(button);
  }
  return parts;
}

// The shared details panel (a <section id="test-details"> on the page).
export class DetailsPanel {
  constructor(section) {
    this.section = section;
    this.body = section.querySelector(".test-details-body");
    this.title = section.querySelector(".test-details-title");
    this.opener = null;
    section.querySelector(".test-details-close").addEventListener("click", () => this.close());
    section.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape") {
        ev.stopPropagation();
        this.close();
      }
    });
  }

  get open() {
    return !this.section.hidden;
  }

  show(title, run, opener = null) {
    this.opener = opener;
    this.title.textContent = title;
    this.body.replaceChildren(...runDetails(run));
    this.section.hidden = false;
    this.section.scrollIntoView({ block: "nearest" });
    this.section.querySelector(".test-details-close").focus({ preventScroll: true });
  }

  close() {
    this.section.hidden = true;
    this.opener?.focus?.();
  }
}

// The test run of every candidate on a page: rendered from the page's data at once, then
// polled from runs.json while any run is queued or running (a lead's re-run, an import).
export class RunPanels {
  constructor({ url, runs = null, titles = {}, panel = null }) {
    this.url = url;
    this.titles = titles;
    this.panel = panel;
    this.columns = [...document.querySelectorAll("[data-tests-for]")];
    this.outcomes = {};
    this.listeners = [];
    if (runs) this.render(runs);
    if (!runs || Object.values(runs).some((r) => r && (r.state === "queued" || r.state === "running"))) {
      this.poll();
    }
  }

  onChange(fn) {
    this.listeners.push(fn);
  }

  render(runs) {
    for (const column of this.columns) {
      const id = column.dataset.testsFor;
      const run = runs[id];
      this.outcomes[id] = run?.state === "done" ? (run.status === "passed" ? "passed" : FAILING.has(run.status) ? "failed" : null) : null;
      column.replaceChildren(...runSummary(run, { title: `${this.titles[id] || ""}: tests`, panel: this.panel }));
      column.dataset.state = run?.state || "none";
    }
    for (const fn of this.listeners) fn(runs);
  }

  async poll() {
    let result;
    try {
      result = await getJSON(this.url);
    } catch {
      result = { ok: false };
    }
    if (!result.ok || !result.data || typeof result.data.runs !== "object") {
      setTimeout(() => this.poll(), POLL_MS * 3);
      return;
    }
    this.render(result.data.runs || {});
    if (result.data.pending) setTimeout(() => this.poll(), POLL_MS);
  }
}
