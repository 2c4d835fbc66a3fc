// Test results per candidate (polled while runs are pending) and the diff view.

import { el, getJSON, postJSON } from "./api.js";

const POLL_MS = 2000;

function size(bytes) {
  if (typeof bytes !== "number") return null;
  if (bytes >= 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  return `${Math.round(bytes / 1024)} KB`;
}

export class TestPanels {
  constructor(data) {
    this.url = data.urls.runs;
    this.panels = [...document.querySelectorAll(".tests[data-tests-for]")];
    this.poll();
  }

  async poll() {
    let result;
    try {
      result = await getJSON(this.url);
    } catch {
      result = { ok: false };
    }
    if (!result.ok || !result.data || typeof result.data.runs !== "object") {
      for (const panel of this.panels) panel.replaceChildren(el("span", { class: "badge muted", text: "no test runs" }));
      return;
    }
    const runs = result.data.runs || {};
    for (const panel of this.panels) this.renderOne(panel, runs[panel.dataset.testsFor]);
    if (result.data.pending) setTimeout(() => this.poll(), POLL_MS);
  }

  renderOne(panel, run, prefix = "") {
    if (!run || run.state === "none") {
      panel.replaceChildren(el("span", { class: "badge muted", text: `${prefix}no test runs` }));
      return;
    }
    const label = run.state === "done" ? run.status || "done" : run.state;
    const parts = [el("span", { class: `badge status-${label}`, text: prefix + label.replace("_", " ") })];
    const meta = [];
    if (typeof run.wall_s === "number") meta.push(`${run.wall_s.toFixed(2)} s`);
    if (size(run.peak_memory_bytes)) meta.push(size(run.peak_memory_bytes));
    if (run.isolation) meta.push(run.isolation);
    if (meta.length) parts.push(el("span", { class: "muted small-text", text: meta.join(" · ") }));
    const tests = Array.isArray(run.tests) ? run.tests : [];
    if (tests.length) {
      const passed = tests.filter((t) => t.outcome === "passed").length;
      const list = el("ul", { class: "test-list" });
      for (const t of tests) {
        list.append(el("li", { class: `outcome-${t.outcome}` },
          el("span", { class: "outcome", text: t.outcome === "passed" ? "✓" : "✗", "aria-label": t.outcome }),
          " ", el("span", { text: String(t.name) }),
          t.message ? el("div", { class: "muted small-text", text: String(t.message) }) : null));
      }
      parts.push(el("details", { class: "tests-detail" },
        el("summary", { text: `${passed}/${tests.length} tests passed` }), list));
    }
    if (run.error) parts.push(el("div", { class: "tamper", text: String(run.error) }));
    if (Array.isArray(run.tamper) && run.tamper.length) {
      parts.push(el("div", { class: "tamper", text: `tamper suspected: ${run.tamper.join(", ")}` }));
    }
    for (const stream of ["stdout", "stderr"]) {
      if (run[stream]) {
        const note = run[`${stream}_truncated`] ? " (truncated)" : "";
        parts.push(el("details", { class: "output" }, el("summary", { text: stream + note }),
          el("pre", { text: String(run[stream]) })));
      }
    }
    panel.replaceChildren(...parts);
  }
}

export class Probe {
  constructor(data, panels) {
    this.url = data.urls.probe;
    this.panels = panels;
    this.form = document.getElementById("probe-form");
    if (!this.form) return;
    this.status = document.getElementById("probe-status");
    this.form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.run();
    });
  }

  async run() {
    const button = document.getElementById("probe-run");
    button.disabled = true;
    this.status.textContent = "running in the sandbox…";
    let result;
    try {
      result = await postJSON(this.url, { source: document.getElementById("probe-source").value });
    } catch {
      result = { ok: false, status: 0, data: null };
    }
    button.disabled = false;
    if (!result.ok) {
      this.status.textContent = result.status === 404
        ? "probe tests are not available here"
        : result.data?.error?.message || "the probe could not run";
      return;
    }
    this.status.textContent = "done: results are under each candidate's tests";
    const results = result.data.results || {};
    for (const panel of document.querySelectorAll(".probe-result[data-probe-for]")) {
      const run = results[panel.dataset.probeFor];
      panel.hidden = false;
      this.panels.renderOne(panel, run, "probe: ");
    }
  }
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
    const result = await getJSON(`${this.url}?${params}`);
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
        el("td", { class: `src ${changed && row.a_text !== null ? "del" : ""}` },
          el("code", { text: row.a_text ?? "" })),
        el("td", { class: "ln", text: row.b ?? "" }),
        el("td", { class: `src ${changed && row.b_text !== null ? "add" : ""}` },
          el("code", { text: row.b_text ?? "" })));
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
