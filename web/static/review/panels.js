// Probe tests and the diff view of the review page (test runs: ../runs.js).

import { el, getJSON, postJSON } from "../lib.js";
import { runSummary } from "../runs.js";

const TIME = { hour: "2-digit", minute: "2-digit", second: "2-digit" };

// Probe tests: the form (only where a probe can run), the history kept by the server
// (shown again after a reload, each with its source), and the newest results in the
// columns, marked stale when the last probe failed or the source has changed since.
export class Probe {
  constructor(data, panel) {
    this.url = data.urls.probe;
    this.listUrl = data.urls.probes;
    this.panel = panel;
    this.letters = Object.fromEntries(data.candidates.map((c) => [String(c.id), c.letter]));
    this.history = document.getElementById("probe-history");
    this.form = document.getElementById("probe-form");
    this.status = document.getElementById("probe-status");
    this.source = document.getElementById("probe-source");
    this.shown = null; // the probe whose results are in the columns
    this.failure = ""; // why the last probe failed, if it did
    this.form?.addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.run();
    });
    this.source?.addEventListener("input", () => this.paintColumns());
    if (this.history) this.load();
  }

  async load() {
    const result = await getJSON(this.listUrl).catch(() => ({ ok: false }));
    if (!result.ok) return;
    this.probes = result.data.probes || [];
    this.renderHistory();
    const newest = this.probes.find((p) => !p.pending);
    if (newest) this.showResults(newest);
  }

  async run() {
    const button = document.getElementById("probe-run");
    button.disabled = true;
    this.status.textContent = "running in the sandbox…";
    let result;
    try {
      result = await postJSON(this.url, { source: this.source.value });
    } catch {
      result = { ok: false, status: 0, data: null };
    }
    button.disabled = false;
    if (!result.ok) {
      this.failure = result.data?.error?.message || "the probe could not run";
      this.status.textContent = `Probe failed: ${this.failure}`;
      this.status.dataset.state = "error";
      this.paintColumns();
      return;
    }
    this.failure = "";
    this.status.dataset.state = "done";
    this.status.textContent = "done: results are under each candidate's tests";
    this.probes = [result.data, ...(this.probes || []).filter((p) => p.id !== result.data.id)];
    this.renderHistory();
    this.showResults(result.data);
  }

  summary(probe) {
    const by = { passed: [], failed: [] };
    for (const [cid, run] of Object.entries(probe.results || {})) {
      (run.status === "passed" ? by.passed : by.failed).push(this.letters[cid] || cid);
    }
    const parts = [];
    if (by.passed.length) parts.push(`passes on ${by.passed.sort().join(", ")}`);
    if (by.failed.length) parts.push(`fails on ${by.failed.sort().join(", ")}`);
    return probe.pending ? "still running" : parts.join("; ") || "no results";
  }

  renderHistory() {
    this.history.replaceChildren();
    if (!this.probes?.length) {
      this.history.append(el("li", { class: "muted", text: "No probes yet." }));
      return;
    }
    for (const probe of this.probes) {
      const at = new Date(probe.created_at).toLocaleTimeString([], TIME);
      const show = el("button", { type: "button", class: "secondary small", text: "Show results",
        "aria-label": `Show the results of the probe of ${at}` });
      show.addEventListener("click", () => this.showResults(probe));
      const reuse = el("button", { type: "button", class: "secondary small", text: "Edit again",
        "aria-label": `Put the source of the probe of ${at} back in the editor` });
      reuse.hidden = !this.source;
      reuse.addEventListener("click", () => {
        this.source.value = probe.source;
        this.paintColumns();
        this.source.focus();
      });
      this.history.append(el("li", { class: "probe-item", "data-probe": probe.id },
        el("div", { class: "probe-line" }, el("strong", { text: at }), " ",
          el("span", { text: this.summary(probe) }), " ", show, " ", reuse),
        el("details", {}, el("summary", { text: "source" }), el("pre", { class: "probe-source", text: probe.source, tabindex: "0" }))));
    }
  }

  showResults(probe) {
    this.shown = probe;
    for (const item of this.history?.querySelectorAll(".probe-item") || []) {
      item.classList.toggle("current", Number(item.dataset.probe) === probe.id);
    }
    this.paintColumns();
  }

  staleReason() {
    if (!this.shown) return "";
    const at = new Date(this.shown.created_at).toLocaleTimeString([], TIME);
    if (this.failure) return `from the probe of ${at}; the last probe failed: ${this.failure}`;
    if (this.source && this.source.value !== this.shown.source) {
      return `from the probe of ${at}; the probe source has changed since`;
    }
    return "";
  }

  paintColumns() {
    if (!this.shown) return;
    const stale = this.staleReason();
    const at = new Date(this.shown.created_at).toLocaleTimeString([], TIME);
    for (const column of document.querySelectorAll(".probe-result[data-probe-for]")) {
      const id = column.dataset.probeFor;
      const run = this.shown.results?.[id];
      column.hidden = false;
      column.classList.toggle("is-stale", Boolean(stale));
      column.replaceChildren(...runSummary(run, { prefix: "probe: ", stale,
        title: `Candidate ${this.letters[id]}: probe of ${at}`, panel: this.panel }));
    }
  }
}

// A diff cell: the server's highlighted line (pygments' HTML, every token escaped on the
// server, as in the code columns) or, without it, the plain text.
function code(html, text) {
  const node = el("code");
  if (typeof html === "string") node.innerHTML = html;
  else node.textContent = text ?? "";
  return node;
}

export class DiffView {
  constructor(data) {
    this.url = data.urls.diff;
    this.letters = Object.fromEntries(data.candidates.map((c) => [String(c.id), c.letter]));
    this.section = document.getElementById("diff-view");
    this.form = document.getElementById("diff-form");
    this.form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.show();
    });
    document.getElementById("diff-close").addEventListener("click", () => this.close());
    this.section.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape") this.close();
    });
  }

  get open() {
    return !this.section.hidden;
  }

  async show() {
    const left = document.getElementById("diff-left").value;
    const right = document.getElementById("diff-right").value;
    const params = new URLSearchParams({ left, right });
    const panel = [...document.querySelectorAll(`.candidate[data-candidate="${left}"] .file`)].find((f) => !f.hidden);
    if (panel) params.set("path", panel.dataset.path);
    const result = await getJSON(`${this.url}?${params}`).catch(() => ({ ok: false })); // offline
    const tbody = this.section.querySelector("tbody");
    tbody.replaceChildren();
    if (!result.ok) {
      document.getElementById("diff-summary").textContent = "could not load the diff";
      this.section.hidden = false;
      return;
    }
    const d = result.data;
    document.getElementById("diff-title").textContent =
      `Diff: ${this.letters[d.left]} (${d.left_path}) → ${this.letters[d.right]} (${d.right_path})`;
    document.getElementById("diff-summary").textContent =
      d.changed ? `${d.changed} changed line${d.changed === 1 ? "" : "s"}` : "identical";
    for (const row of d.rows) {
      const changed = row.op !== "equal";
      const tr = el("tr", { class: `diff-${row.op}`, "data-changed": changed ? "true" : "false" },
        el("td", { class: "ln", text: row.a ?? "" }),
        el("td", { class: `src ${changed && row.a_text !== null ? "del" : ""}` }, code(row.a_html, row.a_text)),
        el("td", { class: "ln", text: row.b ?? "" }),
        el("td", { class: `src ${changed && row.b_text !== null ? "add" : ""}` }, code(row.b_html, row.b_text)));
      if (changed) tr.setAttribute("aria-label", `changed: left line ${row.a ?? "none"}, right line ${row.b ?? "none"}`);
      tbody.append(tr);
    }
    this.section.hidden = false;
    this.section.querySelector("#diff-close").focus();
    this.section.scrollIntoView({ block: "start" });
  }

  close() {
    this.section.hidden = true;
    document.getElementById("diff-show").focus();
  }
}
